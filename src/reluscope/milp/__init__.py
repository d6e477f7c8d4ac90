"""Mixed-integer linear encodings of ReLU networks, solved by HiGHS through ``scipy.optimize.milp``.

The solver layer below :mod:`reluscope.degeneracy` and :mod:`reluscope.distance`:

* :mod:`reluscope.milp.solve` -- the HiGHS call (:class:`SolveOutcome`, time limits from a
  budget, solver chatter kept off stdout);
* :mod:`reluscope.milp.builder` -- :class:`MILPBuilder`, a sparse MILP assembled piece by piece;
* :mod:`reluscope.milp.encode` -- :func:`encode_network` (big-M encoding of a network, one
  binary per neuron of unknown sign) and :func:`encode_jacobian_column`;
* :mod:`reluscope.milp.bounds` -- :func:`interval_bounds`, :func:`preactivation_bounds`
  (interval, LP-tightened or exact MILP bounds) and :func:`neuron_range`.
"""

from __future__ import annotations

from .bounds import LayerBounds, NeuronRange, interval_bounds, neuron_range, preactivation_bounds
from .builder import MILPBuilder
from .encode import EncodedNetwork, encode_jacobian_column, encode_network, pad_bounds
from .solve import SolveOutcome

__all__ = [
    "LayerBounds",
    "NeuronRange",
    "interval_bounds",
    "preactivation_bounds",
    "neuron_range",
    "MILPBuilder",
    "SolveOutcome",
    "EncodedNetwork",
    "encode_network",
    "encode_jacobian_column",
    "pad_bounds",
]
