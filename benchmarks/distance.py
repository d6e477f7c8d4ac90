"""Benchmark: exact sup distance (reluscope, HiGHS via scipy) vs the same MILP built with
OMLT (Pyomo, ReluBigMFormulation) and solved by HiGHS (appsi_highs).

Both routes compute ``max_x∈box max_k |f_k(x) - g_k(x)|`` exactly for pairs of random
networks; the benchmark checks that the optima agree to 1e-6 and reports the time ratio
measured in the same run. OMLT, Pyomo and highspy are benchmark-only (the library never
imports them).

Usage: ``.venv/bin/python benchmarks/distance.py [--quick | --goal | --growth | --pruned | --enumeration]
[--time-limit S]``.
Writes ``benchmarks/results/distance.json`` (``distance_quick.json`` with ``--quick``,
``distance_goal.json`` with ``--goal``: the 2x32, 10-D instance with 60 s per route).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

from reluscope import Box, ReLUNetwork
from reluscope._results import dump_json
from reluscope.distance import sup_distance


def omlt_sup_distance(f: ReLUNetwork, g: ReLUNetwork, lo: np.ndarray, hi: np.ndarray,
                      time_limit: float, mip_gap: float = 1e-6) -> dict:
    """The sup distance through OMLT: two ReluBigM formulations on a shared input, one MILP
    per output and sign, solved by HiGHS through Pyomo's appsi interface."""
    import pyomo.environ as pyo
    from omlt import OmltBlock
    from omlt.neuralnet import NetworkDefinition, ReluBigMFormulation
    from omlt.neuralnet.layer import DenseLayer, InputLayer

    t0 = time.perf_counter()
    d = f.input_dim

    def definition(net: ReLUNetwork) -> NetworkDefinition:
        bounds = {i: (float(lo[i]), float(hi[i])) for i in range(d)}
        nd = NetworkDefinition(scaled_input_bounds=bounds)
        prev = InputLayer([d])
        nd.add_layer(prev)
        for layer, (W, b) in enumerate(net.layers()):
            act = "relu" if layer < net.depth - 1 else "linear"
            dense = DenseLayer(prev.output_size, [W.shape[0]], W.T.copy(), b.copy(), activation=act)
            nd.add_layer(dense)
            nd.add_edge(prev, dense)
            prev = dense
        return nd

    m = pyo.ConcreteModel()
    m.f = OmltBlock()
    m.g = OmltBlock()
    m.f.build_formulation(ReluBigMFormulation(definition(f)))
    m.g.build_formulation(ReluBigMFormulation(definition(g)))
    m.link = pyo.ConstraintList()
    for i in range(d):
        m.link.add(m.f.inputs[i] == m.g.inputs[i])
    from pyomo.contrib.appsi.solvers import Highs

    solver = Highs()
    solver.config.time_limit = time_limit
    solver.config.mip_gap = mip_gap
    solver.config.load_solution = False
    best, optimal = -np.inf, True
    build = time.perf_counter() - t0
    for k in range(f.output_dim):
        for sign in (1.0, -1.0):
            if hasattr(m, "obj"):
                m.del_component(m.obj)
            m.obj = pyo.Objective(expr=sign * (m.f.outputs[k] - m.g.outputs[k]), sense=pyo.maximize)
            remaining = time_limit - (time.perf_counter() - t0)
            solver.config.time_limit = max(remaining, 0.01)
            res = solver.solve(m)
            tc = str(res.termination_condition)
            if not tc.lower().endswith("optimal"):
                optimal = False
            if res.best_feasible_objective is not None:
                best = max(best, float(res.best_feasible_objective))
    return {"value": best, "optimal": optimal, "seconds": time.perf_counter() - t0, "build_seconds": build}


def instance(d: int, widths: tuple[int, ...], seed: int) -> tuple[ReLUNetwork, ReLUNetwork]:
    f = ReLUNetwork.random((d, *widths, 1), seed=seed)
    g = ReLUNetwork.random((d, *widths, 1), seed=seed + 1)
    return f, g


def write_results(name: str, rows: list, **settings) -> None:
    """``benchmarks/results/<name>``: the command, the settings, the machine and the rows
    (strict JSON: inf/nan as strings)."""
    out = {"command": " ".join([Path(sys.executable).name, *sys.argv]), **settings,
           "machine": f"{platform.system()} {platform.machine()}, Python {platform.python_version()}",
           "rows": rows}
    path = Path(__file__).resolve().parent / "results" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    dump_json(out, path)
    print(f"wrote {path}")


