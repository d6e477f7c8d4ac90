"""ReLU splitting for high input dimension (the beta-CROWN branch and bound).

A subdomain is the case box plus a sign for some unstable neurons (``s_i z_i >= 0``),
stored as one ``int8`` row per subdomain (``+1`` active, ``-1`` inactive, ``0`` free), so
the frontier costs a few bytes per neuron. Intermediate bounds are the root's (computed
once), tightened at the split neurons (``l_i = 0`` or ``u_i = 0``): a subdomain lies inside
the root box, so the root's bounds hold on it. Only the objective's bound is optimized per
subdomain, by alpha (slopes) and beta (split multipliers). A subdomain without a free
unstable neuron is affine on a polytope and is solved exactly by a certified LP
(:mod:`.leaf_lp`). Branching (:mod:`.branching`): filtered smart branching over the best
neurons by the BaBSR intercept score, or that score alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._budget import Budget
from ..bounds import layer_bounds
from ..domain import Box
from .attack import pgd_minimize
from .branching import BRANCHING_RULES, choose_babsr, choose_fsb, intercept_scores
from .core import Domains
from .crown import (TorchNet, _backward, _concretize, _padded, alpha_crown_bounds, interval_then_crown, joint_lower,
                    optimize_objective_bound)
from .leaf_lp import affine_preactivations, certified_min_max, split_constraints

__all__ = ["ReluSplitProblem", "relu_root_bounds"]


def relu_root_bounds(net, tnet: TorchNet, lo: np.ndarray, hi: np.ndarray, *, alpha_steps: int = 20,
                     budget: Budget | None = None) -> tuple[list, list]:
    """The root's pre-activation bounds of every hidden layer (1-D tensors, sound on the
    box): CROWN intersected with the engine's tightest linear tier, then tightened by
    alpha-CROWN (:func:`.crown.alpha_crown_bounds`, ``alpha_steps`` steps, slopes optimized
    for ``tnet``'s objective rows). They hold on every subdomain, so every (case, polytope)
    pair of one input box can share them."""
    import torch

    lo_t, hi_t = torch.from_numpy(lo.copy())[None], torch.from_numpy(hi.copy())[None]
    lows, highs = interval_then_crown(tnet, lo_t, hi_t)
    lows, highs = [l[0] for l in lows], [u[0] for u in highs]
    if np.all(lo < hi):
        # the engine's tightest tier (three lower-slope choices per neuron): every
        # neuron the root can fix is one split fewer in every branch
        eng = layer_bounds(net, Box(lo, hi), method="linear", alpha="best")
        lows = [torch.maximum(l, torch.from_numpy(np.array(e))) for l, e in zip(lows, eng.lower)]
        highs = [torch.minimum(u, torch.from_numpy(np.array(e))) for u, e in zip(highs, eng.upper)]
    if alpha_steps > 0 and lows and not (budget is not None and budget.expired()):
        # optimized intermediate slopes: fewer unstable neurons, tighter relaxations below
        lows, highs, _ = alpha_crown_bounds(tnet, lo_t, hi_t, steps=alpha_steps, budget=budget,
                                            lows=[l[None] for l in lows], highs=[u[None] for u in highs])
        lows, highs = [l[0] for l in lows], [u[0] for u in highs]
    return lows, highs


class ReluSplitProblem:
    """The branch-and-bound :class:`~reluscope.search.core.Problem` of ReLU splits for
    ``min_{x in [lo, hi]} max_j (C f(x) + d)_j`` — or, with ``groups``, for
    ``min_p min_{x in [lo, hi]} max_{j: groups[j] = p} (C f(x) + d)_j``: several objectives
    (the unsafe polytopes of one input box) in one frontier, a subdomain being a polytope
    ``p`` with signs. Best-first order then spends the time where the lowest bounds are,
    whichever polytope they belong to, and the global lower bound is the property's.

    ``root_bounds``: the root's per-layer pre-activation bounds ``(lows, highs)`` (1-D
    tensors, sound on the box, e.g. shared by the polytopes of one case); default
    :func:`relu_root_bounds`. ``branching``: ``"fsb"`` or ``"babsr"`` (:mod:`.branching`)."""

    def __init__(self, net, C: np.ndarray, d: np.ndarray, lo: np.ndarray, hi: np.ndarray, *,
                 steps: int = 20, memory_bytes: float = 4e8, root_bounds: tuple[list, list] | None = None,
                 budget: Budget | None = None, groups: np.ndarray | None = None, branching: str = "fsb",
                 fsb_candidates: int = 3, refine: bool = True) -> None:
        import torch

        self.net = net
        self.C, self.d = np.asarray(C, dtype=np.float64), np.asarray(d, dtype=np.float64)
        self.tnet = TorchNet(list(net.weights), list(net.biases), self.C, self.d)
        self.groups = np.zeros(self.C.shape[0], dtype=int) if groups is None else np.asarray(groups, dtype=int)
        self.n_groups = int(self.groups.max()) + 1
        # one objective per group: only its own rows are bounded on its subdomains
        self.tnets = [TorchNet(list(net.weights), list(net.biases), self.C[self.groups == g], self.d[self.groups == g])
                      for g in range(self.n_groups)]
        self.lo, self.hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
        self.lo_t, self.hi_t = torch.from_numpy(self.lo.copy())[None], torch.from_numpy(self.hi.copy())[None]
        if root_bounds is None:
            root_bounds = relu_root_bounds(net, self.tnet, self.lo, self.hi, budget=budget)
        self.root_lows, self.root_highs = list(root_bounds[0]), list(root_bounds[1])
        self.widths = list(self.tnet.widths)
        self.offsets = np.concatenate([[0], np.cumsum(self.widths)]).astype(int)
        self.unstable = np.concatenate([((l < 0) & (u > 0)).numpy() for l, u in zip(self.root_lows, self.root_highs)]) \
            if self.widths else np.zeros(0, dtype=bool)
        self.steps = steps
        self.budget = budget if budget is not None else Budget(None)
        if branching not in BRANCHING_RULES:
            raise ValueError(f"branching must be one of {BRANCHING_RULES}; got {branching!r}")
        self.branching, self.fsb_candidates, self.refine = branching, fsb_candidates, refine
        m, n, din = max(t.m for t in self.tnets), int(sum(self.widths)), self.tnet.n_in
        per = 8.0 * (14 * m * n + 6 * m * din + 4 * n)  # parameters, Adam moments, graph
        self.batch_size = int(np.clip(memory_bytes / max(per, 1.0), 4, 1024))

    # -------------------------------------------------------------------- helpers
    def _layer_bounds(self, signs: np.ndarray) -> tuple[list, list, list]:
        import torch

        lows, highs, sg = [], [], []
        for k, (a, b) in enumerate(zip(self.offsets[:-1], self.offsets[1:])):
            s = torch.from_numpy(signs[:, a:b].astype(np.float64))
            l0, u0 = self.root_lows[k].unsqueeze(0), self.root_highs[k].unsqueeze(0)
            lows.append(torch.where(s > 0, l0.clamp(min=0.0), l0).expand_as(s).contiguous())
            highs.append(torch.where(s < 0, u0.clamp(max=0.0), u0).expand_as(s).contiguous())
            sg.append(s)
        return lows, highs, sg

    def root(self) -> Domains:
        g = self.n_groups
        return {"signs": np.zeros((g, int(self.offsets[-1])), dtype=np.int8), "choice": np.full(g, -1),
                "group": np.arange(g)}

    def branch(self, doms: Domains, lb: np.ndarray) -> Domains:
        signs, choice, group = doms["signs"], doms["choice"], doms["group"]
        # a leaf left open (its LP not reached before the time ran out) is bounded again as is
        rows = np.nonzero(choice >= 0)[0]
        same = np.nonzero(choice < 0)[0]
        pos, neg = signs[rows].copy(), signs[rows].copy()
        pos[np.arange(rows.size), choice[rows]] = 1
        neg[np.arange(rows.size), choice[rows]] = -1
        return {"signs": np.concatenate([pos, neg, signs[same]]),
                "choice": np.concatenate([choice[rows], choice[rows], choice[same]]),
                "group": np.concatenate([group[rows], group[rows], group[same]]),
                "parent": np.concatenate([rows, rows, same])}

    def bound(self, doms: Domains) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = doms["signs"].shape[0]
        lb, choice, resolved = np.empty(n), np.full(n, -1), np.zeros(n, dtype=bool)
        pts = []
        for g in np.unique(doms["group"]):
            idx = np.nonzero(doms["group"] == g)[0]
            lb[idx], choice[idx], resolved[idx], cand = self._bound_group(int(g), doms["signs"][idx])
            pts.append(cand)
        doms["choice"] = choice
        return lb, np.concatenate(pts), resolved

    def _bound_group(self, g: int, signs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Bounds, branching choices, resolved flags and candidate points of subdomains of
        one group."""
        import torch

        tnet = self.tnets[g]
        B = signs.shape[0]
        lows, highs, sg = self._layer_bounds(signs)
        lo, hi = self.lo_t.expand(B, -1), self.hi_t.expand(B, -1)
        empty = self._refine(lows, highs, sg, lo, hi) if self.refine else np.zeros(B, dtype=bool)
        has_split = bool(signs.any())
        lb_t = optimize_objective_bound(tnet, lo, hi, lows, highs, signs=sg if has_split else None,
                                        steps=self.steps, budget=self.budget)
        lower = lb_t.lower.numpy()
        lb = np.maximum(lower.max(axis=1), joint_lower(lb_t, lo, hi).numpy())
        lb[empty] = np.inf  # no point of the box meets the subdomain's signs
        row = torch.from_numpy(lower.argmax(axis=1))
        # candidates: the box vertex minimizing the deciding row's linear bound
        lam = lb_t.lam_x[torch.arange(B), row].numpy()
        pts = [np.where(lam > 0, self.lo[None, :], self.hi[None, :])]
        # free neurons the refined bounds leave unstable; the stable ones take their sign
        unstable_here = np.concatenate([((l < 0) & (u > 0)).numpy() for l, u in zip(lows, highs)], axis=1)
        free = (signs == 0) & self.unstable[None, :] & unstable_here
        settled = np.where((signs == 0) & ~unstable_here,
                           np.concatenate([np.where(l.numpy() >= 0, 1, -1) for l in lows], axis=1), signs).astype(np.int8)
        lam_rows = [h[torch.arange(B), row].detach().numpy() for h in lb_t.lam_hidden]
        scores = intercept_scores(lam_rows, [l.numpy() for l in lows], [u.numpy() for u in highs])
        if self.branching == "fsb" and free.any():
            choice = choose_fsb(tnet, lo, hi, lows, highs, self.offsets, scores, free, k=self.fsb_candidates)
        else:
            choice = choose_babsr(scores, free)
        leaf = ~free.any(axis=1)
        # empty leaves (bound +inf) are resolved; the others by their LP when time allows
        resolved = (leaf & ~np.isfinite(lb)) | empty
        for i in np.nonzero(leaf & np.isfinite(lb))[0]:
            if self.budget.expired():
                break
            val, x = self._leaf(settled[i], g)
            # a leaf whose LP certified nothing keeps its linear bound (sound) and is closed
            lb[i] = max(lb[i], val)
            resolved[i] = True
            if x is not None:
                pts.append(x[None, :])
        return lb, choice, resolved, np.concatenate(pts)

    def _refine(self, lows: list, highs: list, sg: list, lo: Any, hi: Any, memory_bytes: float = 1e8) -> np.ndarray:
        """Tighten, in place, every layer's bounds below which a neuron is split: CROWN
        back-substitution of each still-unstable neuron through the subdomain's own bounds
        (sound on the subdomain; a split neuron's relaxation is exact). Returns which
        subdomains are empty (some neuron's bounds cross: its sign cannot hold)."""
        import torch

        B = lo.shape[0]
        empty = torch.zeros(B, dtype=torch.bool)
        n_max = max(self.widths)
        step = int(max(1, memory_bytes / (8.0 * 8 * n_max * n_max)))
        with torch.no_grad():
            for s0 in range(0, B, step):
                part = slice(s0, min(B, s0 + step))
                split_below = False
                for k in range(len(self.widths)):
                    if k > 0 and split_below:
                        l, u = lows[k][part], highs[k][part]
                        rows = torch.nonzero(((l < 0) & (u > 0)).any(dim=0)).flatten()
                        if rows.numel():
                            W, b = self.tnet.W[k][rows], self.tnet.b[k][rows]
                            nb = l.shape[0]
                            lam = torch.cat([W, -W]).unsqueeze(0).expand(nb, -1, -1)
                            const = torch.cat([b, -b]).unsqueeze(0).expand(nb, -1)
                            sub_l = [x[part] for x in lows[:k]]
                            sub_u = [x[part] for x in highs[:k]]
                            lam_x, c, mg, _ = _backward(self.tnet, lam, const, k - 1, sub_l, sub_u)
                            val = _padded(_concretize(lam_x, c, lo[part], hi[part]), lam_x, mg, lo[part], hi[part])
                            r = rows.numel()
                            lows[k][part, rows] = torch.maximum(l[:, rows], val[:, :r])
                            highs[k][part, rows] = torch.minimum(u[:, rows], -val[:, r:])
                            s = sg[k][part]
                            lows[k][part] = torch.where(s > 0, lows[k][part].clamp(min=0.0), lows[k][part])
                            highs[k][part] = torch.where(s < 0, highs[k][part].clamp(max=0.0), highs[k][part])
                    empty[part] |= (lows[k][part] > highs[k][part]).any(dim=1)
                    split_below = split_below or bool((sg[k][part] != 0).any())
        return empty.numpy()

    def _leaf(self, signs: np.ndarray, g: int = 0) -> tuple[float, np.ndarray | None]:
        """The exact LP of a subdomain on which every neuron's sign is fixed."""
        active = []
        for k, (a, b) in enumerate(zip(self.offsets[:-1], self.offsets[1:])):
            s = signs[a:b]
            active.append(np.where(s != 0, s > 0, self.root_lows[k].numpy() >= 0))
        pieces = affine_preactivations(list(self.net.weights), list(self.net.biases), active)
        A_out, c_out = pieces[-1]
        rows = self.groups == g
        P, q = self.C[rows] @ A_out, self.C[rows] @ c_out + self.d[rows]
        G, h = split_constraints(pieces, self.offsets, signs)
        return certified_min_max(P, q, self.lo, self.hi, G, h, time_limit=self.budget.solver_limit())

    def _objective(self, Y: np.ndarray) -> np.ndarray:
        """``min_p max_{j in p} phi_j`` at outputs ``Y`` (rows)."""
        phi = Y @ self.C.T + self.d
        return np.min([phi[:, self.groups == g].max(axis=1) for g in range(self.n_groups)], axis=0)

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        return self._objective(self.net(X))

    def _torch_objective(self, X: Any) -> Any:
        import torch

        per = [t.forward(X).max(dim=1).values for t in self.tnets]
        return torch.stack(per, dim=1).min(dim=1, keepdim=True).values

    def attack(self, doms: Domains, lb: np.ndarray, budget: Budget, rng: np.random.Generator) -> np.ndarray:
        return pgd_minimize(self._torch_objective, self.lo[None, :], self.hi[None, :], restarts=32, steps=40,
                            rng=rng, budget=budget)
