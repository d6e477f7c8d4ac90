"""Training over the restricted set: the module stays in the restricted set after every step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reluscope import Box, ReLUNetwork
from reluscope.errors import InvalidArgument, InvalidData
from reluscope.stability import in_restricted_set, to_restricted
from reluscope.stability.training import (
    RestrictedShallowReLU,
    module_to_network,
    train,
    unrestricted_shallow,
)
from test_stability_exact import exact_1d

torch.set_num_threads(1)


def _check_every_step(box):
    def record(step, model):
        r = model.to_restricted_network()
        check = in_restricted_set(r, box, tol=1e-9)
        assert check.ok, f"step {step}: {check}"
        return check.ok
    return record


@pytest.mark.parametrize("d,lr,optimizer", [(1, 0.05, "sgd"), (1, 0.3, "adam"), (2, 0.05, "adam"), (3, 0.2, "adam")])
def test_stays_in_the_restricted_set_after_every_step(d, lr, optimizer):
    box = Box(-1.5, 2.0)
    rng = np.random.default_rng(d)
    X = box.sample(64, d, seed=d)
    y = np.sin(3 * X).sum(axis=1) + np.abs(X[:, 0])
    model = RestrictedShallowReLU(d, 12, box, seed=d)
    hist = train(model, X, y, steps=150, lr=lr, optimizer=optimizer, momentum=0.9, batch_size=16,
                 record_every=1, record=_check_every_step(box), seed=1)
    assert len(hist.records) == 150 and all(hist.records)
    # the large learning rates push kinks out of the box / create near-duplicates: the
    # projection must have had something to do for the test to mean anything
    if lr >= 0.2:
        assert hist.projection.reseeded > 0, str(hist.projection)
    del rng


def test_training_reduces_the_loss_for_both_models():
    X = np.linspace(-1, 1, 50)[:, None]
    y = np.abs(X[:, 0]) - 0.3 * X[:, 0]
    for model in (RestrictedShallowReLU(1, 8, seed=0), unrestricted_shallow(1, 9, seed=0)):
        hist = train(model, X, y, steps=400, lr=0.02, optimizer="adam", X_val=X, y_val=y, record_every=50)
        assert hist.val_mse[-1] < 0.1 * hist.val_mse[0]
        net = module_to_network(model)
        with torch.no_grad():
            np.testing.assert_allclose(net(X), model(torch.tensor(X)).numpy(), atol=1e-12)


def test_projection_folds_merges_and_keeps_the_realization():
    # dead, always-active, parallel and opposite neurons set by hand; reseed_scale=0 keeps
    # the realization exactly
    box = Box(-1, 1)
    model = RestrictedShallowReLU(1, 6, box, seed=3, reseed_scale=0.0)
    u = np.array([[1.0, -3.0], [1.0, 4.0], [1.0, -0.2], [2.0, -0.4], [-1.0, 0.2], [-1.0, 0.7]])
    with torch.no_grad():
        model.direction.copy_(torch.tensor(u))
        model.magnitude.copy_(torch.tensor([1.0, 0.5, -0.7, 1.3, 0.4, 0.9]))
    before = model.to_network()
    stats = model.project_()
    after = model.to_network()
    assert (stats.dead, stats.folded_affine, stats.merged_parallel, stats.merged_opposite) == (1, 1, 1, 1)
    assert stats.reseeded == 4
    assert in_restricted_set(model.to_restricted_network(), box).ok
    sup, lip = exact_1d(before, after)
    assert sup < 1e-12 and lip < 1e-12
    assert int(model.to_restricted_network().used.sum()) == 2


def test_reseeding_changes_the_function_by_at_most_the_bound():
    box = Box(-1, 1)
    model = RestrictedShallowReLU(1, 2, box, seed=0, reseed_scale=0.1)
    with torch.no_grad():
        model.direction.copy_(torch.tensor([[1.0, -3.0], [1.0, 0.0]]))
    before = model.to_network()
    model.project_()
    sup, _ = exact_1d(before, model.to_network())
    assert 0 < sup <= 0.1 ** 2 * np.sqrt(2) + 1e-12


def test_from_restricted_realizes_the_network():
    net = ReLUNetwork.random((2, 5, 1), seed=4, bias_scale=0.5)
    box = Box(-1, 1)
    module = RestrictedShallowReLU.from_restricted(net, box, width=7)
    assert module.width == 7
    X = box.sample(300, 2, seed=0)
    with torch.no_grad():
        np.testing.assert_allclose(module(torch.tensor(X)).numpy(), net(X), atol=1e-12)
    assert in_restricted_set(module.to_restricted_network(), box).ok
    r = to_restricted(net, box, width=7)
    np.testing.assert_allclose(np.sort(np.abs(module.to_restricted_network().c)), np.sort(np.abs(r.c)), atol=1e-14)


def test_sampler_and_l2():
    model = RestrictedShallowReLU(1, 4, Box(-10, 10), seed=0)
    sampler = lambda rng, n: (x := rng.uniform(-10, 10, (n, 1)), np.zeros(n))
    hist = train(model, None, steps=20, lr=1e-3, momentum=0.9, batch_size=10, sampler=sampler, l2=0.1, record_every=5)
    assert hist.steps == (5, 10, 15, 20)
    with pytest.raises(InvalidArgument, match="optimizer"):
        train(model, np.zeros((3, 1)), np.zeros(3), steps=1, optimizer="lbfgs")
    with pytest.raises(InvalidData, match="X must be"):
        train(model, np.zeros((3, 1)), np.zeros(4), steps=1)
    with pytest.raises(InvalidData, match="sampler"):
        train(model, None, steps=1)
