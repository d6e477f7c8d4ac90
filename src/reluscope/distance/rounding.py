"""Rigorous floating-point error bounds for the region enumeration of
:mod:`reluscope.distance.enumeration` (proofs: docs/background/rounding-errors.md).

The enumeration's answer is a maximum over the vertices of convex cells on which each
network is affine. Three things separate the floating-point computation from that exact
statement, and each is bounded here from the quantities the computation actually met:

* the evaluation of the networks at a vertex (standard forward-error bound of a dot
  product, ``gamma_n (|W| |h| + |b|)``, propagated through the layers);
* a cell on which a neuron's computed pre-activation takes both signs by a little
  (rounding, or the enumeration's own tolerance): its *straddle* ``tau`` (the smaller of
  the positive and negative excursions over the cell's vertices) bounds how far the
  network is from one affine map on the cell;
* the cells' computed vertices are interpolated points, so in the plane the cells cover
  the box up to a distance ``delta`` (zero on a line).

Nothing here looks at how large the weights are except through these bounds: a network
with weights ``1e6`` on ``[-1, 1]`` gets an error bound of about ``1e-10``, not a warning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..network import ReLUNetwork
from .pointwise import Terms

__all__: list[str] = []

#: unit roundoff of IEEE double precision (round to nearest)
UNIT_ROUNDOFF = 2.0 ** -53
#: nonnegative bounds computed in floating point are within a relative ``gamma_K`` of their
#: exact value; every bound is multiplied by this factor to stay above it (docs, Lemma 0)
_SAFETY = 2.0
#: absolute error of one operation that underflows (gradual underflow: half the smallest
#: subnormal) -- added once per operation counted in ``gamma``
_UNDERFLOW = 2.0 ** -1075


def gamma(n: int) -> float:
    """Higham's ``gamma_n = n u / (1 - n u)`` (``inf`` when ``n u >= 1``)."""
    nu = n * UNIT_ROUNDOFF
    return nu / (1.0 - nu) if nu < 1.0 else math.inf


def operation_count(terms: Terms) -> int:
    """``K``: an upper bound on the number of roundings along any path of a forward
    evaluation (or of the composed affine maps) of any of the networks, plus the final
    subtraction ``f - g`` and the input's dot product of the composed maps."""
    d = terms[0][0].input_dim
    return max(sum(w + 1 for w in net.widths[:-1]) for net, _ in terms) + d + 3


def magnitudes(net: ReLUNetwork, radius: np.ndarray) -> list[np.ndarray]:
    """``M_l = |W_l| M_{l-1} + |b_l|`` with ``M_0 = radius``: ``|z_l(x)| <= M_l`` for every
    ``|x| <= radius`` (entrywise), for every layer including the output, and for every
    activation pattern forced on the hidden layers. Rounded up (``_SAFETY``)."""
    out = []
    M = np.asarray(radius, dtype=float)
    with np.errstate(all="ignore"):
        for W, b in zip(net.weights, net.biases):
            M = (np.abs(W) @ M + np.abs(b)) * (1.0 + 4 * gamma(W.shape[1] + 1))
            out.append(M)
    return out


def evaluation_error(terms: Terms, radius: np.ndarray) -> float:
    """Bound on ``|fl(f(x) - g(x)) - (f(x) - g(x))|`` (every output) for every point with
    ``|x| <= radius``, however the dot products are summed (Lemma 1)."""
    g = gamma(operation_count(terms))
    with np.errstate(all="ignore"):
        total = sum(magnitudes(net, radius)[-1] for net, _ in terms)
        value = _SAFETY * (g * float(np.max(total)) + operation_count(terms) * _UNDERFLOW)
    return value if math.isfinite(value) else math.inf


def lipschitz_inf(terms: Terms) -> float:
    """``max_k sum_j sum_nets (|W_L| ... |W_1|)_{kj}``: ``|F_k(x) - F_k(y)| <= this * ||x - y||_inf``
    for every output of ``F = f - g`` (every activation pattern's Jacobian is bounded
    entrywise by the product of the absolute matrices)."""
    total = 0.0
    with np.errstate(all="ignore"):
        for net, _ in terms:
            P = np.abs(net.weights[0])
            for W in net.weights[1:]:
                P = np.abs(W) @ P
            total = total + P.sum(axis=1)
        value = _SAFETY * float(np.max(total))
    return value if math.isfinite(value) else math.inf


def cover_gap(terms: Terms, radius: float, d: int) -> float:
    """``delta``: every point of the box lies within this ``max``-norm distance of one of the
    computed cells (Lemma 3): 0 on a line; in the plane each cut moves the interpolated
    vertices by at most ``4 gamma_2 R'`` (``R' = 2 radius`` bounds every coordinate met),
    and a cell is cut at most once per hidden neuron of each network."""
    if d <= 1:
        return 0.0
    cuts = sum(sum(net.widths[1:-1]) for net, _ in terms)
    return _SAFETY * cuts * 4 * gamma(2) * 2.0 * radius


@dataclass(frozen=True)
class CellCertificate:
    """Per cell (``P`` cells): ``error[C]`` bounds ``|F(x) - A_C(x)|`` on the convex hull of the
    cell's vertices for an affine map ``A_C`` (the network with the pattern ``active``
    forced); ``kappa[C]`` bounds how far a neuron's real pre-activation may be on the wrong
    side of 0 (for its forced pattern) on the cell (Lemmas 2 and 5). ``active[t][l]`` is a ``(P, n_l)`` boolean array
    for network ``t`` and hidden layer ``l``."""

    error: np.ndarray
    kappa: np.ndarray
    active: tuple[tuple[np.ndarray, ...], ...]
    #: per cell: the largest ``rounding + carried`` error of a hidden pre-activation
    pre_error: np.ndarray | None = None


