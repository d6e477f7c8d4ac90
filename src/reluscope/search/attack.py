"""Attacks: points with a small objective ``max_j phi_j``, for upper bounds and
counterexamples.

:func:`pgd_minimize` runs projected gradient descent with random restarts inside many boxes
at once (PyTorch autograd, float64); :func:`sample_boxes` is the gradient-free fallback.
Both only *propose* points: the branch-and-bound loop evaluates every proposal on the real
network(s) in float64 before it counts.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .._budget import Budget

__all__ = ["pgd_minimize", "sample_boxes"]


def sample_boxes(lo: np.ndarray, hi: np.ndarray, per_box: int, rng: np.random.Generator) -> np.ndarray:
    """``per_box`` uniform points in each box (rows of ``lo``/``hi``) plus the centres."""
    lo, hi = np.atleast_2d(lo), np.atleast_2d(hi)
    centre = 0.5 * (lo + hi)
    if per_box <= 0:
        return centre
    U = rng.random((lo.shape[0], per_box, lo.shape[1]))
    pts = lo[:, None, :] + (hi - lo)[:, None, :] * U
    return np.concatenate([centre, pts.reshape(-1, lo.shape[1])])


def pgd_minimize(objective: Callable, lo: np.ndarray, hi: np.ndarray, *, restarts: int = 4,
                 steps: int = 30, rng: np.random.Generator, budget: Budget | None = None,
                 max_points: int = 4096) -> np.ndarray:
    """Projected gradient descent on ``max_j objective(x)_j`` inside each box.

    ``objective`` maps a torch tensor ``(n, d)`` to ``(n, m)``. Starts: the centre and
    ``restarts - 1`` uniform points per box (at most ``max_points`` in all). Steps are
    signed gradients scaled by the box width, shrinking geometrically; the best iterate of
    every start is returned (shape ``(n_starts, d)``).
    """
    import torch

    lo, hi = np.atleast_2d(lo), np.atleast_2d(hi)
    n_box = max(1, min(lo.shape[0], max_points // max(restarts, 1)))
    lo, hi = lo[:n_box], hi[:n_box]
    X0 = sample_boxes(lo, hi, max(restarts - 1, 0), rng)
    LO = np.concatenate([lo, np.repeat(lo, max(restarts - 1, 0), axis=0)])
    HI = np.concatenate([hi, np.repeat(hi, max(restarts - 1, 0), axis=0)])
    lo_t, hi_t = torch.from_numpy(LO), torch.from_numpy(HI)
    width = hi_t - lo_t
    x = torch.from_numpy(X0.copy()).requires_grad_(True)
    best_x = x.detach().clone()
    best_v = torch.full((x.shape[0],), float("inf"), dtype=torch.float64)
    step = 0.25
    for _ in range(steps):
        if budget is not None and budget.expired():
            break
        val = objective(x).max(dim=1).values
        with torch.no_grad():
            better = val < best_v
            best_v = torch.where(better, val, best_v)
            best_x[better] = x[better]
        (grad,) = torch.autograd.grad(val.sum(), x)
        with torch.no_grad():
            x = torch.minimum(torch.maximum(x - step * width * grad.sign(), lo_t), hi_t)
        x.requires_grad_(True)
        step *= 0.85
    with torch.no_grad():
        val = objective(x).max(dim=1).values
        better = val < best_v
        best_x[better] = x[better]
    return best_x.detach().numpy().copy()
