"""Alignment: the permutations and positive scales mapping one network as close as possible
onto another of the same widths."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._results import ResultMixin
from .._validation import check_int, check_network, check_tol
from ..errors import InvalidNetwork
from ..network import ReLUNetwork
from ._matching import _layer_perms, _refine
from .actions import FloatArray, _apply_all
from .balancing import balance_result

__all__ = ["Alignment", "apply_alignment", "align"]


@dataclass(frozen=True)
class Alignment(ResultMixin):
    """Result of :func:`align`: how to map ``other`` onto ``reference``.

    Attributes
    ----------
    permutations:
        One integer array per hidden layer (``permutations[l - 1]`` for 1-based layer ``l``).
    scales:
        One positive array per hidden layer.
    aligned:
        ``other`` with every hidden layer permuted by ``permutations`` (:func:`permute`
        convention: new neuron ``j`` is old neuron ``perm[j]``) and then rescaled by
        ``scales`` (:func:`rescale`): ``aligned = apply_alignment(other, self)``, except that
        dangling weights of neurons listed in ``zeroed`` are set to zero. Same realization as
        ``other`` everywhere.
    methods:
        Per hidden layer, how the permutation was found: ``"sort"`` (a sorted projection,
        verified), ``"assignment"`` (``scipy.optimize.linear_sum_assignment``), ``"refined"``
        (after coordinate-descent refinement).
    distance:
        Euclidean distance between the parameter vectors of ``reference`` and ``aligned``.
    zeroed:
        Dangling neurons of ``other`` (as in :class:`Balancing`) whose weights were zeroed.
    """

    permutations: tuple[NDArray[np.intp], ...]
    scales: tuple[FloatArray, ...]
    methods: tuple[str, ...]
    zeroed: tuple[tuple[int, int, str], ...] = ()
    # the aligned network and the distance are computed on first access (cached)
    _reference: ReLUNetwork | None = field(default=None, repr=False, compare=False)
    _aligned: ReLUNetwork | None = field(default=None, repr=False, compare=False)
    _make: Callable[[], ReLUNetwork] | None = field(default=None, repr=False, compare=False)
    _distance: float | None = field(default=None, repr=False, compare=False)

    @property
    def aligned(self) -> ReLUNetwork:
        """``other`` mapped onto ``reference`` (see the class docstring)."""
        if self._aligned is None:
            assert self._make is not None
            object.__setattr__(self, "_aligned", self._make())
        assert self._aligned is not None
        return self._aligned

    @property
    def distance(self) -> float:
        """Euclidean distance between the parameters of ``reference`` and ``aligned``."""
        if self._distance is None:
            assert self._reference is not None
            object.__setattr__(self, "_distance", _param_distance(self._reference, self.aligned))
        assert self._distance is not None
        return self._distance

    def apply(self, net: ReLUNetwork) -> ReLUNetwork:
        """Apply the permutations and then the scales to ``net`` (a network of the same widths)."""
        return apply_alignment(net, self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "permutations": [p.tolist() for p in self.permutations],
            "scales": [s.tolist() for s in self.scales],
            "methods": list(self.methods),
            "distance": self.distance,
            "zeroed": [list(z) for z in self.zeroed],
            "widths": list(self.aligned.widths),
        }

    def __str__(self) -> str:
        lines = [f"Alignment of widths {self.aligned.widths}: parameter distance {self.distance:.6g}"]
        for h, (p, s, m) in enumerate(zip(self.permutations, self.scales, self.methods), start=1):
            moved = int(np.sum(p != np.arange(p.size)))
            lines.append(
                f"  hidden layer {h}: {moved}/{p.size} neurons moved ({m}); scales in "
                f"[{float(np.min(s)):.4g}, {float(np.max(s)):.4g}]"
            )
        if self.zeroed:
            lines.append(f"  {len(self.zeroed)} dangling neuron(s) of the other network zeroed")
        return "\n".join(lines)


def apply_alignment(net: ReLUNetwork, alignment: Alignment) -> ReLUNetwork:
    """Permute then rescale every hidden layer of ``net`` as recorded in ``alignment``."""
    net = check_network(net)
    if len(alignment.permutations) != net.depth - 1 or any(
        p.size != n for p, n in zip(alignment.permutations, net.hidden_widths)
    ):
        raise InvalidNetwork(
            f"alignment for hidden widths {tuple(p.size for p in alignment.permutations)} does not fit "
            f"a network with widths {net.widths}"
        )
    return _apply_all(net, alignment.permutations, alignment.scales)


def _param_distance(a: ReLUNetwork, b: ReLUNetwork) -> float:
    total = 0.0
    for x, y in zip(a.weights + a.biases, b.weights + b.biases):
        d = x - y
        total += float(np.vdot(d, d))
    return float(np.sqrt(total))


def align(
    reference: ReLUNetwork,
    other: ReLUNetwork,
    *,
    tol: float = 1e-8,
    refine: int = 10,
    balance_tol: float = 1e-11,
) -> Alignment:
    """Permutations and positive scales mapping ``other`` as close as possible onto ``reference``.

    Both networks are balanced (:func:`balance_result`); then, hidden layer after hidden layer,
    ``other``'s balanced neurons are matched to ``reference``'s. A match is first tried by
    sorting a fixed random projection of the incoming rows (previous layer's permutation
    applied) and biases, accepted only if every pair agrees entrywise to the relative ``tol``;
    when that fails (near ties, or the networks differ) an optimal assignment
    (:func:`scipy.optimize.linear_sum_assignment` on squared distances of descriptors made of
    the incoming row, bias and outgoing column, or permutation-invariant features of it when
    the next layer is hidden) is used, and up to ``refine`` coordinate-descent sweeps then
    improve the permutations (maximizing the inner product of the balanced parameter
    vectors). Finally the scales map the balanced gauge back to ``reference``'s gauge, so
    that for equivalent networks ``aligned`` equals ``reference``.

    Parameters
    ----------
    reference, other:
        Networks with the same widths (not modified).
    tol:
        Entrywise relative tolerance of the sorted-match check.
    refine:
        Maximum number of refinement sweeps when a layer needed an assignment.
    balance_tol:
        Tolerance passed to :func:`balance_result`.

    Returns
    -------
    Alignment
    """
    reference = check_network(reference, "reference")
    other = check_network(other, "other")
    tol = check_tol(tol, "tol")
    refine = check_int(refine, "refine", minimum=0)
    balance_tol = check_tol(balance_tol, "balance_tol", positive=True)
    if reference.widths != other.widths:
        raise InvalidNetwork(
            f"cannot align networks of different widths: reference {reference.widths}, other {other.widths}"
        )
    ra = balance_result(reference, tol=balance_tol)
    rb = balance_result(other, tol=balance_tol)
    A, B = ra.network, rb.network
    n_hidden = reference.depth - 1
    if n_hidden == 0:
        return Alignment((), (), (), (), reference, other)
    perms, methods = _layer_perms(A.weights, A.biases, B.weights, B.biases, tol)
    if refine > 0 and any(m == "assignment" for m in methods):
        _refine(A, B, perms, methods, refine)
    # other -> balanced other (scale sb) -> permute -> reference gauge (divide by sa):
    # permute(rescale(other, sb), p) = rescale(permute(other, p), sb[p])
    scales = [rb.scales[h][perms[h]] / ra.scales[h] for h in range(n_hidden)]
    aligned = _apply_all(B, perms, [1.0 / s for s in ra.scales])
    for s in scales:
        s.setflags(write=False)
    for p in perms:
        p.setflags(write=False)
    return Alignment(tuple(perms), tuple(scales), tuple(methods), rb.zeroed, reference, aligned)
