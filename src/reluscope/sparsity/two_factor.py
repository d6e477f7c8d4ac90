"""Step 2 of the decision for two factors: exact reductions to independent components and
the decision of each component (solver-free rules, the first-order candidate search, the
whole-space sentence, quantifier elimination on the reduced component).

:func:`decide_two_factor` is called by :func:`~reluscope.sparsity.decide.decide` for
two-factor patterns and by :mod:`~reluscope.sparsity.deep_decide` for the two-factor
patterns deep ones collapse to. Proofs: ``docs/background/closedness-decisions.md``.
"""

from __future__ import annotations

import math

import time
from typing import Any

from .._budget import Budget
from .candidates import (
    FULL_SPACE_SECONDS,
    FirstOrderCandidate,
    exact_pair_blocks,
    local_lu_blocks,
    search_first_order,
)
from .certificates import ClosedCertificate, ClosednessVerdict
from .families import candidate_certificate, find_degeneration_certificate
from .pattern import SparsityPattern
from .peeling import full_space
from .qe import decide_qe
from .quotients import quotient_closed
from .terms import Term, component_pattern, reduce_two_factor, width_two_rule

__all__ = ["decide_two_factor"]

#: The solver-free whole-space peeling tried before the candidate search (seconds, at most).
PEEL_SECONDS = 1.0

def _solver_free(comp: tuple[Term, ...], budget: Budget) -> tuple[bool, str, Any] | None:
    """The rules of one component that need no solver, or ``None`` when none applies."""
    if len(comp) == 1:
        return True, "class-cone", None
    if len(comp) == 2 and width_two_rule(*comp) is True:
        return True, "width-2", None
    # local LU with the exact premise: A = e_i e_j'^T + e_i' e_j^T is not in L by the 2x2
    # block argument (Section 7 of the background page) -- no solver needed here; `verify`
    # re-proves the non-membership with Z3 on the original pattern
    blocks = local_lu_blocks(comp, budget, first=True)
    if blocks:
        s, t, (i, i2, j, j2) = blocks[0]
        return False, "local-lu", FirstOrderCandidate(s, t, (i, j), (), ((i2, 1),), (), ((j2, -1),), kind="local-lu")
    # the shared-rows / shared-cols configurations with the same kind of exact premise
    for cand in exact_pair_blocks(comp, budget):
        return False, cand.kind, cand
    if budget.expired():
        return None
    # combinatorial part of the whole-space proof first (no solver, cheap)
    if full_space(comp, time_limit=PEEL_SECONDS, z3_leaf=0, budget=budget) is True:
        return True, "full-space", None
    # quotient by coordinate spaces inside L, then solver-free rules (closedness only)
    record = quotient_closed(comp, budget)
    if record is not None:
        return True, "quotient", record
    return None


def _decide_component(comp: tuple[Term, ...], budget: Budget, seed: int, use_qe: bool) -> tuple[bool | None, str, Any]:
    """Decide one component. Returns ``(closed, rule, data)``; ``data`` is a
    :class:`FirstOrderCandidate` when not closed by a candidate."""
    with budget.phase("reductions"):
        found = _solver_free(comp, budget)
    if found is not None:
        return found
    if budget.expired():
        return None, "timeout", None
    with budget.phase("candidate search"):
        closed, rule, cand, _ = search_first_order(comp, budget, seed)
    if closed is not None or rule == "timeout":
        return closed, rule, cand
    if budget.remaining() > 0.05:  # also after the search's own capped try
        # the whole-space sentence and QE both settle this component; give the (usually
        # cheaper) sentence half of what is left, not a fixed slice a slow machine may not
        # finish in (an unlimited budget keeps the fixed slice so that QE still runs)
        left = budget.remaining()
        limit = FULL_SPACE_SECONDS if math.isinf(left) else None
        share = budget.share(0.5 if use_qe else 1.0, at_least=min(FULL_SPACE_SECONDS, left))
        with budget.phase("whole-space proof"):
            if full_space(comp, time_limit=limit, budget=share) is True:
                return True, "full-space", None
    if use_qe and budget.remaining() > 0.05:
        sub, _, _ = component_pattern(comp)
        with budget.phase("quantifier elimination"):
            closed, _, _ = decide_qe(sub, time_limit=None, budget=budget)
        if closed is True:
            return True, "qe", sub.to_text()
        if closed is False:
            return False, "qe", None
    return None, "undecided", None


def _component_record(comp: tuple[Term, ...], rule: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    record = {"terms": [t.to_list() for t in comp], "rule": rule}
    if extra:
        record.update(extra)
    return record


def decide_two_factor(pattern: SparsityPattern, budget: Budget, seed: int, use_qe: bool) -> ClosednessVerdict | None:
    start = time.perf_counter()
    with budget.phase("reductions"):
        red = reduce_two_factor(pattern)
    records = []
    undecided = []
    for n, comp in enumerate(red.components):
        closed, rule, data = _decide_component(comp, budget, seed + n, use_qe)
        if closed is False:
            if isinstance(data, FirstOrderCandidate):
                cert = candidate_certificate(pattern, data)
                return ClosednessVerdict(
                    False,
                    "reductions",
                    time.perf_counter() - start,
                    cert,
                    f"component {n} ({len(comp)} terms after {len(red.steps)} absorptions) has a {rule} "
                    f"degeneration at {data.entry}; its limit is not in L_I",
                )
            cert = None
            if budget.remaining() > 0.1:  # the search over all neuron pairs, within the budget
                with budget.phase("certificate search"):
                    cert = find_degeneration_certificate(pattern, time_limit=None, seed=seed, budget=budget)
            return ClosednessVerdict(
                False,
                "reductions+qe",
                time.perf_counter() - start,
                cert,
                f"quantifier elimination on reduced component {n} says not closed"
                + ("" if cert is None else "; explicit family found by the degeneration search")
                + (" (no explicit family found)" if cert is None else ""),
            )
        if closed is None:
            undecided.append(n)
        extra = {"reduced": data} if rule == "qe" else (data if rule == "quotient" else None)
        records.append(_component_record(comp, rule, extra))
    if undecided:
        return None
    details = red.to_dict()
    details["components"] = records
    cert = ClosedCertificate(pattern, "reductions", details)
    rules = sorted({r["rule"] for r in records})
    return ClosednessVerdict(
        True,
        "reductions" + ("+qe" if "qe" in rules else ""),
        time.perf_counter() - start,
        cert,
        f"dropped {len(red.dropped)} empty neurons, {len(red.steps)} subspace absorptions, "
        f"{len(red.components)} independent components closed by {', '.join(rules) or 'nothing (L_I = {0})'}",
    )
