"""Symmetries of ReLU parametrizations: rescaling, permutation, balancing, canonical forms,
alignment and exact equivalence.

Layer indexing
--------------
Everywhere in this module ``layer`` is the **1-based index of a hidden layer**: hidden
layer ``l`` (``1 <= l <= net.depth - 1``) is the output of ``net.weights[l - 1]`` and the
input of ``net.weights[l]``. (This matches the math notes, where ``A_l`` is the ``l``-th
weight matrix.)

The two symmetries
------------------
* rescaling neuron ``i`` of hidden layer ``l`` by ``λ > 0`` multiplies row ``i`` of
  ``A_l`` and ``b_l[i]`` by ``λ`` and column ``i`` of ``A_{l+1}`` by ``1/λ``;
* permuting hidden layer ``l`` by ``perm`` makes new neuron ``j`` the old neuron
  ``perm[j]`` (rows of ``A_l``, entries of ``b_l``, columns of ``A_{l+1}``).

Both leave the realization unchanged everywhere (see ``docs/background/symmetries.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import linear_sum_assignment

from .._results import ResultMixin
from ..errors import InvalidNetwork
from ..network import ReLUNetwork
from .parameter_distance import ParameterDistance, parameter_distance

__all__ = [
    "rescale",
    "permute",
    "balance",
    "balance_result",
    "Balancing",
    "canonical_form",
    "align",
    "Alignment",
    "equivalent",
    "Equivalence",
    "apply_alignment",
    "ParameterDistance",
    "parameter_distance",
]

FloatArray = NDArray[np.float64]


# ----------------------------------------------------------------------------- helpers
def _check_network(net: Any, what: str = "net") -> ReLUNetwork:
    if not isinstance(net, ReLUNetwork):
        raise InvalidNetwork(f"{what} must be a ReLUNetwork; got {type(net).__name__}")
    return net


def _check_layer(net: ReLUNetwork, layer: Any) -> int:
    n_hidden = net.depth - 1
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
        raise InvalidNetwork(f"hidden layer index must be an integer; got {layer!r}")
    layer = int(layer)
    if n_hidden == 0:
        raise InvalidNetwork(f"network with widths {net.widths} has no hidden layer (layer {layer} requested)")
    if not 1 <= layer <= n_hidden:
        raise InvalidNetwork(
            f"hidden layer index {layer} out of range: use 1..{n_hidden} (1-based) for widths {net.widths}"
        )
    return layer


def _check_factors(net: ReLUNetwork, layer: int, factors: ArrayLike) -> FloatArray:
    n = net.widths[layer]
    try:
        f = np.array(factors, dtype=np.float64, copy=True)
    except (TypeError, ValueError):
        raise InvalidNetwork(f"rescaling factors for hidden layer {layer} are not numeric: {factors!r}") from None
    if f.ndim == 0:
        f = np.full(n, float(f))
    if f.shape != (n,):
        raise InvalidNetwork(
            f"rescaling factors for hidden layer {layer} must have shape ({n},) or be a scalar; got {f.shape}"
        )
    bad = ~(np.isfinite(f) & (f > 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise InvalidNetwork(
            f"rescaling factors must be finite and > 0; hidden layer {layer} neuron {i} has factor {f[i]}"
        )
    return f


def _check_perm(net: ReLUNetwork, layer: int, perm: ArrayLike) -> NDArray[np.intp]:
    n = net.widths[layer]
    try:
        p = np.array(perm, copy=True)
    except (TypeError, ValueError):
        raise InvalidNetwork(f"permutation for hidden layer {layer} is not an array: {perm!r}") from None
    if p.shape != (n,):
        raise InvalidNetwork(f"permutation for hidden layer {layer} must have shape ({n},); got {p.shape}")
    if p.dtype.kind == "f":
        if not np.all(np.isfinite(p)) or not np.all(p == np.round(p)):
            raise InvalidNetwork(f"permutation for hidden layer {layer} must contain integers; got {p.tolist()}")
        p = p.astype(np.intp)
    elif p.dtype.kind not in "iu":
        raise InvalidNetwork(f"permutation for hidden layer {layer} must contain integers; got dtype {p.dtype}")
    p = p.astype(np.intp)
    if not np.array_equal(np.sort(p), np.arange(n)):
        raise InvalidNetwork(
            f"permutation for hidden layer {layer} must contain each of 0..{n - 1} exactly once; got {p.tolist()}"
        )
    return p


def _rebuild(net: ReLUNetwork, ws: list[np.ndarray], bs: list[np.ndarray], ms: list[np.ndarray] | None) -> ReLUNetwork:
    return ReLUNetwork(ws, bs, ms)


def _lists(net: ReLUNetwork) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray] | None]:
    ws = [w.copy() for w in net.weights]
    bs = [b.copy() for b in net.biases]
    ms = None if net.masks is None else [m.copy() for m in net.masks]
    return ws, bs, ms


# ----------------------------------------------------------------------------- symmetries
def rescale(net: ReLUNetwork, layer: int, factors: ArrayLike) -> ReLUNetwork:
    """Positive rescaling of the neurons of one hidden layer.

    Parameters
    ----------
    net:
        The network (not modified).
    layer:
        1-based hidden layer index, ``1 <= layer <= net.depth - 1``.
    factors:
        Positive finite factors, shape ``(N_layer,)`` or a scalar. Neuron ``i``'s incoming
        row and bias are multiplied by ``factors[i]`` and its outgoing column divided by it.

    Returns
    -------
    ReLUNetwork
        A network with the same realization everywhere.

    Raises
    ------
    InvalidNetwork
        Bad layer index, wrong shape, or a non-positive / non-finite factor.
    """
    net = _check_network(net)
    layer = _check_layer(net, layer)
    f = _check_factors(net, layer, factors)
    ws, bs, ms = _lists(net)
    ws[layer - 1] = ws[layer - 1] * f[:, None]
    bs[layer - 1] = bs[layer - 1] * f
    ws[layer] = ws[layer] / f[None, :]
    return _rebuild(net, ws, bs, ms)


def permute(net: ReLUNetwork, layer: int, perm: ArrayLike) -> ReLUNetwork:
    """Permute the neurons of one hidden layer: new neuron ``j`` is old neuron ``perm[j]``.

    Parameters
    ----------
    net:
        The network (not modified).
    layer:
        1-based hidden layer index, ``1 <= layer <= net.depth - 1``.
    perm:
        A permutation of ``0..N_layer-1`` (integers, each exactly once).

    Returns
    -------
    ReLUNetwork
        A network with the same realization everywhere (masks are permuted too).

    Raises
    ------
    InvalidNetwork
        Bad layer index or a sequence that is not a permutation of the right length.
    """
    net = _check_network(net)
    layer = _check_layer(net, layer)
    p = _check_perm(net, layer, perm)
    ws, bs, ms = _lists(net)
    ws[layer - 1] = ws[layer - 1][p]
    bs[layer - 1] = bs[layer - 1][p]
    ws[layer] = ws[layer][:, p]
    if ms is not None:
        ms[layer - 1] = ms[layer - 1][p]
        ms[layer] = ms[layer][:, p]
    return _rebuild(net, ws, bs, ms)


def _apply_all(net: ReLUNetwork, perms: Sequence[np.ndarray] | None, scales: Sequence[np.ndarray] | None) -> ReLUNetwork:
    """Permute every hidden layer (if ``perms``), then rescale every hidden layer (if ``scales``).

    Vectorized equivalent of repeated :func:`permute` / :func:`rescale` calls (no validation).
    """
    n_hidden = net.depth - 1
    ws: list[np.ndarray] = []
    bs: list[np.ndarray] = []
    ms = None if net.masks is None else []
    for k in range(net.depth):
        w, b = net.weights[k], net.biases[k]
        m = None if net.masks is None else net.masks[k]
        rows = perms[k] if (perms is not None and k < n_hidden) else None
        cols = perms[k - 1] if (perms is not None and k >= 1) else None
        if rows is not None and cols is not None:
            w = w[np.ix_(rows, cols)]
        elif rows is not None:
            w = w[rows]
        elif cols is not None:
            w = w[:, cols]
        else:
            w = w.copy()
        b = b[rows] if rows is not None else b.copy()
        if m is not None:
            m = m[rows] if rows is not None else m
            m = m[:, cols] if cols is not None else m
        if scales is not None:
            if k < n_hidden:
                w *= scales[k][:, None]
                b *= scales[k]
            if k >= 1:
                w /= scales[k - 1][None, :]
        ws.append(w)
        bs.append(b)
        if ms is not None:
            ms.append(m)
    return ReLUNetwork(ws, bs, ms)


# ----------------------------------------------------------------------------- balancing
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


def balance_result(net: ReLUNetwork, tol: float = 1e-12, max_iter: int = 10_000) -> Balancing:
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
    net = _check_network(net)
    if not (isinstance(tol, (int, float)) and tol > 0):
        raise InvalidNetwork(f"balance tolerance must be a positive number; got {tol!r}")
    if not (isinstance(max_iter, (int, np.integer)) and max_iter >= 0):
        raise InvalidNetwork(f"balance max_iter must be a non-negative integer; got {max_iter!r}")
    n_hidden = net.depth - 1
    norm_before = float(sum(np.sum(w * w) + np.sum(b * b) for w, b in net.layers()))
    if n_hidden == 0:
        return Balancing(net, (), (), 0, 0.0, True, float(tol), norm_before, norm_before)
    ws, bs, ms = _lists(net)
    zeroed = _zero_dangling(ws, bs, n_hidden)
    scales, sweeps, res = _balance_scales(ws, bs, float(tol), int(max_iter))
    for h in range(1, n_hidden + 1):
        f = scales[h - 1]
        ws[h - 1] = ws[h - 1] * f[:, None]
        bs[h - 1] = bs[h - 1] * f
        ws[h] = ws[h] / f[None, :]
    out = ReLUNetwork(ws, bs, ms)
    norm_after = float(sum(np.sum(w * w) + np.sum(b * b) for w, b in out.layers()))
    for f in scales:
        f.setflags(write=False)
    return Balancing(out, tuple(scales), tuple(zeroed), sweeps, res, res <= tol, float(tol), norm_before, norm_after)


def balance(net: ReLUNetwork, tol: float = 1e-12, max_iter: int = 10_000) -> ReLUNetwork:
    """The balanced representative of the positive-rescaling orbit of ``net``.

    Shortcut for ``balance_result(net, tol, max_iter).network``; see :func:`balance_result`
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


