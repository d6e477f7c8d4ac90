"""Distances and Lipschitz constants over a union of boxes (:class:`~reluscope.Boxes`, e.g.
the L-inf neighbourhoods of data points).

Every box gets, at once, an upper bound from the bound engine (:mod:`reluscope.bounds`:
differential bounds on ``f - g``, Jacobian entry bounds) and a lower bound with a witness
from a batched projected-gradient ascent (all boxes at once). The answer over the union
is the maximum over the boxes, so the remaining time goes to the box whose upper bound is
the largest: it is handed to the single-box solver (``sup_distance`` / the gradient MILP on
that box; on a small box most neurons are stable, so the MILP is small), which tightens its
interval. The interval over the union is valid at every moment.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .._budget import Budget
from ..bounds import difference_bounds, jacobian_bounds, joint_difference_network, layer_bounds
from ..domain import Box, Boxes
from . import scaling
from .difference_search import DifferenceBounder
from .pointwise import Terms, _jacobian_diff, _values
from .results import DistanceResult

__all__ = ["BoxIntervals", "boxes_bounds", "refine_boxes", "boxes_result"]

#: the single-box solver used to tighten one box: ``(box, budget) -> DistanceResult``
BoxSolver = Callable[[Box, Budget], DistanceResult]


@dataclass
class BoxIntervals:
    """Per-box bounds ``lower[i] <= q(box i) <= upper[i]``, witnesses and components."""

    lower: np.ndarray
    upper: np.ndarray
    witness: np.ndarray
    component: list
    refined: np.ndarray  # the single-box solver already ran on this box
    risky: bool = False  # some bound is numerically unreliable (see .scaling)

    def best(self) -> int:
        return int(np.argmax(self.lower))


def _ascent_sup(terms: Terms, lo: np.ndarray, hi: np.ndarray, budget: Budget, rng: np.random.Generator,
                steps: int = 20, restarts: int = 2) -> tuple[np.ndarray, np.ndarray, list]:
    """Projected sign-gradient ascent of ``max_k |f_k - g_k|`` in every box at once, from
    the centres and random starts; returns the best value, point and output per box."""
    m = lo.shape[0]
    best_v = np.full(m, -np.inf)
    best_x = 0.5 * (lo + hi)
    best_k: list = [(0,)] * m
    starts = [0.5 * (lo + hi)] + [lo + (hi - lo) * rng.random(lo.shape) for _ in range(restarts)]
    for X in starts:
        step = 0.5 * (hi - lo)
        for it in range(steps + 1):
            D = _values(terms, X)
            k = np.argmax(np.abs(D), axis=1)
            v = np.abs(D[np.arange(m), k])
            better = v > best_v
            best_v = np.where(better, v, best_v)
            best_x = np.where(better[:, None], X, best_x)
            best_k = [(int(k[i]),) if better[i] else best_k[i] for i in range(m)]
            if it == steps or budget.expired():
                break
            J, _ = _jacobian_diff(terms, X)  # (m, k, d)
            sign = np.sign(D[np.arange(m), k])
            grad = sign[:, None] * J[np.arange(m), k]
            X = np.clip(X + step * np.sign(grad), lo, hi)
            step = step * 0.7
        if budget.expired():
            break
    return best_v, best_x, best_k


def _sampled_gradients(terms: Terms, lo: np.ndarray, hi: np.ndarray, budget: Budget,
                       rng: np.random.Generator, samples: int = 8) -> tuple[np.ndarray, np.ndarray, list]:
    """Largest absolute Jacobian entry of ``f - g`` at the centre and random points of every box."""
    m = lo.shape[0]
    best_v = np.full(m, -np.inf)
    best_x = 0.5 * (lo + hi)
    best_c: list = [(0, 0)] * m
    for s in range(samples + 1):
        X = 0.5 * (lo + hi) if s == 0 else lo + (hi - lo) * rng.random(lo.shape)
        J, _ = _jacobian_diff(terms, X)
        flat = np.abs(J).reshape(m, -1)
        idx = np.argmax(flat, axis=1)
        v = flat[np.arange(m), idx]
        better = v > best_v
        best_v = np.where(better, v, best_v)
        best_x = np.where(better[:, None], X, best_x)
        kd = J.shape[2]
        best_c = [(int(idx[i] // kd), int(idx[i] % kd)) if better[i] else best_c[i] for i in range(m)]
        if budget.expired():
            break
    return best_v, best_x, best_c


#: engine bounds per (networks, quantity, tier, box), so that successive questions on the
#: same boxes (the sup distance, then epsilon-equivalence, then the report's table) do not
#: recompute them; keyed by a digest of the parameters, never by object identity
_UPPER_CACHE: OrderedDict[tuple, float] = OrderedDict()
_UPPER_CACHE_SIZE = 8192


def _fingerprint(terms: Terms) -> bytes:
    """A digest of the networks (and signs) of ``terms``."""
    h = hashlib.blake2b(digest_size=20)
    for net, sign in terms:
        h.update(repr((net.widths, sign)).encode())
        for W, b in net.layers():
            h.update(np.ascontiguousarray(W).tobytes())
            h.update(np.ascontiguousarray(b).tobytes())
    return h.digest()


def _box_upper(terms: Terms, norm: str, box: Box, tier: str, fingerprint: bytes | None = None) -> float:
    """The bound engine's upper bound on the quantity over one box, at the given tier."""
    key = None
    if fingerprint is not None:
        lo, hi = box.bounds(terms[0][0].input_dim)
        key = (fingerprint, norm, tier, lo.tobytes(), hi.tobytes())
        if key in _UPPER_CACHE:
            _UPPER_CACHE.move_to_end(key)
            return _UPPER_CACHE[key]
    if norm == "sup":
        value = difference_bounds(terms[0][0], terms[1][0], box, tier=tier).sup_upper
    else:
        net = terms[0][0] if len(terms) == 1 else joint_difference_network(terms[0][0], terms[1][0])
        value = jacobian_bounds(net, box, bounds=layer_bounds(net, box, method=tier)).max_abs
    if key is not None:
        _UPPER_CACHE[key] = value
        if len(_UPPER_CACHE) > _UPPER_CACHE_SIZE:
            _UPPER_CACHE.popitem(last=False)
    return value


