"""Batched numerical membership screening for sums of rank-one cones (a *filter*, never a proof).

The first-order search of :mod:`reluscope.sparsity.reductions` proposes many candidate limits
``A`` and needs an exact Z3 proof of ``A not in L`` for one of them. Most candidates are in
``L`` and Z3 spends a few milliseconds proving each membership. :class:`NumericMembership`
solves ``sum_p u_p v_p^T = A`` (on the equation entries) for a whole batch of candidates at once
by damped Gauss–Newton steps with minimum-norm updates (vectorised numpy, several random
starts). A candidate for which it finds a solution with a tiny residual *and* bounded factors
is reported as "numerically in ``L``" and the search skips it.

Soundness: skipping a candidate can only lose a certificate, never produce a wrong verdict —
every certificate still needs Z3's exact ``unsat``. The bound on the factors keeps points of
``closure(L) \\ L`` (whose approximating factors must diverge) from being screened out in
practice; when it fails the only cost is a missed candidate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["NumericMembership"]


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
