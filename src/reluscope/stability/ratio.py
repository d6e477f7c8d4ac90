"""The inverse-stability ratio ``dist_sym(Gamma, Phi) / ||R(Gamma) - R(Phi)||^{1/2}``.

``dist_sym(Gamma, Phi)`` is the max-norm parameter distance from ``Gamma`` to the nearest
parametrization of ``R(Phi)`` on the box ``Omega``. The infimum over *all* such
parametrizations is not computable in general; this module computes the minimum over an
explicit, documented search space, which is an **upper bound** on it (so the ratio it
reports is an upper bound on the true ratio). For the pathology families the analytic
lower bounds of :mod:`reluscope.stability.pathologies` bound the true ratio from below.

What :func:`symmetric_parameter_distance` searches (shallow, scalar output networks)
-----------------------------------------------------------------------------------
Let ``m`` be the width of ``Gamma`` and ``W = max(m, width of Phi)``; ``Gamma`` is padded
with zero neurons to width ``W`` (a parametrization of the same function).

1. *Base representations* of ``R(Phi)`` on ``Omega``: ``Phi`` itself; its restricted
   form written back as a plain network (``to_restricted(Phi).to_network()``: dead and
   cancelled neurons removed, parallel/opposite neurons merged, affine neurons collected
   into one, every neuron balanced); and, when :mod:`reluscope.degeneracy` is available,
   ``reduce(Phi, Omega)``. A base wider than ``W`` is skipped.
2. Each base is padded with *free slots* up to ``W``. A free slot may hold any neuron
   that is zero on ``Omega``: ``(a, b, 0)`` with any ``(a, b)``, or ``(a, b, c)`` with ``(a, b)``
   dead on the box (``max_Omega <a, x> + b <= 0``).
3. Over every permutation matching ``Gamma``'s neurons to the slots, every positive
   rescaling ``(lambda a, lambda b, c / lambda)`` of each real neuron, and every choice of
   zero-on-``Omega`` neuron in each free slot, the max-norm distance is minimized
   **exactly**: the optimal ``lambda`` of a pair is found among the finitely many
   breakpoints of a maximum of V-shaped functions of ``lambda``; the distance of a
   neuron to the dead cone is one linear program (HiGHS); the best permutation is a
   bottleneck assignment (thresholding + maximum bipartite matching). The output bias is
   fixed by the base.

4. *Parallel splits* (``split_parallel=True``): starting from that assignment, greedy
   moves put several of ``Gamma``'s slots on the direction of one base neuron, with output
   weights adding up to it (each group's best scales and weights are exact:
   :func:`parallel_group_cost`); a move is kept when it lowers (max cost, sum of costs).
   This part is a local search, not a global optimum.

Not searched: other splittings of the affine part (e.g. an opposite pair
``relu(z) - relu(-z)``), moving constants between neurons and the output bias, and
representations that use more neurons than ``W``.

For two :class:`~reluscope.stability.RestrictedShallowNetwork` s,
:func:`restricted_parameter_distance` computes the distance *within the restricted set*:
there the representation of a function is unique up to permutation, unused slots and the
orientation of each neuron (``v relu(z) = v relu(-z) + v z``), so searching permutations
(bottleneck assignment) and orientations (all of them up to ``max_flip_search`` used
neurons, greedily beyond) gives the exact infimum in the first case.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from .._results import ResultMixin
from ..errors import InvalidNetwork, SolverError
from ..network import ReLUNetwork
from .restricted import RestrictedShallowNetwork, _as_restricted_view, box_bounds, to_restricted

__all__ = [
    "ParameterDistance",
    "symmetric_parameter_distance",
    "restricted_parameter_distance",
    "InverseStabilityRatio",
    "inverse_stability_ratio",
    "optimal_rescaling",
    "parallel_group_cost",
    "drop_null_neurons",
]

FloatArray = NDArray[np.float64]


# ---------------------------------------------------------------------------- pieces
def optimal_rescaling(source: FloatArray, c_source: float, target: FloatArray, c_target: float) -> tuple[float, float]:
    """``min_{lambda > 0} max(||lambda source - target||_inf, |c_source / lambda - c_target|)``.

    ``source``/``target`` are incoming vectors ``(a, b)``; returns ``(distance, lambda)``.
    Exact: the objective is the maximum of functions ``|alpha lambda - beta|`` and
    ``|gamma / lambda - delta|``; its minimum over ``lambda > 0`` is attained at a zero of one
    of them or a crossing of two, all enumerated here (plus far-out values of ``lambda``
    covering an infimum approached at ``0`` or ``infinity``).
    """
    alpha = np.asarray(source, dtype=float).ravel()
    beta = np.asarray(target, dtype=float).ravel()
    gamma, delta = float(c_source), float(c_target)

    def objective(lam: float) -> float:
        return max(float(np.max(np.abs(alpha * lam - beta), initial=0.0)), abs(gamma / lam - delta))

    cands: list[float] = []
    for al, be in zip(alpha, beta):
        if al != 0:
            cands.append(be / al)
    if delta != 0:
        cands.append(gamma / delta)
    # crossings of two incoming pieces: s1 (a1 l - b1) = s2 (a2 l - b2)
    for (a1, b1), (a2, b2) in itertools.combinations(zip(alpha, beta), 2):
        for s in (1.0, -1.0):
            den = a1 - s * a2
            if den != 0:
                cands.append((b1 - s * b2) / den)
    # crossings of an incoming piece with the outgoing one: s (a l - b) = g / l - d
    for al, be in zip(alpha, beta):
        for s in (1.0, -1.0):
            # s a l^2 + (d - s b) l - g = 0
            roots = np.roots([s * al, delta - s * be, -gamma]) if (al != 0 or delta - s * be != 0) else []
            cands.extend(float(r.real) for r in np.atleast_1d(roots) if abs(r.imag) <= 1e-12 * (1 + abs(r.real)))
    scale = max(1.0, float(np.max(np.abs(np.concatenate([alpha, beta, [gamma, delta]])))))
    cands += [1e-9 / scale, 1e9 * scale, 1.0]
    best = (math.inf, 1.0)
    for lam in cands:
        if lam > 0 and math.isfinite(lam):
            value = objective(lam)
            if value < best[0]:
                best = (value, lam)
    return best


def _dead_distance(ab: FloatArray, lo: FloatArray, hi: FloatArray) -> tuple[float, FloatArray]:
    """ℓ∞ distance from ``(a, b)`` to the cone of neurons dead on the box, and the nearest point (an LP)."""
    d = lo.size
    center, radius = (lo + hi) / 2, (hi - lo) / 2
    # variables: a (d), b, s (d) with s >= |a|, t ; minimize t
    n = 2 * d + 2
    cost = np.zeros(n)
    cost[-1] = 1.0
    rows, rhs = [], []
    row = np.zeros(n)
    row[:d], row[d], row[d + 1:2 * d + 1] = center, 1.0, radius  # <a,center> + b + <r, s> <= 0
    rows.append(row)
    rhs.append(0.0)
    for k in range(d):
        for sgn in (1.0, -1.0):  # sgn a_k - s_k <= 0
            row = np.zeros(n)
            row[k], row[d + 1 + k] = sgn, -1.0
            rows.append(row)
            rhs.append(0.0)
    for k in range(d + 1):  # |x_k - ab_k| <= t
        for sgn in (1.0, -1.0):
            row = np.zeros(n)
            row[k], row[-1] = sgn, -1.0
            rows.append(row)
            rhs.append(sgn * ab[k])
    bounds = [(None, None)] * (d + 1) + [(0, None)] * d + [(0, None)]
    res = linprog(cost, A_ub=np.array(rows), b_ub=np.array(rhs), bounds=bounds, method="highs")
    if res.status != 0:
        raise SolverError(f"dead-cone distance LP failed: {res.message}")
    point = res.x[: d + 1].copy()
    # the LP tolerance may leave the point barely alive: push b down by the violation
    excess = point[:d] @ center + np.abs(point[:d]) @ radius + point[d]
    if excess > 0:
        point[d] -= excess
    return float(np.max(np.abs(point - ab))), point


def _bottleneck_assignment(cost: FloatArray) -> tuple[float, NDArray[np.intp]]:
    """Permutation ``p`` minimizing ``max_i cost[i, p[i]]`` (square matrix), and that value."""
    n = cost.shape[0]
    if n == 0:
        return 0.0, np.zeros(0, dtype=np.intp)
    values = np.unique(cost)
    lo, hi = 0, values.size - 1
    best = None
    while lo <= hi:
        mid = (lo + hi) // 2
        graph = csr_matrix((cost <= values[mid]).astype(np.int8))
        match = maximum_bipartite_matching(graph, perm_type="column")
        if np.all(match >= 0):
            best = (float(values[mid]), match)
            hi = mid - 1
        else:
            lo = mid + 1
    assert best is not None  # the largest threshold admits every edge
    return best[0], np.asarray(best[1], dtype=np.intp)


def _scale_interval(u: FloatArray, target: FloatArray, t: float) -> tuple[float, float]:
    """``{s >= 0 : ||s u - target||_inf <= t}`` as ``(lo, hi)`` (empty when ``lo > hi``)."""
    lo, hi = 0.0, math.inf
    for ul, tl in zip(u, target):
        if ul == 0:
            if abs(tl) > t:
                return 1.0, 0.0
            continue
        a, b = (tl - t) / ul, (tl + t) / ul
        if a > b:
            a, b = b, a
        lo, hi = max(lo, a), min(hi, b)
    return lo, hi


def parallel_group_cost(
    u: FloatArray, v: float, targets_ab: FloatArray, targets_c: FloatArray, iterations: int = 100
) -> tuple[float, FloatArray, FloatArray]:
    """Realize ``v relu(<u, (x, 1)>)`` by ``k`` parallel neurons ``(s_k u, c_k)`` (``s_k >= 0``,
    ``sum_k c_k s_k = v``) as close as possible (max norm) to ``k`` target neurons.

    For a level ``t`` the feasible ``s_k`` form an interval and the ``c_k`` the interval
    ``[c_k^0 - t, c_k^0 + t]``; ``sum_k c_k s_k`` then ranges over an interval whose ends are
    attained at corners, so feasibility of ``t`` is exact and monotone: ``t`` is found by
    bisection (to relative precision ``2^-iterations``) and the witness by bisection along
    the segment between the minimizing and the maximizing corner. Returns ``(t, s, c)``.
    """
    u = np.asarray(u, dtype=float)
    T_ab = np.atleast_2d(np.asarray(targets_ab, dtype=float))
    T_c = np.asarray(targets_c, dtype=float).ravel()
    k = T_c.size

    def corners(t: float):
        lo_pt, hi_pt, total_lo, total_hi = [], [], 0.0, 0.0
        for q in range(k):
            s_lo, s_hi = _scale_interval(u, T_ab[q], t)
            if s_lo > s_hi:
                return None
            c_lo, c_hi = T_c[q] - t, T_c[q] + t
            cand = [(s_lo, c_lo), (s_lo, c_hi), (s_hi, c_lo), (s_hi, c_hi)]
            prods = [sv * cv for sv, cv in cand]
            lo_pt.append(cand[int(np.argmin(prods))])
            hi_pt.append(cand[int(np.argmax(prods))])
            total_lo += min(prods)
            total_hi += max(prods)
        return lo_pt, hi_pt, total_lo, total_hi

    def feasible(t: float) -> bool:
        cr = corners(t)
        return cr is not None and cr[2] <= v <= cr[3]

    hi = max(1.0, float(np.abs(T_ab).max(initial=0.0)), float(np.abs(T_c).max(initial=0.0)), abs(v))
    while not feasible(hi):
        hi *= 2.0
    lo = 0.0
    if feasible(0.0):
        hi = 0.0
    for _ in range(iterations):
        if hi - lo <= 1e-15 * max(1.0, hi):
            break
        mid = 0.5 * (lo + hi)
        if feasible(mid):
            hi = mid
        else:
            lo = mid
    lo_pt, hi_pt, _, _ = corners(hi)
    A, B = np.array(lo_pt), np.array(hi_pt)

    def total(theta: float) -> float:
        P = (1 - theta) * A + theta * B
        return float(np.sum(P[:, 0] * P[:, 1]))

    a, b = 0.0, 1.0
    for _ in range(200):
        mid = 0.5 * (a + b)
        if total(mid) < v:
            a = mid
        else:
            b = mid
    P = (1 - b) * A + b * B
    s_vals, c_vals = P[:, 0].copy(), P[:, 1].copy()
    # absorb the bisection residue exactly in the largest-scale member
    q = int(np.argmax(s_vals))
    if s_vals[q] > 0:
        c_vals[q] += (v - float(np.sum(s_vals * c_vals))) / s_vals[q]
    cost = max(
        float(np.max(np.abs(np.outer(s_vals, u) - T_ab), initial=0.0)),
        float(np.max(np.abs(c_vals - T_c), initial=0.0)),
    )
    return cost, s_vals, c_vals


def _refine_parallel_splits(P_ab, P_c, G_ab, G_c, free_cost, free_choice, owner, ab, cc, costs) -> None:
    """Greedy moves of gamma's slots into / out of parallel groups (in place)."""
    W = G_ab.shape[0]
    p = P_ab.shape[0]
    norms = np.linalg.norm(P_ab, axis=1)
    units = P_ab / np.where(norms > 0, norms, 1.0)[:, None]
    vals = P_c * norms

    def group_eval(j: int, members: list[int]):
        if not members:
            return None
        if norms[j] == 0:  # a constant-free zero-direction neuron: nothing to split
            return None
        cost, s_vals, c_vals = parallel_group_cost(units[j], vals[j], G_ab[members], G_c[members])
        return cost, s_vals, c_vals

    def key(cst: FloatArray) -> tuple[float, float]:
        return (float(cst.max(initial=0.0)), float(cst.sum()))

    for _ in range(4 * W):
        current = key(costs)
        best_move = None
        for i in range(W):
            old = int(owner[i])
            for target in range(-1, p):
                if target == old:
                    continue
                if old >= 0 and np.count_nonzero(owner == old) == 1:
                    continue  # base neuron old would lose its last slot
                trial = costs.copy()
                new_owner = owner.copy()
                new_owner[i] = target
                updates = {}
                ok = True
                for j in {old, target} - {-1}:
                    members = [int(q) for q in np.flatnonzero(new_owner == j)]
                    res = group_eval(j, members)
                    if res is None:
                        ok = False
                        break
                    updates[j] = (members, res)
                    trial[members] = res[0]
                if not ok:
                    continue
                if target == -1:
                    trial[i] = free_cost[i]
                if key(trial) < current and (best_move is None or key(trial) < best_move[0]):
                    best_move = (key(trial), i, target, updates, trial)
        if best_move is None:
            return
        _, i, target, updates, trial = best_move
        owner[i] = target
        if target == -1:
            ab[i], cc[i] = free_choice[i]
        for j, (members, (_, s_vals, c_vals)) in updates.items():
            for q, sv, cv in zip(members, s_vals, c_vals):
                ab[q] = sv * units[j]
                cc[q] = cv
        costs[:] = trial
        # exact group costs after the witness fix-up
        for j, (members, _) in updates.items():
            for q in members:
                costs[q] = max(float(np.max(np.abs(ab[q] - G_ab[q]))), abs(cc[q] - G_c[q]))


