"""Bounds on the entries of a network's Jacobian over a box, and the Lipschitz upper bound
they give.

On every linear region the Jacobian is ``A_L D_{L-1} A_{L-1} ... D_1 A_1`` with ``D_l`` the
0/1 diagonal of active neurons. Where the pre-activation bounds fix a neuron's sign its
entry is known; otherwise it lies in ``[0, 1]``. Interval matrix arithmetic over that
product bounds every entry of every Jacobian the network takes on the box (proof in
``docs/background/bounds.md``). The product is evaluated from the output side (a ``k x N``
interval matrix) or the input side (``N x d``), whichever is smaller.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._results import ResultMixin
from ..domain import Box
from ..network import ReLUNetwork
from .layers import ROUNDING_PAD, LayerwiseBounds, layer_bounds

#: the linear Jacobian bound works on coefficient arrays of at most about this many entries
_LINEAR_ENTRIES = 2 ** 20

__all__ = ["JacobianBounds", "jacobian_bounds", "batch_jacobian_bounds", "activation_derivative_bounds"]


@dataclass(frozen=True)
class JacobianBounds(ResultMixin):
    """Entry-wise bounds ``lower <= J(x) <= upper`` (shape ``(k, d)``) valid at every point
    of the box where the network is differentiable (ReLU'(0) = 0 elsewhere)."""

    lower: np.ndarray
    upper: np.ndarray

    @property
    def max_abs(self) -> float:
        """Upper bound on the largest absolute Jacobian entry over the box: the Lipschitz
        constant for the operator norm from ℓ1 to ℓ∞ that :func:`reluscope.lipschitz_constant` uses."""
        return float(np.max(np.maximum(np.abs(self.lower), np.abs(self.upper)), initial=0.0))

    def __str__(self) -> str:
        return f"Jacobian entries in [{self.lower.min():.6g}, {self.upper.max():.6g}]; max |entry| <= {self.max_abs:.6g}"


def activation_derivative_bounds(bounds: LayerwiseBounds) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per hidden layer, bounds ``[d_lo, d_hi] ⊆ [0, 1]`` on ReLU' of each neuron: 1 when the
    neuron is positive on the whole box, 0 when it is never positive, else ``[0, 1]``."""
    out = []
    for lo, hi in zip(bounds.lower[:-1], bounds.upper[:-1]):
        d_lo = (lo > 0.0).astype(float)
        d_hi = (hi > 0.0).astype(float)
        out.append((d_lo, d_hi))
    return out


def _scale_columns(Rl: np.ndarray, Rh: np.ndarray, d_lo: np.ndarray, d_hi: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Interval product of ``[Rl, Rh]`` with a diagonal ``[d_lo, d_hi]`` (``d >= 0``) on the right."""
    cands = (Rl * d_lo, Rl * d_hi, Rh * d_lo, Rh * d_hi)
    return np.minimum.reduce(cands), np.maximum.reduce(cands)


def _interval_matmul(Rl: np.ndarray, Rh: np.ndarray, W: np.ndarray, left: bool
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``[Rl, Rh] @ W`` (``left=False``) or ``W @ [Rl, Rh]`` (``left=True``), padded."""
    Wp, Wn = np.maximum(W, 0.0), np.minimum(W, 0.0)
    if left:
        lo, hi = Wp @ Rl + Wn @ Rh, Wp @ Rh + Wn @ Rl
        mag = np.abs(W) @ np.maximum(np.abs(Rl), np.abs(Rh))
    else:
        lo, hi = Rl @ Wp + Rh @ Wn, Rh @ Wp + Rl @ Wn
        mag = np.maximum(np.abs(Rl), np.abs(Rh)) @ np.abs(W)
    pad = ROUNDING_PAD * (1e-300 + mag)
    return lo - pad, hi + pad


def jacobian_bounds(net: ReLUNetwork, domain: Box | str | None = None, *,
                    bounds: LayerwiseBounds | None = None, linear: bool = False) -> JacobianBounds:
    """Entry-wise bounds on the Jacobian of ``net`` over a box.

    ``bounds`` are pre-activation bounds to use (default: :func:`layer_bounds` with the
    linear tier); tighter ones give tighter Jacobian bounds. ``linear``: also the
    back-substituted bound of :func:`batch_jacobian_bounds` (tighter for deep networks;
    about 0.5 s instead of milliseconds for a 784-300-100-10 network), intersected.
    """
    if bounds is None:
        bounds = layer_bounds(net, domain)
    derivs = activation_derivative_bounds(bounds)
    W = net.weights
    k, d = net.output_dim, net.input_dim
    if k <= d:  # from the output side: k x N_l interval matrices
        Rl = Rh = W[-1]
        for layer in range(net.depth - 2, -1, -1):
            Rl, Rh = _scale_columns(Rl, Rh, *derivs[layer])
            Rl, Rh = _interval_matmul(Rl, Rh, W[layer], left=False)
    else:  # from the input side: N_l x d
        Rl = Rh = W[0]
        for layer in range(1, net.depth):
            d_lo, d_hi = derivs[layer - 1]
            Rl, Rh = _scale_columns(Rl.T, Rh.T, d_lo, d_hi)
            Rl, Rh = Rl.T, Rh.T
            Rl, Rh = _interval_matmul(Rl, Rh, W[layer], left=True)
    Rl, Rh = np.array(Rl, dtype=float), np.array(Rh, dtype=float)
    if linear and net.depth > 2:
        Ll, Lh = batch_jacobian_bounds(net, [v[None] for v in bounds.lower], [v[None] for v in bounds.upper])
        Rl, Rh = np.maximum(Rl, Ll[0]), np.minimum(Rh, Lh[0])
    return JacobianBounds(Rl, Rh)


def batch_jacobian_bounds(net: ReLUNetwork, lows: list[np.ndarray], highs: list[np.ndarray], *,
                          linear: bool = True, intermediate: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Entry-wise Jacobian bounds on ``B`` boxes at once: ``lows[l]``, ``highs[l]`` ``(B, n_l)``
    are pre-activation bounds of the hidden layers on each box (extra entries, e.g. the output
    layer's, are ignored). Returns ``(lower, upper)`` of shape ``(B, k, d)``.

    Three valid bounds, intersected: the interval product of :func:`jacobian_bounds`
    evaluated from the output side and from the input side (interval products are not
    associative, so the two differ), and, with ``linear``, the back-substituted bound of
    :func:`_linear_jacobian_bounds` (a linear relaxation of each ``delta_i v_i`` term, as
    CROWN relaxes ``relu``; proof in ``docs/background/lipschitz-search.md``)."""
    B = lows[0].shape[0]
    derivs = [((lo > 0.0).astype(float), (hi > 0.0).astype(float))
              for lo, hi in zip(lows[:net.depth - 1], highs[:net.depth - 1])]
    Ol, Oh, _ = _batch_product(net.weights, derivs, B, from_output=True)
    Il, Ih, v_bounds = _batch_product(net.weights, derivs, B, from_output=False)
    lower, upper = np.maximum(Ol, Il), np.minimum(Oh, Ih)
    if linear and net.depth > 2:
        W = net.weights
        # tighten the hidden layers' v bounds the same way first (as CROWN's intermediate bounds)
        # (only the neurons whose activation is open on some box: a fixed neuron's slope
        # does not depend on its v bounds)
        for h in range(2, net.depth - 1 if intermediate else 2):
            idx = np.nonzero((derivs[h][1] > derivs[h][0]).any(axis=0))[0]
            if idx.size == 0:
                continue
            vl, vh = _linear_jacobian_bounds(list(W[:h]) + [W[h][idx]], derivs[:h], v_bounds[:h])
            lo_h, hi_h = v_bounds[h][0].copy(), v_bounds[h][1].copy()
            lo_h[:, idx] = np.maximum(lo_h[:, idx], vl)
            hi_h[:, idx] = np.minimum(hi_h[:, idx], vh)
            v_bounds[h] = (lo_h, hi_h)
        # input columns in chunks: the coefficient arrays are (B, 2k, columns, width)
        step = max(1, _LINEAR_ENTRIES // (B * 2 * net.output_dim * max(net.widths[1:-1])))
        for c0 in range(0, net.input_dim, step):
            cols = slice(c0, min(c0 + step, net.input_dim))
            Ll, Lh = _linear_jacobian_bounds([W[0][:, cols]] + list(W[1:]), derivs,
                                             [(a[:, :, cols], b[:, :, cols]) for a, b in v_bounds])
            lower[:, :, cols] = np.maximum(lower[:, :, cols], Ll)
            upper[:, :, cols] = np.minimum(upper[:, :, cols], Lh)
    return np.array(lower, dtype=float), np.array(upper, dtype=float)


def _batch_product(W: list[np.ndarray], derivs: list, B: int, from_output: bool) -> tuple:
    """The interval product ``W_L [D_{L-1}] ... [D_1] W_1`` for ``B`` boxes, evaluated from
    the output side (``(B, k, N_l)`` intermediates) or from the input side (``(B, N_l, d)``;
    then also the bounds of every hidden layer's ``v_l = d z_l / d x``, a list of pairs)."""
    depth = len(W)
    v_bounds = []
    if from_output:
        Rl = Rh = np.broadcast_to(W[-1], (B, *W[-1].shape))
        for layer in range(depth - 2, -1, -1):
            d_lo, d_hi = derivs[layer]
            Rl, Rh = _scale_columns(Rl, Rh, d_lo[:, None, :], d_hi[:, None, :])
            Rl, Rh = _interval_matmul(Rl, Rh, W[layer], left=False)
    else:
        Rl = Rh = np.broadcast_to(W[0], (B, *W[0].shape))
        for layer in range(1, depth):
            v_bounds.append((Rl, Rh))
            d_lo, d_hi = derivs[layer - 1]
            Rl, Rh = _scale_columns(Rl, Rh, d_lo[:, :, None], d_hi[:, :, None])
            Rl, Rh = _interval_matmul(Rl, Rh, W[layer], left=True)
    return Rl, Rh, v_bounds


def _linear_jacobian_bounds(W: list[np.ndarray], derivs: list, v_bounds: list) -> tuple[np.ndarray, np.ndarray]:
    """Bounds ``(B, k, d)`` of every Jacobian entry by back-substitution.

    Column ``j`` of the Jacobian is ``W_L (delta_{L-1} . v_{L-1})`` with ``v_1 = W_1 e_j`` and
    ``v_{l+1} = W_{l+1} (delta_l . v_l)``, ``delta_l`` the 0/1 activation of layer ``l``. For
    coefficients ``c`` on ``delta . v``, ``c_i delta_i v_i <= relu(c_i v_i)`` for every
    ``delta_i`` in ``[d_lo, d_hi]`` (``= c_i v_i`` for an active neuron, 0 for an inactive
    one), and ``relu(y) <= s (y - l)`` on ``[l, u]`` with ``s = u / (u - l)`` (the chord): a
    linear upper bound in ``v_i``, substituted into the layer below. Rows are ``+e_k`` and
    ``-e_k`` (upper and minus lower bounds). Rounding: every product's error is within
    ``ROUNDING_PAD`` times its magnitude, added up and padded."""
    B = derivs[0][0].shape[0]
    WL = W[-1]
    k, d = WL.shape[0], W[0].shape[1]
    lam = np.broadcast_to(np.concatenate([WL, -WL])[None, :, None, :], (B, 2 * k, d, WL.shape[1]))
    const = np.zeros((B, 2 * k, d))
    mag = np.zeros((B, 2 * k, d))
    for layer in range(len(W) - 2, -1, -1):
        d_lo, d_hi = derivs[layer]
        free = (d_hi > d_lo)[:, None, None, :]  # neurons whose slope delta is not fixed
        vl, vh = (np.swapaxes(v, 1, 2)[:, None, :, :] for v in v_bounds[layer])  # (B, 1, d, N)
        a, b = lam * vl, lam * vh
        yl, yh = np.minimum(a, b), np.maximum(a, b)
        # relu(y) <= s (y - min(l, 0)) with s the chord's slope clipped to [0, 1] (1 when l >= 0,
        # 0 when u <= 0); a fixed neuron's slope is its 0/1 activation
        width = yh - yl
        s = np.where(width > 0, yh / np.where(width > 0, width, 1.0), (yl >= 0).astype(float))
        np.clip(s, 0.0, 1.0, out=s)
        s = np.where(free, s, d_lo[:, None, None, :])
        shift = np.where(free, s * np.minimum(yl, 0.0), 0.0)  # <= 0: the chord's intercept
        const = const - shift.sum(axis=3)
        mag = mag - shift.sum(axis=3)
        lam = s * lam  # coefficients on v_layer
        if layer == 0:
            col = W[0].T[None, None, :, :]  # v_1 = W_1 e_j
            value = (lam * col).sum(axis=3)
            mag = mag + (np.abs(lam) * np.abs(col)).sum(axis=3)
        else:
            vmax = np.maximum(np.abs(v_bounds[layer - 1][0]), np.abs(v_bounds[layer - 1][1]))  # (B, N, d)
            vmax = np.swapaxes(vmax * derivs[layer - 1][1][:, :, None], 1, 2)[:, None, :, :]
            shape = lam.shape[:3] + (W[layer].shape[1],)
            flat = lam.reshape(-1, lam.shape[3])  # one large product, not B x rows small ones
            mag = mag + ((np.abs(flat) @ np.abs(W[layer])).reshape(shape) * vmax).sum(axis=3)
            lam = (flat @ W[layer]).reshape(shape)
    upper = value + const + ROUNDING_PAD * (mag + np.abs(const)) + 1e-300
    return -upper[:, k:], upper[:, :k]
