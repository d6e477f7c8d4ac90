"""Mixed-integer linear encodings of ReLU networks, solved by HiGHS through ``scipy.optimize.milp``.

This module provides

* :func:`interval_bounds` -- pre-activation bounds of every layer over a box by interval
  arithmetic (exact for the first layer);
* :func:`preactivation_bounds` -- the same bounds tightened by linear programming over the
  triangle relaxation (``method="lp"``) or computed exactly by one MILP per neuron
  (``method="milp"``), each bound flagged *exact* when a point of the domain attains it;
* :func:`neuron_range` -- the exact minimum and maximum of one neuron's pre-activation;
* :class:`MILPBuilder` and :func:`encode_network` -- a reusable big-M encoding (variables for
  the input, pre-activations, post-activations and one binary per neuron of unknown sign;
  neurons whose sign is fixed by the bounds get no binary) used by :mod:`reluscope.distance`.

Big-M encoding of ``a = relu(z)`` with ``lo <= z <= hi`` and ``lo < 0 < hi``, binary ``δ``::

    a >= z,   a >= 0,   a <= z - lo (1 - δ),   a <= hi δ.

With ``δ`` relaxed to ``[0, 1]`` these four inequalities describe exactly the triangle
relaxation (the convex hull of the graph of ``relu`` on ``[lo, hi]``), which is what
``method="lp"`` optimizes over.

Layer numbering: ``layer`` arguments are 1-based, layer ``l`` being the ``l``-th affine map;
layers ``1 .. depth-1`` are hidden layers and layer ``depth`` is the output layer. Lists
returned by the bound functions have one entry per affine layer (index ``l - 1``).

Every bound returned here is an *outer* bound (valid for every point of the domain) up to
the solver's feasibility tolerance; ``exact`` marks the bounds that are attained, checked by
re-evaluating the real network at the solver's point (never trusting the solver's objective).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from ._results import ResultMixin
from .domain import Box, PointSet, as_domain
from .errors import InvalidDomain, InvalidNetwork, SolverError
from .network import ReLUNetwork

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
    "pad_bounds",
]

FloatArray = np.ndarray

# relative padding applied to bounds used as big-M constants (floating-point safety)
_PAD = 1e-9


def pad_bounds(lo: np.ndarray, hi: np.ndarray, pad: float = _PAD) -> tuple[np.ndarray, np.ndarray]:
    """Widen ``[lo, hi]`` by ``pad * (1 + |.|)`` so that rounding never makes a big-M invalid."""
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    return lo - pad * (1.0 + np.abs(lo)), hi + pad * (1.0 + np.abs(hi))


# ---------------------------------------------------------------------------------- results
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


# ---------------------------------------------------------------------------------- builder
_STDOUT_LOCK = threading.Lock()


@contextlib.contextmanager
def _silence_c_stdout():
    """Silence stray diagnostics HiGHS prints on the C-level stdout during a solve (they
    would corrupt machine-readable CLI output). Python-level output is unaffected."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    with _STDOUT_LOCK:
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass
        saved = os.dup(fd)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
            yield
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            os.close(devnull)


@dataclass
class SolveOutcome:
    """Outcome of one HiGHS solve.

    ``status`` is ``"optimal"`` (within ``mip_rel_gap``), ``"time_limit"``, ``"infeasible"``,
    ``"unbounded"`` or ``"error"``. ``objective`` is the value of the incumbent (in the
    requested sense), ``bound`` a valid bound on the optimum (the dual bound; ``+inf`` for a
    maximization without one, ``-inf`` for a minimization). ``x`` is the incumbent.
    """

    status: str
    x: np.ndarray | None
    objective: float | None
    bound: float
    seconds: float
    message: str = ""


