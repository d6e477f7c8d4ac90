"""Sweeps over random patterns: local processes, a local Dask cluster, CLI, experiment."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from reluscope.cli import app
from reluscope.errors import InvalidArgument, InvalidPattern
from reluscope.sparsity import SparsityPattern, verify
from reluscope.sparsity.decide import decide
from reluscope.sparsity.sweep import parse_shape, random_pattern, sweep, wilson_interval


def test_parse_shape() -> None:
    assert parse_shape("3x4x5") == (3, 4, 5)
    assert parse_shape([2, 2]) == (2, 2)
    for bad in ["3x", "axb", "0x2x2", "5"]:
        with pytest.raises(InvalidPattern):
            parse_shape(bad)


def test_random_pattern_shape_and_reproducibility() -> None:
    p = random_pattern((4, 3, 2), 0.5, seed=7, index=3)
    assert p.widths == (2, 3, 4)  # input 2, hidden 3, output 4: product W_2 W_1 is 4 x 2
    assert p == random_pattern((4, 3, 2), 0.5, seed=7, index=3)
    full = random_pattern((2, 2, 2), 1.0, seed=0, index=0)
    assert full.is_dense()


def test_wilson_interval_known_values() -> None:
    lo, hi = wilson_interval(5, 10)
    assert math.isclose(lo, 0.2366, abs_tol=1e-3) and math.isclose(hi, 0.7634, abs_tol=1e-3)
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and math.isclose(hi, 0.2775, abs_tol=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)


# Per-pattern limits of 30 s: these patterns are decided in under a second. Runs (in-process,
# local processes, Dask, direct decisions) must give the same patterns and never contradict
# each other; they need not name the same rule: decide() gives some steps fixed time slices
# (PEEL_SECONDS, LEAF_SECONDS, ...), so on a loaded machine a slice can end before the step
# that decides on an idle one, and a later step (or none) decides.


def _assert_same_answers(a, b, min_decided: int) -> None:
    """Same indices and patterns; where both runs decided, the same verdict; at least
    ``min_decided`` patterns decided by both. (On an idle machine every key agrees.)"""
    assert [(o.index, o.pattern) for o in a.outcomes] == [(o.index, o.pattern) for o in b.outcomes]
    both = [(x, y) for x, y in zip(a.outcomes, b.outcomes) if x.closed is not None and y.closed is not None]
    for x, y in both:
        assert x.closed == y.closed, (x, y)
    assert len(both) >= min_decided, [(x.key(), y.key()) for x, y in zip(a.outcomes, b.outcomes) if x.key() != y.key()]


def test_sweep_in_process_matches_direct_decisions() -> None:
    result = sweep((3, 3, 3), 0.5, 12, seed=3, time_limit=30.0, workers=1, use_qe=False)
    assert result.samples == 12 and len(result.outcomes) == 12
    assert result.n_closed + result.n_not_closed + result.n_undecided == 12
    both = 0
    for o in result.outcomes:
        p = random_pattern((3, 3, 3), 0.5, 3, o.index)
        assert o.pattern == p.to_text()
        v = decide(p, time_limit=30.0, seed=o.index, use_qe=False)
        if v.closed is not None and o.closed is not None:  # see the note above _assert_same_answers
            both += 1
            assert v.closed == o.closed
            assert o.certified and v.certificate is not None  # no quantifier elimination: decided = certified
    assert both >= 9
    lo, hi = result.not_closed_interval()
    assert 0.0 <= lo <= result.n_not_closed / 12 <= hi <= 1.0
    data = json.loads(result.to_json())
    assert data["summary"]["samples"] == 12 and len(data["outcomes"]) == 12


def test_sweep_local_processes_equal_in_process() -> None:
    a = sweep((3, 3, 3), 0.5, 16, seed=5, time_limit=30.0, workers=1, use_qe=False)
    b = sweep((3, 3, 3), 0.5, 16, seed=5, time_limit=30.0, workers=2, use_qe=False)
    _assert_same_answers(a, b, min_decided=12)
    assert b.backend.startswith("local processes")


@pytest.mark.slow
def test_sweep_on_local_dask_cluster_equals_local_run() -> None:
    distributed = pytest.importorskip("distributed")
    local = sweep((3, 3, 3), 0.5, 16, seed=9, time_limit=30.0, workers=2, use_qe=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = sweep((3, 3, 3), 0.5, 16, seed=9, time_limit=30.0, scheduler=cluster.scheduler_address, use_qe=False)
    assert remote.backend.startswith("dask")
    _assert_same_answers(local, remote, min_decided=12)


def test_sweep_certificates_verify() -> None:
    result = sweep((2, 3, 3), 0.6, 8, seed=1, time_limit=30.0, workers=1, use_qe=False)
    for o in result.outcomes:
        if o.certified:
            v = decide(SparsityPattern.from_text(o.pattern), time_limit=30.0, seed=o.index, use_qe=False)
            assert verify(v.certificate, time_limit=10.0).valid is True


def test_sweep_bad_arguments() -> None:
    with pytest.raises(InvalidArgument):
        sweep((3, 3, 3), 1.5, 2)
    with pytest.raises(InvalidArgument):
        sweep((3, 3, 3), 0.5, 0)
    with pytest.raises(InvalidArgument):
        sweep((3, 3, 3), 0.5, 2, time_limit=0)


def test_sweep_figure_and_save(tmp_path) -> None:
    result = sweep((2, 2, 2), 0.5, 6, seed=0, time_limit=2.0, workers=1)
    json_path, png = result.save(tmp_path / "out")
    assert json_path.exists() and png.exists() and png.stat().st_size > 1000
    assert json.loads(json_path.read_text())["summary"]["samples"] == 6


def test_cli_sweep_patterns_json_and_table(tmp_path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["sweep-patterns", "--shape", "2x2x2", "--density", "0.6", "--samples", "5",
                              "--workers", "1", "--json", "-o", str(tmp_path)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["summary"]["samples"] == 5 and data["shape"] == [2, 2, 2]
    assert (tmp_path / "sweep.json").exists() and (tmp_path / "sweep.png").exists()
    res = runner.invoke(app, ["sweep-patterns", "--shape", "2x2x2", "--samples", "3", "--workers", "1"])
    assert res.exit_code == 0 and "P(not closed)" in res.output


@pytest.mark.parametrize("args", [["--shape", "3xq"], ["--density", "2"], ["--samples", "0"],
                                  ["--scheduler", "tcp://127.0.0.1:1", "--samples", "1"]])
def test_cli_bad_input_exit_2_one_line(args) -> None:
    proc = subprocess.run([sys.executable, "-m", "reluscope", "sweep-patterns", *args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and proc.stderr.startswith("error:")


@pytest.mark.slow
def test_experiment_random_support_closedness_quick(tmp_path) -> None:
    from reluscope import experiments

    assert "random-support-closedness" in experiments.names()
    result = experiments.run("random-support-closedness", tmp_path, quick=True, seed=0)
    assert all(p.exists() for p in result.figures)
    data = json.loads(result.numbers.read_text())
    assert len(data["rows"]) == 6
    for row in data["rows"]:
        lo, hi = row["ci95"]
        assert 0.0 <= lo <= hi <= 1.0
        if row["closed"] + row["not_closed"]:
            assert lo - 1e-9 <= row["not_closed"] / row["samples"] <= hi + 1e-9


def test_package_level_sweep_function() -> None:
    import reluscope.sparsity as sparsity

    result = sparsity.sweep(shape=(2, 2, 2), density=0.5, samples=4, seed=2, time_limit=2.0, workers=1)
    assert result.samples == 4 and result.shape == (2, 2, 2)
    assert sparsity.is_closed(SparsityPattern.lu(2), time_limit=2.0).closed is False
