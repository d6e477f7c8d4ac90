"""Points where two classifiers' top classes differ, searched inside a box.

Used by :func:`reluscope.distance.differential.top1_agreement` to *refute* agreement on a
box where the bound engine cannot prove it. Every point returned has been evaluated: the
two networks' ``numpy.argmax`` differ there, so a refutation is sound whatever the search
heuristics (which only decide where to look).

Why a boundary search: a network and its pruned copy usually change class at almost the
same place. Walking from the box centre (both say ``c``) to a point where one of them no
longer says ``c``, the two decision boundaries cross the segment at two slightly different
parameters ``t_f`` and ``t_g``; between them the networks disagree. Bisection finds both
crossings to machine precision, so even a very thin sliver of disagreement is found.
"""

from __future__ import annotations

import numpy as np

from .._budget import Budget
from ..network import ReLUNetwork

__all__ = ["find_disagreement"]


def _top(net: ReLUNetwork, X: np.ndarray) -> np.ndarray:
    return np.argmax(net(X), axis=1)


def _descend_margin(net: ReLUNetwork, c: int, lo: np.ndarray, hi: np.ndarray, steps: int,
                    budget: Budget) -> np.ndarray:
    """Projected sign-gradient descent of ``net_c - max_{j != c} net_j`` from the box centre;
    stops at the first point whose top class is not ``c``."""
    x = 0.5 * (lo + hi)
    step = 0.5 * (hi - lo)
    for _ in range(steps):
        out = net(x[None, :])[0]
        if int(np.argmax(out)) != c or budget.expired():
            break
        rival = out.copy()
        rival[c] = -np.inf
        j = int(np.argmax(rival))
        J, _ = net.local_affine(x)
        x = np.clip(x - step * np.sign(J[c] - J[j]), lo, hi)
        step = 0.8 * step
    return x


def _crossing(net: ReLUNetwork, c: int, x0: np.ndarray, x1: np.ndarray, iters: int) -> float | None:
    """A parameter ``t`` at which ``net``'s top class leaves ``c`` on ``x0 + t (x1 - x0)``
    (bisection between a point with top class ``c`` and one without), or ``None``."""
    if _top(net, x1[None, :])[0] == c:
        return None
    a, b = 0.0, 1.0
    for _ in range(iters):
        m = 0.5 * (a + b)
        if _top(net, (x0 + m * (x1 - x0))[None, :])[0] == c:
            a = m
        else:
            b = m
    return b


def find_disagreement(f: ReLUNetwork, g: ReLUNetwork, lo: np.ndarray, hi: np.ndarray,
                      budget: Budget, *, steps: int = 30, iters: int = 60) -> np.ndarray | None:
    """A point of the box ``[lo, hi]`` where ``argmax f != argmax g``, or ``None``.

    The search: from the centre (where both are assumed to agree on a class ``c``; if not,
    the centre itself is returned), descend each network's margin to leave class ``c``, then
    locate both networks' class changes on the segment by bisection and test points between
    and just past them. ``None`` proves nothing.
    """
    x0 = 0.5 * (lo + hi)
    c_f, c_g = _top(f, x0[None, :])[0], _top(g, x0[None, :])[0]
    if c_f != c_g:
        return x0
    c = int(c_f)
    for net in (f, g):
        if budget.expired():
            return None
        x1 = _descend_margin(net, c, lo, hi, steps, budget)
        ts = [t for t in (_crossing(f, c, x0, x1, iters), _crossing(g, c, x0, x1, iters)) if t is not None]
        if not ts:
            continue
        cand = [min(ts), max(ts), 0.5 * (min(ts) + max(ts)), 1.0]
        X = np.stack([x0 + t * (x1 - x0) for t in cand])
        X = np.clip(X, lo, hi)
        bad = np.nonzero(_top(f, X) != _top(g, X))[0]
        if bad.size:
            return X[int(bad[0])].copy()
    return None
