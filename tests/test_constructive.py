"""Mathematical checks of the shallow construction and the exact M = Q local minimum.

Each sweep runs over >= 1000 seeded random instances (class counts, dimensions, noise levels
and targets all vary).
"""

from __future__ import annotations

import numpy as np
import pytest

from reluscope.constructive import exact_local_minimum, fit
from reluscope.constructive.exact import class_balanced_lstsq

N_INSTANCES = 1000


def make_instance(seed: int, square: bool = False, noise: float | None = None):
    """Random clustered data: (X, y, targets-or-None, Q, M)."""
    rng = np.random.default_rng(seed)
    Q = int(rng.integers(2, 6))
    M = Q if square else Q + int(rng.integers(0, 4))
    means = rng.normal(size=(Q, M)) * 2.0
    counts = rng.integers(1, 9, size=Q)
    y = np.repeat(np.arange(Q), counts)
    rng.shuffle(y)
    scale = noise if noise is not None else float(10 ** rng.uniform(-3, 0))
    X = means[y] + scale * rng.normal(size=(len(y), M))
    kind = rng.integers(3)
    if kind == 0:
        targets = None
    else:
        T = rng.normal(size=(Q, Q + int(rng.integers(0, 2))))
        T += 2.0 * np.eye(Q, T.shape[1])  # keep targets linearly independent
        targets = T
    return X, y, targets, Q, M


def target_matrix(targets, Q):
    """Y as (k, Q), columns = targets."""
    return np.eye(Q) if targets is None else np.asarray(targets, dtype=float).T


def test_network_equals_Y_Xred_pinv_x_and_cost_formula_and_bound():
    for seed in range(N_INSTANCES):
        X, y, targets, Q, M = make_instance(seed)
        r = fit(X, y, targets)
        Y = target_matrix(targets, Q)
        means = np.stack([X[y == j].mean(axis=0) for j in range(Q)])
        pinv = np.linalg.pinv(means.T)
        # the network equals x -> Y X_red^+ x on the training data
        expected = X @ pinv.T @ Y.T
        out = r.network(X)
        assert np.allclose(out, expected, rtol=1e-8, atol=1e-8 * (1 + np.abs(expected).max())), seed
        # all hidden pre-activations are >= margin on the data (ReLU = identity there)
        assert r.network.preactivations(X)[0].min() >= r.margin - 1e-9
        # balanced cost = ||Y Δ_1 N^{-1/2}||_HS and the O(δ_P) bound
        D1 = (X - means[y]) @ pinv.T
        counts = np.bincount(y)
        cost = np.sqrt(np.sum(np.sum((D1 @ Y.T) ** 2, axis=1) / counts[y]))
        assert r.balanced_cost == pytest.approx(cost, rel=1e-7, abs=1e-10)
        delta_P = np.linalg.norm(D1, axis=1).max()
        assert r.delta_P == pytest.approx(delta_P, rel=1e-10, abs=1e-14)
        y_op = np.linalg.norm(Y, 2)
        assert r.upper_bound == pytest.approx(np.sqrt(Q) * y_op * delta_P, rel=1e-10, abs=1e-14)
        assert r.cost <= r.upper_bound * (1 + 1e-9) + 1e-12, seed
        # mean squared error bound ||Y||_op^2 δ_P^2
        rm = fit(X, y, targets, cost="mean")
        assert rm.cost == pytest.approx(np.mean(np.sum((out - Y[:, y].T) ** 2, axis=1)), rel=1e-7, abs=1e-12)
        assert rm.cost <= y_op**2 * delta_P**2 * (1 + 1e-9) + 1e-12
        assert rm.upper_bound == pytest.approx(y_op**2 * delta_P**2, rel=1e-10, abs=1e-14)


def test_metric_classifier_equals_network_nearest_target_on_training_data():
    for seed in range(N_INSTANCES):
        X, y, targets, Q, M = make_instance(seed)
        r = fit(X, y, targets)
        d = r.distances_to_means(X)
        out = r.network(X)
        d_net = np.linalg.norm(out[:, None, :] - r.targets[None], axis=-1)
        # |f(x) - y_j| = d(x, x̄_j) exactly (up to rounding) on the training data
        assert np.allclose(d, d_net, rtol=1e-8, atol=1e-9), seed
        # and d(x, x̄_j) is the metric evaluated at the class means
        assert np.allclose(d, r.metric(X[:, None, :], r.class_means[None, :, :]), rtol=1e-8, atol=1e-9)
        ordered = np.sort(d, axis=1)
        clear = ordered[:, 1] - ordered[:, 0] > 1e-7  # skip exact ties
        assert np.array_equal(r.predict(X)[clear], r.network_predict(X)[clear]), seed


