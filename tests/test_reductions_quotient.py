"""Third round of the fast closedness pipeline: quotients by coordinate spaces inside L (star
forests), the solver-free local-LU verdict, and the numerical screening of candidates."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np
import pytest
import z3

from reluscope.sparsity import SparsityPattern, verify
from reluscope.sparsity.candidates import FirstOrderCandidate, exact_pair_blocks, local_lu_blocks
from reluscope.sparsity.check import _check_quotient
from reluscope.sparsity.decide import decide
from reluscope.sparsity.membership import Membership as _Membership
from reluscope.sparsity.membership import NumericMembership, member
from reluscope.sparsity.qe import decide_qe
from reluscope.sparsity.quotients import _nested_split, _star_forest, quotient_closed, quotient_steps
from reluscope.sparsity.terms import component_pattern, reduce_two_factor

from reduction_terms import T, random_member


def _quotient_instances(n_wanted: int, seeds=range(400)):
    """Components (of random patterns) on which at least one quotient step applies."""
    out = []
    for seed in seeds:
        shape = [(3, 3, 3), (3, 4, 3), (4, 3, 3), (4, 4, 4)][seed % 4]
        p = SparsityPattern.random(shape, 0.55, seed=20000 + seed)
        for comp in reduce_two_factor(p).components:
            if len(comp) < 2:
                continue
            final, steps = quotient_steps(comp)
            if steps:
                out.append((p, comp, final, steps))
        if len(out) >= n_wanted:
            break
    return out


# ---------------------------------------------------------------------------------- star forests
def test_star_forest_cases() -> None:
    assert _star_forest(frozenset({(0, 0), (1, 1)})) == [((0,), (0,)), ((1,), (1,))]
    assert _star_forest(frozenset({(0, 0), (0, 2), (1, 1), (2, 1)})) == [((0,), (0, 2)), ((1, 2), (1,))]
    # a path of length three (row 0 has two entries, column 1 has two entries): not a star forest
    assert _star_forest(frozenset({(0, 0), (0, 1), (1, 1)})) is None
    assert _star_forest(frozenset({(0, 0), (0, 1), (1, 0), (1, 1)})) is None


def test_star_forest_values_are_all_reached_by_one_rank_one_matrix() -> None:
    """If the entries form a star forest, every value assignment is (u v^T) on them: built
    explicitly, and checked exactly. If not, a value assignment outside the image exists
    (Z3 proves it for the witness: a row with two entries meeting a column with two)."""
    rng = np.random.default_rng(4)
    checked = refuted = 0
    for _ in range(300):
        entries = frozenset((int(i), int(j)) for i, j in zip(*np.nonzero(rng.random((4, 4)) < 0.3)))
        if not entries:
            continue
        stars = _star_forest(entries)
        if stars is not None:
            # the stars cover the entries exactly and use pairwise disjoint rows and columns
            cover = [(i, j) for r, c in stars for i in r for j in c]
            assert sorted(cover) == sorted(entries)
            rows = [i for r, _ in stars for i in r]
            cols = [j for _, c in stars for j in c]
            assert len(rows) == len(set(rows)) and len(cols) == len(set(cols))
            X = {e: Fraction(int(rng.integers(-5, 6))) for e in entries}
            u: dict = {}
            v: dict = {}
            for r, c in stars:
                if len(r) == 1:
                    u[r[0]] = Fraction(1)
                    for j in c:
                        v[j] = X[(r[0], j)]
                else:
                    v[c[0]] = Fraction(1)
                    for i in r:
                        u[i] = X[(i, c[0])]
            assert all(u[i] * v[j] == X[(i, j)] for i, j in entries)
            checked += 1
        else:
            # some row with two entries meets a column with two entries at (i, j): with
            # X(i, j) = 0 and the two neighbours 1 the values are not u_i v_j
            witness = next(
                (i, j, j2, i2)
                for (i, j) in sorted(entries)
                for j2 in sorted(b for a, b in entries if a == i and b != j)
                for i2 in sorted(a for a, b in entries if b == j and a != i)
            )
            i, j, j2, i2 = witness
            ui, ui2, vj, vj2 = z3.Reals("ui ui2 vj vj2")
            solver = z3.Solver()
            solver.add(ui * vj == 0, ui * vj2 == 1, ui2 * vj == 1)
            assert solver.check() == z3.unsat
            refuted += 1
    assert checked >= 20 and refuted >= 20


# ---------------------------------------------------------------------------------- quotient lemma
def test_quotient_projection_is_the_reduced_sum() -> None:
    """Lemma 9: with F the union of the quotient groups, members of L with the F-entries
    zeroed are members of the quotient sum, and members of the quotient sum plus anything on
    F are members of L (Z3, exact)."""
    instances = _quotient_instances(8)
    assert len(instances) >= 6
    rng = np.random.default_rng(6)
    for p, comp, final, steps in instances:
        free = {tuple(e) for step in steps for e in step.get("free", [])}
        for _ in range(2):
            A = random_member(comp, rng)
            projected = {e: x for e, x in A.items() if e not in free}
            assert member(final, projected, timeout=10.0) is True, p
            B = random_member(final, rng)
            for e in free:
                B[e] = Fraction(int(rng.integers(-4, 5)))
            assert member(comp, B, timeout=10.0) is True, p


# Seeds (of SparsityPattern.random(shape, 0.55, seed=20000 + s)) whose quotient-closed
# component exact QE settles within seconds; among the first 130 seeds the others either have
# no such component or one Z3 does not settle in 30 s (10, 22, 40, 109) or only in tens of
# seconds (121), so which of them "answered" would depend on the machine's speed.
QE_ANSWERS = (21, 35, 97)


@pytest.mark.slow
@pytest.mark.parametrize("seed", QE_ANSWERS)
def test_quotient_closed_agrees_with_exact_qe(seed: int) -> None:
    """Every component proved closed by quotient steps is closed by exact QE (limit 60 s, far
    above the seconds QE needs here, so a loaded machine answers too)."""
    shape = [(3, 3, 3), (3, 4, 3), (4, 3, 3)][seed % 3]
    p = SparsityPattern.random(shape, 0.55, seed=20000 + seed)
    comps = [c for c in reduce_two_factor(p).components if len(c) >= 2 and quotient_closed(c) is not None]
    assert comps, p
    for comp in comps:
        exact = decide_qe(component_pattern(comp)[0], time_limit=60.0)[0]
        assert exact is True, (p, exact)


def test_quotient_verdicts_verify_and_tampering_fails() -> None:
    found = 0
    for p, comp, final, steps in _quotient_instances(30):
        v = decide(p, time_limit=2.0)
        if v.closed is not True:
            continue
        records = v.certificate.details["components"]
        if not any(r["rule"] == "quotient" for r in records):
            continue
        found += 1
        assert verify(v.certificate, time_limit=10.0).valid is True, p
        details = v.certificate.details
        n = next(k for k, r in enumerate(records) if r["rule"] == "quotient")
        # a wrong free set, a missing step, or a wrong leaf rule must be rejected
        bad = [dict(r) for r in records]
        steps_ = [dict(st) for st in bad[n]["quotient"]]
        m = next(k for k, st in enumerate(steps_) if "free" in st)
        steps_[m]["free"] = steps_[m]["free"][:-1]
        bad[n]["quotient"] = steps_
        assert verify(dataclasses.replace(v.certificate, details={**details, "components": bad})).valid is False
        bad = [dict(r) for r in records]
        bad[n]["quotient"] = []
        assert verify(dataclasses.replace(v.certificate, details={**details, "components": bad})).valid is False
        bad = [dict(r) for r in records]
        bad[n]["parts"] = [dict(part, rule="trust-me") for part in bad[n]["parts"]]
        assert verify(dataclasses.replace(v.certificate, details={**details, "components": bad})).valid is False
        if found >= 3:
            break
    assert found >= 2


def test_quotient_examples() -> None:
    # two rank-one terms on two rows plus a row subspace: quotient by the 2x2 block
    comp = [T([0, 1], [0, 1, 2, 3]), T([0, 1], [0, 2]), T([1], [0, 2])]
    record = quotient_closed(comp)
    assert record is not None and [p["rule"] for p in record["parts"]] == ["class-cone"]
    # LU is never proved closed this way
    assert quotient_closed([T([0], [0]), T([0, 1], [0, 1])]) is None


def test_nested_pair_rewriting_is_an_equality_of_sets() -> None:
    """Lemma 11 on random nested pairs: the rewriting applies exactly when its premise holds,
    and then members of V_s + V_t are members of K(D, R, 1) + R^(C_1 x R) and conversely
    (Z3, exact)."""
    rng = np.random.default_rng(12)
    checked = 0
    for _ in range(200):
        n_rows, n_cols = int(rng.integers(2, 5)), int(rng.integers(2, 4))
        c2 = sorted(rng.choice(5, size=n_rows, replace=False).tolist())
        c1 = sorted(rng.choice(c2, size=int(rng.integers(1, n_rows)), replace=False).tolist())
        cols = sorted(rng.choice(4, size=n_cols, replace=False).tolist())
        s, t = T(c1, cols), T(c2, cols, neurons=(1,))
        if rng.random() < 0.5:  # the transposed form
            s, t = T(cols, c1), T(cols, c2, neurons=(1,))
        split = _nested_split(s, t)
        premise = len(c1) >= 2 and n_cols == 2  # both non-subspace, two shared lines
        assert (split is not None) == premise
        if split is None:
            continue
        for _ in range(2):
            assert member(split, random_member([s, t], rng), timeout=10.0) is True
            assert member([s, t], random_member(split, rng), timeout=10.0) is True
        checked += 1
        if checked >= 12:
            break
    assert checked >= 8
    # outside the premise the equality fails: |C_1| = 2, |R| = 3
    s, t = T([0, 1], [0, 1, 2]), T([0, 1, 2], [0, 1, 2])
    assert _nested_split(s, t) is None
    A = {(0, 1): Fraction(1), (1, 2): Fraction(1), (2, 0): Fraction(1)}
    assert member([T([2], [0, 1, 2]), T([0, 1], [0, 1, 2], rank=2)], A, timeout=10.0) is True
    assert member([s, t], A, timeout=10.0) is False


def test_nested_steps_are_replayed_by_the_checker() -> None:
    comp = [T([0, 1, 2, 3], [0, 3]), T([2], [1, 3], neurons=(1,)), T([2, 3], [0, 3], neurons=(3,))]
    record = quotient_closed(comp)
    assert record is not None and "nested" in record["quotient"][0]
    assert _check_quotient(comp, record, 5.0)[0] is True
    # a nested step on a pair outside the premise (three shared columns) is rejected
    wide = [T([0, 1, 2, 3], [0, 1, 3]), T([2], [1, 3], neurons=(1,)), T([2, 3], [0, 1, 3], neurons=(3,))]
    forged = {"quotient": [{"nested": [wide[0].to_list(), wide[2].to_list()]}] + record["quotient"][1:],
              "parts": record["parts"]}
    assert _check_quotient(wide, forged, 5.0)[0] is False


def test_rank_two_class_pieces_are_used_as_bounded_terms() -> None:
    """A rank-2 class plus a row subspace (3x3): not closed; the certificate needs the second
    piece of the class as a bounded term."""
    v = decide(SparsityPattern.from_text("111/111/110;110/110/111"), time_limit=2.0)
    assert v.closed is False
    assert verify(v.certificate, time_limit=10.0).valid is True


# ---------------------------------------------------------------------------------- local LU
def test_local_lu_premise_limits_are_not_members() -> None:
    """The solver-free local-LU verdict: on random patterns where the exact premise holds,
    Z3 proves the limit outside L_I, and the emitted certificate verifies."""
    checked = 0
    for seed in range(200):
        p = SparsityPattern.random((4, 4, 4), 0.5, seed=30000 + seed)
        red = reduce_two_factor(p)
        for comp in red.components:
            blocks = local_lu_blocks(comp)
            if not blocks:
                continue
            s, t, (i, i2, j, j2) = blocks[0]
            A = {(i, j2): Fraction(1), (i2, j): Fraction(1)}
            assert member(comp, A, timeout=10.0) is False, p
            checked += 1
            if checked % 5 == 0:
                v = decide(p, time_limit=2.0)
                assert v.closed is False
                assert verify(v.certificate, time_limit=10.0).valid is True, p
            break
        if checked >= 15:
            break
    assert checked >= 10


def test_exact_pair_block_limits_are_not_members() -> None:
    """Shared-rows / shared-columns configurations with the exact premise: Z3 proves the
    limit outside L on random patterns, and decide's certificates for them verify."""
    checked = {"shared-rows": 0, "shared-cols": 0}
    verified = 0
    for seed in range(600):
        p = SparsityPattern.random((4, 4, 4), 0.5, seed=50000 + seed)
        for comp in reduce_two_factor(p).components:
            for cand in exact_pair_blocks(comp):
                if checked[cand.kind] >= 8:
                    continue
                assert member(comp, cand.limit(), timeout=10.0) is False, p
                checked[cand.kind] += 1
                if not local_lu_blocks(comp) and verified < 4:
                    v = decide(p, time_limit=2.0)
                    assert v.closed is False
                    assert verify(v.certificate, time_limit=10.0).valid is True, p
                    verified += 1
        if min(checked.values()) >= 8:
            break
    assert min(checked.values()) >= 4 and verified >= 2


