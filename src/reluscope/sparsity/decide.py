"""Deciding whether the linear counterpart ``L_I`` of a sparsity pattern is closed: one path.

:func:`is_closed` is the entry point. It makes one :class:`~reluscope._budget.Budget` per
call and passes it down through the steps (``method="auto"``):

1. **rules** — one factor (a coordinate subspace) or full masks (matrices of bounded rank):
   closed, exact and instant;
2. **reductions** — :func:`decide`, with a share of the budget: two factors are reduced
   exactly to independent components (:mod:`~reluscope.sparsity.terms`), and each component
   is decided by the solver-free rules (class cone, hidden-width-2 rule, local LU and pair
   blocks with an exact premise, whole-space peeling, quotients), the first-order candidate
   search (:mod:`~reluscope.sparsity.candidates`), the whole-space sentence and quantifier
   elimination on the reduced component; deep patterns are pruned of dead units and the
   pruned pattern goes to quantifier elimination;
3. **quantifier elimination** on the whole pattern (:mod:`~reluscope.sparsity.qe`) with
   the rest of the budget;
4. **certificate** — when quantifier elimination proves non-closedness, an explicit
   factor family is searched (:func:`~reluscope.sparsity.families.find_degeneration_certificate`).

``method="qe"`` runs steps 3–4 only; ``method="plain"`` runs the published plain encoding
(the baseline, no certificate search). Every decided verdict carries a certificate that
:func:`reluscope.sparsity.verify` re-checks independently (a not-closed verdict of
quantifier elimination may lack the explicit family); an undecided verdict says where the
time went.
"""

from __future__ import annotations

import numbers
import time
from typing import Any

import numpy as np

from .._budget import Budget
from .._validation import check_choice, check_seed, check_time_limit
from .candidates import (
    FULL_SPACE_SECONDS,
    FirstOrderCandidate,
    exact_pair_blocks,
    local_lu_blocks,
    search_first_order,
)
from .certificates import ClosedCertificate, ClosednessVerdict
from .families import candidate_certificate, find_degeneration_certificate
from .pattern import SparsityPattern, as_pattern
from .peeling import full_space
from .qe import decide_plain, decide_qe
from .quotients import quotient_closed
from .terms import Term, component_pattern, prune_deep, reduce_two_factor, width_two_rule

__all__ = ["is_closed", "decide"]

_METHODS = ("auto", "qe", "plain")

#: Share of the budget the reductions get in ``method="auto"``; quantifier elimination on
#: the whole pattern gets the rest (not a leftover).
REDUCTIONS_SHARE = 0.5
#: The solver-free whole-space peeling tried before the candidate search (seconds, at most).
PEEL_SECONDS = 1.0


def _seed_value(seed: Any) -> int:
    """An integer seed (the search derives per-component seeds ``seed + n`` from it): an
    integer as is, anything else :func:`~reluscope._validation.check_seed` accepts drawn
    from once."""
    if isinstance(seed, (numbers.Integral, np.integer)) and not isinstance(seed, bool):
        check_seed(seed)
        return int(seed)
    return int(check_seed(seed).integers(2**32))


def _time_spent(budget: Budget) -> str:
    phases = budget.describe_phases()
    return f" (time: {phases})" if phases else ""


# ---------------------------------------------------------------------------------- step 1: rules
def _rules(pattern: SparsityPattern, start: float) -> ClosednessVerdict | None:
    if pattern.n_factors == 1:
        return ClosednessVerdict(True, "single-factor", time.perf_counter() - start,
                                 ClosedCertificate(pattern, "single-factor"),
                                 "one factor: L_I is a coordinate subspace")
    if pattern.is_dense():
        return ClosednessVerdict(True, "dense", time.perf_counter() - start, ClosedCertificate(pattern, "dense"),
                                 f"full masks: L_I = matrices of rank <= {min(pattern.widths)}, a closed set")
    return None