def test_cost_is_independent_of_A_and_margin():
    rng = np.random.default_rng(7)
    for seed in range(200):
        X, y, targets, Q, M = make_instance(seed)
        base = fit(X, y, targets)
        A = rng.normal(size=(Q, Q)) + 3 * np.eye(Q)
        other = fit(X, y, targets, A=A, margin=float(rng.uniform(0, 5)))
        assert other.balanced_cost == pytest.approx(base.balanced_cost, rel=1e-7, abs=1e-9)
        assert np.allclose(other.network(X), base.network(X), atol=1e-8 * (1 + np.abs(base.network(X)).max()))


def test_affine_lift_equals_Y_Xtilde_pinv_and_bound():
    for seed in range(300):
        X, y, targets, Q, M = make_instance(seed)
        r = fit(X, y, targets, affine=True)
        Y = target_matrix(targets, Q)
        Xt = np.hstack([X, np.ones((len(X), 1))])
        means = np.stack([Xt[y == j].mean(axis=0) for j in range(Q)])
        expected = Xt @ np.linalg.pinv(means.T).T @ Y.T
        assert np.allclose(r.network(X), expected, atol=1e-8 * (1 + np.abs(expected).max()))
        assert r.cost <= r.upper_bound * (1 + 1e-9) + 1e-12


def test_metric_axioms_on_span_and_pseudometric_off_span():
    rng = np.random.default_rng(3)
    for seed in range(100):
        X, y, targets, Q, M = make_instance(seed)
        r = fit(X, y, targets)
        a, b, c = rng.normal(size=(3, M))
        dab, dba = r.metric(a, b), r.metric(b, a)
        assert dab == pytest.approx(dba)
        assert r.metric(a, c) <= dab + r.metric(b, c) + 1e-12
        assert r.metric(a, a) == 0.0
        # points of the span of the means are separated; orthogonal directions are ignored
        u = r.class_means.T @ rng.normal(size=Q)
        assert r.metric(u, np.zeros(M)) > 1e-9 * np.linalg.norm(u)
        P = r.projector
        assert np.allclose(P @ P, P, atol=1e-9) and np.allclose(P, P.T, atol=1e-9)
        v = rng.normal(size=M)
        v_perp = v - P @ v
        assert r.metric(a + v_perp, a) == pytest.approx(0.0, abs=1e-8 * (1 + np.linalg.norm(v)))


def test_string_labels_sorted_and_inputs_not_mutated():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(4, 3)) * 0.1 + c for c in (np.eye(3) * 4)])
    y = ["zeta"] * 4 + ["alpha"] * 4 + ["mu"] * 4
    X0, y0 = X.copy(), list(y)
    r = fit(X, y)
    assert r.classes == ("alpha", "mu", "zeta")
    assert r.predict(X).tolist() == y
    assert np.array_equal(X, X0) and y == y0
    assert r.training_accuracy == 1.0
    assert "delta_P" in str(r) and r.to_dict()["cost_kind"] == "balanced"


# ----------------------------------------------------------------- exact local minimum, M = Q


def test_exact_local_minimum_matches_direct_least_squares_and_bounds():
    for seed in range(N_INSTANCES):
        X, y, targets, Q, M = make_instance(seed, square=True)
        r = exact_local_minimum(X, y, targets)
        scale = 1.0 + r.constructive_cost
        # closed forms = direct weighted least squares over linear / affine maps
        direct0, _ = class_balanced_lstsq(X, y, targets, offset=False)
        directf, _ = class_balanced_lstsq(X, y, targets, offset=True)
        assert r.value == pytest.approx(direct0, rel=1e-6, abs=1e-9 * scale), seed
        assert r.free_offset_value == pytest.approx(directf, rel=1e-5, abs=1e-7 * scale), seed
        # the returned networks attain the values on the training data
        assert r.network_cost == pytest.approx(r.value, rel=1e-6, abs=1e-9 * scale)
        assert r.free_offset_network_cost == pytest.approx(r.free_offset_value, rel=1e-5, abs=1e-7 * scale)
        # ordering: free offset <= zero offset <= constructive cost, and the O(δ_P²) lower ratio
        assert r.free_offset_value <= r.value * (1 + 1e-9) + 1e-12
        c = fit(X, y, targets).cost
        assert r.constructive_cost == pytest.approx(c, rel=1e-7, abs=1e-10)
        assert r.value <= c * (1 + 1e-9) + 1e-12
        assert r.value >= c / np.sqrt(1 + Q * r.delta_P**2) * (1 - 1e-9) - 1e-12
        assert np.linalg.eigvalsh(r.Delta_2).max() <= Q * r.delta_P**2 * (1 + 1e-9) + 1e-15