# ---------------------------------------------------------------------------------- screening
def test_screen_finds_members_and_keeps_known_non_members() -> None:
    """Random members of L are (mostly) screened as members; the known limits outside L
    (LU and the width-2 configurations) are never screened out."""
    rng = np.random.default_rng(8)
    comps = [
        [T([0], [0]), T([0, 1], [0, 1])],
        [T([0, 1], [0, 1]), T([0, 1], [0, 2])],
        [T([0, 1, 2], [0, 1]), T([0, 2], [1, 2]), T([1, 2], [0, 2])],
    ]
    for comp in comps:
        check = _Membership(comp)
        members = [random_member(comp, rng) for _ in range(40)]
        assert check.screen(members).mean() >= 0.9
    # closure-but-not-member limits
    lu = _Membership(comps[0])
    assert not lu.screen([{(0, 1): Fraction(1), (1, 0): Fraction(1)}])[0]
    rows = _Membership(comps[1])
    A = {(0, 1): Fraction(1), (0, 2): Fraction(1), (1, 0): Fraction(1)}
    assert member(comps[1], A, timeout=10.0) is False
    assert not rows.screen([A])[0]


def test_screened_candidates_are_members_by_z3() -> None:
    """On random components, every first-order candidate that the screen calls a member and
    that Z3 decides is a member (the screen never hid a certificate here)."""
    compared = 0
    for seed in range(60):
        p = SparsityPattern.random((4, 4, 4), 0.5, seed=40000 + seed)
        for comp in reduce_two_factor(p).components:
            if len(comp) < 3:
                continue
            check = _Membership(comp)
            rng = np.random.default_rng(seed)
            from reluscope.sparsity.candidates import _random_candidates

            cands = _random_candidates(comp, rng, 30)
            limits = [c.limit() for c in cands]
            for A, screened in zip(limits, check.screen(limits)):
                if screened:
                    z = check(A, timeout=2.0, incremental=False)
                    assert z is not False, p
                    compared += z is True
        if compared >= 60:
            break
    assert compared >= 30


