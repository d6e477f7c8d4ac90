"""Benchmark: ``reluscope.lipschitz_constant`` by method on a few networks and time limits.

Cases (all made or loaded in code):

* ``trained10``: the trained 10-32-32-1 MLP of ``benchmarks/bounds.py`` on ``[-1, 1]^10``;
* ``acas``: the ACAS Xu network 1_1 (VNN-COMP 2021 ONNX, vendored) on the input box of
  property 1 and on property 3's (5 inputs, 6x50 hidden);
* ``random6``: a random 6-24-24-2 network on ``[-1, 1]^6`` (small: where the MILP may win);
* ``digits28``: the bundled 784-300-100-10 digits network on ``[0, 1]^784``;
* ``small16`` ... ``small40``: random networks with 16 to 40 hidden neurons on ``[-1, 1]^d``
  (``d`` 4 to 8), where the MILP may beat the search.

Methods: those of ``lipschitz_constant`` (``auto``, ``exact`` = the MILPs, ...) and
``search`` (the branch and bound of ``reluscope.distance.lipschitz_search`` alone).

Each row: the interval ``[lower, upper]`` (lower attained at a witness, upper sound), its
ratio, status, wall and CPU seconds (``time.process_time``), the 1-minute load average, the
method and the commit. Results go to ``benchmarks/results/lipschitz.json`` (rows appended,
keyed by case, method, time limit and commit).

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.lipschitz --cases trained10 acas \
        --limits 10 60 --methods auto exact
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np

try:  # imported outside the timed region (its import takes seconds)
    import torch  # noqa: F401
except ImportError:
    pass

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "lipschitz.json"


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=HERE, check=False).stdout.strip()
    except OSError:
        return "unknown"


def cases() -> dict:
    import reluscope
    from reluscope.io import load_example
    from reluscope.io.vnnlib import load_vnnlib

    from benchmarks.bounds import trained_small

    def acas(prop: int):
        net = reluscope.load(str(HERE / "vnncomp2021" / "acasxu" / "ACASXU_run2a_1_1_batch_2000.onnx"))
        box = load_vnnlib(HERE / "vnncomp2021" / "acasxu" / f"prop_{prop}.vnnlib").cases[0].box
        return net, reluscope.Box(box.lo, box.hi)

    return {
        "trained10": lambda: (trained_small(), reluscope.Box(-1, 1)),
        "acas": lambda: acas(1),
        "acas3": lambda: acas(3),
        "random6": lambda: (reluscope.ReLUNetwork.random((6, 24, 24, 2), seed=5), reluscope.Box(-1, 1)),
        "digits28": lambda: (load_example("digits28_mlp"), reluscope.Box(0, 1)),
        # small random networks (16 to 40 hidden neurons): where the MILP beats the search
        "small16": lambda: (reluscope.ReLUNetwork.random((4, 8, 8, 1), seed=3), reluscope.Box(-1, 1)),
        "small24": lambda: (reluscope.ReLUNetwork.random((5, 12, 12, 2), seed=3), reluscope.Box(-1, 1)),
        "small32": lambda: (reluscope.ReLUNetwork.random((6, 16, 16, 1), seed=3), reluscope.Box(-1, 1)),
        "small40": lambda: (reluscope.ReLUNetwork.random((8, 20, 20, 1), seed=3), reluscope.Box(-1, 1)),
    }


def run(case: str, method: str, T: float) -> dict:
    import reluscope

    net, box = cases()[case]()
    t0, c0 = time.perf_counter(), time.process_time()
    if method == "search":  # the branch and bound alone (what "auto" runs after its first phase)
        from reluscope._budget import Budget
        from reluscope.distance.lipschitz_search import search_gradient

        lo, hi = box.bounds(net.input_dim)
        r = search_gradient([(net, 1.0)], lo, hi, budget=Budget(T), rng=np.random.default_rng(0), tol=2e-6,
                            norm="lipschitz")
    else:
        r = reluscope.lipschitz_constant(net, box, time_limit=T, method=method)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"case": case, "widths": list(net.widths), "method": method, "time_limit": T, "lower": r.lower,
            "upper": r.upper, "ratio": r.upper / r.lower if r.lower > 0 else None, "status": r.status,
            "exact": bool(r.exact), "used": r.method, "wall_s": wall, "cpu_s": cpu,
            "load1": os.getloadavg()[0], "commit": _commit()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", default=["trained10", "acas", "digits28"])
    ap.add_argument("--limits", nargs="+", type=float, default=[10.0, 60.0])
    ap.add_argument("--methods", nargs="+", default=["auto"])
    ap.add_argument("--quick", action="store_true", help="one short limit, the two small cases")
    args = ap.parse_args()
    if args.quick:
        args.cases, args.limits = ["random6", "acas"], [5.0]
    rows = json.loads(OUT.read_text()) if OUT.exists() else []
    for case in args.cases:
        for T in args.limits:
            for method in args.methods:
                row = run(case, method, T)
                rows = [r for r in rows if (r["case"], r["method"], r["time_limit"], r["commit"])
                        != (case, method, T, row["commit"])] + [row]
                OUT.parent.mkdir(exist_ok=True)
                OUT.write_text(json.dumps(rows, indent=1))
                ratio = f"{row['ratio']:.4g}" if row["ratio"] else "inf"
                print(f"{case:10s} {method:7s} T={T:5.0f}  [{row['lower']:.6g}, {row['upper']:.6g}] ratio {ratio:8s}"
                      f" {row['status']:11s} ({row['used']}) wall {row['wall_s']:6.1f}s cpu {row['cpu_s']:6.1f}s"
                      f" load {row['load1']:.1f}  {row['commit']}", flush=True)


if __name__ == "__main__":
    main()