#: boxes per call of the batched differential bounds in :func:`boxes_bounds`
_SUP_CHUNK = 8


def boxes_bounds(terms: Terms, boxes: Boxes, norm: str, budget: Budget,
                 rng: np.random.Generator) -> BoxIntervals:
    """The per-box interval, valid at every stage: one engine bound over the bounding box of
    the union for all boxes at once, then per box the interval tier and the linear tier
    (largest upper bounds first, within 80 % of what the ascent leaves), and lower bounds
    from a batched ascent / sampling (a tenth of the budget)."""
    lo, hi = boxes.lo, boxes.hi
    bb_lo, bb_hi = boxes.bounding_box().bounds(lo.shape[1])
    plan = scaling.plan(terms[0][0], terms[1][0] if len(terms) == 2 else None, bb_lo, bb_hi)
    with np.errstate(all="ignore"):  # extreme boxes: overflow is detected below
        if norm == "sup":
            lower, witness, comp = _ascent_sup(terms, lo, hi, budget.share(0.1), rng)
        else:
            lower, witness, comp = _sampled_gradients(terms, lo, hi, budget.share(0.1), rng)
        upper = np.full(len(boxes), _box_upper(terms, norm, boxes.bounding_box(), "interval"))
        phase = budget.share(0.8)
        fingerprint = _fingerprint(terms)
        for tier in ("interval", "linear"):
            if norm == "sup":  # many boxes per call of the batched differential bounds
                bounder = DifferenceBounder(terms[0][0], terms[1][0])
                order = np.argsort(-upper)
                for start in range(0, order.size, _SUP_CHUNK):
                    if phase.expired():
                        break
                    idx = order[start:start + _SUP_CHUNK]
                    lo_d, hi_d, _ = bounder.interval(lo[idx], hi[idx], tier)
                    upper[idx] = np.minimum(upper[idx], np.max(np.maximum(-lo_d, hi_d), axis=1))
                continue
            for i in np.argsort(-upper):
                if phase.expired():
                    break
                upper[i] = min(upper[i], _box_upper(terms, norm, boxes.box(int(i)), tier, fingerprint))
    risky = plan.risk is not None or not (np.all(np.isfinite(lower)) and np.all(np.isfinite(upper)))
    lower = np.where(np.isnan(lower), -np.inf, lower)  # an overflowed evaluation proves nothing
    upper = np.where(np.isnan(upper), np.inf, upper)
    upper = np.maximum(upper, lower)
    return BoxIntervals(lower, upper, witness, comp, np.zeros(len(boxes), dtype=bool), risky)


