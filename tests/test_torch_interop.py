"""from_torch / to_torch: exact round trips with prune masks, accepted layer layouts, no mutation."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reluscope import ReLUNetwork, from_torch, to_torch

torch = pytest.importorskip("torch")
import torch.nn.utils.prune as prune  # noqa: E402

nn = torch.nn


@settings(max_examples=40, deadline=None)
@given(
    widths=st.lists(st.integers(1, 7), min_size=2, max_size=5),
    seed=st.integers(0, 2**32 - 1),
    masked=st.booleans(),
)
def test_torch_round_trip_exact(widths, seed, masked):
    rng = np.random.default_rng(seed)
    masks = [rng.random((o, i)) < 0.5 for i, o in zip(widths[:-1], widths[1:])] if masked else None
    net = ReLUNetwork.random(widths, seed=rng, bias_scale=0.5, masks=masks)
    model = to_torch(net)
    assert all(isinstance(m, (nn.Linear, nn.ReLU)) for m in model)
    if masked:
        for i in range(net.depth):
            assert prune.is_pruned(model[2 * i])
            np.testing.assert_array_equal(model[2 * i].weight_mask.numpy() != 0, net.masks[i])
    back = from_torch(model)
    assert back == net
    for a, b in zip(back.weights + back.biases, net.weights + net.biases):
        assert a.tobytes() == b.tobytes()
    X = rng.standard_normal((5, widths[0]))
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.from_numpy(X)).numpy(), net(X), rtol=1e-12, atol=1e-12)


def _snapshot(module):
    return (repr(module), [(k, v.detach().clone()) for k, v in module.state_dict().items()],
            [len(m._forward_pre_hooks) for m in module.modules()])


def _same(a, b):
    return a[0] == b[0] and a[2] == b[2] and len(a[1]) == len(b[1]) and all(
        k1 == k2 and torch.equal(v1, v2) for (k1, v1), (k2, v2) in zip(a[1], b[1])
    )


def test_nested_noops_and_pruning_not_mutated():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Flatten(),
        nn.Sequential(nn.Linear(3, 6), nn.Dropout(0.2), nn.ReLU()),
        nn.Identity(),
        nn.Sequential(nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.ReLU())),
        nn.Linear(4, 2, bias=False),
    )
    prune.l1_unstructured(model[1][0], "weight", amount=0.5)
    model.eval()
    before = _snapshot(model)
    net = from_torch(model)
    assert _same(before, _snapshot(model))
    assert net.widths == (3, 6, 4, 2)
    assert net.masks is not None and net.masks[0].sum() == 9 and net.masks[1].all()
    assert not net.biases[2].any()
    X = np.random.default_rng(0).standard_normal((10, 3))
    with torch.no_grad():
        ref = model.double()(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(net(X), ref, rtol=1e-6, atol=1e-6)  # model was float32


def test_float32_values_embed_exactly():
    model = nn.Sequential(nn.Linear(5, 3), nn.ReLU(), nn.Linear(3, 1))
    net = from_torch(model)
    np.testing.assert_array_equal(net.weights[0], model[0].weight.detach().numpy().astype(np.float64))


def test_single_linear():
    lin = nn.Linear(2, 3, dtype=torch.float64)
    net = from_torch(lin)
    assert net.depth == 1 and net.widths == (2, 3)


def test_to_torch_float32_and_does_not_alias():
    net = ReLUNetwork.random((2, 3, 1), seed=0)
    model = to_torch(net, dtype=torch.float32)
    assert model[0].weight.dtype == torch.float32
    with torch.no_grad():
        model[0].weight.mul_(0)
    assert net.weights[0].any()
