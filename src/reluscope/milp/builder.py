"""A sparse MILP assembled piece by piece: variables, rows, and one solve call.

:class:`MILPBuilder` collects variables (bounds, integrality) and sparse constraint rows,
and solves ``min/max c·v`` over them with :func:`~reluscope.milp.solve.run_highs`. The
network encodings of :mod:`reluscope.milp.encode` and the distance MILPs are built on it.
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np
from scipy import sparse

from .._budget import Budget
from ..errors import SolverError
from .solve import DEFAULT_TIME_LIMIT, SolveOutcome, run_highs

__all__ = ["MILPBuilder"]


class MILPBuilder:
    """Incrementally build a sparse MILP ``min/max c·v  s.t.  row_lo <= A v <= row_hi``,
    ``lb <= v <= ub``, some ``v`` integer; solve it with HiGHS via :func:`scipy.optimize.milp`.
    """

    def __init__(self) -> None:
        self._lb: list[np.ndarray] = []
        self._ub: list[np.ndarray] = []
        self._int: list[np.ndarray] = []
        self.n_vars = 0
        self._data: list[np.ndarray] = []
        self._ri: list[np.ndarray] = []
        self._ci: list[np.ndarray] = []
        self._rlo: list[np.ndarray] = []
        self._rhi: list[np.ndarray] = []
        self.n_rows = 0

    # variables -----------------------------------------------------------------------
    def add_vars(self, n: int, lb: float | np.ndarray = -np.inf, ub: float | np.ndarray = np.inf,
                 integer: bool = False) -> np.ndarray:
        """Add ``n`` variables; return their indices."""
        lb_arr = np.broadcast_to(np.asarray(lb, dtype=np.float64), (n,)).copy()
        ub_arr = np.broadcast_to(np.asarray(ub, dtype=np.float64), (n,)).copy()
        idx = np.arange(self.n_vars, self.n_vars + n)
        self._lb.append(lb_arr)
        self._ub.append(ub_arr)
        self._int.append(np.full(n, 1 if integer else 0, dtype=np.int8))
        self.n_vars += n
        return idx

    def add_binaries(self, n: int) -> np.ndarray:
        return self.add_vars(n, 0.0, 1.0, integer=True)

    # constraints ---------------------------------------------------------------------
    def add_rows(self, blocks: Sequence[tuple[np.ndarray, np.ndarray]],
                 lo: float | np.ndarray, hi: float | np.ndarray) -> np.ndarray:
        """Add ``m`` rows ``lo <= sum_b M_b @ v[idx_b] <= hi`` for blocks ``(idx_b, M_b)``,
        ``M_b`` dense of shape ``(m, len(idx_b))``. Returns the row indices."""
        m = None
        for idx, mat in blocks:
            mat = np.atleast_2d(np.asarray(mat, dtype=np.float64))
            if m is None:
                m = mat.shape[0]
            if mat.shape != (m, len(idx)):
                raise SolverError(f"constraint block has shape {mat.shape}; expected ({m}, {len(idx)})")
            r, c = np.nonzero(mat)
            self._data.append(mat[r, c])
            self._ri.append(r + self.n_rows)
            self._ci.append(np.asarray(idx)[c])
        if m is None:
            raise SolverError("add_rows needs at least one block")
        self._rlo.append(np.broadcast_to(np.asarray(lo, dtype=np.float64), (m,)).copy())
        self._rhi.append(np.broadcast_to(np.asarray(hi, dtype=np.float64), (m,)).copy())
        rows = np.arange(self.n_rows, self.n_rows + m)
        self.n_rows += m
        return rows

    def add_diag_rows(self, terms: Sequence[tuple[np.ndarray, float | np.ndarray]],
                      lo: float | np.ndarray, hi: float | np.ndarray) -> np.ndarray:
        """Add ``m`` rows ``lo_i <= sum_t coef_t[i] * v[idx_t[i]] <= hi_i`` (elementwise terms)."""
        m = len(terms[0][0])
        for idx, coef in terms:
            coef_arr = np.broadcast_to(np.asarray(coef, dtype=np.float64), (m,))
            keep = coef_arr != 0
            self._data.append(coef_arr[keep].copy())
            self._ri.append(np.arange(m)[keep] + self.n_rows)
            self._ci.append(np.asarray(idx)[keep])
        self._rlo.append(np.broadcast_to(np.asarray(lo, dtype=np.float64), (m,)).copy())
        self._rhi.append(np.broadcast_to(np.asarray(hi, dtype=np.float64), (m,)).copy())
        rows = np.arange(self.n_rows, self.n_rows + m)
        self.n_rows += m
        return rows

    def set_var_bounds(self, idx: np.ndarray, lb: float | np.ndarray | None = None,
                       ub: float | np.ndarray | None = None) -> None:
        """Tighten/replace bounds of existing variables."""
        lb_all, ub_all = self._bounds()
        if lb is not None:
            lb_all[idx] = lb
        if ub is not None:
            ub_all[idx] = ub
        self._lb, self._ub = [lb_all], [ub_all]
        ints = np.concatenate(self._int) if self._int else np.zeros(0, np.int8)
        self._int = [ints]

    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lb = np.concatenate(self._lb) if self._lb else np.zeros(0)
        ub = np.concatenate(self._ub) if self._ub else np.zeros(0)
        return lb, ub

    @property
    def n_integers(self) -> int:
        return int(sum(int(a.sum()) for a in self._int))

    def matrix(self) -> sparse.csr_matrix:
        if not self._data:
            return sparse.csr_matrix((max(self.n_rows, 0), self.n_vars))
        data = np.concatenate(self._data)
        ri = np.concatenate(self._ri)
        ci = np.concatenate(self._ci)
        return sparse.csr_matrix((data, (ri, ci)), shape=(self.n_rows, self.n_vars))

    # solving -------------------------------------------------------------------------
    def solve(self, objective: dict[int, float] | tuple[np.ndarray, np.ndarray] | np.ndarray, *,
              sense: Literal["min", "max"] = "max", time_limit: float | None = None,
              mip_rel_gap: float = 1e-6, relax: bool = False,
              extra_rows: Sequence[tuple[np.ndarray, np.ndarray, float, float]] = (),
              objective_constant: float = 0.0, continuous: np.ndarray | None = None,
              presolve: bool = True, budget: Budget | None = None) -> SolveOutcome:
        """Optimize a linear objective.

        Parameters
        ----------
        objective:
            Full coefficient vector, a ``{var: coef}`` dict, or ``(idx, coefs)``.
        sense:
            ``"max"`` or ``"min"``.
        time_limit:
            Seconds given to HiGHS (at least a millisecond; a remainder computed by the
            caller may be spent already). Default: what ``budget`` has left, or
            10 seconds without a budget.
        mip_rel_gap:
            HiGHS' relative MIP gap at which it stops and reports optimal.
        relax:
            Drop integrality (the LP relaxation).
        extra_rows:
            Extra rows ``(idx, coefs, lo, hi)`` for this solve only (e.g. an objective cutoff).
        objective_constant:
            Constant added to the objective value and bound.
        continuous:
            Indices of integer variables to treat as continuous in this solve only.
        presolve:
            HiGHS presolve (on by default; turning it off is a retry after a solver error).
        budget:
            The caller's :class:`~reluscope._budget.Budget`; HiGHS never gets more than
            it has left.
        """
        c = np.zeros(self.n_vars)
        if isinstance(objective, dict):
            for k, v in objective.items():
                c[k] += v
        elif isinstance(objective, tuple):
            np.add.at(c, np.asarray(objective[0]), np.asarray(objective[1], dtype=np.float64))
        else:
            c[:] = np.asarray(objective, dtype=np.float64)
        A = self.matrix()
        rlo = np.concatenate(self._rlo) if self._rlo else np.zeros(0)
        rhi = np.concatenate(self._rhi) if self._rhi else np.zeros(0)
        if extra_rows:
            extra = sparse.lil_matrix((len(extra_rows), self.n_vars))
            elo, ehi = [], []
            for r, (idx, coefs, lo, hi) in enumerate(extra_rows):
                for k, v in zip(np.atleast_1d(idx), np.atleast_1d(coefs)):
                    extra[r, int(k)] += float(v)
                elo.append(lo)
                ehi.append(hi)
            A = sparse.vstack([A, extra.tocsr()], format="csr")
            rlo = np.concatenate([rlo, elo])
            rhi = np.concatenate([rhi, ehi])
        lb, ub = self._bounds()
        integrality = np.zeros(self.n_vars) if relax else np.concatenate(self._int).astype(float) if self._int else np.zeros(0)
        if continuous is not None and len(continuous) and not relax:
            integrality[np.asarray(continuous, dtype=np.int64)] = 0.0
        if time_limit is None:
            seconds = DEFAULT_TIME_LIMIT if budget is None else budget.solver_limit()
        else:
            seconds = max(float(time_limit), 1e-3)
            if budget is not None:
                seconds = min(seconds, budget.solver_limit())
        return run_highs(c, A, rlo, rhi, lb, ub, integrality, sense=sense, seconds=seconds,
                         mip_rel_gap=mip_rel_gap, presolve=presolve,
                         objective_constant=objective_constant)
