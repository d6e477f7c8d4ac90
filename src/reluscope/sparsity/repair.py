"""Mask repair: :func:`repair` adds a few mask entries after which the pattern is certified
closed (so the defects found are gone), and reports the cost.

The repair completes a *routing cover* (Lemma D6 of ``docs/background/deep-patterns.md``):
the greedy forest routes first-layer units to one output each; an entry ``(i, j)`` of the
path support it leaves uncovered is covered by allowing the weight from input ``j`` into a
first-layer unit already routed to output ``i`` (in the pattern and in the forest). The
verdict of the repaired pattern carries the ``routing-cover`` certificate of the completed
forest, which :func:`~reluscope.sparsity.verify` re-checks from scratch — the repair is
never taken on trust. When no forest can be completed, single missing entries are tried on
small patterns (each decided by :func:`~reluscope.sparsity.is_closed`).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from .._budget import Budget
from .._results import ResultMixin
from .._validation import check_int, check_time_limit
from .certificates import ClosednessVerdict
from .decide import is_closed
from .deep import collapse, out_forest, path_product
from .deep_decide import routing_certificate
from .terms import prune_deep
from .pattern import SparsityPattern, as_pattern

__all__ = ["RepairResult", "repair"]

#: The single-entry fallback tries at most this many missing entries.
MAX_SINGLE_CANDIDATES = 200


@dataclasses.dataclass(frozen=True)
class RepairResult(ResultMixin):
    """The repaired pattern, the mask entries added (``(layer, row, col)``, ``layer``
    1-based, ``W_layer[row, col]``), the verdict on the repaired pattern and on the original.

    ``cost`` is the number of entries added; ``seconds`` the wall-clock time.
    """

    pattern: SparsityPattern
    added: tuple[tuple[int, int, int], ...]
    verdict: ClosednessVerdict
    original: ClosednessVerdict
    removed: tuple[tuple[int, int, int], ...] = ()
    seconds: float = 0.0
    note: str = ""

    @property
    def cost(self) -> int:
        return len(self.added) + len(self.removed)

    def __str__(self) -> str:
        state = {True: "closed", False: "NOT closed", None: "undecided"}
        lines = [f"repair: {len(self.added)} mask entries added "
                 f"({self.pattern.n_allowed - len(self.added)} -> {self.pattern.n_allowed} allowed weights), "
                 f"L_I {state[self.original.closed]} -> {state[self.verdict.closed]} ({self.seconds:.3g} s)"]
        if self.added:
            shown = ", ".join(f"W_{l}[{i},{j}]" for l, i, j in self.added[:12])
            lines.append(f"  added: {shown}" + (f" ... (+{len(self.added) - 12})" if len(self.added) > 12 else ""))
        if self.note:
            lines.append(f"  {self.note}")
        return "\n".join(lines)


def complete_cover(masks: list[np.ndarray], rng: np.random.Generator, rounds: int
                   ) -> tuple[list[np.ndarray], list[np.ndarray], list[tuple[int, int, int]]] | None:
    """Entries of ``W_1`` completing ONE greedy routing forest into a routing cover.

    An uncovered entry ``(i, j)`` gets the weight from input ``j`` into a first-layer unit
    routed to ``i`` (added to the pattern and to the forest), preferring a unit whose other
    reachable outputs already have input ``j`` in their path support (then the path support
    does not grow). Entries that do enlarge it are covered in the next round, with the same
    forest. Returns ``(pattern masks, forest masks, added)``, or ``None`` when some output
    has no routed first-layer unit or ``rounds`` do not suffice."""
    forest, todo, routed = out_forest(masks, rng)
    masks = [np.array(m) for m in masks]
    by_output: dict[int, list[int]] = {}
    for u, i in routed.items():
        by_output.setdefault(i, []).append(u)
    added: list[tuple[int, int, int]] = []
    reach_out = path_product(masks[1:])
    for _ in range(rounds):
        if not todo.any():
            return masks, forest, added
        support = path_product(masks)
        for i, j in zip(*np.nonzero(todo)):
            units = by_output.get(int(i))
            if not units:
                return None
            quiet = [u for u in units if not (reach_out[:, u] & ~support[:, j]).any()]
            u = int((quiet or units)[0])
            if not masks[0][u, j]:
                masks[0][u, j] = True
                added.append((1, u, int(j)))
            forest[0][u, j] = True
        todo = path_product(masks) & ~path_product(forest)
    return None


def _single_entries(pattern: SparsityPattern, budget: Budget, seed: int, rounds: int,
                   note: str) -> tuple[SparsityPattern, list[tuple[int, int, int]], str]:
    """Greedy fallback for small patterns: try each missing entry of the pruned units (the
    units on some path) and keep the first whose pattern is decided closed; repeat while the
    pattern is not closed. The decisions use a small share of the budget each."""
    added: list[tuple[int, int, int]] = []
    for _ in range(rounds):
        current = is_closed(pattern, time_limit=max(min(1.0, budget.remaining()), 1e-3), seed=seed, budget=budget)
        if current.closed is True:
            return pattern, added, ""
        alive = [np.ones(w, bool) for w in pattern.widths]
        kept = prune_deep(pattern)[1]
        for l in range(1, len(alive) - 1):
            alive[l][:] = False
            alive[l][list(kept[l])] = True
        candidates = [(l + 1, i, j) for l, m in enumerate(pattern.masks) for i, j in zip(*np.nonzero(~m))
                      if alive[l + 1][i] and alive[l][j]]
        if len(candidates) > MAX_SINGLE_CANDIDATES:
            return pattern, added, note + f"; {len(candidates)} missing entries: too many to try one by one"
        for l, i, j in candidates:
            if budget.expired():
                return pattern, added, note + "; out of time trying single entries"
            masks = [np.array(m) for m in pattern.masks]
            masks[l - 1][i, j] = True
            trial = SparsityPattern(masks)
            v = is_closed(trial, time_limit=max(min(0.5, budget.remaining()), 1e-3), seed=seed, budget=budget)
            if v.closed is True:
                return trial, added + [(l, int(i), int(j))], ""
        return pattern, added, note + "; no single missing entry makes the pattern certified closed"
    return pattern, added, note


def repair(pattern: SparsityPattern | Any, *, time_limit: float = 30.0, max_rounds: int = 20,
           seed: int = 0) -> RepairResult:
    """Add mask entries so that ``L_I`` is certified closed.

    Parameters
    ----------
    pattern:
        The pattern (or masks / text notation / a network with masks).
    time_limit:
        Seconds for the whole repair: the decision on the original, the cover rounds and the
        decision on the repaired pattern.
    max_rounds:
        Cover rounds at most (each may add entries).
    seed:
        Seed of the greedy cover.

    Returns
    -------
    RepairResult
        ``.pattern`` (repaired), ``.added`` (entries), ``.verdict`` (on the repaired pattern,
        with a certificate :func:`~reluscope.sparsity.verify` re-checks), ``.original``.
        Nothing is added when the original is already closed; when the cover cannot be
        completed the result says so and ``.verdict`` is whatever the decision proves.
    """
    time_limit = check_time_limit(time_limit)
    max_rounds = check_int(max_rounds, "max_rounds", minimum=1)
    pattern = as_pattern(pattern)
    budget = Budget(time_limit)
    start = time.perf_counter()
    original = is_closed(pattern, time_limit=max(0.4 * time_limit, 1e-3), seed=seed, budget=budget)
    if original.closed is True:
        return RepairResult(pattern, (), original, original, seconds=time.perf_counter() - start,
                            note="already closed: nothing to add")
    if pattern.n_factors < 2:
        return RepairResult(pattern, (), original, original, seconds=time.perf_counter() - start)
    masks = [np.array(m) for m in pattern.masks]
    added: list[tuple[int, int, int]] = []
    note = ""
    completed = complete_cover(masks, np.random.default_rng(seed), max_rounds)
    verdict = None
    if completed is not None:
        new_masks, forest, added = completed
        repaired = SparsityPattern(new_masks)
        cover = SparsityPattern(forest)
        cover_col = collapse(cover)
        if cover_col.collapsed.n_factors == 1 and np.array_equal(cover.path_support(), repaired.path_support()):
            cert = routing_certificate(repaired, cover, cover_col)
            verdict = ClosednessVerdict(
                True, "reductions", time.perf_counter() - start, cert,
                f"routing cover completed by {len(added)} added entries: a sub-pattern of {cover.n_allowed} weights "
                "with the same path support collapses to one factor, so L_I is the coordinate subspace on it")
    else:
        repaired = pattern
        note = "the routing cover cannot be completed by first-layer entries"
        repaired, added, note = _single_entries(repaired, budget, seed, max_rounds, note)
    if verdict is None:
        verdict = is_closed(repaired, time_limit=max(budget.remaining(), 1e-3), seed=seed, budget=budget)
    if verdict.closed is not True and not note:
        note = "the repaired pattern was not certified closed within the time limit"
    return RepairResult(repaired, tuple(added), verdict, original, seconds=time.perf_counter() - start, note=note)
