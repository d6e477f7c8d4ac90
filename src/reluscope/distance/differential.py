"""Differential questions for a network and its compressed (pruned, quantized, fine-tuned)
copy on a domain: is ``|f - g| <= eps`` everywhere (:func:`epsilon_equivalent`)? do the two
always pick the same class (:func:`top1_agreement`)?

Each answer is *proved* (by the bound engine, or by a MILP on a box where the engine's
bounds were not enough), *refuted* (with a counterexample evaluated on the real networks),
or *undecided* when the time runs out. For a union of boxes every box gets its own status.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from .._budget import Budget
from .._results import ResultMixin
from .._validation import check_pair, check_seed, check_time_limit, check_tol
from ..bounds import layer_bounds
from ..bounds.differential_linear import batch_difference_bounds, batch_layer_bounds
from .difference_search import SEARCH_MAX_DIM, search_result, split_method, top1_search
from .disagreement import find_disagreement
from ..domain import Box, Boxes, PointSet, as_domain
from ..milp import neuron_range
from ..network import ReLUNetwork
from ..search.network import search_network
from .neighbourhoods import boxes_bounds, refine_boxes
from .pointwise import _terms, _values
from .results import DistanceResult
from .sup import sup_distance

__all__ = ["DifferentialVerdict", "epsilon_equivalent", "top1_agreement"]

#: share of the time left after the batched margin pass that top-1 agreement gives the joint
#: ReLU splitting of the open boxes in high dimension (the rest: engine, boundary search, MILPs)
_TOP1_SEARCH_SHARE = 0.6


@dataclass(frozen=True)
class DifferentialVerdict(ResultMixin):
    """The answer to a differential question on a domain.

    Attributes
    ----------
    question:
        ``"epsilon-equivalence"`` or ``"top-1 agreement"``.
    status:
        ``"proved"``, ``"refuted"`` (``counterexample`` shows it) or ``"undecided"``.
    counterexample:
        A point where the property fails, checked with the real networks.
    box_status:
        One status per box of the domain (one entry for a single box or a point set).
    seconds:
        Wall-clock time.
    epsilon:
        The tolerance of an epsilon-equivalence question.
    bounds:
        Epsilon-equivalence: ``(lower, upper)`` on ``sup |f - g|`` over the domain.
    """

    question: str
    status: str
    counterexample: np.ndarray | None
    box_status: tuple[str, ...]
    seconds: float
    epsilon: float | None = None
    bounds: tuple[float, float] | None = None

    @property
    def holds(self) -> bool | None:
        """``True`` (proved), ``False`` (refuted) or ``None`` (undecided)."""
        return {"proved": True, "refuted": False}.get(self.status)

    @property
    def counts(self) -> dict[str, int]:
        """How many boxes are proved, refuted and undecided."""
        return {s: self.box_status.count(s) for s in ("proved", "refuted", "undecided")}

    def __str__(self) -> str:
        head = f"{self.question}: {self.status}"
        if self.epsilon is not None:
            head += f" (epsilon {self.epsilon:.6g}"
            head += "" if self.bounds is None else f"; sup |f - g| in [{self.bounds[0]:.6g}, {self.bounds[1]:.6g}]"
            head += ")"
        if len(self.box_status) > 1:
            c = self.counts
            head += f"; boxes: {c['proved']} proved, {c['refuted']} refuted, {c['undecided']} undecided"
        return f"{head} [{self.seconds:.2f}s]"


def _overall(statuses: list[str]) -> str:
    if "refuted" in statuses:
        return "refuted"
    return "proved" if all(s == "proved" for s in statuses) else "undecided"


def _as_boxes(domain, dim: int) -> Boxes | PointSet:
    dom = as_domain(domain, dim, allow_boxes=True)
    if isinstance(dom, Box):
        lo, hi = dom.bounds(dim)
        return Boxes(lo[None, :], hi[None, :])
    return dom


def epsilon_equivalent(f: ReLUNetwork, g: ReLUNetwork, domain: Box | Boxes | PointSet | str | None,
                       eps: float, *, time_limit: float = 30.0, seed: int = 0,
                       budget: Budget | None = None) -> DifferentialVerdict:
    """Decide whether ``max_k |f_k(x) - g_k(x)| <= eps`` for every ``x`` in the domain.

    Each box is *proved* when an upper bound on ``sup |f - g|`` over it is at most ``eps``,
    *refuted* when a point with ``|f - g| > eps`` is found (evaluated on the real networks),
    and *undecided* otherwise. The bounds come first from the bound engine on every box at
    once (the symbolic differential bounds for networks of equal widths), then, box by box
    (largest upper bound first), from the branch and bound of :mod:`reluscope.search` —
    over input boxes up to 16 inputs, by joint ReLU splitting of the pair above
    (:mod:`reluscope.search.pair_split`; it stops as soon as the box is decided) — or, in
    high dimension without PyTorch, from :func:`sup_distance`'s MILPs. The last open box gets all the time
    left, so an undecided answer comes only when ``time_limit`` is spent. The domain is
    refuted if one box is, proved if all are.
    """
    check_pair(f, g)
    eps = check_tol(eps, "eps")
    time_limit = check_time_limit(time_limit)
    rng = check_seed(seed)
    budget = Budget.of(time_limit, budget)
    dom = _as_boxes(domain, f.input_dim)
    terms = _terms(f, g)
    if isinstance(dom, PointSet):
        D = np.abs(_values(terms, dom.points)).max(axis=1)
        bad = D > eps
        statuses = tuple(np.where(bad, "refuted", "proved").tolist())
        cx = dom.points[int(np.argmax(D))].copy() if bad.any() else None
        return DifferentialVerdict("epsilon-equivalence", _overall(list(statuses)), cx, statuses,
                                   budget.elapsed(), eps, (float(D.max()), float(D.max())))
    state = boxes_bounds(terms, dom, "sup", budget.share(0.8), rng)

    def status(i: int) -> str:
        if state.lower[i] > eps:
            return "refuted"
        return "proved" if state.upper[i] <= eps else "undecided"

    def settled(_s) -> bool:
        st = [status(i) for i in range(len(dom))]
        return "refuted" in st or "undecided" not in st

    def pick(s) -> int | None:
        open_ = [i for i in range(len(dom)) if status(i) == "undecided" and not s.refined[i]]
        return max(open_, key=lambda i: s.upper[i]) if open_ else None

    def one_box(box: Box, box_budget: Budget) -> DistanceResult:
        # the branch and bound (input splitting in few dimensions, joint ReLU splitting
        # above when PyTorch is there), stopping once eps is decided; else the MILPs
        if f.input_dim <= SEARCH_MAX_DIM or split_method(f, g, f.input_dim) == "relu":
            lo, hi = box.bounds(f.input_dim)
            return search_result(f, g, lo, hi, budget=box_budget, rng=rng, eps=eps)
        return sup_distance(f, g, box, time_limit=time_limit, seed=seed, budget=box_budget)

    refine_boxes(state, dom, one_box, budget, settled, pick)
    statuses = [status(i) for i in range(len(dom))]
    refuted = [i for i, s in enumerate(statuses) if s == "refuted"]
    cx = state.witness[refuted[0]].copy() if refuted else None
    return DifferentialVerdict("epsilon-equivalence", _overall(statuses), cx, tuple(statuses),
                               budget.elapsed(), eps, (float(state.lower.max()), float(state.upper.max())))


def _margin_network(net: ReLUNetwork, c: int) -> ReLUNetwork:
    """The network whose outputs are ``net_c - net_j`` for every ``j != c``."""
    W, b = net.weights[-1], net.biases[-1]
    others = [j for j in range(net.output_dim) if j != c]
    return ReLUNetwork(list(net.weights[:-1]) + [W[c][None, :] - W[others]],
                       list(net.biases[:-1]) + [b[c] - b[others]])


def _disagreement(f: ReLUNetwork, g: ReLUNetwork, X: np.ndarray) -> int | None:
    """Index of a row of ``X`` where the two networks' top classes differ."""
    bad = np.nonzero(np.argmax(f(X), axis=1) != np.argmax(g(X), axis=1))[0]
    return int(bad[0]) if bad.size else None


