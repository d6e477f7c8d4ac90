"""Gradient norms: the gradient part of :func:`sobolev_distance` and
:func:`lipschitz_constant` (one MILP per output, input and sign over the Jacobian column
encoding, with a second MILP restricted to full-dimensional regions for degenerate
networks), and :func:`sobolev_distance` itself (sup part plus gradient part)."""

from __future__ import annotations

import math
import sys
from collections import OrderedDict
from typing import Literal

import numpy as np
from scipy.optimize import linprog

from .._budget import Budget
from .._validation import check_choice, check_pair, check_tol
from ..bounds import LayerwiseBounds, jacobian_bounds
from ..domain import Box, Boxes, PointSet, as_domain
from ..errors import SolverError
from ..milp import MILPBuilder, encode_jacobian_column, encode_network
from ..network import ReLUNetwork
from . import scaling
from .ascent import jacobian_ascent, starting_pool
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
from .enumeration import _AUTO_ENUMERATE_GRADIENT_DIM, _enumerated_gradient, _enumeration_share, _limit_status
from .lipschitz_search import LIPSCHITZ_SEARCH_MAX_DIM, JacobianBounder, search_gradient
from .lower import _Best, _offer_realized_gradient
from .neighbourhoods import boxes_result
from .pointwise import Terms, _jacobian_diff, _points_result, _terms
from .results import DistanceResult, SobolevResult
from .sup import sup_distance

__all__ = ["sobolev_distance", "lipschitz_constant"]

# sampled Jacobians are computed in chunks of about this many entries (8 bytes each)
_JACOBIAN_CHUNK = 2 ** 23
# share of the budget for the sampled lower bound when MILPs follow
_SAMPLING_SHARE = 0.2
# up to this input dimension every Jacobian column's model is built for its interval bounds
_COLUMN_MODELS_MAX_DIM = 64
# at most this many column models are kept once built
_MODEL_CACHE = 2 * _COLUMN_MODELS_MAX_DIM
# seconds left for the Jacobian bounds' linear back-substitution (else interval products only)
_LINEAR_JACOBIAN_ROOM = 3.0
# up to this many unstable neurons (interval bounds) the MILPs go before the input-split search
_MILP_FIRST_BINARIES = 48


def _pattern_interior(terms: Terms, encs, xvals: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                      margin: float) -> np.ndarray | None:
    """Given a MILP solution, fix its activation pattern and find by an LP the point of the
    box maximizing the smallest margin ``t`` of the unstable neurons (``s z >= t``). Returns
    the point when ``t >= margin`` (the pattern's region is full-dimensional), else None."""
    d = lo.size
    rows, rhs = [], []
    for (net, _), enc in zip(terms, encs):
        J, c = np.eye(d), np.zeros(d)
        for layer, (W, b) in enumerate(net.layers()):
            J, c = W @ J, W @ c + b
            if layer == net.depth - 1:
                break
            dl = enc.delta[layer]
            act = enc.active[layer].copy()
            unstable = dl >= 0
            on = np.zeros(act.size, dtype=bool)
            on[unstable] = xvals[dl[unstable]] > 0.5
            act = act | on
            s = np.where(on, 1.0, -1.0)
            for i in np.nonzero(unstable)[0]:
                # s (J_i y + c_i) >= t  <=>  -s J_i y + t <= s c_i
                rows.append(np.concatenate([-s[i] * J[i], [1.0]]))
                rhs.append(s[i] * c[i])
            J, c = J * act[:, None], c * act
    if not rows:
        return np.clip(xvals[encs[0].x], lo, hi)
    cost = np.zeros(d + 1)
    cost[-1] = -1.0
    bounds = list(zip(lo, hi)) + [(None, 1.0)]
    res = linprog(cost, A_ub=np.array(rows), b_ub=np.array(rhs), bounds=bounds, method="highs")
    if res.status != 0 or res.x is None or res.x[-1] < margin:
        return None
    return np.clip(res.x[:d], lo, hi)


