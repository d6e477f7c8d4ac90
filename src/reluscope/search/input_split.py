"""Input splitting over any :class:`Bounder`, and the old scalar-objective
:func:`maximize` built on it.

A :class:`Bounder` bounds ``phi_j`` (``j < m``) from below on many boxes at once. The
search minimizes ``max_j phi_j`` over a box by bisecting sub-boxes along the coordinate
with the best ``width x |sensitivity|`` score (the widest side when the bounder gives no
sensitivity). Why input splitting: in low input dimension, halving a box shrinks every
relaxation, so the bounds converge to the true minimum.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from .._budget import Budget
from .._results import ResultMixin
from .._validation import check_choice
from .attack import pgd_minimize, sample_boxes
from .core import Domains, SearchOutcome, branch_and_bound
from .threads import torch_threads

BRANCHING = ("sb", "naive", "bf")
#: strong branching never halves a side shorter than the widest / this (relative to the root box)
MAX_ASPECT = 32.0

__all__ = ["Bounder", "BoxBounds", "InputSplitProblem", "minimize_max", "maximize", "SearchResult"]


@dataclass(frozen=True)
class BoxBounds:
    """What a bounder may return for a batch of ``B`` boxes: ``lower`` ``(B, m)`` sound lower
    bounds of every ``phi_j``; optionally ``sensitivity`` ``(B, d)`` (``|d phi / d x_k|``
    estimates that steer the split), ``points`` ``(k, d)`` worth evaluating (e.g. primal
    points of exact leaf LPs), ``resolved`` ``(B,)``: boxes whose bound is final, and
    ``joint`` ``(B,)``: a lower bound on ``max_j phi_j`` (not on each row) when known."""

    lower: np.ndarray
    sensitivity: np.ndarray | None = None
    points: np.ndarray | None = None
    resolved: np.ndarray | None = None  # (B,) bool: the bound is exact, the box needs no split
    joint: np.ndarray | None = None  # (B,): a lower bound on max_j phi_j itself (rows together)


@runtime_checkable
class Bounder(Protocol):
    """The pluggable bounding interface of the search (see the package docstring).

    Required: ``n_inputs``, ``bound(lo, hi)`` (``lo``, ``hi`` of shape ``(B, d)``; returns
    an array ``(B, m)`` of sound lower bounds on ``phi_j`` over each box, or a
    :class:`BoxBounds`) and ``evaluate(X)`` (``(n, d) -> (n, m)``, exact, float64).
    Optional: ``torch_objective(X)`` (a torch tensor ``(n, d) -> (n, m)``, the same
    function for the projected gradient attack), ``batch_size`` (boxes per call) and
    ``uses_torch = True`` (run with one torch thread, see :func:`.threads.torch_threads`).
    """

    n_inputs: int

    def bound(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray | BoxBounds: ...

    def evaluate(self, X: np.ndarray) -> np.ndarray: ...


class InputSplitProblem:
    """The branch-and-bound :class:`~reluscope.search.core.Problem` of input boxes.

    ``branching`` chooses the axis a box is halved along:

    * ``"sb"`` — the largest ``width x |sensitivity|`` (the bounder's linear-bound
      coefficients: the drop of the bound's concretization term when that side halves);
    * ``"naive"`` — the widest side relative to the root box;
    * ``"bf"`` (strong branching) — both halves along *every* axis are bounded (one batch of
      ``2 d`` boxes per parent) and the axis whose worse half has the best bound is kept, with
      the bounds already computed. It costs ``d`` times more bounding per split but sees what
      the coefficient estimate cannot: neurons that become stable in a half, which tightens
      every later layer. Measured on ACAS Xu property 1 (network 1_4, 20 s wall, one thread,
      ``benchmarks/acasxu_search.py``): ``"sb"`` lower bound -6.59 after 18,239 boxes,
      ``"naive"`` -4.21 after 19,927, ``"bf"`` proved after 103 boxes (0.4 s CPU).
    """

    def __init__(self, bounder: Bounder, lo: np.ndarray, hi: np.ndarray, *, batch_size: int | None = None,
                 n_random: int = 0, probe_rng: np.random.Generator | None = None,
                 attack_restarts: int = 4, attack_steps: int = 30, branching: str = "sb") -> None:
        self.bounder = bounder
        self.lo0 = np.asarray(lo, dtype=np.float64).reshape(-1)
        self.hi0 = np.asarray(hi, dtype=np.float64).reshape(-1)
        self.scale = np.where(self.hi0 > self.lo0, self.hi0 - self.lo0, 1.0)
        self.branching = check_choice(branching, BRANCHING, "branching")
        self.batch_size = int(batch_size or getattr(bounder, "batch_size", 256))
        if branching == "bf":  # each parent bounds 2 d candidate children
            self.batch_size = max(1, self.batch_size // max(1, int(np.count_nonzero(self.hi0 > self.lo0))))
        self.n_random = n_random
        self.probe_rng = probe_rng if probe_rng is not None else np.random.default_rng(0)
        self.attack_restarts, self.attack_steps = attack_restarts, attack_steps
        self._torch = getattr(bounder, "torch_objective", None)
        # inputs the objective does not depend on at all (a zero first-layer column): no bound
        # depends on their widths, so they neither set nor need the aspect limit below
        rel = getattr(bounder, "relevant_inputs", None)
        self.relevant = np.ones(self.lo0.size, dtype=bool) if rel is None else np.asarray(rel, dtype=bool)
        if not self.relevant.any():
            self.relevant = np.ones(self.lo0.size, dtype=bool)

    def root(self) -> Domains:
        return {"lo": self.lo0[None, :].copy(), "hi": self.hi0[None, :].copy(), "sens": np.ones((1, self.lo0.size))}

    @staticmethod
    def _halves(lo: np.ndarray, hi: np.ndarray, axis: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The two halves of each box along its ``axis`` (left halves, then right halves)."""
        rows = np.arange(lo.shape[0])
        mid = 0.5 * (lo[rows, axis] + hi[rows, axis])
        lo_r, hi_l = lo.copy(), hi.copy()
        hi_l[rows, axis] = mid
        lo_r[rows, axis] = mid
        return np.concatenate([lo, lo_r]), np.concatenate([hi_l, hi]), np.concatenate([rows, rows]), mid

    def branch(self, doms: Domains, lb: np.ndarray) -> Domains:
        lo, hi, sens = doms["lo"], doms["hi"], doms["sens"]
        width = hi - lo
        if self.branching == "bf":
            return self._branch_strong(lo, hi, width, sens, lb)
        score = width * sens if self.branching == "sb" else width / self.scale
        score = np.where(width > 0, score + 1e-12 * width / self.scale, -np.inf)
        axis = np.argmax(score, axis=1)
        clo, chi, parent, _ = self._halves(lo, hi, axis)
        return {"lo": clo, "hi": chi, "sens": np.concatenate([sens, sens]), "parent": parent}

    def _branch_strong(self, lo: np.ndarray, hi: np.ndarray, width: np.ndarray, sens: np.ndarray,
                       plb: np.ndarray) -> Domains:
        """Strong branching: bound both halves along every splittable axis (one batch of
        ``2 d`` children per box) and keep the axis whose worse half improves most on the
        parent's bound; when no axis improves the worse half, the axis improving the two
        halves' sum most; when none improves at all, the ``"sb"`` axis (greedy improvement
        alone would halve one useless axis forever), among the sides at least
        1 / :data:`MAX_ASPECT` of the widest. The kept children carry their bounds,
        so :meth:`bound` does not bound them again."""
        B = lo.shape[0]
        axes = np.nonzero((width > 0).any(axis=0))[0]
        los, his = [], []
        for a in axes:
            clo, chi, _, _ = self._halves(lo, hi, np.full(B, a))
            los.append(clo)
            his.append(chi)
        clo, chi = np.concatenate(los), np.concatenate(his)  # axis-major, then left/right, then box
        lb, csens, pts, done = self._bound_boxes(clo, chi)
        k = axes.size
        base = np.where(np.isfinite(plb), plb, np.nan)
        gain = np.maximum(lb.reshape(k, 2, B), plb[None, None, :]) - base[None, None, :]  # >= 0; nan: parent unbounded
        gain = np.where(np.isnan(gain), 0.0, np.minimum(gain, 1e300))
        # only sides at least 1/MAX_ASPECT of the box's widest (relative to the root box): a
        # greedy choice may otherwise halve one axis forever for ever smaller gains, while the
        # bound converges only when the whole box shrinks (measured: a random 3-10-10-3 net
        # stalled at -0.027 after 9000 boxes where "sb" proved after 505)
        rel = np.where(self.relevant[None, :], width / self.scale, 0.0)
        splittable = (rel[:, axes] * MAX_ASPECT >= rel.max(axis=1, keepdims=True)).T & (rel[:, axes].T > 0)
        tol = 1e-9 * (1.0 + np.abs(np.where(np.isfinite(plb), plb, 0.0)))
        worst = np.where(splittable, gain.min(axis=1), -np.inf)
        total = np.where(splittable, gain.sum(axis=1), -np.inf)
        sb = np.where(splittable, (width * sens)[:, axes].T, -np.inf)
        pick = np.where(worst.max(axis=0) > tol, worst.argmax(axis=0),
                        np.where(total.max(axis=0) > tol, total.argmax(axis=0), sb.argmax(axis=0)))
        rows = np.arange(B)
        idx = np.concatenate([(pick * 2 + 0) * B + rows, (pick * 2 + 1) * B + rows])
        out = {"lo": clo[idx], "hi": chi[idx], "sens": csens[idx], "parent": np.concatenate([rows, rows]),
               "_lb": self._tighten(clo[idx], chi[idx], lb[idx], done[idx]), "_done": done[idx]}
        self._pending_points = pts
        return out

    def _bound_boxes(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(lb, sens, points, resolved)`` of boxes, in chunks of the bounder's batch size."""
        step = int(getattr(self.bounder, "batch_size", 0) or lo.shape[0]) * 2
        parts = [self._bound_chunk(lo[i:i + step], hi[i:i + step]) for i in range(0, lo.shape[0], step)]
        return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                np.concatenate([p[2] for p in parts]), np.concatenate([p[3] for p in parts]))

    def _bound_chunk(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        out = self.bounder.bound(lo, hi)
        if not isinstance(out, BoxBounds):
            out = BoxBounds(np.asarray(out, dtype=np.float64).reshape(lo.shape[0], -1))
        if out.sensitivity is not None:
            sens = np.asarray(out.sensitivity, dtype=np.float64)
        else:
            sens = 1.0 / self.scale[None, :].repeat(lo.shape[0], axis=0)
        pts = [sample_boxes(lo, hi, self.n_random, self.probe_rng)]
        if out.points is not None and len(out.points):
            pts.append(np.asarray(out.points, dtype=np.float64).reshape(-1, lo.shape[1]))
        lb = np.max(out.lower, axis=1)
        if out.joint is not None:
            lb = np.maximum(lb, out.joint)
        done = np.zeros(lo.shape[0], dtype=bool) if out.resolved is None else np.asarray(out.resolved, dtype=bool)
        return lb, sens, np.concatenate(pts), done

    def bound(self, doms: Domains) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        if "_lb" in doms:  # bounded by strong branching already
            lb, done = doms.pop("_lb"), doms.pop("_done")
            pts, self._pending_points = self._pending_points, None
            return lb, pts, done
        lb, sens, pts, done = self._bound_chunk(doms["lo"], doms["hi"])
        doms["sens"] = sens
        return self._tighten(doms["lo"], doms["hi"], lb, done), pts, done

    def _tighten(self, lo: np.ndarray, hi: np.ndarray, lb: np.ndarray, done: np.ndarray) -> np.ndarray:
        """The bounder's optional second, costlier bound (``tighten(lo, hi, lb)``) on the kept
        children that are not solved exactly."""
        tighten = getattr(self.bounder, "tighten", None)
        if tighten is None or done.all():
            return lb
        open_ = ~done
        out = lb.copy()
        out[open_] = tighten(lo[open_], hi[open_], lb[open_])
        return out

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        return np.max(np.asarray(self.bounder.evaluate(X), dtype=np.float64).reshape(X.shape[0], -1), axis=1)

    def attack(self, doms: Domains, lb: np.ndarray, budget: Budget, rng: np.random.Generator) -> np.ndarray:
        order = np.argsort(lb)[:64]
        lo, hi = doms["lo"][order], doms["hi"][order]
        if self._torch is None:
            return sample_boxes(lo, hi, 8, rng)
        return pgd_minimize(self._torch, lo, hi, restarts=self.attack_restarts, steps=self.attack_steps,
                            rng=rng, budget=budget)


def minimize_max(bounder: Bounder, lo: np.ndarray, hi: np.ndarray, *, budget: Budget,
                 rng: np.random.Generator, target: float | None = None, gap_abs: float = 0.0,
                 gap_rel: float = 0.0, batch_size: int | None = None, max_bytes: float = 1.0e9,
                 initial: tuple[float, np.ndarray] | None = None, n_random: int = 0,
                 attack_every: int = 8) -> SearchOutcome:
    """Anytime bounds on ``min_{lo <= x <= hi} max_j phi_j(x)`` by input splitting; the
    stopping rules are those of :func:`~reluscope.search.core.branch_and_bound`."""
    problem = InputSplitProblem(bounder, lo, hi, batch_size=batch_size, n_random=n_random)
    # a bounder computing in torch runs with one thread (see crown.torch_threads)
    threads = torch_threads(1) if getattr(bounder, "uses_torch", False) or problem._torch is not None \
        else contextlib.nullcontext()
    with threads:
        return branch_and_bound(problem, budget=budget, rng=rng, target=target, gap_abs=gap_abs,
                                gap_rel=gap_rel, max_bytes=max_bytes, initial=initial, attack_every=attack_every)


# ------------------------------------------------------------------ the scalar maximizer
@dataclass(frozen=True)
class SearchResult(ResultMixin):
    """``lower <= max_{x in box} objective(x) <= upper``; ``witness`` attains ``lower``."""

    lower: float
    upper: float
    witness: np.ndarray
    boxes: int
    status: str  # "optimal" (gap closed), "time_limit", "box_limit"

    def __str__(self) -> str:
        return f"max in [{self.lower:.9g}, {self.upper:.9g}] ({self.status}, {self.boxes} boxes)"


class _NegatedScalar:
    """A scalar ``upper_bound(lo, hi)`` / ``evaluate(X)`` pair for a maximum, seen as the
    bounder of ``phi = -objective`` (``max psi = -min(-psi)``)."""

    def __init__(self, upper_bound: Callable, evaluate: Callable, d: int) -> None:
        self.upper_bound, self.value, self.n_inputs = upper_bound, evaluate, d
        self.batch_size = 1

    def bound(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return np.array([[-float(self.upper_bound(a, b))] for a, b in zip(lo, hi)])

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        return -np.asarray(self.value(X), dtype=np.float64).reshape(-1, 1)


def maximize(lo: np.ndarray, hi: np.ndarray, upper_bound: Callable[[np.ndarray, np.ndarray], float],
             evaluate: Callable[[np.ndarray], np.ndarray], *, budget: Budget, rng: np.random.Generator,
             gap: float = 1e-6, max_boxes: int = 1_000_000, n_random: int = 4,
             initial: tuple[float, np.ndarray] | None = None) -> SearchResult:
    """Branch and bound on input boxes for ``max objective`` over ``[lo, hi]``.

    ``upper_bound(lo, hi)`` is a sound upper bound of the objective on one box and
    ``evaluate(X)`` its values at points. Stops when ``upper - lower <= gap * max(1,
    |lower|)`` (status ``"optimal"``), after ``max_boxes`` boxes (``"box_limit"``) or when
    the budget is spent (``"time_limit"``). ``initial``: a known ``(value, point)``.
    """
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    bounder = _NegatedScalar(upper_bound, evaluate, lo.size)
    problem = InputSplitProblem(bounder, lo, hi, batch_size=1, n_random=n_random, probe_rng=rng)
    out = branch_and_bound(problem, budget=budget, rng=rng, gap_rel=gap, max_domains=max_boxes,
                           initial=None if initial is None else (-initial[0], initial[1]), attack_every=0)
    status = {"time_limit": "time_limit", "domain_limit": "box_limit"}.get(out.status, "optimal")
    witness = out.witness if out.witness is not None else 0.5 * (lo + hi)
    return SearchResult(-out.upper, -out.lower, witness, out.domains, status)