def _margin_positive(net: ReLUNetwork, c: int, box: Box, budget: Budget | None
                     ) -> tuple[bool | None, np.ndarray | None]:
    """Is class ``c`` the strict top class of ``net`` on the whole box? ``True`` when proved
    (by the engine, or, when ``budget`` is given, by the search's branch and bound on each
    open margin and then MILPs), ``False`` with a point where it is not, ``None`` when not
    settled (no budget, or out of time)."""
    m = _margin_network(net, c)
    lo = layer_bounds(m, box).output[0]
    if np.all(lo > 0):
        return True, None
    if budget is None:
        return None, None
    for j in np.nonzero(lo <= 0)[0]:
        if budget.expired():
            return None, None
        if "torch" in sys.modules:  # the search's ReLU splitting first (it needs torch,
            # whose import costs seconds: used only when already imported)
            C = np.zeros((1, m.output_dim))
            C[0, j] = 1.0
            xlo, xhi = box.bounds(net.input_dim)
            out = search_network(m, C, np.zeros(1), xlo, xhi, budget=budget.share(0.5),
                                 rng=np.random.default_rng(int(j)), target=0.0)
            if out.status == "proved":
                continue
            if out.status == "refuted" and out.witness is not None:
                return False, out.witness
        r = neuron_range(m, box, m.depth, int(j), budget=budget.share(0.5))
        if r.exact_lower and r.lower <= 0:
            return False, r.witness_min
        if not r.lower > 0:
            return None, None
    return True, None


