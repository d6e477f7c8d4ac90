"""Exact reductions and fast closedness decisions (reluscope.sparsity.terms, .decide, ...)."""

from __future__ import annotations

import dataclasses
import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reluscope.errors import InvalidPattern
from reluscope.sparsity import ClosedCertificate, NotClosedCertificate, SparsityPattern, is_closed, verify
from reluscope.sparsity.qe import decide_qe, membership
from reluscope.sparsity.candidates import local_lu_blocks
from reluscope.sparsity.decide import decide
from reluscope.sparsity.membership import member
from reluscope.sparsity.peeling import _nested_full, full_space
from reluscope.sparsity.terms import (
    absorb_subspaces,
    component_pattern,
    no_cancellation,
    prune_deep,
    reduce_two_factor,
    split_components,
    support_terms,
    width_two_rule,
)

from reduction_terms import T, random_member


def as_matrix(A: dict, shape) -> list[list[Fraction]]:
    return [[A.get((i, j), Fraction(0)) for j in range(shape[1])] for i in range(shape[0])]


# ---------------------------------------------------------------------------------- LU, dense
@pytest.mark.parametrize("n", [2, 3, 4])
def test_lu_not_closed_with_verified_certificate(n: int) -> None:
    v = decide(SparsityPattern.lu(n), time_limit=5.0)
    assert v.closed is False
    assert isinstance(v.certificate, NotClosedCertificate)
    check = verify(v.certificate, time_limit=10.0)
    assert check.valid is True, str(check)


def test_local_lu_premise_found_on_lu2() -> None:
    w1, w2 = SparsityPattern.lu(2).masks
    blocks = local_lu_blocks(support_terms(w1, w2))
    assert blocks and blocks[0][2] == (0, 1, 0, 1)


@pytest.mark.parametrize("widths", [(2, 2, 2), (3, 2, 4), (4, 3, 2), (3, 5, 3)])
def test_dense_closed_by_one_class_cone(widths) -> None:
    v = decide(SparsityPattern.dense(widths), time_limit=2.0)
    assert v.closed is True
    assert v.certificate.rule == "reductions"
    assert [c["rule"] for c in v.certificate.details["components"]] == ["class-cone"]
    assert verify(v.certificate).valid is True


def test_auto_is_closed_uses_reductions() -> None:
    v = is_closed(SparsityPattern.lu(3), time_limit=5.0)
    assert v.closed is False and v.method.startswith("reductions")


# ---------------------------------------------------------------------------------- width 2
def test_width_two_rule_cases() -> None:
    # (1) LU embedding: t has an exclusive row and an exclusive column
    assert width_two_rule(T([0], [0]), T([0, 1], [0, 1])) is False
    # (2) two shared rows, each an exclusive column
    assert width_two_rule(T([0, 1], [0, 1]), T([0, 1], [0, 2])) is False
    # (3) transpose of (2)
    assert width_two_rule(T([0, 1], [0, 1]), T([0, 2], [0, 1])) is False
    # nested with one equal side: closed
    assert width_two_rule(T([0, 1], [0, 1]), T([0, 1, 2], [0, 1])) is True
    # one shared row only, exclusive columns: a row subspace, closed
    assert width_two_rule(T([0], [0, 1]), T([0], [1, 2])) is True
    # cross: wide and tall rectangles
    assert width_two_rule(T([0], [0, 1, 2]), T([0, 1, 2], [0])) is True
    assert width_two_rule(T([0, 1], [0, 1, 2]), T([0, 1, 2], [1])) is True
    # premises fail: disjoint, identical, rank 2
    assert width_two_rule(T([0], [0]), T([1], [1])) is None
    assert width_two_rule(T([0, 1], [0, 1]), T([0, 1], [0, 1])) is None
    assert width_two_rule(T([0, 1], [0, 1], 2), T([0, 1, 2], [0, 1])) is None


