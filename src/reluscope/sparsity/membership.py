"""Membership tests ``A in L`` for a sum ``L`` of term cones: exact (Z3) and numerical.

* :class:`Membership` / :func:`member` — exact: ``exists u, v: sum_p u_p v_p^T = A`` as a Z3
  ``QF_NRA`` problem (in-process, with a deterministic resource limit; ``None`` when
  undecided). The Z3 product expressions are built once per list of terms.
* :class:`NumericMembership` — batched numerical screening (a *filter*, never a proof).
  The first-order search of :mod:`reluscope.sparsity.candidates` proposes many candidate
  limits ``A`` and needs an exact Z3 proof of ``A not in L`` for one of them. Most candidates
  are in ``L`` and Z3 spends a few milliseconds proving each membership.
  :class:`NumericMembership` solves ``sum_p u_p v_p^T = A`` (on the equation entries) for a
  whole batch of candidates at once by damped Gauss–Newton steps with minimum-norm updates
  (vectorised numpy, several random starts). A candidate for which it finds a solution with
  a tiny residual *and* bounded factors is reported as "numerically in ``L``" and the search
  skips it.

  Soundness: skipping a candidate can only lose a certificate, never produce a wrong
  verdict — every certificate still needs Z3's exact ``unsat``. The bound on the factors
  keeps points of ``closure(L) \\ L`` (whose approximating factors must diverge) from being
  screened out in practice; when it fails the only cost is a missed candidate.

Membership in ``L_I`` for a whole pattern (any depth) is :func:`reluscope.sparsity.qe.membership`.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from .terms import Entry, Term, _rank_pieces, _union

__all__ = ["Membership", "member", "NumericMembership", "MEMBER_RLIMIT"]

MEMBER_RLIMIT = 2_000_000  # Z3 resource limit of one exact membership test
INCREMENTAL_TIMEOUT_MS = 50  # the persistent incremental solver's limit before a fresh solver


class Membership:
    """Membership tests ``A in sum of the term cones`` for one fixed list of terms, with the
    Z3 product expressions built once (``member`` is the one-shot form)."""

    def __init__(self, terms: Sequence[Term]) -> None:
        import z3

        self._z3 = z3
        free: set[Entry] = set()
        for t in terms:
            if t.subspace:
                free |= t.support
        self.covered: frozenset[Entry] = _union(terms)
        expr: dict[Entry, list[Any]] = {}
        for n, (t, _) in enumerate(_rank_pieces([t for t in terms if not t.subspace])):
            u = {i: z3.Real(f"u{n}_{i}") for i in t.rows}
            v = {j: z3.Real(f"v{n}_{j}") for j in t.cols}
            for i in t.rows:
                for j in t.cols:
                    if (i, j) not in free:
                        expr.setdefault((i, j), []).append(u[i] * v[j])
        self.sums = {e: z3.Sum(ts) if len(ts) > 1 else ts[0] for e, ts in expr.items()}
        self._inc: Any = None
        self._pieces = [(t.rows, t.cols) for t, _ in _rank_pieces([t for t in terms if not t.subspace])]
        self._numeric: Any = None

    def screen(self, limits: Sequence[dict[Entry, Fraction]], seed: int = 0) -> np.ndarray:
        """Numerical pre-filter (not a proof): ``True`` where a bounded numerical solution
        of ``sum = A`` was found, so an exact ``unsat`` is not expected and the search may
        skip the candidate (see :class:`NumericMembership`)."""
        if self._numeric is None:
            self._numeric = NumericMembership(self._pieces, list(self.sums), seed=seed)
        entries = self._numeric.entries
        M = np.array([[float(A.get(e, 0)) for e in entries] for A in limits], dtype=float).reshape(len(limits), len(entries))
        outside = np.array([any(v != 0 and e not in self.covered for e, v in A.items()) for A in limits], dtype=bool)
        return self._numeric.screen(M) & ~outside

    def _equations(self, A: dict[Entry, Fraction]) -> list[Any]:
        z3 = self._z3
        out = []
        for e, total in self.sums.items():
            q = Fraction(A.get(e, 0))
            out.append(total == z3.RealVal(f"{q.numerator}/{q.denominator}"))
        return out

    def __call__(
        self, A: dict[Entry, Fraction], timeout: float = 1.0, rlimit: int = MEMBER_RLIMIT, incremental: bool = True
    ) -> bool | None:
        z3 = self._z3
        if any(v != 0 and e not in self.covered for e, v in A.items()):
            return False
        if not incremental:
            return self._fresh(A, timeout, rlimit)
        # Fast path: one persistent incremental solver (push/pop). Its "sat" and "unsat"
        # answers are as sound as a fresh solver's; it is weaker on hard instances, so an
        # "unknown" falls through to a fresh QF_NRA solver below.
        if self._inc is None:
            self._inc = z3.SolverFor("QF_NRA")
            self._inc.set("timeout", INCREMENTAL_TIMEOUT_MS)
        self._inc.push()
        try:
            self._inc.add(*self._equations(A))
            fast = self._inc.check()
        finally:
            self._inc.pop()
        if fast == z3.sat:
            return True
        if fast == z3.unsat:
            return False
        return self._fresh(A, timeout, rlimit)

    def _fresh(self, A: dict[Entry, Fraction], timeout: float, rlimit: int) -> bool | None:
        z3 = self._z3
        solver = z3.SolverFor("QF_NRA")
        solver.set("timeout", max(1, int(timeout * 1000)))
        solver.set("rlimit", int(rlimit))  # deterministic work budget; the timeout is a safety net
        solver.add(*self._equations(A))
        result = solver.check()
        if result == z3.sat:
            return True
        if result == z3.unsat:
            return False
        return None


def member(
    terms: Sequence[Term], A: dict[Entry, Fraction], timeout: float = 1.0, rlimit: int = MEMBER_RLIMIT
) -> bool | None:
    """Whether ``A`` lies in ``sum of the term cones`` (Z3 ``QF_NRA``, in-process).

    Entries covered by a subspace term are free (their equations are dropped, exact);
    non-subspace terms of rank ``r`` are written as ``r`` rank-one products. ``rlimit`` is
    Z3's deterministic resource budget; ``None`` means undecided within it.
    """
    return Membership(terms)(A, timeout=timeout, rlimit=rlimit)



class NumericMembership:
    """Vectorised Gauss–Newton solver for ``sum_p u_p v_p^T = A`` on a fixed entry set.

    Parameters
    ----------
    pieces:
        Rank-one pieces as ``(rows, cols)`` pairs (one per unit of rank of every non-subspace
        term).
    entries:
        The equation entries ``(i, j)`` (entries covered by a subspace term are left out by
        the caller: they can always be matched).
    seed:
        Seed of the random starting points (results are reproducible on one machine).
    """

    def __init__(self, pieces: Sequence[tuple[Sequence[int], Sequence[int]]], entries: Sequence[tuple[int, int]],
                 seed: int = 0) -> None:
        self.entries = list(entries)
        index = {e: n for n, e in enumerate(self.entries)}
        e_idx, u_idx, v_idx = [], [], []
        n_var = 0
        for rows, cols in pieces:
            u = {i: n_var + a for a, i in enumerate(rows)}
            n_var += len(rows)
            v = {j: n_var + b for b, j in enumerate(cols)}
            n_var += len(cols)
            for i in rows:
                for j in cols:
                    if (i, j) in index:
                        e_idx.append(index[(i, j)])
                        u_idx.append(u[i])
                        v_idx.append(v[j])
        self.n_var = n_var
        self.n_eq = len(self.entries)
        self._e = np.array(e_idx, dtype=np.intp)
        self._u = np.array(u_idx, dtype=np.intp)
        self._v = np.array(v_idx, dtype=np.intp)
        self._rng = np.random.default_rng(seed)

    def _residual_jacobian(self, X: np.ndarray, A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        B = X.shape[0]
        prod = X[:, self._u] * X[:, self._v]
        F = np.zeros((B, self.n_eq))
        np.add.at(F, (slice(None), self._e), prod)
        J = np.zeros((B, self.n_eq, self.n_var))
        # each (equation, variable) pair occurs at most once per piece: plain assignment
        J[:, self._e, self._u] = X[:, self._v]
        J[:, self._e, self._v] = X[:, self._u]
        return A - F, J

    def screen(self, A: np.ndarray, starts: int = 3, iterations: int = 30, tol: float = 1e-9,
               max_norm: float = 1e3) -> np.ndarray:
        """Which rows of ``A`` (shape ``(batch, n_eq)``) are numerically in ``L``.

        Returns a boolean array: ``True`` when some start reached a residual below
        ``tol * max(1, max|A|)`` with all factor entries below ``max_norm`` in absolute value.
        ``False`` means only "not found" (not a proof of anything).
        """
        A = np.asarray(A, dtype=float)
        batch = A.shape[0]
        found = np.zeros(batch, dtype=bool)
        if batch == 0:
            return found
        if self.n_eq == 0:  # no equation to satisfy
            return np.ones(batch, dtype=bool)
        if self.n_var == 0:
            return ~np.any(A != 0, axis=1)
        scale = np.maximum(1.0, np.abs(A).max(axis=1))
        eye = np.eye(self.n_eq)
        for _ in range(starts):
            todo = np.nonzero(~found)[0]
            if len(todo) == 0:
                break
            At = A[todo]
            X = self._rng.standard_normal((len(todo), self.n_var))
            for _ in range(iterations):
                r, J = self._residual_jacobian(X, At)
                if np.abs(r).max() <= tol:
                    break
                # minimum-norm Gauss-Newton step with a tiny Levenberg-Marquardt damping
                JJt = J @ J.transpose(0, 2, 1)
                mu = 1e-12 * (np.trace(JJt, axis1=1, axis2=2) + 1.0)
                y = np.linalg.solve(JJt + mu[:, None, None] * eye, r[:, :, None])
                X = X + (J.transpose(0, 2, 1) @ y)[:, :, 0]
                if not np.all(np.isfinite(X)):
                    X = np.where(np.isfinite(X), X, 0.0)
            r, _ = self._residual_jacobian(X, At)
            ok = (np.abs(r).max(axis=1) <= tol * scale[todo]) & (np.abs(X).max(axis=1) <= max_norm)
            found[todo[ok]] = True
        return found
