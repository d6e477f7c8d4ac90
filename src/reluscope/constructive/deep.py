"""Deep zero-cost constructions by cone truncation.

A *truncation layer* with invertible ``W`` (d x d) and apex ``a`` acts as

``τ(z) = W^{-1} (σ(W (z - a)) ) + a = W^{-1}(σ(W z + b) - b)``,  ``b = -W a``:

the identity on the forward cone ``{W (z - a) >= 0}`` and the constant ``a`` on the backward
cone ``{W (z - a) <= 0}``. Composing truncations that each collapse one class to a point
while fixing everything else, then an affine map sending the ``Q`` points to the targets,
gives a ReLU network of ``L`` hidden layers of width ``d`` with zero training cost.

* :func:`cone_truncation_clustered`: ``d = Q``, coordinates ``z = X_red^+ x`` (barycentric),
  one analytic cone per class; applies when the clusters are small (sufficient:
  ``5 δ_P < sqrt(Q / (Q - 1))``), checked exactly.
* :func:`cone_truncation_separable`: ``d = M``, hyperplanes from a linear program (HiGHS) in
  a greedy order; applies exactly when the classes are *sequentially linearly separable* in
  that sense (see ``docs/background/constructive.md``).

The cones are simplicial: rows ``w_k = cos φ f + sin φ u_k`` with ``f`` the unit axis and
``u_k`` a regular simplex of unit vectors orthogonal to ``f``; the cone contains the round
cone of half-angle ``π/2 - φ`` around ``f`` (and its negative contains the opposite one).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Hashable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._results import ResultMixin
from .._validation import check_int
from ..errors import InvalidData
from ..network import ReLUNetwork
from ._data import Prepared, prepare, reduced_inverse
from .shallow import training_costs

FloatArray = NDArray[np.float64]

__all__ = [
    "DeepConstruction",
    "cone_matrix",
    "truncate",
    "cone_truncation_clustered",
    "cone_truncation_separable",
]


@dataclasses.dataclass(frozen=True, eq=False)
class DeepConstruction(ResultMixin):
    """A deep ReLU network built by cone truncations, with its training cost.

    Attributes
    ----------
    network:
        ``ReLUNetwork`` with ``n_layers`` hidden layers of width ``d`` (``Q`` for the clustered
        construction, ``M`` for the separable one) and an affine output layer.
    kind:
        ``"clustered"`` or ``"separable"``.
    classes, targets:
        Sorted class labels and their targets (rows, shape ``(Q, k)``).
    order:
        Classes in the order their truncation layers collapse them.
    apexes:
        Apex of each truncation (rows, in ``order``), in the working coordinates.
    cone_angles:
        ``φ`` of each cone (radians): the cone contains the round cone of half-angle
        ``π/2 - φ``.
    balanced_cost, mean_cost:
        Training costs of ``network`` (zero up to rounding when the construction applies).
    min_clearance:
        Smallest ``|f·(z - a)|`` over all points and all truncation steps (how far the data
        stay from the truncating hyperplanes), in the working coordinates.
    conditions:
        The quantities in the stated sufficient conditions (per-class radii, height, ...).
    """

    network: ReLUNetwork
    kind: str
    classes: tuple[Hashable, ...]
    targets: FloatArray
    order: tuple[Hashable, ...]
    apexes: FloatArray
    cone_angles: tuple[float, ...]
    n_layers: int
    balanced_cost: float
    mean_cost: float
    training_accuracy: float
    min_clearance: float
    conditions: dict[str, Any]

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Class whose target is nearest to the network output."""
        X = np.asarray(X, dtype=np.float64)
        out = self.network(X if X.ndim == 2 else X[None, :])
        T = self.targets
        j = np.argmin(np.linalg.norm(out[:, None, :] - T[None], axis=-1), axis=1)
        return np.array([self.classes[int(k)] for k in j], dtype=object)

    def __str__(self) -> str:
        return "\n".join(
            [
                f"deep cone-truncation network ({self.kind}): widths {' -> '.join(map(str, self.network.widths))}",
                f"  truncation order: {', '.join(map(repr, self.order))}",
                f"  balanced cost: {self.balanced_cost:.3g}; mean squared error: {self.mean_cost:.3g}",
                f"  training accuracy: {self.training_accuracy:.4f}; min clearance: {self.min_clearance:.3g}",
            ]
        )


