"""The bundled examples: each loads, matches its sidecar (checksum, widths, pruning,
recorded accuracies on its recomputed data set and split), and `analyze --example` /
`--list-examples` / `info --example` reach them; regeneration is byte-identical."""

from __future__ import annotations

import hashlib
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
    pred = net(X).argmax(axis=1)
    assert (pred[test] == y[test]).mean() == pytest.approx(info["accuracy"]["test"], abs=1e-12)
    assert (pred[~test] == y[~test]).mean() == pytest.approx(info["accuracy"]["train"], abs=1e-12)
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
def test_make_example_is_byte_reproducible(tmp_path):
    pytest.importorskip("torch")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_example.py"), "--out-dir", str(tmp_path),
                    "--only", "digits_mlp"], check=True, capture_output=True, timeout=600)
    for suffix in (".safetensors", ".json"):
        assert (tmp_path / f"digits_mlp{suffix}").read_bytes() == example_path("digits_mlp").with_suffix(suffix).read_bytes()


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