class MILPBuilder:
    """Incrementally build a sparse MILP ``min/max c·v  s.t.  row_lo <= A v <= row_hi``,
    ``lb <= v <= ub``, some ``v`` integer; solve it with HiGHS via :func:`scipy.optimize.milp`.
    """

    def __init__(self) -> None:
        self._lb: list[np.ndarray] = []
        self._ub: list[np.ndarray] = []
        self._int: list[np.ndarray] = []
        self.n_vars = 0
        self._data: list[np.ndarray] = []
        self._ri: list[np.ndarray] = []
        self._ci: list[np.ndarray] = []
        self._rlo: list[np.ndarray] = []
        self._rhi: list[np.ndarray] = []
        self.n_rows = 0

    # variables -----------------------------------------------------------------------
    def add_vars(self, n: int, lb: float | np.ndarray = -np.inf, ub: float | np.ndarray = np.inf,
                 integer: bool = False) -> np.ndarray:
        """Add ``n`` variables; return their indices."""
        lb_arr = np.broadcast_to(np.asarray(lb, dtype=np.float64), (n,)).copy()
        ub_arr = np.broadcast_to(np.asarray(ub, dtype=np.float64), (n,)).copy()
        idx = np.arange(self.n_vars, self.n_vars + n)
        self._lb.append(lb_arr)
        self._ub.append(ub_arr)
        self._int.append(np.full(n, 1 if integer else 0, dtype=np.int8))
        self.n_vars += n
        return idx

    def add_binaries(self, n: int) -> np.ndarray:
        return self.add_vars(n, 0.0, 1.0, integer=True)

    # constraints ---------------------------------------------------------------------
    def add_rows(self, blocks: Sequence[tuple[np.ndarray, np.ndarray]],
                 lo: float | np.ndarray, hi: float | np.ndarray) -> np.ndarray:
        """Add ``m`` rows ``lo <= sum_b M_b @ v[idx_b] <= hi`` for blocks ``(idx_b, M_b)``,
        ``M_b`` dense of shape ``(m, len(idx_b))``. Returns the row indices."""
        m = None
        for idx, mat in blocks:
            mat = np.atleast_2d(np.asarray(mat, dtype=np.float64))
            if m is None:
                m = mat.shape[0]
            if mat.shape != (m, len(idx)):
                raise SolverError(f"constraint block has shape {mat.shape}; expected ({m}, {len(idx)})")
            r, c = np.nonzero(mat)
            self._data.append(mat[r, c])
            self._ri.append(r + self.n_rows)
            self._ci.append(np.asarray(idx)[c])
        if m is None:
            raise SolverError("add_rows needs at least one block")
        self._rlo.append(np.broadcast_to(np.asarray(lo, dtype=np.float64), (m,)).copy())
        self._rhi.append(np.broadcast_to(np.asarray(hi, dtype=np.float64), (m,)).copy())
        rows = np.arange(self.n_rows, self.n_rows + m)
        self.n_rows += m
        return rows

    def add_diag_rows(self, terms: Sequence[tuple[np.ndarray, float | np.ndarray]],
                      lo: float | np.ndarray, hi: float | np.ndarray) -> np.ndarray:
        """Add ``m`` rows ``lo_i <= sum_t coef_t[i] * v[idx_t[i]] <= hi_i`` (elementwise terms)."""
        m = len(terms[0][0])
        for idx, coef in terms:
            coef_arr = np.broadcast_to(np.asarray(coef, dtype=np.float64), (m,))
            keep = coef_arr != 0
            self._data.append(coef_arr[keep].copy())
            self._ri.append(np.arange(m)[keep] + self.n_rows)
            self._ci.append(np.asarray(idx)[keep])
        self._rlo.append(np.broadcast_to(np.asarray(lo, dtype=np.float64), (m,)).copy())
        self._rhi.append(np.broadcast_to(np.asarray(hi, dtype=np.float64), (m,)).copy())
        rows = np.arange(self.n_rows, self.n_rows + m)
        self.n_rows += m
        return rows

    def set_var_bounds(self, idx: np.ndarray, lb: float | np.ndarray | None = None,
                       ub: float | np.ndarray | None = None) -> None:
        """Tighten/replace bounds of existing variables."""
        lb_all, ub_all = self._bounds()
        if lb is not None:
            lb_all[idx] = lb
        if ub is not None:
            ub_all[idx] = ub
        self._lb, self._ub = [lb_all], [ub_all]
        ints = np.concatenate(self._int) if self._int else np.zeros(0, np.int8)
        self._int = [ints]

    def _bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lb = np.concatenate(self._lb) if self._lb else np.zeros(0)
        ub = np.concatenate(self._ub) if self._ub else np.zeros(0)
        return lb, ub

    @property
    def n_integers(self) -> int:
        return int(sum(int(a.sum()) for a in self._int))

    def matrix(self) -> sparse.csr_matrix:
        if not self._data:
            return sparse.csr_matrix((max(self.n_rows, 0), self.n_vars))
        data = np.concatenate(self._data)
        ri = np.concatenate(self._ri)
        ci = np.concatenate(self._ci)
        return sparse.csr_matrix((data, (ri, ci)), shape=(self.n_rows, self.n_vars))

    # solving -------------------------------------------------------------------------
    def solve(self, objective: dict[int, float] | tuple[np.ndarray, np.ndarray] | np.ndarray,
              sense: Literal["min", "max"] = "max", time_limit: float = 10.0,
              mip_rel_gap: float = 1e-6, relax: bool = False,
              extra_rows: Sequence[tuple[np.ndarray, np.ndarray, float, float]] = (),
              objective_constant: float = 0.0, continuous: np.ndarray | None = None,
              presolve: bool = True) -> SolveOutcome:
        """Optimize a linear objective.

        Parameters
        ----------
        objective:
            Full coefficient vector, a ``{var: coef}`` dict, or ``(idx, coefs)``.
        sense:
            ``"max"`` or ``"min"``.
        time_limit:
            Seconds given to HiGHS.
        mip_rel_gap:
            HiGHS' relative MIP gap at which it stops and reports optimal.
        relax:
            Drop integrality (the LP relaxation).
        extra_rows:
            Extra rows ``(idx, coefs, lo, hi)`` for this solve only (e.g. an objective cutoff).
        objective_constant:
            Constant added to the objective value and bound.
        continuous:
            Indices of integer variables to treat as continuous in this solve only.
        presolve:
            HiGHS presolve (on by default; turning it off is a retry after a solver error).
        """
        c = np.zeros(self.n_vars)
        if isinstance(objective, dict):
            for k, v in objective.items():
                c[k] += v
        elif isinstance(objective, tuple):
            np.add.at(c, np.asarray(objective[0]), np.asarray(objective[1], dtype=np.float64))
        else:
            c[:] = np.asarray(objective, dtype=np.float64)
        sign = -1.0 if sense == "max" else 1.0
        A = self.matrix()
        rlo = np.concatenate(self._rlo) if self._rlo else np.zeros(0)
        rhi = np.concatenate(self._rhi) if self._rhi else np.zeros(0)
        if extra_rows:
            extra = sparse.lil_matrix((len(extra_rows), self.n_vars))
            elo, ehi = [], []
            for r, (idx, coefs, lo, hi) in enumerate(extra_rows):
                for k, v in zip(np.atleast_1d(idx), np.atleast_1d(coefs)):
                    extra[r, int(k)] += float(v)
                elo.append(lo)
                ehi.append(hi)
            A = sparse.vstack([A, extra.tocsr()], format="csr")
            rlo = np.concatenate([rlo, elo])
            rhi = np.concatenate([rhi, ehi])
        lb, ub = self._bounds()
        integrality = np.zeros(self.n_vars) if relax else np.concatenate(self._int).astype(float) if self._int else np.zeros(0)
        if continuous is not None and len(continuous) and not relax:
            integrality[np.asarray(continuous, dtype=np.int64)] = 0.0
        constraints = [LinearConstraint(A, rlo, rhi)] if A.shape[0] else []
        options = {"time_limit": float(max(time_limit, 1e-3)), "mip_rel_gap": float(mip_rel_gap),
                   "presolve": bool(presolve), "disp": False}
        t0 = time.perf_counter()
        try:
            with _silence_c_stdout():
                res = milp(c=sign * c, constraints=constraints, integrality=integrality,
                           bounds=Bounds(lb, ub), options=options)
        except ValueError as exc:  # malformed model: a bug, not a user error
            raise SolverError(f"HiGHS rejected the model: {exc}") from None
        seconds = time.perf_counter() - t0
        is_mip = bool(np.any(integrality > 0))
        worst = np.inf if sense == "max" else -np.inf
        x = None if res.x is None else np.asarray(res.x, dtype=np.float64)
        obj = None if res.fun is None else sign * float(res.fun) + objective_constant
        if res.status == 0:
            status = "optimal"
            dual = getattr(res, "mip_dual_bound", None) if is_mip else None
            if dual is None or not np.isfinite(dual):
                bound = obj if obj is not None else worst
            else:
                bound = sign * float(dual) + objective_constant
                # the dual bound is never worse than the incumbent for an optimal solve
                if obj is not None:
                    bound = max(bound, obj) if sense == "max" else min(bound, obj)
        elif res.status == 1:
            status = "time_limit"
            dual = getattr(res, "mip_dual_bound", None) if is_mip else None
            if dual is None or not np.isfinite(dual):
                bound = worst
            else:
                bound = sign * float(dual) + objective_constant
        elif res.status == 2:
            status = "infeasible"
            bound = -np.inf if sense == "max" else np.inf
        elif res.status == 3:
            status = "unbounded"
            bound = worst
        else:
            status = "error"
            bound = worst
        return SolveOutcome(status, x, obj, float(bound), seconds, str(res.message))


