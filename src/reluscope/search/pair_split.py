"""ReLU splitting of a *pair* of networks read side by side on a shared input.

Questions about two networks ``f`` and ``g`` (their distance, whether they agree) are put
in the loop's form ``m* = min over x of psi(x)`` with

    psi(x) = min over targets t of  max_j (C_t S(x) + d_t)_j,

where ``S(x) = (f(x), g(x))`` is the *stacked* network (both hidden layers side by side,
the outputs kept apart). For ``sup |f_k - g_k|`` the targets are one row per output ``k``
and sign ``s``, ``-s (f_k - g_k)``, so ``psi = -max_k |f_k - g_k|``; for top-1 agreement
one pair of rows per ordered pair of classes (:mod:`reluscope.distance.pair_search`).

A subdomain is a box (one of the roots, or a part of one) and a sign for some hidden
neurons of ``f`` and of ``g`` (``int8`` rows, ``+1`` active, ``-1`` inactive, ``0`` free, as
in :mod:`.relu_split`). Its bound (proof in ``docs/background/differential-splitting.md``)
is the minimum over the targets of the larger of

* alpha/beta-CROWN on the stacked network (:func:`.crown.optimize_objective_bound`) with
  the subdomain's own intermediate bounds: batched CROWN of each network with every split
  neuron's range clamped at 0 before the next layer is bounded
  (:func:`reluscope.bounds.differential_linear.batch_split_bounds`) — skipped for
  difference targets of close copies, where the next bound is tens of times tighter;
* for networks of equal widths and a difference target, the symbolic differential bounds
  of ``f - g`` (NeuroDiff-style envelopes) on the same clamped ranges.

A subdomain whose clamped range is empty has no point (bound ``+inf``). One with no
unstable neuron left (by its own bounds) is affine on a polytope and goes to the certified
LPs (:func:`.leaf_lp.certified_min_max`). Branching: while more than ``relu_max_unstable``
neurons are unstable on a subdomain its box is bisected (the coordinate with the largest
``width x |coefficient|`` of the deciding bound); then the free unstable neuron whose
relaxations cost the deciding bound most is split (the differential bound's ``|coefficient|
x relaxation width`` where it decides, else the BaBSR intercept score); ``pair_split=True``
splits it together with its partner in the other network (4 children) when both are free
and unstable.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from .._budget import Budget
from ..bounds.difference import _close_copy, _deepen, joint_difference_network
from ..bounds.differential_linear import batch_split_bounds
from ..network import ReLUNetwork
from .attack import pgd_minimize
from .core import Domains
from .crown import TorchNet, joint_lower, optimize_objective_bound
from .leaf_lp import affine_preactivations, certified_min_max, split_constraints

__all__ = ["PairSplitProblem", "stacked_network", "difference_targets"]


def stacked_network(f: ReLUNetwork, g: ReLUNetwork) -> ReLUNetwork:
    """``x -> (f(x), g(x))``: the joint network of :func:`~reluscope.bounds.difference.
    joint_difference_network` (hidden layers side by side) with both outputs kept
    (``f``'s first) instead of subtracted."""
    depth = max(f.depth, g.depth)
    f, g = _deepen(f, depth), _deepen(g, depth)
    joint = joint_difference_network(f, g)
    Wf, Wg = f.weights[-1], g.weights[-1]
    if depth == 1:
        last = np.vstack([Wf, Wg])
    else:
        last = np.block([[Wf, np.zeros((Wf.shape[0], Wg.shape[1]))], [np.zeros((Wg.shape[0], Wf.shape[1])), Wg]])
    return ReLUNetwork(list(joint.weights[:-1]) + [last],
                       list(joint.biases[:-1]) + [np.concatenate([f.biases[-1], g.biases[-1]])])


def difference_targets(k: int, outputs: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The targets of ``sup_x max_{k in outputs} |f_k - g_k|``: ``(C, d, diff)`` with one
    row ``-s (f_k - g_k)`` per output and sign (``C`` ``(T, 1, 2k)``) and ``diff`` ``(T, 2)``
    the ``(k, s)`` of each."""
    outputs = np.arange(k) if outputs is None else np.asarray(outputs, dtype=int)
    C, diff = [], []
    for kk in outputs:
        for s in (1.0, -1.0):
            row = np.zeros(2 * k)
            row[kk], row[k + kk] = -s, s
            C.append(row[None])
            diff.append((kk, s))
    return np.array(C), np.zeros((len(C), 1)), np.array(diff)


class PairSplitProblem:
    """The branch-and-bound :class:`~reluscope.search.core.Problem` of joint ReLU splits
    (and box bisections) of ``f`` and ``g`` for ``min over x in the boxes of psi(x)``.

    ``C``: ``(T, m, 2 k)`` objective rows per target on the stacked outputs, ``d``
    ``(T, m)``; ``lo``, ``hi``: the root boxes ``(n, d)`` (or one box ``(d,)``).
    ``diff``: per target ``(k, s)`` when ``phi_t = -s (f_k - g_k)`` (``m = 1``; adds the
    differential bound), ``None`` for other targets."""

    def __init__(self, f: ReLUNetwork, g: ReLUNetwork, C: np.ndarray, d: np.ndarray, lo: np.ndarray,
                 hi: np.ndarray, *, diff: np.ndarray | None = None, steps: int = 8, pair_split: bool = False,
                 relu_max_unstable: float = math.inf, budget: Budget | None = None,
                 memory_bytes: float = 2e8) -> None:
        depth = max(f.depth, g.depth)
        self.f, self.g = _deepen(f, depth), _deepen(g, depth)
        self.stacked = stacked_network(f, g)
        self.C = np.asarray(C, dtype=np.float64)
        self.d = np.asarray(d, dtype=np.float64)
        T, m = self.C.shape[:2]
        self.diff = None if diff is None else np.asarray(diff, dtype=np.float64)
        self.differential = self.diff is not None and self.f.widths == self.g.widths
        # close copies: the differential bound alone (the stacked network's is far looser)
        self.use_crown = not (self.differential and bool(_close_copy(self.f, self.g)))
        # m = 1: every target one row of a single objective (one pass for all)
        groups = [np.arange(T)] if m == 1 else [np.array([t]) for t in range(T)]
        self.groups = [(grp, self._objective_net(self.C[grp].reshape(-1, self.C.shape[2]), self.d[grp].reshape(-1)))
                       for grp in groups]
        self.lo = np.atleast_2d(np.asarray(lo, dtype=np.float64))
        self.hi = np.atleast_2d(np.asarray(hi, dtype=np.float64))
        self.nf, self.ng = list(self.f.widths[1:-1]), list(self.g.widths[1:-1])
        self.widths = [a + b for a, b in zip(self.nf, self.ng)]
        self.offsets = np.concatenate([[0], np.cumsum(self.widths)]).astype(int)
        partner = np.full(int(self.offsets[-1]), -1)  # a neuron's partner in the other network
        if self.nf == self.ng:
            for a, n in zip(self.offsets[:-1], self.nf):
                partner[a:a + n] = np.arange(a + n, a + 2 * n)
                partner[a + n:a + 2 * n] = np.arange(a, a + n)
        self.partner = partner
        self.pair_split = pair_split and self.nf == self.ng
        self.steps = steps
        self.relu_max_unstable = relu_max_unstable
        self.budget = budget if budget is not None else Budget(None)
        n, din, k2 = int(self.offsets[-1]), self.lo.shape[1], self.C.shape[2]
        rows = max(self.widths + [1])
        per = 8.0 * (6 * rows * din + 4 * rows * n + 14 * T * m * (n + din) + 4 * k2 * din)
        self.batch_size = int(np.clip(memory_bytes / max(per, 1.0), 4, 512))
        self._tensors = None

    def _objective_net(self, C: np.ndarray, d: np.ndarray) -> TorchNet:
        """The stacked network with objective rows ``C, d``; the weight tensors are shared
        by all targets (one copy of a large pair, not one per target)."""
        import torch

        if not hasattr(self, "_base"):
            self._base = TorchNet(list(self.stacked.weights), list(self.stacked.biases), C, d)
            return self._base
        net = copy.copy(self._base)
        net.C, net.d = torch.tensor(np.array(C, dtype=np.float64)), torch.tensor(np.array(d, dtype=np.float64))
        net.m = net.C.shape[0]
        return net

    # ------------------------------------------------------------------ problem
    def root(self) -> Domains:
        n = self.lo.shape[0]
        return {"signs": np.zeros((n, int(self.offsets[-1])), dtype=np.int8), "choice": np.full(n, -1),
                "axis": np.full(n, -1), "mate": np.zeros(n, dtype=bool), "lo": self.lo.copy(), "hi": self.hi.copy()}

    def branch(self, doms: Domains, lb: np.ndarray) -> Domains:
        signs, choice, axis = doms["signs"], doms["choice"], doms["axis"]
        parts: list[Domains] = []
        # boxes with many unstable neurons: bisected along the chosen coordinate
        rows = np.nonzero(axis >= 0)[0]
        if rows.size:
            r = np.arange(rows.size)
            ax = axis[rows]
            lo, hi = doms["lo"][rows], doms["hi"][rows]
            mid = 0.5 * (lo[r, ax] + hi[r, ax])
            hi_l, lo_r = hi.copy(), lo.copy()
            hi_l[r, ax] = mid
            lo_r[r, ax] = mid
            parts.append(self._children(doms, np.concatenate([rows, rows]), np.concatenate([signs[rows], signs[rows]]),
                                        np.concatenate([lo, lo_r]), np.concatenate([hi_l, hi])))
        # ReLU splits (one neuron, or a neuron and its partner)
        rows = np.nonzero((axis < 0) & (choice >= 0))[0]
        both = doms["mate"][rows] if self.pair_split else np.zeros(rows.size, dtype=bool)
        mate = self.partner[choice[rows]]
        for sf in (1, -1):
            one = rows[~both]
            s1 = signs[one].copy()
            s1[np.arange(one.size), choice[one]] = sf
            parts.append(self._children(doms, one, s1))
            two = rows[both]
            for sg in (1, -1):
                s2 = signs[two].copy()
                s2[np.arange(two.size), choice[two]] = sf
                s2[np.arange(two.size), mate[both]] = sg
                parts.append(self._children(doms, two, s2))
        # a leaf left open (no time for its LP) is bounded again as it is
        same = np.nonzero((axis < 0) & (choice < 0))[0]
        parts.append(self._children(doms, same, signs[same]))
        return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}

    @staticmethod
    def _children(doms: Domains, parent: np.ndarray, signs: np.ndarray, lo: np.ndarray | None = None,
                  hi: np.ndarray | None = None) -> Domains:
        return {"signs": signs, "choice": doms["choice"][parent], "axis": doms["axis"][parent],
                "mate": doms["mate"][parent], "lo": doms["lo"][parent] if lo is None else lo,
                "hi": doms["hi"][parent] if hi is None else hi, "parent": parent}

    def _tighten_box(self, signs: np.ndarray, lo: np.ndarray, hi: np.ndarray, rounds: int = 2
                     ) -> tuple[np.ndarray, np.ndarray]:
        """The box of each subdomain shrunk to what the first hidden layer's splits allow.

        A split ``s_i (w_i . x + b_i) >= 0`` of a first-layer neuron is a half-space
        ``a . x >= c`` (``a = s_i w_i``, ``c = -s_i b_i``); with every other coordinate in
        the box, ``a_j x_j >= c - (max of the other terms)``, so ``x_j`` has a new bound
        (moved outward by a rounding pad). Every point of the subdomain stays inside, so
        the subdomain is unchanged; its box is smaller, and ``lo > hi`` proves it empty."""
        W, b = self.stacked.weights[0], self.stacked.biases[0]
        s0 = signs[:, :W.shape[0]].astype(np.float64)
        rows, neurons = np.nonzero(s0)
        if rows.size == 0:
            return lo, hi
        lo, hi = lo.copy(), hi.copy()
        A = s0[rows, neurons][:, None] * W[neurons]  # (r, d)
        c = -s0[rows, neurons] * b[neurons]
        for _ in range(rounds):
            l, h = lo[rows], hi[rows]
            top = np.maximum(A * l, A * h)  # each term's largest value on the box
            rest = top.sum(axis=1, keepdims=True) - top
            need = c[:, None] - rest  # a_j x_j >= need
            pad = 1e-12 * (1.0 + np.abs(c)[:, None] + np.abs(top).sum(axis=1, keepdims=True))
            with np.errstate(divide="ignore", invalid="ignore"):
                bound = (need - pad) / A
            new_lo = np.where(A > 0, bound, -np.inf)
            new_hi = np.where(A < 0, (need - pad) / np.where(A < 0, A, 1.0), np.inf)
            new_hi = np.where(A < 0, new_hi, np.inf)
            np.maximum.at(lo, rows, np.where(np.isfinite(new_lo), new_lo, -np.inf))
            np.minimum.at(hi, rows, np.where(np.isfinite(new_hi), new_hi, np.inf))
        return lo, hi

    def bound(self, doms: Domains) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        signs = doms["signs"]
        lo, hi = self._tighten_box(signs, doms["lo"], doms["hi"])
        shut = np.any(lo > hi, axis=1)  # the first layer's splits leave no point
        hi = np.where(shut[:, None], np.maximum(lo, hi), hi)
        doms["lo"], doms["hi"] = lo, hi
        B, T = signs.shape[0], self.C.shape[0]
        fs = [signs[:, a:a + nf] for a, nf in zip(self.offsets[:-1], self.nf)]
        gs = [signs[:, a + nf:b] for a, nf, b in zip(self.offsets[:-1], self.nf, self.offsets[1:])]
        sb = batch_split_bounds(self.f, self.g, lo, hi, fs, gs, differential=self.differential)
        sb.empty[shut] = True
        lows = [np.concatenate([a, b], axis=1) for a, b in zip(sb.f_lower[:-1], sb.g_lower[:-1])]
        highs = [np.concatenate([a, b], axis=1) for a, b in zip(sb.f_upper[:-1], sb.g_upper[:-1])]
        ok = np.nonzero(~sb.empty)[0]
        lb_t = np.full((B, T), -np.inf)  # per target
        lam_x = np.zeros((B, T, lo.shape[1]))  # the input coefficients of each target's bound
        lam_h = [np.zeros((B, T, w)) for w in self.widths]  # ... and on the hidden layers
        if self.use_crown and ok.size:
            self._crown(signs, lo, hi, lows, highs, ok, lb_t, lam_x, lam_h)
        diff_wins = np.zeros((B, T), dtype=bool)
        if self.differential:
            k = self.f.output_dim
            for t, (kk, s) in enumerate(self.diff):
                kk = int(kk)
                # phi_t = -s (f_k - g_k) >= -(upper bound of s (f_k - g_k))
                val = -sb.diff_upper[:, kk] if s > 0 else sb.diff_lower[:, kk]
                diff_wins[:, t] = val > lb_t[:, t]
                lb_t[:, t] = np.maximum(lb_t[:, t], val)
                row = kk + (k if s > 0 else 0)
                lam_x[diff_wins[:, t], t] = sb.diff_coef[diff_wins[:, t], row]
        lb = lb_t.min(axis=1)
        lb[sb.empty] = np.inf
        tsel = np.argmin(lb_t, axis=1)  # the deciding target
        ar = np.arange(B)
        lam = lam_x[ar, tsel]
        # candidates only from subdomains with points (a shut box may lie outside its root)
        cand = [0.5 * (lo + hi)[ok], np.where(lam > 0, lo, hi)[ok]]
        # branching scores of the free neurons unstable on the subdomain
        scores = np.full(signs.shape, -np.inf)
        unstable = np.zeros(signs.shape, dtype=bool)
        for k, (a, b) in enumerate(zip(self.offsets[:-1], self.offsets[1:])):
            l, u = lows[k], highs[k]
            unst = (l < 0) & (u > 0)
            unstable[:, a:b] = unst
            width = np.where(unst, u - l, 1.0)
            sc = np.abs(lam_h[k][ar, tsel]) * (-l * u / width)
            if self.differential:
                dw = diff_wins[ar, tsel]
                row = self.diff[tsel, 0].astype(int) + np.where(self.diff[tsel, 1] > 0, self.f.output_dim, 0)
                share = sb.diff_shares[k][ar, row]  # (B, n_f): the pair's share of the looseness
                both = np.concatenate([share, 1.0001 * share], axis=1)  # g's split fixes both relaxations
                sc = np.where(dw[:, None], both, sc)
            scores[:, a:b] = np.where(unst, sc + 1e-9 * (u - l), -np.inf)
        free = (signs == 0) & unstable
        scores = np.where(free, scores, -np.inf)
        choice = np.argmax(scores, axis=1)
        leaf = ~free.any(axis=1) & ~sb.empty
        choice[leaf | sb.empty] = -1
        doms["choice"] = choice
        mate = self.partner[choice]
        doms["mate"] = (choice >= 0) & (mate >= 0) & free[ar, np.maximum(mate, 0)]
        width = hi - lo
        # width x |coefficient|, the coefficients floored at a fifth of the largest: a bound
        # steered by few inputs would otherwise slice one coordinate forever
        sens = np.abs(lam)
        sens = np.maximum(sens, 0.2 * sens.max(axis=1, keepdims=True)) + 1e-12
        axis = np.where(width.max(axis=1) > 0, np.argmax(width * sens, axis=1), -1)
        many = unstable.sum(axis=1) > self.relu_max_unstable
        doms["axis"] = np.where(many & ~leaf & ~sb.empty, axis, -1)
        resolved = sb.empty.copy()
        for i in np.nonzero(leaf & np.isfinite(lb))[0]:
            if self.budget.expired():
                break
            lb[i], pts = self._leaf(signs[i], lb_t[i], lo[i], hi[i], [v[i] for v in lows])
            resolved[i] = True
            cand.extend(pts)
        return lb, np.concatenate(cand), resolved

    def _crown(self, signs, lo, hi, lows, highs, ok, lb_t, lam_x, lam_h) -> None:
        """alpha/beta-CROWN of every target group on the non-empty subdomains ``ok``."""
        import torch

        lo_t = torch.from_numpy(np.ascontiguousarray(lo[ok]))
        hi_t = torch.from_numpy(np.ascontiguousarray(hi[ok]))
        lw = [torch.from_numpy(np.ascontiguousarray(v[ok])) for v in lows]
        hg = [torch.from_numpy(np.ascontiguousarray(v[ok])) for v in highs]
        sg = [torch.from_numpy(signs[ok, a:b].astype(np.float64)) for a, b in zip(self.offsets[:-1], self.offsets[1:])]
        has_split = bool(signs[ok].any())
        m = self.C.shape[1]
        for grp, tnet in self.groups:
            out = optimize_objective_bound(tnet, lo_t, hi_t, lw, hg, signs=sg if has_split else None,
                                           steps=self.steps, budget=self.budget)
            low = out.lower.numpy()
            if m == 1:
                lb_t[ok[:, None], grp[None, :]] = low
                lam_x[ok[:, None], grp[None, :]] = out.lam_x.numpy()
                for k in range(len(self.widths)):
                    lam_h[k][ok[:, None], grp[None, :]] = out.lam_hidden[k].detach().numpy()
            else:  # one target of several rows: their max, and the rows taken together
                t = int(grp[0])
                lb_t[ok, t] = np.maximum(low.max(axis=1), joint_lower(out, lo_t, hi_t).numpy())
                row = torch.from_numpy(low.argmax(axis=1))
                ar = torch.arange(ok.size)
                lam_x[ok, t] = out.lam_x[ar, row].numpy()
                for k in range(len(self.widths)):
                    lam_h[k][ok, t] = out.lam_hidden[k][ar, row].detach().numpy()

    def _leaf(self, signs: np.ndarray, lb_t: np.ndarray, lo: np.ndarray, hi: np.ndarray, lows: list
              ) -> tuple[float, list]:
        """The certified LPs of a subdomain on which every neuron's sign is known (split
        neurons by their sign — a constraint —, the others by their bounds, which hold):
        ``min_t max(lb_t, LP_t)``, targets in increasing order of their bound until the next
        bound is above the value so far."""
        active = []
        for k, (a, b) in enumerate(zip(self.offsets[:-1], self.offsets[1:])):
            s = signs[a:b]
            active.append(np.where(s != 0, s > 0, lows[k] >= 0))
        pieces = affine_preactivations(list(self.stacked.weights), list(self.stacked.biases), active)
        A_out, c_out = pieces[-1]
        G, h = split_constraints(pieces, self.offsets, signs)
        value, pts = math.inf, []
        for t in np.argsort(lb_t):
            if lb_t[t] >= value:
                break
            if self.budget.expired():
                value = min(value, lb_t[t])
                break
            P, q = self.C[t] @ A_out, self.C[t] @ c_out + self.d[t]
            v, x = certified_min_max(P, q, lo, hi, G, h, time_limit=self.budget.solver_limit())
            if v == math.inf:  # the constraints are certified empty: no target has a point
                return math.inf, []
            value = min(value, max(v, lb_t[t]))
            if x is not None:
                pts.append(x[None, :])
        return value, pts

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        S = np.hstack([self.f(X), self.g(X)])
        vals = np.einsum("tjk,nk->ntj", self.C, S) + self.d[None]
        return vals.max(axis=2).min(axis=1)

    def _torch_objective(self, X):
        """``psi`` on a torch tensor (one column, for the attack)."""
        import torch

        if self._tensors is None:
            self._tensors = ([torch.from_numpy(np.array(W)) for W in self.stacked.weights],
                             [torch.from_numpy(np.array(v)) for v in self.stacked.biases],
                             torch.from_numpy(self.C), torch.from_numpy(self.d))
        Ws, bs, C, d = self._tensors
        a = X
        for i, (W, b) in enumerate(zip(Ws, bs)):
            a = a @ W.T + b
            if i < len(Ws) - 1:
                a = torch.relu(a)
        vals = torch.einsum("tjk,nk->ntj", C, a) + d.unsqueeze(0)
        return vals.max(dim=2).values.min(dim=1, keepdim=True).values

    def attack(self, doms: Domains, lb: np.ndarray, budget: Budget, rng: np.random.Generator) -> np.ndarray:
        order = np.argsort(lb)[:64]
        restarts = 32 if order.size <= 4 else 8  # the roots: many starts each
        return pgd_minimize(self._torch_objective, doms["lo"][order], doms["hi"][order], restarts=restarts,
                            steps=40, rng=rng, budget=budget)
