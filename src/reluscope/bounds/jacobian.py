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

__all__ = ["JacobianBounds", "jacobian_bounds", "activation_derivative_bounds"]


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
                    bounds: LayerwiseBounds | None = None) -> JacobianBounds:
    """Entry-wise bounds on the Jacobian of ``net`` over a box.

    ``bounds`` are pre-activation bounds to use (default: :func:`layer_bounds` with the
    linear tier); tighter ones give tighter Jacobian bounds.
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
    return JacobianBounds(np.array(Rl, dtype=float), np.array(Rh, dtype=float))
