"""The symmetric parameter distance ``dist_sym(Gamma, Phi)``, the numerator of the
inverse-stability ratio (:mod:`reluscope.stability.ratio`).

``dist_sym(Gamma, Phi)`` is the max-norm parameter distance from ``Gamma`` to the nearest
parametrization of ``R(Phi)`` on the box ``Omega``. The infimum over *all* such
parametrizations is not computable in general; this module computes the minimum over an
explicit, documented search space, which is an **upper bound** on it (so the ratio it
gives is an upper bound on the true ratio). For the pathology families the analytic
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
from typing import Any

import numpy as np

from .._results import ResultMixin
from .._validation import check_int, check_network
from ..degeneracy import reduce as _reduce
from ..domain import Box
from ..errors import InvalidNetwork
from ..network import ReLUNetwork
from .neuron_costs import (
    FloatArray,
    _bottleneck_assignment,
    _dead_distance,
    optimal_rescaling,
    parallel_group_cost,
)
from .restricted import RestrictedShallowNetwork, _as_restricted_view, box_bounds, to_restricted

__all__ = ["SymmetricParameterDistance", "symmetric_parameter_distance", "restricted_parameter_distance"]


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


@dataclasses.dataclass(frozen=True)
class SymmetricParameterDistance(ResultMixin):
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
    check_network(net, what)
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
) -> SymmetricParameterDistance:
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
    restricted = to_restricted(phi, Box(lo, hi))
    bases.append(("restricted-form", restricted.to_network(Box(lo, hi))))
    if use_degeneracy:
        reduced = _reduce(phi, Box(lo, hi))
        if reduced.depth == 2:
            bases.append(("degeneracy.reduce", reduced))

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
    return SymmetricParameterDistance(best[0], False, "symmetry-search", best[1], tuple(searched), gamma_padded, best[2])


# ---------------------------------------------------------------------------- restricted
def restricted_parameter_distance(
    gamma: RestrictedShallowNetwork,
    phi: RestrictedShallowNetwork | ReLUNetwork,
    domain: Any = None,
    *,
    max_flip_search: int = 10,
) -> SymmetricParameterDistance:
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
    max_flip_search = check_int(max_flip_search, "max_flip_search")
    if not isinstance(gamma, RestrictedShallowNetwork):
        gamma = _as_restricted_view(gamma)
    d = gamma.input_dim
    box = Box(*box_bounds(domain, d))
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
    return SymmetricParameterDistance(best[0], exact, "restricted", "restricted-form", ("restricted-form",), G, best[1])
