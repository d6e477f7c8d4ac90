"""Benchmark: exact equivalence modulo permutation and rescaling (``reluscope.equivalent``)
versus weight matching (the coordinate-descent permutation search of Ainsworth, Hayase and
Srinivasa, "Git Re-Basin: Merging Models modulo Permutation Symmetries", ICLR 2023,
reimplemented here from the paper's description).

For generic random MLPs (depth 2 to 6 affine layers, hidden width up to 1024) a copy is made
by a random permutation of every hidden layer, optionally followed by a random positive
rescaling of every hidden neuron (factors ``exp(U[-2, 2])``). Each method must recover the
permutation; ``equivalent`` must also recover the scales and say "equivalent". Reported per
configuration: exact recovery rate of each method (permutation-only copies and
permutation+rescaling copies) and the time ratio weight matching / ``equivalent`` measured in
the same run, with one BLAS thread for both methods.

Weight matching (paper, Algorithm 1): starting from identity permutations, repeatedly visit
the hidden layers in random order and replace ``P_l`` by the solution of the linear
assignment problem maximizing ``<W_l^A, P_l W_l^B P_{l-1}^T> + <b_l^A, P_l b_l^B> +
<W_{l+1}^A, P_{l+1} W_{l+1}^B P_l^T>`` over ``P_l`` (``scipy.optimize.linear_sum_assignment``),
until a full pass changes nothing.

Usage::

    .venv/bin/python benchmarks/equivalence.py            # full grid
    .venv/bin/python benchmarks/equivalence.py --quick    # small grid (< 1 minute)

Prints a table and writes ``benchmarks/results/equivalence.json`` (``equivalence_quick.json``
with ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment
from threadpoolctl import threadpool_limits

import reluscope as rs
from reluscope.symmetry import apply_alignment, equivalent, permute, rescale


# ----------------------------------------------------------------------------- weight matching
def weight_matching(a: rs.ReLUNetwork, b: rs.ReLUNetwork, seed: int = 0, max_passes: int = 100):
    """Permutations ``p_l`` (new neuron ``i`` of ``b`` is old neuron ``p_l[i]``) maximizing the
    inner product of ``a``'s and permuted ``b``'s weights, by coordinate descent over layers."""
    rng = np.random.default_rng(seed)
    n_hidden = a.depth - 1
    perms = [np.arange(n) for n in a.hidden_widths]
    passes = 0
    for passes in range(1, max_passes + 1):
        changed = False
        for l in rng.permutation(n_hidden):  # 0-based hidden layer index
            wa_in, wb_in = a.weights[l], b.weights[l]
            if l >= 1:
                wb_in = wb_in[:, perms[l - 1]]
            wa_out, wb_out = a.weights[l + 1], b.weights[l + 1]
            if l + 1 < n_hidden:
                wb_out = wb_out[perms[l + 1], :]
            sim = wa_in @ wb_in.T + np.outer(a.biases[l], b.biases[l]) + wa_out.T @ wb_out
            rows, cols = linear_sum_assignment(sim, maximize=True)
            p = np.empty(a.widths[l + 1], dtype=np.intp)
            p[rows] = cols
            old = perms[l]
            if not np.array_equal(p, old) and sim[np.arange(p.size), p].sum() > sim[np.arange(p.size), old].sum():
                perms[l] = p
                changed = True
        if not changed:
            break
    return perms, passes


# ----------------------------------------------------------------------------- one trial
def make_pair(depth: int, width: int, seed: int, rescaled: bool):
    rng = np.random.default_rng(seed)
    d = width
    widths = (d, *([width] * (depth - 1)), 10)
    a = rs.ReLUNetwork.random(widths, seed=rng, bias_scale=0.1)
    b = a
    true_inverse = []
    for h in range(1, depth):
        perm = rng.permutation(width)
        b = permute(b, h, perm)
        true_inverse.append(np.argsort(perm))  # the permutation mapping b back onto a
        if rescaled:
            b = rescale(b, h, np.exp(rng.uniform(-2.0, 2.0, width)))
    return a, b, true_inverse


def trial(depth: int, width: int, seed: int, rescaled: bool) -> dict:
    a, b, truth = make_pair(depth, width, seed, rescaled)
    t0 = time.perf_counter()
    res = equivalent(a, b)
    t_eq = time.perf_counter() - t0
    eq_ok = bool(res) and all(np.array_equal(p, q) for p, q in zip(res.permutations, truth)) and \
        apply_alignment(b, res.alignment).allclose(a, rtol=1e-7, atol=1e-9)
    t0 = time.perf_counter()
    perms, passes = weight_matching(a, b, seed=seed)
    t_wm = time.perf_counter() - t0
    wm_ok = all(np.array_equal(p, q) for p, q in zip(perms, truth))
    return {"depth": depth, "width": width, "seed": seed, "rescaled": rescaled,
            "equivalent_ok": eq_ok, "equivalent_seconds": t_eq, "equivalent_methods": list(res.alignment.methods),
            "weight_matching_ok": wm_ok, "weight_matching_seconds": t_wm, "weight_matching_passes": passes}


def main(argv: list[str] | None = None) -> int:
    with threadpool_limits(1):  # one BLAS thread for both methods (shared 2-core machine)
        return _main(argv)


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small grid")
    parser.add_argument("--out", default=None,
                        help="JSON output (default benchmarks/results/equivalence.json, "
                             "equivalence_quick.json with --quick)")
    args = parser.parse_args(argv)
    if args.out is None:
        name = "equivalence_quick.json" if args.quick else "equivalence.json"
        args.out = str(Path(__file__).parent / "results" / name)
    if args.quick:
        grid = [(2, 64), (4, 64), (2, 256), (4, 256)]
        trials = 2
    else:
        grid = [(depth, width) for width in (128, 512, 1024) for depth in (2, 3, 4, 5, 6)]
        trials = 3
    rows, records = [], []
    print(f"{'depth':>5} {'width':>5} {'copies':>12} {'equivalent exact':>17} {'weight matching exact':>22} "
          f"{'t_equiv s':>10} {'t_wm s':>9} {'t_wm / t_equiv':>15}", flush=True)
    for depth, width in grid:
        for rescaled in (False, True):
            recs = [trial(depth, width, 1000 * depth + width + s, rescaled) for s in range(trials)]
            records.extend(recs)
            t_eq = float(np.sum([r["equivalent_seconds"] for r in recs]))
            t_wm = float(np.sum([r["weight_matching_seconds"] for r in recs]))
            row = {
                "depth": depth, "width": width, "rescaled": rescaled, "trials": trials,
                "equivalent_recovery": float(np.mean([r["equivalent_ok"] for r in recs])),
                "weight_matching_recovery": float(np.mean([r["weight_matching_ok"] for r in recs])),
                "equivalent_seconds_mean": t_eq / trials,
                "weight_matching_seconds_mean": t_wm / trials,
                "time_ratio_wm_over_equivalent": t_wm / t_eq,
            }
            rows.append(row)
            print(f"{depth:>5} {width:>5} {'perm+scale' if rescaled else 'perm only':>12} "
                  f"{row['equivalent_recovery']:>17.0%} {row['weight_matching_recovery']:>22.0%} "
                  f"{row['equivalent_seconds_mean']:>10.3f} {row['weight_matching_seconds_mean']:>9.3f} "
                  f"{row['time_ratio_wm_over_equivalent']:>15.1f}", flush=True)
    summary = {
        "equivalent_recovery_overall": float(np.mean([r["equivalent_ok"] for r in records])),
        "weight_matching_recovery_overall": float(np.mean([r["weight_matching_ok"] for r in records])),
    }
    target = [r for r in rows if r["depth"] == 4 and r["width"] == 512]
    if target:
        summary["time_ratio_width512_depth4"] = {("perm+scale" if r["rescaled"] else "perm only"):
                                                 r["time_ratio_wm_over_equivalent"] for r in target}
    out = {
        "benchmark": "equivalence",
        "command": "python benchmarks/equivalence.py" + (" --quick" if args.quick else ""),
        "quick": args.quick,
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0],
                    "processor": platform.processor() or platform.machine()},
        "summary": summary,
        "rows": rows,
        "trials": records,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
