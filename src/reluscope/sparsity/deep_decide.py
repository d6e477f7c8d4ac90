"""Step 2 of the decision for deep patterns (three or more factors), and the localized
defect search.

:func:`decide_deep`: prune dead units; collapse routing stretches into single factors
(:mod:`~reluscope.sparsity.deep`, same ``L_I``); a pattern collapsed to one factor is a
coordinate subspace (closed); one collapsed to two factors goes to the two-factor decision,
whose certificate is wrapped (closed) or lifted to every original factor (not closed). A
pattern that stays deep is searched for **block defects** (:func:`find_defects`): a block of
output rows ``O`` and input columns ``J`` whose sub-pattern (all hidden units kept) collapses to
two factors and is not closed. By Lemma D5 of ``docs/background/deep-patterns.md`` such a
defect proves the WHOLE pattern not closed, with a family on every factor. Quantifier
elimination on the collapsed pattern comes last (the caller's share of the budget).
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Iterator, Sequence
from fractions import Fraction

import numpy as np

from typing import Any

from .._budget import Budget
from .._results import ResultMixin
from .._validation import check_int, check_time_limit
from .certificates import ClosedCertificate, ClosednessVerdict, NotClosedCertificate
from .deep import Collapse, collapse, embed_family, restrict, routing_cover, thinned_cover
from .pattern import SparsityPattern, as_pattern
from .qe import decide_qe
from .terms import prune_deep
from .two_factor import decide_two_factor

__all__ = ["Defect", "DefectSearch", "decide_deep", "find_defects", "locate_defects", "lift_certificate",
           "routing_certificate"]

#: Seconds at most for one pair's whole-space peeling while collapsing (closedness only).
PEEL_PAIR_SECONDS = 0.3
#: Share of the deep step's budget for the collapse with whole-space peeling.
PEEL_SHARE = 0.25
#: Share of the remaining budget for the thinned routing cover of small patterns.
THIN_SHARE = 0.3
#: Share of what is left for the block-defect search before quantifier elimination.
DEFECT_SHARE = 0.5
#: Collapsed patterns with more allowed weights than this skip quantifier elimination (the
#: time goes to the block-defect search instead): Z3 does not answer on them in minutes.
QE_MAX_WEIGHTS = 40
#: Seconds at most for the two-factor decision of one block.
BLOCK_SECONDS = 0.5


def lift_certificate(col: Collapse, cert: NotClosedCertificate, note: str = "") -> NotClosedCertificate | None:
    """A not-closed certificate of ``col.collapsed`` carried to ``col.original`` through the
    sections of the collapse steps (``None`` when a step has no section)."""
    factors = col.lift([[list(r) for r in F] for F in cert.factors])
    if factors is None:
        return None
    return NotClosedCertificate(col.original, cert.limit, tuple(tuple(tuple(r) for r in F) for F in factors),
                                rule=f"deep-lift/{cert.rule}", note=note or cert.note)


def _wrap_closed(pattern: SparsityPattern, col: Collapse, sub: ClosedCertificate) -> ClosedCertificate:
    return ClosedCertificate(pattern, "deep-collapse", col.to_dict(), (sub,))


def routing_certificate(pattern: SparsityPattern, cover: SparsityPattern, cover_collapse: Collapse) -> ClosedCertificate:
    """The ``routing-cover`` certificate (Lemma D6): the sub-pattern ``cover`` and its
    collapse to one factor (the checker re-establishes containment, equal path supports and
    the collapse)."""
    part = _wrap_closed(cover, cover_collapse, ClosedCertificate(cover_collapse.collapsed, "single-factor"))
    return ClosedCertificate(pattern, "routing-cover", {"sub": cover.to_text()}, (part,))


def _describe(col: Collapse) -> str:
    rules = sorted({s["rule"] for s in col.steps})
    return (f"pruned dead units ({'x'.join(map(str, col.original.widths))} -> "
            f"{'x'.join(map(str, col.pruned.widths))}), {len(col.steps)} routing collapses"
            + (f" ({', '.join(rules)})" if rules else "")
            + f" -> {'x'.join(map(str, col.collapsed.widths))}")


# ---------------------------------------------------------------------------------- defects
@dataclasses.dataclass(frozen=True)
class Defect(ResultMixin):
    """A localized defect: the block ``rows x cols`` (output rows, input columns) whose
    sub-pattern is not closed, and a not-closed certificate for the WHOLE pattern.

    ``units`` are the hidden units (per hidden layer) and ``entries`` the mask entries
    ``(layer, row, col)`` (``layer`` 1-based) that carry nonzero weights in the family; the
    limit ``A`` lives on ``rows x cols`` and is not in ``L_I`` because its block is not in the
    block sub-pattern's ``L`` (Lemma D5).
    """

    rows: tuple[int, ...]
    cols: tuple[int, ...]
    units: tuple[tuple[int, ...], ...]
    entries: tuple[tuple[int, int, int], ...]
    certificate: NotClosedCertificate
    seconds: float = 0.0

    def __str__(self) -> str:
        units = "; ".join(f"layer {l + 1}: {list(u)}" for l, u in enumerate(self.units) if u)
        return (f"defect on outputs {list(self.rows)} x inputs {list(self.cols)} "
                f"(hidden units {units or 'none'}; {len(self.entries)} mask entries in the family)")


def _defect_of(pattern: SparsityPattern, rows: tuple[int, ...], cols: tuple[int, ...],
               cert: NotClosedCertificate, seconds: float) -> Defect:
    entries = tuple((l + 1, i, j) for l, F in enumerate(cert.factors)
                    for i, row in enumerate(F) for j, p in enumerate(row) if p.terms)
    hidden = len(pattern.widths) - 2
    units = tuple(tuple(sorted({i for (l, i, _) in entries if l == h + 1})) for h in range(hidden))
    return Defect(rows, cols, units, entries, cert, seconds)


def _block_order(pattern: SparsityPattern, size: tuple[int, int]) -> Iterator[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Blocks of ``size`` (rows, cols) inside the path support, thinnest first: inputs and
    outputs ordered by their number of paths (few paths: few ways to fill a limit in)."""
    counts = np.asarray(pattern.masks[0], dtype=float)
    for m in pattern.masks[1:]:
        counts = np.asarray(m, dtype=float) @ counts
    support = counts > 0
    rows = [i for i in np.argsort(counts.sum(axis=1), kind="stable") if support[i].any()]
    cols = [j for j in np.argsort(counts.sum(axis=0), kind="stable") if support[:, j].any()]
    r, c = size

    def blocks(row_pool: list, new_rows: list, col_pool: list, new_cols: list) -> Iterator[tuple[tuple, tuple]]:
        # blocks whose rows include every row of new_rows (rest from row_pool), same for columns
        for O in itertools.combinations(row_pool, r - len(new_rows)):
            for J in itertools.combinations(col_pool, c - len(new_cols)):
                yield tuple(new_rows) + O, tuple(new_cols) + J

    # sweep by the rank of the thickest line in the block, so thin blocks come first; depth d
    # yields exactly the blocks whose thickest row or column has rank d (each block once)
    for d in range(max(len(rows), len(cols))):
        parts = []
        if d < len(rows):  # blocks containing row d, columns of rank <= d
            parts.append(blocks(rows[:d], [rows[d]], cols[: d + 1], []))
        if d < len(cols):  # blocks containing column d, rows of rank < d
            parts.append(blocks(rows[:d], [], cols[:d], [cols[d]]))
        for O, J in itertools.chain(*parts):
            if len(set(O)) == r and len(set(J)) == c and support[np.ix_(O, J)].sum() >= 3:
                yield tuple(int(i) for i in O), tuple(int(j) for j in J)