# ---------------------------------------------------------------------------- plain search
@dataclasses.dataclass(frozen=True)
class ParameterDistance(ResultMixin):
    """Result of :func:`symmetric_parameter_distance` / :func:`restricted_parameter_distance`.

    Attributes
    ----------
    distance:
        The minimum found. For plain networks an **upper bound** on the distance from
        ``gamma`` to the nearest parametrization of ``R(phi)`` (module docstring); for two
        restricted networks the exact distance within the restricted set when ``exact``.
    exact:
        Whether ``distance`` is the exact infimum over the stated set (see ``method``).
    method:
        ``"symmetry-search"`` or ``"restricted"``.
    base:
        Name of the base representation that gave the minimum.
    searched:
        Names of all base representations tried.
    gamma, nearest:
        ``gamma`` (padded) and the parametrization of ``R(phi)`` attaining ``distance``
        (same architecture), so ``max|gamma - nearest| == distance`` can be checked.
    """

    distance: float
    exact: bool
    method: str
    base: str
    searched: tuple[str, ...]
    gamma: Any
    nearest: Any

    def __str__(self) -> str:
        kind = "exact" if self.exact else "upper bound"
        return f"parameter distance {self.distance:.6g} ({kind}, {self.method}, best base: {self.base})"


def _neurons(net: ReLUNetwork) -> tuple[FloatArray, FloatArray, float]:
    """``(AB, C, e)``: incoming ``(a, b)`` rows, outgoing ``c``, output bias."""
    return np.column_stack([net.weights[0], net.biases[0]]), net.weights[1][0].copy(), float(net.biases[1][0])


