"""Term algebra of two-factor patterns and the exact reductions of a pattern to terms.

Two factors (``W_1`` mask of shape ``(H, N_0)``, ``W_2`` mask of shape ``(N_2, H)``): hidden
neuron ``k`` has the rectangle ``S_k = C_k x R_k`` and ``L_I = sum_k V_k``. The exact
reductions (proved in ``docs/background/closedness-decisions.md``):

1. **drop** neurons with an empty rectangle (they contribute ``{0}``);
2. **merge** neurons with identical rectangles into a :class:`Term`: the closed cone of
   matrices of rank ``<= r`` supported on the rectangle (``r`` = number of neurons, capped
   by the rectangle's sides). A term whose rank reaches a side is a coordinate *subspace*;
3. **absorb** subspace terms: if ``R^F`` (``F`` = union of the rectangles of some subspace
   terms) lies in ``L_I`` and every other rectangle minus ``F`` is again a rectangle, then
   ``L_I`` is closed iff its projection zeroing ``F`` is, and that projection is the ``L`` of
   the trimmed rectangles (repeat, re-merging);
4. **split** into components with pairwise disjoint supports (direct sum).

:func:`reduce_two_factor` runs steps 1–4 and returns a :class:`PatternReduction`. Deep
patterns (three or more factors) are reduced by :func:`prune_deep` (hidden units without
incoming or outgoing allowed weights removed, exact). Also here: the exact pair rules on
terms (:func:`no_cancellation`, :func:`width_two_rule`) and :func:`component_pattern`.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from .._budget import Budget
from ..errors import InvalidPattern
from .pattern import SparsityPattern

__all__ = [
    "Entry",
    "Term",
    "PatternReduction",
    "support_terms",
    "absorb_subspaces",
    "split_components",
    "reduce_two_factor",
    "no_cancellation",
    "width_two_rule",
    "component_pattern",
    "prune_deep",
]

Entry = tuple[int, int]


# ---------------------------------------------------------------------------------- terms
@dataclasses.dataclass(frozen=True, order=True)
class Term:
    """A class cone: matrices of rank ``<= rank`` supported on ``rows x cols``.

    ``neurons`` are the hidden neurons (of the original pattern) whose rank-one terms make
    up the cone; ``len(neurons) >= rank``.
    """

    rows: tuple[int, ...]
    cols: tuple[int, ...]
    rank: int
    neurons: tuple[int, ...]

    @property
    def subspace(self) -> bool:
        """Whether the cone is the whole coordinate subspace on its rectangle."""
        return self.rank >= min(len(self.rows), len(self.cols))

    @functools.cached_property
    def support(self) -> frozenset[Entry]:
        # cached: the candidate searches ask for it hundreds of thousands of times
        return frozenset((i, j) for i in self.rows for j in self.cols)

    def overlaps(self, other: Term) -> bool:
        return bool(set(self.rows) & set(other.rows)) and bool(set(self.cols) & set(other.cols))

    def to_list(self) -> list[Any]:
        return [list(self.rows), list(self.cols), self.rank, list(self.neurons)]


def _make_term(rows: Any, cols: Any, rank: int, neurons: Any) -> Term:
    rows, cols = tuple(sorted(set(rows))), tuple(sorted(set(cols)))
    return Term(rows, cols, min(int(rank), len(rows), len(cols)), tuple(sorted(neurons)))


def _merge(terms: Sequence[Term]) -> list[Term]:
    """Drop empty terms and merge terms with identical rectangles (ranks add, capped)."""
    groups: dict[tuple, list[Term]] = {}
    for t in terms:
        if t.rows and t.cols and t.rank > 0:
            groups.setdefault((t.rows, t.cols), []).append(t)
    out = [
        _make_term(r, c, sum(t.rank for t in ts), [n for t in ts for n in t.neurons]) for (r, c), ts in groups.items()
    ]
    return sorted(out)


def _two_factor_masks(pattern: SparsityPattern | Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(pattern, SparsityPattern):
        masks = pattern.masks
    else:
        masks = [np.asarray(m, dtype=bool) for m in pattern]
    if len(masks) != 2:
        raise InvalidPattern(f"expected a two-factor pattern, got {len(masks)} factors")
    w1, w2 = np.asarray(masks[0], dtype=bool), np.asarray(masks[1], dtype=bool)
    if w2.shape[1] != w1.shape[0]:
        raise InvalidPattern(f"W_2 mask of shape {w2.shape} does not chain with W_1 mask of shape {w1.shape}")
    return w1, w2


def support_terms(w1: np.ndarray, w2: np.ndarray) -> list[Term]:
    """Steps 1–2: the nonempty rectangles ``C_k x R_k`` merged into class cones.

    Parameters
    ----------
    w1, w2:
        Boolean masks of ``W_1`` ``(H, N_0)`` and ``W_2`` ``(N_2, H)``.
    """
    w1, w2 = np.asarray(w1, dtype=bool), np.asarray(w2, dtype=bool)
    terms = []
    for k in range(w1.shape[0]):
        rows = np.nonzero(w2[:, k])[0].tolist()
        cols = np.nonzero(w1[k])[0].tolist()
        if rows and cols:
            terms.append(_make_term(rows, cols, 1, [k]))
    return _merge(terms)


def _trim(term: Term, free: frozenset[Entry]) -> Term | None:
    """``term`` restricted to its rectangle minus ``free`` if that is a (possibly empty)
    rectangle, else ``None``. An empty result is returned as a term with rank 0."""
    rest = term.support - free
    if len(rest) == len(term.support):
        return term
    rows = {i for i, _ in rest}
    cols = {j for _, j in rest}
    if len(rest) != len(rows) * len(cols):
        return None
    if not rest:
        return Term((), (), 0, term.neurons)
    return _make_term(rows, cols, term.rank, term.neurons)


# a term's projection after zeroing the entries F: the new term(s), or None (no step)
Projection = Callable[[Term, frozenset[Entry]], list[Term] | None]


def _trim_projection(term: Term, free: frozenset[Entry]) -> list[Term] | None:
    """:func:`_trim` as a projection for :func:`_group_fixpoint` (an empty rectangle is kept
    as a rank-0 term, which ``_merge`` drops)."""
    t = _trim(term, free)
    return None if t is None else [t]


def _project_rest(
    terms: Sequence[Term],
    group: tuple[Term, ...],
    free: frozenset[Entry],
    project: Projection,
    require_change: bool = True,
) -> list[Term] | None:
    """The projections of the terms outside ``group`` (concatenated), or ``None`` when one of
    them has no projection or, with ``require_change``, when none of them changes."""
    new: list[Term] = []
    touched = False
    for q in terms:
        if q in group:
            continue
        proj = project(q, free)
        if proj is None:
            return None
        touched = touched or proj != [q]
        new += proj
    return new if touched or not require_change else None


def _group_fixpoint(
    terms: Sequence[Term],
    key: str,
    candidates: Callable[[list[Term]], list[Term]],
    sizes: Callable[[int], Iterable[int]],
    project: Projection,
    accept: Callable[[tuple[Term, ...]], bool] | None = None,
    rewrite: Callable[[list[Term]], tuple[dict[str, Any], list[Term]] | None] | None = None,
    budget: Budget | None = None,
) -> tuple[list[Term], list[dict[str, Any]]]:
    """Group steps to a fixpoint: the driver of :func:`absorb_subspaces` and :func:`quotient_steps`.

    Each round first tries ``rewrite(terms)`` (a ``(record, new terms)`` pair, or ``None``).
    Otherwise it takes the first group ``G`` (``itertools.combinations`` of
    ``candidates(terms)`` for each size in ``sizes(len(candidates))``, in that order) such that
    every other term ``q`` has a projection ``project(q, F)`` (``F`` the union of the
    rectangles of ``G``), at least one of them changes, and ``accept(G)`` holds; it records
    ``{key: G, "free": F}`` and goes on with the merged projections. It stops when no group
    applies, or, keeping the steps taken, when ``budget`` has expired before a group is tried.
    """
    terms = _merge(terms)
    steps: list[dict[str, Any]] = []
    while True:
        if rewrite is not None:
            rewritten = rewrite(terms)
            if rewritten is not None:
                record, terms = rewritten
                steps.append(record)
                continue
        pool = candidates(terms)
        for group in (g for size in sizes(len(pool)) for g in itertools.combinations(pool, size)):
            if budget is not None and budget.expired():
                return terms, steps
            free = _union(group)
            new = _project_rest(terms, group, free, project)
            if new is not None and (accept is None or accept(group)):
                steps.append({key: [g.to_list() for g in group], "free": sorted([list(e) for e in free])})
                terms = _merge(new)
                break
        else:
            return terms, steps


def absorb_subspaces(terms: Sequence[Term], max_group: int = 4) -> tuple[list[Term], list[dict[str, Any]]]:
    """Step 3: repeatedly quotient out coordinate subspaces ``R^F`` contained in ``L``.

    A group ``G`` of subspace terms is absorbed when every other term's rectangle minus
    ``F = union of G's rectangles`` is again a rectangle (possibly empty). Groups are tried
    by increasing size (singletons first, at most ``max_group`` terms, then all subspace
    terms at once), in a deterministic order.

    Returns
    -------
    terms, steps:
        The remaining terms (pairwise distinct rectangles, none absorbed) and one record
        per absorption: ``{"absorbed": [...], "free": [...]}``.
    """
    return _group_fixpoint(
        terms,
        "absorbed",
        candidates=lambda ts: [t for t in ts if t.subspace],
        sizes=lambda n: [*range(1, min(max_group, n) + 1), *([n] if n > max_group else [])],
        project=_trim_projection,
    )


def split_components(terms: Sequence[Term]) -> list[list[Term]]:
    """Step 4: groups of terms connected by overlapping rectangles (direct summands).

    Two rectangles overlap iff their supports intersect, so the groups are built by merging
    supports (a few terms per pattern: plain set operations, no graph library call on the
    hot path of every decision)."""
    groups: list[tuple[frozenset[Entry], list[Term]]] = []
    for t in terms:
        hit = [g for g in groups if g[0] & t.support]
        keep = [g for g in groups if not g[0] & t.support]
        support = t.support.union(*(g[0] for g in hit))
        groups = keep + [(support, [t] + [q for g in hit for q in g[1]])]
    return sorted((sorted(g[1]) for g in groups), key=lambda g: g[0])


@dataclasses.dataclass(frozen=True)
class PatternReduction:
    """Result of steps 1–4 on a two-factor pattern (not to be confused with
    :class:`reluscope.degeneracy.NetworkReduction`, which removes neurons of a network)."""

    widths: tuple[int, ...]
    dropped: tuple[int, ...]
    steps: tuple[dict[str, Any], ...]
    components: tuple[tuple[Term, ...], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "widths": list(self.widths),
            "dropped": list(self.dropped),
            "steps": list(self.steps),
            "components": [[t.to_list() for t in comp] for comp in self.components],
        }


def reduce_two_factor(pattern: SparsityPattern | Sequence[Any]) -> PatternReduction:
    """Steps 1–4 (drop, merge, absorb, split) on a two-factor pattern; deterministic."""
    w1, w2 = _two_factor_masks(pattern)
    dropped = tuple(k for k in range(w1.shape[0]) if not w1[k].any() or not w2[:, k].any())
    terms, steps = absorb_subspaces(support_terms(w1, w2))
    comps = split_components(terms)
    return PatternReduction((w1.shape[1], w1.shape[0], w2.shape[0]), dropped, tuple(steps), tuple(tuple(c) for c in comps))


def no_cancellation(terms: Sequence[Term]) -> tuple[bool, tuple[Term, Term, Entry] | None]:
    """Exact decision of the no-cancellation criterion for class cones.

    ``sum_P N_P = 0`` with ``N_P`` in the (nonempty) class cones forces every ``N_P = 0``
    iff the rectangles are pairwise disjoint: a shared entry ``(i, j)`` gives the
    cancellation ``e_i e_j^T - e_i e_j^T``; disjoint rectangles separate the entries.
    Returns ``(True, None)`` or ``(False, (P, Q, (i, j)))`` with a witness.
    """
    for a, b in itertools.combinations(terms, 2):
        shared = sorted(a.support & b.support)
        if shared:
            return False, (a, b, shared[0])
    return True, None


# ---------------------------------------------------------------------------------- width 2
def width_two_rule(s: Term, t: Term) -> bool | None:
    """Closedness of ``V_s + V_t`` for two rank-one terms with overlapping rectangles.

    Not closed iff (1) one rectangle has both a row and a column the other lacks, or
    (2) they share at least two rows and each has a column the other lacks, or (3) the
    transpose of (2). Returns ``None`` when the premises (two overlapping, distinct,
    rank-one terms) do not hold. Proof: ``docs/background/closedness-decisions.md``.
    """
    if s.rank != 1 or t.rank != 1 or not s.overlaps(t) or (s.rows, s.cols) == (t.rows, t.cols):
        return None
    c1, r1, c2, r2 = set(s.rows), set(s.cols), set(t.rows), set(t.cols)
    e1r, e2r, e1c, e2c = c1 - c2, c2 - c1, r1 - r2, r2 - r1
    if (e1r and e1c) or (e2r and e2c):
        return False
    if len(c1 & c2) >= 2 and e1c and e2c:
        return False
    if len(r1 & r2) >= 2 and e1r and e2r:
        return False
    return True



def _rank_pieces(terms: Sequence[Term]) -> list[tuple[Term, int]]:
    return [(t, r) for t in terms for r in range(t.rank)]



def _union(terms: Sequence[Term]) -> frozenset[Entry]:
    return frozenset().union(*(t.support for t in terms)) if terms else frozenset()



def component_pattern(comp: Sequence[Term]) -> tuple[SparsityPattern, tuple[int, ...], tuple[int, ...]]:
    """The two-factor pattern of a component: one hidden neuron per rank-one piece, on the
    component's rows and columns. Returns ``(pattern, rows, cols)``."""
    rows = tuple(sorted({i for t in comp for i in t.rows}))
    cols = tuple(sorted({j for t in comp for j in t.cols}))
    ri = {i: n for n, i in enumerate(rows)}
    ci = {j: n for n, j in enumerate(cols)}
    pieces = _rank_pieces(comp)
    w1 = np.zeros((len(pieces), len(cols)), dtype=bool)
    w2 = np.zeros((len(rows), len(pieces)), dtype=bool)
    for k, (t, _) in enumerate(pieces):
        for j in t.cols:
            w1[k, ci[j]] = True
        for i in t.rows:
            w2[ri[i], k] = True
    return SparsityPattern([w1, w2]), rows, cols



