"""Soundness of the bound engine: every bound contains every sampled value, on many
random networks, boxes and points; the linear tier is never looser than the interval tier;
the differential bounds contain sampled differences; the helper constructions keep the
function."""

from __future__ import annotations

import numpy as np
import pytest

from reluscope import Box, ReLUNetwork
from reluscope.bounds import (
    difference_bounds,
    jacobian_bounds,
    joint_difference_network,
    layer_bounds,
    relu_difference_range,
)
from reluscope.bounds.difference import _deepen
from reluscope.errors import InvalidArgument, InvalidDomain, InvalidNetwork


def _random_case(rng: np.random.Generator):
    depth = int(rng.integers(1, 5))
    widths = [int(rng.integers(1, 9)) for _ in range(depth + 1)]
    net = ReLUNetwork.random(widths, seed=rng, bias_scale=float(rng.choice([0.0, 0.1, 1.0])))
    d = widths[0]
    scale = float(10.0 ** rng.uniform(-3, 3))
    centre = rng.normal(size=d) * scale
    half = rng.uniform(0.01, 1.0, size=d) * scale
    return net, Box(centre - half, centre + half)


def _jacobians(net: ReLUNetwork, X: np.ndarray) -> np.ndarray:
    return np.stack([net.local_affine(x)[0] for x in X])


def test_layer_bounds_contain_every_sampled_preactivation():
    rng = np.random.default_rng(20261203)
    for _ in range(300):
        net, box = _random_case(rng)
        X = np.vstack([box.sample(300, seed=rng), box.vertices(max_vertices=256) if net.input_dim <= 8 else box.sample(1, seed=rng)])
        Z = net.preactivations(X)
        interval = layer_bounds(net, box, method="interval")
        for alpha in ("adaptive", "zero", "one", "best"):
            linear = layer_bounds(net, box, method="linear", alpha=alpha)
            for l, z in enumerate(Z):
                assert np.all(z >= linear.lower[l]) and np.all(z <= linear.upper[l]), (alpha, l)
                # never looser than interval arithmetic
                assert np.all(linear.lower[l] >= interval.lower[l])
                assert np.all(linear.upper[l] <= interval.upper[l])
        for l, z in enumerate(Z):
            assert np.all(z >= interval.lower[l]) and np.all(z <= interval.upper[l])


def test_first_layer_bounds_are_attained_at_vertices():
    rng = np.random.default_rng(1)
    for _ in range(50):
        net = ReLUNetwork.random((4, 5, 2), seed=rng)
        box = Box(rng.uniform(-2, -0.1, 4), rng.uniform(0.1, 2, 4))
        z = net.preactivations(box.vertices())[0]
        b = layer_bounds(net, box)
        np.testing.assert_allclose(b.lower[0], z.min(axis=0), rtol=1e-8, atol=1e-8)
        np.testing.assert_allclose(b.upper[0], z.max(axis=0), rtol=1e-8, atol=1e-8)


def test_linear_tier_is_strictly_tighter_on_a_deep_network():
    # a fact about the method, not only soundness: back-substitution sees the shared input
    net = ReLUNetwork.random((10, 32, 32, 1), seed=0)
    lin = layer_bounds(net, Box(-1, 1))
    ivl = layer_bounds(net, Box(-1, 1), method="interval")
    assert lin.upper[-1][0] - lin.lower[-1][0] < 0.7 * (ivl.upper[-1][0] - ivl.lower[-1][0])


def test_jacobian_bounds_contain_sampled_jacobians():
    rng = np.random.default_rng(7)
    for _ in range(200):
        net, box = _random_case(rng)
        X = box.sample(100, seed=rng)
        J = _jacobians(net, X)
        jb = jacobian_bounds(net, box)
        assert jb.lower.shape == (net.output_dim, net.input_dim)
        assert np.all(J >= jb.lower[None]) and np.all(J <= jb.upper[None])
        assert np.abs(J).max(initial=0.0) <= jb.max_abs


def test_jacobian_bounds_are_exact_for_an_affine_network():
    net = ReLUNetwork.random((3, 2), seed=0)
    jb = jacobian_bounds(net, Box(-1, 1))
    np.testing.assert_allclose(jb.lower, net.weights[0], rtol=1e-8)
    np.testing.assert_allclose(jb.upper, net.weights[0], rtol=1e-8)


