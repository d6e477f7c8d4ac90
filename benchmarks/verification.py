"""Benchmark of issue 25: complete verification side by side with the field's tools.

Suites (``--suites``):

* ``acasxu``, ``mnistfc`` — VNN-COMP 2021 (186 and 90 instances, vendored in
  ``benchmarks/vnncomp2021/``) at the competition's per-instance timeouts: ours
  (``reluscope.verify``, each instance in a fresh child process) against the competition's
  consensus (``peers/consensus.py``), and Marabou and NeuralSAT on the same instances
  (a stated every-k-th subset where the full set does not fit, ``--stride``).
* ``differential`` — an ACAS Xu network against its 16-bit copy over property regions,
  ε = 0.05 and 0.01: ours (``benchmarks/differential.py``) vs NeuroDiff.
* ``bounds`` — the linear tier vs CROWN and optimized slopes vs alpha-CROWN (auto_LiRPA)
  on the same networks and boxes: output-bound widths and times.
* ``memory`` — peak resident memory of ``reluscope.verify`` on mnistfc's 784-256x6-10 network.

Peers run in their own environment (``bash benchmarks/peers/setup.sh``), one worker/thread
each; their results are cached per instance in ``benchmarks/results/peers_<tool>_<suite>.json``
and reused with ``--reuse-peers`` (cached instances are not re-run, missing ones are).

Usage::

    .venv/bin/python benchmarks/verification.py [--quick] [--suites ...] [--tools ...]
        [--reuse-peers] [--stride TOOL:SUITE=K ...] [--out benchmarks/results/verification.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # `benchmarks.peers` as a package

from benchmarks.peers import cache, consensus  # noqa: E402

SUITES = ("acasxu", "mnistfc", "differential", "bounds", "memory")
TOOLS = ("ours", "marabou", "neuralsat", "neurodiff", "lirpa")
VERIFIERS = ("marabou", "neuralsat")
# Every k-th instance per (tool, suite): what fits the time of one run on 2 shared cores.
DEFAULT_STRIDE = {("ours", "acasxu"): 1, ("ours", "mnistfc"): 6,
                  ("marabou", "acasxu"): 4, ("marabou", "mnistfc"): 9,
                  ("neuralsat", "acasxu"): 3, ("neuralsat", "mnistfc"): 6}
QUICK_STRIDE = {"acasxu": 31, "mnistfc": 30}
QUICK_TIMEOUT = 20.0


def _parse_strides(items: list[str]) -> dict[tuple[str, str], int]:
    strides = dict(DEFAULT_STRIDE)
    for item in items:
        try:
            who, k = item.split("=")
            tool, suite = who.split(":")
            strides[(tool, suite)] = int(k)
        except ValueError:
            raise SystemExit(f"--stride wants TOOL:SUITE=K, got {item!r}")
    return strides


def _rows(suite: str, tool: str, args) -> list[consensus.Instance]:
    """A tool's instances: every k-th of the suite; ours also runs every instance a peer
    verifier runs, so that each comparison is on the same instances."""
    rows = consensus.instances(suite)
    if args.quick:
        return consensus.stride_subset(rows, QUICK_STRIDE[suite])
    tools = (tool,) + (VERIFIERS if tool == "ours" else ())
    keys = {r.key for t in tools for r in consensus.stride_subset(rows, args.strides.get((t, suite), 1))}
    return [r for r in rows if r.key in keys]


def _timeout(inst: consensus.Instance, args) -> float:
    T = min(inst.timeout, QUICK_TIMEOUT) if args.quick else inst.timeout
    # a count solved at a shorter timeout is a lower bound of the count at the real one
    return min(T, args.timeout_cap) if getattr(args, "timeout_cap", None) else T


# --------------------------------------------------------------------------- peers
def run_verifier(tool: str, suite: str, args) -> dict:
    """Run (or reuse) one peer verifier over its subset of a suite; returns the cache dict."""
    from benchmarks.peers import marabou, neuralsat
    runner = {"marabou": marabou.verify, "neuralsat": neuralsat.verify}[tool]
    data = cache.load(tool, suite)
    rows = _rows(suite, tool, args)
    for i, inst in enumerate(rows):
        T = _timeout(inst, args)
        old = data["instances"].get(inst.key)
        if args.reuse_peers and old is not None and old.get("timeout") == T:
            continue
        entry = runner(inst.onnx_path, inst.vnnlib_path, T)
        entry["timeout"] = T
        cache.store(tool, suite, data, inst.key, entry)
        print(f"  {tool} {suite} [{i + 1}/{len(rows)}] {inst.key}: {entry['result']} "
              f"{entry['seconds']:.1f}s (consensus {inst.consensus}) {entry.get('note', '')}"[:200], flush=True)
    data["subset"] = [r.key for r in rows]
    return data



# --------------------------------------------------------------------------- ours
def _git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _ours_cache_path(suite: str, quick: bool, cap: float | None = None) -> Path:
    tail = ("_quick" if quick else "") + (f"_cap{cap:g}" if cap else "")
    return HERE / "results" / f"verification_ours_{suite}{tail}.json"


def run_ours(suite: str, args) -> dict:
    """reluscope.verify on the suite (fresh child per instance); cached per instance with the
    commit it ran on (``--reuse-ours`` keeps cached entries)."""
    from benchmarks.peers import ours
    path = _ours_cache_path(suite, args.quick, args.timeout_cap)
    data = json.loads(path.read_text()) if path.exists() else {"instances": {}}
    rows = _rows(suite, "ours", args)
    commit = _git_commit()
    order = list(enumerate(rows))
    for i, inst in (order[::-1] if args.reverse else order):
        if i % args.shard[1] != args.shard[0]:
            continue
        T = _timeout(inst, args)
        old = data["instances"].get(inst.key)
        if args.reuse_ours and old is not None and old.get("timeout") == T and not (
                args.rerun_unsolved and judge(old, inst, "ours") != "solved" and old.get("commit") != commit):
            continue
        entry = ours.verify_instance(inst.onnx_path, inst.vnnlib_path, T)
        entry.update(timeout=T, commit=commit, load1=round(os.getloadavg()[0], 2),
                     measured_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        data = cache.merge_entry(path, inst.key, entry)
        chk = entry.get("cex_check")
        print(f"  ours {suite} [{i + 1}/{len(rows)}] {inst.key}: {entry['result']} {entry['seconds']:.1f}s "
              f"(consensus {inst.consensus}){' cex ' + str(chk) if chk else ''} {entry.get('note', '')}"[:220],
              flush=True)
    data = json.loads(path.read_text()) if path.exists() else {"instances": {}}
    data["subset"] = [r.key for r in rows]
    return data


# --------------------------------------------------------------------------- scoring
def judge(entry: dict | None, inst: consensus.Instance, tool: str) -> str:
    """solved / wrong / unknown / missing for one answer against the consensus.

    Wrong: ``holds`` where the consensus is violated; ``violated`` where the consensus holds
    or (ours) whose counterexample does not violate the property in float64. Solved: a
    right answer within the instance's timeout (ours: load + verify seconds; peers: their
    own ``--timeout`` is the instance's, wall time includes their start-up)."""
    if entry is None:
        return "missing"
    r = entry.get("result")
    if r == "holds":
        return "wrong" if inst.consensus == "violated" else "solved"
    if r == "violated":
        chk = entry.get("cex_check")
        if inst.consensus == "holds" or (tool == "ours" and chk is not None and not chk.get("float64")):
            return "wrong"
        return "solved"
    if r in ("error", "killed"):
        return "error"
    return "unknown"