# ----------------------------------------------------------------------------- alignment
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


@dataclass(frozen=True)
class Alignment(ResultMixin):
    """Result of :func:`align`: how to map ``other`` onto ``reference``.

    Attributes
    ----------
    permutations:
        One integer array per hidden layer (``permutations[l - 1]`` for 1-based layer ``l``).
    scales:
        One positive array per hidden layer.
    aligned:
        ``other`` with every hidden layer permuted by ``permutations`` (:func:`permute`
        convention: new neuron ``j`` is old neuron ``perm[j]``) and then rescaled by
        ``scales`` (:func:`rescale`): ``aligned = apply_alignment(other, self)``, except that
        dangling weights of neurons listed in ``zeroed`` are set to zero. Same realization as
        ``other`` everywhere.
    methods:
        Per hidden layer, how the permutation was found: ``"sort"`` (a sorted projection,
        verified), ``"assignment"`` (``scipy.optimize.linear_sum_assignment``), ``"refined"``
        (after coordinate-descent refinement).
    distance:
        Euclidean distance between the parameter vectors of ``reference`` and ``aligned``.
    zeroed:
        Dangling neurons of ``other`` (as in :class:`Balancing`) whose weights were zeroed.
    """

    permutations: tuple[NDArray[np.intp], ...]
    scales: tuple[FloatArray, ...]
    methods: tuple[str, ...]
    zeroed: tuple[tuple[int, int, str], ...] = ()
    # the aligned network and the distance are computed on first access (cached)
    _reference: ReLUNetwork | None = field(default=None, repr=False, compare=False)
    _aligned: ReLUNetwork | None = field(default=None, repr=False, compare=False)
    _make: Callable[[], ReLUNetwork] | None = field(default=None, repr=False, compare=False)
    _distance: float | None = field(default=None, repr=False, compare=False)

    @property
    def aligned(self) -> ReLUNetwork:
        """``other`` mapped onto ``reference`` (see the class docstring)."""
        if self._aligned is None:
            assert self._make is not None
            object.__setattr__(self, "_aligned", self._make())
        assert self._aligned is not None
        return self._aligned

    @property
    def distance(self) -> float:
        """Euclidean distance between the parameters of ``reference`` and ``aligned``."""
        if self._distance is None:
            assert self._reference is not None
            object.__setattr__(self, "_distance", _param_distance(self._reference, self.aligned))
        assert self._distance is not None
        return self._distance

    def apply(self, net: ReLUNetwork) -> ReLUNetwork:
        """Apply the permutations and then the scales to ``net`` (a network of the same widths)."""
        return apply_alignment(net, self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "permutations": [p.tolist() for p in self.permutations],
            "scales": [s.tolist() for s in self.scales],
            "methods": list(self.methods),
            "distance": self.distance,
            "zeroed": [list(z) for z in self.zeroed],
            "widths": list(self.aligned.widths),
        }

    def __str__(self) -> str:
        lines = [f"Alignment of widths {self.aligned.widths}: parameter distance {self.distance:.6g}"]
        for h, (p, s, m) in enumerate(zip(self.permutations, self.scales, self.methods), start=1):
            moved = int(np.sum(p != np.arange(p.size)))
            lines.append(
                f"  hidden layer {h}: {moved}/{p.size} neurons moved ({m}); scales in "
                f"[{float(np.min(s)):.4g}, {float(np.max(s)):.4g}]"
            )
        if self.zeroed:
            lines.append(f"  {len(self.zeroed)} dangling neuron(s) of the other network zeroed")
        return "\n".join(lines)