# ---------------------------------------------------------------------------------- encoding
@dataclass
class EncodedNetwork:
    """Variable indices of a network encoded in a :class:`MILPBuilder`.

    ``pre[l]`` / ``post[l]`` are the pre-/post-activation variables of affine layer ``l+1``
    (``post`` only for hidden layers); ``delta[l]`` holds the binary variable of each hidden
    neuron, ``-1`` for neurons whose sign the bounds fix (no binary needed);
    ``active[l]`` / ``inactive[l]`` mark those stable neurons.
    """

    x: np.ndarray
    pre: list[np.ndarray]
    post: list[np.ndarray]
    delta: list[np.ndarray]
    active: list[np.ndarray]
    inactive: list[np.ndarray]
    bounds: list[tuple[np.ndarray, np.ndarray]]

    @property
    def output(self) -> np.ndarray:
        return self.pre[-1]

    @property
    def n_binaries(self) -> int:
        return int(sum(int((d >= 0).sum()) for d in self.delta))


def _as_pairs(bounds: Sequence) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for b in bounds:
        if isinstance(b, LayerBounds):
            out.append((np.asarray(b.lower, dtype=np.float64), np.asarray(b.upper, dtype=np.float64)))
        else:
            lo, hi = b
            out.append((np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)))
    return out


