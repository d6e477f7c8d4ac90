"""Which unstable neuron a ReLU-split subdomain is split on.

Two rules, both only *choose* (any choice keeps the search sound and complete, since the
two children ``z_i >= 0`` and ``z_i <= 0`` always cover their parent):

* ``"babsr"`` — the BaBSR intercept score: the free unstable neuron with the largest
  ``|lambda_i| (-l_i u_i / (u_i - l_i))``, i.e. how much the upper relaxation of that
  neuron costs the deciding row's bound (``lambda_i``: its coefficient on ``h_i``).
* ``"fsb"`` — filtered smart branching (as in beta-CROWN): the ``k`` best neurons by the
  intercept score are *tried*: each is fixed to both signs and the two children are bounded
  by one CROWN pass (batched over the ``k`` candidates and both signs); the neuron whose
  worse child has the best bound wins. The children's bounds here are estimates used for
  the choice only; the search bounds the chosen children again, soundly and optimized.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .crown import TorchNet, objective_bound

__all__ = ["BRANCHING_RULES", "intercept_scores", "choose_babsr", "choose_fsb"]

BRANCHING_RULES = ("fsb", "babsr")


def intercept_scores(lam_rows: list, lows: list, highs: list) -> np.ndarray:
    """``(B, N)`` BaBSR scores of every neuron (all layers side by side): ``lam_rows[k]``
    ``(B, n_k)`` are the deciding row's coefficients on layer ``k``'s post-activations and
    ``lows[k]``, ``highs[k]`` ``(B, n_k)`` the pre-activation bounds of each subdomain."""
    cols = []
    for lam, l, u in zip(lam_rows, lows, highs):
        lam = np.abs(np.asarray(lam))
        l, u = np.asarray(l), np.asarray(u)
        width = np.where(u > l, u - l, 1.0)
        # the tiny |lambda| term orders neurons whose intercept is 0 (bounds touching 0)
        cols.append(lam * np.maximum(-l * u / width, 0.0) + 1e-9 * lam)
    return np.concatenate(cols, axis=1) if cols else np.zeros((0, 0))


def choose_babsr(scores: np.ndarray, free: np.ndarray) -> np.ndarray:
    """The free neuron with the largest intercept score per row (``-1``: none free)."""
    masked = np.where(free, scores, -np.inf)
    choice = np.argmax(masked, axis=1)
    choice[~free.any(axis=1)] = -1
    return choice


def choose_fsb(tnet: TorchNet, lo: Any, hi: Any, lows: list, highs: list, offsets: np.ndarray,
               scores: np.ndarray, free: np.ndarray, *, k: int = 3) -> np.ndarray:
    """Filtered smart branching: per subdomain, of the ``k`` free neurons with the largest
    intercept scores, the one whose children's smaller CROWN bound (of ``max_j phi_j``) is
    largest; ties and rows with fewer candidates fall back to the intercept order.

    ``lo``, ``hi`` ``(B, d)`` and ``lows``, ``highs`` (per layer ``(B, n_k)``) are torch
    tensors of the subdomains (split neurons already tightened); ``offsets`` the first
    flat index of every layer."""
    import torch

    B = scores.shape[0]
    masked = np.where(free, scores, -np.inf)
    kk = int(min(k, masked.shape[1]))
    if kk == 0:
        return np.full(B, -1)
    top = np.argsort(-masked, axis=1, kind="stable")[:, :kk]  # (B, kk) flat indices, best first
    valid = np.isfinite(np.take_along_axis(masked, top, axis=1))
    value = np.full((B, kk), -np.inf)
    rows = np.arange(B)
    layer_of = np.searchsorted(offsets, top, side="right") - 1
    with torch.no_grad():
        for c in range(kk):
            if not valid[:, c].any():
                continue
            # both children of every subdomain for candidate c: the first B rows fix it
            # active (l = 0), the next B inactive (u = 0)
            L = [torch.cat([l, l]) for l in lows]
            U = [torch.cat([u, u]) for u in highs]
            for kl in np.unique(layer_of[valid[:, c], c]):
                sel = np.nonzero(valid[:, c] & (layer_of[:, c] == kl))[0]
                i = torch.from_numpy(top[sel, c] - offsets[kl])
                s = torch.from_numpy(sel)
                L[kl][s, i] = L[kl][s, i].clamp(min=0.0)
                U[kl][s + B, i] = U[kl][s + B, i].clamp(max=0.0)
            est = objective_bound(tnet, torch.cat([lo, lo]), torch.cat([hi, hi]), L, U)
            both = est.lower.max(dim=1).values.numpy()
            value[:, c] = np.minimum(both[:B], both[B:])
    value = np.where(valid, value, -np.inf)
    # the first (highest-scored) candidate wins ties, so equal estimates give BaBSR's choice
    best = np.argmax(value, axis=1)
    choice = top[rows, best]
    choice[~free.any(axis=1)] = -1
    return choice
