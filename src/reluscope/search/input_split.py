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
from .attack import pgd_minimize, sample_boxes
from .core import Domains, SearchOutcome, branch_and_bound
from .threads import torch_threads

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
    """The branch-and-bound :class:`~reluscope.search.core.Problem` of input boxes."""

    def __init__(self, bounder: Bounder, lo: np.ndarray, hi: np.ndarray, *, batch_size: int | None = None,
                 n_random: int = 0, probe_rng: np.random.Generator | None = None,
                 attack_restarts: int = 4, attack_steps: int = 30) -> None:
        self.bounder = bounder
        self.lo0 = np.asarray(lo, dtype=np.float64).reshape(-1)
        self.hi0 = np.asarray(hi, dtype=np.float64).reshape(-1)
        self.scale = np.where(self.hi0 > self.lo0, self.hi0 - self.lo0, 1.0)
        self.batch_size = int(batch_size or getattr(bounder, "batch_size", 256))
        self.n_random = n_random
        self.probe_rng = probe_rng if probe_rng is not None else np.random.default_rng(0)
        self.attack_restarts, self.attack_steps = attack_restarts, attack_steps
        self._torch = getattr(bounder, "torch_objective", None)

    def root(self) -> Domains:
        return {"lo": self.lo0[None, :].copy(), "hi": self.hi0[None, :].copy(), "sens": np.ones((1, self.lo0.size))}

    def branch(self, doms: Domains, lb: np.ndarray) -> Domains:
        lo, hi, sens = doms["lo"], doms["hi"], doms["sens"]
        width = hi - lo
        score = width * sens
        score = np.where(width > 0, score + 1e-12 * width / self.scale, -np.inf)
        axis = np.argmax(score, axis=1)
        rows = np.arange(lo.shape[0])
        mid = 0.5 * (lo[rows, axis] + hi[rows, axis])
        lo_r, hi_l = lo.copy(), hi.copy()
        hi_l[rows, axis] = mid
        lo_r[rows, axis] = mid
        parent = np.concatenate([rows, rows])
        return {"lo": np.concatenate([lo, lo_r]), "hi": np.concatenate([hi_l, hi]),
                "sens": np.concatenate([sens, sens]), "parent": parent}

    def bound(self, doms: Domains) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        lo, hi = doms["lo"], doms["hi"]
        out = self.bounder.bound(lo, hi)
        if not isinstance(out, BoxBounds):
            out = BoxBounds(np.asarray(out, dtype=np.float64).reshape(lo.shape[0], -1))
        if out.sensitivity is not None:
            doms["sens"] = np.asarray(out.sensitivity, dtype=np.float64)
        else:
            doms["sens"] = 1.0 / self.scale[None, :].repeat(lo.shape[0], axis=0)
        pts = [sample_boxes(lo, hi, self.n_random, self.probe_rng)]
        if out.points is not None and len(out.points):
            pts.append(np.asarray(out.points, dtype=np.float64).reshape(-1, lo.shape[1]))
        lb = np.max(out.lower, axis=1)
        if out.joint is not None:
            lb = np.maximum(lb, out.joint)
        return lb, np.concatenate(pts), out.resolved

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

