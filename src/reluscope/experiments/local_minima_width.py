"""Spread of final losses of regularized training from many random starts, against width.

The regularized problem ``min MSE + l2 ||Theta||_2^2`` is convex in the realization once the
network is wide enough to represent the optimum well; the notes' argument (via inverse
stability) predicts that local minima found from different starts become nearly optimal,
i.e. the spread of the final objective values shrinks as the width grows. Measured here for
the plain baseline and for the restricted model on a fixed 1-D regression problem: for
each width, many random starts, full-batch Adam, and the distribution (min, quartiles, max,
spread = max - min) of the final regularized objective.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import ExperimentResult, register


@register("local-minima-width", "regularized training from many random starts: spread of final losses vs width")
def run(out_dir: Path, quick: bool = False, seed: int = 0) -> ExperimentResult:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from .._progress import track
    from .._results import dump_json
    from ..domain import Box
    from ..stability.training import RestrictedShallowReLU, train, unrestricted_shallow

    torch.set_num_threads(1)
    out_dir = Path(out_dir)
    box = Box(-1.0, 1.0)
    widths = (2, 4, 8, 16) if quick else (2, 4, 8, 16, 32, 64)
    starts = 5 if quick else 20
    steps = 300 if quick else 2000
    l2 = 1e-3
    X = np.linspace(-1, 1, 40)[:, None]
    y = np.sin(2.5 * np.pi * X[:, 0]) * (1 - 0.5 * X[:, 0])
    rows = []
    jobs = [(kind, m, s) for kind in ("unrestricted", "restricted") for m in widths for s in range(starts)]
    for kind, m, s in track(jobs, "local minima vs width"):
        start = seed * 1000 + s
        model = RestrictedShallowReLU(1, m, box, seed=start) if kind == "restricted" else unrestricted_shallow(1, m + 1, seed=start)
        hist = train(model, X, y, steps=steps, lr=1e-2, optimizer="adam", l2=l2, record_every=steps, seed=start)
        with torch.no_grad():
            mse = float(((model(torch.tensor(X, dtype=torch.float64))[:, 0] - torch.tensor(y)) ** 2).mean())
        rows.append({"model": kind, "width": m, "start": start, "final_objective": hist.final_loss, "final_mse": mse})

    stats = []
    for kind in ("unrestricted", "restricted"):
        for m in widths:
            vals = np.array([r["final_objective"] for r in rows if r["model"] == kind and r["width"] == m])
            q = np.quantile(vals, [0.0, 0.25, 0.5, 0.75, 1.0])
            stats.append({"model": kind, "width": m, "min": q[0], "q25": q[1], "median": q[2], "q75": q[3], "max": q[4],
                          "spread": q[4] - q[0], "relative_spread": (q[4] - q[0]) / q[0] if q[0] > 0 else None})
    numbers = {"config": {"widths": widths, "starts": starts, "steps": steps, "l2": l2, "optimizer": "adam",
                          "lr": 1e-2, "data": "40 points of sin(2.5 pi x)(1 - x/2) on [-1, 1]", "quick": quick,
                          "note": "restricted width m (+ affine part) vs plain width m+1"},
               "rows": rows, "stats": stats}
    json_path = out_dir / "local_minima_width.json"
    dump_json(numbers, json_path)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, kind in zip(axes, ("unrestricted", "restricted")):
        for m in widths:
            vals = [r["final_objective"] for r in rows if r["model"] == kind and r["width"] == m]
            ax.scatter([m] * len(vals), vals, s=10, alpha=0.6)
        st = [s for s in stats if s["model"] == kind]
        ax.plot([s["width"] for s in st], [s["median"] for s in st], "k-", lw=1, label="median")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("width m")
        ax.set_title(f"{kind}: final MSE + {l2:g} ||Theta||^2", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig_path = out_dir / "local_minima_width.png"
    fig.savefig(fig_path, dpi=110)
    plt.close(fig)
    summary = {f"{s['model']} m={s['width']} spread": f"{s['spread']:.3g} (min {s['min']:.3g}, max {s['max']:.3g})" for s in stats}
    return ExperimentResult("local-minima-width", (fig_path,), json_path, summary, quick)