def prune_deep(pattern: SparsityPattern) -> tuple[SparsityPattern, list[tuple[int, ...]]]:
    """Remove hidden units with no allowed incoming or no allowed outgoing weight, repeatedly
    (exact: such a unit contributes nothing to any product). Returns the pruned pattern and
    the kept units per layer. Layers that would become empty keep one (all-zero) unit."""
    masks = [np.array(m) for m in pattern.masks]
    keep = [list(range(w)) for w in pattern.widths]
    changed = True
    while changed:
        changed = False
        for l in range(1, len(masks)):
            inc = masks[l - 1].any(axis=1)
            out = masks[l].any(axis=0)
            alive = np.nonzero(inc & out)[0]
            if len(alive) == masks[l - 1].shape[0]:
                continue
            if len(alive) == 0:
                if masks[l - 1].shape[0] == 1:
                    continue  # already collapsed to one dead unit
                alive = np.array([0])
                masks[l - 1][0] = False
                masks[l][:, 0] = False
            masks[l - 1] = masks[l - 1][alive]
            masks[l] = masks[l][:, alive]
            keep[l] = [keep[l][a] for a in alive]
            changed = True
    return SparsityPattern(masks), [tuple(k) for k in keep]



def _jsonish(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_jsonish(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonish(v) for k, v in value.items()}
    if isinstance(value, (np.integer,)):
        return int(value)
    return value