def apply_alignment(net: ReLUNetwork, alignment: Alignment) -> ReLUNetwork:
    """Permute then rescale every hidden layer of ``net`` as recorded in ``alignment``."""
    net = _check_network(net)
    if len(alignment.permutations) != net.depth - 1 or any(
        p.size != n for p, n in zip(alignment.permutations, net.hidden_widths)
    ):
        raise InvalidNetwork(
            f"alignment for hidden widths {tuple(p.size for p in alignment.permutations)} does not fit "
            f"a network with widths {net.widths}"
        )
    return _apply_all(net, alignment.permutations, alignment.scales)


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


def _balanced_layer_perms(A: ReLUNetwork, B: ReLUNetwork, tol: float) -> tuple[list[np.ndarray], list[str]]:
    return _layer_perms(A.weights, A.biases, B.weights, B.biases, tol)


def _normalized_gauge(net: ReLUNetwork) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], list]:
    """Dangling weights zeroed, then every hidden neuron rescaled (first layer to last) so that
    its incoming row and bias have unit Euclidean norm. Returns (weights, biases, scales, zeroed);
    zeroed neurons get scale 1."""
    ws, bs, _ = _lists(net)
    n_hidden = net.depth - 1
    zeroed = _zero_dangling(ws, bs, n_hidden)
    scales = []
    for h in range(1, n_hidden + 1):
        norms = np.sqrt(np.einsum("ij,ij->i", ws[h - 1], ws[h - 1]) + bs[h - 1] ** 2)
        f = np.ones_like(norms)
        np.divide(1.0, norms, out=f, where=norms > 0)
        ws[h - 1] *= f[:, None]
        bs[h - 1] *= f
        ws[h] /= f[None, :]
        scales.append(f)
    return ws, bs, scales, zeroed


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


