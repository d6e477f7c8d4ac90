"""Matching the hidden neurons of two networks layer by layer (sorted keys verified
entrywise, else optimal assignment, then coordinate-descent refinement), and the
permutation-invariant neuron keys shared with the canonical order."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..network import ReLUNetwork

_KEY_SEED = 20231  # fixed: the canonical order must not depend on anything but the weights


def _key_vector(n: int) -> np.ndarray:
    v = np.random.default_rng(_KEY_SEED).standard_normal(n)
    return v / np.linalg.norm(v)


def _out_features(col_block: np.ndarray) -> np.ndarray:
    """Permutation-invariant features of the outgoing columns (one row per neuron)."""
    # norm, max and min are computed with small *relative* rounding error (unlike a sum,
    # which can cancel), so they can be compared entrywise with a relative tolerance
    return np.stack(
        [np.sqrt(np.einsum("ij,ij->j", col_block, col_block)), col_block.max(axis=0), col_block.min(axis=0)],
        axis=1,
    )


def _descriptors(w_in: np.ndarray, b_in: np.ndarray, w_out: np.ndarray, out_is_final: bool) -> np.ndarray:
    """Descriptor of each neuron: its incoming row and bias, plus the outgoing column when the
    next layer's order is fixed (output layer) or permutation-invariant features of it."""
    out = w_out.T if out_is_final else _out_features(w_out)
    return np.concatenate([w_in, b_in[:, None], out], axis=1)


def _sq_dist(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    d = (X * X).sum(axis=1)[:, None] + (Y * Y).sum(axis=1)[None, :] - 2.0 * (X @ Y.T)
    np.maximum(d, 0.0, out=d)
    return d


def _max_rel_dev(X: np.ndarray, Y: np.ndarray) -> float:
    """``max |X - Y| / max(|X|, |Y|)`` entrywise (0 where both entries are 0)."""
    if X.size == 0:
        return 0.0
    diff = np.subtract(X, Y)
    np.abs(diff, out=diff)
    den = np.abs(X)
    np.maximum(den, np.abs(Y), out=den)
    den += 1e-300  # both entries 0 -> diff 0 -> ratio 0
    np.divide(diff, den, out=diff)
    return float(diff.max())


def _layer_perms(
    wa: Sequence[np.ndarray], ba: Sequence[np.ndarray], wb: Sequence[np.ndarray], bb: Sequence[np.ndarray],
    tol: float, return_checks: bool = False,
):
    """Forward pass: for each hidden layer, match b's neurons to a's given the previous layer's
    permutation (both networks in the same rescaling gauge).

    Fast path: sort a fixed random projection of the incoming rows and biases (computed
    without permuting b's columns), and accept the candidate only if every incoming row and
    bias agrees entrywise to the relative ``tol`` (and no two keys of ``a`` nearly tie).
    Otherwise: optimal assignment on full descriptors (incoming row, bias and outgoing
    features). With ``return_checks`` also returns, per layer, the verified entrywise
    relative deviation of the incoming rows and biases (``None`` if not verified here)."""
    n_hidden = len(wa) - 1
    perms: list[np.ndarray] = []
    methods: list[str] = []
    checks: list[float | None] = []
    prev = None
    for h in range(1, n_hidden + 1):
        A, a_b, B, b_b = wa[h - 1], ba[h - 1], wb[h - 1], bb[h - 1]
        n, d_in = A.shape
        v = _key_vector(d_in + 1)
        ka = A @ v[:-1] + a_b * v[-1]
        if prev is None:
            kb = B @ v[:-1] + b_b * v[-1]
        else:
            vu = np.empty(d_in)
            vu[prev] = v[:-1]
            kb = B @ vu + b_b * v[-1]
        oa, ob = np.argsort(ka, kind="stable"), np.argsort(kb, kind="stable")
        p = np.empty(n, dtype=np.intp)
        p[oa] = ob
        sk = ka[oa]
        gap_ok = n == 1 or bool(np.min(np.diff(sk)) > 1e-9 * max(float(np.max(np.abs(sk))), 1e-300))
        method, dev = "assignment", None
        if gap_ok:
            Bp = B[p] if prev is None else B[np.ix_(p, prev)]
            dev = max(_max_rel_dev(A, Bp), _max_rel_dev(a_b, b_b[p]))
            if dev <= tol:
                method = "sort"
            else:
                dev = None
        if method != "sort":
            final = h == n_hidden
            B_in = B if prev is None else B[:, prev]
            X = _descriptors(A, a_b, wa[h], final)
            Y = _descriptors(B_in, b_b, wb[h], final)
            rows, cols = linear_sum_assignment(_sq_dist(X, Y))
            p = np.empty(n, dtype=np.intp)
            p[rows] = cols
        perms.append(p)
        methods.append(method)
        checks.append(dev)
        prev = p
    if return_checks:
        return perms, methods, checks
    return perms, methods


def _refine(A: ReLUNetwork, B: ReLUNetwork, perms: list[np.ndarray], methods: list[str], sweeps: int) -> None:
    """Coordinate-descent refinement of the permutations maximizing the inner product of the
    parameter vectors of A and permuted B (in place)."""
    n_hidden = A.depth - 1
    for _ in range(sweeps):
        changed = False
        for h in range(1, n_hidden + 1):
            wa_in, wb_in = A.weights[h - 1], B.weights[h - 1]
            if h >= 2:
                wb_in = wb_in[:, perms[h - 2]]
            wa_out, wb_out = A.weights[h], B.weights[h]
            if h <= n_hidden - 1:
                wb_out = wb_out[perms[h], :]
            sim = wa_in @ wb_in.T + np.outer(A.biases[h - 1], B.biases[h - 1]) + wa_out.T @ wb_out
            rows, cols = linear_sum_assignment(sim, maximize=True)
            p = np.empty_like(perms[h - 1])
            p[rows] = cols
            old = perms[h - 1]
            if not np.array_equal(p, old) and sim[np.arange(p.size), p].sum() > sim[np.arange(p.size), old].sum() * (1 + 1e-12):
                perms[h - 1] = p
                methods[h - 1] = "refined"
                changed = True
        if not changed:
            break
