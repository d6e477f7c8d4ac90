"""Reduction of a ReLU network to a smaller one with the same realization on a domain.

:func:`reduction` (and its shortcut :func:`reduce`) applies only rules whose premises are
proven by :func:`~reluscope.degeneracy.degeneracies` (see
``docs/background/symmetries.md`` for the proofs) and logs each one in a
:class:`NetworkReduction`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._budget import Budget
from .._results import ResultMixin
from .._validation import check_int, check_network, check_time_limit, check_tol
from ..bounds import affine_range, layer_bounds
from ..domain import Domain, PointSet, as_domain
from ..network import ReLUNetwork
from .status import DegeneracyReport, _pairs, degeneracies

__all__ = ["NetworkReduction", "reduction", "reduce"]


@dataclass(frozen=True)
class NetworkReduction(ResultMixin):
    """Result of :func:`reduction`.

    Attributes
    ----------
    network:
        The reduced network: same realization on the domain, never more neurons per layer.
    widths_before, widths_after:
        Architectures before and after.
    actions:
        One line per applied rule (``"layer 1: dropped dead neuron 3"``, ...), neuron indices
        referring to the network of the round in which the rule was applied.
    rounds:
        Number of analyse-and-reduce rounds performed (until nothing changes).
    report:
        The degeneracy report of the input network.
    """

    network: ReLUNetwork
    widths_before: tuple[int, ...]
    widths_after: tuple[int, ...]
    actions: tuple[str, ...]
    rounds: int
    report: DegeneracyReport = field(repr=False)

    @property
    def removed(self) -> int:
        """Number of hidden neurons removed."""
        return sum(self.widths_before[1:-1]) - sum(self.widths_after[1:-1])

    def to_dict(self) -> dict[str, Any]:
        return {
            "widths_before": list(self.widths_before),
            "widths_after": list(self.widths_after),
            "removed": self.removed,
            "actions": list(self.actions),
            "rounds": self.rounds,
            "report": self.report.to_dict(),
        }

    def __str__(self) -> str:
        head = (f"Reduction {self.widths_before} -> {self.widths_after} "
                f"({self.removed} hidden neuron(s) removed, {self.rounds} round(s))")
        return "\n".join([head] + [f"  {a}" for a in self.actions])


def _prefix_network(ws: list[np.ndarray], bs: list[np.ndarray], h: int, rows: np.ndarray | None = None
                    ) -> ReLUNetwork:
    """The first ``h - 1`` layers of the partially reduced network, ending at the
    pre-activations of hidden layer ``h - 1``, optionally followed (through its ReLU) by the
    linear forms ``rows`` of that layer's outputs."""
    weights, biases = list(ws[:h - 1]), list(bs[:h - 1])
    if rows is not None:
        weights.append(rows)
        biases.append(np.zeros(rows.shape[0]))
    return ReLUNetwork(weights, biases)


