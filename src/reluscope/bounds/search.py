"""Anytime maximization over a box by input splitting with the bound engine.

:func:`maximize` keeps a priority queue of sub-boxes ordered by their upper bound (from a
sound bounding function such as :func:`~reluscope.bounds.difference_bounds`), evaluates the
objective at a few points of each sub-box for a lower bound with a witness, and splits the
sub-box with the largest upper bound along the coordinate chosen by the caller's
heuristic (widest side scaled by the objective's sensitivity). The interval
``[lower, upper]`` is valid at every moment; it closes when the largest upper bound in the
queue meets the best value found. Time is a :class:`~reluscope._budget.Budget`.

Why input splitting: in low input dimension, halving a box shrinks every relaxation, so
the bounds converge to the true maximum; in high dimension the number of boxes explodes and
the caller should rely on the root bound plus sampling.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._budget import Budget
from .._results import ResultMixin

__all__ = ["SearchResult", "maximize"]

#: ``bound(lo, hi) -> upper bound of the objective on the box [lo, hi]``
UpperFn = Callable[[np.ndarray, np.ndarray], float]
#: ``evaluate(X) -> objective values at the rows of X``
EvalFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class SearchResult(ResultMixin):
    """``lower <= max_{x in box} objective(x) <= upper``; ``witness`` attains ``lower``."""

    lower: float
    upper: float
    witness: np.ndarray
    boxes: int
    status: str  # "optimal" (gap closed), "time_limit", "box_limit"

    def __str__(self) -> str:
        return f"max in [{self.lower:.9g}, {self.upper:.9g}] ({self.status}, {self.boxes} boxes)"


def _probe_points(lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator, n_random: int) -> np.ndarray:
    centre = 0.5 * (lo + hi)
    return np.vstack([centre[None, :], lo + (hi - lo) * rng.random((n_random, lo.size))])


def maximize(lo: np.ndarray, hi: np.ndarray, upper_bound: UpperFn, evaluate: EvalFn, *,
             budget: Budget, rng: np.random.Generator, gap: float = 1e-6,
             max_boxes: int = 1_000_000, n_random: int = 4,
             initial: tuple[float, np.ndarray] | None = None) -> SearchResult:
    """Branch and bound on input boxes for ``max objective`` over ``[lo, hi]``.

    Parameters
    ----------
    upper_bound, evaluate:
        A sound upper bound on a sub-box, and the objective at points.
    budget:
        Wall-clock budget; the search stops between boxes when it is spent.
    gap:
        Stop when ``upper - lower <= gap * max(1, |lower|)``.
    initial:
        A known ``(value, point)`` to start the lower bound from (e.g. gradient ascent).
    """
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    X = _probe_points(lo, hi, rng, n_random)
    vals = evaluate(X)
    best_i = int(np.argmax(vals))
    best, witness = float(vals[best_i]), X[best_i].copy()
    if initial is not None and initial[0] > best:
        best, witness = float(initial[0]), np.asarray(initial[1], float).copy()
    counter = itertools.count()
    root = float(upper_bound(lo, hi))
    heap: list[tuple[float, int, np.ndarray, np.ndarray]] = [(-root, next(counter), lo, hi)]
    boxes = 1
    status = "time_limit"
    while heap:
        top = -heap[0][0]
        if top - best <= gap * max(1.0, abs(best)):
            status = "optimal"
            break
        if budget.expired():
            break
        if boxes >= max_boxes:
            status = "box_limit"
            break
        _, _, blo, bhi = heapq.heappop(heap)
        axis = int(np.argmax(bhi - blo))
        mid = 0.5 * (blo[axis] + bhi[axis])
        for side in (0, 1):
            clo, chi = blo.copy(), bhi.copy()
            if side == 0:
                chi[axis] = mid
            else:
                clo[axis] = mid
            P = _probe_points(clo, chi, rng, n_random)
            v = evaluate(P)
            i = int(np.argmax(v))
            if v[i] > best:
                best, witness = float(v[i]), P[i].copy()
            ub = float(upper_bound(clo, chi))
            boxes += 1
            if ub > best:
                heapq.heappush(heap, (-ub, next(counter), clo, chi))
    upper = max(-heap[0][0], best) if heap else best
    if not heap:
        status = "optimal"
    return SearchResult(best, upper, witness, boxes, status)
