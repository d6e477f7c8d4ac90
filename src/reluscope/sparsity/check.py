"""Independent verification of closedness certificates: :func:`verify`.

A certificate is re-checked from scratch, trusting nothing about how it was found.
Not-closed certificates: shapes, support, the exact limit of the Laurent product, the
divergence of the factors, and ``A not in L_I`` re-proved by Z3. Closed certificates: the
checker of the certificate's rule (the fixed table :data:`CLOSED_RULES`, rule name ->
``checker(certificate, time_limit) -> (passed, message)``) re-establishes the rule's
conclusion from the pattern and the certificate's data.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Union

import numpy as np

from .._validation import check_time_limit
from ..errors import InvalidCertificate, ReluscopeError
from .certificates import (
    certificate_from_dict,
    Certificate,
    CertificateCheck,
    CheckItem,
    ClosedCertificate,
    NotClosedCertificate,
    laurent_matmul,
)
from .pattern import SparsityPattern
from .deep import collapse, replay, restrict
from .peeling import full_space
from .qe import decide_qe, membership
from .quotients import _apply_nested_rewrite, _nested_split, _project_term
from .terms import (
    Term,
    _jsonish,
    _make_term,
    _merge,
    _union,
    component_pattern,
    prune_deep,
    reduce_two_factor,
    split_components,
    width_two_rule,
)

__all__ = ["verify", "CLOSED_RULES", "register_closed_rule"]

ClosedRule = Callable[[ClosedCertificate, float], tuple[Union[bool, None], str]]


def _combine(checks: list[CheckItem]) -> bool | None:
    if any(c.passed is False for c in checks):
        return False
    if any(c.passed is None for c in checks):
        return None
    return True


def _verify_not_closed(cert: NotClosedCertificate, time_limit: float) -> list[CheckItem]:
    pattern = cert.pattern
    checks: list[CheckItem] = []
    widths = pattern.widths
    # 1. shapes
    shapes_ok = len(cert.factors) == pattern.n_factors and all(
        len(f) == widths[l + 1] and all(len(r) == widths[l] for r in f) for l, f in enumerate(cert.factors)
    )
    limit_ok = len(cert.limit) == widths[-1] and all(len(r) == widths[0] for r in cert.limit)
    checks.append(
        CheckItem("shapes", shapes_ok and limit_ok, f"factors and limit fit widths {widths}" if shapes_ok and limit_ok
                  else "factor or limit shapes do not match the pattern")
    )
    if not (shapes_ok and limit_ok):
        return checks
    # 2. support
    bad = [
        (l + 1, i, j)
        for l, f in enumerate(cert.factors)
        for i, row in enumerate(f)
        for j, p in enumerate(row)
        if not p.is_zero() and not pattern.masks[l][i, j]
    ]
    checks.append(
        CheckItem("support", not bad, "every nonzero entry of W(e) is allowed by the pattern" if not bad
                  else f"entries outside the pattern (layer, row, col): {bad[:5]}")
    )
    # 3. exact product limit
    product = cert.factors[0]
    for f in cert.factors[1:]:
        product = laurent_matmul(f, product)
    diverging = [(i, j) for i, row in enumerate(product) for j, p in enumerate(row) if p.diverges()]
    wrong = [
        (i, j)
        for i, row in enumerate(product)
        for j, p in enumerate(row)
        if not p.diverges() and p.limit() != cert.limit[i][j]
    ]
    ok = not diverging and not wrong
    msg = "W_L(e)...W_1(e) -> A exactly as e -> 0+" if ok else (
        f"product diverges at {diverging[:5]}" if diverging else f"product limit differs from A at {wrong[:5]}"
    )
    checks.append(CheckItem("limit", ok, msg))
    # 4. divergence of the factors
    blowups = [
        (l + 1, i, j, p.min_exponent)
        for l, f in enumerate(cert.factors)
        for i, row in enumerate(f)
        for j, p in enumerate(row)
        if p.diverges()
    ]
    checks.append(
        CheckItem(
            "divergence",
            bool(blowups),
            f"entry (layer, row, col) {blowups[0][:3]} ~ e^{blowups[0][3]}: max-norm -> infinity" if blowups
            else "every factor entry stays bounded: the family does not diverge",
        )
    )
    # 5. A not in L_I (Z3), only worth running if everything else holds
    if all(c.passed for c in checks):
        member, where = _membership_by_block(pattern, cert.limit, time_limit)
        if member is False:
            checks.append(CheckItem("non-membership", True, f"Z3: W_L...W_1 = A with supported W is unsat{where}"))
        elif member is True:
            checks.append(CheckItem("non-membership", False, "Z3 found supported factors with product A: A is in L_I"))
        else:
            checks.append(CheckItem("non-membership", None, f"Z3 did not decide membership within {time_limit} s"))
    return checks



def _membership_by_block(pattern: Any, limit: Sequence[Sequence[Any]], time_limit: float) -> tuple[bool | None, str]:
    """Membership of ``A`` in ``L_I``; for a deep pattern (or a large one) decided on the block
    of ``A``'s nonzero rows and columns: ``A in L_I`` implies ``A[O][:, J]`` in the ``L`` of the
    block sub-pattern, which equals the ``L`` of its pruned and collapsed form (Lemmas D1-D5 of
    the deep-patterns page), so "unsat" there proves ``A not in L_I``; "sat" there proves
    nothing about ``A`` and falls back to the whole pattern."""
    rows = [i for i, r in enumerate(limit) if any(v != 0 for v in r)]
    cols = [j for j in range(len(limit[0])) if any(r[j] != 0 for r in limit)]
    if pattern.n_factors >= 3 and rows and cols and (len(rows), len(cols)) != (pattern.widths[-1], pattern.widths[0]):
        small = collapse(restrict(pattern, rows, cols)).collapsed
        block = [[limit[i][j] for j in cols] for i in rows]
        if membership(small, block, time_limit=time_limit) is False:
            return False, (f" on the block outputs {rows} x inputs {cols} (sub-pattern collapsed to widths "
                           f"{'x'.join(map(str, small.widths))}): A is not in L_I")
    elif pattern.n_factors >= 3 and rows and cols:
        small = collapse(pattern).collapsed
        if membership(small, limit, time_limit=time_limit) is False:
            return False, f" on the collapsed pattern (widths {'x'.join(map(str, small.widths))}, same L_I)"
    return membership(pattern, limit, time_limit=time_limit), ""


def _verify_closed(cert: ClosedCertificate, time_limit: float) -> list[CheckItem]:
    checker = CLOSED_RULES.get(cert.rule)
    if checker is None:
        return [CheckItem(f"rule {cert.rule}", False, f"unknown closedness rule {cert.rule!r}")]
    passed, message = checker(cert, time_limit)
    return [CheckItem(f"rule {cert.rule}", passed, message)]


def verify(certificate: Certificate, time_limit: float = 10.0) -> CertificateCheck:
    """Re-check a certificate independently of how it was found.

    Not-closed certificates: shapes; support of ``W(eps)`` within the pattern; the product
    ``W_L(eps)...W_1(eps)`` computed exactly (rational Laurent polynomials) has no negative
    power of ``eps`` and its constant terms equal ``A``; some factor entry has a negative
    power (so the max-norm of the factors tends to infinity); and ``A not in L_I`` re-proved
    by Z3 (unsat of ``exists W supported: W_L...W_1 = A``).

    Closed certificates: the rule's checker re-establishes the conclusion.

    Parameters
    ----------
    certificate:
        A :class:`NotClosedCertificate` or :class:`ClosedCertificate`, or the ``to_dict()``
        form of either (as read from JSON; malformed: :class:`InvalidCertificate`).
    time_limit:
        Wall-clock seconds for each Z3 call.

    Returns
    -------
    CertificateCheck
        ``valid`` True / False / None (a Z3 step undecided in time).
    """
    time_limit = check_time_limit(time_limit)
    start = time.perf_counter()
    if isinstance(certificate, Mapping):  # the JSON form (to_dict), e.g. read from a file
        certificate = certificate_from_dict(certificate)
    if isinstance(certificate, NotClosedCertificate):
        checks = _verify_not_closed(certificate, time_limit)
    elif isinstance(certificate, ClosedCertificate):
        checks = _verify_closed(certificate, time_limit)
    else:
        raise InvalidCertificate(f"not a certificate: {type(certificate).__name__}")
    return CertificateCheck(_combine(checks), tuple(checks), time.perf_counter() - start)


# ---------------------------------------------------------------------------------- built-in rules
def _rule_dense(cert: ClosedCertificate, time_limit: float) -> tuple[bool | None, str]:
    if cert.pattern.is_dense():
        return True, f"all masks full: L_I = matrices of rank <= {min(cert.pattern.widths)}, closed"
    return False, "rule 'dense' claimed but some mask is not full"


def _rule_single(cert: ClosedCertificate, time_limit: float) -> tuple[bool | None, str]:
    if cert.pattern.n_factors == 1:
        return True, "one factor: L_I is a coordinate subspace, closed"
    return False, f"rule 'single-factor' claimed but the pattern has {cert.pattern.n_factors} factors"


def _qe_outcome(pattern: Any, time_limit: float, closed: str, not_closed: str) -> tuple[bool | None, str]:
    """Re-run quantifier elimination on ``pattern``: ``(True, closed)``, ``(False,
    not_closed)`` or ``(None, ...)`` when it does not answer in time."""
    answer = decide_qe(pattern, time_limit=time_limit)[0]
    if answer is None:
        return None, f"quantifier elimination undecided within {time_limit} s"
    return answer, closed if answer else not_closed


def _rule_qe(cert: ClosedCertificate, time_limit: float) -> tuple[bool | None, str]:
    return _qe_outcome(cert.pattern, time_limit, "quantifier elimination re-run: the non-closedness sentence is false",
                       "quantifier elimination re-run says NOT closed")


def _rule_components(cert: ClosedCertificate, time_limit: float) -> tuple[bool | None, str]:
    pattern = cert.pattern
    if pattern.n_factors != 2:
        return False, "rule 'components' needs two factors"
    comps = pattern.components()
    if len(cert.parts) != len(comps):
        return False, f"{len(comps)} components but {len(cert.parts)} sub-certificates"
    states = []
    for comp, part in zip(comps, cert.parts):
        if not isinstance(part, ClosedCertificate) or part.pattern != comp.pattern:
            return False, "a sub-certificate does not match its component pattern"
        states.append(verify(part, time_limit).valid)
    if any(s is False for s in states):
        return False, "a component's certificate fails"
    if any(s is None for s in states):
        return None, "a component's certificate could not be checked in time"
    return True, f"direct sum of {len(comps)} closed components with disjoint supports"



def _check_quotient(comp: Sequence[Term], record: dict[str, Any], time_limit: float) -> tuple[bool | None, str]:
    """Re-check a quotient record step by step from the component (not by re-searching)."""
    terms = _merge(comp)
    for n, step in enumerate(record.get("quotient") or []):
        if "nested" in step:
            try:
                s_, t_ = (_make_term(*g) for g in step["nested"])
            except (TypeError, ValueError):
                return False, f"quotient step {n}: malformed nested pair"
            if s_ not in terms or t_ not in terms or s_ == t_ or _nested_split(s_, t_) is None:
                return False, f"quotient step {n}: premises of the nested-pair rewriting fail"
            terms = _apply_nested_rewrite(terms, s_, t_)
            continue
        try:
            group = [_make_term(*g) for g in step["group"]]
        except (TypeError, ValueError, KeyError):
            return False, f"quotient step {n}: malformed group"
        if any(g not in terms for g in group) or not group:
            return False, f"quotient step {n}: group is not a subset of the current terms"
        F = _union(group)
        if sorted([list(e) for e in F]) != _jsonish(step.get("free")):
            return False, f"quotient step {n}: free set is not the union of the group"
        if not (len(group) == 1 and group[0].subspace):
            ok = full_space(group, time_limit=time_limit)
            if ok is not True:
                return (None if ok is None else False), f"quotient step {n}: group sum not proved to be R^F"
        new: list[Term] = []
        for q in terms:
            if q in group:
                continue
            proj = _project_term(q, F)
            if proj is None:
                return False, f"quotient step {n}: a projected term is neither a rectangle nor a star forest"
            new += proj
        terms = _merge(new)
    parts = split_components(terms)
    recorded = record.get("parts") or []
    if _jsonish([[t.to_list() for t in p] for p in parts]) != _jsonish([r.get("terms") for r in recorded]):
        return False, "quotient parts differ from the recomputed quotient"
    for part, r in zip(parts, recorded):
        rule = r.get("rule")
        if rule == "class-cone" and len(part) == 1:
            continue
        if rule == "width-2" and len(part) == 2 and width_two_rule(*part) is True:
            continue
        if rule == "full-space":
            ok = full_space(part, time_limit=time_limit)
            if ok is True:
                continue
            return (None if ok is None else False), "quotient part: whole-space proof failed"
        return False, f"quotient part: terminal rule {rule!r} does not apply"
    return True, "quotient steps and parts re-checked"


def _check_reductions(cert: ClosedCertificate, time_limit: float) -> tuple[bool | None, str]:
    pattern = cert.pattern
    if pattern.n_factors != 2:
        return False, "rule 'reductions' needs a two-factor pattern"
    red = reduce_two_factor(pattern)
    expected = red.to_dict()
    details = dict(cert.details)
    for key in ("widths", "dropped", "steps"):
        if _jsonish(details.get(key)) != _jsonish(expected[key]):
            return False, f"recomputed reduction differs from the certificate ({key})"
    comps = details.get("components")
    if not isinstance(comps, (list, tuple)) or len(comps) != len(red.components):
        return False, "number of components differs from the recomputed reduction"
    undecided = False
    for n, (record, comp) in enumerate(zip(comps, red.components)):
        if _jsonish(record.get("terms")) != _jsonish([t.to_list() for t in comp]):
            return False, f"component {n} differs from the recomputed reduction"
        rule = record.get("rule")
        if rule == "class-cone":
            if len(comp) != 1:
                return False, f"component {n}: 'class-cone' needs exactly one term, has {len(comp)}"
        elif rule == "width-2":
            if len(comp) != 2 or width_two_rule(*comp) is not True:
                return False, f"component {n}: premises of the hidden-width-2 rule fail"
        elif rule == "full-space":
            ok = full_space(comp, time_limit=time_limit)
            if ok is False:
                return False, f"component {n}: its cone sum is not the whole coordinate space"
            undecided = undecided or ok is None
        elif rule == "quotient":
            ok, why = _check_quotient(comp, record, time_limit)
            if ok is False:
                return False, f"component {n}: {why}"
            undecided = undecided or ok is None
        elif rule == "qe":
            sub, _, _ = component_pattern(comp)
            closed = decide_qe(sub, time_limit=time_limit)[0]
            if closed is False:
                return False, f"component {n}: quantifier elimination says not closed"
            undecided = undecided or closed is None
        else:
            return False, f"component {n}: unknown terminal rule {rule!r}"
    if undecided:
        return None, "a Z3 re-check did not finish in time"
    return True, (
        f"reduction recomputed ({len(red.dropped)} dropped, {len(red.steps)} absorptions, "
        f"{len(red.components)} components); every component's terminal rule re-checked"
    )


def _check_pruned_qe(cert: ClosedCertificate, time_limit: float) -> tuple[bool | None, str]:
    pruned, _ = prune_deep(cert.pattern)
    if cert.details.get("pruned") != pruned.to_text():
        return False, "recomputed pruned pattern differs from the certificate"
    return _qe_outcome(pruned, time_limit,
                       "dead units pruned (exact); quantifier elimination re-run on the pruned pattern: closed",
                       "quantifier elimination on the pruned pattern says not closed")


def _check_deep_collapse(cert: ClosedCertificate, time_limit: float) -> tuple[bool | None, str]:
    """Replay the recorded prune-and-collapse steps from the pattern (each premise re-checked),
    compare the collapsed pattern, then verify the sub-certificate of the collapsed pattern."""
    collapsed, why = replay(cert.pattern, cert.details.get("steps") or [], peel=time_limit)
    if collapsed is None:
        return False, why
    if collapsed.to_text() != cert.details.get("collapsed"):
        return False, "the replayed collapse differs from the certificate's collapsed pattern"
    if len(cert.parts) != 1 or not isinstance(cert.parts[0], ClosedCertificate) or cert.parts[0].pattern != collapsed:
        return False, "deep-collapse needs one closed sub-certificate of the collapsed pattern"
    sub = verify(cert.parts[0], time_limit)
    if sub.valid is not True:
        return sub.valid, "the collapsed pattern's certificate " + ("fails" if sub.valid is False else "was not checked in time")
    return True, (f"{len(cert.details.get('steps') or [])} collapse steps replayed (same L_I); "
                  f"collapsed pattern {'x'.join(map(str, collapsed.widths))} closed by rule {cert.parts[0].rule!r}")


def _check_routing_cover(cert: ClosedCertificate, time_limit: float) -> tuple[bool | None, str]:
    """Lemma D6: a sub-pattern ``J ⊆ I`` with the same path support whose ``L_J`` is the
    coordinate subspace on it (its own deep-collapse certificate to ONE factor)."""
    try:
        sub = SparsityPattern.from_text(str(cert.details.get("sub")))
    except ReluscopeError:
        return False, "routing-cover: the sub-pattern does not parse"
    if sub.widths != cert.pattern.widths or any((a & ~b).any() for a, b in zip(sub.masks, cert.pattern.masks)):
        return False, "routing-cover: the sub-pattern is not contained in the pattern"
    if not np.array_equal(sub.path_support(), cert.pattern.path_support()):
        return False, "routing-cover: the sub-pattern's path support differs from the pattern's"
    part = cert.parts[0] if len(cert.parts) == 1 else None
    if not isinstance(part, ClosedCertificate) or part.pattern != sub or part.rule != "deep-collapse":
        return False, "routing-cover needs one deep-collapse certificate of the sub-pattern"
    collapsed, why = replay(sub, part.details.get("steps") or [])
    if collapsed is None or collapsed.n_factors != 1:
        return False, f"routing-cover: the sub-pattern does not collapse to one factor ({why})"
    check = verify(part, time_limit)
    if check.valid is not True:
        return check.valid, "routing-cover: the sub-pattern's certificate " + ("fails" if check.valid is False else "was not checked in time")
    return True, (f"sub-pattern of {sub.n_allowed} weights inside the pattern, same path support, collapses to one "
                  "factor: L_I is the coordinate subspace on the path support")


def _check_pruned_zero(cert: ClosedCertificate, time_limit: float) -> tuple[bool | None, str]:
    if cert.pattern.path_support().any():
        return False, "some path reaches the output: L_I is not {0}"
    return True, "no path from input to output: L_I = {0}"


#: The closedness rules :func:`verify` knows: rule name -> checker. Fixed at import (no
#: module registers rules as a side effect); :func:`register_closed_rule` adds a rule of
#: an extension explicitly.
CLOSED_RULES: dict[str, ClosedRule] = {
    "dense": _rule_dense,
    "single-factor": _rule_single,
    "qe": _rule_qe,
    "components": _rule_components,
    "reductions": _check_reductions,
    "pruned-qe": _check_pruned_qe,
    "pruned-zero": _check_pruned_zero,
    "deep-collapse": _check_deep_collapse,
    "routing-cover": _check_routing_cover,
}


def register_closed_rule(name: str, checker: ClosedRule) -> None:
    """Add ``checker(certificate, time_limit) -> (passed, message)`` for rule ``name`` to
    :data:`CLOSED_RULES` (for extensions; the built-in rules are already there).

    The checker must re-establish the rule's conclusion from the pattern and the
    certificate's data, trusting nothing else; sub-certificates can be checked with
    :func:`verify`.
    """
    CLOSED_RULES[name] = checker
