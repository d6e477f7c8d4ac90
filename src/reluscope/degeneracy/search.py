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
from ..search.network import search_network

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


def settle_by_search(net: ReLUNetwork, box: Box, rows: list[list], budget: Budget,
                     rng: np.random.Generator) -> int:
    """Settle the open dead / always-active questions of ``rows`` (per hidden layer:
    ``[lower, upper, exact_lower, exact_upper, dead, act, method, ...]``, modified in place)
    within ``budget``, deeper layers last. Returns the number of questions settled."""
    questions = [(h, i, which) for h in range(2, len(rows) + 1) for which in (4, 5)
                 for i in range(rows[h - 1][0].size) if rows[h - 1][which][i] is None]
    # per layer, the questions closest to a proof first (the smallest bound of the wrong sign)
    questions.sort(key=lambda q: (q[0], rows[q[0] - 1][1][q[1]] if q[2] == 4 else -rows[q[0] - 1][0][q[1]]))
    settled = 0
    subs: dict[int, ReLUNetwork] = {}
    for k, (h, i, which) in enumerate(questions):
        if budget.expired():
            break
        row = rows[h - 1]
        if row[which][i] is not None:
            continue
        if h not in subs:
            subs[h] = ReLUNetwork(list(net.weights[:h]), list(net.biases[:h]))
        left = len(questions) - k
        share = budget.child(max(budget.remaining() / left, MIN_SECONDS_PER_QUESTION))
        sign = -1.0 if which == 4 else 1.0
        out = _question(subs[h], i, sign, box, share, rng)
        w = None if out.witness is None else np.asarray(out.witness, dtype=np.float64).reshape(1, -1)
        if w is not None and box.contains(w).all():
            z = float(net.preactivations(w)[h - 1][0, i])  # the real network, float64
            if which == 4 and z > 0:
                row[4][i] = False
                row[3][i] = row[3][i] or z >= row[1][i]
            elif which == 5 and z < 0:
                row[5][i] = False
                row[2][i] = row[2][i] or z <= row[0][i]
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
