"""Symmetries of ReLU parametrizations: rescaling, permutation, balancing, canonical forms,
alignment, exact equivalence and the parameter distance modulo symmetry.

One module per purpose:

* :mod:`~reluscope.symmetry.actions` -- the two symmetries (:func:`rescale`,
  :func:`permute`) and the layer-indexing convention (``layer`` is the 1-based index of a
  hidden layer everywhere in this package);
* :mod:`~reluscope.symmetry.balancing` -- :func:`balance`, :func:`balance_result`;
* :mod:`~reluscope.symmetry.alignment` -- :func:`align`, :class:`Alignment`,
  :func:`apply_alignment`;
* :mod:`~reluscope.symmetry.equivalence` -- :func:`equivalent`, :class:`Equivalence`;
* :mod:`~reluscope.symmetry.canonical` -- :func:`canonical_form`;
* :mod:`~reluscope.symmetry.merging` -- :func:`interpolate`, :func:`merge`, :class:`Merge`;
* :mod:`~reluscope.symmetry.parameter_distance` -- :func:`parameter_distance`,
  :class:`ParameterDistance`.

The actions, and so balancing, alignment and the canonical form, leave the realization
unchanged everywhere (see ``docs/background/symmetries.md``).
"""

from __future__ import annotations

from .actions import permute, rescale
from .alignment import Alignment, align, apply_alignment
from .balancing import Balancing, balance, balance_result
from .canonical import canonical_form
from .equivalence import Equivalence, equivalent
from .merging import Merge, interpolate, merge
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
    "interpolate",
    "merge",
    "Merge",
]
