"""Pre-activation bounds of a ReLU network over a domain: interval, LP-tightened, exact.

* :func:`interval_bounds` -- pre-activation bounds of every layer over a box by interval
  arithmetic (exact for the first layer);
* :func:`preactivation_bounds` -- the same bounds tightened by linear programming over the
  triangle relaxation (``method="lp"``) or computed exactly by one MILP per neuron
  (``method="milp"``), each bound flagged *exact* when a point of the domain attains it;
* :func:`neuron_range` -- the exact minimum and maximum of one neuron's pre-activation.

The LP and MILP bounds solve the encoding of :mod:`reluscope.milp.encode` (relaxed for
``"lp"``), layer by layer, each layer's big-M taken from the bounds of the layers before.

Layer numbering: ``layer`` arguments are 1-based, layer ``l`` being the ``l``-th affine map;
layers ``1 .. depth-1`` are hidden layers and layer ``depth`` is the output layer. Lists
returned by the bound functions have one entry per affine layer (index ``l - 1``).

Every bound returned here is an *outer* bound (valid for every point of the domain) up to
the solver's feasibility tolerance; ``exact`` marks the bounds that are attained, checked by
re-evaluating the real network at the solver's point (never trusting the solver's objective).
Time limits are :class:`~reluscope._budget.Budget` objects: the tightening loops check it
between two solves, so they stop on time with the bounds reached so far (still valid).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .._budget import Budget
from .._results import ResultMixin
from .._validation import check_choice, check_int, check_network, check_tol
from ..domain import Box, PointSet, as_domain
from ..bounds import affine_range, layer_bounds
from ..network import ReLUNetwork
from .builder import MILPBuilder
from .encode import encode_network
from .solve import solver_budget

__all__ = [
    "LayerBounds",
    "NeuronRange",
    "interval_bounds",
    "preactivation_bounds",
    "neuron_range",
]

@dataclass(frozen=True)
class LayerBounds(ResultMixin):
    """Bounds of the pre-activations of one layer over a domain.

    Attributes
    ----------
    lower, upper:
        Arrays of shape ``(N_l,)``: ``lower <= z(x) <= upper`` for every ``x`` in the domain.
    exact_lower, exact_upper:
        Boolean arrays: the bound is attained by a point of the domain (up to ``tol``).
    exact:
        ``exact_lower & exact_upper``.
    method:
        ``"interval"``, ``"lp"``, ``"milp"`` or ``"points"`` (finite point set).
    """

    lower: np.ndarray
    upper: np.ndarray
    exact_lower: np.ndarray
    exact_upper: np.ndarray
    exact: np.ndarray = field(init=False)
    method: str = "interval"

    def __post_init__(self) -> None:
        for name in ("lower", "upper"):
            arr = np.array(getattr(self, name), dtype=np.float64, copy=True)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        for name in ("exact_lower", "exact_upper"):
            arr = np.array(getattr(self, name), dtype=bool, copy=True)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        ex = self.exact_lower & self.exact_upper
        ex.setflags(write=False)
        object.__setattr__(self, "exact", ex)

    def __iter__(self):  # allows ``lo, hi = bounds``
        yield self.lower
        yield self.upper

    @property
    def width(self) -> int:
        return int(self.lower.size)

    def __str__(self) -> str:
        return (f"LayerBounds({self.width} neurons, method={self.method}, "
                f"{int(self.exact.sum())} exact; lower min {self.lower.min():.4g}, "
                f"upper max {self.upper.max():.4g})")


@dataclass(frozen=True)
class NeuronRange(ResultMixin):
    """Range of one neuron's pre-activation over a domain.

    ``lower <= z(x) <= upper`` for every ``x`` of the domain; ``exact_lower`` /
    ``exact_upper`` say that the bound is attained, at ``witness_min`` / ``witness_max``
    (the real network's value there equals the bound up to the tolerance). After a time
    limit the bounds remain valid but are flagged not exact.
    """

    layer: int
    neuron: int
    lower: float
    upper: float
    exact_lower: bool
    exact_upper: bool
    witness_min: np.ndarray | None
    witness_max: np.ndarray | None
    status: str
    seconds: float

    @property
    def exact(self) -> bool:
        return bool(self.exact_lower and self.exact_upper)

    def __str__(self) -> str:
        def tag(ok: bool) -> str:
            return "exact" if ok else "bound"
        return (f"neuron {self.neuron} of layer {self.layer}: pre-activation in "
                f"[{self.lower:.6g} ({tag(self.exact_lower)}), {self.upper:.6g} ({tag(self.exact_upper)})] "
                f"[{self.status}, {self.seconds:.2f}s]")


def _close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * (1.0 + max(abs(a), abs(b)))


def interval_bounds(net: ReLUNetwork, box: Box | str | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pre-activation bounds of every affine layer over a box by interval arithmetic.

    Parameters
    ----------
    net:
        The network.
    box:
        A :class:`~reluscope.Box` (``None``: ``[-1, 1]^d``; a string is parsed).

    Returns
    -------
    list of (lower, upper)
        One pair per affine layer (hidden layers then the output layer). The bounds of
        layer 1 are exact (attained at vertices of the box); later ones are outer bounds.
    """
    return [(b.lower, b.upper) for b in _engine_layer_bounds(net, box, "interval")]


def _pointset_bounds(net: ReLUNetwork, points: PointSet) -> list[LayerBounds]:
    Z = net.preactivations(points.points)
    out = []
    for z in Z:
        t = np.ones(z.shape[1], dtype=bool)
        out.append(LayerBounds(z.min(axis=0), z.max(axis=0), t, t, method="points"))
    return out


def _engine_layer_bounds(net: ReLUNetwork, box, tier: str) -> list[LayerBounds]:
    """The bound engine's bounds as :class:`LayerBounds`; layer 1 is flagged exact (its
    bounds are attained at box vertices, up to the engine's rounding allowance, far below
    ``tol``)."""
    engine = layer_bounds(net, box, method=tier)
    out = []
    for layer, (lo, hi) in enumerate(engine.pairs()):
        if layer == 0:  # the attained values themselves (the box's optimizing vertices)
            lo, hi = affine_range(net.weights[0], net.biases[0], *as_domain(box, net.input_dim).bounds(net.input_dim), pad=False)
        ex = np.full(lo.shape, layer == 0)
        out.append(LayerBounds(lo, hi, ex, ex, method=tier))
    return out


def _refine_layer(net: ReLUNetwork, lo_x: np.ndarray, hi_x: np.ndarray, bounds: list[LayerBounds],
                  layer: int, relax: bool, budget: Budget, mip_rel_gap: float, tol: float) -> LayerBounds:
    """Bounds of affine layer ``layer`` (0-based) given bounds of layers ``< layer``, by LP
    (``relax=True``) or MILP over the encoding of the first ``layer + 1`` layers; bounds not
    reached before ``budget`` runs out keep their current (valid) value."""
    current = bounds[layer]
    if budget.expired():  # not even the encoding: nothing would be solved
        return current
    lower = current.lower.copy()
    upper = current.upper.copy()
    ex_lo = current.exact_lower.copy()
    ex_hi = current.exact_upper.copy()
    builder = MILPBuilder()
    x = builder.add_vars(net.input_dim, lo_x, hi_x)
    enc = encode_network(builder, net, x, bounds[:layer] + [current], n_layers=layer + 1)
    z = enc.pre[layer]
    for i in range(len(lower)):
        for sense in ("min", "max"):
            if (sense == "min" and ex_lo[i]) or (sense == "max" and ex_hi[i]):
                continue
            if budget.expired():
                break
            out = builder.solve({int(z[i]): 1.0}, sense=sense, mip_rel_gap=mip_rel_gap, relax=relax,
                                budget=budget)
            if out.status == "infeasible":  # cannot happen for a nonempty box; keep old bounds
                continue
            attained = None
            if out.x is not None:
                w = np.clip(out.x[x], lo_x, hi_x)
                attained = float(net.preactivations(w[None, :])[layer][0, i])
            if sense == "min":
                if np.isfinite(out.bound):
                    new = out.bound - tol * (1.0 + abs(out.bound))
                    if attained is not None:
                        new = min(new, attained)
                    lower[i] = max(lower[i], new)
                if attained is not None and out.status == "optimal" and _close(attained, out.bound, tol):
                    lower[i], ex_lo[i] = attained, True
            else:
                if np.isfinite(out.bound):
                    new = out.bound + tol * (1.0 + abs(out.bound))
                    if attained is not None:
                        new = max(new, attained)
                    upper[i] = min(upper[i], new)
                if attained is not None and out.status == "optimal" and _close(attained, out.bound, tol):
                    upper[i], ex_hi[i] = attained, True
    return LayerBounds(lower, upper, ex_lo, ex_hi, method="milp" if not relax else "lp")


def preactivation_bounds(net: ReLUNetwork, box: Box | PointSet | str | None = None, *,
                         method: Literal["interval", "linear", "lp", "milp"] = "interval",
                         time_limit: float | None = None, mip_rel_gap: float = 1e-9,
                         tol: float = 1e-6, n_layers: int | None = None,
                         budget: Budget | None = None) -> list[LayerBounds]:
    """Pre-activation bounds of every affine layer over a domain.

    Parameters
    ----------
    net:
        The network.
    box:
        A :class:`~reluscope.Box` (``None``: ``[-1, 1]^d``) or a
        :class:`~reluscope.PointSet` (then the bounds are the exact minima and maxima over
        the points, whatever ``method``).
    method:
        ``"interval"`` (interval arithmetic; exact on layer 1), ``"linear"`` (the bound
        engine's linear tier, :func:`reluscope.bounds.layer_bounds`), ``"lp"`` (linear-tier bounds
        tightened layer by layer by linear programs over the triangle relaxation) or
        ``"milp"`` (one exact MILP per bound, layer by layer, big-M from the LP bounds).
    time_limit:
        Total seconds for all LP/MILP solves (default 10, or all of ``budget``). Bounds not
        reached in time keep their (valid, outer) interval or LP value and are flagged not
        exact.
    mip_rel_gap:
        HiGHS relative MIP gap for ``method="milp"``.
    tol:
        Tolerance of the exactness check and of the outward rounding of solver bounds.
    n_layers:
        Only compute the first ``n_layers`` layers (default: all, hidden and output).
    budget:
        A caller's :class:`~reluscope._budget.Budget` (``time_limit`` then caps it).

    Returns
    -------
    list of LayerBounds
        One per affine layer; ``lower``/``upper`` are valid outer bounds, ``exact_lower``/
        ``exact_upper`` flag the bounds attained by a point of the domain (checked by
        evaluating the network at the solver's point).
    """
    check_network(net)
    method = check_choice(method, ("interval", "linear", "lp", "milp"), "method")
    budget = solver_budget(time_limit, budget)
    mip_rel_gap, tol = check_tol(mip_rel_gap, "mip_rel_gap"), check_tol(tol)
    dom = as_domain(box, net.input_dim)
    L = net.depth if n_layers is None else check_int(n_layers, "n_layers", minimum=1, maximum=net.depth)
    if isinstance(dom, PointSet):
        return _pointset_bounds(net, dom)[:L]
    # LP and MILP start from the linear tier: tighter big-M constants, smaller programs
    bounds = _engine_layer_bounds(net, dom, "interval" if method == "interval" else "linear")[:L]
    if method in ("interval", "linear"):
        return bounds
    lo_x, hi_x = dom.bounds(net.input_dim)
    for layer in range(1, L):
        # propagate the tightened bounds of the previous layers by interval arithmetic first
        bounds[layer] = _interval_from_previous(net, bounds, layer)
        bounds[layer] = _refine_layer(net, lo_x, hi_x, bounds, layer, True, budget, mip_rel_gap, tol)
        if method == "milp":
            bounds[layer] = _refine_layer(net, lo_x, hi_x, bounds, layer, False, budget, mip_rel_gap, tol)
        bounds[layer] = LayerBounds(bounds[layer].lower, bounds[layer].upper, bounds[layer].exact_lower,
                                    bounds[layer].exact_upper, method=method)
    return bounds


def _interval_from_previous(net: ReLUNetwork, bounds: list[LayerBounds], layer: int) -> LayerBounds:
    """Interval bounds of ``layer`` from (possibly tightened) bounds of ``layer - 1``,
    intersected with the current bounds of ``layer``."""
    plo, phi = bounds[layer - 1].lower, bounds[layer - 1].upper
    zl, zh = affine_range(net.weights[layer], net.biases[layer], np.maximum(plo, 0.0), np.maximum(phi, 0.0))
    cur = bounds[layer]
    lower = np.maximum(cur.lower, zl)
    upper = np.minimum(cur.upper, zh)
    # keep exactness flags only where the bound did not change
    ex_lo = cur.exact_lower & (lower == cur.lower)
    ex_hi = cur.exact_upper & (upper == cur.upper)
    return LayerBounds(lower, upper, ex_lo, ex_hi, method=cur.method)


def neuron_range(net: ReLUNetwork, box: Box | PointSet | str | None, layer: int, neuron: int, *,
                 time_limit: float | None = None, mip_rel_gap: float = 1e-9, tol: float = 1e-6,
                 budget: Budget | None = None) -> NeuronRange:
    """Exact minimum and maximum of one neuron's pre-activation over a domain.

    Parameters
    ----------
    net:
        The network.
    box:
        A :class:`~reluscope.Box` (``None``: ``[-1, 1]^d``) or a :class:`~reluscope.PointSet`.
    layer:
        1-based index of the affine layer: ``1 .. depth - 1`` are the hidden layers
        (``layer=1`` is the first hidden layer); ``layer = depth`` is the output layer.
    neuron:
        0-based index of the neuron within that layer.
    time_limit:
        Total seconds (default 10, or all of ``budget``): LP bound tightening of the
        earlier layers in at most half of it, then the two MILPs, the minimum in at most
        half of the remaining time.
    mip_rel_gap:
        HiGHS relative MIP gap.
    tol:
        Exactness tolerance: a bound is exact when the network evaluated at the solver's
        point is within ``tol * (1 + |value|)`` of the solver's dual bound.
    budget:
        A caller's :class:`~reluscope._budget.Budget` (``time_limit`` then caps it).

    Returns
    -------
    NeuronRange
        Valid bounds always; ``exact_lower``/``exact_upper`` with witnesses when attained.
        On a time limit the bounds are the solver's dual bounds (still valid), not exact.
    """
    check_network(net)
    layer = check_int(layer, "layer", minimum=1, maximum=net.depth)
    neuron = check_int(neuron, "neuron", minimum=0, maximum=net.widths[layer] - 1)
    t0 = time.perf_counter()
    budget = solver_budget(time_limit, budget)
    mip_rel_gap, tol = check_tol(mip_rel_gap, "mip_rel_gap"), check_tol(tol)
    dom = as_domain(box, net.input_dim)
    if isinstance(dom, PointSet):
        z = net.preactivations(dom.points)[layer - 1][:, neuron]
        X = dom.points
        return NeuronRange(int(layer), int(neuron), float(z.min()), float(z.max()), True, True,
                           X[int(np.argmin(z))].copy(), X[int(np.argmax(z))].copy(), "optimal",
                           time.perf_counter() - t0)
    lo_x, hi_x = dom.bounds(net.input_dim)
    # LP bounds for the earlier layers (big-M); at most half the budget
    lp_budget = budget.share(0.5)
    bounds = _engine_layer_bounds(net, dom, "linear")[:layer]
    for l in range(1, layer):
        bounds[l] = _interval_from_previous(net, bounds, l)
        bounds[l] = _refine_layer(net, lo_x, hi_x, bounds, l, True, lp_budget, mip_rel_gap, tol)
    if layer > 1:
        bounds[layer - 1] = _interval_from_previous(net, bounds, layer - 1)
    cur = bounds[layer - 1]
    lower, upper = float(cur.lower[neuron]), float(cur.upper[neuron])
    ex_lo, ex_hi = bool(cur.exact_lower[neuron]), bool(cur.exact_upper[neuron])
    w_min = w_max = None
    status = "optimal"
    if layer == 1:
        W, b = net.weights[0][neuron], net.biases[0][neuron]
        w_min = np.where(W > 0, lo_x, hi_x)
        w_max = np.where(W > 0, hi_x, lo_x)
        lower = float(W @ w_min + b)
        upper = float(W @ w_max + b)
        return NeuronRange(1, int(neuron), lower, upper, True, True, w_min, w_max, status,
                           time.perf_counter() - t0)
    builder = MILPBuilder()
    x = builder.add_vars(net.input_dim, lo_x, hi_x)
    enc = encode_network(builder, net, x, bounds, n_layers=layer)
    zi = int(enc.pre[layer - 1][neuron])
    for sense in ("min", "max"):
        if budget.expired():
            status = "time_limit"
            continue
        part = budget.share(0.5) if sense == "min" else budget
        out = builder.solve({zi: 1.0}, sense=sense, mip_rel_gap=mip_rel_gap, budget=part)
        if out.status != "optimal":
            status = out.status if out.status != "infeasible" else status
        attained, w = None, None
        if out.x is not None:
            w = np.clip(out.x[x], lo_x, hi_x)
            attained = float(net.preactivations(w[None, :])[layer - 1][0, neuron])
        if sense == "min":
            if np.isfinite(out.bound):
                lower = max(lower, min(out.bound - tol * (1 + abs(out.bound)),
                                       attained if attained is not None else np.inf))
            if attained is not None:
                w_min = w
                if out.status == "optimal" and _close(attained, out.bound, tol):
                    lower, ex_lo = attained, True
        else:
            if np.isfinite(out.bound):
                upper = min(upper, max(out.bound + tol * (1 + abs(out.bound)),
                                       attained if attained is not None else -np.inf))
            if attained is not None:
                w_max = w
                if out.status == "optimal" and _close(attained, out.bound, tol):
                    upper, ex_hi = attained, True
    return NeuronRange(int(layer), int(neuron), float(lower), float(upper), ex_lo, ex_hi,
                       w_min, w_max, status, time.perf_counter() - t0)
