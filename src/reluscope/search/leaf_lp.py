"""Exact leaves: a subdomain on which no neuron is unstable is a polytope on which the
network is affine, so ``min max_j phi_j`` over it is a linear program (HiGHS via SciPy).

The LP's value is used as a proof only through a *dual certificate*: for multipliers
``mu >= 0`` (summing to 1) on the objective rows and ``nu >= 0`` on the split constraints,

    min over the box of  sum_j mu_j phi_j(x) - sum_i nu_i s_i z_i(x)

is a lower bound on ``min max_j phi_j`` over the subdomain (weak duality), for *any* such
multipliers; it is evaluated here in float64 with the outward rounding pad. HiGHS only
proposes ``mu`` and ``nu``. An infeasible LP (contradictory splits) is certified the same
way, by a positive lower bound on ``min_x max_i (-s_i z_i(x))``. The LP's primal point is a
counterexample candidate (clipped to the box; the caller evaluates it on the real network).
"""

from __future__ import annotations

import math

import numpy as np

from ..bounds import ROUNDING_PAD

__all__ = ["affine_preactivations", "split_constraints", "certified_min_max"]


def affine_preactivations(weights: list[np.ndarray], biases: list[np.ndarray], active: list[np.ndarray]
                          ) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(A_k, c_k)`` with ``z_k(x) = A_k x + c_k`` for every affine layer, when hidden
    layer ``k``'s neurons follow the fixed pattern ``active[k]`` (boolean)."""
    A, c = weights[0], biases[0]
    out = [(A, c)]
    for k in range(1, len(weights)):
        D = active[k - 1].astype(np.float64)
        A = weights[k] @ (D[:, None] * A)
        c = weights[k] @ (D * c) + biases[k]
        out.append((A, c))
    return out


def split_constraints(pieces: list[tuple[np.ndarray, np.ndarray]], offsets: np.ndarray, signs: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``(G, h)`` with ``G x + h >= 0`` the ReLU splits ``s_i z_i(x) >= 0`` of a subdomain
    (``signs``: one flat ``int8`` row over the hidden layers, which start at ``offsets``;
    ``pieces`` from :func:`affine_preactivations`)."""
    split = np.nonzero(signs)[0]
    d = pieces[0][0].shape[1]
    G = np.zeros((split.size, d))
    h = np.zeros(split.size)
    for r, flat in enumerate(split):
        k = int(np.searchsorted(offsets, flat, side="right") - 1)
        A_k, c_k = pieces[k]
        i = flat - offsets[k]
        G[r], h[r] = signs[flat] * A_k[i], signs[flat] * c_k[i]
    return G, h


def _dual_bound(P: np.ndarray, q: np.ndarray, mu: np.ndarray, G: np.ndarray, h: np.ndarray, nu: np.ndarray,
                lo: np.ndarray, hi: np.ndarray) -> float:
    """``min over [lo, hi]`` of ``mu (P x + q) - nu (G x + h)``, padded down (any
    ``mu >= 0`` summing to 1 and ``nu >= 0``)."""
    g = mu @ P - nu @ G
    const = mu @ q - nu @ h
    val = const + np.minimum(g * lo, g * hi).sum()
    big = np.maximum(np.abs(lo), np.abs(hi))
    mag = np.abs(mu) @ (np.abs(P) @ big + np.abs(q)) + np.abs(nu) @ (np.abs(G) @ big + np.abs(h))
    return float(val - ROUNDING_PAD * (1.0 + mag) - 1e3 * np.finfo(float).eps * (1.0 + mag) * P.shape[1])


def _solve(P: np.ndarray, q: np.ndarray, G: np.ndarray, h: np.ndarray, lo: np.ndarray, hi: np.ndarray,
           time_limit: float) -> tuple[str, float, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """``min t`` s.t. ``P x + q <= t``, ``G x + h >= 0``, ``lo <= x <= hi`` with HiGHS."""
    from scipy.optimize import linprog

    m, d = P.shape
    s = G.shape[0]
    A_ub = np.zeros((m + s, d + 1))
    A_ub[:m, :d] = P
    A_ub[:m, d] = -1.0
    A_ub[m:, :d] = -G
    b_ub = np.concatenate([-q, h])
    c = np.zeros(d + 1)
    c[d] = 1.0
    bounds = [(float(a), float(b)) for a, b in zip(lo, hi)] + [(None, None)]
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs",
                  options={"time_limit": max(time_limit, 1e-3), "presolve": True})
    if res.status == 2:
        return "infeasible", math.inf, None, None, None
    if res.status != 0 or res.x is None:
        return "failed", -math.inf, None, None, None
    marg = -np.asarray(res.ineqlin.marginals)  # HiGHS: <= 0 for <= rows of a minimization
    mu = np.clip(marg[:m], 0.0, None)
    nu = np.clip(marg[m:], 0.0, None)
    return "optimal", float(res.fun), np.clip(res.x[:d], lo, hi), mu, nu


def certified_min_max(P: np.ndarray, q: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                      G: np.ndarray | None = None, h: np.ndarray | None = None, *, time_limit: float = 10.0,
                      _loosened: bool = False) -> tuple[float, np.ndarray | None]:
    """A sound lower bound on ``min max_j (P_j x + q_j)`` over ``{lo <= x <= hi, G x + h >= 0}``
    (``+inf`` when the set is certified empty, ``-inf`` when nothing could be certified) and
    the LP's primal point (``None`` when there is none)."""
    d = P.shape[1]
    G = np.zeros((0, d)) if G is None else G
    h = np.zeros(0) if h is None else h
    status, _, x, mu, nu = _solve(P, q, G, h, lo, hi, time_limit)
    if status == "optimal":
        total = mu.sum()
        if total <= 0:
            return -math.inf, x
        return _dual_bound(P, q, mu / total, G, h, nu / total, lo, hi), x
    if status == "infeasible" and G.shape[0] and not _loosened:
        # emptiness: min_x max_i (-(G_i x + h_i)) > 0 means no x meets every constraint
        empty, _ = certified_min_max(-G, -h, lo, hi, time_limit=time_limit)
        if empty > 0:
            return math.inf, None
        # barely empty or lower-dimensional (HiGHS's tolerance): the LP of the constraints
        # loosened by tau has a larger feasible set, so its certified value is a bound too
        scale = 1.0 + np.abs(h) + np.abs(G) @ np.maximum(np.abs(lo), np.abs(hi))
        for tau in (1e-8, 1e-6):
            value, x = certified_min_max(P, q, lo, hi, G, h + tau * scale, time_limit=time_limit, _loosened=True)
            if math.isfinite(value):
                return value, x
    return -math.inf, None
