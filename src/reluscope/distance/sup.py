"""The sup distance :func:`sup_distance`: sampling for a lower bound, then region
enumeration in low dimension or one MILP per output and sign (HiGHS branch and bound with
a cutoff at the current lower bound); large MILPs keep part of the budget for the
relaxation bounds of :mod:`reluscope.distance.relax`."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np

from .._budget import Budget
from .._validation import check_choice, check_pair
from ..bounds import difference_bounds
from ..domain import Box, Boxes, PointSet, as_domain
from ..errors import SolverError
from ..milp import MILPBuilder, encode_network
from ..network import ReLUNetwork
from . import scaling
from .control import (
    BOUND_METHODS,
    _bounds_for,
    _cutoff_eps,
    _estimate_binaries,
    _FEAS,
    _solve_max,
    _tol_gap,
    check_distance_options,
)
from .enumeration import _AUTO_ENUMERATE_SUP_DIM, _enumerated_sup, _enumeration_share, _limit_status
from .lower import _Best, _local_ascent, _sup_candidates
from .neighbourhoods import boxes_result
from .pointwise import Terms, _points_result, _terms, _values
from .difference_search import SEARCH_MAX_DIM, search_result, union_search
from .relax import (
    _coupled_lp_bounds,
    _decoupled_bounds,
    _relaxable_binaries,
    _split_bounds,
)
from .results import DistanceResult

__all__ = ["sup_distance"]

# problems with at most this many binaries are solved directly in "auto" mode
_AUTO_SMALL_BINARIES = 200
# below this many binaries HiGHS proves the optimum in about a second and finds good
# incumbents itself, so a long local ascent costs more than its better cutoff saves
_SMALL_MILP_BINARIES = 96
# problems with at least this many binaries keep part of the time for split LP bounds
_SPLIT_MIN_BINARIES = 96
# fraction of the remaining time kept for them (two 10-32-32-1 networks, 60 s: 0.25 gave the
# upper bound 17.35, 0.5 with the decoupled bound below 15.58; BENCHMARKS.md "## distance")
_SPLIT_RESERVE = 0.5
# numbers of split coordinates tried, in turn (2^s sub-boxes each)
_SPLIT_LEVELS = (2, 4, 6, 8)
# share of the time after sampling for the branch and bound over input boxes when it goes
# before the MILPs (pairs in input dimension <= SEARCH_MAX_DIM with large MILPs); below 8
# inputs it nearly always beats them, above it shares
_SEARCH_SHARE = {True: 0.8, False: 0.5}
# share of the MILP reserve for the search when the MILPs go first (as the input splitting
# it replaced had)
_ENGINE_SPLIT_SHARE = 0.6


def _search_bounds(terms: Terms, lo: np.ndarray, hi: np.ndarray, targets: list[tuple[int, float]],
                   budget: Budget, best: _Best, rng: np.random.Generator, gap: float) -> np.ndarray:
    """Upper bounds on the open targets ``sign (f - g)_k`` from the search over their outputs
    (one bound on ``max |f_k - g_k|`` for all); its witness joins ``best``."""
    (f, _), (g, _) = terms
    outputs = np.array(sorted({k for k, _ in targets}))
    r = search_result(f, g, lo, hi, budget=budget, rng=rng, tol=gap, outputs=outputs,
                      initial=None if best.witness is None else (best.value, best.witness))
    best.offer(r.lower, r.witness, r.component)
    return np.full(len(targets), r.upper + _FEAS * (1.0 + abs(r.upper)))
# share of that reserve for the decoupled bound (each network alone), before the splitting
_DECOUPLED_SHARE = 0.7



def _exact_sup(terms: Terms, lo: np.ndarray, hi: np.ndarray, budget: Budget, mip_gap: float,
               tol: float, per_target: np.ndarray, best: _Best, bound_method: str,
               rng: np.random.Generator) -> tuple[float, str, int]:
    """Branch-and-bound by HiGHS for each target ``sign (f - g)_k``. Updates ``best``;
    returns (upper bound, status, number of binaries)."""
    builder = MILPBuilder()
    x = builder.add_vars(lo.size, lo, hi)
    encs = []
    for net, s in terms:
        bounds = _bounds_for(net, lo, hi, budget, bound_method)
        encs.append((encode_network(builder, net, x, bounds), s, bounds))
    n_bin = sum(e.n_binaries for e, _, _ in encs)
    k = terms[0][0].output_dim
    # interval bounds of sign (f - g)_k from the output bounds: fallback upper bounds
    out_lo = sum(np.where(s > 0, b[-1].lower, -b[-1].upper) for _, s, b in encs)
    out_hi = sum(np.where(s > 0, b[-1].upper, -b[-1].lower) for _, s, b in encs)
    target_upper = np.stack([out_hi, -out_lo], axis=1)  # (k, 2)
    if len(terms) == 2:  # the bound engine's bounds on f - g directly (joint and differential)
        (f, sf), (g, _) = terms
        diff = difference_bounds(f, g, Box(lo, hi))
        d_lo, d_hi = (diff.lower, diff.upper) if sf > 0 else (-diff.upper, -diff.lower)
        target_upper = np.minimum(target_upper, np.stack([d_hi, -d_lo], axis=1))
    status = "optimal"

    def objective(kk: int, sign: float) -> tuple[np.ndarray, np.ndarray]:
        idx = np.array([int(e.output[kk]) for e, _, _ in encs])
        coef = np.array([sign * s for _, s, _ in encs])
        return idx, coef

    def relaxable(kk: int, sign: float) -> np.ndarray:
        out = [_relaxable_binaries(e, net, kk, sign * s) for (e, s, _), (net, _) in zip(encs, terms)]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    # large problems keep part of the time for split LP bounds (used if the MILPs time out)
    milp_budget = budget
    if n_bin >= _SPLIT_MIN_BINARIES:
        milp_budget = budget.share(1.0 - _SPLIT_RESERVE)
    # LP relaxation bounds for every target (cheap; prune targets that cannot win)
    lp_seconds = np.zeros((k, 2))
    for kk in range(k):
        for si, sign in enumerate((1.0, -1.0)):
            if milp_budget.expired():
                break
            out = builder.solve(objective(kk, sign), sense="max", relax=True,
                                budget=milp_budget)
            lp_seconds[kk, si] = out.seconds
            if out.status == "optimal" and math.isfinite(out.bound):
                target_upper[kk, si] = min(target_upper[kk, si], out.bound + _FEAS * (1 + abs(out.bound)))
    order = np.argsort(-per_target.ravel())
    for t in order:
        kk, si = divmod(int(t), 2)
        sign = 1.0 if si == 0 else -1.0
        current = best.value
        if target_upper[kk, si] <= current + _cutoff_eps(current, tol, mip_gap):
            continue  # this target cannot beat the lower bound
        if milp_budget.expired():
            status = "time_limit"
            continue
        idx, coef = objective(kk, sign)
        eps = _cutoff_eps(current, tol, mip_gap) if math.isfinite(current) else 0.0
        cutoff = [(idx, coef, current + eps, np.inf)] if math.isfinite(current) else []
        out = _solve_max(builder, (idx, coef), milp_budget, mip_gap, cutoff, relaxable(kk, sign),
                         root_seconds=lp_seconds[kk, si])
        if out.status == "error":
            status = "solver_error"
            continue
        if out.status == "infeasible":
            # nothing beats the current lower bound (by more than eps) for this target
            target_upper[kk, si] = min(target_upper[kk, si], current + eps + _FEAS)
            continue
        if out.status not in ("optimal", "time_limit"):
            status = "time_limit" if status == "optimal" else status
            continue
        if out.status == "time_limit":
            status = "time_limit"
        if math.isfinite(out.bound):
            target_upper[kk, si] = min(target_upper[kk, si], out.bound + _FEAS * (1 + abs(out.bound)))
        if out.x is not None:
            w = np.clip(out.x[x], lo, hi)
            # polish on the linear region of the incumbent (LP without big-M), then re-evaluate;
            # within the whole budget (the MILP phase's may be spent), never past it
            w2, _ = _local_ascent(terms, w, kk, sign, lo, hi, rng, budget, max_iter=5)
            for cand in (w, w2):
                real = _values(terms, cand[None, :])[0]
                kb = int(np.argmax(np.abs(real)))
                best.offer(abs(real[kb]), cand, (kb,))
    gap = max(tol, 2 * mip_gap)

    def open_targets() -> list[tuple[int, int]]:
        return [(kk, si) for kk, si in (divmod(int(t), 2) for t in range(target_upper.size))
                if not (_tol_gap(best.value, target_upper[kk, si], gap) or target_upper[kk, si] <= best.value)]

    def tighten(bound: Callable[[list[tuple[int, float]]], np.ndarray]) -> bool:
        """Lower the open targets' upper bounds to ``bound(targets)``; False if none is open."""
        open_t = open_targets()
        if not open_t:
            return False
        ub = bound([(kk, 1.0 if si == 0 else -1.0) for kk, si in open_t])
        for (kk, si), u in zip(open_t, ub):
            target_upper[kk, si] = min(target_upper[kk, si], u)
        return True

    if milp_budget is not budget:
        net_bounds = [b for _, _, b in encs]
        # low input dimension, two networks: the branch and bound over input boxes with the
        # differential bounds first (tighter than the LP phases below on 10-D pairs)
        if len(terms) == 2 and lo.size <= SEARCH_MAX_DIM:
            tighten(lambda t: _search_bounds(terms, lo, hi, t, budget.share(_ENGINE_SPLIT_SHARE), best, rng, gap))
        # targets left open, first: each network alone (the decoupled bound)
        tighten(lambda t: _decoupled_bounds(terms, net_bounds, lo, hi, t, budget.share(_DECOUPLED_SHARE)))
        # pairs of equal widths: the LP with neuron-pair coupling rows (cheap: one LP each)
        if len(terms) == 2 and terms[0][0].widths == terms[1][0].widths:
            tighten(lambda t: _coupled_lp_bounds(terms, net_bounds, lo, hi, t, budget))
        # then input-domain splitting, 2^s sub-boxes with their own neuron bounds and LP
        # relaxation, all open targets at once (the sub-box neuron bounds are shared); the
        # maximum over the sub-boxes is a valid bound (they cover the box)
        for n_split in _SPLIT_LEVELS:
            if budget.expired() or not tighten(
                    lambda t, n=n_split: _split_bounds(terms, lo, hi, t, n, budget, bound_method)):
                break
        if status != "optimal" and all(
                _tol_gap(best.value, u, gap) or u <= best.value for u in target_upper.ravel()):
            status = "optimal"
    upper = float(max(target_upper.max(), 0.0))
    return upper, status, n_bin


