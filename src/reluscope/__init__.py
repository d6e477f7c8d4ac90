"""reluscope: the geometry of ReLU network parametrizations.

The core value is :class:`ReLUNetwork`; analyses are pure functions grouped by topic and
re-exported here lazily (importing ``reluscope`` stays cheap: SciPy's MILP, Z3 and
PyTorch load only when used).
"""

from __future__ import annotations

from ._lazy import lazy_exports

from .domain import Box, Boxes, PointSet
from .errors import (
    InvalidArgument,
    InvalidData,
    InvalidDomain,
    InvalidNetwork,
    ModelFileError,
    ReluscopeError,
    SolverError,
    UnsupportedLayer,
)
from .network import ReLUNetwork

__version__ = "0.1.0"

# public name -> module that defines it (imported on first access)
_LAZY: dict[str, str] = {
    "load": "io",
    "save": "io",
    "load_example": "io", "example_path": "io", "example_dataset": "io", "example_info": "io",
    "from_torch": "torch_interop",
    "to_torch": "torch_interop",
    "from_sklearn": "sklearn_interop", "to_sklearn": "sklearn_interop",
    "rescale": "symmetry",
    "permute": "symmetry",
    "balance": "symmetry",
    "canonical_form": "symmetry",
    "equivalent": "symmetry",
    "align": "symmetry",
    "balance_result": "symmetry", "Alignment": "symmetry", "Equivalence": "symmetry",
    "interpolate": "symmetry",
    "degeneracies": "degeneracy",
    "reduce": "degeneracy",
    "DegeneracyReport": "degeneracy",
    "reduction": "degeneracy", "NetworkReduction": "degeneracy",
    "sup_distance": "distance",
    "sobolev_distance": "distance",
    "lipschitz_constant": "distance",
    "epsilon_equivalent": "distance", "top1_agreement": "distance",
    "parameter_distance": "symmetry", "ParameterDistance": "symmetry",
    "verify": "verification", "VerificationResult": "verification",
    "load_vnnlib": "io",
    "verify_many": "verify_jobs",
}

__all__ = [
    "ReLUNetwork",
    "Box",
    "PointSet",
    "Boxes",
    "ReluscopeError",
    "InvalidArgument",
    "InvalidNetwork",
    "InvalidDomain",
    "InvalidData",
    "ModelFileError",
    "SolverError",
    "UnsupportedLayer",
    "__version__",
    *_LAZY,
]


# subpackages reachable as attributes (``reluscope.sparsity.is_closed``) without an import
_SUBPACKAGES = frozenset({"bounds", "constructive", "sparsity", "stability", "experiments", "report"})


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals(), _SUBPACKAGES)