def _block_defect(pattern: SparsityPattern, rows: tuple[int, ...], cols: tuple[int, ...], budget: Budget,
                  seed: int) -> NotClosedCertificate | None:
    sub = restrict(pattern, rows, cols)
    col = collapse(sub)
    if col.collapsed.n_factors != 2 or not col.liftable:
        return None
    verdict = decide_two_factor(col.collapsed, budget.child(BLOCK_SECONDS), seed, False)
    if verdict is None or verdict.closed is not False or not isinstance(verdict.certificate, NotClosedCertificate):
        return None
    lifted = lift_certificate(col, verdict.certificate)
    if lifted is None:
        return None
    factors = embed_family(pattern, rows, cols, [[list(r) for r in F] for F in lifted.factors])
    limit = [[Fraction(0)] * pattern.widths[0] for _ in range(pattern.widths[-1])]
    for a, i in enumerate(rows):
        for b, j in enumerate(cols):
            limit[i][j] = Fraction(lifted.limit[a][b])
    return NotClosedCertificate(
        pattern, tuple(tuple(r) for r in limit), tuple(tuple(tuple(r) for r in F) for F in factors),
        rule=f"block-defect/{verdict.certificate.rule}",
        note=f"block outputs {list(rows)} x inputs {list(cols)}: its sub-pattern collapses to two factors and "
             "is not closed; A is zero outside the block and its block is not in the block's L",
    )


