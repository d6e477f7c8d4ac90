"""First-order candidate search: limits ``A`` in the closure of ``L`` proposed by explicit
degenerations of pairs of terms, and the search that proves one of them outside ``L``.

A :class:`FirstOrderCandidate` is a member of the first-order degeneration family of two
overlapping terms (``u_s = e_i/eps + a1``, ``u_t = -e_i/eps + a2``, ...); its limit ``A`` lies
in the closure of ``L``. Candidates come from the configurations of the hidden-width-2
theorem (with an exact premise: :func:`local_lu_blocks`, :func:`exact_pair_blocks`, or
embedded: structured), generic dense members of every pair's family, and sparse random
members. :func:`search_first_order` screens them numerically (a filter) and asks Z3 for an
exact proof of ``A not in L``; the whole-space sentence is interleaved for the closed case.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from .._budget import Budget
from .membership import Membership
from .peeling import full_space
from .terms import Entry, Term, _rank_pieces, _union

__all__ = [
    "FirstOrderCandidate",
    "local_lu_blocks",
    "exact_pair_blocks",
    "first_order_candidates",
    "generic_dimension",
    "search_first_order",
]

RANDOM_CANDIDATES_SMALL = 1500  # random candidates for a component of at most three terms
RANDOM_CANDIDATES_LARGE = 4000  # ... of four or more terms
FULL_SPACE_SHARE = 0.4  # share of the remaining budget for the interleaved whole-space sentence
FULL_SPACE_SECONDS = 2.0  # longest whole-space proof inside the search
FRESH_TIMEOUT = 0.2  # seconds per fresh QF_NRA call in the candidate search (unknown: skip)
RANDOM_BEFORE_FULL = 300  # random candidates tried before the whole-space sentence
SCREEN_CHUNK = 64  # candidates screened numerically at once in the first-order search


@dataclasses.dataclass(frozen=True)
class FirstOrderCandidate:
    """A first-order degeneration of the pair ``(s, t)`` of terms at entry ``(i, j)``:

    ``u_s = e_i/eps + a1``, ``v_s = e_j + eps b1``, ``u_t = -e_i/eps + a2``,
    ``v_t = e_j + eps b2`` (plus bounded rank-one terms ``extra``) give
    ``A = e_i (b1 - b2)^T + (a1 + a2) e_j^T + sum extra``.
    """

    s: Term
    t: Term
    entry: Entry
    a1: tuple[tuple[int, int], ...]
    a2: tuple[tuple[int, int], ...]
    b1: tuple[tuple[int, int], ...]
    b2: tuple[tuple[int, int], ...]
    extra: tuple[tuple[Term, tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]], ...] = ()
    kind: str = "first-order"

    def limit(self) -> dict[Entry, Fraction]:
        i, j = self.entry
        A: dict[Entry, Fraction] = {}

        def add(e: Entry, v: Any) -> None:
            A[e] = A.get(e, Fraction(0)) + Fraction(v)

        for jj, v in self.b1:
            add((i, jj), v)
        for jj, v in self.b2:
            add((i, jj), -v)
        for ii, v in self.a1 + self.a2:
            add((ii, j), v)
        for _, u, w in self.extra:
            for ii, x in u:
                for jj, y in w:
                    add((ii, jj), x * y)
        return {e: v for e, v in A.items() if v != 0}


def local_lu_blocks(terms: Sequence[Term], budget: Budget | None = None,
                    first: bool = False) -> list[tuple[Term, Term, tuple[int, int, int, int]]]:
    """Blocks ``B = {i, i'} x {j, j'}`` meeting the local-LU premise exactly: one term meets
    ``B`` only in ``(i, j)``, a rank-one term contains ``B``, no other term meets ``B``.
    Returns ``(small, big, (i, i', j, j'))`` triples (only the first with ``first=True``;
    those found so far when ``budget`` expires)."""
    out = []
    for s, t in itertools.permutations(terms, 2):
        if (first and out) or (budget is not None and budget.expired()):
            break
        if t.rank != 1 or not s.overlaps(t):
            continue
        for i in sorted(set(s.rows) & set(t.rows)):
            for j in sorted(set(s.cols) & set(t.cols)):
                for i2 in sorted(set(t.rows) - set(s.rows)):
                    for j2 in sorted(set(t.cols) - set(s.cols)):
                        block = {(i, j), (i, j2), (i2, j), (i2, j2)}
                        if (i, j2) in s.support or (i2, j) in s.support:
                            continue
                        if any(block & q.support for q in terms if q is not s and q is not t):
                            continue
                        out.append((s, t, (i, i2, j, j2)))
    return out


def exact_pair_blocks(terms: Sequence[Term], budget: Budget | None = None) -> Iterator[FirstOrderCandidate]:
    """Configurations (2) and (3) of the width-2 theorem embedded with an exact premise: two
    *rank-one* terms ``s, t`` share rows ``i, i2`` and a column ``j``, ``s`` has a column
    ``j1`` and ``t`` a column ``j2`` the other lacks, and no other term meets the block
    ``B = {i, i2} x {j, j1, j2}`` (case (3) is the transpose). Then
    ``A = e_i (e_j1 + e_j2)^T + e_i2 e_j^T`` is a first-order limit and ``A not in L``: the
    restriction of ``L`` to ``B`` is ``V_s|B + V_t|B`` and the proof of Theorem 5 (2) applies
    on ``B`` (background page, Section 7). Yields the candidates (solver-free); stops when
    ``budget`` expires."""
    for s, t in itertools.permutations(terms, 2):
        if budget is not None and budget.expired():
            return
        if s.rank != 1 or t.rank != 1 or not s.overlaps(t):
            continue
        others = [q for q in terms if q is not s and q is not t]
        rs, rt, cs, ct = set(s.rows), set(t.rows), set(s.cols), set(t.cols)
        for i, i2 in itertools.permutations(sorted(rs & rt), 2):
            for j in sorted(cs & ct):
                for j1 in sorted(cs - ct):
                    for j2 in sorted(ct - cs):
                        block = {(a, b) for a in (i, i2) for b in (j, j1, j2)}
                        if not any(block & q.support for q in others):
                            yield FirstOrderCandidate(s, t, (i, j), ((i2, 1),), (), ((j1, 1),), ((j2, -1),),
                                                      kind="shared-rows")
        for j, j2 in itertools.permutations(sorted(cs & ct), 2):
            for i in sorted(rs & rt):
                for i1 in sorted(rs - rt):
                    for i3 in sorted(rt - rs):
                        block = {(a, b) for a in (i, i1, i3) for b in (j, j2)}
                        if not any(block & q.support for q in others):
                            yield FirstOrderCandidate(s, t, (i, j), ((i1, 1),), ((i3, 1),), ((j2, 1),), (),
                                                      kind="shared-cols")


def _structured_candidates(comp: Sequence[Term], budget: Budget | None = None) -> list[FirstOrderCandidate]:
    """Pair configurations (1), (2), (3) of the width-2 rule, embedded in the component
    (those built so far when ``budget`` expires)."""
    out: list[FirstOrderCandidate] = []
    for s, t in itertools.permutations(comp, 2):
        if budget is not None and budget.expired():
            break
        if not s.overlaps(t):
            continue
        rs, rt, cs, ct = set(s.rows), set(t.rows), set(s.cols), set(t.cols)
        for i in sorted(rs & rt):
            for j in sorted(cs & ct):
                # (1): t has a row i2 and a column j2 that s lacks -> A = e_i e_j2^T + e_i2 e_j^T
                for i2 in sorted(rt - rs):
                    for j2 in sorted(ct - cs):
                        out.append(FirstOrderCandidate(s, t, (i, j), (), ((i2, 1),), (), ((j2, -1),), kind="local-lu"))
                # (2): another shared row i2, columns j1 (s only), j2 (t only)
                for i2 in sorted((rs & rt) - {i}):
                    for j1 in sorted(cs - ct):
                        for j2 in sorted(ct - cs):
                            out.append(
                                FirstOrderCandidate(s, t, (i, j), ((i2, 1),), (), ((j1, 1),), ((j2, -1),), kind="shared-rows")
                            )
                # (3): transpose of (2)
                for j2 in sorted((cs & ct) - {j}):
                    for i1 in sorted(rs - rt):
                        for i3 in sorted(rt - rs):
                            out.append(
                                FirstOrderCandidate(s, t, (i, j), ((i1, 1),), ((i3, 1),), ((j2, 1),), (), kind="shared-cols")
                            )
    # deduplicate by limit (keep the first)
    seen, unique = set(), []
    for n, c in enumerate(out):
        if budget is not None and n % 1000 == 0 and budget.expired():
            break
        key = tuple(sorted(c.limit().items()))
        if key not in seen:
            seen.add(key)
            unique.append(c)
    return unique


def _random_candidates(comp: Sequence[Term], rng: np.random.Generator, n: int) -> list[FirstOrderCandidate]:
    """Random small-integer members of first-order degeneration families of overlapping pairs,
    plus bounded rank-one terms of the other terms."""
    pairs = [(s, t) for s, t in itertools.combinations(comp, 2) if s.overlaps(t)]
    out = []
    if not pairs:
        return out
    for _ in range(n):
        s, t = pairs[int(rng.integers(len(pairs)))]
        if rng.random() < 0.5:
            s, t = t, s
        i = int(rng.choice(sorted(set(s.rows) & set(t.rows))))
        j = int(rng.choice(sorted(set(s.cols) & set(t.cols))))

        def vec(idx: Sequence[int], skip: int | None) -> tuple[tuple[int, int], ...]:
            return tuple(
                (int(x), int(rng.integers(-2, 3))) for x in idx if x != skip and rng.random() < 0.5
            )

        a1, a2 = vec(s.rows, i), vec(t.rows, i)
        b1, b2 = vec(s.cols, j), vec(t.cols, j)
        extra = []
        for q in comp:
            # every rank-one piece not used by the diverging pair (all of a term of rank r
            # outside the pair, r - 1 pieces of a pair term) may add a bounded term
            for _ in range(q.rank - (q in (s, t))):
                if rng.random() < 0.5:
                    continue
                extra.append((q, vec(q.rows, None), vec(q.cols, None)))
        out.append(FirstOrderCandidate(s, t, (i, j), a1, a2, b1, b2, tuple(extra), kind="first-order"))
    return out


def _iter_random_candidates(comp: Sequence[Term], rng: np.random.Generator, n: int) -> Iterator[FirstOrderCandidate]:
    """Lazy form of :func:`_random_candidates` (same distribution, drawn in chunks)."""
    done = 0
    while done < n:
        chunk = min(50, n - done)
        yield from _random_candidates(comp, rng, chunk)
        done += chunk


def generic_dimension(terms: Sequence[Term], seed: int = 0) -> int:
    """Numerical rank of the Jacobian of ``(u_p, v_p)_p -> sum_p u_p v_p^T`` (one rank-one
    piece per unit of rank) at a random point: the dimension of ``L`` for a generic point,
    up to floating-point rounding. Used only to order the tests, never as a proof."""
    pieces = _rank_pieces(terms)
    U = sorted(_union(terms))
    if not U:
        return 0
    idx = {e: n for n, e in enumerate(U)}
    rng = np.random.default_rng(seed)
    cols = []
    for t, _ in pieces:
        u = rng.standard_normal(len(t.rows))
        v = rng.standard_normal(len(t.cols))
        for a, i in enumerate(t.rows):  # d/du_i: v on row i
            col = np.zeros(len(U))
            for b, j in enumerate(t.cols):
                col[idx[(i, j)]] = v[b]
            cols.append(col)
        for b, j in enumerate(t.cols):  # d/dv_j: u on column j
            col = np.zeros(len(U))
            for a, i in enumerate(t.rows):
                col[idx[(i, j)]] = u[a]
            cols.append(col)
    return int(np.linalg.matrix_rank(np.array(cols).T))


def _generic_candidates(comp: Sequence[Term], rng: np.random.Generator) -> list[FirstOrderCandidate]:
    """One dense random member per (ordered pair, shared entry) of the first-order family,
    with dense bounded terms of all other terms: a generic point of the family, outside
    ``L`` whenever the family is not generically inside ``L``."""
    out = []

    def dense(idx: Sequence[int], skip: int | None) -> tuple[tuple[int, int], ...]:
        return tuple((int(x), int(rng.choice([-3, -2, -1, 1, 2, 3]))) for x in idx if x != skip)

    for s, t in itertools.permutations(comp, 2):
        if not s.overlaps(t):
            continue
        for i in sorted(set(s.rows) & set(t.rows)):
            for j in sorted(set(s.cols) & set(t.cols)):
                extra = tuple((q, dense(q.rows, None), dense(q.cols, None))
                              for q in comp for _ in range(q.rank - (q in (s, t))))
                out.append(FirstOrderCandidate(s, t, (i, j), dense(s.rows, i), (), dense(s.cols, j),
                                               dense(t.cols, j), extra, kind="first-order"))
                if extra:  # the sub-family without the other terms
                    out.append(FirstOrderCandidate(s, t, (i, j), dense(s.rows, i), (), dense(s.cols, j),
                                                   dense(t.cols, j), (), kind="first-order"))
    return out


def first_order_candidates(comp: Sequence[Term], seed: int = 0, n_random: int | None = None) -> list[FirstOrderCandidate]:
    """Candidate limits ``A`` in the closure of ``L``: the structured configurations of the
    width-2 theorem, generic (dense) members of every pair's first-order family, then sparse
    random members."""
    rng = np.random.default_rng(seed)
    if n_random is None:  # deterministic budget: many cheap checks for small components
        n_random = 150 if len(comp) <= 3 else 40
    return _structured_candidates(comp) + _generic_candidates(comp, rng) + _random_candidates(comp, rng, n_random)



def _lazy(function: Any, *args: Any) -> Iterator[Any]:
    """``function(*args)`` evaluated only when the first item is requested."""
    yield from function(*args)


def _chunks(items: Any, size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def search_first_order(
    comp: Sequence[Term], budget: Budget, seed: int = 0
) -> tuple[bool | None, str, FirstOrderCandidate | None, bool]:
    """Search first-order candidates of one component for a limit Z3 proves outside ``L``.

    Stages: the structured configurations (straight to Z3), generic dense members, then
    sparse random members (both screened numerically first). Before the bulk of the random
    members, when the numerical generic rank says ``L`` is likely the whole space, the
    whole-space sentence gets a share of the budget.

    Returns ``(closed, rule, candidate, tried_full)``: ``(False, kind, candidate, ...)`` with
    a certified candidate, ``(True, "full-space", None, ...)``, ``(None, "timeout", None,
    ...)`` when ``budget`` expired, or ``(None, "exhausted", None, tried_full)`` when every
    candidate was tried (``tried_full``: whether the whole-space sentence already ran).
    """
    check = Membership(comp)
    seen: set = set()
    rng = np.random.default_rng(seed)
    # A numerical generic rank below |U| shows L != R^U (up to rounding); it is used only
    # to *order* the tests (skip the universal Z3 sentence), never as a proof.
    tried_full = False
    # components of four or more terms rarely yield to quantifier elimination within the
    # budget: they get more random candidates (a fixed number either way, so verdicts stay
    # reproducible up to the time limit)
    n_random = RANDOM_CANDIDATES_SMALL if len(comp) <= 3 else RANDOM_CANDIDATES_LARGE
    random_stream = _iter_random_candidates(comp, rng, n_random)
    # (candidates, screened numerically?) -- the few structured configurations go straight
    # to Z3; the dense generic members and the random members are screened first
    stages = [
        (_structured_candidates(comp, budget), False),
        (_lazy(_generic_candidates, comp, rng), True),
        (itertools.islice(random_stream, RANDOM_BEFORE_FULL), True),
        (random_stream, True),
    ]
    for stage_no, (stage, screened) in enumerate(stages):
        if stage_no == 3 and generic_dimension(comp, seed=seed) == len(_union(comp)):
            tried_full = True
            if budget.remaining() > 0.05:
                # the closed case is likely: give the whole-space sentence a share of the budget
                share = budget.share(FULL_SPACE_SHARE)
                if full_space(comp, time_limit=FULL_SPACE_SECONDS, budget=share) is True:
                    return True, "full-space", None, tried_full
        for chunk in _chunks(stage, SCREEN_CHUNK):
            if budget.expired():
                return None, "timeout", None, tried_full
            fresh_cands, limits = [], []
            for cand in chunk:
                A = cand.limit()
                key = tuple(sorted(A.items()))
                if key in seen:
                    continue
                seen.add(key)
                fresh_cands.append(cand)
                limits.append(A)
            if not limits:
                continue
            # numerical pre-filter: skip candidates with a bounded numerical solution of
            # sum = A (skipping can only lose a certificate; every certificate is Z3's unsat)
            skip = check.screen(limits, seed=seed) if screened else [False] * len(limits)
            for cand, A, skipped in zip(fresh_cands, limits, skip):
                if skipped:
                    continue
                remaining = budget.remaining()
                if remaining <= 0:
                    return None, "timeout", None, tried_full
                if check(A, timeout=min(remaining, FRESH_TIMEOUT), incremental=True) is False:
                    return False, cand.kind, cand, tried_full
    return None, "exhausted", None, tried_full
