"""Dead / always-active questions of open neurons settled by the one branch and bound
(:mod:`reluscope.search`).

A hidden neuron ``i`` of hidden layer ``h`` is dead on a box iff ``max_x z_i(x) <= 0`` and
always active iff ``min_x z_i(x) >= 0``. Both are min-max problems over the sub-network that
ends at layer ``h`` (its last affine map gives ``z_h``): ``min_x phi(x)`` with
``phi = -z_i`` (dead iff the minimum is ``>= 0``) or ``phi = z_i`` (always active iff it is
``>= 0``). The search's global ``lower`` bound is sound, so ``lower >= 0`` is a proof; a
refutation is only ever a witness point whose ``z_i`` is re-evaluated on the real network
in float64 with the wrong sign. Anything else stays undecided.
"""

from __future__ import annotations

import numpy as np

from .._budget import Budget
from ..domain import Box
from ..network import ReLUNetwork
from ..search.attack import pgd_minimize
from ..search.crown import TorchNet
from ..search.network import search_network
from ..search.threads import torch_threads

__all__ = ["settle_by_search"]

#: a question gets at least this many seconds (a search that cannot even bound its root in
#: this time would not settle anything with less)
MIN_SECONDS_PER_QUESTION = 0.05


def _question(sub: ReLUNetwork, i: int, sign: float, box: Box, budget: Budget, rng: np.random.Generator):
    """``min over the box of sign * z_i``: the search's sound lower bound and its witness."""
    m = sub.widths[-1]
    C = np.zeros((1, m))
    C[0, i] = sign
    lo = np.broadcast_to(np.asarray(box.lo, dtype=np.float64), (sub.input_dim,)).copy()
    hi = np.broadcast_to(np.asarray(box.hi, dtype=np.float64), (sub.input_dim,)).copy()
    return search_network(sub, C, np.zeros(1), lo, hi, budget=budget, rng=rng, target=0.0)


def _refute(net: ReLUNetwork, box: Box, rows: list[list], h: int, i: int, which: int, X: np.ndarray) -> None:
    """Refute the open question ``which`` (4: dead, 5: always active) of neuron ``i`` of
    hidden layer ``h`` if a proposed point of the box has ``z_i`` of the wrong sign on the
    real network (float64)."""
    X = np.asarray(X, dtype=np.float64).reshape(-1, net.input_dim)
    X = X[box.contains(X)]
    if not len(X):
        return
    z = net.preactivations(X)[h - 1][:, i]
    row = rows[h - 1]
    if which == 4 and z.max() > 0:
        row[4][i] = False
        row[3][i] = row[3][i] or z.max() >= row[1][i]
    elif which == 5 and z.min() < 0:
        row[5][i] = False
        row[2][i] = row[2][i] or z.min() <= row[0][i]


def _attack(net: ReLUNetwork, box: Box, rows: list[list], questions: list, budget: Budget,
            rng: np.random.Generator) -> None:
    """Projected-gradient points for every open question, one cheap attack each: most
    open neurons of a large network are refuted by a point the random samples missed, and
    an attack costs far less than a search's root bounds."""
    lo, hi = (np.asarray(v, dtype=np.float64)[None] for v in box.bounds(net.input_dim))
    tnets: dict[int, TorchNet] = {}
    for h, i, which in questions:
        if budget.expired():
            return
        if h not in tnets:
            m = net.widths[h]
            tnets[h] = TorchNet(list(net.weights[:h]), list(net.biases[:h]), np.eye(m), np.zeros(m))
        sign = -1.0 if which == 4 else 1.0
        tnet = tnets[h]
        X = pgd_minimize(lambda X, t=tnet, i=i, s=sign: s * t.forward(X)[:, i:i + 1], lo, hi,
                         restarts=4, steps=30, rng=rng, budget=budget)
        _refute(net, box, rows, h, i, which, X)
        if rows[h - 1][which][i] is not None:
            rows[h - 1][6][i] = "search"


def settle_by_search(net: ReLUNetwork, box: Box, rows: list[list], budget: Budget,
                     rng: np.random.Generator) -> int:
    """Settle the open dead / always-active questions of ``rows`` (per hidden layer:
    ``[lower, upper, exact_lower, exact_upper, dead, act, method, ...]``, modified in place)
    within ``budget``, deeper layers last. Returns the number of questions settled."""
    questions = [(h, i, which) for h in range(2, len(rows) + 1) for which in (4, 5)
                 for i in range(rows[h - 1][0].size) if rows[h - 1][which][i] is None]
    # per layer, the questions closest to a proof first (the smallest bound of the wrong sign)
    questions.sort(key=lambda q: (q[0], rows[q[0] - 1][1][q[1]] if q[2] == 4 else -rows[q[0] - 1][0][q[1]]))
    with torch_threads(1):
        _attack(net, box, rows, questions, budget.share(0.25), rng)
    settled = sum(rows[h - 1][which][i] is not None for h, i, which in questions)
    questions = [(h, i, which) for h, i, which in questions if rows[h - 1][which][i] is None]
    subs: dict[int, ReLUNetwork] = {}
    for k, (h, i, which) in enumerate(questions):
        if budget.expired():
            break
        row = rows[h - 1]
        if row[which][i] is not None:  # refuted by an earlier question's points
            continue
        if h not in subs:
            subs[h] = ReLUNetwork(list(net.weights[:h]), list(net.biases[:h]))
        left = len(questions) - k
        share = budget.child(max(budget.remaining() / left, MIN_SECONDS_PER_QUESTION))
        sign = -1.0 if which == 4 else 1.0
        out = _question(subs[h], i, sign, box, share, rng)
        if out.witness is not None:
            _refute(net, box, rows, h, i, which, out.witness)
        if row[which][i] is None and np.isfinite(out.lower) and out.lower >= 0:
            # sound: sign * z_i >= out.lower >= 0 on the whole box
            if which == 4:
                row[1][i] = min(row[1][i], -out.lower)
                row[4][i] = True
            else:
                row[0][i] = max(row[0][i], out.lower)
                row[5][i] = True
        if row[which][i] is not None:
            settled += 1
            row[6][i] = "search"
    return settled
