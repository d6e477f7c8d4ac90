"""Degenerate hidden neurons on a domain, and reduction to a smaller network with the same
realization on the domain.

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
* on a box, deeper layers: sound interval bounds (a bound of the right sign is a proof),
  sampled witnesses (a point with ``z > 0`` proves "not dead", one with ``z < 0`` proves
  "not always active"), then exact MILPs on HiGHS (:func:`reluscope.milp.preactivation_bounds`,
  ``method="milp"``) within ``time_limit``. MILP verdicts are exact up to the solver's
  tolerance ``solver_tol``; a neuron left open at the time limit is reported as
  *undecided* with its valid bounds, never guessed.

:func:`reduce` applies only rules whose premises are proven (see
``docs/background/symmetries.md`` for the proofs).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._results import ResultMixin
from .domain import Box, Domain, PointSet, as_domain
from .errors import InvalidData, InvalidNetwork
from .network import ReLUNetwork

__all__ = [
    "NeuronStatus",
    "DegeneracyReport",
    "degeneracies",
    "Reduction",
    "reduction",
    "reduce",
]

FloatArray = NDArray[np.float64]


# ============================================================================ report
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
        of a box; a proof when the bound has the right sign), ``"samples"`` (a witness point),
        ``"milp"`` or ``"undecided"``.
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


# ============================================================================ analysis
def _check_net(net: Any) -> ReLUNetwork:
    if not isinstance(net, ReLUNetwork):
        raise InvalidNetwork(f"expected a ReLUNetwork; got {type(net).__name__}")
    return net


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


def _layer_ranges_box(
    net: ReLUNetwork, box: Box, time_limit: float, samples: int, seed: int, solver_tol: float
) -> list[tuple]:
    """Per hidden layer: (lower, upper, exact_lower, exact_upper, dead, act, methods)."""
    from .milp import preactivation_bounds

    d = net.input_dim
    n_hidden = net.depth - 1
    bounds = preactivation_bounds(net, box, method="interval", n_layers=n_hidden)
    # witnesses: random points plus (in low dimension) the box vertices
    X = box.sample(samples, d, seed=seed)
    if d <= 10:
        X = np.concatenate([X, box.vertices(d)], axis=0)
    Z = net.preactivations(X)[:n_hidden]
    out = []
    open_deep = False
    for h in range(1, n_hidden + 1):
        B = bounds[h - 1]
        wmax, wmin = Z[h - 1].max(axis=0), Z[h - 1].min(axis=0)
        dead, act = _verdicts(B.lower, B.upper, B.exact_lower, B.exact_upper, wmax, wmin)
        meth = np.full(B.lower.size, "interval" if h == 1 else "interval+samples", dtype=object)
        out.append([B.lower, B.upper, B.exact_lower, B.exact_upper, dead, act, meth, wmax, wmin])
        open_deep |= h > 1 and any(v is None for v in list(dead) + list(act))
    if open_deep and time_limit > 0:
        mb = preactivation_bounds(net, box, method="milp", time_limit=time_limit, n_layers=n_hidden, tol=solver_tol)
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
    seed: int = 0,
    solver_tol: float = 1e-6,
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
        Total seconds for the exact MILPs of the deeper layers on a box (0 disables them:
        statuses not settled by interval bounds or witness points are then undecided).
    parallel_tol:
        Two neurons are parallel (opposite) when their normalized ``(a, b)`` differ (sum)
        by at most this in Euclidean norm.
    balance_tol:
        A neuron is unbalanced when ``|log(||c|| / ||(a, b)||)| > balance_tol``.
    samples:
        Random points of the box used as witnesses (deeper layers).
    seed:
        Seed of the witness points.
    solver_tol:
        Exactness tolerance of the MILP verdicts (passed to :mod:`reluscope.milp`).

    Returns
    -------
    DegeneracyReport
    """
    t0 = time.perf_counter()
    try:
        time_limit = float(time_limit)
    except (TypeError, ValueError):
        raise InvalidData(f"time_limit must be a number of seconds >= 0; got {time_limit!r}") from None
    if not np.isfinite(time_limit) or time_limit < 0:
        raise InvalidData(f"time_limit must be a finite number of seconds >= 0; got {time_limit!r}")
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed < 0:
        raise InvalidData(f"seed must be a non-negative integer; got {seed!r}")
    net = _check_net(net)
    dom = as_domain(domain, net.input_dim)
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
        layer_data = _layer_ranges_box(net, dom, float(time_limit), int(samples), seed, solver_tol)

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