def find_defects(pattern: SparsityPattern, budget: Budget, *, seed: int = 0, max_defects: int = 1,
                 sizes: Sequence[tuple[int, int]] = ((2, 2), (2, 3), (3, 2))) -> tuple[list[Defect], int, bool]:
    """Search blocks (thinnest first) for defects. Returns ``(defects, blocks_tried,
    exhausted)``; ``exhausted`` is True when every block of the given sizes was tried."""
    found: list[Defect] = []
    tried = 0
    covered: set[tuple[int, int]] = set()
    for size in sizes:
        for rows, cols in _block_order(pattern, size):
            if budget.expired():
                return found, tried, False
            if any((i, j) in covered for i in rows for j in cols):
                continue  # a block overlapping a found defect: report distinct places
            tried += 1
            t0 = time.perf_counter()
            cert = _block_defect(pattern, rows, cols, budget, seed)
            if cert is not None:
                found.append(_defect_of(pattern, rows, cols, cert, time.perf_counter() - t0))
                covered.update((i, j) for i in rows for j in cols)
                if len(found) >= max_defects:
                    return found, tried, False
    return found, tried, True


# ---------------------------------------------------------------------------------- the deep step
def decide_deep(pattern: SparsityPattern, budget: Budget, seed: int, use_qe: bool) -> tuple[ClosednessVerdict | None, str]:
    """Decide a pattern of three or more factors. Returns the verdict (``None`` when
    undecided) and a description of what was tried."""
    start = time.perf_counter()
    with budget.phase("collapse"):
        col = collapse(pattern)
    tried = [_describe(col)]
    if not col.pruned.path_support().any():
        cert = ClosedCertificate(pattern, "pruned-zero", {"pruned": col.pruned.to_text()})
        return ClosednessVerdict(True, "reductions", time.perf_counter() - start, cert, "no path: L_I = {0}"), ""
    if col.collapsed.n_factors >= 2:
        with budget.phase("routing cover"):
            cover = routing_cover(pattern, seed=seed)
            sub_col = collapse(cover) if cover is not None else None
        if sub_col is not None and sub_col.collapsed.n_factors == 1:
            cert = routing_certificate(pattern, cover, sub_col)
            return ClosednessVerdict(
                True, "reductions", time.perf_counter() - start, cert,
                f"{_describe(col)}; a routing sub-pattern ({cover.n_allowed} of {pattern.n_allowed} weights: every "
                "hidden unit keeps one outgoing or one incoming weight) has the same path support and collapses to "
                "one factor, so L_I is the coordinate subspace on the path support"), ""
        tried.append("routing cover: the greedy search left entries of the path support uncovered")
    if col.collapsed.n_factors > 2:
        with budget.phase("collapse (whole-space peeling)"):
            peeled = collapse(pattern, peel=PEEL_PAIR_SECONDS, budget=budget.share(PEEL_SHARE))
        if peeled.collapsed.n_factors < col.collapsed.n_factors:
            col = peeled
            tried.append("with whole-space peeling: " + _describe(col))
    collapsed = col.collapsed
    if collapsed.n_factors == 1:
        sub = ClosedCertificate(collapsed, "single-factor")
        return ClosednessVerdict(True, "reductions", time.perf_counter() - start, _wrap_closed(pattern, col, sub),
                                 _describe(col) + ": L_I is a coordinate subspace"), ""
    if collapsed.n_factors == 2:
        verdict = decide_two_factor(collapsed, budget.share(1.0 - THIN_SHARE), seed, use_qe)
        if verdict is None:
            verdict = _thinned(pattern, col, budget, seed, start)
            if verdict is not None:
                return verdict, ""
            return None, "; ".join(tried) + "; the collapsed two-factor pattern stayed undecided; no thinned routing cover"
        if verdict.closed:
            cert = _wrap_closed(pattern, col, verdict.certificate)
            return ClosednessVerdict(True, verdict.method, time.perf_counter() - start, cert,
                                     _describe(col) + "; " + verdict.reasoning), ""
        lifted = None
        how = "; family lifted to every factor"
        if isinstance(verdict.certificate, NotClosedCertificate):
            lifted = lift_certificate(col, verdict.certificate)
        if lifted is None and budget.remaining() > 0.01:
            # a collapse step without a section: look for the defect in a block instead
            with budget.phase("block defects"):
                defects, _, _ = find_defects(col.pruned, budget, seed=seed)
            if defects:
                lifted = _lift_pruned(col, defects[0].certificate)
                how = (f"; explicit family from the defect on outputs {list(defects[0].rows)} x inputs "
                       f"{list(defects[0].cols)}, placed on every factor")
        return ClosednessVerdict(
            False, verdict.method, time.perf_counter() - start, lifted,
            _describe(col) + " (same L_I); " + verdict.reasoning
            + (how if lifted is not None
               else "; no explicit family on the original factors (a collapse step has no section)")), ""
    # still deep: a thinned routing sub-pattern (small patterns), localized defects, then
    # quantifier elimination on the collapsed pattern
    verdict = _thinned(pattern, col, budget.share(THIN_SHARE), seed, start)
    if verdict is not None:
        return verdict, ""
    qe_worth = use_qe and collapsed.n_allowed <= QE_MAX_WEIGHTS
    with budget.phase("block defects"):
        defects, n_blocks, exhausted = find_defects(col.pruned, budget.share(DEFECT_SHARE if qe_worth else 1.0),
                                                    seed=seed)
    if defects:
        cert = _lift_pruned(col, defects[0].certificate)
        d = _defect_of(pattern, defects[0].rows, defects[0].cols, cert, defects[0].seconds)
        return ClosednessVerdict(False, "reductions", time.perf_counter() - start, cert,
                                 f"{_describe(col)}; {d} (after {n_blocks} blocks): A is not in L_I"), ""
    tried.append(f"block-defect search: {n_blocks} blocks, none defective"
                 + (" (all blocks of sizes 2x2, 2x3, 3x2)" if exhausted else " (stopped by the time limit)"))
    if use_qe and not qe_worth:
        tried.append(f"quantifier elimination skipped: {collapsed.n_allowed} weights after the collapse "
                     f"(it answers within minutes only up to about {QE_MAX_WEIGHTS})")
    if qe_worth and budget.remaining() > 0.05:
        with budget.phase("quantifier elimination"):
            closed, _, message = decide_qe(collapsed, time_limit=None, budget=budget)
        if closed is True:
            sub = ClosedCertificate(collapsed, "qe")
            return ClosednessVerdict(True, "reductions+qe", time.perf_counter() - start,
                                     _wrap_closed(pattern, col, sub), _describe(col) + f"; {message}"), ""
        if closed is False:
            return ClosednessVerdict(False, "reductions+qe", time.perf_counter() - start, None,
                                     _describe(col) + f" (same L_I); {message}; no explicit family"), ""
        tried.append(f"quantifier elimination on the collapsed pattern: {message}")
    return None, "; ".join(tried)


