"""Per-neuron degeneracy statuses of a ReLU network on a domain: :func:`degeneracies`.

Per hidden neuron (1-based hidden layer ``layer``, 0-based ``neuron``) with incoming weights
``a``, bias ``b`` and outgoing column ``c``, :func:`degeneracies` reports:

* **dead**: the pre-activation ``z`` is ``<= 0`` on the whole domain (the neuron outputs 0);
* **always active**: ``z >= 0`` on the whole domain (the neuron is the identity there, so
  its contribution is affine on the domain);
* **zero incoming** (``a = 0``; the neuron outputs the constant ``relu(b)``) and
  **zero outgoing** (``c = 0``);
* **parallel** / **opposite** to another neuron of its layer: ``(a_j, b_j) = t (a_i, b_i)``
  with ``t > 0`` / ``t < 0`` (normalized rows agree up to ``parallel_tol``);
* **unbalanced**: ``||c|| != ||(a, b)||`` (relative ``balance_tol``).

Dead / always-active decisions are *exact* (proven) or *undecided*:

* on a :class:`~reluscope.PointSet`: exact, by evaluating the network at every point;
* on a :class:`~reluscope.Box`, first hidden layer: exact, the minimum and maximum of an
  affine form over a box are attained at vertices (interval arithmetic is exact there);
* on a box, deeper layers: sound bounds from the bound engine's linear tier
  (:func:`reluscope.bounds.layer_bounds`; a bound of the right sign is a proof),
  sampled witnesses (a point with ``z > 0`` proves "not dead", one with ``z < 0`` proves
  "not always active"), then exact MILPs on HiGHS (:func:`reluscope.milp.preactivation_bounds`,
  ``method="milp"``) within ``time_limit`` when the network has at most
  :data:`MILP_MAX_HIDDEN` hidden neurons, else the branch and bound of
  :mod:`reluscope.search` per open question (:mod:`.search`: a proof by its sound lower
  bound, a refutation by a witness re-evaluated on the real network). MILP verdicts are
  exact up to the solver's tolerance ``solver_tol``; a neuron left open at the time limit
  is reported as *undecided* with its valid bounds, never guessed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._budget import Budget
from .._results import ResultMixin
from .._validation import check_int, check_network, check_seed, check_time_limit, check_tol
from ..domain import Box, Domain, PointSet, as_domain
from ..errors import InvalidNetwork
from ..milp import preactivation_bounds
from ..network import ReLUNetwork
from .search import settle_by_search

__all__ = ["NeuronStatus", "DegeneracyReport", "degeneracies"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class NeuronStatus(ResultMixin):
    """Degeneracy status of one hidden neuron.

    Attributes
    ----------
    layer, neuron:
        1-based hidden layer index and 0-based neuron index.
    pre_min, pre_max:
        Valid bounds on the pre-activation over the domain (``pre_min <= z <= pre_max``).
    exact_min, exact_max:
        Whether the bound is attained (then it is the true minimum / maximum).
    dead, always_active:
        ``True`` (proven), ``False`` (disproven: a point of the domain shows otherwise) or
        ``None`` (undecided within the time limit).
    zero_in, zero_out:
        All incoming weights (bias excluded) / all outgoing weights are exactly zero.
    parallel_to, opposite_to:
        Other neurons of the same layer with the same / opposite normalized ``(a, b)``.
    balance_ratio:
        ``||c|| / ||(a, b)||`` (``nan`` if both vanish, ``inf`` if only the incoming part does).
    unbalanced:
        ``|log balance_ratio| > balance_tol`` (a zero neuron counts as balanced).
    method:
        How dead/always-active were decided: ``"points"``, ``"interval"`` (exact on layer 1
        of a box; a proof when the bound has the right sign), ``"linear+samples"`` (deeper
        layers: the engine's linear bounds and witness points), ``"samples"`` (a witness point),
        ``"milp"``, ``"search"`` (the branch and bound) or ``"undecided"``.
    """

    layer: int
    neuron: int
    pre_min: float
    pre_max: float
    exact_min: bool
    exact_max: bool
    dead: bool | None
    always_active: bool | None
    zero_in: bool
    zero_out: bool
    parallel_to: tuple[int, ...]
    opposite_to: tuple[int, ...]
    balance_ratio: float
    unbalanced: bool
    method: str

    @property
    def labels(self) -> list[str]:
        """Human-readable status labels (empty for a non-degenerate neuron)."""
        out: list[str] = []
        exact = "exact" if self.method != "milp" else "exact, MILP"
        if self.dead is True:
            out.append(f"dead ({exact})")
        elif self.dead is None:
            out.append("possibly dead: undecided within time limit")
        if self.always_active is True and self.dead is not True:
            out.append(f"always active ({exact})")
        elif self.always_active is None:
            out.append("possibly always active: undecided within time limit")
        if self.zero_in:
            out.append("zero incoming")
        if self.zero_out:
            out.append("zero outgoing")
        if self.parallel_to:
            out.append("parallel to " + ",".join(map(str, self.parallel_to)))
        if self.opposite_to:
            out.append("opposite to " + ",".join(map(str, self.opposite_to)))
        if self.unbalanced:
            out.append(f"unbalanced (|c|/|(a,b)| = {self.balance_ratio:.3g})")
        return out

    @property
    def degenerate(self) -> bool:
        """Any proven degeneracy other than being unbalanced."""
        return bool(self.dead or self.always_active or self.zero_in or self.zero_out
                    or self.parallel_to or self.opposite_to)


_COUNT_KEYS = ("dead", "always_active", "zero_in", "zero_out", "parallel", "opposite", "unbalanced",
               "undecided")


@dataclass(frozen=True)
class DegeneracyReport(ResultMixin):
    """Degeneracy status of every hidden neuron of a network on a domain.

    Use ``counts`` for totals, ``table()`` (or print it with rich: the report implements
    ``__rich__``) for the per-neuron table, ``str(report)`` for a summary and ``to_dict()``
    for JSON.
    """

    widths: tuple[int, ...]
    domain: dict
    neurons: tuple[NeuronStatus, ...]
    exact: bool
    seconds: float
    parallel_tol: float
    balance_tol: float

    # ---------------------------------------------------------------- accessors
    def layer(self, layer: int) -> tuple[NeuronStatus, ...]:
        """Statuses of the neurons of one (1-based) hidden layer."""
        return tuple(s for s in self.neurons if s.layer == layer)

    def status(self, layer: int, neuron: int) -> NeuronStatus:
        for s in self.neurons:
            if s.layer == layer and s.neuron == neuron:
                return s
        raise InvalidNetwork(f"no hidden neuron {neuron} in hidden layer {layer} for widths {self.widths}")

    @property
    def counts(self) -> dict[str, int]:
        """Number of neurons per status (``undecided``: dead or always-active open)."""
        return self._count(self.neurons)

    @property
    def counts_by_layer(self) -> dict[str, dict[str, int]]:
        """``{"hidden layer l": counts}`` for every hidden layer."""
        layers = sorted({s.layer for s in self.neurons})
        return {f"hidden layer {h}": self._count(self.layer(h)) for h in layers}

    @staticmethod
    def _count(neurons) -> dict[str, int]:
        c = dict.fromkeys(_COUNT_KEYS, 0)
        for s in neurons:
            c["dead"] += s.dead is True
            c["always_active"] += s.always_active is True and s.dead is not True
            c["zero_in"] += s.zero_in
            c["zero_out"] += s.zero_out
            c["parallel"] += bool(s.parallel_to)
            c["opposite"] += bool(s.opposite_to)
            c["unbalanced"] += s.unbalanced
            c["undecided"] += s.dead is None or s.always_active is None
        return c

    @property
    def n_degenerate(self) -> int:
        return sum(s.degenerate for s in self.neurons)

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["counts"] = self.counts
        d["counts_by_layer"] = self.counts_by_layer
        d["n_hidden_neurons"] = len(self.neurons)
        for nd, s in zip(d["neurons"], self.neurons):
            nd["labels"] = s.labels
        return d

    # ---------------------------------------------------------------- display
    def table(self, only_degenerate: bool = False):
        """A :class:`rich.table.Table` with one row per hidden neuron."""
        from rich.table import Table

        t = Table(title=f"Degeneracies of widths {self.widths} on {_domain_text(self.domain)}")
        for col in ("layer", "neuron", "pre-activation range", "status"):
            t.add_column(col)
        for s in self.neurons:
            labels = s.labels
            if only_degenerate and not (s.degenerate or s.dead is None or s.always_active is None):
                continue
            lo = f"{s.pre_min:.4g}" + ("" if s.exact_min else "*")
            hi = f"{s.pre_max:.4g}" + ("" if s.exact_max else "*")
            t.add_row(str(s.layer), str(s.neuron), f"[{lo}, {hi}]", "; ".join(labels) or "-")
        t.caption = "* = valid bound, not attained (exact otherwise)"
        return t

    def __rich__(self):
        return self.table()

    def __str__(self) -> str:
        c = self.counts
        parts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in c.items() if v)
        exact = "all statuses exact" if self.exact else f"{c['undecided']} neuron(s) undecided"
        return (f"DegeneracyReport for widths {self.widths} on {_domain_text(self.domain)}: "
                f"{len(self.neurons)} hidden neurons; {parts or 'no degeneracy'}; {exact}")


def _domain_text(d: dict) -> str:
    if d.get("type") == "box":
        lo, hi = d["lo"], d["hi"]
        if not isinstance(lo, list) and not isinstance(hi, list):
            return f"box [{lo:g}, {hi:g}]^d"
        return f"box lo={lo} hi={hi}"
    return f"{d.get('n')} points"


def _pairs(W: np.ndarray, b: np.ndarray, tol: float) -> tuple[list[list[int]], list[list[int]]]:
    """Parallel / opposite neighbours of each row of ``[W | b]`` (zero rows excluded)."""
    X = np.concatenate([W, b[:, None]], axis=1)
    n = X.shape[0]
    norms = np.linalg.norm(X, axis=1)
    par: list[list[int]] = [[] for _ in range(n)]
    opp: list[list[int]] = [[] for _ in range(n)]
    nz = np.flatnonzero(norms > 0)
    if nz.size < 2:
        return par, opp
    U = X[nz] / norms[nz, None]
    G = U @ U.T
    # ||u - v||^2 = 2 - 2 u.v ; candidates by the Gram matrix, confirmed on the vectors
    thr = 1.0 - 0.5 * (2 * tol) ** 2
    ii, jj = np.nonzero(np.abs(G) >= min(thr, 1.0 - 1e-15))
    for i, j in zip(ii.tolist(), jj.tolist()):
        if i == j:
            continue
        if G[i, j] > 0 and np.linalg.norm(U[i] - U[j]) <= tol:
            par[int(nz[i])].append(int(nz[j]))
        elif G[i, j] < 0 and np.linalg.norm(U[i] + U[j]) <= tol:
            opp[int(nz[i])].append(int(nz[j]))
    return par, opp


def _verdicts(lo, hi, exlo, exhi, wmax, wmin) -> tuple[np.ndarray, np.ndarray]:
    """Dead / always-active verdicts (object arrays of True/False/None) from valid bounds,
    exactness flags and witness extremes."""
    n = lo.size
    dead = np.full(n, None, dtype=object)
    act = np.full(n, None, dtype=object)
    dead[(wmax > 0) | (exhi & (hi > 0))] = False
    dead[hi <= 0] = True
    act[(wmin < 0) | (exlo & (lo < 0))] = False
    act[lo >= 0] = True
    return dead, act


#: the exact MILP is used for the open neurons of a network with at most this many hidden
#: neurons (their binaries); larger networks go to the branch and bound (``search``)
MILP_MAX_HIDDEN = 64


def _milp_is_cheap(net: ReLUNetwork) -> bool:
    return sum(net.widths[1:-1]) <= MILP_MAX_HIDDEN


def _layer_ranges_box(
    net: ReLUNetwork, box: Box, budget: Budget | None, samples: int, rng: np.random.Generator,
    solver_tol: float,
) -> list[tuple]:
    """Per hidden layer: (lower, upper, exact_lower, exact_upper, dead, act, methods).

    ``budget=None`` (a zero time limit) skips the MILPs."""
    d = net.input_dim
    n_hidden = net.depth - 1
    # the bound engine's linear tier: exact on layer 1 (up to the rounding pad), and a proof
    # of dead / always-active deeper down far more often than interval arithmetic
    bounds = preactivation_bounds(net, box, method="linear", n_layers=n_hidden)
    # witnesses: random points plus (in low dimension) the box vertices
    X = box.sample(samples, d, seed=rng)
    if d <= 10:
        X = np.concatenate([X, box.vertices(d)], axis=0)
    Z = net.preactivations(X)[:n_hidden]
    out = []
    open_deep = False
    for h in range(1, n_hidden + 1):
        B = bounds[h - 1]
        wmax, wmin = Z[h - 1].max(axis=0), Z[h - 1].min(axis=0)
        dead, act = _verdicts(B.lower, B.upper, B.exact_lower, B.exact_upper, wmax, wmin)
        meth = np.full(B.lower.size, "interval" if h == 1 else "linear+samples", dtype=object)
        out.append([B.lower, B.upper, B.exact_lower, B.exact_upper, dead, act, meth, wmax, wmin])
        open_deep |= h > 1 and any(v is None for v in list(dead) + list(act))
    if open_deep and budget is not None and not budget.expired() and not _milp_is_cheap(net):
        # the MILP would be large: the branch and bound, per open question
        for row in out:
            row[:4] = [np.array(v, copy=True) for v in row[:4]]
        settle_by_search(net, box, out, budget, rng)
    elif open_deep and budget is not None and not budget.expired():
        mb = preactivation_bounds(net, box, method="milp", time_limit=None, budget=budget, n_layers=n_hidden,
                                  tol=solver_tol)
        for h in range(2, n_hidden + 1):
            row = out[h - 1]
            B = mb[h - 1]
            dead2, act2 = _verdicts(B.lower, B.upper, B.exact_lower, B.exact_upper, row[7], row[8])
            for i in range(B.lower.size):
                if row[4][i] is None and dead2[i] is not None:
                    row[4][i] = dead2[i]
                    row[6][i] = "milp"
                if row[5][i] is None and act2[i] is not None:
                    row[5][i] = act2[i]
                    row[6][i] = "milp"
            row[0], row[1], row[2], row[3] = B.lower, B.upper, B.exact_lower, B.exact_upper
    for row in out:
        for i in range(row[0].size):
            if row[4][i] is None or row[5][i] is None:
                row[6][i] = "undecided"
    return [tuple(r[:7]) for r in out]


def degeneracies(
    net: ReLUNetwork,
    domain: Domain | str | Any | None = None,
    *,
    time_limit: float = 10.0,
    parallel_tol: float = 1e-9,
    balance_tol: float = 1e-6,
    samples: int = 2048,
    seed: int | np.random.Generator = 0,
    solver_tol: float = 1e-6,
    budget: Budget | None = None,
) -> DegeneracyReport:
    """Degeneracy status of every hidden neuron of ``net`` on ``domain``.

    Parameters
    ----------
    net:
        The network (not modified).
    domain:
        A :class:`~reluscope.Box`, a :class:`~reluscope.PointSet`, an array of points, a
        string ``"LO,HI"``, or ``None`` for ``[-1, 1]^d``.
    time_limit:
        Total seconds for the exact MILPs or the search of the deeper layers on a box
        (0 disables them: statuses not settled by interval bounds or witness points are
        then undecided).
    parallel_tol:
        Two neurons are parallel (opposite) when their normalized ``(a, b)`` differ (sum)
        by at most this in Euclidean norm.
    balance_tol:
        A neuron is unbalanced when ``|log(||c|| / ||(a, b)||)| > balance_tol``.
    samples:
        Random points of the box used as witnesses (deeper layers).
    seed:
        Seed (or ``numpy.random.Generator``) of the witness points.
    solver_tol:
        Exactness tolerance of the MILP verdicts (passed to :mod:`reluscope.milp`).
    budget:
        A caller's :class:`~reluscope._budget.Budget`; ``time_limit`` caps it.

    Returns
    -------
    DegeneracyReport
    """
    t0 = time.perf_counter()
    time_limit = check_time_limit(time_limit, allow_zero=True)
    rng = check_seed(seed)
    parallel_tol, balance_tol = check_tol(parallel_tol, "parallel_tol"), check_tol(balance_tol, "balance_tol")
    solver_tol, samples = check_tol(solver_tol, "solver_tol"), check_int(samples, "samples")
    net = check_network(net)
    dom = as_domain(domain, net.input_dim)
    # a zero time limit means no MILP at all, even under a caller's budget
    budget = None if time_limit == 0 else Budget.of(time_limit, budget)
    n_hidden = net.depth - 1
    if n_hidden == 0:
        layer_data = []
    elif isinstance(dom, PointSet):
        Z = net.preactivations(dom.points)[:n_hidden]
        layer_data = []
        for z in Z:
            t = np.ones(z.shape[1], dtype=bool)
            lo, hi = z.min(axis=0), z.max(axis=0)
            dead_v, act_v = _verdicts(lo, hi, t, t, hi, lo)
            layer_data.append((lo, hi, t, t, dead_v, act_v, np.full(lo.size, "points", dtype=object)))
    else:
        layer_data = _layer_ranges_box(net, dom, budget, samples, rng, solver_tol)

    statuses: list[NeuronStatus] = []
    all_exact = True
    for h in range(1, n_hidden + 1):
        lo, hi, exlo, exhi, dead_v, act_v, meth = layer_data[h - 1]
        W, b, C = net.weights[h - 1], net.biases[h - 1], net.weights[h]
        par, opp = _pairs(W, b, parallel_tol)
        n_in = np.linalg.norm(np.concatenate([W, b[:, None]], axis=1), axis=1)
        n_out = np.linalg.norm(C, axis=0)
        for i in range(W.shape[0]):
            dead, act, method = dead_v[i], act_v[i], str(meth[i])
            if method == "undecided":
                all_exact = False
            if n_in[i] == 0 and n_out[i] == 0:
                ratio = float("nan")
                unb = False
            elif n_in[i] == 0:
                ratio, unb = float("inf"), True
            else:
                ratio = float(n_out[i] / n_in[i])
                unb = bool(ratio == 0 or abs(np.log(ratio)) > balance_tol)
            statuses.append(NeuronStatus(
                layer=h, neuron=i, pre_min=float(lo[i]), pre_max=float(hi[i]),
                exact_min=bool(exlo[i]), exact_max=bool(exhi[i]), dead=dead, always_active=act,
                zero_in=bool(not W[i].any()), zero_out=bool(not C[:, i].any()),
                parallel_to=tuple(par[i]), opposite_to=tuple(opp[i]),
                balance_ratio=ratio, unbalanced=unb, method=method,
            ))
    return DegeneracyReport(
        widths=net.widths, domain=dom.to_dict(), neurons=tuple(statuses), exact=all_exact,
        seconds=time.perf_counter() - t0, parallel_tol=float(parallel_tol), balance_tol=float(balance_tol),
    )

