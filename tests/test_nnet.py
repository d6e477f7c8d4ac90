"""NNet files (issue 25): reluscope.load computes what the format's reference evaluator
computes on raw inputs inside the file's min/max box (checked against an evaluator written
here from the format description), the box is the default domain, the normalization is in
``reluscope info``; save -> load is exact; malformed files fail in one line naming the line.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reluscope import Box, ModelFileError, ReLUNetwork, load, save
from reluscope.io import detect_format


def _write_nnet(path, weights, biases, lo, hi, mean, rng, header=("// test network",)):
    """An NNet file written from the format description (sisl/NNet README): header lines,
    sizes, layer sizes, unused flag, min, max, means, ranges, then per layer one line per
    neuron's weights followed by one line per bias."""
    sizes = [weights[0].shape[1]] + [w.shape[0] for w in weights]
    row = lambda v: ",".join(f"{x:.17g}" for x in np.ravel(v)) + ","  # noqa: E731
    lines = [*header, f"{len(weights)},{sizes[0]},{sizes[-1]},{max(sizes)},", row(sizes), "0,",
             row(lo), row(hi), row(mean), row(rng)]
    for W, b in zip(weights, biases):
        lines += [row(r) for r in W] + [f"{x:.17g}," for x in b]
    path.write_text("\n".join(lines) + "\n")


def _reference(X, weights, biases, lo, hi, mean, rng):
    """The NNet reference evaluator: clip to [min, max], normalize, ReLU layers, un-normalize."""
    U = (np.clip(X, lo, hi) - mean[:-1]) / rng[:-1]
    for W, b in zip(weights[:-1], biases[:-1]):
        U = np.maximum(U @ W.T + b, 0.0)
    return (U @ weights[-1].T + biases[-1]) * rng[-1] + mean[-1]


def _random_file(seed, tmp_path):
    r = np.random.default_rng(seed)
    d, depth = int(r.integers(1, 6)), int(r.integers(1, 4))
    sizes = [d] + [int(r.integers(1, 7)) for _ in range(depth - 1)] + [int(r.integers(1, 4))]
    weights = [r.normal(size=(sizes[i + 1], sizes[i])) for i in range(depth)]
    biases = [r.normal(size=sizes[i + 1]) for i in range(depth)]
    lo = r.normal(size=d) * 100
    hi = lo + r.random(d) * 1000 + 1e-3
    mean = r.normal(size=d + 1) * 50
    rng = r.random(d + 1) * 500 + 0.1
    path = tmp_path / f"net{seed}.nnet"
    _write_nnet(path, weights, biases, lo, hi, mean, rng)
    return path, (weights, biases, lo, hi, mean, rng)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_load_equals_the_reference_evaluator_inside_the_box(tmp_path_factory, seed):
    path, params = _random_file(seed, tmp_path_factory.mktemp("nnet"))
    net = load(path)
    weights, biases, lo, hi, mean, rng = params
    assert detect_format(path) == "nnet"
    assert net.widths == (weights[0].shape[1], *[w.shape[0] for w in weights])
    assert net.provenance.format == "nnet" and net.provenance.domain == Box(lo, hi)
    X = np.random.default_rng(seed).uniform(lo, hi, size=(200, len(lo)))
    X = np.vstack([X, lo, hi])  # the box's corners are inside too
    ref = _reference(X, *params)
    assert np.abs(net(X) - ref).max() <= 1e-10 * max(1.0, np.abs(ref).max())


def test_outside_the_box_the_reference_clips_and_the_network_does_not(tmp_path):
    """The default domain matters: outside it the file's evaluator clips its inputs."""
    path = tmp_path / "line.nnet"
    _write_nnet(path, [np.array([[2.0]])], [np.array([1.0])], np.array([0.0]), np.array([1.0]),
                np.array([0.5, 3.0]), np.array([2.0, 10.0]))
    net = load(path)
    # y = 10 * (2 * (x - 0.5) / 2 + 1) + 3 = 10 x + 8 on raw inputs
    np.testing.assert_allclose(net(np.array([[0.0], [0.25], [1.0]])).ravel(), [8.0, 10.5, 18.0], rtol=1e-15)
    params = ([np.array([[2.0]])], [np.array([1.0])], np.array([0.0]), np.array([1.0]), np.array([0.5, 3.0]),
              np.array([2.0, 10.0]))
    assert _reference(np.array([[5.0]]), *params)[0, 0] == pytest.approx(18.0)  # clipped to x = 1
    assert net(np.array([[5.0]]))[0, 0] == pytest.approx(58.0)


@settings(max_examples=25, deadline=None)
@given(widths=st.lists(st.integers(1, 6), min_size=2, max_size=5), seed=st.integers(0, 2**31 - 1),
       scale=st.sampled_from([1e-300, 1e-8, 1.0, 1e12, 1e300]))
def test_save_then_load_is_bit_exact(tmp_path_factory, widths, seed, scale):
    base = ReLUNetwork.random(tuple(widths), seed=seed)
    net = ReLUNetwork([w * scale for w in base.weights], [b / scale for b in base.biases])
    path = tmp_path_factory.mktemp("rt") / "a.nnet"
    save(net, path)
    back = load(path)
    assert back == net  # bit for bit: identity normalization, shortest round-trip decimals
    assert back.provenance.domain is None  # written without a box: +-max float, read back as no domain


