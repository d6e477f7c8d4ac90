"""The largest Jacobian entry of ``f`` (or of ``f - g``) over a box by the one branch and
bound (:mod:`reluscope.search`): :func:`lipschitz_constant` and the gradient part of
:func:`sobolev_distance` in small input dimension.

The search minimizes ``phi(x) = -max_{k,j} |J_kj(x)|`` over input boxes (``J`` the
Jacobian of ``f - g``). A box's sound lower bound of ``phi`` is minus the largest absolute
entry of the engine's interval Jacobian bounds (:func:`reluscope.bounds.jacobian.
batch_jacobian_bounds`) over the activation patterns its pre-activation bounds allow
(batched CROWN, :func:`reluscope.bounds.differential_linear.batch_layer_bounds`). The
bounds hold at *every* point of the box (with ``ReLU'(0) = 0``), so the search's upper end
bounds the essential supremum with no assumption (``certified_upper``).

A point counts (gives a finite ``phi``) only where the gradient it shows is realized on an
open set: every hidden pre-activation that varies with the input is farther from zero than
its floating-point evaluation error (``reluscope.distance.rounding``), so the computed
activation pattern is the true one on a neighbourhood, and ``|J_kj|`` there is at most the
essential supremum. Elsewhere ``phi = +inf`` (the point proves nothing).

Why it converges: once a box's pre-activation bounds fix every neuron's sign, the Jacobian
is constant on it and the interval product is that constant (up to the rounding pad); near
a single neuron's hyperplane the interval product is exact per entry (the entry is affine
in that neuron's 0/1 slope), so the remaining boxes' bounds approach the gradients of the
regions on either side. Proofs: ``docs/background/lipschitz-search.md`` (the linear
Jacobian bound and the two ends of the search) and ``docs/background/branch-and-bound.md``
(the loop).
"""

from __future__ import annotations

import math

import numpy as np

from .._budget import Budget
from ..bounds.differential_linear import batch_layer_bounds
from ..bounds.jacobian import batch_jacobian_bounds
from ..search import BoxBounds, minimize_max
from .pointwise import Terms, _jacobian_diff
from .results import DistanceResult
from .rounding import _SAFETY, gamma, magnitudes, operation_count

__all__ = ["JacobianBounder", "search_gradient", "LIPSCHITZ_SEARCH_MAX_DIM"]

#: input dimensions up to which ``method="auto"`` bounds gradients by input splitting
LIPSCHITZ_SEARCH_MAX_DIM = 12
_EPS = float(np.finfo(float).eps)


