"""How likely is a random support to give a non-closed linear counterpart ``L_I``?

For two-factor patterns ``M x R x N`` (``W_2 W_1`` of shape ``M x N``, ``R`` hidden units)
every weight entry is allowed independently with probability ``density``; each pattern is
decided with certificates by :func:`reluscope.sparsity.decide.decide` via
:func:`reluscope.sparsity.sweep.sweep`. Reported per size and density: the fraction of
non-closed patterns among the decided ones with a 95% Wilson interval, widened to count
undecided patterns both ways (so the interval is honest about them).
"""

from __future__ import annotations

from pathlib import Path

from .._results import dump_json
from . import ExperimentResult, register

__all__ = ["run"]


@register(
    "random-support-closedness",
    "Estimated probability that a random two-factor support gives a non-closed L_I, vs density and size (Wilson intervals).",
)
def run(out_dir: Path, quick: bool = False, seed: int = 0) -> ExperimentResult:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..sparsity.sweep import sweep

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if quick:
        sizes, densities, samples, time_limit = [(2, 2, 2), (3, 3, 3)], [0.3, 0.5, 0.7], 30, 0.5
    else:
        sizes, densities, samples, time_limit = [(2, 2, 2), (3, 3, 3), (4, 4, 4)], [0.2, 0.35, 0.5, 0.65, 0.8], 200, 1.0
    rows = []
    for size in sizes:
        for density in densities:
            result = sweep(size, density, samples, seed=seed, time_limit=time_limit)
            s = result.summary()
            rows.append({
                "shape": s["shape"], "density": density, "samples": samples,
                "closed": s["closed"], "not_closed": s["not_closed"], "undecided": s["undecided"],
                "not_closed_fraction": s["not_closed_fraction"], "ci95": s["not_closed_ci95"],
                "decided_fraction": s["decided_fraction"], "median_seconds": s["median_seconds"],
            })
    fig, ax = plt.subplots(figsize=(6, 4))
    for size in sizes:
        label = "x".join(map(str, size))
        pts = [r for r in rows if r["shape"] == label]
        xs = [r["density"] for r in pts]
        ys = [r["not_closed_fraction"] for r in pts]
        lo = [max(0.0, y - r["ci95"][0]) for y, r in zip(ys, pts)]
        hi = [max(0.0, r["ci95"][1] - y) for y, r in zip(ys, pts)]
        ax.errorbar(xs, ys, yerr=[lo, hi], marker="o", capsize=3, label=label)
    ax.set_xlabel("density of the support")
    ax.set_ylabel("P(L_I not closed)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"random two-factor supports ({samples} per point, 95% intervals)")
    ax.legend(title="M x R x N")
    fig.tight_layout()
    figure = out_dir / "random_support_closedness.png"
    fig.savefig(figure, dpi=110)
    plt.close(fig)
    numbers = out_dir / "random_support_closedness.json"
    dump_json({"seed": seed, "time_limit": time_limit, "rows": rows}, numbers)
    worst = max(rows, key=lambda r: r["not_closed_fraction"])
    summary = {
        "points": len(rows),
        "decided_fraction_min": min(r["decided_fraction"] for r in rows),
        "max_not_closed": f"{worst['not_closed_fraction']:.2f} at {worst['shape']} density {worst['density']}",
    }
    return ExperimentResult("random-support-closedness", (figure,), numbers, summary, quick)