def test_save_then_load_keeps_the_domain(tmp_path):
    path, params = _random_file(11, tmp_path)
    loaded = load(path)
    save(loaded, tmp_path / "b.nnet")
    again = load(tmp_path / "b.nnet")
    assert again == loaded and again.provenance.domain == loaded.provenance.domain
    lo, hi = params[2], params[3]
    X = np.random.default_rng(0).uniform(lo, hi, size=(50, len(lo)))
    np.testing.assert_array_equal(again(X), loaded(X))


def test_a_masked_network_is_saved_without_masks_but_computes_the_same(tmp_path):
    net = ReLUNetwork.random((3, 4, 2), seed=5)
    masks = [np.abs(w) > 0.5 for w in net.weights]
    pruned = ReLUNetwork([w * m for w, m in zip(net.weights, masks)], net.biases, masks)
    save(pruned, tmp_path / "p.nnet")
    back = load(tmp_path / "p.nnet")
    X = np.random.default_rng(1).normal(size=(30, 3))
    np.testing.assert_array_equal(back(X), pruned(X))


def test_info_shows_the_normalization_and_the_domain(tmp_path):
    path, params = _random_file(7, tmp_path)
    proc = subprocess.run([sys.executable, "-m", "reluscope", "info", str(path), "--json"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert info["format"] == "nnet"
    assert np.allclose(info["domain"]["lo"], params[2], rtol=0, atol=0)
    assert np.allclose(info["domain"]["hi"], params[3], rtol=0, atol=0)
    norm = [line for line in info["provenance"] if "normalization" in line]
    assert norm and repr(float(params[5][-1])) in norm[0]  # the output range, exactly
    text = subprocess.run([sys.executable, "-m", "reluscope", "info", str(path)], capture_output=True, text=True,
                          timeout=120)
    assert text.returncode == 0 and "NNet normalization" in text.stdout and "domain" in text.stdout


@pytest.mark.parametrize("mutate, needle", [
    (lambda ls: ls[:8], "ends early"),
    (lambda ls: ls[:2] + ["3,4,5,"] + ls[3:], "layer sizes"),
    (lambda ls: ls[:9] + ["1.0,abc,2.0,"] + ls[10:], "'abc' is not a number"),
    (lambda ls: ls[:9] + ["1.0,"] + ls[10:], "values expected"),
    (lambda ls: ls[:7] + ["1,1,"] + ls[8:], "values expected"),
    (lambda ls: ls[:4] + ["2,0,"] + ls[5:], "above its maximum"),
    (lambda ls: ls + ["1.0,"], "unexpected data"),
])
def test_malformed_files_fail_in_one_line_naming_the_line(tmp_path, mutate, needle):
    path = tmp_path / "ok.nnet"
    _write_nnet(path, [np.ones((2, 2)), np.ones((1, 2))], [np.zeros(2), np.zeros(1)], np.zeros(2), np.ones(2),
                np.zeros(3), np.full(3, 2.0))
    lines = path.read_text().splitlines()
    bad = tmp_path / "bad.nnet"
    bad.write_text("\n".join(mutate(lines)) + "\n")
    with pytest.raises(ModelFileError) as info:
        load(bad)
    message = str(info.value)
    assert needle in message and str(bad) in message and "\n" not in message


def test_zero_range_is_refused(tmp_path):
    path = tmp_path / "z.nnet"
    _write_nnet(path, [np.ones((1, 2))], [np.zeros(1)], np.zeros(2), np.ones(2), np.zeros(3), np.array([1.0, 0.0, 1.0]))
    with pytest.raises(ModelFileError, match=r"line 8: range 1 is 0"):
        load(path)


@pytest.mark.parametrize("suffix", [".npz", ".safetensors", ".onnx"])
def test_the_domain_survives_saving_in_reluscope_formats(tmp_path, suffix):
    path, params = _random_file(13, tmp_path)
    net = load(path)
    save(net, tmp_path / f"copy{suffix}")
    back = load(tmp_path / f"copy{suffix}")
    assert back == net and back.provenance.domain == Box(params[2], params[3])
    assert any("NNet normalization" in n for n in back.provenance.notes)


def test_the_declared_box_is_the_default_domain_of_analyses(tmp_path):
    """Without --domain, inspect and analyze work on the box the NNet file declares."""
    from reluscope.report import analyze

    path, params = _random_file(11, tmp_path)
    net = load(path)
    analyze(net, tmp_path / "report", time_limit=20, sections=("network",))
    lo, hi = params[2], params[3]
    text = (tmp_path / "report" / "report.json").read_text()
    assert "the model file declares" in text  # the reason for the domain is stated
    assert f"[{lo[0]:.6g}, {hi[0]:.6g}]" in json.loads(text)["domain"]
    proc = subprocess.run([sys.executable, "-m", "reluscope", "inspect", str(path), "--json", "--time-limit", "0"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    dom = json.loads(proc.stdout)["domain"]
    assert np.allclose(dom["lo"], lo, rtol=1e-12) and np.allclose(dom["hi"], hi, rtol=1e-12)
