"""Differential verification: a network against its compressed copy (issue 25 goals).

Suites (results in ``benchmarks/results/differential*.json``):

* ``acas`` — each of the 45 ACAS Xu networks (VNN-COMP 2021 ONNX files, vendored) against
  its 16-bit copy (weights and biases rounded to float16 in code), on the normalized input
  region of an ACAS Xu property as NeuroDiff's artifact defines it (``benchmarks/peers/
  neurodiff.py``; the VNN-LIB box when the artifact is absent), ``eps`` = 0.05 and 0.01:
  is ``|f_t - g_t| <= eps`` on the region (``t`` the target output NeuroDiff checks, 0)?
  ``reluscope.epsilon_equivalent`` with ``time_limit`` 60 s, every instance in this process.
* ``exact`` — sup distance within 60 s: the trained 10-32-32-1 network against itself
  magnitude-pruned 10/30/50 % on ``[-1, 1]^10``, and the random 10-D 2x32 pair (seeds
  102/103) — the instances of ``benchmarks/bounds.py``.
* ``digits`` — the 784-300-100-10 digits network against itself pruned 10 % more over 100
  data boxes of radius 0.02: ``sup_distance`` (upper/lower, 120 s) and ``top1_agreement``.

For ``benchmarks/verification.py`` (side by side with NeuroDiff): :func:`solve_pair` is our
solver of one instance and :func:`acas_instances` the instance list.

Usage::

    .venv/bin/python -m benchmarks.differential --suite acas --props 1 --eps 0.05 0.01
    .venv/bin/python -m benchmarks.differential --suite exact [--splits]
    .venv/bin/python -m benchmarks.differential --suite digits
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np

try:  # imported here, outside every timed region: the bound engine and the gradient attack
    import torch  # noqa: F401  use torch when it is already imported (it takes seconds)
except ImportError:
    pass

HERE = Path(__file__).resolve().parent
VNNCOMP = HERE / "vnncomp2021" / "acasxu"
ACAS_NETS = [f"{a}_{b}" for a in range(1, 6) for b in range(1, 10)]
TARGET_OUTPUT = 0  # NeuroDiff's target output for the ACAS Xu properties it defines


def acas_pair(name: str):
    """An ACAS Xu network (``"1_1"`` ... ``"5_9"``) and its 16-bit copy."""
    import reluscope

    net = reluscope.load(str(VNNCOMP / f"ACASXU_run2a_{name}_batch_2000.onnx"))
    half = reluscope.ReLUNetwork([W.astype(np.float16).astype(np.float64) for W in net.weights],
                                 [b.astype(np.float16).astype(np.float64) for b in net.biases])
    return net, half


def output_slice(net, k: int):
    """The network restricted to output ``k``."""
    import reluscope

    W, b = list(net.weights), list(net.biases)
    return reluscope.ReLUNetwork(W[:-1] + [W[-1][k:k + 1]], b[:-1] + [b[-1][k:k + 1]])


def region(name: str, prop: int) -> tuple[np.ndarray, np.ndarray]:
    """The normalized input box of an ACAS Xu property: NeuroDiff's when its artifact is set
    up (``benchmarks/peers/setup.sh``), else the VNN-LIB property's box."""
    try:
        from benchmarks.peers import neurodiff
        return neurodiff.region(f"ACASXU_run2a_{name}_batch_2000", prop)
    except Exception:  # artifact absent: the vendored VNN-LIB box
        from reluscope.io.vnnlib import load_vnnlib

        box = load_vnnlib(VNNCOMP / f"prop_{prop}.vnnlib").cases[0].box
        return box.lo.copy(), box.hi.copy()


def acas_instances(props=(1,), eps=(0.05, 0.01)) -> list[tuple[str, int, float]]:
    """``(network, property, eps)`` of the ACAS Xu differential suite."""
    return [(n, p, e) for p in props for e in eps for n in ACAS_NETS]


def solve_pair(f, g, box, eps: float, time_limit: float):
    """Our answer to ``max |f - g| <= eps on box?``: a ``DifferentialVerdict`` (``status``
    ``proved`` / ``refuted`` / ``undecided``, ``bounds`` on ``sup |f - g|``)."""
    import reluscope

    return reluscope.epsilon_equivalent(f, g, box, eps, time_limit=time_limit)


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=HERE).stdout.strip()
    except OSError:
        return ""


def _save(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True))


def run_acas(props, eps_list, T: float, nets: list[str], all_outputs: bool, resume: bool = False,
             tag: str = "") -> dict:
    import reluscope

    path = HERE / "results" / f"differential_acas{'_all' if all_outputs else ''}{tag}.json"
    data = json.loads(path.read_text()) if path.exists() else {"instances": {}}
    data.update(time_limit=T, commit=_commit(), question="max |f_t - g_t| <= eps" if not all_outputs
                else "max_k |f_k - g_k| <= eps")
    for prop in props:
        for eps in eps_list:
            for n in nets:
                key = f"{n}|{prop}|{eps}"
                if resume and key in data["instances"]:
                    continue
                net, half = acas_pair(n)
                f, g = (net, half) if all_outputs else (output_slice(net, TARGET_OUTPUT), output_slice(half, TARGET_OUTPUT))
                lo, hi = region(n, prop)
                t0 = time.perf_counter()
                v = solve_pair(f, g, reluscope.Box(lo, hi, allow_flat=True), eps, T)
                sec = time.perf_counter() - t0
                data["instances"][key] = {"result": v.status, "seconds": sec, "bounds": list(v.bounds or ()),
                                          "load1": round(os.getloadavg()[0], 2), "commit": _commit()}
                _save(path, data)
                print(f"{key}: {v.status} {sec:.1f}s {v.bounds}", flush=True)
    return data