# --------------------------------------------------------------------------- cones


def cone_matrix(axis: ArrayLike, phi: float) -> FloatArray:
    """Invertible ``W`` whose cone ``{W v >= 0}`` contains the round cone of half-angle ``π/2 - φ``.

    Rows ``w_k = cos φ f + sin φ u_k`` with ``f = axis / |axis|`` and ``u_k`` (``k = 1..d``)
    unit vectors orthogonal to ``f`` with ``Σ u_k = 0`` (a regular simplex). Invertible for
    ``0 < φ <= π/2``.
    """
    f = np.asarray(axis, dtype=np.float64)
    f = f / np.linalg.norm(f)
    d = f.shape[0]
    if d == 1:
        return f.reshape(1, 1).copy()
    g = np.full(d, 1.0 / math.sqrt(d))
    U = (np.eye(d) - 1.0 / d) / math.sqrt(1.0 - 1.0 / d)  # rows: regular simplex ⟂ g
    W0 = math.cos(phi) * np.tile(g, (d, 1)) + math.sin(phi) * U
    v = g - f
    nv = np.linalg.norm(v)
    if nv < 1e-14:
        return W0
    H = np.eye(d) - 2.0 * np.outer(v, v) / nv**2  # symmetric orthogonal, H g = f
    return W0 @ H


def truncate(Z: FloatArray, W: FloatArray, apex: FloatArray) -> FloatArray:
    """``τ(z) = W^{-1} σ(W (z - a)) + a`` row-wise (what the network layer computes)."""
    return np.maximum((Z - apex) @ W.T, 0.0) @ np.linalg.inv(W).T + apex


def _angle_to_axis(V: FloatArray, f: FloatArray) -> FloatArray:
    norms = np.linalg.norm(V, axis=1)
    cos = np.divide(V @ f, norms, out=np.ones(len(V)), where=norms > 0)
    return np.arccos(np.clip(cos, -1.0, 1.0))


def _choose_phi(front: FloatArray, back: FloatArray, f: FloatArray, apex: FloatArray) -> float:
    """Half of the angular room left: ``φ = (π/2 - max angle) / 2``."""
    angles = [0.0]
    if len(front):
        angles.append(float(np.max(_angle_to_axis(front - apex, f))))
    if len(back):
        angles.append(float(np.max(_angle_to_axis(apex - back, f))))
    return 0.5 * (0.5 * math.pi - max(angles))


def _assemble(
    T: FloatArray, t: FloatArray, cones: list[tuple[FloatArray, FloatArray]], V: FloatArray, c: FloatArray
) -> ReLUNetwork:
    """Network ``x ↦ V τ_L ∘ ... ∘ τ_1 (T x + t) + c`` with ``τ_l = truncate(., W_l, a_l)``."""
    weights, biases = [], []
    prev_inv, prev_b = None, None
    for W, a in cones:
        b = -W @ a
        if prev_inv is None:
            weights.append(W @ T)
            biases.append(W @ t + b)
        else:
            M_ = W @ prev_inv
            weights.append(M_)
            biases.append(b - M_ @ prev_b)
        prev_inv, prev_b = np.linalg.inv(W), b
    assert prev_inv is not None and prev_b is not None
    out = V @ prev_inv
    weights.append(out)
    biases.append(c - out @ prev_b)
    return ReLUNetwork(weights, biases)


