"""Deep cone-truncation constructions: zero training cost when the conditions hold, clear errors otherwise."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reluscope.constructive import cone_truncation_clustered, cone_truncation_separable
from reluscope.constructive.deep import cone_matrix, truncate
from reluscope.errors import InvalidData


def clustered_instance(seed: int, delta_target: float):
    rng = np.random.default_rng(seed)
    Q = int(rng.integers(2, 6))
    M = Q + int(rng.integers(0, 3))
    means = rng.normal(size=(Q, M)) * 2 + 3 * np.eye(Q, M)
    counts = rng.integers(1, 8, size=Q)
    y = np.repeat(np.arange(Q), counts)
    noise = rng.normal(size=(len(y), M))
    X = means[y] + noise
    # rescale the noise so that δ_P (barycentric radius) is exactly delta_target
    pinv = np.linalg.pinv(means.T)
    means_emp = np.stack([X[y == j].mean(0) for j in range(Q)])
    fl = X - means_emp[y]
    d = np.linalg.norm(fl @ np.linalg.pinv(means_emp.T).T, axis=1).max()
    X = means_emp[y] + fl * (delta_target / d if d > 0 else 1.0)
    return X, y, Q, M, pinv


def test_cone_matrix_contains_round_cone_and_is_invertible():
    rng = np.random.default_rng(0)
    for seed in range(300):
        d = int(rng.integers(1, 7))
        f = rng.normal(size=d)
        f /= np.linalg.norm(f)
        phi = float(rng.uniform(0.01, math.pi / 2))
        W = cone_matrix(f, phi)
        assert abs(np.linalg.det(W)) > 0
        # random directions within half-angle π/2 - φ of f are in the cone, their negatives in -cone
        for _ in range(10):
            v = rng.normal(size=d)
            v -= (v @ f) * f
            n = np.linalg.norm(v)
            alpha = rng.uniform(0, math.pi / 2 - phi) * 0.999
            u = math.cos(alpha) * f + (math.sin(alpha) * v / n if n > 0 else 0)
            assert (W @ u >= -1e-12).all() and (W @ -u <= 1e-12).all()
        # truncation: identity on the forward cone, apex on the backward cone
        apex = rng.normal(size=d)
        Z = np.stack([apex + f * 2.0, apex - f * 0.5])
        T = truncate(Z, W, apex)
        assert np.allclose(T[0], Z[0]) and np.allclose(T[1], apex)


def test_clustered_zero_cost_whenever_sufficient_condition_holds():
    # theorem: δ_P < min(0.2, 0.4/sqrt(Q)) (κ = 2.5) => zero training cost
    rng = np.random.default_rng(1)
    for seed in range(400):
        X, y, Q, M, _ = clustered_instance(seed, 0.1)
        delta = float(rng.uniform(0.0, 0.999 * min(0.2, 0.4 / math.sqrt(Q))))
        X, y, Q, M, _ = clustered_instance(seed, delta)
        L = Q + int(rng.integers(0, 3))
        r = cone_truncation_clustered(X, y, n_layers=L)
        assert r.conditions["sufficient_condition_holds"]
        assert r.network.depth == L + 1
        assert r.network.hidden_widths == (Q,) * L
        assert r.balanced_cost <= 1e-8, (seed, r.balanced_cost)
        assert r.training_accuracy == 1.0
        assert np.allclose(r.network(X), np.eye(Q)[y], atol=1e-8)


def test_clustered_with_targets_and_string_labels():
    X, y, Q, M, _ = clustered_instance(3, 0.1)
    names = np.array([f"c{j}" for j in range(Q)])[y]
    T = np.random.default_rng(0).normal(size=(Q, Q)) + 3 * np.eye(Q)
    r = cone_truncation_clustered(X, names, targets=T)
    assert np.allclose(r.network(X), T[y], atol=1e-8)
    assert r.predict(X).tolist() == names.tolist()


def test_clustered_rejects_wide_clusters_and_short_networks():
    rng = np.random.default_rng(5)
    failures = 0
    beyond = 0
    for seed in range(50):
        # beyond the sufficient condition the exact checks decide; success still means cost 0
        X, y, Q, M, _ = clustered_instance(seed, 0.3)
        try:
            r = cone_truncation_clustered(X, y)
        except InvalidData:
            pass
        else:
            beyond += 1
            assert r.balanced_cost <= 1e-8 and not r.conditions["sufficient_condition_holds"]
        X, y, Q, M, _ = clustered_instance(seed, 3.0)
        try:
            r = cone_truncation_clustered(X, y)
        except InvalidData as exc:
            assert "cone truncation of class" in str(exc) and "\n" not in str(exc)
            failures += 1
        else:  # when it does not raise, the exact conditions held and the cost is zero
            assert r.balanced_cost <= 1e-8
    assert failures > 25
    assert beyond > 25  # the exact checks accept most data beyond the sufficient condition
    X, y, Q, M, _ = clustered_instance(0, 0.1)
    with pytest.raises(InvalidData, match="n_layers >= Q"):
        cone_truncation_clustered(X, y, n_layers=Q - 1)
    with pytest.raises(InvalidData, match="only one class"):
        cone_truncation_clustered(X, np.zeros(len(y)))


def stripes(seed: int, Q: int = 3):
    """Wide parallel stripes: sequentially separable, not small clusters, middle stripes not separable first."""
    rng = np.random.default_rng(seed)
    n = 15
    y = np.repeat(np.arange(Q), n)
    x1 = 2.0 * y + rng.uniform(0, 1, size=len(y))
    x2 = rng.uniform(-5, 5, size=len(y))
    theta = rng.uniform(0, 2 * math.pi)
    R = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    return np.stack([x1, x2], axis=1) @ R.T, y


def test_separable_zero_cost_on_stripes_and_random_clusters():
    for seed in range(40):
        X, y = stripes(seed)
        r = cone_truncation_separable(X, y)
        assert r.network.depth == 3 + 1 and r.network.hidden_widths == (2, 2, 2)
        assert r.balanced_cost <= 1e-7 * (1 + np.abs(r.network.weights[-1]).max()), (seed, r.balanced_cost)
        assert r.training_accuracy == 1.0
        # the clustered construction cannot handle these wide stripes (Q = 3 > M = 2 anyway)
    for seed in range(60):
        X, y, Q, M, _ = clustered_instance(seed, 0.15)
        r = cone_truncation_separable(X, y)
        assert r.balanced_cost <= 1e-7, (seed, r.balanced_cost)


def test_separable_given_order_and_errors():
    X, y = stripes(0)
    # the middle stripe is not separable from both neighbours at the first step
    with pytest.raises(InvalidData, match="not sequentially linearly separable: at step 1"):
        cone_truncation_separable(X, y, order=[1, 0, 2])
    r = cone_truncation_separable(X, y, order=[2, 1, 0])
    assert r.order == (2, 1, 0) and r.balanced_cost <= 1e-7
    with pytest.raises(InvalidData, match="permutation"):
        cone_truncation_separable(X, y, order=[0, 1])
    # XOR: no class is linearly separable from the other
    Xx = np.array([[0, 0], [1, 1], [0, 1], [1, 0]], dtype=float)
    with pytest.raises(InvalidData, match="not sequentially linearly separable"):
        cone_truncation_separable(Xx, [0, 0, 1, 1])
    # a class surrounded by another: the centre is inside, the ring around it
    t = np.linspace(0, 2 * math.pi, 12, endpoint=False)
    ring = np.stack([np.cos(t), np.sin(t)], 1) * 3
    centre = np.random.default_rng(0).normal(size=(5, 2)) * 0.2
    with pytest.raises(InvalidData, match="not sequentially linearly separable"):
        cone_truncation_separable(np.vstack([ring, centre]), [0] * 12 + [1] * 5)
    with pytest.raises(InvalidData, match="Q <= M \\+ 1"):
        cone_truncation_separable(np.arange(4.0)[:, None], [0, 1, 2, 2])


def peeled(seed: int):
    """Random data that are sequentially linearly separable by construction.

    Points uniform in a box; class l takes the still unassigned points on the negative side
    of a random hyperplane (a margin band around it is dropped); the last class is the rest.
    """
    rng = np.random.default_rng(seed)
    M = int(rng.integers(2, 5))
    Q = int(rng.integers(2, M + 2))
    X = rng.uniform(-1, 1, size=(60, M))
    lab = -np.ones(60, dtype=int)
    for level in range(Q - 1):
        free = np.where(lab == -1)[0]
        n = rng.normal(size=M)
        n /= np.linalg.norm(n)
        s = X[free] @ n
        c = np.quantile(s, 1.0 / (Q - level))
        lab[free[s < c - 0.02]] = level
        lab[free[np.abs(s - c) <= 0.02]] = -2
    lab[lab == -1] = Q - 1
    keep = lab >= 0
    return X[keep], lab[keep], Q


def test_separable_zero_cost_on_randomly_peeled_data():
    done = 0
    for seed in range(60):
        X, y, Q = peeled(seed)
        if len(np.unique(y)) < Q:
            continue
        r = cone_truncation_separable(X, y)
        assert r.balanced_cost <= 1e-6 * (1 + np.abs(r.network.weights[-1]).max()), (seed, r.balanced_cost)
        assert r.training_accuracy == 1.0
        done += 1
    assert done >= 50


def test_separable_search_budget_reports_undecided():
    X, y, Q = peeled(3)
    with pytest.raises(InvalidData, match="undecided"):
        cone_truncation_separable(X, y, search_budget=1)
