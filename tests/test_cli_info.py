"""`reluscope info` and `reluscope --version`: table, JSON, bundled example, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

import reluscope
from reluscope import ReLUNetwork, save
from reluscope.cli import app

runner = CliRunner()


def _run(*args):
    return subprocess.run([sys.executable, "-m", "reluscope", *args], capture_output=True, text=True, timeout=120)


def test_info_json_matches_the_network(tmp_path):
    masks = [np.eye(5, 3, dtype=bool), None]
    net = ReLUNetwork.random((3, 5, 2), seed=0, masks=masks)
    save(net, tmp_path / "m.pt")
    result = runner.invoke(app, ["info", str(tmp_path / "m.pt"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["format"] == "torch"
    assert data["widths"] == [3, 5, 2] and data["depth"] == 2
    assert data["parameters"] == net.n_parameters == 3 * 5 + 5 + 5 * 2 + 2
    assert data["free_parameters"] == 3 + 5 + 10 + 2
    first, second = data["layers"]
    assert first["shape"] == [5, 3] and first["mask_density"] == pytest.approx(3 / 15)
    assert first["nonzero_weights"] == int((net.weights[0] != 0).sum())
    assert second["mask_density"] == 1.0 and second["activation"] == "identity"


def test_info_table_dense(tmp_path):
    net = ReLUNetwork.random((4, 7, 7, 1), seed=1)
    save(net, tmp_path / "m.npz")
    result = runner.invoke(app, ["info", str(tmp_path / "m.npz")])
    assert result.exit_code == 0, result.output
    assert "(7, 4)" in result.output and "dense" in result.output
    assert f"parameters {net.n_parameters}" in result.output


def test_info_bundled_example():
    result = runner.invoke(app, ["info", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    net = reluscope.load_example()
    assert data["widths"] == list(net.widths) == [30, 16, 16, 2]
    assert data["masked"] and data["example"]["dataset"]["loader"] == "load_breast_cancer"
    table = runner.invoke(app, ["info"])
    assert table.exit_code == 0 and "bundled example" in table.output


def test_example_dataset_reproduces_recorded_accuracy():
    pytest.importorskip("sklearn")
    info = reluscope.example_info()
    X, y = reluscope.example_dataset()
    assert X.shape == (info["dataset"]["n_samples"], info["dataset"]["n_features"])
    from sklearn.model_selection import train_test_split

    split = info["dataset"]["split"]
    _, test = train_test_split(np.arange(len(y)), test_size=split["test_size"],
                               random_state=split["random_state"], stratify=y)
    pred = reluscope.load_example()(X).argmax(axis=1)
    assert (pred[test] == y[test]).mean() == pytest.approx(info["accuracy"]["test"])
    assert info["accuracy"]["test"] > 0.9


def test_version():
    out = _run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"reluscope {reluscope.__version__}"


def test_corrupted_file_gives_exit_2_and_one_line(tmp_path):
    path = tmp_path / "bad.safetensors"
    save(ReLUNetwork.random((2, 3, 1), seed=0), path)
    path.write_bytes(path.read_bytes()[:40])
    out = _run("info", str(path))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "truncated" in lines[0]
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_missing_file_gives_exit_2(tmp_path):
    out = _run("info", str(tmp_path / "nothing.pt"))
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "no such file" in out.stderr
