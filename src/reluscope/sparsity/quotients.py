"""Quotients by coordinate spaces inside ``L``: closedness of a component, solver-free.

If a group of terms sums to a coordinate space ``R^F`` (proved by the peeling of
:func:`reluscope.sparsity.peeling.full_space`), then ``R^F`` lies in ``L`` and ``L`` is closed
iff its projection zeroing ``F`` is; the projection is again a sum of term cones when every
other term projects to a rectangle or to a star forest. Nested pairs of rank-one terms are
rewritten first (Lemma 11). :func:`quotient_closed` takes such steps and then applies
solver-free leaf rules. Proofs: ``docs/background/closedness-decisions.md``, Lemmas 9–11.
Certificates built from these records are re-checked by :mod:`reluscope.sparsity.check`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from .._budget import Budget
from .peeling import full_space
from .terms import Entry, Term, _group_fixpoint, _make_term, _merge, _trim, split_components, width_two_rule

__all__ = ["quotient_steps", "quotient_closed"]

LEAF_PEEL_SECONDS = 0.2  # the solver-free peeling proofs inside a quotient step or leaf


def _star_forest(entries: frozenset[Entry]) -> list[tuple[tuple[int, ...], tuple[int, ...]]] | None:
    """Split ``entries`` into *stars* (one row x some columns, or some rows x one column)
    whose row sets and column sets are pairwise disjoint, or ``None`` if that is impossible.

    These are the connected components of the bipartite row-column graph of ``entries`` when
    each component is a star. Then ``{(u v^T)|_entries}`` is the whole ``R^entries``: the
    stars use disjoint variables, and a star in row ``i`` is matched by ``u_i = 1`` and
    ``v_j`` = the wanted values (a column star likewise).
    """
    rows: dict[int, set[int]] = {}
    cols: dict[int, set[int]] = {}
    for i, j in entries:
        rows.setdefault(i, set()).add(j)
        cols.setdefault(j, set()).add(i)
    out = []
    seen: set[Entry] = set()
    for i, j in sorted(entries):
        if (i, j) in seen:
            continue
        if len(rows[i]) > 1 and len(cols[j]) > 1:
            return None  # (i, j) joins a row with two entries and a column with two entries
        if len(rows[i]) > 1:  # row star: every column of it must have only this entry
            if any(len(cols[c]) > 1 for c in rows[i]):
                return None
            star = ((i,), tuple(sorted(rows[i])))
        else:
            if any(len(rows[r]) > 1 for r in cols[j]):
                return None
            star = (tuple(sorted(cols[j])), (j,))
        seen |= {(a, b) for a in star[0] for b in star[1]}
        out.append(star)
    return sorted(out)


def _project_term(q: Term, F: frozenset[Entry]) -> list[Term] | None:
    """``pi_F(K_q)`` as a list of terms: the trimmed rectangle (same rank) when the remainder
    is a rectangle, coordinate-subspace stars when it is a star forest, else ``None``."""
    t = _trim(q, F)
    if t is not None:
        return [t] if t.rows else []
    stars = _star_forest(q.support - F)
    if stars is None:
        return None
    return [_make_term(r, c, 1, q.neurons) for r, c in stars]


def _nested_split(s: Term, t: Term) -> list[Term] | None:
    """Lemma 11: two rank-one, non-subspace terms ``C_1 x R`` and ``C_2 x R`` with
    ``C_1 ⊊ C_2`` and ``|R| = 2`` sum to ``K(C_2 - C_1, R, 1) + R^(C_1 x R)`` (and the
    transpose). Returns those two terms, or ``None`` when the premise fails."""
    if s.rank != 1 or t.rank != 1 or s.subspace or t.subspace:
        return None
    for a, b in ((s, t), (t, s)):
        if a.cols == b.cols and set(a.rows) < set(b.rows) and len(a.cols) <= 2:
            d = sorted(set(b.rows) - set(a.rows))
            return [_make_term(d, a.cols, 1, b.neurons), _make_term(a.rows, a.cols, len(a.rows), a.neurons)]
        if a.rows == b.rows and set(a.cols) < set(b.cols) and len(a.rows) <= 2:
            d = sorted(set(b.cols) - set(a.cols))
            return [_make_term(a.rows, d, 1, b.neurons), _make_term(a.rows, a.cols, len(a.cols), a.neurons)]
    return None


def _nested_rewrite_pair(terms: Sequence[Term]) -> tuple[Term, Term] | None:
    for s, t in itertools.combinations(terms, 2):
        if _nested_split(s, t) is not None:
            return s, t
    return None


def _apply_nested_rewrite(terms: Sequence[Term], s: Term, t: Term) -> list[Term]:
    split = _nested_split(s, t)
    assert split is not None
    return _merge([q for q in terms if q != s and q != t] + split)


def _nested_rewrite(terms: Sequence[Term]) -> tuple[dict[str, Any], list[Term]] | None:
    """The first nested-pair rewriting of ``terms`` as ``(record, new terms)``, or ``None``."""
    pair = _nested_rewrite_pair(terms)
    if pair is None:
        return None
    return {"nested": [pair[0].to_list(), pair[1].to_list()]}, _apply_nested_rewrite(terms, *pair)


QUOTIENT_GROUP = 3  # largest group of terms whose sum is tested for being a coordinate space


def quotient_steps(terms: Sequence[Term], budget: Budget | None = None) -> tuple[list[Term], list[dict[str, Any]]]:
    """Repeatedly quotient out a coordinate space ``R^F`` contained in ``L`` (closedness only).

    A group ``G`` of at most ``QUOTIENT_GROUP`` terms whose sum is *proved* (by the solver-free
    peeling of :func:`full_space`) to be ``R^F``, ``F`` the union of its rectangles, gives
    ``R^F ⊆ L``; then ``L`` is closed iff ``pi_F(L)`` is (``pi_F`` zeroes ``F``), and
    ``pi_F(L)`` is the sum of the projections of the other terms. The step is taken when every
    other term projects to a rectangle (rank kept) or to a star forest (a sum of coordinate
    subspaces) and at least one of them changes. Proof: background page, Lemmas 9 and 10.

    Returns the final terms (merged) and one record per step
    ``{"group": [...], "free": [...]}``; with a ``budget``, the steps taken before it expired.
    """
    return _group_fixpoint(
        terms,
        "group",
        candidates=list,
        sizes=lambda n: range(1, min(QUOTIENT_GROUP, n - 1) + 1),
        project=_project_term,
        accept=lambda group: (len(group) == 1 and group[0].subspace)
        or full_space(group, time_limit=LEAF_PEEL_SECONDS, z3_leaf=0, budget=budget) is True,
        rewrite=_nested_rewrite,
        budget=budget,
    )


def _closed_leaf(comp: Sequence[Term], budget: Budget | None = None) -> str | None:
    """Solver-free closedness rules for one component: ``"class-cone"``, ``"width-2"`` or
    ``"full-space"`` (peeling only); ``None`` if none applies."""
    if len(comp) == 1:
        return "class-cone"
    if len(comp) == 2 and width_two_rule(*comp) is True:
        return "width-2"
    if full_space(comp, time_limit=LEAF_PEEL_SECONDS, z3_leaf=0, budget=budget) is True:
        return "full-space"
    return None


def quotient_closed(comp: Sequence[Term], budget: Budget | None = None) -> dict[str, Any] | None:
    """Closedness of a component by quotient steps followed by solver-free leaf rules.

    Returns a record ``{"quotient": steps, "parts": [{"terms": ..., "rule": ...}, ...]}`` when
    every component of the quotient is proved closed, else ``None`` (no conclusion)."""
    final, steps = quotient_steps(comp, budget)
    if not steps:
        return None
    parts = []
    for part in split_components(final):
        rule = _closed_leaf(part, budget)
        if rule is None:
            return None
        parts.append({"terms": [t.to_list() for t in part], "rule": rule})
    return {"quotient": steps, "parts": parts}