def _width_two_patterns(n_out: int, n_in: int):
    """All hidden-width-2 patterns whose two rectangles are rank-one, overlap and differ."""
    subsets_r = [s for k in range(1, n_out + 1) for s in itertools.combinations(range(n_out), k)]
    subsets_c = [s for k in range(1, n_in + 1) for s in itertools.combinations(range(n_in), k)]
    seen = set()
    for c1, r1, c2, r2 in itertools.product(subsets_r, subsets_c, subsets_r, subsets_c):
        w1 = np.zeros((2, n_in), bool)
        w2 = np.zeros((n_out, 2), bool)
        w1[0, list(r1)] = True
        w1[1, list(r2)] = True
        w2[list(c1), 0] = True
        w2[list(c2), 1] = True
        p = SparsityPattern([w1, w2])
        key = p.canonical_key()
        if key in seen:
            continue
        seen.add(key)
        s, t = T(c1, r1), T(c2, r2)
        if width_two_rule(s, t) is not None:
            yield p, width_two_rule(s, t)


@pytest.mark.slow
def test_width_two_rule_agrees_with_exact_qe() -> None:
    """Every hidden-width-2 pattern of size 2x2x2 and 2x2x3 (up to symmetry) that QE decides."""
    compared = 0
    for n_out, n_in in [(2, 2), (2, 3)]:
        for p, closed in _width_two_patterns(n_out, n_in):
            exact = decide_qe(p, time_limit=4.0)[0]
            if exact is not None:
                compared += 1
                assert exact == closed, p
    assert compared >= 5


def test_width_two_not_closed_cases_verified() -> None:
    for n_out, n_in in [(2, 2), (2, 3), (3, 3)]:
        for p, closed in _width_two_patterns(n_out, n_in):
            if closed is False:
                v = decide(p, time_limit=5.0)
                assert v.closed is False
                assert verify(v.certificate, time_limit=10.0).valid is True, p
            else:
                assert decide(p, time_limit=5.0).closed is True


# ---------------------------------------------------------------------------------- absorption lemma
def _absorption_instances(max_tries: int = 400):
    rng = np.random.default_rng(11)
    out = []
    for _ in range(max_tries):
        w1 = rng.random((3, 3)) < 0.5
        w2 = rng.random((3, 3)) < 0.5
        terms = support_terms(w1, w2)
        reduced, steps = absorb_subspaces(terms)
        if steps:
            out.append((w1, w2, terms, reduced, steps))
        if len(out) >= 12:
            break
    return out


def test_absorption_projection_is_the_reduced_sum() -> None:
    """L = R^F (+) L(trimmed): members of L projected off F are members of the trimmed sum,
    and members of the trimmed sum plus anything on F are members of L (Z3, exact)."""
    instances = _absorption_instances()
    assert len(instances) >= 5
    rng = np.random.default_rng(5)
    for w1, w2, terms, reduced, steps in instances:
        free = {tuple(e) for step in steps for e in step["free"]}
        pattern = SparsityPattern([w1, w2])
        for _ in range(2):
            A = random_member(terms, rng)
            projected = {e: x for e, x in A.items() if e not in free}
            assert member(reduced, projected, timeout=10.0) is True
            B = random_member(reduced, rng)
            for e in free:
                B[e] = Fraction(int(rng.integers(-4, 5)))
            assert membership(pattern, as_matrix(B, (3, 3)), time_limit=10.0) is True


def test_components_have_disjoint_supports() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        w1 = rng.random((4, 4)) < 0.4
        w2 = rng.random((4, 4)) < 0.4
        red = reduce_two_factor(SparsityPattern([w1, w2]))
        supports = [frozenset().union(*(t.support for t in comp)) for comp in red.components]
        for a, b in itertools.combinations(supports, 2):
            assert not a & b


# ---------------------------------------------------------------------------------- full space
def test_nested_full_sets_are_whole_spaces() -> None:
    rng = np.random.default_rng(0)
    cases = [
        [T([0, 1], [0, 1]), T([0, 1, 2], [0, 1])],
        [T([0], [0, 1, 2]), T([0, 1], [0, 1, 2])],
        [T([0], [0, 1]), T([0, 1], [0, 1])],
    ]
    for terms in cases:
        assert _nested_full(*terms)
        U = sorted(frozenset().union(*(t.support for t in terms)))
        for _ in range(4):
            X = {e: Fraction(int(rng.integers(-5, 6))) for e in U}
            assert member(terms, X, timeout=10.0) is True
    # not whole spaces: rank <= 2 on 3x3, or two exclusive rows over two columns
    assert not _nested_full(T([0, 1], [0, 1, 2]), T([0, 1, 2], [0, 1, 2]))
    assert not _nested_full(T([0], [0, 1]), T([0, 1, 2], [0, 1]))
    assert not _nested_full(T([0, 1], [1]), T([0, 1], [0, 1, 2]))


