"""Inverse-stability ratio: the parameter search is exact where it claims, its witnesses are
valid, pathology families blow up and restricted sequences stay bounded."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from reluscope import Box, ReLUNetwork
from reluscope.errors import InvalidArgument, InvalidNetwork
from reluscope.stability import FAMILIES, DOMAIN, in_restricted_set, to_restricted
from reluscope.stability.neuron_costs import (
    _bottleneck_assignment,
    _dead_distance,
    optimal_rescaling,
    parallel_group_cost,
)
from reluscope.stability.ratio import drop_null_neurons, inverse_stability_ratio
from reluscope.stability.symmetric_distance import restricted_parameter_distance, symmetric_parameter_distance
from test_stability_exact import exact_1d
from test_stability_restricted import degenerate_network

NS = (4, 16, 64, 256)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 3))
def test_optimal_rescaling_is_the_minimum(seed, d):
    rng = np.random.default_rng(seed)
    src, tgt = rng.standard_normal(d + 1), rng.standard_normal(d + 1)
    if seed % 5 == 0:
        src[rng.integers(0, d + 1)] = 0.0
    cs, ct = rng.standard_normal(), rng.standard_normal()
    value, lam = optimal_rescaling(src, cs, tgt, ct)
    obj = lambda l: np.maximum(np.abs(np.outer(l, src) - tgt).max(axis=1), np.abs(cs / l - ct))
    assert obj(np.array([lam]))[0] == pytest.approx(value, abs=1e-12)
    grid = np.exp(np.linspace(-12, 12, 40_001))
    assert value <= obj(grid).min() + 1e-12


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 6))
def test_bottleneck_assignment_matches_brute_force(seed, n):
    cost = np.random.default_rng(seed).integers(0, 5, size=(n, n)).astype(float)
    value, match = _bottleneck_assignment(cost)
    brute = min(max(cost[i, p[i]] for i in range(n)) for p in itertools.permutations(range(n)))
    assert value == brute
    assert sorted(match) == list(range(n)) and max(cost[i, match[i]] for i in range(n)) == value


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 2))
def test_dead_distance_is_a_projection_onto_the_dead_cone(seed, d):
    rng = np.random.default_rng(seed)
    ab = rng.standard_normal(d + 1) * 2
    lo, hi = np.full(d, -1.0), np.full(d, 2.0)
    dist, point = _dead_distance(ab, lo, hi)
    corners = np.array(list(itertools.product(*zip(lo, hi))))
    assert (corners @ point[:d] + point[d] <= 1e-9).all()
    assert np.abs(point - ab).max() == pytest.approx(dist, abs=1e-9)
    # no dead point is closer: random dead points
    for _ in range(200):
        q = ab + rng.uniform(-1, 1, d + 1) * dist * 0.999
        assert (corners @ q[:d] + q[d] > 0).any() or dist == 0


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 3), st.integers(1, 2))
def test_parallel_group_cost_is_optimal(seed, k, d):
    rng = np.random.default_rng(seed)
    u = rng.standard_normal(d + 1)
    u /= np.linalg.norm(u)
    v = float(rng.standard_normal())
    T_ab, T_c = rng.standard_normal((k, d + 1)), rng.standard_normal(k)
    cost, s_vals, c_vals = parallel_group_cost(u, v, T_ab, T_c)
    assert (s_vals >= 0).all()
    assert float(np.sum(s_vals * c_vals)) == pytest.approx(v, abs=1e-9)
    dev = max(np.abs(np.outer(s_vals, u) - T_ab).max(), np.abs(c_vals - T_c).max())
    assert dev == pytest.approx(cost, abs=1e-9)
    # random feasible configurations never do better (vectorized over 5000 draws)
    N = 5000
    s_try = np.abs(rng.standard_normal((N, k))) * rng.uniform(0, 3, (N, 1))
    c_try = T_c + rng.uniform(-1, 1, (N, k)) * cost * rng.uniform(0, 2, (N, 1))
    q = np.argmax(s_try, axis=1)
    rows = np.arange(N)
    good = s_try[rows, q] > 1e-6
    c_try[rows, q] += (v - np.sum(s_try * c_try, axis=1)) / np.where(good, s_try[rows, q], 1.0)
    dev_ab = np.abs(s_try[:, :, None] * u[None, None, :] - T_ab[None]).max(axis=(1, 2))
    dev_c = np.abs(c_try - T_c).max(axis=1)
    assert (np.maximum(dev_ab, dev_c)[good] >= cost - 1e-9).all()


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
@pytest.mark.parametrize("n", NS)
def test_search_witness_is_valid_and_respects_the_lower_bound(family, n):
    gamma, g = family(n)
    res = symmetric_parameter_distance(gamma, g, DOMAIN)
    sup, lip = exact_1d(res.nearest, g)
    assert sup <= 1e-12 * (1 + n) and lip <= 1e-12 * n * n
    assert np.abs(res.nearest.to_vector() - res.gamma.to_vector()).max() == pytest.approx(res.distance, abs=1e-12)
    assert res.distance >= family.distance_lower_bound(n) - 1e-12
    assert res.distance <= np.abs(gamma.to_vector() - g.to_vector()).max() + 1e-12


def test_search_attains_the_lower_bound_where_it_is_exact():
    # family 1: the infimum over width-1 parametrizations is known in closed form
    for n in (1, 3, 4, 5, 64):
        gamma, g = FAMILIES[1](n)
        assert symmetric_parameter_distance(gamma, g, DOMAIN).distance == pytest.approx(
            FAMILIES[1].distance_lower_bound(n), abs=1e-12)
    # family 2: the parallel split reaches the lower bound 1/3 (so 1/3 is the exact infimum)
    for n in NS:
        gamma, g = FAMILIES[2](n)
        res = symmetric_parameter_distance(gamma, g, DOMAIN)
        assert res.distance == pytest.approx(1 / 3, abs=1e-9)
        assert exact_1d(res.nearest, g)[1] < 1e-9
    # family 3: distance exactly 2 (the bias), attained with lambda = 1/sqrt... any a
    gamma, g = FAMILIES[3](16)
    assert symmetric_parameter_distance(gamma, g, DOMAIN).distance == pytest.approx(2.0, abs=1e-12)
    # family 0: the balanced parametrization, distance within a factor sqrt(2) of sqrt(n/2)
    for n in NS:
        gamma, g = FAMILIES[0](n)
        dist = symmetric_parameter_distance(gamma, g, DOMAIN).distance
        assert math.sqrt(n / 2) <= dist <= math.sqrt(n) + 1e-9


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 6))
def test_symmetric_copies_are_at_distance_zero(seed, width):
    rng = np.random.default_rng(seed)
    gamma = ReLUNetwork.random((1, width, 1), seed=seed, bias_scale=1.0)
    lam = np.exp(rng.uniform(-2, 2, width))
    perm = rng.permutation(width)
    A, b, C = gamma.weights[0] * lam[:, None], gamma.biases[0] * lam, gamma.weights[1] / lam
    phi = ReLUNetwork([A[perm], C[:, perm]], [b[perm], gamma.biases[1]])
    assert symmetric_parameter_distance(gamma, phi).distance <= 1e-12 * (1 + np.abs(phi.to_vector()).max())


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 6), st.integers(1, 6))
def test_search_witness_on_random_pairs(seed, wg, wp):
    gamma = degenerate_network(seed, 1, wg)
    phi = degenerate_network(seed + 1, 1, wp)
    res = symmetric_parameter_distance(gamma, phi)
    assert res.nearest.widths[1] == max(wg, wp)
    sup, lip = exact_1d(res.nearest, phi)
    scale = 1 + np.abs(phi.to_vector()).max() ** 2 + res.distance ** 2
    assert sup <= 1e-9 * scale and lip <= 1e-9 * scale
    assert np.abs(res.nearest.to_vector() - res.gamma.to_vector()).max() == pytest.approx(res.distance, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 5))
def test_restricted_distance_witness_and_flips(seed, width):
    rng = np.random.default_rng(seed)
    g = to_restricted(degenerate_network(seed, 1, width))
    p = to_restricted(degenerate_network(seed + 7, 1, width))
    res = restricted_parameter_distance(g, p)
    assert res.exact
    assert in_restricted_set(res.nearest).ok
    sup, lip = exact_1d(res.nearest, p)
    assert sup < 1e-9 and lip < 1e-9
    assert np.abs(res.nearest.to_vector() - res.gamma.to_vector()).max() == pytest.approx(res.distance, abs=1e-12)
    # the same function written with flipped orientations is at distance 0 from itself
    v = g.c * np.abs(g.c)
    flip = rng.random(g.width) < 0.5
    a, b, w, e = g.a.copy(), g.b.copy(), g.w.copy(), g.e
    for j in np.flatnonzero(flip):
        u = np.append(a[j], b[j]) / abs(g.c[j])
        a[j], b[j] = -a[j], -b[j]
        w = w + v[j] * u[:1]
        e = e + v[j] * u[1]
    from reluscope.stability import RestrictedShallowNetwork
    flipped = RestrictedShallowNetwork(a, b, g.c, w, e)
    assert exact_1d(flipped, g)[0] < 1e-9
    assert restricted_parameter_distance(g, flipped).distance < 1e-9


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_ratio_grows_along_every_family_in_the_sup_norm(family):
    ratios, lowers = [], []
    for n in NS:
        gamma, g = family(n)
        r = inverse_stability_ratio(gamma, g, DOMAIN, norm="sup", distance_lower_bound=family.distance_lower_bound(n))
        assert r.function_exact
        assert r.function_upper == pytest.approx(family.function_distance(n, "sup"), rel=1e-4, abs=3e-6)
        assert r.ratio_lower <= r.ratio * (1 + 1e-6)
        ratios.append(r.ratio)
        lowers.append(r.ratio_lower)
    assert lowers[-1] >= 7.5 * lowers[0]  # ~ sqrt(n) (n for family 0): unbounded
    assert ratios[-1] >= 4 * ratios[0] and all(np.diff(ratios) > 0)


@pytest.mark.parametrize("family", FAMILIES[1:], ids=lambda f: f.name)
def test_ratio_grows_along_families_1_to_4_in_the_sobolev_norm(family):
    lowers = []
    for n in NS:
        gamma, g = family(n)
        r = inverse_stability_ratio(gamma, g, DOMAIN, norm="sobolev", distance_lower_bound=family.distance_lower_bound(n))
        assert r.function_exact, str(r)
        assert r.function_upper == pytest.approx(family.function_distance(n, "sobolev"), rel=1e-4, abs=3e-6)
        lowers.append(r.ratio_lower)
    assert lowers[-1] >= 7.5 * lowers[0]


def test_family0_is_bounded_in_the_sobolev_norm():
    ratios = []
    for n in NS:
        gamma, g = FAMILIES[0](n)
        r = inverse_stability_ratio(gamma, g, DOMAIN, norm="sobolev")
        assert r.function_exact, str(r)
        assert r.function_upper == pytest.approx(n, rel=1e-4, abs=3e-6)
        ratios.append(r.ratio)
    assert max(ratios) <= 1.5 and min(ratios) >= 1 / math.sqrt(2) - 1e-9


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_ratio_is_bounded_inside_the_restricted_set(family):
    # the same target functions, reached from the restricted form of gamma
    ratios = []
    for n in NS:
        gamma, g = family(n)
        gr = to_restricted(gamma, DOMAIN, width=gamma.widths[1])
        r = inverse_stability_ratio(gr, g, DOMAIN, norm="sobolev")
        assert r.parameter_exact and r.function_exact, str(r)
        ratios.append(r.ratio)
    assert max(ratios) <= 2.0, ratios


def test_uniform_norm_fails_even_inside_the_restricted_set():
    ratios = []
    for n in NS:
        gamma, g = FAMILIES[0](n)
        gr = to_restricted(gamma, DOMAIN, width=2)
        ratios.append(inverse_stability_ratio(gr, g, DOMAIN, norm="sup").ratio)
    assert ratios[-1] >= 32 * ratios[0]  # grows like n


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ratio_is_bounded_along_random_restricted_sequences(seed):
    # gamma: a random restricted network with a free slot; g_n: gamma plus a new kink of size 1/n
    rng = np.random.default_rng(seed)
    base = to_restricted(ReLUNetwork.random((1, 4, 1), seed=seed, bias_scale=0.5), DOMAIN)
    gr = base.padded(base.width + 1)
    x0 = rng.uniform(-0.9, 0.9)
    ratios = []
    for n in NS:
        bump = ReLUNetwork([[[1.0]], [[1.0 / n]]], [[-x0], [0.0]])
        plain = base.to_network(DOMAIN)
        g = ReLUNetwork([np.vstack([plain.weights[0], bump.weights[0]]), np.hstack([plain.weights[1], bump.weights[1]])],
                        [np.concatenate([plain.biases[0], bump.biases[0]]), plain.biases[1]])
        r = inverse_stability_ratio(gr, g, DOMAIN, norm="sobolev")
        assert r.function_exact, str(r)
        ratios.append(r.ratio)
    assert max(ratios) <= 3 * min(ratios) and max(ratios) <= 5, ratios


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 6))
def test_drop_null_neurons_keeps_the_function(seed, width):
    net = degenerate_network(seed, 2, width)
    rng = np.random.default_rng(seed)
    A, b, C = np.array(net.weights[0]), np.array(net.biases[0]), np.array(net.weights[1])
    null = rng.random(width) < 0.4
    A[null], b[null] = 0.0, 0.0
    net = ReLUNetwork([A, C], [b, net.biases[1]])
    clean = drop_null_neurons(net)
    assert clean.widths[1] == max(1, int(((np.abs(A).sum(1) + np.abs(b) > 0) & (C[0] != 0)).sum()))
    X = Box(-3, 3).sample(500, 2, seed=seed)
    np.testing.assert_allclose(clean(X), net(X), atol=1e-12)


def test_bad_input():
    net = ReLUNetwork.random((1, 3, 1), seed=0)
    with pytest.raises(InvalidArgument, match="norm"):
        inverse_stability_ratio(net, net, norm="l2")
    with pytest.raises(InvalidNetwork, match="shallow"):
        symmetric_parameter_distance(ReLUNetwork.random((1, 2, 2, 1), seed=0), net)
    with pytest.raises(InvalidNetwork, match="input dimension"):
        symmetric_parameter_distance(ReLUNetwork.random((2, 2, 1), seed=0), net)
    with pytest.raises(InvalidNetwork, match="restricted"):
        inverse_stability_ratio(net, to_restricted(net))
