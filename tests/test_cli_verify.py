"""``reluscope verify`` (issue 25): the first word is holds / violated / unknown; a
counterexample is printed and re-checks on the network; answers on vendored VNN-COMP 2021
instances never contradict the competition's consensus; bad input: one line, exit 2.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from reluscope import ReLUNetwork, ReluscopeError, load, load_vnnlib, save
from reluscope.cli import app
from typer.testing import CliRunner

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "vnncomp2021"
ACAS = BENCH / "acasxu"


def _consensus() -> dict[tuple[str, str], str]:
    with open(BENCH / "results" / "consensus.csv", newline="") as fh:
        return {(r["onnx"], r["vnnlib"]): r["consensus"] for r in csv.DictReader(fh)}


runner = CliRunner()


def _cli(*args):
    """``reluscope verify ARGS`` in this process (exit code, stdout)."""
    out = runner.invoke(app, ["verify", *map(str, args)])
    if out.exception is not None and not isinstance(out.exception, SystemExit):
        raise out.exception
    return out


def _process(*args, timeout=300):
    """``reluscope verify ARGS`` as a user runs it (its own process: exit codes, stderr)."""
    return subprocess.run([sys.executable, "-m", "reluscope", "verify", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


def _line_net(tmp_path) -> Path:
    """f(x) = relu(x_0) - relu(x_1) on inputs (x_0, x_1): on [0, 1]^2 its range is [-1, 1]."""
    net = ReLUNetwork([np.eye(2), np.array([[1.0, -1.0]])], [np.zeros(2), np.zeros(1)])
    path = tmp_path / "line.npz"
    save(net, path)
    return path


def _prop(tmp_path, name, unsafe) -> Path:
    path = tmp_path / name
    path.write_text("(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const Y_0 Real)\n"
                    "(assert (>= X_0 0.0))\n(assert (<= X_0 1.0))\n(assert (>= X_1 0.0))\n(assert (<= X_1 1.0))\n"
                    f"(assert {unsafe})\n")
    return path


def test_holds_and_violated_on_a_network_with_a_known_range(tmp_path):
    model = _line_net(tmp_path)
    safe = _prop(tmp_path, "safe.vnnlib", "(>= Y_0 1.5)")  # the maximum is 1
    unsafe = _prop(tmp_path, "unsafe.vnnlib", "(>= Y_0 0.75)")  # reached near x = (1, 0)
    out = _cli(model, safe, "--time-limit", "60")
    assert out.exit_code == 0, out.output
    assert out.output.split()[0] == "holds"
    out = _cli(model, unsafe, "--time-limit", "60", "--json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["result"] == "violated"
    x = np.array(data["counterexample"], dtype=float)
    net, spec = load(model), load_vnnlib(unsafe)
    assert spec.is_counterexample(net, x)  # checked again here, independently of the CLI
    assert np.allclose(data["output"], net(x[None])[0])
    text = _cli(model, unsafe, "--time-limit", "60")
    assert text.output.split()[0] == "violated" and "counterexample x =" in text.output


def test_several_properties_one_line_each_in_order(tmp_path):
    model = _line_net(tmp_path)
    specs = [_prop(tmp_path, "a.vnnlib", "(>= Y_0 1.5)"), _prop(tmp_path, "b.vnnlib", "(<= Y_0 -0.5)")]
    out = _cli(model, *specs, "--time-limit", "60", "--workers", "1")
    assert out.exit_code == 0, out.output
    lines = out.output.strip().splitlines()
    assert lines[0].split()[0] == "holds" and "a.vnnlib" in lines[0]
    assert lines[1].split()[0] == "violated" and "b.vnnlib" in lines[1]
    data = json.loads(_cli(model, *specs, "--time-limit", "60", "--workers", "1", "--json").stdout)
    assert [o["result"] for o in data["outcomes"]] == ["holds", "violated"]
    assert data["counts"] == {"holds": 1, "violated": 1, "unknown": 0}


@pytest.mark.slow
@pytest.mark.parametrize("onnx_name, prop", [
    ("ACASXU_run2a_1_1_batch_2000.onnx", "prop_1.vnnlib"),
    ("ACASXU_run2a_2_5_batch_2000.onnx", "prop_2.vnnlib"),
    ("ACASXU_run2a_3_5_batch_2000.onnx", "prop_4.vnnlib"),
])
def test_acasxu_instances_agree_with_the_consensus(onnx_name, prop):
    out = _cli(ACAS / onnx_name, ACAS / prop, "--time-limit", "30", "--json")
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["result"] in ("holds", "violated", "unknown")
    if data["result"] != "unknown":
        assert data["result"] == _consensus()[(onnx_name, prop)]
    if data["result"] == "violated":
        assert load_vnnlib(ACAS / prop).is_counterexample(load(ACAS / onnx_name), np.array(data["counterexample"]))


@pytest.mark.parametrize("args, needle", [
    (["missing.onnx", ACAS / "prop_1.vnnlib"], "missing.onnx: no such file"),
    ([ACAS / "ACASXU_run2a_1_1_batch_2000.onnx", BENCH / "mnistfc" / "prop_0_0.03.vnnlib"],
     "declares 784 inputs but the network has 5"),
    ([ACAS / "ACASXU_run2a_1_1_batch_2000.onnx"], "at least one SPEC"),
    ([ACAS / "ACASXU_run2a_1_1_batch_2000.onnx", ACAS / "prop_1.vnnlib", "--instances",
      ACAS / "acasxu_instances.csv"], "not both"),
    (["--instances", "nowhere.csv"], "nowhere.csv: no such instances file"),
])
def test_bad_input_raises_one_line_naming_the_culprit(args, needle):
    with pytest.raises(ReluscopeError) as info:
        _cli(*args)
    assert needle in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("args, needle", [
    ([ACAS / "ACASXU_run2a_1_1_batch_2000.onnx", ACAS / "prop_1.vnnlib", "--time-limit", "-1"], "--time-limit"),
    ([ACAS / "ACASXU_run2a_1_1_batch_2000.onnx", ACAS / "prop_1.vnnlib", ACAS / "prop_2.vnnlib", "--scheduler",
      "tcp://127.0.0.1:1"], "cannot connect to Dask scheduler"),
    (["missing.onnx", ACAS / "prop_1.vnnlib"], "missing.onnx: no such file"),
])
def test_bad_input_is_one_line_and_exit_2(args, needle):
    out = _process(*args, timeout=120)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert needle in out.stderr and len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_malformed_property_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.vnnlib"
    bad.write_text("(declare-const X_0 Real)\n(declare-const Y_0 Real)\n(assert (<= X_0 1)\n")
    model = tmp_path / "one.npz"
    save(ReLUNetwork.random((1, 2, 1), seed=0), model)
    with pytest.raises(ReluscopeError, match=f"{bad}: line 3"):
        _cli(model, bad)
