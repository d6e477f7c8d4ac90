"""``sup |f - g|`` over a box by the one branch and bound (:mod:`reluscope.search`) with the
differential bounds of :mod:`reluscope.bounds.differential_linear` as its bounder.

The search minimizes ``phi(x) = -max_{k} |f_k(x) - g_k(x)|`` (``k`` over the chosen
outputs) by input splitting: a box's sound lower bound of ``phi`` is minus the largest
upper bound of ``|f_k - g_k|`` on it (symbolic differential bounds for networks whose
hidden layers correspond, intersected with the joint network's bounds when they are not
close copies; the joint network's alone otherwise). The split coordinate is steered by the
symbolic bound's input coefficients (each input's influence on the widest output bound,
times the box's width), as NeuroDiff does. ``sup |f - g|`` lies in
``[-out.upper, -out.lower]`` of the search's outcome; the witness is re-evaluated on the
real networks by the search.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from .._budget import Budget
from ..bounds.difference import _close_copy, joint_difference_network
from ..bounds.differential_linear import batch_difference_bounds, batch_layer_bounds, single_thread
from ..network import ReLUNetwork
from ..search import BoxBounds, branch_and_bound, minimize_max
from ..search.pair_split import PairSplitProblem, difference_targets
from ..search.threads import torch_threads
from .results import DistanceResult

__all__ = ["DifferenceBounder", "SupSearch", "search_sup", "search_result", "split_method", "union_search",
           "top1_targets", "top1_search", "SEARCH_MAX_DIM", "UNION_SEARCH_SHARE"]


class DifferenceBounder:
    """The search's bounder for ``phi(x) = -max_{k in outputs} |f_k(x) - g_k(x)|`` (``m = 1``)."""

    def __init__(self, f: ReLUNetwork, g: ReLUNetwork, outputs: np.ndarray | None = None,
                 batch_size: int | None = None, budget: Budget | None = None) -> None:
        self.f, self.g = f, g
        self.n_inputs = f.input_dim
        self.outputs = np.arange(f.output_dim) if outputs is None else np.asarray(outputs, dtype=int)
        close = _close_copy(f, g)
        self.differential = close is not None
        self.joint = None if close else joint_difference_network(f, g)
        # boxes per bounding call: keep the (B, 2 width, width) coefficient arrays small; the
        # boxes are bounded in chunks, and once the budget is spent the rest of a call gets
        # the trivial bound -inf (sound; the search keeps their parents' bounds), so one call
        # never holds the search past its deadline by more than a chunk
        width = max(max(f.widths[1:]), 1)
        self.batch_size = int(batch_size or max(8, min(128, 1_000_000 // (2 * width * width + 1))))
        self.chunk = max(4, self.batch_size // 8)
        self.budget = budget
        self._torch = None
        # the projected-gradient attack needs torch; importing it takes seconds (14 s on a
        # loaded 2-core machine, more than many whole searches), so it is offered only
        # when torch is already imported; otherwise the search's attack samples points
        if "torch" in sys.modules:
            self.torch_objective = self._torch_objective

    def interval(self, lo: np.ndarray, hi: np.ndarray, tier: str = "linear"
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(lower, upper, input_coef)`` bounds on ``f - g`` over each box (``tier``:
        ``"linear"``, or ``"interval"`` for the cheap interval arithmetic)."""
        lower = np.full((lo.shape[0], self.f.output_dim), -np.inf)
        upper = -lower
        coef = None
        linear = tier == "linear"
        if self.differential:
            r = batch_difference_bounds(self.f, self.g, lo, hi, symbolic=linear)
            lower, upper, coef = r.lower, r.upper, r.input_coef
        if self.joint is not None:
            jl, jh = batch_layer_bounds(self.joint, lo, hi, linear=linear)
            lower, upper = np.maximum(lower, jl[-1]), np.minimum(upper, jh[-1])
        return lower, upper, coef

    def bound(self, lo: np.ndarray, hi: np.ndarray) -> BoxBounds:
        parts = []
        for start in range(0, lo.shape[0], self.chunk):
            stop = min(start + self.chunk, lo.shape[0])
            if start and self.budget is not None and self.budget.expired():
                parts.append(self._trivial(stop - start, lo.shape[1]))
            else:
                parts.append(self._bound(lo[start:stop], hi[start:stop]))
        lower = np.concatenate([p.lower for p in parts])
        sens = [p.sensitivity for p in parts]
        if any(v is None for v in sens):
            return BoxBounds(lower)
        return BoxBounds(lower, sensitivity=np.concatenate(sens))

    def _trivial(self, n: int, d: int) -> BoxBounds:
        return BoxBounds(np.full((n, 1), -np.inf), sensitivity=np.ones((n, d)))

    def _bound(self, lo: np.ndarray, hi: np.ndarray) -> BoxBounds:
        lower, upper, coef = self.interval(lo, hi)
        k = self.f.output_dim
        mag = np.maximum(-lower, upper)[:, self.outputs]
        worst = self.outputs[np.argmax(mag, axis=1)]
        sens = None
        if coef is not None:
            rows = np.arange(lo.shape[0])
            sens = np.abs(coef[rows, worst]) + np.abs(coef[rows, k + worst]) + 1e-12
        return BoxBounds(-mag.max(axis=1)[:, None], sensitivity=sens)

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        D = self.f(X) - self.g(X)
        return -np.abs(D[:, self.outputs]).max(axis=1, keepdims=True)

    def _torch_objective(self, X):
        """``phi`` on a torch float64 tensor (for the projected-gradient attack)."""
        import torch

        if self._torch is None:
            self._torch = [([torch.from_numpy(np.array(W)) for W in n.weights],
                            [torch.from_numpy(np.array(b)) for b in n.biases]) for n in (self.f, self.g)]
        outs = []
        for Ws, bs in self._torch:
            a = X
            for i, (W, b) in enumerate(zip(Ws, bs)):
                a = a @ W.T + b
                if i < len(Ws) - 1:
                    a = torch.relu(a)
            outs.append(a)
        idx = torch.from_numpy(self.outputs)
        return -(outs[0] - outs[1])[:, idx].abs().max(dim=1, keepdim=True).values


@dataclass(frozen=True)
class SupSearch:
    """``lower <= sup |f - g| <= upper`` over the box; ``witness`` attains ``lower``."""

    lower: float
    upper: float
    witness: np.ndarray | None
    status: str
    domains: int


#: close copies (a pruned, quantized or fine-tuned g) from this many inputs on are searched by
#: joint ReLU splitting by default (see :func:`split_method`)
RELU_MIN_DIM_CLOSE = 9


def split_method(f: ReLUNetwork, g: ReLUNetwork, n_inputs: int) -> str:
    """The splitting :func:`search_sup` uses by default: ``"relu"`` (joint ReLU splits of the
    pair with box bisection while many neurons are unstable,
    :mod:`reluscope.search.pair_split`; it needs PyTorch) above :data:`SEARCH_MAX_DIM`
    inputs, and for close copies from :data:`RELU_MIN_DIM_CLOSE` inputs; ``"input"`` (boxes
    with :class:`DifferenceBounder`) otherwise.

    Measured (BENCHMARKS.md "## differential"): on the 10-input 2x32 pruned pairs ReLU
    splitting ends tighter at 30 s and at 60 s (upper bounds 0.572 / 3.00 against 0.680 /
    3.57 at 60 s), on two unrelated networks looser (13.5 against 12.7 at 30 s: the
    stacked network's CROWN bound is needed there and costs time); on small 6-input boxes
    it closed 3 of 5 boxes faster but stalled on one where input splitting closed (its
    splits contradict each other in ways the differential bound cannot see, so the LP
    proves the leaves empty one by one) — so input splitting stays the default in few
    dimensions, where halving a box fixes many neurons at once."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return "input"
    if n_inputs > SEARCH_MAX_DIM or (n_inputs >= RELU_MIN_DIM_CLOSE and _close_copy(f, g)):
        return "relu"
    return "input"


def search_sup(f: ReLUNetwork, g: ReLUNetwork, lo: np.ndarray, hi: np.ndarray, *, budget: Budget,
               rng: np.random.Generator, eps: float | None = None, gap_abs: float = 0.0, gap_rel: float = 1e-6,
               outputs: np.ndarray | None = None, initial: tuple[float, np.ndarray] | None = None,
               method: str = "auto") -> SupSearch:
    """Anytime bounds on ``sup_{x in [lo, hi]} max_k |f_k(x) - g_k(x)|`` by the branch and bound.

    ``eps``: stop as soon as ``sup < eps`` is proved or a point with ``|f - g| >= eps`` is
    found (status ``"proved"`` / ``"refuted"``); otherwise the search closes the gap
    ``gap_abs`` / ``gap_rel`` (status ``"gap"`` or ``"exhausted"``) or spends the budget.
    ``initial``: a known ``(value, point)`` of ``max |f - g|``. ``method``: ``"input"``
    (input splitting with :class:`DifferenceBounder`), ``"relu"`` (joint ReLU splitting of
    the pair; ``lo``, ``hi`` may then be ``(n, d)``: the sup over a union of boxes) or
    ``"auto"`` (:func:`split_method`).
    """
    init = None if initial is None or initial[1] is None else (-float(initial[0]), initial[1])
    if method == "auto":
        method = split_method(f, g, np.asarray(lo).shape[-1])
    if method == "relu":
        return _relu_search(f, g, lo, hi, budget=budget, rng=rng, eps=eps, gap_abs=gap_abs, gap_rel=gap_rel,
                            outputs=outputs, initial=init)
    bounder = DifferenceBounder(f, g, outputs, budget=budget)
    with single_thread():  # the bounding and the attack's small products (see single_thread)
        out = minimize_max(bounder, np.asarray(lo, float), np.asarray(hi, float), budget=budget, rng=rng,
                           target=None if eps is None else -float(eps), gap_abs=gap_abs, gap_rel=gap_rel,
                           initial=init, n_random=2)
    return SupSearch(max(-out.upper, 0.0), max(-out.lower, 0.0), out.witness, out.status, out.domains)


def relu_max_unstable(n_inputs: int) -> float:
    """How many unstable neurons a subdomain of the joint ReLU splitting may have before
    its box is bisected instead: ``2 d`` up to :data:`SEARCH_MAX_DIM` inputs (halving a
    box of few inputs fixes many neurons at once; measured on 3-input pairs: 53 to 929
    subdomains to the exact answer where pure ReLU splitting ran out of time), never above
    (a halved 784-input box fixes almost nothing)."""
    return 2.0 * n_inputs if n_inputs <= SEARCH_MAX_DIM else np.inf


def _relu_search(f: ReLUNetwork, g: ReLUNetwork, lo: np.ndarray, hi: np.ndarray, *, budget: Budget,
                 rng: np.random.Generator, eps: float | None, gap_abs: float, gap_rel: float,
                 outputs: np.ndarray | None, initial: tuple[float, np.ndarray] | None) -> SupSearch:
    """:func:`search_sup` by joint ReLU splitting (:class:`~reluscope.search.pair_split.PairSplitProblem`)."""
    C, d, diff = difference_targets(f.output_dim, outputs)
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    with torch_threads(1), single_thread():
        problem = PairSplitProblem(f, g, C, d, lo, hi, diff=diff, budget=budget,
                                   relu_max_unstable=relu_max_unstable(lo.shape[-1]))
        out = branch_and_bound(problem, budget=budget, rng=rng, target=None if eps is None else -float(eps),
                               gap_abs=gap_abs, gap_rel=gap_rel, initial=initial)
    return SupSearch(max(-out.upper, 0.0), max(-out.lower, 0.0), out.witness, out.status, out.domains)


#: input dimensions up to which input splitting is worth its time (halving a box along one
#: of ``d`` coordinates shrinks the relaxations only when ``d`` is small)
SEARCH_MAX_DIM = 16


def search_result(f: ReLUNetwork, g: ReLUNetwork, lo: np.ndarray, hi: np.ndarray, *, budget: Budget,
                  rng: np.random.Generator, eps: float | None = None, tol: float = 1e-6,
                  initial: tuple[float, np.ndarray] | None = None,
                  outputs: np.ndarray | None = None, method: str = "auto") -> DistanceResult:
    """:func:`search_sup` as a :class:`DistanceResult` (method ``"search"``): ``exact`` when
    the gap closed within ``tol`` (relative), status ``"optimal"`` then, else
    ``"time_limit"`` (also when ``eps`` was decided before the gap closed)."""
    res = search_sup(f, g, lo, hi, budget=budget, rng=rng, eps=eps, gap_rel=tol, initial=initial,
                     outputs=outputs, method=method)
    witness = res.witness
    if witness is None:
        witness = 0.5 * (np.asarray(lo, float) + np.asarray(hi, float))
    D = np.abs(f(witness[None, :]) - g(witness[None, :]))[0]
    lower = float(D.max())  # re-evaluated on the real networks
    upper = max(res.upper, lower)
    exact = res.status in ("gap", "exhausted") and upper - lower <= tol * max(1.0, upper)
    status = "optimal" if exact else "time_limit"
    return DistanceResult(lower, upper, witness, exact, status, budget.elapsed(), "search", "sup",
                          (int(np.argmax(D)),), 0)


#: share of the time left after the per-box engine bounds that a union of boxes in high
#: input dimension gives to one joint ReLU-splitting search over all its open boxes (the
#: rest goes to the per-box solver, as before: on the 784-300-100-10 pair its MILPs left
#: the largest upper bound at the engine's value, 0.0962, in the 2026-12-06 run)
UNION_SEARCH_SHARE = 0.9


def union_search(f: ReLUNetwork, g: ReLUNetwork, lo: np.ndarray, hi: np.ndarray):
    """The ``joint`` step of :func:`reluscope.distance.neighbourhoods.boxes_result` for
    ``sup |f - g|`` over a union of boxes (rows of ``lo``, ``hi``) in more than
    :data:`SEARCH_MAX_DIM` inputs: one joint ReLU-splitting search over every box whose
    upper bound is above the best lower bound (best-first, so the boxes with the loosest
    bounds are split first), started from the best witness. Its upper bound holds on every
    box it searched; its witness (re-evaluated) raises the lower bound of the box holding
    it. ``None`` when the search does not apply (few inputs, no PyTorch)."""
    if split_method(f, g, lo.shape[1]) != "relu" or lo.shape[1] <= SEARCH_MAX_DIM:
        return None

    def joint(state, budget: Budget, rng: np.random.Generator) -> None:
        best = float(state.lower.max())
        open_ = np.nonzero(state.upper > best)[0]
        if open_.size == 0:
            return
        i = state.best()
        res = search_sup(f, g, lo[open_], hi[open_], budget=budget.share(UNION_SEARCH_SHARE), rng=rng,
                         gap_rel=1e-6, initial=(best, state.witness[i]), method="relu")
        state.upper[open_] = np.minimum(state.upper[open_], res.upper)
        if res.witness is not None:
            w = res.witness
            D = np.abs(f(w[None, :]) - g(w[None, :]))[0]
            inside = np.nonzero(np.all((lo <= w) & (w <= hi), axis=1))[0]
            for j in inside:
                if D.max() > state.lower[j]:
                    state.lower[j], state.witness[j] = float(D.max()), w.copy()
                    state.component[j] = (int(np.argmax(D)),)
        state.upper = np.maximum(state.upper, state.lower)

    return joint


def top1_targets(f: ReLUNetwork, g: ReLUNetwork, lo: np.ndarray, hi: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The targets of "do ``f`` and ``g`` pick different top classes somewhere in the box?":
    one per ordered pair ``(a, b)``, ``a != b``, with the rows ``f_j - f_a`` (``j != a``) and
    ``g_j - g_b`` (``j != b``) on the stacked outputs: ``max_j <= 0`` exactly where ``a`` is a
    top class of ``f`` and ``b`` one of ``g``. Pairs are kept only when ``a`` can be ``f``'s
    top class on the box (its upper output bound reaches every other class's lower bound)
    and ``b`` can be ``g``'s. Returns ``(C, d)``, ``C`` of shape ``(T, 2 (k - 1), 2 k)``."""
    k = f.output_dim
    fl, fh = batch_layer_bounds(f, lo[None, :], hi[None, :])
    gl, gh = batch_layer_bounds(g, lo[None, :], hi[None, :])

    def possible(l: np.ndarray, h: np.ndarray) -> list[int]:
        return [a for a in range(k) if all(h[a] >= l[j] for j in range(k) if j != a)]

    C = []
    for a in possible(fl[-1][0], fh[-1][0]):
        for b in possible(gl[-1][0], gh[-1][0]):
            if a == b:
                continue
            rows = []
            for j in range(k):
                if j != a:
                    r = np.zeros(2 * k)
                    r[j], r[a] = 1.0, -1.0
                    rows.append(r)
            for j in range(k):
                if j != b:
                    r = np.zeros(2 * k)
                    r[k + j], r[k + b] = 1.0, -1.0
                    rows.append(r)
            C.append(np.array(rows))
    C = np.array(C).reshape(len(C), 2 * (k - 1), 2 * k)
    return C, np.zeros(C.shape[:2])


def top1_search(f: ReLUNetwork, g: ReLUNetwork, lo: np.ndarray, hi: np.ndarray, *, budget: Budget,
                rng: np.random.Generator) -> tuple[str, np.ndarray | None]:
    """Top-1 agreement on one box by joint ReLU splitting of the pair over the targets of
    :func:`top1_targets`: ``("proved", None)`` when ``min_x psi > 0`` is proved (no point
    where ``f``'s top class ``a`` and ``g``'s top class ``b`` differ, ties included),
    ``("refuted", x)`` with a point where ``numpy.argmax`` of the two differs (re-evaluated
    on the real networks), ``("undecided", None)`` otherwise. Agreement can be proved even
    where the top class changes inside the box."""
    C, d = top1_targets(f, g, lo, hi)
    if C.shape[0] == 0:  # no pair of different possible top classes
        return "proved", None
    with torch_threads(1), single_thread():
        problem = PairSplitProblem(f, g, C, d, lo, hi, budget=budget, relu_max_unstable=relu_max_unstable(lo.size))
        out = branch_and_bound(problem, budget=budget, rng=rng, target=0.0)
    if out.status == "proved" and out.lower > 0:
        return "proved", None
    w = out.witness
    if w is not None and int(np.argmax(f(w[None, :])[0])) != int(np.argmax(g(w[None, :])[0])):
        return "refuted", w
    return "undecided", None
