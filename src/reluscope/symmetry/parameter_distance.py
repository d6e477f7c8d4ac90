"""Parameter-space distance between two networks, modulo the rescaling and permutation
symmetries (the weights are compared after aligning ``g`` onto ``f``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._results import ResultMixin
from .._validation import check_network
from ..errors import InvalidNetwork
from ..network import ReLUNetwork
from .alignment import align

__all__ = ["ParameterDistance", "parameter_distance"]


@dataclass(frozen=True)
class ParameterDistance(ResultMixin):
    """Max-norm parameter distance ``max |θ_f - θ_g|`` (after alignment when requested).

    ``aligned`` is the network compared with ``f`` (``g`` itself, or ``g`` permuted and
    rescaled: the same function as ``g``); ``before`` is the distance without alignment.
    """

    distance: float
    before: float
    modulo_symmetry: bool
    aligned: ReLUNetwork
    method: str

    def to_dict(self) -> dict:
        return {"distance": self.distance, "before": self.before,
                "modulo_symmetry": self.modulo_symmetry, "method": self.method,
                "widths": list(self.aligned.widths)}

    def __str__(self) -> str:
        how = "modulo permutation and rescaling" if self.modulo_symmetry else "as given"
        return f"parameter distance (max norm, {how}) = {self.distance:.9g} (before alignment {self.before:.9g})"


def _max_abs_diff(a: ReLUNetwork, b: ReLUNetwork) -> float:
    return float(np.max(np.abs(a.to_vector() - b.to_vector())))


def parameter_distance(f: ReLUNetwork, g: ReLUNetwork, *, modulo_symmetry: bool = True) -> ParameterDistance:
    """Max-norm parameter distance ``||θ_f - θ_g||_∞`` (largest absolute entry difference).

    Parameters
    ----------
    f, g:
        Networks with the same widths.
    modulo_symmetry:
        Align ``g`` onto ``f`` first (:func:`reluscope.symmetry.align`: a permutation and a
        positive rescaling of every hidden layer, which leave ``g``'s realization unchanged)
        and measure the distance to the aligned network. The alignment is the one the
        symmetry module finds (balanced matching plus assignment refinement); it is not
        guaranteed to minimize the max norm, so the result is an upper bound on the
        distance minimized over the symmetry orbit of ``g`` (and never above the distance
        without alignment, which is also tried).
    """
    check_network(f, "f")
    check_network(g, "g")
    if f.widths != g.widths:
        raise InvalidNetwork(f"parameter distance needs the same widths; got {f.widths} and {g.widths}")
    before = _max_abs_diff(f, g)
    if not modulo_symmetry or f.depth == 1:
        return ParameterDistance(before, before, bool(modulo_symmetry), g, "none")
    al = align(f, g)
    aligned = al.aligned
    dist = _max_abs_diff(f, aligned)
    if dist > before:
        return ParameterDistance(before, before, True, g, "identity")
    return ParameterDistance(dist, before, True, aligned, "align")
