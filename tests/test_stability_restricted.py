"""The restricted parametrization set: checks, conversion preserving the realization, round trips."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from reluscope import Box, PointSet, ReLUNetwork
from reluscope.errors import InvalidArgument, InvalidDomain, InvalidNetwork
from reluscope.stability import RestrictedShallowNetwork, in_restricted_set, to_restricted
from test_stability_exact import exact_1d


def degenerate_network(seed: int, d: int, width: int, lo: float = -1.0, hi: float = 1.0) -> ReLUNetwork:
    """A random shallow network with every kind of degeneracy mixed in."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((width, d))
    b = rng.uniform(-1.5, 1.5, width) * np.abs(A).sum(axis=1) * max(abs(lo), abs(hi))
    c = rng.standard_normal(width)
    kinds = rng.integers(0, 8, size=width)
    for i in range(1, width):
        j = int(rng.integers(0, i))
        if kinds[i] == 1:  # parallel copy of an earlier neuron
            lam = rng.uniform(0.1, 3)
            A[i], b[i] = lam * A[j], lam * b[j]
        elif kinds[i] == 2:  # opposite of an earlier neuron
            lam = rng.uniform(0.1, 3)
            A[i], b[i] = -lam * A[j], -lam * b[j]
        elif kinds[i] == 3:  # dead on the box
            b[i] = -np.abs(A[i]).sum() * max(abs(lo), abs(hi)) - rng.uniform(0.01, 1) - abs(A[i] @ np.full(d, (lo + hi) / 2))
        elif kinds[i] == 4:  # always active on the box
            b[i] = np.abs(A[i]).sum() * max(abs(lo), abs(hi)) + rng.uniform(0, 1) + abs(A[i] @ np.full(d, (lo + hi) / 2))
        elif kinds[i] == 5:
            c[i] = 0.0
        elif kinds[i] == 6:
            A[i] = 0.0
        elif kinds[i] == 7:  # exact cancellation with a parallel copy
            A[i], b[i], c[i] = 2 * A[j], 2 * b[j], -c[j] / 2
    return ReLUNetwork([A, c[None, :]], [b, [rng.standard_normal()]])


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 10))
def test_to_restricted_preserves_the_realization_exactly_in_1d(seed, width):
    net = degenerate_network(seed, 1, width)
    r = to_restricted(net)
    assert in_restricted_set(r).ok
    sup, lip = exact_1d(net, r)
    scale = 1 + np.abs(net.to_vector()).max() ** 2
    assert sup <= 1e-12 * scale and lip <= 1e-12 * scale
    plain = r.to_network()
    sup, lip = exact_1d(net, plain)
    assert sup <= 1e-12 * scale and lip <= 1e-12 * scale


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 3), st.integers(1, 10))
def test_to_restricted_on_boxes_in_several_dimensions(seed, d, width):
    lo, hi = -2.0, 3.0
    net = degenerate_network(seed, d, width, lo, hi)
    box = Box(lo, hi)
    r = to_restricted(net, box)
    check = in_restricted_set(r, box)
    assert check.ok, str(check)
    X = box.sample(2000, d, seed=seed)
    X = np.vstack([X, box.vertices(d)])
    scale = 1 + np.abs(net.to_vector()).max() ** 2
    np.testing.assert_allclose(r(X), net(X), atol=1e-11 * scale)
    np.testing.assert_allclose(r.to_network(box)(X), net(X), atol=1e-11 * scale)
    # idempotent: converting a restricted network again changes nothing but rounding
    again = to_restricted(r.to_network(box), box)
    assert again.width == r.width


def test_balanced_and_padded():
    net = ReLUNetwork([[[2.0], [1.0]], [[3.0, 0.5]]], [[-1.0, 0.25], [0.1]])
    r = to_restricted(net, width=4)
    assert r.width == 4 and int(r.used.sum()) == 2
    assert in_restricted_set(r).ok
    norms = np.hypot(r.a[:, 0], r.b)
    np.testing.assert_allclose(np.abs(r.c), norms, rtol=1e-14)
    plain = r.to_network(width=6)
    assert plain.widths == (1, 6, 1)
    assert exact_1d(plain, net)[0] < 1e-14
    with pytest.raises(InvalidNetwork, match="too small"):
        to_restricted(net, width=1)
    with pytest.raises(InvalidNetwork, match="too small"):
        r.to_network(width=1)


