"""Inverse stability: pathology families, the restricted parametrization set, the
inverse-stability ratio and (with PyTorch) training over the restricted set.

Mathematics: ``docs/background/inverse-stability.md``. PyTorch is imported only by
:mod:`reluscope.stability.training` (loaded lazily here).
"""

from __future__ import annotations

from .._lazy import lazy_exports

from .pathologies import (
    DOMAIN,
    FAMILIES,
    PathologyFamily,
    cancelling_parallel_family,
    dead_neuron_family,
    get_family,
    opposite_directions_family,
    unbalanced_neuron_family,
    uniform_norm_family,
)
from .restricted import (
    RestrictedSetCheck,
    RestrictedShallowNetwork,
    Violation,
    in_restricted_set,
    to_restricted,
)

_LAZY = {
    "inverse_stability_ratio": "ratio",
    "InverseStabilityRatio": "ratio",
    "symmetric_parameter_distance": "symmetric_distance",
    "SymmetricParameterDistance": "symmetric_distance",
    "restricted_parameter_distance": "symmetric_distance",
    "RestrictedShallowReLU": "training",
    "unrestricted_shallow": "training",
    "train": "training",
    "TrainingHistory": "training",
    "module_to_network": "training",
}

__all__ = [
    "DOMAIN",
    "FAMILIES",
    "PathologyFamily",
    "get_family",
    "uniform_norm_family",
    "unbalanced_neuron_family",
    "cancelling_parallel_family",
    "dead_neuron_family",
    "opposite_directions_family",
    "RestrictedShallowNetwork",
    "RestrictedSetCheck",
    "Violation",
    "in_restricted_set",
    "to_restricted",
    *_LAZY,
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
