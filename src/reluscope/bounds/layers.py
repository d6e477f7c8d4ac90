"""Pre-activation bounds of every neuron over a box: interval arithmetic and linear bound
propagation (backward substitution of linear ReLU relaxations, CROWN/DeepPoly style).

Both tiers are vectorized NumPy float64 and *sound*: every returned interval contains the
pre-activation of the neuron at every point of the box (proof in
``docs/background/bounds.md``), padded outward to absorb floating-point rounding. The
linear tier is intersected with the interval tier layer by layer, so it is never looser.

Layer numbering follows :mod:`reluscope.milp`: one entry per affine layer, hidden layers
first and the output layer last (index ``l - 1`` for the ``l``-th affine map).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .._results import ResultMixin
from .._validation import check_choice, check_network
from ..domain import Box, as_domain
from ..errors import InvalidDomain
from ..network import ReLUNetwork
from .alpha import optimize_slopes

__all__ = ["LayerwiseBounds", "layer_bounds", "affine_range", "relu_relaxation", "ROUNDING_PAD"]

#: Relative outward padding applied to every computed bound. A float64 dot product of
#: ``n`` terms errs by at most ``n * 2^-53`` times the sum of absolute terms; with
#: ``n < 10^6`` that is below ``1.2e-10`` of that sum, which is what the pad is scaled by.
ROUNDING_PAD = 1e-9

Alpha = Literal["adaptive", "zero", "one", "best", "optimized"]


@dataclass(frozen=True)
class LayerwiseBounds(ResultMixin):
    """Outer bounds on the pre-activations of every affine layer over a box.

    ``lower[l]`` and ``upper[l]`` bound affine layer ``l + 1`` (the last entry is the
    output). ``method`` is ``"interval"`` or ``"linear"``.
    """

    lower: tuple[np.ndarray, ...]
    upper: tuple[np.ndarray, ...]
    method: str

    def pairs(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``[(lower, upper), ...]`` per affine layer."""
        return list(zip(self.lower, self.upper))

    @property
    def output(self) -> tuple[np.ndarray, np.ndarray]:
        """Bounds on the network's outputs."""
        return self.lower[-1], self.upper[-1]

    def unstable(self) -> list[np.ndarray]:
        """Per hidden layer, the neurons whose sign is not fixed on the box."""
        return [(lo < 0) & (hi > 0) for lo, hi in zip(self.lower[:-1], self.upper[:-1])]

    def n_unstable(self) -> int:
        return int(sum(u.sum() for u in self.unstable()))

    def __str__(self) -> str:
        lo, hi = self.output
        return (f"{self.method} bounds: {self.n_unstable()} unstable hidden neurons; "
                f"outputs in [{lo.min():.6g}, {hi.max():.6g}]")


def _box(net: ReLUNetwork, domain: Box | str | None) -> tuple[np.ndarray, np.ndarray]:
    dom = as_domain(domain, net.input_dim)
    if not isinstance(dom, Box):
        raise InvalidDomain("bounds need a Box domain; a point set is evaluated exactly instead")
    return dom.bounds(net.input_dim)


def _pad(value: np.ndarray, magnitude: np.ndarray, sign: float) -> np.ndarray:
    """Move ``value`` outward (``sign=-1``: down, ``+1``: up) by the rounding allowance."""
    return value + sign * ROUNDING_PAD * (1.0 + magnitude)


