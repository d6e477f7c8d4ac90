"""Sparse ReLU networks: patterns, closedness of the linear counterpart, certificates,
existence of optima.

Modules, bottom layer first: :mod:`~reluscope.sparsity.notation`,
:mod:`~reluscope.sparsity.canonical` and :mod:`~reluscope.sparsity.pattern` (patterns);
:mod:`~reluscope.sparsity.certificates` (verdicts and certificates as plain data);
:mod:`~reluscope.sparsity.qe` (the Z3 layer); :mod:`~reluscope.sparsity.terms`,
:mod:`~reluscope.sparsity.membership`, :mod:`~reluscope.sparsity.peeling`,
:mod:`~reluscope.sparsity.quotients`, :mod:`~reluscope.sparsity.candidates` and
:mod:`~reluscope.sparsity.families` (the pieces of a decision);
:mod:`~reluscope.sparsity.decide` (:func:`is_closed`, the one decision path);
:mod:`~reluscope.sparsity.check` (:func:`verify`); :mod:`~reluscope.sparsity.existence`
and :mod:`~reluscope.sparsity.sweep` on top.
"""
from .certificates import (
    CertificateCheck,
    ClosedCertificate,
    ClosednessVerdict,
    LaurentPoly,
    NotClosedCertificate,
    certificate_from_dict,
)
from .check import register_closed_rule, verify
from .decide import is_closed
from .existence import ExistenceVerdict, optimum_exists, relu_lift
from .families import find_degeneration_certificate, lu_certificate
from .pattern import Component, SparsityPattern, SupportClass

__all__ = [
    "SparsityPattern",
    "SupportClass",
    "Component",
    "LaurentPoly",
    "NotClosedCertificate",
    "ClosedCertificate",
    "ClosednessVerdict",
    "CertificateCheck",
    "certificate_from_dict",
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
from .sweep import sweep  # noqa: E402
from .repair import RepairResult, repair  # noqa: E402
from .deep_decide import Defect, DefectSearch, locate_defects  # noqa: E402

__all__ += ["sweep", "repair", "RepairResult", "locate_defects", "Defect", "DefectSearch"]
