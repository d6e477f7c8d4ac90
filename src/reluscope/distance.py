"""Exact function-space distances between ReLU networks.

* :func:`sup_distance` -- ``sup_Ω max_k |f_k(x) - g_k(x)|`` (uniform norm);
* :func:`sobolev_distance` -- the ``W^{1,∞}`` distance ``max(sup|f - g|, ess sup |∇(f - g)|)``
  with the gradient measured by its largest absolute entry (over outputs and inputs);
* :func:`lipschitz_constant` -- ``ess sup max_{k,j} |∂f_k/∂x_j|`` (the case ``g = 0``).

(The parameter-space distance lives in :mod:`reluscope.symmetry.parameter_distance`.)

Exact answers come from mixed-integer linear programs solved by HiGHS through
:func:`scipy.optimize.milp` (encodings in :mod:`reluscope.milp`). Every result carries a
``lower`` bound, attained at ``witness`` (the real networks are re-evaluated there; the
solver's objective is never trusted for the lower bound), and an ``upper`` bound (the
solver's dual bound, slightly rounded outward). ``exact`` means ``upper - lower`` is within
the solver tolerance. When the time limit hits, ``lower < upper`` is reported as it is.
See ``docs/background/distances.md`` for the mathematics.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.optimize import linprog

from ._results import ResultMixin
from .domain import Box, PointSet, as_domain
from .errors import InvalidDomain, InvalidNetwork, SolverError
from .milp import (
    MILPBuilder,
    _as_pairs,
    encode_jacobian_column,
    encode_network,
    preactivation_bounds,
)
from .network import ReLUNetwork
from .regions import affine_pieces, arrangement_vertices, refine

__all__ = [
    "DistanceResult",
    "SobolevResult",
    "sup_distance",
    "sobolev_distance",
    "lipschitz_constant",
    "split_lp_bound",
]

Terms = list[tuple[ReLUNetwork, float]]

# problems with at most this many binaries are solved directly in "auto" mode
_AUTO_SMALL_BINARIES = 200
# "auto" lists linear regions instead of solving MILPs up to these input dimensions; in
# 4-D the MILPs were faster on every instance measured (BENCHMARKS.md, "## distance")
_AUTO_ENUMERATE_SUP_DIM = 3
_AUTO_ENUMERATE_GRADIENT_DIM = 3
# below this many binaries HiGHS proves the optimum in about a second and finds good
# incumbents itself, so a long local ascent costs more than its better cutoff saves
_SMALL_MILP_BINARIES = 96


# ------------------------------------------------------------------------------- results
def _bounds_text(name: str, lower: float, upper: float, exact: bool) -> str:
    """``"name = v (exact)"`` or ``"name in [lower, upper]"``."""
    if exact:
        return f"{name} = {lower:.9g} (exact)"
    up = "inf" if not math.isfinite(upper) else f"{upper:.9g}"
    return f"{name} in [{lower:.9g}, {up}]"


@dataclass(frozen=True)
class DistanceResult(ResultMixin):
    """Bounds on a function-space distance (or a Lipschitz constant) over a domain.

    Attributes
    ----------
    lower:
        A value attained: the quantity evaluated with the real networks at ``witness``.
    upper:
        A valid upper bound (``inf`` for sampled estimates).
    witness:
        The point attaining ``lower`` (``None`` only if no point was evaluated).
    exact:
        ``upper - lower`` is within the solver tolerance.
    status:
        ``"optimal"``, ``"time_limit"``, ``"sampled"`` (no upper bound computed),
        ``"points"`` (exact maximum over a finite point set), ``"region_limit"`` (region
        enumeration stopped at ``max_regions``) or ``"solver_error"`` (HiGHS failed on a
        MILP even after retries; the bounds stay valid).
    seconds:
        Wall-clock time.
    method:
        ``"exact"``, ``"sampled"``, ``"sampled+exact"``, ``"enumerate"`` or ``"points"``.
    norm:
        ``"sup"``, ``"gradient"`` (ess sup of the largest absolute partial derivative) or
        ``"lipschitz"``.
    component:
        At the witness: ``(k,)`` the output index for ``"sup"``; ``(k, j)`` the Jacobian
        entry (output ``k``, input ``j``) for gradients.
    n_binaries:
        Binary variables of the largest MILP solved (0 when none).
    certified_upper:
        Gradient norms only: an upper bound on the essential supremum that needs no
        assumption on the margin (the relaxation admitting every activation pattern
        consistent with ``z >= 0`` / ``z <= 0``). ``upper`` bounds the supremum over the
        linear regions realized with ``region_margin`` (see :func:`sobolev_distance`); the
        two coincide except for degenerate networks whose patterns on lower-dimensional
        sets (e.g. two neurons with opposite hyperplanes) would give larger gradients.
        For the sup norm, ``upper`` itself is certified and this is ``None``.
    """

    lower: float
    upper: float
    witness: np.ndarray | None
    exact: bool
    status: str
    seconds: float
    method: str
    norm: str = "sup"
    component: tuple[int, ...] | None = None
    n_binaries: int = 0
    certified_upper: float | None = None

    @property
    def value(self) -> float | None:
        """The distance when exact, else ``None``."""
        return self.lower if self.exact else None

    def __str__(self) -> str:
        name = {"sup": "sup distance", "gradient": "gradient distance",
                "lipschitz": "Lipschitz constant"}.get(self.norm, self.norm)
        head = _bounds_text(name, self.lower, self.upper, self.exact)
        w = "" if self.witness is None else f"; witness {np.array2string(self.witness, precision=4)}"
        return f"{head} [{self.method}, {self.status}, {self.seconds:.2f}s{w}]"


@dataclass(frozen=True)
class SobolevResult(ResultMixin):
    """Bounds on the ``W^{1,∞}`` distance ``max(sup|f - g|, ess sup max_{k,j} |∂_j (f - g)_k|)``.

    ``lower``/``upper``/``witness``/``exact`` combine the two parts ``sup_part`` and
    ``gradient_part`` (both :class:`DistanceResult`); ``certified_upper`` is
    ``max(sup_part.upper, gradient_part.certified_upper)`` (no margin assumption).
    """

    lower: float
    upper: float
    witness: np.ndarray | None
    exact: bool
    status: str
    seconds: float
    method: str
    sup_part: DistanceResult
    gradient_part: DistanceResult
    certified_upper: float = math.inf

    @property
    def value(self) -> float | None:
        return self.lower if self.exact else None

    def __str__(self) -> str:
        head = _bounds_text("W^(1,inf) distance", self.lower, self.upper, self.exact)
        return f"{head} [{self.status}, {self.seconds:.2f}s]\n  sup part: {self.sup_part}\n  gradient part: {self.gradient_part}"


# ------------------------------------------------------------------------------- helpers
def _check_pair(f: ReLUNetwork, g: ReLUNetwork | None) -> None:
    if not isinstance(f, ReLUNetwork):
        raise InvalidNetwork(f"f must be a ReLUNetwork; got {type(f).__name__}")
    if g is None:
        return
    if not isinstance(g, ReLUNetwork):
        raise InvalidNetwork(f"g must be a ReLUNetwork; got {type(g).__name__}")
    if f.input_dim != g.input_dim:
        raise InvalidNetwork(f"f takes {f.input_dim} inputs but g takes {g.input_dim}")
    if f.output_dim != g.output_dim:
        raise InvalidNetwork(f"f has {f.output_dim} outputs but g has {g.output_dim}")


def _check_options(method: str, allowed: tuple[str, ...], time_limit: float, mip_gap: float,
                   seed: object = 0) -> None:
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed < 0:
        raise InvalidNetwork(f"seed must be a non-negative integer; got {seed!r}")
    if method not in allowed:
        raise InvalidNetwork(f"method must be one of {', '.join(repr(a) for a in allowed)}; got {method!r}")
    if not (isinstance(time_limit, (int, float)) and time_limit > 0 and math.isfinite(time_limit)):
        raise InvalidNetwork(f"time_limit must be a positive number of seconds; got {time_limit!r}")
    if not (isinstance(mip_gap, (int, float)) and 0 <= mip_gap < 1):
        raise InvalidNetwork(f"mip_gap must be in [0, 1); got {mip_gap!r}")


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
    (``inf`` when there is none)."""
    n, d = X.shape
    J = np.broadcast_to(np.eye(d), (n, d, d))
    H = X
    zmin = np.full(n, np.inf)
    last = net.depth - 1
    for i, (W, b) in enumerate(net.layers()):
        J = np.einsum("ij,njk->nik", W, J)
        Z = H @ W.T + b
        if i < last:
            act = Z > 0
            # a neuron whose pre-activation has zero gradient here is locally constant
            # (no kink through the point), so it does not count towards the margin
            flat = ~np.any(J != 0, axis=2)
            zmin = np.minimum(zmin, np.where(flat, np.inf, np.abs(Z)).min(axis=1))
            J = J * act[:, :, None]
            H = np.maximum(Z, 0.0)
    return J, zmin