def _check_shallow(net: Any, what: str) -> ReLUNetwork:
    if isinstance(net, RestrictedShallowNetwork):
        raise InvalidNetwork(f"{what} is a RestrictedShallowNetwork; pass plain networks or two restricted ones")
    if not isinstance(net, ReLUNetwork):
        raise InvalidNetwork(f"{what} must be a ReLUNetwork; got {type(net).__name__}")
    if net.depth != 2 or net.output_dim != 1:
        raise InvalidNetwork(
            f"{what}: the parameter-distance search handles shallow scalar networks; got widths {net.widths}"
        )
    return net


def _pad(AB: FloatArray, C: FloatArray, width: int) -> tuple[FloatArray, FloatArray]:
    pad = width - AB.shape[0]
    return np.vstack([AB, np.zeros((pad, AB.shape[1]))]), np.concatenate([C, np.zeros(pad)])


def symmetric_parameter_distance(
    gamma: ReLUNetwork,
    phi: ReLUNetwork,
    domain: Any = None,
    *,
    use_degeneracy: bool = True,
    split_parallel: bool = True,
) -> ParameterDistance:
    """Max-norm distance from ``gamma`` to the nearest parametrization of ``R(phi)`` on the box
    found by symmetries and reductions (an upper bound on the true infimum; what is searched
    is listed in the module docstring).

    Parameters
    ----------
    gamma, phi:
        Shallow scalar-output networks with the same input dimension.
    domain:
        Box ``Omega`` (default ``[-1, 1]^d``).
    use_degeneracy:
        Also try ``reluscope.degeneracy.reduce(phi, domain)`` as a base representation.
    split_parallel:
        After the assignment, greedily move ``gamma`` neurons into *parallel groups*: several
        slots sharing the direction of one base neuron whose output weights add up to it
        (see :func:`parallel_group_cost`); a move is kept when it lowers (max cost, sum of
        costs) lexicographically.
    """
    gamma = _check_shallow(gamma, "gamma")
    phi = _check_shallow(phi, "phi")
    if gamma.input_dim != phi.input_dim:
        raise InvalidNetwork(f"gamma and phi need the same input dimension; got {gamma.input_dim} and {phi.input_dim}")
    d = gamma.input_dim
    lo, hi = box_bounds(domain, d)
    W = max(gamma.widths[1], phi.widths[1])
    G_ab, G_c, G_e = _neurons(gamma)
    G_ab, G_c = _pad(G_ab, G_c, W)

    bases: list[tuple[str, ReLUNetwork]] = [("phi", phi)]
    restricted = to_restricted(phi, _box(lo, hi))
    bases.append(("restricted-form", restricted.to_network(_box(lo, hi))))
    if use_degeneracy:
        try:
            from ..degeneracy import reduce as _reduce

            reduced = _reduce(phi, _box(lo, hi))
            if reduced.depth == 2:
                bases.append(("degeneracy.reduce", reduced))
        except ImportError:  # pragma: no cover - the module is part of the package
            pass

    # free-slot costs depend on gamma only
    free_cost = np.empty(W)
    free_choice: list[tuple[FloatArray, float]] = []
    for i in range(W):
        via_zero_c = float(abs(G_c[i]))
        if not np.any(G_ab[i] != 0) and G_c[i] != 0:
            dead, point = 0.0, G_ab[i].copy()  # (0, 0, c): relu(0) = 0, already dead
        else:
            dead, point = _dead_distance(G_ab[i], lo, hi)
        if via_zero_c <= dead:
            free_cost[i] = via_zero_c
            free_choice.append((G_ab[i].copy(), 0.0))
        else:
            free_cost[i] = dead
            free_choice.append((point, float(G_c[i])))

    best: tuple[float, str, ReLUNetwork] | None = None
    searched = []
    for name, base in bases:
        P_ab, P_c, P_e = _neurons(base)
        # drop exactly-zero neurons of the base: they become free slots
        keep = np.abs(P_ab).sum(axis=1) + np.abs(P_c) > 0
        P_ab, P_c = P_ab[keep], P_c[keep]
        if P_ab.shape[0] > W:
            continue
        searched.append(name)
        p = P_ab.shape[0]
        cost = np.empty((W, W))
        lams = np.ones((W, p))
        for i in range(W):
            for j in range(p):
                cost[i, j], lams[i, j] = optimal_rescaling(P_ab[j], P_c[j], G_ab[i], G_c[i])
            cost[i, p:] = free_cost[i]
        value, match = _bottleneck_assignment(cost)
        # neurons of the witness, slot by slot
        ab = np.zeros((W, d + 1))
        cc = np.zeros(W)
        owner = np.full(W, -1)  # base neuron realized (partly) by slot i, -1 for a free slot
        costs = np.zeros(W)
        for i in range(W):
            j = match[i]
            if j < p:
                ab[i] = lams[i, j] * P_ab[j]
                cc[i] = P_c[j] / lams[i, j]
                owner[i] = j
            else:
                ab[i], cc[i] = free_choice[i]
            costs[i] = cost[i, j]
        if split_parallel and p > 0:
            _refine_parallel_splits(P_ab, P_c, G_ab, G_c, free_cost, free_choice, owner, ab, cc, costs)
        value = max(float(costs.max(initial=0.0)), abs(G_e - P_e))
        if best is None or value < best[0]:
            nearest = ReLUNetwork([ab[:, :d], cc[None, :]], [ab[:, d], [P_e]])
            best = (value, name, nearest)
    assert best is not None  # the base 'phi' itself always fits in width W
    gamma_padded = ReLUNetwork([G_ab[:, :d], G_c[None, :]], [G_ab[:, d], [G_e]])
    return ParameterDistance(best[0], False, "symmetry-search", best[1], tuple(searched), gamma_padded, best[2])


