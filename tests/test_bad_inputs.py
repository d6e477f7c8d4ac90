"""Bad-input corpus: every case raises a ReluscopeError subclass with a one-line message naming
the file / layer / shape / value at fault, and leaves its input untouched."""

from __future__ import annotations

import hashlib
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from reluscope import (
    Box,
    InvalidArgument,
    InvalidDomain,
    InvalidNetwork,
    ModelFileError,
    PointSet,
    ReLUNetwork,
    ReluscopeError,
    UnsupportedLayer,
    from_torch,
    load,
    save,
)
from reluscope.domain import as_domain

torch = pytest.importorskip("torch")
import torch.nn.utils.prune as prune  # noqa: E402

nn = torch.nn


# ----------------------------------------------------------------------------- snapshots
def file_snapshot(path: Path):
    def snap():
        if path.is_file():
            return hashlib.sha256(path.read_bytes()).hexdigest()
        return ("dir" if path.is_dir() else "missing", sorted(p.name for p in path.iterdir()) if path.is_dir() else None)

    return snap


def _tensor_state(v):
    """Layout, dtype and values of a tensor of any kind (sparse, quantized, meta)."""
    head = (str(v.layout), str(v.dtype), tuple(v.shape), str(v.device))
    if v.is_meta:
        return head
    if v.layout != torch.strided:
        v = v.to_dense()
    if v.is_quantized:
        v = v.int_repr()
    return (*head, v.detach().numpy().tobytes())


def module_snapshot(module):
    def snap():
        if not isinstance(module, nn.Module):
            return repr(module)
        return (
            repr(module),
            [(k, _tensor_state(v)) for k, v in module.state_dict().items()],
            [(len(m._forward_pre_hooks), len(m._forward_hooks)) for m in module.modules()],
        )

    return snap


def arrays_snapshot(*arrays):
    def snap():
        return [np.asarray(a).tobytes() for group in arrays for a in (group if isinstance(group, list) else [group])]

    return snap


# ----------------------------------------------------------------------------- helpers
def good_net(masked=False):
    masks = [np.eye(4, 3, dtype=bool), None] if masked else None
    return ReLUNetwork.random((3, 4, 2), seed=0, masks=masks)


def saved(tmp_path: Path, fmt: str, masked=False) -> Path:
    suffix = {"npz": ".npz", "safetensors": ".safetensors", "pt": ".pt"}[fmt]
    path = tmp_path / f"model{suffix}"
    save(good_net(masked), path)
    return path


def legacy_pt(tmp_path: Path) -> Path:
    path = tmp_path / "legacy.pt"
    from reluscope import to_torch

    torch.save(to_torch(good_net()).state_dict(), path, _use_new_zipfile_serialization=False)
    return path