def _sampled_gradients(terms: Terms, X: np.ndarray, budget: Budget, best: _Best) -> np.ndarray:
    """Jacobians of ``f - g`` at the points ``X`` (interior of regions a.s.): offers the
    largest entry to ``best`` and returns, per target ``(k, j, sign)``, the largest value of
    ``sign * J[k, j]`` seen. In chunks of bounded memory; stops early (after at least one
    chunk, so that there is a lower bound) when ``budget`` is spent."""
    k, d = terms[0][0].output_dim, X.shape[1]
    per_target = np.full((k, d, 2), -np.inf)
    width = max(max(net.widths) for net, _ in terms)
    step = max(1, _JACOBIAN_CHUNK // (k * (d + width)))
    for start in range(0, len(X), step):
        if start and budget.expired():
            break
        Xc = X[start:start + step]
        J, zmin = _jacobian_diff(terms, Xc)
        ok = zmin > 0
        if ok.any():
            Jo, Xo = J[ok], Xc[ok]
            A = np.abs(Jo)
            i, kk, j = np.unravel_index(int(np.argmax(A)), A.shape)
            best.offer(float(A[i, kk, j]), Xo[i], (int(kk), int(j)))
            per_target[:, :, 0] = np.maximum(per_target[:, :, 0], Jo.max(axis=0))
            per_target[:, :, 1] = np.maximum(per_target[:, :, 1], (-Jo).max(axis=0))
    return per_target


def _interval_jacobian_targets(terms: Terms, bounds: list, linear: bool = True) -> np.ndarray:
    """Upper bounds ``(k, d, 2)`` on ``max ±∂_j (f - g)_k`` over the box: entry-wise bounds of
    each network's Jacobian (:func:`reluscope.bounds.jacobian_bounds`, with its linear
    back-substitution when ``linear``) over the activation patterns that the
    pre-activation bounds ``bounds`` allow."""
    hi_sum, lo_sum = 0.0, 0.0
    for (net, s), bd in zip(terms, bounds):
        layers = LayerwiseBounds(tuple(b.lower for b in bd), tuple(b.upper for b in bd), "lp")
        jb = jacobian_bounds(net, bounds=layers, linear=linear)
        hi_sum = hi_sum + (jb.upper if s > 0 else -jb.lower)
        lo_sum = lo_sum + (jb.lower if s > 0 else -jb.upper)
    return np.stack([hi_sum, -lo_sum], axis=2)


def _gradient_part(terms: Terms, lo: np.ndarray, hi: np.ndarray, method: str, budget: Budget,
                   mip_gap: float, tol: float, seed: object, n_samples: int, region_margin: float,
                   bound_method: str, norm: str) -> DistanceResult:
    """Bounds on the largest gradient entry of ``f - g`` on the box: sampled Jacobians, then
    (unless ``method="sampled"``) one MILP per output, input and sign (see
    :func:`sobolev_distance`), all within ``budget``."""
    rng = np.random.default_rng(seed)
    d = lo.size
    best = _Best()
    X = Box(lo, hi).sample(n_samples if method != "sampled" else 10 * n_samples, d, seed=rng)
    with budget.phase("sampling"):
        sampling = budget if method == "sampled" else budget.share(_SAMPLING_SHARE)
        per_target = _sampled_gradients(terms, X, sampling, best)
    if method == "sampled" or all(net.depth == 1 for net, _ in terms):
        if all(net.depth == 1 for net, _ in terms):  # affine maps: the Jacobian is constant
            return DistanceResult(best.value, best.value, best.witness, True, "optimal",
                                  budget.elapsed(), "exact", norm, best.component, 0,
                                  best.value)
        return DistanceResult(best.value, math.inf, best.witness, False, "sampled",
                              budget.elapsed(), "sampled", norm, best.component, 0)
    with budget.phase("neuron bounds"):
        bounds = [_bounds_for(net, lo, hi, budget, bound_method) for net, _ in terms]
    status = "optimal"
    n_bin_max = 0
    builders: OrderedDict[tuple[int, float], tuple] = OrderedDict()

    def build(j: int, margin: float):
        b = MILPBuilder()
        x = b.add_vars(d, lo, hi)
        encs, cols = [], []
        for (net, s), bd in zip(terms, bounds):
            enc = encode_network(b, net, x, bd, margin=margin)
            idx, clo, chi = encode_jacobian_column(b, net, enc, j)
            encs.append(enc)
            cols.append((idx, s, clo, chi))
        return b, x, encs, cols

    def model(j: int, margin: float):
        key = (j, margin)
        if key in builders:
            builders.move_to_end(key)
        else:
            builders[key] = build(j, margin)
            if len(builders) > _MODEL_CACHE:  # the least recently used goes
                builders.popitem(last=False)
        return builders[key]

    # fallback upper bounds: interval bounds of the Jacobian over the activation patterns the
    # neuron bounds allow, every column at once; in low dimension also those of the column
    # models (one model per input: for wide inputs they are too many to build up front)
    # (the linear back-substitution takes up to a second on 784-input networks)
    target_upper = _interval_jacobian_targets(terms, bounds, linear=budget.remaining() > _LINEAR_JACOBIAN_ROOM)
    with budget.phase("column bounds"):
        for j in range(d if d <= _COLUMN_MODELS_MAX_DIM else 0):
            if budget.expired():
                status = "time_limit"
                break
            cols = model(j, 0.0)[3]
            hi_sum = sum(np.where(s > 0, chi, -clo) for _, s, clo, chi in cols)
            lo_sum = sum(np.where(s > 0, clo, -chi) for _, s, clo, chi in cols)
            target_upper[:, j, 0] = np.minimum(target_upper[:, j, 0], hi_sum)
            target_upper[:, j, 1] = np.minimum(target_upper[:, j, 1], -lo_sum)
    certified = target_upper.copy()  # bounds on the true ess sup (margin 0)
    order = np.argsort(-per_target.ravel())
    for t in order:
        kk, j, si = np.unravel_index(int(t), per_target.shape)
        sign = 1.0 if si == 0 else -1.0
        current = best.value
        eps = _cutoff_eps(current, tol, mip_gap) if math.isfinite(current) else 0.0
        thr = current + eps + _FEAS
        if target_upper[kk, j, si] <= thr:
            continue
        if budget.expired():
            status = "time_limit"
            continue
        b0, x0, encs0, cols0 = model(int(j), 0.0)
        n_bin_max = max(n_bin_max, b0.n_integers)
        idx = np.array([int(c[0][kk]) for c in cols0])
        coef = np.array([sign * c[1] for c in cols0])
        # LP relaxation first: a cheap valid bound that often prunes the target
        lp = b0.solve((idx, coef), sense="max", relax=True, budget=budget)
        if lp.status == "optimal" and math.isfinite(lp.bound):
            ub = lp.bound + _FEAS * (1 + abs(lp.bound))
            certified[kk, j, si] = min(certified[kk, j, si], ub)
            target_upper[kk, j, si] = min(target_upper[kk, j, si], ub)
            if ub <= thr:
                continue
        cutoff = [(idx, coef, current + eps, np.inf)] if math.isfinite(current) else []
        # 1) margin 0: every full-dimensional region is feasible -> certified upper bound
        out = _solve_max(b0, (idx, coef), budget, mip_gap, cutoff, root_seconds=lp.seconds)
        if out.status == "infeasible":
            target_upper[kk, j, si] = certified[kk, j, si] = thr
            continue
        if out.status != "optimal":
            status = "solver_error" if out.status == "error" else "time_limit"
        if out.status in ("optimal", "time_limit") and math.isfinite(out.bound):
            ub = out.bound + _FEAS * (1 + abs(out.bound))
            certified[kk, j, si] = min(certified[kk, j, si], ub)
            target_upper[kk, j, si] = min(target_upper[kk, j, si], ub)
        if out.x is not None:
            # is the incumbent's pattern a full-dimensional region? then its gradient is realized
            y = _pattern_interior(terms, encs0, out.x, lo, hi, region_margin)
            if y is not None:
                _offer_realized_gradient(terms, y, lo, hi, rng, best)
        if out.status != "optimal" or _tol_gap(best.value, target_upper[kk, j, si], max(tol, 2 * mip_gap)):
            continue
        # 2) the optimum sits on a pattern without a full-dimensional region (a degenerate
        #    network): restrict to patterns realized with the margin
        if budget.expired():
            status = "time_limit"
            continue
        bm, xm, encsm, colsm = model(int(j), float(region_margin))
        n_bin_max = max(n_bin_max, bm.n_integers)
        idx = np.array([int(c[0][kk]) for c in colsm])
        cur = best.value
        eps = _cutoff_eps(cur, tol, mip_gap) if math.isfinite(cur) else 0.0
        thr = cur + eps + _FEAS
        cutoff = [(idx, coef, cur + eps, np.inf)] if math.isfinite(cur) else []
        outm = _solve_max(bm, (idx, coef), budget, mip_gap, cutoff, root_seconds=lp.seconds)
        if outm.status == "infeasible":
            target_upper[kk, j, si] = thr
            continue
        if outm.status != "optimal":
            status = "solver_error" if outm.status == "error" else "time_limit"
        if outm.status in ("optimal", "time_limit") and math.isfinite(outm.bound):
            target_upper[kk, j, si] = min(target_upper[kk, j, si], outm.bound + _FEAS * (1 + abs(outm.bound)))
        if outm.x is not None:
            _offer_realized_gradient(terms, np.clip(outm.x[xm], lo, hi), lo, hi, rng, best)
    upper = float(max(np.max(target_upper), best.value, 0.0))
    cert = float(max(np.max(certified), best.value, 0.0))
    exact = status == "optimal" and _tol_gap(best.value, upper, max(tol, 2 * mip_gap))
    return DistanceResult(best.value, upper, best.witness, exact, status, budget.elapsed(),
                          "exact", norm, best.component, n_bin_max, cert)


def _gradient_distance(f: ReLUNetwork, g: ReLUNetwork | None, domain, method: str, time_limit: float,
                       mip_gap: float, seed: object, n_samples: int, tol: float, region_margin: float,
                       bound_method: str, norm: str, max_regions: int, budget: Budget | None) -> DistanceResult:
    """The gradient part of :func:`sobolev_distance` (``g=None``: :func:`lipschitz_constant`)."""
    check_pair(f, g, allow_none=True)
    time_limit = check_distance_options(method, time_limit, mip_gap, seed, n_samples, tol, max_regions)
    region_margin = check_tol(region_margin, "region_margin", positive=True)
    check_choice(bound_method, BOUND_METHODS, "bound_method")
    budget = Budget.of(time_limit, budget)
    dom = as_domain(domain, f.input_dim, allow_boxes=True)
    terms = _terms(f, g)
    if isinstance(dom, PointSet):
        return _points_result(terms, dom, budget.elapsed(), norm)
    if isinstance(dom, Boxes):
        def one_box(box: Box, box_budget: Budget) -> DistanceResult:
            return _gradient_distance(f, g, box, method, time_limit, mip_gap, seed, n_samples, tol,
                                      region_margin, bound_method, norm, max_regions, box_budget)
        return boxes_result(terms, dom, norm, one_box, budget, seed=seed, tol=max(tol, 2 * mip_gap))
    lo, hi = dom.bounds(f.input_dim)
    sp = scaling.plan(f, g, lo, hi)
    if sp.scale != 1.0:
        # a huge box: the gradients are those on the box divided by a power of two, but the
        # regions near 0 shrink by the same factor (below the solvers' resolution), so only
        # the margin-free upper bound carries over; the part of the box near 0, solved as
        # given, supplies the lower bound (docs/background/numerical-scaling.md)
        near = None
        nlo, nhi = np.maximum(lo, -scaling.SCALE_FREE), np.minimum(hi, scaling.SCALE_FREE)
        if np.all(nlo <= nhi):
            near = _gradient_distance(f, g, Box(nlo, nhi), method, time_limit, mip_gap, seed, n_samples,
                                      tol, region_margin, bound_method, norm, max_regions,
                                      budget.share(0.5))
        inner = _gradient_distance(sp.f, sp.g, sp.box, method, time_limit, mip_gap, seed, n_samples, tol,
                                   region_margin, bound_method, norm, max_regions, budget)
        return scaling.unscale(inner, sp, f, g, lo, hi, max(tol, 2 * mip_gap), budget.elapsed(), near)
    return scaling.flag(_gradient_box(terms, lo, hi, method, budget, mip_gap, seed, n_samples, tol,
                                      region_margin, bound_method, norm, max_regions), sp)


def _gradient_box(terms: Terms, lo: np.ndarray, hi: np.ndarray, method: str, budget: Budget,
                  mip_gap: float, seed: object, n_samples: int, tol: float, region_margin: float,
                  bound_method: str, norm: str, max_regions: int) -> DistanceResult:
    """:func:`_gradient_distance` on one box of moderate scale."""
    share = _enumeration_share(method, lo.size, _AUTO_ENUMERATE_GRADIENT_DIM)
    if share:
        try:
            return _enumerated_gradient(terms, lo, hi, budget, budget.share(share), tol, mip_gap,
                                        int(max_regions), norm)
        except SolverError as exc:
            if method == "enumerate":  # no fallback asked for: sampled lower bound only
                r = _gradient_part(terms, lo, hi, "sampled", budget, mip_gap, tol, seed, n_samples,
                                   region_margin, bound_method, norm)
                return DistanceResult(r.lower, math.inf, r.witness, False, _limit_status(exc),
                                      budget.elapsed(), "enumerate", norm, r.component, 0, math.inf)
    if method == "auto" and lo.size <= LIPSCHITZ_SEARCH_MAX_DIM and np.all(hi > lo):
        return _searched_gradient(terms, lo, hi, budget, mip_gap, tol, seed, n_samples, region_margin,
                                  bound_method, norm)
    return _gradient_part(terms, lo, hi, method, budget, mip_gap, tol, seed, n_samples,
                          region_margin, bound_method, norm)


def _searched_gradient(terms: Terms, lo: np.ndarray, hi: np.ndarray, budget: Budget, mip_gap: float,
                       tol: float, seed: object, n_samples: int, region_margin: float, bound_method: str,
                       norm: str) -> DistanceResult:
    """``method="auto"`` in small input dimension: the MILPs first with half the time when
    they are small (they often close at once; measured in BENCHMARKS.md), a sampled lower
    bound otherwise, then the branch and bound over input boxes
    (:mod:`.lipschitz_search`) with the rest, seeded with the best realized gradient. The
    bounds of both are kept (the larger lower, the smaller upper)."""
    gap = max(tol, 2 * mip_gap)
    small = _estimate_binaries(terms, lo, hi) <= _MILP_FIRST_BINARIES
    # (the search evaluates points of its own: a tenth of the samples seeds it, and a short
    # time limit is not spent on one large first chunk of Jacobians)
    first = _gradient_part(terms, lo, hi, "exact" if small else "sampled", budget.share(0.5 if small else 0.1),
                           mip_gap, tol, seed, n_samples if small else max(1, n_samples // 100), region_margin,
                           bound_method, norm)
    if first.exact:
        return first
    if budget.expired():  # no time for the search: its root bound still gives a finite upper end
        root = JacobianBounder(terms, lo, hi).bound(lo[None, :], hi[None, :])
        upper = max(min(first.upper, -float(root.lower[0, 0])), first.lower)
        closed = _tol_gap(first.lower, upper, gap)
        return DistanceResult(first.lower, upper, first.witness, closed, "optimal" if closed else "time_limit",
                              budget.elapsed(), first.method, norm, first.component, first.n_binaries,
                              max(min(-float(root.lower[0, 0]), first.certified_upper or math.inf), first.lower))
    initial = (first.lower, first.witness) if first.witness is not None else None
    if not small and "torch" in sys.modules:
        # projected-gradient ascent on a smoothed Jacobian entry (only when PyTorch is already
        # imported: importing it can take longer than a short call) seeds the search
        f0, g0 = terms[0][0], (terms[1][0] if len(terms) == 2 else None)
        asc = jacobian_ascent(f0, g0, lo, hi, starting_pool(lo, hi, 64, seed=int(seed)), budget=budget.share(0.1),
                              rounds=5, seed=int(seed))
        i = asc.best()
        if asc.witnesses is not None and np.isfinite(asc.values[i]) and (initial is None or asc.values[i] > initial[0]):
            initial = (float(asc.values[i]), asc.witnesses[i])
    found = search_gradient(terms, lo, hi, budget=budget, rng=np.random.default_rng(seed), tol=gap, norm=norm,
                            initial=initial)
    best = first if first.lower >= found.lower else found
    upper = max(min(first.upper, found.upper), best.lower)
    certified = min(found.upper, first.certified_upper if first.certified_upper is not None else math.inf)
    certified = max(certified, best.lower)
    exact = _tol_gap(best.lower, upper, gap)
    method = "exact+search" if small else "search"
    return DistanceResult(best.lower, upper, best.witness, exact, "optimal" if exact else "time_limit",
                          budget.elapsed(), method, norm, best.component, first.n_binaries, certified)


def sobolev_distance(f: ReLUNetwork, g: ReLUNetwork, domain: Box | PointSet | str | None = None,
                     *, method: Literal["auto", "exact", "sampled", "enumerate"] = "auto",
                     time_limit: float = 30.0, mip_gap: float = 1e-6, seed: int = 0,
                     n_samples: int = 2000, tol: float = 1e-6, region_margin: float = 1e-6,
                     bound_method: Literal["interval", "lp", "milp"] = "lp",
                     max_regions: int = 200_000, budget: Budget | None = None) -> SobolevResult:
    """``W^{1,∞}`` distance ``max(sup_Ω |f - g|, ess sup_Ω |∇(f - g)|)``.

    The gradient part is the essential supremum of ``max_{k,j} |∂_j (f - g)_k|`` (the
    largest absolute entry of the Jacobian difference), i.e. the maximum over the
    full-dimensional linear regions of ``f - g`` in the domain.

    Exact gradient part, for any depth: for every output ``k``, input ``j`` and sign, a
    MILP propagates the ``j``-th Jacobian column through binary activation variables
    (products of binaries and bounded variables linearized exactly with big-M).

    1. Without margin, every full-dimensional region's pattern is feasible, so the dual
       bound is a valid upper bound (``gradient_part.certified_upper``). If the optimal
       pattern's region contains a point where every unstable neuron has
       ``|z| >= region_margin`` (one LP), the region is full-dimensional and the Jacobian
       evaluated with the real networks at that point gives the lower bound: done.
    2. Otherwise (a degenerate network, whose relaxation admits patterns living only on
       lower-dimensional sets, e.g. two neurons with opposite hyperplanes), a second MILP
       requires ``z >= region_margin`` for active and ``z <= -region_margin`` for inactive
       unstable neurons, so that each feasible pattern is realized on an open set.

    So ``gradient_part`` brackets ``G_m``, the largest gradient entry over the linear
    regions containing a point at which every unstable neuron has ``|z| >= m``
    (``m = region_margin``). ``G_m`` never exceeds the essential supremum (its lower bound
    is always a realized gradient) and equals it as soon as ``m`` is below the inradius-like
    margin of every region -- true for all small enough ``m`` since there are finitely
    many regions. ``certified_upper`` bounds the essential supremum with no assumption.

    Parameters
    ----------
    f, g:
        Networks with the same input and output dimensions.
    domain:
        A :class:`~reluscope.Box` (``None``: ``[-1, 1]^d``) or a
        :class:`~reluscope.PointSet` (maxima over the points; gradients at the points with
        ``ReLU'(0) = 0``).
    method:
        ``"exact"`` (MILPs), ``"sampled"`` (lower bounds only), ``"enumerate"`` (the
        linear regions are listed, see :func:`sup_distance`; the gradient part is then
        the largest Jacobian entry over the regions, each checked at the region's
        centroid with the real networks), or ``"auto"`` (for the sup part as in
        :func:`sup_distance`; for the gradient part ``"enumerate"`` up to three input
        dimensions, falling back to the MILPs beyond ``max_regions`` or half the time,
        else ``"exact"``). With enumeration, ``certified_upper`` is the cruder
        all-patterns bound ``max(upper, max_{k,j} sum_nets (|W_L| ... |W_1|)_{kj})``.
    time_limit:
        Seconds, split between the sup part (first half at most) and the gradient part.
    mip_gap, seed, n_samples, tol, bound_method, max_regions, budget:
        As in :func:`sup_distance`.
    region_margin:
        Margin (in pre-activation units) certifying that a pattern's region is
        full-dimensional; see above.

    Returns
    -------
    SobolevResult
        Combined bounds plus ``sup_part`` and ``gradient_part``.
    """
    check_pair(f, g)
    time_limit = check_distance_options(method, time_limit, mip_gap, seed, n_samples, tol, max_regions)
    check_tol(region_margin, "region_margin", positive=True)
    budget = Budget.of(time_limit, budget)
    sup = sup_distance(f, g, domain, method=method, time_limit=0.5 * time_limit, mip_gap=mip_gap,
                       seed=seed, n_samples=n_samples, tol=tol, bound_method=bound_method,
                       max_regions=max_regions, budget=budget)
    grad = _gradient_distance(f, g, domain, method, time_limit, mip_gap, seed, n_samples, tol,
                              region_margin, bound_method, "gradient", max_regions, budget)
    lower = max(sup.lower, grad.lower)
    upper = max(sup.upper, grad.upper)
    witness = sup.witness if sup.lower >= grad.lower else grad.witness
    exact = _tol_gap(lower, upper, max(tol, 2 * mip_gap)) and math.isfinite(upper)
    statuses = {sup.status, grad.status}
    status = "optimal" if statuses <= {"optimal", "points"} else (
        "sampled" if "sampled" in statuses else "time_limit")
    if exact:
        status = "points" if statuses == {"points"} else "optimal"
    if scaling.RISK_STATUS in statuses:  # a part is numerically unreliable: never exact
        exact, status = False, scaling.RISK_STATUS
    method_name = sup.method if sup.method == grad.method else f"{sup.method}/{grad.method}"
    cert = max(sup.upper, grad.certified_upper if grad.certified_upper is not None else grad.upper)
    return SobolevResult(lower, upper, witness, exact, status, budget.elapsed(), method_name,
                         sup, grad, cert)


def lipschitz_constant(f: ReLUNetwork, domain: Box | PointSet | str | None = None,
                       *, method: Literal["auto", "exact", "sampled", "enumerate"] = "auto",
                       time_limit: float = 30.0, mip_gap: float = 1e-6, seed: int = 0,
                       n_samples: int = 2000, tol: float = 1e-6, region_margin: float = 1e-6,
                       bound_method: Literal["interval", "lp", "milp"] = "lp",
                       max_regions: int = 200_000, budget: Budget | None = None) -> DistanceResult:
    """Lipschitz constant ``ess sup_Ω max_{k,j} |∂f_k / ∂x_j|`` of a network on a box.

    This is the gradient part of :func:`sobolev_distance` with ``g = 0``. The norm: the
    largest absolute Jacobian entry is the operator norm of the Jacobian from ``ℓ1``
    (inputs) to ``ℓ∞`` (outputs), so on a convex domain the result is the smallest ``C``
    with ``max_k |f_k(x) - f_k(y)| <= C ||x - y||_1``.

    Parameters are those of :func:`sobolev_distance`; the result's ``norm`` is
    ``"lipschitz"`` and ``component`` the Jacobian entry ``(k, j)`` at the witness.
    """
    return _gradient_distance(f, None, domain, method, time_limit, mip_gap, seed, n_samples, tol,
                              region_margin, bound_method, "lipschitz", max_regions, budget)
