"""Interpolation and merging of two networks of the same widths, after aligning one onto the
other by permutations **and** positive rescalings of hidden neurons.

Two independently trained networks can compute similar functions with their hidden neurons
in different orders and at different scales; averaging their parameters then mixes
unrelated neurons. :func:`interpolate` first maps ``b`` onto ``a`` with :func:`align` (which
leaves ``b``'s function unchanged everywhere) and then takes the straight line between the
parameter vectors. Weight matching (Git Re-Basin) searches permutations only; the
rescaling is the other half of the ReLU symmetry group (``docs/background/symmetries.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._results import ResultMixin
from .._validation import _is_real, check_network
from ..errors import InvalidArgument, InvalidNetwork
from ..network import ReLUNetwork
from .alignment import Alignment, _param_distance, align

__all__ = ["interpolate", "merge", "Merge"]


def _check_t(t: Any, name: str) -> float:
    if not (_is_real(t) and math.isfinite(float(t))):
        raise InvalidArgument(f"{name} must be a finite number (0 gives a, 1 gives b); got {t!r}")
    return float(t)


def _alignment_of(a: ReLUNetwork, b: ReLUNetwork, how: bool | Alignment) -> Alignment | None:
    if isinstance(how, Alignment):
        return how
    if how is True or how is False:
        return align(a, b) if how else None
    raise InvalidArgument(f"align must be True, False or an Alignment from reluscope.align(a, b); got {how!r}")


def _line(a: ReLUNetwork, b: ReLUNetwork, t: float) -> ReLUNetwork:
    """``(1 - t) a + t b`` parameter by parameter; masks: the union of the supports."""
    ws = [(1.0 - t) * wa + t * wb for wa, wb in zip(a.weights, b.weights)]
    bs = [(1.0 - t) * ba + t * bb for ba, bb in zip(a.biases, b.biases)]
    masks = None
    if a.masks is not None and b.masks is not None:
        masks = [ma | mb for ma, mb in zip(a.masks, b.masks)]
        ws = [np.where(m, w, 0.0) for m, w in zip(masks, ws)]
    return ReLUNetwork(ws, bs, masks)


def interpolate(a: ReLUNetwork, b: ReLUNetwork, t: float, *, align: bool | Alignment = True) -> ReLUNetwork:
    """The network ``(1 - t) a + t b'`` on the straight line between the parameters.

    Parameters
    ----------
    a, b:
        Networks with the same widths (not modified).
    t:
        Position on the line: ``0`` gives ``a`` exactly, ``1`` gives ``b'`` (a network computing
        the same function as ``b``); values outside ``[0, 1]`` extrapolate.
    align:
        ``True`` (default): ``b' = align(a, b).aligned``, ``b`` with its hidden neurons
        permuted and positively rescaled to be as close as possible to ``a`` in parameter
        space; ``False``: ``b' = b`` (naive averaging); or an :class:`Alignment` already
        computed by ``reluscope.align(a, b)`` (to trace a whole path without aligning again).

    Returns
    -------
    ReLUNetwork
        Dense unless both networks carry masks; then the masks are the union of the two
        supports (after alignment).

    Examples
    --------
    >>> import reluscope as rs
    >>> a = rs.ReLUNetwork.random((4, 8, 2), seed=0)
    >>> b = rs.ReLUNetwork.random((4, 8, 2), seed=1)
    >>> mid = rs.interpolate(a, b, 0.5)
    >>> mid.widths
    (4, 8, 2)
    """
    a = check_network(a, "a")
    b = check_network(b, "b")
    t = _check_t(t, "t")
    if a.widths != b.widths:
        raise InvalidNetwork(f"cannot interpolate networks of different widths: a {a.widths}, b {b.widths}")
    alignment = _alignment_of(a, b, align)
    target = b if alignment is None else alignment.apply(b)
    return _line(a, target, t)


@dataclass(frozen=True)
class Merge(ResultMixin):
    """Result of :func:`merge`.

    Attributes
    ----------
    network:
        The merged network ``(1 - alpha) a + alpha b'``.
    alpha:
        Weight of ``b``.
    aligned:
        Whether ``b`` was aligned onto ``a`` (permutations and rescalings) first.
    distance_before, distance_after:
        Euclidean parameter distance between ``a`` and ``b``, and between ``a`` and ``b'``
        (equal when ``aligned`` is false).
    alignment:
        The :class:`Alignment` used, or ``None``.
    """

    network: ReLUNetwork
    alpha: float
    aligned: bool
    distance_before: float
    distance_after: float
    alignment: Alignment | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "aligned": self.aligned,
            "widths": list(self.network.widths),
            "distance_before": self.distance_before,
            "distance_after": self.distance_after,
            "alignment": None if self.alignment is None else self.alignment.to_dict(),
        }

    def __str__(self) -> str:
        how = "after aligning b onto a (permutations and rescalings)" if self.aligned else "without alignment"
        return (
            f"merged network of widths {self.network.widths}: (1 - {self.alpha:g}) a + {self.alpha:g} b, {how}; "
            f"parameter distance a-b {self.distance_before:.6g}"
            + (f" -> {self.distance_after:.6g} after alignment" if self.aligned else "")
        )


def merge(a: ReLUNetwork, b: ReLUNetwork, alpha: float = 0.5, *, align: bool = True) -> Merge:
    """Merge two networks of the same widths: :func:`interpolate` at ``alpha`` with a report.

    Returns a :class:`Merge` with the merged network and the parameter distance between
    ``a`` and ``b`` before and after alignment.
    """
    a = check_network(a, "a")
    b = check_network(b, "b")
    alpha = _check_t(alpha, "alpha")
    if a.widths != b.widths:
        raise InvalidNetwork(f"cannot merge networks of different widths: a {a.widths}, b {b.widths}")
    alignment = _alignment_of(a, b, align)
    target = b if alignment is None else alignment.apply(b)
    before = _param_distance(a, b)
    after = before if alignment is None else _param_distance(a, target)
    return Merge(_line(a, target, alpha), alpha, alignment is not None, before, after, alignment)
