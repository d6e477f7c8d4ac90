"""Optimized lower ReLU slopes for the linear tier (alpha-CROWN style).

Any lower slope ``alpha`` in ``[0, 1]`` of an unstable neuron gives a valid lower linear
relaxation ``alpha z <= relu(z)``, so the backward-substituted bound is sound for *every*
choice of slopes; the choice only changes how tight it is. Here the slopes are chosen by a
few projected Adam steps on the bound itself (PyTorch autograd, float64), separately for
the lower and the upper bounds of each layer in turn (the layers below already optimized;
the search's ``alpha_crown_bounds`` instead optimizes all of them jointly for an objective).
The optimizer only *proposes* slopes: the
caller recomputes the bound with them in NumPy with the rigorous rounding pad and
intersects it with the default bound, so the result is sound and never looser.
"""

from __future__ import annotations

import numpy as np

__all__ = ["optimize_slopes"]


def optimize_slopes(weights: list[np.ndarray], biases: list[np.ndarray], layer: int,
                    lo_x: np.ndarray, hi_x: np.ndarray,
                    relax: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
                    sign: float, steps: int = 20, lr: float = 0.1) -> list[np.ndarray]:
    """Lower slopes (per hidden layer below ``layer``, an array of shape
    ``(outputs of layer, neurons of that hidden layer)``: one set per bound) that tighten the bound of
    affine layer ``layer`` on the box: ``sign=-1`` raises the sum of its lower bounds,
    ``sign=+1`` lowers the sum of its upper bounds.

    ``relax[k] = (slope_l, slope_u, icpt_u, unstable)`` of hidden layer ``k`` (the default
    relaxation: ``slope_l`` is the starting point; stable neurons keep their slope).
    """
    import torch

    dt = torch.float64

    def tensor(a: np.ndarray, dtype=dt) -> torch.Tensor:
        # a copy: the network's arrays are read-only views and must never be shared with autograd
        return torch.tensor(np.array(a, copy=True), dtype=dtype)

    W = [tensor(w) for w in weights[: layer + 1]]
    b = [tensor(v) for v in biases[: layer + 1]]
    lo, hi = tensor(lo_x), tensor(hi_x)
    fixed = [(tensor(sl), tensor(su), tensor(iu), tensor(un, torch.bool)) for sl, su, iu, un in relax]
    n_out = W[layer].shape[0]
    # one set of slopes per output row: each bound gets its own relaxation
    alphas = [f[0][None, :].repeat(n_out, 1).requires_grad_(True) for f in fixed]
    opt = torch.optim.Adam(alphas, lr=lr)

    def bound() -> torch.Tensor:
        Lam, const = W[layer], b[layer]
        for k in range(layer - 1, -1, -1):
            slope_l0, slope_u, icpt_u, unstable = fixed[k]
            slope_l = torch.where(unstable[None, :], alphas[k], slope_l0[None, :])
            upper_side = sign * Lam > 0
            const = const + torch.where(upper_side, Lam, torch.zeros_like(Lam)) @ icpt_u
            Lam = Lam * torch.where(upper_side, slope_u[None, :], slope_l)
            const = const + Lam @ b[k]
            Lam = Lam @ W[k]
        Lp, Ln = Lam.clamp(min=0.0), Lam.clamp(max=0.0)
        if sign > 0:
            return const + Lp @ hi + Ln @ lo
        return const + Lp @ lo + Ln @ hi

    for _ in range(steps):
        opt.zero_grad()
        # minimize the upper bounds / maximize the lower bounds
        objective = bound().sum() if sign > 0 else -bound().sum()
        objective.backward()
        opt.step()
        with torch.no_grad():
            for a in alphas:
                a.clamp_(0.0, 1.0)
    return [a.detach().numpy().copy() for a in alphas]
