"""Degenerate hidden neurons on a domain, and reduction to a smaller network with the same
realization on the domain.

* :mod:`reluscope.degeneracy.status` -- :func:`degeneracies`: the status of every hidden
  neuron (dead, always active, zero incoming/outgoing, parallel, opposite, unbalanced),
  proven or undecided, in a :class:`DegeneracyReport`;
* :mod:`reluscope.degeneracy.search` -- the open questions of large networks settled by the
  branch and bound of :mod:`reluscope.search`;
* :mod:`reluscope.degeneracy.rules` -- :func:`reduction` / :func:`reduce`: the smaller
  network, by rules whose premises are proven, logged in a :class:`NetworkReduction`.
"""

from __future__ import annotations

from .rules import NetworkReduction, reduce, reduction
from .status import DegeneracyReport, NeuronStatus, degeneracies

__all__ = [
    "NeuronStatus",
    "DegeneracyReport",
    "degeneracies",
    "NetworkReduction",
    "reduction",
    "reduce",
]