def _box(lo: FloatArray, hi: FloatArray) -> Any:
    from ..domain import Box

    return Box(lo, hi)


# ---------------------------------------------------------------------------- restricted
def restricted_parameter_distance(
    gamma: RestrictedShallowNetwork,
    phi: RestrictedShallowNetwork | ReLUNetwork,
    domain: Any = None,
    *,
    max_flip_search: int = 10,
) -> ParameterDistance:
    """Distance, within the restricted set, from ``gamma`` to the restricted
    parametrizations of ``R(phi)`` on the box (parameters ``(a, b, c, w, e)``, max norm).

    ``phi`` is first brought to its restricted form (:func:`to_restricted`). Both are padded
    with unused slots to a common width. Searched exactly: all permutations (bottleneck
    assignment) and, when ``phi`` has at most ``max_flip_search`` used neurons, all
    orientations of its neurons (``v relu(<u,(x,1)>) = v relu(-<u,(x,1)>) + v <u,(x,1)>``);
    beyond that, orientations are improved greedily one neuron at a time (``exact=False``).
    Restricted representations of one function differ only by these moves, so with all
    orientations searched the result is the exact infimum over the restricted set.
    """
    if not isinstance(gamma, RestrictedShallowNetwork):
        gamma = _as_restricted_view(gamma)
    d = gamma.input_dim
    box = _box(*box_bounds(domain, d))
    target = to_restricted(phi, box)
    if target.input_dim != d:
        raise InvalidNetwork(f"gamma and phi need the same input dimension; got {d} and {target.input_dim}")
    W = max(gamma.width, target.width)
    G = gamma.padded(W)
    G_ab = np.column_stack([G.a, G.b])
    T_ab = np.column_stack([target.a, target.b])
    T_c = target.c
    k = target.width
    v = T_c * np.abs(T_c)  # v_j = c_j ||(a_j, b_j)||
    units = T_ab / np.maximum(np.abs(T_c), 1e-300)[:, None]

    def evaluate(flips: tuple[bool, ...]) -> tuple[float, RestrictedShallowNetwork]:
        ab = T_ab.copy()
        w = target.w.copy()
        e = float(target.e)
        for j, flip in enumerate(flips):
            if flip:  # v relu(z) = v relu(-z) + v z
                ab[j] = -ab[j]
                w += v[j] * units[j, :d]
                e += v[j] * units[j, d]
        cost = np.zeros((W, W))
        for i in range(W):
            for j in range(k):
                cost[i, j] = max(np.max(np.abs(ab[j] - G_ab[i])), abs(T_c[j] - G.c[i]))
            cost[i, k:] = max(np.max(np.abs(G_ab[i])), abs(G.c[i]))
        value, match = _bottleneck_assignment(cost)
        value = max(value, float(np.max(np.abs(w - G.w), initial=0.0)), abs(e - G.e))
        A = np.zeros((W, d))
        B = np.zeros(W)
        C = np.zeros(W)
        for i in range(W):
            j = match[i]
            if j < k:
                A[i], B[i], C[i] = ab[j, :d], ab[j, d], T_c[j]
        return value, RestrictedShallowNetwork(A, B, C, w, e)

    exact = k <= max_flip_search
    if exact:
        best = min((evaluate(f) for f in itertools.product((False, True), repeat=k)), key=lambda t: t[0])
    else:
        flips = [False] * k
        best = evaluate(tuple(flips))
        improved = True
        while improved:
            improved = False
            for j in range(k):
                flips[j] = not flips[j]
                trial = evaluate(tuple(flips))
                if trial[0] < best[0] - 1e-15:
                    best, improved = trial, True
                else:
                    flips[j] = not flips[j]
    return ParameterDistance(best[0], exact, "restricted", "restricted-form", ("restricted-form",), G, best[1])


