"""`reluscope analyze` on the command line: files, summary, bad input as one line + exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import reluscope
import reluscope.report
from reluscope.cli import app

from test_report import degenerate_network


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reluscope", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


# The --time-limit values are ceilings far above what these sections need (seconds): the
# report's time budget includes importing torch and friends, which a loaded machine makes slow.


def test_analyze_model_file_with_csv_data(tmp_path):
    net = degenerate_network()
    model = tmp_path / "net.safetensors"
    reluscope.save(net, model)
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (40, 2))
    y = (X[:, 0] > X[:, 1]).astype(int)
    csv = tmp_path / "data.csv"
    csv.write_text("x1,x2,cls\n" + "\n".join(f"{a},{b},{c}" for (a, b), c in zip(X, y)) + "\n")
    out = tmp_path / "rep"
    result = CliRunner().invoke(app, ["analyze", str(model), "--data", str(csv), "--label-column", "cls",
                                      "--domain=-1,1", "-o", str(out), "--time-limit", "60",
                                      "--sections", "network, activations,constructive"])
    assert result.exit_code == 0, result.output
    assert "widths: 2-4-3-2" in result.output
    assert f"report: {out / 'report.html'}" in result.output
    data = json.loads((out / "report.json").read_text())
    assert data["model"] == str(model)
    assert list(data["sections"]) == ["network", "activations", "constructive"]
    assert data["sections"]["activations"]["n_points"] == 40
    assert data["sections"]["constructive"]["n_samples"] == 40
    assert data["sections"]["network"]["domain"] == "the box [-1, 1]^2"
    assert (out / "report.md").read_text().startswith("# reluscope analysis of net.safetensors")


@pytest.mark.parametrize("args, message", [
    (["analyze", "missing-model.safetensors"], "missing-model.safetensors"),
    (["analyze", "{model}", "--domain", "2,1"], ""),
    (["analyze", "{model}", "--data", "{wide}"], "w.csv: data X has shape (2, 3), expected (n, 2)"),
    (["analyze", "{model}", "--data", "{csv}", "--label-column", "nope"], "no column named 'nope'"),
    (["analyze", "{model}", "--time-limit", "0"], "time_limit must be positive"),
    (["analyze", "{model}", "--sections", "network,bogus"], "unknown report section(s) ['bogus']"),
    (["reproduce", "no-such-experiment", "--quick"], "unknown experiment 'no-such-experiment'"),
])
def test_bad_input_is_one_line_on_stderr_with_exit_2(tmp_path, args, message):
    model = tmp_path / "net.npz"
    reluscope.save(degenerate_network(), model)
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,label\n0,1,0\n1,0,1\n")
    wide = tmp_path / "w.csv"
    wide.write_text("a,b,c,label\n0,1,2,0\n1,0,2,1\n")
    args = [a.format(model=model, csv=csv, wide=wide) for a in args]
    proc = _run(*args, "-o", str(tmp_path / "out"), cwd=tmp_path) if args[0] == "analyze" else _run(*args, cwd=tmp_path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert message in lines[0]
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_analyze_without_model_uses_the_bundled_example_and_its_data(tmp_path):
    from reluscope.io import example_dataset, load_example

    out = tmp_path / "example"
    proc = _run("analyze", "-o", str(out), "--time-limit", "120", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "the bundled example pruned_mlp" in proc.stdout
    data = json.loads((out / "report.json").read_text())
    net = load_example()
    X, y = example_dataset()
    assert data["widths"] == list(net.widths)
    sections = data["sections"]
    assert list(sections) == list(reluscope.report.SECTION_KEYS)
    for key, info in sections.items():
        assert info["status"] in ("ok", "partial"), (key, info.get("reason"))
    # the constructive baseline ran on the example's data set; the model's accuracy is its own
    assert sections["constructive"]["n_samples"] == len(X)
    assert sections["constructive"]["model_accuracy"] == pytest.approx(np.mean(np.argmax(net(X), axis=1) == y))
    # the example's own train/test split: held-out accuracy is the recorded test accuracy, labelled so
    held = sections["constructive"]["held_out_accuracy"]
    assert held["split"] == "the model's own test split" and held["n_held_out"] == 143
    assert held["model"] == pytest.approx(0.958, abs=5e-4)
    assert "held-out accuracy (model / constructive)" in data["summary"]
    assert "training accuracy (model / constructive)" in data["summary"]
    assert sections["activations"]["n_points"] == len(X)
    html = (out / "report.html").read_text()
    for name in data["figures"]:
        assert f'src="{name}"' in html and (out / name).is_file()


def test_analyze_digits_csv_with_constant_pixels(tmp_path):
    """scikit-learn's digits has always-blank pixels: the domain keeps them fixed (widened by
    a relative 1e-6) and the report says so; the label column is found by its name."""
    from sklearn.datasets import load_digits

    from reluscope.report.data import CONSTANT_FEATURE_WIDTH

    X, y = load_digits(return_X_y=True)
    X, y = X[::6], y[::6]
    constant = np.flatnonzero(X.min(0) == X.max(0))
    assert constant.size > 0
    csv = tmp_path / "digits.csv"
    csv.write_text(",".join([f"p{i}" for i in range(64)] + ["target"]) + "\n"
                   + "\n".join(",".join(map(str, [*row.astype(int), c])) for row, c in zip(X, y)) + "\n")
    model = tmp_path / "net.safetensors"
    reluscope.save(reluscope.ReLUNetwork.random((64, 12, 10), seed=0), model)
    out = tmp_path / "rep"
    result = CliRunner().invoke(app, ["analyze", str(model), "--data", str(csv), "-o", str(out),
                                      "--time-limit", "60", "--sections", "network,activations,constructive"])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "report.json").read_text())
    assert f"{constant.size} of 64 input features are constant" in data["domain_note"]
    assert data["sections"]["activations"]["n_points"] == len(X)
    md = (out / "report.md").read_text()
    assert "are constant on the data" in md and f"{CONSTANT_FEATURE_WIDTH:g}" in md


def test_data_box_widens_only_constant_features():
    from reluscope.report.data import data_box

    X = np.array([[0.0, 1.0, -3.0], [2.0, 1.0, -3.0], [1.0, 1.0, -3.0]])
    box, constant, note = data_box(X)
    lo, hi = box.bounds(3)
    assert constant == [1, 2]
    assert lo[0] == 0.0 and hi[0] == 2.0
    assert lo[1] == 1.0 - 1e-6 and hi[1] == 1.0 + 1e-6
    assert lo[2] == -3.0 - 3e-6 and hi[2] == -3.0 + 3e-6
    assert "2 of 3 input features are constant" in note
    assert data_box(X[:, :1])[1:] == ([], "")
