"""Many properties at once (issue 25, item 6): ``verify_many`` gives the same answers in this
process, in local worker processes and on a Dask cluster; the VNN-COMP instances CSV is
read with its per-instance timeouts; bad jobs fail before any work, in one line.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from reluscope import Box, InvalidArgument, ModelFileError, ReLUNetwork, load, load_vnnlib
from reluscope.spec import Specification
from reluscope.verify_jobs import VerifyJob, read_instances, verify_many

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "vnncomp2021"
ACAS = BENCH / "acasxu"
# instances the engine decides in a second or two (two violated, two holding)
QUICK = [("ACASXU_run2a_2_5_batch_2000.onnx", "prop_2.vnnlib"), ("ACASXU_run2a_1_2_batch_2000.onnx", "prop_2.vnnlib"),
         ("ACASXU_run2a_1_1_batch_2000.onnx", "prop_1.vnnlib"), ("ACASXU_run2a_3_5_batch_2000.onnx", "prop_4.vnnlib")]


def _consensus() -> dict[tuple[str, str], str]:
    with open(BENCH / "results" / "consensus.csv", newline="") as fh:
        return {(r["onnx"], r["vnnlib"]): r["consensus"] for r in csv.DictReader(fh)}


def _check_against_consensus(result):
    consensus = _consensus()
    for (onnx_name, prop), outcome in zip(QUICK, result.outcomes):
        assert (outcome.model, outcome.spec) == (onnx_name, prop)
        if outcome.result != "unknown":
            assert outcome.result == consensus[(onnx_name, prop)]
        if outcome.result == "violated":
            assert load_vnnlib(ACAS / prop).is_counterexample(load(ACAS / onnx_name), outcome.counterexample)


@pytest.mark.slow
def test_local_cluster_gives_the_same_answers_as_the_local_run():
    distributed = pytest.importorskip("dask.distributed")
    jobs = [VerifyJob(ACAS / m, ACAS / p, 60.0) for m, p in QUICK]  # decided in seconds: a wide margin
    local = verify_many(jobs, workers=1)
    assert local.backend == "in-process"
    _check_against_consensus(local)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        remote = verify_many(jobs, scheduler=cluster.scheduler_address)
    assert remote.backend.startswith("dask")
    _check_against_consensus(remote)
    # Time limits are wall-clock: on a loaded machine a job can run out of time on one side
    # ("unknown" is honest, not a different answer). Decided answers must be identical, and
    # enough are decided on both sides that the comparison is not between "unknown"s.
    pairs = [(a.result, b.result) for a, b in zip(local.outcomes, remote.outcomes)]
    assert all(a == b for a, b in pairs if "unknown" not in (a, b)), pairs
    assert sum("unknown" not in (a, b) for a, b in pairs) >= 2, pairs


@pytest.mark.slow
def test_local_processes_agree_with_in_process_on_a_known_network():
    """f(x) = relu(x_0) - relu(x_1) on [0, 1]^2 has range [-1, 1]: thresholds above 1 hold,
    below are violated; the answers do not depend on where the jobs ran."""
    net = ReLUNetwork([np.eye(2), np.array([[1.0, -1.0]])], [np.zeros(2), np.zeros(1)])
    specs = [Specification.single(Box([0, 0], [1, 1]), A=[[-1.0]], b=[-t], name=f"y>={t}") for t in (1.5, 0.5, 2.0)]
    jobs = [(net, s, 60.0) for s in specs]  # decided in well under a second of CPU: a wide margin
    here = verify_many(jobs, workers=1)
    there = verify_many(jobs, workers=2)
    assert there.backend.startswith("local processes")
    assert [o.result for o in here.outcomes] == [o.result for o in there.outcomes] == ["holds", "violated", "holds"]
    for o in (here.outcomes[1], there.outcomes[1]):
        assert specs[1].is_counterexample(net, o.counterexample) and o.output[0] >= 0.5


def test_read_instances_with_timeouts_relative_paths_and_gz():
    jobs = read_instances(ACAS / "acasxu_instances.csv")
    assert len(jobs) == 186
    assert jobs[0] == VerifyJob(ACAS / "ACASXU_run2a_1_1_batch_2000.onnx", ACAS / "prop_1.vnnlib", 116.0)
    assert all(Path(j.model).is_file() and Path(j.spec).is_file() for j in jobs)
    mnist = read_instances(BENCH / "mnistfc" / "mnistfc_instances.csv")
    assert len(mnist) == 90 and all(str(j.spec).endswith(".vnnlib.gz") and Path(j.spec).is_file() for j in mnist)
    rows = [line.split(",") for line in (BENCH / "mnistfc" / "mnistfc_instances.csv").read_text().split()]
    assert [j.time_limit for j in mnist] == [float(r[2]) for r in rows]  # per-instance timeouts, in order


@pytest.mark.parametrize("text, needle", [
    ("a.onnx,b.vnnlib\n", "line 1: expected 'model,property,timeout'"),
    ("a.onnx,b.vnnlib,10\na.onnx,b.vnnlib,ten\n", "line 2: timeout 'ten' is not a number"),
    ("a.onnx,b.vnnlib,-5\n", "line 1: timeout must be a positive"),
    ("\n", "no instances"),
])
def test_bad_instances_csv(tmp_path, text, needle):
    path = tmp_path / "inst.csv"
    path.write_text(text)
    with pytest.raises(ModelFileError) as info:
        read_instances(path)
    assert needle in str(info.value) and str(path) in str(info.value)


def test_bad_jobs_fail_before_any_work(tmp_path):
    with pytest.raises(Exception, match="declares 784 inputs but the network has 5"):
        verify_many([(ACAS / "ACASXU_run2a_1_1_batch_2000.onnx", BENCH / "mnistfc" / "prop_0_0.03.vnnlib")])
    with pytest.raises(InvalidArgument, match="job 0"):
        verify_many([object()])
    with pytest.raises(InvalidArgument, match="at least one job"):
        verify_many([])
    with pytest.raises(InvalidArgument, match="cannot connect to Dask scheduler"):
        verify_many([(ACAS / "ACASXU_run2a_1_1_batch_2000.onnx", ACAS / "prop_1.vnnlib", 1.0)],
                    scheduler="tcp://127.0.0.1:1")
