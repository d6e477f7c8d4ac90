"""Upper bounds on ``max sign (f - g)_k`` by relaxations, for when the MILPs do not close:
the decoupled bound (each network alone), the LP with neuron-pair coupling rows for
networks of equal widths, and input-domain splitting (:func:`split_lp_bound`). Each is
valid whenever it is finite; what does not finish within its budget is ``inf``."""

from __future__ import annotations

import itertools
import math

import numpy as np

from .._budget import Budget
from .._validation import check_choice, check_int, check_pair, check_time_limit
from ..bounds import difference_bounds, relu_relaxation
from ..domain import Box
from ..errors import InvalidDomain
from ..milp import MILPBuilder, encode_network, preactivation_bounds
from ..milp.encode import _as_pairs
from ..network import ReLUNetwork
from .control import _FEAS, BOUND_METHODS
from .pointwise import Terms, _terms

__all__ = ["split_lp_bound"]


def _relaxable_binaries(enc, net: ReLUNetwork, k: int, coef: float) -> np.ndarray:
    """Binaries of last-hidden-layer neurons whose weight in the objective ``coef * net_k`` is
    <= 0 (for a maximization): the objective pushes their activation down onto max(z, 0), so
    dropping integrality leaves the optimum unchanged (see docs/background/distances.md)."""
    if net.depth < 2:
        return np.zeros(0, dtype=np.int64)
    dl = enc.delta[-1]
    return dl[(dl >= 0) & (coef * net.weights[-1][k] <= 0)]


def _decoupled_bounds(terms: Terms, bounds: list, lo: np.ndarray, hi: np.ndarray,
                      targets: list[tuple[int, float]], budget: Budget) -> np.ndarray:
    """Upper bounds on ``max sign (f - g)_k`` from each network alone:
    ``max (f_k - g_k) <= max f_k - min g_k`` (the maximum of a sum is at most the sum of the
    maxima). Each extreme is one MILP over one network (half the binaries, and no coupling
    through a shared input), solved within ``budget``; its dual bound is valid even when
    the time runs out, and the outer output bound of ``bounds`` is the fallback."""
    # (term, k, c) -> bound on max c * net_k, c = +-1; each extreme is solved once
    keys = list(dict.fromkeys((t, kk, sign * s) for kk, sign in targets for t, (_, s) in enumerate(terms)))
    need: dict[tuple[int, int, float], float] = {}
    for t, (net, _) in enumerate(terms):
        b = MILPBuilder()
        x = b.add_vars(lo.size, lo, hi)
        enc = encode_network(b, net, x, bounds[t])
        for key in keys:
            if key[0] != t:
                continue
            _, kk, c = key
            need[key] = bounds[t][-1].upper[kk] if c > 0 else -bounds[t][-1].lower[kk]
            # the time left, shared equally by this solve and the ones after it
            if budget.expired():
                continue
            share = budget.share(1.0 / (len(keys) - len(need) + 1))
            res = b.solve({int(enc.output[kk]): c}, sense="max", budget=share,
                          continuous=_relaxable_binaries(enc, net, kk, c))
            if res.status in ("optimal", "time_limit") and math.isfinite(res.bound):
                need[key] = min(need[key], res.bound + _FEAS * (1 + abs(res.bound)))
    return np.array([sum(need[(t, kk, sign * s)] for t, (_, s) in enumerate(terms)) for kk, sign in targets])