def growth(limit: float) -> None:
    """Where the exact answer stops fitting in ``limit`` seconds on the 10-D box: two
    10-N-N-1 networks (seeds 102/103, as the goal instance) for growing N."""
    rows = []
    print(f"{'hidden':>8} {'binaries':>9} {'seconds':>8} {'lower':>10} {'upper':>10} exact")
    for n in (8, 12, 16, 24, 32):
        f = ReLUNetwork.random((10, n, n, 1), seed=102)
        g = ReLUNetwork.random((10, n, n, 1), seed=103)
        t = time.perf_counter()
        r = sup_distance(f, g, Box(-1.0, 1.0), time_limit=limit)
        sec = time.perf_counter() - t
        rows.append({"hidden": [n, n], "binaries": r.n_binaries, "seconds": sec, "lower": r.lower,
                     "upper": r.upper, "exact": r.exact})
        print(f"{n}x{n:<5} {r.n_binaries:>9} {sec:>8.1f} {r.lower:>10.4f} {r.upper:>10.4f} {r.exact}", flush=True)
    write_results("distance_growth.json", rows, time_limit=limit)


def pruned(limit: float) -> None:
    """The goal's size on a trained model: a 10-32-32-1 MLP (scikit-learn's MLPRegressor) fitted
    to the diabetes data with features scaled to ``[-1, 1]``, against itself magnitude-pruned
    by 10%, 30% and 50% of each layer's weights, on ``[-1, 1]^10``."""
    import warnings

    from sklearn.datasets import load_diabetes
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    X, y = load_diabetes(return_X_y=True)
    lo, hi = X.min(axis=0), X.max(axis=0)
    X = 2 * (X - lo) / (hi - lo) - 1
    y = (y - y.mean()) / y.std()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = MLPRegressor(hidden_layer_sizes=(32, 32), random_state=0, max_iter=3000).fit(X, y)
    f = ReLUNetwork([c.T for c in model.coefs_], list(model.intercepts_))
    rows = []
    print(f"training R^2 {model.score(X, y):.3f}")
    print(f"{'pruned':>7} {'binaries':>9} {'seconds':>8} {'lower':>10} {'upper':>10} exact")
    for frac in (0.1, 0.3, 0.5):
        g = ReLUNetwork([np.where(np.abs(w) >= np.quantile(np.abs(w), frac), w, 0.0) for w in f.weights],
                        list(f.biases))
        t = time.perf_counter()
        r = sup_distance(f, g, Box(-1.0, 1.0), time_limit=limit)
        sec = time.perf_counter() - t
        rows.append({"pruned": frac, "binaries": r.n_binaries, "seconds": sec, "lower": r.lower,
                     "upper": r.upper, "exact": r.exact})
        print(f"{frac:>7.0%} {r.n_binaries:>9} {sec:>8.1f} {r.lower:>10.4f} {r.upper:>10.4f} {r.exact}", flush=True)
    write_results("distance_pruned.json", rows, time_limit=limit)