# ---------------------------------------------------------------------------------- step 2: reductions
def _solver_free(comp: tuple[Term, ...], budget: Budget) -> tuple[bool, str, Any] | None:
    """The rules of one component that need no solver, or ``None`` when none applies."""
    if len(comp) == 1:
        return True, "class-cone", None
    if len(comp) == 2 and width_two_rule(*comp) is True:
        return True, "width-2", None
    # local LU with the exact premise: A = e_i e_j'^T + e_i' e_j^T is not in L by the 2x2
    # block argument (Section 7 of the background page) -- no solver needed here; `verify`
    # re-proves the non-membership with Z3 on the original pattern
    blocks = local_lu_blocks(comp)
    if blocks:
        s, t, (i, i2, j, j2) = blocks[0]
        return False, "local-lu", FirstOrderCandidate(s, t, (i, j), (), ((i2, 1),), (), ((j2, -1),), kind="local-lu")
    # the shared-rows / shared-cols configurations with the same kind of exact premise
    for cand in exact_pair_blocks(comp):
        return False, cand.kind, cand
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
    with budget.phase("candidate search"):
        closed, rule, cand, tried_full = search_first_order(comp, budget, seed)
    if closed is not None or rule == "timeout":
        return closed, rule, cand
    if budget.remaining() > 0.05 and not tried_full:
        with budget.phase("whole-space proof"):
            if full_space(comp, time_limit=FULL_SPACE_SECONDS, budget=budget) is True:
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


def _decide_two_factor(pattern: SparsityPattern, budget: Budget, seed: int, use_qe: bool) -> ClosednessVerdict | None:
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


def _decide_deep(pattern: SparsityPattern, budget: Budget, use_qe: bool) -> ClosednessVerdict | None:
    start = time.perf_counter()
    with budget.phase("reductions"):
        pruned, keep = prune_deep(pattern)
    if not pruned.path_support().any():
        cert = ClosedCertificate(pattern, "pruned-zero", {"pruned": pruned.to_text()})
        return ClosednessVerdict(True, "reductions", time.perf_counter() - start, cert, "no path: L_I = {0}")
    if not use_qe or pruned == pattern:
        return None
    with budget.phase("quantifier elimination"):
        closed, _, message = decide_qe(pruned, time_limit=None, budget=budget)
    if closed is None:
        return None
    cert = ClosedCertificate(pattern, "pruned-qe", {"pruned": pruned.to_text(), "kept": keep}) if closed else None
    return ClosednessVerdict(
        closed, "reductions+qe", time.perf_counter() - start, cert,
        f"pruned dead hidden units ({pattern.widths} -> {pruned.widths}); {message}",
    )


def decide(
    pattern: SparsityPattern | Any,
    time_limit: float | None = 1.0,
    seed: Any = 0,
    use_qe: bool = True,
    *,
    budget: Budget | None = None,
) -> ClosednessVerdict:
    """Step 2 of :func:`is_closed` on its own: exact reductions and fast tests, with certificates.

    Sweeps and benchmarks call it directly (deterministic, no quantifier elimination on the
    whole pattern); :func:`is_closed` calls it with a share of its budget.

    Parameters
    ----------
    pattern:
        The sparsity pattern (any number of factors; or masks / text / a network).
    time_limit:
        Wall-clock seconds (Z3 calls are bounded by it); ``None`` with a ``budget``.
    seed:
        Seed of the random first-order candidates (results are reproducible).
    use_qe:
        Run exact quantifier elimination on the *reduced* components as a last resort.
    budget:
        The caller's budget (capped at ``time_limit`` when both are given).

    Returns
    -------
    ClosednessVerdict
        ``closed`` True/False with a certificate (``None`` only when quantifier elimination
        decided "not closed" without an explicit family), or ``closed=None`` (method
        ``"reductions"``) when undecided within the budget.
    """
    time_limit = check_time_limit(time_limit, allow_none=True)
    seed = _seed_value(seed)
    pattern = as_pattern(pattern)
    budget = Budget.of(time_limit, budget)
    start = time.perf_counter()
    allowed = time_limit if time_limit is not None else f"{budget.remaining():.3g}"
    if pattern.n_factors == 1:
        return ClosednessVerdict(
            True, "reductions", 0.0, ClosedCertificate(pattern, "single-factor"), "one factor: a coordinate subspace"
        )
    if pattern.n_factors == 2:
        verdict = _decide_two_factor(pattern, budget, seed, use_qe)
    else:
        verdict = _decide_deep(pattern, budget, use_qe)
    if verdict is None:
        return ClosednessVerdict(
            None, "reductions", time.perf_counter() - start, None, f"undecided within {allowed} s" + _time_spent(budget)
        )
    return verdict


