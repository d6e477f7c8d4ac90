"""Shared helpers of the reduction tests: terms by rows/columns, random members of a sum."""

from __future__ import annotations

from fractions import Fraction

from reluscope.sparsity.terms import Term, _make_term


def T(rows, cols, rank=1, neurons=(0,)) -> Term:
    return _make_term(rows, cols, rank, neurons)


def random_member(terms, rng, scale=3) -> dict:
    """A random rational element of the sum of the term cones."""
    A: dict = {}
    for t in terms:
        for _ in range(t.rank):
            u = {i: int(rng.integers(-scale, scale + 1)) for i in t.rows}
            v = {j: int(rng.integers(-scale, scale + 1)) for j in t.cols}
            for i in t.rows:
                for j in t.cols:
                    A[(i, j)] = A.get((i, j), 0) + u[i] * v[j]
    return {e: Fraction(x) for e, x in A.items()}
