"""The bundled examples: each loads, matches its sidecar (checksum, widths, pruning,
recorded accuracies on its recomputed data set and split), and `analyze --example` /
`--list-examples` / `info --example` reach them; regeneration is bit-identical on one
machine and equal up to float rounding (a stated tolerance) across machines."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from reluscope import ModelFileError
from reluscope.cli import app
from reluscope.io import example_dataset, example_info, example_names, example_path, example_test_mask, load_example

pytest.importorskip("sklearn")
ROOT = Path(__file__).resolve().parents[1]
EXPECTED = {"pruned_mlp": ((30, 16, 16, 2), 0.5), "digits_mlp": ((64, 128, 64, 10), 0.2),
            "digits28_mlp": ((784, 300, 100, 10), 0.1)}


def test_examples_are_listed():
    assert set(EXPECTED) <= set(example_names())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_matches_its_sidecar(name):
    info = example_info(name)
    path = example_path(name)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == info["sha256"]
    assert path.stat().st_size < 1_500_000
    net = load_example(name)
    widths, density = EXPECTED[name]
    assert net.widths == widths == tuple(info["widths"])
    allowed = sum(int(m.sum()) for m in net.masks) / sum(m.size for m in net.masks)
    assert abs(allowed - density) < 1e-3  # the recorded pruning amount (global or per layer)
    X, y = example_dataset(name)
    assert X.shape == (info["dataset"]["n_samples"], widths[0])
    test = example_test_mask(name)
    assert test.sum() == int(np.ceil(0.25 * len(y)))
    logits = net(X)
    pred = logits.argmax(axis=1)
    # a sample whose two top logits are within rounding of each other may be classified
    # either way by another BLAS; each such tie may move the count by one (usually none)
    top2 = np.sort(logits, axis=1)[:, -2:]
    ties = (top2[:, 1] - top2[:, 0]) <= 1e-9 * np.maximum(1.0, np.abs(top2).max(axis=1))
    for part, rows in (("test", test), ("train", ~test)):
        correct = int((pred[rows] == y[rows]).sum())
        recorded = info["accuracy"][part] * rows.sum()
        assert abs(correct - recorded) <= ties[rows].sum() + 1e-6, part
    assert info["accuracy"]["test"] > 0.9


def test_upsampled_digits_are_the_8x8_digits_in_blocks():
    X28, y28 = example_dataset("digits28_mlp")
    X8, y8 = example_dataset("digits_mlp")
    assert (y28 == y8).all()
    imgs = X28.reshape(-1, 28, 28)
    assert (imgs[:, :2] == 0).all() and (imgs[:, :, -2:] == 0).all()
    np.testing.assert_array_equal(imgs[:, 2:26:3, 2:26:3].reshape(len(X8), 64), X8)
    np.testing.assert_array_equal(imgs[:, 4:26:3, 3:26:3].reshape(len(X8), 64), X8)


def test_unknown_example_is_one_line():
    with pytest.raises(ModelFileError, match="no bundled example named 'nope'; available"):
        example_path("nope")


def test_cli_list_examples_and_info_example():
    runner = CliRunner()
    listed = runner.invoke(app, ["analyze", "--list-examples"])
    assert listed.exit_code == 0
    for name in EXPECTED:
        assert f"{name}: " in listed.output
    info = runner.invoke(app, ["info", "--example", "digits_mlp", "--json"])
    assert info.exit_code == 0 and '"widths": [\n    64,' in info.output


@pytest.mark.slow
def test_analyze_example_runs(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "reluscope", "analyze", "--example", "digits_mlp", "--time-limit", "1",
                           "--sections", "network,degeneracies", "-o", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "the bundled example digits_mlp" in proc.stdout
    assert "digits_mlp" in (tmp_path / "r" / "report.md").read_text()


@pytest.mark.slow
def test_make_example_is_deterministic_and_reproduces_the_stored_example(tmp_path):
    """Regeneration is bit-identical within one process (one thread, fixed seed, deterministic
    algorithms), and matches the stored example up to floating-point rounding: float training
    is not bit-identical across CPUs and BLAS kernels (observed: weights differ by ~1e-13
    after the 500 Adam steps), so across machines the weights must agree to 1e-7 relative
    to each layer's largest weight, the pruning masks and accuracies exactly, the recorded
    losses to 1e-6 relative. A changed script (seed, data, steps, pruning) moves them by O(1)."""
    pytest.importorskip("torch")
    import reluscope

    runs = [tmp_path / "a", tmp_path / "b"]
    code = ("import runpy, sys; from pathlib import Path; m = runpy.run_path(sys.argv[1]); "
            "[m['make']('digits_mlp', Path(d)) for d in sys.argv[2:]]")
    proc = subprocess.run([sys.executable, "-c", code, str(ROOT / "scripts" / "make_example.py"), *map(str, runs)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    for suffix in (".safetensors", ".json"):  # same process, same machine: the same bytes
        assert (runs[0] / f"digits_mlp{suffix}").read_bytes() == (runs[1] / f"digits_mlp{suffix}").read_bytes()
    made, stored = reluscope.load(runs[0] / "digits_mlp.safetensors"), load_example("digits_mlp")
    assert made.widths == stored.widths
    for l, (Wm, Ws, mm, ms, bm, bs) in enumerate(zip(made.weights, stored.weights, made.masks, stored.masks,
                                                     made.biases, stored.biases)):
        np.testing.assert_array_equal(mm, ms, err_msg=f"layer {l}: pruning mask")
        scale = float(np.abs(Ws).max())
        np.testing.assert_allclose(Wm, Ws, rtol=0, atol=1e-7 * scale, err_msg=f"layer {l}: weights")
        np.testing.assert_allclose(bm, bs, rtol=0, atol=1e-7 * max(scale, float(np.abs(bs).max())),
                                   err_msg=f"layer {l}: biases")
    new_info, old_info = (json.loads((runs[0] / "digits_mlp.json").read_text()), example_info("digits_mlp"))
    assert new_info["accuracy"] == old_info["accuracy"]
    for key in ("final_loss_dense", "final_loss_pruned"):
        assert new_info["training"][key] == pytest.approx(old_info["training"][key], rel=1e-6)
    drop = ("training", "accuracy", "sha256")  # everything else (data set, split, preprocessing) verbatim
    assert {k: v for k, v in new_info.items() if k not in drop} == {k: v for k, v in old_info.items() if k not in drop}
    same = [k for k in old_info["training"] if not k.startswith("final_loss") and k != "framework"]  # torch's build tag varies
    assert {k: new_info["training"][k] for k in same} == {k: old_info["training"][k] for k in same}


def test_report_compares_each_network_by_its_own_loss(tmp_path):
    """The constructive section reports the model's cross-entropy (the loss of a classifier
    with one logit per class), not a squared error of its logits against one-hot targets."""
    from sklearn.metrics import log_loss

    from reluscope.report import analyze

    net = load_example("pruned_mlp")
    X, y = example_dataset("pruned_mlp")
    report = analyze(net, tmp_path / "r", X=X, y=y, held_out=example_test_mask("pruned_mlp"), time_limit=1,
                     sections=("constructive",), quiet=True)
    logits = net(X)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    assert report.sections["constructive"]["model_cross_entropy"] == pytest.approx(log_loss(y, p), rel=1e-9)
    text = report.markdown.read_text()
    assert "cross-entropy of the softmax of the outputs" in text
    row = next(line for line in text.splitlines() if line.startswith("| mean squared error against one-hot"))
    assert row.split("|")[2].strip() == "—"  # no squared error of the model's logits


@pytest.mark.parametrize("how", ["data", "given", "default"])
def test_report_states_why_its_domain_was_chosen(tmp_path, how):
    from reluscope import Box
    from reluscope.report import analyze

    net = load_example("pruned_mlp")
    X, y = example_dataset("pruned_mlp")
    kwargs = {"data": {"X": X, "y": y}, "given": {"domain": Box(-2 * np.ones(30), 2 * np.ones(30))},
              "default": {}}[how]
    report = analyze(net, tmp_path / "r", time_limit=1, sections=("network",), quiet=True, **kwargs)
    reason = report.sections["network"]["domain_reason"]
    expected = {"data": "bounding box of the given data", "given": "given by the caller", "default": "[-1, 1]^d"}[how]
    assert expected in reason and reason in report.markdown.read_text()
