"""reluscope.distance.output_range: brackets of every output's extremes over a box by the
branch and bound (sound bounds containing every sampled value, attained ends re-evaluated on
the network, closing on small networks)."""

from __future__ import annotations

import numpy as np
import pytest

import reluscope
from reluscope import Box, PointSet, ReLUNetwork
from reluscope.distance import output_range
from reluscope.errors import InvalidArgument


@pytest.mark.parametrize("seed", range(8))
def test_brackets_contain_sampled_extremes_and_ends_are_attained(seed):
    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 7))
    widths = (d, *(int(w) for w in rng.integers(3, 12, size=int(rng.integers(1, 3)))), int(rng.integers(1, 4)))
    net = ReLUNetwork.random(widths, seed=seed)
    lo, hi = -rng.uniform(0.1, 2, d), rng.uniform(0.1, 2, d)
    r = output_range(net, Box(lo, hi), time_limit=4, seed=seed)
    Y = net(np.random.default_rng(seed + 1).uniform(lo, hi, (20_000, d)))
    tol = 1e-9 * (1 + np.abs(Y).max())
    assert np.all(r.min_lower <= Y.min(axis=0) + tol) and np.all(r.max_upper >= Y.max(axis=0) - tol)
    assert np.all(r.min_lower <= r.min_upper) and np.all(r.max_lower <= r.max_upper)
    for k in range(net.output_dim):
        for x, v in ((r.min_witness[k], r.min_upper[k]), (r.max_witness[k], r.max_lower[k])):
            assert np.all(x >= lo) and np.all(x <= hi)
            assert net(x[None, :])[0, k] == pytest.approx(v, rel=1e-12, abs=1e-12)
    spread = (Y.max(axis=0) - Y.min(axis=0)).max()
    assert r.spread_lower <= r.spread_upper and spread <= r.spread_upper + 2 * tol
    if r.exact:
        assert r.status == "optimal"
        assert r.spread_lower >= spread - 1e-5 * max(1.0, spread)


def test_closes_on_a_small_network():
    net = ReLUNetwork.random((2, 6, 1), seed=3)
    r = output_range(net, Box(-1, 1), time_limit=60)
    assert r.exact and r.status == "optimal"
    assert r.spread_upper - r.spread_lower <= 1e-5 * max(1.0, r.spread_upper)


def test_needs_a_box():
    net = ReLUNetwork.random((2, 3, 1), seed=0)
    with pytest.raises(InvalidArgument, match="box"):
        output_range(net, PointSet(np.zeros((3, 2))))
    with pytest.raises(reluscope.errors.ReluscopeError):
        output_range(net, Box(-1, 1), time_limit=-1)
