"""Lower bounds with witnesses: sampling, box vertices and local ascent over affine pieces
(an LP on the current linear region, then a step into a neighbouring one), and the
gradient realized on an open linear region. Every value is the real networks' at a point."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from .._budget import Budget
from ..domain import Box
from .pointwise import Terms, _jacobian_diff, _region_affine, _values

__all__: list[str] = []


def _region_lp(terms: Terms, x: np.ndarray, objective: np.ndarray, lo: np.ndarray,
               hi: np.ndarray) -> np.ndarray | None:
    """Maximize ``objective · y`` over the intersection of the linear regions (of every
    network in ``terms``) containing ``x``, within the box. Returns the maximizer."""
    A_list, b_list = [], []
    for net, _ in terms:
        A, c, s = _region_affine(net, x)
        if A.shape[0]:
            # s (A y + c) >= 0  <=>  -s A y <= s c
            A_list.append(-s[:, None] * A)
            b_list.append(s * c)
    A_ub = np.vstack(A_list) if A_list else None
    b_ub = np.concatenate(b_list) if b_list else None
    try:
        res = linprog(-objective, A_ub=A_ub, b_ub=b_ub, bounds=list(zip(lo, hi)), method="highs")
    except ValueError:
        return None
    if res.status != 0 or res.x is None:
        return None
    return np.clip(res.x, lo, hi)


def _local_ascent(terms: Terms, x0: np.ndarray, k: int, sign: float, lo: np.ndarray, hi: np.ndarray,
                  rng: np.random.Generator, budget: Budget, max_iter: int = 30) -> tuple[np.ndarray, float]:
    """Ascent over affine pieces: maximize ``sign (f - g)_k`` on the current linear region by
    an LP, step into a neighbouring region, repeat until no improvement or out of ``budget``."""
    x = x0.copy()
    val = float(sign * _values(terms, x[None, :])[0, k])
    scale = float(np.max(hi - lo))
    for _ in range(max_iter):
        if budget.expired():
            break
        J, _ = _jacobian_diff(terms, x[None, :])
        grad = sign * J[0, k]
        y = _region_lp(terms, x, grad, lo, hi)
        if y is None:
            break
        vy = float(sign * _values(terms, y[None, :])[0, k])
        # step across the boundary reached: candidates around y
        cands = [y]
        for eps in (1e-6, 1e-4):
            cands.append(np.clip(y + eps * scale * np.sign(grad), lo, hi))
            for _r in range(2):
                cands.append(np.clip(y + eps * scale * rng.standard_normal(y.size), lo, hi))
        C = np.array(cands)
        vals = sign * _values(terms, C)[:, k]
        best = int(np.argmax(vals))
        if vals[best] <= val + 1e-12 * max(1.0, abs(val)):
            if vy > val:
                x, val = y, vy
            break
        x, val = C[best], float(vals[best])
    return x, val


@dataclass
class _Best:
    """The best lower bound so far: a value attained by the real networks at ``witness``."""

    value: float = -math.inf
    witness: np.ndarray | None = None
    component: tuple[int, ...] | None = None

    def offer(self, value: float, x: np.ndarray, component: tuple[int, ...]) -> None:
        if value > self.value:
            self.value, self.witness, self.component = float(value), np.array(x, dtype=np.float64), component


def _sup_candidates(terms: Terms, lo: np.ndarray, hi: np.ndarray, n_samples: int, seed: int,
                    ascent_starts: int, budget: Budget, best: _Best) -> np.ndarray:
    """Sample random points, box vertices (small d) and run local ascent from the best ones.
    Updates ``best``; returns the best sampled value of ``sign (f-g)_k`` per (k, sign)."""
    rng = np.random.default_rng(seed)
    d = lo.size
    box = Box(lo, hi)
    pts = [((lo + hi) / 2)[None, :]]
    if d <= 10:
        pts.append(box.vertices(d, max_vertices=1024))
    pts = [np.vstack(pts)]
    vals = [_values(terms, pts[0])]
    # random points in chunks, each evaluated before the next is drawn, so that a short
    # budget ends the sampling (wide inputs are costly)
    chunk = max(1, min(n_samples, 2_000_000 // max(d, 1)))
    drawn = 0
    while drawn < n_samples and not budget.expired():
        m = min(chunk, n_samples - drawn)
        pts.append(box.sample(m, d, seed=rng))
        vals.append(_values(terms, pts[-1]))
        drawn += m
    X = np.vstack(pts)
    D = np.vstack(vals)  # (n, k)
    k = D.shape[1]
    per_target = np.empty((k, 2))
    for kk in range(k):
        for si, s in enumerate((1.0, -1.0)):
            v = s * D[:, kk]
            i = int(np.argmax(v))
            per_target[kk, si] = v[i]
            best.offer(abs(D[i, kk]), X[i], (kk,))
    # local ascent from the best starting points of each target
    order = np.argsort(-per_target.ravel())
    for t in order:
        kk, si = divmod(int(t), 2)
        s = 1.0 if si == 0 else -1.0
        v = s * D[:, kk]
        starts = np.argsort(-v)[:ascent_starts]
        for i in starts:
            if budget.expired():
                return per_target
            x, val = _local_ascent(terms, X[i], kk, s, lo, hi, rng, budget)
            per_target[kk, si] = max(per_target[kk, si], val)
            real = _values(terms, x[None, :])[0]
            kbest = int(np.argmax(np.abs(real)))
            best.offer(abs(real[kbest]), x, (kbest,))
    return per_target


def _realized_gradient(terms: Terms, x: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
    """Jacobian of ``f - g`` on the open linear region containing ``x`` (or a point very
    close to it): requires every hidden pre-activation to be nonzero at the point used."""
    cands = [x] + [np.clip(x + 1e-9 * (hi - lo) * rng.standard_normal(x.size), lo, hi) for _ in range(8)]
    C = np.array(cands)
    J, zmin = _jacobian_diff(terms, C)
    for i in range(len(cands)):
        if zmin[i] > 0:
            return J[i], C[i]
    return None


def _offer_realized_gradient(terms: Terms, x: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                             rng: np.random.Generator, best: _Best) -> None:
    """Offer ``best`` the largest Jacobian entry realized on the open region at ``x`` (if any)."""
    got = _realized_gradient(terms, x, lo, hi, rng)
    if got is not None:
        Jd, pt = got
        A = np.abs(Jd)
        k2, j2 = np.unravel_index(int(np.argmax(A)), A.shape)
        best.offer(float(A[k2, j2]), pt, (int(k2), int(j2)))
