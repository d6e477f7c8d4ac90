"""Z3 encodings for the linear counterpart ``L_I = {W_L ... W_1 : supp W_l in I_l}``.

* :func:`membership` — ``A in L_I``? An existential nonlinear real problem
  (``exists W supported: W_L ... W_1 = A``), decided by Z3's ``QF_NRA`` solver.
* :func:`decide_qe` — exact closedness by quantifier elimination over the reals: the
  sentence ``exists A [forall W: W_L...W_1 != A] and [forall eps > 0 exists W':
  max |W'_L...W'_1 - A| < eps]`` is true iff ``L_I`` is not closed. Only support entries
  are variables (off-support entries are eliminated, not quantified) and only the entries
  of ``A`` that some path reaches are variables (the others are 0 on ``L_I`` and on its
  closure), an exact simplification. By default a *portfolio* of exactly equivalent
  sentences is tried in time slices: this one, the same for the transposed pattern, and the
  plain encoding below (Z3's speed depends strongly on the presentation).
* :func:`decide_plain` — the published encoding, kept as the baseline: a variable for
  every entry of every factor (off-support entries forced to 0 inside the quantifiers) and
  for every entry of ``A``.

Every Z3 call runs in a forked child process killed when its :class:`~reluscope._budget.Budget`
expires (Z3's own ``timeout`` is also set, but its quantifier-elimination tactics do not
always honour it); a call that runs out of time returns ``None`` (undecided), never a guess.
Every function takes ``time_limit`` (seconds) or a ``budget`` held by the caller.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import time
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from .._budget import Budget
from ..errors import SolverError
from .pattern import SparsityPattern

__all__ = ["membership", "decide_qe", "decide_plain", "run_with_limit", "sentence", "plain_sentence"]

def _z3_ms(budget: Budget) -> int:
    """Z3's own ``timeout`` option (milliseconds) for a call that must end with ``budget``."""
    return max(1, int(budget.solver_limit() * 1000))


def run_with_limit(
    function: Callable[..., Any], args: tuple, time_limit: float | None = None, *, budget: Budget | None = None
) -> tuple[str, Any]:
    """Run ``function(*args)`` in a forked child killed after ``time_limit`` seconds or when
    ``budget`` expires, whichever comes first (the hard limit).

    Returns ``("ok", value)``, ``("timeout", None)`` or ``("error", message)``. On
    platforms without ``fork`` the call runs in-process (Z3's own timeout then applies).
    """
    budget = Budget.of(time_limit, budget)
    if not hasattr(os, "fork"):  # pragma: no cover - non-POSIX
        try:
            return "ok", function(*args)
        except Exception as exc:  # noqa: BLE001
            return "error", f"{type(exc).__name__}: {exc}"
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            os.close(read_fd)
            try:
                payload = pickle.dumps(("ok", function(*args)))
            except BaseException as exc:  # noqa: BLE001
                payload = pickle.dumps(("error", f"{type(exc).__name__}: {exc}"))
            view = memoryview(payload)
            while view:
                n = os.write(write_fd, view)
                view = view[n:]
            os.close(write_fd)
        except BaseException:  # noqa: BLE001
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    chunks: list[bytes] = []
    status = "timeout"
    try:
        while True:
            remaining = budget.remaining()
            if remaining <= 0:
                break
            ready, _, _ = select.select([read_fd], [], [], min(remaining, 7 * 24 * 3600.0))
            if not ready:
                break
            chunk = os.read(read_fd, 1 << 16)
            if not chunk:
                status = "done"
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        if status != "done":
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os.waitpid(pid, 0)
    if status != "done":
        return "timeout", None
    try:
        return pickle.loads(b"".join(chunks))
    except Exception:  # noqa: BLE001
        return "error", "child process died without a result"


# ---------------------------------------------------------------------------------- encodings
def _product(
    z3: Any, masks: Sequence[np.ndarray], prefix: str, dense: bool = False, ctx: Any = None
) -> tuple[list, list, dict]:
    """Variables and product entries ``(W_L...W_1)[i, j]`` as Z3 terms.

    ``dense=False``: variables for support entries only. ``dense=True``: a variable for every
    entry, plus the constraints ``w = 0`` off the support (returned as the second list).
    """
    variables: list = []
    zero_constraints: list = []
    layers = []
    for l, m in enumerate(masks):
        layer: dict[tuple[int, int], Any] = {}
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                if dense or m[i, j]:
                    v = z3.Real(f"{prefix}{l + 1}_{i}_{j}", ctx)
                    variables.append(v)
                    layer[i, j] = v
                    if dense and not m[i, j]:
                        zero_constraints.append(v == 0)
        layers.append(layer)
    # acc[i][j]: partial product rows x input columns as terms (None = structurally zero)
    n0 = masks[0].shape[1]
    acc: list[list[Any]] = [[layers[0].get((i, j)) for j in range(n0)] for i in range(masks[0].shape[0])]
    for l in range(1, len(masks)):
        m = masks[l]
        new: list[list[Any]] = []
        for i in range(m.shape[0]):
            row = []
            for j in range(n0):
                terms = [
                    layers[l][i, k] * acc[k][j]
                    for k in range(m.shape[1])
                    if (i, k) in layers[l] and acc[k][j] is not None
                ]
                row.append(z3.Sum(terms) if len(terms) > 1 else (terms[0] if terms else None))
            new.append(row)
        acc = new
    entries = {(i, j): t for i, row in enumerate(acc) for j, t in enumerate(row) if t is not None}
    return variables, zero_constraints, entries


