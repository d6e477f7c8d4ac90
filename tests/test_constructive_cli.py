"""`reluscope construct`: output, saved model, JSON, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris
from typer.testing import CliRunner

from reluscope.cli import app
from reluscope.constructive import fit


@pytest.fixture()
def iris_csv(tmp_path: Path) -> Path:
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    path = tmp_path / "iris.csv"
    lines = ["sl,sw,pl,pw,species"] + [",".join([*map(str, x), n]) for x, n in zip(X, names)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_construct_json_matches_api_and_saves_model(iris_csv: Path, tmp_path: Path):
    out = tmp_path / "model.safetensors"
    res = CliRunner().invoke(app, ["construct", str(iris_csv), "--label-column", "species", "-o", str(out), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    r = fit(X, names, affine=True)
    assert data["classes"] == ["setosa", "versicolor", "virginica"]
    assert data["delta_P"] == pytest.approx(r.delta_P)
    assert data["cost"] == pytest.approx(r.cost)
    assert data["upper_bound"] == pytest.approx(r.upper_bound)
    assert data["cost"] <= data["upper_bound"]
    assert data["training_accuracy"] == pytest.approx(np.mean(r.network_predict(X) == names))
    import reluscope

    loaded = reluscope.load(out)
    assert loaded.allclose(r.network)


def test_construct_table_output(iris_csv: Path):
    res = CliRunner().invoke(app, ["construct", str(iris_csv), "--label-column", "species", "--no-affine", "--cost", "mean"])
    assert res.exit_code == 0, res.output
    for word in ("delta_P", "cost (mean)", "upper bound", "training accuracy"):
        assert word in res.stdout


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reluscope", *args], capture_output=True, text=True, timeout=120)


def test_construct_errors_are_one_line_exit_2(tmp_path: Path, iris_csv: Path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,2,x\n3,oops,y\n")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b,label\n1,2,x\n3,y\n")
    one = tmp_path / "one.csv"
    one.write_text("a,b,label\n1,2,x\n3,4,x\n")
    cases = [
        ([str(iris_csv), "--label-column", "nope"], "no column named 'nope'"),
        ([str(bad), "--label-column", "label"], "line 3, column 'b': non-numeric feature value 'oops'"),
        ([str(ragged), "--label-column", "label"], "line 3 has 2 fields"),
        ([str(one), "--label-column", "label"], "one.csv (label column 'label'): y contains only one class"),
        ([str(tmp_path / "missing.csv"), "--label-column", "label"], "no such data file"),
        ([str(iris_csv), "--label-column", "species", "--cost", "l1"], "cost must be"),
    ]
    for args, message in cases:
        proc = _run("construct", *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "Traceback" not in proc.stderr
