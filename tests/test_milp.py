"""Tests of the MILP encodings and bound computations (reluscope.milp)."""

from __future__ import annotations

import numpy as np
import pytest

from reluscope import Box, PointSet, ReLUNetwork
from reluscope.errors import InvalidArgument, InvalidDomain, InvalidNetwork
from reluscope.milp import (
    LayerBounds,
    MILPBuilder,
    encode_network,
    interval_bounds,
    neuron_range,
    preactivation_bounds,
)


def breakpoints_1d(net: ReLUNetwork, lo: float, hi: float) -> np.ndarray:
    """All points of [lo, hi] where some hidden neuron of ``net`` changes sign, plus the
    endpoints: between consecutive points every pre-activation is affine, so its extrema over
    [lo, hi] are attained on this finite set (exact enumeration of the kinks)."""
    pts = np.array([lo, hi], dtype=np.float64)
    for layer in range(net.depth - 1):
        Z = net.preactivations(pts[:, None])[layer]  # (n, N_l)
        new = []
        for j in range(Z.shape[1]):
            z = Z[:, j]
            for a in range(len(pts) - 1):
                za, zb = z[a], z[a + 1]
                if za * zb < 0:  # a zero strictly inside an affine segment
                    new.append(pts[a] + (pts[a + 1] - pts[a]) * za / (za - zb))
        pts = np.unique(np.concatenate([pts, np.array(new)]))
    return pts


def random_net(widths, seed):
    return ReLUNetwork.random(widths, seed=seed)


@pytest.mark.parametrize("seed", range(12))
def test_interval_and_lp_bounds_contain_samples_and_lp_is_tighter(seed):
    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 4))
    widths = (d, int(rng.integers(2, 7)), int(rng.integers(2, 7)), int(rng.integers(1, 3)))
    net = random_net(widths, seed)
    box = Box(-1.0, 1.5)
    X = box.sample(4000, d, seed=seed)
    Z = net.preactivations(X)
    ib = interval_bounds(net, box)
    lp = preactivation_bounds(net, box, method="lp")
    assert len(ib) == len(lp) == net.depth
    for (lo, hi), b, z in zip(ib, lp, Z):
        assert np.all(lo <= z.min(0) + 1e-12) and np.all(hi >= z.max(0) - 1e-12)
        assert np.all(b.lower <= z.min(0) + 1e-9) and np.all(b.upper >= z.max(0) - 1e-9)
        assert np.all(b.lower >= lo - 1e-9) and np.all(b.upper <= hi + 1e-9)
    # first layer: interval bounds are exact, attained at box vertices
    V = box.vertices(d)
    Z1 = net.preactivations(V)[0]
    np.testing.assert_allclose(ib[0][0], Z1.min(0), atol=1e-12)
    np.testing.assert_allclose(ib[0][1], Z1.max(0), atol=1e-12)
    assert lp[0].exact.all()


