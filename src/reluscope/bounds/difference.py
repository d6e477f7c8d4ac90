"""Bounds on the difference ``f - g`` of two networks over a box.

Two sound routes (both intersected for same-width pairs that are not close copies):

* **joint**: ``f - g`` is itself a ReLU network (the two stacked side by side, the output
  layer subtracting), so the linear tier of :func:`~reluscope.bounds.layers.layer_bounds`
  bounds it and sees that both networks read the same input;
* **differential** (:mod:`reluscope.bounds.differential_linear`, for pairs whose hidden layers correspond neuron by
  neuron, such as a network and its pruned or fine-tuned copy): the difference of the two
  pre-activations ``Δz_l = z^f_l - z^g_l`` is propagated layer by layer as an interval,
  ``Δz_{l+1} = A^f_{l+1} Δa_l + (A^f_{l+1} - A^g_{l+1}) a^g_l + (b^f - b^g)``, with the exact
  range of ``Δa = relu(z^g + Δz) - relu(z^g)`` over the boxes of ``z^g`` and ``Δz``
  (ReluDiff), intersected with linear bounds of ``Δz_l`` in terms of the input substituted
  backwards through the envelope relaxations of ``Δa`` (NeuroDiff-style). When
  ``g`` is a close copy of ``f`` the difference intervals stay narrow where the separate
  bounds of ``f`` and ``g`` are wide.

Proofs in ``docs/background/bounds.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._results import ResultMixin
from .._validation import check_choice, check_pair
from ..domain import Box
from ..network import ReLUNetwork
from .differential_linear import batch_difference_bounds, relu_difference_range
from .differential_linear import difference_relaxation as _difference_relaxation  # noqa: F401 (tests)
from .layers import _box, layer_bounds

__all__ = ["DifferenceBounds", "difference_bounds", "joint_difference_network", "relu_difference_range"]


@dataclass(frozen=True)
class DifferenceBounds(ResultMixin):
    """Entry-wise bounds ``lower <= f(x) - g(x) <= upper`` over the box (one per output)."""

    lower: np.ndarray
    upper: np.ndarray
    method: str

    @property
    def sup_upper(self) -> float:
        """Upper bound on ``sup_x max_i |f_i(x) - g_i(x)|`` over the box."""
        return float(np.max(np.maximum(np.abs(self.lower), np.abs(self.upper))))

    def __str__(self) -> str:
        return f"f - g in [{self.lower.min():.6g}, {self.upper.max():.6g}] ({self.method}); sup |f - g| <= {self.sup_upper:.6g}"


def _deepen(net: ReLUNetwork, depth: int) -> ReLUNetwork:
    """The same function with ``depth`` affine layers: extra layers carry ``z`` as
    ``relu(z) - relu(-z)``."""
    if depth == net.depth:
        return net
    W, b = list(net.weights), list(net.biases)
    A, c = W.pop(), b.pop()
    k = A.shape[0]
    eye = np.eye(k)
    W.append(np.vstack([A, -A]))
    b.append(np.concatenate([c, -c]))
    for _ in range(depth - net.depth - 1):
        W.append(np.block([[eye, -eye], [-eye, eye]]))
        b.append(np.zeros(2 * k))
    W.append(np.hstack([eye, -eye]))
    b.append(np.zeros(k))
    return ReLUNetwork(W, b)


def joint_difference_network(f: ReLUNetwork, g: ReLUNetwork) -> ReLUNetwork:
    """The ReLU network computing ``f - g`` (hidden layers stacked, outputs subtracted)."""
    check_pair(f, g)
    depth = max(f.depth, g.depth)
    f, g = _deepen(f, depth), _deepen(g, depth)
    W, b = [], []
    for layer in range(depth):
        Wf, Wg = f.weights[layer], g.weights[layer]
        if depth == 1:
            W.append(Wf - Wg)
        elif layer == 0:
            W.append(np.vstack([Wf, Wg]))
        elif layer == depth - 1:
            W.append(np.hstack([Wf, -Wg]))
        else:
            W.append(np.block([[Wf, np.zeros((Wf.shape[0], Wg.shape[1]))],
                               [np.zeros((Wg.shape[0], Wf.shape[1])), Wg]]))
        if layer == depth - 1:
            b.append(f.biases[layer] - g.biases[layer])
        else:
            b.append(np.concatenate([f.biases[layer], g.biases[layer]]))
    return ReLUNetwork(W, b)


def _close_copy(f: ReLUNetwork, g: ReLUNetwork) -> bool | None:
    """``None``: different widths (no neuron correspondence); ``True``: same widths and every
    layer of ``g`` within half of ``f``'s Frobenius norm of it (a pruned, perturbed or
    fine-tuned copy, where the differential route alone is much tighter than the joint
    network, 25x on a pruned 784-300-100-10 copy); ``False``: same widths, far apart."""
    if f.widths != g.widths:
        return None
    return all(np.linalg.norm(Wf - Wg) <= 0.5 * np.linalg.norm(Wf) for Wf, Wg in zip(f.weights, g.weights))


def difference_bounds(f: ReLUNetwork, g: ReLUNetwork, domain: Box | str | None = None, *,
                      tier: str = "linear") -> DifferenceBounds:
    """Bounds on ``f(x) - g(x)`` for every ``x`` in a box.

    Networks of different widths go through the joint network. Networks of the same widths
    take the differential route (their neurons are taken to correspond); when they are not
    a close copy of each other (some layer differs by more than half its norm) the joint
    network's bounds are intersected in too. ``method`` says which routes ran. ``tier="interval"`` is the cheap tier
    (interval arithmetic only, several times faster), ``"linear"`` adds the
    back-substitution steps.
    """
    check_pair(f, g)
    check_choice(tier, ("interval", "linear"), "tier")
    lo_x, hi_x = _box(f, domain)
    close = _close_copy(f, g)
    if close is None:
        lower, upper = layer_bounds(joint_difference_network(f, g), Box(lo_x, hi_x), method=tier).output
        method = f"joint ({tier})"
    else:
        batch = batch_difference_bounds(f, g, lo_x[None, :], hi_x[None, :], symbolic=tier == "linear")
        lower, upper = batch.lower[0], batch.upper[0]
        method = f"differential ({tier})"
        if not close:  # corresponding shapes but far apart: the joint network may be tighter
            jl, jh = layer_bounds(joint_difference_network(f, g), Box(lo_x, hi_x), method=tier).output
            lower, upper = np.maximum(lower, jl), np.minimum(upper, jh)
            method = f"joint+differential ({tier})"
    return DifferenceBounds(lower, upper, method)
