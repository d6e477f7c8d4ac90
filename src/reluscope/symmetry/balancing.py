"""Balancing: the representative of the positive-rescaling orbit of a network with the
smallest squared parameter norm (dangling neurons handled explicitly)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._results import ResultMixin
from .._validation import check_int, check_network, check_tol
from ..network import ReLUNetwork
from .actions import FloatArray, _lists

__all__ = ["Balancing", "balance_result", "balance"]


@dataclass(frozen=True)
class Balancing(ResultMixin):
    """Result of :func:`balance_result`.

    Attributes
    ----------
    network:
        The balanced network (same realization everywhere as the input).
    scales:
        One array per hidden layer (1-based layer ``l`` is ``scales[l - 1]``): the factors
        such that ``network`` equals the input rescaled by them, after the dangling weights
        of ``zeroed`` neurons were set to zero. Zeroed neurons get factor 1.
    zeroed:
        ``(layer, neuron, reason)`` for each neuron whose incoming row and bias were all zero
        (``"zero incoming"``: its outgoing column was set to zero) or whose outgoing column
        was zero (``"zero outgoing"``: its incoming row and bias were set to zero). Both edits
        leave the realization unchanged everywhere; they are repeated until no new neuron
        qualifies (``"cascade"`` entries are neurons that became dangling that way).
    iterations:
        Number of alternating sweeps performed.
    residual:
        ``max |log(||out_i|| / ||in_i||)| / 2`` over the remaining neurons at the end (0 at
        the exact optimum): the log of the largest rescaling factor still improving the norm.
    converged:
        ``residual <= tol``.
    tol:
        The requested tolerance.
    norm_before, norm_after:
        Squared Euclidean parameter norm before and after.
    """

    network: ReLUNetwork
    scales: tuple[FloatArray, ...]
    zeroed: tuple[tuple[int, int, str], ...]
    iterations: int
    residual: float
    converged: bool
    tol: float
    norm_before: float
    norm_after: float

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["network"] = {"widths": list(self.network.widths)}
        return d

    def __str__(self) -> str:
        status = "converged" if self.converged else "NOT converged"
        return (
            f"Balancing of widths {self.network.widths}: {status} after {self.iterations} sweeps "
            f"(residual {self.residual:.2e}, tol {self.tol:.0e}); squared norm "
            f"{self.norm_before:.6g} -> {self.norm_after:.6g}; {len(self.zeroed)} dangling neuron(s) zeroed"
        )


def _zero_dangling(ws: list[np.ndarray], bs: list[np.ndarray], n_hidden: int) -> list[tuple[int, int, str]]:
    """Zero the dangling weights of neurons with zero in-row (+bias) or zero out-column, in place,
    until a fixed point. Returns the list of zeroed neurons."""
    zeroed: list[tuple[int, int, str]] = []
    done: set[tuple[int, int]] = set()
    originally = {
        h: ~(ws[h - 1].any(axis=1) | (bs[h - 1] != 0)) | ~ws[h].any(axis=0) for h in range(1, n_hidden + 1)
    }
    changed = True
    while changed:
        changed = False
        for h in range(1, n_hidden + 1):
            zin = ~(ws[h - 1].any(axis=1) | (bs[h - 1] != 0))
            zout = ~ws[h].any(axis=0)
            for i in np.flatnonzero(zin | zout):
                key = (h, int(i))
                if key in done:
                    continue
                done.add(key)
                reason = "zero incoming" if zin[i] else "zero outgoing"
                if not originally[h][i]:
                    reason = "cascade: " + reason
                zeroed.append((h, int(i), reason))
                ws[h - 1][i, :] = 0.0
                bs[h - 1][i] = 0.0
                ws[h][:, i] = 0.0
                changed = True
    return zeroed


def _coarse_shift(S: list[np.ndarray], bsq: list[np.ndarray], s: list[np.ndarray], live: list[np.ndarray]) -> None:
    """Add to the log-scales of every hidden layer ``l`` the constant ``c_l`` minimizing the
    squared norm over such layer-wide shifts (in place).

    With ``Q_l`` the current squared mass of weight matrix ``l`` and ``β_l`` of bias ``l``,
    the norm after the shift is ``Σ_l Q_l exp(2(c_l - c_{l-1})) + Σ_l β_l exp(2 c_l)``
    (``c_0 = c_L = 0``): a smooth strictly convex function of ``c`` minimized by SciPy's
    ``trust-exact`` method with its exact gradient and tridiagonal Hessian.
    """
    from scipy.optimize import minimize

    n_hidden = len(s)
    Q = np.empty(n_hidden + 1)
    B = np.empty(n_hidden)
    for l in range(1, n_hidden + 2):
        eo = np.exp(2.0 * s[l - 1]) if l <= n_hidden else None
        ei = np.exp(-2.0 * s[l - 2]) if l >= 2 else None
        col = S[l - 1] @ ei if ei is not None else S[l - 1].sum(axis=1)
        Q[l - 1] = eo @ col if eo is not None else col.sum()
        if l <= n_hidden:
            B[l - 1] = eo @ bsq[l - 1]
    scale = Q.sum() + B.sum()
    if scale <= 0:
        return
    Q /= scale
    B /= scale

    def parts(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cc = np.concatenate([[0.0], c, [0.0]])
        return Q * np.exp(2.0 * (cc[1:] - cc[:-1])), B * np.exp(2.0 * c)

    def fun(c: np.ndarray) -> float:
        q, b = parts(c)
        return float(q.sum() + b.sum())

    def jac(c: np.ndarray) -> np.ndarray:
        q, b = parts(c)
        return 2.0 * (q[:-1] - q[1:]) + 2.0 * b

    def hess(c: np.ndarray) -> np.ndarray:
        q, b = parts(c)
        off = -4.0 * q[1:-1]
        return np.diag(4.0 * (q[:-1] + q[1:]) + 4.0 * b) + np.diag(off, 1) + np.diag(off, -1)

    res = minimize(fun, np.zeros(n_hidden), jac=jac, hess=hess, method="trust-exact", options={"gtol": 1e-10})
    if np.all(np.isfinite(res.x)) and fun(res.x) <= fun(np.zeros(n_hidden)):
        for h in range(n_hidden):
            s[h][live[h]] += res.x[h]


def _balance_scales(
    ws: Sequence[np.ndarray], bs: Sequence[np.ndarray], tol: float, max_iter: int,
    coarse_min_params: int = 1_500_000,
) -> tuple[list[np.ndarray], int, float]:
    """Alternating exact block minimization of ``||Θ||_2^2`` over log-scales.

    Hidden layers are updated one after the other (forward then backward sweep); given its
    neighbouring layers, the optimal log-scale of neuron ``i`` is
    ``s_i = (log T_out_i - log T_in_i) / 4`` with ``T_in`` / ``T_out`` its squared in/out
    norms with its own scale removed. Neurons with zero in or out norm (already zeroed) keep
    scale 1. Returns (log-scales, sweeps, residual).
    """
    n_hidden = len(ws) - 1
    S = [w * w for w in ws]
    bsq = [b * b for b in bs]
    s = [np.zeros(ws[h].shape[1]) for h in range(1, n_hidden + 1)]  # s[h-1] for hidden layer h
    live = [(S[h - 1].sum(axis=1) + bsq[h - 1] > 0) & (S[h].sum(axis=0) > 0) for h in range(1, n_hidden + 1)]

    def t_in_out(h: int) -> tuple[np.ndarray, np.ndarray]:
        e_prev = np.exp(-2.0 * s[h - 2]) if h >= 2 else None
        e_next = np.exp(2.0 * s[h]) if h <= n_hidden - 1 else None
        t_in = (S[h - 1] @ e_prev if e_prev is not None else S[h - 1].sum(axis=1)) + bsq[h - 1]
        t_out = e_next @ S[h] if e_next is not None else S[h].sum(axis=0)
        return t_in, t_out

    def residual() -> float:
        r = 0.0
        for h in range(1, n_hidden + 1):
            lv = live[h - 1]
            if not lv.any():
                continue
            t_in, t_out = t_in_out(h)
            step = 0.25 * (np.log(t_out[lv]) - np.log(t_in[lv])) - s[h - 1][lv]
            r = max(r, float(np.max(np.abs(step))))
        return r

    order = list(range(1, n_hidden + 1)) + list(range(n_hidden - 1, 1, -1))
    sweeps = 0
    res = residual()
    # the slow modes of the alternating updates are layer-wide shifts of the log-scales; for
    # large networks (where a sweep is expensive) each sweep starts with the optimal shift
    coarse = n_hidden >= 2 and sum(w.size for w in ws) >= coarse_min_params
    while res > tol and sweeps < max_iter:
        if coarse:
            _coarse_shift(S, bsq, s, live)
        step = 0.0
        for h in order:
            lv = live[h - 1]
            if not lv.any():
                continue
            t_in, t_out = t_in_out(h)
            new = 0.25 * (np.log(t_out[lv]) - np.log(t_in[lv]))
            step = max(step, float(np.max(np.abs(new - s[h - 1][lv]))))
            s[h - 1][lv] = new
        sweeps += 1
        if step <= tol or sweeps == max_iter:  # the exact residual is only checked near the end
            res = residual()
    return [np.exp(x) for x in s], sweeps, res


def balance_result(net: ReLUNetwork, *, tol: float = 1e-12, max_iter: int = 10_000) -> Balancing:
    """Balance a network and report the scales and the dangling neurons handled explicitly.

    The balanced network minimizes the squared Euclidean parameter norm ``||Θ||_2^2`` over
    the positive-rescaling orbit of the network. First, neurons with an all-zero incoming
    row and bias (they output 0 everywhere) get their outgoing column zeroed, and neurons with
    an all-zero outgoing column get their incoming row and bias zeroed, until no such neuron
    is left (a *cascade*); this never changes the realization. On the remaining neurons every
    one has nonzero in- and out-weights, so the problem is strictly convex and coercive in the
    log-scales and has a unique minimizer; it is found by alternating exact block updates
    (each neuron's optimal factor given the others is ``(||out|| / ||in||)^{1/2}``, ``in``
    including the bias), stopped when no single factor changes the log-scale by more than
    ``tol``. At the optimum every remaining neuron satisfies ``||(a_i, b_i)||_2 = ||c_i||_2``.

    Parameters
    ----------
    net:
        The network (not modified).
    tol:
        Stopping tolerance on the residual ``max_i |log(||out_i||/||in_i||)| / 2``.
    max_iter:
        Maximum number of sweeps over the hidden layers.

    Returns
    -------
    Balancing
        With ``network``, ``scales``, ``zeroed``, ``iterations``, ``residual``, ``converged``.
    """
    net = check_network(net)
    tol = check_tol(tol, "tol", positive=True)
    max_iter = check_int(max_iter, "max_iter", minimum=0)
    n_hidden = net.depth - 1
    norm_before = float(sum(np.sum(w * w) + np.sum(b * b) for w, b in net.layers()))
    if n_hidden == 0:
        return Balancing(net, (), (), 0, 0.0, True, tol, norm_before, norm_before)
    ws, bs, ms = _lists(net)
    zeroed = _zero_dangling(ws, bs, n_hidden)
    scales, sweeps, res = _balance_scales(ws, bs, tol, max_iter)
    for h in range(1, n_hidden + 1):
        f = scales[h - 1]
        ws[h - 1] = ws[h - 1] * f[:, None]
        bs[h - 1] = bs[h - 1] * f
        ws[h] = ws[h] / f[None, :]
    out = ReLUNetwork(ws, bs, ms)
    norm_after = float(sum(np.sum(w * w) + np.sum(b * b) for w, b in out.layers()))
    for f in scales:
        f.setflags(write=False)
    return Balancing(out, tuple(scales), tuple(zeroed), sweeps, res, res <= tol, tol, norm_before, norm_after)


def balance(net: ReLUNetwork, *, tol: float = 1e-12, max_iter: int = 10_000) -> ReLUNetwork:
    """The balanced representative of the positive-rescaling orbit of ``net``.

    Shortcut for ``balance_result(net, tol=tol, max_iter=max_iter).network``; see :func:`balance_result`
    for the method, the handling of neurons with zero incoming or outgoing weights, and the
    scales.

    Parameters
    ----------
    net:
        The network (not modified).
    tol:
        Stopping tolerance on the largest remaining optimal log-rescaling.
    max_iter:
        Maximum number of sweeps.

    Returns
    -------
    ReLUNetwork
        Same realization everywhere; minimal squared parameter norm over the orbit.

    Examples
    --------
    >>> import numpy as np, reluscope as rs
    >>> net = rs.ReLUNetwork([np.array([[4.0]]), np.array([[1.0]])], [np.array([0.0]), np.array([0.0])])
    >>> rs.balance(net).weights[0].item(), rs.balance(net).weights[1].item()
    (2.0, 2.0)
    """
    return balance_result(net, tol=tol, max_iter=max_iter).network
