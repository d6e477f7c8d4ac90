"""alpha-CROWN with optimized intermediate bounds (``reluscope.search.crown.alpha_crown_bounds``):
over many random networks and boxes every intermediate and objective bound contains the
values sampled on the box, the bounds are never looser than CROWN's, the best iterate is
kept (more steps never give a looser bound than the starting CROWN one, and the returned
bound is at least every iterate's), and chunking the boxes does not change the answer."""

from __future__ import annotations

import numpy as np
import pytest

from reluscope import ReLUNetwork

torch = pytest.importorskip("torch")

from reluscope.search.crown import (TorchNet, alpha_batch_size, alpha_crown_bounds,  # noqa: E402
                                    interval_then_crown, objective_bound, optimize_objective_bound)


def _instance(seed: int, widths=(3, 12, 12, 10, 2), m: int = 3, B: int = 4):
    rng = np.random.default_rng(seed)
    net = ReLUNetwork.random(widths, seed=seed)
    C = rng.normal(size=(m, widths[-1]))
    d = rng.normal(size=m)
    lo = rng.uniform(-1, 0, (B, widths[0]))
    hi = lo + rng.uniform(0.2, 1.5, (B, widths[0]))
    return net, TorchNet(list(net.weights), list(net.biases), C, d), C, d, lo, hi, rng


def _samples(lo, hi, rng, n=3000):
    X = lo + (hi - lo) * rng.random((n, lo.size))
    corners = np.where(rng.random((64, lo.size)) < 0.5, lo, hi)
    return np.vstack([X, corners])


@pytest.mark.parametrize("seed", range(30))
def test_every_bound_contains_sampled_values_and_is_never_looser_than_crown(seed):
    widths = [(3, 12, 12, 10, 2), (4, 16, 8, 3), (2, 10, 10, 10, 10, 1)][seed % 3]
    net, tn, C, d, lo, hi, rng = _instance(seed, widths=widths)
    lo_t, hi_t = torch.tensor(lo), torch.tensor(hi)
    l0, h0 = interval_then_crown(tn, lo_t, hi_t)
    crown = objective_bound(tn, lo_t, hi_t, l0, h0)
    lows, highs, bound = alpha_crown_bounds(tn, lo_t, hi_t, steps=15)
    for k in range(len(l0)):
        assert torch.all(lows[k] >= l0[k]) and torch.all(highs[k] <= h0[k])
        assert torch.all(lows[k] <= highs[k])
    assert torch.all(bound.lower >= crown.lower)
    for i in range(lo.shape[0]):
        X = _samples(lo[i], hi[i], rng)
        h = X
        for k, (W, b) in enumerate(zip(net.weights[:-1], net.biases[:-1])):
            z = h @ W.T + b
            assert np.all(z >= lows[k][i].numpy()), (seed, i, k)
            assert np.all(z <= highs[k][i].numpy()), (seed, i, k)
            h = np.maximum(z, 0.0)
        Y = net(X) @ C.T + d
        assert np.all(Y >= bound.lower[i].numpy()), (seed, i)
        # the linear bound itself holds pointwise, not only its minimum over the box
        lin = X @ bound.lam_x[i].numpy().T + bound.const[i].numpy()
        assert np.all(Y >= lin - 1e-9 * (1 + np.abs(Y)))


@pytest.mark.parametrize("seed", range(4))
def test_optimized_intermediate_bounds_tighten_deep_networks(seed):
    # a mathematical fact about the relaxation, not a tuning claim: with the intermediate
    # bounds optimized too, the sum of the objective's lower bounds is at least the one of
    # the slopes optimized for the objective alone on CROWN's intermediate bounds, up to
    # the optimizers' noise (both start from CROWN's slopes; neither is a global optimum)
    net, tn, C, d, lo, hi, rng = _instance(seed, widths=(3, 16, 16, 16, 16, 2))
    lo_t, hi_t = torch.tensor(lo), torch.tensor(hi)
    l0, h0 = interval_then_crown(tn, lo_t, hi_t)
    only_obj = optimize_objective_bound(tn, lo_t, hi_t, l0, h0, steps=30)
    _, _, bound = alpha_crown_bounds(tn, lo_t, hi_t, steps=30)
    gap = float((only_obj.lower - bound.lower).clamp(min=0).sum())
    scale = float(only_obj.lower.abs().sum()) + 1.0
    assert gap <= 0.05 * scale, (seed, gap, scale)