def encode_network(builder: MILPBuilder, net: ReLUNetwork, x: np.ndarray,
                   bounds: Sequence, n_layers: int | None = None, margin: float = 0.0,
                   pad: float = _PAD) -> EncodedNetwork:
    """Encode ``net`` on the input variables ``x`` with big-M constants from ``bounds``.

    Parameters
    ----------
    builder:
        The model to add variables and rows to.
    net:
        The network.
    x:
        Indices of the ``d`` input variables (already in ``builder``, bounded by the domain).
    bounds:
        Valid pre-activation bounds for at least the first ``n_layers`` layers
        (:class:`LayerBounds` or ``(lo, hi)`` pairs), e.g. from :func:`preactivation_bounds`.
    n_layers:
        Encode only the first ``n_layers`` affine layers (default: all). The last encoded
        layer's pre-activations are then available in ``pre[-1]``; its ReLU is not encoded
        unless it is followed by another encoded layer.
    margin:
        With ``margin > 0``, every hidden neuron of unknown sign satisfies
        ``z >= margin`` when its binary is 1 and ``z <= -margin`` when it is 0, so that each
        feasible activation pattern is realized on an open set (used for exact gradients).
    pad:
        Relative widening of the bounds used as big-M (floating-point safety).
    """
    L = net.depth if n_layers is None else int(n_layers)
    pairs = _as_pairs(bounds)
    if len(pairs) < L:
        raise SolverError(f"encode_network needs bounds for {L} layers; got {len(pairs)}")
    pre, post, delta, act, inact, used = [], [], [], [], [], []
    prev = np.asarray(x)
    for layer in range(L):
        W, b = net.weights[layer], net.biases[layer]
        lo, hi = pad_bounds(*pairs[layer], pad=pad)
        used.append((lo, hi))
        n = W.shape[0]
        z = builder.add_vars(n, lo, hi)
        # z - W prev = b
        builder.add_rows([(z, np.eye(n)), (prev, -W)], b, b)
        pre.append(z)
        if layer == L - 1:  # the output layer, or the last layer asked for: no ReLU
            break
        a_hi = np.maximum(hi, 0.0)
        a = builder.add_vars(n, 0.0, a_hi)
        orig_lo, orig_hi = pairs[layer]
        inactive = orig_hi <= 0.0
        active = (orig_lo >= 0.0) & ~inactive
        unstable = ~(active | inactive)
        d_idx = np.full(n, -1, dtype=np.int64)
        if inactive.any():
            builder.set_var_bounds(a[inactive], lb=0.0, ub=0.0)
        if active.any():
            ia = np.nonzero(active)[0]
            builder.add_diag_rows([(a[ia], 1.0), (z[ia], -1.0)], 0.0, 0.0)
        if unstable.any():
            iu = np.nonzero(unstable)[0]
            dl = builder.add_binaries(len(iu))
            d_idx[iu] = dl
            lu, hu = lo[iu], hi[iu]
            au, zu = a[iu], z[iu]
            # a - z >= 0
            builder.add_diag_rows([(au, 1.0), (zu, -1.0)], 0.0, np.inf)
            # a - z - lo*δ <= -lo
            builder.add_diag_rows([(au, 1.0), (zu, -1.0), (dl, -lu)], -np.inf, -lu)
            # a - hi*δ <= 0
            builder.add_diag_rows([(au, 1.0), (dl, -hu)], -np.inf, 0.0)
            if margin > 0.0:
                # z - (margin - lo) δ >= lo   (δ = 1 => z >= margin)
                builder.add_diag_rows([(zu, 1.0), (dl, -(margin - lu))], lu, np.inf)
                # z - (hi + margin) δ <= -margin   (δ = 0 => z <= -margin)
                builder.add_diag_rows([(zu, 1.0), (dl, -(hu + margin))], -np.inf, -margin)
        post.append(a)
        delta.append(d_idx)
        act.append(active)
        inact.append(inactive)
        prev = a
    return EncodedNetwork(np.asarray(x), pre, post, delta, act, inact, used)


