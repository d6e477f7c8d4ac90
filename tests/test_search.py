"""The branch and bound of ``reluscope.search``: soundness of the batched CROWN / alpha /
beta bounds on random split subdomains, certified leaf LPs, monotone anytime bounds, and
agreement with the exact MILP on small networks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reluscope import Box, ReLUNetwork
from reluscope._budget import Budget

torch = pytest.importorskip("torch")

from reluscope.search.crown import (TorchNet, interval_then_crown, joint_lower,  # noqa: E402
                                    objective_bound, optimize_objective_bound)
from reluscope.search.leaf_lp import certified_min_max  # noqa: E402
from reluscope.search.network import NetworkBounder, search_network  # noqa: E402
from reluscope.search import minimize_max  # noqa: E402


def _random_instance(seed: int, widths=(3, 8, 8, 6, 2), m: int = 3):
    rng = np.random.default_rng(seed)
    net = ReLUNetwork.random(widths, seed=seed)
    C = rng.normal(size=(m, widths[-1]))
    d = rng.normal(size=m)
    return net, C, d, rng


def _random_splits(lows, highs, rng, p=0.3):
    signs = []
    for l, u in zip(lows, highs):
        un = ((l < 0) & (u > 0)).numpy()
        s = np.where(un & (rng.random(un.shape) < p), rng.choice([-1, 1], size=un.shape), 0)
        signs.append(torch.tensor(s, dtype=torch.float64))
    l2 = [torch.where(s > 0, l.clamp(min=0), l) for l, s in zip(lows, signs)]
    h2 = [torch.where(s < 0, u.clamp(max=0), u) for u, s in zip(highs, signs)]
    return signs, l2, h2


@pytest.mark.parametrize("seed", range(25))
def test_crown_alpha_beta_and_joint_bounds_contain_sampled_values_on_split_subdomains(seed):
    net, C, d, rng = _random_instance(seed)
    tn = TorchNet(list(net.weights), list(net.biases), C, d)
    B = 4
    lo = rng.uniform(-1, 0, (B, 3))
    hi = lo + rng.uniform(0.1, 1.0, (B, 3))
    lo_t, hi_t = torch.tensor(lo), torch.tensor(hi)
    lows, highs = interval_then_crown(tn, lo_t, hi_t)
    crown = objective_bound(tn, lo_t, hi_t, lows, highs)
    alpha = optimize_objective_bound(tn, lo_t, hi_t, lows, highs, steps=15)
    signs, l2, h2 = _random_splits(lows, highs, rng)
    beta = optimize_objective_bound(tn, lo_t, hi_t, l2, h2, signs=signs, steps=15)
    joint = joint_lower(beta, lo_t, hi_t).numpy()
    for i in range(B):
        X = lo[i] + (hi[i] - lo[i]) * rng.random((4000, 3))
        X = np.vstack([X, lo[i], hi[i]])
        Y = net(X) @ C.T + d
        pre = net.preactivations(X)
        for k, (l, u) in enumerate(zip(lows, highs)):  # intermediate bounds contain the pre-activations
            assert np.all(pre[k] >= l[i].numpy() - 1e-12) and np.all(pre[k] <= u[i].numpy() + 1e-12)
        assert np.all(Y.min(0) >= crown.lower[i].numpy())
        assert np.all(Y.min(0) >= alpha.lower[i].numpy())
        assert np.all(alpha.lower[i].numpy() >= crown.lower[i].numpy())  # never looser
        inside = np.ones(len(X), dtype=bool)
        for k, s in enumerate(signs):
            inside &= np.all((s[i].numpy() == 0) | (s[i].numpy() * pre[k] >= 0), axis=1)
        if inside.any():
            assert np.all(Y[inside].min(0) >= beta.lower[i].numpy())
            assert Y[inside].max(1).min() >= joint[i]


@pytest.mark.parametrize("seed", range(15))
def test_leaf_lp_is_a_certified_lower_bound_and_certifies_empty_sets(seed):
    rng = np.random.default_rng(seed)
    d, m = 3, 3
    P, q = rng.normal(size=(m, d)), rng.normal(size=m)
    G, h = rng.normal(size=(2, d)), rng.normal(size=2) * 0.3
    lo, hi = -np.ones(d), np.ones(d)
    bound, x = certified_min_max(P, q, lo, hi, G, h)
    X = lo + (hi - lo) * rng.random((50000, d))
    ok = np.all(X @ G.T + h >= 0, axis=1)
    if math.isinf(bound) and bound > 0:
        assert not ok.any()
        return
    assert x is not None and np.all(x >= lo) and np.all(x <= hi)
    vals = np.max(X @ P.T + q, axis=1)
    if ok.any():
        assert bound <= vals[ok].min()
    # the primal point attains the bound up to the solver's tolerance
    assert np.max(P @ x + q) == pytest.approx(bound, abs=1e-6)
    # a contradiction (g.x >= 1 and -g.x >= 1) is certified empty
    g = rng.normal(size=(1, d))
    empty, _ = certified_min_max(P, q, lo, hi, np.vstack([g, -g]), np.array([-1.0 - np.abs(g).sum(), -1.0]))
    assert empty == math.inf


@pytest.mark.parametrize("method", ["input", "relu"])
@pytest.mark.parametrize("seed", range(5))
def test_search_brackets_the_minimum_with_monotone_anytime_bounds(method, seed):
    net, C, d, rng = _random_instance(seed, widths=(2, 8, 8, 2), m=2)
    lo, hi = -np.ones(2), np.ones(2)
    out = search_network(net, C, d, lo, hi, budget=Budget(6), rng=rng, target=None, gap_abs=1e-6, method=method)
    grid = np.stack(np.meshgrid(np.linspace(-1, 1, 301), np.linspace(-1, 1, 301)), -1).reshape(-1, 2)
    dense = float(np.max(net(grid) @ C.T + d, axis=1).min())
    assert out.lower <= dense
    assert out.witness is not None
    assert float(np.max(net(out.witness[None]) @ C.T + d)) == pytest.approx(out.upper, rel=1e-12, abs=1e-12)
    lows = [h[0] for h in out.history]
    ups = [h[1] for h in out.history]
    assert all(b >= a for a, b in zip(lows, lows[1:]))
    assert all(b <= a for a, b in zip(ups, ups[1:]))
    if out.status == "gap":
        assert out.upper - out.lower <= 1e-6
        assert out.upper <= dense + 1e-9  # the optimum is at most the grid's minimum
    else:
        assert out.status == "time_limit"


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_search_agrees_with_the_exact_milp(seed):
    from reluscope.milp import neuron_range

    net, C, d, rng = _random_instance(seed, widths=(4, 10, 10, 3), m=1)
    # fold the single row into the output layer for the MILP's reference value
    W, b = list(net.weights), list(net.biases)
    folded = ReLUNetwork(W[:-1] + [C @ W[-1]], b[:-1] + [C @ b[-1] + d])
    ref = neuron_range(folded, Box(-1, 1), folded.depth, 0, time_limit=60)
    assert ref.exact_lower
    for method in ("input", "relu"):
        out = search_network(net, C, d, -np.ones(4), np.ones(4), budget=Budget(15), rng=rng, target=None,
                             gap_abs=1e-7, method=method)
        assert out.lower <= ref.lower + 1e-6 * (1 + abs(ref.lower))
        assert out.upper >= ref.lower - 1e-6 * (1 + abs(ref.lower))
        if out.status == "gap":
            assert out.lower == pytest.approx(ref.lower, abs=1e-5 * (1 + abs(ref.lower)))


def test_target_stops_and_generic_bounder_interface():
    net, C, d, rng = _random_instance(3, widths=(3, 12, 12, 2), m=2)
    bounder = NetworkBounder(net, C, d)
    lo, hi = -np.ones(3), np.ones(3)
    exact = search_network(net, C, d, lo, hi, budget=Budget(30), rng=rng, target=None, gap_abs=1e-8)
    assert exact.status == "gap"
    # a target above the minimum is refuted by a real point; one below is proved
    out = minimize_max(bounder, lo, hi, budget=Budget(30), rng=rng, target=exact.upper + 0.05)
    assert out.status == "refuted" and out.upper <= exact.upper + 0.05
    out = minimize_max(bounder, lo, hi, budget=Budget(30), rng=rng, target=exact.lower - 0.05)
    assert out.status == "proved" and out.lower > exact.lower - 0.05

    class PlainBounder:  # the documented minimal interface: arrays in, (B, m) lower bounds out
        n_inputs = 3
        uses_torch = True  # it calls a torch bounder: one torch thread

        def bound(self, lo, hi):
            return bounder.bound(lo, hi).lower[:, :1]

        def evaluate(self, X):
            return bounder.evaluate(X)[:, :1]

    row0 = NetworkBounder(net, C[:1], d[:1])
    ref = minimize_max(row0, lo, hi, budget=Budget(20), rng=rng, target=None, gap_abs=1e-3)
    out = minimize_max(PlainBounder(), lo, hi, budget=Budget(20), rng=rng, target=None, gap_abs=2e-2)
    assert out.lower <= ref.upper and out.upper >= ref.lower
    assert ref.status == "gap" and out.status == "gap"


def test_search_stops_only_when_the_budget_is_spent():
    net, C, d, rng = _random_instance(7, widths=(10, 40, 40, 2), m=2)
    budget = Budget(1.0)
    out = search_network(net, C, d, -np.ones(10), np.ones(10), budget=budget, rng=rng, target=None,
                         gap_abs=0.0, method="input")
    assert out.status == "time_limit"
    assert budget.expired()
    X = Box(-1, 1).sample(20000, 10, seed=2)
    assert out.lower <= float(np.max(net(X) @ C.T + d, axis=1).min())