# ============================================================================ reduction
@dataclass(frozen=True)
class Reduction(ResultMixin):
    """Result of :func:`reduction`.

    Attributes
    ----------
    network:
        The reduced network: same realization on the domain, never more neurons per layer.
    widths_before, widths_after:
        Architectures before and after.
    actions:
        One line per applied rule (``"layer 1: dropped dead neuron 3"``, ...), neuron indices
        referring to the network of the round in which the rule was applied.
    rounds:
        Number of analyse-and-reduce rounds performed (until nothing changes).
    report:
        The degeneracy report of the input network.
    """

    network: ReLUNetwork
    widths_before: tuple[int, ...]
    widths_after: tuple[int, ...]
    actions: tuple[str, ...]
    rounds: int
    report: DegeneracyReport = field(repr=False)

    @property
    def removed(self) -> int:
        """Number of hidden neurons removed."""
        return sum(self.widths_before[1:-1]) - sum(self.widths_after[1:-1])

    def to_dict(self) -> dict[str, Any]:
        return {
            "widths_before": list(self.widths_before),
            "widths_after": list(self.widths_after),
            "removed": self.removed,
            "actions": list(self.actions),
            "rounds": self.rounds,
            "report": self.report.to_dict(),
        }

    def __str__(self) -> str:
        head = (f"Reduction {self.widths_before} -> {self.widths_after} "
                f"({self.removed} hidden neuron(s) removed, {self.rounds} round(s))")
        return "\n".join([head] + [f"  {a}" for a in self.actions])


