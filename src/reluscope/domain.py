"""Input domains: an axis-aligned :class:`Box`, a finite :class:`PointSet`, and a union of
boxes :class:`Boxes` (for example the L-inf neighbourhoods of data points)."""

from __future__ import annotations

from typing import Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import InvalidArgument, InvalidDomain

__all__ = ["Box", "PointSet", "Boxes", "Domain", "as_domain"]


class Box:
    """The axis-aligned box ``{x : lo <= x <= hi}``.

    ``lo`` and ``hi`` are scalars (the same bound for every coordinate; the dimension is
    then taken from the network) or arrays of one bound per coordinate. A box is
    full-dimensional (``lo < hi``) unless ``allow_flat=True``, which also accepts
    ``lo == hi`` (a coordinate fixed to one value, as in verification properties such as
    VNN-COMP's ACAS Xu property 4).

    >>> Box(-1, 1).bounds(2)
    (array([-1., -1.]), array([1., 1.]))
    """

    __slots__ = ("_lo", "_hi")

    def __init__(self, lo: ArrayLike = -1.0, hi: ArrayLike = 1.0, allow_flat: bool = False) -> None:
        try:
            lo_arr = np.array(lo, dtype=np.float64, copy=True)
            hi_arr = np.array(hi, dtype=np.float64, copy=True)
        except (TypeError, ValueError) as exc:
            raise InvalidDomain(f"box bounds must be numbers: {exc}") from None
        if lo_arr.ndim > 1 or hi_arr.ndim > 1:
            raise InvalidDomain(f"box bounds must be scalars or 1-D; got shapes {lo_arr.shape} and {hi_arr.shape}")
        if lo_arr.ndim == 1 and hi_arr.ndim == 1 and lo_arr.shape != hi_arr.shape:
            raise InvalidDomain(f"box bounds have different lengths: lo {lo_arr.shape}, hi {hi_arr.shape}")
        if lo_arr.ndim == 1 and lo_arr.size == 0:
            raise InvalidDomain("box bounds are empty")
        if not (np.isfinite(lo_arr).all() and np.isfinite(hi_arr).all()):
            raise InvalidDomain(f"box bounds must be finite; got lo={lo_arr.tolist()} hi={hi_arr.tolist()}")
        lo_b, hi_b = np.broadcast_arrays(lo_arr, hi_arr)
        bad = np.atleast_1d(lo_b > hi_b if allow_flat else lo_b >= hi_b)
        if bad.any():
            i = int(np.argmax(bad))
            raise InvalidDomain(
                f"box needs lo {'<=' if allow_flat else '<'} hi in every coordinate; coordinate {i} has "
                f"lo={np.atleast_1d(lo_b)[i]} {'>' if allow_flat else '>='} hi={np.atleast_1d(hi_b)[i]}"
            )
        lo_arr.setflags(write=False)
        hi_arr.setflags(write=False)
        object.__setattr__(self, "_lo", lo_arr)
        object.__setattr__(self, "_hi", hi_arr)

    def __setattr__(self, name, value):
        raise AttributeError("Box is immutable")

    def __reduce__(self):
        return (Box, (self._lo, self._hi, True))  # already checked; flat boxes unpickle too

    @property
    def lo(self) -> NDArray[np.float64]:
        return self._lo

    @property
    def hi(self) -> NDArray[np.float64]:
        return self._hi

    @property
    def dim(self) -> int | None:
        """Number of coordinates, or ``None`` when both bounds are scalars (any dimension)."""
        if self._lo.ndim == 1:
            return int(self._lo.size)
        if self._hi.ndim == 1:
            return int(self._hi.size)
        return None

    def bounds(self, dim: int | None = None) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Per-coordinate ``(lo, hi)`` arrays for a ``dim``-dimensional input."""
        own = self.dim
        if dim is None:
            if own is None:
                raise InvalidDomain("this box has scalar bounds: pass the input dimension")
            dim = own
        if own is not None and own != dim:
            raise InvalidDomain(f"box has {own} coordinates but the network takes {dim} inputs")
        return (np.broadcast_to(self._lo, (dim,)).astype(np.float64),
                np.broadcast_to(self._hi, (dim,)).astype(np.float64))

    def sample(self, n: int, dim: int | None = None, seed: int | np.random.Generator | None = None) -> NDArray[np.float64]:
        """``n`` points uniform in the box."""
        lo, hi = self.bounds(dim)
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed < 0:
            raise InvalidArgument(f"seed must be a non-negative integer; got {seed!r}")
        if int(n) < 0:
            raise InvalidDomain(f"number of sample points must be >= 0; got {n}")
        rng = np.random.default_rng(seed)
        return lo + (hi - lo) * rng.random((int(n), lo.size))

    def vertices(self, dim: int | None = None, max_vertices: int = 4096) -> NDArray[np.float64]:
        """All ``2^d`` vertices (refused beyond ``max_vertices``)."""
        lo, hi = self.bounds(dim)
        d = lo.size
        if 2 ** d > max_vertices:
            raise InvalidDomain(f"box in {d} dimensions has 2^{d} vertices, more than max_vertices={max_vertices}")
        bits = ((np.arange(2 ** d)[:, None] >> np.arange(d)[None, :]) & 1).astype(bool)
        return np.where(bits, hi, lo)

    def contains(self, X: ArrayLike, tol: float = 0.0) -> NDArray[np.bool_]:
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        lo, hi = self.bounds(X.shape[1])
        return ((X >= lo - tol) & (X <= hi + tol)).all(axis=1)

    def check(self, dim: int) -> Box:
        """Validate against an input dimension and return self."""
        self.bounds(dim)
        return self

    @classmethod
    def parse(cls, text: str) -> Box:
        """Parse ``"LO,HI"`` (same bounds for every coordinate) or
        ``"LO1:HI1,LO2:HI2,..."`` (per coordinate)."""
        text = text.strip()
        try:
            if ":" in text:
                pairs = [p.split(":") for p in text.split(",")]
                if any(len(p) != 2 for p in pairs):
                    raise ValueError
                lo, hi = [float(p[0]) for p in pairs], [float(p[1]) for p in pairs]
            else:
                parts = text.split(",")
                if len(parts) != 2:
                    raise ValueError
                lo, hi = float(parts[0]), float(parts[1])
        except ValueError:
            raise InvalidDomain(
                f"cannot parse domain {text!r}: use LO,HI (e.g. -1,1) or LO1:HI1,LO2:HI2,..."
            ) from None
        try:
            return cls(lo, hi)
        except InvalidDomain as exc:  # parsed, but not a valid box: say why, naming the text
            raise InvalidDomain(f"domain {text!r}: {exc}") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Box) and np.array_equal(self._lo, other._lo) and np.array_equal(self._hi, other._hi)

    def __hash__(self) -> int:
        return hash((self._lo.tobytes(), self._hi.tobytes()))

    def __repr__(self) -> str:
        def fmt(a):
            return repr(float(a)) if a.ndim == 0 else repr(a.tolist())
        return f"Box(lo={fmt(self._lo)}, hi={fmt(self._hi)})"

    def to_dict(self) -> dict:
        return {"type": "box", "lo": self._lo.tolist(), "hi": self._hi.tolist()}


class PointSet:
    """A finite set of points ``X`` of shape ``(n, d)`` (for example a training set)."""

    __slots__ = ("_X",)

    def __init__(self, X: ArrayLike) -> None:
        try:
            arr = np.array(X, dtype=np.float64, copy=True)
        except (TypeError, ValueError) as exc:
            raise InvalidDomain(f"point set must be numeric: {exc}") from None
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
            raise InvalidDomain(f"point set must have shape (n, d) with n, d >= 1; got {arr.shape}")
        bad = ~np.isfinite(arr)
        if bad.any():
            i, j = (int(k) for k in np.argwhere(bad)[0])
            raise InvalidDomain(f"point set has non-finite value {arr[i, j]} at row {i}, column {j}")
        arr.setflags(write=False)
        object.__setattr__(self, "_X", arr)

    def __setattr__(self, name, value):
        raise AttributeError("PointSet is immutable")

    def __reduce__(self):
        return (PointSet, (self._X,))

    @property
    def points(self) -> NDArray[np.float64]:
        return self._X

    @property
    def dim(self) -> int:
        return int(self._X.shape[1])

    def __len__(self) -> int:
        return int(self._X.shape[0])

    def check(self, dim: int) -> PointSet:
        if dim != self.dim:
            raise InvalidDomain(f"point set has {self.dim} coordinates but the network takes {dim} inputs")
        return self

    def bounding_box(self) -> Box:
        lo, hi = self._X.min(axis=0), self._X.max(axis=0)
        hi = np.where(hi > lo, hi, lo + 1e-12)
        return Box(lo, hi)

    def __repr__(self) -> str:
        return f"PointSet(n={len(self)}, d={self.dim})"

    def neighbourhood(self, eps: float, within: Box | None = None) -> Boxes:
        """The union of the L-inf balls of radius ``eps`` around the points (each clipped
        to ``within`` when given): the region that robustness and differential
        verification tools check."""
        eps_f = float(eps) if isinstance(eps, (int, float, np.floating, np.integer)) and not isinstance(eps, bool) else np.nan
        if not (np.isfinite(eps_f) and eps_f > 0):
            raise InvalidArgument(f"radius must be a positive, finite number; got {eps!r}")
        lo, hi = self._X - eps_f, self._X + eps_f
        if within is not None:
            wlo, whi = within.bounds(self.dim)
            lo, hi = np.maximum(lo, wlo), np.minimum(hi, whi)
        return Boxes(lo, hi, centres=self._X)

    def to_dict(self) -> dict:
        return {"type": "points", "n": len(self), "d": self.dim}


class Boxes:
    """A union of ``m`` axis-aligned boxes ``[lo[i], hi[i]]`` in ``d`` dimensions.

    ``centres`` (optional) records the points the boxes were built around
    (:meth:`PointSet.neighbourhood`). The analyses that accept a union of boxes take the
    maximum over its boxes and report per-box results.
    """

    __slots__ = ("_lo", "_hi", "_centres")

    def __init__(self, lo: ArrayLike, hi: ArrayLike, centres: ArrayLike | None = None) -> None:
        try:
            lo_arr = np.array(lo, dtype=np.float64, copy=True)
            hi_arr = np.array(hi, dtype=np.float64, copy=True)
        except (TypeError, ValueError) as exc:
            raise InvalidDomain(f"boxes need numeric bounds: {exc}") from None
        if lo_arr.ndim != 2 or lo_arr.shape != hi_arr.shape or 0 in lo_arr.shape:
            raise InvalidDomain(f"boxes need lo and hi of one shape (m, d) with m, d >= 1; got {lo_arr.shape} and {hi_arr.shape}")
        if not (np.isfinite(lo_arr).all() and np.isfinite(hi_arr).all()):
            raise InvalidDomain("boxes need finite bounds")
        bad = np.argwhere(~(lo_arr < hi_arr))
        if bad.size:
            i, j = (int(k) for k in bad[0])
            raise InvalidDomain(f"box {i} needs lo < hi in every coordinate; coordinate {j} has lo={lo_arr[i, j]} >= hi={hi_arr[i, j]}")
        c = None if centres is None else np.array(centres, dtype=np.float64, copy=True)
        for arr in (lo_arr, hi_arr) + (() if c is None else (c,)):
            arr.setflags(write=False)
        object.__setattr__(self, "_lo", lo_arr)
        object.__setattr__(self, "_hi", hi_arr)
        object.__setattr__(self, "_centres", c)

    def __setattr__(self, name, value):
        raise AttributeError("Boxes is immutable")

    def __reduce__(self):
        return (Boxes, (self._lo, self._hi, self._centres))

    @property
    def lo(self) -> NDArray[np.float64]:
        return self._lo

    @property
    def hi(self) -> NDArray[np.float64]:
        return self._hi

    @property
    def centres(self) -> NDArray[np.float64]:
        """The points the boxes surround (the boxes' midpoints when none were given)."""
        return 0.5 * (self._lo + self._hi) if self._centres is None else self._centres

    @property
    def dim(self) -> int:
        return int(self._lo.shape[1])

    def __len__(self) -> int:
        return int(self._lo.shape[0])

    def box(self, i: int) -> Box:
        return Box(self._lo[i], self._hi[i])

    def __iter__(self):
        return (self.box(i) for i in range(len(self)))

    def check(self, dim: int) -> Boxes:
        if dim != self.dim:
            raise InvalidDomain(f"boxes have {self.dim} coordinates but the network takes {dim} inputs")
        return self

    def bounding_box(self) -> Box:
        return Box(self._lo.min(axis=0), self._hi.max(axis=0))

    def __repr__(self) -> str:
        return f"Boxes(m={len(self)}, d={self.dim})"

    def to_dict(self) -> dict:
        width = self._hi - self._lo
        return {"type": "boxes", "m": len(self), "d": self.dim,
                "max_width": float(width.max()), "min_width": float(width.min())}


Domain = Union[Box, PointSet]


def as_domain(domain: Domain | Boxes | ArrayLike | str | None, dim: int, *,
              allow_boxes: bool = False) -> Domain | Boxes:
    """Normalize user input into a validated domain for ``dim`` inputs.

    ``None`` gives the project's default ``[-1, 1]^dim``; a string is parsed by
    :meth:`Box.parse`; an array is a :class:`PointSet`. A :class:`Boxes` union is accepted
    only by the analyses that say so (``allow_boxes=True``); the others refuse it with a
    clear error instead of misreading it.
    """
    if isinstance(domain, Boxes):
        if not allow_boxes:
            raise InvalidDomain("this analysis takes a Box or a PointSet; a union of boxes is accepted by "
                                "sup_distance, sobolev_distance, lipschitz_constant, epsilon_equivalent and top1_agreement")
        return domain.check(dim)
    if domain is None:
        return Box(-1.0, 1.0).check(dim)
    if isinstance(domain, str):
        return Box.parse(domain).check(dim)
    if isinstance(domain, (Box, PointSet)):
        return domain.check(dim)
    return PointSet(domain).check(dim)
