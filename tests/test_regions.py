"""Linear-region enumeration in one and two dimensions (reluscope.regions) and
``sup_distance(method="enumerate")``: the cells cover the box, each network is the stated
affine map on each cell, and the maximum equals the MILP's."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import ConvexHull
from typer.testing import CliRunner

from reluscope import Box, ReLUNetwork, save
from reluscope.cli import app
from reluscope.distance import lipschitz_constant, sobolev_distance, sup_distance
from reluscope.errors import InvalidDomain, SolverError
from reluscope.regions import affine_pieces, arrangement_vertices


def polygon_area(v: np.ndarray) -> float:
    x, y = v[:, 0], v[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def measure(v: np.ndarray) -> float:
    if v.shape[1] == 1:
        return float(v[1, 0] - v[0, 0])
    if v.shape[1] == 2:
        return polygon_area(v)
    return float(ConvexHull(v, qhull_options="QJ").volume)  # unordered vertices


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), d=st.integers(1, 3),
       hidden=st.lists(st.integers(1, 7), min_size=1, max_size=3), k=st.integers(1, 2),
       half=st.floats(0.3, 3.0))
def test_cells_cover_the_box_and_each_network_is_affine_on_each_cell(seed, d, hidden, k, half):
    f = ReLUNetwork.random((d, *hidden, k), seed=seed, bias_scale=0.5)
    g = ReLUNetwork.random((d, *hidden[::-1], k), seed=seed + 1, bias_scale=0.5)
    lo, hi = -half * np.ones(d), half * np.ones(d)
    pieces = affine_pieces([f, g], lo, hi)
    rng = np.random.default_rng(seed)
    total = 0.0
    for p in pieces:
        v = p.vertices
        assert np.all(v >= lo - 1e-12) and np.all(v <= hi + 1e-12)
        total += measure(v)
        # random points of the (convex) cell: convex combinations of its vertices
        lam = rng.dirichlet(np.ones(len(v)), size=4)
        X = lam @ v
        for net, (J, c) in zip((f, g), p.maps):
            assert np.allclose(X @ J.T + c, net(X), atol=1e-9, rtol=1e-9)
    # cells are convex with disjoint interiors (cut from the box), so their measures add up
    assert total == pytest.approx(float(np.prod(hi - lo)), rel=1e-9 if d <= 2 else 1e-6)


@pytest.mark.parametrize("seed", range(10))
def test_enumerated_sup_equals_the_milp(seed):
    rng = np.random.default_rng(400 + seed)
    d = int(rng.integers(1, 3))
    hidden = tuple(int(w) for w in rng.integers(2, 7, size=int(rng.integers(1, 3))))
    k = int(rng.integers(1, 3))
    f = ReLUNetwork.random((d, *hidden, k), seed=400 + seed)
    g = ReLUNetwork.random((d, *hidden, k), seed=500 + seed)
    box = Box(-1.5, 1.0)
    e = sup_distance(f, g, box, method="enumerate")
    m = sup_distance(f, g, box, method="exact")
    assert e.exact and m.exact and e.method == "enumerate"
    assert e.lower <= e.upper
    assert e.lower == pytest.approx(m.lower, abs=1e-6 * max(1.0, m.lower))
    w = e.witness
    assert np.abs(f(w) - g(w)).max() == pytest.approx(e.lower, abs=1e-12)
    # nothing sampled beats the certified upper bound
    X = box.sample(20_000, d, seed=seed)
    assert np.abs(f(X) - g(X)).max() <= e.upper + 1e-12


def test_auto_uses_enumeration_in_two_dimensions_and_the_milp_beyond_its_limit():
    f = ReLUNetwork.random((2, 8, 8, 1), seed=3)
    g = ReLUNetwork.random((2, 8, 8, 1), seed=4)
    auto = sup_distance(f, g)
    assert auto.method == "enumerate" and auto.exact
    fallback = sup_distance(f, g, max_regions=5, time_limit=60)
    assert fallback.method != "enumerate" and fallback.exact
    assert fallback.lower == pytest.approx(auto.lower, abs=1e-6 * max(1.0, auto.lower))


def test_enumeration_limits_give_a_lower_bound_only():
    f = ReLUNetwork.random((2, 16, 16, 1), seed=5)
    g = ReLUNetwork.random((2, 16, 16, 1), seed=6)
    r = sup_distance(f, g, method="enumerate", max_regions=10)
    assert not r.exact and r.upper == np.inf and r.status == "region_limit"
    assert np.abs(f(r.witness) - g(r.witness)).max() == pytest.approx(r.lower, abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_enumeration_in_three_dimensions_equals_the_milp(seed):
    f = ReLUNetwork.random((3, 5, 4, 2), seed=600 + seed)
    g = ReLUNetwork.random((3, 4, 5, 2), seed=650 + seed)
    e = sup_distance(f, g, Box(-1, 1), method="enumerate")
    m = sup_distance(f, g, Box(-1, 1), method="exact")
    assert e.exact and e.method == "enumerate" and m.method != "enumerate"
    assert e.lower == pytest.approx(m.lower, abs=1e-6 * max(1.0, m.lower))
    ge = lipschitz_constant(f, Box(-1, 1), method="enumerate")
    gm = lipschitz_constant(f, Box(-1, 1), method="exact")
    assert ge.exact and ge.lower == pytest.approx(gm.lower, abs=1e-6 * max(1.0, gm.lower))
    assert lipschitz_constant(f, Box(-1, 1)).method == "enumerate"  # auto, gradient, 3-D


def test_networks_must_match_the_box():
    f = ReLUNetwork.random((3, 4, 1), seed=0)
    with pytest.raises(InvalidDomain, match="dimension 2"):
        affine_pieces([f], -np.ones(2), np.ones(2))


def test_cli_method_enumerate(tmp_path):
    f = ReLUNetwork.random((2, 6, 1), seed=1)
    g = ReLUNetwork.random((2, 5, 1), seed=2)
    save(f, tmp_path / "a.npz")
    save(g, tmp_path / "b.npz")
    res = CliRunner().invoke(app, ["distance", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"),
                                   "--method", "enumerate", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["method"] == "enumerate" and out["exact"] is True
    assert out["lower"] == pytest.approx(sup_distance(f, g, method="exact").lower, abs=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_enumerated_gradient_equals_the_milp(seed):
    rng = np.random.default_rng(700 + seed)
    d = int(rng.integers(1, 3))
    hidden = tuple(int(w) for w in rng.integers(2, 6, size=int(rng.integers(1, 3))))
    f = ReLUNetwork.random((d, *hidden, 2), seed=700 + seed)
    g = ReLUNetwork.random((d, *hidden, 2), seed=800 + seed)
    e = sobolev_distance(f, g, Box(-1, 1), method="enumerate").gradient_part
    m = sobolev_distance(f, g, Box(-1, 1), method="exact").gradient_part
    assert e.exact and m.exact and e.method == "enumerate"
    assert e.lower == pytest.approx(m.lower, abs=1e-6 * max(1.0, m.lower))
    assert e.certified_upper >= e.upper >= e.lower
    # the witness is inside a region, where the real Jacobian realizes the lower bound
    J = f.local_affine(e.witness)[0] - g.local_affine(e.witness)[0]
    assert np.abs(J).max() == pytest.approx(e.lower, abs=1e-12)
    lip = lipschitz_constant(f, Box(-1, 1), method="enumerate")
    assert lip.exact and lip.lower == pytest.approx(
        lipschitz_constant(f, Box(-1, 1), method="exact").lower, abs=1e-6 * max(1.0, lip.lower))


def test_enumerated_gradient_limits_and_dimension():
    f = ReLUNetwork.random((2, 16, 16, 1), seed=5)
    r = lipschitz_constant(f, method="enumerate", max_regions=10)
    assert not r.exact and r.upper == np.inf and r.status == "region_limit" and r.lower > 0


@pytest.mark.parametrize("seed", range(8))
def test_arrangement_vertices_contain_every_cell_vertex(seed):
    f = ReLUNetwork.random((2, 12, 1), seed=900 + seed, bias_scale=0.5)
    g = ReLUNetwork.random((2, 9, 1), seed=950 + seed, bias_scale=0.5)
    lo, hi = np.array([-1.0, -2.0]), np.array([1.5, 0.5])
    V = arrangement_vertices(np.vstack([f.weights[0], g.weights[0]]),
                             np.concatenate([f.biases[0], g.biases[0]]), lo, hi)
    cell_vertices = np.vstack([p.vertices for p in affine_pieces([f, g], lo, hi)])
    gaps = np.min(np.linalg.norm(cell_vertices[:, None, :] - V[None, :, :], axis=2), axis=1)
    assert gaps.max() < 1e-9
    # so the one-hidden-layer shortcut of sup_distance gives the MILP's value
    e = sup_distance(f, g, Box(lo, hi), method="enumerate")
    m = sup_distance(f, g, Box(lo, hi), method="exact")
    assert e.exact and e.lower == pytest.approx(m.lower, abs=1e-6 * max(1.0, m.lower))


def test_nearly_parallel_kinks_fall_back_to_cells():
    # two kink lines through the origin at an angle of 1e-6: ill-conditioned intersection
    W1 = np.array([[1.0, 0.0], [1.0, 1e-6], [0.3, 1.0]])
    f = ReLUNetwork([W1, np.array([[1.0, -2.0, 0.5]])], [np.zeros(3), np.zeros(1)])
    g = ReLUNetwork.random((2, 4, 1), seed=1)
    with pytest.raises(SolverError, match="small angle"):
        arrangement_vertices(W1, np.zeros(3), -np.ones(2), np.ones(2))
    e = sup_distance(f, g, method="enumerate")
    m = sup_distance(f, g, method="exact")
    assert e.exact and e.lower == pytest.approx(m.lower, abs=1e-6 * max(1.0, m.lower))


def test_auto_sup_enumerates_up_to_three_dimensions():
    f = ReLUNetwork.random((3, 10, 10, 1), seed=11)
    g = ReLUNetwork.random((3, 10, 10, 1), seed=12)
    r = sup_distance(f, g)
    assert r.method == "enumerate" and r.exact
    f4 = ReLUNetwork.random((4, 6, 1), seed=13)
    g4 = ReLUNetwork.random((4, 6, 1), seed=14)
    assert sup_distance(f4, g4, time_limit=60).method != "enumerate"


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), d=st.integers(2, 3),
       hidden=st.lists(st.integers(2, 6), min_size=2, max_size=3), k=st.integers(1, 2))
def test_pruned_enumeration_equals_the_full_vertex_maximum(seed, d, hidden, k):
    """The branch and bound over f's regions returns the maximum over all vertices of the
    full common partition (no region that holds the maximum is pruned)."""
    f = ReLUNetwork.random((d, *hidden, k), seed=seed)
    g = ReLUNetwork.random((d, *hidden[::-1], k), seed=seed + 1)
    lo, hi = -np.ones(d), np.ones(d)
    V = np.vstack([p.vertices for p in affine_pieces([f, g], lo, hi)])
    full = float(np.abs(f(V) - g(V)).max())
    r = sup_distance(f, g, Box(lo, hi), method="enumerate")
    assert r.exact
    assert r.lower == pytest.approx(full, rel=1e-12, abs=1e-12)
    assert r.upper >= full
