"""Validation of training data for the constructive networks (shared by all constructions).

Conventions (see ``docs/background/constructive.md``): ``Q`` classes sorted by label,
class ``j`` has ``N_j`` samples; the reference outputs are stored as a matrix ``Y`` of shape
``(k, Q)`` whose column ``j`` is the target ``y_j`` of class ``classes[j]``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InvalidData

FloatArray = NDArray[np.float64]

__all__ = ["Prepared", "prepare"]


@dataclasses.dataclass(frozen=True)
class Prepared:
    """Validated training data: inputs, class indices, sorted classes, targets ``Y`` (k, Q)."""

    X: FloatArray  # (N, M), a private copy
    index: NDArray[np.intp]  # (N,), class index of each sample in 0..Q-1
    classes: tuple[Hashable, ...]
    Y: FloatArray  # (k, Q), column j = target of class j
    counts: NDArray[np.intp]  # (Q,)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    means: FloatArray  # (Q, M), class means as rows


def _as_inputs(X: Any) -> FloatArray:
    try:
        arr = np.array(X, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise InvalidData(f"inputs X are not numeric: {exc}") from None
    if arr.ndim != 2:
        raise InvalidData(f"inputs X must be a 2-D array (n_samples, n_features); got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidData(f"inputs X are empty: shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        r, c = (int(i) for i in np.argwhere(bad)[0])
        raise InvalidData(f"inputs X (shape {arr.shape}) contain non-finite value {arr[r, c]} at row {r}, column {c}")
    return arr


def _labels(y: Any, n: int) -> tuple[Any, tuple[Hashable, ...]]:
    """Return ``(index array or label list, sorted classes)``."""
    if isinstance(y, np.ndarray) and y.ndim != 1:
        raise InvalidData(f"labels y must be one-dimensional; got shape {y.shape}")
    if isinstance(y, np.ndarray) and y.dtype.kind in "biuU":  # fast path: integer / string arrays
        if len(y) != n:
            raise InvalidData(f"X has {n} rows but y has {len(y)} labels")
        values, index = np.unique(y, return_inverse=True)
        return index.astype(np.intp).reshape(-1), tuple(v.item() for v in values)
    try:
        labels = list(y)
    except TypeError:
        raise InvalidData(f"labels y must be a sequence; got {type(y).__name__}") from None
    if len(labels) != n:
        raise InvalidData(f"X has {n} rows but y has {len(labels)} labels")
    try:
        distinct = set(labels)
    except TypeError as exc:
        raise InvalidData(f"labels must be hashable: {exc}") from None
    for label in distinct:
        if isinstance(label, (float, np.floating)) and not np.isfinite(label):
            raise InvalidData(f"labels y contain the non-finite value {label}")
    try:
        classes = tuple(c.item() if isinstance(c, np.generic) else c for c in sorted(distinct))
    except TypeError as exc:
        raise InvalidData(f"labels cannot be sorted (mixed types?): {exc}") from None
    return labels, classes


def _targets(targets: Any, classes: tuple[Hashable, ...]) -> FloatArray:
    Q = len(classes)
    if targets is None:
        return np.eye(Q)
    if isinstance(targets, Mapping):
        present = set(classes)
        for key in targets:
            if key not in present:
                raise InvalidData(f"targets given for class {key!r}, which has no samples in y")
        missing = [c for c in classes if c not in targets]
        if missing:
            raise InvalidData(f"targets missing for class {missing[0]!r} ({len(missing)} class(es) without a target)")
        rows = [np.asarray(targets[c], dtype=np.float64).reshape(-1) for c in classes]
        if len({r.shape for r in rows}) != 1:
            raise InvalidData("targets of different lengths: every class needs a target of the same dimension")
        T = np.stack(rows)
    else:
        try:
            T = np.array(targets, dtype=np.float64, copy=True)
        except (TypeError, ValueError) as exc:
            raise InvalidData(f"targets are not numeric: {exc}") from None
        if T.ndim != 2 or T.shape[0] != Q:
            raise InvalidData(
                f"targets must have shape (n_classes={Q}, k), one row per sorted class; got shape {T.shape}"
            )
    if not np.isfinite(T).all():
        raise InvalidData(f"targets (shape {T.shape}) contain non-finite values")
    if T.shape[1] < Q or np.linalg.matrix_rank(T) < Q:
        raise InvalidData(
            f"the {Q} class targets must be linearly independent (rank {Q}); got a {T.shape} matrix "
            f"of rank {np.linalg.matrix_rank(T)}"
        )
    return np.ascontiguousarray(T.T)


def prepare(X: Any, y: Any, targets: Any = None, min_classes: int = 2) -> Prepared:
    """Validate ``(X, y, targets)``; raise :class:`InvalidData` with a one-line reason."""
    arr = _as_inputs(X)
    labels, classes = _labels(y, arr.shape[0])
    if len(classes) < min_classes:
        raise InvalidData(
            f"y contains only one class ({classes[0]!r}); the construction needs at least {min_classes} classes"
        )
    Y = _targets(targets, classes)
    if isinstance(labels, np.ndarray):
        index = labels
    else:
        lookup = {c: j for j, c in enumerate(classes)}
        index = np.fromiter((lookup[label] for label in labels), dtype=np.intp, count=len(labels))
    counts = np.bincount(index, minlength=len(classes)).astype(np.intp)
    order = np.argsort(index, kind="stable")
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    means = np.add.reduceat(arr[order], starts, axis=0) / counts[:, None]
    return Prepared(arr, index, classes, Y, counts, means)


def reduced_inverse(means: FloatArray, rank_tol: float) -> FloatArray:
    """Pseudoinverse ``X_red^+`` (Q, M) of ``X_red = means.T`` (M, Q), checking rank ``Q``.

    Raises :class:`InvalidData` when ``Q > M`` or the class means are (numerically) linearly
    dependent: smallest singular value ``<= rank_tol * largest``.
    """
    Q, M = means.shape
    if Q > M:
        raise InvalidData(
            f"{Q} classes but only {M} input features: the construction needs n_classes <= n_features "
            f"(Q <= M) so that the class means can be linearly independent"
        )
    U, s, Vt = np.linalg.svd(means.T, full_matrices=False)  # X_red = U diag(s) Vt
    if s[-1] <= rank_tol * s[0]:
        raise InvalidData(
            f"the {Q} class means are linearly dependent (rank-deficient X_red of shape ({M}, {Q}): "
            f"singular values {s[0]:.3g} ... {s[-1]:.3g}, rank_tol={rank_tol:g})"
        )
    return (Vt.T / s) @ U.T
