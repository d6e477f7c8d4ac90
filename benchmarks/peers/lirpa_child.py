"""Runs inside the peers' environment (``benchmarks/.peers/venv/bin/python``), never imported
by reluscope: auto_LiRPA's CROWN and CROWN-Optimized (alpha-CROWN) output bounds of a fully
connected ReLU network over a batch of boxes.

    python lirpa_child.py JOB.npz OUT.json METHOD [METHOD ...]

``JOB.npz`` holds ``W0, b0, W1, b1, ...`` (weights ``(out, in)``) and ``lo``, ``hi`` of shape
``(B, n)``. The model is float32 (auto_LiRPA's optimizer mixes dtypes with float64). Every
box is bounded in one batched call per method; the time is that call's wall time, the
model's conversion (``BoundedModule``) timed separately. One torch thread.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import torch
from auto_LiRPA import BoundedModule, BoundedTensor, PerturbationLpNorm


def build(job) -> torch.nn.Sequential:
    layers, k = [], 0
    while f"W{k}" in job:
        W, b = job[f"W{k}"], job[f"b{k}"]
        lin = torch.nn.Linear(W.shape[1], W.shape[0])
        lin.weight.data = torch.tensor(W, dtype=torch.float32)
        lin.bias.data = torch.tensor(b, dtype=torch.float32)
        layers += [lin, torch.nn.ReLU()]
        k += 1
    return torch.nn.Sequential(*layers[:-1]).eval()


def main() -> None:
    torch.set_num_threads(1)
    job_path, out_path, methods = sys.argv[1], sys.argv[2], sys.argv[3:]
    job = dict(np.load(job_path))
    model = build(job)
    lo = torch.tensor(job["lo"], dtype=torch.float32)
    hi = torch.tensor(job["hi"], dtype=torch.float32)
    center = (lo + hi) / 2
    t0 = time.perf_counter()
    bounded = BoundedModule(model, torch.empty_like(center), verbose=False)
    out = {"convert_seconds": time.perf_counter() - t0, "torch": torch.__version__}
    for method in methods:
        x = BoundedTensor(center, PerturbationLpNorm(norm=float("inf"), x_L=lo, x_U=hi))
        t0 = time.perf_counter()
        lb, ub = bounded.compute_bounds(x=(x,), method=method)
        seconds = time.perf_counter() - t0
        out[method] = {"lower": lb.detach().double().tolist(), "upper": ub.detach().double().tolist(),
                       "seconds": seconds}
    with open(out_path, "w") as handle:
        json.dump(out, handle)


if __name__ == "__main__":
    main()
