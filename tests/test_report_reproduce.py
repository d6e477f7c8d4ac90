"""Tests of reluscope.report.reproduce and `reluscope reproduce` on synthetic experiments."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from reluscope import experiments
from reluscope.cli import app
from reluscope.errors import ReluscopeError
from reluscope.experiments import ExperimentResult
from reluscope.report import reproduce


def _fake_ok(out_dir: Path, quick: bool = False, seed: int = 0) -> ExperimentResult:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    values = rng.normal(size=8 if quick else 32)
    fig, ax = plt.subplots()
    ax.plot(values)
    path = out_dir / "curve.png"
    fig.savefig(path)
    plt.close(fig)
    numbers = out_dir / "numbers.json"
    numbers.write_text(json.dumps({"values": values.tolist(), "mean": float(values.mean())}))
    return ExperimentResult("test-fake-ok", (path,), numbers, {"mean": float(values.mean()), "n": len(values)}, quick)


def _fake_broken(out_dir: Path, quick: bool = False, seed: int = 0) -> ExperimentResult:
    raise ReluscopeError("synthetic experiment failure")


@pytest.fixture
def fake_experiments():
    experiments._load()
    saved = dict(experiments._REGISTRY)
    experiments.register("test-fake-ok", "A synthetic experiment for the report tests.")(_fake_ok)
    experiments.register("test-fake-broken", "A synthetic experiment that fails.")(_fake_broken)
    yield
    experiments._REGISTRY.clear()
    experiments._REGISTRY.update(saved)


def test_reproduce_links_every_figure_and_numbers(tmp_path, fake_experiments):
    rep = reproduce(["test-fake-ok"], tmp_path, quick=True, seed=3, quiet=True)
    info = rep.experiments["test-fake-ok"]
    assert info["status"] == "ok"
    assert info["figures"] == ["test-fake-ok/curve.png"]
    assert info["numbers"] == "test-fake-ok/numbers.json"
    md, html = rep.markdown.read_text(), rep.html.read_text()
    assert "![test-fake-ok: curve.png](test-fake-ok/curve.png)" in md
    assert '<img src="test-fake-ok/curve.png"' in html
    assert "(test-fake-ok/numbers.json)" in md and 'href="test-fake-ok/numbers.json"' in html
    numbers = json.loads((tmp_path / "test-fake-ok" / "numbers.json").read_text())
    # the summary shown is the experiment's own number, seeded
    expected = float(np.random.default_rng(3).normal(size=8).mean())
    assert numbers["mean"] == pytest.approx(expected)
    assert f"| mean | {expected:.6g} |" in md
    data = json.loads(rep.json.read_text())
    assert data["quick"] is True and data["experiments"]["test-fake-ok"]["summary"]["n"] == 8


def test_reproduce_reports_failures_and_continues(tmp_path, fake_experiments):
    rep = reproduce(["test-fake-broken", "test-fake-ok"], tmp_path, quick=True, quiet=True)
    assert rep.experiments["test-fake-broken"]["status"] == "not computed"
    assert "synthetic experiment failure" in rep.experiments["test-fake-broken"]["reason"]
    assert rep.experiments["test-fake-ok"]["status"] == "ok"
    assert "**Not computed:** ReluscopeError: synthetic experiment failure" in rep.markdown.read_text()


def test_reproduce_unknown_name_raises(tmp_path, fake_experiments):
    with pytest.raises(ReluscopeError, match="unknown experiment 'nope'"):
        reproduce("nope", tmp_path, quiet=True)


def test_cli_reproduce_exit_codes(tmp_path, fake_experiments):
    runner = CliRunner()
    result = runner.invoke(app, ["reproduce", "test-fake-ok", "--quick", "-o", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    assert "test-fake-ok: reproduces source not declared" in result.output
    assert "1 figure(s)" in result.output and "verdict: no published value" in result.output
    assert (tmp_path / "a" / "report.html").is_file()
    result = runner.invoke(app, ["reproduce", "test-fake-broken", "--quick", "-o", str(tmp_path / "b")])
    assert result.exit_code == 1
    assert "not computed" in result.output
    result = runner.invoke(app, ["reproduce", "--list"])
    assert result.exit_code == 0
    assert "test-fake-ok: A synthetic experiment for the report tests." in result.output


# ----------------------------------------------------------------------------- real experiments
# `reluscope reproduce all --quick` is what CI runs; here each registered experiment runs in
# its quick mode as its own test (pytest-xdist spreads them) through the same reproduce().

REGISTERED = experiments.names()


@pytest.mark.slow
@pytest.mark.parametrize("name", REGISTERED)
def test_registered_experiment_quick(name, tmp_path):
    rep = reproduce([name], tmp_path, quick=True, seed=0, quiet=True)
    info = rep.experiments[name]
    assert info["status"] == "ok", info.get("reason")
    assert info["quick"] is True
    assert info["figures"], "every experiment writes at least one figure"
    md, html = rep.markdown.read_text(), rep.html.read_text()
    for figure in info["figures"]:
        data = (tmp_path / figure).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 2000
        assert f"]({figure})" in md and f'src="{figure}"' in html
    numbers = json.loads((tmp_path / info["numbers"]).read_text())
    assert numbers, "the numbers file is not empty"
    assert f"({info['numbers']})" in md
    assert info["summary"], "every experiment reports a summary"
    allowed = {"match", "mismatch", "not measured", "no published value"}
    assert info["verdicts"] and all(v["verdict"] in allowed for v in info["verdicts"])
    assert "arXiv " in md.split("## ")[0]  # the leading tables name the paper


def test_every_registered_experiment_has_a_description():
    assert REGISTERED, "no experiments are registered"
    for name in REGISTERED:
        assert experiments.get(name).description.strip()


def test_every_registered_experiment_declares_its_source():
    from reluscope.experiments.sources import SOURCES

    for name in experiments.names():
        src = experiments.get(name).source
        assert src is not None and src is SOURCES[name], name
        assert src.paper.arxiv in {"1905.09803", "2309.10370", "2306.02666"} and src.part
        for p in src.published:
            assert p.where and p.kind in {"abs", "rel", "factor", "at_most", "at_least"} and p.tolerance >= 0


def test_published_values_give_match_mismatch_and_not_measured(tmp_path, fake_experiments, monkeypatch):
    from reluscope.experiments import sources

    src = sources.Source(
        sources.LE, "a synthetic figure",
        (sources.Published("the mean", 0.0, "mean", "abs", 10.0, "synthetic"),
         sources.Published("the mean, tight", 123.0, "mean", "rel", 0.01, "synthetic"),
         sources.Published("a value the run does not produce", 1.0, "missing.key", "factor", 2.0, "synthetic")),
    )
    monkeypatch.setitem(sources.SOURCES, "test-fake-ok", src)
    rep = reproduce(["test-fake-ok", "test-fake-broken"], tmp_path, quick=True, seed=3, quiet=True)
    got = [v["verdict"] for v in rep.experiments["test-fake-ok"]["verdicts"]]
    assert got == ["match", "mismatch", "not measured"]
    assert [v["verdict"] for v in rep.experiments["test-fake-broken"]["verdicts"]] == ["no published value"]
    md = rep.markdown.read_text()
    body = md.split("## ")[0]  # the verdict table leads the report, before any section
    assert "| test-fake-ok | the mean, tight | 123 |" in body and "mismatch" in body
    assert "arXiv 2306.02666" in md
    assert '"values"' not in md  # raw JSON is linked, not inlined
    assert "mismatch: the mean, tight" in str(rep)


def test_reproduce_list_names_the_paper():
    res = CliRunner().invoke(app, ["reproduce", "--list"])
    assert res.exit_code == 0
    assert "inverse-stability-notebook" in res.output and "arXiv 1905.09803" in res.output
    assert res.output.count("reproduces:") == len(experiments.names())
