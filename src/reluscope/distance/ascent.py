"""Lower bounds with witnesses in any input dimension: projected gradient ascent with restarts.

Uniform sampling sees almost nothing of a box in high dimension (in ``[0, 1]^784`` every
uniform point is a grey blur, typical of nothing), so the lower bounds it gives for extreme
outputs, distances and Lipschitz constants can be off by orders of magnitude. Here every
quantity is pushed up by projected gradient ascent (PyTorch autograd, sign-gradient steps
clamped to the box) from many starting points (data points when the caller has them, the best of a
sampled pool for each target, random pool points):

* :func:`output_ascent` -- extreme values ``max sign * (f - g)_k`` (``g`` optional): extreme
  outputs of one network (its output range) or the sup distance of two. The networks are
  piecewise linear, so autograd gives their exact local gradient.
* :func:`jacobian_ascent` -- realized Jacobian entries ``sign * d(f - g)_k / dx_j``
  (Lipschitz constants, the gradient part of ``W^{1,inf}`` distances). The Jacobian is
  piecewise constant (zero gradient almost everywhere), so the ascent follows a smoothed
  surrogate: the same product ``W_L D_{L-1} ... D_1 W_1`` with the 0/1 activation gates
  ``D`` replaced by ``sigmoid(z / t)``, the temperature ``t`` falling over the steps.

Nothing returned trusts the search: each value is re-evaluated with the real networks in
float64 at its witness point, and a Jacobian entry counts only at a point interior to a
linear region of every network (then the gradient is constant on an open set, so the
essential supremum is at least its size). Without PyTorch the pool's sampled values are
returned (``method`` says so).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time

import numpy as np

from .._budget import Budget
from ..bounds import jacobian_bounds, layer_bounds
from ..domain import Box
from ..network import ReLUNetwork
from .lower import _realized_gradient
from .pointwise import Terms, _jacobian_diff, _terms, _values

__all__ = ["AscentBounds", "output_ascent", "jacobian_ascent", "starting_pool"]

#: precision of the search itself (float32: twice as fast); what it finds is re-evaluated in float64
_PRECISION = "float32"
#: the pool's Jacobians are computed on at most about this many entries at once
_JACOBIAN_ENTRIES = 2 ** 19


@dataclasses.dataclass(frozen=True)
class AscentBounds:
    """Attained values per target, each at its witness point (real networks, float64).

    ``targets`` are ``(k, sign)`` (:func:`output_ascent`) or ``(k, j, sign)``
    (:func:`jacobian_ascent`); ``values[i]`` is the attained ``sign * (f - g)_k`` or
    ``sign * d(f - g)_k / dx_j`` at ``witnesses[i]`` (``-inf`` if no point was certified);
    ``start_values[i]`` the best value of the starting pool (what sampling alone gives).
    ``method`` is ``"ascent"`` or says why only the pool was used.
    """

    targets: tuple[tuple[int, ...], ...]
    values: np.ndarray
    witnesses: np.ndarray
    start_values: np.ndarray
    steps: int
    seconds: float
    method: str

    def best(self) -> int:
        """Index of the largest attained value."""
        return int(np.argmax(self.values))

    @property
    def source(self) -> str:
        """What found the best value: the ascent, or already one of its starting points."""
        if self.method != "ascent":
            return f"the search's starting points ({self.method})"
        i = self.best()
        return "gradient search" if self.values[i] > self.start_values[i] else "the search's starting points"


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


@contextlib.contextmanager
def _one_thread(torch):
    """Small batched matrix products: one thread is faster, and far faster on a busy machine
    (torch's worker threads wait on each other); the caller's setting is restored."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def starting_pool(lo: np.ndarray, hi: np.ndarray, n: int, *, seed: int = 0, X: np.ndarray | None = None) -> np.ndarray:
    """Starting points for the ascent: the data rows ``X`` (clipped into the box) when given,
    the box's centre and its two extreme corners, then ``n`` points split between uniform
    points and random vertices (each coordinate at ``lo`` or ``hi``, at ``hi`` with
    probability 0.15, 0.5 or 0.85: in high dimension the extremes of a piecewise linear
    function sit at vertices, far from the uniform points, which all look alike)."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    rng = np.random.default_rng(seed)
    parts = [] if X is None else [np.clip(np.asarray(X, dtype=np.float64), lo, hi)]
    parts.append(np.vstack([(lo + hi) / 2, lo, hi]))
    n_uniform = n // 2
    parts.append(lo + (hi - lo) * rng.random((n_uniform, lo.size)))
    m = n - n_uniform
    for i, p in enumerate((0.15, 0.5, 0.85)):
        c = m // 3 + (1 if i < m % 3 else 0)
        parts.append(np.where(rng.random((c, lo.size)) < p, hi, lo))
    return np.vstack(parts)


def _pick_starts(scores: np.ndarray, restarts: int, rng: np.random.Generator) -> np.ndarray:
    """Indices into the pool for one target: the best-scoring half, then random others."""
    order = np.argsort(-scores, kind="stable")
    best = order[: max(1, (restarts + 1) // 2)]
    rest = order[len(best):]
    extra = rng.choice(rest, size=min(len(rest), restarts - len(best)), replace=False) if len(rest) else []
    return np.concatenate([best, np.asarray(extra, dtype=int)])


def _pgd(torch, X0: np.ndarray, lo: np.ndarray, hi: np.ndarray, objective, budget: Budget, steps: int,
         lr: float = 0.1):
    """Projected sign-gradient ascent (steepest ascent for the box's max-norm) on
    ``u in [0, 1]^d`` (``x = lo + u (hi - lo)``), clamped after each step, the step falling
    from ``lr`` to ``lr / 50`` on a cosine: maximizes ``objective(x)`` row by row.
    ``objective(x, progress)`` returns the surrogate to ascend and the exact per-row value to
    keep. (A two-line update rather than ``torch.optim``: the first optimizer step imports
    TorchDynamo, seconds that a short budget cannot spare.) Returns the best points seen,
    their values (search precision) and the steps run."""
    width = np.where(hi > lo, hi - lo, 0.0)
    safe = np.where(width > 0, width, 1.0)
    lo_t, w_t = torch.tensor(lo, dtype=getattr(torch, _PRECISION)), torch.tensor(width, dtype=getattr(torch, _PRECISION))
    U = torch.tensor((X0 - lo) / safe, dtype=getattr(torch, _PRECISION)).clamp_(0.0, 1.0).requires_grad_(True)
    best_v = torch.full((X0.shape[0],), -math.inf, dtype=getattr(torch, _PRECISION))
    best_x = torch.tensor(X0, dtype=getattr(torch, _PRECISION))
    done = 0
    for step in range(steps + 1):
        X = lo_t + U * w_t
        surrogate, exact = objective(X, step / max(steps, 1))
        with torch.no_grad():
            better = exact > best_v
            best_v = torch.where(better, exact, best_v)
            best_x = torch.where(better[:, None], X.detach(), best_x)
        if step == steps or budget.expired():
            break
        (grad,) = torch.autograd.grad(surrogate.sum(), U)
        alpha = lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * step / max(steps, 1))))
        with torch.no_grad():
            U += alpha * torch.sign(grad)
            U.clamp_(0.0, 1.0)
        done += 1
    # float64 again, inside the box (float32 rounding may step just outside it)
    return np.clip(best_x.numpy().astype(np.float64), lo, hi), best_v.numpy().astype(np.float64), done


def _ascend(torch, terms: Terms, lo, hi, pool, scores, targets, make_objective, verify, budget: Budget,
            restarts: int, steps: int, rounds: int, lr: float, rng: np.random.Generator):
    """Rounds of batched ascent for every target at once. Round 0 starts from the best-scoring
    and random pool points of each target; later rounds from each target's best witness and
    fresh random pool points. ``verify(X, owner)`` re-evaluates the end points on the real
    networks and returns per row the value and the witness (``-inf`` when not certified).
    Returns the best value and witness per target and the steps run."""
    first = [int(np.argmax(sc)) for sc in scores]
    values = np.array([sc[i] for sc, i in zip(scores, first)], dtype=np.float64)
    witnesses = pool[first].copy()
    done = 0
    for r in range(rounds):
        if r and budget.expired():
            break
        if r == 0:
            rows = [_pick_starts(sc, restarts, rng) for sc in scores]
            X0 = pool[np.concatenate(rows)]
        else:
            rows = [np.arange(restarts) for _ in scores]
            X0 = np.vstack([np.vstack([witnesses[t][None, :], pool[rng.choice(len(pool), restarts - 1)]])
                            for t in range(len(scores))])
        owner = np.concatenate([np.full(len(rw), t) for t, rw in enumerate(rows)])
        with _one_thread(torch):
            Xend, vend, n = _pgd(torch, X0, lo, hi, make_objective(owner), budget, steps, lr)
        done += n
        # per target, its best end point only is re-evaluated (the expensive part for Jacobians)
        keep = np.array([np.flatnonzero(owner == t)[np.argmax(vend[owner == t])] for t in range(len(scores))])
        got, points = verify(Xend[keep], owner[keep])
        for i, t in enumerate(owner[keep]):
            if got[i] > values[t]:
                values[t], witnesses[t] = got[i], points[i]
    return values, witnesses, done


def output_ascent(f: ReLUNetwork, g: ReLUNetwork | None, lo: np.ndarray, hi: np.ndarray, starts: np.ndarray, *,
                  budget: Budget, targets: list[tuple[int, int]] | None = None, restarts: int = 8,
                  steps: int = 60, rounds: int = 1, seed: int = 0) -> AscentBounds:
    """Largest attained ``sign * (f - g)_k`` on the box ``[lo, hi]`` per target ``(k, sign)``
    (default: every output, both signs), by projected gradient ascent from ``restarts``
    points of ``starts`` per target (clipped into the box), for up to ``rounds`` rounds
    while ``budget`` lasts. ``g=None``: ``f`` alone."""
    start = time.perf_counter()
    terms = _terms(f, g)
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    pool = np.clip(np.asarray(starts, dtype=np.float64), lo, hi)
    targets = targets or [(k, s) for k in range(f.output_dim) for s in (1, -1)]
    D = _values(terms, pool)
    scores = [s * D[:, k] for k, s in targets]
    torch = None if budget.expired() else _torch()  # no import (seconds) when there is no time anyway
    if torch is None:
        return _pool_only(targets, scores, pool, start, budget)
    nets = _torch_terms(torch, terms)

    def make_objective(owner):
        ks = torch.tensor([targets[t][0] for t in owner])
        signs = torch.tensor([float(targets[t][1]) for t in owner], dtype=getattr(torch, _PRECISION))
        index = torch.arange(len(owner))

        def objective(X, progress):
            out = sum(s * _forward(torch, Ws, bs, X) for Ws, bs, s in nets)
            v = signs * out[index, ks]
            return v, v.detach()
        return objective

    def verify(X, owner):
        D = _values(terms, X)  # the real networks, float64
        return np.array([targets[t][1] * D[i, targets[t][0]] for i, t in enumerate(owner)]), X

    values, witnesses, done = _ascend(torch, terms, lo, hi, pool, scores, targets, make_objective, verify, budget,
                                      restarts, steps, rounds, 0.1, np.random.default_rng(seed))
    return _found(targets, scores, values, witnesses, done, start)


def _torch_terms(torch, terms: Terms):
    return [([torch.tensor(W, dtype=getattr(torch, _PRECISION)) for W in net.weights],
             [torch.tensor(b, dtype=getattr(torch, _PRECISION)) for b in net.biases], float(s)) for net, s in terms]


def _forward(torch, Ws, bs, X):
    H = X
    for W, b in zip(Ws[:-1], bs[:-1]):
        H = torch.relu(H @ W.T + b)
    return H @ Ws[-1].T + bs[-1]


def _jacobian_targets(terms: Terms, J: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                      n_targets: int) -> list[tuple[int, int, int]]:
    """The entries worth ascending: half the largest seen at the pool's points ``J``, half
    the largest of the bound engine's entry-wise bounds over the box (entries that could be
    large somewhere)."""
    box = Box(lo, hi)
    bound = 0.0
    for net, s in terms:
        jb = jacobian_bounds(net, bounds=layer_bounds(net, box, method="interval"))  # cheap: a ranking only
        bound = bound + np.stack([jb.upper, -jb.lower] if s > 0 else [-jb.lower, jb.upper], axis=-1)
    seen = np.stack([J.max(axis=0), (-J).max(axis=0)], axis=-1)  # (k, d, 2): sign +1, -1
    chosen: list[tuple[int, int, int]] = []
    for ranking, quota in ((seen, (n_targets + 1) // 2), (bound, n_targets)):
        for t in np.argsort(-np.asarray(ranking).ravel(), kind="stable"):
            if len(chosen) >= quota:
                break
            k, j, si = (int(i) for i in np.unravel_index(int(t), seen.shape))
            if (k, j, 1 - 2 * si) not in chosen:
                chosen.append((k, j, 1 - 2 * si))
    return chosen


def _found(targets, scores, values, witnesses, done: int, start: float) -> AscentBounds:
    method = "ascent" if done else "sampled (no time left for ascent)"
    return AscentBounds(tuple(targets), values, witnesses, np.array([sc.max() for sc in scores]), done,
                        time.perf_counter() - start, method)


def _pool_only(targets, scores, pool: np.ndarray, start: float, budget: Budget) -> AscentBounds:
    """The pool's best values when there is no ascent (no time, or no PyTorch)."""
    values = np.array([sc.max() for sc in scores])
    first = [int(np.argmax(sc)) for sc in scores]
    why = "sampled (no time left for ascent)" if budget.expired() else "sampled (PyTorch is not installed)"
    return AscentBounds(tuple(targets), values, pool[first].copy(), values.copy(), 0, time.perf_counter() - start, why)


def jacobian_ascent(f: ReLUNetwork, g: ReLUNetwork | None, lo: np.ndarray, hi: np.ndarray, starts: np.ndarray, *,
                    budget: Budget, targets: list[tuple[int, int, int]] | None = None, n_targets: int = 24,
                    restarts: int = 4, steps: int = 60, rounds: int = 1, seed: int = 0) -> AscentBounds:
    """Largest realized ``sign * d(f - g)_k / dx_j`` on the box per target ``(k, j, sign)``
    (default: ``n_targets`` entries chosen from the pool and the all-patterns bound), by
    ascent of the smoothed surrogate (module docstring), for up to ``rounds`` rounds while
    ``budget`` lasts. Each value is the Jacobian of the real networks at a witness interior
    to a linear region (a valid lower bound on the essential supremum of that entry)."""
    start = time.perf_counter()
    terms = _terms(f, g)
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    pool = np.clip(np.asarray(starts, dtype=np.float64), lo, hi)
    rng = np.random.default_rng(seed)
    cap = max(8, _JACOBIAN_ENTRIES // max(1, f.output_dim * f.input_dim))
    if len(pool) > cap:  # a random part of the pool (its Jacobians cost k * d per point)
        pool = pool[np.sort(rng.choice(len(pool), cap, replace=False))]
    J, zmin = _jacobian_diff(terms, pool)
    valid = zmin > 0  # only points interior to a linear region count
    J = np.where(valid[:, None, None], J, 0.0)
    targets = targets or _jacobian_targets(terms, J, lo, hi, n_targets)
    scores = [np.where(valid, s * J[:, k, j], -np.inf) for k, j, s in targets]
    torch = None if budget.expired() else _torch()  # no import (seconds) when there is no time anyway
    if torch is None:
        return _pool_only(targets, scores, pool, start, budget)
    nets = _torch_terms(torch, terms)
    # per term and hidden layer, the typical |pre-activation| on the pool: the temperature's unit
    with torch.no_grad():
        few = torch.tensor(pool[:32], dtype=getattr(torch, _PRECISION))
        units = [_pre_activation_scales(torch, Ws, bs, few) for Ws, bs, _ in nets]

    def make_objective(owner):
        ks = torch.tensor([targets[t][0] for t in owner])
        js = torch.tensor([targets[t][1] for t in owner])
        signs = torch.tensor([float(targets[t][2]) for t in owner], dtype=getattr(torch, _PRECISION))
        index = torch.arange(len(owner))

        def objective(X, progress):
            temp = 0.3 * (0.01 / 0.3) ** progress
            soft = hard = 0.0
            for (Ws, bs, s), unit in zip(nets, units):
                gs, gh = _gates(torch, Ws, bs, X, [temp * u for u in unit])
                soft = soft + s * _entry(Ws, gs, ks, js, index)
                with torch.no_grad():
                    hard = hard + s * _entry(Ws, gh, ks, js, index)
            return signs * soft, signs * hard
        return objective

    def verify(X, owner):
        Jb, zb = _jacobian_diff(terms, X)  # the real networks, float64
        got, points = np.full(len(owner), -np.inf), X.copy()
        for i, t in enumerate(owner):
            k, j, s = targets[t]
            Ji = Jb[i]
            if not zb[i] > 0:  # on a kink: a point very close by, interior to a region
                near = _realized_gradient(terms, X[i], lo, hi, rng)
                if near is None:
                    continue
                Ji, points[i] = near
            got[i] = s * Ji[k, j]
        return got, points

    values, witnesses, done = _ascend(torch, terms, lo, hi, pool, scores, targets, make_objective, verify, budget,
                                      restarts, steps, rounds, 0.05, rng)
    return _found(targets, scores, values, witnesses, done, start)


def _pre_activation_scales(torch, Ws, bs, X):
    """Median ``|z|`` of each hidden layer at the points ``X`` (a positive unit per layer)."""
    units, H = [], X
    for W, b in zip(Ws[:-1], bs[:-1]):
        Z = H @ W.T + b
        u = float(Z.abs().median())
        units.append(u if u > 0 else max(float(Z.abs().max()), 1e-12))
        H = torch.relu(Z)
    return units


def _gates(torch, Ws, bs, X, temps):
    """Soft gates ``sigmoid(z / t)`` (differentiable) and hard gates ``z > 0`` per hidden layer."""
    soft, hard, H = [], [], X
    for (W, b), t in zip(zip(Ws[:-1], bs[:-1]), temps):
        Z = H @ W.T + b
        soft.append(torch.sigmoid(Z / t))
        hard.append((Z > 0).to(Z.dtype))
        H = torch.relu(Z)
    return soft, hard


def _entry(Ws, gates, ks, js, index):
    """Per row ``b``: entry ``(ks[b], js[b])`` of ``W_L G_{L-1} W_{L-1} ... G_1 W_1``."""
    A = Ws[-1][ks]
    for W, G in zip(reversed(Ws[:-1]), reversed(gates)):
        A = (A * G) @ W
    return A[index, js]
