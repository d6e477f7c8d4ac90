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
   elimination on the reduced component (:mod:`~reluscope.sparsity.two_factor`); deep
   patterns are pruned, their routing stretches collapsed (same ``L_I``), and the result is
   decided as one or two factors, or searched for block defects and sent to quantifier
   elimination (:mod:`~reluscope.sparsity.deep_decide`);
3. **quantifier elimination** on the whole pattern (:mod:`~reluscope.sparsity.qe`) with
   the rest of the budget (deep patterns: on the collapsed pattern, inside step 2, with
   what the block-defect search leaves);
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
from .certificates import ClosedCertificate, ClosednessVerdict
from .deep_decide import decide_deep
from .families import find_degeneration_certificate
from .pattern import SparsityPattern, as_pattern
from .qe import decide_plain, decide_qe
from .two_factor import decide_two_factor

__all__ = ["is_closed", "decide"]

_METHODS = ("auto", "qe", "plain")

#: Share of the budget the reductions get in ``method="auto"``; quantifier elimination on
#: the whole pattern gets the rest (not a leftover).
REDUCTIONS_SHARE = 0.5


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
    tried = ""
    if pattern.n_factors == 2:
        verdict = decide_two_factor(pattern, budget, seed, use_qe)
    else:
        verdict, tried = decide_deep(pattern, budget, seed, use_qe)
    if verdict is None:
        return ClosednessVerdict(
            None, "reductions", time.perf_counter() - start, None,
            f"undecided after {time.perf_counter() - start:.3g} s (limit {allowed} s)"
            + (f"; tried: {tried}" if tried else "") + _time_spent(budget)
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
        if pattern.n_factors >= 3:
            # deep: the collapsed pattern has the same L_I and is never larger, so quantifier
            # elimination runs on it inside `decide` with everything the defect search leaves
            return decide(pattern, time_limit=None, seed=seed, budget=budget)
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