def refine_boxes(state: BoxIntervals, boxes: Boxes, solve: BoxSolver, budget: Budget,
                 done: Callable[[BoxIntervals], bool], pick: Callable[[BoxIntervals], int | None]) -> None:
    """Hand boxes chosen by ``pick`` to the single-box solver until ``done`` or out of time.

    Each box gets half the remaining time (a box solved quickly leaves the rest to the
    next) and the last box not yet tried all of it; a box the solver could not close is not
    retried.
    """
    while not done(state) and not budget.expired():
        i = pick(state)
        if i is None:
            return
        last = int(state.refined.sum()) == len(boxes) - 1
        res = solve(boxes.box(i), budget.share(1.0 if last else 0.5))
        state.refined[i] = True
        state.risky = state.risky or res.status == scaling.RISK_STATUS
        if res.lower > state.lower[i] and res.witness is not None:
            state.lower[i], state.witness[i] = res.lower, res.witness
            state.component[i] = res.component
        state.upper[i] = max(min(state.upper[i], res.upper), state.lower[i])


def boxes_result(terms: Terms, boxes: Boxes, norm: str, solve: BoxSolver, budget: Budget, *,
                 seed: object, tol: float,
                 joint: Callable[[BoxIntervals, Budget, np.random.Generator], None] | None = None
                 ) -> DistanceResult:
    """The quantity over the union of boxes: the maximum of the per-box intervals, the
    largest upper bounds tightened first by ``solve``. ``joint(state, budget, rng)``, when
    given, first tightens the intervals of many boxes at once (one search over the union)."""
    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed
    state = boxes_bounds(terms, boxes, norm, budget, rng)
    if joint is not None and not budget.expired():
        joint(state, budget, rng)

    def closed(s: BoxIntervals) -> bool:
        top = float(s.upper.max())
        return top - float(s.lower.max()) <= tol * max(1.0, top)

    def largest_open(s: BoxIntervals) -> int | None:
        cand = np.where(~s.refined, s.upper, -np.inf)
        i = int(np.argmax(cand))
        return None if not math.isfinite(cand[i]) or cand[i] <= s.lower.max() else i

    refine_boxes(state, boxes, solve, budget, closed, largest_open)
    i = state.best()
    exact = closed(state) and not state.risky
    status = "optimal" if exact else ("time_limit" if budget.expired() else "unresolved")
    if state.risky:
        status = scaling.RISK_STATUS
    lower = float(state.lower[i]) if math.isfinite(state.lower[i]) else 0.0
    return DistanceResult(lower, float(state.upper.max()), state.witness[i].copy(), exact,
                          status, budget.elapsed(), "boxes", norm, state.component[i], 0,
                          float(state.upper.max()) if norm != "sup" else None,
                          per_box=tuple(zip(state.lower.tolist(), state.upper.tolist())))