def _output_bounds(ws: list[np.ndarray], bs: list[np.ndarray], dom: Domain, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Valid bounds (exact for points) on the *inputs* of hidden layer ``h`` (outputs of layer
    ``h - 1``; the network input for ``h = 1``) of the current partially reduced network."""
    if isinstance(dom, PointSet):
        H = dom.points
        for k in range(h - 1):
            H = np.maximum(H @ ws[k].T + bs[k], 0.0)
        return H.min(axis=0), H.max(axis=0)
    lo, hi = dom.bounds(ws[0].shape[1])
    if h == 1:
        return lo, hi
    # the bound engine's linear tier (sound, never looser than interval arithmetic)
    zl, zh = layer_bounds(_prefix_network(ws, bs, h), dom, method="linear").output
    return np.maximum(zl, 0.0), np.maximum(zh, 0.0)


def _min_over_inputs(rows: np.ndarray, ws: list[np.ndarray], bs: list[np.ndarray], dom: Domain, h: int) -> np.ndarray:
    """Lower bound (exact on layer 1 and on point sets) of ``rows @ input`` for each row,
    over the inputs of hidden layer ``h``."""
    if isinstance(dom, PointSet):
        H = dom.points
        for k in range(h - 1):
            H = np.maximum(H @ ws[k].T + bs[k], 0.0)
        return (H @ rows.T).min(axis=0)
    lo, hi = dom.bounds(ws[0].shape[1])
    if h == 1:
        return affine_range(rows, np.zeros(rows.shape[0]), lo, hi)[0]
    # the linear forms as one more layer: back substitution bounds them as a whole
    return layer_bounds(_prefix_network(ws, bs, h, rows), dom, method="linear").output[0]


def _affine_pool(M: np.ndarray, rank_tol: float) -> tuple[int, np.ndarray, np.ndarray]:
    """Rank factorization ``M ≈ cols @ rows`` by SVD: returns (r, rows (r, n_in), cols (n_out, r))."""
    if M.size == 0 or not np.any(M):
        return 0, np.zeros((0, M.shape[1])), np.zeros((M.shape[0], 0))
    U, S, Vt = np.linalg.svd(M, full_matrices=False)
    r = int(np.sum(S > rank_tol * S[0]))
    sq = np.sqrt(S[:r])
    return r, Vt[:r] * sq[:, None], U[:, :r] * sq[None, :]


def _reduce_round(
    net: ReLUNetwork, dom: Domain, report: DegeneracyReport, parallel_tol: float, rank_tol: float
) -> tuple[ReLUNetwork, list[str]]:
    ws = [w.copy() for w in net.weights]
    bs = [b.copy() for b in net.biases]
    actions: list[str] = []
    n_hidden = net.depth - 1
    for h in range(1, n_hidden + 1):
        W, b, C = ws[h - 1], bs[h - 1], ws[h]
        b_next = bs[h].copy()
        n = W.shape[0]
        alive = np.ones(n, dtype=bool)
        st = report.layer(h)
        for i in range(n):
            if not C[:, i].any():
                alive[i] = False
                actions.append(f"layer {h}: dropped neuron {i} (zero outgoing weights)")
            elif st[i].dead is True:
                alive[i] = False
                actions.append(f"layer {h}: dropped neuron {i} (dead on the domain)")
            elif not W[i].any():
                b_next = b_next + C[:, i] * max(b[i], 0.0)
                alive[i] = False
                actions.append(f"layer {h}: folded constant neuron {i} (zero incoming weights) into the next bias")
        C = C.copy()
        # parallel neurons (algebraic, valid everywhere): merge into the first of each group
        idx = np.flatnonzero(alive)
        par, opp = _pairs(W[idx], b[idx], parallel_tol)
        norms = np.linalg.norm(np.concatenate([W, b[:, None]], axis=1), axis=1)
        for k, i in enumerate(idx):
            if not alive[i]:
                continue
            for kk in par[k]:
                j = idx[kk]
                if j > i and alive[j]:
                    C[:, i] += (norms[j] / norms[i]) * C[:, j]
                    alive[j] = False
                    actions.append(f"layer {h}: merged neuron {j} into parallel neuron {i}")
            if not C[:, i].any():
                alive[i] = False
                actions.append(f"layer {h}: dropped neuron {i} (merged outgoing weights cancel)")
        # always-active neurons and opposite pairs: pool the affine parts
        act = [i for i in np.flatnonzero(alive) if st[i].always_active is True]
        pairs: list[tuple[int, int]] = []
        used: set[int] = set(act)
        for k, i in enumerate(idx):
            if not alive[i] or i in used:
                continue
            for kk in opp[k]:
                j = int(idx[kk])
                if alive[j] and j not in used and j != i:
                    pairs.append((int(i), j))
                    used.update((int(i), j))
                    break

        def pool(with_pairs: bool) -> tuple[np.ndarray, np.ndarray]:
            M = np.zeros((C.shape[0], W.shape[1]))
            m0 = np.zeros(C.shape[0])
            for i in act:
                M += np.outer(C[:, i], W[i])
                m0 += C[:, i] * b[i]
            if with_pairs:
                for i, j in pairs:
                    t = norms[j] / norms[i]
                    M -= t * np.outer(C[:, j], W[i])
                    m0 -= t * C[:, j] * b[i]
            return M, m0

        best = None
        for with_pairs in (False, True):
            if with_pairs and not pairs:
                continue
            M, m0 = pool(with_pairs)
            r, rows, cols = _affine_pool(M, rank_tol)
            before = len(act) + (2 * len(pairs) if with_pairs else 0)
            after = r + (len(pairs) if with_pairs else 0)
            if after < before and (best is None or before - after > best[0]):
                best = (before - after, with_pairs, m0, rows, cols)
        new_rows = np.zeros((0, W.shape[1]))
        new_bias = np.zeros(0)
        new_cols = np.zeros((C.shape[0], 0))
        if best is not None:
            _, with_pairs, m0, rows, cols = best
            for i in act:
                alive[i] = False
            if with_pairs:
                for i, j in pairs:
                    C[:, i] += (norms[j] / norms[i]) * C[:, j]
                    alive[j] = False
                    actions.append(f"layer {h}: replaced opposite pair ({i}, {j}) by neuron {i} plus an affine part")
            if act:
                actions.append(f"layer {h}: replaced always-active neurons {act} by their affine part")
            # each new neuron rows[k] . input + beta_k must be >= 0 on the domain
            beta = np.maximum(0.0, -_min_over_inputs(rows, ws, bs, dom, h)) if rows.shape[0] else np.zeros(0)
            new_rows, new_bias, new_cols = rows, beta, cols
            b_next = b_next + m0 - cols @ beta
            actions.append(f"layer {h}: affine part represented by {rows.shape[0]} always-active neuron(s)")
        keep = np.flatnonzero(alive)
        W2 = np.concatenate([W[keep], new_rows], axis=0)
        b2 = np.concatenate([b[keep], new_bias])
        C2 = np.concatenate([C[:, keep], new_cols], axis=1)
        if W2.shape[0] == 0:  # a layer cannot be empty: keep one zero neuron
            W2 = np.zeros((1, W.shape[1]))
            b2 = np.zeros(1)
            C2 = np.zeros((C.shape[0], 1))
            actions.append(f"layer {h}: no neuron left; kept one zero neuron")
        ws[h - 1], bs[h - 1], ws[h], bs[h] = W2, b2, C2, b_next
    return ReLUNetwork(ws, bs), actions


def reduction(
    net: ReLUNetwork,
    domain: Domain | str | Any | None = None,
    *,
    time_limit: float = 10.0,
    parallel_tol: float = 1e-9,
    rank_tol: float = 1e-12,
    max_rounds: int = 5,
    seed: int | np.random.Generator = 0,
    budget: Budget | None = None,
) -> NetworkReduction:
    """Reduce ``net`` to a smaller network with the same realization on ``domain``, with a log.

    Rules, applied hidden layer by hidden layer and repeated (re-analysing the reduced
    network) until nothing changes or ``max_rounds`` is reached:

    1. drop neurons with zero outgoing weights, and neurons proven dead on the domain;
    2. a neuron with zero incoming weights outputs the constant ``relu(b)``: add
       ``c relu(b)`` to the next bias and drop it;
    3. parallel neurons ``(a_j, b_j) = t (a_i, b_i)``, ``t > 0``: ``relu(z_j) = t relu(z_i)``,
       so add ``t c_j`` to ``c_i`` and drop ``j`` (drop ``i`` too if the sum vanishes);
    4. the neurons proven always active are affine on the domain, and an opposite pair
       ``(a_j, b_j) = -t (a_i, b_i)`` equals ``(c_i + t c_j) relu(z_i) - t c_j z_i``; the
       affine parts ``M h + m0`` are pooled and rewritten with ``r = rank(M)`` neurons
       ``relu(v_k . h + beta_k)`` that stay active on the domain (``beta_k`` from a valid
       lower bound of ``v_k . h``) plus a next-bias correction; this is done only when it
       lowers the neuron count.

    Only dead / always-active statuses that are proven are used; undecided ones are left
    alone. The network never grows. Masks are not carried over (the result is dense).

    Parameters
    ----------
    net:
        The network (not modified).
    domain:
        Box, point set, ``"LO,HI"`` or ``None`` (``[-1, 1]^d``).
    time_limit:
        Seconds for the whole reduction, spent on MILPs for the deeper layers' statuses
        (see :func:`degeneracies`): the rounds share one budget, the first analysis gets
        60 % of it and each later round half of what is left (``0``: no MILP).
    parallel_tol:
        Tolerance of the parallel / opposite detection (normalized rows).
    rank_tol:
        Relative singular-value threshold of the pooled affine part.
    max_rounds:
        Maximum number of analyse-and-reduce rounds.
    seed:
        Seed of the witness points of :func:`degeneracies` (the same seed every round).
    budget:
        A caller's :class:`~reluscope._budget.Budget`: no round runs past it.

    Returns
    -------
    NetworkReduction
    """
    net = check_network(net)
    time_limit = check_time_limit(time_limit, allow_zero=True)
    rank_tol, max_rounds = check_tol(rank_tol, "rank_tol"), check_int(max_rounds, "max_rounds")
    dom = as_domain(domain, net.input_dim)
    # one budget for all rounds: the first analysis (of the given network, where proofs
    # matter most) gets 60 % of it, each later round half of what is left
    run = Budget.of(time_limit, budget)
    report0 = degeneracies(net, dom, time_limit=time_limit, parallel_tol=parallel_tol, seed=seed,
                           budget=run.share(0.6))
    current, report = net, report0
    actions: list[str] = []
    rounds = 0
    if net.depth == 1:
        return NetworkReduction(net.replace(masks=None), net.widths, net.widths, (), 0, report0)
    while rounds < max_rounds:
        rounds += 1
        new, acts = _reduce_round(current, dom, report, parallel_tol, rank_tol)
        if sum(new.hidden_widths) >= sum(current.hidden_widths):
            # nothing removed: keep the (unchanged-size) network only if the round changed nothing
            if sum(new.hidden_widths) == sum(current.hidden_widths) and not acts:
                break
            if sum(new.hidden_widths) > sum(current.hidden_widths):  # never happens; guard
                break
            # same size but bias folding etc. happened: accept once and stop
            current = new
            actions.extend(f"round {rounds}: {a}" for a in acts)
            break
        current = new
        actions.extend(f"round {rounds}: {a}" for a in acts)
        report = degeneracies(current, dom, time_limit=time_limit, parallel_tol=parallel_tol, seed=seed,
                              budget=run.share(0.5))
    if current is net:
        current = net.replace(masks=None)
    return NetworkReduction(current, net.widths, current.widths, tuple(actions), rounds, report0)


def reduce(
    net: ReLUNetwork,
    domain: Domain | str | Any | None = None,
    *,
    time_limit: float = 10.0,
    parallel_tol: float = 1e-9,
    rank_tol: float = 1e-12,
    max_rounds: int = 5,
    seed: int | np.random.Generator = 0,
    budget: Budget | None = None,
) -> ReLUNetwork:
    """A smaller network with the same realization on ``domain`` (never a larger one).

    Shortcut for ``reduction(net, domain, ...).network``; see :func:`reduction` for the rules
    and the log of what was removed or merged.

    Parameters
    ----------
    net:
        The network (not modified).
    domain:
        Box, point set, ``"LO,HI"`` or ``None`` (``[-1, 1]^d``).
    time_limit, parallel_tol, rank_tol, max_rounds, seed, budget:
        See :func:`reduction`.

    Returns
    -------
    ReLUNetwork
    """
    return reduction(net, domain, time_limit=time_limit, parallel_tol=parallel_tol, rank_tol=rank_tol,
                     max_rounds=max_rounds, seed=seed, budget=budget).network