def _run_truncations(
    Z: FloatArray,
    index: NDArray[np.intp],
    plan: list[tuple[int, FloatArray, FloatArray]],
    classes: tuple[Hashable, ...],
    rtol: float,
) -> tuple[FloatArray, list[tuple[FloatArray, FloatArray]], list[float], float]:
    """Apply the truncation steps ``(class j, axis f, apex a)`` with exact checks.

    Returns the final points, the ``(W, a)`` list, the angles ``φ`` and the minimal clearance.
    Raises :class:`InvalidData` when a step's cone conditions fail.
    """
    current = Z.copy()
    cones: list[tuple[FloatArray, FloatArray]] = []
    angles: list[float] = []
    clearance = math.inf
    scale = 1.0 + float(np.max(np.abs(Z)))
    for j, f, apex in plan:
        back = index == j
        side = (current - apex) @ f
        bad_front = (~back) & (side <= 0)
        bad_back = back & (side >= 0)
        if bad_front.any() or bad_back.any():
            which = "of other classes lie on or behind" if bad_front.any() else "of the class lie on or in front of"
            count = int(bad_front.sum() if bad_front.any() else bad_back.sum())
            raise InvalidData(
                f"cone truncation of class {classes[j]!r} impossible: {count} point(s) {which} the truncating "
                f"hyperplane (min f·(z - apex) over other points = {float(side[~back].min()) if (~back).any() else math.nan:.3g})"
            )
        clearance = min(clearance, float(np.min(np.abs(side))))
        phi = _choose_phi(current[~back], current[back], f, apex)
        W = cone_matrix(f, phi)
        s = (current - apex) @ W.T
        if (s[~back] < -rtol * scale).any() or (s[back] > rtol * scale).any():  # pragma: no cover - theory says no
            raise InvalidData(f"cone truncation of class {classes[j]!r}: cone sign conditions fail numerically")
        new = truncate(current, W, apex)
        expected = current.copy()
        expected[back] = apex
        if not np.allclose(new, expected, rtol=0, atol=rtol * scale * max(1.0, np.linalg.cond(W))):
            raise InvalidData(  # pragma: no cover - theory says no
                f"cone truncation of class {classes[j]!r} is numerically unstable (cone angle φ = {phi:.3g})"
            )
        current = expected
        cones.append((W, apex))
        angles.append(phi)
    return current, cones, angles, clearance


def _identity_cones(current: FloatArray, extra: int) -> list[tuple[FloatArray, FloatArray]]:
    """Truncations that are the identity on all points (apex below every coordinate)."""
    d = current.shape[1]
    apex = current.min(axis=0) - 1.0
    return [(np.eye(d), apex.copy()) for _ in range(extra)]


def _finish(
    data: Prepared,
    kind: str,
    network: ReLUNetwork,
    order: list[int],
    apexes: FloatArray,
    angles: list[float],
    n_layers: int,
    clearance: float,
    conditions: dict[str, Any],
) -> DeepConstruction:
    outputs = network(data.X)
    balanced, mean = training_costs(outputs, data.Y, data.index, data.counts)
    dist = np.linalg.norm(outputs[:, None, :] - data.Y.T[None], axis=-1)
    accuracy = float(np.mean(np.argmin(dist, axis=1) == data.index))
    targets = data.Y.T.copy()
    targets.setflags(write=False)
    return DeepConstruction(
        network=network,
        kind=kind,
        classes=data.classes,
        targets=targets,
        order=tuple(data.classes[j] for j in order),
        apexes=apexes,
        cone_angles=tuple(angles),
        n_layers=n_layers,
        balanced_cost=balanced,
        mean_cost=mean,
        training_accuracy=accuracy,
        min_clearance=clearance,
        conditions=conditions,
    )


# --------------------------------------------------------------------------- clustered


