"""The one bound engine: sound outer bounds for ReLU networks over a box.

* :func:`layer_bounds` — every neuron's pre-activation range, by interval arithmetic
  (the cheap tier) or linear bound propagation (backward substitution of linear ReLU
  relaxations, CROWN/DeepPoly style), never looser than the interval tier;
* :func:`jacobian_bounds` — entry-wise bounds on the Jacobian (Lipschitz upper bounds);
* :func:`difference_bounds` — bounds on ``f - g`` for two networks, through the joint
  network and, for networks whose neurons correspond, layer-by-layer differential bounds.

All computations are vectorized NumPy float64 with an outward rounding pad; the soundness
proofs are in ``docs/background/bounds.md`` and property tests check that every bound
contains sampled values.
"""

from .difference import DifferenceBounds, difference_bounds, joint_difference_network, relu_difference_range
from .jacobian import JacobianBounds, activation_derivative_bounds, jacobian_bounds
from .layers import ROUNDING_PAD, LayerwiseBounds, affine_range, layer_bounds, relu_relaxation

__all__ = [
    "LayerwiseBounds",
    "layer_bounds",
    "affine_range",
    "relu_relaxation",
    "ROUNDING_PAD",
    "JacobianBounds",
    "jacobian_bounds",
    "activation_derivative_bounds",
    "DifferenceBounds",
    "difference_bounds",
    "joint_difference_network",
    "relu_difference_range",
]
