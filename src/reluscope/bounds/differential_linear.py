"""Symbolic differential bounds on ``f - g`` over many boxes at once (NeuroDiff-style).

For two networks whose hidden layers correspond neuron by neuron (the same widths: a
network and its float16, pruned or fine-tuned copy), the difference of corresponding
pre-activations ``Δz_l = z^f_l - z^g_l`` satisfies

    Δz_l = A^f_l Δa_{l-1} + (A^f_l - A^g_l) a^g_{l-1} + (b^f_l - b^g_l),
    Δa = relu(z^g + Δz) - relu(z^g),

so a linear lower and upper bound of ``Δa`` in terms of ``Δz`` (and ReLU relaxations of
``a^g`` in terms of ``z^g``) can be substituted backwards, layer by layer, down to the input
(the linear tier of :mod:`reluscope.bounds.layers` applied to the pair). The relaxation of
``Δa`` uses its *envelopes* over the ranges of ``z^g`` and ``z^f``:

    min(Δ - min(u_f, 0), max(ℓ_f, 0))  <=  Δa  <=  max(Δ + min(u_g, 0), -max(ℓ_g, 0)),

the right side convex and the left side concave in ``Δ``, so their chords over the range
``[δ_lo, δ_hi]`` of ``Δz`` are valid linear bounds (tighter than those of ``max(0, Δ)`` and
``min(0, Δ)``, ReluDiff's). Each side keeps the better (by its mean over the range) of the
chord and the exact constant range of ``Δa``. Both networks' own pre-activation bounds come
from the same back-substitution (batched CROWN), intersected with interval bounds, and each
``Δz_l`` range is intersected with the interval step (ReluDiff) and with
``[ℓ^f - u^g, u^f - ℓ^g]`` — so the result is never looser than the interval differential
route.

Everything is vectorized NumPy float64 over a batch of ``B`` boxes (arrays ``(B, d)``)
and padded outward for rounding as in :mod:`reluscope.bounds.layers`. Proofs in
``docs/background/bounds.md`` §8.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ..network import ReLUNetwork
from .layers import ROUNDING_PAD

__all__ = ["BatchDifferenceBounds", "batch_layer_bounds", "batch_difference_bounds", "relu_difference_range",
           "difference_relaxation", "single_thread", "SplitBounds", "batch_split_bounds"]

_EPS = float(np.finfo(float).eps)
_TINY = float(np.finfo(float).tiny)


class _Backend:
    """The array library of a computation: PyTorch when it is already imported (several
    times faster batched products on CPU than NumPy's BLAS here), NumPy otherwise. Importing
    torch takes seconds, more than many bounds do, so it is never imported here: the search's
    gradient attack imports it, and later calls use it. Only operations whose names and
    semantics agree in both are used below (``where``, ``maximum``, ``minimum``, ``abs``,
    ``einsum``, ``@``, ``reshape``, ``sum(x, axis)``); the results agree up to rounding.
    ``use_torch`` forces the choice (tests)."""

    def __init__(self) -> None:
        self.use_torch: bool | None = None

    @property
    def torch(self):
        if self.use_torch is False:
            return None
        return sys.modules.get("torch")

    @property
    def xp(self):
        return self.torch if self.torch is not None else np

    def asarray(self, a):
        a = np.ascontiguousarray(a, dtype=np.float64)
        return self.torch.from_numpy(a.copy()) if self.torch is not None else a

    def numpy(self, a) -> np.ndarray:
        return a.numpy() if self.torch is not None else a

    def cat(self, parts, axis: int = 0):
        return self.torch.cat(parts, axis) if self.torch is not None else np.concatenate(parts, axis)

    def tile(self, a, B: int):
        """``B`` stacked copies of ``a`` (a new array)."""
        if self.torch is not None:
            return a.unsqueeze(0).expand(B, *a.shape).clone()
        return np.repeat(a[None], B, axis=0)

    @contextmanager
    def single_thread(self):
        """Run with one intra-op thread: the batched products here are small, and on a
        shared machine thread hand-offs cost more than they save (measured: 0.2 ms vs 5 ms
        for a 200x50 by 50x50 product with two busy cores)."""
        if self.torch is None:
            yield
            return
        n = self.torch.get_num_threads()
        self.torch.set_num_threads(1)
        try:
            yield
        finally:
            self.torch.set_num_threads(n)

    def ones(self, n: int):
        return self.asarray(np.ones(n))


class _Namespace:
    """``T.name`` is ``torch.name`` or ``numpy.name`` (resolved at first use)."""

    def __getattr__(self, name: str):
        return getattr(_B.xp, name)


_B = _Backend()
T = _Namespace()


def single_thread():
    """A context in which PyTorch (when installed) uses one intra-op thread."""
    return _B.single_thread()


def _relu(x):
    return T.where(x > 0.0, x, 0.0)


def _neg(x):
    return T.where(x < 0.0, x, 0.0)


def relu_difference_range(g_lo, g_hi, d_lo, d_hi):
    """Exact range of ``relu(z + d) - relu(z)`` over ``z ∈ [g_lo, g_hi]``, ``d ∈ [d_lo, d_hi]``
    (NumPy or torch arrays).

    The expression is nondecreasing in ``d``; for fixed ``d >= 0`` it is nondecreasing in
    ``z`` and for ``d < 0`` nonincreasing. So the minimum is at ``d = d_lo`` (with ``z =
    g_lo`` if ``d_lo >= 0``, else ``z = g_hi``) and the maximum at ``d = d_hi`` (``z = g_hi``
    if ``d_hi >= 0``, else ``z = g_lo``).
    """
    xp = np if isinstance(g_lo, np.ndarray) else T
    relu = lambda v: xp.where(v > 0.0, v, 0.0)  # noqa: E731
    z_min = xp.where(d_lo >= 0.0, g_lo, g_hi)
    z_max = xp.where(d_hi >= 0.0, g_hi, g_lo)
    return relu(z_min + d_lo) - relu(z_min), relu(z_max + d_hi) - relu(z_max)


def _fenced_range(dl, dh, gl, gh, fl, fh):
    """Range of ``Δa``: the exact range over the boxes of ``z^g`` and ``Δz``, fenced by
    ``relu(z^f) - relu(z^g)`` over the separate ranges, padded outward."""
    r_lo, r_hi = relu_difference_range(gl, gh, dl, dh)
    r_lo = T.maximum(r_lo, _relu(fl) - _relu(gh))
    r_hi = T.minimum(r_hi, _relu(fh) - _relu(gl))
    mag = T.abs(gl) + T.abs(gh) + T.abs(dl) + T.abs(dh)
    return r_lo - 4 * _EPS * mag, r_hi + 4 * _EPS * mag


def difference_relaxation(dl: np.ndarray, dh: np.ndarray, gl: np.ndarray, gh: np.ndarray,
                          fl: np.ndarray, fh: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_relaxation` on NumPy arrays: ``(sl, tl, su, tu)``."""
    out = _relaxation(*(_B.asarray(a) for a in (dl, dh, gl, gh, fl, fh)))
    return tuple(_B.numpy(a) for a in out)


def _relaxation(dl, dh, gl, gh, fl, fh):
    """Linear bounds ``sl Δz + tl <= relu(z^f) - relu(z^g) <= su Δz + tu`` (entry-wise).

    Inputs: ``Δz ∈ [dl, dh]``, ``z^g ∈ [gl, gh]``, ``z^f ∈ [fl, fh]``. Both neurons active:
    ``Δa = Δz``; both inactive: ``Δa = 0``. Otherwise the upper side is the chord of the
    convex envelope ``max(Δ + min(gh, 0), -max(gl, 0))`` or the constant upper end of the
    range, whichever has the smaller mean over ``[dl, dh]``; the lower side likewise with
    the concave envelope ``min(Δ - min(fh, 0), max(fl, 0))``. Intercepts are padded outward.
    Slopes lie in ``[0, 1]``.
    """
    r_lo, r_hi = _fenced_range(dl, dh, gl, gh, fl, fh)
    wide = dh - dl > 1e-12 * (1.0 + T.abs(dl) + T.abs(dh))
    width = T.where(wide, dh - dl, 1.0)
    up_env = lambda d: T.maximum(d + _neg(gh), -_relu(gl))  # noqa: E731
    lo_env = lambda d: T.minimum(d - _neg(fh), _relu(fl))  # noqa: E731
    cu_s = (up_env(dh) - up_env(dl)) / width
    cu_t = up_env(dl) - cu_s * dl
    cl_s = (lo_env(dh) - lo_env(dl)) / width
    cl_t = lo_env(dl) - cl_s * dl
    # rounding of the chord: intercepts moved outward by a few ulps of the terms
    scale = 1.0 + T.abs(dl) + T.abs(dh) + T.abs(gl) + T.abs(gh) + T.abs(fl) + T.abs(fh)
    cu_t = cu_t + 8 * _EPS * scale
    cl_t = cl_t - 8 * _EPS * scale
    mid = 0.5 * (dl + dh)
    use_u = wide & (cu_s * mid + cu_t < r_hi)
    use_l = wide & (cl_s * mid + cl_t > r_lo)
    su, tu = T.where(use_u, cu_s, 0.0), T.where(use_u, cu_t, r_hi)
    sl, tl = T.where(use_l, cl_s, 0.0), T.where(use_l, cl_t, r_lo)
    both_active = (fl >= 0.0) & (gl >= 0.0)
    both_inactive = (fh <= 0.0) & (gh <= 0.0)
    for exact_s, mask in ((1.0, both_active), (0.0, both_inactive)):
        su, tu = T.where(mask, exact_s, su), T.where(mask, 0.0, tu)
        sl, tl = T.where(mask, exact_s, sl), T.where(mask, 0.0, tl)
    return sl, tl, su, tu


def _relu_relaxation(lo, hi):
    """CROWN's relaxation ``sl z + 0 <= relu(z) <= su z + tu`` (adaptive lower slope), batched."""
    unstable = (lo < 0.0) & (hi > 0.0)
    active = T.where(lo >= 0.0, 1.0, 0.0)
    width = T.where(unstable, hi - lo, 1.0)
    su = T.where(unstable, hi / width, active)
    tu = T.where(unstable, -lo * hi / width, 0.0)
    sl = T.where(unstable, T.where(hi >= -lo, 1.0, 0.0), active)
    return sl, 0.0 * sl, su, tu


def _interval_affine(W, b, lo, hi):
    """Range of ``W a + b`` for ``a`` in each box (rows of ``lo, hi``), padded outward."""
    mid, rad = 0.5 * (lo + hi), 0.5 * (hi - lo)
    absW = T.abs(W)
    centre = mid @ W.T + b
    spread = rad @ absW.T
    mag = T.maximum(T.abs(lo), T.abs(hi)) @ absW.T + T.abs(b)
    pad = (W.shape[1] + 4) * _EPS * mag + _TINY
    return centre - spread - pad, centre + spread + pad


def _concretize(Lam, const, mag, sign, lo, hi):
    """``min`` (rows with ``sign = -1``) or ``max`` (``+1``) of ``Lam x + const`` over each box,
    padded by ``ROUNDING_PAD (1 + M)`` (``M`` the accumulated magnitude)."""
    mid, rad = 0.5 * (lo + hi), 0.5 * (hi - lo)
    absL = T.abs(Lam)
    val = const + T.einsum("bij,bj->bi", Lam, mid) + sign * T.einsum("bij,bj->bi", absL, rad)
    mag = mag + T.einsum("bij,bj->bi", absL, T.maximum(T.abs(lo), T.abs(hi)))
    return val + sign * ROUNDING_PAD * (1.0 + mag)


def _matmul(Lam, W):
    """``Lam @ W`` for a batch ``(B, m, n)`` and one matrix ``(n, p)``: one BLAS call."""
    B, m, n = Lam.shape
    return (Lam.reshape(B * m, n) @ W).reshape(B, m, W.shape[1])


def _start(W, b, B: int):
    """Rows for the lower bounds then the upper bounds of ``W · + b``: coefficients, sign,
    constant."""
    m = W.shape[0]
    sign = _B.cat([-_B.ones(m), _B.ones(m)])
    Lam = _B.tile(_B.cat([W, W]), B)
    const = _B.tile(_B.cat([b, b]), B)
    return Lam, sign, const


def _substitute(Lam, sign, const, mag, relax):
    """Replace ``Lam a`` by the side of ``a``'s relaxation ``sl z + tl <= a <= su z + tu``
    that bounds each row in its direction; returns the coefficients on ``z``."""
    sl, tl, su, tu = relax
    up = sign[None, :, None] * Lam > 0.0
    terms = Lam * T.where(up, tu[:, None, :], tl[:, None, :])
    const = const + T.sum(terms, 2)
    mag = mag + T.sum(T.abs(terms), 2)
    return Lam * T.where(up, su[:, None, :], sl[:, None, :]), const, mag


def _layer_bounds(W, b, lo, hi, linear: bool = True, signs: list | None = None):
    """Batched CROWN on backend arrays (``linear=False``: interval arithmetic alone): lists of
    per-layer ``(B, n_l)`` lower and upper bounds.

    ``signs`` (one ``(B, n_l)`` array of ``+1`` / ``-1`` / ``0`` per hidden layer): ReLU
    splits ``s_i z_i >= 0`` that hold on box ``i``'s subdomain; a split neuron's bound is
    clamped at 0 (``l_i = 0`` when active, ``u_i = 0`` when inactive) before the next layer
    is bounded, so every later relaxation uses the tighter range. A subdomain whose clamped
    range is empty (``l_i > u_i``) contains no point."""
    B = lo.shape[0]
    lows, highs, relax = [], [], []
    a_lo, a_hi = lo, hi
    for layer in range(len(W)):
        zl, zh = _interval_affine(W[layer], b[layer], a_lo, a_hi)
        if layer > 0 and linear:
            Lam, sign, const = _start(W[layer], b[layer], B)
            mag = T.abs(const)
            for k in range(layer - 1, -1, -1):
                Lam, const, mag = _substitute(Lam, sign, const, mag, relax[k])
                const = const + Lam @ b[k]
                mag = mag + T.abs(Lam) @ T.abs(b[k])
                Lam = _matmul(Lam, W[k])
            val = _concretize(Lam, const, mag, sign, lo, hi)
            m = W[layer].shape[0]
            zl, zh = T.maximum(zl, val[:, :m]), T.minimum(zh, val[:, m:])
        if signs is not None and layer < len(W) - 1:
            zl = T.where(signs[layer] > 0, T.maximum(zl, 0.0 * zl), zl)
            zh = T.where(signs[layer] < 0, T.minimum(zh, 0.0 * zh), zh)
        lows.append(zl)
        highs.append(zh)
        relax.append(_relu_relaxation(zl, zh))
        a_lo, a_hi = _relu(zl), _relu(zh)
    return lows, highs


def _params(net: ReLUNetwork) -> tuple[list, list]:
    return [_B.asarray(W) for W in net.weights], [_B.asarray(b) for b in net.biases]


def _boxes(lo, hi):
    lo = np.atleast_2d(np.asarray(lo, dtype=float))
    hi = np.atleast_2d(np.asarray(hi, dtype=float))
    return _B.asarray(lo), _B.asarray(hi)


def batch_layer_bounds(net: ReLUNetwork, lo: np.ndarray, hi: np.ndarray, *, linear: bool = True
                       ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Pre-activation bounds of every affine layer over each box (rows of ``lo, hi``):
    back-substitution of CROWN's relaxations intersected with interval arithmetic, as
    :func:`~reluscope.bounds.layer_bounds` with ``alpha="adaptive"`` does for one box
    (``linear=False``: interval arithmetic alone)."""
    with _B.single_thread():
        lows, highs = _layer_bounds(*_params(net), *_boxes(lo, hi), linear)
    return [_B.numpy(v) for v in lows], [_B.numpy(v) for v in highs]


@dataclass(frozen=True)
class BatchDifferenceBounds:
    """Bounds over ``B`` boxes: ``lower[i] <= f(x) - g(x) <= upper[i]`` for ``x`` in box
    ``i`` (arrays ``(B, k)``). ``input_coef`` ``(B, 2k, d)``: the input coefficients of the
    symbolic lower (first ``k`` rows) and upper bounds of the output (``None`` when not
    computed), a measure of each input's influence. ``delta``: the hidden layers' ``Δz``
    bounds."""

    lower: np.ndarray
    upper: np.ndarray
    delta: tuple[tuple[np.ndarray, np.ndarray], ...]
    input_coef: np.ndarray | None = None
    shares: tuple[np.ndarray, ...] | None = None  # per hidden layer (B, 2k, n): looseness per neuron


def _symbolic_delta(Wf, bf, Wg, bg, layer: int, lo, hi, d_relax: list, g_relax: list, gaps: list | None = None):
    """Bounds of ``Δz_layer`` by substituting ``Δa`` (in terms of ``Δz``) and ``a^g`` (in terms
    of ``z^g``) down to the input; also the input coefficients ``(B, 2 m, d)`` (lower rows,
    then upper rows). ``gaps`` (per hidden layer, the widths ``(B, n_k)`` of the ``Δa`` and
    ``a^g`` relaxations): also return per hidden layer ``(B, 2 m, n_k)`` the share of each
    neuron's relaxations in each row's looseness (``|coefficient| x width``; branching)."""
    B = lo.shape[0]
    LD, sign, const = _start(Wf[layer], bf[layer] - bg[layer], B)
    LG, _, _ = _start(Wf[layer] - Wg[layer], bf[layer], B)
    mag = T.abs(const)
    share: list = [None] * layer
    for k in range(layer - 1, -1, -1):
        if gaps is not None:
            share[k] = T.abs(LD) * gaps[k][0][:, None, :] + T.abs(LG) * gaps[k][1][:, None, :]
        CD, const, mag = _substitute(LD, sign, const, mag, d_relax[k])
        CG, const, mag = _substitute(LG, sign, const, mag, g_relax[k])
        db = bf[k] - bg[k]
        const = const + CD @ db + CG @ bg[k]
        mag = mag + T.abs(CD) @ T.abs(db) + T.abs(CG) @ T.abs(bg[k])
        LG = _matmul(CD, Wf[k] - Wg[k]) + _matmul(CG, Wg[k])
        LD = _matmul(CD, Wf[k]) if k else None
    val = _concretize(LG, const, mag, sign, lo, hi)
    m = Wf[layer].shape[0]
    if gaps is not None:
        return val[:, :m], val[:, m:], LG, share
    return val[:, :m], val[:, m:], LG


def _relax_width(relax, lo, hi):
    """The largest vertical distance between the two sides of a relaxation over ``[lo, hi]``."""
    sl, tl, su, tu = relax
    return T.maximum((su - sl) * lo + (tu - tl), (su - sl) * hi + (tu - tl))


def batch_difference_bounds(f: ReLUNetwork, g: ReLUNetwork, lo: np.ndarray, hi: np.ndarray, *,
                            symbolic: bool = True) -> BatchDifferenceBounds:
    """Bounds on ``f - g`` over each box ``[lo[i], hi[i]]`` (rows of ``(B, d)`` arrays) for
    networks of equal widths (the caller checks ``f.widths == g.widths``).

    ``symbolic=False`` gives the interval differential route alone (ReluDiff's forward
    interval step on ``Δz``, fenced by the separate interval bounds of ``f`` and ``g``: the
    cheap tier); ``True`` intersects it with the symbolic back-substitution at every layer,
    with CROWN bounds of ``f`` and ``g``.
    """
    with _B.single_thread():
        return _difference_bounds(f, g, lo, hi, symbolic)


def _difference_bounds(f: ReLUNetwork, g: ReLUNetwork, lo, hi, symbolic: bool, f_signs: list | None = None,
                       g_signs: list | None = None, layers: tuple | None = None, want_shares: bool = False
                       ) -> BatchDifferenceBounds:
    lo, hi = _boxes(lo, hi)
    Wf, bf = _params(f)
    Wg, bg = _params(g)
    if layers is None:
        fL, fH = _layer_bounds(Wf, bf, lo, hi, symbolic, f_signs)
        gL, gH = _layer_bounds(Wg, bg, lo, hi, symbolic, g_signs)
    else:
        fL, fH, gL, gH = layers
    dz_lo, dz_hi = _interval_affine(Wf[0] - Wg[0], bf[0] - bg[0], lo, hi)
    d_relax: list = []
    g_relax: list = []
    delta: list = []
    gaps: list | None = [] if want_shares else None
    coef = share = None
    for layer in range(1, f.depth):
        gl, gh, fl, fh = gL[layer - 1], gH[layer - 1], fL[layer - 1], fH[layer - 1]
        dz_lo, dz_hi = T.maximum(dz_lo, fl - gh), T.minimum(dz_hi, fh - gl)
        delta.append((_B.numpy(dz_lo), _B.numpy(dz_hi)))
        d_relax.append(_relaxation(dz_lo, dz_hi, gl, gh, fl, fh))
        g_relax.append(_relu_relaxation(gl, gh))
        if gaps is not None:
            gaps.append((_relax_width(d_relax[-1], dz_lo, dz_hi), _relax_width(g_relax[-1], gl, gh)))
        # interval step: Δz' = A^f Δa + (A^f - A^g) a^g + Δb
        da_lo, da_hi = _fenced_range(dz_lo, dz_hi, gl, gh, fl, fh)
        p_lo, p_hi = _interval_affine(Wf[layer], 0.0 * bf[layer], da_lo, da_hi)
        q_lo, q_hi = _interval_affine(Wf[layer] - Wg[layer], bf[layer] - bg[layer], _relu(gl), _relu(gh))
        dz_lo, dz_hi = p_lo + q_lo, p_hi + q_hi
        mag = T.maximum(T.abs(dz_lo), T.abs(dz_hi))
        dz_lo, dz_hi = dz_lo - ROUNDING_PAD * mag, dz_hi + ROUNDING_PAD * mag
        if symbolic and gaps is not None and layer == f.depth - 1:
            s_lo, s_hi, coef, share = _symbolic_delta(Wf, bf, Wg, bg, layer, lo, hi, d_relax, g_relax, gaps)
            dz_lo, dz_hi = T.maximum(dz_lo, s_lo), T.minimum(dz_hi, s_hi)
        elif symbolic:
            s_lo, s_hi, coef = _symbolic_delta(Wf, bf, Wg, bg, layer, lo, hi, d_relax, g_relax)
            dz_lo, dz_hi = T.maximum(dz_lo, s_lo), T.minimum(dz_hi, s_hi)
    lower = T.maximum(dz_lo, fL[-1] - gH[-1])
    upper = T.minimum(dz_hi, fH[-1] - gL[-1])
    return BatchDifferenceBounds(_B.numpy(lower), _B.numpy(upper), tuple(delta),
                                 None if coef is None else _B.numpy(coef),
                                 None if share is None else tuple(_B.numpy(v) for v in share))


@dataclass(frozen=True)
class SplitBounds:
    """Bounds over ``B`` subdomains (a box and ReLU splits of both networks each): every
    hidden and output layer's pre-activation bounds of ``f`` and of ``g`` (lists of
    ``(B, n_l)`` NumPy arrays, split neurons clamped at 0), ``empty`` ``(B,)`` (a clamped
    range is empty: the subdomain has no point) and, for networks of equal widths, the
    differential bounds ``diff_lower <= f - g <= diff_upper`` ``(B, k)`` (else ``None``)
    with each neuron's share of their looseness (for branching)."""

    f_lower: list
    f_upper: list
    g_lower: list
    g_upper: list
    empty: np.ndarray
    diff_lower: np.ndarray | None = None
    diff_upper: np.ndarray | None = None
    #: per hidden layer ``(B, 2 k, n_l)``: each neuron's share of the looseness of the
    #: differential bound's rows (lower rows of ``f - g`` first, then upper rows)
    diff_shares: tuple | None = None
    #: ``(B, 2 k, d)``: input coefficients of those rows (each input's influence)
    diff_coef: np.ndarray | None = None


def batch_split_bounds(f: ReLUNetwork, g: ReLUNetwork, lo: np.ndarray, hi: np.ndarray, f_signs: list,
                       g_signs: list, *, differential: bool = True) -> SplitBounds:
    """Bounds of both networks over subdomains ``{x in [lo_i, hi_i], s_j z_j(x) >= 0 for the
    split neurons}`` (``f_signs`` / ``g_signs``: one ``(B, n_l)`` ``int8`` array of ``+1`` /
    ``-1`` / ``0`` per hidden layer of each network): batched CROWN with split neurons
    clamped (see :func:`_layer_bounds`) and, when ``differential`` and the widths agree, the
    symbolic differential bounds of ``f - g`` on the same clamped ranges (every relaxation
    they use holds on the subdomain, so the bounds do). The caller checks the shapes."""
    with _B.single_thread():
        lo_b, hi_b = _boxes(lo, hi)
        fs = [_B.asarray(s) for s in f_signs]
        gs = [_B.asarray(s) for s in g_signs]
        fL, fH = _layer_bounds(*_params(f), lo_b, hi_b, True, fs)
        gL, gH = _layer_bounds(*_params(g), lo_b, hi_b, True, gs)
        empty = np.zeros(lo_b.shape[0], dtype=bool)
        for l, u in zip(fL[:-1] + gL[:-1], fH[:-1] + gH[:-1]):
            empty |= _B.numpy(T.sum(T.where(l > u, 1.0, 0.0), 1)) > 0
        dl = du = shares = coef = None
        if differential and f.widths == g.widths:
            d = _difference_bounds(f, g, lo_b, hi_b, True, layers=(fL, fH, gL, gH), want_shares=True)
            dl, du, shares, coef = d.lower, d.upper, d.shares, d.input_coef
        out = [[_B.numpy(v) for v in part] for part in (fL, fH, gL, gH)]
    return SplitBounds(*out, empty, dl, du, shares, coef)