# ---------------------------------------------------------------------------- the ratio
@dataclasses.dataclass(frozen=True)
class InverseStabilityRatio(ResultMixin):
    """Result of :func:`inverse_stability_ratio`.

    Attributes
    ----------
    parameter_distance:
        The searched distance (see :class:`ParameterDistance`; an upper bound for plain
        networks).
    function_lower, function_upper, function_exact:
        Bounds on ``||R(gamma) - R(phi)||`` from :mod:`reluscope.distance`.
    ratio:
        ``parameter_distance / sqrt(function distance)`` with the function distance's
        upper bound (equal to the lower bound when ``function_exact``); ``inf`` when the
        realizations agree (``nan`` when, in addition, the distance is 0).
    ratio_upper:
        ``parameter_distance / sqrt(function_lower)``: an upper bound on the true ratio
        (true parameter distance <= searched one, true norm >= its lower bound).
    ratio_lower:
        ``distance_lower_bound / sqrt(function_upper)`` when an analytic lower bound on the
        true parameter distance was given, else ``None``.
    """

    norm: str
    parameter_distance: float
    parameter_exact: bool
    method: str
    function_lower: float
    function_upper: float
    function_exact: bool
    ratio: float
    ratio_upper: float
    ratio_lower: float | None
    distance_lower_bound: float | None
    search: ParameterDistance

    def __str__(self) -> str:
        f = f"{self.function_upper:.6g}" if self.function_exact else f"[{self.function_lower:.6g}, {self.function_upper:.6g}]"
        lower = "" if self.ratio_lower is None else f", true ratio >= {self.ratio_lower:.6g}"
        kind = "exact" if self.parameter_exact else "searched upper bound"
        return (f"inverse-stability ratio ({self.norm}): {self.ratio:.6g} = {self.parameter_distance:.6g} ({kind}) "
                f"/ sqrt({f}){lower}")


