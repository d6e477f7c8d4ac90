"""ONNX normalization folding (issue 25): the VNN-COMP 2021 networks (ACAS Xu with its
``Sub`` on an ``(N, 1, 1, 5)`` input before ``Flatten``, mnistfc with ``Flatten`` of an
``(N, 784, 1)`` input) read as the function onnxruntime computes; normalization constants
of any feature shape before or after ``Flatten`` / ``Reshape`` fold exactly (Rules 1 and 6 of
docs/background/model-import.md, checked here against onnxruntime in float64 on random graphs).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from reluscope import UnsupportedLayer, load

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "vnncomp2021"
NETWORKS = sorted(BENCH.glob("*/*.onnx"))


def _run(path, X):
    """onnxruntime's output for each row of ``X``, fed one at a time in the model's declared
    input shape (batch 1: some benchmark models fix it)."""
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    dtype = np.float64 if inp.type == "tensor(double)" else np.float32
    return np.array([sess.run(None, {inp.name: x.reshape(shape).astype(dtype)})[0].reshape(-1) for x in X])


def test_the_vendored_benchmark_networks_are_all_there():
    assert len([p for p in NETWORKS if p.name.startswith("ACASXU_run2a_")]) == 45
    assert sorted(p.name for p in NETWORKS if p.parent.name == "mnistfc") == [
        "mnist-net_256x2.onnx", "mnist-net_256x4.onnx", "mnist-net_256x6.onnx"]


@pytest.mark.parametrize("path", NETWORKS, ids=lambda p: p.stem)
def test_vnncomp_networks_agree_with_onnxruntime(path):
    net = load(path)
    acas = path.parent.name == "acasxu"
    assert net.widths == ((5, 50, 50, 50, 50, 50, 50, 5) if acas else (784, *net.hidden_widths, 10))
    rng = np.random.default_rng(len(path.name))
    # inputs on the float32 grid: onnxruntime computes in float32, reluscope in float64 on the same values
    X = (rng.uniform(-0.5, 0.5, (16, 5)) if acas else rng.uniform(0.0, 1.0, (16, 784))).astype(np.float32)
    ref = _run(path, X)
    got = net(X.astype(np.float64))
    # float32 accumulation over up to 784 terms: relative error far below 1e-4 of the output scale
    assert np.abs(got - ref).max() <= 2e-5 * max(1.0, np.abs(ref).max())
    assert (got.argmax(axis=1) == ref.argmax(axis=1)).mean() >= 0.9  # ties at float32 precision are rare


def _model(nodes, inits, in_shape, out_shape):
    h, nh = onnx.helper, onnx.numpy_helper
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", onnx.TensorProto.DOUBLE, in_shape)],
                     [h.make_tensor_value_info("y", onnx.TensorProto.DOUBLE, out_shape)],
                     [nh.from_array(np.asarray(v, dtype=np.float64), n) for n, v in inits.items()])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def test_acasxu_style_normalization_before_flatten_folds_exactly(tmp_path):
    """``(x - mean) / range`` on an ``(N, 1, 1, 5)`` tensor, then Flatten, MatMul + Add, Relu,
    Gemm, then an output scaling ``y * s + m`` (a Constant node) and Identity: the same
    function in float64 as onnxruntime's."""
    rng = np.random.default_rng(1)
    h = onnx.helper
    inits = {"mean": rng.normal(size=(1, 1, 1, 5)), "range": rng.random((1, 1, 1, 5)) + 0.5,
             "W1": rng.normal(size=(5, 7)), "b1": rng.normal(size=7), "W2": rng.normal(size=(3, 7)),
             "b2": rng.normal(size=3), "s": np.array(7.5)}
    const = onnx.numpy_helper.from_array(rng.normal(size=(1, 3)), "m")
    nodes = [h.make_node("Sub", ["x", "mean"], ["c"], name="input_Sub"),
             h.make_node("Div", ["c", "range"], ["n"], name="input_Div"),
             h.make_node("Flatten", ["n"], ["f"], axis=1),
             h.make_node("MatMul", ["f", "W1"], ["m1"]), h.make_node("Add", ["m1", "b1"], ["a1"]),
             h.make_node("Relu", ["a1"], ["r1"]),
             h.make_node("Gemm", ["r1", "W2", "b2"], ["z"], transB=1),
             h.make_node("Constant", [], ["mconst"], value=const),
             h.make_node("Mul", ["z", "s"], ["zs"]), h.make_node("Add", ["zs", "mconst"], ["za"]),
             h.make_node("Identity", ["za"], ["y"])]
    path = tmp_path / "acas_like.onnx"
    onnx.save(_model(nodes, inits, ["N", 1, 1, 5], ["N", 3]), str(path))
    X = rng.normal(size=(50, 5))
    np.testing.assert_allclose(load(path)(X), _run(path, X), rtol=1e-12, atol=1e-12)