def _param_distance(a: ReLUNetwork, b: ReLUNetwork) -> float:
    total = 0.0
    for x, y in zip(a.weights + a.biases, b.weights + b.biases):
        d = x - y
        total += float(np.vdot(d, d))
    return float(np.sqrt(total))


def align(
    reference: ReLUNetwork,
    other: ReLUNetwork,
    tol: float = 1e-8,
    refine: int = 10,
    balance_tol: float = 1e-11,
) -> Alignment:
    """Permutations and positive scales mapping ``other`` as close as possible onto ``reference``.

    Both networks are balanced (:func:`balance_result`); then, hidden layer after hidden layer,
    ``other``'s balanced neurons are matched to ``reference``'s. A match is first tried by
    sorting a fixed random projection of the incoming rows (previous layer's permutation
    applied) and biases, accepted only if every pair agrees entrywise to the relative ``tol``;
    when that fails (near ties, or the networks differ) an optimal assignment
    (:func:`scipy.optimize.linear_sum_assignment` on squared distances of descriptors made of
    the incoming row, bias and outgoing column, or permutation-invariant features of it when
    the next layer is hidden) is used, and up to ``refine`` coordinate-descent sweeps then
    improve the permutations (maximizing the inner product of the balanced parameter
    vectors). Finally the scales map the balanced gauge back to ``reference``'s gauge, so
    that for equivalent networks ``aligned`` equals ``reference``.

    Parameters
    ----------
    reference, other:
        Networks with the same widths (not modified).
    tol:
        Entrywise relative tolerance of the sorted-match check.
    refine:
        Maximum number of refinement sweeps when a layer needed an assignment.
    balance_tol:
        Tolerance passed to :func:`balance_result`.

    Returns
    -------
    Alignment
    """
    reference = _check_network(reference, "reference")
    other = _check_network(other, "other")
    if reference.widths != other.widths:
        raise InvalidNetwork(
            f"cannot align networks of different widths: reference {reference.widths}, other {other.widths}"
        )
    ra = balance_result(reference, tol=balance_tol)
    rb = balance_result(other, tol=balance_tol)
    A, B = ra.network, rb.network
    n_hidden = reference.depth - 1
    if n_hidden == 0:
        return Alignment((), (), (), (), reference, other)
    perms, methods = _balanced_layer_perms(A, B, tol)
    if refine > 0 and any(m == "assignment" for m in methods):
        _refine(A, B, perms, methods, int(refine))
    # other -> balanced other (scale sb) -> permute -> reference gauge (divide by sa):
    # permute(rescale(other, sb), p) = rescale(permute(other, p), sb[p])
    scales = [rb.scales[h][perms[h]] / ra.scales[h] for h in range(n_hidden)]
    aligned = _apply_all(B, perms, [1.0 / s for s in ra.scales])
    for s in scales:
        s.setflags(write=False)
    for p in perms:
        p.setflags(write=False)
    return Alignment(tuple(perms), tuple(scales), tuple(methods), rb.zeroed, reference, aligned)