# ---------------------------------------------------------------------------------- helpers
def _check_net(net: ReLUNetwork) -> None:
    if not isinstance(net, ReLUNetwork):
        raise InvalidNetwork(f"expected a ReLUNetwork; got {type(net).__name__}")


def _box_bounds(net: ReLUNetwork, domain) -> tuple[np.ndarray, np.ndarray]:
    dom = as_domain(domain, net.input_dim)
    if not isinstance(dom, Box):
        raise InvalidDomain("this operation needs a Box domain")
    return dom.bounds(net.input_dim)


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
    _check_net(net)
    lo, hi = _box_bounds(net, box)
    out = []
    for layer, (W, b) in enumerate(net.layers()):
        Wp, Wn = np.maximum(W, 0.0), np.minimum(W, 0.0)
        zl = Wp @ lo + Wn @ hi + b
        zh = Wp @ hi + Wn @ lo + b
        out.append((zl, zh))
        lo, hi = np.maximum(zl, 0.0), np.maximum(zh, 0.0)
    return out


def _pointset_bounds(net: ReLUNetwork, points: PointSet) -> list[LayerBounds]:
    Z = net.preactivations(points.points)
    out = []
    for z in Z:
        t = np.ones(z.shape[1], dtype=bool)
        out.append(LayerBounds(z.min(axis=0), z.max(axis=0), t, t, method="points"))
    return out


