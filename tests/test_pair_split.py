"""Joint ReLU splitting of a pair of networks (reluscope.search.pair_split): the clamped
split bounds hold at every sampled point of a subdomain, the search's bounds on
sup |f - g| contain every sampled value, its exact answers equal the region enumeration /
MILP, over unions of boxes too, and witnesses are real points."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from reluscope import Box, ReLUNetwork, sup_distance  # noqa: E402
from reluscope._budget import Budget  # noqa: E402
from reluscope.bounds.differential_linear import batch_split_bounds  # noqa: E402
from reluscope.distance.difference_search import search_sup  # noqa: E402
from reluscope.search.core import branch_and_bound  # noqa: E402
from reluscope.search.pair_split import PairSplitProblem, difference_targets, stacked_network  # noqa: E402


def _pair(seed: int, d: int = 2, width: int = 8, kind: int = 0):
    f = ReLUNetwork.random((d, width, width, 2), seed=seed)
    rng = np.random.default_rng(seed)
    if kind == 0:  # pruned copy
        g = ReLUNetwork([W * (np.abs(W) > 0.15) for W in f.weights], f.biases)
    elif kind == 1:  # perturbed copy
        g = ReLUNetwork([W + rng.normal(0, 0.05, W.shape) for W in f.weights], f.biases)
    else:  # an unrelated network of other widths (no differential bound)
        g = ReLUNetwork.random((d, width + 3, width - 2, 2), seed=seed + 1000)
    return f, g


def _pre(net: ReLUNetwork, X: np.ndarray) -> list[np.ndarray]:
    """Pre-activations of every affine layer at the rows of X."""
    out, a = [], X
    for i, (W, b) in enumerate(zip(net.weights, net.biases)):
        z = a @ W.T + b
        out.append(z)
        a = np.maximum(z, 0)
    return out


@pytest.mark.parametrize("seed", range(10))
def test_split_bounds_hold_on_every_sampled_point_of_the_subdomain(seed):
    f, g = _pair(seed, d=3, kind=seed % 2)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (20000, 3))
    zf, zg = _pre(f, X), _pre(g, X)
    # random splits, then the points of the box that satisfy them
    fs = [np.where(rng.random((1, n)) < 0.2, rng.choice([-1, 1], (1, n)), 0).astype(np.int8) for n in f.widths[1:-1]]
    gs = [np.where(rng.random((1, n)) < 0.2, rng.choice([-1, 1], (1, n)), 0).astype(np.int8) for n in g.widths[1:-1]]
    inside = np.ones(len(X), dtype=bool)
    for z, s in list(zip(zf, fs)) + list(zip(zg, gs)):
        inside &= np.all(s[0] * z >= 0, axis=1)
    sb = batch_split_bounds(f, g, -np.ones((1, 3)), np.ones((1, 3)), fs, gs)
    if sb.empty[0]:
        assert not inside.any()
        return
    for z, l, u in list(zip(zf, sb.f_lower, sb.f_upper)) + list(zip(zg, sb.g_lower, sb.g_upper)):
        assert np.all(z[inside] >= l[0] - 1e-9) and np.all(z[inside] <= u[0] + 1e-9)
    D = (f(X) - g(X))[inside]
    assert np.all(D >= sb.diff_lower[0] - 1e-9) and np.all(D <= sb.diff_upper[0] + 1e-9)


def test_stacked_network_computes_both_networks():
    f, g = _pair(3, d=3, kind=2)
    X = np.random.default_rng(0).uniform(-1, 1, (50, 3))
    np.testing.assert_allclose(stacked_network(f, g)(X), np.hstack([f(X), g(X)]), atol=1e-12)


def _dense_max(f, g, lo, hi, n=40000, seed=0):
    rng = np.random.default_rng(seed)
    lo, hi = np.atleast_2d(lo), np.atleast_2d(hi)
    X = np.concatenate([a + (b - a) * rng.random((n // len(lo), a.size)) for a, b in zip(lo, hi)])
    return float(np.abs(f(X) - g(X)).max())


@pytest.mark.parametrize("seed", range(12))
def test_relu_search_bounds_contain_sampled_values(seed):
    f, g = _pair(seed, d=3, kind=seed % 3)
    lo, hi = -np.ones(3), np.ones(3)
    r = search_sup(f, g, lo, hi, budget=Budget(3.0), rng=np.random.default_rng(seed), gap_rel=1e-6,
                   method="relu")
    assert r.lower <= r.upper
    assert _dense_max(f, g, lo, hi, seed=seed) <= r.upper * (1 + 1e-9) + 1e-12
    w = r.witness
    assert np.all(lo <= w) and np.all(w <= hi)
    assert np.abs(f(w[None]) - g(w[None])).max() == pytest.approx(r.lower, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("seed", range(6))
def test_relu_search_is_exact_and_equals_the_milp(seed):
    # three inputs: the default hybrid (box bisection while more than 2 d neurons are
    # unstable, then ReLU splits) closes these in well under a second of CPU
    f, g = _pair(seed, d=3, width=7, kind=seed % 2)
    r = search_sup(f, g, -np.ones(3), np.ones(3), budget=Budget(120.0), rng=np.random.default_rng(0),
                   gap_rel=1e-7, method="relu")
    assert r.status in ("gap", "exhausted")
    ref = sup_distance(f, g, Box(-1, 1), method="exact", time_limit=120)
    assert ref.exact
    assert r.lower == pytest.approx(ref.lower, rel=1e-5, abs=1e-8)
    assert r.upper == pytest.approx(ref.lower, rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("seed", range(3))
def test_relu_search_equals_region_enumeration_in_two_dimensions(seed):
    f, g = _pair(seed, d=2, width=6, kind=seed % 3)
    r = search_sup(f, g, -np.ones(2), np.ones(2), budget=Budget(60.0), rng=np.random.default_rng(0),
                   gap_rel=1e-7, method="relu")
    ref = sup_distance(f, g, Box(-1, 1), method="enumerate", time_limit=60)
    assert ref.exact and r.status in ("gap", "exhausted")
    assert r.upper == pytest.approx(ref.lower, rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("pair_split", [False, True])
@pytest.mark.parametrize("d, radius, relu_max", [(3, 1.0, 6), (3, 1.0, 3), (24, 0.03, np.inf)])
def test_pair_splitting_with_and_without_box_bisection_agree_with_the_milp(pair_split, d, radius, relu_max):
    f, g = _pair(1, d=d, width=7, kind=1)
    C, dd, diff = difference_targets(f.output_dim)
    centre = np.random.default_rng(d).uniform(-0.5, 0.5, d) * (d > 3)
    lo, hi = centre - radius, centre + radius
    ref = sup_distance(f, g, Box(lo, hi), method="exact", time_limit=120)
    assert ref.exact
    p = PairSplitProblem(f, g, C, dd, lo, hi, diff=diff, pair_split=pair_split, relu_max_unstable=relu_max)
    out = branch_and_bound(p, budget=Budget(120), rng=np.random.default_rng(0), gap_rel=1e-7)
    assert out.status in ("gap", "exhausted")
    assert -out.upper == pytest.approx(ref.lower, rel=1e-5, abs=1e-8)
    assert -out.lower == pytest.approx(ref.lower, rel=1e-5, abs=1e-8)


def test_union_of_boxes_is_the_largest_box_answer():
    f, g = _pair(4, d=3, kind=1)
    rng = np.random.default_rng(1)
    c = rng.uniform(-0.8, 0.8, (5, 3))
    lo, hi = c - 0.15, c + 0.15
    r = search_sup(f, g, lo, hi, budget=Budget(30.0), rng=rng, gap_rel=1e-7, method="relu")
    assert r.status in ("gap", "exhausted")
    per_box = [search_sup(f, g, a, b, budget=Budget(30.0), rng=rng, gap_rel=1e-7, method="relu").lower
               for a, b in zip(lo, hi)]
    assert r.lower == pytest.approx(max(per_box), rel=1e-6, abs=1e-9)
    assert _dense_max(f, g, lo, hi) <= r.upper + 1e-9
    # the witness lies in one of the boxes
    w = r.witness
    assert np.any(np.all((lo <= w) & (w <= hi), axis=1))


def test_eps_question_stops_once_decided():
    f, g = _pair(2, d=3, kind=0)
    lo, hi = -np.ones(3), np.ones(3)
    exact = search_sup(f, g, lo, hi, budget=Budget(60.0), rng=np.random.default_rng(0), method="relu")
    big = search_sup(f, g, lo, hi, budget=Budget(60.0), rng=np.random.default_rng(0), eps=2 * exact.upper + 1e-3,
                     method="relu")
    assert big.status == "proved" and big.upper < 2 * exact.upper + 1e-3
    small = search_sup(f, g, lo, hi, budget=Budget(60.0), rng=np.random.default_rng(0), eps=0.5 * exact.lower,
                       method="relu")
    assert small.status == "refuted" and small.lower >= 0.5 * exact.lower


def test_high_dimensional_unions_use_the_joint_search_soundly():
    # 24 inputs: sup_distance over a union and epsilon_equivalent go through the joint
    # ReLU splitting; the answers bracket dense sampling and eps above / below decide
    from reluscope import PointSet, epsilon_equivalent

    f, g = _pair(5, d=24, width=8, kind=0)
    B = PointSet(np.random.default_rng(0).uniform(-0.5, 0.5, (4, 24))).neighbourhood(0.02)
    r = sup_distance(f, g, B, time_limit=60)
    assert r.lower <= r.upper and _dense_max(f, g, B.lo, B.hi) <= r.upper + 1e-9
    assert r.exact
    above = epsilon_equivalent(f, g, B, r.upper * 1.01 + 1e-9, time_limit=60)
    assert above.status == "proved"
    below = epsilon_equivalent(f, g, B, r.lower * 0.9, time_limit=60)
    assert below.status == "refuted"
    cx = below.counterexample
    assert np.abs(f(cx[None]) - g(cx[None])).max() > r.lower * 0.9


@pytest.mark.parametrize("seed", range(8))
def test_top1_search_verdicts_survive_dense_sampling(seed):
    from reluscope.distance.difference_search import top1_search

    f = ReLUNetwork.random((20, 10, 10, 3), seed=seed)
    g = ReLUNetwork([W * (np.abs(W) > 0.12) for W in f.weights], f.biases)
    rng = np.random.default_rng(seed)
    c = rng.uniform(-1, 1, 20)
    lo, hi = c - 0.08, c + 0.08
    verdict, point = top1_search(f, g, lo, hi, budget=Budget(20.0), rng=rng)
    X = lo + (hi - lo) * rng.random((20000, 20))
    disagree = np.argmax(f(X), axis=1) != np.argmax(g(X), axis=1)
    if verdict == "proved":
        assert not disagree.any()
    elif verdict == "refuted":
        assert np.all((lo <= point) & (point <= hi))
        assert np.argmax(f(point[None])[0]) != np.argmax(g(point[None])[0])
    if disagree.any():
        assert verdict != "proved"
