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
DEFAULT_STRIDE = {("ours", "acasxu"): 1, ("ours", "mnistfc"): 1,
                  ("marabou", "acasxu"): 1, ("marabou", "mnistfc"): 5,
                  ("neuralsat", "acasxu"): 3, ("neuralsat", "mnistfc"): 5}
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
    rows = consensus.instances(suite)
    stride = QUICK_STRIDE[suite] if args.quick else args.strides.get((tool, suite), 1)
    return consensus.stride_subset(rows, stride)


def _timeout(inst: consensus.Instance, args) -> float:
    return min(inst.timeout, QUICK_TIMEOUT) if args.quick else inst.timeout


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


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a few instances per suite, timeouts capped at 20 s")
    ap.add_argument("--suites", nargs="+", choices=SUITES, default=list(SUITES))
    ap.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS))
    ap.add_argument("--reuse-peers", action="store_true", help="take cached peer results, run only missing instances")
    ap.add_argument("--stride", nargs="*", default=[], metavar="TOOL:SUITE=K",
                    help="every k-th instance for that tool and suite (defaults: %s)" %
                    ", ".join(f"{t}:{s}={k}" for (t, s), k in DEFAULT_STRIDE.items()))
    ap.add_argument("--out", type=Path, default=HERE / "results" / "verification.json")
    args = ap.parse_args(argv)
    args.strides = _parse_strides(args.stride)
    for suite in ("acasxu", "mnistfc"):
        if suite not in args.suites:
            continue
        for tool in VERIFIERS:
            if tool in args.tools:
                print(f"{tool} on {suite}", flush=True)
                run_verifier(tool, suite, args)


if __name__ == "__main__":
    main()
