"""A network's objective ``phi = C f(x) + d`` for the search: the input-split bounder and
the automatic choice between input splitting (small input dimension) and ReLU splitting.
"""

from __future__ import annotations

import math

import numpy as np

from .._budget import Budget
from .core import SearchOutcome, branch_and_bound
from .crown import (TorchNet, alpha_crown_bounds, interval_then_crown, joint_lower, objective_bound,
                    optimize_objective_bound)
from .threads import torch_threads
from .input_split import BoxBounds, InputSplitProblem
from .leaf_lp import affine_preactivations, certified_min_max
from .relu_split import ReluSplitProblem

__all__ = ["NetworkBounder", "search_network", "INPUT_SPLIT_MAX_DIM"]

#: input dimensions up to which input splitting is the default (ACAS Xu has 5)
INPUT_SPLIT_MAX_DIM = 12


class NetworkBounder:
    """The :class:`~reluscope.search.Bounder` of ``phi = C f(x) + d`` on input boxes:
    per-box CROWN intermediate bounds, the objective's bound (optionally alpha-optimized),
    split scores ``|d phi / d x|`` from the back-substituted coefficients, the minimizing box
    vertex of the deciding row as a candidate, and exact LPs on boxes where every neuron is
    stable."""

    def __init__(self, net, C: np.ndarray, d: np.ndarray, *, alpha_steps: int = 0,
                 memory_bytes: float = 2.5e8, cache_bytes: float = 1.0e6, alpha_near: float = 0.0,
                 alpha_near_steps: int = 5) -> None:
        self.net = net
        self.C, self.d = np.asarray(C, dtype=np.float64), np.asarray(d, dtype=np.float64)
        self.tnet = TorchNet(list(net.weights), list(net.biases), self.C, self.d)
        self.torch_objective = self.tnet.forward
        self.uses_torch = True
        self.n_inputs = net.input_dim
        #: inputs phi depends on (a nonzero first-layer column); strong branching ignores the others
        self.relevant_inputs = np.any(np.asarray(net.weights[0]) != 0, axis=0) if len(net.weights) else None
        self.alpha_steps = alpha_steps
        #: stable boxes whose bound is above this need no LP (set to the search's target)
        self.leaf_below = math.inf
        widths = list(net.widths)
        per = 8.0 * max(2 * a * b for a, b in zip(widths[1:], widths[:-1]))  # bytes of one box's coefficients
        self.batch_size = int(np.clip(memory_bytes / (4 * per), 16, 512))
        # Why chunks: the back-substitution is a chain of elementwise passes over (B, 2n, n)
        # tensors; once they outgrow the cache every pass waits for memory. Measured on ACAS Xu
        # (CPU ms per box, one thread): 2.45 in one chunk of 2048 boxes, 1.63 at 512, 1.21 at
        # 128, 1.0-1.1 at 8-32.
        self.chunk = int(np.clip(cache_bytes / per, 8, 256))
        #: :meth:`tighten` re-bounds boxes whose bound is below the target by less than this
        #: fraction of the first gap it sees (0: never)
        self.alpha_near, self.alpha_near_steps = alpha_near, alpha_near_steps
        self._near: float | None = None
        #: the search's budget: :meth:`tighten` stops optimizing when it is spent
        self.budget: Budget | None = None

    def bound(self, lo: np.ndarray, hi: np.ndarray) -> BoxBounds:
        parts = [self._bound_chunk(lo[i:i + self.chunk], hi[i:i + self.chunk]) for i in range(0, lo.shape[0], self.chunk)]
        if len(parts) == 1:
            return parts[0]
        return BoxBounds(*(np.concatenate([getattr(p, f) for p in parts])
                           for f in ("lower", "sensitivity", "points", "resolved", "joint")))

    def _bound_chunk(self, lo: np.ndarray, hi: np.ndarray) -> BoxBounds:
        import torch

        lo_t, hi_t = torch.from_numpy(np.ascontiguousarray(lo)), torch.from_numpy(np.ascontiguousarray(hi))
        with torch.no_grad():
            lows, highs = interval_then_crown(self.tnet, lo_t, hi_t)
        out = objective_bound(self.tnet, lo_t, hi_t, lows, highs)
        if self.alpha_steps:
            out = optimize_objective_bound(self.tnet, lo_t, hi_t, lows, highs, steps=self.alpha_steps)
        lower = out.lower.numpy().copy()
        B = lower.shape[0]
        row = lower.argmax(axis=1)
        lam = out.lam_x[torch.arange(B), torch.from_numpy(row)].numpy()
        sens = np.abs(lam)
        pts = [np.where(lam > 0, lo, hi)]
        stable = np.ones(B, dtype=bool)
        for l, u in zip(lows, highs):
            stable &= ~((l < 0) & (u > 0)).any(dim=1).numpy()
        resolved = stable.copy()
        joint = joint_lower(out, lo_t, hi_t).numpy().copy()
        if lower.shape[1] > 1:
            # affine on the box, but the max of several rows: solve the box's LP
            for i in np.nonzero(stable & (joint <= self.leaf_below))[0]:
                val, x = self._leaf(lo[i], hi[i], [l[i].numpy() >= 0 for l in lows])
                resolved[i] = math.isfinite(val)
                joint[i] = max(joint[i], val)
                if x is not None:
                    pts.append(x[None, :])
        return BoxBounds(lower, sens, np.concatenate(pts), resolved, joint)

    def tighten(self, lo: np.ndarray, hi: np.ndarray, lb: np.ndarray) -> np.ndarray:
        """Better bounds ``>= lb`` on ``max_j phi_j`` for boxes close below the target: alpha-CROWN
        with optimized intermediate bounds (:func:`.crown.alpha_crown_bounds`, sound for any
        slopes) costs 15-60 CPU-times a CROWN pass, so only boxes within ``alpha_near`` x the
        first gap seen (the root's children's) get it; far boxes are split instead."""
        target = self.leaf_below
        if not self.alpha_near or not math.isfinite(target) or lb.size == 0:
            return lb
        if self._near is None:
            gap = target - float(np.min(lb))
            if not gap > 0:
                return lb
            self._near = self.alpha_near * gap
        sel = np.nonzero((lb <= target) & (lb > target - self._near))[0]
        if sel.size == 0:
            return lb
        import torch

        lo_t = torch.from_numpy(np.ascontiguousarray(lo[sel]))
        hi_t = torch.from_numpy(np.ascontiguousarray(hi[sel]))
        _, _, out = alpha_crown_bounds(self.tnet, lo_t, hi_t, steps=self.alpha_near_steps, budget=self.budget)
        better = np.maximum(out.lower.detach().max(dim=1).values.numpy(), joint_lower(out, lo_t, hi_t).numpy())
        lb = lb.copy()
        lb[sel] = np.maximum(lb[sel], better)
        return lb

    def _leaf(self, lo: np.ndarray, hi: np.ndarray, active: list[np.ndarray]) -> tuple[float, np.ndarray | None]:
        pieces = affine_preactivations(list(self.net.weights), list(self.net.biases), active)
        A, c = pieces[-1]
        return certified_min_max(self.C @ A, self.C @ c + self.d, lo, hi)

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        return self.net(X) @ self.C.T + self.d


