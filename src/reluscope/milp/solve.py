"""The HiGHS call: one MILP (or LP) through :func:`scipy.optimize.milp`, read back honestly.

:func:`run_highs` is the only place that calls the solver. It silences the C-level stdout
HiGHS writes to, turns SciPy's status codes into a :class:`SolveOutcome` whose ``bound``
is a *valid* bound on the optimum (the dual bound of a MIP, the value of an LP) and whose
``x`` is the incumbent, and gives HiGHS the time a :class:`~reluscope._budget.Budget`
has left.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from .._budget import Budget
from .._validation import check_time_limit
from ..errors import SolverError

__all__ = ["SolveOutcome", "run_highs", "solver_budget", "DEFAULT_TIME_LIMIT"]

#: Seconds a solve or a bound computation gets when the caller gives neither a
#: ``time_limit`` nor a ``budget``.
DEFAULT_TIME_LIMIT = 10.0


def solver_budget(time_limit: float | None, budget: Budget | None) -> Budget:
    """The budget of a time-limited milp function.

    ``time_limit`` (checked) caps ``budget`` when both are given; ``time_limit=None`` means
    all of ``budget``, or :data:`DEFAULT_TIME_LIMIT` seconds without one.
    """
    if time_limit is not None:
        time_limit = check_time_limit(time_limit)
    elif budget is None:
        time_limit = DEFAULT_TIME_LIMIT
    return Budget.of(time_limit, budget)


@dataclass
class SolveOutcome:
    """Outcome of one HiGHS solve.

    ``status`` is ``"optimal"`` (within ``mip_rel_gap``), ``"time_limit"``, ``"infeasible"``,
    ``"unbounded"`` or ``"error"``. ``objective`` is the value of the incumbent (in the
    requested sense), ``bound`` a valid bound on the optimum (the dual bound; ``+inf`` for a
    maximization without one, ``-inf`` for a minimization). ``x`` is the incumbent.
    """

    status: str
    x: np.ndarray | None
    objective: float | None
    bound: float
    seconds: float
    message: str = ""


# one solve at a time may redirect the process-wide stdout file descriptor
_STDOUT_LOCK = threading.Lock()


@contextlib.contextmanager
def _silence_c_stdout():
    """Silence stray diagnostics HiGHS prints on the C-level stdout during a solve (they
    would corrupt machine-readable CLI output). Python-level output is unaffected."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    with _STDOUT_LOCK:
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass
        saved = os.dup(fd)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            os.close(devnull)


def run_highs(c: np.ndarray, A: sparse.csr_matrix, row_lo: np.ndarray, row_hi: np.ndarray,
              lb: np.ndarray, ub: np.ndarray, integrality: np.ndarray, *,
              sense: Literal["min", "max"], seconds: float, mip_rel_gap: float,
              presolve: bool = True, objective_constant: float = 0.0) -> SolveOutcome:
    """Optimize ``c·v`` (``sense``) s.t. ``row_lo <= A v <= row_hi``, ``lb <= v <= ub``,
    ``v_i`` integer where ``integrality[i] > 0``, for at most ``seconds`` (HiGHS needs a
    positive, finite limit: see :meth:`Budget.solver_limit`)."""
    sign = -1.0 if sense == "max" else 1.0
    constraints = [LinearConstraint(A, row_lo, row_hi)] if A.shape[0] else []
    options = {"time_limit": float(seconds), "mip_rel_gap": float(mip_rel_gap),
               "presolve": bool(presolve), "disp": False}
    t0 = time.perf_counter()
    try:
        with _silence_c_stdout():
            res = milp(c=sign * c, constraints=constraints, integrality=integrality,
                       bounds=Bounds(lb, ub), options=options)
    except ValueError as exc:  # malformed model: a bug, not a user error
        raise SolverError(f"HiGHS rejected the model: {exc}") from None
    elapsed = time.perf_counter() - t0
    is_mip = bool(np.any(integrality > 0))
    worst = np.inf if sense == "max" else -np.inf
    x = None if res.x is None else np.asarray(res.x, dtype=np.float64)
    obj = None if res.fun is None else sign * float(res.fun) + objective_constant
    if res.status == 0:
        status = "optimal"
        dual = getattr(res, "mip_dual_bound", None) if is_mip else None
        if dual is None or not np.isfinite(dual):
            bound = obj if obj is not None else worst
        else:
            bound = sign * float(dual) + objective_constant
            # the dual bound is never worse than the incumbent for an optimal solve
            if obj is not None:
                bound = max(bound, obj) if sense == "max" else min(bound, obj)
    elif res.status == 1:
        status = "time_limit"
        dual = getattr(res, "mip_dual_bound", None) if is_mip else None
        if dual is None or not np.isfinite(dual):
            bound = worst
        else:
            bound = sign * float(dual) + objective_constant
    elif res.status == 2:
        status = "infeasible"
        bound = -np.inf if sense == "max" else np.inf
    elif res.status == 3:
        status = "unbounded"
        bound = worst
    else:
        status = "error"
        bound = worst
    return SolveOutcome(status, x, obj, float(bound), elapsed, str(res.message))
