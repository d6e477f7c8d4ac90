"""The verification benchmark reads other tools' outputs and the competition's results:
those readers are checked here (no peer is run; benchmarks/verification.py itself is not
imported)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.peers import consensus, marabou, neuralsat, neurodiff  # noqa: E402

MARABOU_SAT = """\
\t--- Proof Certificate ---
\tNumber of certified leaves: 0
sat
Input assignment:
\tx0 = 0.679858
\tx1 = 0.000000
\tx2 = -0.063678

Output:
\ty0 = 0.024837
"""


def test_marabou_verdicts_and_counterexample():
    assert marabou.parse(MARABOU_SAT) == ("violated", [0.679858, 0.0, -0.063678])
    assert marabou.parse("stats\nunsat\n") == ("holds", None)
    assert marabou.parse("stats\nTimeout\n") == ("timeout", None)
    assert marabou.parse("Segmentation fault\n")[0] == "error"
    # a word inside a longer line is not a verdict
    assert marabou.parse("the query is unsat-ish\n")[0] == "error"


def test_neuralsat_result_file():
    assert neuralsat.parse("sat\n((X_1 0.5)\n (X_0 -1.25e-1)\n (Y_0 3))") == ("violated", [-0.125, 0.5])
    assert neuralsat.parse("sat") == ("violated", None)
    assert neuralsat.parse("unsat,12.3\n") == ("holds", None)
    assert neuralsat.parse("timeout\n") == ("timeout", None)
    assert neuralsat.parse("") == ("error", None)


def test_neurodiff_verdict_lines():
    assert neurodiff.parse("Initial output delta:\n[...]\n\nNo adv!\ntime: 0.1\n") == "proved"
    assert neurodiff.parse("\nadv found:\nadv is: 0.1 0.2\n") == "refuted"
    assert neurodiff.parse("Wrong network!\n") == "error"


def test_nnet_written_for_neurodiff_reads_back_exactly(tmp_path):
    rng = np.random.default_rng(0)
    W = [rng.normal(size=(4, 3)), rng.normal(size=(2, 4))]
    b = [rng.normal(size=4), rng.normal(size=2)]
    half_W = [w.astype(np.float16).astype(np.float64) for w in W]
    header = ["2,3,2,4,", "3,4,2,", "0,", "0,0,0,", "1,1,1,", "0,0,0,0,", "1,1,1,1,"]
    path = tmp_path / "n.nnet"
    neurodiff.write_nnet(path, header, half_W, b)
    W2, b2 = neurodiff.read_nnet(path)
    assert all(np.array_equal(x, y) for x, y in zip(half_W + b, W2 + b2))
    with pytest.raises(ValueError):
        neurodiff.write_nnet(path, ["2,3,2,4,", "3,5,2,"] + header[2:], half_W, b)


def test_consensus_votes_and_skipped_tool():
    answers = {"A": ("holds", 1.0), "B": ("holds", 2.0), "C": ("violated", 3.0)}
    assert consensus.consensus_of(answers, "acasxu") == ("holds", 2, 1)
    assert consensus.consensus_of({"A": ("holds", 1.0), "B": ("violated", 1.0)}, "acasxu")[0] == "none"
    # RPM's mnistfc answers are skipped, as the competition's scoring does
    assert consensus.consensus_of({"RPM": ("violated", 1.0), "oval": ("holds", 1.0)}, "mnistfc") == ("holds", 1, 0)
    assert consensus.consensus_of({"RPM": ("violated", 1.0), "oval": ("holds", 1.0)}, "acasxu")[0] == "none"
    assert consensus.normalized("UNSAT") == "holds" and consensus.normalized("sat") == "violated"
    assert consensus.normalized("run_instance_timeout") == "none"


def test_vendored_instances_and_their_consensus():
    acas = consensus.instances("acasxu")
    mnist = consensus.instances("mnistfc")
    assert len(acas) == 186 and len(mnist) == 90
    assert all(i.timeout > 0 and i.onnx_path.exists() and i.vnnlib_path.exists() for i in acas + mnist)
    assert {i.consensus for i in acas} == {"holds", "violated"}  # every ACAS Xu instance was answered
    # tools disagreeing on an instance never outnumber the majority
    assert all(max(i.n_holds, i.n_violated) > min(i.n_holds, i.n_violated) for i in acas)
    assert consensus.stride_subset(acas, 3) == acas[::3]