def summarize(tool: str, entries: dict, rows: list[consensus.Instance]) -> dict:
    verdicts = {r.key: judge(entries.get(r.key), r, tool) for r in rows}
    times = [entries[k]["seconds"] for k, v in verdicts.items() if v == "solved"]
    out = {"tool": tool, "instances": len(rows), "run": sum(v != "missing" for v in verdicts.values())}
    for v in ("solved", "wrong", "unknown", "error", "missing"):
        out[v] = sum(x == v for x in verdicts.values())
    out["holds"] = sum(entries.get(k, {}).get("result") == "holds" and verdicts[k] == "solved" for k in verdicts)
    out["violated"] = sum(entries.get(k, {}).get("result") == "violated" and verdicts[k] == "solved" for k in verdicts)
    out["median_solved_seconds"] = statistics.median(times) if times else None
    cpus = [entries[k]["cpu_seconds"] for k, v in verdicts.items() if v == "solved" and "cpu_seconds" in entries[k]]
    out["median_solved_cpu_seconds"] = statistics.median(cpus) if cpus else None
    out["wrong_instances"] = [k for k, v in verdicts.items() if v == "wrong"]
    out["verdicts"] = verdicts
    return out


def compare_on_subset(ours_entries: dict, peer: str, peer_entries: dict, rows) -> dict:
    """Ours vs a peer on the peer's subset: solved counts, and median times on the instances
    both solved (ratio = ours / peer; < 1: ours faster)."""
    a = summarize("ours", ours_entries, rows)
    b = summarize(peer, peer_entries, rows)
    both = [r.key for r in rows if a["verdicts"][r.key] == "solved" and b["verdicts"][r.key] == "solved"]
    mo = statistics.median([ours_entries[k]["seconds"] for k in both]) if both else None
    mp = statistics.median([peer_entries[k]["seconds"] for k in both]) if both else None
    return {"peer": peer, "subset": len(rows), "ours_solved": a["solved"], "peer_solved": b["solved"],
            "ours_wrong": a["wrong"], "peer_wrong": b["wrong"], "ours_missing": a["missing"],
            "peer_missing": b["missing"], "both_solved": len(both), "ours_median_s": mo, "peer_median_s": mp,
            "solved_ratio": (a["solved"] / b["solved"]) if b["solved"] else None,
            "median_time_ratio": (mo / mp) if mo and mp else None}


