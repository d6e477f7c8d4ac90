"""Experiment ``sparse-divergence-real``: a magnitude-pruned MLP whose mask carries a certified
defect, trained on labels built from the certificate, against its repaired mask.

1. A 64-128-64-10 MLP (random Gaussian weights, 95 % global magnitude pruning; quick: the same
   widths, fewer steps) is decided by :func:`reluscope.sparsity.is_closed`: its pattern has a
   block defect — a limit ``A`` of products of supported factors (with diverging factors) that
   is not itself such a product, verified by :func:`reluscope.sparsity.verify`.
2. Inputs uniform in ``[-1, 1]^64``, labels ``A x``: the square loss has infimum 0 over the
   pattern (the certificate's family reaches it) but, by the finite-set argument, no minimizer.
3. The mask is repaired (:func:`reluscope.sparsity.repair`, certified closed), and both masks
   are trained with Adam from the same initialization on the same data. Logged: relative loss
   and the parameter norm ``||theta||_2``.

Expected: on the defective mask the loss keeps decreasing slowly while the norm grows; on the
repaired mask the loss goes to (numerically) zero with a bounded norm.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .._progress import track
from .._results import dump_json
from ..sparsity import SparsityPattern, is_closed, repair, verify
from . import ExperimentResult, register
from ._logged_training import train_logged

NAME = "sparse-divergence-real"
WIDTHS = (64, 128, 64, 10)


def defective_mask(sparsity: float = 0.95, seed: int = 0) -> SparsityPattern:
    """The 95 %-pruned 64-128-64-10 mask (global magnitude pruning of Gaussian weights scaled
    by ``1/sqrt(fan_in)``)."""
    rng = np.random.default_rng(seed)
    Ws = [rng.normal(size=(WIDTHS[l + 1], WIDTHS[l])) / np.sqrt(WIDTHS[l]) for l in range(len(WIDTHS) - 1)]
    threshold = np.quantile(np.concatenate([np.abs(w).ravel() for w in Ws]), sparsity)
    return SparsityPattern([np.abs(w) > threshold for w in Ws])


def _train(pattern: SparsityPattern, X: np.ndarray, Y: np.ndarray, steps: int, lr: float, seed: int,
           log_every: int) -> dict[str, list[float]]:
    import torch

    gen = torch.Generator().manual_seed(seed)
    masks = [torch.tensor(m, dtype=torch.float64) for m in pattern.masks]
    params = []
    for m in masks:
        fan_in = m.shape[1]
        params.append((torch.randn(m.shape, generator=gen, dtype=torch.float64) / fan_in**0.5 * m).requires_grad_())
        params.append(torch.zeros(m.shape[0], dtype=torch.float64).requires_grad_())
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    opt = torch.optim.Adam(params, lr=lr)
    y_norm = float((Yt**2).sum())
    log: dict[str, list[float]] = {"step": [], "relative_loss": [], "theta_norm": []}

    def forward():
        h = Xt
        for l, m in enumerate(masks):
            h = h @ (params[2 * l] * m).T + params[2 * l + 1]
            if l < len(masks) - 1:
                h = torch.relu(h)
        return ((h - Yt) ** 2).sum() / y_norm, None

    def record(step, loss, _context):
        log["step"].append(step)
        log["relative_loss"].append(float(loss))
        log["theta_norm"].append(float(torch.sqrt(sum((p**2).sum() for p in params))))

    train_logged(opt, forward, record, steps, log_every)
    return log


@register(NAME, "pruned 64-128-64-10 MLP with a certified mask defect: Adam diverges; the repaired mask does not")
def run(out_dir: Path, quick: bool = False, seed: int = 0) -> ExperimentResult:
    """Run the experiment; ``quick``: 256 points, 1500 steps (full: 2048 points, 20000 steps)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    torch.set_num_threads(1)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    n_points, steps, log_every = (256, 1500, 25) if quick else (2048, 20000, 100)
    pattern = defective_mask()
    verdict = is_closed(pattern, time_limit=60)
    cert = verdict.certificate
    if verdict.closed is not False or cert is None:
        raise RuntimeError(f"{NAME}: the pruned mask was expected to carry a certified defect: {verdict.reasoning}")
    valid = verify(cert, time_limit=30).valid
    fixed = repair(pattern, time_limit=60)
    A = cert.limit_array()
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n_points, WIDTHS[0]))
    Y = X @ A.T
    runs: dict[str, Any] = {}
    configs = [("defective mask", pattern), (f"repaired mask (+{len(fixed.added)} entries)", fixed.pattern)]
    for label, p in track(configs, description=f"{NAME}: training", total=len(configs)):
        runs[label] = _train(p, X, Y, steps, 1e-2, seed, log_every)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for (label, log), style in zip(runs.items(), ("C3-", "C0-")):
        axes[0].semilogy(log["step"], np.maximum(log["relative_loss"], 1e-16), style, label=label)
        axes[1].plot(log["step"], log["theta_norm"], style, label=label)
    axes[0].set_title("relative loss on labels A x")
    axes[1].set_title(r"$\|\theta\|_2$")
    for ax in axes:
        ax.set_xlabel("Adam step (full batch)")
        ax.grid(alpha=0.3)
    axes[0].legend()
    rows, cols = np.nonzero(A)
    fig.suptitle(f"95%-pruned 64-128-64-10 MLP, defect on outputs {sorted(set(rows.tolist()))} x inputs "
                 f"{sorted(set(cols.tolist()))}; {n_points} points")
    fig.tight_layout()
    figure = out_dir / "sparse_divergence_real.png"
    fig.savefig(figure, dpi=110)
    plt.close(fig)
    summary: dict[str, Any] = {"points": n_points, "steps": steps, "certificate_valid": valid,
                               "repair_added": len(fixed.added), "repaired_closed": fixed.verdict.closed}
    for key, log in zip(("defective", "repaired"), runs.values()):
        half = len(log["step"]) // 2
        summary[f"{key}_loss_half"] = log["relative_loss"][half]
        summary[f"{key}_loss_final"] = log["relative_loss"][-1]
        summary[f"{key}_norm_half"] = log["theta_norm"][half]
        summary[f"{key}_norm_final"] = log["theta_norm"][-1]
    numbers = out_dir / "sparse_divergence_real.json"
    dump_json({"config": {"widths": WIDTHS, "sparsity": 0.95, "points": n_points, "steps": steps, "lr": 1e-2,
                          "optimizer": "Adam", "seed": seed, "limit_A": A.tolist(), "defect": cert.note,
                          "added": [list(e) for e in fixed.added]},
               "runs": runs, "summary": summary}, numbers)
    return ExperimentResult(NAME, (figure,), numbers, summary, quick)
