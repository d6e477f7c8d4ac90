"""Solver control shared by the sup and gradient computations: option checks, the cutoff
asked of each MILP, the exactness test, HiGHS retries, and neuron bounds within a budget."""

from __future__ import annotations

import math

import numpy as np

from .._budget import Budget
from .._validation import check_choice, check_fraction, check_int, check_seed, check_time_limit, check_tol
from ..domain import Box
from ..milp import MILPBuilder, SolveOutcome, interval_bounds, preactivation_bounds
from ..network import ReLUNetwork
from .pointwise import Terms

__all__: list[str] = []

METHODS = ("auto", "exact", "sampled", "enumerate")
BOUND_METHODS = ("interval", "lp", "milp")


def check_distance_options(method: object, time_limit: object, mip_gap: object, seed: object,
                           n_samples: object, tol: object, max_regions: object) -> float:
    """The options every distance function shares; returns the time limit in seconds."""
    check_seed(seed)
    check_choice(method, METHODS, "method")
    time_limit = check_time_limit(time_limit)
    check_fraction(mip_gap, "mip_gap")
    check_int(n_samples, "n_samples", minimum=1)
    check_tol(tol)
    check_int(max_regions, "max_regions", minimum=1)
    return time_limit


def _cutoff_eps(current: float, tol: float, mip_gap: float) -> float:
    """Improvement asked of a MILP over the current lower bound: half the exactness gap.
    If HiGHS proves ``objective >= current + eps`` infeasible, the target's maximum is below
    ``current + eps`` (plus its feasibility tolerance), which already certifies exactness;
    proving infeasibility is usually much faster than optimizing."""
    return 0.5 * max(tol, 2 * mip_gap) * max(1.0, abs(current))


_FEAS = 1e-7  # HiGHS primal feasibility tolerance (a violated cutoff row by at most this)


def _tol_gap(lower: float, upper: float, tol: float) -> bool:
    if not (math.isfinite(lower) and math.isfinite(upper)):
        return False  # an infinite end is never a closed gap (inf - inf style comparisons lie)
    return upper - lower <= tol * max(1.0, abs(upper), abs(lower))




def _solve_max(builder: MILPBuilder, objective: tuple[np.ndarray, np.ndarray], budget: Budget,
               mip_gap: float, cutoff: list, continuous: np.ndarray | None = None, *,
               root_seconds: float = 0.0) -> SolveOutcome:
    """Maximize with HiGHS within ``budget``. HiGHS occasionally stops with "Solve error"
    (numerics); the same model without presolve, then without the cutoff row, usually goes
    through, so those are tried in turn (status ``"error"`` only if all fail).

    ``root_seconds`` is what the LP relaxation of this model took: with less time left the
    MILP cannot get past its root node, and HiGHS overruns a short limit on a large model
    by seconds (784-300-100-10, 5.6 s left: 10.2 s), so it is not started (status
    ``"time_limit"``, no incumbent, no bound)."""
    if budget.remaining() < root_seconds:
        return SolveOutcome("time_limit", None, None, math.inf, 0.0, "not started: less time left than its root LP")
    out = None
    for opts in ({}, {"presolve": False}, {"presolve": False, "extra_rows": ()}):
        if out is not None and (out.status != "error" or budget.expired()):
            break
        kwargs = {"extra_rows": cutoff, **opts}
        out = builder.solve(objective, sense="max", budget=budget,
                            mip_rel_gap=mip_gap, continuous=continuous, **kwargs)
    return out


def _bounds_for(net: ReLUNetwork, lo: np.ndarray, hi: np.ndarray, budget: Budget, bound_method: str):
    """Pre-activation bounds (the big-M constants) on ``[lo, hi]`` in a fifth of what is left."""
    return preactivation_bounds(net, Box(lo, hi), method=bound_method,
                                budget=budget.share(0.2))


def _estimate_binaries(terms: Terms, lo: np.ndarray, hi: np.ndarray) -> int:
    """Unstable neurons under interval bounds: the binaries of the MILP, roughly."""
    n = 0
    for net, _ in terms:
        for zl, zh in interval_bounds(net, Box(lo, hi))[:-1]:
            n += int(np.sum((zl < 0) & (zh > 0)))
    return n
