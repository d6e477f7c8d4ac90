"""Canonical form: one deterministic representative of a network's orbit under
permutations and positive rescalings of hidden neurons."""

from __future__ import annotations

import numpy as np

from .._validation import check_network
from ..network import ReLUNetwork
from ._matching import _key_vector, _out_features
from .actions import permute
from .balancing import balance

__all__ = ["canonical_form"]


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


def canonical_form(net: ReLUNetwork, *, tol: float = 1e-12) -> ReLUNetwork:
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
    net = check_network(net)
    B = balance(net, tol=tol)
    n_hidden = net.depth - 1
    for h in range(1, n_hidden + 1):
        order = _canonical_order(B.weights[h - 1], B.biases[h - 1], B.weights[h])
        B = permute(B, h, order)
    return B