def _thinned(pattern: SparsityPattern, col: Collapse, budget: Budget, seed: int, start: float) -> ClosednessVerdict | None:
    with budget.phase("thinned cover"):
        cover = thinned_cover(pattern, budget, seed)
    if cover is None:
        return None
    cover_col = collapse(cover)
    return ClosednessVerdict(
        True, "reductions", time.perf_counter() - start, routing_certificate(pattern, cover, cover_col),
        f"{_describe(col)}; a sub-pattern of {cover.n_allowed} of {pattern.n_allowed} weights with the same path "
        "support collapses to one factor, so L_I is the coordinate subspace on the path support")


def _lift_pruned(col: Collapse, cert: NotClosedCertificate) -> NotClosedCertificate:
    """A certificate of the pruned pattern placed on the original units (dead units: zero)."""
    from_pruned = Collapse(col.original, col.pruned, col.kept, (), col.pruned, tuple(range(col.pruned.n_factors)))
    lifted = from_pruned.lift([[list(r) for r in F] for F in cert.factors])
    limit = cert.limit
    return NotClosedCertificate(col.original, limit, tuple(tuple(tuple(r) for r in F) for F in lifted),
                                rule=cert.rule, note=cert.note)


# ---------------------------------------------------------------------------------- public search
@dataclasses.dataclass(frozen=True)
class DefectSearch(ResultMixin):
    """The result of :func:`locate_defects`: the defects found (each with a certificate for the
    WHOLE pattern), the number of blocks searched, whether every block of the sizes tried was
    searched, and the seconds spent."""

    defects: tuple[Defect, ...]
    blocks_tried: int
    exhausted: bool
    seconds: float

    def __str__(self) -> str:
        lines = [f"{len(self.defects)} defect(s) after {self.blocks_tried} blocks ({self.seconds:.3g} s)"]
        lines += [f"  {d}" for d in self.defects]
        if self.defects:
            lines.append("  each defect proves the whole pattern NOT closed (its limit A, zero outside the block, "
                         "is a limit of supported products and not one)")
        else:
            lines.append("  no defect found: this proves nothing about closedness"
                         + ("" if self.exhausted else " (the search stopped at the time limit)"))
        return "\n".join(lines)


