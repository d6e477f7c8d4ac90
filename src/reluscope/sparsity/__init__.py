"""Sparse ReLU networks: patterns, closedness of the linear counterpart, certificates,
existence of optima."""
from .closedness import find_degeneration_certificate, is_closed, lu_certificate
from .existence import ExistenceVerdict, optimum_exists, relu_lift
from .pattern import Component, SparsityPattern, SupportClass
from .verdict import (
    CertificateCheck,
    ClosedCertificate,
    ClosednessVerdict,
    LaurentPoly,
    NotClosedCertificate,
    register_closed_rule,
    verify,
)

__all__ = [
    "SparsityPattern",
    "SupportClass",
    "Component",
    "LaurentPoly",
    "NotClosedCertificate",
    "ClosedCertificate",
    "ClosednessVerdict",
    "CertificateCheck",
    "verify",
    "register_closed_rule",
    "is_closed",
    "lu_certificate",
    "find_degeneration_certificate",
    "optimum_exists",
    "ExistenceVerdict",
    "relu_lift",
]

# Sweeps over random patterns (issue 8): ``reluscope.sparsity.sweep(...)`` is the function;
# the module stays importable with ``from reluscope.sparsity.sweep import SweepResult``.
from .reductions import decide_fast  # noqa: E402
from .sweep import sweep  # noqa: E402

__all__ += ["sweep", "decide_fast"]