def _difference_bounds(f: ReLUNetwork, g: ReLUNetwork, bf: list, bg: list, lo: np.ndarray,
                       hi: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Interval bounds on ``z_f - z_g`` for each hidden layer of two networks of equal widths
    (neuron ``i`` of ``f`` paired with neuron ``i`` of ``g``), given valid pre-activation
    bounds ``bf``, ``bg`` of each. Uses ``relu(a) - relu(b) ∈ [min(0, a - b), max(0, a - b)]``
    (ReLU is monotone and 1-Lipschitz) and ``z'_f - z'_g = W_f (y_f - y_g) + (W_f - W_g) y_g +
    (b_f - b_g)`` for the next layer."""
    def relu(v: np.ndarray) -> np.ndarray:
        return np.maximum(v, 0.0)

    ctr, rad = (lo + hi) / 2, (hi - lo) / 2
    dw = f.weights[0] - g.weights[0]
    mid, r = dw @ ctr + f.biases[0] - g.biases[0], np.abs(dw) @ rad
    dl, du = mid - r, mid + r
    pf, pg = _as_pairs(bf), _as_pairs(bg)
    out = []
    for layer in range(f.depth - 1):
        pad = 1e-9 * (1 + np.abs(dl) + np.abs(du))
        dl, du = dl - pad, du + pad
        out.append((dl, du))
        (lf, uf), (lg, ug) = pf[layer], pg[layer]
        yl = np.maximum(np.minimum(0.0, dl), relu(lf) - relu(ug))
        yu = np.minimum(np.maximum(0.0, du), relu(uf) - relu(lg))
        both = (lf >= 0) & (lg >= 0)  # both active: y_f - y_g = z_f - z_g
        yl, yu = np.where(both, np.maximum(yl, dl), yl), np.where(both, np.minimum(yu, du), yu)
        wf, dw = f.weights[layer + 1], f.weights[layer + 1] - g.weights[layer + 1]
        c1, r1 = (yl + yu) / 2, (yu - yl) / 2
        c2, r2 = (relu(lg) + relu(ug)) / 2, (relu(ug) - relu(lg)) / 2
        mid = wf @ c1 + dw @ c2 + f.biases[layer + 1] - g.biases[layer + 1]
        r = np.abs(wf) @ r1 + np.abs(dw) @ r2
        dl, du = mid - r, mid + r
    return out


def _coupled_lp_bounds(terms: Terms, bounds: list, lo: np.ndarray, hi: np.ndarray,
                       targets: list[tuple[int, float]], budget: Budget) -> np.ndarray:
    """LP bounds on ``max sign (f - g)_k`` for two networks of equal widths with coupling rows
    ``y_f - y_g <= chord(z_f - z_g)`` and ``y_g - y_f <= chord(z_g - z_f)`` per neuron pair
    (valid: ``relu(a) - relu(b) <= relu(a - b)`` and the chord of the convex ReLU over the
    interval of :func:`_difference_bounds`, :func:`reluscope.bounds.relu_relaxation`, lies above it). When ``g`` is close to ``f`` (a
    pruned, quantized or fine-tuned copy) they tie the two relaxations together, which neither
    the plain LP nor the decoupled bound does. ``inf`` where out of time."""
    (f, sf), (g, sg) = terms
    b = MILPBuilder()
    x = b.add_vars(lo.size, lo, hi)
    ef, eg = encode_network(b, f, x, bounds[0]), encode_network(b, g, x, bounds[1])
    for layer, (dl, du) in enumerate(_difference_bounds(f, g, bounds[0], bounds[1], lo, hi)):
        for (ea, eb), (a_lo, a_hi) in (((ef, eg), (dl, du)), ((eg, ef), (-du, -dl))):
            _, s, c = relu_relaxation(a_lo, a_hi)  # the chord: y_a - y_b - s (z_a - z_b) <= c
            b.add_diag_rows([(ea.post[layer], 1.0), (eb.post[layer], -1.0), (ea.pre[layer], -s),
                             (eb.pre[layer], s)], -np.inf, c)
    return _relaxed_target_bounds(b, [(ef, sf), (eg, sg)], targets, budget)


def _split_boxes(terms: Terms, lo: np.ndarray, hi: np.ndarray, n_split: int):
    """The ``2^s`` sub-boxes (``s = n_split``) of ``s`` halvings, given to the coordinates in
    order of influence ``(hi_j - lo_j) * sum_nets sum_i |W1[i, j]|``, round robin (a
    coordinate halved ``c`` times is cut into ``2^c`` equal pieces). They cover the box, and
    the cover for ``s + 1`` refines the cover for ``s``."""
    d = lo.size
    infl = sum(np.abs(net.weights[0]).sum(axis=0) for net, _ in terms) * (hi - lo)
    order = np.argsort(-infl, kind="stable")
    counts = np.zeros(d, dtype=np.int64)
    for t in range(max(int(n_split), 0)):
        counts[order[t % d]] += 1
    cuts = [np.linspace(lo[j], hi[j], 2 ** int(counts[j]) + 1) for j in range(d)]
    for pieces in itertools.product(*[range(2 ** int(c)) for c in counts]):
        sl = np.array([cuts[j][p] for j, p in enumerate(pieces)])
        sh = np.array([cuts[j][p + 1] for j, p in enumerate(pieces)])
        yield np.maximum(sl, lo), np.minimum(sh, hi)


def _box_lp_bounds(terms: Terms, lo: np.ndarray, hi: np.ndarray, targets: list[tuple[int, float]],
                   budget: Budget, bound_method: str) -> np.ndarray:
    """Valid upper bounds on ``max sign (f - g)_k`` over the box ``[lo, hi]`` for each target
    ``(k, sign)``: the LP relaxation of the big-M encoding with neuron bounds recomputed on
    this box (``inf`` where the LP does not finish)."""
    b = MILPBuilder()
    x = b.add_vars(lo.size, lo, hi)
    encs = []
    bm = "interval" if bound_method == "interval" else "lp"
    for net, s in terms:
        bounds = preactivation_bounds(net, Box(lo, hi), method=bm, budget=budget)
        encs.append((encode_network(b, net, x, bounds), s))
    return _relaxed_target_bounds(b, encs, targets, budget)


def _relaxed_target_bounds(b: MILPBuilder, encs: list, targets: list[tuple[int, float]],
                           budget: Budget) -> np.ndarray:
    """The LP relaxation's optimum of ``sign * sum_t s_t out_t[k]`` for each target
    ``(k, sign)`` over the model ``b`` holding the encodings ``encs`` (pairs ``(enc, s_t)``),
    rounded outward; ``inf`` where the LP does not finish within ``budget``."""
    out = np.full(len(targets), math.inf)
    for i, (kk, sign) in enumerate(targets):
        if budget.expired():
            break
        idx = np.array([int(e.output[kk]) for e, _ in encs])
        coef = np.array([sign * s for _, s in encs])
        res = b.solve((idx, coef), sense="max", relax=True, budget=budget)
        if res.status == "optimal" and math.isfinite(res.bound):
            out[i] = res.bound + _FEAS * (1 + abs(res.bound))
    return out


def split_lp_bound(f: ReLUNetwork, g: ReLUNetwork | None, lo: np.ndarray, hi: np.ndarray,
                   component: int = 0, sign: float = 1.0, *, n_split: int = 2,
                   time_limit: float = 30.0, bound_method: str = "lp") -> float:
    """Upper bound on ``max_{x in [lo, hi]} sign (f - g)_k(x)`` by input-domain splitting.

    The box is cut into ``2^s`` sub-boxes (``s = n_split`` halvings given to the
    coordinates in order of influence, round robin); on each, the neuron bounds are recomputed and the LP
    relaxation of the big-M encoding is solved. The maximum over the sub-boxes is a valid
    bound because the sub-boxes cover the box. Returns ``inf`` when ``time_limit`` does
    not suffice for every sub-box (a partial maximum would not be a bound).

    Parameters
    ----------
    f, g:
        Networks (``g=None``: bound ``sign f_k`` alone).
    lo, hi:
        The box.
    component, sign:
        Target ``sign (f - g)_component``.
    n_split:
        Number of halvings (0: the LP bound on the whole box).
    time_limit:
        Seconds.
    bound_method:
        ``"interval"`` or ``"lp"`` neuron bounds per sub-box (``"milp"`` is treated as ``"lp"``).

    Returns
    -------
    float
        The bound (``inf`` if not completed in time).
    """
    check_pair(f, g, allow_none=True)
    lo = np.asarray(lo, dtype=np.float64).copy()
    hi = np.asarray(hi, dtype=np.float64).copy()
    if lo.shape != (f.input_dim,) or hi.shape != (f.input_dim,) or np.any(lo > hi):
        raise InvalidDomain(f"split_lp_bound needs lo <= hi of shape ({f.input_dim},); got {lo.shape} and {hi.shape}")
    component = check_int(component, "component", maximum=f.output_dim - 1)
    n_split = check_int(n_split, "n_split")
    budget = Budget.start(check_time_limit(time_limit))
    check_choice(bound_method, BOUND_METHODS, "bound_method")
    return float(_split_bounds(_terms(f, g), lo, hi, [(component, float(sign))], n_split,
                               budget, bound_method)[0])


def _split_bounds(terms: Terms, lo: np.ndarray, hi: np.ndarray, targets: list[tuple[int, float]],
                  n_split: int, budget: Budget, bound_method: str) -> np.ndarray:
    """Per target, the maximum over the sub-boxes of the LP bounds (``inf`` if incomplete)."""
    worst = np.full(len(targets), -math.inf)
    for sl, sh in _split_boxes(terms, lo, hi, n_split):
        if budget.expired():
            return np.full(len(targets), math.inf)
        worst = np.maximum(worst, _box_lp_bounds(terms, sl, sh, targets, budget, bound_method))
    return worst