def test_best_iterate_is_kept_and_zero_steps_is_crown():
    net, tn, C, d, lo, hi, rng = _instance(3, widths=(3, 16, 16, 16, 2))
    lo_t, hi_t = torch.tensor(lo), torch.tensor(hi)
    l0, h0 = interval_then_crown(tn, lo_t, hi_t)
    lows0, highs0, b0 = alpha_crown_bounds(tn, lo_t, hi_t, steps=0)
    assert torch.equal(b0.lower, objective_bound(tn, lo_t, hi_t, l0, h0).lower)
    assert all(torch.equal(a, b) for a, b in zip(lows0, l0))
    # a huge learning rate throws the slopes around; the kept best never falls below the
    # first iterate (CROWN's slopes on CROWN's bounds) nor below any later one
    _, _, wild = alpha_crown_bounds(tn, lo_t, hi_t, steps=12, lr=5.0)
    assert torch.all(wild.lower >= b0.lower)
    _, _, one = alpha_crown_bounds(tn, lo_t, hi_t, steps=1, lr=5.0)
    assert torch.all(wild.lower >= one.lower - 1e-9 * (1 + one.lower.abs()))


def test_chunked_boxes_give_the_same_bounds_and_given_reference_is_respected():
    net, tn, C, d, lo, hi, rng = _instance(5, widths=(3, 10, 10, 2), B=5)
    lo_t, hi_t = torch.tensor(lo), torch.tensor(hi)
    lows, highs, bound = alpha_crown_bounds(tn, lo_t, hi_t, steps=6)
    tiny = 8.0 * 16 * 2 * (2 * 10 * 10 + 3 * 20)  # about two boxes per chunk
    assert alpha_batch_size(tn, tiny) < 5
    lows_c, highs_c, bound_c = alpha_crown_bounds(tn, lo_t, hi_t, steps=6, memory_bytes=tiny)
    assert bound_c.lower.shape == bound.lower.shape and bound_c.lam_x.shape == bound.lam_x.shape
    # per-box results do not depend on the other boxes of the chunk except through the
    # union of unstable rows, which only adds sound rows: compare up to the optimizer noise
    assert torch.allclose(bound_c.lower, bound.lower, rtol=0.05, atol=0.05)
    # a reference tighter than CROWN (here: the optimized bounds themselves) is kept
    lows2, highs2, _ = alpha_crown_bounds(tn, lo_t, hi_t, steps=3, lows=lows, highs=highs)
    assert all(torch.all(a >= b) for a, b in zip(lows2, lows))
    assert all(torch.all(a <= b) for a, b in zip(highs2, highs))


def test_stop_above_ends_early_with_sound_bounds():
    net, tn, C, d, lo, hi, rng = _instance(7, widths=(3, 12, 12, 2), B=3)
    lo_t, hi_t = torch.tensor(lo), torch.tensor(hi)
    _, _, full = alpha_crown_bounds(tn, lo_t, hi_t, steps=10)
    # a threshold every box already passes at CROWN: no step is needed, the answer is CROWN's
    low = float(full.lower.max(dim=1).values.min()) - 1e6
    l0, h0 = interval_then_crown(tn, lo_t, hi_t)
    _, _, early = alpha_crown_bounds(tn, lo_t, hi_t, steps=10, stop_above=low)
    assert torch.all(early.lower >= objective_bound(tn, lo_t, hi_t, l0, h0).lower)
    assert torch.all(early.lower.max(dim=1).values > low)
    # an unreachable threshold changes nothing
    _, _, same = alpha_crown_bounds(tn, lo_t, hi_t, steps=10, stop_above=1e12)
    assert torch.allclose(same.lower, full.lower)
    for i in range(lo.shape[0]):
        Y = net(_samples(lo[i], hi[i], rng)) @ C.T + d
        assert np.all(Y >= early.lower[i].numpy())


def test_a_spent_budget_takes_no_step_and_stays_sound():
    from reluscope._budget import Budget

    net, tn, C, d, lo, hi, rng = _instance(11, widths=(3, 12, 12, 12, 2), B=2)
    lo_t, hi_t = torch.tensor(lo), torch.tensor(hi)
    l0, h0 = interval_then_crown(tn, lo_t, hi_t)
    lows, highs, spent = alpha_crown_bounds(tn, lo_t, hi_t, steps=50, budget=Budget(0.0))
    # no step was taken: the intermediate bounds are the reference ones, the objective
    # bound CROWN's on them
    assert all(torch.equal(a, b) for a, b in zip(lows, l0))
    assert torch.allclose(spent.lower, objective_bound(tn, lo_t, hi_t, l0, h0).lower)
