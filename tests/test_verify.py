"""``reluscope.verify``: every "holds" survives an attack and dense sampling, every
counterexample violates on the real network, agreement with the exact MILP, unknown only
when the time is spent, several cases and polytopes, bad input, and real ACAS Xu
instances from VNN-COMP 2021."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import reluscope
from reluscope import Box, InvalidArgument, ReLUNetwork
from reluscope.spec import SpecCase, Specification, UnsafePolytope

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
ACAS = ROOT / "benchmarks" / "vnncomp2021" / "acasxu"


def _max_gap(net: ReLUNetwork, seed: int) -> float:
    """The exact maximum of ``y0 - y1`` over ``[-1, 1]^d`` (MILP)."""
    from reluscope.milp import neuron_range

    W, b = list(net.weights), list(net.biases)
    c = np.array([[1.0, -1.0] + [0.0] * (net.output_dim - 2)])
    folded = ReLUNetwork(W[:-1] + [c @ W[-1]], b[:-1] + [c @ b[-1]])
    ref = neuron_range(folded, Box(-1, 1), folded.depth, 0, time_limit=60)
    assert ref.exact_upper
    return ref.upper


def _spec_above(net: ReLUNetwork, t: float) -> Specification:
    """Unsafe: ``y0 - y1 >= t`` on ``[-1, 1]^d``, i.e. ``-y0 + y1 <= -t``."""
    A = np.zeros((1, net.output_dim))
    A[0, 0], A[0, 1] = -1.0, 1.0
    return Specification.single(Box(-np.ones(net.input_dim), np.ones(net.input_dim)), A, [-t], name="gap")


def _attack_min_slack(net, spec, seed=0):
    """Dense sampling plus many projected gradient runs: the smallest slack found."""
    import torch

    from reluscope.search.attack import pgd_minimize
    from reluscope.search.crown import TorchNet

    best = np.inf
    for case in spec.cases:
        lo, hi = case.box.bounds(net.input_dim)
        X = lo + (hi - lo) * np.random.default_rng(seed).random((20000, lo.size))
        for p in case.unsafe:
            tn = TorchNet(list(net.weights), list(net.biases), p.A, -p.b)
            P = pgd_minimize(tn.forward, lo[None], hi[None], restarts=64, steps=60, rng=np.random.default_rng(seed))
            with torch.no_grad():
                best = min(best, float(p.slack(net(np.vstack([X, P]))).min()))
    return best


@pytest.mark.parametrize("seed", range(8))
def test_verify_agrees_with_the_exact_milp_and_answers_are_sound(seed):
    net = ReLUNetwork.random((3, 10, 10, 3), seed=seed)
    top = _max_gap(net, seed)
    for t, expected in ((top + 0.05 * (1 + abs(top)), "holds"), (top - 0.05 * (1 + abs(top)), "violated")):
        spec = _spec_above(net, t)
        res = reluscope.verify(net, spec, time_limit=60, seed=seed)
        assert res.result == expected
        if res.result == "violated":
            x, y = res.counterexample
            assert spec.is_counterexample(net, x)
            assert np.allclose(y, net(x[None])[0], rtol=1e-12, atol=1e-12)
        else:
            assert res.lower > 0
            assert _attack_min_slack(net, spec, seed) > 0  # the proved property survives an attack


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
def test_verify_relu_split_on_a_wider_input(seed):
    net = ReLUNetwork.random((16, 20, 20, 3), seed=100 + seed)
    X = Box(-1, 1).sample(20000, 16, seed=seed)
    Y = net(X)
    for t in (float(np.max(Y[:, 0] - Y[:, 1])) + 2.0, float(np.quantile(Y[:, 0] - Y[:, 1], 0.5))):
        spec = _spec_above(net, t)
        res = reluscope.verify(net, spec, time_limit=8, seed=seed, method="relu")
        if res.result == "violated":
            assert spec.is_counterexample(net, res.counterexample[0])
        elif res.result == "holds":
            assert _attack_min_slack(net, spec, seed) > 0
        else:
            assert res.seconds >= 8 * 0.99  # unknown only once the time is spent


def test_several_cases_and_polytopes_violated_iff_any_is():
    net = ReLUNetwork.random((2, 8, 8, 2), seed=4)
    top = _max_gap(net, 4)
    A = np.array([[-1.0, 1.0]])
    safe = UnsafePolytope(A, np.array([-(top + 1.0)]))
    unsafe = UnsafePolytope(A, np.array([-(top - 0.2)]))
    box = Box(-np.ones(2), np.ones(2))
    holds = Specification((SpecCase(box, (safe,)), SpecCase(Box([-0.5, -0.5], [0.5, 0.5]), (safe, safe))))
    res = reluscope.verify(net, holds, time_limit=30)
    assert res.result == "holds"
    viol = Specification((SpecCase(box, (safe,)), SpecCase(box, (safe, unsafe))))
    res = reluscope.verify(net, viol, time_limit=30)
    assert res.result == "violated" and viol.is_counterexample(net, res.counterexample[0])
    assert str(res).startswith("violated")
    assert res.to_dict()["result"] == "violated"


def test_unknown_only_when_the_time_is_spent():
    net = ReLUNetwork.random((30, 64, 64, 64, 2), seed=11)
    X = Box(-1, 1).sample(5000, 30, seed=0)
    # a threshold just above the sampled maximum: neither an easy proof nor an easy attack
    t = float(np.max(net(X)[:, 0] - net(X)[:, 1])) + 1e-3
    res = reluscope.verify(net, _spec_above(net, t), time_limit=2.0)
    assert res.result in ("unknown", "violated", "holds")
    if res.result == "unknown":
        assert res.seconds >= 2.0 * 0.99
        assert str(res).startswith("unknown")


def test_bad_input_is_refused_with_a_named_cause():
    net = ReLUNetwork.random((3, 5, 2), seed=0)
    wrong_in = Specification.single(Box(-np.ones(4), np.ones(4)), [[1.0, 0.0]], [0.0])
    with pytest.raises(InvalidArgument, match="4 inputs"):
        reluscope.verify(net, wrong_in)
    wrong_out = Specification.single(Box(-np.ones(3), np.ones(3)), [[1.0, 0.0, 0.0]], [0.0])
    with pytest.raises(InvalidArgument, match="3 outputs"):
        reluscope.verify(net, wrong_out)
    ok = Specification.single(Box(-np.ones(3), np.ones(3)), [[1.0, 0.0]], [0.0])
    with pytest.raises(InvalidArgument, match="time_limit"):
        reluscope.verify(net, ok, time_limit=-1)
    with pytest.raises(InvalidArgument, match="spec"):
        reluscope.verify(net, "prop.vnnlib")


ACAS_CASES = [  # (network, property, consensus of VNN-COMP 2021)
    ("ACASXU_run2a_3_7_batch_2000.onnx", "prop_2.vnnlib", "violated"),
    ("ACASXU_run2a_2_1_batch_2000.onnx", "prop_4.vnnlib", "holds"),
    ("ACASXU_run2a_3_8_batch_2000.onnx", "prop_3.vnnlib", "holds"),
]


@pytest.mark.slow
@pytest.mark.skipif(not ACAS.exists(), reason="VNN-COMP 2021 ACAS Xu files not vendored")
@pytest.mark.parametrize("onnx, prop, expected", ACAS_CASES)
def test_acas_xu_instances(onnx, prop, expected):
    from reluscope.io import load_vnnlib

    net = reluscope.load(ACAS / onnx)
    spec = load_vnnlib(ACAS / prop)
    res = reluscope.verify(net, spec, time_limit=116)
    assert res.result in (expected, "unknown")  # never the wrong answer
    assert res.result == expected
    if expected == "violated":
        assert spec.is_counterexample(net, res.counterexample[0])