def test_full_space_proofs_hold_on_random_points() -> None:
    """Whenever full_space proves L = R^U, random rational points of R^U are members."""
    rng = np.random.default_rng(1)
    proved = 0
    for seed in range(120):
        p = SparsityPattern.random((3, 3, 3), 0.7, seed=seed)
        for comp in reduce_two_factor(p).components:
            if len(comp) < 2 or full_space(comp, time_limit=2.0) is not True:
                continue
            proved += 1
            U = sorted(frozenset().union(*(t.support for t in comp)))
            X = {e: Fraction(int(rng.integers(-5, 6))) for e in U}
            assert member(comp, X, timeout=10.0) is True
        if proved >= 6:
            break
    assert proved >= 3


def test_full_space_rejects_lu() -> None:
    assert full_space([T([0], [0]), T([0, 1], [0, 1])], time_limit=2.0) is not True


# ---------------------------------------------------------------------------------- agreement with QE
@pytest.mark.slow
def test_agrees_with_exact_qe_on_random_small_patterns() -> None:
    compared = 0
    for seed in range(40):
        shape = [(2, 2, 2), (2, 3, 2), (3, 2, 2)][seed % 3]
        p = SparsityPattern.random(shape, 0.6, seed=1000 + seed)
        ours = decide(p, time_limit=3.0).closed
        exact = decide_qe(p, time_limit=3.0)[0]
        if ours is not None and exact is not None:
            compared += 1
            assert ours == exact, p
        if compared >= 12:
            break
    assert compared >= 6


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 10_000))
def test_random_verdict_certificates_verify(seed: int) -> None:
    p = SparsityPattern.random((3, 3, 3), 0.5, seed=seed)
    v = decide(p, time_limit=2.0)
    if v.certificate is not None:
        assert verify(v.certificate, time_limit=10.0).valid is True, p
        assert v.closed is (v.certificate.kind == "closed")


def test_decisions_are_deterministic() -> None:
    for seed in range(15):
        p = SparsityPattern.random((3, 3, 3), 0.5, seed=seed)
        a, b = decide(p, time_limit=5.0), decide(p, time_limit=5.0)
        assert a.closed == b.closed
        if a.certificate is not None:
            assert a.certificate.to_dict() == b.certificate.to_dict()


# ---------------------------------------------------------------------------------- tampering
def _closed_two_component_certificate() -> ClosedCertificate:
    # two disjoint blocks: an identical-support class and a width-2 closed pair
    w1 = np.array([[1, 1, 0, 0, 0], [1, 1, 0, 0, 0], [0, 0, 1, 1, 0], [0, 0, 1, 1, 1]], bool)
    w2 = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]], bool)
    v = decide(SparsityPattern([w1, w2]), time_limit=2.0)
    assert v.closed is True
    return v.certificate


def test_tampered_closed_certificates_fail() -> None:
    cert = _closed_two_component_certificate()
    assert verify(cert).valid is True
    details = cert.details
    comps = [dict(c) for c in details["components"]]
    assert len(comps) == 2
    # claim a rule whose premise fails
    bad = [dict(c) for c in comps]
    bad[1]["rule"] = "class-cone" if bad[1]["rule"] != "class-cone" else "width-2"
    assert verify(dataclasses.replace(cert, details={**details, "components": bad})).valid is False
    # drop a component
    assert verify(dataclasses.replace(cert, details={**details, "components": comps[:1]})).valid is False
    # same certificate on the LU pattern (not closed)
    assert verify(dataclasses.replace(cert, pattern=SparsityPattern.lu(2))).valid is False
    # unknown terminal rule
    bad = [dict(c) for c in comps]
    bad[0]["rule"] = "trust-me"
    assert verify(dataclasses.replace(cert, details={**details, "components": bad})).valid is False