def summarize_acas(data: dict) -> dict:
    out = {}
    for key, e in data["instances"].items():
        _, prop, eps = key.split("|")
        s = out.setdefault(f"prop {prop} eps {eps}", {"proved": 0, "refuted": 0, "undecided": 0, "times": []})
        s[e["result"]] += 1
        if e["result"] != "undecided":
            s["times"].append(e["seconds"])
    for s in out.values():
        t = s.pop("times")
        s["median_seconds_decided"] = float(np.median(t)) if t else None
    return out


def run_exact(T: float, splits: bool = False) -> dict:
    import reluscope
    from benchmarks.bounds import prune, trained_small

    small = trained_small()
    pairs = [(f"trained 10-32-32-1 vs pruned {int(100 * p)}%", small, prune(small, p)) for p in (0.1, 0.3, 0.5)]
    pairs.append(("random 2x32 pair (102/103)", reluscope.ReLUNetwork.random((10, 32, 32, 1), seed=102),
                  reluscope.ReLUNetwork.random((10, 32, 32, 1), seed=103)))
    rows = []
    for name, f, g in pairs:
        t0, c0 = time.perf_counter(), time.process_time()
        r = reluscope.sup_distance(f, g, reluscope.Box(-1, 1), time_limit=T)
        sec, cpu = time.perf_counter() - t0, time.process_time() - c0
        rows.append({"pair": name, "lower": r.lower, "upper": r.upper, "ratio": r.upper / max(r.lower, 1e-300),
                     "exact": r.exact, "status": r.status, "method": r.method, "seconds": sec, "cpu_seconds": cpu,
                     "load1": round(os.getloadavg()[0], 2)})
        print(rows[-1], flush=True)
    data = {"time_limit": T, "commit": _commit(), "rows": rows}
    if splits:
        data["search"] = run_splits(pairs, T)
    _save(HERE / "results" / "differential_exact.json", data)
    return data


def run_splits(pairs, T: float) -> list[dict]:
    """The search alone on each pair, by input splitting and by joint ReLU splitting
    (``search_sup(method=...)``), same time limit: which splitting bounds the 10-D pairs
    better (CPU seconds beside the wall time: the machine is shared)."""
    from reluscope._budget import Budget
    from reluscope.distance.difference_search import search_sup

    rows = []
    for name, f, g in pairs:
        for method in ("input", "relu"):
            t0, c0 = time.perf_counter(), time.process_time()
            r = search_sup(f, g, -np.ones(f.input_dim), np.ones(f.input_dim), budget=Budget(T),
                           rng=np.random.default_rng(0), method=method)
            rows.append({"pair": name, "method": method, "lower": r.lower, "upper": r.upper, "status": r.status,
                         "domains": r.domains, "seconds": time.perf_counter() - t0,
                         "cpu_seconds": time.process_time() - c0, "load1": round(os.getloadavg()[0], 2)})
            print(rows[-1], flush=True)
    return rows


def run_digits(T: float, quick: bool) -> dict:
    import reluscope
    from benchmarks.bounds import digits_784, prune

    big, images = digits_784(max_iter=5 if quick else 30)
    g = prune(big, 0.1)
    boxes = reluscope.PointSet(images).neighbourhood(0.02, within=reluscope.Box(0, 1))
    t0, c0 = time.perf_counter(), time.process_time()
    r = reluscope.sup_distance(big, g, boxes, time_limit=T)
    s_sec, s_cpu, s_load = time.perf_counter() - t0, time.process_time() - c0, os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    v = reluscope.top1_agreement(big, g, boxes, time_limit=T)
    t_sec, t_cpu, t_load = time.perf_counter() - t0, time.process_time() - c0, os.getloadavg()[0]
    c = v.counts
    data = {"time_limit": T, "commit": _commit(), "boxes": len(boxes),
            "sup": {"lower": r.lower, "upper": r.upper, "ratio": r.upper / max(r.lower, 1e-300),
                    "status": r.status, "seconds": s_sec, "cpu_seconds": s_cpu, "load1": round(s_load, 2)},
            "top1": {"counts": c, "decided_fraction": (c["proved"] + c["refuted"]) / len(boxes),
                     "status": v.status, "seconds": t_sec, "cpu_seconds": t_cpu, "load1": round(t_load, 2)}}
    print(data, flush=True)
    _save(HERE / "results" / f"differential_digits{'_quick' if quick else ''}.json", data)
    return data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", choices=("acas", "exact", "digits"), required=True)
    ap.add_argument("--props", type=int, nargs="+", default=[1])
    ap.add_argument("--eps", type=float, nargs="+", default=[0.05, 0.01])
    ap.add_argument("--nets", nargs="+", default=ACAS_NETS)
    ap.add_argument("--all-outputs", action="store_true", help="every output, not only NeuroDiff's target")
    ap.add_argument("--time-limit", type=float, default=None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--splits", action="store_true", help="exact suite: also the search alone, input vs ReLU splitting")
    ap.add_argument("--resume", action="store_true", help="keep the instances already in the results file")
    ap.add_argument("--tag", default="", help="suffix of the results file (parallel runs)")
    args = ap.parse_args()
    if args.suite == "acas":
        data = run_acas(args.props, args.eps, args.time_limit or 60.0, args.nets, args.all_outputs, args.resume,
                        args.tag)
        print(json.dumps(summarize_acas(data), indent=1))
    elif args.suite == "exact":
        run_exact(args.time_limit or 60.0, args.splits)
    else:
        run_digits(args.time_limit or 120.0, args.quick)


if __name__ == "__main__":
    main()