def test_relu_difference_range_is_exact():
    rng = np.random.default_rng(3)
    for _ in range(300):
        g = np.sort(rng.normal(size=2) * 2)
        d = np.sort(rng.normal(size=2) * 2)
        zs, ds = np.meshgrid(np.linspace(*g, 61), np.linspace(*d, 61))
        vals = np.maximum(zs + ds, 0) - np.maximum(zs, 0)
        lo, hi = relu_difference_range(np.array([g[0]]), np.array([g[1]]), np.array([d[0]]), np.array([d[1]]))
        # sound, and attained (the grid contains the extreme corners)
        assert vals.min() >= lo[0] - 1e-12 and vals.max() <= hi[0] + 1e-12
        assert abs(vals.min() - lo[0]) < 1e-9 and abs(vals.max() - hi[0]) < 1e-9


def test_deepen_and_joint_network_keep_the_function():
    rng = np.random.default_rng(11)
    for _ in range(100):
        d, k = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        f = ReLUNetwork.random([d] + [int(rng.integers(1, 6)) for _ in range(rng.integers(0, 3))] + [k], seed=rng)
        g = ReLUNetwork.random([d] + [int(rng.integers(1, 6)) for _ in range(rng.integers(0, 3))] + [k], seed=rng)
        X = rng.normal(size=(50, d)) * 3
        np.testing.assert_allclose(_deepen(f, f.depth + 2)(X), f(X), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(joint_difference_network(f, g)(X), f(X) - g(X), rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("kind", ["perturbed", "pruned", "unrelated"])
def test_difference_bounds_contain_sampled_differences(kind):
    rng = np.random.default_rng({"perturbed": 1, "pruned": 2, "unrelated": 3}[kind])
    for _ in range(150):
        f, box = _random_case(rng)
        if kind == "perturbed":
            g = ReLUNetwork([W + 0.01 * rng.normal(size=W.shape) for W in f.weights],
                            [b + 0.01 * rng.normal(size=b.shape) for b in f.biases])
        elif kind == "pruned":
            g = ReLUNetwork([W * (rng.random(W.shape) > 0.3) for W in f.weights], f.biases)
        else:
            g = ReLUNetwork.random([f.input_dim, 4, f.output_dim], seed=rng)
        X = box.sample(400, seed=rng)
        D = f(X) - g(X)
        db = difference_bounds(f, g, box)
        assert np.all(D >= db.lower) and np.all(D <= db.upper)
        assert np.abs(D).max() <= db.sup_upper
        assert db.method.split(" ")[0] in (("differential", "joint+differential") if f.widths == g.widths else ("joint",))
        joint = layer_bounds(joint_difference_network(f, g), box).output
        assert np.all(D >= joint[0]) and np.all(D <= joint[1])
        cheap = difference_bounds(f, g, box, tier="interval")
        assert np.all(D >= cheap.lower) and np.all(D <= cheap.upper)
        assert np.all(cheap.lower <= db.lower + 1e-12) and np.all(cheap.upper >= db.upper - 1e-12)


def test_differential_route_beats_separate_bounds_for_a_close_copy():
    f = ReLUNetwork.random((10, 32, 32, 1), seed=0)
    g = ReLUNetwork([W * (np.abs(W) > 0.02) for W in f.weights], f.biases)
    db = difference_bounds(f, g, Box(-1, 1))
    assert db.method == "differential (linear)"
    fb, gb = layer_bounds(f, Box(-1, 1)), layer_bounds(g, Box(-1, 1))
    separate = max(fb.upper[-1][0] - gb.lower[-1][0], gb.upper[-1][0] - fb.lower[-1][0])
    assert db.sup_upper < 0.2 * separate


def test_bad_input_is_refused_clearly():
    net = ReLUNetwork.random((2, 3, 1), seed=0)
    with pytest.raises(InvalidArgument, match="method"):
        layer_bounds(net, Box(-1, 1), method="milp")
    with pytest.raises(InvalidArgument, match="alpha"):
        layer_bounds(net, Box(-1, 1), alpha="two")
    with pytest.raises(InvalidDomain, match="Box"):
        layer_bounds(net, np.zeros((3, 2)))
    with pytest.raises(InvalidNetwork):
        difference_bounds(net, ReLUNetwork.random((3, 3, 1), seed=0))


def test_input_splitting_search_brackets_the_maximum_and_closes_in_low_dimension():
    from reluscope._budget import Budget
    from reluscope.search import maximize

    rng = np.random.default_rng(5)
    for seed in range(20):
        f = ReLUNetwork.random((2, 8, 8, 1), seed=seed)
        g = ReLUNetwork.random((2, 8, 8, 1), seed=seed + 100)
        grid = np.stack(np.meshgrid(np.linspace(-1, 1, 201), np.linspace(-1, 1, 201)), -1).reshape(-1, 2)
        dense = float(np.max(f(grid) - g(grid)))
        res = maximize(-np.ones(2), np.ones(2),
                       lambda lo, hi: float(difference_bounds(f, g, Box(lo, hi)).upper[0]),
                       lambda X: (f(X) - g(X))[:, 0], budget=Budget.start(300), rng=rng)  # ceiling for slow machines
        assert res.status == "optimal"
        assert res.lower <= dense + 1e-6 * max(1, abs(dense)) or res.lower >= dense  # lower is a real value...
        assert float((f(res.witness[None]) - g(res.witness[None]))[0, 0]) == pytest.approx(res.lower)
        # ... the true maximum is at least the grid's and at most the upper bound
        assert res.upper >= dense - 1e-9
        assert res.upper - res.lower <= 1e-6 * max(1, abs(res.lower))
        assert res.lower >= dense - 1e-2  # the grid is within 1e-2 of the optimum on [-1, 1]^2


def test_search_stops_on_its_budget_with_a_valid_interval():
    from reluscope._budget import Budget
    from reluscope.search import maximize

    f = ReLUNetwork.random((10, 32, 32, 1), seed=102)
    g = ReLUNetwork.random((10, 32, 32, 1), seed=103)
    res = maximize(-np.ones(10), np.ones(10),
                   lambda lo, hi: float(difference_bounds(f, g, Box(lo, hi)).upper[0]),
                   lambda X: (f(X) - g(X))[:, 0], budget=Budget.start(0.5), rng=np.random.default_rng(0))
    assert res.status == "time_limit"
    X = Box(-1, 1).sample(20000, 10, seed=1)
    assert res.lower <= res.upper and np.max(f(X) - g(X)) <= res.upper


def test_difference_relaxation_lines_hold_on_their_boxes():
    from reluscope.bounds.difference import _difference_relaxation

    rng = np.random.default_rng(17)
    for _ in range(400):
        gl, gh = np.sort(rng.normal(size=2) * 2)
        dl, dh = np.sort(rng.normal(size=2) * 2)
        z = rng.uniform(gl, gh, 500)
        d = rng.uniform(dl, dh, 500)
        zf = z + d
        fl, fh = zf.min() - rng.uniform(0, 1), zf.max() + rng.uniform(0, 1)
        sl, tl, su, tu = (v[0] for v in _difference_relaxation(*(np.array([v]) for v in (dl, dh, gl, gh, fl, fh))))
        da = np.maximum(zf, 0) - np.maximum(z, 0)
        assert np.all(sl * d + tl <= da + 1e-12) and np.all(da <= su * d + tu + 1e-12)


def test_optimized_slopes_are_sound_and_never_looser_than_adaptive():
    rng = np.random.default_rng(20261204)
    tighter = 0
    for _ in range(60):
        net, box = _random_case(rng)
        X = box.sample(400, seed=rng)
        out = net(X)
        adaptive = layer_bounds(net, box, alpha="adaptive")
        opt = layer_bounds(net, box, alpha="optimized")
        lo, hi = opt.output
        assert np.all(out >= lo) and np.all(out <= hi)
        assert np.all(lo >= adaptive.output[0]) and np.all(hi <= adaptive.output[1])
        # hidden layers are optimized too: never looser than adaptive, and they contain
        # every sampled pre-activation
        h = X
        for l in range(net.depth - 1):
            z = h @ net.weights[l].T + net.biases[l]
            assert np.all(opt.lower[l] >= adaptive.lower[l]) and np.all(opt.upper[l] <= adaptive.upper[l])
            assert np.all(z >= opt.lower[l]) and np.all(z <= opt.upper[l])
            h = np.maximum(z, 0.0)
        tighter += int(np.any(lo > adaptive.output[0] + 1e-9) or np.any(hi < adaptive.output[1] - 1e-9))
    assert tighter >= 5  # the optimization does tighten some bounds
