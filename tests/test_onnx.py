"""ONNX models: exact round trips, agreement with onnxruntime on models exported by
torch.onnx.export and skl2onnx, one-line errors for graphs that are not ReLU chains."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from reluscope import ReLUNetwork, UnsupportedLayer, from_sklearn, load, save
from reluscope.io import detect_format

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional


def _run(path, X):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return sess.run(None, {name: X})


def _export(module, path, d):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.randn(2, d),), str(path), dynamo=False, input_names=["x"],
                          dynamic_axes={"x": {0: "n"}})


@pytest.mark.parametrize("seed", range(6))
def test_round_trip_is_exact_and_onnxruntime_agrees(tmp_path, seed):
    rng = np.random.default_rng(seed)
    widths = tuple(int(w) for w in rng.integers(1, 7, size=rng.integers(2, 5)))
    masks = None if seed % 2 else [rng.random((o, i)) < 0.6 for i, o in zip(widths[:-1], widths[1:])]
    net = ReLUNetwork.random(widths, seed=seed, masks=masks)
    path = tmp_path / "net.onnx"
    save(net, path)
    assert detect_format(path) == "onnx"
    back = load(path)
    assert back == net and (back.masks is None) == (masks is None)
    assert back.provenance.format == "onnx" and back.provenance.inferred is None
    X = rng.normal(size=(50, widths[0]))
    # onnxruntime computes in float64 on the saved graph: the same function
    np.testing.assert_allclose(_run(path, X)[0], net(X), rtol=1e-12, atol=1e-12)
    save(net, tmp_path / "again.onnx")
    assert (tmp_path / "again.onnx").read_bytes() == path.read_bytes()


class _Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(12, 16)
        self.bn = nn.BatchNorm1d(16)
        self.fc2 = nn.Linear(16, 8)
        self.bn2 = nn.BatchNorm1d(8)
        self.out = nn.Linear(8, 3)
        self.drop = nn.Dropout(0.3)

    def forward(self, x):
        x = x.view(x.size(0), -1)
        x = F.relu(self.bn(self.fc1(x)))
        x = self.drop(torch.relu(self.fc2(x)))
        return self.out(self.bn2(x))


def _randomize_bn(module):
    g = torch.Generator().manual_seed(1)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm1d):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.num_features, generator=g))
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.randn(m.num_features, generator=g))
                m.bias.copy_(torch.randn(m.num_features, generator=g))
    return module.eval()


@pytest.mark.parametrize("which", ["sequential", "custom"])
def test_torch_onnx_export_agrees_with_onnxruntime(tmp_path, which):
    torch.manual_seed(0)
    if which == "sequential":
        module = nn.Sequential(nn.Flatten(), nn.Linear(12, 10), nn.BatchNorm1d(10), nn.ReLU(), nn.Dropout(0.2),
                               nn.Linear(10, 10), nn.ReLU(), nn.Identity(), nn.Linear(10, 2))
    else:
        module = _Custom()
    _randomize_bn(module)
    path = tmp_path / "m.onnx"
    _export(module, path, 12)
    net = load(path)
    assert net.widths[0] == 12
    assert any("BatchNormalization" in n for n in net.provenance.notes)
    X = np.random.default_rng(0).normal(size=(200, 12)).astype(np.float32)
    ref = _run(path, X)[0]
    out = net(X)
    # the source computes in float32: agreement to float32 accuracy
    assert np.abs(out - ref).max() <= 1e-5 * max(1.0, np.abs(ref).max())
    with torch.no_grad():
        exact = module.double()(torch.from_numpy(X.astype(np.float64))).numpy()
    assert np.abs(out - exact).max() <= 1e-5 * max(1.0, np.abs(exact).max())


@pytest.mark.parametrize("n_classes", [2, 3])
def test_skl2onnx_mlp_classifier_agrees_with_onnxruntime(tmp_path, n_classes):
    skl2onnx = pytest.importorskip("skl2onnx")
    from sklearn.datasets import load_iris
    from sklearn.neural_network import MLPClassifier

    X, y = load_iris(return_X_y=True)
    y = y if n_classes == 3 else (y > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MLPClassifier(hidden_layer_sizes=(7, 5), max_iter=200, random_state=0).fit(X, y)
        model = skl2onnx.to_onnx(est, X[:1].astype(np.float32), options={id(est): {"zipmap": False}})
    path = tmp_path / "mlp.onnx"
    path.write_bytes(model.SerializeToString())
    net = load(path)
    assert any("output map" in n for n in net.provenance.notes)
    Xf = np.random.default_rng(1).normal(X.mean(0), X.std(0), size=(300, 4)).astype(np.float32)
    labels, proba = _run(path, Xf)
    logits = net(Xf)
    if n_classes == 2:
        p1 = 1.0 / (1.0 + np.exp(-logits[:, 0]))
        mine = np.column_stack([1 - p1, p1])
    else:
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        mine = e / e.sum(axis=1, keepdims=True)
    assert np.abs(mine - proba).max() <= 1e-5
    # the same network as from_sklearn(est) up to float32 rounding of the stored weights
    assert np.abs(logits - from_sklearn(est)(Xf)).max() <= 1e-5 * max(1.0, np.abs(logits).max())
    decided = np.abs(proba[:, 0] - 0.5) > 1e-4 if n_classes == 2 else np.sort(proba, 1)[:, -1] - np.sort(proba, 1)[:, -2] > 1e-4
    ours = (logits[:, 0] > 0).astype(int) if n_classes == 2 else logits.argmax(axis=1)
    assert (ours[decided] == labels[decided]).all()


def _graph(nodes, inits, d=3, k=2, out="y"):
    h, nh = onnx.helper, onnx.numpy_helper
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", onnx.TensorProto.DOUBLE, ["N", d])],
                     [h.make_tensor_value_info(out, onnx.TensorProto.DOUBLE, ["N", k])],
                     [nh.from_array(np.asarray(v, dtype=np.float64), n) for n, v in inits.items()])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def test_matmul_add_and_affine_input_scaling(tmp_path):
    rng = np.random.default_rng(0)
    h = onnx.helper
    inits = {"mu": rng.normal(size=3), "sd": rng.random(3) + 0.5, "W1": rng.normal(size=(3, 4)), "b1": rng.normal(size=4),
             "W2": rng.normal(size=(4, 2)), "b2": rng.normal(size=2)}
    nodes = [h.make_node("Sub", ["x", "mu"], ["c"]), h.make_node("Div", ["c", "sd"], ["s"]),
             h.make_node("MatMul", ["s", "W1"], ["m1"]), h.make_node("Add", ["m1", "b1"], ["a1"]),
             h.make_node("Relu", ["a1"], ["r1"]), h.make_node("MatMul", ["r1", "W2"], ["m2"]),
             h.make_node("Add", ["m2", "b2"], ["y"])]
    path = tmp_path / "g.onnx"
    onnx.save(_graph(nodes, inits), str(path))
    X = rng.normal(size=(40, 3))
    np.testing.assert_allclose(load(path)(X), _run(path, X)[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case, needle", [
    ("tanh", "node 'act' (Tanh) is not supported"),
    ("residual", "node 'res' (Add) combines two tensors"),
    ("two_matmuls", "node 'g2' (Gemm) follows"),
    ("relu_output", "not an affine layer"),
])
def test_unsupported_graphs_name_the_node(tmp_path, case, needle):
    rng = np.random.default_rng(0)
    h = onnx.helper
    inits = {"W": rng.normal(size=(3, 3)), "b": rng.normal(size=3), "V": rng.normal(size=(2, 3)), "c": np.zeros(2)}
    act = {"tanh": "Tanh"}.get(case, "Relu")
    nodes = [h.make_node("Gemm", ["x", "W", "b"], ["z"], name="g1", transB=1)]
    if case == "residual":
        nodes += [h.make_node("Relu", ["z"], ["r"], name="act"), h.make_node("Add", ["r", "x"], ["s"], name="res"),
                  h.make_node("Gemm", ["s", "V", "c"], ["y"], name="g2", transB=1)]
    elif case == "two_matmuls":
        nodes += [h.make_node("Gemm", ["z", "V", "c"], ["y"], name="g2", transB=1)]
    elif case == "relu_output":
        nodes += [h.make_node("Relu", ["z"], ["r"], name="r1"), h.make_node("Gemm", ["r", "V", "c"], ["q"], name="g2",
                                                                          transB=1),
                  h.make_node("Relu", ["q"], ["y"], name="act")]
    else:
        nodes += [h.make_node(act, ["z"], ["r"], name="act"), h.make_node("Gemm", ["r", "V", "c"], ["y"], name="g2", transB=1)]
    path = tmp_path / "bad.onnx"
    onnx.save(_graph(nodes, inits), str(path))
    with pytest.raises(Exception) as info:
        load(path)
    message = str(info.value)
    assert needle in message and str(path) in message and "\n" not in message
    if case == "tanh":  # the command line: one line and exit code 2
        proc = subprocess.run([sys.executable, "-m", "reluscope", "info", str(path)], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 2
        assert needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_conv_export_is_refused(tmp_path):
    module = nn.Sequential(nn.Conv1d(1, 2, 3), nn.Flatten(), nn.Linear(16, 1)).eval()
    path = tmp_path / "conv.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.randn(2, 1, 10),), str(path), dynamo=False)
    with pytest.raises(UnsupportedLayer, match=r"\(Conv\) is not supported"):
        load(path)


@pytest.mark.slow
def test_every_format_goes_through_analyze(tmp_path):
    """ONNX from torch and skl2onnx, a skops estimator and a DataParallel checkpoint: the
    `analyze` command reads each and states in the report how it was read."""
    skl2onnx = pytest.importorskip("skl2onnx")
    sio = pytest.importorskip("skops.io")
    from typer.testing import CliRunner
    from sklearn.datasets import load_wine
    from sklearn.neural_network import MLPClassifier

    from reluscope.cli import app

    X, y = load_wine(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MLPClassifier(hidden_layer_sizes=(6,), max_iter=100, random_state=0).fit(X, y)
        onx = skl2onnx.to_onnx(est, X[:1].astype(np.float32), options={id(est): {"zipmap": False}})
    (tmp_path / "sk.onnx").write_bytes(onx.SerializeToString())
    sio.dump(est, tmp_path / "est.skops")
    _export(_randomize_bn(nn.Sequential(nn.Linear(13, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3))),
            tmp_path / "torch.onnx", 13)
    dp = nn.DataParallel(nn.Sequential(nn.Linear(13, 6), nn.ReLU(), nn.Linear(6, 3)))
    torch.save({"model_state_dict": dp.state_dict(), "epoch": 1}, tmp_path / "ckpt.pt")
    expected = {"sk.onnx": "output map Softmax", "est.skops": "skops", "torch.onnx": "BatchNormalization",
                "ckpt.pt": "architecture inferred from a state dict"}
    for name, needle in expected.items():
        out = tmp_path / f"report-{name}"
        result = CliRunner().invoke(app, ["analyze", str(tmp_path / name), "--time-limit", "1", "--sections",
                                          "network,degeneracies", "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert needle in (out / "report.md").read_text()


@pytest.mark.slow
def test_default_dynamo_exporter_with_external_data(tmp_path, monkeypatch):
    """torch.onnx.export's default (torch.export-based) exporter writes the weights to an
    external data file beside the model; reluscope reads it from any working directory."""
    pytest.importorskip("onnxscript")
    import logging

    module = _randomize_bn(_Custom())
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (torch.randn(4, 12),), str(tmp_path / "dyn.onnx"), input_names=["x"],
                              dynamic_shapes={"x": {0: torch.export.Dim("n")}}, verbose=False)
    finally:
        logging.disable(logging.NOTSET)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    net = load(tmp_path / "dyn.onnx")
    X = np.random.default_rng(2).normal(size=(100, 12)).astype(np.float32)
    ref = _run(tmp_path / "dyn.onnx", X)[0]
    assert np.abs(net(X) - ref).max() <= 1e-5 * max(1.0, np.abs(ref).max())


def test_corrupted_and_hostile_onnx_files(tmp_path):
    from reluscope import ModelFileError

    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x07\x12\x05hello" + bytes(range(256)))
    with pytest.raises(ModelFileError, match="junk.onnx: corrupted ONNX file"):
        load(junk)
    net = ReLUNetwork.random((3, 4, 2), seed=0)
    save(net, tmp_path / "ok.onnx")
    model = onnx.load(str(tmp_path / "ok.onnx"))
    w = onnx.numpy_helper.to_array(model.graph.initializer[0]).copy()
    w[1, 2] = np.nan
    model.graph.initializer[0].CopyFrom(onnx.numpy_helper.from_array(w, model.graph.initializer[0].name))
    onnx.save(model, str(tmp_path / "nan.onnx"))
    with pytest.raises(ModelFileError, match=r"nan.onnx: layer 1 weight .* non-finite value nan at index \(1, 2\)"):
        load(tmp_path / "nan.onnx")
    h = onnx.helper
    two = _graph([h.make_node("Add", ["x", "x2"], ["y"])], {})
    two.graph.input.append(h.make_tensor_value_info("x2", onnx.TensorProto.DOUBLE, ["N", 3]))
    onnx.save(two, str(tmp_path / "two.onnx"))
    with pytest.raises(ModelFileError, match="exactly one data input"):
        load(tmp_path / "two.onnx")


def test_skl2onnx_default_zipmap_and_regressor(tmp_path):
    skl2onnx = pytest.importorskip("skl2onnx")
    from sklearn.datasets import load_iris
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    X, y = load_iris(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=50, random_state=0).fit(X, y)
        reg = MLPRegressor(hidden_layer_sizes=(5,), max_iter=50, random_state=0).fit(X, X[:, 0])
        (tmp_path / "clf.onnx").write_bytes(skl2onnx.to_onnx(clf, X[:1].astype(np.float32)).SerializeToString())
        (tmp_path / "reg.onnx").write_bytes(skl2onnx.to_onnx(reg, X[:1].astype(np.float32)).SerializeToString())
    assert np.abs(load(tmp_path / "clf.onnx")(X) - from_sklearn(clf)(X)).max() <= 1e-5 * np.abs(from_sklearn(clf)(X)).max()
    out = load(tmp_path / "reg.onnx")(X.astype(np.float32))[:, 0]
    ref = _run(tmp_path / "reg.onnx", X.astype(np.float32))[0].ravel()
    assert np.abs(out - ref).max() <= 1e-5 * max(1.0, np.abs(ref).max())


@pytest.mark.slow
def test_random_affine_chains_agree_with_onnxruntime(tmp_path):
    """Rule 1 of docs/background/model-import.md: random float64 graphs of affine operations
    (Gemm, MatMul + Add, Sub, Mul, Div, BatchNormalization, constant - x) between Relus read
    as the function onnxruntime computes."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    h = onnx.helper

    @settings(max_examples=30, deadline=None)
    @given(seed=st.integers(0, 2**31 - 1), depth=st.integers(1, 3), data=st.data())
    def check(seed, depth, data):
        rng = np.random.default_rng(seed)
        d = int(rng.integers(1, 5))
        nodes, inits, cur, n, count = [], {}, "x", d, [0]

        def name(prefix):
            count[0] += 1
            return f"{prefix}{count[0]}"

        def vec(size, positive=False):
            key = name("c")
            inits[key] = rng.random(size) + 0.5 if positive else rng.normal(size=size)
            return key

        def elementwise(cur, n):
            op = data.draw(st.sampled_from(["Add", "Sub", "Mul", "Div", "RSub", "BN"]))
            out = name("v")
            if op == "BN":
                args = [cur, vec(n), vec(n), vec(n), vec(n, positive=True)]
                nodes.append(h.make_node("BatchNormalization", args, [out], epsilon=1e-3))
            elif op == "RSub":
                nodes.append(h.make_node("Sub", [vec(n), cur], [out]))
            else:
                nodes.append(h.make_node(op, [cur, vec(n, positive=op == "Div")], [out]))
            return out

        for layer in range(depth):
            for _ in range(data.draw(st.integers(0, 2))):
                cur = elementwise(cur, n)
            m = int(rng.integers(1, 5))
            out = name("v")
            if data.draw(st.booleans()):
                key = name("W")
                inits[key] = rng.normal(size=(m, n))
                nodes.append(h.make_node("Gemm", [cur, key, vec(m)], [out], transB=1, alpha=0.5, beta=2.0))
            else:
                key, mid = name("W"), name("v")
                inits[key] = rng.normal(size=(n, m))
                nodes += [h.make_node("MatMul", [cur, key], [mid]), h.make_node("Add", [mid, vec(m)], [out])]
            cur, n = out, m
            for _ in range(data.draw(st.integers(0, 1))):
                cur = elementwise(cur, n)
            if layer < depth - 1:
                relu = name("v")
                nodes.append(h.make_node("Relu", [cur], [relu]))
                cur = relu
        nodes.append(h.make_node("Identity", [cur], ["y"]))
        path = tmp_path / f"chain{seed}.onnx"
        onnx.save(_graph(nodes, inits, d=d, k=n), str(path))
        X = rng.normal(size=(40, d))
        ref = _run(path, X)[0]
        assert np.abs(load(path)(X) - ref).max() <= 1e-9 * max(1.0, np.abs(ref).max())

    check()
