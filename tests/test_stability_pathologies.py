"""Pathology families behave as documented: exact function distances, parameter lower bounds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from reluscope import ReLUNetwork
from reluscope.errors import ReluscopeError
from reluscope.stability import FAMILIES, get_family, to_restricted, uniform_norm_family
from test_stability_exact import exact_1d

NS = (1, 2, 4, 16, 64, 256)


def _param_distance(p: ReLUNetwork, q: ReLUNetwork) -> float:
    return float(np.abs(p.to_vector() - q.to_vector()).max())


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
@pytest.mark.parametrize("n", NS)
def test_function_distances_are_exact(family, n):
    gamma, g = family(n)
    assert gamma.widths == g.widths
    sup, lip = exact_1d(gamma, g)
    assert sup == pytest.approx(family.function_distance(n, "sup"), rel=1e-12)
    assert max(sup, lip) == pytest.approx(family.function_distance(n, "sobolev"), rel=1e-12)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_convergence_as_documented(family):
    for norm in ("sup", "sobolev"):
        values = [family.function_distance(n, norm) for n in (4, 16, 64, 256)]
        if norm in family.converges:
            assert values[-1] < values[0] / 16
        else:
            assert values[-1] > values[0] * 16  # diverges
    # the lower bound on the parameter distance does not vanish (grows for family 0)
    bounds = [family.distance_lower_bound(n) for n in (4, 16, 64, 256)]
    assert min(bounds) >= 1.0 / 3.0 - 1e-12
    for norm in family.converges:
        ratios = [family.ratio_lower_bound(n, norm) for n in (4, 16, 64, 256)]
        assert ratios[-1] >= 7.5 * ratios[0]  # about sqrt(64) growth


def test_given_parametrizations_respect_the_lower_bounds():
    for family in FAMILIES:
        for n in NS:
            gamma, g = family(n)
            assert _param_distance(gamma, g) >= family.distance_lower_bound(n) - 1e-12


def _random_reparametrization(g: ReLUNetwork, rng: np.random.Generator) -> ReLUNetwork:
    """Random positive rescaling and permutation of the hidden neurons (same realization)."""
    lam = np.exp(rng.uniform(-3, 3, size=g.widths[1]))
    perm = rng.permutation(g.widths[1])
    A, b, C = g.weights[0] * lam[:, None], g.biases[0] * lam, g.weights[1] / lam[None, :]
    return ReLUNetwork([A[perm], C[:, perm]], [b[perm], g.biases[1]])


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 4), st.sampled_from(NS), st.integers(0, 2**31 - 1))
def test_reparametrizations_stay_beyond_the_lower_bound(index, n, seed):
    family = get_family(index)
    gamma, g = family(n)
    h = _random_reparametrization(g, np.random.default_rng(seed))
    X = np.linspace(-1, 1, 101)[:, None]
    np.testing.assert_allclose(h(X), g(X), atol=1e-9)
    assert _param_distance(gamma, h) >= family.distance_lower_bound(n) - 1e-12


@pytest.mark.parametrize("n", [1, 3, 4, 5, 16, 100])
def test_family1_lower_bound_is_the_exact_infimum(n):
    # every width-1 parametrization of g_n on [-1, 1] is (a, -a/2, 1/(n a), e=0), a > 0
    family = get_family(1)
    gamma, _ = family(n)
    a = np.exp(np.linspace(np.log(1e-3), np.log(10), 400_001))
    dist = np.max([np.abs(a - 1), a / 2, 1 / (n * a)], axis=0)
    assert family.distance_lower_bound(n) <= dist.min() + 1e-12
    assert family.distance_lower_bound(n) == pytest.approx(dist.min(), abs=1e-4)
    for ai in a[::40_000]:
        phi = ReLUNetwork([[[ai]], [[1 / (n * ai)]]], [[-ai / 2], [0.0]])
        _, g = family(n)
        assert exact_1d(phi, g) == (pytest.approx(0, abs=1e-12), pytest.approx(0, abs=1e-12))


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 8))
def test_slope_bound_behind_family0(seed, width):
    # a shallow 1-D network of width m has |f'| <= m ||Phi||_inf^2 (lower bound of family 0)
    phi = ReLUNetwork.random((1, width, 1), seed=seed, bias_scale=1.0)
    _, lip = exact_1d(phi, ReLUNetwork([[[0.0]], [[0.0]]], [[0.0], [0.0]]))
    assert lip <= width * np.abs(phi.to_vector()).max() ** 2 + 1e-12


@pytest.mark.parametrize("n", [4, 64])
def test_family0_balanced_parametrization_has_size_sqrt_n(n):
    _, g = uniform_norm_family(n)
    r = to_restricted(g).to_network(width=2)
    size = np.abs(r.to_vector()).max()
    assert math.sqrt(n / 2) <= size <= 2 * math.sqrt(n)


@pytest.mark.parametrize("width", [2, 3, 5])
def test_family0_width(width):
    gamma, g = uniform_norm_family(8, width=width)
    assert gamma.widths == g.widths == (1, width, 1)
    assert exact_1d(gamma, g)[0] == pytest.approx(1 / 8)


def test_bad_input():
    with pytest.raises(ReluscopeError, match="n must be an integer"):
        get_family(1)(0)
    with pytest.raises(ReluscopeError, match="unknown pathology family"):
        get_family(7)
    with pytest.raises(ReluscopeError, match="width >= 2"):
        uniform_norm_family(4, width=1)
    with pytest.raises(ReluscopeError, match="norm must be"):
        get_family(0).function_distance(4, "l2")
    assert get_family("dead-neuron").index == 3
