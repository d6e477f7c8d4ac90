"""Mask repair: added entries, a certified closed verdict afterwards, the CLI."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from reluscope.cli import app
from reluscope.sparsity import SparsityPattern, is_closed, repair, verify


def _defective() -> SparsityPattern:
    # LU block on inputs {0, 1} x outputs {0, 1} inside a 5-4-4-3 pattern
    w1 = np.zeros((4, 5), bool)
    w1[0, 0] = w1[1, 0] = w1[1, 1] = True
    w1[2:, 2:] = True
    w2 = np.eye(4, dtype=bool)
    w2[2:, 2:] = True
    w3 = np.zeros((3, 4), bool)
    w3[0, 0] = w3[0, 1] = w3[1, 1] = True
    w3[1:, 2:] = True
    return SparsityPattern([w1, w2, w3])


def test_repair_makes_a_defective_pattern_certified_closed() -> None:
    p = _defective()
    assert is_closed(p, time_limit=10).closed is False
    r = repair(p, time_limit=20)
    assert r.original.closed is False and r.verdict.closed is True
    assert verify(r.verdict.certificate).valid is True
    assert r.added and r.cost == len(r.added)
    for l, i, j in r.added:  # only additions, each a new entry
        assert not p.masks[l - 1][i, j] and r.pattern.masks[l - 1][i, j]
    assert r.pattern.n_allowed == p.n_allowed + len(r.added)
    assert all((a <= b).all() for a, b in zip(p.masks, r.pattern.masks))


def test_repair_of_a_closed_pattern_adds_nothing() -> None:
    p = SparsityPattern.from_text("11/11;10;0/1/1")
    r = repair(p, time_limit=5)
    assert r.added == () and r.verdict.closed is True and r.pattern == p


def test_cli_repair_writes_a_copy(tmp_path) -> None:
    from reluscope import ReLUNetwork, load, save

    p = _defective()
    rng = np.random.default_rng(0)
    net = ReLUNetwork([rng.normal(size=m.shape) * m for m in p.masks], [np.zeros(m.shape[0]) for m in p.masks],
                      masks=list(p.masks))
    src, out = tmp_path / "m.npz", tmp_path / "fixed.npz"
    save(net, src)
    before = src.read_bytes()
    res = CliRunner().invoke(app, ["check-pattern", str(src), "--repair", "--output", str(out), "--time-limit", "20"])
    assert res.exit_code == 0, res.output
    assert "mask entries added" in res.output and "closed" in res.output
    assert src.read_bytes() == before  # the user's model is not touched
    fixed = load(out)
    assert is_closed(SparsityPattern.from_network(fixed), time_limit=10).closed is True
    assert np.allclose(fixed.weights[0], net.weights[0])


@pytest.mark.parametrize("args", [["--output", "x.npz"], ["--repair", "--output", "x.npz"]])
def test_cli_output_without_model_is_one_line_error(args, tmp_path) -> None:
    proc = subprocess.run([sys.executable, "-m", "reluscope", "check-pattern", "10/11;11/01", *args],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "--output" in proc.stderr
    assert not (tmp_path / "x.npz").exists()


def test_cli_defects_lists_certified_blocks(tmp_path) -> None:
    from reluscope import ReLUNetwork, save

    p = _defective()
    net = ReLUNetwork([np.ones(m.shape) * m for m in p.masks], [np.zeros(m.shape[0]) for m in p.masks],
                      masks=list(p.masks))
    src = tmp_path / "m.npz"
    save(net, src)
    res = CliRunner().invoke(app, ["check-pattern", str(src), "--defects", "2", "--time-limit", "10"])
    assert res.exit_code == 0, res.output
    assert "defect on outputs" in res.output and "NOT closed" in res.output


def test_repair_with_removal_is_certified_and_only_removes_allowed_entries() -> None:
    p = _defective()
    r = repair(p, time_limit=20, allow_remove=True)
    assert r.verdict.closed is True and verify(r.verdict.certificate).valid is True
    assert r.cost == len(r.added) + len(r.removed) > 0
    for l, i, j in r.removed:  # each removed entry was allowed and is gone
        assert p.masks[l - 1][i, j] and not r.pattern.masks[l - 1][i, j]
    changed = sum(int((a != b).sum()) for a, b in zip(p.masks, r.pattern.masks))
    assert changed == r.cost
    # never more expensive than the addition-only repair
    assert r.cost <= repair(p, time_limit=20).cost


@pytest.mark.parametrize("seed", range(12))
def test_removal_repair_of_random_patterns_is_verified(seed) -> None:
    p = SparsityPattern.random([4, 4, 3, 3], 0.5, seed=seed)
    v = is_closed(p, time_limit=3)
    r = repair(p, time_limit=5, allow_remove=True, verdict=v)
    assert r.original is v
    assert r.verdict.closed is True and verify(r.verdict.certificate).valid is True
    # the repaired masks differ from the original exactly in the reported entries
    diff = {(l + 1, int(i), int(j)) for l, (a, b) in enumerate(zip(p.masks, r.pattern.masks)) for i, j in zip(*np.nonzero(a != b))}
    assert diff == set(r.added) | set(r.removed)


def test_cli_repair_with_removal_zeroes_weights_in_the_copy(tmp_path) -> None:
    from reluscope import ReLUNetwork, load, save

    p = SparsityPattern.from_text("10/11;11/01")
    net = ReLUNetwork([np.array([[2.0, 0.0], [3.0, -5.0]]), np.array([[1.0, 7.0], [0.0, 1.0]])],
                      [np.zeros(2), np.zeros(2)], masks=list(p.masks))
    src, out = tmp_path / "m.npz", tmp_path / "fixed.npz"
    save(net, src)
    before = src.read_bytes()
    res = CliRunner().invoke(app, ["check-pattern", str(src), "--repair", "--allow-remove", "--output", str(out),
                                   "--time-limit", "10", "--json"])
    assert res.exit_code == 0, res.output
    import json

    data = json.loads(res.output)
    assert src.read_bytes() == before
    fixed = load(out)
    assert is_closed(SparsityPattern.from_network(fixed), time_limit=10).closed is True
    for l, i, j in data["removed"]:
        assert fixed.weights[l - 1][i, j] == 0 and not fixed.masks[l - 1][i, j]
    assert data["removed_weight_abs_sum"] == pytest.approx(sum(abs(net.weights[l - 1][i, j]) for l, i, j in data["removed"]))


def test_undecided_region_locates_the_uncovered_entries() -> None:
    from reluscope.sparsity.region import undecided_region

    p = _defective()
    reg = undecided_region(p)
    # the LU block lives on outputs {0, 1} x inputs {0, 1}; the rest (2x2 full blocks) is covered
    assert set(reg.rows) <= {0, 1} and set(reg.cols) <= {0, 1} and reg.uncovered > 0
    assert set(reg.units[0]) <= {0, 1} and set(reg.units[1]) <= {0, 1}
    assert reg.support == int(p.path_support().sum())
    # a pattern with a routing cover has an empty region; its repair removes the region
    assert undecided_region(repair(p, time_limit=10).pattern).rows == ()
    assert undecided_region(SparsityPattern.dense([3, 4, 2])).uncovered == 0


def _magnitude_pruned_masks(widths, sparsity, seed):
    rng = np.random.default_rng(seed)
    masks = []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        w = np.abs(rng.standard_normal((n_out, n_in)))
        masks.append(w > np.quantile(w, sparsity))
    return SparsityPattern(masks)


@pytest.mark.parametrize("seed", range(4))
def test_repaired_masks_are_recertified_by_is_closed_alone(seed) -> None:
    # checking the repaired model later (no certificate at hand) must give the same verdict
    p = _magnitude_pruned_masks([24, 48, 24, 6], 0.9, seed)
    r = repair(p, time_limit=20, recheckable=True)
    assert r.verdict.closed is True and verify(r.verdict.certificate).valid is True
    again = is_closed(r.pattern, time_limit=10)
    assert again.closed is True and verify(again.certificate).valid is True
    assert repair(r.pattern, time_limit=10).added == ()
    cheapest = repair(p, time_limit=20)
    assert verify(cheapest.verdict.certificate).valid is True and cheapest.cost <= r.cost
    if is_closed(cheapest.pattern, time_limit=2).closed is not True:  # the note says so
        assert "does not re-certify" in cheapest.note


def test_cli_recheckable_repair_is_closed_when_checked_again(tmp_path) -> None:
    from reluscope import ReLUNetwork, save

    p = _magnitude_pruned_masks([24, 48, 24, 6], 0.9, 1)
    rng = np.random.default_rng(1)
    net = ReLUNetwork([rng.normal(size=m.shape) * m for m in p.masks], [np.zeros(m.shape[0]) for m in p.masks],
                      masks=list(p.masks))
    src, out = tmp_path / "m.npz", tmp_path / "fixed.npz"
    save(net, src)
    res = CliRunner().invoke(app, ["check-pattern", str(src), "--repair", "--recheckable", "--output", str(out),
                                   "--time-limit", "20"])
    assert res.exit_code == 0, res.output
    again = CliRunner().invoke(app, ["check-pattern", str(out), "--time-limit", "10"])
    assert again.exit_code == 0 and "L_I is closed" in again.output, again.output
