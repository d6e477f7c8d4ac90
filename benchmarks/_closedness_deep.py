"""``benchmarks/closedness.py --factors 3``: deep patterns and real pruned masks.

Random 3-factor patterns (pattern i drawn from ``SparsityPattern.random(shape, density,
seed=[SEED, i])``): fraction decided by ``is_closed`` within 1 s with a certificate ``verify``
accepts; agreement with the plain quantifier-elimination encoding (``method="plain"``) where it
answers; median ratio plain time / our time on patterns both decide. Real masks: magnitude-pruned
MLPs (random Gaussian weights, global or per-layer pruning, made in code) and the bundled
examples, with ``is_closed`` at 60 s: verdict, defects, seconds; masks not certified closed
are repaired (``repair`` at 60 s): entries added, verdict after, seconds.
"""

from __future__ import annotations

import re
import statistics
import time

import numpy as np
from rich.table import Table

from reluscope.io.examples import load_example
from reluscope.sparsity import SparsityPattern, is_closed, repair, verify
from reluscope.sparsity.qe import decide_plain

SEED = 20261203


def pruned_mlp(widths, sparsity, mode, seed=0):
    rng = np.random.default_rng(seed)
    Ws = [rng.normal(size=(widths[l + 1], widths[l])) / np.sqrt(widths[l]) for l in range(len(widths) - 1)]
    if mode == "global":
        thr = np.quantile(np.concatenate([np.abs(w).ravel() for w in Ws]), sparsity)
        return SparsityPattern([np.abs(w) > thr for w in Ws])
    return SparsityPattern([np.abs(w) > np.quantile(np.abs(w), sparsity) for w in Ws])


def run_random(shape, density, n, plain_limit):
    rows = []
    for i in range(n):
        p = SparsityPattern.random(shape, density, seed=np.random.default_rng([SEED, i]))
        t0 = time.perf_counter()
        v = is_closed(p, time_limit=1.0, seed=i)
        ours = time.perf_counter() - t0
        valid = verify(v.certificate, time_limit=10).valid if v.certificate is not None else None
        t0 = time.perf_counter()
        plain = decide_plain(p, time_limit=plain_limit)[0]
        rows.append({"pattern": p.to_text(), "ours": v.closed, "ours_s": ours, "valid": valid,
                     "plain": plain, "plain_s": time.perf_counter() - t0})
    certified = [r for r in rows if r["ours"] is not None and r["valid"] is True]
    both = [r for r in rows if r["ours"] is not None and r["plain"] is not None]
    ratios = [r["plain_s"] / max(r["ours_s"], 1e-6) for r in both]
    return {"n": n, "certified": len(certified), "fraction": len(certified) / n,
            "plain_decided": sum(r["plain"] is not None for r in rows), "both": len(both),
            "disagree": [r["pattern"] for r in both if r["ours"] != r["plain"]],
            "median_ratio": statistics.median(ratios) if ratios else None, "rows": rows}


def run_real(quick):
    cases = [(f"bundled {name}", SparsityPattern.from_network(load_example(name)))
             for name in ("pruned_mlp", "digits_mlp", "digits28_mlp")]
    grid = [((64, 128, 64, 10), (0.5, 0.8, 0.95)), ((784, 300, 100, 10), (0.5, 0.9))] if quick else \
        [((64, 128, 64, 10), (0.5, 0.8, 0.9, 0.95)), ((784, 300, 100, 10), (0.5, 0.8, 0.9, 0.95))]
    for widths, sparsities in grid:
        for s in sparsities:
            for mode in (("global",) if quick else ("global", "layer")):
                cases.append((f"{'-'.join(map(str, widths))} {int(s * 100)}% {mode}", pruned_mlp(widths, s, mode)))
    rows = []
    for name, p in cases:
        t0 = time.perf_counter()
        v = is_closed(p, time_limit=60)
        sec = time.perf_counter() - t0
        valid = verify(v.certificate, time_limit=20).valid if v.certificate is not None else None
        rule = getattr(v.certificate, "rule", "") if v.certificate is not None else ""
        blocks = re.search(r"block-defect search: (\d+) blocks", v.reasoning)
        row = {"mask": name, "closed": v.closed, "rule": rule, "valid": valid, "seconds": sec,
               "blocks_without_defect": int(blocks.group(1)) if blocks else None, "reasoning": v.reasoning}
        if v.closed is not True:  # the repair, reusing the verdict above; additions only, then add-or-remove
            for key, remove in (("repair", False), ("repair_remove", True)):
                t0 = time.perf_counter()
                fixed = repair(p, time_limit=60, verdict=v, allow_remove=remove)
                sec_r = time.perf_counter() - t0
                cert = fixed.verdict.certificate
                row[key] = {"added": len(fixed.added), "removed": len(fixed.removed), "allowed_before": p.n_allowed,
                            "closed_after": fixed.verdict.closed,
                            "valid": verify(cert, time_limit=20).valid if cert is not None else None,
                            "seconds": sec_r, "note": fixed.note}
        rows.append(row)
    return rows


def main_deep(args, out, results):
    plain_limit = args.plain_limit if args.plain_limit is not None else (2.0 if args.quick else 5.0)
    n = 6 if args.quick else 20
    results.update({"factors": 3, "seed": SEED, "plain_time_limit": plain_limit, "our_time_limit": 1.0,
                    "random": {}, "real": []})
    for shape in (() if getattr(args, "real_only", False) else ((2, 2, 2, 2), (3, 3, 3, 3))):
        for density in (0.5, 0.7):
            key = f"{'x'.join(map(str, shape))}@{density}"
            results["random"][key] = run_random(shape, density, n, plain_limit)
    results["real"] = run_real(args.quick)
    table = Table(title=f"3 factors: is_closed within 1 s vs plain QE ({plain_limit:g} s)")
    for col in ("patterns", "n", "certified <= 1 s", "fraction", "plain decided", "both", "disagree",
                "median ratio plain/ours"):
        table.add_column(col, justify="right")
    for key, r in results["random"].items():
        table.add_row(key, str(r["n"]), str(r["certified"]), f"{r['fraction']:.2f}", str(r["plain_decided"]),
                      str(r["both"]), str(len(r["disagree"])),
                      f"{r['median_ratio']:.0f}x" if r["median_ratio"] else "-")
    out.print(table)
    table2 = Table(title="real masks: is_closed at 60 s")
    for col in ("mask", "closed", "rule", "verified", "blocks searched (undecided)", "seconds"):
        table2.add_column(col)
    for r in results["real"]:
        table2.add_row(r["mask"], str(r["closed"]), r["rule"], str(r["valid"]),
                       "" if r["blocks_without_defect"] is None else str(r["blocks_without_defect"]),
                       f"{r['seconds']:.1f}")
    out.print(table2)
    table3 = Table(title="repair of the masks not certified closed: repair(pattern, time_limit=60, verdict=v[, allow_remove=True])")
    for col in ("mask", "allow_remove", "added", "removed", "allowed before", "closed after", "verified", "seconds"):
        table3.add_column(col)
    for r in results["real"]:
        for key in ("repair", "repair_remove"):
            if key in r:
                f = r[key]
                table3.add_row(r["mask"], str(key == "repair_remove"), str(f["added"]), str(f.get("removed", 0)),
                               str(f["allowed_before"]), str(f["closed_after"]), str(f["valid"]), f"{f['seconds']:.1f}")
    out.print(table3)