def affine_range(W: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray, *, pad: bool = True
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Range of ``W x + b`` over the box ``[lo, hi]``: exact up to floating-point rounding,
    moved outward by the rigorous dot-product error bound ``γ_{n+1} M`` (``M`` the sum of
    absolute terms; twice the unit roundoff per term, to be safe).

    ``pad=False`` gives the unpadded values: those of ``W v + b`` at the optimizing vertices
    ``v``, i.e. the *attained* extremes as the network itself would compute them.
    """
    Wp, Wn = np.maximum(W, 0.0), np.minimum(W, 0.0)
    zl = Wp @ lo + Wn @ hi + b
    zh = Wp @ hi + Wn @ lo + b
    if not pad:
        return zl, zh
    mag = np.abs(W) @ np.maximum(np.abs(lo), np.abs(hi)) + np.abs(b)
    pad = (W.shape[1] + 2) * np.finfo(float).eps * mag + np.finfo(float).tiny
    return zl - pad, zh + pad


def relu_relaxation(lo: np.ndarray, hi: np.ndarray, alpha: np.ndarray | str = "adaptive"
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear relaxation ``slope_l * z <= relu(z) <= slope_u * z + icpt_u`` on ``[lo, hi]``.

    Returns ``(slope_l, slope_u, icpt_u)`` per neuron. Stable neurons are exact (slopes 0
    or 1). An unstable neuron (``lo < 0 < hi``) gets the chord ``hi (z - lo) / (hi - lo)``
    above and ``alpha * z`` below with ``alpha`` in ``[0, 1]`` (``"adaptive"``: 1 when
    ``hi >= -lo``, else 0 — the choice of least area; an array gives the slopes).
    """
    active = lo >= 0.0
    unstable = (lo < 0.0) & (hi > 0.0)
    slope_u = active.astype(float)
    icpt_u = np.zeros_like(lo)
    width = np.where(unstable, hi - lo, 1.0)
    slope_u = np.where(unstable, hi / width, slope_u)
    icpt_u = np.where(unstable, -lo * hi / width, icpt_u)
    if isinstance(alpha, str):
        a = {"adaptive": (hi >= -lo).astype(float), "zero": np.zeros_like(lo),
             "one": np.ones_like(lo)}[alpha]
    else:
        a = np.clip(np.asarray(alpha, dtype=float), 0.0, 1.0)
    slope_l = np.where(unstable, a, active.astype(float))
    return slope_l, slope_u, icpt_u


def _back_substitute(net: ReLUNetwork, layer: int, lo_x: np.ndarray, hi_x: np.ndarray,
                     relax: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of affine layer ``layer`` (0-based, ``>= 1``) by substituting the linear
    relaxations of the hidden layers below it back to the input box."""
    W, b = net.weights, net.biases
    out = []
    for sign in (-1.0, 1.0):  # lower bound, then upper bound
        Lam = W[layer].copy()
        const = b[layer].copy()
        mag = np.abs(b[layer]).copy()
        for k in range(layer - 1, -1, -1):
            slope_l, slope_u, icpt_u = relax[k]
            # for an upper bound a positive coefficient takes the upper relaxation; for a
            # lower bound a negative one does (sign * Lam > 0 picks the upper side)
            upper_side = sign * Lam > 0.0
            const = const + np.where(upper_side, Lam, 0.0) @ icpt_u
            mag = mag + np.abs(np.where(upper_side, Lam, 0.0)) @ np.abs(icpt_u)
            # slope_l may be per output row (n_out, n_k): optimized slopes, one set per bound
            Lam = Lam * np.where(upper_side, slope_u[None, :], slope_l if slope_l.ndim == 2 else slope_l[None, :])
            const = const + Lam @ b[k]
            mag = mag + np.abs(Lam) @ np.abs(b[k])
            Lam = Lam @ W[k]
        Lp, Ln = np.maximum(Lam, 0.0), np.minimum(Lam, 0.0)
        if sign > 0:
            val = const + Lp @ hi_x + Ln @ lo_x
        else:
            val = const + Lp @ lo_x + Ln @ hi_x
        mag = mag + np.abs(Lam) @ np.maximum(np.abs(lo_x), np.abs(hi_x))
        out.append(_pad(val, mag, sign))
    return out[0], out[1]


def layer_bounds(net: ReLUNetwork, domain: Box | str | None = None, *,
                 method: Literal["interval", "linear"] = "linear",
                 alpha: Alpha = "adaptive") -> LayerwiseBounds:
    """Outer bounds on every neuron's pre-activation over a box.

    Parameters
    ----------
    net:
        The network.
    domain:
        A :class:`~reluscope.Box` (``None``: ``[-1, 1]^d``; a string is parsed).
    method:
        ``"interval"`` (interval arithmetic, the cheap tier) or ``"linear"`` (backward
        substitution of linear relaxations, intersected with the interval bounds).
    alpha:
        Lower slopes of the unstable neurons for ``"linear"``: ``"adaptive"`` (CROWN's
        least-area choice), ``"zero"``, ``"one"``, ``"best"`` (all three, keeping the
        tightest bound per neuron; each is sound, so their intersection is), or
        ``"optimized"`` (every layer after the first, in order: slopes chosen by a few
        projected gradient steps on that layer's own bounds, alpha-CROWN style, separately
        for its lower and upper bounds, with the layers below already optimized —
        :mod:`reluscope.bounds.alpha`; intersected with the adaptive tier; needs PyTorch).

    Returns
    -------
    LayerwiseBounds
        The first layer's bounds are exact up to the rounding pad.
    """
    check_network(net)
    check_choice(method, ("interval", "linear"), "method")
    check_choice(alpha, ("adaptive", "zero", "one", "best", "optimized"), "alpha")
    lo_x, hi_x = _box(net, domain)
    lows: list[np.ndarray] = []
    highs: list[np.ndarray] = []
    a_lo, a_hi = lo_x, hi_x
    alphas = ("adaptive", "zero", "one") if alpha == "best" else ("adaptive",) if alpha == "optimized" else (alpha,)
    # tighter bounds below can flip an adaptive slope, so the optimized tier also
    # intersects with the plain adaptive one: never looser than it
    ref = layer_bounds(net, domain, method="linear") if method == "linear" and alpha == "optimized" else None
    for layer, (W, b) in enumerate(net.layers()):
        zl, zh = affine_range(W, b, a_lo, a_hi)
        if method == "linear" and layer > 0:
            for a in alphas:
                relax_a = [relu_relaxation(lows[k], highs[k], a) for k in range(layer)]
                cl, ch = _back_substitute(net, layer, lo_x, hi_x, relax_a)
                zl, zh = np.maximum(zl, cl), np.minimum(zh, ch)
        if ref is not None and layer > 0:
            zl, zh = _optimized_layer(net, layer, lo_x, hi_x, lows, highs, zl, zh)
            zl, zh = np.maximum(zl, ref.lower[layer]), np.minimum(zh, ref.upper[layer])
        lows.append(zl)
        highs.append(zh)
        a_lo, a_hi = np.maximum(zl, 0.0), np.maximum(zh, 0.0)
    return LayerwiseBounds(tuple(lows), tuple(highs), method)


def _optimized_layer(net: ReLUNetwork, layer: int, lo_x: np.ndarray, hi_x: np.ndarray,
                     lows: list[np.ndarray], highs: list[np.ndarray], zl: np.ndarray, zh: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Affine layer ``layer``'s bounds with lower slopes optimized separately for its lower
    and upper bounds (on the bounds ``lows, highs`` of the layers below), recomputed here
    with the rounding pad and intersected with ``zl, zh``."""
    base = [relu_relaxation(lows[k], highs[k], "adaptive") for k in range(layer)]
    if not any(((lows[k] < 0) & (highs[k] > 0)).any() for k in range(layer)):
        return zl, zh  # no unstable neuron: nothing to optimize
    relax = [(sl, su, iu, (lows[k] < 0) & (highs[k] > 0)) for k, (sl, su, iu) in enumerate(base)]
    for sign in (-1.0, 1.0):
        slopes = optimize_slopes(list(net.weights), list(net.biases), layer, lo_x, hi_x, relax, sign)
        relax_s = [(np.where(relax[k][3][None, :], slopes[k], relax[k][0][None, :]), relax[k][1], relax[k][2])
                   for k in range(layer)]
        cl, ch = _back_substitute(net, layer, lo_x, hi_x, relax_s)
        if sign < 0:
            zl = np.maximum(zl, cl)
        else:
            zh = np.minimum(zh, ch)
    return zl, zh
