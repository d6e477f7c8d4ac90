"""The four stability experiments are registered; the quick runs write their figure and numbers."""

from __future__ import annotations

import json

import pytest

from reluscope import experiments

NAMES = ("inverse-stability-notebook", "pathologies", "restricted-vs-unrestricted", "local-minima-width")


def test_registered():
    assert set(NAMES) <= set(experiments.names())


@pytest.mark.slow
def test_pathologies_quick(tmp_path):
    result = experiments.run("pathologies", tmp_path, quick=True)
    assert all(p.exists() and p.stat().st_size > 0 for p in result.figures)
    data = json.loads(result.numbers.read_text())
    for key, g in data["growth"].items():
        family, norm = key.split("/")
        if family == "0" and norm == "sobolev":
            assert g["analytic_lower_ratio_growth"] == pytest.approx(1.0)
        else:
            assert g["analytic_lower_ratio_growth"] >= 7.5
    for row in data["rows"]:
        if row["function_exact"]:
            assert row["function_distance"][0] <= row["function_distance_analytic"] * (1 + 1e-6) + 1e-6
            assert row["function_distance"][1] >= row["function_distance_analytic"] * (1 - 1e-6) - 1e-6
        assert row["parameter_distance_searched"] >= row["parameter_distance_lower_bound"] - 1e-9


@pytest.mark.slow
def test_notebook_quick(tmp_path):
    result = experiments.run("inverse-stability-notebook", tmp_path, quick=True)
    data = json.loads(result.numbers.read_text())
    assert data["recorded"]["val_mse"] == {"30": 0.078, "480": 0.003}
    for name in ("unrestricted", "restricted"):
        cmp = data["comparison"][name]
        # the uniform error shrinks, the W^{1,inf} error (>= the largest slope) stays of order 1
        assert cmp["val_mse"]["480"] < 0.2 * cmp["val_mse"]["30"]
        assert cmp["val_max_error"]["480"] < 0.5 * cmp["val_max_error"]["30"]
        assert cmp["final_max_abs_slope_grid"] > 0.3
        assert cmp["final_sobolev_error"][1] >= cmp["final_max_abs_slope_grid"] * (1 - 1e-6)
        # kinks stay inside the interval
        assert all(-10 < k < 10 for k in cmp["final_kinks"])