def enumeration(limit: float) -> None:
    """``method="enumerate"`` against ``method="exact"`` on the same instances (seeds 1000
    and 1002, not the comparison table's): seconds and agreement, for the sup distance of a
    pair and for the Lipschitz constant of one network."""
    from reluscope import lipschitz_constant

    rows = []
    print(f"{'quantity':>9} {'d':>2} {'hidden':>8} {'seed':>5} {'enumerate s':>12} {'MILP s':>8} {'ratio':>6} agree")
    cases = [("sup", d, w) for d in (2, 3, 4) for w in ((8, 8), (12, 12), (16, 16)) if not (d == 4 and w[0] > 12)]
    cases += [("lipschitz", d, w) for d, w in ((2, (16, 16)), (3, (6, 6, 6)), (3, (8, 8)), (3, (12, 12)), (4, (8, 8)))]
    for quantity, d, w in cases:
        for seed in (1000, 1002):
            f = ReLUNetwork.random((d, *w, 1), seed=seed)
            g = ReLUNetwork.random((d, *w, 1), seed=seed + 1)
            box = Box(-1.0, 1.0)
            out = {}
            for method in ("enumerate", "exact"):
                t = time.perf_counter()
                if quantity == "sup":
                    r = sup_distance(f, g, box, method=method, time_limit=limit)
                else:
                    r = lipschitz_constant(f, box, method=method, time_limit=limit)
                out[method] = (time.perf_counter() - t, r)
            (te, re_), (tm, rm) = out["enumerate"], out["exact"]
            agree = bool(re_.exact and rm.exact and abs(re_.lower - rm.lower) <= 1e-6 * max(1.0, rm.lower))
            rows.append({"quantity": quantity, "d": d, "hidden": list(w), "seed": seed,
                         "enumerate_seconds": te, "enumerate_exact": re_.exact, "milp_seconds": tm,
                         "milp_exact": rm.exact, "value": re_.lower, "agree_1e-6": agree})
            print(f"{quantity:>9} {d:>2} {'x'.join(map(str, w)):>8} {seed:>5} {te:>12.2f} {tm:>8.2f} "
                  f"{tm / te:>6.1f} {agree}", flush=True)
    write_results("distance_enumeration.json", rows, time_limit=limit)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small instances only")
    ap.add_argument("--time-limit", type=float, default=None, help="seconds per route and instance")
    ap.add_argument("--goal", action="store_true",
                    help="only the goal instance: two 2x32 networks on [-1,1]^10, 60 s per route")
    ap.add_argument("--growth", action="store_true",
                    help="reluscope only, 60 s each: two 2xN networks on [-1,1]^10 for N = 8..32")
    ap.add_argument("--pruned", action="store_true",
                    help="reluscope only, 60 s each: a trained 10-32-32-1 MLP against itself pruned")
    ap.add_argument("--enumeration", action="store_true",
                    help="region enumeration vs the MILPs (sup and Lipschitz) in 2, 3 and 4 dimensions")
    args = ap.parse_args()
    if args.growth:
        growth(args.time_limit or 60.0)
        return
    if args.pruned:
        pruned(args.time_limit or 60.0)
        return
    if args.enumeration:
        enumeration(args.time_limit or 120.0)
        return
    if args.goal:
        cases = [(10, (32, 32))]
        limit = args.time_limit or 60.0
    elif args.quick:
        cases = [(2, (8, 8)), (3, (8, 8)), (2, (12,))]
        limit = args.time_limit or 30.0
    else:
        cases = [(2, (8, 8)), (2, (16, 16)), (3, (8, 8)), (3, (12, 12)), (3, (16, 16)),
                 (4, (8, 8)), (4, (12, 12)), (2, (8, 8, 8)), (3, (8, 8, 8)), (2, (32,)), (5, (32,))]
        limit = args.time_limit or 120.0
    rows = []
    print(f"{'d':>3} {'hidden':>12} {'reluscope s':>12} {'OMLT s':>9} {'ratio':>7} {'value':>14} {'|diff|':>9} exact/optimal")
    for d, widths in cases:
        f, g = instance(d, widths, seed=10 * d + len(widths))
        box = Box(-1.0, 1.0)
        t = time.perf_counter()
        r = sup_distance(f, g, box, method="exact", time_limit=limit)
        ours = time.perf_counter() - t
        # the default method: region enumeration in low dimension, else the same MILP
        t = time.perf_counter()
        a = sup_distance(f, g, box, time_limit=limit)
        auto_seconds = time.perf_counter() - t
        # both exact: the same optimum; otherwise (the 10-D goal instance) the intervals must meet
        if a.exact and r.exact:
            assert abs(a.lower - r.lower) <= 1e-6 * max(1.0, r.lower)
        assert a.lower <= r.upper * (1 + 1e-6) and r.lower <= a.upper * (1 + 1e-6)
        o = omlt_sup_distance(f, g, np.full(d, -1.0), np.full(d, 1.0), limit)
        both = r.exact and o["optimal"]
        diff = abs(r.lower - o["value"]) if both else float("nan")
        ratio = o["seconds"] / ours
        rows.append({"d": d, "hidden": list(widths), "reluscope_seconds": ours, "reluscope_lower": r.lower,
                     "reluscope_upper": r.upper, "reluscope_exact": r.exact, "binaries": r.n_binaries,
                     "omlt_seconds": o["seconds"], "omlt_build_seconds": o["build_seconds"],
                     "omlt_value": o["value"], "omlt_optimal": o["optimal"], "ratio": ratio,
                     "abs_diff": diff, "agree_1e-6": bool(both and diff <= 1e-6 * max(1.0, abs(r.lower))),
                     "reluscope_auto_seconds": auto_seconds, "auto_method": a.method,
                     "auto_lower": a.lower, "auto_upper": a.upper, "auto_exact": a.exact,
                     "ratio_auto": o["seconds"] / auto_seconds})
        auto_text = f"  default ({a.method}) {auto_seconds:.3f} s, ratio {o['seconds'] / auto_seconds:.1f}"
        print(f"{d:>3} {'x'.join(map(str, widths)):>12} {ours:>12.2f} {o['seconds']:>9.2f} {ratio:>7.1f} "
              f"{r.lower:>14.9f} {diff:>9.1e} {r.exact}/{o['optimal']}{auto_text}", flush=True)
    name = "distance_goal.json" if args.goal else ("distance_quick.json" if args.quick else "distance.json")
    write_results(name, rows, quick=args.quick, time_limit=limit)


if __name__ == "__main__":
    main()