def truncate(path: Path, keep: float = 0.6) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def flip_member_bytes(path: Path, member_suffix: str) -> Path:
    """Flip bytes inside the stored data of a zip member (not its header)."""
    with zipfile.ZipFile(path) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith(member_suffix))
    data = bytearray(path.read_bytes())
    name_len, extra_len = struct.unpack("<HH", path.read_bytes()[info.header_offset + 26:info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    pos = start + info.compress_size // 2
    data[pos] ^= 0x5A
    path.write_bytes(bytes(data))
    return path


def npz_with(tmp_path: Path, marker=True, **tensors) -> Path:
    path = tmp_path / "hand.npz"
    extra = {"__reluscope__": np.array("reluscope-model-1")} if marker else {}
    np.savez(path, **tensors, **extra)
    return path


def good_tensors():
    net = good_net()
    return {
        "layers.0.weight": np.array(net.weights[0]),
        "layers.0.bias": np.array(net.biases[0]),
        "layers.1.weight": np.array(net.weights[1]),
        "layers.1.bias": np.array(net.biases[1]),
    }


def state_dict_file(tmp_path: Path, sd: dict) -> Path:
    path = tmp_path / "sd.pt"
    torch.save(sd, path)
    return path


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Linear(4, 4)

    def forward(self, x):
        return x + self.inner(x)


class MyLinear(nn.Linear):
    def forward(self, x):
        return super().forward(x) * 2


class Evil:
    """Pickling this would run a shell command on unpickling (must never happen)."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.target}",))


# ----------------------------------------------------------------------------- cases
# each case: tmp_path -> (thunk, snapshot, error class, substrings the message must contain)
def c_conv2d(tmp):
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Conv2d(1, 1, 3))
    return lambda: from_torch(m), module_snapshot(m), UnsupportedLayer, ["layer '2'", "Conv2d"]


def c_sigmoid(tmp):
    m = nn.Sequential(nn.Linear(3, 4), nn.Sigmoid(), nn.Linear(4, 1))
    return lambda: from_torch(m), module_snapshot(m), UnsupportedLayer, ["layer '1'", "Sigmoid"]


def c_gelu(tmp):
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 4), nn.GELU(), nn.Linear(4, 1))
    return lambda: from_torch(m), module_snapshot(m), UnsupportedLayer, ["layer '3' (GELU)"]


def c_residual(tmp):
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), Residual(), nn.Linear(4, 1))
    return lambda: from_torch(m), module_snapshot(m), UnsupportedLayer, ["layer '2'", "Residual"]


def c_batchnorm(tmp):
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 1))
    return lambda: from_torch(m), module_snapshot(m), UnsupportedLayer, ["layer '1'", "BatchNorm1d"]


def c_trailing_relu(tmp):
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1), nn.ReLU())
    return lambda: from_torch(m), module_snapshot(m), UnsupportedLayer, ["layer '3' (ReLU)", "last"]


def c_leading_relu(tmp):
    m = nn.Sequential(nn.ReLU(), nn.Linear(3, 1))
    return lambda: from_torch(m), module_snapshot(m), UnsupportedLayer, ["layer '0' (ReLU)", "before"]


def c_two_linear(tmp):
    m = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 1))
    return lambda: from_torch(m), module_snapshot(m), UnsupportedLayer, ["'0' (Linear)", "'1' (Linear)", "without a ReLU"]


def c_nested_tanh(tmp):
    m = nn.Sequential(nn.Sequential(nn.Linear(3, 4), nn.Tanh()), nn.Linear(4, 1))
    return lambda: from_torch(m), module_snapshot(m), UnsupportedLayer, ["layer '0.1' (Tanh)"]


def c_flatten_batch(tmp):
    m = nn.Sequential(nn.Flatten(0), nn.Linear(3, 1))
    return lambda: from_torch(m), module_snapshot(m), UnsupportedLayer, ["layer '0' (Flatten)", "start_dim=0"]


def c_linear_subclass(tmp):
    m = nn.Sequential(MyLinear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    return lambda: from_torch(m), module_snapshot(m), UnsupportedLayer, ["layer '0'", "MyLinear"]


def c_modulelist(tmp):
    m = nn.ModuleList([nn.Linear(3, 1)])
    return lambda: from_torch(m), module_snapshot(m), UnsupportedLayer, ["ModuleList"]


def c_not_a_module(tmp):
    a = np.ones((3, 3))
    return lambda: from_torch(a), arrays_snapshot(a), UnsupportedLayer, ["ndarray"]


def c_module_shape_mismatch(tmp):
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(5, 2))
    return lambda: from_torch(m), module_snapshot(m), InvalidNetwork, ["layer '2'", "(2, 5)", "4 outputs"]


def c_module_nan_weight(tmp):
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    with torch.no_grad():
        m[2].weight[1, 3] = float("nan")
    return lambda: from_torch(m), module_snapshot(m), InvalidNetwork, ["layer '2'", "nan", "(1, 3)"]


def c_module_inf_bias(tmp):
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    with torch.no_grad():
        m[0].bias[2] = float("-inf")
    return lambda: from_torch(m), module_snapshot(m), InvalidNetwork, ["layer '0'", "bias", "-inf", "(2,)"]


def c_module_nonbool_mask(tmp):
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    mask = torch.ones(4, 3)
    mask[0, 1] = 0.5
    prune.custom_from_mask(m[0], "weight", mask)
    return lambda: from_torch(m), module_snapshot(m), InvalidNetwork, ["layer '0'", "weight_mask", "0.5", "(0, 1)"]


def c_net_shape_chain(tmp):
    w = [np.ones((4, 3)), np.ones((2, 5))]
    b = [np.zeros(4), np.zeros(2)]
    return lambda: ReLUNetwork(w, b), arrays_snapshot(w, b), InvalidNetwork, ["layer 2", "(2, 5)", "4 outputs"]


def c_net_bias_shape(tmp):
    w = [np.ones((4, 3))]
    b = [np.zeros(3)]
    return lambda: ReLUNetwork(w, b), arrays_snapshot(w, b), InvalidNetwork, ["layer 1 bias", "(4,)", "(3,)"]


def c_net_nan(tmp):
    w = [np.ones((4, 3))]
    w[0][2, 1] = np.nan
    b = [np.zeros(4)]
    return lambda: ReLUNetwork(w, b), arrays_snapshot(w, b), InvalidNetwork, ["layer 1 weight", "nan", "(2, 1)"]


def c_net_mask_nonbool(tmp):
    w, b, m = [np.ones((2, 2))], [np.zeros(2)], [np.array([[1, 2], [1, 1]])]
    return lambda: ReLUNetwork(w, b, m), arrays_snapshot(w, b, m), InvalidNetwork, ["layer 1 mask", "int"]


def c_net_outside_mask(tmp):
    w, b, m = [np.ones((2, 2))], [np.zeros(2)], [np.array([[True, False], [True, True]])]
    return lambda: ReLUNetwork(w, b, m), arrays_snapshot(w, b, m), InvalidNetwork, ["layer 1", "(0, 1)", "outside its mask"]


def c_net_mask_shape(tmp):
    w, b, m = [np.ones((2, 2))], [np.zeros(2)], [np.ones((2, 3), bool)]
    return lambda: ReLUNetwork(w, b, m), arrays_snapshot(w, b, m), InvalidNetwork, ["layer 1 mask", "(2, 3)", "(2, 2)"]


def c_net_input_shape(tmp):
    net = good_net()
    X = np.zeros((5, 2))
    return lambda: net(X), arrays_snapshot(X), InvalidNetwork, ["(n, 3)", "(5, 2)"]


def c_npz_truncated(tmp):
    p = truncate(saved(tmp, "npz"))
    return lambda: load(p), file_snapshot(p), ModelFileError, [str(p), "truncated"]


def c_npz_corrupted(tmp):
    p = flip_member_bytes(saved(tmp, "npz"), "layers.0.weight.npy")
    return lambda: load(p), file_snapshot(p), ModelFileError, [str(p), "layers.0.weight.npy", "CRC"]


def c_safetensors_truncated(tmp):
    p = truncate(saved(tmp, "safetensors"), 0.9)
    return lambda: load(p), file_snapshot(p), ModelFileError, [str(p), "truncated"]


def c_safetensors_truncated_header(tmp):
    p = truncate(saved(tmp, "safetensors"), 0.05)
    return lambda: load(p), file_snapshot(p), ModelFileError, [str(p), "truncated safetensors"]


def c_safetensors_corrupted_header(tmp):
    p = saved(tmp, "safetensors")
    data = bytearray(p.read_bytes())
    data[20:26] = b"\xff\xfe}}]["
    p.write_bytes(bytes(data))
    return lambda: load(p), file_snapshot(p), ModelFileError, [str(p), "corrupted safetensors header"]


def c_safetensors_corrupted_data(tmp):
    p = saved(tmp, "safetensors")
    data = bytearray(p.read_bytes())
    data[-5] ^= 0x10  # inside the last tensor's bytes
    p.write_bytes(bytes(data))
    return lambda: load(p), file_snapshot(p), ModelFileError, [str(p), "checksum"]


def c_pt_truncated(tmp):
    p = truncate(saved(tmp, "pt"))
    return lambda: load(p), file_snapshot(p), ModelFileError, [str(p), "truncated or corrupted"]


def c_pt_corrupted(tmp):
    p = flip_member_bytes(saved(tmp, "pt"), "data/0")
    return lambda: load(p), file_snapshot(p), ModelFileError, [str(p), "data/0", "CRC"]


def c_pt_legacy_truncated(tmp):
    p = truncate(legacy_pt(tmp))
    return lambda: load(p), file_snapshot(p), ModelFileError, [str(p), "truncated or corrupted"]


def c_pt_legacy_corrupted(tmp):
    p = legacy_pt(tmp)
    data = bytearray(p.read_bytes())
    data[2:40] = bytes(range(200, 238))  # garbage opcodes right after the protocol header
    p.write_bytes(bytes(data))
    return lambda: load(p), file_snapshot(p), ModelFileError, [str(p), "corrupted torch file"]


def c_empty_file(tmp):
    p = tmp / "empty.safetensors"
    p.write_bytes(b"")
    return lambda: load(p), file_snapshot(p), ModelFileError, [str(p), "empty"]


def c_directory(tmp):
    p = tmp / "adir.pt"
    p.mkdir()
    return lambda: load(p), file_snapshot(p), ModelFileError, [str(p), "directory"]


def c_missing_path(tmp):
    p = tmp / "nope.npz"
    return lambda: load(p), file_snapshot(p), ModelFileError, [str(p), "no such file"]


def c_text_file(tmp):
    p = tmp / "model.npz"
    p.write_text("this is not a model\n")
    return lambda: load(p), file_snapshot(p), ModelFileError, [str(p), "unrecognized"]


def c_npz_missing_tensor(tmp):
    t = good_tensors()
    del t["layers.1.bias"]
    p = npz_with(tmp, **t)
    return lambda: load(p), file_snapshot(p), ModelFileError, [str(p), "missing tensor 'layers.1.bias'"]


def c_npz_shape_mismatch(tmp):
    t = good_tensors()
    t["layers.1.weight"] = np.ones((2, 5))
    p = npz_with(tmp, **t)
    return lambda: load(p), file_snapshot(p), ModelFileError, [str(p), "'layers.1.weight'", "(2, 5)", "'layers.0.weight'", "4 outputs"]


def c_npz_bias_mismatch(tmp):
    t = good_tensors()
    t["layers.0.bias"] = np.ones(7)
    p = npz_with(tmp, **t)
    return lambda: load(p), file_snapshot(p), ModelFileError, [str(p), "'layers.0.bias'", "(7,)", "(4,)"]


def c_npz_nan(tmp):
    t = good_tensors()
    t["layers.0.weight"][3, 2] = np.nan
    p = npz_with(tmp, **t)
    return lambda: load(p), file_snapshot(p), ModelFileError, [str(p), "'layers.0.weight'", "nan", "(3, 2)"]


def c_safetensors_inf(tmp):
    from safetensors.numpy import save_file

    t = good_tensors()
    t["layers.1.bias"][1] = np.inf
    p = tmp / "inf.safetensors"
    save_file(t, str(p))
    return lambda: load(p), file_snapshot(p), ModelFileError, [str(p), "'layers.1.bias'", "inf", "(1,)"]


def c_npz_nonbool_mask(tmp):
    t = good_tensors()
    mask = np.ones((4, 3), dtype=np.uint8)
    mask[1, 1] = 2
    p = npz_with(tmp, **t, **{"layers.0.mask": mask})
    return lambda: load(p), file_snapshot(p), ModelFileError, [str(p), "'layers.0.mask'", "not boolean", "(1, 1)"]


def c_safetensors_nonbool_mask(tmp):
    from safetensors.numpy import save_file

    t = good_tensors()
    mask = np.ones((2, 4))
    mask[0, 3] = 0.25
    t["layers.1.mask"] = mask
    p = tmp / "mask.safetensors"
    save_file(t, str(p))
    return lambda: load(p), file_snapshot(p), ModelFileError, [str(p), "'layers.1.mask'", "0.25"]


def c_npz_weight_outside_mask(tmp):
    t = good_tensors()
    mask = np.ones((4, 3), dtype=bool)
    mask[2, 0] = False
    p = npz_with(tmp, **t, **{"layers.0.mask": mask})
    return lambda: load(p), file_snapshot(p), ModelFileError, [str(p), "'layers.0.weight'", "(2, 0)", "outside mask"]


def c_npz_object_array(tmp):
    p = tmp / "obj.npz"
    np.savez(p, **{"layers.0.weight": np.array([{"a": 1}], dtype=object)})
    return lambda: load(p), file_snapshot(p), ModelFileError, [str(p)]


def c_npz_complex(tmp):
    t = good_tensors()
    t["layers.0.weight"] = t["layers.0.weight"].astype(complex)
    p = npz_with(tmp, **t)
    return lambda: load(p), file_snapshot(p), ModelFileError, [str(p), "'layers.0.weight'", "complex"]


def c_pt_conv_state_dict(tmp):
    m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Linear(4, 1))
    p = state_dict_file(tmp, m.state_dict())
    return lambda: load(p), file_snapshot(p), UnsupportedLayer, [str(p), "'0.weight'", "(2, 1, 3, 3)"]


def c_pt_batchnorm_state_dict(tmp):
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 1))
    p = state_dict_file(tmp, m.state_dict())
    return lambda: load(p), file_snapshot(p), UnsupportedLayer, [str(p), "'1.", "not Linear"]


def c_pt_saved_gelu_sequential(tmp):
    p = tmp / "gelu.pt"
    torch.save(nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 1)), p)
    return lambda: load(p), file_snapshot(p), UnsupportedLayer, [str(p), "GELU", "not unpickled"]


def c_pt_saved_sequential_trailing_relu(tmp):
    p = tmp / "trail.pt"
    torch.save(nn.Sequential(nn.Linear(3, 4), nn.ReLU()), p)
    return lambda: load(p), file_snapshot(p), UnsupportedLayer, [str(p), "layer '1' (ReLU)"]


def c_pt_missing_mask(tmp):
    sd = {"0.weight_orig": torch.ones(4, 3), "0.bias": torch.zeros(4)}
    p = state_dict_file(tmp, sd)
    return lambda: load(p), file_snapshot(p), ModelFileError, [str(p), "missing tensor '0.weight_mask'"]


def c_pt_not_tensors(tmp):
    p = state_dict_file(tmp, {"0.weight": [[1.0, 2.0]]})
    return lambda: load(p), file_snapshot(p), ModelFileError, [str(p), "'0.weight'", "list"]


def _sequential_holding(kind):
    """A 3-4-2 Linear/ReLU stack whose layer '0' holds a tensor that is not dense real
    values (issue 24): sparse COO / CSR weight, sparse bias, sparse pruning mask, quantized
    weight, meta device; or a BatchNorm1d whose running mean is sparse."""
    torch.manual_seed(0)
    if kind == "meta":
        return nn.Sequential(nn.Linear(3, 4, device="meta"), nn.ReLU(), nn.Linear(4, 2, device="meta"))
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    w = m[0].weight.detach()
    if kind == "coo":
        m[0].weight = nn.Parameter(w.to_sparse())
    elif kind == "csr":
        m[0].weight = nn.Parameter(w.to_sparse_csr())
    elif kind == "bias":
        m[0].bias = nn.Parameter(m[0].bias.detach().to_sparse())
    elif kind == "mask":
        prune.l1_unstructured(m[0], "weight", amount=0.5)
        m[0].weight_mask = m[0].weight_mask.to_sparse()
    elif kind == "quant":
        m[0].weight = nn.Parameter(torch.quantize_per_tensor(w, 0.1, 0, torch.qint8), requires_grad=False)
    elif kind == "bn":
        m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2)).eval()
        m[1].running_mean = m[1].running_mean.to_sparse()
    return m


_MODULE_TENSORS = {"coo": "weight is sparse (sparse_coo)", "csr": "weight is sparse (sparse_csr)",
                   "bias": "bias is sparse (sparse_coo)", "mask": "weight_mask is sparse (sparse_coo)",
                   "quant": "weight is quantized (torch.qint8)", "meta": "weight is on the meta device"}


def _from_torch_case(kind):
    def case(tmp):
        import warnings

        with warnings.catch_warnings():  # torch: sparse CSR is beta
            warnings.simplefilter("ignore")
            m = _sequential_holding(kind)
        return lambda: from_torch(m), module_snapshot(m), InvalidNetwork, [f"layer '0' (Linear) {_MODULE_TENSORS[kind]}"]
    return case


def _saved_module_case(kind):
    def case(tmp):
        import warnings

        p = tmp / f"module_{kind}.pt"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.save(_sequential_holding(kind), p)
        return lambda: load(p), file_snapshot(p), ModelFileError, [f"{p}: layer '0' (Linear) {_MODULE_TENSORS[kind]}"]
    return case


for _kind in _MODULE_TENSORS:
    globals()[f"c_from_torch_{_kind}_tensor"] = _from_torch_case(_kind)
    globals()[f"c_pt_saved_module_{_kind}_tensor"] = _saved_module_case(_kind)


def c_from_torch_sparse_batchnorm_statistics(tmp):
    m = _sequential_holding("bn")
    return (lambda: from_torch(m)), module_snapshot(m), InvalidNetwork, ["layer '1' (BatchNorm1d) running_mean",
                                                                          "sparse"]


def c_pattern_from_torch_sparse_weight(tmp):
    from reluscope.errors import InvalidPattern
    from reluscope.sparsity import SparsityPattern

    m = _sequential_holding("coo")
    return (lambda: SparsityPattern.from_torch(m)), module_snapshot(m), InvalidPattern, [
        "layer '0' (Linear) weight is sparse"]


def c_pattern_from_torch_meta_state_dict(tmp):
    from reluscope.errors import InvalidPattern
    from reluscope.sparsity import SparsityPattern

    sd = {"0.weight": torch.empty(4, 3, device="meta")}
    return (lambda: SparsityPattern.from_torch(sd)), (lambda: sorted(sd)), InvalidPattern, ["'0.weight'", "meta"]


def c_pt_malicious_pickle(tmp):
    target = tmp / "pwned"
    p = tmp / "evil.pt"
    p.write_bytes(pickle.dumps(Evil(target), protocol=2))

    def thunk():
        try:
            load(p)
        finally:
            assert not target.exists(), "unpickling executed code"

    return thunk, file_snapshot(p), ModelFileError, [str(p), "posix.system", "refuses"]


def c_save_unknown_suffix(tmp):
    p = tmp / "model.h5"
    return lambda: save(good_net(), p), file_snapshot(tmp), ModelFileError, [str(p), "'.h5'"]


def c_save_missing_dir(tmp):
    p = tmp / "no" / "dir" / "m.npz"
    return lambda: save(good_net(), p), file_snapshot(tmp), ModelFileError, [str(p), "does not exist"]


def c_box_lo_ge_hi(tmp):
    lo, hi = np.array([0.0, 2.0]), np.array([1.0, 1.0])
    return lambda: Box(lo, hi), arrays_snapshot(lo, hi), InvalidDomain, ["coordinate 1", "lo=2.0", "hi=1.0"]


def c_box_nan(tmp):
    lo = np.array([0.0, np.nan])
    return lambda: Box(lo, 1.0), arrays_snapshot(lo), InvalidDomain, ["finite", "nan"]


def c_box_parse(tmp):
    return lambda: Box.parse("1;2"), (lambda: None), InvalidDomain, ["'1;2'"]


def c_domain_dim(tmp):
    box = Box([0, 0, 0], [1, 1, 1])
    return lambda: as_domain(box, 2), (lambda: repr(box)), InvalidDomain, ["3 coordinates", "2 inputs"]


def c_pointset_inf(tmp):
    X = np.zeros((3, 2))
    X[2, 1] = -np.inf
    return lambda: PointSet(X), arrays_snapshot(X), InvalidDomain, ["-inf", "row 2, column 1"]



def c_box_parse_reversed(tmp):
    return lambda: Box.parse("1,-1"), (lambda: None), InvalidDomain, ["'1,-1'", "lo < hi"]


def c_box_parse_infinite(tmp):
    return lambda: Box.parse("0,inf"), (lambda: None), InvalidDomain, ["'0,inf'", "finite"]


def c_degeneracies_negative_time_limit(tmp):
    from reluscope import degeneracies

    net = ReLUNetwork.random((2, 3, 1), seed=0)
    return (lambda: degeneracies(net, time_limit=-1)), (lambda: net.to_vector().tobytes()), ReluscopeError, [
        "time_limit", "-1"]


def c_analyze_out_is_file(tmp):
    from reluscope.report import analyze

    net = ReLUNetwork.random((2, 3, 1), seed=0)
    target = tmp / "taken.txt"
    target.write_text("x")
    return (lambda: analyze(net, target, sections=["network"])), file_snapshot(target), ModelFileError, [
        str(target), "not a folder"]


def c_reproduce_out_uncreatable(tmp):
    from reluscope.report import reproduce

    parent = tmp / "plain-file"
    parent.write_text("x")
    return (lambda: reproduce(["pathologies"], parent / "sub", quick=True)), file_snapshot(parent), \
        ModelFileError, [str(parent / "sub"), "cannot create"]



def c_degeneracies_negative_seed(tmp):
    from reluscope import degeneracies

    net = ReLUNetwork.random((2, 3, 1), seed=0)
    return (lambda: degeneracies(net, seed=-1)), (lambda: net.to_vector().tobytes()), ReluscopeError, ["seed", "-1"]


def c_sup_distance_negative_seed(tmp):
    from reluscope import sup_distance

    f, g = ReLUNetwork.random((2, 3, 1), seed=0), ReLUNetwork.random((2, 3, 1), seed=1)
    return (lambda: sup_distance(f, g, seed=-1, time_limit=2)), (lambda: (f.to_vector().tobytes(),
                                                                          g.to_vector().tobytes())), \
        ReluscopeError, ["seed", "-1"]



def c_network_complex_weights(tmp):
    W = [np.ones((3, 2)) * (1 + 1j), np.ones((1, 3))]
    b = [np.zeros(3), np.zeros(1)]
    return (lambda: ReLUNetwork(W, b)), arrays_snapshot(*W, *b), InvalidNetwork, ["layer 1 weight", "complex"]


def c_random_negative_seed(tmp):
    return (lambda: ReLUNetwork.random((2, 3, 1), seed=-1)), (lambda: None), InvalidArgument, ["seed", "-1"]


def c_load_not_a_path(tmp):
    return (lambda: load(5)), (lambda: None), ModelFileError, ["path", "int"]


def c_box_sample_negative_n(tmp):
    return (lambda: Box(0, 1).sample(-1, 2)), (lambda: None), InvalidDomain, ["sample points", "-1"]


CASES = {name[2:]: fn for name, fn in sorted(globals().items()) if name.startswith("c_")}


def test_corpus_is_large_enough():
    assert len(CASES) >= 30
    formats = {"npz", "safetensors", "pt", "pt_legacy"}
    corrupt = {n for n in CASES if "corrupt" in n or "truncated" in n}
    for fmt in formats:
        assert any(n.startswith(fmt + "_") and n[len(fmt) + 1:].startswith(("corrupt", "truncated")) for n in corrupt), fmt


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(name, tmp_path):
    thunk, snapshot, error, needles = CASES[name](tmp_path)
    before = snapshot()
    with pytest.raises(error) as info:
        thunk()
    assert isinstance(info.value, ReluscopeError)
    message = str(info.value)
    assert message and "\n" not in message, message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    assert snapshot() == before, "the input was modified"



# ----------------------------------------------------------------------------- CLI: exit 2, one line
def _cli_bad_cases(tmp):
    model = tmp / "m.npz"
    save(ReLUNetwork.random((2, 3, 1), seed=0), model)
    blocker = tmp / "plain-file"
    blocker.write_text("x")
    out = str(blocker / "sub")
    empty_label = tmp / "empty-label.csv"
    empty_label.write_text("a,b,y\n1,2,\n3,4,1\n")
    return {
        "inspect-negative-time-limit": (["inspect", str(model), "--time-limit", "-1"], ["time_limit", "-1"]),
        "inspect-reversed-domain": (["inspect", str(model), "--domain", "1,-1"], ["'1,-1'", "lo < hi"]),
        "analyze-out-is-file": (["analyze", str(model), "-o", str(blocker), "--sections", "network"],
                                [str(blocker), "not a folder"]),
        "analyze-out-uncreatable": (["analyze", str(model), "-o", out, "--sections", "network"], [out]),
        "reproduce-out-uncreatable": (["reproduce", "pathologies", "--quick", "-o", out], [out]),
        "sweep-negative-seed": (["sweep-patterns", "--shape", "2x2x2", "--samples", "2", "--seed", "-1"],
                                ["seed", "-1"]),
        "sweep-zero-workers": (["sweep-patterns", "--shape", "2x2x2", "--samples", "2", "--workers", "0"],
                               ["workers", "0"]),
        "distance-negative-seed": (["distance", str(model), str(model), "--seed", "-1", "--time-limit", "2"],
                                   ["seed", "-1"]),
        "analyze-negative-seed": (["analyze", str(model), "-o", str(tmp / "rep"), "--seed", "-1"], ["seed", "-1"]),
        "check-pattern-empty": (["check-pattern", ""], ["empty pattern"]),
        "construct-directory": (["construct", str(tmp), "--label-column", "y"], [str(tmp), "directory"]),
        "compare-negative-show": (["compare", str(model), str(model), "--show", "-3"], ["--show"]),
        "construct-empty-label": (["construct", str(empty_label), "--label-column", "y"],
                                  [str(empty_label), "line 2", "empty label"]),
        "analyze-empty-label": (["analyze", str(model), "--data", str(empty_label), "--label-column", "y",
                                 "-o", str(tmp / "rep-empty"), "--sections", "network"],
                                [str(empty_label), "line 2", "empty label"]),
        "analyze-data-directory": (["analyze", str(model), "--data", str(tmp), "--label-column", "y",
                                    "-o", str(tmp / "rep-dir"), "--sections", "network"], [str(tmp), "directory"]),
        "sweep-out-uncreatable": (["sweep-patterns", "--shape", "2x2x2", "--samples", "2", "--workers", "1",
                                   "--time-limit", "5", "-o", out], [out]),
    }


@pytest.mark.parametrize("case", ["inspect-negative-time-limit", "inspect-reversed-domain", "analyze-out-is-file",
                                  "analyze-out-uncreatable", "reproduce-out-uncreatable", "sweep-out-uncreatable",
                                  "sweep-negative-seed", "sweep-zero-workers", "distance-negative-seed",
                                  "analyze-negative-seed", "check-pattern-empty", "construct-directory",
                                  "compare-negative-show", "construct-empty-label", "analyze-empty-label",
                                  "analyze-data-directory"])
def test_cli_bad_input_exit_2_one_line(case, tmp_path):
    import subprocess
    import sys

    args, needles = _cli_bad_cases(tmp_path)[case]
    proc = subprocess.run([sys.executable, "-m", "reluscope", *args], capture_output=True, text=True, timeout=300)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    "args, needles",
    [
        (["inspect", "m.npz", "--time-limit", "abc"], ["--time-limit", "reluscope inspect --help"]),
        (["inspect"], ["Missing argument", "model"]),
        (["no-such-command"], ["no-such-command"]),
        (["info", "m.npz", "--bogus"], ["--bogus"]),
        (["sweep-patterns", "--samples", "x"], ["--samples"]),
    ],
)
def test_cli_usage_error_is_one_line(args, needles, tmp_path):
    """Command-line usage errors (Click's) also give one stderr line and exit 2, not a framed panel."""
    import subprocess
    import sys

    save(ReLUNetwork.random((2, 3, 1), seed=0), tmp_path / "m.npz")
    proc = subprocess.run([sys.executable, "-m", "reluscope", *args], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_cli_exit_codes_of_valid_runs_unchanged(tmp_path):
    """`--help`/`--version` exit 0 and `compare` keeps exit 1 for 'not equivalent' after the main() change."""
    import subprocess
    import sys

    save(ReLUNetwork.random((2, 3, 1), seed=0), tmp_path / "a.npz")
    save(ReLUNetwork.random((2, 3, 1), seed=1), tmp_path / "b.npz")

    def run(*args):
        return subprocess.run([sys.executable, "-m", "reluscope", *args], capture_output=True, text=True,
                              timeout=120, cwd=tmp_path)

    assert run("--help").returncode == 0
    assert run("--version").returncode == 0
    assert run("compare", "a.npz", "a.npz").returncode == 0
    assert run("compare", "a.npz", "b.npz").returncode == 1
    assert run().returncode == 2
