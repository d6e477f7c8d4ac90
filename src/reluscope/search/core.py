"""The one branch-and-bound loop: a best-first frontier of subdomains, batched bounding,
anytime global bounds, budget, attacks and witness checking.

The loop knows nothing about *what* a subdomain is. A :class:`Problem` supplies the root,
how to split a batch of subdomains, how to bound a batch (sound lower bounds on the
objective), and how to evaluate the objective exactly at points. The objective is always

    m* = min over the domain of  max_j phi_j(x),

so a sound lower bound ``lb`` of a subdomain means ``max_j phi_j(x) >= lb`` for every point
``x`` of it, and every evaluated point gives an *upper* bound (it is attained).

Anytime guarantees (proof in ``docs/background/branch-and-bound.md``):

* ``lower`` — the minimum of the frontier's bounds and of the bounds of pruned subdomains —
  is a valid lower bound on ``m*`` at every moment and never decreases (a child's bound is
  at least its parent's, and the reported value is a running maximum);
* ``upper`` is the smallest objective value met at a real point (the ``witness``) and never
  increases.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .._budget import Budget
from .._results import ResultMixin

__all__ = ["Problem", "SearchOutcome", "branch_and_bound", "Domains"]

#: a batch of subdomains as a structure of arrays, every entry with the same leading size
Domains = dict[str, np.ndarray]


class Problem(Protocol):
    """What the loop needs from a kind of subdomain (input boxes, ReLU splits, ...)."""

    #: subdomains bounded per call of :meth:`bound` (chosen by a memory estimate)
    batch_size: int

    def root(self) -> Domains:
        """The root subdomain (leading size 1), bounds not yet computed."""

    def branch(self, doms: Domains, lb: np.ndarray) -> Domains:
        """The children of a batch (each child inside its parent, their union the parent).
        A child's entry ``"parent"`` gives the index of its parent in ``doms``."""

    def bound(self, doms: Domains) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(lb, candidates, resolved)``: sound lower bounds (shape ``(n,)``; ``+inf`` for
        an empty subdomain), points worth evaluating (shape ``(k, d)``, may be empty) and
        which subdomains are solved exactly (their bound is final: they leave the
        frontier; ``None``: none)."""

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        """The objective ``max_j phi_j`` at the rows of ``X`` on the real network(s), float64."""

    def attack(self, doms: Domains, lb: np.ndarray, budget: Budget, rng: np.random.Generator) -> np.ndarray:
        """Points that may have a small objective (projected gradient, sampling)."""


@dataclass(frozen=True)
class SearchOutcome(ResultMixin):
    """``lower <= m* <= upper``; ``witness`` attains ``upper`` (its objective value).

    ``status``: ``"proved"`` (lower > target), ``"refuted"`` (upper <= target), ``"gap"``
    (gap closed), ``"exhausted"`` (no subdomain left: ``lower`` is the answer's bound),
    ``"time_limit"``, ``"domain_limit"`` (frontier too large for memory).
    """

    lower: float
    upper: float
    witness: np.ndarray | None
    status: str
    domains: int  # subdomains bounded
    iterations: int
    history: tuple[tuple[float, float], ...] = field(default=(), repr=False)  # (lower, upper) per iteration

    def __str__(self) -> str:
        return (f"min max phi in [{self.lower:.9g}, {self.upper:.9g}] ({self.status}, "
                f"{self.domains} subdomains, {self.iterations} iterations)")


class _Frontier:
    """The open subdomains with their lower bounds; pops the lowest bounds first."""

    def __init__(self) -> None:
        self.doms: Domains = {}
        self.lb = np.empty(0)

    def __len__(self) -> int:
        return self.lb.size

    def push(self, doms: Domains, lb: np.ndarray) -> None:
        if lb.size == 0:
            return
        if not self.doms:
            self.doms = {k: v.copy() for k, v in doms.items()}
            self.lb = lb.copy()
            return
        self.doms = {k: np.concatenate([self.doms[k], doms[k]]) for k in self.doms}
        self.lb = np.concatenate([self.lb, lb])

    def min(self) -> float:
        return float(self.lb.min()) if self.lb.size else math.inf

    def pop_lowest(self, k: int) -> tuple[Domains, np.ndarray]:
        n = self.lb.size
        if k >= n:
            idx = np.arange(n)
        else:
            idx = np.argpartition(self.lb, k - 1)[:k]
        keep = np.ones(n, dtype=bool)
        keep[idx] = False
        out = {key: v[idx] for key, v in self.doms.items()}
        out_lb = self.lb[idx]
        self.doms = {key: v[keep] for key, v in self.doms.items()}
        self.lb = self.lb[keep]
        return out, out_lb

    def nbytes(self) -> int:
        return int(sum(v.nbytes for v in self.doms.values()) + self.lb.nbytes)


def branch_and_bound(problem: Problem, *, budget: Budget, rng: np.random.Generator,
                     target: float | None = None, gap_abs: float = 0.0, gap_rel: float = 0.0,
                     max_bytes: float = 1.0e9, max_domains: int | None = None,
                     initial: tuple[float, np.ndarray] | None = None,
                     attack_every: int = 8, on_progress: Callable[[float, float], Any] | None = None
                     ) -> SearchOutcome:
    """Best-first branch and bound on ``m* = min max_j phi_j`` over the problem's domain.

    Stops when ``lower > target`` ("proved"), ``upper <= target`` ("refuted"),
    ``upper - lower <= max(gap_abs, gap_rel * max(1, |lower|))`` ("gap"), the frontier is
    empty ("exhausted"), the frontier would exceed ``max_bytes``/``max_domains``
    ("domain_limit") or the budget is spent ("time_limit") — only then.

    ``initial`` is a known ``(value, point)`` (a previous attack's best); ``attack_every``
    runs the problem's attack on the lowest subdomains every that many iterations.
    """
    best = math.inf
    witness: np.ndarray | None = None

    def offer(X: np.ndarray) -> None:
        nonlocal best, witness
        if X.size == 0:
            return
        v = problem.evaluate(X)
        i = int(np.argmin(v))
        if v[i] < best:
            best, witness = float(v[i]), np.array(X[i], dtype=np.float64)

    if initial is not None and initial[1] is not None:
        offer(np.atleast_2d(np.asarray(initial[1], dtype=np.float64)))
    pruned_min = math.inf  # lowest bound of a subdomain dropped from the frontier
    frontier = _Frontier()

    def retire(doms: Domains, lb: np.ndarray, done: np.ndarray | None) -> tuple[Domains, np.ndarray]:
        """Subdomains solved exactly leave the frontier; their bound stays in the global one."""
        nonlocal pruned_min
        if done is None or not done.any():
            return doms, lb
        pruned_min = min(pruned_min, float(lb[done].min()))
        keep = ~done
        return {k: v[keep] for k, v in doms.items()}, lb[keep]

    root = problem.root()
    lb, cand, done = problem.bound(root)
    offer(cand)
    offer(problem.attack(root, lb, budget.share(0.2), rng))
    lower = -math.inf
    root, lb = retire(root, lb, done)
    frontier.push(root, lb)
    history: list[tuple[float, float]] = []
    n_dom, it = 1, 0

    def prune(doms: Domains, lb: np.ndarray) -> tuple[Domains, np.ndarray]:
        """Drop subdomains that cannot matter: their bound is above the target, or the
        best value found already beats them (up to the gap)."""
        nonlocal pruned_min
        cut = best - max(gap_abs, gap_rel * max(1.0, abs(best))) if math.isfinite(best) else math.inf
        drop = lb >= cut
        if target is not None:
            drop |= lb > target
        if drop.any():
            pruned_min = min(pruned_min, float(lb[drop].min()))
            keep = ~drop
            return {k: v[keep] for k, v in doms.items()}, lb[keep]
        return doms, lb

    frontier.doms, frontier.lb = prune(frontier.doms, frontier.lb)
    status = "time_limit"
    per_domain = 0.0  # seconds to bound one subdomain, from the last batch
    while True:
        current = min(frontier.min(), pruned_min, best)
        lower = max(lower, current)  # running maximum of valid lower bounds
        history.append((lower, best))
        if on_progress is not None:
            on_progress(lower, best)
        if target is not None and lower > target:
            status = "proved"
            break
        if target is not None and best <= target:
            status = "refuted"
            break
        if best - lower <= max(gap_abs, gap_rel * max(1.0, abs(lower))):
            status = "gap"
            break
        if len(frontier) == 0:
            status = "exhausted"
            break
        if budget.expired():
            status = "time_limit"
            break
        if frontier.nbytes() > max_bytes or (max_domains is not None and len(frontier) >= max_domains):
            status = "domain_limit"
            break
        it += 1
        # never start a batch that cannot finish in the time left (measured cost per domain)
        size = problem.batch_size
        if per_domain > 0 and math.isfinite(budget.remaining()):
            size = int(max(1, min(size, 0.5 * budget.remaining() / per_domain / 2)))
        doms, plb = frontier.pop_lowest(size)
        t_batch = time.monotonic()  # branching may bound too (strong branching): time both
        children = problem.branch(doms, plb)
        parent = children.pop("parent")
        clb, cand, done = problem.bound(children)
        per_domain = (time.monotonic() - t_batch) / max(clb.size, 1)
        # a child lies inside its parent: the parent's bound holds for it too
        clb = np.maximum(clb, plb[parent])
        offer(cand)
        if attack_every and it % attack_every == 0 and not budget.expired():
            offer(problem.attack(children, clb, budget.share(0.1), rng))
        n_dom += clb.size
        children, clb = retire(children, clb, done)
        children, clb = prune(children, clb)
        frontier.push(children, clb)
    return SearchOutcome(float(lower), float(best), witness, status, n_dom, it, tuple(history))
