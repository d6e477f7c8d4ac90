"""The inverse-stability ratio ``dist_sym(Gamma, Phi) / ||R(Gamma) - R(Phi)||^{1/2}``.

The numerator is the parameter distance searched by
:mod:`reluscope.stability.symmetric_distance` (an upper bound on ``dist_sym`` for plain
networks, so the ratio reported is an upper bound on the true ratio); the denominator
comes from :mod:`reluscope.distance`. For the pathology families the analytic lower
bounds of :mod:`reluscope.stability.pathologies` bound the true ratio from below.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from ..distance import sobolev_distance, sup_distance
from .._results import ResultMixin
from .._validation import check_choice, check_time_limit
from ..domain import Box
from ..errors import InvalidNetwork
from ..network import ReLUNetwork
from .restricted import RestrictedShallowNetwork, box_bounds
from .symmetric_distance import SymmetricParameterDistance, restricted_parameter_distance, symmetric_parameter_distance

__all__ = ["InverseStabilityRatio", "inverse_stability_ratio", "drop_null_neurons"]


@dataclasses.dataclass(frozen=True)
class InverseStabilityRatio(ResultMixin):
    """Result of :func:`inverse_stability_ratio`.

    The measured ratio is ``parameter_distance / sqrt(||R(gamma) - R(phi)||)``. When the
    function distance is decided (``status == "exact"``) it is the point ``ratio``; when it
    is not (time limit, numerical risk, ...), only the interval ``ratio_interval`` is
    known, ``ratio`` is ``None`` and ``status == "undecided"`` -- never a point that looks
    exact.

    Attributes
    ----------
    parameter_distance:
        The searched distance (see :class:`SymmetricParameterDistance`; an upper bound for plain
        networks).
    function_lower, function_upper, function_exact, function_status:
        Bounds on ``||R(gamma) - R(phi)||`` from :mod:`reluscope.distance` and that
        result's status (``"optimal"``, ``"time_limit"``, ``"numerical_risk"``, ...).
    status:
        ``"exact"`` when the function distance is exact, else ``"undecided"``.
    ratio:
        ``parameter_distance / sqrt(function distance)`` when ``status == "exact"`` (``inf``
        when the realizations agree, ``nan`` when in addition the parameter distance is
        0); ``None`` when undecided.
    ratio_interval:
        ``(parameter_distance / sqrt(function_upper), parameter_distance / sqrt(function_lower))``:
        the measured ratio lies in it whatever the undecided function distance is (both
        ends equal ``ratio`` up to the distance's tolerance when exact).
    ratio_upper:
        ``parameter_distance / sqrt(function_lower)`` (the interval's upper end): an upper
        bound on the true ratio (true parameter distance <= searched one, true norm >= its
        lower bound).
    ratio_lower:
        ``distance_lower_bound / sqrt(function_upper)`` when an analytic lower bound on the
        true parameter distance was given, else ``None``: a lower bound on the true ratio,
        valid whether or not the function distance is decided (0 when its upper bound is
        infinite).
    """

    norm: str
    parameter_distance: float
    parameter_exact: bool
    method: str
    function_lower: float
    function_upper: float
    function_exact: bool
    ratio: float | None
    ratio_upper: float
    ratio_lower: float | None
    distance_lower_bound: float | None
    search: SymmetricParameterDistance
    status: str = "exact"
    ratio_interval: tuple[float, float] = (math.nan, math.nan)
    function_status: str = "optimal"

    @property
    def decided(self) -> bool:
        """Whether the function distance, hence the measured ratio, is decided."""
        return self.status == "exact"

    def __str__(self) -> str:
        lower = "" if self.ratio_lower is None else f", true ratio >= {self.ratio_lower:.6g}"
        kind = "exact" if self.parameter_exact else "searched upper bound"
        if self.decided:
            return (f"inverse-stability ratio ({self.norm}): {self.ratio:.6g} = {self.parameter_distance:.6g} ({kind}) "
                    f"/ sqrt({self.function_upper:.6g}){lower}")
        lo, hi = self.ratio_interval
        return (f"inverse-stability ratio ({self.norm}): undecided, in [{lo:.6g}, {hi:.6g}] = "
                f"{self.parameter_distance:.6g} ({kind}) / sqrt([{self.function_lower:.6g}, {self.function_upper:.6g}]) "
                f"(function distance {self.function_status}){lower}")


def drop_null_neurons(net: ReLUNetwork) -> ReLUNetwork:
    """The same function everywhere without neurons that contribute nothing identically
    (``c_i = 0``, or ``(a_i, b_i) = 0`` so that ``relu(0) = 0``); at least one neuron is kept
    (a constant-negative one, if needed). Only used to hand the distance module a network
    without pre-activations that vanish identically."""
    if net.depth != 2:
        return net
    A, b, C = net.weights[0], net.biases[0], net.weights[1]
    keep = ((np.abs(A).sum(axis=1) + np.abs(b)) > 0) & (np.abs(C).sum(axis=0) > 0)
    if keep.all():
        return net
    if not keep.any():
        return ReLUNetwork([np.zeros((1, net.input_dim)), np.zeros((net.output_dim, 1))],
                           [np.array([-1.0]), net.biases[1]])
    return ReLUNetwork([A[keep], C[:, keep]], [b[keep], net.biases[1]])


def _safe_ratio(num: float, den: float) -> float:
    if den > 0:
        return num / math.sqrt(den)
    return math.nan if num == 0 else math.inf


def inverse_stability_ratio(
    gamma: ReLUNetwork | RestrictedShallowNetwork,
    phi: ReLUNetwork | RestrictedShallowNetwork,
    domain: Any = None,
    norm: str = "sobolev",
    *,
    distance_lower_bound: float | None = None,
    time_limit: float = 30.0,
    use_degeneracy: bool = True,
) -> InverseStabilityRatio:
    """``dist_sym(gamma, phi) / ||R(gamma) - R(phi)||^{1/2}`` on a box.

    Parameters
    ----------
    gamma, phi:
        Shallow scalar-output networks. Two plain :class:`ReLUNetwork` s: the parameter
        distance is :func:`symmetric_parameter_distance` (an upper bound on the infimum over
        all parametrizations of ``R(phi)``). A :class:`RestrictedShallowNetwork` ``gamma``:
        :func:`restricted_parameter_distance` (distance within the restricted set).
    domain:
        Box ``Omega`` (default ``[-1, 1]^d``).
    norm:
        ``"sobolev"`` (``W^{1,inf}``, :func:`reluscope.distance.sobolev_distance`) or
        ``"sup"`` (:func:`reluscope.distance.sup_distance`); both computed exactly (MILP)
        up to ``time_limit``, else reported as bounds. Neurons that vanish identically
        (``c_i = 0`` or ``(a_i, b_i) = 0``) are dropped before (the functions are unchanged).
    distance_lower_bound:
        An analytic lower bound on the true parameter distance (e.g.
        ``PathologyFamily.distance_lower_bound(n)``), giving ``ratio_lower``.
    time_limit:
        Seconds for the function distance.
    use_degeneracy:
        Passed to :func:`symmetric_parameter_distance`.

    Returns
    -------
    InverseStabilityRatio
        ``status == "exact"`` and the point ``ratio`` when the function distance is exact;
        otherwise ``status == "undecided"``, ``ratio is None`` and ``ratio_interval`` the
        range of ratios the function distance's bounds allow. ``ratio_lower`` (given
        ``distance_lower_bound``) bounds the true ratio from below in both cases.
    """
    norm = check_choice(norm, ("sobolev", "sup"), "norm")
    time_limit = check_time_limit(time_limit)
    if isinstance(gamma, RestrictedShallowNetwork):
        d = gamma.input_dim
        box = Box(*box_bounds(domain, d))
        search = restricted_parameter_distance(gamma, phi, box)
        f_net = gamma.to_network(box)
        g_net = phi.to_network(box) if isinstance(phi, RestrictedShallowNetwork) else phi
    else:
        if isinstance(phi, RestrictedShallowNetwork):
            raise InvalidNetwork("gamma is a plain network but phi is restricted; convert phi with .to_network()")
        d = gamma.input_dim
        box = Box(*box_bounds(domain, d))
        search = symmetric_parameter_distance(gamma, phi, box, use_degeneracy=use_degeneracy)
        f_net, g_net = gamma, phi
    f_net, g_net = drop_null_neurons(f_net), drop_null_neurons(g_net)
    if norm == "sup":
        res = sup_distance(f_net, g_net, box, time_limit=time_limit)
    else:
        res = sobolev_distance(f_net, g_net, box, time_limit=time_limit)
    lower, upper = max(float(res.lower), 0.0), float(res.upper)
    decided = bool(res.exact)
    ratio = _safe_ratio(search.distance, upper) if decided else None
    interval = (_safe_ratio(search.distance, upper) if math.isfinite(upper) else 0.0,
                _safe_ratio(search.distance, lower))
    ratio_lower = None
    if distance_lower_bound is not None:
        ratio_lower = _safe_ratio(float(distance_lower_bound), upper) if math.isfinite(upper) else 0.0
    return InverseStabilityRatio(
        norm, float(search.distance), bool(search.exact), search.method, lower, upper, decided,
        None if ratio is None else float(ratio), float(interval[1]), ratio_lower,
        None if distance_lower_bound is None else float(distance_lower_bound), search,
        "exact" if decided else "undecided", (float(interval[0]), float(interval[1])), str(res.status),
    )