def _jacobian_diff(terms: Terms, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out, zmin = None, np.full(X.shape[0], np.inf)
    for net, s in terms:
        J, zm = _jacobians(net, X)
        out = s * J if out is None else out + s * J
        zmin = np.minimum(zmin, zm)
    return out, zmin


def _cutoff_eps(current: float, tol: float, mip_gap: float) -> float:
    """Improvement asked of a MILP over the current lower bound: half the exactness gap.
    If HiGHS proves ``objective >= current + eps`` infeasible, the target's maximum is below
    ``current + eps`` (plus its feasibility tolerance), which already certifies exactness;
    proving infeasibility is usually much faster than optimizing."""
    return 0.5 * max(tol, 2 * mip_gap) * max(1.0, abs(current))


_FEAS = 1e-7  # HiGHS primal feasibility tolerance (a violated cutoff row by at most this)


def _tol_gap(lower: float, upper: float, tol: float) -> bool:
    if not (math.isfinite(lower) and math.isfinite(upper)):
        return False  # an infinite end is never a closed gap (inf - inf style comparisons lie)
    return upper - lower <= tol * max(1.0, abs(upper), abs(lower))


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


def _region_lp(terms: Terms, x: np.ndarray, objective: np.ndarray, lo: np.ndarray,
               hi: np.ndarray) -> np.ndarray | None:
    """Maximize ``objective · y`` over the intersection of the linear regions (of every
    network in ``terms``) containing ``x``, within the box. Returns the maximizer."""
    A_list, b_list = [], []
    for net, _ in terms:
        A, c, s = _region_affine(net, x)
        if A.shape[0]:
            # s (A y + c) >= 0  <=>  -s A y <= s c
            A_list.append(-s[:, None] * A)
            b_list.append(s * c)
    A_ub = np.vstack(A_list) if A_list else None
    b_ub = np.concatenate(b_list) if b_list else None
    try:
        res = linprog(-objective, A_ub=A_ub, b_ub=b_ub, bounds=list(zip(lo, hi)), method="highs")
    except ValueError:
        return None
    if res.status != 0 or res.x is None:
        return None
    return np.clip(res.x, lo, hi)


def _local_ascent(terms: Terms, x0: np.ndarray, k: int, sign: float, lo: np.ndarray, hi: np.ndarray,
                  rng: np.random.Generator, max_iter: int = 30, deadline: float = math.inf) -> tuple[np.ndarray, float]:
    """Ascent over affine pieces: maximize ``sign (f - g)_k`` on the current linear region by
    an LP, step into a neighbouring region, repeat until no improvement."""
    x = x0.copy()
    val = float(sign * _values(terms, x[None, :])[0, k])
    scale = float(np.max(hi - lo))
    for _ in range(max_iter):
        if time.perf_counter() > deadline:
            break
        J, _ = _jacobian_diff(terms, x[None, :])
        grad = sign * J[0, k]
        y = _region_lp(terms, x, grad, lo, hi)
        if y is None:
            break
        vy = float(sign * _values(terms, y[None, :])[0, k])
        # step across the boundary reached: candidates around y
        cands = [y]
        for eps in (1e-6, 1e-4):
            cands.append(np.clip(y + eps * scale * np.sign(grad), lo, hi))
            for _r in range(2):
                cands.append(np.clip(y + eps * scale * rng.standard_normal(y.size), lo, hi))
        C = np.array(cands)
        vals = sign * _values(terms, C)[:, k]
        best = int(np.argmax(vals))
        if vals[best] <= val + 1e-12 * max(1.0, abs(val)):
            if vy > val:
                x, val = y, vy
            break
        x, val = C[best], float(vals[best])
    return x, val


@dataclass
class _Best:
    value: float = -math.inf
    witness: np.ndarray | None = None
    component: tuple[int, ...] | None = None

    def offer(self, value: float, x: np.ndarray, component: tuple[int, ...]) -> None:
        if value > self.value:
            self.value, self.witness, self.component = float(value), np.array(x, dtype=np.float64), component


def _sup_candidates(terms: Terms, lo: np.ndarray, hi: np.ndarray, n_samples: int, seed: int,
                    ascent_starts: int, deadline: float, best: _Best) -> np.ndarray:
    """Sample random points, box vertices (small d) and run local ascent from the best ones.
    Updates ``best``; returns the best sampled value of ``sign (f-g)_k`` per (k, sign)."""
    rng = np.random.default_rng(seed)
    d = lo.size
    box = Box(lo, hi)
    pts = [box.sample(n_samples, d, seed=rng), ((lo + hi) / 2)[None, :]]
    if d <= 10:
        pts.append(box.vertices(d, max_vertices=1024))
    X = np.vstack(pts)
    D = _values(terms, X)  # (n, k)
    k = D.shape[1]
    per_target = np.empty((k, 2))
    for kk in range(k):
        for si, s in enumerate((1.0, -1.0)):
            v = s * D[:, kk]
            i = int(np.argmax(v))
            per_target[kk, si] = v[i]
            best.offer(abs(D[i, kk]), X[i], (kk,))
    # local ascent from the best starting points of each target
    order = np.argsort(-per_target.ravel())
    for t in order:
        kk, si = divmod(int(t), 2)
        s = 1.0 if si == 0 else -1.0
        v = s * D[:, kk]
        starts = np.argsort(-v)[:ascent_starts]
        for i in starts:
            if time.perf_counter() > deadline:
                return per_target
            x, val = _local_ascent(terms, X[i], kk, s, lo, hi, rng, deadline=deadline)
            per_target[kk, si] = max(per_target[kk, si], val)
            real = _values(terms, x[None, :])[0]
            kbest = int(np.argmax(np.abs(real)))
            best.offer(abs(real[kbest]), x, (kbest,))
    return per_target


def _bounds_for(net: ReLUNetwork, lo: np.ndarray, hi: np.ndarray, deadline: float, bound_method: str):
    remaining = max(deadline - time.perf_counter(), 0.0)
    return preactivation_bounds(net, Box(lo, hi), method=bound_method,
                                time_limit=max(0.2 * remaining, 1e-3))


# ------------------------------------------------------------------------------- splitting
# problems with at least this many binaries keep part of the time for split LP bounds
_SPLIT_MIN_BINARIES = 96
# fraction of the remaining time kept for them (two 10-32-32-1 networks, 60 s: 0.25 gave the
# upper bound 17.35, 0.5 with the decoupled bound below 15.58; BENCHMARKS.md "## distance")
_SPLIT_RESERVE = 0.5
# numbers of split coordinates tried, in turn (2^s sub-boxes each)
_SPLIT_LEVELS = (2, 4, 6, 8)
# share of that reserve for the decoupled bound (each network alone), before the splitting
_DECOUPLED_SHARE = 0.7


def _relaxable_binaries(enc, net: ReLUNetwork, k: int, coef: float) -> np.ndarray:
    """Binaries of last-hidden-layer neurons whose weight in the objective ``coef * net_k`` is
    <= 0 (for a maximization): the objective pushes their activation down onto max(z, 0), so
    dropping integrality leaves the optimum unchanged (see docs/background/distances.md)."""
    if net.depth < 2:
        return np.zeros(0, dtype=np.int64)
    dl = enc.delta[-1]
    return dl[(dl >= 0) & (coef * net.weights[-1][k] <= 0)]


def _decoupled_bounds(terms: Terms, bounds: list, lo: np.ndarray, hi: np.ndarray,
                      targets: list[tuple[int, float]], deadline: float) -> np.ndarray:
    """Upper bounds on ``max sign (f - g)_k`` from each network alone:
    ``max (f_k - g_k) <= max f_k - min g_k`` (the maximum of a sum is at most the sum of the
    maxima). Each extreme is one MILP over one network (half the binaries, and no coupling
    through a shared input), solved until the deadline; its dual bound is valid even when
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
            share = (deadline - time.perf_counter()) / (len(keys) - len(need) + 1)
            if share <= 0:
                continue
            res = b.solve({int(enc.output[kk]): c}, sense="max", time_limit=share,
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


def _relu_chord(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slope and intercept of a line ``s t + c >= relu(t)`` on ``[lo, hi]`` (the chord)."""
    unstable = (lo < 0) & (hi > 0)
    s = np.where(hi <= 0, 0.0, np.where(lo >= 0, 1.0, hi / np.where(unstable, hi - lo, 1.0)))
    return s, np.where(unstable, -s * lo, 0.0)


def _coupled_lp_bounds(terms: Terms, bounds: list, lo: np.ndarray, hi: np.ndarray,
                       targets: list[tuple[int, float]], deadline: float) -> np.ndarray:
    """LP bounds on ``max sign (f - g)_k`` for two networks of equal widths with coupling rows
    ``y_f - y_g <= chord(z_f - z_g)`` and ``y_g - y_f <= chord(z_g - z_f)`` per neuron pair
    (valid: ``relu(a) - relu(b) <= relu(a - b)`` and the chord of the convex ReLU over the
    interval of :func:`_difference_bounds` lies above it). When ``g`` is close to ``f`` (a
    pruned, quantized or fine-tuned copy) they tie the two relaxations together, which neither
    the plain LP nor the decoupled bound does. ``inf`` where out of time."""
    (f, sf), (g, sg) = terms
    b = MILPBuilder()
    x = b.add_vars(lo.size, lo, hi)
    ef, eg = encode_network(b, f, x, bounds[0]), encode_network(b, g, x, bounds[1])
    for layer, (dl, du) in enumerate(_difference_bounds(f, g, bounds[0], bounds[1], lo, hi)):
        for (ea, eb), (a_lo, a_hi) in (((ef, eg), (dl, du)), ((eg, ef), (-du, -dl))):
            s, c = _relu_chord(a_lo, a_hi)  # y_a - y_b - s (z_a - z_b) <= c
            b.add_diag_rows([(ea.post[layer], 1.0), (eb.post[layer], -1.0), (ea.pre[layer], -s),
                             (eb.pre[layer], s)], -np.inf, c)
    return _relaxed_target_bounds(b, [(ef, sf), (eg, sg)], targets, deadline)


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
                   deadline: float, bound_method: str) -> np.ndarray:
    """Valid upper bounds on ``max sign (f - g)_k`` over the box ``[lo, hi]`` for each target
    ``(k, sign)``: the LP relaxation of the big-M encoding with neuron bounds recomputed on
    this box (``inf`` where the LP does not finish)."""
    b = MILPBuilder()
    x = b.add_vars(lo.size, lo, hi)
    encs = []
    bm = "interval" if bound_method == "interval" else "lp"
    for net, s in terms:
        remaining = max(deadline - time.perf_counter(), 1e-3)
        bounds = preactivation_bounds(net, Box(lo, hi), method=bm, time_limit=remaining)
        encs.append((encode_network(b, net, x, bounds), s))
    return _relaxed_target_bounds(b, encs, targets, deadline)