def test_exact_is_a_minimum_under_perturbation_of_linear_map():
    rng = np.random.default_rng(11)
    for seed in range(100):
        X, y, targets, Q, M = make_instance(seed, square=True)
        r = exact_local_minimum(X, y, targets)
        Y = target_matrix(targets, Q)
        w = 1.0 / np.bincount(y)[y]

        def cost(W, c):
            return np.sqrt(np.sum(w * np.sum((X @ W.T + c - Y[:, y].T) ** 2, axis=1)))

        W0, Wf, cf = r.linear_map, r.free_offset_linear_map, r.free_offset
        for _ in range(5):
            E = rng.normal(size=W0.shape) * 1e-3
            e = rng.normal(size=cf.shape) * 1e-3
            assert cost(W0 + E, 0.0) >= r.value - 1e-10
            assert cost(Wf + E, cf + e) >= r.free_offset_value - 1e-10


@pytest.mark.parametrize("seed", range(8))
def test_relative_gap_scales_like_delta_P_squared(seed):
    rng = np.random.default_rng(100 + seed)
    Q = 3 + seed % 2
    means = rng.normal(size=(Q, Q)) * 2 + 3 * np.eye(Q)
    counts = rng.integers(3, 8, size=Q)
    y = np.repeat(np.arange(Q), counts)
    noise = rng.normal(size=(len(y), Q))
    deltas, gaps = [], []
    unit = exact_local_minimum(means[y] + 1e-3 * noise, y).delta_P / 1e-3  # δ_P per unit noise
    for t in np.geomspace(1e-3, 1e-1, 8) / unit:  # δ_P from about 1e-3 to 1e-1
        r = exact_local_minimum(means[y] + t * noise, y)
        deltas.append(r.delta_P)
        gaps.append(r.relative_gap)
    slope, _ = np.polyfit(np.log(deltas), np.log(gaps), 1)
    assert slope == pytest.approx(2.0, abs=0.05)
    # and the constant is bounded by the theory: gap <= 1 - (1 + Q δ²)^{-1/2} <= Q δ² / 2
    assert all(g <= Q * d**2 / 2 * (1 + 1e-6) for g, d in zip(gaps, deltas))


# ----------------------------------------------------------------- property test (hypothesis)

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    labels=st.lists(st.text(min_size=1, max_size=4), min_size=2, max_size=5, unique=True),
    noise=st.floats(1e-4, 2.0),
    affine=st.booleans(),
)
def test_property_bound_and_decisions_with_arbitrary_string_labels(seed, labels, noise, affine):
    rng = np.random.default_rng(seed)
    Q = len(labels)
    M = Q + int(rng.integers(0, 3))
    means = 3 * np.eye(Q, M) + rng.normal(size=(Q, M))
    counts = rng.integers(1, 6, size=Q)
    idx = np.repeat(np.arange(Q), counts)
    X = means[idx] + noise * rng.normal(size=(len(idx), M))
    y = [labels[i] for i in idx]
    X0 = X.copy()
    r = fit(X, y, affine=affine)
    assert np.array_equal(X, X0)
    assert r.classes == tuple(sorted(labels))
    assert r.cost <= r.upper_bound * (1 + 1e-9) + 1e-12
    d = r.distances_to_means(X)
    srt = np.sort(d, axis=1)
    clear = srt[:, 1] - srt[:, 0] > 1e-7
    assert np.array_equal(r.predict(X)[clear], r.network_predict(X)[clear])
    assert r.training_accuracy == pytest.approx(np.mean(r.network_predict(X) == np.array(y, dtype=object)))