def certify_cells(terms: Terms, V: np.ndarray, starts: np.ndarray) -> CellCertificate:
    """Certify the cells whose vertices are ``V[starts[C]:starts[C+1]]`` (consecutive blocks)
    from the networks' computed pre-activations at the vertices (Lemma 2)."""
    radius = np.max(np.abs(V), axis=0)
    K = operation_count(terms)
    gK = gamma(K)
    P = len(starts)
    error = np.zeros(P)
    kappa = np.zeros(P)
    pre_error = np.zeros(P)
    patterns = []
    with np.errstate(all="ignore"):
        for net, _ in terms:
            Z = net.preactivations(V)
            M = magnitudes(net, radius)
            delta = np.zeros((P, net.input_dim))
            acts = []
            for layer in range(net.depth - 1):
                A = np.abs(net.weights[layer])
                hi = np.maximum.reduceat(Z[layer], starts, axis=0)
                lo = np.minimum.reduceat(Z[layer], starts, axis=0)
                pos, neg = np.maximum(hi, 0.0), np.maximum(-lo, 0.0)
                active = pos >= neg
                tau = np.minimum(pos, neg)  # the cell's straddle of this neuron
                eps = _SAFETY * (gK * M[layer] + K * _UNDERFLOW)  # rounding of the computed z
                carried = _SAFETY * (delta @ A.T)
                # a forced side holds up to tau + eps + carried (Lemma 2); the real value differs
                # from the forced network's by carried more (Lemma 5 needs both)
                kappa = np.maximum(kappa, np.max(tau + eps + 2.0 * carried, axis=1))
                pre_error = np.maximum(pre_error, np.max(eps + carried, axis=1))
                delta = 2.0 * carried + tau + eps
                acts.append(active)
            error = error + _SAFETY * np.max(delta @ np.abs(net.weights[-1]).T, axis=1)
            patterns.append(tuple(acts))
    error = np.where(np.isfinite(error), error, np.inf)
    kappa = np.where(np.isfinite(kappa), kappa, np.inf)
    pre_error = np.where(np.isfinite(pre_error), pre_error, np.inf)
    return CellCertificate(error, kappa, tuple(patterns), pre_error)


def pattern_jacobians(terms: Terms, cert: CellCertificate) -> np.ndarray:
    """``(P, k, d)``: the Jacobian of ``F = f - g`` on each cell with the certified patterns
    forced (``W_L D_{L-1} ... D_1 W_1`` per network, multiplied from the output)."""
    out = None
    for (net, s), acts in zip(terms, cert.active):
        P = acts[0].shape[0] if acts else len(cert.error)
        G = np.broadcast_to(net.weights[-1], (P, *net.weights[-1].shape))
        for W, act in zip(reversed(net.weights[:-1]), reversed(acts)):
            G = np.matmul(G * act[:, None, :], W)
        out = s * G if out is None else out + s * G
    return out


def hidden_lipschitz(terms: Terms) -> float:
    """``max_j ||row_j(|W_l| ... |W_1|)||_1`` over the hidden neurons of every network: each
    pre-activation moves by at most this times ``||x - y||_inf`` under any fixed pattern."""
    best = 0.0
    with np.errstate(all="ignore"):
        for net, _ in terms:
            P = None
            for W in net.weights[:-1]:
                P = np.abs(W) if P is None else np.abs(W) @ P
                best = max(best, float(np.max(P.sum(axis=1))))
    return _SAFETY * best if math.isfinite(best) else math.inf


def pattern_margins(terms: Terms, V: np.ndarray, cells: tuple[np.ndarray, CellCertificate] | None = None) -> np.ndarray:
    """Per point of ``V``, or per cell (``cells = (starts, certificate)``: consecutive vertex
    blocks of ``V`` and their certified patterns): the smallest, over the hidden neurons that
    are not constant, of ``max |computed z| - (its rounding error)``.

    At a point (pattern: the computed one there), a positive value proves the computed
    pattern is the real one for every non-constant neuron, so the computed Jacobian is the
    real one on an open set (docs, Lemma 5). On a cell (pattern: the certified one,
    "constant" meaning a zero gradient row under it), no point of the cell has every such
    neuron at ``|z|`` above this value plus twice the cell's ``pre_error``."""
    radius = np.max(np.abs(V), axis=0)
    K = operation_count(terms)
    gK = gamma(K)
    starts = None if cells is None else cells[0]
    n = len(V) if starts is None else len(starts)
    out = np.full(n, np.inf)
    with np.errstate(all="ignore"):
        for t, (net, _) in enumerate(terms):
            Z = net.preactivations(V)
            M = magnitudes(net, radius)
            U = None  # gradients of the pre-activations under the pattern (per point or cell)
            for layer in range(net.depth - 1):
                W = net.weights[layer]
                U = np.broadcast_to(W, (n, *W.shape)) if U is None else np.matmul(W, U)
                flat = ~np.any(U != 0, axis=2)
                size = np.abs(Z[layer])
                if starts is None:
                    act = Z[layer] > 0
                else:
                    size = np.maximum.reduceat(size, starts, axis=0)
                    act = cells[1].active[t][layer]
                eps = _SAFETY * (gK * M[layer] + K * _UNDERFLOW)
                out = np.minimum(out, np.where(flat, np.inf, size - eps).min(axis=1, initial=np.inf))
                U = U * act[:, :, None]
    return out
