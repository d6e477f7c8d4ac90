"""Second round of the fast closedness pipeline: incremental membership checks, redundant-term
peeling, the root whole-space sentence and the generic-dimension ordering heuristic."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import z3

from reluscope.sparsity import SparsityPattern, verify
from reluscope.sparsity.candidates import first_order_candidates, generic_dimension
from reluscope.sparsity.decide import decide
from reluscope.sparsity.membership import Membership as _Membership
from reluscope.sparsity.membership import member
from reluscope.sparsity.peeling import full_space
from reluscope.sparsity.terms import _rank_pieces, reduce_two_factor

from reduction_terms import T


def _fresh_member(terms, A, timeout_ms=20_000):
    """Reference: one fresh QF_NRA solver, no incremental fast path."""
    free = set()
    for t in terms:
        if t.subspace:
            free |= t.support
    covered = frozenset().union(*(t.support for t in terms))
    if any(v != 0 and e not in covered for e, v in A.items()):
        return False
    expr: dict = {}
    for n, (t, _) in enumerate(_rank_pieces([t for t in terms if not t.subspace])):
        u = {i: z3.Real(f"u{n}_{i}") for i in t.rows}
        v = {j: z3.Real(f"v{n}_{j}") for j in t.cols}
        for i in t.rows:
            for j in t.cols:
                if (i, j) not in free:
                    expr.setdefault((i, j), []).append(u[i] * v[j])
    s = z3.SolverFor("QF_NRA")
    s.set("timeout", timeout_ms)
    for e, ts in expr.items():
        q = Fraction(A.get(e, 0))
        s.add(z3.Sum(ts) == z3.RealVal(f"{q.numerator}/{q.denominator}"))
    r = s.check()
    return True if r == z3.sat else False if r == z3.unsat else None


def _components(shape, density, seeds):
    for seed in seeds:
        p = SparsityPattern.random(shape, density, seed=seed)
        for comp in reduce_two_factor(p).components:
            if len(comp) >= 2:
                yield comp


def test_incremental_membership_agrees_with_a_fresh_solver() -> None:
    """The push/pop fast path never contradicts a fresh solver, on candidate limits (mostly
    members) and on products of random integer factors (always members)."""
    rng = np.random.default_rng(5)
    compared = 0
    for comp in _components((3, 3, 3), 0.6, range(200, 260)):
        check = _Membership(comp)
        cands = first_order_candidates(comp, seed=0, n_random=6)
        for cand in cands[:: max(1, len(cands) // 8)]:
            A = cand.limit()
            fast, ref = check(A, timeout=5.0), _fresh_member(comp, A)
            if fast is not None and ref is not None:
                assert fast == ref, (comp, A)
                compared += 1
        # a product of random factors is a member
        A: dict = {}
        for t, _ in _rank_pieces(comp):
            u = {i: int(rng.integers(-3, 4)) for i in t.rows}
            v = {j: int(rng.integers(-3, 4)) for j in t.cols}
            for i in t.rows:
                for j in t.cols:
                    A[(i, j)] = A.get((i, j), Fraction(0)) + u[i] * v[j]
        assert check(A, timeout=5.0) in (True, None)
        if compared >= 60:
            break
    assert compared >= 30


def test_generic_dimension_exact_cases() -> None:
    # a rank-one cone on a x b has dimension a + b - 1; a subspace term its support size
    assert generic_dimension([T([0, 1, 2], [0, 1])]) == 4
    assert generic_dimension([T([0, 1], [0, 1, 2], rank=2)]) == 6
    # LU: a corner entry plus a 2x2 rank-one cone is full-dimensional (dense, not closed):
    # full generic dimension does not mean L = R^U, which is why it only orders the tests
    assert generic_dimension([T([0], [0]), T([0, 1], [0, 1])]) == 4
    assert full_space([T([0], [0]), T([0, 1], [0, 1])], time_limit=1.0) is not True
    # two rank-one cones on the same 2x2 block: rank <= 2 is everything
    assert generic_dimension([T([0, 1], [0, 1]), T([0, 1], [0, 1], neurons=(1,))]) == 4
    # a 3x3 rank-one cone plus one entry: 5 + 1 = 6 < 9
    assert generic_dimension([T([0, 1, 2], [0, 1, 2]), T([0], [0])]) == 6
    # disjoint rectangles: dimensions add
    assert generic_dimension([T([0], [0, 1]), T([1, 2], [2, 3])]) == 2 + 3


def test_generic_dimension_is_full_when_full_space_is_proved() -> None:
    """L = R^U forces a surjective polynomial map, whose generic Jacobian rank is |U|."""
    proved = 0
    for comp in _components((3, 3, 3), 0.7, range(300, 420)):
        U = frozenset().union(*(t.support for t in comp))
        assert generic_dimension(comp, seed=1) <= len(U)
        if full_space(comp, time_limit=1.0, z3_leaf=0) is True:
            proved += 1
            assert generic_dimension(comp, seed=1) == len(U)
    assert proved >= 3


def test_redundant_term_peeling_needs_no_solver() -> None:
    """Two rank-one terms on the same two rows with nested columns are the whole space
    (Lemma 6); a third term inside their union is redundant (peeling with an empty block)."""
    comp = [T([1, 2], [0, 1, 2, 3]), T([1, 2], [1, 2, 3]), T([2], [1])]
    assert full_space(comp, time_limit=1.0, z3_leaf=0) is True
    rng = np.random.default_rng(0)
    U = sorted(frozenset().union(*(t.support for t in comp)))
    for _ in range(3):
        X = {e: Fraction(int(rng.integers(-5, 6))) for e in U}
        assert member(comp, X, timeout=10.0) is True
    p = SparsityPattern.from_text("0100/0110/0111/1111;0100/0011/1011/0100")
    v = decide(p, time_limit=1.0)
    assert v.closed is True
    assert verify(v.certificate, time_limit=10.0).valid is True


def test_redundant_peeling_does_not_prove_lu() -> None:
    # LU: the 2x2 rank-one term is not redundant and not the whole space
    assert full_space([T([0], [0]), T([0, 1], [0, 1])], time_limit=1.0, z3_leaf=0) is not True


def test_root_sentence_proves_whole_space() -> None:
    """When the peeling search used up its leaf budget, the root sentence still runs."""
    p = SparsityPattern.from_text("010/101/110;100/011/111")
    comps = [c for c in reduce_two_factor(p).components if len(c) >= 2]
    assert len(comps) == 1
    assert full_space(comps[0], time_limit=60.0) is True  # seconds; the margin is for slow machines
    rng = np.random.default_rng(3)
    U = sorted(frozenset().union(*(t.support for t in comps[0])))
    for _ in range(3):
        X = {e: Fraction(int(rng.integers(-5, 6))) for e in U}
        assert member(comps[0], X, timeout=10.0) is True
    v = decide(p, time_limit=60.0)
    assert v.closed is True
    assert verify(v.certificate, time_limit=10.0).valid is True


@pytest.mark.slow
def test_random_4x4x4_verdicts_verify() -> None:
    """Every decided random 4x4x4 verdict carries a certificate that verify accepts."""
    checked = 0
    for seed in range(5000, 5012):
        p = SparsityPattern.random((4, 4, 4), 0.5, seed=seed)
        v = decide(p, time_limit=1.0, seed=seed)
        if v.closed is None:
            continue
        if v.certificate is not None:
            assert verify(v.certificate, time_limit=10.0).valid is True, p
            assert v.closed is (v.certificate.kind == "closed")
            checked += 1
    assert checked >= 6