def cone_truncation_clustered(
    X: ArrayLike,
    y: Any,
    targets: Any = None,
    n_layers: int | None = None,
    *,
    mu_factor: float = 2.5,
    rank_tol: float = 1e-10,
    rtol: float = 1e-9,
) -> DeepConstruction:
    """Zero-cost deep network for clustered data: ``L >= Q`` hidden layers of width ``Q``.

    Works in barycentric coordinates ``z = X_red^+ x`` where the class means are the unit
    vectors ``e_j``. Layer ``ℓ`` truncates class ``ℓ``: axis ``f_ℓ`` from ``e_ℓ`` towards the
    centroid of the other ``e_j`` (the facet normal of the simplex, height
    ``h = sqrt(Q/(Q-1))``), apex ``a_ℓ = e_ℓ + μ_ℓ f_ℓ`` with ``μ_ℓ = mu_factor · δ_ℓ``
    (``δ_ℓ`` the radius of class ``ℓ`` in barycentric coordinates). The output layer maps
    the apexes to the targets. Layers beyond ``Q`` are identity truncations.

    Conditions: ``Q <= M`` with linearly independent class means; for every ``ℓ`` all
    current points of the other classes strictly in front of the hyperplane through
    ``a_ℓ`` normal to ``f_ℓ``; linearly independent apexes (all checked exactly). Sufficient
    (``κ = mu_factor``): ``κ (δ_ℓ + max_{j≠ℓ} δ_j) < sqrt(Q / (Q - 1))`` for every ``ℓ`` and
    ``sqrt(Q) κ δ_P < 1``; with ``κ = 2.5``, ``δ_P < min(0.2, 0.4 / sqrt(Q))`` suffices.

    Raises
    ------
    InvalidData
        As :func:`~reluscope.constructive.fit`, ``n_layers < Q``, or clusters too wide for
        the cones (the message names the class).
    """
    data = prepare(X, y, targets)
    Q = data.n_classes
    L = Q if n_layers is None else check_int(n_layers, "n_layers", minimum=1)
    if L < Q:
        raise InvalidData(f"the clustered construction needs n_layers >= Q = {Q}; got {L}")
    if not (mu_factor > 1.0):
        raise InvalidData(f"mu_factor must be > 1 (apex beyond the cluster radius); got {mu_factor}")
    pinv = reduced_inverse(data.means, rank_tol)
    Z = data.X @ pinv.T  # barycentric coordinates; class means -> e_j
    E = np.eye(Q)
    radii = np.array([np.max(np.linalg.norm(Z[data.index == j] - E[j], axis=1)) for j in range(Q)])
    h = math.sqrt(Q / (Q - 1))
    plan = []
    for j in range(Q):
        centroid = (np.ones(Q) - E[j]) / (Q - 1)
        f = (centroid - E[j]) / h
        mu = mu_factor * radii[j] if radii[j] > 1e-12 * h else 1e-3 * h
        plan.append((j, f, E[j] + mu * f))
    # cones exist: κ(δ_ℓ + max_{j≠ℓ} δ_j) < h; apexes e_j + μ_j f_j independent: sqrt(Q) κ δ_P < 1
    sufficient = bool(
        all(mu_factor * (radii[l] + np.max(np.delete(radii, l))) < h for l in range(Q))
        and math.sqrt(Q) * mu_factor * radii.max() < 1.0
    )
    current, cones, angles, clearance = _run_truncations(Z, data.index, plan, data.classes, rtol)
    apexes = np.stack([a for _, _, a in plan])
    if np.linalg.cond(apexes) > 1e12:
        raise InvalidData(
            f"the {Q} truncation apexes are linearly dependent (condition number {np.linalg.cond(apexes):.3g}); "
            "clusters too wide or lower mu_factor"
        )
    V = data.Y @ np.linalg.inv(apexes.T)
    cones += _identity_cones(current, L - Q)
    angles += [math.pi / 2] * (L - Q)
    network = _assemble(pinv, np.zeros(Q), cones, V, np.zeros(data.Y.shape[0]))
    conditions = {
        "class_radii_barycentric": radii.tolist(),
        "delta_P": float(radii.max()),
        "height": h,
        "mu_factor": mu_factor,
        "sufficient_condition": f"{mu_factor} (delta_l + max_j delta_j) < sqrt(Q/(Q-1)) for every l "
        f"and sqrt(Q) {mu_factor} delta_P < 1",
        "sufficient_condition_holds": sufficient,
    }
    return _finish(data, "clustered", network, list(range(Q)), apexes, angles, L, clearance, conditions)


# --------------------------------------------------------------------------- separable


def _separating_hyperplane(inside: FloatArray, outside: FloatArray) -> tuple[FloatArray, float] | None:
    """Unit ``n`` and ``c`` with ``n·z < c`` on ``inside``, ``> c`` on ``outside`` (HiGHS LP), or None.

    Solves ``min ||w||_1`` s.t. ``w·z - c <= -1`` (inside), ``>= 1`` (outside).
    """
    from scipy.optimize import linprog

    d = inside.shape[1]
    # variables: w+ (d), w- (d), c (1)
    A_in = np.hstack([inside, -inside, -np.ones((len(inside), 1))])
    A_out = np.hstack([-outside, outside, np.ones((len(outside), 1))])
    A = np.vstack([A_in, A_out])
    b = -np.ones(len(A))
    cost = np.r_[np.ones(2 * d), 0.0]
    bounds = [(0, None)] * (2 * d) + [(None, None)]
    res = linprog(cost, A_ub=A, b_ub=b, bounds=bounds, method="highs")
    if res.status != 0:
        return None
    w = res.x[:d] - res.x[d : 2 * d]
    c = res.x[2 * d]
    nw = np.linalg.norm(w)
    if nw == 0:
        return None  # pragma: no cover
    # verify strict separation on the actual points (LP tolerances)
    if not ((inside @ w - c).max() < 0 and (outside @ w - c).min() > 0):
        return None  # pragma: no cover
    return w / nw, c / nw


