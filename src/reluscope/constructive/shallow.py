"""Explicit shallow construction: a width-``Q`` ReLU network without gradient descent.

Given ``Q`` classes with linearly independent class means ``X_red = [x̄_1 ... x̄_Q]`` (M x Q):

1. ``W_1 = A X_red^+`` (any invertible ``A``, default ``I``);
2. ``b_1 = β 1`` with ``β = max_{n,k} (-(W_1 x_n)_k) + margin`` so that every training
   pre-activation is ``>= margin >= 0`` and the ReLU acts as the identity on the data;
3. ``W_2 = Y A^{-1}``, ``b_2 = -β W_2 1``.

On the training data the network equals ``x ↦ Y X_red^+ x``, the class-balanced cost is
``||Y Δ_1 𝒩^{-1/2}||_HS <= sqrt(Q) ||Y||_op δ_P`` and the mean squared error is
``<= ||Y||_op² δ_P²`` (proofs in ``docs/background/constructive.md``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._results import ResultMixin
from .._validation import check_choice, check_tol
from ..errors import InvalidData
from ..network import ReLUNetwork
from ._data import Prepared, prepare, reduced_inverse

FloatArray = NDArray[np.float64]

__all__ = ["ConstructiveFit", "fit", "training_costs"]

CostKind = Literal["balanced", "mean"]


def _ro(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


def nearest_target(outputs: FloatArray, Y: FloatArray) -> NDArray[np.intp]:
    """Index ``j`` minimizing ``|f(x) - y_j|`` for each row of ``outputs`` (``Y``: (k, Q))."""
    return np.argmin(np.sum(Y * Y, axis=0)[None, :] - 2.0 * outputs @ Y, axis=1)


def training_costs(outputs: FloatArray, Y: FloatArray, index: NDArray[np.intp], counts: NDArray[np.intp]) -> tuple[float, float]:
    """Return ``(balanced, mean)`` costs of network ``outputs`` (N, k) against targets.

    ``balanced = sqrt(Σ_j (1/N_j) Σ_i |f(x_{j,i}) - y_j|²)`` (not squared) and
    ``mean = (1/N) Σ_n |f(x_n) - y_{j(n)}|²`` (the usual mean squared error, squared).
    """
    R = outputs - Y.T[index]
    sq = np.einsum("nk,nk->n", R, R)
    balanced = float(np.sqrt(np.sum(sq / counts[index])))
    mean = float(np.mean(sq))
    return balanced, mean


@dataclasses.dataclass(frozen=True, eq=False)
class ConstructiveFit(ResultMixin):
    """Result of :func:`fit`: the constructed network and the quantities of the theory.

    Attributes
    ----------
    network:
        Shallow :class:`~reluscope.ReLUNetwork` of widths ``(M, Q, k)``.
    classes:
        Sorted class labels; class ``j`` is ``classes[j]``.
    targets:
        Reference outputs, shape ``(Q, k)`` (row ``j`` is ``y_j``).
    class_means:
        Class means ``x̄_j`` as rows, shape ``(Q, M)``.
    reduced_inverse:
        ``X_red^+`` of shape ``(Q, M)`` (or ``(Q, M + 1)`` with ``affine=True``, acting on
        ``(x, 1)``): barycentric coordinates with respect to the class means.
    projector:
        ``P = X_red X_red^+``, the orthogonal projector onto the span of the class means
        (in the lifted space ``R^{M+1}`` when ``affine=True``).
    delta_P:
        ``max_{j,i} |X_red^+ (x_{j,i} - x̄_j)|``, the noise-to-signal ratio.
    cost, cost_kind:
        The training cost of ``network``: ``"balanced"`` (square root of the class-balanced
        sum of squares) or ``"mean"`` (mean squared error).
    balanced_cost, mean_cost:
        Both costs, whatever ``cost_kind`` is.
    upper_bound:
        ``sqrt(Q) ||Y||_op δ_P`` for the balanced cost, ``||Y||_op² δ_P²`` for the mean cost.
    beta, margin, affine:
        The bias level ``β`` of the hidden layer, the requested margin, and whether inputs
        were lifted to ``(x, 1)``.
    """

    network: ReLUNetwork
    classes: tuple[Hashable, ...]
    targets: FloatArray
    class_means: FloatArray
    class_counts: tuple[int, ...]
    reduced_inverse: FloatArray
    projector: FloatArray
    delta_P: float
    cost_kind: str
    cost: float
    balanced_cost: float
    mean_cost: float
    upper_bound: float
    targets_op_norm: float
    beta: float
    margin: float
    affine: bool
    training_accuracy: float

    # ----------------------------------------------------------------- geometry
    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def coordinates(self, X: ArrayLike) -> FloatArray:
        """Barycentric coordinates ``X_red^+ x`` of points ``X`` (n, M) -> (n, Q)."""
        X = self._inputs(X)
        M = self.class_means.shape[1]
        Z = X @ self.reduced_inverse[:, :M].T
        if self.affine:
            Z = Z + self.reduced_inverse[:, M]
        return Z

    def linear_output(self, X: ArrayLike) -> FloatArray:
        """``Y X_red^+ x`` for points ``X`` (n, M) -> (n, k): the network on the σ-identity region."""
        return self.coordinates(X) @ self.targets

    def metric(self, x: ArrayLike, x2: ArrayLike) -> FloatArray | float:
        """Induced (pseudo)metric ``d(x, x') = |Y X_red^+ (x - x')|``.

        Broadcasts over leading dimensions; returns a float for two single points. It is a
        genuine metric on the span of the class means (a pseudometric on ``R^M``: it ignores
        the component orthogonal to that span).
        """
        a = np.asarray(x, dtype=np.float64)
        b = np.asarray(x2, dtype=np.float64)
        M = self.class_means.shape[1]
        if a.shape[-1] != M or b.shape[-1] != M:
            raise InvalidData(f"metric expects points with {M} features; got shapes {a.shape} and {b.shape}")
        diff = (a - b) @ self.reduced_inverse[:, :M].T @ self.targets
        d = np.linalg.norm(diff, axis=-1)
        return float(d) if d.ndim == 0 else d

    def distances_to_means(self, X: ArrayLike) -> FloatArray:
        """``d(x, x̄_j)`` for every point and class, shape ``(n, Q)``."""
        L = self.linear_output(X)
        return np.linalg.norm(L[:, None, :] - self.targets[None, :, :], axis=-1)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Class of the nearest class mean in the induced metric (ties: smallest class index)."""
        j = np.argmin(self.distances_to_means(X), axis=1)
        return _take(self.classes, j)

    def network_predict(self, X: ArrayLike) -> np.ndarray:
        """Class whose target is nearest to the network output ``f(x)``."""
        out = self.network(self._inputs(X))
        j = np.argmin(np.linalg.norm(out[:, None, :] - self.targets[None, :, :], axis=-1), axis=1)
        return _take(self.classes, j)

    def _inputs(self, X: ArrayLike) -> FloatArray:
        arr = np.asarray(X, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[None, :]
        M = self.class_means.shape[1]
        if arr.ndim != 2 or arr.shape[1] != M:
            raise InvalidData(f"expected inputs of shape (n, {M}); got {np.shape(X)}")
        return arr

    def __str__(self) -> str:
        Q = self.n_classes
        M = self.class_means.shape[1]
        return "\n".join(
            [
                f"constructive shallow ReLU network: {M} inputs -> {Q} hidden -> {self.targets.shape[1]} outputs"
                + (" (affine lift)" if self.affine else ""),
                f"  classes: {Q} ({', '.join(map(repr, self.classes[:6]))}{', ...' if Q > 6 else ''})",
                f"  delta_P: {self.delta_P:.6g}",
                f"  cost ({self.cost_kind}): {self.cost:.6g}  <=  bound {self.upper_bound:.6g}",
                f"  balanced cost: {self.balanced_cost:.6g}; mean squared error: {self.mean_cost:.6g}",
                f"  training accuracy: {self.training_accuracy:.4f}",
            ]
        )


def _take(classes: tuple[Hashable, ...], j: np.ndarray) -> np.ndarray:
    out = np.empty(len(j), dtype=object)
    for n, k in enumerate(j):
        out[n] = classes[int(k)]
    try:
        arr = np.array(list(out))
        # keep a typed array only if it round-trips exactly (numpy strips trailing NULs, ...)
        if arr.ndim == 1 and arr.dtype != object and arr.tolist() == list(out):
            return arr
    except (ValueError, TypeError):
        pass
    return out


def lifted(X: FloatArray, affine: bool) -> FloatArray:
    """``X`` or ``[X, 1]``."""
    return np.hstack([X, np.ones((X.shape[0], 1))]) if affine else X


def _check_A(A: Any, Q: int, cond_tol: float) -> FloatArray:
    if A is None:
        return np.eye(Q)
    try:
        arr = np.array(A, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise InvalidData(f"A is not numeric: {exc}") from None
    if arr.shape != (Q, Q):
        raise InvalidData(f"A must be an invertible ({Q}, {Q}) matrix; got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidData("A contains non-finite values")
    if np.linalg.cond(arr) > cond_tol:
        raise InvalidData(f"A is not (numerically) invertible: condition number {np.linalg.cond(arr):.3g} > {cond_tol:g}")
    return arr


def fit_prepared(
    data: Prepared,
    cost: CostKind = "balanced",
    margin: float = 1.0,
    A: Any = None,
    affine: bool = False,
    rank_tol: float = 1e-10,
) -> ConstructiveFit:
    """:func:`fit` on already validated data."""
    check_choice(cost, ("balanced", "mean"), "cost")
    margin = check_tol(margin, "margin")
    X, idx, Y = data.X, data.index, data.Y
    Q, M = data.n_classes, X.shape[1]
    means_t = lifted(data.means, affine)
    if affine and Q > M + 1:
        raise InvalidData(f"{Q} classes but only {M} input features: the affine construction needs Q <= M + 1")
    pinv = reduced_inverse(means_t, rank_tol)  # (Q, M')
    A_ = _check_A(A, Q, 1e12)
    W1_full = A_ @ pinv
    W1 = W1_full[:, :M]
    c1 = W1_full[:, M] if affine else np.zeros(Q)
    pre = X @ W1.T + c1
    beta = float(np.max(-pre)) + margin
    b1 = c1 + beta
    W2 = Y.copy() if A is None else Y @ np.linalg.inv(A_)
    b2 = -beta * W2.sum(axis=1)
    network = ReLUNetwork([W1, W2], [b1, b2])

    outputs = network(X)
    balanced, mean = training_costs(outputs, Y, idx, data.counts)
    D1 = (X - data.means[idx]) @ pinv[:, :M].T  # (N, Q): columns of Δ_1 (lifted coordinate: Δ = 0)
    delta_P = float(np.sqrt(np.max(np.einsum("nq,nq->n", D1, D1))))
    is_identity = Y.shape[0] == Q and np.array_equal(Y, np.eye(Q))
    y_op = 1.0 if is_identity else float(np.linalg.norm(Y, 2))
    bound = float(np.sqrt(Q) * y_op * delta_P) if cost == "balanced" else float(y_op**2 * delta_P**2)
    projector = means_t.T @ pinv
    accuracy = float(np.mean(nearest_target(outputs, Y) == idx))
    return ConstructiveFit(
        network=network,
        classes=data.classes,
        targets=_ro(Y.T),
        class_means=_ro(data.means),
        class_counts=tuple(int(c) for c in data.counts),
        reduced_inverse=_ro(pinv),
        projector=_ro(projector),
        delta_P=delta_P,
        cost_kind=cost,
        cost=balanced if cost == "balanced" else mean,
        balanced_cost=balanced,
        mean_cost=mean,
        upper_bound=bound,
        targets_op_norm=y_op,
        beta=beta,
        margin=margin,
        affine=bool(affine),
        training_accuracy=accuracy,
    )


def fit(
    X: ArrayLike,
    y: Any,
    targets: Any = None,
    cost: CostKind = "balanced",
    margin: float = 1.0,
    A: ArrayLike | None = None,
    *,
    affine: bool = False,
    rank_tol: float = 1e-10,
) -> ConstructiveFit:
    """Construct a width-``Q`` shallow ReLU network explicitly (no gradient descent).

    Parameters
    ----------
    X:
        Training inputs, shape ``(N, M)``; copied, never modified.
    y:
        ``N`` class labels (any sortable hashables); classes are sorted.
    targets:
        ``None`` (one-hot, ``Y = I``), an array of shape ``(Q, k)`` with one row per sorted
        class, or a mapping ``label -> vector``. Targets must be linearly independent.
    cost:
        Which cost ``result.cost`` and ``result.upper_bound`` refer to: ``"balanced"``
        (``sqrt(Σ_j (1/N_j) Σ_i |f(x_{j,i}) - y_j|²)``) or ``"mean"`` (mean squared error).
    margin:
        Smallest hidden pre-activation on the training data (``>= 0``); the network is the
        same function on the data for every margin.
    A:
        Invertible ``(Q, Q)`` matrix in ``W_1 = A X_red^+`` (default identity). The cost does
        not depend on it (the construction is degenerate).
    affine:
        Lift inputs to ``(x, 1)`` (the constant folded into the hidden bias); needs only
        ``Q <= M + 1`` and affinely independent class means.
    rank_tol:
        Class means count as linearly dependent when ``σ_min <= rank_tol σ_max``.

    Returns
    -------
    ConstructiveFit
        Frozen result with ``network``, ``delta_P``, ``cost``, ``upper_bound``,
        ``class_means``, ``projector``, ``metric(x, x2)`` and ``predict(X)``.

    Raises
    ------
    InvalidData
        Non-finite or mismatched inputs, one class only, ``Q > M``, linearly dependent class
        means, targets for a class without samples, dependent targets.

    Examples
    --------
    >>> import numpy as np
    >>> from reluscope.constructive import fit
    >>> X = np.array([[1.0, 0.1], [0.9, 0.0], [0.0, 1.0], [0.1, 1.1]])
    >>> r = fit(X, ["a", "a", "b", "b"])
    >>> r.cost <= r.upper_bound, r.predict(X).tolist()
    (True, ['a', 'a', 'b', 'b'])
    """
    data = prepare(X, y, targets)
    return fit_prepared(data, cost=cost, margin=margin, A=A, affine=affine, rank_tol=rank_tol)