def sup_distance(f: ReLUNetwork, g: ReLUNetwork, domain: Box | Boxes | PointSet | str | None = None,
                 *, method: Literal["auto", "exact", "sampled", "enumerate"] = "auto",
                 time_limit: float = 30.0, mip_gap: float = 1e-6, seed: int = 0, n_samples: int = 2000,
                 tol: float = 1e-6, bound_method: Literal["interval", "lp", "milp"] = "lp",
                 max_regions: int = 200_000, budget: Budget | None = None) -> DistanceResult:
    """Uniform distance ``sup_{x ∈ Ω} max_k |f_k(x) - g_k(x)|`` between two networks.

    Parameters
    ----------
    f, g:
        Networks with the same input and output dimensions.
    domain:
        A :class:`~reluscope.Box` (``None``: ``[-1, 1]^d``; a string ``"LO,HI"`` is parsed) or a
        :class:`~reluscope.PointSet` (then the answer is the exact maximum over the points), or a
        union of boxes :class:`~reluscope.Boxes` (e.g. ``PointSet(X).neighbourhood(eps)``):
        each box gets an upper bound from the bound engine and a lower bound from a batched
        gradient ascent at once; the remaining time tightens the boxes with the largest upper
        bounds one by one with the single-box method (``per_box`` in the result).
    method:
        ``"exact"``: MILP (HiGHS) for each output ``k`` and sign, maximizing ``±(f - g)_k``
        on a shared input, started from a small sampled lower bound. ``"sampled"``: random
        points, box vertices (``d <= 10``) and local ascent over affine pieces (a lower bound;
        ``upper = inf``). ``"auto"``: the exact method, preceded by a heavier sampling
        phase (up to 20% of the time) when the MILP has more than 200 binaries; in input
        dimension 1 to 3 it enumerates the linear regions instead (no MILP), falling back to
        the MILP beyond ``max_regions`` regions or half the time. ``"enumerate"``: only
        that enumeration, in any dimension (every common linear region of ``f`` and ``g``
        is cut out of the box and the maximum is taken over the regions' vertices; the
        number of regions grows quickly with the dimension).
    time_limit:
        Seconds for the whole computation. When it hits, the result keeps valid bounds
        with ``lower < upper`` and ``status="time_limit"``. Two networks in input dimension
        up to 16 whose MILP would exceed 200 binaries first get the branch and bound of
        :mod:`reluscope.search` over input boxes with the differential bounds (80% of the
        time after sampling up to 8 inputs, 50% above; ``method="search"`` when it closes
        the gap alone). MILPs with at least 96 binaries get half of the remaining time; if
        they do not close a target, 60% of the rest goes to that search (input dimension up
        to 16, two networks), 70% of what is left
        to the decoupled bound ``max f_k - min g_k`` (one MILP per network and extreme,
        whose dual bounds stay valid when the time runs out), then, for networks of equal
        widths, to an LP with coupling rows between corresponding neurons (tight when ``g``
        is a pruned or fine-tuned copy of ``f``), and the remainder to input-domain
        splitting (:func:`split_lp_bound` with 4, 16, 64, 256 sub-boxes); each replaces
        the bound when smaller.
    mip_gap:
        HiGHS relative MIP gap (``mip_rel_gap``).
    seed:
        Seed of the sampling phase.
    n_samples:
        Random points of the sampling phase (``method="sampled"`` uses 10 times more).
    tol:
        Tolerance: the solver's bounds are rounded outward by ``tol * (1 + |bound|)`` and the
        result is ``exact`` when ``upper - lower <= max(tol, 2 mip_gap) * max(1, upper)``.
    bound_method:
        Pre-activation bounds used as big-M constants: ``"interval"``, ``"lp"`` (tighter, the
        default) or ``"milp"`` (exact per neuron; costly, but can speed up hard instances).
    max_regions:
        Limit on the number of linear regions for the enumeration.
    budget:
        A caller's ``Budget`` (``reluscope._budget``): the computation ends at the earlier of
        its deadline and ``time_limit``.

    Returns
    -------
    DistanceResult
        ``lower`` (attained at ``witness``, re-evaluated with the real networks), ``upper``
        (the MILP dual bound), ``exact``, ``status``, ``seconds``, ``method``.

    Examples
    --------
    >>> import numpy as np
    >>> from reluscope import ReLUNetwork, Box, sup_distance
    >>> f = ReLUNetwork([np.array([[1.0]]), np.array([[1.0]])], [np.zeros(1), np.zeros(1)])
    >>> g = ReLUNetwork([np.array([[1.0]]), np.array([[0.5]])], [np.zeros(1), np.zeros(1)])
    >>> r = sup_distance(f, g, Box(-1, 2))
    >>> round(r.lower, 9), r.exact
    (1.0, True)
    """
    check_pair(f, g)
    time_limit = check_distance_options(method, time_limit, mip_gap, seed, n_samples, tol, max_regions)
    check_choice(bound_method, BOUND_METHODS, "bound_method")
    budget = Budget.of(time_limit, budget)
    dom = as_domain(domain, f.input_dim, allow_boxes=True)
    terms = _terms(f, g)
    if isinstance(dom, PointSet):
        return _points_result(terms, dom, budget.elapsed(), "sup")
    if isinstance(dom, Boxes):
        def one_box(box: Box, box_budget: Budget) -> DistanceResult:
            return sup_distance(f, g, box, method=method, time_limit=time_limit, mip_gap=mip_gap, seed=seed,
                                n_samples=n_samples, tol=tol, bound_method=bound_method,
                                max_regions=max_regions, budget=box_budget)
        return boxes_result(terms, dom, "sup", one_box, budget, seed=seed, tol=max(tol, 2 * mip_gap),
                            joint=union_search(f, g, dom.lo, dom.hi))
    lo, hi = dom.bounds(f.input_dim)
    sp = scaling.plan(f, g, lo, hi)
    if sp.scale != 1.0:  # a huge box: solved on the box divided by a power of two
        inner = sup_distance(sp.f, sp.g, sp.box, method=method, time_limit=time_limit, mip_gap=mip_gap,
                             seed=seed, n_samples=n_samples, tol=tol, bound_method=bound_method,
                             max_regions=max_regions, budget=budget)
        return scaling.unscale(inner, sp, f, g, lo, hi, max(tol, 2 * mip_gap), budget.elapsed())
    return scaling.flag(_sup_box(terms, lo, hi, method, budget, mip_gap, tol, seed, n_samples,
                                 bound_method, max_regions), sp)


