"""The two symmetries of a ReLU parametrization as actions on networks: positive rescaling
and permutation of the neurons of a hidden layer.

Layer indexing
--------------
Everywhere in :mod:`reluscope.symmetry` ``layer`` is the **1-based index of a hidden
layer**: hidden layer ``l`` (``1 <= l <= net.depth - 1``) is the output of
``net.weights[l - 1]`` and the input of ``net.weights[l]``. (This matches the math notes,
where ``A_l`` is the ``l``-th weight matrix.)

The two symmetries
------------------
* rescaling neuron ``i`` of hidden layer ``l`` by ``λ > 0`` multiplies row ``i`` of
  ``A_l`` and ``b_l[i]`` by ``λ`` and column ``i`` of ``A_{l+1}`` by ``1/λ``;
* permuting hidden layer ``l`` by ``perm`` makes new neuron ``j`` the old neuron
  ``perm[j]`` (rows of ``A_l``, entries of ``b_l``, columns of ``A_{l+1}``).

Both leave the realization unchanged everywhere (see ``docs/background/symmetries.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import check_network
from ..errors import InvalidNetwork
from ..network import ReLUNetwork

__all__ = ["rescale", "permute"]

FloatArray = NDArray[np.float64]


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


def _lists(net: ReLUNetwork) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray] | None]:
    ws = [w.copy() for w in net.weights]
    bs = [b.copy() for b in net.biases]
    ms = None if net.masks is None else [m.copy() for m in net.masks]
    return ws, bs, ms


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
    net = check_network(net)
    layer = _check_layer(net, layer)
    f = _check_factors(net, layer, factors)
    ws, bs, ms = _lists(net)
    ws[layer - 1] = ws[layer - 1] * f[:, None]
    bs[layer - 1] = bs[layer - 1] * f
    ws[layer] = ws[layer] / f[None, :]
    return ReLUNetwork(ws, bs, ms)


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
    net = check_network(net)
    layer = _check_layer(net, layer)
    p = _check_perm(net, layer, perm)
    ws, bs, ms = _lists(net)
    ws[layer - 1] = ws[layer - 1][p]
    bs[layer - 1] = bs[layer - 1][p]
    ws[layer] = ws[layer][:, p]
    if ms is not None:
        ms[layer - 1] = ms[layer - 1][p]
        ms[layer] = ms[layer][:, p]
    return ReLUNetwork(ws, bs, ms)


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
