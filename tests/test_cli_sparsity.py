"""``reluscope check-pattern``: text notation, npz masks, model files, pruned torch models, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import reluscope
from reluscope.cli import app
from reluscope.sparsity import SparsityPattern

runner = CliRunner()


def test_text_notation_lu() -> None:
    result = runner.invoke(app, ["check-pattern", "10/11;11/01", "--time-limit", "10"])
    assert result.exit_code == 0, result.output
    assert "NOT closed" in result.output
    assert "no optimum guaranteed" in result.output
    assert "certificate verified independently: True" in result.output


def test_json_output_nested_notation() -> None:
    result = runner.invoke(app, ["check-pattern", "[[1,0],[1,1]];[[1,1],[0,1]]", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["pattern"] == "10/11;11/01"
    assert data["closed"] is False and data["certificate_valid"] is True
    assert data["existence"] == "no optimum guaranteed"
    assert data["training_points"] == 9
    cert = data["closedness"]["certificate"]
    assert cert["kind"] == "not-closed" and len(cert["factors"]) == 2


def test_scalar_output_and_dense() -> None:
    out = runner.invoke(app, ["check-pattern", "101/011;11", "--json"])
    assert json.loads(out.stdout)["existence"] == "an optimum always exists"
    out = runner.invoke(app, ["check-pattern", "11/11;11/11", "--json"])
    data = json.loads(out.stdout)
    assert data["existence"] == "undecided" and data["closed"] is True


def test_npz_of_masks(tmp_path: Path) -> None:
    path = tmp_path / "masks.npz"
    lu = SparsityPattern.lu(3)
    np.savez(path, mask_0=lu.masks[0], mask_1=lu.masks[1])
    data = json.loads(runner.invoke(app, ["check-pattern", str(path), "--json"]).stdout)
    assert data["pattern"] == lu.to_text() and data["closed"] is False


def test_model_file_with_masks(tmp_path: Path) -> None:
    path = tmp_path / "net.npz"
    net = reluscope.ReLUNetwork.random((2, 2, 2), seed=0, masks=list(SparsityPattern.lu(2).masks))
    reluscope.save(net, path)
    data = json.loads(runner.invoke(app, ["check-pattern", str(path), "--json"]).stdout)
    assert data["pattern"] == "10/11;11/01" and "model masks" in data["input"]


def test_pruned_torch_model(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from torch.nn.utils import prune

    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU(), torch.nn.Linear(2, 2))
    for layer, m in zip((model[0], model[2]), SparsityPattern.lu(2).masks):
        prune.custom_from_mask(layer, "weight", torch.tensor(np.array(m)))
    path = tmp_path / "pruned.pt"
    torch.save(model.state_dict(), path)
    data = json.loads(runner.invoke(app, ["check-pattern", str(path), "--json"]).stdout)
    assert data["pattern"] == "10/11;11/01" and data["closed"] is False


def test_help_documents_notation() -> None:
    result = runner.invoke(app, ["check-pattern", "--help"])
    assert "10/11;11/01" in result.output


@pytest.mark.parametrize(
    "args",
    [["missing_model.pt"], ["10/1;11"], ["10/11;11/01", "--time-limit", "-1"], ["12/11"]],
)
def test_bad_input_exit_code_2_one_line(args: list[str], tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "reluscope", "check-pattern", *args],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("error:")


def test_corrupt_file_exit_code_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.npz"
    path.write_bytes(b"PK\x03\x04garbage")
    proc = subprocess.run(
        [sys.executable, "-m", "reluscope", "check-pattern", str(path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
