"""Big-M encoding of a ReLU network in a :class:`~reluscope.milp.builder.MILPBuilder`.

* :func:`encode_network` -- variables for the input, pre-activations, post-activations
  and one binary per neuron of unknown sign (neurons whose sign the bounds fix get no
  binary), big-M constants from valid pre-activation bounds;
* :func:`encode_jacobian_column` -- one column of the Jacobian of the linear region the
  binaries select (used for Lipschitz and Sobolev distances);
* :func:`pad_bounds` -- the outward rounding that keeps a big-M valid in floating point.

Big-M encoding of ``a = relu(z)`` with ``lo <= z <= hi`` and ``lo < 0 < hi``, binary ``δ``::

    a >= z,   a >= 0,   a <= z - lo (1 - δ),   a <= hi δ.

With ``δ`` relaxed to ``[0, 1]`` these four inequalities describe exactly the triangle
relaxation (the convex hull of the graph of ``relu`` on ``[lo, hi]``), which is what the
LP bounds of :mod:`reluscope.milp.bounds` optimize over.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import SolverError
from ..network import ReLUNetwork
from .builder import MILPBuilder

__all__ = ["EncodedNetwork", "encode_network", "encode_jacobian_column", "pad_bounds"]

# relative padding applied to bounds used as big-M constants (floating-point safety)
_PAD = 1e-9


def pad_bounds(lo: np.ndarray, hi: np.ndarray, pad: float = _PAD) -> tuple[np.ndarray, np.ndarray]:
    """Widen ``[lo, hi]`` by ``pad * (1 + |.|)`` so that rounding never makes a big-M invalid."""
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    return lo - pad * (1.0 + np.abs(lo)), hi + pad * (1.0 + np.abs(hi))


@dataclass
class EncodedNetwork:
    """Variable indices of a network encoded in a :class:`MILPBuilder`.

    ``pre[l]`` / ``post[l]`` are the pre-/post-activation variables of affine layer ``l+1``
    (``post`` only for hidden layers); ``delta[l]`` holds the binary variable of each hidden
    neuron, ``-1`` for neurons whose sign the bounds fix (no binary needed);
    ``active[l]`` / ``inactive[l]`` mark those stable neurons.
    """

    x: np.ndarray
    pre: list[np.ndarray]
    post: list[np.ndarray]
    delta: list[np.ndarray]
    active: list[np.ndarray]
    inactive: list[np.ndarray]
    bounds: list[tuple[np.ndarray, np.ndarray]]

    @property
    def output(self) -> np.ndarray:
        return self.pre[-1]

    @property
    def n_binaries(self) -> int:
        return int(sum(int((d >= 0).sum()) for d in self.delta))


def _as_pairs(bounds: Sequence) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(lo, hi)`` float arrays from :class:`~reluscope.milp.bounds.LayerBounds` (which
    unpack as ``lo, hi``) or from pairs."""
    return [(np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)) for lo, hi in bounds]


def encode_network(builder: MILPBuilder, net: ReLUNetwork, x: np.ndarray,
                   bounds: Sequence, *, n_layers: int | None = None, margin: float = 0.0,
                   pad: float = _PAD) -> EncodedNetwork:
    """Encode ``net`` on the input variables ``x`` with big-M constants from ``bounds``.

    Parameters
    ----------
    builder:
        The model to add variables and rows to.
    net:
        The network.
    x:
        Indices of the ``d`` input variables (already in ``builder``, bounded by the domain).
    bounds:
        Valid pre-activation bounds for at least the first ``n_layers`` layers
        (:class:`LayerBounds` or ``(lo, hi)`` pairs), e.g. from :func:`preactivation_bounds`.
    n_layers:
        Encode only the first ``n_layers`` affine layers (default: all). The last encoded
        layer's pre-activations are then available in ``pre[-1]``; its ReLU is not encoded
        unless it is followed by another encoded layer.
    margin:
        With ``margin > 0``, every hidden neuron of unknown sign satisfies
        ``z >= margin`` when its binary is 1 and ``z <= -margin`` when it is 0, so that each
        feasible activation pattern is realized on an open set (used for exact gradients).
    pad:
        Relative widening of the bounds used as big-M (floating-point safety).
    """
    L = net.depth if n_layers is None else int(n_layers)
    pairs = _as_pairs(bounds)
    if len(pairs) < L:
        raise SolverError(f"encode_network needs bounds for {L} layers; got {len(pairs)}")
    pre, post, delta, act, inact, used = [], [], [], [], [], []
    prev = np.asarray(x)
    for layer in range(L):
        W, b = net.weights[layer], net.biases[layer]
        lo, hi = pad_bounds(*pairs[layer], pad=pad)
        used.append((lo, hi))
        n = W.shape[0]
        z = builder.add_vars(n, lo, hi)
        # z - W prev = b
        builder.add_rows([(z, np.eye(n)), (prev, -W)], b, b)
        pre.append(z)
        if layer == L - 1:  # the output layer, or the last layer asked for: no ReLU
            break
        a_hi = np.maximum(hi, 0.0)
        a = builder.add_vars(n, 0.0, a_hi)
        orig_lo, orig_hi = pairs[layer]
        inactive = orig_hi <= 0.0
        active = (orig_lo >= 0.0) & ~inactive
        unstable = ~(active | inactive)
        d_idx = np.full(n, -1, dtype=np.int64)
        if inactive.any():
            builder.set_var_bounds(a[inactive], lb=0.0, ub=0.0)
        if active.any():
            ia = np.nonzero(active)[0]
            builder.add_diag_rows([(a[ia], 1.0), (z[ia], -1.0)], 0.0, 0.0)
        if unstable.any():
            iu = np.nonzero(unstable)[0]
            dl = builder.add_binaries(len(iu))
            d_idx[iu] = dl
            lu, hu = lo[iu], hi[iu]
            au, zu = a[iu], z[iu]
            # a - z >= 0
            builder.add_diag_rows([(au, 1.0), (zu, -1.0)], 0.0, np.inf)
            # a - z - lo*δ <= -lo
            builder.add_diag_rows([(au, 1.0), (zu, -1.0), (dl, -lu)], -np.inf, -lu)
            # a - hi*δ <= 0
            builder.add_diag_rows([(au, 1.0), (dl, -hu)], -np.inf, 0.0)
            if margin > 0.0:
                # z - (margin - lo) δ >= lo   (δ = 1 => z >= margin)
                builder.add_diag_rows([(zu, 1.0), (dl, -(margin - lu))], lu, np.inf)
                # z - (hi + margin) δ <= -margin   (δ = 0 => z <= -margin)
                builder.add_diag_rows([(zu, 1.0), (dl, -(hu + margin))], -np.inf, -margin)
        post.append(a)
        delta.append(d_idx)
        act.append(active)
        inact.append(inactive)
        prev = a
    return EncodedNetwork(np.asarray(x), pre, post, delta, act, inact, used)