def test_matmul_on_unit_leading_dims_and_reshapes(tmp_path):
    """MatMul applied directly to ``(N, 1, 1, 5)`` (as some exporters leave it), Reshape to
    ``(N, 1, 1, k)`` and back to ``(-1, k)``: no-ops on the flat features."""
    rng = np.random.default_rng(2)
    h = onnx.helper
    inits = {"W1": rng.normal(size=(5, 6)), "b1": rng.normal(size=6), "W2": rng.normal(size=(6, 2)),
             "b2": rng.normal(size=2), "shape4": np.array([1, 1, 1, 6]), "shape2": np.array([-1, 6]),
             "k": rng.random(5) + 0.5}
    inits_int = {"shape4", "shape2"}
    nodes = [h.make_node("Mul", ["x", "k"], ["xs"]),
             h.make_node("MatMul", ["xs", "W1"], ["m1"]), h.make_node("Add", ["m1", "b1"], ["a1"]),
             h.make_node("Reshape", ["a1", "shape4"], ["r4"]), h.make_node("Relu", ["r4"], ["r"]),
             h.make_node("Reshape", ["r", "shape2"], ["r2"]),
             h.make_node("MatMul", ["r2", "W2"], ["m2"]), h.make_node("Add", ["m2", "b2"], ["y"])]
    model = _model(nodes, {k: v for k, v in inits.items() if k not in inits_int}, [1, 1, 1, 5], [1, 2])
    model.graph.initializer.extend(onnx.numpy_helper.from_array(inits[k].astype(np.int64), k) for k in inits_int)
    path = tmp_path / "reshapes.onnx"
    onnx.save(model, str(path))
    X = rng.normal(size=(20, 5))
    np.testing.assert_allclose(load(path)(X), _run(path, X), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("const_shape", [(3,), (1, 3), (1, 1, 3), (2, 1, 3)])
def test_constant_that_does_not_broadcast_over_the_features_is_named(tmp_path, const_shape):
    """A constant broadcasting to a larger tensor (it would change the shape) or of a
    mismatched width is refused in one line naming the node."""
    h = onnx.helper
    inits = {"k": np.ones(const_shape), "W": np.ones((2, 4)), "b": np.zeros(2)}
    nodes = [h.make_node("Sub", ["x", "k"], ["c"], name="norm"), h.make_node("Flatten", ["c"], ["f"]),
             h.make_node("Gemm", ["f", "W", "b"], ["y"], transB=1)]
    path = tmp_path / "bad.onnx"
    onnx.save(_model(nodes, inits, ["N", 1, 4], ["N", 2]), str(path))
    with pytest.raises(UnsupportedLayer) as info:
        load(path)
    message = str(info.value)
    assert "node 'norm' (Sub)" in message and str(path) in message and "\n" not in message


def test_random_normalizations_around_flatten_agree_with_onnxruntime(tmp_path):
    """Rules 1 and 6 on random graphs: Add/Sub/Mul/Div (and constant - x) by constants of every
    broadcastable shape on a random multi-dimensional input, Flatten or Reshape, affine
    layers, and normalizations after the last layer."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    h = onnx.helper

    @settings(max_examples=25, deadline=None)
    @given(seed=st.integers(0, 2**31 - 1), data=st.data())
    def check(seed, data):
        rng = np.random.default_rng(seed)
        feats = data.draw(st.sampled_from([(5,), (1, 4), (2, 3), (1, 1, 3), (2, 1, 2)]))
        width = int(np.prod(feats))
        inits, nodes, count = {}, [], [0]

        def name(prefix):
            count[0] += 1
            return f"{prefix}{count[0]}"

        def normalize(cur, shape):
            op = data.draw(st.sampled_from(["Add", "Sub", "Mul", "Div", "RSub"]))
            # a broadcastable constant shape: a suffix of (1, *shape), some dims set to 1
            full = (1, *shape)
            cut = data.draw(st.integers(0, len(full)))
            cshape = tuple(1 if data.draw(st.booleans()) else s for s in full[cut:])
            key, out = name("k"), name("v")
            inits[key] = rng.random(cshape) + 0.5 if op == "Div" else rng.normal(size=cshape)
            nodes.append(h.make_node("Sub", [key, cur], [out]) if op == "RSub" else h.make_node(op, [cur, key], [out]))
            return out

        cur = "x"
        for _ in range(data.draw(st.integers(1, 3))):
            cur = normalize(cur, feats)
        flat = name("v")
        if data.draw(st.booleans()):
            nodes.append(h.make_node("Flatten", [cur], [flat], axis=1))
        else:
            key = name("s")
            inits[key] = np.array([-1, width])
            nodes.append(h.make_node("Reshape", [cur, key], [flat]))
        for _ in range(data.draw(st.integers(0, 2))):
            flat = normalize(flat, (width,))
        w1, b1, w2, b2 = name("W"), name("b"), name("W"), name("b")
        inits.update({w1: rng.normal(size=(4, width)), b1: rng.normal(size=4), w2: rng.normal(size=(2, 4)),
                      b2: rng.normal(size=2)})
        nodes += [h.make_node("Gemm", [flat, w1, b1], ["z1"], transB=1), h.make_node("Relu", ["z1"], ["r1"]),
                  h.make_node("Gemm", ["r1", w2, b2], ["z2"], transB=1)]
        cur = "z2"
        for _ in range(data.draw(st.integers(0, 2))):
            cur = normalize(cur, (2,))
        nodes.append(h.make_node("Identity", [cur], ["y"]))
        model = _model(nodes, {k: v for k, v in inits.items() if not k.startswith("s")}, ["N", *feats], ["N", 2])
        model.graph.initializer.extend(
            onnx.numpy_helper.from_array(v.astype(np.int64), k) for k, v in inits.items() if k.startswith("s"))
        path = tmp_path / f"g{seed}.onnx"
        onnx.save(model, str(path))
        X = rng.normal(size=(30, width))
        ref = _run(path, X)
        assert np.abs(load(path)(X) - ref).max() <= 1e-9 * max(1.0, np.abs(ref).max())

    check()
