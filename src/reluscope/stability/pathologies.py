"""Reproducible families where inverse stability fails (d = 1, Omega = [-1, 1]).

Each family is a function of ``n`` returning a pair ``(gamma, g_n)`` of
:class:`~reluscope.ReLUNetwork` s of the *same* architecture. Along every family the
function distance ``||R(g_n) - R(gamma)||`` tends to 0 (family 0: only in the uniform
norm), while every parametrization of ``R(g_n)`` of that architecture stays far from
``gamma`` in the parameter max-norm. The lower bound on that distance is
:attr:`PathologyFamily.distance_lower_bound` (proved in the background page
``docs/background/inverse-stability.md``), and the exact function distances are
:meth:`PathologyFamily.function_distance`. Both are analytic; the numerical
measurement is :func:`reluscope.stability.inverse_stability_ratio`.

Families (index, name: gamma / g_n; lower bound on the parameter distance):

* 0, ``uniform-norm``: ``0`` (width m) / ``(1/n)[relu(n^2 x) - relu(n^2 x - 1)]``; ``sqrt(n/m)``
* 1, ``unbalanced-neuron``: ``(a, b, c) = (1, 0, 0)`` / ``(1/n) relu(x - 1/2)``; ``1/3``
* 2, ``cancelling-parallel``: ``relu(x) - relu(x)`` / ``(1/n) relu(x - 1/2)``; ``1/3``
* 3, ``dead-neuron``: ``relu(x - 2)`` / ``(1/n) relu(x)``; ``2``
* 4, ``opposite-directions``: ``relu(x + 1/2) - relu(-x - 1/2) - 1/2`` / ``x + (1/n) relu(x - 1/2)``; ``2/3``
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from ..domain import Box
from .._validation import check_choice, check_int
from ..errors import InvalidArgument
from ..network import ReLUNetwork

__all__ = [
    "PathologyFamily",
    "FAMILIES",
    "get_family",
    "uniform_norm_family",
    "unbalanced_neuron_family",
    "cancelling_parallel_family",
    "dead_neuron_family",
    "opposite_directions_family",
    "DOMAIN",
]

#: The domain every family lives on.
DOMAIN = Box(-1.0, 1.0)


def _shallow(a: list[float], b: list[float], c: list[float], e: float = 0.0) -> ReLUNetwork:
    """Width-``len(a)`` shallow network ``x -> sum_i c_i relu(a_i x + b_i) + e`` on R."""
    return ReLUNetwork(
        [np.asarray(a, dtype=float).reshape(-1, 1), np.asarray(c, dtype=float).reshape(1, -1)],
        [np.asarray(b, dtype=float), np.array([e], dtype=float)],
    )


def _check_n(n: int) -> int:
    return check_int(n, "pathology family index n", minimum=1)


def uniform_norm_family(n: int, width: int = 2) -> tuple[ReLUNetwork, ReLUNetwork]:
    """Family 0, *the uniform norm fails*: ``gamma = 0`` (width ``m``) and
    ``g_n(x) = (1/n)[relu(n^2 x) - relu(n^2 x - 1)]``.

    Converges: ``||g_n||_inf = 1/n -> 0``. Does not converge: the slope is ``n`` on
    ``(0, 1/n^2)``, so ``||g_n||_{W^{1,inf}} = n -> inf``. Any width-``m``
    parametrization of ``g_n`` has ``||Phi||_inf >= sqrt(n/m)`` (the slope of a shallow
    1-D network is at most ``m ||Phi||_inf^2``), so in the uniform norm the ratio
    ``dist / ||g_n||_inf^{1/2} >= n / sqrt(m)`` is unbounded; in ``W^{1,inf}`` the
    balanced parametrization of size ``~sqrt(n)`` keeps the ratio bounded.
    """
    n = _check_n(n)
    if check_int(width, "width") < 2:
        raise InvalidArgument(f"uniform_norm_family needs width >= 2 to realize g_n; got {width}")
    zeros = [0.0] * width
    gamma = _shallow(zeros, zeros, zeros)
    pad = [0.0] * (width - 2)
    g = _shallow([n * n, n * n] + pad, [0.0, -1.0] + pad, [1.0 / n, -1.0 / n] + pad)
    return gamma, g


def unbalanced_neuron_family(n: int) -> tuple[ReLUNetwork, ReLUNetwork]:
    """Family 1, *unbalanced neuron*: ``gamma = (a, b, c) = (1, 0, 0)`` (realizes 0) and
    ``g_n = (1/n) relu(x - 1/2)`` (width 1).

    Converges: ``||g_n||_inf = 1/(2n)``, ``||g_n||_{W^{1,inf}} = 1/n``. Does not converge:
    every width-1 parametrization of ``g_n`` on ``[-1, 1]`` is ``(a, -a/2, 1/(n a))``
    with ``a > 0`` and output bias 0, at distance ``>= 1/3`` from gamma. The balanced
    zero ``(0, 0, 0)`` would reach ``g_n`` at distance ``~ n^{-1/2}``.
    """
    n = _check_n(n)
    return _shallow([1.0], [0.0], [0.0]), _shallow([1.0], [-0.5], [1.0 / n])


def cancelling_parallel_family(n: int) -> tuple[ReLUNetwork, ReLUNetwork]:
    """Family 2, *cancelling parallel neurons*: ``gamma = relu(x) - relu(x)`` (width 2,
    realizes 0) and ``g_n = (1/n) relu(x - 1/2)`` (padded with a zero neuron).

    Converges: as in family 1. Does not converge: a kink at ``1/2`` needs a neuron with
    ``b = -a/2``, ``a != 0``, while both neurons of gamma are ``(a, b) = (1, 0)``:
    distance ``>= 1/3``.
    """
    n = _check_n(n)
    return _shallow([1.0, 1.0], [0.0, 0.0], [1.0, -1.0]), _shallow([1.0, 0.0], [-0.5, 0.0], [1.0 / n, 0.0])


def dead_neuron_family(n: int) -> tuple[ReLUNetwork, ReLUNetwork]:
    """Family 3, *dead neuron*: ``gamma = relu(x - 2)`` (never active on ``[-1, 1]``,
    realizes 0) and ``g_n = (1/n) relu(x)`` (width 1).

    Converges: ``||g_n||_inf = ||g_n||_{W^{1,inf}} = 1/n``. Does not converge: a kink
    at 0 needs ``b = 0``, distance ``>= |0 - (-2)| = 2``.
    """
    n = _check_n(n)
    return _shallow([1.0], [-2.0], [1.0]), _shallow([1.0], [0.0], [1.0 / n])


def opposite_directions_family(n: int) -> tuple[ReLUNetwork, ReLUNetwork]:
    """Family 4, *opposite directions*: ``gamma = relu(x + 1/2) - relu(-x - 1/2) - 1/2``
    (realizes ``x``) and ``g_n = x + (1/n) relu(x - 1/2)``, written on ``[-1, 1]`` as
    ``relu(x + 1) - 1 + (1/n) relu(x - 1/2)`` (width 2).

    Converges: ``||g_n - x||_inf = 1/(2n)``, ``||g_n - x||_{W^{1,inf}} = 1/n``. Does not
    converge: one neuron must have its kink at ``1/2`` (``b = -a/2``), but both neurons of
    gamma have their kink at ``-1/2``: distance ``>= 2/3``.
    """
    n = _check_n(n)
    gamma = _shallow([1.0, -1.0], [0.5, -0.5], [1.0, -1.0], -0.5)
    g = _shallow([1.0, 1.0], [1.0, -0.5], [1.0, 1.0 / n], -1.0)
    return gamma, g


def _family1_exact(n: int) -> float:
    # inf over a > 0 of max(|a - 1|, a/2, 1/(n a)): the three pieces are quasi-convex in a,
    # so the infimum is attained where two of them cross (or at a = 2/3, where the first two do).
    # |a - 1| = a/2 at a = 2/3 and a = 2;  a/2 = 1/(n a) at a = sqrt(2/n);
    # 1 - a = 1/(n a): n a^2 - n a + 1 = 0;  a - 1 = 1/(n a): n a^2 - n a - 1 = 0.
    candidates = [2.0 / 3.0, 2.0, math.sqrt(2.0 / n), (n + math.sqrt(n * n + 4 * n)) / (2 * n)]
    disc = n * n - 4 * n
    if disc >= 0:
        candidates += [(n + s * math.sqrt(disc)) / (2 * n) for s in (-1.0, 1.0)]
    return min(max(abs(a - 1.0), a / 2.0, 1.0 / (n * a)) for a in candidates if a > 0)


@dataclasses.dataclass(frozen=True)
class PathologyFamily:
    """One pathology family with its analytic facts.

    Attributes
    ----------
    index, name, description:
        Identification (index as in the math notes).
    make:
        ``make(n) -> (gamma, g_n)``.
    distance_lower_bound:
        ``n -> L(n)``: every parametrization of ``R(g_n)`` on ``[-1, 1]`` in the family's
        architecture is at parameter max-norm distance ``>= L(n)`` from ``gamma``.
    sup_distance, sobolev_distance:
        ``n -> ||R(g_n) - R(gamma)||`` in the uniform and ``W^{1,inf}`` norm (exact).
    converges:
        Norms in which ``R(g_n) -> R(gamma)``.
    """

    index: int
    name: str
    description: str
    make: Callable[[int], tuple[ReLUNetwork, ReLUNetwork]]
    distance_lower_bound: Callable[[int], float]
    sup_distance: Callable[[int], float]
    sobolev_distance: Callable[[int], float]
    converges: tuple[str, ...]

    def __call__(self, n: int) -> tuple[ReLUNetwork, ReLUNetwork]:
        return self.make(n)

    def function_distance(self, n: int, norm: str = "sobolev") -> float:
        """Exact ``||R(g_n) - R(gamma)||`` on ``[-1, 1]`` in ``norm`` ("sup" or "sobolev")."""
        if check_choice(norm, ("sup", "sobolev"), "norm") == "sup":
            return self.sup_distance(n)
        return self.sobolev_distance(n)

    def ratio_lower_bound(self, n: int, norm: str = "sobolev") -> float:
        """Analytic lower bound ``L(n) / ||R(g_n) - R(gamma)||^{1/2}`` on the true ratio."""
        return self.distance_lower_bound(n) / math.sqrt(self.function_distance(n, norm))


FAMILIES: tuple[PathologyFamily, ...] = (
    PathologyFamily(
        0, "uniform-norm", "zero vs a steep small bump: close in sup, far in W^{1,inf}",
        uniform_norm_family, lambda n: math.sqrt(_check_n(n) / 2.0),
        lambda n: 1.0 / _check_n(n), lambda n: float(_check_n(n)), ("sup",),
    ),
    PathologyFamily(
        1, "unbalanced-neuron", "unbalanced zero neuron (1, 0, 0) vs (1/n) relu(x - 1/2)",
        unbalanced_neuron_family, lambda n: _family1_exact(_check_n(n)),
        lambda n: 0.5 / _check_n(n), lambda n: 1.0 / _check_n(n), ("sup", "sobolev"),
    ),
    PathologyFamily(
        2, "cancelling-parallel", "relu(x) - relu(x) vs (1/n) relu(x - 1/2)",
        cancelling_parallel_family, lambda n: 1.0 / 3.0,
        lambda n: 0.5 / _check_n(n), lambda n: 1.0 / _check_n(n), ("sup", "sobolev"),
    ),
    PathologyFamily(
        3, "dead-neuron", "dead neuron relu(x - 2) vs (1/n) relu(x)",
        dead_neuron_family, lambda n: 2.0,
        lambda n: 1.0 / _check_n(n), lambda n: 1.0 / _check_n(n), ("sup", "sobolev"),
    ),
    PathologyFamily(
        4, "opposite-directions", "relu(x+1/2) - relu(-x-1/2) - 1/2 = x vs x + (1/n) relu(x - 1/2)",
        opposite_directions_family, lambda n: 2.0 / 3.0,
        lambda n: 0.5 / _check_n(n), lambda n: 1.0 / _check_n(n), ("sup", "sobolev"),
    ),
)


def get_family(key: int | str) -> PathologyFamily:
    """The family with this index (0-4) or name."""
    for family in FAMILIES:
        if key == family.index or key == family.name:
            return family
    known = ", ".join(f"{f.index}/{f.name}" for f in FAMILIES)
    raise InvalidArgument(f"unknown pathology family {key!r}; known: {known}")