def encode_jacobian_column(builder: MILPBuilder, net: ReLUNetwork, enc: EncodedNetwork,
                           j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encode the partial derivatives ``∂ net / ∂ x_j`` (one column of the Jacobian) of the
    linear region selected by the activation binaries of ``enc``.

    Propagation: ``u_1 = A_1[:, j]``, ``v_l = δ_l ⊙ u_l``, ``u_{l+1} = A_{l+1} v_l``, the
    column being ``A_L v_{L-1}``. Each product ``v = δ u`` of a binary and a continuous
    ``u ∈ [p, q]`` (bounds by interval arithmetic) is linearized exactly by
    ``p δ <= v <= q δ``, ``u - q (1 - δ) <= v <= u - p (1 - δ)``. Neurons of fixed sign
    give ``v = u`` (active) or ``v = 0`` (inactive) without binaries.

    Returns
    -------
    (idx, lo, hi)
        Indices of the ``k`` variables holding the column of the output Jacobian and
        interval bounds on them.
    """
    L = net.depth
    W1 = net.weights[0]
    u_const: np.ndarray | None = W1[:, j].copy()
    u_idx: np.ndarray | None = None
    p = q = u_const
    v_idx = None
    for layer in range(L - 1):
        n = net.widths[layer + 1]
        active, inactive, dl = enc.active[layer], enc.inactive[layer], enc.delta[layer]
        unstable = dl >= 0
        vlo = np.where(inactive, 0.0, np.where(active, p, np.minimum(p, 0.0)))
        vhi = np.where(inactive, 0.0, np.where(active, q, np.maximum(q, 0.0)))
        vlo, vhi = pad_bounds(vlo, vhi)
        vlo = np.where(inactive, 0.0, vlo)
        vhi = np.where(inactive, 0.0, vhi)
        v = builder.add_vars(n, vlo, vhi)
        ia = np.nonzero(active)[0]
        iu = np.nonzero(unstable)[0]
        if u_const is not None:
            if ia.size:
                builder.set_var_bounds(v[ia], lb=u_const[ia], ub=u_const[ia])
            if iu.size:
                # v = c δ
                builder.add_diag_rows([(v[iu], 1.0), (dl[iu], -u_const[iu])], 0.0, 0.0)
        else:
            if ia.size:
                builder.add_diag_rows([(v[ia], 1.0), (u_idx[ia], -1.0)], 0.0, 0.0)
            if iu.size:
                pu, qu = pad_bounds(p[iu], q[iu])
                vu, uu, du = v[iu], u_idx[iu], dl[iu]
                builder.add_diag_rows([(vu, 1.0), (du, -qu)], -np.inf, 0.0)        # v <= q δ
                builder.add_diag_rows([(vu, 1.0), (du, -pu)], 0.0, np.inf)         # v >= p δ
                builder.add_diag_rows([(vu, 1.0), (uu, -1.0), (du, -pu)], -np.inf, -pu)  # v <= u - p(1-δ)
                builder.add_diag_rows([(vu, 1.0), (uu, -1.0), (du, -qu)], -qu, np.inf)   # v >= u - q(1-δ)
        # next layer
        W = net.weights[layer + 1]
        Wp, Wn = np.maximum(W, 0.0), np.minimum(W, 0.0)
        vlo_t = np.where(inactive, 0.0, np.where(active, p, np.minimum(p, 0.0)))
        vhi_t = np.where(inactive, 0.0, np.where(active, q, np.maximum(q, 0.0)))
        p = Wp @ vlo_t + Wn @ vhi_t
        q = Wp @ vhi_t + Wn @ vlo_t
        plo, qhi = pad_bounds(p, q)
        u_idx = builder.add_vars(W.shape[0], plo, qhi)
        builder.add_rows([(u_idx, np.eye(W.shape[0])), (v, -W)], 0.0, 0.0)
        u_const = None
        v_idx = v
    if L == 1:
        out = builder.add_vars(net.output_dim, u_const, u_const)
        return out, u_const.copy(), u_const.copy()
    return u_idx, p, q
