"""Certificates: exact Laurent arithmetic, LU certificates, verification, tampering."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reluscope.errors import InvalidCertificate
from reluscope.sparsity import (
    ClosedCertificate,
    LaurentPoly,
    NotClosedCertificate,
    SparsityPattern,
    lu_certificate,
    verify,
)

terms = st.lists(
    st.tuples(st.integers(-3, 3), st.fractions(min_value=-5, max_value=5, max_denominator=7)), max_size=4
)


@settings(max_examples=100, deadline=None)
@given(terms, terms, st.sampled_from([0.5, 0.1, 2.0]))
def test_laurent_arithmetic_matches_evaluation(t1, t2, eps) -> None:
    p, q = LaurentPoly(tuple(t1)), LaurentPoly(tuple(t2))
    assert (p * q)(eps) == pytest.approx(p(eps) * q(eps), rel=1e-9, abs=1e-9)
    assert (p + q)(eps) == pytest.approx(p(eps) + q(eps), rel=1e-9, abs=1e-9)
    assert LaurentPoly.parse(str(p)) == p
    if p.diverges():
        assert p.limit() is None and abs(p(1e-6)) > abs(p(1e-3)) * 10
    else:
        assert p.limit() == sum((c for e, c in p.terms if e == 0), Fraction(0))


def test_laurent_rejects_floats() -> None:
    with pytest.raises(InvalidCertificate):
        LaurentPoly.const(0.1)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_lu_certificates_verify(n: int) -> None:
    cert = lu_certificate(n)
    check = verify(cert, time_limit=20)
    assert check.valid is True, str(check)
    assert cert.pattern == SparsityPattern.lu(n)


@pytest.mark.slow
@pytest.mark.parametrize("n", [5, 6])
def test_lu_certificates_verify_larger(n: int) -> None:
    assert verify(lu_certificate(n), time_limit=60).valid is True


def _names_failed(check) -> set[str]:
    return {c.name for c in check.failures}


def test_tampered_limit_fails() -> None:
    cert = lu_certificate(3)
    limit = [list(r) for r in cert.limit]
    limit[1][1] += 1
    bad = dataclasses.replace(cert, limit=tuple(tuple(r) for r in limit))
    check = verify(bad)
    assert check.valid is False and "limit" in _names_failed(check)


def test_tampered_factor_entry_fails() -> None:
    cert = lu_certificate(2)
    w2 = [list(r) for r in cert.factors[1]]
    w2[0][1] = w2[0][1] + LaurentPoly.monomial(1, -1)  # breaks the cancellation: product diverges
    bad = dataclasses.replace(cert, factors=(cert.factors[0], tuple(tuple(r) for r in w2)))
    check = verify(bad)
    assert check.valid is False and "limit" in _names_failed(check)


def test_tampered_support_fails() -> None:
    cert = lu_certificate(2)
    # same family and limit, but claimed for a pattern without entry (0, 0) of W_2
    pattern = SparsityPattern.from_text("10/11;01/01")
    bad = dataclasses.replace(cert, pattern=pattern)
    check = verify(bad)
    assert check.valid is False and "support" in _names_failed(check)


def test_member_limit_fails_non_membership() -> None:
    # the family e^-1 * e: diverging factors whose product is the identity, which is in L_I
    p = SparsityPattern.lu(2)
    L = LaurentPoly
    w1 = ((L.monomial(1, 1), L()), (L(), L.monomial(1, 1)))
    w2 = ((L.monomial(1, -1), L()), (L(), L.monomial(1, -1)))
    cert = NotClosedCertificate(p, ((1, 0), (0, 1)), (w1, w2))
    check = verify(cert)
    assert check.valid is False and _names_failed(check) == {"non-membership"}


def test_bounded_family_fails_divergence() -> None:
    p = SparsityPattern.lu(2)
    L = LaurentPoly
    w = ((L.const(1), L()), (L.const(1), L.monomial(1, 1)))
    u = ((L.const(1), L.const(1)), (L(), L.const(1)))
    cert = NotClosedCertificate(p, ((2, 0), (1, 0)), (w, u))
    check = verify(cert)
    assert check.valid is False and "divergence" in _names_failed(check)


def test_wrong_shapes_fail() -> None:
    cert = lu_certificate(2)
    bad = dataclasses.replace(cert, pattern=SparsityPattern.lu(3))
    assert verify(bad).valid is False


def test_json_roundtrip_still_verifies() -> None:
    cert = lu_certificate(3)
    again = NotClosedCertificate.from_dict(cert.to_dict())
    assert again == cert
    assert verify(again).valid is True


def test_closed_certificates() -> None:
    assert verify(ClosedCertificate(SparsityPattern.dense((2, 3, 2)), "dense")).valid is True
    assert verify(ClosedCertificate(SparsityPattern.lu(2), "dense")).valid is False
    assert verify(ClosedCertificate(SparsityPattern.lu(2), "no-such-rule")).valid is False
    assert verify(ClosedCertificate(SparsityPattern.from_text("1011"), "single-factor")).valid is True
    assert verify(ClosedCertificate(SparsityPattern.from_text("11/00;11/00"), "qe"), time_limit=10).valid is True
    # a false QE claim is refuted
    assert verify(ClosedCertificate(SparsityPattern.lu(2), "qe"), time_limit=10).valid is False


def test_components_rule() -> None:
    import numpy as np

    block = np.kron(np.eye(2, dtype=int), np.ones((2, 2), dtype=int)).astype(bool)
    p = SparsityPattern([block, block])
    parts = tuple(ClosedCertificate(c.pattern, "dense") for c in p.components())
    assert verify(ClosedCertificate(p, "components", parts=parts)).valid is True
    # a wrong part (LU claimed dense) is rejected
    lu_parts = (ClosedCertificate(SparsityPattern.lu(2), "dense"), parts[1])
    assert verify(ClosedCertificate(p, "components", parts=lu_parts)).valid is False


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 4), st.integers(2, 4), st.integers(2, 4), st.integers(0, 10**6))
def test_degeneration_family_limit_formula(n_out: int, n_hidden: int, n_in: int, seed: int) -> None:
    """u_k v_k^T + u_l v_l^T -> a (b' - b'')^T + (a' + a'') b^T, with diverging factors."""
    import numpy as np

    from reluscope.sparsity.families import _limit_of, degeneration_family

    rng = np.random.default_rng(seed)
    p = SparsityPattern.dense((n_in, n_hidden, n_out))
    a, a1, a2 = (rng.integers(-3, 4, size=n_out) for _ in range(3))
    b, b1, b2 = (rng.integers(-3, 4, size=n_in) for _ in range(3))
    a[0] = 1  # a != 0: the family diverges
    fam = degeneration_family(p, 1, 1, 0, a.tolist(), b.tolist(), a1.tolist(), b1.tolist(), None,
                              a2.tolist(), b2.tolist())
    expected = np.outer(a, b1 - b2) + np.outer(a1 + a2, b)
    limit = _limit_of(fam)
    assert limit is not None
    assert [[int(v) for v in row] for row in limit] == expected.tolist()
    assert any(poly.diverges() for row in fam[1] for poly in row)


@pytest.mark.parametrize("n", [2, 4, 6])
def test_is_closed_lu_n_by_n_gives_verified_certificate(n: int) -> None:
    from reluscope.sparsity import is_closed

    verdict = is_closed(SparsityPattern.lu(n), time_limit=30)
    assert verdict.closed is False
    assert verify(verdict.certificate, time_limit=30).valid is True