def locate_defects(pattern: SparsityPattern | Any, *, time_limit: float = 30.0, max_defects: int = 10,
                   seed: int = 0) -> DefectSearch:
    """Localized defects of a pattern: blocks of 2-3 outputs x 2-3 inputs (all hidden units
    kept, thinnest first) whose sub-pattern collapses to two factors and is not closed.

    Each :class:`Defect` names the block, the hidden units and mask entries its family uses, and
    carries a not-closed certificate for the whole pattern (Lemma D5 of the deep-patterns page)
    that :func:`~reluscope.sparsity.verify` re-checks. Defects are reported at distinct places
    (a block overlapping a found one is skipped).
    """
    time_limit = check_time_limit(time_limit)
    max_defects = check_int(max_defects, "max_defects", minimum=1)
    pattern = as_pattern(pattern)
    start = time.perf_counter()
    pruned, kept = prune_deep(pattern)
    found, tried, exhausted = find_defects(pruned, Budget(time_limit), seed=seed, max_defects=max_defects)
    col = Collapse(pattern, pruned, tuple(tuple(k) for k in kept), (), pruned, ())
    placed = tuple(_defect_of(pattern, d.rows, d.cols, _lift_pruned(col, d.certificate), d.seconds) for d in found)
    return DefectSearch(placed, tried, exhausted and len(found) < max_defects, time.perf_counter() - start)