def _margins_proved(f: ReLUNetwork, g: ReLUNetwork, lo: np.ndarray, hi: np.ndarray, ids: list[int],
                    budget: Budget, chunk: int = 8) -> list[int]:
    """The ids of the boxes (rows of ``lo, hi``) on which the class ``c`` of ``f`` at the centre
    is provably the strict top class of both networks: every margin ``net_c - net_j`` has a
    positive lower bound (batched CROWN; for ``g`` also ``f``'s margin minus the upper
    differential bound of ``(f - g)``'s margins when the widths agree)."""
    cs = np.argmax(f(0.5 * (lo + hi)), axis=1)
    proved = []
    for c in np.unique(cs):
        mf, mg = _margin_network(f, int(c)), _margin_network(g, int(c))
        rows = np.nonzero(cs == c)[0]
        for start in range(0, rows.size, chunk):
            if budget.expired():
                return proved
            r = rows[start:start + chunk]
            f_lo = batch_layer_bounds(mf, lo[r], hi[r])[0][-1]
            g_lo = batch_layer_bounds(mg, lo[r], hi[r])[0][-1]
            if f.widths == g.widths:
                g_lo = np.maximum(g_lo, f_lo - batch_difference_bounds(mf, mg, lo[r], hi[r]).upper)
            ok = np.all(f_lo > 0, axis=1) & np.all(g_lo > 0, axis=1)
            proved += [ids[int(i)] for i in r[ok]]
    return proved


