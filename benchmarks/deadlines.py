"""Benchmark: requested time limit vs measured wall time of every long-running call.

Loads the case modules ``benchmarks/_deadline_cases_analysis.py`` and
``benchmarks/_deadline_cases_sparsity.py`` (whichever exist); each exposes ``CASES``, a
list of ``(name, size_label, fn)`` where ``fn(time_limit)`` runs one call and returns a
one-line outcome. For every case and every requested ``T`` the wall time is measured
and compared with the goal of issue 15: ``wall <= 1.2 T + 1 s``.

Each case runs in a fresh child process (``--in-process`` to skip), so that a case that
overruns, leaks memory or crashes does not affect the others; the child's time counts only
the call (the networks are built before the clock starts, by a first call with a tiny
budget that is not measured).

Usage::

    .venv/bin/python benchmarks/deadlines.py [--T 1 5 20] [--only NAME ...] [--sizes LABEL ...]
        [--module analysis|sparsity ...] [--out benchmarks/results/deadlines.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing as mp
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODULES = ("analysis", "sparsity")


def _load(kind: str):
    path = HERE / f"_deadline_cases_{kind}.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"_deadline_cases_{kind}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _cases(kinds):
    for kind in kinds:
        mod = _load(kind)
        if mod is None:
            continue
        for i, (name, size, fn) in enumerate(mod.CASES):
            yield kind, i, name, size, fn


def _run(kind: str, index: int, T: float, warm: bool, queue) -> None:
    fn = _load(kind).CASES[index][2]
    if warm:
        try:
            fn(0.05)  # builds and caches the networks; not measured
        except Exception:  # noqa: BLE001 - the measured call reports errors
            pass
    t0 = time.monotonic()
    try:
        outcome = str(fn(T))
    except Exception as exc:  # noqa: BLE001 - an error is an outcome to report
        outcome = f"ERROR {type(exc).__name__}: {exc}"[:200]
    queue.put((time.monotonic() - t0, outcome))


def measure(kind: str, index: int, T: float, in_process: bool, warm: bool) -> tuple[float, str]:
    if in_process:
        q: list = []

        class _Q:
            put = q.append
        _run(kind, index, T, warm, _Q)
        return q[0]
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_run, args=(kind, index, T, warm, queue))
    t0 = time.monotonic()
    proc.start()
    hard = 5 * T + 120  # a hung case is killed and reported
    try:
        return queue.get(timeout=hard + (60 if warm else 0))
    except Exception:  # noqa: BLE001 - queue.Empty: the case hung
        proc.kill()
        return time.monotonic() - t0, f"KILLED after {hard:.0f} s"
    finally:
        proc.join(timeout=10)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--T", type=float, nargs="+", default=[1.0, 5.0, 20.0])
    ap.add_argument("--only", nargs="*", default=None, help="case names to run")
    ap.add_argument("--sizes", nargs="*", default=None, help="size labels to run")
    ap.add_argument("--module", nargs="*", default=list(MODULES), choices=MODULES)
    ap.add_argument("--in-process", action="store_true")
    ap.add_argument("--no-warm", action="store_true", help="measure the first call (network building included)")
    ap.add_argument("--out", default=None, help="JSON file for the rows")
    args = ap.parse_args(argv)
    rows = []
    print(f"{'module':9} {'case':22} {'size':16} {'T':>6} {'wall':>8} {'goal':>7} ok  outcome", flush=True)
    for kind, index, name, size, _ in _cases(args.module):
        if (args.only and name not in args.only) or (args.sizes and size not in args.sizes):
            continue
        for T in args.T:
            wall, outcome = measure(kind, index, T, args.in_process, not args.no_warm)
            goal = 1.2 * T + 1.0
            ok = wall <= goal
            rows.append({"module": kind, "case": name, "size": size, "T": T, "wall": round(wall, 3),
                         "goal": goal, "ok": ok, "outcome": outcome})
            print(f"{kind:9} {name:22} {size:16} {T:6g} {wall:8.2f} {goal:7.1f} {'ok ' if ok else 'NO '} {outcome[:70]}",
                  flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"machine": platform.platform(), "argv": sys.argv[1:], "rows": rows},
                                             indent=1))


if __name__ == "__main__":
    main()
