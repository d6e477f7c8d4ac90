"""Why the 10-D goal instance of ``sup_distance`` is hard: the measured ingredients.

The instance: two random 10-32-32-1 networks (seeds 102/103, as ``distance.py --goal``) on
``[-1, 1]^10``. The script measures, in one run:

1. the primal side: the best of the 1024 box corners, of projected Adam ascent (PyTorch)
   from many random starts, and of ``sup_distance(method="sampled")``;
2. the root LP bound of both targets ``max ±(g - f)`` with second-layer pre-activation
   bounds from interval arithmetic, from LP tightening, and from one exact MILP per bound
   (``preactivation_bounds(method="milp")``);
3. the extremes of each network alone (one MILP each, on the exact second-layer bounds,
   ``--extreme-time`` seconds each) and the decoupled bound ``max g - min f`` they give,
   also as output-variable bounds in the root LP;
4. HiGHS on the MILP with all those bounds and a cutoff row at the best value found
   (infeasible means: the best value is the optimum), for ``--milp-time`` seconds.

Usage: ``.venv/bin/python benchmarks/distance_goal_probe.py [--quick] [--bound-time S] [--extreme-time S]
[--milp-time S]`` (``--quick``: 5 s for each of the three, about a minute in all)
(writes ``benchmarks/results/distance_goal_probe.json``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch

from reluscope import Box, ReLUNetwork, sup_distance
from reluscope.distance.relax import _relaxable_binaries  # the same relaxation as sup_distance
from reluscope.milp import MILPBuilder, encode_network, preactivation_bounds

D = 10
LO, HI = -np.ones(D), np.ones(D)


def ascent(f: ReLUNetwork, g: ReLUNetwork, sign: float, starts: int, steps: int, seed: int) -> tuple[float, int]:
    """Best value of ``sign (f - g)`` after projected Adam ascent from random starts, and how
    many starts end within 1e-3 of it."""
    def forward(net: ReLUNetwork, x: torch.Tensor) -> torch.Tensor:
        h = x
        for i, (w, b) in enumerate(zip(net.weights, net.biases)):
            h = h @ torch.from_numpy(np.array(w)).T + torch.from_numpy(np.array(b))
            if i < net.depth - 1:
                h = torch.relu(h)
        return h[:, 0]

    gen = torch.Generator().manual_seed(seed)
    x = (2 * torch.rand(starts, D, generator=gen, dtype=torch.float64) - 1).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        (-(sign * (forward(f, x) - forward(g, x))).sum()).backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(-1.0, 1.0)
    with torch.no_grad():
        val = sign * (forward(f, x) - forward(g, x))
    best = float(val.max())
    return best, int((val > best - 1e-3).sum())


def layer_bounds(net: ReLUNetwork, method: str, time_limit: float) -> tuple[list, int]:
    """Pre-activation bounds of every layer, and how many second-layer bounds are exact."""
    bounds = preactivation_bounds(net, Box(LO, HI), method="lp" if method == "milp" else method,
                                  time_limit=time_limit)
    if method == "milp":  # exact second layer only (the output layer's bounds are not needed)
        exact = preactivation_bounds(net, Box(LO, HI), method="milp", time_limit=time_limit, n_layers=2)
        bounds = exact + bounds[2:]
    n_exact = int(np.sum(bounds[1].exact_lower) + np.sum(bounds[1].exact_upper))
    return [(np.asarray(b.lower), np.asarray(b.upper)) for b in bounds], n_exact


def model(f: ReLUNetwork, g: ReLUNetwork, bf, bg):
    b = MILPBuilder()
    x = b.add_vars(D, LO, HI)
    ef, eg = encode_network(b, f, x, bf), encode_network(b, g, x, bg)
    return b, ef, eg


def extremes(net: ReLUNetwork, bounds, time_limit: float) -> dict:
    """Valid bounds on ``min net`` and ``max net`` over the box (HiGHS dual bounds), with the
    solver status of each."""
    b = MILPBuilder()
    x = b.add_vars(D, LO, HI)
    e = encode_network(b, net, x, bounds)
    out = {}
    for sense, sign in (("min", -1.0), ("max", 1.0)):
        r = b.solve({int(e.output[0]): 1.0}, sense=sense, time_limit=time_limit, mip_rel_gap=1e-6,
                    continuous=_relaxable_binaries(e, net, 0, sign))
        out[sense] = {"bound": r.bound, "incumbent": r.objective, "status": r.status, "seconds": r.seconds}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bound-time", type=float, default=3000.0, help="seconds for the exact bounds of each network")
    ap.add_argument("--extreme-time", type=float, default=600.0, help="seconds for each single-network MILP")
    ap.add_argument("--milp-time", type=float, default=900.0, help="seconds for the final cutoff MILP")
    ap.add_argument("--quick", action="store_true", help="5 s for the bounds, each extreme and the MILP")
    args = ap.parse_args()
    if args.quick:
        args.bound_time = args.extreme_time = args.milp_time = 5.0
    f = ReLUNetwork.random((D, 32, 32, 1), seed=102)
    g = ReLUNetwork.random((D, 32, 32, 1), seed=103)
    out: dict = {}

    corners = np.array(list(itertools.product([-1.0, 1.0], repeat=D)))
    diff = g(corners)[:, 0] - f(corners)[:, 0]
    out["corners_max_abs"] = float(np.abs(diff).max())
    out["ascent"] = {}
    for name, sign in (("g-f", -1.0), ("f-g", 1.0)):
        best, hits = ascent(f, g, sign, starts=20000, steps=300, seed=0)
        out["ascent"][name] = {"best": best, "starts": 20000, "within_1e-3": hits}
    sampled = sup_distance(f, g, Box(-1, 1), method="sampled", time_limit=60)
    out["sampled_lower"] = sampled.lower
    best = max(out["corners_max_abs"], sampled.lower, *(a["best"] for a in out["ascent"].values()))
    out["best_lower"] = best
    print(f"primal: corners {out['corners_max_abs']:.6f}, ascent {out['ascent']}, sampled {sampled.lower:.6f}", flush=True)

    out["root_lp"] = {}
    for method in ("interval", "lp", "milp"):
        t = time.perf_counter()
        (bf, nf), (bg, ng) = layer_bounds(f, method, args.bound_time), layer_bounds(g, method, args.bound_time)
        seconds = time.perf_counter() - t
        b, ef, eg = model(f, g, bf, bg)
        idx = np.array([int(eg.output[0]), int(ef.output[0])])
        roots = {name: b.solve((idx, coef), sense="max", relax=True).bound
                 for name, coef in (("g-f", np.array([1.0, -1.0])), ("f-g", np.array([-1.0, 1.0])))}
        width = float(np.mean([np.mean(hi - lo) for lo, hi in (bf[1], bg[1])]))
        out["root_lp"][method] = {"bound_seconds": seconds, "layer2_mean_width": width,
                                  "layer2_exact_bounds": nf + ng, "layer2_bounds": 4 * 32, **roots}
        print(f"{method:>8} bounds {seconds:8.1f} s ({nf + ng}/128 exact), layer-2 mean width {width:7.3f}, root LP g-f {roots['g-f']:.4f}, "
              f"f-g {roots['f-g']:.4f}", flush=True)

    # each network alone: max g - min f bounds max (g - f) without any coupling
    ext = {"f": extremes(f, bf, args.extreme_time), "g": extremes(g, bg, args.extreme_time)}
    out["extremes"] = ext
    decoupled = {"g-f": ext["g"]["max"]["bound"] - ext["f"]["min"]["bound"],
                 "f-g": ext["f"]["max"]["bound"] - ext["g"]["min"]["bound"]}
    out["decoupled_bound"] = decoupled
    print(f"single networks: {ext}", flush=True)
    print(f"decoupled bounds: max g - min f = {decoupled['g-f']:.4f}, max f - min g = {decoupled['f-g']:.4f}", flush=True)
    for name, e in ext.items():  # the extremes as bounds of the output variables
        bnd = bf if name == "f" else bg
        bnd[-1] = (np.array([e["min"]["bound"]]), np.array([e["max"]["bound"]]))
    b, ef, eg = model(f, g, bf, bg)
    idx = np.array([int(eg.output[0]), int(ef.output[0])])
    roots = {name: b.solve((idx, coef), sense="max", relax=True).bound
             for name, coef in (("g-f", np.array([1.0, -1.0])), ("f-g", np.array([-1.0, 1.0])))}
    out["root_lp"]["milp+extremes"] = roots
    print(f"root LP with the MILP layer-2 bounds and the extremes: g-f {roots['g-f']:.4f}, f-g {roots['f-g']:.4f}", flush=True)

    # the winning target with all those bounds, asked to beat the best value (cutoff row)
    coef = np.array([1.0, -1.0])
    cont = np.concatenate([_relaxable_binaries(eg, g, 0, 1.0), _relaxable_binaries(ef, f, 0, -1.0)])
    cut = best + 1e-4
    res = b.solve((idx, coef), sense="max", time_limit=args.milp_time, extra_rows=[(idx, coef, cut, np.inf)],
                  continuous=cont)
    out["cutoff_milp"] = {"cutoff": cut, "status": res.status, "seconds": res.seconds,
                          "time_limit": args.milp_time, "message": res.message}
    print(f"cutoff MILP (max g - f >= {cut:.6f}): {res.status} after {res.seconds:.1f} s", flush=True)
    name = "distance_goal_probe_quick.json" if args.quick else "distance_goal_probe.json"
    path = Path(__file__).parent / "results" / name
    path.write_text(json.dumps({"settings": vars(args), **out}, indent=2) + "\n")


if __name__ == "__main__":
    main()
