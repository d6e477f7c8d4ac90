"""Input-domain splitting bounds for the sup distance (reluscope.distance.relax.split_lp_bound and
the split phase of ``sup_distance`` on large MILPs).

Facts checked: the sub-boxes cover the box; the split bound is a valid upper bound (never
below the value of a sampled point, never below the exact maximum computed by the unsplit
MILP, which tests/test_distance.py checks against kink enumeration); refining the split
never loosens it; and ``sup_distance`` with the split phase forced on returns the same
exact optimum as without it, and a valid interval when it runs out of time.

The decoupled bound (each network alone, ``max (f - g) <= max f - min g``) is checked
against each network's exact extremes from :func:`reluscope.milp.neuron_range` (an
independent MILP per extreme), against the exact maximum of the coupled problem, and, out
of time, against the interval fallback.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import reluscope.distance.relax as relax
import reluscope.distance.sup as sup_module
from reluscope import Box, ReLUNetwork
from reluscope._budget import Budget
from reluscope.bounds import relu_relaxation
from reluscope.distance import split_lp_bound, sup_distance
from reluscope.errors import InvalidDomain
from reluscope.milp import MILPBuilder, encode_network, neuron_range, preactivation_bounds


def pair(d: int, widths: tuple[int, ...], seed: int) -> tuple[ReLUNetwork, ReLUNetwork]:
    return (ReLUNetwork.random((d, *widths, 1), seed=seed, bias_scale=0.5),
            ReLUNetwork.random((d, *widths, 1), seed=seed + 1000, bias_scale=0.5))


@pytest.mark.parametrize("d,n_split", [(1, 1), (1, 3), (2, 2), (3, 2), (3, 5)])
def test_split_boxes_cover_the_box(d, n_split):
    f, g = pair(d, (4,), seed=d)
    lo, hi = -np.ones(d), 2 * np.ones(d)
    boxes = list(relax._split_boxes([(f, 1.0), (g, -1.0)], lo, hi, n_split))
    assert len(boxes) == 2 ** n_split
    X = np.random.default_rng(0).uniform(lo, hi, size=(2000, d))
    inside = np.zeros(len(X), dtype=bool)
    vol = 0.0
    for sl, sh in boxes:
        assert np.all(sl >= lo) and np.all(sh <= hi) and np.all(sl <= sh)
        inside |= np.all((X >= sl) & (X <= sh), axis=1)
        vol += float(np.prod(sh - sl))
    assert inside.all()
    assert math.isclose(vol, float(np.prod(hi - lo)), rel_tol=1e-12)


@pytest.mark.parametrize("seed", range(12))
def test_split_bound_is_valid_and_refines(seed):
    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 4))
    widths = ((int(rng.integers(2, 7)),) if seed % 2 else (int(rng.integers(2, 5)), int(rng.integers(2, 5))))
    f, g = pair(d, widths, seed)
    lo, hi = -np.ones(d), np.ones(d)
    exact = sup_distance(f, g, Box(-1, 1), method="exact", time_limit=60)
    assert exact.exact
    X = rng.uniform(lo, hi, size=(4000, d))
    D = (f(X) - g(X))[:, 0]
    prev = math.inf
    for n_split in (0, 1, 2, 3, 4):
        for sign in (1.0, -1.0):
            b = split_lp_bound(f, g, lo, hi, 0, sign, n_split=n_split, time_limit=60)
            assert b >= float(np.max(sign * D)) - 1e-9
        up = max(split_lp_bound(f, g, lo, hi, 0, s, n_split=n_split, time_limit=60) for s in (1.0, -1.0))
        assert up >= exact.lower - 1e-6 * max(1.0, exact.lower)
        # a finer (nested) partition never gives a weaker bound (up to the outward rounding)
        assert up <= prev + 1e-4 * (1.0 + abs(prev))
        prev = up


def test_split_bound_single_network_and_tiny_brute_force():
    # f(x) = relu(x) - relu(-x) + relu(x - 0.5) on [-1, 1] (g = None): max f = 1.5 at x = 1
    f = ReLUNetwork([np.array([[1.0], [-1.0], [1.0]]), np.array([[1.0, -1.0, 1.0]])],
                    [np.array([0.0, 0.0, -0.5]), np.zeros(1)])
    b = split_lp_bound(f, None, np.array([-1.0]), np.array([1.0]), 0, 1.0, n_split=1)
    assert 1.5 - 1e-9 <= b
    # on each half the first layer is stable except the x - 0.5 neuron: the bound is tight
    # up to that neuron's triangle relaxation, so it is far below the interval bound 3
    assert b < 2.0


def test_split_bound_bad_box():
    f, g = pair(2, (3,), 0)
    with pytest.raises(InvalidDomain):
        split_lp_bound(f, g, np.array([1.0, 0.0]), np.array([0.0, 1.0]))


@pytest.mark.parametrize("seed", range(4))
def test_sup_distance_with_split_phase_same_optimum(seed, monkeypatch):
    f, g = pair(2, (5, 5), seed)
    plain = sup_distance(f, g, Box(-1, 1), method="exact", time_limit=60)
    monkeypatch.setattr(sup_module, "_SPLIT_MIN_BINARIES", 0)
    split = sup_distance(f, g, Box(-1, 1), method="exact", time_limit=60)
    assert plain.exact and split.exact
    assert math.isclose(plain.lower, split.lower, rel_tol=1e-6, abs_tol=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_time_limited_split_phase_interval_is_valid(seed, monkeypatch):
    f, g = pair(3, (10, 10), seed)
    ref = sup_distance(f, g, Box(-1, 1), method="exact", time_limit=120)
    assert ref.exact
    monkeypatch.setattr(sup_module, "_SPLIT_MIN_BINARIES", 0)
    r = sup_distance(f, g, Box(-1, 1), method="exact", time_limit=0.6)
    assert r.lower <= ref.lower + 1e-6 * max(1.0, ref.lower)
    assert r.upper >= ref.lower - 1e-6 * max(1.0, ref.lower)
    w = r.witness
    assert math.isclose(r.lower, float(np.max(np.abs(f(w) - g(w)))), rel_tol=1e-12, abs_tol=1e-12)


@pytest.mark.parametrize("seed,d,widths", [(0, 2, (6, 6)), (1, 3, (5, 4)), (2, 2, (8,)), (3, 3, (4, 4, 3))])
def test_decoupled_bound_equals_sum_of_single_network_extremes(seed, d, widths):
    f, g = pair(d, widths, seed)
    box = Box(-1, 1)
    lo, hi = -np.ones(d), np.ones(d)
    terms = [(f, 1.0), (g, -1.0)]
    bounds = [preactivation_bounds(net, box, method="lp") for net, _ in terms]
    ub = relax._decoupled_bounds(terms, bounds, lo, hi, [(0, 1.0), (0, -1.0)], Budget.start(60))
    rf = neuron_range(f, box, layer=f.depth, neuron=0, time_limit=60)
    rg = neuron_range(g, box, layer=g.depth, neuron=0, time_limit=60)
    assert rf.exact and rg.exact
    # the bound is max f - min g (and max g - min f), up to the outward rounding
    for got, want in ((ub[0], rf.upper - rg.lower), (ub[1], rg.upper - rf.lower)):
        assert want - 1e-9 <= got <= want + 1e-6 * (1 + abs(want))
    # and it is an upper bound of the coupled maxima (the maximum of a sum <= sum of maxima)
    assert ub[0] >= exact_target_max(terms, bounds, 1.0) - 1e-9
    assert ub[1] >= exact_target_max(terms, bounds, -1.0) - 1e-9


def exact_target_max(terms, bounds, sign: float) -> float:
    """``max sign (f - g)`` on ``[-1, 1]^d`` by the plain coupled MILP, solved to optimality."""
    d = terms[0][0].input_dim
    b = MILPBuilder()
    x = b.add_vars(d, -np.ones(d), np.ones(d))
    ef, eg = (encode_network(b, net, x, bb) for (net, _), bb in zip(terms, bounds))
    r = b.solve((np.array([ef.output[0], eg.output[0]]), np.array([sign, -sign])), sense="max", time_limit=60)
    assert r.status == "optimal"
    return r.objective


def test_decoupled_bound_out_of_time_falls_back_to_output_bounds():
    f, g = pair(3, (6, 6), 5)
    lo, hi = -np.ones(3), np.ones(3)
    terms = [(f, 1.0), (g, -1.0)]
    bounds = [preactivation_bounds(net, Box(-1, 1), method="interval") for net, _ in terms]
    ub = relax._decoupled_bounds(terms, bounds, lo, hi, [(0, 1.0)], Budget.start(0))
    assert ub[0] == pytest.approx(bounds[0][-1].upper[0] - bounds[1][-1].lower[0])
    X = np.random.default_rng(0).uniform(-1, 1, (5000, 3))
    assert ub[0] >= float(np.max(f(X)[:, 0] - g(X)[:, 0]))


def perturbed_pair(d: int, widths: tuple[int, ...], seed: int, noise: float) -> tuple[ReLUNetwork, ReLUNetwork]:
    f = ReLUNetwork.random((d, *widths, 1), seed=seed, bias_scale=0.5)
    rng = np.random.default_rng(seed + 7)
    g = ReLUNetwork([w + noise * rng.standard_normal(w.shape) for w in f.weights],
                    [b + noise * rng.standard_normal(b.shape) for b in f.biases])
    return f, g


PAIRS = [("perturbed", 2, (6, 6), 0), ("perturbed", 3, (5, 4, 3), 1), ("unrelated", 2, (6, 5), 2),
         ("perturbed", 3, (8,), 3), ("unrelated", 3, (4, 4), 4)]


def make_pair(kind, d, widths, seed):
    return perturbed_pair(d, widths, seed, 0.05) if kind == "perturbed" else pair(d, widths, seed)


@pytest.mark.parametrize("kind,d,widths,seed", PAIRS)
def test_difference_bounds_and_coupling_rows_hold_at_sampled_points(kind, d, widths, seed):
    f, g = make_pair(kind, d, widths, seed)
    lo, hi = -np.ones(d), np.ones(d)
    bf, bg = (preactivation_bounds(n, Box(-1, 1), method="lp") for n in (f, g))
    D = relax._difference_bounds(f, g, bf, bg, lo, hi)
    X = np.random.default_rng(seed).uniform(-1, 1, (4000, d))
    zf, zg = f.preactivations(X), g.preactivations(X)
    for layer, (dl, du) in enumerate(D):
        dz = zf[layer] - zg[layer]
        assert np.all(dz >= dl - 1e-12) and np.all(dz <= du + 1e-12)
        yf, yg = np.maximum(zf[layer], 0), np.maximum(zg[layer], 0)
        _, s, c = relu_relaxation(dl, du)  # the chord above relu
        assert np.all(yf - yg <= s * dz + c + 1e-12)
        _, s, c = relu_relaxation(-du, -dl)
        assert np.all(yg - yf <= s * (-dz) + c + 1e-12)


@pytest.mark.parametrize("kind,d,widths,seed", PAIRS)
def test_coupled_lp_bound_is_valid_and_never_weaker(kind, d, widths, seed):
    f, g = make_pair(kind, d, widths, seed)
    lo, hi = -np.ones(d), np.ones(d)
    terms = [(f, 1.0), (g, -1.0)]
    bounds = [preactivation_bounds(n, Box(-1, 1), method="lp") for n, _ in terms]
    targets = [(0, 1.0), (0, -1.0)]
    coupled = relax._coupled_lp_bounds(terms, bounds, lo, hi, targets, Budget.start(60))
    plain = relax._box_lp_bounds(terms, lo, hi, targets, Budget.start(60), "lp")
    for i, (_, sign) in enumerate(targets):
        assert coupled[i] >= exact_target_max(terms, bounds, sign) - 1e-9  # a valid upper bound
        assert coupled[i] <= plain[i] + 1e-6 * (1 + abs(plain[i]))  # rows only added


def test_coupling_tightens_the_bound_for_a_close_copy():
    f, g = perturbed_pair(3, (12, 12), 11, 0.01)
    lo, hi = -np.ones(3), np.ones(3)
    terms = [(f, 1.0), (g, -1.0)]
    bounds = [preactivation_bounds(n, Box(-1, 1), method="lp") for n, _ in terms]
    coupled = relax._coupled_lp_bounds(terms, bounds, lo, hi, [(0, 1.0)], Budget.start(60))[0]
    plain = relax._box_lp_bounds(terms, lo, hi, [(0, 1.0)], Budget.start(60), "lp")[0]
    assert coupled < 0.25 * plain
