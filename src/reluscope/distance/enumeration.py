"""Distances by listing linear regions (:mod:`reluscope.regions`) instead of solving MILPs:
exact in low input dimension, where the regions are few. Raises
:class:`~reluscope.SolverError` beyond ``max_regions`` regions or the budget; the callers
then fall back to the MILPs (``method="auto"``) or to a sampled lower bound."""

from __future__ import annotations

import math

import numpy as np

from .._budget import Budget
from ..bounds import affine_range
from ..errors import SolverError
from ..network import ReLUNetwork
from ..regions import affine_pieces, arrangement_vertices, refine
from .control import _tol_gap
from .pointwise import Terms, _all_patterns_jacobian_bound, _jacobian_diff, _values
from .results import DistanceResult

__all__: list[str] = []

# "auto" lists linear regions instead of solving MILPs up to these input dimensions; in
# 4-D the MILPs were faster on every instance measured (BENCHMARKS.md, "## distance")
_AUTO_ENUMERATE_SUP_DIM = 3
_AUTO_ENUMERATE_GRADIENT_DIM = 3


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


def _enumerated_sup(terms: Terms, lo: np.ndarray, hi: np.ndarray, clock: Budget, budget: Budget,
                    tol: float, mip_gap: float, max_regions: int) -> DistanceResult:
    """Exact sup distance by listing the common linear regions (:mod:`reluscope.regions`):
    the maximum of ``|f - g|`` on each convex region is attained at a vertex. The regions of
    ``f`` are listed first; one whose bound (``f``'s affine form at its corners against
    bounds of ``g`` on it) cannot beat the best value so far is not cut by ``g`` (branch and
    bound). ``lower`` is the real networks' best vertex value; ``upper`` adds the geometric
    tolerance propagated through the layers (neurons within ``geom_tol`` of zero on a whole
    region are not cut along, so their branch is off by at most ``geom_tol``)."""
    geom_tol = 1e-12
    if lo.size == 2 and all(net.depth == 2 for net, _ in terms):
        # one hidden layer: the kinks are straight lines, and the regions' vertices are among
        # their pairwise intersections (a vectorized shortcut; ill-conditioned -> cells)
        try:
            W = np.vstack([net.weights[0] for net, _ in terms])
            b = np.concatenate([net.biases[0] for net, _ in terms])
            V = arrangement_vertices(W, b, lo, hi)
        except SolverError:
            V = None
        if V is not None:
            D = _values(terms, V)
            flat = np.abs(D)
            i, kk = np.unravel_index(int(np.argmax(flat)), flat.shape)
            lower = float(flat[i, kk])
            # each computed vertex is within ~1e-12 (relative) of a true one
            slack = 1e-11 * _all_patterns_jacobian_bound(terms) * float(np.max(np.maximum(np.abs(lo), np.abs(hi))) + 1.0)
            upper = lower + slack + 1e-12 * (1.0 + lower)
            return DistanceResult(lower, upper, V[i].copy(), _tol_gap(lower, upper, max(tol, 2 * mip_gap)),
                                  "optimal", clock.elapsed(), "enumerate", "sup", (int(kk),), 0)
    slack = 0.0
    for net, _ in terms:
        norms = [float(np.abs(W).sum(axis=1).max()) for W in net.weights]
        # a branch error of geom_tol in hidden layer l is amplified by the later layers
        slack += geom_tol * sum(float(np.prod(norms[layer + 1:])) for layer in range(net.depth - 1))
    f_net, g_net = terms[0][0], terms[1][0]
    f_pieces = affine_pieces([f_net], lo, hi, tol=geom_tol, max_cells=max_regions, budget=budget)
    # best value so far: the real |f - g| at the corners of f's regions
    V0 = np.vstack([p.vertices for p in f_pieces])
    D0 = np.abs(_values(terms, V0))
    i0, k0 = np.unravel_index(int(np.argmax(D0)), D0.shape)
    lower, witness, comp = float(D0[i0, k0]), V0[i0].copy(), int(k0)
    # per region of f, a bound on |f - g| from f's affine form at the corners and interval
    # bounds of g on the region's bounding box; regions that cannot beat the best value
    # are not cut by g (branch and bound; the bound is valid, so the maximum is unchanged)
    bounds = np.empty(len(f_pieces))
    for n, p in enumerate(f_pieces):
        fv = p.vertices @ p.maps[0][0].T + p.maps[0][1]
        gl, gh = _cell_output_bounds(g_net, p.vertices)
        bounds[n] = max(float(np.max(fv.max(axis=0) - gl)), float(np.max(gh - fv.min(axis=0))))
    piece_max = lower
    n_cells = 0
    for n in np.argsort(-bounds):
        if bounds[n] + slack <= lower:
            break  # sorted: no later region can beat the best value either
        parts = refine(f_pieces[n], g_net, tol=geom_tol, max_cells=max_regions - n_cells, budget=budget)
        n_cells += len(parts)
        V = np.vstack([q.vertices for q in parts])
        D = np.abs(_values(terms, V))  # the real networks at every vertex
        i, kk = np.unravel_index(int(np.argmax(D)), D.shape)
        if D[i, kk] > lower:
            lower, witness, comp = float(D[i, kk]), V[i].copy(), int(kk)
        # affine forms on the regions: their vertex maxima bound the function on each region
        owner = np.repeat(np.arange(len(parts)), [len(q.vertices) for q in parts])
        J = np.stack([q.maps[0][0] - q.maps[1][0] for q in parts])  # (P, k, d)
        c = np.stack([q.maps[0][1] - q.maps[1][1] for q in parts])  # (P, k)
        piece_max = max(piece_max, float(np.abs(np.einsum("nkd,nd->nk", J[owner], V) + c[owner]).max()))
        if budget.expired():
            raise SolverError("region enumeration ran out of time")
    upper = max(piece_max, lower) + slack + 1e-12 * (1.0 + abs(piece_max))
    exact = _tol_gap(lower, upper, max(tol, 2 * mip_gap))
    return DistanceResult(lower, upper, witness, exact, "optimal", clock.elapsed(),
                          "enumerate", "sup", (comp,), 0)


