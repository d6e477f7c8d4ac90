"""Result values of the distance functions: :class:`DistanceResult` (bounds on one norm)
and :class:`SobolevResult` (the ``W^{1,∞}`` distance, combining a sup and a gradient part)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._results import ResultMixin

__all__ = ["DistanceResult", "SobolevResult"]


def _bounds_text(name: str, lower: float, upper: float, exact: bool) -> str:
    """``"name = v (exact)"`` or ``"name in [lower, upper]"``."""
    if exact:
        return f"{name} = {lower:.9g} (exact)"
    up = "inf" if not math.isfinite(upper) else f"{upper:.9g}"
    return f"{name} in [{lower:.9g}, {up}]"


@dataclass(frozen=True)
class DistanceResult(ResultMixin):
    """Bounds on a function-space distance (or a Lipschitz constant) over a domain.

    Attributes
    ----------
    lower:
        A value attained: the quantity evaluated with the real networks at ``witness``.
    upper:
        A valid upper bound (``inf`` for sampled estimates).
    witness:
        The point attaining ``lower`` (``None`` only if no point was evaluated).
    exact:
        ``upper - lower`` is within the solver tolerance.
    status:
        ``"optimal"``, ``"time_limit"``, ``"sampled"`` (no upper bound computed),
        ``"points"`` (exact maximum over a finite point set), ``"unresolved"`` (a union of
        boxes whose boxes were all tried without closing the gap), ``"region_limit"`` (region
        enumeration stopped at ``max_regions``), ``"solver_error"`` (HiGHS failed on a
        MILP even after retries; the bounds stay valid) or ``"numerical_risk"`` (floating
        point may have changed the answer beyond the tolerance: the computation's own
        rounding-error bound keeps the interval open, or a MILP met big-M constants or
        magnitudes beyond HiGHS's absolute tolerances; never exact, the bounds stay valid;
        docs/background/numerical-scaling.md and rounding-errors.md).
    seconds:
        Wall-clock time.
    method:
        ``"exact"``, ``"sampled"``, ``"sampled+exact"``, ``"enumerate"`` or ``"points"``.
    norm:
        ``"sup"``, ``"gradient"`` (ess sup of the largest absolute partial derivative) or
        ``"lipschitz"``.
    component:
        At the witness: ``(k,)`` the output index for ``"sup"``; ``(k, j)`` the Jacobian
        entry (output ``k``, input ``j``) for gradients.
    n_binaries:
        Binary variables of the largest MILP solved (0 when none).
    certified_upper:
        Gradient norms only: an upper bound on the essential supremum that needs no
        assumption on the margin (the relaxation admitting every activation pattern
        consistent with ``z >= 0`` / ``z <= 0``). ``upper`` bounds the supremum over the
        linear regions realized with ``region_margin`` (see :func:`sobolev_distance`); the
        two coincide except for degenerate networks whose patterns on lower-dimensional
        sets (e.g. two neurons with opposite hyperplanes) would give larger gradients.
        For the sup norm, ``upper`` itself is certified and this is ``None``.
    per_box:
        For a union of boxes (:class:`~reluscope.Boxes`): ``(lower, upper)`` for each box;
        the result's ``lower`` and ``upper`` are their maxima.
    certified_margin:
        Gradient norms by region enumeration in one or two dimensions: ``upper`` bounds the
        gradient over every linear region realized with a margin above this (the rounding
        errors of the enumeration certified; ``None`` otherwise).
    """

    lower: float
    upper: float
    witness: np.ndarray | None
    exact: bool
    status: str
    seconds: float
    method: str
    norm: str = "sup"
    component: tuple[int, ...] | None = None
    n_binaries: int = 0
    certified_upper: float | None = None
    per_box: tuple[tuple[float, float], ...] | None = None
    #: gradient norms by region enumeration in one or two dimensions: ``upper`` bounds the
    #: gradient over every region realized with a margin above this (rounding certified)
    certified_margin: float | None = None

    @property
    def value(self) -> float | None:
        """The distance when exact, else ``None``."""
        return self.lower if self.exact else None

    def __str__(self) -> str:
        name = {"sup": "sup distance", "gradient": "gradient distance",
                "lipschitz": "Lipschitz constant"}.get(self.norm, self.norm)
        head = _bounds_text(name, self.lower, self.upper, self.exact)
        w = "" if self.witness is None else (
            f"; witness {np.array2string(self.witness, precision=4)}" if self.witness.size <= 10
            else f"; witness: a point in {self.witness.size} dimensions (.witness)")
        return f"{head} [{self.method}, {self.status}, {self.seconds:.2f}s{w}]"


@dataclass(frozen=True)
class SobolevResult(ResultMixin):
    """Bounds on the ``W^{1,∞}`` distance ``max(sup|f - g|, ess sup max_{k,j} |∂_j (f - g)_k|)``.

    ``lower``/``upper``/``witness``/``exact`` combine the two parts ``sup_part`` and
    ``gradient_part`` (both :class:`DistanceResult`); ``certified_upper`` is
    ``max(sup_part.upper, gradient_part.certified_upper)`` (no margin assumption).
    """

    lower: float
    upper: float
    witness: np.ndarray | None
    exact: bool
    status: str
    seconds: float
    method: str
    sup_part: DistanceResult
    gradient_part: DistanceResult
    certified_upper: float = math.inf

    @property
    def value(self) -> float | None:
        return self.lower if self.exact else None

    def __str__(self) -> str:
        head = _bounds_text("W^(1,inf) distance", self.lower, self.upper, self.exact)
        return f"{head} [{self.status}, {self.seconds:.2f}s]\n  sup part: {self.sup_part}\n  gradient part: {self.gradient_part}"