# ----------------------------------------------------------------------------- equivalence
@dataclass(frozen=True)
class Equivalence(ResultMixin):
    """Result of :func:`equivalent` (truthy iff the networks are equivalent).

    Attributes
    ----------
    equivalent:
        ``True`` iff ``b`` maps onto ``a`` by permutations and positive rescalings of hidden
        neurons (and the zeroing of dangling weights, see ``exact_orbit``), up to ``tol``.
    permutations, scales:
        Per hidden layer; ``apply_alignment(b, alignment)`` (permute, then rescale) gives
        ``a`` up to ``tol`` when ``equivalent``.
    alignment:
        The full :class:`Alignment` of ``b`` onto ``a``.
    max_deviation:
        Largest entrywise relative difference ``|x - y| / max(|x|, |y|)`` between the
        parameters of ``a`` and of the aligned ``b``, both in the normalized gauge (every
        hidden neuron's incoming row and bias of unit norm; entries that are 0 in both count
        as equal). Rescalings and permutations only multiply and move entries, so exact
        copies deviate by a few units of rounding (~1e-15).
    tol:
        The tolerance used: equivalent iff ``max_deviation <= tol``.
    exact_orbit:
        ``True`` when neither network had dangling neurons, so ``b`` is mapped onto ``a``
        by rescalings and permutations alone; ``False`` when dangling weights (which never
        affect the realization) had to be zeroed first.
    reason:
        One line explaining the verdict.
    """

    equivalent: bool
    permutations: tuple[NDArray[np.intp], ...]
    scales: tuple[FloatArray, ...]
    alignment: Alignment | None
    max_deviation: float
    tol: float
    exact_orbit: bool
    reason: str

    def __bool__(self) -> bool:
        return bool(self.equivalent)

    def to_dict(self) -> dict[str, Any]:
        return {
            "equivalent": bool(self.equivalent),
            "permutations": [p.tolist() for p in self.permutations],
            "scales": [s.tolist() for s in self.scales],
            "methods": [] if self.alignment is None else list(self.alignment.methods),
            "max_deviation": self.max_deviation,
            "tol": self.tol,
            "exact_orbit": self.exact_orbit,
            "reason": self.reason,
        }

    def __str__(self) -> str:
        head = "equivalent" if self.equivalent else "NOT equivalent"
        text = f"{head}: {self.reason}"
        if self.alignment is not None:
            text += "\n" + str(self.alignment)
        return text