def test_numeric_membership_trivial_shapes() -> None:
    nm = NumericMembership([((0,), (0, 1))], [(0, 0), (0, 1)], seed=0)
    assert nm.screen(np.array([[2.0, -3.0], [0.0, 0.0]])).all()
    empty = NumericMembership([], [(0, 0)], seed=0)
    assert list(empty.screen(np.array([[0.0], [1.0]]))) == [True, False]
    assert NumericMembership([((0,), (0,))], [], seed=0).screen(np.zeros((3, 0))).all()
    # a candidate of the form used in the search: built from a first-order family
    s, t = T([0], [0]), T([0, 1], [0, 1])
    cand = FirstOrderCandidate(s, t, (0, 0), (), ((1, 1),), (), ((1, -1),), kind="local-lu")
    assert cand.limit() == {(0, 1): Fraction(1), (1, 0): Fraction(1)}


def test_split_components_matches_the_shared_overlap_helper() -> None:
    """split_components (support merging) equals the overlap-graph components of
    reluscope.sparsity.pattern.overlap_groups on random term lists."""
    from reluscope.sparsity.pattern import overlap_groups
    from reluscope.sparsity.terms import absorb_subspaces, split_components, support_terms

    rng = np.random.default_rng(0)
    for _ in range(300):
        w1 = rng.random((5, 5)) < 0.4
        w2 = rng.random((5, 5)) < 0.4
        terms, _ = absorb_subspaces(support_terms(w1, w2))
        expected = sorted((sorted(terms[a] for a in g) for g in overlap_groups(terms)), key=lambda g: g[0])
        assert split_components(terms) == expected
