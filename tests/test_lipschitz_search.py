"""Lipschitz constants by the branch and bound over input boxes (distance/lipschitz_search.py)
and the batched Jacobian bounds it uses (bounds/jacobian.py): the bounds contain the true
constant (region enumeration in 1-2 D, the exact MILP and dense sampling above), every lower
bound is a gradient realized at its witness, and the automatic choice keeps statuses honest."""

from __future__ import annotations

import numpy as np
import pytest

import reluscope
from reluscope import Box, ReLUNetwork
from reluscope._budget import Budget
from reluscope.bounds import LayerwiseBounds, jacobian_bounds, layer_bounds
from reluscope.bounds.differential_linear import batch_layer_bounds
from reluscope.bounds.jacobian import batch_jacobian_bounds
from reluscope.distance.lipschitz_search import JacobianBounder, search_gradient
from reluscope.distance.pointwise import _jacobians


def _random_net(rng: np.random.Generator, d: int) -> ReLUNetwork:
    hidden = tuple(int(w) for w in rng.integers(2, 10, size=int(rng.integers(1, 4))))
    return ReLUNetwork.random((d, *hidden, int(rng.integers(1, 4))), seed=int(rng.integers(1 << 30)))


def _sampled_max(net: ReLUNetwork, lo: np.ndarray, hi: np.ndarray, n: int, seed: int) -> float:
    X = np.random.default_rng(seed).uniform(lo, hi, (n, lo.size))
    J, _ = _jacobians(net, X)
    return float(np.abs(J).max())


def test_batched_jacobian_bounds_contain_sampled_jacobians_and_beat_interval_products():
    rng = np.random.default_rng(11)
    tighter = 0
    for _ in range(60):
        d = int(rng.integers(1, 6))
        net = _random_net(rng, d)
        c = rng.uniform(-1, 1, (3, d))
        r = rng.uniform(0.01, 1.0, (3, d))
        lows, highs = batch_layer_bounds(net, c - r, c + r)
        for kw in ({}, {"intermediate": True}, {"linear": False}):
            L, U = batch_jacobian_bounds(net, lows, highs, **kw)
            assert L.shape == U.shape == (3, net.output_dim, d)
            for i in range(3):
                X = rng.uniform(c[i] - r[i], c[i] + r[i], (400, d))
                J, _ = _jacobians(net, X)
                assert np.all(J >= L[i]) and np.all(J <= U[i])
                one = jacobian_bounds(net, bounds=LayerwiseBounds(tuple(v[i] for v in lows),
                                                                  tuple(v[i] for v in highs), "linear"))
                # never looser than the single-box interval product (it is one of the bounds intersected)
                assert np.all(L[i] >= one.lower) and np.all(U[i] <= one.upper)
                if kw == {} and np.any(U[i] - L[i] < 0.99 * (one.upper - one.lower)):
                    tighter += 1
    assert tighter > 20  # the linear back-substitution is a real gain on deep networks


def test_single_box_linear_jacobian_bounds_contain_sampled_jacobians():
    rng = np.random.default_rng(5)
    for _ in range(40):
        d = int(rng.integers(1, 8))
        net = _random_net(rng, d)
        box = Box(rng.uniform(-2, -0.1, d), rng.uniform(0.1, 2, d))
        jb = jacobian_bounds(net, box, linear=True)
        plain = jacobian_bounds(net, box)
        J, _ = _jacobians(net, box.sample(500, seed=rng))
        assert np.all(J >= jb.lower) and np.all(J <= jb.upper)
        assert jb.max_abs <= plain.max_abs


@pytest.mark.parametrize("d", [1, 2])
def test_search_brackets_the_enumerated_constant_in_low_dimension(d):
    # region enumeration is exact in 1-2 D: the search's interval must contain its value
    rng = np.random.default_rng(20 + d)
    closed = 0
    for _ in range(12):
        net = _random_net(rng, d)
        lo, hi = -rng.uniform(0.2, 2, d), rng.uniform(0.2, 2, d)
        exact = reluscope.lipschitz_constant(net, Box(lo, hi), method="enumerate", time_limit=120)
        assert exact.exact
        found = search_gradient([(net, 1.0)], lo, hi, budget=Budget(60), rng=np.random.default_rng(0),
                                tol=1e-6, norm="lipschitz")
        tol = 1e-7 * max(1.0, exact.upper)
        assert found.lower <= exact.upper + tol
        assert found.upper >= exact.lower - tol
        assert found.certified_upper == found.upper
        closed += found.exact
        if found.exact:
            assert abs(found.lower - exact.lower) <= 1e-5 * max(1.0, exact.lower)
    assert closed >= 8  # the search converges on small networks, it does not only bound


def test_search_lower_bound_is_a_realized_gradient_and_upper_is_above_dense_sampling():
    rng = np.random.default_rng(3)
    for _ in range(10):
        d = int(rng.integers(3, 7))
        net = _random_net(rng, d)
        lo, hi = -np.ones(d), np.ones(d)
        r = search_gradient([(net, 1.0)], lo, hi, budget=Budget(1), rng=np.random.default_rng(1), tol=1e-6,
                            norm="lipschitz")
        assert r.witness is not None and np.all(r.witness >= lo) and np.all(r.witness <= hi)
        J, zmin = _jacobians(net, r.witness[None, :])
        k, j = r.component
        assert zmin[0] > 0  # interior to a linear region: the gradient holds on an open set
        assert abs(abs(J[0, k, j]) - r.lower) <= 1e-12 * max(1.0, r.lower)
        assert _sampled_max(net, lo, hi, 20_000, 9) <= r.upper * (1 + 1e-9)