class _Search:
    """Bounded depth-first search for an order of classes and apex positions."""

    def __init__(self, X: FloatArray, index: NDArray[np.intp], Q: int, fixed: list[int] | None, budget: int) -> None:
        self.index = index
        self.Q = Q
        self.fixed = fixed
        self.budget = budget
        self.lp_calls = 0
        self.diam = float(np.ptp(X, axis=0).max()) + 1.0
        self.deepest: tuple[int, list[int], list[int]] | None = None  # step, collapsed, stuck
        self.dependent_leaves = 0

    @property
    def exhausted(self) -> bool:
        return self.lp_calls >= self.budget

    def separate(self, current: FloatArray, j: int, remaining: list[int], collapsed: list[FloatArray]) -> tuple[FloatArray, float] | None:
        self.lp_calls += 1
        others = [current[(self.index != j) & np.isin(self.index, remaining)]]
        if collapsed:
            others.append(np.stack(collapsed))
        return _separating_hyperplane(current[self.index == j], np.vstack(others))

    def score(self, current: FloatArray, remaining: list[int], collapsed: list[FloatArray]) -> int:
        return sum(self.separate(current, m, remaining, collapsed) is not None for m in remaining)

    def apex_candidates(self, current: FloatArray, j: int, n: FloatArray, c: float, remaining: list[int],
                        collapsed: list[FloatArray]) -> list[FloatArray]:
        """Points of the hyperplane ``n·z = c``: nearest to the class centroid, and far away
        (``2 diam``) from it along coordinate directions and away from the remaining data,
        ordered by how many remaining classes stay separable."""
        centroid = current[self.index == j].mean(axis=0)
        base = centroid + (c - n @ centroid) * n
        if not remaining:
            return [base]
        directions = list(np.eye(len(n)))
        rest = current[np.isin(self.index, remaining)].mean(axis=0)
        directions.append(base - rest)
        candidates = [base]
        for e in directions:
            u = e - (e @ n) * n
            if np.linalg.norm(u) > 1e-8:
                u = u / np.linalg.norm(u)
                candidates += [base + 2 * self.diam * u, base - 2 * self.diam * u]
        scored = []
        for k, a in enumerate(candidates):
            trial = current.copy()
            trial[self.index == j] = a
            scored.append((-self.score(trial, remaining, [*collapsed, a]), k, a))
            if self.exhausted:
                break
        scored.sort(key=lambda t: (t[0], t[1]))
        return [a for _, _, a in scored]

    def run(self, current: FloatArray, remaining: list[int], collapsed: list[FloatArray],
            plan: list[tuple[int, FloatArray, FloatArray]]) -> list[tuple[int, FloatArray, FloatArray]] | None:
        if not remaining:
            apexes = np.stack([a for _, _, a in plan])
            lifted = np.hstack([apexes, np.ones((len(apexes), 1))])
            if np.linalg.matrix_rank(lifted, tol=1e-10 * (1 + np.abs(lifted).max())) < len(apexes):
                self.dependent_leaves += 1
                return None  # affinely dependent apexes: backtrack
            return plan
        step = len(plan)
        candidates = [self.fixed[step]] if self.fixed is not None else remaining
        stuck = []
        for j in candidates:
            if self.exhausted:
                return None
            sep = self.separate(current, j, remaining, collapsed)
            if sep is None:
                stuck.append(j)
                continue
            n, c = sep
            rest = [r for r in remaining if r != j]
            for a in self.apex_candidates(current, j, n, c, rest, collapsed):
                trial = current.copy()
                trial[self.index == j] = a
                found = self.run(trial, rest, [*collapsed, a], [*plan, (j, n, a)])
                if found is not None:
                    return found
                if self.exhausted:
                    return None
        if len(stuck) == len(candidates) and (self.deepest is None or step >= self.deepest[0]):
            self.deepest = (step, [k for k, _, _ in plan], stuck)
        return None