def search_network(net, C: np.ndarray, d: np.ndarray, lo: np.ndarray, hi: np.ndarray, *, budget: Budget,
                   rng: np.random.Generator, target: float | None = 0.0, method: str = "auto",
                   gap_abs: float = 0.0, gap_rel: float = 0.0, max_bytes: float = 1.0e9,
                   initial: tuple[float, np.ndarray] | None = None, branching: str = "bf",
                   alpha_near: float = 3e-3) -> SearchOutcome:
    """Anytime bounds on ``min_{lo <= x <= hi} max_j (C net(x) + d)_j``.

    ``method``: ``"input"`` (input splitting), ``"relu"`` (ReLU splitting with beta) or
    ``"auto"`` (input splitting up to :data:`INPUT_SPLIT_MAX_DIM` inputs). ``branching`` (input
    splitting): ``"bf"`` (default: both halves along every axis are bounded and the axis whose
    worse half is best is kept), ``"sb"`` (width x |linear-bound coefficient|) or ``"naive"``
    (the widest side relative to the root box); see :class:`~reluscope.search.InputSplitProblem`.
    ``alpha_near`` (input splitting): boxes whose bound is below ``target`` by less than this
    fraction of the first gap are re-bounded by alpha-CROWN (:meth:`NetworkBounder.tighten`;
    0: never). Measured on ACAS Xu (40-60 s wall at load ~7, CPU seconds to proof): without it
    1_1 property 2 and 3_9 / 4_9 property 1 stayed open after 14-21 s; at ``1e-3`` 3.2 s, open,
    11.7 s; at ``3e-3`` (default) 5.3 s, 7.3 s, 10.7 s; at ``1e-2`` 5.9 s, 7.6 s, 14.9 s; at
    ``5e-2`` 3_9 stayed open (too many boxes re-bounded)."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    if method == "auto":
        method = "input" if lo.size <= INPUT_SPLIT_MAX_DIM else "relu"
    with torch_threads(1):
        if method == "input":
            bounder = NetworkBounder(net, C, d, alpha_near=alpha_near)
            bounder.budget = budget
            if target is not None:
                bounder.leaf_below = target
            problem = InputSplitProblem(bounder, lo, hi, branching=branching)
        else:
            problem = ReluSplitProblem(net, C, d, lo, hi, budget=budget)
        return branch_and_bound(problem, budget=budget, rng=rng, target=target, gap_abs=gap_abs,
                                gap_rel=gap_rel, max_bytes=max_bytes, initial=initial)