def equivalent(a: ReLUNetwork, b: ReLUNetwork, tol: float = 1e-8) -> Equivalence:
    """Decide whether two networks are the same up to hidden-neuron permutations and positive
    rescalings, and recover the permutation and scales.

    The rescaling gauge is fixed in one pass: dangling weights are zeroed (see
    :func:`balance_result`), then, from the first hidden layer to the last, every neuron is
    rescaled so that its incoming row and bias have unit norm. Two networks on one orbit have
    the same normalized form up to a permutation of each hidden layer (the balanced form would
    do as well, but needs iterations). The permutation is found layer by layer from the
    neurons' incoming rows (previous permutation applied), biases and outgoing weights: a
    sorted projection, accepted only if every pair agrees to ``tol``, else an optimal
    assignment (``scipy.optimize.linear_sum_assignment``). The normalized parameters are then
    compared entrywise.

    Parameters
    ----------
    a, b:
        The networks (not modified).
    tol:
        Entrywise relative tolerance: equivalent iff every normalized parameter of the aligned
        ``b`` differs from ``a``'s by at most ``tol`` times the larger of the two magnitudes.

    Returns
    -------
    Equivalence
        Truthy iff equivalent; ``permutations`` and ``scales`` map ``b`` onto ``a`` via
        :func:`apply_alignment` (permute every hidden layer, then rescale).
    """
    a = _check_network(a, "a")
    b = _check_network(b, "b")
    if not (isinstance(tol, (int, float)) and tol >= 0):
        raise InvalidNetwork(f"equivalence tolerance must be a non-negative number; got {tol!r}")
    if a.widths != b.widths:
        return Equivalence(False, (), (), None, float("inf"), float(tol), False,
                           f"different widths {a.widths} and {b.widths}")
    n_hidden = a.depth - 1
    wa, ba, sa, za = _normalized_gauge(a)
    wb, bb, sb, zb = _normalized_gauge(b)
    if n_hidden:
        perms, methods, checks = _layer_perms(wa, ba, wb, bb, tol, return_checks=True)
    else:
        perms, methods, checks = [], [], []
    # every entry is checked once: incoming rows of hidden layers verified by the sorted match,
    # the remaining layers (assignment-matched ones and the output layer) here
    dev = max([c for c in checks if c is not None], default=0.0)
    for k in range(a.depth):
        if k < n_hidden and checks[k] is not None:
            continue
        w, bias = wb[k], bb[k]
        rows = perms[k] if k < n_hidden else None
        cols = perms[k - 1] if k >= 1 else None
        if rows is not None and cols is not None:
            w = w[np.ix_(rows, cols)]
        elif rows is not None:
            w = w[rows]
        elif cols is not None:
            w = w[:, cols]
        if rows is not None:
            bias = bias[rows]
        dev = max(dev, _max_rel_dev(wa[k], w), _max_rel_dev(ba[k], bias))
    scales = [sb[h][perms[h]] / sa[h] for h in range(n_hidden)]
    for arr in (*perms, *scales):
        arr.setflags(write=False)

    def make() -> ReLUNetwork:
        # b with dangling weights zeroed, in a's gauge: normalized b, permuted, times 1/sa
        nb = ReLUNetwork(wb, bb, None if b.masks is None else list(b.masks))
        return _apply_all(nb, perms, [1.0 / x for x in sa]) if n_hidden else b

    al = Alignment(tuple(perms), tuple(scales), tuple(methods), tuple(zb), a, None, make)
    ok = dev <= tol
    exact_orbit = not za and not zb
    if ok:
        reason = f"normalized parameters agree after alignment (max relative deviation {dev:.3g} <= tol {tol:.0e})"
    else:
        reason = f"normalized parameters differ after the best alignment (max relative deviation {dev:.3g} > tol {tol:.0e})"
    return Equivalence(ok, al.permutations, al.scales, al, dev, float(tol), exact_orbit, reason)


