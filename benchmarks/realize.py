"""Batched forward throughput: ``ReLUNetwork.__call__`` (NumPy) against the same network in PyTorch.

Both run float64 on the CPU with the same number of threads (``--threads``, default 1:
NumPy's BLAS via threadpoolctl, PyTorch via ``torch.set_num_threads``). For every cell of
the grid (width, depth, batch) the two forward passes are timed interleaved (numpy,
torch, numpy, torch, ...) and the best of ``--reps`` timings is kept for each, so that a
shared, noisy machine affects both sides alike. The ratio is
``numpy throughput / torch throughput`` (> 1: reluscope is faster). PyTorch runs the
``nn.Sequential`` from ``reluscope.to_torch`` under ``torch.inference_mode()`` on a
tensor sharing the input's memory (no conversion is timed on either side).

Cells whose work exceeds ``--max-flops`` per forward pass or whose activations exceed
``--max-elements`` entries are skipped (listed as skipped in the JSON); at width 2048,
depth 8 and batch 65536 a single pass is ~4.4e12 flops, minutes on one core.

Usage::

    .venv/bin/python benchmarks/realize.py            # full grid
    .venv/bin/python benchmarks/realize.py --quick    # reduced grid
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from reluscope import ReLUNetwork, to_torch

FULL = {"widths": [64, 256, 1024, 2048], "depths": [2, 4, 8], "batches": [1, 16, 256, 4096, 65536]}
QUICK = {"widths": [64, 1024], "depths": [2, 8], "batches": [1, 256, 65536]}


def _time(fn, min_seconds: float) -> float:
    """Seconds per call, looping until at least ``min_seconds`` have elapsed."""
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_seconds:
            return dt / n
        n = max(2 * n, int(n * min_seconds / max(dt, 1e-9)) + 1)


def bench_cell(width: int, depth: int, batch: int, reps: int, min_seconds: float, d_in: int) -> dict:
    widths = [d_in] + [width] * (depth - 1) + [1]
    net = ReLUNetwork.random(widths, seed=0)
    model = to_torch(net)
    X = np.random.default_rng(1).standard_normal((batch, d_in))
    Xt = torch.from_numpy(X)
    with torch.inference_mode():
        ref = model(Xt).numpy()
        out = net(X)
        assert np.allclose(out, ref, rtol=1e-9, atol=1e-9), "numpy and torch disagree"

        def run_np():
            net(X)

        def run_torch():
            model(Xt)

        t_np, t_torch = [], []
        run_np(), run_torch()  # warm up
        for _ in range(reps):
            t_np.append(_time(run_np, min_seconds))
            t_torch.append(_time(run_torch, min_seconds))
    best_np, best_torch = min(t_np), min(t_torch)
    return {
        "width": width,
        "depth": depth,
        "batch": batch,
        "numpy_seconds": best_np,
        "torch_seconds": best_torch,
        "numpy_samples_per_s": batch / best_np,
        "torch_samples_per_s": batch / best_torch,
        "ratio": best_torch / best_np,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced grid")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--min-seconds", type=float, default=0.05, help="minimum time per measurement")
    parser.add_argument("--input-dim", type=int, default=32)
    parser.add_argument("--max-flops", type=float, default=1.5e11)
    parser.add_argument("--max-elements", type=float, default=2**24)
    parser.add_argument("--widths", type=int, nargs="+", help="override the grid's widths")
    parser.add_argument("--depths", type=int, nargs="+", help="override the grid's depths")
    parser.add_argument("--batches", type=int, nargs="+", help="override the grid's batch sizes")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "realize.json")
    args = parser.parse_args()
    grid = dict(QUICK if args.quick else FULL)
    for key in ("widths", "depths", "batches"):
        if getattr(args, key):
            grid[key] = getattr(args, key)
    torch.set_num_threads(args.threads)
    rows, skipped = [], []
    with threadpool_limits(limits=args.threads):
        header = f"{'width':>6} {'depth':>5} {'batch':>6} {'numpy s/call':>13} {'torch s/call':>13} {'ratio':>7}"
        print(header)
        print("-" * len(header))
        for width in grid["widths"]:
            for depth in grid["depths"]:
                for batch in grid["batches"]:
                    flops = 2.0 * batch * (args.input_dim * width + (depth - 2) * width * width + width)
                    if flops > args.max_flops or batch * width > args.max_elements:
                        skipped.append({"width": width, "depth": depth, "batch": batch, "flops": flops})
                        continue
                    r = bench_cell(width, depth, batch, args.reps, args.min_seconds, args.input_dim)
                    rows.append(r)
                    print(f"{width:>6} {depth:>5} {batch:>6} {r['numpy_seconds']:>13.3e} "
                          f"{r['torch_seconds']:>13.3e} {r['ratio']:>7.2f}", flush=True)
    ratios = np.array([r["ratio"] for r in rows])
    summary = {
        "cells": len(rows),
        "skipped": len(skipped),
        "min_ratio": float(ratios.min()),
        "median_ratio": float(np.median(ratios)),
        "max_ratio": float(ratios.max()),
        "cells_below_0.8": [r for r in rows if r["ratio"] < 0.8],
    }
    print(f"\nratio = numpy throughput / torch throughput; min {summary['min_ratio']:.2f}, "
          f"median {summary['median_ratio']:.2f}, max {summary['max_ratio']:.2f}; "
          f"{len(summary['cells_below_0.8'])} of {len(rows)} cells below 0.8; {len(skipped)} cells skipped")
    result = {
        "benchmark": "realize",
        "command": "benchmarks/realize.py " + " ".join(sys.argv[1:]),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "grid": grid,
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "numpy": np.__version__, "torch": torch.__version__, "threads": args.threads},
        "rows": rows,
        "skipped": skipped,
        "summary": summary,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