def _relaxed_target_bounds(b: MILPBuilder, encs: list, targets: list[tuple[int, float]],
                           deadline: float) -> np.ndarray:
    """The LP relaxation's optimum of ``sign * sum_t s_t out_t[k]`` for each target
    ``(k, sign)`` over the model ``b`` holding the encodings ``encs`` (pairs ``(enc, s_t)``),
    rounded outward; ``inf`` where the LP does not finish before ``deadline``."""
    out = np.full(len(targets), math.inf)
    for i, (kk, sign) in enumerate(targets):
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            break
        idx = np.array([int(e.output[kk]) for e, _ in encs])
        coef = np.array([sign * s for _, s in encs])
        res = b.solve((idx, coef), sense="max", relax=True, time_limit=remaining)
        if res.status == "optimal" and math.isfinite(res.bound):
            out[i] = res.bound + _FEAS * (1 + abs(res.bound))
    return out


def split_lp_bound(f: ReLUNetwork, g: ReLUNetwork | None, lo: np.ndarray, hi: np.ndarray,
                   component: int = 0, sign: float = 1.0, n_split: int = 2,
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
    _check_pair(f, g)
    lo = np.asarray(lo, dtype=np.float64).copy()
    hi = np.asarray(hi, dtype=np.float64).copy()
    if lo.shape != (f.input_dim,) or hi.shape != (f.input_dim,) or np.any(lo > hi):
        raise InvalidDomain(f"split_lp_bound needs lo <= hi of shape ({f.input_dim},); got {lo.shape} and {hi.shape}")
    if not 0 <= int(component) < f.output_dim:
        raise InvalidNetwork(f"component must be in 0..{f.output_dim - 1}; got {component!r}")
    deadline = time.perf_counter() + float(time_limit)
    return float(_split_bounds(_terms(f, g), lo, hi, [(int(component), float(sign))], int(n_split),
                               deadline, bound_method)[0])


def _split_bounds(terms: Terms, lo: np.ndarray, hi: np.ndarray, targets: list[tuple[int, float]],
                  n_split: int, deadline: float, bound_method: str) -> np.ndarray:
    """Per target, the maximum over the sub-boxes of the LP bounds (``inf`` if incomplete)."""
    worst = np.full(len(targets), -math.inf)
    for sl, sh in _split_boxes(terms, lo, hi, n_split):
        if time.perf_counter() >= deadline:
            return np.full(len(targets), math.inf)
        worst = np.maximum(worst, _box_lp_bounds(terms, sl, sh, targets, deadline, bound_method))
    return worst


# ------------------------------------------------------------------------------- sup norm
def _solve_max(builder: MILPBuilder, objective: tuple[np.ndarray, np.ndarray], deadline: float,
               mip_gap: float, cutoff: list, continuous: np.ndarray | None = None):
    """Maximize with HiGHS until ``deadline``. HiGHS occasionally stops with "Solve error"
    (numerics); the same model without presolve, then without the cutoff row, usually goes
    through, so those are tried in turn (status ``"error"`` only if all fail)."""
    out = None
    for opts in ({}, {"presolve": False}, {"presolve": False, "extra_rows": ()}):
        if out is not None and (out.status != "error" or time.perf_counter() >= deadline):
            break
        kwargs = {"extra_rows": cutoff, **opts}
        out = builder.solve(objective, sense="max", time_limit=deadline - time.perf_counter(),
                            mip_rel_gap=mip_gap, continuous=continuous, **kwargs)
    return out


def _exact_sup(terms: Terms, lo: np.ndarray, hi: np.ndarray, deadline: float, mip_gap: float,
               tol: float, per_target: np.ndarray, best: _Best, bound_method: str,
               rng: np.random.Generator) -> tuple[float, str, int]:
    """Branch-and-bound by HiGHS for each target ``sign (f - g)_k``. Updates ``best``;
    returns (upper bound, status, number of binaries)."""
    builder = MILPBuilder()
    x = builder.add_vars(lo.size, lo, hi)
    encs = []
    for net, s in terms:
        bounds = _bounds_for(net, lo, hi, deadline, bound_method)
        encs.append((encode_network(builder, net, x, bounds), s, bounds))
    n_bin = sum(e.n_binaries for e, _, _ in encs)
    k = terms[0][0].output_dim
    # interval bounds of sign (f - g)_k from the output bounds: fallback upper bounds
    out_lo = sum(np.where(s > 0, b[-1].lower, -b[-1].upper) for _, s, b in encs)
    out_hi = sum(np.where(s > 0, b[-1].upper, -b[-1].lower) for _, s, b in encs)
    target_upper = np.stack([out_hi, -out_lo], axis=1)  # (k, 2)
    status = "optimal"

    def objective(kk: int, sign: float) -> tuple[np.ndarray, np.ndarray]:
        idx = np.array([int(e.output[kk]) for e, _, _ in encs])
        coef = np.array([sign * s for _, s, _ in encs])
        return idx, coef

    def relaxable(kk: int, sign: float) -> np.ndarray:
        out = [_relaxable_binaries(e, net, kk, sign * s) for (e, s, _), (net, _) in zip(encs, terms)]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    # large problems keep part of the time for split LP bounds (used if the MILPs time out)
    full_deadline = deadline
    if n_bin >= _SPLIT_MIN_BINARIES:
        deadline = deadline - _SPLIT_RESERVE * max(deadline - time.perf_counter(), 0.0)
    # LP relaxation bounds for every target (cheap; prune targets that cannot win)
    for kk in range(k):
        for si, sign in enumerate((1.0, -1.0)):
            if time.perf_counter() > deadline:
                break
            out = builder.solve(objective(kk, sign), sense="max", relax=True,
                                time_limit=deadline - time.perf_counter())
            if out.status == "optimal" and math.isfinite(out.bound):
                target_upper[kk, si] = min(target_upper[kk, si], out.bound + _FEAS * (1 + abs(out.bound)))
    order = np.argsort(-per_target.ravel())
    for t in order:
        kk, si = divmod(int(t), 2)
        sign = 1.0 if si == 0 else -1.0
        current = best.value
        if target_upper[kk, si] <= current + _cutoff_eps(current, tol, mip_gap):
            continue  # this target cannot beat the lower bound
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            status = "time_limit"
            continue
        idx, coef = objective(kk, sign)
        eps = _cutoff_eps(current, tol, mip_gap) if math.isfinite(current) else 0.0
        cutoff = [(idx, coef, current + eps, np.inf)] if math.isfinite(current) else []
        out = _solve_max(builder, (idx, coef), deadline, mip_gap, cutoff, relaxable(kk, sign))
        if out.status == "error":
            status = "solver_error"
            continue
        if out.status == "infeasible":
            # nothing beats the current lower bound (by more than eps) for this target
            target_upper[kk, si] = min(target_upper[kk, si], current + eps + _FEAS)
            continue
        if out.status not in ("optimal", "time_limit"):
            status = "time_limit" if status == "optimal" else status
            continue
        if out.status == "time_limit":
            status = "time_limit"
        if math.isfinite(out.bound):
            target_upper[kk, si] = min(target_upper[kk, si], out.bound + _FEAS * (1 + abs(out.bound)))
        if out.x is not None:
            w = np.clip(out.x[x], lo, hi)
            # polish on the linear region of the incumbent (LP without big-M), then re-evaluate
            w2, _ = _local_ascent(terms, w, kk, sign, lo, hi, rng, max_iter=5, deadline=deadline + 5.0)
            for cand in (w, w2):
                real = _values(terms, cand[None, :])[0]
                kb = int(np.argmax(np.abs(real)))
                best.offer(abs(real[kb]), cand, (kb,))
    gap = max(tol, 2 * mip_gap)

    def open_targets() -> list[tuple[int, int]]:
        return [(kk, si) for kk, si in (divmod(int(t), 2) for t in range(target_upper.size))
                if not (_tol_gap(best.value, target_upper[kk, si], gap) or target_upper[kk, si] <= best.value)]

    def tighten(bound: Callable[[list[tuple[int, float]]], np.ndarray]) -> bool:
        """Lower the open targets' upper bounds to ``bound(targets)``; False if none is open."""
        open_t = open_targets()
        if not open_t:
            return False
        ub = bound([(kk, 1.0 if si == 0 else -1.0) for kk, si in open_t])
        for (kk, si), u in zip(open_t, ub):
            target_upper[kk, si] = min(target_upper[kk, si], u)
        return True

    if full_deadline > deadline:
        net_bounds = [b for _, _, b in encs]
        # targets left open, first: each network alone (the decoupled bound)
        decoupled_deadline = deadline + _DECOUPLED_SHARE * (full_deadline - deadline)
        tighten(lambda t: _decoupled_bounds(terms, net_bounds, lo, hi, t, decoupled_deadline))
        # pairs of equal widths: the LP with neuron-pair coupling rows (cheap: one LP each)
        if len(terms) == 2 and terms[0][0].widths == terms[1][0].widths:
            tighten(lambda t: _coupled_lp_bounds(terms, net_bounds, lo, hi, t, full_deadline))
        # then input-domain splitting, 2^s sub-boxes with their own neuron bounds and LP
        # relaxation, all open targets at once (the sub-box neuron bounds are shared); the
        # maximum over the sub-boxes is a valid bound (they cover the box)
        for n_split in _SPLIT_LEVELS:
            if time.perf_counter() >= full_deadline or not tighten(
                    lambda t, n=n_split: _split_bounds(terms, lo, hi, t, n, full_deadline, bound_method)):
                break
        if status != "optimal" and all(
                _tol_gap(best.value, u, gap) or u <= best.value for u in target_upper.ravel()):
            status = "optimal"
    upper = float(max(target_upper.max(), 0.0))
    return upper, status, n_bin


def sup_distance(f: ReLUNetwork, g: ReLUNetwork, domain: Box | PointSet | str | None = None,
                 method: Literal["auto", "exact", "sampled", "enumerate"] = "auto", time_limit: float = 30.0,
                 mip_gap: float = 1e-6, seed: int = 0, n_samples: int = 2000, tol: float = 1e-6,
                 bound_method: Literal["interval", "lp", "milp"] = "lp",
                 max_regions: int = 200_000) -> DistanceResult:
    """Uniform distance ``sup_{x ∈ Ω} max_k |f_k(x) - g_k(x)|`` between two networks.

    Parameters
    ----------
    f, g:
        Networks with the same input and output dimensions.
    domain:
        A :class:`~reluscope.Box` (``None``: ``[-1, 1]^d``; a string ``"LO,HI"`` is parsed) or a
        :class:`~reluscope.PointSet` (then the answer is the exact maximum over the points).
    method:
        ``"exact"``: MILP (HiGHS) for each output ``k`` and sign, maximizing ``±(f - g)_k``
        on a shared input, started from a small sampled lower bound. ``"sampled"``: random
        points, box vertices (``d <= 10``) and local ascent over affine pieces (a lower bound;
        ``upper = inf``). ``"auto"``: the exact method, preceded by a heavier sampling
        phase (up to 20% of the time) when the MILP has more than 200 binaries; in input
        dimension 1 to 3 it enumerates the linear regions instead (no MILP), falling back to
        the MILP beyond ``max_regions`` regions or half the time. ``"enumerate"``: only
        that enumeration, in any dimension (every common linear region of ``f`` and ``g``
        is cut out of the box and the maximum is taken over the regions' vertices; the
        number of regions grows quickly with the dimension).
    time_limit:
        Seconds for the whole computation. When it hits, the result keeps valid bounds
        with ``lower < upper`` and ``status="time_limit"``. MILPs with at least 96 binaries
        get half of the remaining time; if they do not close a target, 70% of the rest goes
        to the decoupled bound ``max f_k - min g_k`` (one MILP per network and extreme,
        whose dual bounds stay valid when the time runs out), then, for networks of equal
        widths, to an LP with coupling rows between corresponding neurons (tight when ``g``
        is a pruned or fine-tuned copy of ``f``), and the remainder to input-domain
        splitting (:func:`split_lp_bound` with 4, 16, 64, 256 sub-boxes); each replaces
        the bound when smaller.
    mip_gap:
        HiGHS relative MIP gap (``mip_rel_gap``).
    seed:
        Seed of the sampling phase.
    n_samples:
        Random points of the sampling phase (``method="sampled"`` uses 10 times more).
    tol:
        Tolerance: the solver's bounds are rounded outward by ``tol * (1 + |bound|)`` and the
        result is ``exact`` when ``upper - lower <= max(tol, 2 mip_gap) * max(1, upper)``.
    bound_method:
        Pre-activation bounds used as big-M constants: ``"interval"``, ``"lp"`` (tighter, the
        default) or ``"milp"`` (exact per neuron; costly, but can speed up hard instances).
    max_regions:
        Limit on the number of linear regions for the enumeration.

    Returns
    -------
    DistanceResult
        ``lower`` (attained at ``witness``, re-evaluated with the real networks), ``upper``
        (the MILP dual bound), ``exact``, ``status``, ``seconds``, ``method``.

    Examples
    --------
    >>> import numpy as np
    >>> from reluscope import ReLUNetwork, Box, sup_distance
    >>> f = ReLUNetwork([np.array([[1.0]]), np.array([[1.0]])], [np.zeros(1), np.zeros(1)])
    >>> g = ReLUNetwork([np.array([[1.0]]), np.array([[0.5]])], [np.zeros(1), np.zeros(1)])
    >>> r = sup_distance(f, g, Box(-1, 2))
    >>> round(r.lower, 9), r.exact
    (1.0, True)
    """
    t0 = time.perf_counter()
    _check_pair(f, g)
    _check_options(method, ("auto", "exact", "sampled", "enumerate"), time_limit, mip_gap, seed)
    if bound_method not in ("interval", "lp", "milp"):
        raise InvalidNetwork(f"bound_method must be 'interval', 'lp' or 'milp'; got {bound_method!r}")
    dom = as_domain(domain, f.input_dim)
    terms = _terms(f, g)
    if isinstance(dom, PointSet):
        return _points_result(terms, dom, t0, "sup")
    lo, hi = dom.bounds(f.input_dim)
    deadline = t0 + float(time_limit)
    best = _Best()
    rng = np.random.default_rng(seed)
    if method == "sampled":
        _sup_candidates(terms, lo, hi, 10 * n_samples, seed, 5, deadline, best)
        return DistanceResult(best.value, math.inf, best.witness, False, "sampled",
                              time.perf_counter() - t0, "sampled", "sup", best.component, 0)
    share = _enumeration_share(method, f.input_dim, _AUTO_ENUMERATE_SUP_DIM)
    if share:
        try:
            return _enumerated_sup(terms, lo, hi, t0, tol, mip_gap, int(max_regions),
                                   share * float(time_limit))
        except SolverError as exc:
            if method == "enumerate":  # no fallback asked for: a sampled lower bound only
                _sup_candidates(terms, lo, hi, n_samples, seed, 0, deadline, best)
                return DistanceResult(best.value, math.inf, best.witness, False, _limit_status(exc),
                                      time.perf_counter() - t0, "enumerate", "sup", best.component, 0)
    n_estimate = _estimate_binaries(terms, lo, hi)
    heavy = method == "auto" and n_estimate > _AUTO_SMALL_BINARIES
    if heavy:
        per_target = _sup_candidates(terms, lo, hi, 5 * n_samples, seed, 30,
                                     t0 + 0.2 * float(time_limit), best)
    else:
        starts = 2 if n_estimate < _SMALL_MILP_BINARIES else 10
        per_target = _sup_candidates(terms, lo, hi, n_samples, seed, starts,
                                     t0 + 0.1 * float(time_limit), best)
    upper, status, n_bin = _exact_sup(terms, lo, hi, deadline, mip_gap, tol, per_target, best,
                                      bound_method, rng)
    upper = max(upper, best.value)
    exact = status == "optimal" and _tol_gap(best.value, upper, max(tol, 2 * mip_gap))
    if not exact and status == "optimal":
        status = "time_limit" if time.perf_counter() >= deadline else "optimal"
    return DistanceResult(best.value, upper, best.witness, exact, status, time.perf_counter() - t0,
                          "sampled+exact" if heavy else "exact", "sup", best.component, n_bin)


def _enumeration_share(method: str, d: int, auto_max_dim: int) -> float:
    """Fraction of the time limit for listing linear regions: all of it for
    ``method="enumerate"``, half for ``"auto"`` up to ``auto_max_dim`` input dimensions (the
    MILP takes over if the regions are too many), else 0 (no enumeration)."""
    if method == "enumerate":
        return 1.0
    return 0.5 if method == "auto" and d <= auto_max_dim else 0.0


def _limit_status(exc: SolverError) -> str:
    return "time_limit" if "time" in str(exc) else "region_limit"


def _cell_output_bounds(net: ReLUNetwork, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of ``net``'s outputs on the convex hull of the points ``V``: the first layer's
    pre-activations are affine, so their extremes are at the points (exact); interval
    arithmetic from there on."""
    Z = V @ net.weights[0].T + net.biases[0]
    zl, zh = Z.min(axis=0), Z.max(axis=0)
    for W, b in zip(net.weights[1:], net.biases[1:]):
        lo, hi = np.maximum(zl, 0.0), np.maximum(zh, 0.0)
        Wp, Wn = np.maximum(W, 0.0), np.minimum(W, 0.0)
        zl, zh = Wp @ lo + Wn @ hi + b, Wp @ hi + Wn @ lo + b
    return zl, zh


def _enumerated_sup(terms: Terms, lo: np.ndarray, hi: np.ndarray, t0: float, tol: float,
                    mip_gap: float, max_regions: int, time_limit: float) -> DistanceResult:
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
                                  "optimal", time.perf_counter() - t0, "enumerate", "sup", (int(kk),), 0)
    deadline = time.perf_counter() + time_limit
    slack = 0.0
    for net, _ in terms:
        norms = [float(np.abs(W).sum(axis=1).max()) for W in net.weights]
        # a branch error of geom_tol in hidden layer l is amplified by the later layers
        slack += geom_tol * sum(float(np.prod(norms[layer + 1:])) for layer in range(net.depth - 1))
    f_net, g_net = terms[0][0], terms[1][0]
    f_pieces = affine_pieces([f_net], lo, hi, tol=geom_tol, max_cells=max_regions, time_limit=time_limit)
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
        parts = refine(f_pieces[n], g_net, geom_tol, max_regions - n_cells, deadline)
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
        if time.perf_counter() > deadline:
            raise SolverError("region enumeration ran out of time")
    upper = max(piece_max, lower) + slack + 1e-12 * (1.0 + abs(piece_max))
    exact = _tol_gap(lower, upper, max(tol, 2 * mip_gap))
    return DistanceResult(lower, upper, witness, exact, "optimal", time.perf_counter() - t0,
                          "enumerate", "sup", (comp,), 0)


def _estimate_binaries(terms: Terms, lo: np.ndarray, hi: np.ndarray) -> int:
    from .milp import interval_bounds

    n = 0
    for net, _ in terms:
        for zl, zh in interval_bounds(net, Box(lo, hi))[:-1]:
            n += int(np.sum((zl < 0) & (zh > 0)))
    return n


def _points_result(terms: Terms, dom: PointSet, t0: float, norm: str) -> DistanceResult:
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
    return DistanceResult(val, val, X[i].copy(), True, "points", time.perf_counter() - t0, "points",
                          norm, comp, 0)


# ------------------------------------------------------------------------------- gradients
def _pattern_interior(terms: Terms, encs, xvals: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                      margin: float) -> np.ndarray | None:
    """Given a MILP solution, fix its activation pattern and find by an LP the point of the
    box maximizing the smallest margin ``t`` of the unstable neurons (``s z >= t``). Returns
    the point when ``t >= margin`` (the pattern's region is full-dimensional), else None."""
    d = lo.size
    rows, rhs = [], []
    for (net, _), enc in zip(terms, encs):
        J, c = np.eye(d), np.zeros(d)
        for layer, (W, b) in enumerate(net.layers()):
            J, c = W @ J, W @ c + b
            if layer == net.depth - 1:
                break
            dl = enc.delta[layer]
            act = enc.active[layer].copy()
            unstable = dl >= 0
            on = np.zeros(act.size, dtype=bool)
            on[unstable] = xvals[dl[unstable]] > 0.5
            act = act | on
            s = np.where(on, 1.0, -1.0)
            for i in np.nonzero(unstable)[0]:
                # s (J_i y + c_i) >= t  <=>  -s J_i y + t <= s c_i
                rows.append(np.concatenate([-s[i] * J[i], [1.0]]))
                rhs.append(s[i] * c[i])
            J, c = J * act[:, None], c * act
    if not rows:
        return np.clip(xvals[encs[0].x], lo, hi)
    cost = np.zeros(d + 1)
    cost[-1] = -1.0
    bounds = list(zip(lo, hi)) + [(None, 1.0)]
    res = linprog(cost, A_ub=np.array(rows), b_ub=np.array(rhs), bounds=bounds, method="highs")
    if res.status != 0 or res.x is None or res.x[-1] < margin:
        return None
    return np.clip(res.x[:d], lo, hi)


def _realized_gradient(terms: Terms, x: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
    """Jacobian of ``f - g`` on the open linear region containing ``x`` (or a point very
    close to it): requires every hidden pre-activation to be nonzero at the point used."""
    cands = [x] + [np.clip(x + 1e-9 * (hi - lo) * rng.standard_normal(x.size), lo, hi) for _ in range(8)]
    C = np.array(cands)
    J, zmin = _jacobian_diff(terms, C)
    for i in range(len(cands)):
        if zmin[i] > 0:
            return J[i], C[i]
    return None


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


def _enumerated_gradient(terms: Terms, lo: np.ndarray, hi: np.ndarray, t0: float, tol: float,
                         mip_gap: float, max_regions: int, time_limit: float, norm: str) -> DistanceResult:
    """Gradient part in one or two dimensions from the listed linear regions.

    ``upper`` is the largest Jacobian entry of the regions' affine forms: at any point where
    every hidden pre-activation has ``|z| > 1e-12`` the real pattern is the region's (see
    docs/background/distances.md), so this bounds the gradient on every region realized with
    a margin. ``lower`` is the largest Jacobian entry realized by the real networks at a
    region's centroid with all pre-activations nonzero (a gradient on an open set)."""
    pieces = affine_pieces([net for net, _ in terms], lo, hi, tol=1e-12, max_cells=max_regions,
                           time_limit=time_limit)
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
    return DistanceResult(lower, upper, witness, exact, "optimal", time.perf_counter() - t0,
                          "enumerate", norm, (int(kk), int(j)), 0, cert)


def _gradient_part(terms: Terms, lo: np.ndarray, hi: np.ndarray, method: str, deadline: float,
                   mip_gap: float, tol: float, seed: int, n_samples: int, region_margin: float,
                   bound_method: str, norm: str, t0: float) -> DistanceResult:
    rng = np.random.default_rng(seed)
    d = lo.size
    k = terms[0][0].output_dim
    best = _Best()
    # sampled lower bound: Jacobians at random points (interior of regions a.s.)
    X = Box(lo, hi).sample(n_samples if method != "sampled" else 10 * n_samples, d, seed=rng)
    J, zmin = _jacobian_diff(terms, X)
    ok = zmin > 0
    per_target = np.full((k, d, 2), -np.inf)
    if ok.any():
        Jo, Xo = J[ok], X[ok]
        A = np.abs(Jo)
        i, kk, j = np.unravel_index(int(np.argmax(A)), A.shape)
        best.offer(float(A[i, kk, j]), Xo[i], (int(kk), int(j)))
        per_target[:, :, 0] = Jo.max(axis=0)
        per_target[:, :, 1] = (-Jo).max(axis=0)
    if method == "sampled" or all(net.depth == 1 for net, _ in terms):
        if all(net.depth == 1 for net, _ in terms):  # affine maps: the Jacobian is constant
            return DistanceResult(best.value, best.value, best.witness, True, "optimal",
                                  time.perf_counter() - t0, "exact", norm, best.component, 0,
                                  best.value)
        return DistanceResult(best.value, math.inf, best.witness, False, "sampled",
                              time.perf_counter() - t0, "sampled", norm, best.component, 0)
    bounds = [_bounds_for(net, lo, hi, deadline, bound_method) for net, _ in terms]
    target_upper = np.full((k, d, 2), math.inf)
    status = "optimal"
    n_bin_max = 0
    builders: dict[tuple[int, float], tuple] = {}

    def model(j: int, margin: float):
        key = (j, margin)
        if key not in builders:
            b = MILPBuilder()
            x = b.add_vars(d, lo, hi)
            encs, cols = [], []
            for (net, s), bd in zip(terms, bounds):
                enc = encode_network(b, net, x, bd, margin=margin)
                idx, clo, chi = encode_jacobian_column(b, net, enc, j)
                encs.append(enc)
                cols.append((idx, s, clo, chi))
            builders[key] = (b, x, encs, cols)
        return builders[key]

    # fallback upper bounds from interval bounds of the Jacobian columns
    for j in range(d):
        _, _, _, cols = model(j, 0.0)
        hi_sum = sum(np.where(s > 0, chi, -clo) for _, s, clo, chi in cols)
        lo_sum = sum(np.where(s > 0, clo, -chi) for _, s, clo, chi in cols)
        target_upper[:, j, 0] = hi_sum
        target_upper[:, j, 1] = -lo_sum
    certified = target_upper.copy()  # bounds on the true ess sup (margin 0)
    order = np.argsort(-per_target.ravel())
    for t in order:
        kk, j, si = np.unravel_index(int(t), per_target.shape)
        sign = 1.0 if si == 0 else -1.0
        current = best.value
        eps = _cutoff_eps(current, tol, mip_gap) if math.isfinite(current) else 0.0
        thr = current + eps + _FEAS
        if target_upper[kk, j, si] <= thr:
            continue
        if time.perf_counter() >= deadline:
            status = "time_limit"
            continue
        b0, x0, encs0, cols0 = model(int(j), 0.0)
        n_bin_max = max(n_bin_max, b0.n_integers)
        idx = np.array([int(c[0][kk]) for c in cols0])
        coef = np.array([sign * c[1] for c in cols0])
        # LP relaxation first: a cheap valid bound that often prunes the target
        lp = b0.solve((idx, coef), sense="max", relax=True, time_limit=deadline - time.perf_counter())
        if lp.status == "optimal" and math.isfinite(lp.bound):
            ub = lp.bound + _FEAS * (1 + abs(lp.bound))
            certified[kk, j, si] = min(certified[kk, j, si], ub)
            target_upper[kk, j, si] = min(target_upper[kk, j, si], ub)
            if ub <= thr:
                continue
        cutoff = [(idx, coef, current + eps, np.inf)] if math.isfinite(current) else []
        # 1) margin 0: every full-dimensional region is feasible -> certified upper bound
        out = _solve_max(b0, (idx, coef), deadline, mip_gap, cutoff)
        if out.status == "infeasible":
            target_upper[kk, j, si] = certified[kk, j, si] = thr
            continue
        if out.status != "optimal":
            status = "solver_error" if out.status == "error" else "time_limit"
        if out.status in ("optimal", "time_limit") and math.isfinite(out.bound):
            ub = out.bound + _FEAS * (1 + abs(out.bound))
            certified[kk, j, si] = min(certified[kk, j, si], ub)
            target_upper[kk, j, si] = min(target_upper[kk, j, si], ub)
        if out.x is not None:
            # is the incumbent's pattern a full-dimensional region? then its gradient is realized
            y = _pattern_interior(terms, encs0, out.x, lo, hi, region_margin)
            if y is not None:
                got = _realized_gradient(terms, y, lo, hi, rng)
                if got is not None:
                    Jd, pt = got
                    A = np.abs(Jd)
                    k2, j2 = np.unravel_index(int(np.argmax(A)), A.shape)
                    best.offer(float(A[k2, j2]), pt, (int(k2), int(j2)))
        if out.status != "optimal" or _tol_gap(best.value, target_upper[kk, j, si], max(tol, 2 * mip_gap)):
            continue
        # 2) the optimum sits on a pattern without a full-dimensional region (a degenerate
        #    network): restrict to patterns realized with the margin
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            status = "time_limit"
            continue
        bm, xm, encsm, colsm = model(int(j), float(region_margin))
        n_bin_max = max(n_bin_max, bm.n_integers)
        idx = np.array([int(c[0][kk]) for c in colsm])
        cur = best.value
        eps = _cutoff_eps(cur, tol, mip_gap) if math.isfinite(cur) else 0.0
        thr = cur + eps + _FEAS
        cutoff = [(idx, coef, cur + eps, np.inf)] if math.isfinite(cur) else []
        outm = _solve_max(bm, (idx, coef), deadline, mip_gap, cutoff)
        if outm.status == "infeasible":
            target_upper[kk, j, si] = thr
            continue
        if outm.status != "optimal":
            status = "solver_error" if outm.status == "error" else "time_limit"
        if outm.status in ("optimal", "time_limit") and math.isfinite(outm.bound):
            target_upper[kk, j, si] = min(target_upper[kk, j, si], outm.bound + _FEAS * (1 + abs(outm.bound)))
        if outm.x is not None:
            xm_pt = np.clip(outm.x[xm], lo, hi)
            got = _realized_gradient(terms, xm_pt, lo, hi, rng)
            if got is not None:
                Jd, pt = got
                A = np.abs(Jd)
                k2, j2 = np.unravel_index(int(np.argmax(A)), A.shape)
                best.offer(float(A[k2, j2]), pt, (int(k2), int(j2)))
    upper = float(max(np.max(target_upper), best.value, 0.0))
    cert = float(max(np.max(certified), best.value, 0.0))
    exact = status == "optimal" and _tol_gap(best.value, upper, max(tol, 2 * mip_gap))
    return DistanceResult(best.value, upper, best.witness, exact, status, time.perf_counter() - t0,
                          "exact", norm, best.component, n_bin_max, cert)


def _gradient_distance(f: ReLUNetwork, g: ReLUNetwork | None, domain, method: str, time_limit: float,
                       mip_gap: float, seed: int, n_samples: int, tol: float, region_margin: float,
                       bound_method: str, norm: str, max_regions: int = 200_000) -> DistanceResult:
    t0 = time.perf_counter()
    _check_pair(f, g)
    _check_options(method, ("auto", "exact", "sampled", "enumerate"), time_limit, mip_gap, seed)
    if not (isinstance(region_margin, (int, float)) and region_margin > 0):
        raise InvalidNetwork(f"region_margin must be a positive number; got {region_margin!r}")
    dom = as_domain(domain, f.input_dim)
    terms = _terms(f, g)
    if isinstance(dom, PointSet):
        return _points_result(terms, dom, t0, norm)
    lo, hi = dom.bounds(f.input_dim)
    share = _enumeration_share(method, f.input_dim, _AUTO_ENUMERATE_GRADIENT_DIM)
    if share:
        try:
            return _enumerated_gradient(terms, lo, hi, t0, tol, mip_gap, int(max_regions),
                                        share * float(time_limit), norm)
        except SolverError as exc:
            if method == "enumerate":  # no fallback asked for: sampled lower bound only
                r = _gradient_part(terms, lo, hi, "sampled", t0 + float(time_limit), mip_gap, tol,
                                   seed, n_samples, float(region_margin), bound_method, norm, t0)
                return DistanceResult(r.lower, math.inf, r.witness, False, _limit_status(exc),
                                      time.perf_counter() - t0, "enumerate", norm, r.component, 0,
                                      math.inf)
    return _gradient_part(terms, lo, hi, method, t0 + float(time_limit), mip_gap, tol, seed,
                          n_samples, float(region_margin), bound_method, norm, t0)


def sobolev_distance(f: ReLUNetwork, g: ReLUNetwork, domain: Box | PointSet | str | None = None,
                     method: Literal["auto", "exact", "sampled", "enumerate"] = "auto", time_limit: float = 30.0,
                     mip_gap: float = 1e-6, seed: int = 0, n_samples: int = 2000, tol: float = 1e-6,
                     region_margin: float = 1e-6,
                     bound_method: Literal["interval", "lp", "milp"] = "lp",
                     max_regions: int = 200_000) -> SobolevResult:
    """``W^{1,∞}`` distance ``max(sup_Ω |f - g|, ess sup_Ω |∇(f - g)|)``.

    The gradient part is the essential supremum of ``max_{k,j} |∂_j (f - g)_k|`` (the
    largest absolute entry of the Jacobian difference), i.e. the maximum over the
    full-dimensional linear regions of ``f - g`` in the domain.

    Exact gradient part, for any depth: for every output ``k``, input ``j`` and sign, a
    MILP propagates the ``j``-th Jacobian column through binary activation variables
    (products of binaries and bounded variables linearized exactly with big-M).

    1. Without margin, every full-dimensional region's pattern is feasible, so the dual
       bound is a valid upper bound (``gradient_part.certified_upper``). If the optimal
       pattern's region contains a point where every unstable neuron has
       ``|z| >= region_margin`` (one LP), the region is full-dimensional and the Jacobian
       evaluated with the real networks at that point gives the lower bound: done.
    2. Otherwise (a degenerate network, whose relaxation admits patterns living only on
       lower-dimensional sets, e.g. two neurons with opposite hyperplanes), a second MILP
       requires ``z >= region_margin`` for active and ``z <= -region_margin`` for inactive
       unstable neurons, so that each feasible pattern is realized on an open set.

    So ``gradient_part`` brackets ``G_m``, the largest gradient entry over the linear
    regions containing a point at which every unstable neuron has ``|z| >= m``
    (``m = region_margin``). ``G_m`` never exceeds the essential supremum (its lower bound
    is always a realized gradient) and equals it as soon as ``m`` is below the inradius-like
    margin of every region -- true for all small enough ``m`` since there are finitely
    many regions. ``certified_upper`` bounds the essential supremum with no assumption.

    Parameters
    ----------
    f, g:
        Networks with the same input and output dimensions.
    domain:
        A :class:`~reluscope.Box` (``None``: ``[-1, 1]^d``) or a
        :class:`~reluscope.PointSet` (maxima over the points; gradients at the points with
        ``ReLU'(0) = 0``).
    method:
        ``"exact"`` (MILPs), ``"sampled"`` (lower bounds only), ``"enumerate"`` (the
        linear regions are listed, see :func:`sup_distance`; the gradient part is then
        the largest Jacobian entry over the regions, each checked at the region's
        centroid with the real networks), or ``"auto"`` (for the sup part as in
        :func:`sup_distance`; for the gradient part ``"enumerate"`` up to three input
        dimensions, falling back to the MILPs beyond ``max_regions`` or half the time,
        else ``"exact"``). With enumeration, ``certified_upper`` is the cruder
        all-patterns bound ``max(upper, max_{k,j} sum_nets (|W_L| ... |W_1|)_{kj})``.
    time_limit:
        Seconds, split between the sup part (first half at most) and the gradient part.
    mip_gap, seed, n_samples, tol, bound_method, max_regions:
        As in :func:`sup_distance`.
    region_margin:
        Margin (in pre-activation units) certifying that a pattern's region is
        full-dimensional; see above.

    Returns
    -------
    SobolevResult
        Combined bounds plus ``sup_part`` and ``gradient_part``.
    """
    t0 = time.perf_counter()
    _check_pair(f, g)
    _check_options(method, ("auto", "exact", "sampled", "enumerate"), time_limit, mip_gap, seed)
    sup = sup_distance(f, g, domain, method=method, time_limit=0.5 * time_limit, mip_gap=mip_gap,
                       seed=seed, n_samples=n_samples, tol=tol, bound_method=bound_method,
                       max_regions=max_regions)
    remaining = max(time_limit - (time.perf_counter() - t0), 1e-3)
    grad = _gradient_distance(f, g, domain, method, remaining, mip_gap, seed, n_samples, tol,
                              region_margin, bound_method, "gradient", max_regions)
    lower = max(sup.lower, grad.lower)
    upper = max(sup.upper, grad.upper)
    witness = sup.witness if sup.lower >= grad.lower else grad.witness
    exact = _tol_gap(lower, upper, max(tol, 2 * mip_gap)) and math.isfinite(upper)
    statuses = {sup.status, grad.status}
    status = "optimal" if statuses <= {"optimal", "points"} else (
        "sampled" if "sampled" in statuses else "time_limit")
    if exact:
        status = "points" if statuses == {"points"} else "optimal"
    method_name = sup.method if sup.method == grad.method else f"{sup.method}/{grad.method}"
    cert = max(sup.upper, grad.certified_upper if grad.certified_upper is not None else grad.upper)
    return SobolevResult(lower, upper, witness, exact, status, time.perf_counter() - t0, method_name,
                         sup, grad, cert)


def lipschitz_constant(f: ReLUNetwork, domain: Box | PointSet | str | None = None,
                       method: Literal["auto", "exact", "sampled", "enumerate"] = "auto", time_limit: float = 30.0,
                       mip_gap: float = 1e-6, seed: int = 0, n_samples: int = 2000, tol: float = 1e-6,
                       region_margin: float = 1e-6,
                       bound_method: Literal["interval", "lp", "milp"] = "lp",
                       max_regions: int = 200_000) -> DistanceResult:
    """Lipschitz constant ``ess sup_Ω max_{k,j} |∂f_k / ∂x_j|`` of a network on a box.

    This is the gradient part of :func:`sobolev_distance` with ``g = 0``. The norm: the
    largest absolute Jacobian entry is the operator norm of the Jacobian from ``ℓ1``
    (inputs) to ``ℓ∞`` (outputs), so on a convex domain the result is the smallest ``C``
    with ``max_k |f_k(x) - f_k(y)| <= C ||x - y||_1``.

    Parameters are those of :func:`sobolev_distance`; the result's ``norm`` is
    ``"lipschitz"`` and ``component`` the Jacobian entry ``(k, j)`` at the witness.
    """
    return _gradient_distance(f, None, domain, method, time_limit, mip_gap, seed, n_samples, tol,
                              region_margin, bound_method, "lipschitz", max_regions)
