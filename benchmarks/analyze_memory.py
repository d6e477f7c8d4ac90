"""Benchmark: peak memory of ``reluscope.report.analyze`` on a 784-300-100-10 network.

The network is ``ReLUNetwork.random((784, 300, 100, 10), seed=0)`` with 90 % of the weights
of every layer removed by magnitude (a pruned MNIST-sized MLP; no model of that size is
bundled). The domain is the box ``[0, 1]^784`` (pixel intensities). Each measurement runs in
a fresh child process and reports its peak resident set size (``ru_maxrss`` of the child):

* ``baseline``: Python, NumPy, SciPy and reluscope imported, the network built;
* one row per report section run alone (``analyze(..., sections=(key,))``);
* ``all sections``: the whole ``analyze`` run, as ``reluscope analyze`` does it.

With ``--data N``, ``N`` rows of synthetic MNIST-sized data are passed too (pixels uniform in
``[0, 1]``, every third pixel constant 0 like MNIST's blank borders, labels the network's own
argmax), so the data-driven parts run (domain = the data's box, activations on the data,
distances over the data points, the constructive baseline). With ``--example digits28_mlp``
the bundled 784-300-100-10 example is analyzed with its data set and its test split, as
``reluscope analyze --example digits28_mlp`` does.

Usage::

    .venv/bin/python benchmarks/analyze_memory.py                  # time limit 5 s per solver call
    .venv/bin/python benchmarks/analyze_memory.py --time-limit 2 --only all
    .venv/bin/python benchmarks/analyze_memory.py --data 10000          # with data
    .venv/bin/python benchmarks/analyze_memory.py --example digits28_mlp

Prints a table and writes ``benchmarks/results/analyze_memory.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import numpy as np
import reluscope as rs
from reluscope.report import analyze

def pruned(net, fraction):
    ws, ms = [], []
    for W in net.weights:
        k = int(round(fraction * W.size))
        cut = np.sort(np.abs(W), axis=None)[k - 1] if k else -1.0
        m = np.abs(W) > cut
        ws.append(np.where(m, W, 0.0)); ms.append(m)
    return net.replace(weights=ws, masks=ms)

key, out, limit, n_data, example = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
X = y = held_out = None
if example:
    from reluscope.io import example_dataset, example_test_mask, load_example
    net = load_example(example)
    X, y = example_dataset(example)
    held_out = example_test_mask(example)
else:
    net = pruned(rs.ReLUNetwork.random((784, 300, 100, 10), seed=0), 0.9)
if n_data and not example:
    # synthetic MNIST-sized data: pixels in [0, 1], a third of them always 0 (blank borders, as in MNIST),
    # labelled by the network itself
    X = np.random.default_rng(1).uniform(0, 1, (n_data, 784))
    X[:, ::3] = 0.0
    y = net(X).argmax(axis=1)
t0 = time.perf_counter()
status = {}
if key != "baseline":
    rep = analyze(net, out, domain=None if X is not None else rs.Box(0.0, 1.0), X=X, y=y, held_out=held_out,
                  time_limit=limit, quiet=True,
                  sections=None if key == "all" else (key,))
    status = {k: v["status"] for k, v in rep.sections.items()}
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": time.perf_counter() - t0, "status": status}))
"""


def measure(key: str, time_limit: float, n_data: int, example: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, "-c", CHILD, key, tmp, str(time_limit), str(n_data), example],
                              capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        return {"key": key, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return {"key": key, **json.loads(proc.stdout.strip().splitlines()[-1])}


def main() -> None:
    from reluscope.report import SECTION_KEYS

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--time-limit", type=float, default=5.0)
    ap.add_argument("--only", default=None, help="comma-separated keys (baseline, all, or section keys)")
    ap.add_argument("--data", type=int, default=0, help="rows of synthetic data to pass (0: none)")
    ap.add_argument("--example", default="", help="a bundled example (with its data set) instead of the random network")
    args = ap.parse_args()
    keys = ["baseline", *SECTION_KEYS, "all"] if args.only is None else args.only.split(",")
    rows = []
    print(f"{'run':16} {'peak RSS MB':>12} {'seconds':>8}  status")
    for key in keys:
        r = measure(key, args.time_limit, args.data, args.example)
        rows.append(r)
        if "error" in r:
            print(f"{key:16} {'error':>12} {'':>8}  {r['error']}")
        else:
            st = ", ".join(f"{k} {v}" for k, v in r["status"].items()) if key == "all" else \
                ", ".join(r["status"].values())
            print(f"{key:16} {r['peak_mb']:12.0f} {r['seconds']:8.1f}  {st}")
    name = f"analyze_memory_{args.example}.json" if args.example else (
        f"analyze_memory_data{args.data}.json" if args.data else "analyze_memory.json")
    out = Path(__file__).parent / "results" / name
    if args.only is None:
        out.write_text(json.dumps({"command": " ".join(["benchmarks/analyze_memory.py", *sys.argv[1:]]),
                                   "time_limit": args.time_limit, "data_rows": args.data,
                                   "example": args.example or None,
                                   "machine": {"platform": platform.platform(), "python": platform.python_version()},
                                   "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                   "rows": rows}, indent=1))
        print(f"written {out}")


if __name__ == "__main__":
    main()