def _fmt(x, nd=1):
    return "-" if x is None else (f"{x:.{nd}f}" if isinstance(x, float) else str(x))


def report_suite(suite: str, args, results: dict) -> list[str]:
    rows_all = consensus.instances(suite)
    lines = [f"### {suite} ({len(rows_all)} instances; consensus: "
             f"{sum(r.consensus == 'holds' for r in rows_all)} holds, "
             f"{sum(r.consensus == 'violated' for r in rows_all)} violated, "
             f"{sum(r.consensus == 'none' for r in rows_all)} none)", "",
             "| tool | instances | solved | holds | violated | wrong | unknown/timeout | error/killed | not run | "
             "median wall s (solved) | median CPU s (solved) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    suite_out = {"published": consensus.published_counts(suite), "issue_best": consensus.ISSUE_BEST[suite]}
    ours_data = results.get(("ours", suite))
    tools = [("ours", ours_data)] + [(t, results.get((t, suite))) for t in VERIFIERS]
    for tool, data in tools:
        if data is None:
            continue
        rows = [r for r in rows_all if r.key in set(data.get("subset", []))] or rows_all
        s = summarize(tool, data["instances"], rows)
        suite_out[tool] = {k: v for k, v in s.items() if k != "verdicts"}
        stride = QUICK_STRIDE[suite] if args.quick else args.strides.get((tool, suite), 1)
        label = tool if len(rows) == len(rows_all) else f"{tool} (every k-th, k={stride})"
        if tool == "ours" and not args.quick and len(rows) not in (len(rows_all), len(rows_all[::stride])):
            label = f"ours (every k-th, k={stride}, and every peer's instance)"
        lines.append(f"| {label} | {len(rows)} | {s['solved']} | {s['holds']} | {s['violated']} | {s['wrong']} | "
                     f"{s['unknown']} | {s['error']} | {s['missing']} | {_fmt(s['median_solved_seconds'])} | "
                     f"{_fmt(s['median_solved_cpu_seconds'])} |")
    if ours_data is not None:
        ent = [v for k, v in ours_data["instances"].items() if k in set(ours_data.get("subset", []))]
        over = [v["verify_seconds"] / v["timeout"] for v in ent if v.get("verify_seconds", 0) > 1.2 * v["timeout"] + 1]
        loads = [v["load1"] for v in ent if "load1" in v]
        commits = sorted({v.get("commit", "?") for v in ent})
        suite_out["ours_overruns"] = len(over)
        lines += ["", f"Ours: {len(over)} of {len(ent)} calls took longer than 1.2 T + 1 s"
                  + (f" (at most {max(over):.2f} T)" if over else "")
                  + (f"; 1-minute load during the calls: median {statistics.median(loads):.1f}, max {max(loads):.1f}"
                     if loads else "") + f"; commits {', '.join(commits)}."]
    pub = suite_out["published"]
    best = ", ".join(f"{t} {n}" for t, n in list(pub.items())[:3])
    quoted = ", ".join(f"{t} {n}" for t, n in consensus.ISSUE_BEST[suite].items())
    lines += ["", f"Best published (VNN-COMP 2021 results, answers agreeing with the consensus, their hardware): "
              f"{best}; as quoted by issue 25: {quoted}."]
    if ours_data is not None:
        cmp_lines = ["", "| ours vs peer, same instances | subset | not run ours / peer | solved ours / peer | ratio | "
                     "both solved | median s ours / peer | time ratio |", "|---|---|---|---|---|---|---|---|"]
        suite_out["vs"] = {}
        for peer in VERIFIERS:
            pdata = results.get((peer, suite))
            if pdata is None:
                continue
            rows = [r for r in rows_all if r.key in set(pdata.get("subset", []))]
            c = compare_on_subset(ours_data["instances"], peer, pdata["instances"], rows)
            suite_out["vs"][peer] = c
            cmp_lines.append(f"| {peer} | {c['subset']} | {c['ours_missing']} / {c['peer_missing']} | "
                             f"{c['ours_solved']} / {c['peer_solved']} | "
                             f"{_fmt(c['solved_ratio'], 2)} | {c['both_solved']} | {_fmt(c['ours_median_s'])} / "
                             f"{_fmt(c['peer_median_s'])} | {_fmt(c['median_time_ratio'], 2)} |")
        lines += cmp_lines
    results[("summary", suite)] = suite_out
    return lines


# --------------------------------------------------------------------------- differential
ACAS_NETS = [f"{a}_{b}" for a in range(1, 6) for b in range(1, 10)]
DIFF_EPS = (0.05, 0.01)
DIFF_TIMEOUT = 60.0


def _diff_rows(args) -> list[tuple[str, int, float]]:
    nets = ACAS_NETS[::15] if args.quick else ACAS_NETS
    return [(n, p, eps) for p in args.diff_props for eps in DIFF_EPS for n in nets]


def run_neurodiff(args) -> dict:
    from benchmarks.peers import neurodiff, ours
    data = cache.load("neurodiff", "differential")
    rows = _diff_rows(args)
    T = 20.0 if args.quick else DIFF_TIMEOUT
    for i, (n, prop, eps) in enumerate(rows):
        key = f"{n}|{prop}|{eps}"
        old = data["instances"].get(key)
        if args.reuse_peers and old is not None and old.get("timeout") == T:
            continue
        net, copy = ours.acas_pair(n)
        entry = neurodiff.verify_pair(f"ACASXU_run2a_{n}_batch_2000", (list(net.weights), list(net.biases)),
                                      (list(copy.weights), list(copy.biases)), prop, eps, T)
        entry["timeout"] = T
        cache.store("neurodiff", "differential", data, key, entry)
        print(f"  neurodiff [{i + 1}/{len(rows)}] {key}: {entry['result']} {entry['seconds']:.1f}s {entry['note']}"[:200],
              flush=True)
    data["subset"] = [f"{n}|{p}|{e}" for n, p, e in rows]
    return data



def _ours_diff_path(quick: bool) -> Path:
    return HERE / "results" / f"verification_ours_differential{'_quick' if quick else ''}.json"


def run_ours_differential(args) -> dict:
    from benchmarks.peers import ours
    path = _ours_diff_path(args.quick)
    data = json.loads(path.read_text()) if path.exists() else {"instances": {}}
    rows = _diff_rows(args)
    T = 20.0 if args.quick else DIFF_TIMEOUT
    commit = _git_commit()
    order = list(enumerate(rows))
    for i, (n, prop, eps) in (order[::-1] if args.reverse else order):
        if i % args.shard[1] != args.shard[0]:
            continue
        key = f"{n}|{prop}|{eps}"
        old = data["instances"].get(key)
        if args.reuse_ours and old is not None and old.get("timeout") == T and not (
                args.rerun_unsolved and old.get("result") != "proved" and old.get("commit") != commit):
            continue
        entry = ours.differential_pair(n, prop, eps, T)
        entry.update(timeout=T, commit=commit, load1=round(os.getloadavg()[0], 2))
        data = cache.merge_entry(path, key, entry)
        print(f"  ours differential [{i + 1}/{len(rows)}] {key}: {entry['result']} {entry['seconds']:.1f}s "
              f"{entry.get('bounds') or ''}"[:200], flush=True)
    data = json.loads(path.read_text()) if path.exists() else {"instances": {}}
    data["subset"] = [f"{n}|{p}|{e}" for n, p, e in rows]
    return data


def report_differential(ours_data: dict | None, nd_data: dict | None, args, results: dict) -> list[str]:
    lines = ["### differential: ACAS Xu network vs its 16-bit copy, |f_t - g_t| <= eps on the property "
             "region (t = NeuroDiff's target output)", "",
             "| property | eps | pairs | run ours / NeuroDiff | ours proved | NeuroDiff proved | ours refuted | "
             "NeuroDiff refuted | both proved | median s ours / NeuroDiff | time ratio |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    out = {}
    for prop in args.diff_props:
        for eps in DIFF_EPS:
            keys = [f"{n}|{prop}|{eps}" for n in (ACAS_NETS[::15] if args.quick else ACAS_NETS)]
            o = {k: (ours_data or {}).get("instances", {}).get(k, {}) for k in keys}
            d = {k: (nd_data or {}).get("instances", {}).get(k, {}) for k in keys}
            op = [k for k in keys if o[k].get("result") == "proved"]
            dp = [k for k in keys if d[k].get("result") == "proved"]
            both = [k for k in op if k in dp]
            mo = statistics.median([o[k]["seconds"] for k in both]) if both else None
            md = statistics.median([d[k]["seconds"] for k in both]) if both else None
            row = {"pairs": len(keys), "ours_proved": len(op), "neurodiff_proved": len(dp),
                   "ours_refuted": sum(o[k].get("result") == "refuted" for k in keys),
                   "neurodiff_refuted": sum(d[k].get("result") == "refuted" for k in keys),
                   "ours_run": sum(bool(o[k]) for k in keys), "neurodiff_run": sum(bool(d[k]) for k in keys),
                   "both_proved": len(both), "ours_median_s": mo, "neurodiff_median_s": md,
                   "median_time_ratio": (mo / md) if mo and md else None,
                   "conflicts": [k for k in keys if {o[k].get("result"), d[k].get("result")} == {"proved", "refuted"}]}
            out[f"{prop}|{eps}"] = row
            lines.append(f"| {prop} | {eps} | {len(keys)} | {row['ours_run']} / {row['neurodiff_run']} | "
                         f"{len(op)} | {len(dp)} | {row['ours_refuted']} | "
                         f"{row['neurodiff_refuted']} | {len(both)} | {_fmt(mo, 2)} / {_fmt(md, 2)} | "
                         f"{_fmt(row['median_time_ratio'], 2)} |")
    results[("summary", "differential")] = out
    return lines


# --------------------------------------------------------------------------- bounds, memory
def report_bounds(rows: list[dict]) -> list[str]:
    lines = ["### bounds: reluscope vs auto_LiRPA on the same networks and boxes (output-bound widths, "
             "ours / theirs; < 1: ours tighter)", "",
             "| networks and boxes | boxes | ours | theirs | width ratio median (max) | ours as tight | "
             "s ours / theirs | bounds overlap |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for c in r["vs"]:
            lines.append(f"| {r['case']} | {r['n_boxes']} | {c['ours']} | {c['theirs']} | "
                         f"{c['median_width_ratio']:.3f} ({c['max_width_ratio']:.3f}) | "
                         f"{c['boxes_ours_as_tight']}/{r['n_boxes']} | {c['ours_seconds_total']:.2f} / "
                         f"{c['theirs_seconds_total']:.2f} | {'yes' if c['bounds_overlap'] else 'NO'} |")
    return lines


MEMORY_INSTANCES = ("prop_0_0.05.vnnlib", "prop_1_0.05.vnnlib")


def run_memory(args, ours_mnist: dict | None) -> dict:
    """Peak resident memory of ``reluscope.verify`` on mnist-net_256x6 (fresh process each):
    the instances run here, plus every 256x6 instance of the mnistfc run if there was one."""
    from benchmarks.peers import ours
    rows = []
    net = consensus.VNNCOMP / "mnistfc" / "mnist-net_256x6.onnx"
    T = QUICK_TIMEOUT if args.quick else 120.0
    from_run = [v.get("maxrss_mb") for k, v in (ours_mnist or {}).get("instances", {}).items()
                if k.startswith("mnist-net_256x6") and v.get("maxrss_mb")]
    dedicated = [] if (args.reuse_ours and from_run) else (MEMORY_INSTANCES[:1] if args.quick else MEMORY_INSTANCES)
    for spec in dedicated:
        e = ours.verify_instance(net, consensus.VNNCOMP / "mnistfc" / (spec + ".gz"), T)
        rows.append({"instance": f"mnist-net_256x6.onnx|{spec}", "result": e["result"],
                     "seconds": e["seconds"], "maxrss_mb": e.get("maxrss_mb")})
        print(f"  memory {spec}: {e['result']} {e['seconds']:.1f}s peak {e.get('maxrss_mb')} MB", flush=True)
    peak = max([r["maxrss_mb"] for r in rows if r["maxrss_mb"]] + from_run, default=None)
    return {"runs": rows, "mnistfc_run_256x6_instances": len(from_run), "peak_mb": peak, "goal_mb": 2048}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a few instances per suite, timeouts capped at 20 s")
    ap.add_argument("--suites", nargs="+", choices=SUITES, default=list(SUITES))
    ap.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS))
    ap.add_argument("--reuse-peers", action="store_true", help="take cached peer results, run only missing instances")
    ap.add_argument("--reuse-ours", action="store_true", help="take cached results of ours, run only missing instances")
    ap.add_argument("--rerun-unsolved", action="store_true",
                    help="with --reuse-ours: run again the cached instances ours did not solve on an older commit")
    ap.add_argument("--shard", default="0/1", metavar="I/N",
                    help="ours only: run the instances whose index is I mod N (several processes share the caches)")
    ap.add_argument("--reverse", action="store_true",
                    help="ours only: go through the instances last to first (a second process meets the first "
                         "in the middle; each skips what the other has cached)")
    ap.add_argument("--stride", nargs="*", default=[], metavar="TOOL:SUITE=K",
                    help="every k-th instance for that tool and suite (defaults: %s)" %
                    ", ".join(f"{t}:{s}={k}" for (t, s), k in DEFAULT_STRIDE.items()))
    ap.add_argument("--timeout-cap", type=float, default=None, metavar="S",
                    help="ours only: at most S seconds per instance (cached apart, in ..._capS.json)")
    ap.add_argument("--diff-props", nargs="+", type=int, default=[1], help="NeuroDiff ACAS Xu properties (1, 3, 4)")
    ap.add_argument("--out", type=Path, default=None,
                    help="default benchmarks/results/verification.json (verification_quick.json with --quick)")
    args = ap.parse_args(argv)
    args.strides = _parse_strides(args.stride)
    args.shard = tuple(int(v) for v in args.shard.split("/"))
    out_path = args.out or HERE / "results" / f"verification{'_quick' if args.quick else ''}.json"
    t_start = time.time()
    results: dict = {}
    table: list[str] = []
    for suite in ("acasxu", "mnistfc"):
        if suite not in args.suites:
            continue
        for tool in VERIFIERS:
            if tool in args.tools:
                print(f"{tool} on {suite}", flush=True)
                results[(tool, suite)] = run_verifier(tool, suite, args)
            elif args.reuse_peers and cache.path_for(tool, suite).exists():
                data = cache.load(tool, suite)
                data.setdefault("subset", [r.key for r in _rows(suite, tool, args)])
                results[(tool, suite)] = data
        if "ours" in args.tools:
            print(f"ours on {suite}", flush=True)
            results[("ours", suite)] = run_ours(suite, args)
        elif args.reuse_ours and _ours_cache_path(suite, args.quick, args.timeout_cap).exists():
            data = json.loads(_ours_cache_path(suite, args.quick, args.timeout_cap).read_text())
            data["subset"] = [r.key for r in _rows(suite, "ours", args)]
            results[("ours", suite)] = data
        table += report_suite(suite, args, results) + [""]
    if "differential" in args.suites:
        nd = None
        if "neurodiff" in args.tools:
            print("NeuroDiff on ACAS Xu vs 16-bit copies", flush=True)
            nd = run_neurodiff(args)
        elif args.reuse_peers and cache.path_for("neurodiff", "differential").exists():
            nd = cache.load("neurodiff", "differential")
        od = run_ours_differential(args) if "ours" in args.tools else None
        if od is None and args.reuse_ours and _ours_diff_path(args.quick).exists():
            od = json.loads(_ours_diff_path(args.quick).read_text())
        table += report_differential(od, nd, args, results) + [""]
    bounds_path = HERE / "results" / f"verification_bounds{'_quick' if args.quick else ''}.json"
    if "bounds" in args.suites and args.reuse_ours and args.reuse_peers and bounds_path.exists():
        rows = json.loads(bounds_path.read_text())["rows"]  # measured by an earlier invocation
        print(f"bounds: reused {bounds_path.name}", flush=True)
        results[("summary", "bounds")] = rows
        table += report_bounds(rows) + [""]
    elif "bounds" in args.suites and "lirpa" in args.tools:
        from benchmarks.peers import bounds_suite
        print("bounds: ours vs auto_LiRPA", flush=True)
        rows = bounds_suite.run(args.quick)
        bounds_path.write_text(json.dumps({"commit": _git_commit(), "load1": round(os.getloadavg()[0], 2),
                                           "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                           "rows": rows}, indent=1))
        results[("summary", "bounds")] = rows
        table += report_bounds(rows) + [""]
    if "memory" in args.suites and "ours" in args.tools:
        print("memory: reluscope.verify on mnist-net_256x6", flush=True)
        mem = run_memory(args, results.get(("ours", "mnistfc")))
        results[("summary", "memory")] = mem
        table += [f"### memory: peak resident memory of reluscope.verify on mnistfc 784-256x6-10: "
                  f"{_fmt(mem['peak_mb'], 0)} MB (goal <= 2048 MB; fresh process each, ru_maxrss, "
                  f"{len(mem['runs'])} dedicated runs + {mem['mnistfc_run_256x6_instances']} instances of the mnistfc run)", ""]
    print("\n".join(table))
    from benchmarks.peers.cache import versions
    record = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine(),
                          "load1_end": round(os.getloadavg()[0], 2)},
              "commit": _git_commit(), "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t_start)),
              "wall_seconds": time.time() - t_start, "argv": sys.argv[1:], "peer_versions": versions(),
              "strides": {f"{t}:{s}": k for (t, s), k in args.strides.items()},
              "summaries": {f"{k[1]}": v for k, v in results.items() if k[0] == "summary"},
              "table": table}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(record, indent=1, default=str))
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
