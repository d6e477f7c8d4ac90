"""Experiment ``sparse-divergence``: training a two-layer ReLU network with the LU pattern.

A small replication of the training experiment of Le, Riccietti & Gribonval (NeurIPS 2023),
configuration as in ``shared/math/sparse-closedness.md``: a two-layer network with biases,
``W_1`` lower triangular and ``W_2`` upper triangular (``n x n``), inputs uniform in
``[-1, 1]^n``, labels ``J x`` with ``J`` the anti-identity (in the closure of ``L_I`` but not
in ``L_I``); initialization ``W ~ N(0, 1)/sqrt(n)`` masked, ``b ~ U(-1/sqrt(n), 1/sqrt(n))``;
SGD with learning rate 0.1 and momentum 0.9, here full batch; with and without weight decay
``5e-4``; and a full-support control. Logged against the step: relative loss
``||f(X) - Y||^2 / ||Y||^2``, ``||W_2 W_1 - J||_F / ||J||_F`` and ``sqrt(||W_1||^2 + ||W_2||^2)``.

Expected: with the LU pattern and no decay the loss creeps down while the weight norm keeps
growing; with decay the norm plateaus and the loss stalls above 0; the full-support control
converges with a bounded norm.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .._progress import track
from .._results import dump_json
from . import ExperimentResult, register
from ._logged_training import train_logged

NAME = "sparse-divergence"


def _train(
    n: int, n_points: int, steps: int, lu: bool, weight_decay: float, seed: int, log_every: int
) -> dict[str, Any]:
    import torch

    gen = torch.Generator().manual_seed(seed)
    X = torch.rand(n_points, n, generator=gen, dtype=torch.float64) * 2 - 1
    J = torch.flip(torch.eye(n, dtype=torch.float64), dims=[1])
    Y = X @ J.T
    i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    if lu:
        m1, m2 = (i >= j).double(), (i <= j).double()
    else:
        m1 = m2 = torch.ones(n, n, dtype=torch.float64)
    scale = 1.0 / math.sqrt(n)
    w1 = (torch.randn(n, n, generator=gen, dtype=torch.float64) * scale * m1).requires_grad_()
    w2 = (torch.randn(n, n, generator=gen, dtype=torch.float64) * scale * m2).requires_grad_()
    b1 = ((torch.rand(n, generator=gen, dtype=torch.float64) * 2 - 1) * scale).requires_grad_()
    b2 = ((torch.rand(n, generator=gen, dtype=torch.float64) * 2 - 1) * scale).requires_grad_()
    params = [w1, w2, b1, b2]
    opt = torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=weight_decay)
    y_norm = float((Y**2).sum())
    log: dict[str, list[float]] = {"step": [], "relative_loss": [], "product_error": [], "weight_norm": []}

    def forward():
        W1, W2 = w1 * m1, w2 * m2
        out = torch.relu(X @ W1.T + b1) @ W2.T + b2
        return ((out - Y) ** 2).mean(), (W1, W2, out)

    def record(step, loss, context):
        W1, W2, out = context
        log["step"].append(step)
        log["relative_loss"].append(float(((out - Y) ** 2).sum()) / y_norm)
        log["product_error"].append(float(torch.linalg.norm(W2 @ W1 - J) / torch.linalg.norm(J)))
        log["weight_norm"].append(float(torch.sqrt((W1**2).sum() + (W2**2).sum())))

    train_logged(opt, forward, record, steps, log_every)
    return log


@register(NAME, "LU-pattern ReLU training diverges (norm grows, loss creeps) vs a full-support control")
def run(out_dir: Path, quick: bool = False, seed: int = 0) -> ExperimentResult:
    """Run the experiment; ``quick`` uses n = 4, 400 points, 1500 steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    torch.set_num_threads(1)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if quick:
        n, n_points, steps, log_every = 4, 400, 1500, 25
    else:
        n, n_points, steps, log_every = 8, 2000, 20000, 100
    configs = [
        ("LU, no decay", True, 0.0),
        ("LU, decay 5e-4", True, 5e-4),
        ("full, no decay", False, 0.0),
        ("full, decay 5e-4", False, 5e-4),
    ]
    runs: dict[str, Any] = {}
    for label, lu, wd in track(configs, description=f"{NAME}: training", total=len(configs)):
        runs[label] = _train(n, n_points, steps, lu, wd, seed, log_every)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    styles = {"LU, no decay": "C3-", "LU, decay 5e-4": "C1--", "full, no decay": "C0-", "full, decay 5e-4": "C2--"}
    for label, log in runs.items():
        axes[0].semilogy(log["step"], np.maximum(log["relative_loss"], 1e-16), styles[label], label=label)
        axes[1].semilogy(log["step"], np.maximum(log["product_error"], 1e-16), styles[label], label=label)
        axes[2].plot(log["step"], log["weight_norm"], styles[label], label=label)
    axes[0].set_title("relative loss")
    axes[1].set_title(r"$\|W_2W_1-J\|_F/\|J\|_F$")
    axes[2].set_title(r"$\sqrt{\|W_1\|^2+\|W_2\|^2}$")
    for ax in axes:
        ax.set_xlabel("full-batch SGD step")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle(f"LU-pattern vs full-support two-layer ReLU network, n={n}, {n_points} points, target J x")
    fig.tight_layout()
    figure = out_dir / "sparse_divergence.png"
    fig.savefig(figure, dpi=110)
    plt.close(fig)

    def at(log: dict[str, list[float]], key: str, frac: float) -> float:
        return log[key][min(len(log[key]) - 1, int(round(frac * (len(log[key]) - 1))))]

    summary: dict[str, Any] = {"n": n, "points": n_points, "steps": steps}
    for label, log in runs.items():
        key = label.replace(", ", "_").replace(" ", "_")
        summary[f"{key}_relative_loss_half"] = at(log, "relative_loss", 0.5)
        summary[f"{key}_final_relative_loss"] = log["relative_loss"][-1]
        summary[f"{key}_final_product_error"] = log["product_error"][-1]
        summary[f"{key}_weight_norm_half"] = at(log, "weight_norm", 0.5)
        summary[f"{key}_weight_norm_final"] = log["weight_norm"][-1]
    numbers = out_dir / "sparse_divergence.json"
    dump_json({"config": {"n": n, "points": n_points, "steps": steps, "lr": 0.1, "momentum": 0.9,
                          "weight_decay": 5e-4, "seed": seed, "batch": "full"},
               "runs": runs, "summary": summary}, numbers)
    return ExperimentResult(NAME, (figure,), numbers, summary, quick)