def top1_agreement(f: ReLUNetwork, g: ReLUNetwork, domain: Box | Boxes | PointSet | str | None, *,
                   time_limit: float = 30.0, seed: int = 0, n_samples: int = 64,
                   budget: Budget | None = None) -> DifferentialVerdict:
    """Decide whether ``argmax_k f_k(x) == argmax_k g_k(x)`` for every ``x`` in the domain.

    A box is *refuted* by a point where the top classes differ (box centre, random points,
    a boundary search — margin descent then bisection of both networks' class changes on a
    segment, :mod:`reluscope.distance.disagreement` — and MILP minimizers of the margins),
    each checked by evaluating both networks; *proved* when one class ``c`` is the strict top class
    of both networks on the whole box (every margin ``net_c - net_j`` has a positive lower
    bound, from the bound engine or, where that is not enough, an exact MILP) or, above 16
    inputs, when the joint ReLU splitting of the pair proves that no point has top classes
    ``a != b`` (:func:`~reluscope.distance.difference_search.top1_search`; this also
    covers boxes inside which the top class changes); otherwise
    *undecided* (for instance when both networks change class inside the box at the same
    place, which this test does not prove). Ties count as disagreement only where
    ``numpy.argmax`` differs.
    """
    check_pair(f, g)
    time_limit = check_time_limit(time_limit)
    rng = check_seed(seed)
    budget = Budget.of(time_limit, budget)
    dom = _as_boxes(domain, f.input_dim)
    if isinstance(dom, PointSet):
        bad = np.argmax(f(dom.points), axis=1) != np.argmax(g(dom.points), axis=1)
        statuses = tuple(np.where(bad, "refuted", "proved").tolist())
        cx = dom.points[int(np.argmax(bad))].copy() if bad.any() else None
        return DifferentialVerdict("top-1 agreement", _overall(list(statuses)), cx, statuses, budget.elapsed())
    if f.output_dim == 1:  # one output: the top class is always 0, both networks agree
        return DifferentialVerdict("top-1 agreement", "proved", None, ("proved",) * len(dom), budget.elapsed())
    statuses = ["undecided"] * len(dom)
    cx = None
    # every box's centre and random points, evaluated in one batch per network (one call
    # per box cost about 30 ms each on a 784-input network)
    samples = []
    for box in dom:
        lo, hi = box.bounds(f.input_dim)
        samples.append(np.vstack([0.5 * (lo + hi), lo + (hi - lo) * rng.random((n_samples, lo.size))]))
    X = np.vstack(samples)
    bad = (np.argmax(f(X), axis=1) != np.argmax(g(X), axis=1)).reshape(len(dom), n_samples + 1)
    for i in np.nonzero(bad.any(axis=1))[0]:
        k = int(np.argmax(bad[i]))
        statuses[i], cx = "refuted", (samples[i][k].copy() if cx is None else cx)
    # every open box at once: both networks' margins by the batched engine, g's also as
    # f's margin minus the differential bound of the margin difference
    open_ = [i for i in range(len(dom)) if statuses[i] == "undecided"]
    if open_ and not budget.expired():
        for i in _margins_proved(f, g, dom.lo[open_], dom.hi[open_], open_, budget.share(0.3)):
            statuses[i] = "proved"
    # in high dimension: joint ReLU splitting of the pair on each open box (proves agreement
    # even where the top class changes inside the box, or finds a disagreeing point)
    open_ = [i for i in range(len(dom)) if statuses[i] == "undecided"]
    if open_ and f.input_dim > SEARCH_MAX_DIM and split_method(f, g, f.input_dim) == "relu":
        share = budget.share(_TOP1_SEARCH_SHARE)
        for n, i in enumerate(open_):
            if share.expired():
                break
            lo, hi = dom.box(i).bounds(f.input_dim)
            verdict, point = top1_search(f, g, lo, hi, budget=share.share(1.0 / (len(open_) - n)), rng=rng)
            if verdict != "undecided":
                statuses[i] = verdict
            if verdict == "refuted" and cx is None:
                cx = point.copy()
    # then the engine box by box, a boundary search for refutations on the boxes it leaves
    # open, then MILPs on the rest
    for exact in (False, True):
        if exact:
            for i, box in enumerate(dom):
                if statuses[i] == "undecided" and not budget.expired():
                    point = find_disagreement(f, g, *box.bounds(f.input_dim), budget)
                    if point is not None:
                        statuses[i], cx = "refuted", (point if cx is None else cx)
        for i, box in enumerate(dom):
            if statuses[i] != "undecided":
                continue
            if budget.expired():
                break
            lo, hi = box.bounds(f.input_dim)
            c = int(np.argmax(f((0.5 * (lo + hi))[None, :])[0]))
            answers = []
            for net in (f, g):
                ok, point = _margin_positive(net, c, box, budget if exact else None)
                if ok is False and point is not None and _disagreement(f, g, point[None, :]) is not None:
                    statuses[i], cx = "refuted", (point.copy() if cx is None else cx)
                    break
                answers.append(ok)
                if ok is not True:
                    break
            if statuses[i] == "undecided" and answers == [True, True]:
                statuses[i] = "proved"
    return DifferentialVerdict("top-1 agreement", _overall(statuses), cx, tuple(statuses), budget.elapsed())
