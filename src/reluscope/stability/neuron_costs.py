"""Exact costs of matching one neuron to another, used by the parameter-distance search
(:mod:`reluscope.stability.symmetric_distance`): the best positive rescaling of a pair,
the distance of a neuron to the cone of neurons dead on a box, the cost of realizing one
neuron by a group of parallel ones, and the bottleneck assignment of neurons to slots.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linprog
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from ..errors import SolverError

__all__ = ["optimal_rescaling", "parallel_group_cost"]

FloatArray = NDArray[np.float64]


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
