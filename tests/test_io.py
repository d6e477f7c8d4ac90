"""Model files: exact round trips for every format, content-based detection, PyTorch layouts."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reluscope import ReLUNetwork, load, save
from reluscope.io import detect_format

torch = pytest.importorskip("torch")
prune = pytest.importorskip("torch.nn.utils.prune")

SUFFIXES = {"npz": ".npz", "safetensors": ".safetensors", "torch": ".pt"}


def _bits(net: ReLUNetwork) -> bytes:
    parts = [np.ascontiguousarray(a).tobytes() for a in net.weights + net.biases]
    if net.masks is not None:
        parts += [np.ascontiguousarray(m).tobytes() for m in net.masks]
    return b"|".join(parts)


def _net(widths, seed, masked):
    rng = np.random.default_rng(seed)
    masks = None
    if masked:
        masks = [rng.random((o, i)) < 0.5 for i, o in zip(widths[:-1], widths[1:])]
    net = ReLUNetwork.random(widths, seed=rng, bias_scale=1.0, masks=masks)
    # include awkward floats: subnormals, huge values, negative zero
    w0 = np.array(net.weights[0])
    w0.flat[0] = 5e-324 if (masks is None or masks[0].flat[0]) else 0.0
    return net.replace(weights=[w0, *net.weights[1:]])


@pytest.mark.parametrize("fmt", ["npz", "safetensors", "torch"])
@settings(max_examples=15, deadline=None)
@given(
    widths=st.lists(st.integers(1, 6), min_size=2, max_size=5),
    seed=st.integers(0, 2**32 - 1),
    masked=st.booleans(),
)
def test_file_round_trip_is_exact(fmt, widths, seed, masked):
    net = _net(widths, seed, masked)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"model{SUFFIXES[fmt]}"
        save(net, path)
        assert detect_format(path) == fmt
        back = load(path)
    assert back == net
    assert (back.masks is None) == (net.masks is None)
    assert _bits(back) == _bits(net)


@pytest.mark.parametrize("fmt", ["npz", "safetensors", "torch"])
def test_format_detected_from_content_not_suffix(tmp_path, fmt):
    net = _net((3, 4, 2), 1, True)
    path = tmp_path / "model.bin"
    save(net, path, format=fmt)
    assert detect_format(path) == fmt
    assert load(path) == net
    wrong = tmp_path / ("model.npz" if fmt != "npz" else "model.safetensors")
    wrong.write_bytes(path.read_bytes())
    assert load(wrong) == net


def test_saved_pt_is_a_loadable_state_dict(tmp_path):
    from reluscope import to_torch

    net = _net((3, 5, 2), 7, True)
    save(net, tmp_path / "m.pt")
    model = to_torch(ReLUNetwork.random((3, 5, 2), seed=0, masks=[np.ones((5, 3), bool), None]))
    model.load_state_dict(torch.load(tmp_path / "m.pt", weights_only=True))
    X = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_allclose(model(torch.from_numpy(X)).detach().numpy(), net(X), rtol=1e-12, atol=1e-12)


def _reference_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2)
    ).double()


def _check_same_function(net, model, d=4):
    X = np.random.default_rng(1).standard_normal((8, d))
    with torch.no_grad():
        ref = model(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(net(X), ref, rtol=1e-12, atol=1e-12)


def test_state_dict_of_sequential(tmp_path):
    model = _reference_model()
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    net = load(tmp_path / "sd.pt")
    assert net.widths == (4, 6, 5, 2) and net.masks is None
    np.testing.assert_array_equal(net.weights[1], model[2].weight.detach().numpy())
    _check_same_function(net, model)


def test_nested_state_dict_and_checkpoint(tmp_path):
    class Wrapper(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = _reference_model()

    w = Wrapper()
    torch.save({"state_dict": w.state_dict(), "epoch": 3}, tmp_path / "ckpt.pth")
    net = load(tmp_path / "ckpt.pth")
    _check_same_function(net, w.net)


def test_pruned_state_dict_and_saved_sequential(tmp_path):
    model = _reference_model()
    prune.l1_unstructured(model[0], "weight", amount=0.5)
    prune.random_unstructured(model[2], "weight", amount=0.3)
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    torch.save(model, tmp_path / "seq.pt")
    torch.save(model.state_dict(), tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    nets = [load(tmp_path / name) for name in ("sd.pt", "seq.pt", "legacy.pt")]
    assert nets[0] == nets[1] == nets[2]
    net = nets[0]
    np.testing.assert_array_equal(net.masks[0], model[0].weight_mask.numpy() != 0)
    assert net.masks[2].all()
    _check_same_function(net, model)


def test_linear_without_bias_and_float32(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(3, 4, bias=False), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    torch.save(model.state_dict(), tmp_path / "m.pt")
    net = load(tmp_path / "m.pt")
    assert not net.biases[0].any()
    # float32 values embed exactly in float64
    np.testing.assert_array_equal(net.weights[0], model[0].weight.detach().numpy().astype(np.float64))


def test_safetensors_written_by_torch(tmp_path):
    from safetensors.torch import save_file

    model = _reference_model()
    # 12 linear layers: keys sort as strings ("10" < "2"), load must order them numerically
    layers = []
    for i in range(12):
        layers += [torch.nn.Linear(3, 3, dtype=torch.float64), torch.nn.ReLU()]
    big = torch.nn.Sequential(*layers[:-1])
    save_file(big.state_dict(), str(tmp_path / "big.safetensors"))
    save_file(model.state_dict(), str(tmp_path / "m.safetensors"))
    _check_same_function(load(tmp_path / "m.safetensors"), model)
    _check_same_function(load(tmp_path / "big.safetensors"), big, d=3)


def test_hand_written_npz_without_marker(tmp_path):
    rng = np.random.default_rng(0)
    w0, w1 = rng.standard_normal((3, 2)), rng.standard_normal((1, 3))
    np.savez(tmp_path / "m.npz", **{"layers.0.weight": w0, "layers.0.bias": np.ones(3), "layers.1.weight": w1})
    net = load(tmp_path / "m.npz")
    assert net.widths == (2, 3, 1)
    assert net.biases[1].tolist() == [0.0]


def test_save_does_not_leave_temporary_files(tmp_path):
    save(ReLUNetwork.random((2, 2, 1), seed=0), tmp_path / "a.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]


def test_bfloat16_safetensors_widen_exactly(tmp_path):
    from safetensors.torch import save_file

    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2)).to(torch.bfloat16)
    save_file(model.state_dict(), str(tmp_path / "bf16.safetensors"))
    net = load(tmp_path / "bf16.safetensors")
    np.testing.assert_array_equal(net.weights[0], model[0].weight.detach().to(torch.float64).numpy())
