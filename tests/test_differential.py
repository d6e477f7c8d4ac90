"""Unions of boxes and the differential questions: every bound contains sampled values,
every "proved" survives dense sampling, every "refuted" comes with a real counterexample."""

from __future__ import annotations

import numpy as np
import pytest

import reluscope as rs
from reluscope import Box, Boxes, PointSet, ReLUNetwork
from reluscope.errors import InvalidArgument, InvalidDomain


def _pair(seed: int, d: int = 6, k: int = 3, prune: float = 0.05):
    f = ReLUNetwork.random((d, 16, 16, k), seed=seed)
    g = ReLUNetwork([W * (np.abs(W) > prune) for W in f.weights], f.biases)
    return f, g


def _dense(boxes: Boxes, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.vstack([b.sample(n, seed=rng) for b in boxes])


def test_neighbourhood_builds_clipped_boxes_and_checks_radius():
    X = np.array([[0.0, 0.5], [1.0, 0.2]])
    B = PointSet(X).neighbourhood(0.1, within=Box(0, 1))
    assert len(B) == 2 and B.dim == 2
    np.testing.assert_allclose(B.lo, [[0.0, 0.4], [0.9, 0.1]])
    np.testing.assert_allclose(B.hi, [[0.1, 0.6], [1.0, 0.3]])
    np.testing.assert_allclose(B.centres, X)
    for bad in (0, -1, float("nan"), float("inf"), "a"):
        with pytest.raises(InvalidArgument, match="radius"):
            PointSet(X).neighbourhood(bad)
    with pytest.raises(InvalidDomain, match="lo < hi"):
        Boxes([[0.0, 1.0]], [[1.0, 1.0]])


def test_analyses_without_union_support_refuse_boxes_clearly():
    net = ReLUNetwork.random((2, 3, 1), seed=0)
    B = PointSet(np.zeros((2, 2))).neighbourhood(0.1)
    with pytest.raises(InvalidDomain, match="union of boxes"):
        rs.degeneracies(net, B)


@pytest.mark.parametrize("seed", range(4))
def test_sup_and_lipschitz_over_boxes_bracket_sampled_values(seed):
    f, g = _pair(seed)
    rng = np.random.default_rng(seed)
    B = PointSet(rng.uniform(-1, 1, (6, 6))).neighbourhood(0.05)
    r = rs.sup_distance(f, g, B, time_limit=10)
    Xd = _dense(B, 500, seed)
    sampled = np.abs(f(Xd) - g(Xd)).max()
    assert r.lower <= r.upper and sampled <= r.upper + 1e-12
    assert len(r.per_box) == len(B) and max(u for _, u in r.per_box) == pytest.approx(r.upper)
    # the witness lies in one of the boxes and attains the lower bound
    w = r.witness
    assert np.any(np.all((B.lo - 1e-12 <= w) & (w <= B.hi + 1e-12), axis=1))
    assert np.abs(f(w[None]) - g(w[None])).max() == pytest.approx(r.lower, rel=1e-9)
    lip = rs.lipschitz_constant(f, B, time_limit=10)
    J = np.stack([f.local_affine(x)[0] for x in Xd[::10]])
    assert np.abs(J).max() <= lip.upper + 1e-9


@pytest.mark.parametrize("seed", range(6))
def test_epsilon_equivalence_agrees_with_the_exact_distance(seed):
    f, g = _pair(10 + seed)
    rng = np.random.default_rng(seed)
    B = PointSet(rng.uniform(-1, 1, (5, 6))).neighbourhood(0.05)
    exact = rs.sup_distance(f, g, B, time_limit=120)  # decided in seconds; the margin is for slow machines
    assert exact.exact
    above = rs.epsilon_equivalent(f, g, B, exact.upper * 1.01 + 1e-9, time_limit=120)
    assert above.status == "proved" and above.holds is True and above.counterexample is None
    below = rs.epsilon_equivalent(f, g, B, exact.lower * 0.9, time_limit=120)
    assert below.status == "refuted" and below.holds is False
    cx = below.counterexample
    assert np.abs(f(cx[None]) - g(cx[None])).max() > exact.lower * 0.9
    assert np.any(np.all((B.lo <= cx) & (cx <= B.hi), axis=1))
    assert below.counts["refuted"] >= 1


@pytest.mark.parametrize("seed", range(6))
def test_top1_verdicts_are_sound(seed):
    f, g = _pair(20 + seed, prune=0.15)
    rng = np.random.default_rng(seed)
    B = PointSet(rng.uniform(-1, 1, (8, 6))).neighbourhood(0.02)
    v = rs.top1_agreement(f, g, B, time_limit=20)
    Xd = _dense(B, 300, seed)
    per_box = np.repeat(np.arange(len(B)), 300)
    disagree = np.argmax(f(Xd), 1) != np.argmax(g(Xd), 1)
    for i, status in enumerate(v.box_status):
        if status == "proved":
            assert not disagree[per_box == i].any()
    if v.status == "refuted":
        cx = v.counterexample
        assert np.argmax(f(cx[None])[0]) != np.argmax(g(cx[None])[0])
    if disagree.any():
        assert v.status != "proved"


def test_top1_of_a_network_with_itself_is_never_refuted_and_mostly_proved():
    f = ReLUNetwork.random((4, 8, 3), seed=3)
    B = PointSet(np.random.default_rng(3).uniform(-1, 1, (10, 4))).neighbourhood(0.01)
    v = rs.top1_agreement(f, f, B, time_limit=10)
    assert "refuted" not in v.box_status
    assert v.counts["proved"] >= 8


def test_point_sets_are_decided_exactly():
    f, g = _pair(1)
    X = np.random.default_rng(1).uniform(-1, 1, (50, 6))
    D = np.abs(f(X) - g(X)).max(axis=1)
    v = rs.epsilon_equivalent(f, g, X, float(np.median(D)))
    assert v.status == "refuted" and v.counts["refuted"] == int((D > np.median(D)).sum())
    assert rs.epsilon_equivalent(f, g, X, float(D.max())).status == "proved"


def test_cli_distance_with_data_neighbourhoods_and_verdicts(tmp_path):
    import json

    from typer.testing import CliRunner

    from reluscope.cli import app

    f, g = _pair(2)
    rs.save(f, tmp_path / "a.safetensors")
    rs.save(g, tmp_path / "b.safetensors")
    X = np.random.default_rng(2).uniform(-1, 1, (6, 6))
    csv = tmp_path / "d.csv"
    np.savetxt(csv, np.c_[X, np.arange(6) % 3], delimiter=",", header="a,b,c,d,e,f,label", comments="")
    base = ["distance", str(tmp_path / "a.safetensors"), str(tmp_path / "b.safetensors"),
            "--data", str(csv), "--radius", "0.05", "--time-limit", "10", "--json"]
    res = CliRunner().invoke(app, base)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    api = rs.sup_distance(f, g, PointSet(X).neighbourhood(0.05), time_limit=10)
    assert out["domain"]["type"] == "boxes" and out["domain"]["m"] == 6
    assert out["upper"] >= api.lower - 1e-9 and out["lower"] <= api.upper + 1e-9
    res = CliRunner().invoke(app, base + ["--epsilon", str(api.upper * 2), "--top1"])
    assert res.exit_code == 0, res.output
    verdicts = json.loads(res.output)["verdicts"]
    assert verdicts[0]["question"] == "epsilon-equivalence" and verdicts[0]["status"] == "proved"
    assert verdicts[1]["question"] == "top-1 agreement"
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "reluscope", *base[:-1], "--radius", "-1"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "radius" in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("gap", [1e-3, 1e-6, 1e-9])
def test_boundary_search_refutes_a_thin_sliver_of_disagreement(gap):
    # f and g on R: classes (x, 0) and (x - gap, 0) disagree exactly on (0, gap]; a random
    # sample hits a sliver of width 1e-6 with negligible probability, bisection does not
    f = ReLUNetwork([np.array([[1.0], [-1.0]]), np.array([[1.0, -1.0], [0.0, 0.0]])],
                    [np.zeros(2), np.zeros(2)])
    g = ReLUNetwork(list(f.weights), [np.zeros(2), np.array([-gap, 0.0])])
    v = rs.top1_agreement(f, g, Boxes(np.array([[-0.5]]), np.array([[1.0]])), time_limit=10, n_samples=4)
    assert v.status == "refuted" and v.counts["refuted"] == 1
    x = v.counterexample
    assert np.argmax(f(x[None])[0]) != np.argmax(g(x[None])[0])
    assert 0.0 < x[0] <= gap * (1 + 1e-6)


def test_find_disagreement_returns_only_real_disagreements():
    from reluscope._budget import Budget
    from reluscope.distance.disagreement import find_disagreement

    found = 0
    for seed in range(40):
        f, g = _pair(seed, prune=0.3)
        rng = np.random.default_rng(seed)
        c = rng.uniform(-1, 1, 6)
        r = rng.uniform(0.05, 0.5)
        x = find_disagreement(f, g, c - r, c + r, Budget(5))
        if x is not None:
            found += 1
            assert np.all(x >= c - r) and np.all(x <= c + r)
            assert np.argmax(f(x[None])[0]) != np.argmax(g(x[None])[0])
    assert found >= 5  # the search is not vacuous on these heavily pruned pairs


def test_engine_bound_cache_is_keyed_by_parameters_not_identity():
    from reluscope.distance.neighbourhoods import _box_upper, _fingerprint

    f, g = _pair(3)
    box = Box(-0.2, 0.3)
    fp = _fingerprint([(f, 1.0), (g, -1.0)])
    first = _box_upper([(f, 1.0), (g, -1.0)], "sup", box, "linear", fp)
    # an equal copy has the same digest and gets the same (cached) bound
    f2 = ReLUNetwork([W.copy() for W in f.weights], [b.copy() for b in f.biases])
    assert _fingerprint([(f2, 1.0), (g, -1.0)]) == fp
    assert _box_upper([(f2, 1.0), (g, -1.0)], "sup", box, "linear", fp) == first
    # a network differing in one weight has another digest, and its own valid bound
    W0 = f.weights[0].copy()
    W0[0, 0] += 1.0
    f3 = ReLUNetwork([W0] + list(f.weights[1:]), f.biases)
    fp3 = _fingerprint([(f3, 1.0), (g, -1.0)])
    assert fp3 != fp
    up3 = _box_upper([(f3, 1.0), (g, -1.0)], "sup", box, "linear", fp3)
    X = box.sample(2000, 6, seed=0)
    assert np.abs(f3(X) - g(X)).max() <= up3


def test_top1_of_single_output_networks_is_proved_on_every_box():
    """With one output the top class is 0 everywhere: the networks always agree."""
    f = ReLUNetwork.random((3, 8, 1), seed=0)
    g = ReLUNetwork.random((3, 8, 1), seed=1)
    boxes = PointSet(np.zeros((4, 3))).neighbourhood(0.5)
    v = rs.top1_agreement(f, g, boxes, time_limit=2)
    assert v.status == "proved" and v.box_status == ("proved",) * 4 and v.counterexample is None
