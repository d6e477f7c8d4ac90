"""Distances by listing linear regions (:mod:`reluscope.regions`) instead of solving MILPs:
exact in low input dimension, where the regions are few. Raises
:class:`~reluscope.SolverError` beyond ``max_regions`` regions or the budget; the callers
then fall back to the MILPs (``method="auto"``) or to a sampled lower bound."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from .._budget import Budget
from ..bounds import affine_range
from ..errors import SolverError
from ..network import ReLUNetwork
from ..regions import affine_pieces, arrangement_vertices, refine
from . import rounding
from .control import _tol_gap
from .pointwise import Terms, _all_patterns_jacobian_bound, _jacobian_diff, _values
from .results import DistanceResult
from .scaling import CERTIFIED_MARGIN, RISK_STATUS

__all__: list[str] = []

# "auto" lists linear regions instead of solving MILPs up to these input dimensions; in
# 4-D the MILPs were faster on every instance measured (BENCHMARKS.md, "## distance")
_AUTO_ENUMERATE_SUP_DIM = 3
_AUTO_ENUMERATE_GRADIENT_DIM = 3
# the enumeration's gradient bound covers the regions realized with this margin (the default
# ``region_margin`` of sobolev_distance) once the certified pattern margin is below it
_CERTIFIED_MARGIN = CERTIFIED_MARGIN


def _enumeration_share(method: str, d: int, auto_max_dim: int) -> float:
    """Fraction of the time limit for listing linear regions: all of it for
    ``method="enumerate"``, half for ``"auto"`` up to ``auto_max_dim`` input dimensions (the
    MILP takes over if the regions are too many), else 0 (no enumeration)."""
    if method == "enumerate":
        return 1.0
    return 0.5 if method == "auto" and d <= auto_max_dim else 0.0


def _limit_status(exc: SolverError) -> str:
    """The status of a result whose enumeration stopped with ``exc``."""
    return "time_limit" if "time" in str(exc) else "region_limit"


def _cell_output_bounds(net: ReLUNetwork, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of ``net``'s outputs on the convex hull of the points ``V``: the first layer's
    pre-activations are affine, so their extremes are at the points (exact); interval
    arithmetic from there on."""
    Z = V @ net.weights[0].T + net.biases[0]
    zl, zh = Z.min(axis=0), Z.max(axis=0)
    for W, b in zip(net.weights[1:], net.biases[1:]):
        zl, zh = affine_range(W, b, np.maximum(zl, 0.0), np.maximum(zh, 0.0))
    return zl, zh