def test_affine_part_becomes_one_always_active_neuron():
    r = RestrictedShallowNetwork(np.zeros((0, 2)), [], [], [1.5, -2.0], 0.3)
    box = Box([-1, 0], [2, 1])
    plain = r.to_network(box)
    assert plain.widths == (2, 1, 1)
    X = box.sample(500, 2, seed=1)
    np.testing.assert_allclose(plain(X)[:, 0], X @ [1.5, -2.0] + 0.3, atol=1e-13)
    assert (plain.preactivations(X)[0] >= 0).all()
    back = to_restricted(plain, box)
    assert back.width == 0
    np.testing.assert_allclose(back.w, [1.5, -2.0], atol=1e-14)
    assert back.e == pytest.approx(0.3, abs=1e-14)


def test_each_violation_is_reported():
    # neuron 0: unbalanced; 1: dead on [-1,1]; 2: always active; 3: parallel to 0; 4: opposite to 0;
    # 5: a = 0; 6: unused zero slot (no violation)
    A = [[1.0], [1.0], [1.0], [2.0], [-3.0], [0.0], [0.0]]
    b = [0.0, -2.0, 5.0, 0.0, 0.0, 1.0, 0.0]
    c = [3.0, np.sqrt(5), np.sqrt(26), 2.0, 3.0, 1.0, 0.0]
    net = ReLUNetwork([A, [c]], [b, [0.0]])
    check = in_restricted_set(net)
    assert not check.ok and not bool(check)
    got = {(v.condition, v.neurons) for v in check.violations}
    assert ("i", (0,)) in got
    assert ("ii", (1,)) in got and ("ii", (2,)) in got and ("ii", (5,)) in got
    assert ("iii", (0, 3)) in got
    assert ("iv", (0, 4)) in got and ("iv", (3, 4)) in got
    assert not any(6 in v.neurons for v in check.violations)
    assert {v.neurons for v in check.by_condition("i")} == {(0,)}
    assert "dead" in str(check) and "always active" in str(check)
    assert check.used == 6 and check.width == 7
    assert check.to_dict()["ok"] is False


def test_tolerance_of_the_check():
    u = np.array([1.0, -0.5]) / np.hypot(1, 0.5)
    v = u + np.array([0, 1e-6])
    A = [[u[0]], [v[0]]]
    b = [u[1], v[1]]
    c = [1.0, np.hypot(*v)]
    net = ReLUNetwork([A, [c]], [b, [0.0]])
    assert not in_restricted_set(net, tol=1e-5).ok
    assert in_restricted_set(net, tol=1e-9).ok
    r = to_restricted(net, tol=1e-5)
    assert r.width == 1 and in_restricted_set(r, tol=1e-5).ok


def test_bad_input():
    with pytest.raises(InvalidNetwork, match="shallow"):
        in_restricted_set(ReLUNetwork.random((1, 3, 3, 1), seed=0))
    with pytest.raises(InvalidNetwork, match="scalar output"):
        to_restricted(ReLUNetwork.random((1, 3, 2), seed=0))
    with pytest.raises(InvalidDomain, match="box"):
        to_restricted(ReLUNetwork.random((1, 3, 1), seed=0), PointSet(np.zeros((3, 1))))
    with pytest.raises(InvalidNetwork, match="b must have 2 entries"):
        RestrictedShallowNetwork([[1.0], [2.0]], [1.0], [1.0, 1.0], [0.0], 0.0)
    with pytest.raises(InvalidNetwork, match="non-finite"):
        RestrictedShallowNetwork([[np.inf]], [1.0], [1.0], [0.0], 0.0)
    with pytest.raises(InvalidArgument, match="tol"):
        in_restricted_set(ReLUNetwork.random((1, 3, 1), seed=0), tol=-1)


def test_inputs_are_not_mutated():
    A = np.array([[1.0], [1.0]])
    net = ReLUNetwork([A, [[1.0, 2.0]]], [[0.0, 0.0], [0.0]])
    before = net.to_vector().copy()
    to_restricted(net)
    np.testing.assert_array_equal(net.to_vector(), before)
    a = np.array([[1.0]])
    r = RestrictedShallowNetwork(a, [0.0], [1.0], [0.0], 0.0)
    a[0, 0] = 5
    assert r.a[0, 0] == 1.0


@pytest.mark.parametrize("seed,d,width", [(0, 1, 6), (1, 2, 5), (2, 2, 8), (3, 3, 4)])
def test_to_restricted_preserves_the_realization_by_exact_sup_distance(seed, d, width):
    from reluscope.distance import sup_distance

    box = Box(-1.0, 1.5)
    net = degenerate_network(seed, d, width, -1.0, 1.5)
    r = to_restricted(net, box)
    res = sup_distance(net, r.to_network(box), box, time_limit=20)
    # 0 up to the solver's tolerance (its bounds are rounded outward by about 1e-6)
    assert res.lower <= 1e-12 * (1 + np.abs(net.to_vector()).max() ** 2)
    assert res.upper <= 1e-5 * (1 + np.abs(net.to_vector()).max() ** 2)
