"""Benchmark: explicit construction (``reluscope.constructive.fit``) vs gradient training to the same cost.

For each dataset the constructive width-``Q`` shallow ReLU network is built (time: best of
``--reps`` calls of ``fit``, validation included). The same architecture (``M -> Q -> Q``,
PyTorch default initialization, float64, one thread) is then trained with full-batch Adam
(lr 1e-2) on the same class-balanced cost from several seeds, until its cost is ``<=`` the
constructive cost or the step budget is exhausted. Only the training loop is timed (model
creation and tensor conversion are not, which favours gradient training).

Reported per dataset: ``δ_P``, the constructive cost, its time, how many seeds reached the
cost, the median time to reach it and the ratio ``gradient time / constructive time``
(goal: >= 1000 wherever gradient training reaches the cost). Where Adam never reaches the
constructive cost within the budget the ratio is a lower bound (``>=``, budget time).

Datasets: synthetic clusters (``Q = M = 3`` at three noise levels, and ``Q = 10, M = 20``),
iris, wine, breast cancer and digits (standardized; all samples used for training; the
constructive network uses the affine lift because standardized two-class means are
linearly dependent).

Usage::

    .venv/bin/python benchmarks/constructive.py            # full: 5 seeds, 20000 steps
    .venv/bin/python benchmarks/constructive.py --quick    # 2 seeds, 3000 steps

Prints a table and writes ``benchmarks/results/constructive.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from reluscope.constructive import fit
from reluscope.experiments.constructive_vs_gradient import synthetic, torch_train


def cases() -> list[tuple[str, np.ndarray, np.ndarray, bool]]:
    from sklearn import datasets as ds

    out = []
    for scale in (0.02, 0.1, 0.5):
        X, y = synthetic(3, 3, 30, scale, seed=0)
        out.append((f"clusters Q=M=3 noise {scale}", X, y, False))
    rng = np.random.default_rng(1)
    means = 3.0 * np.eye(10, 20) + 0.5 * rng.normal(size=(10, 20))
    y = np.repeat(np.arange(10), 30)
    out.append(("clusters Q=10 M=20 noise 0.1", means[y] + 0.1 * rng.normal(size=(300, 20)), y, False))
    for name, loader in [("iris", ds.load_iris), ("wine", ds.load_wine),
                         ("breast_cancer", ds.load_breast_cancer), ("digits", ds.load_digits)]:
        X, y = loader(return_X_y=True)
        X = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1.0)
        out.append((name, X, y, True))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, 3000 Adam steps")
    parser.add_argument("--reps", type=int, default=20, help="repetitions of fit (best is kept)")
    args = parser.parse_args()
    seeds = [0, 1] if args.quick else [0, 1, 2, 3, 4]
    steps = 3000 if args.quick else 20000
    rows = []
    with threadpool_limits(1):
        for name, X, y, affine in cases():
            result = fit(X, y, affine=affine)
            best = np.inf
            for _ in range(args.reps):
                t0 = time.perf_counter()
                fit(X, y, affine=affine)
                best = min(best, time.perf_counter() - t0)
            Y = np.eye(len(np.unique(y)))
            runs = [torch_train(X, np.searchsorted(np.unique(y), y), Y, steps, sd, target=result.cost,
                                stop_at_target=True) for sd in seeds]
            reached = [r["seconds_to_target"] for r in runs if r["seconds_to_target"] is not None]
            budget = float(np.median([r["seconds"] for r in runs]))
            if reached:
                t_grad = float(np.median(reached))
                ratio = t_grad / best
                ratio_text = f"{ratio:,.0f}"
            else:
                t_grad = None
                ratio = budget / best
                ratio_text = f">= {ratio:,.0f}"
            row = {
                "dataset": name,
                "n_samples": int(X.shape[0]),
                "n_features": int(X.shape[1]),
                "n_classes": int(Y.shape[0]),
                "affine": affine,
                "delta_P": result.delta_P,
                "constructive_cost": result.cost,
                "constructive_seconds": best,
                "seeds_reached": len(reached),
                "seeds": len(seeds),
                "gradient_seconds_to_cost_median": t_grad,
                "gradient_steps_to_cost": [r["steps_to_target"] for r in runs],
                "gradient_best_costs": [r["best_cost"] for r in runs],
                "gradient_budget_seconds_median": budget,
                "ratio": ratio,
                "ratio_is_lower_bound": not reached,
            }
            rows.append(row)
            print(f"{name:30s} dP={result.delta_P:7.3f} cost={result.cost:8.4f} "
                  f"fit={best * 1e3:8.3f} ms reached={len(reached)}/{len(seeds)} "
                  f"grad={'-' if t_grad is None else f'{t_grad * 1e3:9.1f} ms'} ratio={ratio_text}", flush=True)

    header = f"{'dataset':30s} {'δ_P':>7s} {'cost':>8s} {'fit ms':>9s} {'reached':>8s} {'Adam ms':>10s} {'ratio':>12s}"
    print("\n" + header)
    print("-" * len(header))
    for r in rows:
        grad = "-" if r["gradient_seconds_to_cost_median"] is None else f"{r['gradient_seconds_to_cost_median'] * 1e3:.1f}"
        ratio = (">= " if r["ratio_is_lower_bound"] else "") + f"{r['ratio']:,.0f}"
        print(f"{r['dataset']:30s} {r['delta_P']:7.3f} {r['constructive_cost']:8.4f} "
              f"{r['constructive_seconds'] * 1e3:9.3f} {r['seeds_reached']}/{r['seeds']:<6d} {grad:>10s} {ratio:>12s}")
    out = Path(__file__).parent / "results" / "constructive.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "command": "benchmarks/constructive.py" + (" --quick" if args.quick else ""),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "threads": 1,
        "adam": {"lr": 1e-2, "max_steps": steps, "seeds": seeds, "full_batch": True},
        "rows": rows,
    }, indent=2) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