def _output_bounds(ws: list[np.ndarray], bs: list[np.ndarray], dom: Domain, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Valid bounds (exact for points) on the *inputs* of hidden layer ``h`` (outputs of layer
    ``h - 1``; the network input for ``h = 1``) of the current partially reduced network."""
    if isinstance(dom, PointSet):
        H = dom.points
        for k in range(h - 1):
            H = np.maximum(H @ ws[k].T + bs[k], 0.0)
        return H.min(axis=0), H.max(axis=0)
    lo, hi = dom.bounds(ws[0].shape[1])
    for k in range(h - 1):
        Wp, Wn = np.maximum(ws[k], 0.0), np.minimum(ws[k], 0.0)
        zl = Wp @ lo + Wn @ hi + bs[k]
        zh = Wp @ hi + Wn @ lo + bs[k]
        lo, hi = np.maximum(zl, 0.0), np.maximum(zh, 0.0)
    return lo, hi


def _min_over_inputs(rows: np.ndarray, ws: list[np.ndarray], bs: list[np.ndarray], dom: Domain, h: int) -> np.ndarray:
    """Lower bound (exact on layer 1 and on point sets) of ``rows @ input`` for each row,
    over the inputs of hidden layer ``h``."""
    if isinstance(dom, PointSet):
        H = dom.points
        for k in range(h - 1):
            H = np.maximum(H @ ws[k].T + bs[k], 0.0)
        return (H @ rows.T).min(axis=0)
    lo, hi = _output_bounds(ws, bs, dom, h)
    return np.maximum(rows, 0.0) @ lo + np.minimum(rows, 0.0) @ hi


def _affine_pool(M: np.ndarray, rank_tol: float) -> tuple[int, np.ndarray, np.ndarray]:
    """Rank factorization ``M ≈ cols @ rows`` by SVD: returns (r, rows (r, n_in), cols (n_out, r))."""
    if M.size == 0 or not np.any(M):
        return 0, np.zeros((0, M.shape[1])), np.zeros((M.shape[0], 0))
    U, S, Vt = np.linalg.svd(M, full_matrices=False)
    r = int(np.sum(S > rank_tol * S[0]))
    sq = np.sqrt(S[:r])
    return r, Vt[:r] * sq[:, None], U[:, :r] * sq[None, :]


def _reduce_round(
    net: ReLUNetwork, dom: Domain, report: DegeneracyReport, parallel_tol: float, rank_tol: float
) -> tuple[ReLUNetwork, list[str]]:
    ws = [w.copy() for w in net.weights]
    bs = [b.copy() for b in net.biases]
    actions: list[str] = []
    n_hidden = net.depth - 1
    for h in range(1, n_hidden + 1):
        W, b, C = ws[h - 1], bs[h - 1], ws[h]
        b_next = bs[h].copy()
        n = W.shape[0]
        alive = np.ones(n, dtype=bool)
        st = report.layer(h)
        for i in range(n):
            if not C[:, i].any():
                alive[i] = False
                actions.append(f"layer {h}: dropped neuron {i} (zero outgoing weights)")
            elif st[i].dead is True:
                alive[i] = False
                actions.append(f"layer {h}: dropped neuron {i} (dead on the domain)")
            elif not W[i].any():
                b_next = b_next + C[:, i] * max(b[i], 0.0)
                alive[i] = False
                actions.append(f"layer {h}: folded constant neuron {i} (zero incoming weights) into the next bias")
        C = C.copy()
        # parallel neurons (algebraic, valid everywhere): merge into the first of each group
        idx = np.flatnonzero(alive)
        par, opp = _pairs(W[idx], b[idx], parallel_tol)
        norms = np.linalg.norm(np.concatenate([W, b[:, None]], axis=1), axis=1)
        for k, i in enumerate(idx):
            if not alive[i]:
                continue
            for kk in par[k]:
                j = idx[kk]
                if j > i and alive[j]:
                    C[:, i] += (norms[j] / norms[i]) * C[:, j]
                    alive[j] = False
                    actions.append(f"layer {h}: merged neuron {j} into parallel neuron {i}")
            if not C[:, i].any():
                alive[i] = False
                actions.append(f"layer {h}: dropped neuron {i} (merged outgoing weights cancel)")
        # always-active neurons and opposite pairs: pool the affine parts
        act = [i for i in np.flatnonzero(alive) if st[i].always_active is True]
        pairs: list[tuple[int, int]] = []
        used: set[int] = set(act)
        for k, i in enumerate(idx):
            if not alive[i] or i in used:
                continue
            for kk in opp[k]:
                j = int(idx[kk])
                if alive[j] and j not in used and j != i:
                    pairs.append((int(i), j))
                    used.update((int(i), j))
                    break

        def pool(with_pairs: bool) -> tuple[np.ndarray, np.ndarray]:
            M = np.zeros((C.shape[0], W.shape[1]))
            m0 = np.zeros(C.shape[0])
            for i in act:
                M += np.outer(C[:, i], W[i])
                m0 += C[:, i] * b[i]
            if with_pairs:
                for i, j in pairs:
                    t = norms[j] / norms[i]
                    M -= t * np.outer(C[:, j], W[i])
                    m0 -= t * C[:, j] * b[i]
            return M, m0

        best = None
        for with_pairs in (False, True):
            if with_pairs and not pairs:
                continue
            M, m0 = pool(with_pairs)
            r, rows, cols = _affine_pool(M, rank_tol)
            before = len(act) + (2 * len(pairs) if with_pairs else 0)
            after = r + (len(pairs) if with_pairs else 0)
            if after < before and (best is None or before - after > best[0]):
                best = (before - after, with_pairs, m0, rows, cols)
        new_rows = np.zeros((0, W.shape[1]))
        new_bias = np.zeros(0)
        new_cols = np.zeros((C.shape[0], 0))
        if best is not None:
            _, with_pairs, m0, rows, cols = best
            for i in act:
                alive[i] = False
            if with_pairs:
                for i, j in pairs:
                    C[:, i] += (norms[j] / norms[i]) * C[:, j]
                    alive[j] = False
                    actions.append(f"layer {h}: replaced opposite pair ({i}, {j}) by neuron {i} plus an affine part")
            if act:
                actions.append(f"layer {h}: replaced always-active neurons {act} by their affine part")
            # each new neuron rows[k] . input + beta_k must be >= 0 on the domain
            beta = np.maximum(0.0, -_min_over_inputs(rows, ws, bs, dom, h)) if rows.shape[0] else np.zeros(0)
            new_rows, new_bias, new_cols = rows, beta, cols
            b_next = b_next + m0 - cols @ beta
            actions.append(f"layer {h}: affine part represented by {rows.shape[0]} always-active neuron(s)")
        keep = np.flatnonzero(alive)
        W2 = np.concatenate([W[keep], new_rows], axis=0)
        b2 = np.concatenate([b[keep], new_bias])
        C2 = np.concatenate([C[:, keep], new_cols], axis=1)
        if W2.shape[0] == 0:  # a layer cannot be empty: keep one zero neuron
            W2 = np.zeros((1, W.shape[1]))
            b2 = np.zeros(1)
            C2 = np.zeros((C.shape[0], 1))
            actions.append(f"layer {h}: no neuron left; kept one zero neuron")
        ws[h - 1], bs[h - 1], ws[h], bs[h] = W2, b2, C2, b_next
    return ReLUNetwork(ws, bs), actions


def reduction(
    net: ReLUNetwork,
    domain: Domain | str | Any | None = None,
    *,
    time_limit: float = 10.0,
    parallel_tol: float = 1e-9,
    rank_tol: float = 1e-12,
    max_rounds: int = 5,
    seed: int = 0,
) -> Reduction:
    """Reduce ``net`` to a smaller network with the same realization on ``domain``, with a log.

    Rules, applied hidden layer by hidden layer and repeated (re-analysing the reduced
    network) until nothing changes or ``max_rounds`` is reached:

    1. drop neurons with zero outgoing weights, and neurons proven dead on the domain;
    2. a neuron with zero incoming weights outputs the constant ``relu(b)``: add
       ``c relu(b)`` to the next bias and drop it;
    3. parallel neurons ``(a_j, b_j) = t (a_i, b_i)``, ``t > 0``: ``relu(z_j) = t relu(z_i)``,
       so add ``t c_j`` to ``c_i`` and drop ``j`` (drop ``i`` too if the sum vanishes);
    4. the neurons proven always active are affine on the domain, and an opposite pair
       ``(a_j, b_j) = -t (a_i, b_i)`` equals ``(c_i + t c_j) relu(z_i) - t c_j z_i``; the
       affine parts ``M h + m0`` are pooled and rewritten with ``r = rank(M)`` neurons
       ``relu(v_k . h + beta_k)`` that stay active on the domain (``beta_k`` from a valid
       lower bound of ``v_k . h``) plus a next-bias correction; this is done only when it
       lowers the neuron count.

    Only dead / always-active statuses that are proven are used; undecided ones are left
    alone. The network never grows. Masks are not carried over (the result is dense).

    Parameters
    ----------
    net:
        The network (not modified).
    domain:
        Box, point set, ``"LO,HI"`` or ``None`` (``[-1, 1]^d``).
    time_limit:
        Seconds of MILP per round for the deeper layers' statuses (see :func:`degeneracies`).
    parallel_tol:
        Tolerance of the parallel / opposite detection (normalized rows).
    rank_tol:
        Relative singular-value threshold of the pooled affine part.
    max_rounds:
        Maximum number of analyse-and-reduce rounds.
    seed:
        Seed of the witness points of :func:`degeneracies`.

    Returns
    -------
    Reduction
    """
    net = _check_net(net)
    dom = as_domain(domain, net.input_dim)
    report0 = degeneracies(net, dom, time_limit=time_limit, parallel_tol=parallel_tol, seed=seed)
    current, report = net, report0
    actions: list[str] = []
    rounds = 0
    if net.depth == 1:
        return Reduction(net.replace(masks=None), net.widths, net.widths, (), 0, report0)
    while rounds < max_rounds:
        rounds += 1
        new, acts = _reduce_round(current, dom, report, parallel_tol, rank_tol)
        if sum(new.hidden_widths) >= sum(current.hidden_widths):
            # nothing removed: keep the (unchanged-size) network only if the round changed nothing
            if sum(new.hidden_widths) == sum(current.hidden_widths) and not acts:
                break
            if sum(new.hidden_widths) > sum(current.hidden_widths):  # never happens; guard
                break
            # same size but bias folding etc. happened: accept once and stop
            current = new
            actions.extend(f"round {rounds}: {a}" for a in acts)
            break
        current = new
        actions.extend(f"round {rounds}: {a}" for a in acts)
        report = degeneracies(current, dom, time_limit=time_limit, parallel_tol=parallel_tol, seed=seed)
    if current is net:
        current = net.replace(masks=None)
    return Reduction(current, net.widths, current.widths, tuple(actions), rounds, report0)


def reduce(
    net: ReLUNetwork,
    domain: Domain | str | Any | None = None,
    *,
    time_limit: float = 10.0,
    parallel_tol: float = 1e-9,
    rank_tol: float = 1e-12,
    max_rounds: int = 5,
    seed: int = 0,
) -> ReLUNetwork:
    """A smaller network with the same realization on ``domain`` (never a larger one).

    Shortcut for ``reduction(net, domain, ...).network``; see :func:`reduction` for the rules
    and the log of what was removed or merged.

    Parameters
    ----------
    net:
        The network (not modified).
    domain:
        Box, point set, ``"LO,HI"`` or ``None`` (``[-1, 1]^d``).
    time_limit, parallel_tol, rank_tol, max_rounds, seed:
        See :func:`reduction`.

    Returns
    -------
    ReLUNetwork
    """
    return reduction(net, domain, time_limit=time_limit, parallel_tol=parallel_tol, rank_tol=rank_tol,
                     max_rounds=max_rounds, seed=seed).network