def _enumerated_gradient(terms: Terms, lo: np.ndarray, hi: np.ndarray, clock: Budget, budget: Budget,
                         tol: float, mip_gap: float, max_regions: int, norm: str) -> DistanceResult:
    """Gradient part in one or two dimensions from the listed linear regions.

    ``upper`` is the largest Jacobian entry of the regions' affine forms: at any point where
    every hidden pre-activation has ``|z| > 1e-12`` the real pattern is the region's (see
    docs/background/distances.md), so this bounds the gradient on every region realized with
    a margin. ``lower`` is the largest Jacobian entry realized by the real networks at a
    region's centroid with all pre-activations nonzero (a gradient on an open set)."""
    pieces = affine_pieces([net for net, _ in terms], lo, hi, tol=1e-12, max_cells=max_regions,
                           budget=budget)
    J = sum(s * np.stack([p.maps[t][0] for p in pieces]) for t, (_, s) in enumerate(terms))  # (P, k, d)
    upper = float(np.abs(J).max())
    centroids = np.array([p.vertices.mean(axis=0) for p in pieces])
    Jr, zmin = _jacobian_diff(terms, centroids)
    A = np.where((zmin > 0)[:, None, None], np.abs(Jr), -np.inf)
    i, kk, j = np.unravel_index(int(np.argmax(A)), A.shape)
    lower = float(A[i, kk, j])
    witness = centroids[i].copy() if math.isfinite(lower) else None
    lower = max(lower, 0.0) if math.isfinite(lower) else 0.0
    upper = max(upper, lower)
    exact = _tol_gap(lower, upper, max(tol, 2 * mip_gap))
    cert = max(upper, _all_patterns_jacobian_bound(terms))
    return DistanceResult(lower, upper, witness, exact, "optimal", clock.elapsed(),
                          "enumerate", norm, (int(kk), int(j)), 0, cert)
