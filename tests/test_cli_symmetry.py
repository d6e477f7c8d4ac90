"""CLI tests of ``reluscope inspect``, ``reluscope canonicalize`` and ``reluscope compare``."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

import reluscope as rs
from reluscope.cli import app
from reluscope.symmetry import permute, rescale

runner = CliRunner()


def _symmetric_copy(net: rs.ReLUNetwork, seed: int) -> rs.ReLUNetwork:
    rng = np.random.default_rng(seed)
    out = net
    for h in range(1, net.depth):
        out = permute(out, h, rng.permutation(net.widths[h]))
        out = rescale(out, h, np.exp(rng.uniform(-2, 2, net.widths[h])))
    return out


@pytest.fixture()
def models(tmp_path):
    net = rs.ReLUNetwork.random((3, 6, 5, 2), seed=0)
    W1 = np.array(net.weights[0])
    b1 = np.array(net.biases[0])
    b1[0] = -50.0  # dead on [-1, 1]^3
    net = net.replace(biases=[b1, *net.biases[1:]], weights=[W1, *net.weights[1:]])
    other = _symmetric_copy(net, 1)
    v = other.to_vector().copy()
    v[5] += 1e-3
    pert = rs.ReLUNetwork.from_vector(other.widths, v)
    paths = {name: tmp_path / f"{name}.npz" for name in ("a", "b", "c")}
    rs.save(net, paths["a"])
    rs.save(other, paths["b"])
    rs.save(pert, paths["c"])
    return net, paths


def test_compare_equivalent_and_alignment(models):
    net, p = models
    res = runner.invoke(app, ["compare", str(p["a"]), str(p["b"])])
    assert res.exit_code == 0, res.output
    assert "equivalent" in res.output and "NOT" not in res.output
    res = runner.invoke(app, ["compare", str(p["a"]), str(p["b"]), "--json"])
    data = json.loads(res.output)
    assert data["equivalent"] is True
    # the printed alignment maps b onto a
    b = rs.load(p["b"])
    for h, perm in enumerate(data["permutations"], start=1):
        b = permute(b, h, perm)
    for h, s in enumerate(data["scales"], start=1):
        b = rescale(b, h, s)
    assert b.allclose(net, rtol=1e-7, atol=1e-9)


def test_compare_not_equivalent_exit_1(models):
    _, p = models
    res = runner.invoke(app, ["compare", str(p["a"]), str(p["c"])])
    assert res.exit_code == 1
    assert "NOT equivalent" in res.output
    res = runner.invoke(app, ["compare", str(p["a"]), str(p["c"]), "--json", "--tol", "1e-2"])
    assert res.exit_code == 0  # within a loose tolerance the copies agree
    assert json.loads(res.output)["equivalent"] is True


def test_inspect_table_and_json(models):
    _, p = models
    res = runner.invoke(app, ["inspect", str(p["a"]), "--domain", "-1,1"])
    assert res.exit_code == 0, res.output
    assert "dead (exact)" in res.output
    res = runner.invoke(app, ["inspect", str(p["a"]), "--json"])
    data = json.loads(res.output)
    assert data["counts"]["dead"] >= 1
    first = [n for n in data["neurons"] if n["layer"] == 1 and n["neuron"] == 0][0]
    assert first["dead"] is True


def test_canonicalize_writes_equal_canonical_forms(models, tmp_path):
    net, p = models
    out_a, out_b = tmp_path / "ca.npz", tmp_path / "cb.npz"
    for src, dst in ((p["a"], out_a), (p["b"], out_b)):
        res = runner.invoke(app, ["canonicalize", str(src), "-o", str(dst)])
        assert res.exit_code == 0, res.output
        assert "canonical form" in res.output
    ca, cb = rs.load(out_a), rs.load(out_b)
    assert ca.allclose(cb, rtol=1e-7, atol=1e-9)
    X = np.random.default_rng(0).uniform(-2, 2, (100, 3))
    np.testing.assert_allclose(ca(X), net(X), rtol=1e-9, atol=1e-9)
    res = runner.invoke(app, ["canonicalize", str(p["a"]), "-o", str(out_a), "--json"])
    assert json.loads(res.output)["converged"] is True


@pytest.mark.parametrize(
    "args",
    [
        ["inspect", "{missing}"],
        ["inspect", "{a}", "--domain", "abc"],
        ["inspect", "{a}", "--domain", "-1:1,0:1"],  # 2 coordinates for a 3-input model
        ["compare", "{a}", "{missing}"],
        ["canonicalize", "{missing}", "-o", "{out}"],
    ],
)
def test_bad_input_exit_2_one_line(models, tmp_path, args):
    _, p = models
    fill = {"a": str(p["a"]), "missing": str(tmp_path / "nope.npz"), "out": str(tmp_path / "o.npz")}
    argv = [a.format(**fill) for a in args]
    proc = subprocess.run([sys.executable, "-m", "reluscope", *argv], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:")
    assert "Traceback" not in proc.stderr


def test_inspect_all_lists_every_neuron(models):
    net, p = models
    res = runner.invoke(app, ["inspect", str(p["a"]), "--all", "--time-limit", "0"])
    assert res.exit_code == 0, res.output
    assert res.output.count("unbalanced") >= sum(net.hidden_widths) - 1


def test_compare_output_writes_b_aligned_onto_a(tmp_path):
    a = rs.ReLUNetwork.random((4, 9, 7, 3), seed=5)
    b = rs.ReLUNetwork.random((4, 9, 7, 3), seed=6)
    rs.save(a, tmp_path / "a.npz")
    rs.save(b, tmp_path / "b.npz")
    out = tmp_path / "aligned.safetensors"
    res = runner.invoke(app, ["compare", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "--output", str(out)])
    assert res.exit_code == 1, res.output  # not equivalent, still written
    aligned = rs.load(out)
    X = np.random.default_rng(0).uniform(-1, 1, (100, 4))
    assert np.allclose(aligned(X), b(X), atol=1e-9)
    before = np.linalg.norm(a.to_vector() - b.to_vector())
    after = np.linalg.norm(a.to_vector() - aligned.to_vector())
    assert after < before
    assert "written to" in res.output and f"{after:.6g}" in res.output


def test_merge_command(tmp_path):
    a = rs.ReLUNetwork.random((4, 9, 3), seed=7)
    b = rs.ReLUNetwork.random((4, 9, 3), seed=8)
    rs.save(a, tmp_path / "a.npz")
    rs.save(b, tmp_path / "b.npz")
    out = tmp_path / "merged.safetensors"
    res = runner.invoke(app, ["merge", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "-o", str(out),
                              "--alpha", "0.3", "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["alpha"] == 0.3 and summary["aligned"] is True
    assert summary["distance_after"] <= summary["distance_before"]
    assert rs.load(out).allclose(rs.interpolate(a, b, 0.3))
    res = runner.invoke(app, ["merge", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "-o", str(out), "--no-align"])
    assert res.exit_code == 0 and "without alignment" in res.output
    assert rs.load(out).allclose(rs.interpolate(a, b, 0.5, align=False))


def test_merge_different_widths_is_one_line_exit_2(tmp_path):
    rs.save(rs.ReLUNetwork.random((4, 9, 3), seed=0), tmp_path / "a.npz")
    rs.save(rs.ReLUNetwork.random((4, 8, 3), seed=0), tmp_path / "b.npz")
    proc = subprocess.run([sys.executable, "-m", "reluscope", "merge", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"),
                           "-o", str(tmp_path / "m.npz")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "different widths" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
