"""Property verification: does a network meet a :class:`~reluscope.spec.Specification`?

For every case (an input box) and every unsafe polytope ``A y <= b`` of it, the search
(:mod:`reluscope.search`) bounds ``m* = min over the box of max_j (A f(x) - b)_j``:

* ``m* > 0`` proved by a sound lower bound for *every* (case, polytope): **holds**;
* a point with ``max_j (A f(x) - b)_j <= 0``, re-checked on the real network in float64
  (:meth:`Specification.is_counterexample`): **violated**, with the point and its output;
* otherwise, once the time is spent: **unknown**, with the best lower bound reached.

Time is shared across the (case, polytope) pairs: a quick projected-gradient attack on
every pair first (counterexamples are usually found there), then branch and bound on each
pair still open with an equal share of the time that is left.
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
from .search.crown import TorchNet
from .search.threads import torch_threads
from .search.network import INPUT_SPLIT_MAX_DIM, search_network
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
    """The attack phase, then branch and bound per (case, polytope) pair."""

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

    # 2. branch and bound on each pair, sharing the time left
    lowers, uppers, notes = [], [], []
    for k, (ci, pi, (lo, hi), p) in enumerate(items):
        share = budget.share(1.0 / (len(items) - k))
        if share.expired():
            lowers.append(-math.inf)
            uppers.append(best.get(k, (math.inf, None))[0])
            notes.append(f"case {ci} polytope {pi}: not reached")
            continue
        with budget.phase("branch and bound"):
            out = search_network(net, p.A, -p.b, lo, hi, budget=share, rng=rng, target=0.0, method=used,
                                 initial=best.get(k))
        lowers.append(out.lower)
        uppers.append(out.upper)
        notes.append(f"case {ci} polytope {pi}: {out.status}, {out.domains} subdomains")
        if out.status == "refuted" and out.witness is not None:
            res = violated(out.witness, "branch and bound")
            if res is not None:
                return res
    lower, upper = float(min(lowers)), float(min(uppers))
    result = "holds" if lower > 0 else "unknown"
    open_notes = [n for n in notes if "proved" not in n]
    if len(notes) <= 4:
        note = "; ".join(notes)
    elif not open_notes:
        note = f"all {len(notes)} (case, polytope) pairs proved ({sum(_count(n) for n in notes)} subdomains)"
    else:
        note = f"{len(notes)} (case, polytope) pairs, {len(open_notes)} open: " + "; ".join(open_notes)[:400]
    if result == "unknown":
        note += f"; time: {budget.describe_phases()}"
    return VerificationResult(result, None, time.monotonic() - t0, lower, upper, label, note, spec.name)


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
