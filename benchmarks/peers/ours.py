"""reluscope's own solver for the benchmark, each call in a fresh child process.

``verify_instance`` runs ``reluscope.verify(net, spec, time_limit=T)`` on one VNN-COMP
instance in a new Python process (``python -m benchmarks.peers.ours verify ...``), so that an
instance that overruns, leaks memory or crashes does not affect the others; the process is
killed at ``1.2 T + 1 s`` after its start-up plus a fixed margin for loading. The child
reports the time of ``load + verify`` (``seconds``; imports excluded, as the competition
subtracts each tool's start-up overhead), the call's own ``.seconds``, its wall time and
its peak resident memory (``ru_maxrss``).

Every ``violated`` answer is re-checked here, outside the solver: the counterexample must
lie in an input box of the specification and its output, computed by onnxruntime on the
ONNX file (float32, the reference) and by the loaded network in float64, must satisfy an
unsafe polytope of that box.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ._common import WORK, run, tail

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"
# the benchmark's own tree first (a copy of an older commit measures that commit)
_PYTHONPATH = f"{ROOT / 'src'}:{ROOT}"
LOAD_MARGIN = 30.0  # seconds allowed for imports and loading before the deadline starts


def _child_verify(onnx: str, vnnlib: str, T: float, out: str) -> None:
    t_import = time.perf_counter()
    import reluscope
    from reluscope.io import load_vnnlib
    t0 = time.perf_counter()
    net = reluscope.load(onnx)
    spec = load_vnnlib(vnnlib)
    t1 = time.perf_counter()
    res = reluscope.verify(net, spec, time_limit=T)
    t2 = time.perf_counter()
    cex = getattr(res, "counterexample", None)
    if isinstance(cex, tuple):  # (x, f(x)): keep x; f(x) is recomputed by the checker
        cex = cex[0]
    record = {"lower": float(getattr(res, "lower", float("nan"))), "upper": float(getattr(res, "upper", float("nan"))),
              "method": str(getattr(res, "method", "")),
              "result": str(res.result), "seconds": t2 - t0, "verify_seconds": t2 - t1,
              "reported_seconds": float(getattr(res, "seconds", float("nan"))),
              "load_seconds": t1 - t0, "import_seconds": t0 - t_import,
              "counterexample": None if cex is None else np.asarray(cex, dtype=np.float64).ravel().tolist(),
              "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
              "summary": str(res)[:300]}
    Path(out).write_text(json.dumps(record))


def acas_pair(n: str):
    """The ACAS Xu network and its 16-bit copy, as ``benchmarks/differential.py`` builds them."""
    from benchmarks.differential import acas_pair as pair
    return pair(n)


def output_slice(net, k: int):
    """The network restricted to output ``k`` (NeuroDiff checks the target output only)."""
    from benchmarks.differential import output_slice as sliced
    return sliced(net, k)


def _solver_differential():
    """Ours for the differential suite: ``benchmarks/differential.py``'s ``solve_pair`` when
    it provides one, else ``reluscope.epsilon_equivalent``."""
    try:
        import benchmarks.differential as d
        if hasattr(d, "solve_pair"):
            return "benchmarks.differential.solve_pair", d.solve_pair
    except ImportError:
        pass
    import reluscope

    def solve_pair(f, g, box, eps, time_limit):
        return reluscope.epsilon_equivalent(f, g, box, eps, time_limit=time_limit)
    return "reluscope.epsilon_equivalent", solve_pair


def _child_diff(n: str, prop: int, eps: float, T: float, out: str) -> None:
    t_import = time.perf_counter()
    import reluscope
    from . import neurodiff
    t0 = time.perf_counter()
    net, copy = acas_pair(n)
    lo, hi, target = neurodiff.region(f"ACASXU_run2a_{n}_batch_2000", prop) + (neurodiff.PROPERTIES[prop][2],)
    f, g = output_slice(net, target), output_slice(copy, target)
    how, solve = _solver_differential()
    t1 = time.perf_counter()
    v = solve(f, g, reluscope.Box(lo, hi, allow_flat=True), eps, T)
    t2 = time.perf_counter()
    bounds = getattr(v, "bounds", None)
    record = {"result": str(getattr(v, "status", v)), "seconds": t2 - t1, "setup_seconds": t1 - t0,
              "import_seconds": t0 - t_import, "solver": how, "target_output": target,
              "bounds": None if bounds is None else [float(x) for x in bounds],
              "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}
    Path(out).write_text(json.dumps(record))


def differential_pair(n: str, prop: int, eps: float, timeout: float) -> dict:
    """Ours on one (network, 16-bit copy, property region, eps) in a fresh process."""
    WORK.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        out = Path(tmp) / "diff.json"
        done = run([str(PYTHON), "-m", "benchmarks.peers.ours", "diff", n, str(prop), repr(float(eps)),
                    repr(float(timeout)), str(out)],
                   wall_limit=1.2 * timeout + 1 + LOAD_MARGIN, cwd=ROOT, env={"PYTHONPATH": _PYTHONPATH})
        record = json.loads(out.read_text()) if out.exists() else None
    if record is None:
        return {"result": "killed" if done.killed else "error", "seconds": done.seconds,
                "note": "" if done.killed else f"rc={done.returncode}: {tail(done.stderr, 400)}"}
    record["wall_seconds"] = done.seconds
    record["cpu_seconds"] = done.cpu_seconds
    return record


def check_counterexample(onnx: Path, vnnlib: Path, x: list[float]) -> dict:
    """Does ``x`` violate the property? Checked with onnxruntime (float32) and float64."""
    import onnxruntime as ort

    import reluscope
    from reluscope.io import load_vnnlib
    spec = load_vnnlib(str(vnnlib))
    net = reluscope.load(str(onnx))
    x = np.asarray(x, dtype=np.float64).reshape(1, -1)
    sess = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    y32 = np.asarray(sess.run(None, {inp.name: x.astype(np.float32).reshape(shape)})[0], dtype=np.float64).reshape(1, -1)
    y64 = net(x)

    def violates(y):
        for case in spec.cases:
            lo, hi = case.box.bounds(x.shape[1])
            if np.all(x[0] >= lo) and np.all(x[0] <= hi) and any(p.contains(y)[0] for p in case.unsafe):
                return True
        return False
    return {"float64": bool(violates(y64)), "onnxruntime": bool(violates(y32))}


def verify_instance(onnx: Path, vnnlib: Path, timeout: float) -> dict:
    """One instance in a fresh process; ``result`` is ``holds``/``violated``/``unknown``,
    ``killed`` past the hard limit or ``error``."""
    WORK.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        out = Path(tmp) / "ours.json"
        done = run([str(PYTHON), "-m", "benchmarks.peers.ours", "verify", str(onnx), str(vnnlib),
                    repr(float(timeout)), str(out)],
                   wall_limit=1.2 * timeout + 1 + LOAD_MARGIN, cwd=ROOT,
                   env={"PYTHONPATH": _PYTHONPATH})
        record = json.loads(out.read_text()) if out.exists() else None
    if record is None:
        return {"result": "killed" if done.killed else "error", "seconds": done.seconds,
                "wall_seconds": done.seconds, "counterexample": None,
                "note": "" if done.killed else f"rc={done.returncode}: {tail(done.stderr, 400)}"}
    record["wall_seconds"] = done.seconds
    record["cpu_seconds"] = done.cpu_seconds
    if record["result"] == "violated":
        if record["counterexample"] is None:
            record["cex_check"] = {"float64": False, "onnxruntime": False}
        else:
            record["cex_check"] = check_counterexample(onnx, vnnlib, record["counterexample"])
    return record


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "verify":
        _child_verify(sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5])
    elif len(sys.argv) == 7 and sys.argv[1] == "diff":
        _child_diff(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6])
    else:
        raise SystemExit("usage: python -m benchmarks.peers.ours verify NET.onnx SPEC.vnnlib T OUT.json")