def _arrangement_shift(W: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float | None:
    """For :func:`~reluscope.regions.arrangement_vertices`: a bound ``rho`` such that every
    true vertex of the arrangement inside the box has a computed vertex within ``rho``
    (max norm), or ``None`` when that cannot be guaranteed (a pair of lines that may or
    may not be parallel, or whose computed intersection lies just outside the box's slack
    while the true one may lie inside). Cramer's rule error bound: docs/background/rounding-errors.md,
    Lemma 4."""
    keep = np.abs(W).sum(axis=1) > 0
    A = np.vstack([W[keep], [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]])
    c = np.concatenate([b[keep], [-lo[0], -hi[0], -lo[1], -hi[1]]])
    i, j = np.triu_indices(len(A), k=1)
    with np.errstate(all="ignore"):
        det = A[i, 0] * A[j, 1] - A[i, 1] * A[j, 0]
        sin = np.abs(det) / (np.linalg.norm(A[i], axis=1) * np.linalg.norm(A[j], axis=1))
        g2 = rounding.gamma(2)
        unsure = sin <= 8 * g2
        for a, bb in zip(i[unsure], j[unsure]):  # parallel in exact arithmetic, or not?
            if Fraction(A[a, 0]) * Fraction(A[bb, 1]) != Fraction(A[a, 1]) * Fraction(A[bb, 0]):
                return None
        i, j, det, sin = i[~unsure], j[~unsure], det[~unsure], sin[~unsure]
        P = np.column_stack([(-c[i] * A[j, 1] + c[j] * A[i, 1]) / det, (-A[i, 0] * c[j] + A[j, 0] * c[i]) / det])
        rate = rounding._SAFETY * (3 * g2 / (sin - 4 * g2) + 2 * rounding.UNIT_ROUNDOFF)
        if np.any(~np.isfinite(P)) or np.any(rate >= 0.5):
            return None
        err = rate * np.linalg.norm(P, axis=1) / (1.0 - rate)
        outside = np.max(np.maximum(lo - P, P - hi), axis=1)  # max-norm distance to the box
    slack = 1e-9 * np.maximum(1.0, np.abs(hi - lo))  # arrangement_vertices keeps points this close
    kept = np.all((P >= lo - slack) & (P <= hi + slack), axis=1)
    if np.any(~kept & (outside <= err)):
        return None  # dropped, but the true intersection may lie in the box
    return float(np.max(err[kept], initial=0.0))


def _enumerated_sup(terms: Terms, lo: np.ndarray, hi: np.ndarray, clock: Budget, budget: Budget,
                    tol: float, mip_gap: float, max_regions: int) -> DistanceResult:
    """Exact sup distance by listing the common linear regions (:mod:`reluscope.regions`):
    the maximum of ``|f - g|`` on each convex region is attained at a vertex. The regions of
    ``f`` are listed first; one whose bound (``f`` at its corners against bounds of ``g`` on
    it) cannot beat the best value so far is not cut by ``g`` (branch and bound). ``lower``
    is the real networks' best vertex value; ``upper`` adds a rigorous bound on everything
    floating point can have changed (:mod:`reluscope.distance.rounding`): the evaluation at
    the vertices, each cell's straddling neurons, and in the plane the cells' cover gap.
    When that bound alone keeps the gap open, the status is ``"numerical_risk"``."""
    geom_tol = 1e-12
    gap = max(tol, 2 * mip_gap)
    radius = np.maximum(np.abs(lo), np.abs(hi))
    evaluation = rounding.evaluation_error(terms, 2.0 * radius)
    lip = rounding.lipschitz_inf(terms)

    def result(lower: float, upper: float, witness: np.ndarray, comp: int, rounded: float) -> DistanceResult:
        upper = max(upper, lower)
        exact = math.isfinite(upper) and _tol_gap(lower, upper, gap)
        return DistanceResult(lower, upper, witness, exact, _status(exact, lower, upper, rounded, gap),
                              clock.elapsed(), "enumerate", "sup", (comp,), 0)

    if lo.size == 2 and all(net.depth == 2 for net, _ in terms):
        # one hidden layer: the kinks are straight lines, and the regions' vertices are among
        # their pairwise intersections (a vectorized shortcut; ill-conditioned -> cells)
        W = np.vstack([net.weights[0] for net, _ in terms])
        b = np.concatenate([net.biases[0] for net, _ in terms])
        try:
            V = arrangement_vertices(W, b, lo, hi)
            shift = _arrangement_shift(W, b, lo, hi)
        except SolverError:
            V = None
        if V is not None and shift is not None:
            D = np.abs(_values(terms, V))
            i, kk = np.unravel_index(int(np.argmax(D)), D.shape)
            lower = float(D[i, kk])
            rounded = evaluation + lip * shift
            return result(lower, lower + rounded, V[i].copy(), int(kk), rounded)
    delta = rounding.cover_gap(terms, float(np.max(radius)), lo.size)
    f_net, g_net = terms[0][0], terms[1][0]
    f_pieces = affine_pieces([f_net], lo, hi, tol=geom_tol, max_cells=max_regions, budget=budget)
    # best value so far: the real |f - g| at the corners of f's regions
    V0 = np.vstack([p.vertices for p in f_pieces])
    starts0 = _starts(f_pieces)
    F0 = f_net(V0)
    D0 = np.abs(F0 - g_net(V0))
    i0, k0 = np.unravel_index(int(np.argmax(D0)), D0.shape)
    lower, witness, comp = float(D0[i0, k0]), V0[i0].copy(), int(k0)
    # per region of f, a bound on |f - g| from f's values at the corners (f is affine on the
    # region up to its certified error) and interval bounds of g on the region's bounding box;
    # regions that cannot beat the best value are not cut by g (branch and bound; the bound
    # is valid, so the maximum is unchanged)
    f_err = rounding.certify_cells(terms[:1], V0, starts0).error
    f_hi, f_lo = np.maximum.reduceat(F0, starts0, axis=0), np.minimum.reduceat(F0, starts0, axis=0)
    bounds = np.empty(len(f_pieces))
    for n, p in enumerate(f_pieces):
        gl, gh = _cell_output_bounds(g_net, p.vertices)
        bounds[n] = max(float(np.max(f_hi[n] - gl)), float(np.max(gh - f_lo[n]))) + 2 * f_err[n]
    rounded = 2 * evaluation + lip * delta  # what every region's bound may still miss
    piece_max = lower
    n_cells = 0
    for n in np.argsort(-bounds):
        if bounds[n] + rounded <= lower:
            break  # sorted: no later region can beat the best value either
        parts = refine(f_pieces[n], g_net, tol=geom_tol, max_cells=max_regions - n_cells, budget=budget)
        n_cells += len(parts)
        V = np.vstack([q.vertices for q in parts])
        starts = _starts(parts)
        D = np.abs(_values(terms, V))  # the real networks at every vertex
        i, kk = np.unravel_index(int(np.argmax(D)), D.shape)
        if D[i, kk] > lower:
            lower, witness, comp = float(D[i, kk]), V[i].copy(), int(kk)
        # on each part, F is within the certified error of an affine map: its maximum is
        # at most the largest vertex value plus twice that error
        part_err = rounding.certify_cells(terms, V, starts).error
        piece_max = max(piece_max, float(np.max(np.maximum.reduceat(D.max(axis=1), starts) + 2 * part_err)))
        if budget.expired():
            raise SolverError("region enumeration ran out of time")
    return result(lower, piece_max + rounded, witness, comp, rounded)


def _status(exact: bool, lower: float, upper: float, rounded: float, gap: float) -> str:
    """``"optimal"``, or ``"numerical_risk"`` when the rounding-error bound ``rounded`` (part
    of ``upper``) is what keeps the interval from closing."""
    if exact:
        return "optimal"
    if not math.isfinite(rounded) or _tol_gap(lower, upper - rounded, gap):
        return RISK_STATUS
    return "optimal"


def _starts(pieces: list) -> np.ndarray:
    """Index of each piece's first vertex in the stacked vertex array."""
    sizes = np.array([len(p.vertices) for p in pieces])
    return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)


