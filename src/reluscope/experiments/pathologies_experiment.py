"""Inverse-stability ratio against n for every pathology family (log-log).

For each family 0-4 and each n, three numbers in each norm (uniform and ``W^{1,inf}``):

* the searched ratio (:func:`~reluscope.stability.inverse_stability_ratio` on the plain
  pair; an upper bound on the true ratio),
* the analytic lower bound on the true ratio (``PathologyFamily.ratio_lower_bound``, with
  the function distance of the distance module),
* the ratio within the restricted set (gamma replaced by its restricted form, distance
  within the restricted set, exact).
"""

from __future__ import annotations

import math
from pathlib import Path

from . import ExperimentResult, register


@register("pathologies", "inverse-stability ratio vs n for the pathology families 0-4, plain and restricted")
def run(out_dir: Path, quick: bool = False, seed: int = 0) -> ExperimentResult:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .._progress import track
    from .._results import dump_json
    from ..stability import DOMAIN, FAMILIES, to_restricted
    from ..stability.ratio import inverse_stability_ratio

    out_dir = Path(out_dir)
    ns = (4, 16, 64, 256) if quick else (4, 16, 64, 256, 1024, 4096)
    time_limit = 5.0 if quick else 20.0
    rows = []
    jobs = [(f, n) for f in FAMILIES for n in ns]
    for family, n in track(jobs, "pathologies"):
        gamma, g = family(n)
        gr = to_restricted(gamma, DOMAIN, width=gamma.widths[1])
        for norm in ("sup", "sobolev"):
            plain = inverse_stability_ratio(gamma, g, DOMAIN, norm=norm, time_limit=time_limit,
                                            distance_lower_bound=family.distance_lower_bound(n))
            restricted = inverse_stability_ratio(gr, g, DOMAIN, norm=norm, time_limit=time_limit)
            rows.append({
                "family": family.index, "name": family.name, "n": n, "norm": norm,
                # ratio_searched is None when the function distance is undecided; the
                # interval and the status say what is known then
                "ratio_searched": plain.ratio, "ratio_interval": list(plain.ratio_interval),
                "ratio_status": plain.status, "function_status": plain.function_status,
                "ratio_upper": plain.ratio_upper, "ratio_lower": plain.ratio_lower,
                "parameter_distance_searched": plain.parameter_distance,
                "parameter_distance_lower_bound": family.distance_lower_bound(n),
                "function_distance": [plain.function_lower, plain.function_upper],
                "function_exact": plain.function_exact,
                "function_distance_analytic": family.function_distance(n, norm),
                "ratio_analytic_lower": family.ratio_lower_bound(n, norm),
                "ratio_restricted": restricted.ratio, "ratio_restricted_interval": list(restricted.ratio_interval),
                "ratio_restricted_status": restricted.status,
                "parameter_distance_restricted": restricted.parameter_distance,
            })

    def series(index, norm, key):
        # an undecided ratio (None) is no point of the curve
        return [math.nan if r[key] is None else r[key] for r in rows if r["family"] == index and r["norm"] == norm]

    growth = {}
    for family in FAMILIES:
        for norm in ("sup", "sobolev"):
            lo = series(family.index, norm, "ratio_analytic_lower")
            rs = series(family.index, norm, "ratio_restricted")
            growth[f"{family.index}/{norm}"] = {
                "analytic_lower_ratio_growth": lo[-1] / lo[0],
                "restricted_ratio_growth": rs[-1] / rs[0],
                "n_range": [ns[0], ns[-1]],
            }
    numbers = {"ns": list(ns), "rows": rows, "growth": growth,
               "note": "ratio_searched is an upper bound on the true ratio (null when the function distance "
                       "is undecided: ratio_status 'undecided', ratio_interval the range its bounds allow); "
                       "ratio_analytic_lower a lower bound (analytic parameter bound over the analytic function "
                       "distance).",
               "undecided": sum(r["ratio_status"] != "exact" or r["ratio_restricted_status"] != "exact" for r in rows)}
    json_path = out_dir / "pathologies.json"
    dump_json(numbers, json_path)

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, norm in zip(axes, ("sup", "sobolev")):
        for family in FAMILIES:
            col = colors[family.index % len(colors)]
            ax.plot(ns, series(family.index, norm, "ratio_searched"), "-o", color=col, ms=3,
                    label=f"{family.index} {family.name} (searched)")
            ax.plot(ns, series(family.index, norm, "ratio_analytic_lower"), "--", color=col, lw=1)
            ax.plot(ns, series(family.index, norm, "ratio_restricted"), ":", color=col, lw=1.5)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("n")
        ax.set_title(f"{'uniform' if norm == 'sup' else 'W^{1,inf}'} norm (solid: searched, dashed: lower bound, dotted: restricted)",
                     fontsize=8)
    axes[0].set_ylabel("dist / ||R(g_n) - R(Gamma)||^{1/2}")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig_path = out_dir / "pathologies.png"
    fig.savefig(fig_path, dpi=110)
    plt.close(fig)
    summary = {k: f"lower-bound ratio x{v['analytic_lower_ratio_growth']:.3g}, restricted x{v['restricted_ratio_growth']:.3g}"
               for k, v in growth.items()}
    return ExperimentResult("pathologies", (fig_path,), json_path, summary, quick)