def _interval_layer_bounds(net: ReLUNetwork, box) -> list[LayerBounds]:
    pairs = interval_bounds(net, box)
    out = []
    for layer, (lo, hi) in enumerate(pairs):
        ex = np.full(lo.shape, layer == 0)
        out.append(LayerBounds(lo, hi, ex, ex, method="interval"))
    return out


def _refine_layer(net: ReLUNetwork, lo_x: np.ndarray, hi_x: np.ndarray, bounds: list[LayerBounds],
                  layer: int, relax: bool, deadline: float, mip_rel_gap: float, tol: float,
                  neurons: Sequence[int] | None = None, which: str = "both") -> LayerBounds:
    """Bounds of affine layer ``layer`` (0-based) given bounds of layers ``< layer``, by LP
    (``relax=True``) or MILP over the encoding of the first ``layer + 1`` layers."""
    current = bounds[layer]
    lower = current.lower.copy()
    upper = current.upper.copy()
    ex_lo = current.exact_lower.copy()
    ex_hi = current.exact_upper.copy()
    builder = MILPBuilder()
    x = builder.add_vars(net.input_dim, lo_x, hi_x)
    enc = encode_network(builder, net, x, bounds[:layer] + [current], n_layers=layer + 1)
    z = enc.pre[layer]
    idxs = range(len(lower)) if neurons is None else neurons
    for i in idxs:
        for sense in ("min", "max"):
            if which != "both" and which != sense:
                continue
            if (sense == "min" and ex_lo[i]) or (sense == "max" and ex_hi[i]):
                continue
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            out = builder.solve({int(z[i]): 1.0}, sense=sense, time_limit=remaining,
                                mip_rel_gap=mip_rel_gap, relax=relax)
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


