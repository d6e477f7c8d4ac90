"""Bounds on the difference ``f - g`` of two networks over a box.

Two sound routes, intersected:

* **joint**: ``f - g`` is itself a ReLU network (the two stacked side by side, the output
  layer subtracting), so the linear tier of :func:`~reluscope.bounds.layers.layer_bounds`
  bounds it and sees that both networks read the same input;
* **differential** (ReluDiff-style, for pairs whose hidden layers correspond neuron by
  neuron, such as a network and its pruned or fine-tuned copy): the difference of the two
  pre-activations ``Δz_l = z^f_l - z^g_l`` is propagated layer by layer as an interval,
  ``Δz_{l+1} = A^f_{l+1} Δa_l + (A^f_{l+1} - A^g_{l+1}) a^g_l + (b^f - b^g)``, with the exact
  range of ``Δa = relu(z^g + Δz) - relu(z^g)`` over the boxes of ``z^g`` and ``Δz``. When
  ``g`` is a close copy of ``f`` the difference intervals stay narrow where the separate
  bounds of ``f`` and ``g`` are wide.

Proofs in ``docs/background/bounds.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._results import ResultMixin
from .._validation import check_choice, check_pair
from ..domain import Box
from ..network import ReLUNetwork
from .layers import ROUNDING_PAD, affine_range, _box, layer_bounds, relu_relaxation

__all__ = ["DifferenceBounds", "difference_bounds", "joint_difference_network", "relu_difference_range"]


@dataclass(frozen=True)
class DifferenceBounds(ResultMixin):
    """Entry-wise bounds ``lower <= f(x) - g(x) <= upper`` over the box (one per output)."""

    lower: np.ndarray
    upper: np.ndarray
    method: str

    @property
    def sup_upper(self) -> float:
        """Upper bound on ``sup_x max_i |f_i(x) - g_i(x)|`` over the box."""
        return float(np.max(np.maximum(np.abs(self.lower), np.abs(self.upper))))

    def __str__(self) -> str:
        return f"f - g in [{self.lower.min():.6g}, {self.upper.max():.6g}] ({self.method}); sup |f - g| <= {self.sup_upper:.6g}"


def _deepen(net: ReLUNetwork, depth: int) -> ReLUNetwork:
    """The same function with ``depth`` affine layers: extra layers carry ``z`` as
    ``relu(z) - relu(-z)``."""
    if depth == net.depth:
        return net
    W, b = list(net.weights), list(net.biases)
    A, c = W.pop(), b.pop()
    k = A.shape[0]
    eye = np.eye(k)
    W.append(np.vstack([A, -A]))
    b.append(np.concatenate([c, -c]))
    for _ in range(depth - net.depth - 1):
        W.append(np.block([[eye, -eye], [-eye, eye]]))
        b.append(np.zeros(2 * k))
    W.append(np.hstack([eye, -eye]))
    b.append(np.zeros(k))
    return ReLUNetwork(W, b)


def joint_difference_network(f: ReLUNetwork, g: ReLUNetwork) -> ReLUNetwork:
    """The ReLU network computing ``f - g`` (hidden layers stacked, outputs subtracted)."""
    check_pair(f, g)
    depth = max(f.depth, g.depth)
    f, g = _deepen(f, depth), _deepen(g, depth)
    W, b = [], []
    for layer in range(depth):
        Wf, Wg = f.weights[layer], g.weights[layer]
        if depth == 1:
            W.append(Wf - Wg)
        elif layer == 0:
            W.append(np.vstack([Wf, Wg]))
        elif layer == depth - 1:
            W.append(np.hstack([Wf, -Wg]))
        else:
            W.append(np.block([[Wf, np.zeros((Wf.shape[0], Wg.shape[1]))],
                               [np.zeros((Wg.shape[0], Wf.shape[1])), Wg]]))
        if layer == depth - 1:
            b.append(f.biases[layer] - g.biases[layer])
        else:
            b.append(np.concatenate([f.biases[layer], g.biases[layer]]))
    return ReLUNetwork(W, b)


def relu_difference_range(g_lo: np.ndarray, g_hi: np.ndarray, d_lo: np.ndarray, d_hi: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Exact range of ``relu(z + d) - relu(z)`` over ``z ∈ [g_lo, g_hi]``, ``d ∈ [d_lo, d_hi]``.

    The expression is nondecreasing in ``d``; for fixed ``d >= 0`` it is nondecreasing in
    ``z`` and for ``d < 0`` nonincreasing. So the minimum is at ``d = d_lo`` (with ``z =
    g_lo`` if ``d_lo >= 0``, else ``z = g_hi``) and the maximum at ``d = d_hi`` (``z = g_hi``
    if ``d_hi >= 0``, else ``z = g_lo``).
    """
    relu = lambda v: np.maximum(v, 0.0)  # noqa: E731
    z_min = np.where(d_lo >= 0.0, g_lo, g_hi)
    z_max = np.where(d_hi >= 0.0, g_hi, g_lo)
    return relu(z_min + d_lo) - relu(z_min), relu(z_max + d_hi) - relu(z_max)


