"""Evaluation of ``f - g`` (or of one network, ``g = None``) at points: values, Jacobians
with the margin of the point to the nearest kink, the affine form of a linear region, and
the exact answer on a finite point set."""

from __future__ import annotations

import numpy as np

from ..domain import PointSet
from ..network import ReLUNetwork
from .results import DistanceResult

__all__: list[str] = []

#: ``[(net, sign), ...]``: the function ``sum_t sign_t net_t`` (``f - g``, or ``f`` alone)
Terms = list[tuple[ReLUNetwork, float]]


def _terms(f: ReLUNetwork, g: ReLUNetwork | None) -> Terms:
    return [(f, 1.0)] if g is None else [(f, 1.0), (g, -1.0)]


def _values(terms: Terms, X: np.ndarray) -> np.ndarray:
    out = None
    for net, s in terms:
        y = s * net(X)
        out = y if out is None else out + y
    return out


def _jacobians(net: ReLUNetwork, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Jacobians ``(n, k, d)`` at the points ``X`` (ReLU'(0) = 0) and, per point, the
    smallest absolute pre-activation of the hidden neurons that are not locally constant
    (``inf`` when there is none).

    The Jacobian ``W_L D_{L-1} W_{L-1} ... D_1 W_1`` is multiplied out from the output
    backwards (``k`` rows per layer instead of ``d`` columns: for wide inputs and few
    outputs this is what makes sampled gradients affordable). A neuron is locally constant
    (no kink through the point) when its pre-activation has zero gradient; that is tested
    on its derivatives along two fixed random directions, which both vanish exactly when
    the gradient does (almost surely)."""
    n, d = X.shape
    H, U = X, None
    V = np.random.default_rng(0).standard_normal((d, 2))
    zmin = np.full(n, np.inf)
    masks = []
    for W, b in list(net.layers())[:-1]:
        Z = H @ W.T + b
        U = np.broadcast_to(W @ V, (n, W.shape[0], 2)) if U is None else np.matmul(W, U)
        flat = ~np.any(U != 0, axis=2)
        zmin = np.minimum(zmin, np.where(flat, np.inf, np.abs(Z)).min(axis=1))
        act = Z > 0
        masks.append(act)
        U = U * act[:, :, None]
        H = np.maximum(Z, 0.0)
    WL = net.weights[-1]
    G = np.broadcast_to(WL, (n, *WL.shape))
    k = WL.shape[0]
    for W, act in zip(reversed(net.weights[:-1]), reversed(masks)):
        G = ((G * act[:, None, :]).reshape(n * k, -1) @ W).reshape(n, k, W.shape[1])
    return np.ascontiguousarray(G), zmin


def _jacobian_diff(terms: Terms, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out, zmin = None, np.full(X.shape[0], np.inf)
    for net, s in terms:
        J, zm = _jacobians(net, X)
        out = s * J if out is None else out + s * J
        zmin = np.minimum(zmin, zm)
    return out, zmin


def _region_affine(net: ReLUNetwork, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """On the linear region of ``x``: every hidden pre-activation as an affine map
    ``A x + c`` (stacked over layers) and the sign pattern ``s`` (+1 active, -1 not)."""
    d = net.input_dim
    J, c = np.eye(d), np.zeros(d)
    h = x
    As, cs, ss = [], [], []
    last = net.depth - 1
    for i, (W, b) in enumerate(net.layers()):
        J = W @ J
        c = W @ c + b
        z = W @ h + b
        if i < last:
            act = z > 0
            As.append(J.copy())
            cs.append(c.copy())
            ss.append(np.where(act, 1.0, -1.0))
            J = J * act[:, None]
            c = c * act
            h = np.maximum(z, 0.0)
    if not As:
        return np.zeros((0, d)), np.zeros(0), np.zeros(0)
    return np.vstack(As), np.concatenate(cs), np.concatenate(ss)


def _points_result(terms: Terms, dom: PointSet, seconds: float, norm: str) -> DistanceResult:
    """The exact maximum over the finite point set ``dom`` (gradients with ReLU'(0) = 0)."""
    X = dom.points
    if norm == "sup":
        D = np.abs(_values(terms, X))
        i, kk = np.unravel_index(int(np.argmax(D)), D.shape)
        val, comp = float(D[i, kk]), (int(kk),)
    else:
        J, _ = _jacobian_diff(terms, X)
        A = np.abs(J)
        i, kk, j = np.unravel_index(int(np.argmax(A)), A.shape)
        val, comp = float(A[i, kk, j]), (int(kk), int(j))
    return DistanceResult(val, val, X[i].copy(), True, "points", seconds, "points",
                          norm, comp, 0)


def _all_patterns_jacobian_bound(terms: Terms) -> float:
    """``max_{k,j} sum_nets (|W_L| ... |W_1|)_{kj}``: bounds every entry of ``J_f - J_g`` for
    every activation pattern (each pattern's Jacobian is ``W_L D ... D W_1`` with 0/1
    diagonals ``D``, bounded entrywise by the product of the absolute matrices)."""
    total = 0.0
    for net, _ in terms:
        P = np.abs(net.weights[0])
        for W in net.weights[1:]:
            P = np.abs(W) @ P
        total = total + P
    return float(np.max(total))
