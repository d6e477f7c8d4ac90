"""Whole-space proofs by peeling: is a sum of term cones the coordinate space ``R^U``?

A sum of term cones that equals the whole coordinate space ``R^U`` on the union ``U`` of its
rectangles is closed. :func:`full_space` proves it by *peeling* (remove a coordinate block
``R^F`` lying in one term's cone and recurse on the trimmed rest, solver-free), with small
leaves settled by a universal-existential Z3 sentence run under the hard limit of
:func:`reluscope.sparsity.qe.run_with_limit`. Proofs: ``docs/background/closedness-decisions.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._budget import Budget
from .qe import run_with_limit
from .terms import Entry, Term, _make_term, _merge, _project_rest, _rank_pieces, _trim_projection, _union

__all__ = ["full_space"]

LEAF_RLIMIT = 1_500_000  # Z3 resource limit of one whole-space leaf sentence
MAX_LEAVES = 3  # Z3 leaf sentences per whole-space proof
LEAF_SECONDS = 2.0  # longest Z3 leaf sentence


def _full_space_status(terms: list[list[Any]], timeout_ms: int, rlimit: int = LEAF_RLIMIT) -> str:
    import z3

    ts = [_make_term(*t) for t in terms]
    free: set[Entry] = set()
    for t in ts:
        if t.subspace:
            free |= t.support
    U = sorted(set().union(*(t.support for t in ts)) - free)
    if not U:
        return "sat"
    X = {e: z3.Real(f"x_{e[0]}_{e[1]}") for e in U}
    expr: dict[Entry, list[Any]] = {e: [] for e in U}
    W = []
    for n, (t, _) in enumerate(_rank_pieces([t for t in ts if not t.subspace])):
        u = {i: z3.Real(f"u{n}_{i}") for i in t.rows}
        v = {j: z3.Real(f"v{n}_{j}") for j in t.cols}
        W += list(u.values()) + list(v.values())
        for i in t.rows:
            for j in t.cols:
                if (i, j) in X:
                    expr[(i, j)].append(u[i] * v[j])
    body = z3.And([z3.Sum(expr[e]) == X[e] if expr[e] else X[e] == 0 for e in U])
    solver = z3.Solver()
    solver.set("timeout", timeout_ms)
    solver.set("rlimit", int(rlimit))
    solver.add(z3.ForAll(list(X.values()), z3.Exists(W, body)))
    return str(solver.check())


def _full_space_z3(terms: Sequence[Term], budget: Budget) -> bool | None:
    """The whole-space sentence in a child process killed when ``budget`` expires."""
    status, value = run_with_limit(
        _full_space_status, ([t.to_list() for t in terms], max(1, int(budget.remaining() * 1000))), budget=budget
    )
    if status != "ok" or value == "unknown":
        return None
    return value == "sat"


def _free_blocks(terms: Sequence[Term]) -> list[tuple[Term, frozenset[Entry]]]:
    """Coordinate blocks ``R^F`` inside one term's cone: a subspace term's whole rectangle,
    or one row / one column of a rectangle (``{u e_j^T}`` is a subspace of ``V_Q``)."""
    out = []
    for q in terms:
        if q.subspace:
            out.append((q, q.support))
            continue
        for j in q.cols:
            out.append((q, frozenset((i, j) for i in q.rows)))
        for i in q.rows:
            out.append((q, frozenset((i, j) for j in q.cols)))
    return out


def _nested_full(s: Term, t: Term) -> bool:
    """Two rank-one terms with equal column sets and nested row sets ``C_1 ⊆ C_2`` (or the
    transpose): the sum is ``{M on C_2 x R : rank M <= 2, rank M_D <= 1}``, ``D = C_2 - C_1``
    (proof in the background page). It is the whole space iff both rank bounds are void."""
    if s.rank != 1 or t.rank != 1:
        return False
    for a, b in ((s, t), (t, s)):
        for rows_a, rows_b, cols_a, cols_b in (
            (set(a.rows), set(b.rows), set(a.cols), set(b.cols)),
            (set(a.cols), set(b.cols), set(a.rows), set(b.rows)),
        ):
            if cols_a == cols_b and rows_a <= rows_b:
                n_cols, n_rows, n_d = len(cols_a), len(rows_b), len(rows_b - rows_a)
                if min(n_rows, n_cols) <= 2 and min(n_d, n_cols) <= 1:
                    return True
    return False


def _full_peel(terms: tuple[Term, ...], budget: Budget, memo: dict, z3_leaf: int) -> bool | None:
    key = terms
    if key in memo:
        return memo[key]
    result: bool | None = False
    nonsub = [t for t in terms if not t.subspace]
    if not nonsub:
        result = True  # a sum of coordinate subspaces is the coordinate space on the union
    elif len(terms) == 2 and _nested_full(*terms):
        result = True
    else:
        U = _union(terms)
        undecided = False
        # (q, empty block): drop a redundant term q when the others already cover U and
        # sum to R^U (then R^U = sum(others) ⊆ L ⊆ R^U; Lemma 8 with F empty)
        blocks = _free_blocks(terms) + [(q, frozenset()) for q in terms]
        for owner, F in blocks:
            if budget.expired():
                undecided = True
                break
            # terms are merged (pairwise distinct), so skipping (owner,) skips only owner;
            # _merge drops the emptied terms
            rest = _project_rest(terms, (owner,), F, _trim_projection, require_change=False)
            if rest is None:
                continue
            rest_t = tuple(_merge(rest))
            if _union(rest_t) != U - F:
                continue
            sub = _full_peel(rest_t, budget, memo, z3_leaf)
            if sub is True:
                result = True
                break
            undecided = undecided or sub is None
        if result is not True and len(nonsub) <= z3_leaf and memo.setdefault("#leaves", 0) < MAX_LEAVES:
            memo["#leaves"] += 1
            if budget.remaining() > 0.02:
                leaf = _full_space_z3(terms, budget.child(LEAF_SECONDS))
                if leaf is True:
                    result = True
                elif leaf is None:
                    undecided = True
        if result is not True and undecided:
            result = None
    memo[key] = result
    return result


def full_space(
    terms: Sequence[Term], time_limit: float | None = 1.0, z3_leaf: int = 2, *, budget: Budget | None = None
) -> bool | None:
    """Prove that the sum of the term cones is the whole coordinate space ``R^U`` on the
    union ``U`` of the rectangles (then it is closed).

    Peeling: if ``R^F`` lies in one term's cone (a subspace term's rectangle, or one row or
    column of a rectangle) and the other terms, trimmed by ``F`` (still rectangles), sum to
    ``R^(U - F)``, then the sum is ``R^U``. Leaves with at most ``z3_leaf`` non-subspace
    terms are settled by a universal-existential Z3 sentence (child process, hard limit).

    Runs within ``time_limit`` seconds, or within ``budget`` (capped at ``time_limit`` when
    both are given). Returns ``True`` (proved), ``False`` (no proof found) or ``None`` (ran
    out of time). It never returns ``True`` unless the sum is the whole space.
    """
    budget = Budget.of(time_limit, budget)
    root = tuple(_merge(terms))
    memo: dict = {}
    result = _full_peel(root, budget, memo, z3_leaf)
    if result is not True and memo.get("#leaves", 0) >= MAX_LEAVES and len([t for t in root if not t.subspace]) <= z3_leaf:
        # the leaf budget went to sub-problems: the root sentence itself still gets one try
        if budget.remaining() > 0.02:
            leaf = _full_space_z3(root, budget.child(LEAF_SECONDS))
            if leaf is True:
                return True
            if leaf is None:
                result = None
    return result