def _masks_of(pattern: SparsityPattern | Sequence[Any]) -> list[np.ndarray]:
    if isinstance(pattern, SparsityPattern):
        return [np.array(m) for m in pattern.masks]
    return [np.asarray(m, dtype=bool) for m in pattern]


def sentence(masks: Sequence[np.ndarray], ctx: Any = None) -> Any:
    """The non-closedness sentence with support variables only (true iff not closed)."""
    import z3

    _, _, shape_entries = _product(z3, masks, "s", ctx=ctx)
    A = {ij: z3.Real(f"A_{ij[0]}_{ij[1]}", ctx) for ij in sorted(shape_entries)}
    if not A:
        return z3.BoolVal(False, ctx)  # L_I = {0}
    w, _, P = _product(z3, masks, "w", ctx=ctx)
    v, _, Q = _product(z3, masks, "v", ctx=ctx)
    eps = z3.Real("eps", ctx)
    not_member = z3.ForAll(w, z3.Or([P[ij] != A[ij] for ij in A]))
    close = z3.And([z3.And(Q[ij] - A[ij] < eps, A[ij] - Q[ij] < eps) for ij in A])
    approx = z3.ForAll([eps], z3.Implies(eps > 0, z3.Exists(v, close)))
    return z3.Exists(list(A.values()), z3.And(not_member, approx))


def plain_sentence(masks: Sequence[np.ndarray], ctx: Any = None) -> Any:
    """The published encoding: dense variables, off-support forced to 0, dense ``A``."""
    import z3

    n_out, n_in = masks[-1].shape[0], masks[0].shape[1]
    A = {(i, j): z3.Real(f"A_{i}_{j}", ctx) for i in range(n_out) for j in range(n_in)}
    w, wz, P = _product(z3, masks, "w", dense=True, ctx=ctx)
    v, vz, Q = _product(z3, masks, "v", dense=True, ctx=ctx)

    def entry(T: dict, ij: tuple[int, int]) -> Any:
        return T.get(ij, z3.RealVal(0, ctx))

    eps = z3.Real("eps", ctx)
    not_member = z3.ForAll(w, z3.Implies(z3.And(wz) if wz else z3.BoolVal(True, ctx), z3.Or([entry(P, ij) != A[ij] for ij in A])))
    close = z3.And(
        [z3.And(entry(Q, ij) - A[ij] < eps, A[ij] - entry(Q, ij) < eps) for ij in A] + list(vz)
    )
    approx = z3.ForAll([eps], z3.Implies(eps > 0, z3.Exists(v, close)))
    return z3.Exists(list(A.values()), z3.And(not_member, approx))


def _check_sentence(masks: list[np.ndarray], plain: bool, timeout_ms: int) -> str:
    import z3

    ctx = z3.Context()  # a fresh context: nothing shared with the parent's Z3 state
    solver = z3.SolverFor("NRA", ctx=ctx)
    solver.set(timeout=timeout_ms)
    solver.add(plain_sentence(masks, ctx) if plain else sentence(masks, ctx))
    return str(solver.check())


def _run_sentence(masks: list[np.ndarray], plain: bool, budget: Budget) -> str | None:
    """``"sat"`` / ``"unsat"`` / ``None`` (no answer within ``budget``)."""
    status, value = run_with_limit(_check_sentence, (masks, plain, _z3_ms(budget)), budget=budget)
    if status == "error":
        raise SolverError(f"Z3 failed on pattern {SparsityPattern(masks).to_text()}: {value}")
    if status == "timeout" or value == "unknown":
        return None
    return value


def _decide(pattern: Any, plain: bool, budget: Budget) -> tuple[bool | None, float, str]:
    import z3  # noqa: F401  (imported before forking so the child starts warm)

    masks = _masks_of(pattern)
    start = time.perf_counter()
    limit = budget.remaining()
    value = _run_sentence(masks, plain, budget)
    seconds = time.perf_counter() - start
    if value is None:
        return None, seconds, f"Z3 gave no answer within {limit:.3g} s"
    # sat: the non-closedness sentence holds
    return (value == "unsat"), seconds, f"Z3 NRA on the {'plain' if plain else 'support-only'} sentence: {value}"