def drop_null_neurons(net: ReLUNetwork) -> ReLUNetwork:
    """The same function everywhere without neurons that contribute nothing identically
    (``c_i = 0``, or ``(a_i, b_i) = 0`` so that ``relu(0) = 0``); at least one neuron is kept
    (a constant-negative one, if needed). Only used to hand the distance module a network
    without pre-activations that vanish identically."""
    if net.depth != 2:
        return net
    A, b, C = net.weights[0], net.biases[0], net.weights[1]
    keep = ((np.abs(A).sum(axis=1) + np.abs(b)) > 0) & (np.abs(C).sum(axis=0) > 0)
    if keep.all():
        return net
    if not keep.any():
        return ReLUNetwork([np.zeros((1, net.input_dim)), np.zeros((net.output_dim, 1))],
                           [np.array([-1.0]), net.biases[1]])
    return ReLUNetwork([A[keep], C[:, keep]], [b[keep], net.biases[1]])


def _safe_ratio(num: float, den: float) -> float:
    if den > 0:
        return num / math.sqrt(den)
    return math.nan if num == 0 else math.inf


def inverse_stability_ratio(
    gamma: ReLUNetwork | RestrictedShallowNetwork,
    phi: ReLUNetwork | RestrictedShallowNetwork,
    domain: Any = None,
    norm: str = "sobolev",
    *,
    distance_lower_bound: float | None = None,
    time_limit: float = 30.0,
    use_degeneracy: bool = True,
) -> InverseStabilityRatio:
    """``dist_sym(gamma, phi) / ||R(gamma) - R(phi)||^{1/2}`` on a box.

    Parameters
    ----------
    gamma, phi:
        Shallow scalar-output networks. Two plain :class:`ReLUNetwork` s: the parameter
        distance is :func:`symmetric_parameter_distance` (an upper bound on the infimum over
        all parametrizations of ``R(phi)``). A :class:`RestrictedShallowNetwork` ``gamma``:
        :func:`restricted_parameter_distance` (distance within the restricted set).
    domain:
        Box ``Omega`` (default ``[-1, 1]^d``).
    norm:
        ``"sobolev"`` (``W^{1,inf}``, :func:`reluscope.distance.sobolev_distance`) or
        ``"sup"`` (:func:`reluscope.distance.sup_distance`); both computed exactly (MILP)
        up to ``time_limit``, else reported as bounds. Neurons that vanish identically
        (``c_i = 0`` or ``(a_i, b_i) = 0``) are dropped before (the functions are unchanged).
    distance_lower_bound:
        An analytic lower bound on the true parameter distance (e.g.
        ``PathologyFamily.distance_lower_bound(n)``), giving ``ratio_lower``.
    time_limit:
        Seconds for the function distance.
    use_degeneracy:
        Passed to :func:`symmetric_parameter_distance`.
    """
    if norm not in ("sobolev", "sup"):
        raise InvalidNetwork(f"norm must be 'sobolev' or 'sup'; got {norm!r}")
    from .. import distance as _distance

    if isinstance(gamma, RestrictedShallowNetwork):
        d = gamma.input_dim
        box = _box(*box_bounds(domain, d))
        search = restricted_parameter_distance(gamma, phi, box)
        f_net = gamma.to_network(box)
        g_net = phi.to_network(box) if isinstance(phi, RestrictedShallowNetwork) else phi
    else:
        if isinstance(phi, RestrictedShallowNetwork):
            raise InvalidNetwork("gamma is a plain network but phi is restricted; convert phi with .to_network()")
        d = gamma.input_dim
        box = _box(*box_bounds(domain, d))
        search = symmetric_parameter_distance(gamma, phi, box, use_degeneracy=use_degeneracy)
        f_net, g_net = gamma, phi
    f_net, g_net = drop_null_neurons(f_net), drop_null_neurons(g_net)
    if norm == "sup":
        res = _distance.sup_distance(f_net, g_net, box, time_limit=time_limit)
    else:
        res = _distance.sobolev_distance(f_net, g_net, box, time_limit=time_limit)
    lower, upper = max(float(res.lower), 0.0), float(res.upper)
    ratio = _safe_ratio(search.distance, upper if math.isfinite(upper) else lower)
    ratio_upper = _safe_ratio(search.distance, lower)
    ratio_lower = None
    if distance_lower_bound is not None:
        ratio_lower = _safe_ratio(float(distance_lower_bound), upper) if math.isfinite(upper) else 0.0
    return InverseStabilityRatio(
        norm, float(search.distance), bool(search.exact), search.method, lower, upper, bool(res.exact),
        float(ratio), float(ratio_upper), ratio_lower,
        None if distance_lower_bound is None else float(distance_lower_bound), search,
    )
