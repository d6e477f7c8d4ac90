"""The input-split search on single VNN-COMP 2021 ACAS Xu instances: branching rules and
alpha-CROWN near the target, compared at a fixed wall-clock limit per (case, polytope).

For each instance, rule and ``alpha_near`` value it runs
``reluscope.search.network.search_network`` (target 0: the property holds iff the minimum
is > 0) on every (case, polytope) of the specification, with the same seed, and prints
the status, the bounds reached, the boxes bounded and the CPU and wall seconds with the
1-minute load (on a shared machine compare CPU seconds).

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/acasxu_search.py 1_4:1 1_1:2 --time 20 \\
        --branching sb naive bf --alpha-near 0 [--out benchmarks/results/acasxu_search.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ACAS = HERE / "vnncomp2021" / "acasxu"


def run(instance: str, seconds: float, branching: str, alpha_near: float) -> list[dict]:
    """One row per (case, polytope) of ``instance`` (``"NET:PROP"``, e.g. ``"1_4:1"``)."""
    import reluscope
    from reluscope._budget import Budget
    from reluscope.io import load_vnnlib
    from reluscope.search.network import search_network

    net_id, prop = instance.split(":")
    net = reluscope.load(ACAS / f"ACASXU_run2a_{net_id}_batch_2000.onnx")
    spec = load_vnnlib(ACAS / f"prop_{prop}.vnnlib")
    rows = []
    for ci, case in enumerate(spec.cases):
        lo, hi = case.box.bounds(net.input_dim)
        for pi, p in enumerate(case.unsafe):
            cpu, wall = time.process_time(), time.monotonic()
            out = search_network(net, p.A, -p.b, lo, hi, budget=Budget(seconds), rng=np.random.default_rng(0),
                                 target=0.0, branching=branching, alpha_near=alpha_near)
            rows.append({"instance": instance, "case": ci, "polytope": pi, "branching": branching,
                         "alpha_near": alpha_near, "status": out.status, "lower": out.lower, "upper": out.upper,
                         "boxes": out.domains, "cpu_s": time.process_time() - cpu,
                         "wall_s": time.monotonic() - wall, "load1": os.getloadavg()[0]})
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("instances", nargs="+", help="NET:PROP, e.g. 1_4:1")
    ap.add_argument("--time", type=float, default=20.0, help="wall seconds per (case, polytope)")
    ap.add_argument("--branching", nargs="+", default=["sb", "bf"], choices=["sb", "naive", "bf"])
    ap.add_argument("--alpha-near", nargs="+", type=float, default=[0.0])
    ap.add_argument("--out", type=Path, default=HERE / "results" / "acasxu_search.json")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE.parent / "src"))
    rows = []
    print("| instance | case/poly | branching | alpha_near | status | lower | upper | boxes | CPU s | wall s | load1 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for inst in args.instances:
        for br in args.branching:
            for a in args.alpha_near:
                for r in run(inst, args.time, br, a):
                    rows.append(r)
                    print(f"| {r['instance']} | {r['case']}/{r['polytope']} | {br} | {a:g} | {r['status']} | "
                          f"{r['lower']:.4g} | {r['upper']:.4g} | {r['boxes']} | {r['cpu_s']:.1f} | "
                          f"{r['wall_s']:.1f} | {r['load1']:.1f} |", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"argv": sys.argv[1:], "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                    "rows": rows}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
