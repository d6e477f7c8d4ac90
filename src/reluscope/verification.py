"""Property verification: does a network meet a :class:`~reluscope.spec.Specification`?

For every case (an input box) and every unsafe polytope ``A y <= b`` of it, the search
(:mod:`reluscope.search`) bounds ``m* = min over the box of max_j (A f(x) - b)_j``:

* ``m* > 0`` proved by a sound lower bound for *every* (case, polytope): **holds**;
* a point with ``max_j (A f(x) - b)_j <= 0``, re-checked on the real network in float64
  (:meth:`Specification.is_counterexample`): **violated**, with the point and its output;
* otherwise, once the time is spent: **unknown**, with the best lower bound reached.

Time is shared across the (case, polytope) pairs: a quick projected-gradient attack on
every pair first (counterexamples are usually found there), then one bound of each case's
box for all its polytopes at once (most pairs are proved there), then branch and bound on
the pairs still open, highest root bound first, each with the time left divided by the
pairs left: what a pair does not use goes to the pairs after it. With ReLU splitting the
open polytopes of one case are searched in one frontier (their minimum is the objective),
so the time goes to whichever polytope has the lowest bounds. A counterexample ends
the whole property at once.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from ._budget import Budget
from ._results import ResultMixin
from ._validation import check_choice, check_network, check_seed, check_time_limit
from .errors import InvalidArgument
from .network import ReLUNetwork
from .search.attack import pgd_minimize
from .search.core import branch_and_bound
from .search.crown import TorchNet, interval_then_crown, objective_bound, optimize_objective_bound
from .search.threads import torch_threads
from .search.network import INPUT_SPLIT_MAX_DIM, search_network
from .search.relu_split import ReluSplitProblem, relu_root_bounds
from .spec import Specification

__all__ = ["VerificationResult", "verify"]


@dataclass(frozen=True)
class VerificationResult(ResultMixin):
    """The answer of :func:`verify`.

    ``result`` is ``"holds"``, ``"violated"`` or ``"unknown"``. ``counterexample`` is
    ``(x, f(x))`` when violated (checked on the real network). ``lower`` is a sound lower
    bound on ``min over (case, polytope) of min_x max_j (A f(x) - b)_j`` (``> 0`` proves the
    property) and ``upper`` the smallest value met at a real point (``<= 0``: violated).
    """

    result: str
    counterexample: tuple[np.ndarray, np.ndarray] | None
    seconds: float
    lower: float
    upper: float
    method: str
    note: str
    spec_name: str = ""

    def __str__(self) -> str:
        name = f" {self.spec_name}" if self.spec_name else ""
        head = f"{self.result}{name} ({self.seconds:.3g} s, {self.method})"
        if self.result == "violated" and self.counterexample is not None:
            x, y = self.counterexample
            return (f"{head}\n  counterexample x = {np.array2string(x, precision=9, max_line_width=120)}\n"
                    f"  f(x) = {np.array2string(y, precision=9, max_line_width=120)}\n  {self.note}")
        return f"{head}\n  min max (A f(x) - b) in [{self.lower:.6g}, {self.upper:.6g}]\n  {self.note}"


def _check_spec(net: ReLUNetwork, spec: Specification) -> None:
    if not isinstance(spec, Specification):
        raise InvalidArgument(f"spec must be a reluscope Specification (e.g. from reluscope.io.load_vnnlib); "
                              f"got {type(spec).__name__}")
    if spec.n_inputs != net.input_dim:
        raise InvalidArgument(f"the specification{' ' + spec.name if spec.name else ''} has {spec.n_inputs} "
                              f"inputs but the network takes {net.input_dim}")
    if spec.n_outputs != net.output_dim:
        raise InvalidArgument(f"the specification{' ' + spec.name if spec.name else ''} constrains "
                              f"{spec.n_outputs} outputs but the network has {net.output_dim}")


def verify(net: ReLUNetwork, spec: Specification, time_limit: float | None = None, *, seed: int = 0,
           method: str = "auto", budget: Budget | None = None) -> VerificationResult:
    """Decide whether ``net`` meets ``spec``: ``"holds"``, ``"violated"`` (with a checked
    counterexample) or ``"unknown"`` (only when ``time_limit`` is spent).

    Parameters
    ----------
    net, spec:
        The network and the property (VNN-LIB semantics, :mod:`reluscope.spec`).
    time_limit:
        Seconds for the whole property (``None``: until decided).
    seed:
        Seed of the attacks' random starts (results are reproducible).
    method:
        ``"auto"`` (input splitting up to 12 inputs, ReLU splitting with beta-CROWN bounds
        above), ``"input"`` or ``"relu"``.
    """
    t0 = time.monotonic()
    net = check_network(net)
    _check_spec(net, spec)
    time_limit = check_time_limit(time_limit, allow_none=True)
    rng = check_seed(seed)
    method = check_choice(method, ("auto", "input", "relu"), "method")
    budget = Budget.of(time_limit, budget)
    used = method if method != "auto" else ("input" if net.input_dim <= INPUT_SPLIT_MAX_DIM else "relu")
    label = "input-split branch and bound" if used == "input" else "ReLU-split branch and bound (beta-CROWN)"
    items = [(ci, pi, case.box.bounds(net.input_dim), p) for ci, case in enumerate(spec.cases)
             for pi, p in enumerate(case.unsafe)]

    with torch_threads(1):
        return _run(net, spec, items, budget, rng, used, label, t0)


def _run(net: ReLUNetwork, spec: Specification, items: list, budget: Budget, rng: np.random.Generator,
         used: str, label: str, t0: float) -> VerificationResult:
    """Three passes: an attack on every pair, a root bound on every pair (both cheap, and
    together they settle most pairs), then branch and bound on the open pairs, most
    promising first, each given the time left divided by the pairs left (a pair that
    finishes early leaves its time to the others; the last, hardest pair gets the rest)."""

    def violated(x: np.ndarray, where: str) -> VerificationResult | None:
        if not spec.is_counterexample(net, x):
            return None
        y = net(x[None, :])[0]
        return VerificationResult("violated", (x.copy(), y), time.monotonic() - t0, -math.inf,
                                  _slack(spec, net, x), label, f"counterexample found by {where}", spec.name)

    # 1. a quick attack on every (case, polytope): most counterexamples are found here
    best: dict[int, tuple[float, np.ndarray]] = {}
    with budget.phase("attack"):
        for k, (ci, pi, (lo, hi), p) in enumerate(items):
            if budget.expired():
                break
            tnet = TorchNet(list(net.weights), list(net.biases), p.A, -p.b)
            X = pgd_minimize(tnet.forward, lo[None, :], hi[None, :], restarts=16, steps=30, rng=rng,
                             budget=budget.share(0.1 / (len(items) - k)))
            vals = np.max(net(X) @ p.A.T - p.b, axis=1)
            i = int(np.argmin(vals))
            best[k] = (float(vals[i]), X[i])
            if vals[i] <= 0 and (res := violated(X[i], "projected gradient")) is not None:
                return res

    # 2. a root bound on every pair (one shared bound per case box); proves most pairs
    with budget.phase("root bounds"):
        root = _root_bounds(net, items, used, budget.share(0.25))
    lowers = {k: root[k][0] for k in root}
    uppers = {k: best.get(k, (math.inf, None))[0] for k in range(len(items))}
    notes = {k: f"case {ci} polytope {pi}: proved by the root bound" for k, (ci, pi, _, _) in enumerate(items)
             if lowers.get(k, -math.inf) > 0}

    # 3. branch and bound on the open pairs, highest root bound (likely easiest) first; with
    # ReLU splitting the open polytopes of one case share one frontier (and its root bounds)
    open_pairs = [k for k in range(len(items)) if k not in notes]
    by_case: dict[int, list[int]] = {}
    for k in open_pairs:
        by_case.setdefault(items[k][0], []).append(k)
    tasks = list(by_case.values()) if used == "relu" else [[k] for k in open_pairs]
    tasks.sort(key=lambda t: -min(lowers.get(k, -math.inf) for k in t))
    status: dict[int, str] = {}  # per task (its index in tasks): the last search's status

    def run_task(i: int, share: Budget):
        task = tasks[i]
        ci, _, (lo, hi), _ = items[task[0]]
        where = f"case {ci} polytope{'s' if len(task) > 1 else ''} " + ",".join(str(items[k][1]) for k in task)
        start = min((best[k] for k in task if k in best), key=lambda v: v[0], default=None)
        with budget.phase("branch and bound"):
            out = _search_pairs(net, [items[k][3] for k in task], lo, hi, used, root.get(task[0]), share, rng, start)
        for k in task:
            lowers[k] = max(lowers.get(k, -math.inf), out.lower)  # a bound of the min over the task
            uppers[k] = min(uppers[k], out.upper)
            notes[k] = f"{where}: {out.status}, {out.domains} subdomains"
            if out.witness is not None and (k not in best or out.upper < best[k][0]):
                best[k] = (out.upper, out.witness)
        status[i] = out.status
        if out.status == "refuted" and out.witness is not None:
            return violated(out.witness, "branch and bound")
        return None

    for n_done in range(len(tasks)):
        share = budget.share(1.0 / (len(tasks) - n_done))
        if share.expired():
            break
        if (res := run_task(n_done, share)) is not None:
            return res
        if status[n_done] != "proved" and budget.expired():
            break  # the property stays unknown; the pairs after this one are not reached
    # 4. time left over (the last tasks finished early, proved): the stopped task closest to a
    # proof gets all of it, searched again from its best point; its bound only improves (a max
    # of sound bounds), so an unknown answer comes only once the time is spent
    while not budget.expired():
        stopped = [i for i, st in status.items() if st == "time_limit"]
        if not stopped:
            break
        i = max(stopped, key=lambda j: min(lowers.get(k, -math.inf) for k in tasks[j]))
        if (res := run_task(i, budget.share(1.0))) is not None:
            return res
    for k, (ci, pi, _, _) in enumerate(items):
        notes.setdefault(k, f"case {ci} polytope {pi}: not reached")
    lower = float(min(lowers.get(k, -math.inf) for k in range(len(items))))
    upper = float(min(uppers.values()))
    result = "holds" if lower > 0 else "unknown"
    notes_list = list(dict.fromkeys(notes[k] for k in range(len(items))))  # a shared search once
    open_notes = [n for n in notes_list if "proved" not in n]
    if len(notes_list) <= 4:
        note = "; ".join(notes_list)
    elif not open_notes:
        note = (f"all {len(items)} (case, polytope) pairs proved "
                f"({sum(n.endswith('root bound') for n in notes_list)} by the root bound, "
                f"{sum(_count(n) for n in notes_list)} subdomains)")
    else:
        n_open = sum("proved" not in notes[k] for k in range(len(items)))
        note = f"{len(items)} (case, polytope) pairs, {n_open} open: " + "; ".join(open_notes)[:400]
    if result == "unknown":
        note += f"; time: {budget.describe_phases()}"
    return VerificationResult(result, None, time.monotonic() - t0, lower, upper, label, note, spec.name)


def _root_bounds(net: ReLUNetwork, items: list, used: str, budget: Budget) -> dict[int, tuple[float, object]]:
    """Per pair ``k``: ``(lower, shared)`` — a sound lower bound of the pair's
    ``min max_j (A f(x) - b)_j`` from one bound of the root box, and (ReLU splitting) the
    case's intermediate bounds, computed once for all polytopes of the case (the objective
    rows of all of them are bounded together)."""
    import torch


    out: dict[int, tuple[float, object]] = {}
    cases: dict[int, list[int]] = {}
    for k, (ci, _, _, _) in enumerate(items):
        cases.setdefault(ci, []).append(k)
    for ks in cases.values():
        if budget.expired():
            break
        lo, hi = items[ks[0]][2]
        A = np.vstack([items[k][3].A for k in ks])
        d = np.concatenate([-items[k][3].b for k in ks])
        tnet = TorchNet(list(net.weights), list(net.biases), A, d)
        lo_t, hi_t = torch.from_numpy(lo.copy())[None], torch.from_numpy(hi.copy())[None]
        if used == "relu":
            lows, highs = relu_root_bounds(net, tnet, lo, hi, budget=budget)
            shared = (lows, highs)
            bound = optimize_objective_bound(tnet, lo_t, hi_t, [l[None] for l in lows], [u[None] for u in highs],
                                             steps=20, budget=budget)
        else:
            with torch.no_grad():
                lows, highs = interval_then_crown(tnet, lo_t, hi_t)
            shared = None
            bound = objective_bound(tnet, lo_t, hi_t, lows, highs)
        row_lower = bound.lower[0].numpy()
        start = 0
        for k in ks:
            r = items[k][3].A.shape[0]
            # max_j phi_j >= phi_j >= its lower bound, for every row j of the polytope
            out[k] = (float(row_lower[start:start + r].max()), shared)
            start += r
    return out


def _search_pairs(net: ReLUNetwork, polys: list, lo: np.ndarray, hi: np.ndarray, used: str, root: tuple | None,
                  budget: Budget, rng: np.random.Generator, initial: tuple | None):
    """Branch and bound on the polytopes ``polys`` of one case box: ReLU splitting takes
    them all in one frontier (``min`` over the polytopes) with the case's root bounds;
    input splitting gets one polytope."""
    if used == "relu":

        A = np.vstack([p.A for p in polys])
        d = np.concatenate([-p.b for p in polys])
        groups = np.concatenate([np.full(p.A.shape[0], g) for g, p in enumerate(polys)])
        shared = root[1] if root is not None else None
        problem = ReluSplitProblem(net, A, d, lo, hi, root_bounds=shared, budget=budget, groups=groups)
        return branch_and_bound(problem, budget=budget, rng=rng, target=0.0, initial=initial)
    (p,) = polys
    return search_network(net, p.A, -p.b, lo, hi, budget=budget, rng=rng, target=0.0, method=used,
                          initial=initial)


def _slack(spec: Specification, net: ReLUNetwork, x: np.ndarray) -> float:
    """The smallest ``max_j (A f(x) - b)_j`` over the polytopes whose case box holds ``x``."""
    y = net(x[None, :])
    vals = [float(p.slack(y)[0]) for c in spec.cases for p in c.unsafe
            if np.all(x >= c.box.bounds(x.size)[0]) and np.all(x <= c.box.bounds(x.size)[1])]
    return min(vals) if vals else math.inf


def _count(note: str) -> int:
    """The number of subdomains a per-pair note mentions (0 if none)."""
    words = note.replace(",", " ").split()
    return next((int(w) for w, nxt in zip(words, words[1:]) if w.isdigit() and nxt == "subdomains"), 0)
