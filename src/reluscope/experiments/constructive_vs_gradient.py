"""Experiment ``constructive-vs-gradient``: explicit construction against gradient training.

Same architecture everywhere: a shallow ReLU network of width ``Q`` (number of classes),
one-hot targets, the class-balanced cost ``sqrt(Σ_j (1/N_j) Σ_i |f(x) - y_j|²)``.

* Synthetic clustered data over a sweep of ``δ_P``: constructive cost, its bound
  ``sqrt(Q) δ_P``, the exact ``M = Q`` minima (zero / free offset), Adam from random
  initializations (several seeds) and Adam started at the constructive network.
* scikit-learn datasets (iris, wine, breast cancer, digits; standardized, stratified
  70/30 split): the same plus ``MLPClassifier(hidden_layer_sizes=(Q,))`` (trained on its
  own log-loss; its cost is evaluated on ``predict_proba``), with train/test accuracy and
  wall-clock time.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from . import ExperimentResult, register
from .._progress import track
from .._results import dump_json

NAME = "constructive-vs-gradient"


# --------------------------------------------------------------------------- helpers


def balanced_cost(outputs: np.ndarray, index: np.ndarray, Y: np.ndarray) -> float:
    """``sqrt(Σ_j (1/N_j) Σ_i |f(x_{j,i}) - y_j|²)`` with ``Y`` of shape (Q, k) (rows = targets)."""
    counts = np.bincount(index, minlength=Y.shape[0])
    sq = np.sum((outputs - Y[index]) ** 2, axis=1)
    return float(np.sqrt(np.sum(sq / counts[index])))


def torch_train(
    X: np.ndarray,
    index: np.ndarray,
    Y: np.ndarray,
    steps: int,
    seed: int,
    lr: float = 1e-2,
    init: Any = None,
    target: float | None = None,
    stop_at_target: bool = False,
) -> dict[str, Any]:
    """Full-batch Adam on the class-balanced squared cost of a width-``Q`` shallow ReLU net.

    ``init`` is an optional :class:`~reluscope.ReLUNetwork` of widths ``(M, Q, k)`` to start
    from. Returns final/best cost, time, and the first step / time at which the cost was
    ``<= target`` (``None`` if never). Uses one torch thread.
    """
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    M, Q, k = X.shape[1], Y.shape[0], Y.shape[1]
    model = torch.nn.Sequential(torch.nn.Linear(M, Q), torch.nn.ReLU(), torch.nn.Linear(Q, k)).double()
    if init is not None:
        with torch.no_grad():
            model[0].weight.copy_(torch.as_tensor(np.array(init.weights[0])))
            model[0].bias.copy_(torch.as_tensor(np.array(init.biases[0])))
            model[2].weight.copy_(torch.as_tensor(np.array(init.weights[1])))
            model[2].bias.copy_(torch.as_tensor(np.array(init.biases[1])))
    counts = np.bincount(index, minlength=Q)
    Xt = torch.as_tensor(X, dtype=torch.float64)
    Tt = torch.as_tensor(Y[index], dtype=torch.float64)
    wt = torch.as_tensor(1.0 / counts[index], dtype=torch.float64)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    best = np.inf
    hit_step: int | None = None
    hit_seconds: float | None = None
    history = []
    start = time.perf_counter()
    for step in range(steps + 1):
        opt.zero_grad()
        loss = torch.sum(wt * torch.sum((model(Xt) - Tt) ** 2, dim=1))
        cost = float(loss.detach().sqrt())
        best = min(best, cost)
        if step % max(1, steps // 50) == 0:
            history.append((step, cost))
        if target is not None and hit_step is None and cost <= target:
            hit_step, hit_seconds = step, time.perf_counter() - start
            if stop_at_target:
                break
        if step == steps:
            break
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        out = model(Xt).numpy()
    return {
        "final_cost": cost,
        "best_cost": float(best),
        "seconds": seconds,
        "steps": step,
        "target": target,
        "steps_to_target": hit_step,
        "seconds_to_target": hit_seconds,
        "train_accuracy": float(np.mean(np.argmin(np.linalg.norm(out[:, None] - Y[None], axis=-1), axis=1) == index)),
        "history": history,
        "model": model,
    }


def _torch_predict(model: Any, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        out = model(torch.as_tensor(X, dtype=torch.float64)).numpy()
    return np.argmin(np.linalg.norm(out[:, None] - Y[None], axis=-1), axis=1)


def synthetic(Q: int, M: int, per_class: int, delta_scale: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Clustered data: well-conditioned class means, Gaussian noise of size ``delta_scale``."""
    rng = np.random.default_rng(seed)
    means = 3.0 * np.eye(Q, M) + 0.5 * rng.normal(size=(Q, M))
    y = np.repeat(np.arange(Q), per_class)
    return means[y] + delta_scale * rng.normal(size=(len(y), M)), y