def _difference_relaxation(dl: np.ndarray, dh: np.ndarray, gl: np.ndarray, gh: np.ndarray,
                           fl: np.ndarray, fh: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Linear bounds ``sl Δz + tl <= Δa <= su Δz + tu`` for ``Δa = relu(z^f) - relu(z^g)``.

    Both neurons active: ``Δa = Δz``; both inactive: ``Δa = 0``. Otherwise each side is the
    better (smaller mean over ``[dl, dh]``) of the constant from :func:`relu_difference_range`
    (fenced by the separate bounds) and the chord of ``max(0, Δz)`` above / ``min(0, Δz)``
    below, valid because ``min(0, Δz) <= Δa <= max(0, Δz)``.
    """
    r_lo, r_hi = relu_difference_range(gl, gh, dl, dh)
    r_lo = np.maximum(r_lo, np.maximum(fl, 0.0) - np.maximum(gh, 0.0))
    r_hi = np.minimum(r_hi, np.maximum(fh, 0.0) - np.maximum(gl, 0.0))
    width = np.where(dh > dl, dh - dl, 1.0)
    # chord of max(0, d): d when dl >= 0, 0 when dh <= 0, else through (dl, 0) and (dh, dh)
    cu_s = np.where(dl >= 0.0, 1.0, np.where(dh <= 0.0, 0.0, dh / width))
    cu_t = np.where((dl < 0.0) & (dh > 0.0), -cu_s * dl, 0.0)
    # chord of min(0, d): d when dh <= 0, 0 when dl >= 0, else through (dl, dl) and (dh, 0)
    cl_s = np.where(dh <= 0.0, 1.0, np.where(dl >= 0.0, 0.0, -dl / width))
    cl_t = np.where((dl < 0.0) & (dh > 0.0), -cl_s * dh, 0.0)
    use_chord_u = cu_s * 0.5 * (dl + dh) + cu_t < r_hi
    use_chord_l = cl_s * 0.5 * (dl + dh) + cl_t > r_lo
    su, tu = np.where(use_chord_u, cu_s, 0.0), np.where(use_chord_u, cu_t, r_hi)
    sl, tl = np.where(use_chord_l, cl_s, 0.0), np.where(use_chord_l, cl_t, r_lo)
    both_active = (fl >= 0.0) & (gl >= 0.0)
    both_inactive = (fh <= 0.0) & (gh <= 0.0)
    for exact_s, mask in ((1.0, both_active), (0.0, both_inactive)):
        su, tu = np.where(mask, exact_s, su), np.where(mask, 0.0, tu)
        sl, tl = np.where(mask, exact_s, sl), np.where(mask, 0.0, tl)
    return sl, tl, su, tu


def _symbolic_difference(f: ReLUNetwork, g: ReLUNetwork, layer: int, lo_x: np.ndarray, hi_x: np.ndarray,
                         diff_relax: list, g_relax: list) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on ``Δz_layer`` by back-substituting the difference relaxations (on ``Δa``)
    and the ReLU relaxations of ``g`` (on ``a^g``) down to the input."""
    Wf, Wg, bf, bg = f.weights, g.weights, f.biases, g.biases
    out = []
    for sign in (-1.0, 1.0):
        LD = Wf[layer].copy()
        LG = Wf[layer] - Wg[layer]
        c = bf[layer] - bg[layer]
        mag = np.abs(c).copy()
        for k in range(layer - 1, -1, -1):
            sl, tl, su, tu = diff_relax[k]
            up = sign * LD > 0.0
            icpt = np.where(up, tu[None, :], tl[None, :])
            c = c + np.sum(LD * icpt, axis=1)
            mag = mag + np.sum(np.abs(LD * icpt), axis=1)
            LD = LD * np.where(up, su[None, :], sl[None, :])
            gs_l, gs_u, gt_u = g_relax[k]
            upg = sign * LG > 0.0
            c = c + np.where(upg, LG, 0.0) @ gt_u
            mag = mag + np.abs(np.where(upg, LG, 0.0)) @ np.abs(gt_u)
            LG = LG * np.where(upg, gs_u[None, :], gs_l[None, :])
            db = bf[k] - bg[k]
            c = c + LD @ db + LG @ bg[k]
            mag = mag + np.abs(LD) @ np.abs(db) + np.abs(LG) @ np.abs(bg[k])
            LD, LG = (LD @ Wf[k] if k else None), LD @ (Wf[k] - Wg[k]) + LG @ Wg[k]
        Lp, Ln = np.maximum(LG, 0.0), np.minimum(LG, 0.0)
        val = c + (Lp @ hi_x + Ln @ lo_x if sign > 0 else Lp @ lo_x + Ln @ hi_x)
        mag = mag + np.abs(LG) @ np.maximum(np.abs(lo_x), np.abs(hi_x))
        out.append(val + sign * ROUNDING_PAD * (1.0 + mag))
    return out[0], out[1]


def _differential(f: ReLUNetwork, g: ReLUNetwork, lo_x: np.ndarray, hi_x: np.ndarray, tier: str
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on ``f - g`` by propagating ``Δz`` layer by layer (same widths required):
    the interval step and (``tier="linear"``) the symbolic back-substitution, intersected
    per layer."""
    bf = layer_bounds(f, Box(lo_x, hi_x), method=tier)
    bg = layer_bounds(g, Box(lo_x, hi_x), method=tier)
    Wf, Wg = f.weights, g.weights
    dz_lo, dz_hi = affine_range(Wf[0] - Wg[0], f.biases[0] - g.biases[0], lo_x, hi_x)
    diff_relax: list = []
    g_relax: list = []
    for layer in range(1, f.depth):
        gl, gh = bg.lower[layer - 1], bg.upper[layer - 1]
        fl, fh = bf.lower[layer - 1], bf.upper[layer - 1]
        # Δz is also fenced by the separate bounds: z^f - z^g ∈ [fl - gh, fh - gl]
        dz_lo, dz_hi = np.maximum(dz_lo, fl - gh), np.minimum(dz_hi, fh - gl)
        diff_relax.append(_difference_relaxation(dz_lo, dz_hi, gl, gh, fl, fh))
        g_relax.append(relu_relaxation(gl, gh))
        da_lo, da_hi = relu_difference_range(gl, gh, dz_lo, dz_hi)
        # ... and Δa by relu(z^f) - relu(z^g)
        da_lo = np.maximum(da_lo, np.maximum(fl, 0.0) - np.maximum(gh, 0.0))
        da_hi = np.minimum(da_hi, np.maximum(fh, 0.0) - np.maximum(gl, 0.0))
        ag_lo, ag_hi = np.maximum(gl, 0.0), np.maximum(gh, 0.0)
        p_lo, p_hi = affine_range(Wf[layer], np.zeros(Wf[layer].shape[0]), da_lo, da_hi)
        q_lo, q_hi = affine_range(Wf[layer] - Wg[layer], f.biases[layer] - g.biases[layer], ag_lo, ag_hi)
        dz_lo, dz_hi = p_lo + q_lo, p_hi + q_hi
        mag = np.maximum(np.abs(dz_lo), np.abs(dz_hi))
        dz_lo, dz_hi = dz_lo - ROUNDING_PAD * mag, dz_hi + ROUNDING_PAD * mag
        if tier == "linear":
            s_lo, s_hi = _symbolic_difference(f, g, layer, lo_x, hi_x, diff_relax, g_relax)
            dz_lo, dz_hi = np.maximum(dz_lo, s_lo), np.minimum(dz_hi, s_hi)
    fo, go = bf.output, bg.output
    return np.maximum(dz_lo, fo[0] - go[1]), np.minimum(dz_hi, fo[1] - go[0])


def _close_copy(f: ReLUNetwork, g: ReLUNetwork) -> bool | None:
    """``None``: different widths (no neuron correspondence); ``True``: same widths and every
    layer of ``g`` within half of ``f``'s Frobenius norm of it (a pruned, perturbed or
    fine-tuned copy, where the differential route alone is much tighter than the joint
    network, 25x on a pruned 784-300-100-10 copy); ``False``: same widths, far apart."""
    if f.widths != g.widths:
        return None
    return all(np.linalg.norm(Wf - Wg) <= 0.5 * np.linalg.norm(Wf) for Wf, Wg in zip(f.weights, g.weights))


def difference_bounds(f: ReLUNetwork, g: ReLUNetwork, domain: Box | str | None = None, *,
                      tier: str = "linear") -> DifferenceBounds:
    """Bounds on ``f(x) - g(x)`` for every ``x`` in a box.

    Networks of different widths go through the joint network. Networks of the same widths
    take the differential route (their neurons are taken to correspond); when they are not
    a close copy of each other (some layer differs by more than half its norm) the joint
    network's bounds are intersected in too. ``method`` says which routes ran. ``tier="interval"`` is the cheap tier
    (interval arithmetic only, several times faster), ``"linear"`` adds the
    back-substitution steps.
    """
    check_pair(f, g)
    check_choice(tier, ("interval", "linear"), "tier")
    lo_x, hi_x = _box(f, domain)
    close = _close_copy(f, g)
    if close is None:
        lower, upper = layer_bounds(joint_difference_network(f, g), Box(lo_x, hi_x), method=tier).output
        method = f"joint ({tier})"
    else:
        lower, upper = _differential(f, g, lo_x, hi_x, tier)
        method = f"differential ({tier})"
        if not close:  # corresponding shapes but far apart: the joint network may be tighter
            jl, jh = layer_bounds(joint_difference_network(f, g), Box(lo_x, hi_x), method=tier).output
            lower, upper = np.maximum(lower, jl), np.minimum(upper, jh)
            method = f"joint+differential ({tier})"
    return DifferenceBounds(lower, upper, method)