def test_auto_lipschitz_in_the_search_range_agrees_with_the_milp():
    # 4-6 inputs: auto runs the search (after the MILPs for small networks); both are sound,
    # so their intervals overlap, and an exact answer of one lies in the other's interval
    rng = np.random.default_rng(8)
    for _ in range(6):
        d = int(rng.integers(4, 7))
        net = ReLUNetwork.random((d, int(rng.integers(6, 16)), int(rng.integers(6, 16)), 1),
                                 seed=int(rng.integers(1 << 30)))
        box = Box(-1, 1)
        auto = reluscope.lipschitz_constant(net, box, time_limit=60)
        milp = reluscope.lipschitz_constant(net, box, method="exact", time_limit=60)
        assert auto.lower <= milp.certified_upper * (1 + 1e-6) + 1e-9
        assert milp.lower <= auto.upper * (1 + 1e-6) + 1e-9
        assert auto.upper >= _sampled_max(net, -np.ones(d), np.ones(d), 20_000, 2) * (1 - 1e-9)
        if auto.exact:
            assert auto.status == "optimal" and auto.upper - auto.lower <= 2e-6 * max(1.0, auto.upper)


def test_search_runs_for_a_network_too_large_for_the_milp_and_is_honest():
    net = ReLUNetwork.random((6, 32, 32, 32, 2), seed=4)
    r = reluscope.lipschitz_constant(net, Box(-1, 1), time_limit=3)
    assert r.method == "search"
    assert 0 < r.lower <= r.upper
    assert r.certified_upper >= r.upper - 1e-12
    assert r.upper >= _sampled_max(net, -np.ones(6), np.ones(6), 20_000, 4) * (1 - 1e-9)
    if not r.exact:
        assert r.status == "time_limit"


def test_degenerate_network_is_never_called_exact_above_its_realized_gradients():
    # two neurons with opposite hyperplanes: the pattern "both active" exists only on the
    # hyperplane (a null set), so a bound allowing it would overstate the constant; the
    # search may stay open there but must not claim a wrong exact value
    W1 = np.array([[1.0, 1.0, 0.0, 0.0], [-1.0, -1.0, 0.0, 0.0], [0.3, -0.2, 0.5, 0.1]])
    W2 = np.array([[2.0, 2.0, 1.0]])
    net = ReLUNetwork([W1, W2], [np.zeros(3), np.zeros(1)])
    lo, hi = -np.ones(4), np.ones(4)
    r = search_gradient([(net, 1.0)], lo, hi, budget=Budget(5), rng=np.random.default_rng(0), tol=1e-6,
                        norm="lipschitz")
    true = _sampled_max(net, lo, hi, 50_000, 1)
    assert r.lower <= true * (1 + 1e-9) + 1e-12
    assert r.upper >= true * (1 - 1e-9)
    if r.exact:
        assert abs(r.lower - true) <= 1e-6 * max(1.0, true)


def test_bounder_points_off_the_regions_count_for_nothing():
    net = ReLUNetwork([np.array([[1.0, 0.0]]), np.array([[1.0]])], [np.zeros(1), np.zeros(1)])
    b = JacobianBounder([(net, 1.0)], -np.ones(2), np.ones(2))
    v = b.evaluate(np.array([[0.0, 0.5], [0.5, 0.5], [-0.5, 0.5]]))
    assert v[0, 0] == np.inf  # on the kink: no open region shown
    assert v[1, 0] == -1.0 and v[2, 0] == 0.0


def test_layer_bounds_of_the_bounder_agree_with_the_engine():
    # the bounder's per-box pre-activation bounds are the engine's linear tier, batched
    rng = np.random.default_rng(2)
    net = ReLUNetwork.random((3, 8, 8, 2), seed=1)
    lo, hi = -rng.uniform(0.1, 1, 3), rng.uniform(0.1, 1, 3)
    lows, highs = batch_layer_bounds(net, lo[None], hi[None])
    b = layer_bounds(net, Box(lo, hi))
    for a, e in zip(lows, b.lower):
        np.testing.assert_allclose(a[0], e, rtol=1e-6, atol=1e-6)


def test_report_names_each_lipschitz_bound_and_its_method(tmp_path):
    from reluscope.report import analyze

    net = ReLUNetwork.random((5, 24, 24, 24, 2), seed=6)
    rep = analyze(net, tmp_path, domain=Box(-1, 1), time_limit=4, quiet=True, sections=("network", "lipschitz"))
    lip = rep.sections["lipschitz"]
    assert lip["method"] == lip["result"]["method"] == "search"
    assert lip["lower"] <= lip["upper"]
    assert lip["upper"] >= _sampled_max(net, -np.ones(5), np.ones(5), 20_000, 3) * (1 - 1e-9)
    text = rep.markdown.read_text()
    assert "lower, attained" in text and "upper, a sound bound" in text and "branch and bound over input boxes" in text
    # the scale's bracket: its upper end (the branch and bound's) is above every sampled spread
    scale = rep.sections["network"]["output_scale"]
    Y = net(Box(-1, 1).sample(20_000, 5, seed=4))
    assert (Y.max(axis=0) - Y.min(axis=0)).max() <= scale["upper_bound"] * (1 + 1e-9)
    assert scale["attained"] <= scale["upper_bound"]