def _sup_box(terms: Terms, lo: np.ndarray, hi: np.ndarray, method: str, budget: Budget, mip_gap: float,
             tol: float, seed: int, n_samples: int, bound_method: str, max_regions: int) -> DistanceResult:
    """:func:`sup_distance` on one box of moderate scale."""
    best = _Best()
    rng = np.random.default_rng(seed)
    if method == "sampled":
        _sup_candidates(terms, lo, hi, 10 * n_samples, seed, 5, budget, best)
        return DistanceResult(best.value, math.inf, best.witness, False, "sampled",
                              budget.elapsed(), "sampled", "sup", best.component, 0)
    share = _enumeration_share(method, lo.size, _AUTO_ENUMERATE_SUP_DIM)
    if share:
        try:
            return _enumerated_sup(terms, lo, hi, budget, budget.share(share), tol, mip_gap,
                                   int(max_regions))
        except SolverError as exc:
            if method == "enumerate":  # no fallback asked for: a sampled lower bound only
                _sup_candidates(terms, lo, hi, n_samples, seed, 0, budget, best)
                return DistanceResult(best.value, math.inf, best.witness, False, _limit_status(exc),
                                      budget.elapsed(), "enumerate", "sup", best.component, 0)
    n_estimate = _estimate_binaries(terms, lo, hi)
    heavy = method == "auto" and n_estimate > _AUTO_SMALL_BINARIES
    if heavy:
        per_target = _sup_candidates(terms, lo, hi, 5 * n_samples, seed, 30,
                                     budget.share(0.2), best)
    else:
        starts = 2 if n_estimate < _SMALL_MILP_BINARIES else 10
        per_target = _sup_candidates(terms, lo, hi, n_samples, seed, starts,
                                     budget.share(0.1), best)
    gap = max(tol, 2 * mip_gap)
    # large MILPs (ACAS Xu 6x50 pairs: 600 binaries) rarely close: the search over input
    # boxes goes first, and an exact answer ends here; smaller MILPs go first and keep the
    # search for their reserve phase (_exact_sup)
    searched = None
    if len(terms) == 2 and lo.size <= SEARCH_MAX_DIM and n_estimate > _AUTO_SMALL_BINARIES:
        (f, _), (g, _) = terms
        searched = search_result(f, g, lo, hi, budget=budget.share(_SEARCH_SHARE[lo.size <= 8]), rng=rng,
                                 tol=gap, initial=None if best.witness is None else (best.value, best.witness))
        best.offer(searched.lower, searched.witness, searched.component)
        if searched.exact and searched.lower >= best.value:
            return DistanceResult(searched.lower, searched.upper, searched.witness, True, "optimal",
                                  budget.elapsed(), "search", "sup", searched.component, 0)
    upper, status, n_bin = _exact_sup(terms, lo, hi, budget, mip_gap, tol, per_target, best,
                                      bound_method, rng)
    if searched is not None:
        upper = min(upper, searched.upper)
        if _tol_gap(best.value, max(upper, best.value), gap):
            status = "optimal"
    upper = max(upper, best.value)
    exact = status == "optimal" and _tol_gap(best.value, upper, max(tol, 2 * mip_gap))
    if not exact and status == "optimal":
        status = "time_limit" if budget.expired() else "optimal"
    return DistanceResult(best.value, upper, best.witness, exact, status, budget.elapsed(),
                          "sampled+exact" if heavy else "exact", "sup", best.component, n_bin)
