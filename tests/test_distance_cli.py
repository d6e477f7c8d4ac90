"""CLI: ``reluscope distance A B``."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from reluscope import Box, ReLUNetwork, save
from reluscope.cli import app
from reluscope.distance import sobolev_distance, sup_distance


@pytest.fixture()
def models(tmp_path):
    f = ReLUNetwork.random((2, 6, 4, 1), seed=1)
    g = ReLUNetwork.random((2, 5, 1), seed=2)
    pa, pb = tmp_path / "a.npz", tmp_path / "b.safetensors"
    save(f, pa)
    save(g, pb)
    return f, g, pa, pb


def test_sup_json_matches_api(models):
    f, g, pa, pb = models
    res = CliRunner().invoke(app, ["distance", str(pa), str(pb), "--domain", "-2,1", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    api = sup_distance(f, g, Box(-2, 1))
    assert out["exact"] is True and out["norm"] == "sup"
    assert out["lower"] == pytest.approx(api.lower, abs=1e-6)
    w = np.array(out["witness"])
    assert np.abs(f(w) - g(w)).max() == pytest.approx(out["lower"], abs=1e-12)


def test_sobolev_table_and_json(models):
    f, g, pa, pb = models
    res = CliRunner().invoke(app, ["distance", str(pa), str(pb), "--norm", "sobolev", "--time-limit", "20"])
    assert res.exit_code == 0, res.output
    assert "gradient part" in res.output and "sup part" in res.output
    res = CliRunner().invoke(app, ["distance", str(pa), str(pb), "--norm", "sobolev", "--json"])
    out = json.loads(res.output)
    api = sobolev_distance(f, g, Box(-1, 1))
    assert out["lower"] == pytest.approx(api.lower, abs=1e-6)
    assert out["gradient_part"]["norm"] == "gradient"


def test_npz_with_layer_keys(tmp_path):
    f = ReLUNetwork.random((1, 3, 1), seed=4)
    g = ReLUNetwork.random((1, 3, 1), seed=5)
    for name, net in (("f", f), ("g", g)):
        np.savez(tmp_path / f"{name}.npz", **{f"layers.{i}.weight": w for i, w in enumerate(net.weights)},
                 **{f"layers.{i}.bias": b for i, b in enumerate(net.biases)})
    res = CliRunner().invoke(app, ["distance", str(tmp_path / "f.npz"), str(tmp_path / "g.npz"), "--json"])
    assert res.exit_code == 0, res.output
    x = np.linspace(-1, 1, 20001)[:, None]
    assert json.loads(res.output)["lower"] >= np.abs(f(x) - g(x)).max() - 1e-9


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--norm", "l2"], "--norm"),
        (["--domain", "1,0"], "domain"),
        (["--domain", "abc"], "domain"),
        (["--method", "fast"], "method"),
        (["--time-limit", "-1"], "time_limit"),
    ],
)
def test_bad_options_exit_2_one_line(models, extra, needle):
    _, _, pa, pb = models
    p = subprocess.run([sys.executable, "-m", "reluscope", "distance", str(pa), str(pb), *extra],
                       capture_output=True, text=True)
    assert p.returncode == 2
    assert len(p.stderr.strip().splitlines()) == 1 and needle in p.stderr
    assert "Traceback" not in p.stderr


def test_mismatched_models_and_missing_file(models, tmp_path):
    _, _, pa, _ = models
    other = tmp_path / "c.npz"
    save(ReLUNetwork.random((3, 4, 1), seed=0), other)
    p = subprocess.run([sys.executable, "-m", "reluscope", "distance", str(pa), str(other)],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "inputs" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    p = subprocess.run([sys.executable, "-m", "reluscope", "distance", str(pa), str(tmp_path / "nope.npz")],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "nope.npz" in p.stderr and len(p.stderr.strip().splitlines()) == 1