# ----------------------------------------------------------------------------- canonical form
def _canonical_order(w_in: np.ndarray, b_in: np.ndarray, w_out: np.ndarray, rtol: float = 1e-9) -> np.ndarray:
    """Deterministic order of the neurons of one hidden layer: by a fixed random projection
    of the incoming row and bias; runs of near-equal keys are ordered by the projection of
    permutation-invariant features of the outgoing column (then by the full descriptor)."""
    X = np.concatenate([w_in, b_in[:, None]], axis=1)
    k1 = X @ _key_vector(X.shape[1])
    F = _out_features(w_out)
    k2 = F @ _key_vector(F.shape[1])
    order = np.argsort(k1, kind="stable")
    scale = max(float(np.max(np.abs(k1))), 1e-300)
    out = []
    i = 0
    n = order.size
    while i < n:
        j = i + 1
        while j < n and k1[order[j]] - k1[order[j - 1]] <= rtol * scale:
            j += 1
        run = order[i:j]
        if run.size > 1:
            run = run[np.lexsort((X[run] @ np.arange(1, X.shape[1] + 1), k2[run]))]
        out.extend(run.tolist())
        i = j
    return np.asarray(out, dtype=np.intp)


def canonical_form(net: ReLUNetwork, tol: float = 1e-12) -> ReLUNetwork:
    """A canonical representative of ``net`` modulo permutations and positive rescalings.

    The network is balanced (:func:`balance`, dangling weights zeroed), then the neurons of
    each hidden layer, from the first to the last, are sorted by a fixed random projection of
    their balanced incoming row and bias (the previous layer already being in canonical
    order); near ties (within a relative ``1e-9``) are broken by permutation-invariant features
    of the outgoing column. Two networks on the same orbit get the same canonical form up to
    floating-point error whenever their keys are not near-tied; exact ties come from
    neurons with identical incoming weights, whose order is then fixed by their outgoing
    weights. To *decide* equivalence use :func:`equivalent`, which does not rely on sorting.

    Parameters
    ----------
    net:
        The network (not modified).
    tol:
        Balancing tolerance.

    Returns
    -------
    ReLUNetwork
        Same realization everywhere as ``net``.
    """
    net = _check_network(net)
    B = balance(net, tol=tol)
    n_hidden = net.depth - 1
    for h in range(1, n_hidden + 1):
        order = _canonical_order(B.weights[h - 1], B.biases[h - 1], B.weights[h])
        B = permute(B, h, order)
    return B
