"""Does training over the restricted set learn what unrestricted training learns?

Regression of 1-D and 2-D targets on ``[-1, 1]^d``: the restricted model
(:class:`~reluscope.stability.training.RestrictedShallowReLU`, width ``m`` plus its affine
part) against the plain baseline of width ``m + 1`` (the same plain width once the affine
part is one neuron), with the same data, loss (MSE), optimizer (Adam) and steps, over
widths and seeds. Targets are ReLU networks ("teachers", so that the ``W^{1,inf}`` error is
computed exactly by :mod:`reluscope.distance`) and one smooth target (``sin``; its errors
are grid estimates, marked as such).

Reported per run: final training loss, validation MSE, uniform and ``W^{1,inf}`` error, and
the inverse-stability ratio between the learned network and the teacher (restricted:
distance within the restricted set; plain: the symmetry/reduction search, an upper bound).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import ExperimentResult, register


def _targets(quick: bool):
    from ..network import ReLUNetwork

    hat = ReLUNetwork([np.array([[1.0], [1.0], [1.0]]), np.array([[1.0, -2.0, 1.0]])],
                      [np.array([0.5, 0.0, -0.5]), np.array([0.0])])
    rng = np.random.default_rng(12)
    teacher1 = ReLUNetwork([rng.standard_normal((4, 1)), rng.standard_normal((1, 4))],
                           [rng.uniform(-0.8, 0.8, 4), np.array([0.1])])
    A2 = rng.standard_normal((4, 2))
    teacher2 = ReLUNetwork([A2, rng.standard_normal((1, 4))], [rng.uniform(-0.5, 0.5, 4), np.array([0.0])])
    targets = [("hat-1d", 1, hat), ("teacher-1d", 1, teacher1), ("sine-1d", 1, None), ("teacher-2d", 2, teacher2)]
    return targets


def _sine(X: np.ndarray) -> np.ndarray:
    return np.sin(np.pi * X[:, 0])


@register("restricted-vs-unrestricted",
          "regression of 1-D/2-D targets: restricted vs unrestricted training (loss, W^{1,inf} error, ratio)")
def run(out_dir: Path, quick: bool = False, seed: int = 0) -> ExperimentResult:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from .._progress import track
    from .._results import dump_json
    from ..distance import sobolev_distance, sup_distance
    from ..domain import Box
    from ..stability.ratio import drop_null_neurons, inverse_stability_ratio
    from ..stability.training import RestrictedShallowReLU, module_to_network, train, unrestricted_shallow

    torch.set_num_threads(1)
    out_dir = Path(out_dir)
    box = Box(-1.0, 1.0)
    widths = (4, 8) if quick else (4, 8, 16)
    seeds = (seed, seed + 1) if quick else tuple(seed + k for k in range(4))
    steps = 300 if quick else 1500
    time_limit = 5.0 if quick else 15.0
    targets = _targets(quick)
    if quick:
        targets = [t for t in targets if t[0] != "teacher-1d"]
    rows = []
    jobs = [(t, m, s) for t in targets for m in widths for s in seeds]
    for (tname, d, teacher), m, s in track(jobs, "restricted vs unrestricted"):
        n_train = 200 if d == 1 else 400
        X = box.sample(n_train, d, seed=1000 + s)
        Xv = box.sample(2000, d, seed=2000 + s)
        f = (lambda Z: teacher(Z)[:, 0]) if teacher is not None else _sine
        y, yv = f(X), f(Xv)
        models = {
            "restricted": RestrictedShallowReLU(d, m, box, seed=s),
            "unrestricted": unrestricted_shallow(d, m + 1, seed=s),
        }
        for kind, model in models.items():
            hist = train(model, X, y, steps=steps, lr=1e-2, optimizer="adam", X_val=Xv, y_val=yv,
                         record_every=steps, seed=s)
            net = module_to_network(model)
            row = {"target": tname, "d": d, "width": m, "plain_width": net.widths[1], "seed": s, "model": kind,
                   "final_loss": hist.final_loss, "val_mse": hist.val_mse[-1], "val_max_error": hist.val_max_error[-1],
                   "reseeded": hist.projection.reseeded}
            if teacher is not None:
                clean = drop_null_neurons(net)
                sup = sup_distance(clean, teacher, box, time_limit=time_limit)
                sob = sobolev_distance(clean, teacher, box, time_limit=time_limit)
                gamma = model.to_restricted_network() if kind == "restricted" else net
                ratio = inverse_stability_ratio(gamma, teacher, box, norm="sobolev", time_limit=time_limit)
                row.update({"sup_error": [sup.lower, sup.upper], "sobolev_error": [sob.lower, sob.upper],
                            "sobolev_exact": sob.exact, "ratio": ratio.ratio, "ratio_upper": ratio.ratio_upper,
                            "ratio_interval": list(ratio.ratio_interval), "ratio_status": ratio.status,
                            "parameter_distance": ratio.parameter_distance,
                            "parameter_distance_exact": ratio.parameter_exact})
            else:
                G = np.linspace(-1, 1, 20001)[:, None]
                diff = net(G)[:, 0] - _sine(G)
                slope = np.diff(diff) / np.diff(G[:, 0])
                row.update({"sup_error_grid": float(np.abs(diff).max()),
                            "sobolev_error_grid": float(max(np.abs(diff).max(), np.abs(slope).max()))})
            rows.append(row)

    # aggregate: restricted vs unrestricted per target and width
    table = []
    for tname, d, teacher in targets:
        for m in widths:
            entry = {"target": tname, "width": m}
            for kind in ("restricted", "unrestricted"):
                sel = [r for r in rows if r["target"] == tname and r["width"] == m and r["model"] == kind]
                entry[f"{kind}_val_mse_median"] = float(np.median([r["val_mse"] for r in sel]))
                key = "sobolev_error" if teacher is not None else "sobolev_error_grid"
                vals = [r[key][1] if isinstance(r[key], list) else r[key] for r in sel]
                entry[f"{kind}_sobolev_median"] = float(np.median(vals))
                if teacher is not None:
                    # medians of the decided ratios only (an undecided one is an interval)
                    decided = [r["ratio"] for r in sel if r["ratio"] is not None]
                    entry[f"{kind}_ratio_median"] = float(np.median(decided)) if decided else None
                    entry[f"{kind}_ratio_undecided"] = len(sel) - len(decided)
            entry["mse_ratio_restricted_over_unrestricted"] = (
                entry["restricted_val_mse_median"] / max(entry["unrestricted_val_mse_median"], 1e-300))
            table.append(entry)
    ratios = [e["mse_ratio_restricted_over_unrestricted"] for e in table]
    verdict = {
        "median_mse_ratio": float(np.median(ratios)),
        "worst_mse_ratio": float(np.max(ratios)),
        "best_mse_ratio": float(np.min(ratios)),
        "cases_restricted_within_2x": int(sum(r <= 2.0 for r in ratios)),
        "cases": len(ratios),
    }
    numbers = {"config": {"widths": widths, "seeds": seeds, "steps": steps, "optimizer": "adam", "lr": 1e-2,
                          "loss": "mse", "quick": quick,
                          "note": "restricted width m + affine part vs plain width m+1"},
               "rows": rows, "table": table, "verdict": verdict}
    json_path = out_dir / "restricted_vs_unrestricted.json"
    dump_json(numbers, json_path)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    labels = [f"{e['target']}\nm={e['width']}" for e in table]
    xs = np.arange(len(table))
    for off, kind in ((-0.2, "restricted"), (0.2, "unrestricted")):
        axes[0].bar(xs + off, [e[f"{kind}_val_mse_median"] for e in table], width=0.4, label=kind)
        axes[1].bar(xs + off, [e[f"{kind}_sobolev_median"] for e in table], width=0.4, label=kind)
    for ax, title in zip(axes, ("validation MSE (median over seeds)", "W^{1,inf} error (median; sine: grid)")):
        ax.set_xticks(xs)
        ax.set_xticklabels(labels, fontsize=6)
        ax.set_yscale("log")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig_path = out_dir / "restricted_vs_unrestricted.png"
    fig.savefig(fig_path, dpi=110)
    plt.close(fig)
    summary = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in verdict.items()}
    return ExperimentResult("restricted-vs-unrestricted", (fig_path,), json_path, summary, quick)
