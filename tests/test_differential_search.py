"""The branch and bound with the differential bounds as its bounder: sup |f - g| bounds
contain every sampled value, "proved" survives dense sampling, "refuted" comes with a real
counterexample, exact answers agree with the MILP, and an undecided answer comes only when
the time given is spent."""

from __future__ import annotations

import numpy as np
import pytest

import reluscope as rs
from reluscope import Box, Boxes, ReLUNetwork
from reluscope._budget import Budget
from reluscope.distance.difference_search import DifferenceBounder, search_sup


def _pair(seed: int, d: int = 3, kind: int = 0):
    f = ReLUNetwork.random((d, 12, 12, 2), seed=seed)
    rng = np.random.default_rng(seed)
    if kind == 0:
        g = ReLUNetwork([W.astype(np.float16).astype(float) for W in f.weights],
                        [b.astype(np.float16).astype(float) for b in f.biases])
    elif kind == 1:
        g = ReLUNetwork([W * (np.abs(W) > 0.1) for W in f.weights], f.biases)
    else:
        g = ReLUNetwork([W + rng.normal(0, 0.03, W.shape) for W in f.weights], f.biases)
    return f, g


def _dense_max(f, g, lo, hi, n=20000, seed=0):
    X = lo + (hi - lo) * np.random.default_rng(seed).random((n, lo.size))
    return float(np.abs(f(X) - g(X)).max())


@pytest.mark.parametrize("seed", range(12))
def test_search_bounds_contain_sampled_values(seed):
    f, g = _pair(seed, kind=seed % 3)
    lo, hi = -np.ones(3), np.ones(3)
    r = search_sup(f, g, lo, hi, budget=Budget(3.0), rng=np.random.default_rng(seed), gap_rel=1e-4)
    sampled = _dense_max(f, g, lo, hi, seed=seed)
    assert r.lower <= r.upper
    assert sampled <= r.upper * (1 + 1e-9) + 1e-12
    w = r.witness
    assert np.all(lo <= w) and np.all(w <= hi)
    assert np.abs(f(w[None]) - g(w[None])).max() == pytest.approx(r.lower, rel=1e-9, abs=1e-15)


def test_bounder_lower_bounds_are_sound_on_random_boxes():
    f, g = _pair(3, d=4, kind=1)
    rng = np.random.default_rng(0)
    c = rng.uniform(-1, 1, (20, 4))
    lo, hi = c - 0.2, c + 0.2
    b = DifferenceBounder(f, g)
    lb = b.bound(lo, hi).lower[:, 0]
    for i in range(20):
        X = lo[i] + (hi[i] - lo[i]) * rng.random((2000, 4))
        assert np.all(b.evaluate(X)[:, 0] >= lb[i] - 1e-12)


def test_search_closes_small_pair_exactly_and_agrees_with_the_milp():
    f = ReLUNetwork.random((2, 6, 1), seed=1)
    g = ReLUNetwork([W * (np.abs(W) > 0.3) for W in f.weights], f.biases)
    lo, hi = -np.ones(2), np.ones(2)
    r = search_sup(f, g, lo, hi, budget=Budget(20.0), rng=np.random.default_rng(0), gap_rel=1e-7)
    assert r.status in ("gap", "exhausted")
    ref = rs.sup_distance(f, g, Box(lo, hi), method="exact", time_limit=20)
    assert ref.exact
    assert r.lower == pytest.approx(ref.lower, rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_epsilon_equivalent_by_search_is_sound(seed):
    f, g = _pair(seed, kind=seed % 3)
    lo, hi = -0.5 * np.ones(3), 0.5 * np.ones(3)
    sampled = _dense_max(f, g, lo, hi, seed=seed)
    for eps in (0.5 * sampled, 2.0 * sampled + 1e-9):
        v = rs.epsilon_equivalent(f, g, Box(lo, hi), eps, time_limit=5)
        if v.status == "proved":
            assert sampled <= eps
        if v.status == "refuted":
            x = v.counterexample
            assert np.all(lo <= x) and np.all(x <= hi)
            assert np.abs(f(x[None]) - g(x[None])).max() > eps
    # far below the sampled maximum: always refuted (the search evaluates real points)
    assert rs.epsilon_equivalent(f, g, Box(lo, hi), 0.5 * sampled, time_limit=5).status == "refuted"


def test_undecided_only_after_the_time_is_spent():
    # a wide box, an eps just below the bounds' reach: the search cannot decide in 2 s
    f = ReLUNetwork.random((6, 32, 32, 1), seed=5)
    g = ReLUNetwork.random((6, 32, 32, 1), seed=6)
    lo, hi = -np.ones(6), np.ones(6)
    sampled = _dense_max(f, g, lo, hi)
    v = rs.epsilon_equivalent(f, g, Box(lo, hi), 1.02 * sampled, time_limit=2)
    if v.status == "undecided":
        assert v.seconds >= 0.9 * 2
    assert sampled <= v.bounds[1] * (1 + 1e-9) + 1e-12


def test_flat_boxes_and_unions_go_through_the_search():
    f, g = _pair(7, kind=1)
    lo = np.array([-0.5, 0.2, 0.2])
    hi = np.array([0.5, 0.2, 0.6])
    r = search_sup(f, g, lo, hi, budget=Budget(2.0), rng=np.random.default_rng(0))
    assert r.witness[1] == 0.2 and _dense_max(f, g, lo, hi) <= r.upper * (1 + 1e-9) + 1e-12
    B = Boxes(np.array([[-1.0, -1, -1], [0.0, 0, 0]]), np.array([[-0.5, -0.5, -0.5], [0.5, 0.5, 0.5]]))
    v = rs.epsilon_equivalent(f, g, B, 10.0, time_limit=5)
    assert v.status == "proved" and v.box_status == ("proved", "proved")


@pytest.mark.parametrize("seed", range(3))
def test_top1_agreement_with_relu_splitting_is_sound(seed):
    pytest.importorskip("torch")  # the search's ReLU splitting runs when torch is imported
    f = ReLUNetwork.random((4, 16, 16, 3), seed=seed)
    g = ReLUNetwork([W * (np.abs(W) > 0.1) for W in f.weights], f.biases)
    rng = np.random.default_rng(seed)
    boxes = rs.PointSet(rng.uniform(-1, 1, (6, 4))).neighbourhood(0.15)
    v = rs.top1_agreement(f, g, boxes, time_limit=8)
    for i, status in enumerate(v.box_status):
        X = boxes.box(i).sample(3000, seed=i)
        same = np.argmax(f(X), axis=1) == np.argmax(g(X), axis=1)
        if status == "proved":
            assert same.all()
    if v.status == "refuted":
        x = v.counterexample
        assert np.argmax(f(x[None])[0]) != np.argmax(g(x[None])[0])