def test_tampered_not_closed_certificate_fails() -> None:
    cert = decide(SparsityPattern.lu(3), time_limit=5.0).certificate
    limit = [list(r) for r in cert.limit]
    limit[0][0] += 1
    assert verify(dataclasses.replace(cert, limit=tuple(tuple(r) for r in limit))).valid is False
    # a closed pattern with the same family shape: LU family on a dense pattern is in L_I
    dense = SparsityPattern.dense((3, 3, 3))
    assert verify(dataclasses.replace(cert, pattern=dense), time_limit=10.0).valid is False


# ---------------------------------------------------------------------------------- deep, bad input
def test_prune_deep_keeps_the_path_support() -> None:
    rng = np.random.default_rng(2)
    for _ in range(30):
        p = SparsityPattern.random((3, 4, 3, 3), 0.4, seed=int(rng.integers(1 << 30)))
        q, keep = prune_deep(p)
        assert np.array_equal(p.path_support(), q.path_support())
        assert q.widths[0] == p.widths[0] and q.widths[-1] == p.widths[-1]
        assert all(len(k) == w for k, w in zip(keep, q.widths))


def test_deep_without_paths_is_zero_and_closed() -> None:
    m = [np.array([[1, 0], [0, 0]], bool), np.array([[0, 1], [0, 1]], bool), np.ones((2, 2), bool)]
    v = decide(SparsityPattern(m), time_limit=2.0)
    assert v.closed is True and v.certificate.rule == "pruned-zero"
    assert verify(v.certificate).valid is True


def test_deep_undecided_is_honest() -> None:
    # dense deep patterns collapse (full blocks) to one factor: closed, with a checked certificate
    v = decide(SparsityPattern.dense((2, 2, 2, 2)), time_limit=0.3, use_qe=False)
    assert v.closed is True and v.certificate is not None
    # a 3x3x3x3 pattern no routing rule collapses and without block defects: undecided, and
    # the message says what was tried
    v = decide(SparsityPattern.from_text("110/111/110;111/110/011;111/011/011"), time_limit=0.3, use_qe=False)
    assert v.closed is None and v.certificate is None
    assert "block-defect search" in v.reasoning and "collapse" in v.reasoning


def test_bad_input() -> None:
    with pytest.raises(InvalidPattern):
        reduce_two_factor([np.ones((2, 2), bool), np.ones((2, 2), bool), np.ones((2, 2), bool)])
    with pytest.raises(InvalidPattern):
        reduce_two_factor([np.ones((2, 3), bool), np.ones((2, 3), bool)])
    with pytest.raises(InvalidPattern):
        decide([np.ones((2, 3), bool), np.ones((2, 3), bool)])


def test_component_pattern_round_trip() -> None:
    terms = [T([0, 2], [1, 3], 2, (0, 1)), T([2], [0, 1], 1, (2,))]
    p, rows, cols = component_pattern(terms)
    assert rows == (0, 2) and cols == (0, 1, 3)
    assert p.widths == (3, 3, 2)
    comps = split_components(terms)
    assert len(comps) == 1


def test_no_cancellation_is_pairwise_disjointness() -> None:
    ok, witness = no_cancellation([T([0], [0]), T([1], [0, 1]), T([0], [1])])
    assert ok and witness is None
    ok, (p, q, (i, j)) = no_cancellation([T([0, 1], [0]), T([1], [0, 1])])
    assert not ok and (i, j) == (1, 0)
    # the witness is a genuine nontrivial cancellation: e_i e_j^T in both cones
    assert (i, j) in p.support and (i, j) in q.support
    # when the criterion holds, every component of the reduction is a single class cone
    rng = np.random.default_rng(4)
    for _ in range(40):
        w1, w2 = rng.random((3, 3)) < 0.4, rng.random((3, 3)) < 0.4
        terms = support_terms(w1, w2)
        if no_cancellation(terms)[0]:
            assert all(len(c) == 1 for c in split_components(terms))
            assert decide(SparsityPattern([w1, w2]), time_limit=1.0).closed is True