class JacobianBounder:
    """The search's bounder of ``phi(x) = -max_{k,j} |J_kj(x)|`` (``m = 1``) for ``f - g``."""

    def __init__(self, terms: Terms, lo: np.ndarray, hi: np.ndarray, budget: Budget | None = None) -> None:
        self.terms = terms
        self.n_inputs = terms[0][0].input_dim
        self.budget = budget
        # rounding: |computed z - z| <= margin for every hidden neuron at every point of the box
        radius = np.maximum(np.abs(lo), np.abs(hi))
        g = gamma(operation_count(terms))
        self.margin = _SAFETY * g * max(float(np.max(np.concatenate(magnitudes(net, radius)[:-1])))
                                        if net.depth > 1 else 0.0 for net, _ in terms)
        # split scores: how much each input moves each hidden neuron (products of |W|)
        self.influence = []
        for net, _ in terms:
            P, rows = np.abs(net.weights[0]), []
            for W in net.weights[1:]:
                rows.append(P)
                P = np.abs(W) @ P
            self.influence.append(np.vstack(rows) if rows else np.zeros((0, self.n_inputs)))
        width = max(max(net.widths[1:], default=1) for net, _ in terms)
        self.batch_size = int(np.clip(2_000_000 // (width * (width + self.n_inputs) * len(terms) + 1), 16, 512))
        self.chunk = max(8, self.batch_size // 4)

    def bound(self, lo: np.ndarray, hi: np.ndarray) -> BoxBounds:
        B = lo.shape[0]
        upper = np.full(B, np.inf)
        sens = np.ones((B, self.n_inputs))
        resolved = np.zeros(B, dtype=bool)
        for start in range(0, B, self.chunk):
            stop = min(start + self.chunk, B)
            if start and self.budget is not None and self.budget.expired():
                break  # the rest keep the trivial bound (their parents' bounds still hold)
            upper[start:stop], sens[start:stop], resolved[start:stop] = self._bound(lo[start:stop], hi[start:stop])
        return BoxBounds(-upper[:, None], sens, 0.5 * (lo + hi), resolved)

    def _bound(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Upper bounds on the largest Jacobian entry of each box, split scores, and which
        boxes fix every neuron's activation (the Jacobian is constant there: the bound is final)."""
        B = lo.shape[0]
        J_lo = J_hi = 0.0
        pull = np.zeros((B, self.n_inputs))
        stable = np.ones(B, dtype=bool)
        for (net, s), infl in zip(self.terms, self.influence):
            if net.depth == 1:  # affine: the Jacobian is W itself
                W = np.broadcast_to(net.weights[0], (B, *net.weights[0].shape))
                a, b = W, W
            else:
                lows, highs = batch_layer_bounds(net, lo, hi)
                a, b = batch_jacobian_bounds(net, lows, highs)
                # open: the slope of the neuron is not fixed on the box (as batch_jacobian_bounds reads it)
                unstable = np.concatenate([(l <= 0) & (h > 0) for l, h in zip(lows[:-1], highs[:-1])], axis=1)
                stable &= ~unstable.any(axis=1)
                # each unstable neuron pulls on the inputs in proportion to width x influence
                share = infl[None, :, :] * (hi - lo)[:, None, :]
                share = share / np.maximum(share.sum(axis=2, keepdims=True), 1e-300)
                pull += np.einsum("bn,bnd->bd", unstable.astype(float), share)
            if s < 0:
                a, b = -b, -a
            J_lo, J_hi = J_lo + a, J_hi + b
        mag = np.maximum(np.abs(J_lo), np.abs(J_hi)).reshape(B, -1).max(axis=1)
        upper = mag * (1.0 + 4 * _EPS * len(self.terms))  # the sums of the terms' bounds, rounded up
        scale = np.where(hi > lo, hi - lo, 1.0)
        sens = pull / scale + 1e-9  # score = width x sens: the share of unstable neurons each input drives
        return upper, sens, stable

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        """``-max |J_kj|`` at points interior to a linear region of every network, else ``+inf``."""
        if X.shape[0] == 0:
            return np.zeros((0, 1))
        J, zmin = _jacobian_diff(self.terms, X)
        value = np.where(zmin > self.margin, -np.abs(J).reshape(X.shape[0], -1).max(axis=1), np.inf)
        return value[:, None]


def search_gradient(terms: Terms, lo: np.ndarray, hi: np.ndarray, *, budget: Budget, rng: np.random.Generator,
                    tol: float, norm: str, initial: tuple[float, np.ndarray] | None = None) -> DistanceResult:
    """Anytime bounds on ``ess sup max_{k,j} |J_kj|`` of ``f - g`` over the box ``[lo, hi]``
    (``initial``: a known realized ``(value, point)``). ``exact`` when the gap closes to
    ``tol`` (relative); ``upper`` is certified (``certified_upper`` equals it)."""
    bounder = JacobianBounder(terms, lo, hi, budget)
    init = None if initial is None or initial[1] is None else (-initial[0], initial[1])
    out = minimize_max(bounder, lo, hi, budget=budget, rng=rng, gap_rel=0.5 * tol, initial=init, n_random=1)
    upper = max(-out.lower, 0.0)
    if out.witness is None or not math.isfinite(out.upper):
        return DistanceResult(0.0, upper, None, False, "time_limit", budget.elapsed(), "search", norm, None, 0,
                              upper)
    J, _ = _jacobian_diff(terms, out.witness[None, :])
    A = np.abs(J[0])
    k, j = np.unravel_index(int(np.argmax(A)), A.shape)
    lower = float(A[k, j])
    upper = max(upper, lower)
    exact = out.status in ("gap", "exhausted") and upper - lower <= tol * max(1.0, upper)
    status = "optimal" if exact else "time_limit"
    return DistanceResult(lower, upper, out.witness, exact, status, budget.elapsed(), "search", norm,
                          (int(k), int(j)), 0, upper)
