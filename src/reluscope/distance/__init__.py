"""Exact function-space distances between ReLU networks.

* :func:`sup_distance` -- ``sup_Ω max_k |f_k(x) - g_k(x)|`` (uniform norm);
* :func:`sobolev_distance` -- the ``W^{1,∞}`` distance ``max(sup|f - g|, ess sup |∇(f - g)|)``
  with the gradient measured by its largest absolute entry (over outputs and inputs);
* :func:`lipschitz_constant` -- ``ess sup max_{k,j} |∂f_k/∂x_j|`` (the case ``g = 0``);
* :func:`split_lp_bound` -- an upper bound on ``max sign (f - g)_k`` by input-domain splitting;
* :func:`epsilon_equivalent`, :func:`top1_agreement` -- differential questions for a network
  and its compressed copy, proved / refuted / undecided per box;
* :func:`output_range` -- brackets of every output's minimum and maximum over a box (the
  branch and bound of :mod:`reluscope.search`).

The first three also accept a union of boxes (:class:`~reluscope.Boxes`, e.g. the
neighbourhoods ``PointSet(X).neighbourhood(eps)`` of data points).

Exact answers come from mixed-integer linear programs solved by HiGHS through
:func:`scipy.optimize.milp` (encodings in :mod:`reluscope.milp`). Every result carries a
``lower`` bound, attained at ``witness`` (the real networks are re-evaluated there; the
solver's objective is never trusted for the lower bound), and an ``upper`` bound (the
solver's dual bound, slightly rounded outward). ``exact`` means ``upper - lower`` is within
the solver tolerance. When the time limit hits, ``lower < upper`` is reported as it is.
See ``docs/background/distances.md`` for the mathematics.

Submodules, one purpose each:

* :mod:`~reluscope.distance.results` -- :class:`DistanceResult`, :class:`SobolevResult`;
* :mod:`~reluscope.distance.sup` -- :func:`sup_distance` and its time-budgeted MILP phase;
* :mod:`~reluscope.distance.gradient` -- :func:`sobolev_distance`, :func:`lipschitz_constant`;
* :mod:`~reluscope.distance.relax` -- relaxation bounds used when MILPs do not close,
  :func:`split_lp_bound`;
* :mod:`~reluscope.distance.enumeration` -- the region-enumeration route (low dimension);
* :mod:`~reluscope.distance.lower` -- sampling and local ascent (lower bounds, witnesses);
* :mod:`~reluscope.distance.pointwise` -- values and Jacobians of ``f - g`` at points;
* :mod:`~reluscope.distance.control` -- option checks, cutoffs, HiGHS retries;
* :mod:`~reluscope.distance.neighbourhoods` -- unions of boxes: engine bounds per box at
  once, the largest ones tightened by the single-box method;
* :mod:`~reluscope.distance.differential` -- :func:`epsilon_equivalent`, :func:`top1_agreement`;
* :mod:`~reluscope.distance.lipschitz_search` -- gradient norms by the branch and bound (4-12 inputs);
* :mod:`~reluscope.distance.extremes` -- :func:`output_range`.

The parameter distance moved to :func:`reluscope.symmetry.parameter_distance`.
"""

from __future__ import annotations

from .differential import DifferentialVerdict, epsilon_equivalent, top1_agreement
from .extremes import OutputRange, output_range
from .gradient import lipschitz_constant, sobolev_distance
from .relax import split_lp_bound
from .results import DistanceResult, SobolevResult
from .sup import sup_distance

__all__ = [
    "DistanceResult",
    "SobolevResult",
    "sup_distance",
    "sobolev_distance",
    "lipschitz_constant",
    "split_lp_bound",
    "DifferentialVerdict",
    "epsilon_equivalent",
    "top1_agreement",
    "OutputRange",
    "output_range",
]