def preactivation_bounds(net: ReLUNetwork, box: Box | PointSet | str | None = None,
                         method: Literal["interval", "lp", "milp"] = "interval",
                         time_limit: float = 10.0, mip_rel_gap: float = 1e-9,
                         tol: float = 1e-6, n_layers: int | None = None) -> list[LayerBounds]:
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
        ``"interval"`` (interval arithmetic; exact on layer 1), ``"lp"`` (interval bounds
        tightened layer by layer by linear programs over the triangle relaxation) or
        ``"milp"`` (one exact MILP per bound, layer by layer, big-M from the LP bounds).
    time_limit:
        Total seconds for all LP/MILP solves. Bounds not reached in time keep their
        (valid, outer) interval or LP value and are flagged not exact.
    mip_rel_gap:
        HiGHS relative MIP gap for ``method="milp"``.
    tol:
        Tolerance of the exactness check and of the outward rounding of solver bounds.
    n_layers:
        Only compute the first ``n_layers`` layers (default: all, hidden and output).

    Returns
    -------
    list of LayerBounds
        One per affine layer; ``lower``/``upper`` are valid outer bounds, ``exact_lower``/
        ``exact_upper`` flag the bounds attained by a point of the domain (checked by
        evaluating the network at the solver's point).
    """
    _check_net(net)
    if method not in ("interval", "lp", "milp"):
        raise InvalidNetwork(f"method must be 'interval', 'lp' or 'milp'; got {method!r}")
    dom = as_domain(box, net.input_dim)
    L = net.depth if n_layers is None else int(n_layers)
    if not 1 <= L <= net.depth:
        raise InvalidNetwork(f"n_layers must be in 1..{net.depth}; got {n_layers}")
    if isinstance(dom, PointSet):
        return _pointset_bounds(net, dom)[:L]
    bounds = _interval_layer_bounds(net, dom)[:L]
    if method == "interval":
        return bounds
    lo_x, hi_x = dom.bounds(net.input_dim)
    deadline = time.perf_counter() + float(time_limit)
    for layer in range(1, L):
        # propagate the tightened bounds of the previous layers by interval arithmetic first
        bounds[layer] = _interval_from_previous(net, bounds, layer)
        bounds[layer] = _refine_layer(net, lo_x, hi_x, bounds, layer, True, deadline, mip_rel_gap, tol)
        if method == "milp":
            bounds[layer] = _refine_layer(net, lo_x, hi_x, bounds, layer, False, deadline, mip_rel_gap, tol)
        bounds[layer] = LayerBounds(bounds[layer].lower, bounds[layer].upper, bounds[layer].exact_lower,
                                    bounds[layer].exact_upper, method=method)
    return bounds


def _interval_from_previous(net: ReLUNetwork, bounds: list[LayerBounds], layer: int) -> LayerBounds:
    """Interval bounds of ``layer`` from (possibly tightened) bounds of ``layer - 1``,
    intersected with the current bounds of ``layer``."""
    plo, phi = bounds[layer - 1].lower, bounds[layer - 1].upper
    alo, ahi = np.maximum(plo, 0.0), np.maximum(phi, 0.0)
    W, b = net.weights[layer], net.biases[layer]
    Wp, Wn = np.maximum(W, 0.0), np.minimum(W, 0.0)
    zl = Wp @ alo + Wn @ ahi + b
    zh = Wp @ ahi + Wn @ alo + b
    cur = bounds[layer]
    lower = np.maximum(cur.lower, zl)
    upper = np.minimum(cur.upper, zh)
    # keep exactness flags only where the bound did not change
    ex_lo = cur.exact_lower & (lower == cur.lower)
    ex_hi = cur.exact_upper & (upper == cur.upper)
    return LayerBounds(lower, upper, ex_lo, ex_hi, method=cur.method)


def neuron_range(net: ReLUNetwork, box: Box | PointSet | str | None, layer: int, neuron: int,
                 time_limit: float = 10.0, mip_rel_gap: float = 1e-9, tol: float = 1e-6) -> NeuronRange:
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
        Total seconds (LP bound tightening of the earlier layers, then the two MILPs, half
        of the remaining time each at most for the minimum).
    mip_rel_gap:
        HiGHS relative MIP gap.
    tol:
        Exactness tolerance: a bound is exact when the network evaluated at the solver's
        point is within ``tol * (1 + |value|)`` of the solver's dual bound.

    Returns
    -------
    NeuronRange
        Valid bounds always; ``exact_lower``/``exact_upper`` with witnesses when attained.
        On a time limit the bounds are the solver's dual bounds (still valid), not exact.
    """
    _check_net(net)
    if not isinstance(layer, (int, np.integer)) or not 1 <= layer <= net.depth:
        raise InvalidNetwork(f"layer must be an integer in 1..{net.depth} (1-based; {net.depth} is the output); got {layer!r}")
    width = net.widths[layer]
    if not isinstance(neuron, (int, np.integer)) or not 0 <= neuron < width:
        raise InvalidNetwork(f"neuron must be an integer in 0..{width - 1} for layer {layer}; got {neuron!r}")
    t0 = time.perf_counter()
    dom = as_domain(box, net.input_dim)
    if isinstance(dom, PointSet):
        z = net.preactivations(dom.points)[layer - 1][:, neuron]
        X = dom.points
        return NeuronRange(int(layer), int(neuron), float(z.min()), float(z.max()), True, True,
                           X[int(np.argmin(z))].copy(), X[int(np.argmax(z))].copy(), "optimal",
                           time.perf_counter() - t0)
    lo_x, hi_x = dom.bounds(net.input_dim)
    deadline = t0 + float(time_limit)
    # LP bounds for the earlier layers (big-M); at most half the budget
    lp_deadline = t0 + 0.5 * float(time_limit)
    bounds = _interval_layer_bounds(net, dom)[:layer]
    for l in range(1, layer):
        bounds[l] = _interval_from_previous(net, bounds, l)
        bounds[l] = _refine_layer(net, lo_x, hi_x, bounds, l, True, lp_deadline, mip_rel_gap, tol)
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
        remaining = deadline - time.perf_counter()
        budget = remaining / 2 if sense == "min" else remaining
        if budget <= 0:
            status = "time_limit"
            continue
        out = builder.solve({zi: 1.0}, sense=sense, time_limit=budget, mip_rel_gap=mip_rel_gap)
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


def encode_jacobian_column(builder: MILPBuilder, net: ReLUNetwork, enc: EncodedNetwork,
                           j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encode the partial derivatives ``∂ net / ∂ x_j`` (one column of the Jacobian) of the
    linear region selected by the activation binaries of ``enc``.

    Propagation: ``u_1 = A_1[:, j]``, ``v_l = δ_l ⊙ u_l``, ``u_{l+1} = A_{l+1} v_l``, the
    column being ``A_L v_{L-1}``. Each product ``v = δ u`` of a binary and a continuous
    ``u ∈ [p, q]`` (bounds by interval arithmetic) is linearized exactly by
    ``p δ <= v <= q δ``, ``u - q (1 - δ) <= v <= u - p (1 - δ)``. Neurons of fixed sign
    give ``v = u`` (active) or ``v = 0`` (inactive) without binaries.

    Returns
    -------
    (idx, lo, hi)
        Indices of the ``k`` variables holding the column of the output Jacobian and
        interval bounds on them.
    """
    L = net.depth
    W1 = net.weights[0]
    u_const: np.ndarray | None = W1[:, j].copy()
    u_idx: np.ndarray | None = None
    p = q = u_const
    v_idx = None
    for layer in range(L - 1):
        n = net.widths[layer + 1]
        active, inactive, dl = enc.active[layer], enc.inactive[layer], enc.delta[layer]
        unstable = dl >= 0
        vlo = np.where(inactive, 0.0, np.where(active, p, np.minimum(p, 0.0)))
        vhi = np.where(inactive, 0.0, np.where(active, q, np.maximum(q, 0.0)))
        vlo, vhi = pad_bounds(vlo, vhi)
        vlo = np.where(inactive, 0.0, vlo)
        vhi = np.where(inactive, 0.0, vhi)
        v = builder.add_vars(n, vlo, vhi)
        ia = np.nonzero(active)[0]
        iu = np.nonzero(unstable)[0]
        if u_const is not None:
            if ia.size:
                builder.set_var_bounds(v[ia], lb=u_const[ia], ub=u_const[ia])
            if iu.size:
                # v = c δ
                builder.add_diag_rows([(v[iu], 1.0), (dl[iu], -u_const[iu])], 0.0, 0.0)
        else:
            if ia.size:
                builder.add_diag_rows([(v[ia], 1.0), (u_idx[ia], -1.0)], 0.0, 0.0)
            if iu.size:
                pu, qu = pad_bounds(p[iu], q[iu])
                vu, uu, du = v[iu], u_idx[iu], dl[iu]
                builder.add_diag_rows([(vu, 1.0), (du, -qu)], -np.inf, 0.0)        # v <= q δ
                builder.add_diag_rows([(vu, 1.0), (du, -pu)], 0.0, np.inf)         # v >= p δ
                builder.add_diag_rows([(vu, 1.0), (uu, -1.0), (du, -pu)], -np.inf, -pu)  # v <= u - p(1-δ)
                builder.add_diag_rows([(vu, 1.0), (uu, -1.0), (du, -qu)], -qu, np.inf)   # v >= u - q(1-δ)
        # next layer
        W = net.weights[layer + 1]
        Wp, Wn = np.maximum(W, 0.0), np.minimum(W, 0.0)
        vlo_t = np.where(inactive, 0.0, np.where(active, p, np.minimum(p, 0.0)))
        vhi_t = np.where(inactive, 0.0, np.where(active, q, np.maximum(q, 0.0)))
        p = Wp @ vlo_t + Wn @ vhi_t
        q = Wp @ vhi_t + Wn @ vlo_t
        plo, qhi = pad_bounds(p, q)
        u_idx = builder.add_vars(W.shape[0], plo, qhi)
        builder.add_rows([(u_idx, np.eye(W.shape[0])), (v, -W)], 0.0, 0.0)
        u_const = None
        v_idx = v
    if L == 1:
        out = builder.add_vars(net.output_dim, u_const, u_const)
        return out, u_const.copy(), u_const.copy()
    return u_idx, p, q