# ---------------------------------------------------------------------------------- the entry point
def is_closed(
    pattern: SparsityPattern | Any,
    time_limit: float = 30.0,
    method: str = "auto",
    certificate_time_limit: float | None = None,
    seed: Any = 0,
    *,
    budget: Budget | None = None,
) -> ClosednessVerdict:
    """Decide whether ``L_I = {W_L ... W_1 : supp W_l in I_l}`` is closed.

    Parameters
    ----------
    pattern:
        A :class:`SparsityPattern` (or a ``ReLUNetwork`` / text notation / list of masks).
    time_limit:
        Wall-clock seconds for the whole decision, certificate search included (quantifier
        elimination runs in a child process killed when the time is up).
    method:
        ``"auto"`` (rules, reductions, then quantifier elimination on the whole pattern),
        ``"qe"`` (quantifier elimination only) or ``"plain"`` (the published encoding, no
        certificate search).
    certificate_time_limit:
        At most this many seconds for the certificate search after quantifier elimination
        proves non-closedness (default: whatever is left of ``time_limit``).
    seed:
        Seed of the candidate and certificate searches (an integer or a numpy ``Generator``).
    budget:
        The caller's budget (capped at ``time_limit``), for callers that already hold one.

    Returns
    -------
    ClosednessVerdict
        ``closed`` True / False / None (undecided within the limit — never a guess).
    """
    method = check_choice(method, _METHODS, "method")
    time_limit = check_time_limit(time_limit)
    if certificate_time_limit is not None:
        certificate_time_limit = check_time_limit(certificate_time_limit, "certificate_time_limit")
    seed = _seed_value(seed)
    pattern = as_pattern(pattern)
    budget = Budget.of(time_limit, budget)
    start = time.perf_counter()
    if method == "auto":
        with budget.phase("rules"):
            verdict = _rules(pattern, start)
        if verdict is not None:
            return verdict
        verdict = decide(pattern, time_limit=None, seed=seed, budget=budget.share(REDUCTIONS_SHARE))
        if verdict.closed is not None:
            return verdict
    if method == "plain":
        with budget.phase("quantifier elimination"):
            closed, _, message = decide_plain(pattern, time_limit=None, budget=budget)
        certificate = ClosedCertificate(pattern, "qe", {"encoding": "plain"}) if closed else None
        if closed is None:
            message += _time_spent(budget)
        return ClosednessVerdict(closed, "plain", time.perf_counter() - start, certificate, message)
    with budget.phase("quantifier elimination"):
        closed, _, message = decide_qe(pattern, time_limit=None, budget=budget)
    if closed is None:
        return ClosednessVerdict(None, "qe", time.perf_counter() - start, None,
                                 f"quantifier elimination undecided: {message}" + _time_spent(budget))
    if closed:
        return ClosednessVerdict(True, "qe", time.perf_counter() - start, ClosedCertificate(pattern, "qe"),
                                 f"quantifier elimination: the non-closedness sentence is false ({message})")
    with budget.phase("certificate search"):
        certificate = find_degeneration_certificate(pattern, time_limit=certificate_time_limit, seed=seed,
                                                    budget=budget)
    reasoning = f"quantifier elimination: the non-closedness sentence is true ({message})"
    if certificate is None:
        reasoning += "; no explicit factor family found within the search budget (certificate missing)"
    else:
        reasoning += f"; explicit family found ({certificate.rule}): limit A is not in L_I"
    return ClosednessVerdict(False, "qe", time.perf_counter() - start, certificate, reasoning)