def cone_truncation_separable(
    X: ArrayLike,
    y: Any,
    targets: Any = None,
    order: Any = None,
    *,
    search_budget: int = 2000,
    rtol: float = 1e-9,
) -> DeepConstruction:
    """Zero-cost deep network for sequentially linearly separable data: ``Q`` hidden layers of width ``M``.

    Step ``ℓ`` picks a class ``j_ℓ`` (the next of ``order``, or any class, sorted order first)
    whose points are strictly linearly separable from the current positions of all other
    points -- the remaining classes and the points the earlier classes were collapsed to --
    using a linear program (HiGHS). The truncation cone has the separating hyperplane's
    normal as axis and its apex on the hyperplane, so it collapses class ``j_ℓ`` and fixes
    everything else. Apex candidates: the point of the hyperplane nearest to the class
    centroid, and that point moved far along the hyperplane (coordinate directions and away
    from the remaining data), tried in order of how many remaining classes stay separable.
    Orders and apexes are explored depth-first with backtracking, within ``search_budget``
    linear programs. The output layer is the affine map sending the ``Q`` apexes to the
    targets.

    Conditions: such an order and apex placement exists (the classes are *sequentially
    linearly separable*, counting collapsed points), and the ``Q`` apexes are affinely
    independent (needs ``Q <= M + 1``).

    Raises
    ------
    InvalidData
        No order/apex placement works (the message names the deepest step reached and the
        classes stuck there), the search budget is exhausted (reported as undecided), a given
        ``order`` is not a permutation of the classes, or ``Q > M + 1``.
    """
    data = prepare(X, y, targets)
    Q, M = data.n_classes, data.X.shape[1]
    if Q > M + 1:
        raise InvalidData(f"{Q} classes but only {M} features: the separable construction needs Q <= M + 1")
    if order is not None:
        given = list(order)
        lookup = {c: j for j, c in enumerate(data.classes)}
        if sorted(map(repr, given)) != sorted(map(repr, data.classes)) or any(c not in lookup for c in given):
            raise InvalidData(f"order must be a permutation of the classes {list(data.classes)}; got {given}")
        candidates_fixed: list[int] | None = [lookup[c] for c in given]
    else:
        candidates_fixed = None
    search = _Search(data.X, data.index, Q, candidates_fixed, int(search_budget))
    plan = search.run(data.X.copy(), list(range(Q)), [], [])
    if plan is None:
        if search.exhausted:
            raise InvalidData(
                f"undecided: no order and apex placement found within search_budget={search_budget} linear "
                "programs (the data may or may not be sequentially linearly separable)"
            )
        if search.deepest is None:
            raise InvalidData(
                f"every order and apex placement found gives {Q} affinely dependent apexes "
                f"({search.dependent_leaves} tried); no affine output layer maps them to the targets"
            )
        step, done, stuck = search.deepest
        done_text = ", ".join(repr(data.classes[j]) for j in done) or "none"
        stuck_text = ", ".join(repr(data.classes[j]) for j in stuck) or "none"
        raise InvalidData(
            f"data are not sequentially linearly separable: at step {step + 1} (collapsed: {done_text}) "
            f"no class among {stuck_text} is strictly linearly separable from all other points "
            f"(searched {search.lp_calls} linear programs over orders and apex placements)"
        )
    Z, cones, angles, clearance = _run_truncations(data.X, data.index, plan, data.classes, rtol)
    apexes = np.stack([a for _, _, a in plan])
    lifted = np.hstack([apexes, np.ones((Q, 1))])
    targets_in_order = data.Y[:, [j for j, _, _ in plan]].T  # (Q, k)
    if np.linalg.matrix_rank(lifted, tol=1e-10 * (1 + np.abs(lifted).max())) < Q:
        raise InvalidData(f"the {Q} truncation apexes are affinely dependent; no affine output layer maps them to the targets")
    sol, *_ = np.linalg.lstsq(lifted, targets_in_order, rcond=None)
    V, c0 = sol[:M].T, sol[M]
    network = _assemble(np.eye(M), np.zeros(M), cones, V, c0)
    conditions = {
        "definition": "an order j_1..j_Q such that class j_l is strictly linearly separable from the "
        "remaining classes and the apexes a_1..a_{l-1}; apexes affinely independent",
        "hidden_width": M,
    }
    return _finish(data, "separable", network, [j for j, _, _ in plan], apexes, angles, Q, clearance, conditions)