def _enumerated_gradient(terms: Terms, lo: np.ndarray, hi: np.ndarray, clock: Budget, budget: Budget,
                         tol: float, mip_gap: float, max_regions: int, norm: str) -> DistanceResult:
    """Gradient part in one or two dimensions from the listed linear regions.

    Each cell gets a certified activation pattern (:func:`rounding.certify_cells`): on the
    cell, every forced neuron's pre-activation is within ``kappa`` of its side of 0, so any
    point of a region realized with margin ``m > kappa + (cover gap) * (pre-activation
    slope)`` lies in a cell whose pattern is its own. ``upper`` is the largest entry of the
    cells' pattern Jacobians plus their rounding error: a bound on the gradient over the
    regions realized with margin ``1e-6`` or more (docs/background/rounding-errors.md);
    when the certified margin is above that, the status is ``"numerical_risk"``. ``lower``
    is the largest Jacobian entry of the real networks at a cell's centroid where every
    (non-constant) pre-activation is farther from 0 than its rounding error (a gradient on
    an open set)."""
    pieces = affine_pieces([net for net, _ in terms], lo, hi, tol=1e-12, max_cells=max_regions,
                           budget=budget)
    V = np.vstack([p.vertices for p in pieces])
    cert = rounding.certify_cells(terms, V, _starts(pieces))
    J = rounding.pattern_jacobians(terms, cert)  # (P, k, d)
    K = rounding.operation_count(terms)
    all_patterns = _all_patterns_jacobian_bound(terms)
    jac_err = rounding._SAFETY * rounding.gamma(K) * all_patterns  # rounding of the products
    radius = np.max(np.abs(V), axis=0)
    slope_gap = rounding.hidden_lipschitz(terms) * rounding.cover_gap(terms, float(np.max(radius)), lo.size)
    # a cell where some non-constant neuron stays within (rounding + carried error) of 0
    # contains no point of a region realized with a margin above that: not counted
    starts = _starts(pieces)
    relevant = rounding.pattern_margins(terms, V, (starts, cert)) + 2 * cert.pre_error >= _CERTIFIED_MARGIN - slope_gap
    margin = float(np.max(cert.kappa[relevant], initial=0.0)) + slope_gap
    upper = float(np.abs(J[relevant]).max(initial=0.0)) + jac_err
    centroids = np.array([p.vertices.mean(axis=0) for p in pieces])
    Jr, _ = _jacobian_diff(terms, centroids)
    A = np.where((rounding.pattern_margins(terms, centroids) > 0)[:, None, None], np.abs(Jr), -np.inf)
    i, kk, j = np.unravel_index(int(np.argmax(A)), A.shape)
    lower = float(A[i, kk, j])
    witness = centroids[i].copy() if math.isfinite(lower) else None
    lower = max(lower, 0.0) if math.isfinite(lower) else 0.0
    upper = max(upper, lower)
    gap = max(tol, 2 * mip_gap)
    exact = math.isfinite(upper) and _tol_gap(lower, upper, gap) and margin <= _CERTIFIED_MARGIN
    status = _status(exact, lower, upper, jac_err, gap)
    if not exact and not (margin <= _CERTIFIED_MARGIN):
        status = RISK_STATUS  # rounding may hide a region realized with the default margin
    cert_upper = max(upper, all_patterns * (1.0 + rounding._SAFETY * rounding.gamma(K)))
    return DistanceResult(lower, upper, witness, exact, status, clock.elapsed(),
                          "enumerate", norm, (int(kk), int(j)), 0, cert_upper, certified_margin=margin)