def datasets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from sklearn import datasets as ds

    return {
        "iris": ds.load_iris(return_X_y=True),
        "wine": ds.load_wine(return_X_y=True),
        "breast_cancer": ds.load_breast_cancer(return_X_y=True),
        "digits": ds.load_digits(return_X_y=True),
    }


def _timed(fn: Any, repeats: int = 5) -> tuple[Any, float]:
    best = np.inf
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, float(best)


# --------------------------------------------------------------------------- experiment


@register(NAME, "Constructive shallow network vs Adam / MLPClassifier / constructive-initialized Adam")
def run(out_dir: Path, quick: bool = False, seed: int = 0) -> ExperimentResult:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    from ..constructive import exact_local_minimum, fit

    out_dir = Path(out_dir)
    seeds = list(range(seed, seed + (2 if quick else 5)))
    steps = 300 if quick else 3000
    scales = np.geomspace(0.02, 1.5, 5 if quick else 10)
    Q = M = 3

    # ---- synthetic sweep
    sweep = []
    for s in track(scales, "synthetic δ_P sweep"):
        X, y = synthetic(Q, M, 30, float(s), seed)
        r, t_fit = _timed(lambda: fit(X, y))
        ex = exact_local_minimum(X, y)
        Y = np.eye(Q)
        adam = [torch_train(X, y, Y, steps, sd, target=r.cost) for sd in seeds]
        init = torch_train(X, y, Y, steps, seed, init=r.network)
        sweep.append(
            {
                "noise_scale": float(s),
                "delta_P": r.delta_P,
                "constructive_cost": r.cost,
                "upper_bound": r.upper_bound,
                "exact_zero_offset": ex.value,
                "exact_free_offset": ex.free_offset_value,
                "constructive_accuracy": r.training_accuracy,
                "constructive_seconds": t_fit,
                "adam_final_costs": [a["final_cost"] for a in adam],
                "adam_seconds": [a["seconds"] for a in adam],
                "adam_seconds_to_constructive_cost": [a["seconds_to_target"] for a in adam],
                "adam_accuracy": [a["train_accuracy"] for a in adam],
                "init_then_adam_cost": init["final_cost"],
                "init_then_adam_accuracy": init["train_accuracy"],
            }
        )

    # ---- scikit-learn datasets
    table = []
    for name, (X_all, y_all) in track(list(datasets().items()), "datasets"):
        Xtr, Xte, ytr, yte = train_test_split(X_all, y_all, test_size=0.3, stratify=y_all, random_state=seed)
        scaler = StandardScaler().fit(Xtr)
        Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)
        classes, itr = np.unique(ytr, return_inverse=True)
        ite = np.searchsorted(classes, yte)
        Qd = len(classes)
        Y = np.eye(Qd)
        r, t_fit = _timed(lambda: fit(Xtr, itr, affine=True))
        row: dict[str, Any] = {
            "dataset": name,
            "n_train": int(len(Xtr)),
            "n_features": int(Xtr.shape[1]),
            "n_classes": Qd,
            "delta_P": r.delta_P,
            "constructive": {
                "cost": r.cost,
                "upper_bound": r.upper_bound,
                "train_accuracy": float(np.mean(r.predict(Xtr) == itr)),
                "test_accuracy": float(np.mean(r.predict(Xte) == ite)),
                "seconds": t_fit,
            },
        }
        adam = [torch_train(Xtr, itr, Y, steps, sd, target=r.cost) for sd in seeds]
        row["adam"] = {
            "costs": [a["final_cost"] for a in adam],
            "train_accuracy": [a["train_accuracy"] for a in adam],
            "test_accuracy": [float(np.mean(_torch_predict(a["model"], Xte, Y) == ite)) for a in adam],
            "seconds": [a["seconds"] for a in adam],
            "seconds_to_constructive_cost": [a["seconds_to_target"] for a in adam],
            "steps": steps,
        }
        init = torch_train(Xtr, itr, Y, steps, seed, init=r.network)
        row["init_then_adam"] = {
            "cost": init["final_cost"],
            "train_accuracy": init["train_accuracy"],
            "test_accuracy": float(np.mean(_torch_predict(init["model"], Xte, Y) == ite)),
            "seconds": init["seconds"],
        }
        mlp_rows = []
        for sd in seeds:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                t0 = time.perf_counter()
                mlp = MLPClassifier(hidden_layer_sizes=(Qd,), max_iter=200 if quick else 1000, random_state=sd).fit(Xtr, itr)
                t_mlp = time.perf_counter() - t0
            mlp_rows.append(
                {
                    "cost_of_predict_proba": balanced_cost(mlp.predict_proba(Xtr), itr, Y),
                    "train_accuracy": float(mlp.score(Xtr, itr)),
                    "test_accuracy": float(mlp.score(Xte, ite)),
                    "seconds": t_mlp,
                }
            )
        row["mlp_classifier"] = {key: [m[key] for m in mlp_rows] for key in mlp_rows[0]}
        table.append(row)

    # ---- figure
    fig, axes = plt.subplots(1, 4, figsize=(21, 4.8))
    d = np.array([e["delta_P"] for e in sweep])
    ax = axes[0]
    ax.loglog(d, [e["upper_bound"] for e in sweep], "k--", label=r"bound $\sqrt{Q}\,\delta_P$")
    ax.loglog(d, [e["constructive_cost"] for e in sweep], "o-", label="constructive")
    ax.loglog(d, [e["exact_zero_offset"] for e in sweep], "s-", label="exact (zero offset)")
    ax.loglog(d, [e["exact_free_offset"] for e in sweep], "^-", label="exact (free offset)")
    adam_med = [np.median(e["adam_final_costs"]) for e in sweep]
    adam_lo = [np.min(e["adam_final_costs"]) for e in sweep]
    adam_hi = [np.max(e["adam_final_costs"]) for e in sweep]
    ax.loglog(d, adam_med, "x-", color="C3", label=f"Adam {steps} steps (median, {len(seeds)} seeds; band: min-max)")
    ax.fill_between(d, adam_lo, adam_hi, alpha=0.2, color="C3")
    ax.loglog(d, [e["init_then_adam_cost"] for e in sweep], "d:", color="C4", label="constructive init + Adam")
    ax.set_xlabel(r"$\delta_P$")
    ax.set_ylabel("class-balanced cost")
    ax.set_title(f"synthetic clusters (Q = M = {Q})")
    ax.legend(fontsize=7)

    names = [row["dataset"] for row in table]
    x = np.arange(len(names))
    ax = axes[1]
    w = 0.2
    ax.bar(x - 1.5 * w, [row["constructive"]["cost"] for row in table], w, label="constructive")
    ax.bar(x - 0.5 * w, [np.median(row["adam"]["costs"]) for row in table], w, label="Adam (median)")
    ax.bar(x + 0.5 * w, [row["init_then_adam"]["cost"] for row in table], w, label="constructive init + Adam")
    ax.bar(x + 1.5 * w, [np.median(row["mlp_classifier"]["cost_of_predict_proba"]) for row in table], w,
           label="MLPClassifier (proba)")
    ax.set_xticks(x, names, rotation=15)
    ax.set_ylabel("class-balanced training cost")
    ax.set_title("width-Q networks on scikit-learn datasets")
    ax.legend(fontsize=7)

    ax = axes[2]
    ax.bar(x - 1.5 * w, [row["constructive"]["test_accuracy"] for row in table], w, label="constructive")
    ax.bar(x - 0.5 * w, [np.median(row["adam"]["test_accuracy"]) for row in table], w, label="Adam")
    ax.bar(x + 0.5 * w, [row["init_then_adam"]["test_accuracy"] for row in table], w, label="init + Adam")
    ax.bar(x + 1.5 * w, [np.median(row["mlp_classifier"]["test_accuracy"]) for row in table], w, label="MLPClassifier")
    ax.set_xticks(x, names, rotation=15)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("test accuracy (30% held out)")
    ax.set_title("test accuracy")
    ax.legend(fontsize=7, loc="lower right")

    ax = axes[3]
    w3 = 0.27
    ax.bar(x - w3, [row["constructive"]["seconds"] for row in table], w3, label="constructive fit")
    ax.bar(x, [np.median(row["adam"]["seconds"]) for row in table], w3, color="C1", label=f"Adam, {steps} steps")
    ax.bar(x + w3, [np.median(row["mlp_classifier"]["seconds"]) for row in table], w3, color="C3", label="MLPClassifier")
    ax.set_yscale("log")
    ax.set_xticks(x, names, rotation=15)
    ax.set_ylabel("wall-clock seconds (median over seeds)")
    ax.set_title("time (time to reach the same cost: benchmarks/constructive.py)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    figure = out_dir / "constructive_vs_gradient.png"
    fig.savefig(figure, dpi=120)
    plt.close(fig)

    numbers = out_dir / "constructive_vs_gradient.json"
    dump_json({"quick": quick, "seed": seed, "adam_steps": steps, "seeds": seeds, "synthetic": sweep,
               "datasets": table}, numbers)
    summary = {
        "max_cost_over_bound": max(e["constructive_cost"] / e["upper_bound"] for e in sweep),
        "exact_le_constructive": all(e["exact_zero_offset"] <= e["constructive_cost"] + 1e-12 for e in sweep),
    }
    for row in table:
        summary[row["dataset"]] = (
            f"cost constructive {row['constructive']['cost']:.3f} / Adam {np.median(row['adam']['costs']):.3f} / "
            f"init+Adam {row['init_then_adam']['cost']:.3f}; test acc {row['constructive']['test_accuracy']:.3f} / "
            f"{np.median(row['adam']['test_accuracy']):.3f} / {row['init_then_adam']['test_accuracy']:.3f} / "
            f"MLP {np.median(row['mlp_classifier']['test_accuracy']):.3f}"
        )
    return ExperimentResult(NAME, (figure,), numbers, summary, quick)
