"""Experiment constructive-vs-gradient: registration, the training helper, and a quick run (slow)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reluscope import experiments
from reluscope.constructive import exact_local_minimum, fit
from reluscope.experiments.constructive_vs_gradient import balanced_cost, synthetic, torch_train


def test_registered():
    assert "constructive-vs-gradient" in experiments.names()


def test_torch_helper_cost_matches_network_and_init_reproduces_constructive_cost():
    X, y = synthetic(3, 3, 20, 0.2, seed=0)
    r = fit(X, y)
    Y = np.eye(3)
    # zero steps from the constructive network: same cost as reluscope computes
    run0 = torch_train(X, y, Y, 0, seed=0, init=r.network)
    assert run0["final_cost"] == pytest.approx(r.cost, rel=1e-10)
    assert balanced_cost(r.network(X), y, Y) == pytest.approx(r.cost, rel=1e-12)
    # training from it reaches below the zero-offset exact value (the offset is free in Adam)
    run = torch_train(X, y, Y, 400, seed=0, init=r.network, target=r.cost * (1 + 1e-9))
    assert run["steps_to_target"] == 0
    ex = exact_local_minimum(X, y)
    assert run["best_cost"] <= ex.value + 1e-6
    assert run["best_cost"] >= 0.0


@pytest.mark.slow
def test_quick_run_writes_figure_and_consistent_numbers(tmp_path):
    res = experiments.run("constructive-vs-gradient", tmp_path, quick=True, seed=0)
    assert all(p.exists() and p.stat().st_size > 0 for p in res.figures)
    data = json.loads(res.numbers.read_text())
    for e in data["synthetic"]:
        assert e["constructive_cost"] <= e["upper_bound"]
        assert e["exact_free_offset"] <= e["exact_zero_offset"] + 1e-12 <= e["constructive_cost"] + 2e-12
    names = {row["dataset"] for row in data["datasets"]}
    assert names == {"iris", "wine", "breast_cancer", "digits"}
    for row in data["datasets"]:
        assert row["constructive"]["cost"] <= row["constructive"]["upper_bound"]
        assert 0.0 <= row["constructive"]["test_accuracy"] <= 1.0
