"""Input-split branching rules of the search (``InputSplitProblem(branching=...)``): strong
branching keeps a partition of every box with sound, reused bounds; every rule brackets the
true minimum; proofs survive an attack and refutations are real points."""

from __future__ import annotations

import numpy as np
import pytest

from reluscope import ReLUNetwork
from reluscope._budget import Budget
from reluscope.errors import InvalidArgument

pytest.importorskip("torch")

from reluscope.search import InputSplitProblem, pgd_minimize  # noqa: E402
from reluscope.search.crown import TorchNet  # noqa: E402
from reluscope.search.network import NetworkBounder, search_network  # noqa: E402


def _instance(seed: int, widths=(3, 10, 10, 2), m: int = 2):
    rng = np.random.default_rng(seed)
    net = ReLUNetwork.random(widths, seed=seed)
    return net, rng.normal(size=(m, widths[-1])), rng.normal(size=m), rng


def _phi(net, C, d, X):
    return np.max(net(X) @ C.T + d, axis=1)


@pytest.mark.parametrize("seed", range(12))
def test_strong_branching_halves_partition_each_box_and_carry_sound_bounds(seed):
    net, C, d, rng = _instance(seed)
    lo0, hi0 = -np.ones(3), np.ones(3)
    bounder = NetworkBounder(net, C, d)
    problem = InputSplitProblem(bounder, lo0, hi0, branching="bf")
    B = 6
    lo = rng.uniform(-1, 0, (B, 3))
    hi = np.minimum(lo + rng.uniform(0.2, 1.0, (B, 3)), 1.0)
    lo[0, 1] = hi[0, 1] = 0.3  # a flat side is never split
    doms = {"lo": lo, "hi": hi, "sens": np.ones((B, 3))}
    kids = problem.branch(doms, np.full(B, -np.inf))
    parent = kids.pop("parent")
    lb, _, done = problem.bound(kids)
    assert "_lb" not in kids and lb.shape == (2 * B,) and done.shape == (2 * B,)
    for i in range(B):
        a, b = np.nonzero(parent == i)[0]
        la, ha, lb_, hb = kids["lo"][a], kids["hi"][a], kids["lo"][b], kids["hi"][b]
        assert np.all(la >= lo[i]) and np.all(ha <= hi[i]) and np.all(lb_ >= lo[i]) and np.all(hb <= hi[i])
        axis = np.nonzero((ha != hi[i]) | (lb_ != lo[i]))[0]
        assert axis.size == 1 and hi[i, axis[0]] > lo[i, axis[0]]  # one real axis, halved
        k = axis[0]
        assert ha[k] == lb_[k] == pytest.approx(0.5 * (lo[i, k] + hi[i, k]))
        assert np.array_equal(np.delete(la, k), np.delete(lo[i], k))
        assert np.array_equal(np.delete(hb, k), np.delete(hi[i], k))
        for j, (cl, ch) in ((a, (la, ha)), (b, (lb_, hb))):
            X = np.vstack([cl + (ch - cl) * rng.random((3000, 3)), cl, ch])
            assert lb[j] <= _phi(net, C, d, X).min() + 1e-9
    # the carried bounds are the bounder's own bounds of those boxes
    again = bounder.bound(kids["lo"], kids["hi"])
    fresh = np.maximum(again.lower.max(axis=1), again.joint)
    assert np.allclose(lb, fresh, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("branching", ["bf", "sb", "naive"])
@pytest.mark.parametrize("seed", range(4))
def test_every_branching_rule_brackets_the_dense_minimum(branching, seed):
    net, C, d, rng = _instance(seed, widths=(2, 8, 8, 2))
    lo, hi = -np.ones(2), np.ones(2)
    out = search_network(net, C, d, lo, hi, budget=Budget(8), rng=rng, target=None, gap_abs=1e-6,
                         method="input", branching=branching)
    grid = np.stack(np.meshgrid(np.linspace(-1, 1, 301), np.linspace(-1, 1, 301)), -1).reshape(-1, 2)
    dense = float(_phi(net, C, d, grid).min())
    assert out.lower <= dense
    assert float(_phi(net, C, d, out.witness[None])[0]) == pytest.approx(out.upper, rel=1e-12, abs=1e-12)
    lows, ups = [h[0] for h in out.history], [h[1] for h in out.history]
    assert all(b >= a for a, b in zip(lows, lows[1:])) and all(b <= a for a, b in zip(ups, ups[1:]))
    if out.status == "gap":
        assert out.upper <= dense + 1e-9


@pytest.mark.parametrize("seed", range(8))
def test_strong_branching_proofs_survive_an_attack_and_refutations_are_real(seed):
    net, C, d, rng = _instance(100 + seed, widths=(3, 12, 12, 3), m=3)
    lo, hi = -np.ones(3), np.ones(3)
    # sound bounds on the minimum; targets 0.05 outside them must be decided
    ref = search_network(net, C, d, lo, hi, budget=Budget(5), rng=rng, target=None, gap_abs=1e-4, method="input",
                         branching="sb")
    tn = TorchNet(list(net.weights), list(net.biases), C, d)
    for target in (ref.lower - 0.05, ref.upper + 0.05):
        out = search_network(net, C, d, lo, hi, budget=Budget(60), rng=rng, target=target, method="input",
                             branching="bf")
        assert out.status == ("proved" if target < ref.lower else "refuted")  # far from the minimum: decided
        if out.status == "proved":
            attack = pgd_minimize(tn.forward, lo[None], hi[None], restarts=64, steps=60, rng=rng)
            X = np.vstack([attack, lo + (hi - lo) * rng.random((20000, 3))])
            assert _phi(net, C, d, X).min() > target
            assert target < out.lower <= ref.upper
        else:
            assert _phi(net, C, d, out.witness[None])[0] <= target
            assert np.all(out.witness >= lo) and np.all(out.witness <= hi)


def test_unknown_branching_rule_is_refused_with_its_name():
    net, C, d, _ = _instance(0)
    with pytest.raises(InvalidArgument, match="branching"):
        InputSplitProblem(NetworkBounder(net, C, d), -np.ones(3), np.ones(3), branching="widest")


@pytest.mark.parametrize("seed", range(10))
def test_alpha_tightening_near_the_target_is_sound_and_never_looser(seed):
    net, C, d, rng = _instance(200 + seed, widths=(3, 10, 10, 10, 3), m=3)
    bounder = NetworkBounder(net, C, d, alpha_near=1.0)  # every box below the target is near
    B = 8
    lo = rng.uniform(-1, 0, (B, 3))
    hi = lo + rng.uniform(0.2, 1.0, (B, 3))
    first = bounder.bound(lo, hi)
    lb = np.maximum(first.lower.max(axis=1), first.joint)
    bounder.leaf_below = float(lb.max()) + 1.0  # the target lies above every box's bound
    tight = bounder.tighten(lo, hi, lb)
    assert np.all(tight >= lb)
    for i in range(B):
        X = np.vstack([lo[i] + (hi[i] - lo[i]) * rng.random((4000, 3)), lo[i], hi[i]])
        assert tight[i] <= _phi(net, C, d, X).min() + 1e-9
    # with the target below every bound nothing is re-bounded
    bounder.leaf_below = float(lb.min()) - 1.0
    assert np.array_equal(bounder.tighten(lo, hi, lb), lb)