@pytest.mark.parametrize("seed", range(10))
def test_milp_bounds_equal_exact_enumeration_in_1d(seed):
    rng = np.random.default_rng(100 + seed)
    widths = (1, int(rng.integers(2, 8)), int(rng.integers(2, 8)), 2)
    net = random_net(widths, 100 + seed)
    lo, hi = -1.0, 2.0
    pts = breakpoints_1d(net, lo, hi)
    Z = net.preactivations(pts[:, None])
    bounds = preactivation_bounds(net, Box(lo, hi), method="milp")
    for b, z in zip(bounds, Z):
        assert b.exact.all()
        np.testing.assert_allclose(b.lower, z.min(0), atol=1e-6)
        np.testing.assert_allclose(b.upper, z.max(0), atol=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_neuron_range_matches_enumeration_and_witnesses_attain(seed):
    rng = np.random.default_rng(200 + seed)
    widths = (1, 5, 6, 4, 1)
    net = random_net(widths, 200 + seed)
    box = Box(-2.0, 1.0)
    pts = breakpoints_1d(net, -2.0, 1.0)
    Z = net.preactivations(pts[:, None])
    layer = int(rng.integers(1, 5))
    neuron = int(rng.integers(0, net.widths[layer]))
    r = neuron_range(net, box, layer, neuron)
    assert r.exact and r.status == "optimal"
    assert r.lower == pytest.approx(Z[layer - 1][:, neuron].min(), abs=1e-6)
    assert r.upper == pytest.approx(Z[layer - 1][:, neuron].max(), abs=1e-6)
    zmin = net.preactivations(r.witness_min[None, :])[layer - 1][0, neuron]
    zmax = net.preactivations(r.witness_max[None, :])[layer - 1][0, neuron]
    assert zmin == pytest.approx(r.lower, abs=1e-9)
    assert zmax == pytest.approx(r.upper, abs=1e-9)
    assert Box(-2.0, 1.0).contains(np.stack([r.witness_min, r.witness_max])).all()


@pytest.mark.parametrize("seed", range(5))
def test_neuron_range_in_higher_dimension_brackets_samples(seed):
    net = random_net((4, 10, 10, 1), 300 + seed)
    box = Box(-1.0, 1.0)
    X = box.sample(20000, 4, seed=seed)
    z = net.preactivations(X)[1]
    # exact in seconds; limits far above that (the default 10 s total is not, on a loaded machine)
    milp_b = preactivation_bounds(net, box, method="milp", time_limit=120)
    for neuron in range(0, 10, 3):
        r = neuron_range(net, box, 2, neuron, time_limit=120)
        assert r.exact
        # exact range contains every sample, and the witnesses attain it
        assert r.lower <= z[:, neuron].min() + 1e-9 and r.upper >= z[:, neuron].max() - 1e-9
        assert r.lower == pytest.approx(milp_b[1].lower[neuron], abs=1e-6)
        assert r.upper == pytest.approx(milp_b[1].upper[neuron], abs=1e-6)


def test_time_limited_range_is_still_valid():
    net = random_net((6, 40, 40, 40, 1), 7)
    box = Box(-1.0, 1.0)
    r = neuron_range(net, box, 4, 0, time_limit=0.05)
    X = box.sample(5000, 6, seed=1)
    out = net(X)[:, 0]
    assert r.lower <= out.min() + 1e-9 and r.upper >= out.max() - 1e-9
    assert np.isfinite(r.lower) and np.isfinite(r.upper)
    if not r.exact:
        assert r.status != "optimal" or r.upper > r.lower


def test_pointset_bounds_are_exact_extremes():
    net = random_net((2, 5, 1), 3)
    X = np.random.default_rng(0).normal(size=(50, 2))
    bounds = preactivation_bounds(net, PointSet(X), method="milp")
    Z = net.preactivations(X)
    for b, z in zip(bounds, Z):
        assert b.exact.all() and b.method == "points"
        np.testing.assert_array_equal(b.lower, z.min(0))
    r = neuron_range(net, PointSet(X), 1, 2)
    # one-row and batch evaluations may use different BLAS kernels (gemv / gemm, FMA or not)
    assert r.upper == pytest.approx(Z[0][:, 2].max(), rel=1e-12, abs=1e-15)
    assert net.preactivations(r.witness_max[None])[0][0, 2] == pytest.approx(r.upper, rel=1e-12, abs=1e-15)


def test_encoding_reproduces_network_on_fixed_inputs():
    # fixing x in the MILP, the output variable must equal the network's output
    net = random_net((3, 7, 5, 2), 11)
    box = Box(-1.0, 1.0)
    bounds = preactivation_bounds(net, box, method="lp")
    for x0 in box.sample(5, 3, seed=2):
        b = MILPBuilder()
        x = b.add_vars(3, x0, x0)
        enc = encode_network(b, net, x, bounds)
        out = b.solve({int(enc.output[0]): 1.0}, sense="max")
        assert out.status == "optimal"
        np.testing.assert_allclose(out.x[enc.output], net(x0), atol=1e-6)


def test_layer_bounds_result_is_frozen_and_serializable():
    net = random_net((2, 3, 1), 0)
    b = preactivation_bounds(net, Box(-1, 1))[0]
    assert isinstance(b, LayerBounds)
    with pytest.raises(Exception):
        b.lower[0] = 5.0
    d = b.to_dict()
    assert set(d) >= {"lower", "upper", "exact", "exact_lower", "exact_upper", "method"}
    lo, hi = b
    assert lo is b.lower and hi is b.upper
    assert "LayerBounds" in str(b)


def test_bad_input():
    net = random_net((2, 3, 1), 0)
    with pytest.raises(InvalidArgument, match="layer"):
        neuron_range(net, Box(-1, 1), 0, 0)
    with pytest.raises(InvalidArgument, match="layer"):
        neuron_range(net, Box(-1, 1), 3, 0)
    with pytest.raises(InvalidArgument, match="neuron"):
        neuron_range(net, Box(-1, 1), 1, 3)
    with pytest.raises(InvalidArgument, match="method"):
        preactivation_bounds(net, Box(-1, 1), method="exact")
    with pytest.raises(InvalidDomain):
        preactivation_bounds(net, Box([-1, -1, -1], [1, 1, 1]))
    with pytest.raises(InvalidNetwork):
        interval_bounds("not a network", Box(-1, 1))