# Portfolio of exactly equivalent presentations, tried in time slices (fractions of the limit).
# Z3's nonlinear quantifier procedures are very sensitive to the presentation: the transposed
# pattern (L_{I^T} = L_I^T, closed iff L_I is) or the dense presentation often finish
# instantly where the support-only sentence stalls, and conversely.
_PORTFOLIO: tuple[tuple[str, float], ...] = (
    ("support", 0.1), ("transpose", 0.1), ("plain", 0.1),
    ("support", 0.25), ("transpose", 0.25), ("plain", 0.2),
)


def decide_qe(
    pattern: SparsityPattern | Sequence[Any], time_limit: float | None = 30.0, portfolio: bool = True,
    *, budget: Budget | None = None,
) -> tuple[bool | None, float, str]:
    """Exact closedness of ``L_I`` by quantifier elimination over the reals.

    With ``portfolio=True`` (default) three exactly equivalent sentences are tried in time
    slices: the support-only sentence of the pattern, the support-only sentence of the
    transposed pattern (``L_{I^T} = {M^T : M in L_I}`` is closed iff ``L_I`` is), and the plain
    dense encoding; the first answer is exact. With ``portfolio=False`` only the support-only
    sentence runs.

    Returns ``(closed, seconds, message)``; ``closed`` is ``None`` when Z3 does not answer
    within ``time_limit`` wall-clock seconds (or the caller's ``budget``) in total.
    """
    budget = Budget.of(time_limit, budget)
    if not portfolio:
        return _decide(pattern, False, budget)
    import z3  # noqa: F401  (imported before forking so the child starts warm)

    masks = _masks_of(pattern)
    transposed = [np.array(m.T) for m in reversed(masks)]
    start = time.perf_counter()
    total = budget.solver_limit()  # the slices are fractions of the time this call has
    for name, fraction in _PORTFOLIO:
        if budget.remaining() <= 0.01:
            break
        value = _run_sentence(transposed if name == "transpose" else masks, name == "plain",
                              budget.child(max(0.2, fraction * total)))
        if value is not None:
            seconds = time.perf_counter() - start
            return (value == "unsat"), seconds, f"Z3 NRA on the {name} sentence: {value}"
    seconds = time.perf_counter() - start
    return None, seconds, f"Z3 gave no answer within {total:.3g} s (support, transposed and plain sentences)"


def decide_plain(
    pattern: SparsityPattern | Sequence[Any], time_limit: float | None = 30.0, *, budget: Budget | None = None
) -> tuple[bool | None, float, str]:
    """Closedness with the published plain encoding (baseline; same return as :func:`decide_qe`)."""
    return _decide(pattern, True, Budget.of(time_limit, budget))


# ---------------------------------------------------------------------------------- membership
def _check_membership(masks: list[np.ndarray], limit: list[list[str]], timeout_ms: int) -> str:
    import z3

    ctx = z3.Context()  # a fresh context: nothing shared with the parent's Z3 state
    _, _, P = _product(z3, masks, "w", ctx=ctx)
    constraints = []
    for i, row in enumerate(limit):
        for j, value in enumerate(row):
            q = Fraction(value)
            target = z3.RealVal(f"{q.numerator}/{q.denominator}", ctx)
            if (i, j) in P:
                constraints.append(P[i, j] == target)
            elif q != 0:
                return "unsat"  # no path reaches (i, j): the product is 0 there
    solver = z3.SolverFor("QF_NRA", ctx=ctx)
    solver.set(timeout=timeout_ms)
    solver.add(constraints)
    return str(solver.check())


def membership(
    pattern: SparsityPattern | Sequence[Any], A: Sequence[Sequence[Any]], time_limit: float | None = 10.0,
    *, budget: Budget | None = None,
) -> bool | None:
    """Whether the rational matrix ``A`` belongs to ``L_I`` (``None`` if Z3 times out).

    Parameters
    ----------
    pattern:
        The pattern (or its masks).
    A:
        Matrix of exact rationals (``Fraction``, ``int`` or strings like ``"1/3"``) of shape
        ``(N_L, N_0)``.
    time_limit:
        Hard wall-clock limit in seconds.
    budget:
        The caller's budget (the hard limit is the earlier of the two).
    """
    import z3  # noqa: F401  (imported before forking so the child starts warm)

    budget = Budget.of(time_limit, budget)
    masks = _masks_of(pattern)
    limit = [[str(Fraction(v)) for v in row] for row in A]
    status, value = run_with_limit(_check_membership, (masks, limit, _z3_ms(budget)), budget=budget)
    if status == "error":
        raise SolverError(f"Z3 failed on a membership problem: {value}")
    if status == "timeout" or value == "unknown":
        return None
    return value == "sat"
