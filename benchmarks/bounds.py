"""Benchmark: the bound engine (``reluscope.bounds``) against interval arithmetic and the LP
tightening of ``reluscope.milp``, and what it gives the distance questions, in one run.

Parts (each a table; all written to ``benchmarks/results/bounds.json``):

1. **neuron ranges**: mean width of the hidden neurons' pre-activation ranges and the number
   of unstable neurons, with the time, for interval arithmetic, the engine's linear tier and
   the LP tightening (``preactivation_bounds(method="lp")``), on a random 10-32-32-1, a
   trained 10-32-32-1 and a 784-300-100-10 MLP trained on scikit-learn's digits upsampled to
   28x28 (all made in code, seeded).
2. **Lipschitz**: the 784-300-100-10 network on ``[0, 1]^784`` and on the union of L-inf boxes
   of radius 0.02 around 100 test images: upper/lower of ``lipschitz_constant`` at a time
   limit, against the product-of-layer-norms bound (``prod_l ||A_l||_{1->inf}`` for the
   norm the library uses: the largest absolute Jacobian entry).
3. **pruned copies**: sup distance between the trained 10-32-32-1 MLP and itself
   magnitude-pruned 10 %, 30 %, 50 % on ``[-1, 1]^10`` (goal: exact within 60 s), the 10-D
   2x32 random pair (seeds 102/103, goal: exact within 60 s), and the 784 network against
   itself pruned 10 % more over the 100 boxes: upper/lower of the sup distance,
   epsilon-equivalence (epsilon = 2 x the sampled lower bound) and top-1 agreement decided
   per box (goal: upper/lower <= 1.1, >= 90 % of boxes decided, 120 s in total).

Usage: ``.venv/bin/python benchmarks/bounds.py [--quick] [--time-limit S]``.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np

from reluscope import Box, PointSet, ReLUNetwork
from reluscope._results import dump_json
from reluscope.bounds import layer_bounds
from reluscope.distance import epsilon_equivalent, lipschitz_constant, sup_distance, top1_agreement
from reluscope.milp import preactivation_bounds


def trained_small(seed: int = 0) -> ReLUNetwork:
    """A 10-32-32-1 MLP fitted to a smooth function of 10 inputs (scikit-learn)."""
    from sklearn.neural_network import MLPRegressor

    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (2000, 10))
    y = np.sin(X @ rng.normal(size=10)) + 0.1 * X[:, 0] ** 2
    m = MLPRegressor(hidden_layer_sizes=(32, 32), max_iter=500, random_state=seed).fit(X, y)
    return ReLUNetwork([c.T for c in m.coefs_], m.intercepts_)


def digits_784(seed: int = 0, max_iter: int = 30) -> tuple[ReLUNetwork, np.ndarray]:
    """A 784-300-100-10 MLP trained on digits upsampled to 28x28 in [0, 1]; returns the
    network and 100 held-out images."""
    from scipy.ndimage import zoom
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X = np.stack([zoom(x.reshape(8, 8) / 16.0, 3.5, order=1) for x in X]).reshape(len(X), -1)
    X = np.clip(X, 0.0, 1.0)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(X))
    train, test = order[:-100], order[-100:]
    m = MLPClassifier(hidden_layer_sizes=(300, 100), max_iter=max_iter, random_state=seed)
    m.fit(X[train], y[train])
    return ReLUNetwork([c.T for c in m.coefs_], m.intercepts_), X[test]


def prune(net: ReLUNetwork, fraction: float) -> ReLUNetwork:
    """Global magnitude pruning of ``fraction`` of the weights (biases kept)."""
    allw = np.concatenate([np.abs(W).ravel() for W in net.weights])
    thr = np.quantile(allw, fraction)
    return ReLUNetwork([W * (np.abs(W) > thr) for W in net.weights], net.biases)


def ranges_row(name: str, net: ReLUNetwork, box: Box, lp: bool) -> dict:
    row = {"network": name}
    for tier in ("interval", "linear"):
        t0 = time.perf_counter()
        b = layer_bounds(net, box, method=tier)
        row[f"{tier}_s"] = time.perf_counter() - t0
        row[f"{tier}_width"] = float(np.mean(np.concatenate([h - l for l, h in zip(b.lower[:-1], b.upper[:-1])])))
        row[f"{tier}_unstable"] = b.n_unstable()
    if lp:
        t0 = time.perf_counter()
        lb = preactivation_bounds(net, box, method="lp", time_limit=120)
        row["lp_s"] = time.perf_counter() - t0
        row["lp_width"] = float(np.mean(np.concatenate([b.upper - b.lower for b in lb[:-1]])))
        row["lp_unstable"] = int(sum(((b.lower < 0) & (b.upper > 0)).sum() for b in lb[:-1]))
    return row


def norm_product(net: ReLUNetwork) -> float:
    """The product-of-layer-norms Lipschitz bound for the ``l1 -> l_inf`` operator norm (the
    largest absolute Jacobian entry): ``||A_L||_{inf->inf} ... ||A_2||_{inf->inf} ||A_1||_{1->inf}``,
    since ``||XY||_{1->inf} <= ||X||_{inf->inf} ||Y||_{1->inf}`` and ``||D||_{inf->inf} <= 1``."""
    out = float(np.abs(net.weights[0]).max())
    for W in net.weights[1:]:
        out *= float(np.abs(W).sum(axis=1).max())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, short limits")
    ap.add_argument("--time-limit", type=float, default=60.0, help="seconds per distance call (goal: 60)")
    args = ap.parse_args()
    T = 10.0 if args.quick else args.time_limit
    results: dict = {"machine": {"python": platform.python_version(), "cpus": 2}, "time_limit": T}

    print("== 1. neuron ranges: mean width of hidden pre-activation ranges (unstable neurons), seconds")
    small_random = ReLUNetwork.random((10, 32, 32, 1), seed=102)
    small = trained_small()
    big, images = digits_784(max_iter=5 if args.quick else 30)
    rows = [ranges_row("random 10-32-32-1", small_random, Box(-1, 1), True),
            ranges_row("trained 10-32-32-1", small, Box(-1, 1), True),
            ranges_row("digits 784-300-100-10 on [0,1]^784", big, Box(0, 1), not args.quick)]
    for r in rows:
        lp = (f"{r['lp_width']:9.3f} ({r['lp_unstable']:4d}) {r['lp_s']:7.2f}s" if "lp_width" in r else "      (skipped)")
        print(f"{r['network']:38s} interval {r['interval_width']:9.3f} ({r['interval_unstable']:4d}) {r['interval_s']:6.3f}s"
              f" | linear {r['linear_width']:9.3f} ({r['linear_unstable']:4d}) {r['linear_s']:6.3f}s | LP {lp}")
    results["ranges"] = rows

    print("== 2. Lipschitz constant of the digits network (upper / lower)")
    boxes = PointSet(images).neighbourhood(0.02, within=Box(0, 1))
    lip = []
    for name, dom in (("[0,1]^784", Box(0, 1)), ("100 boxes r=0.02", boxes)):
        t0 = time.perf_counter()
        r = lipschitz_constant(big, dom, time_limit=T)
        lip.append({"domain": name, "lower": r.lower, "upper": r.upper, "ratio": r.upper / r.lower,
                    "seconds": time.perf_counter() - t0, "status": r.status,
                    "norm_product": norm_product(big)})
        print(f"{name:18s} [{r.lower:.4g}, {r.upper:.4g}] ratio {r.upper / r.lower:8.3g} in {lip[-1]['seconds']:.1f}s"
              f" ({r.status}); product of layer norms {lip[-1]['norm_product']:.4g}")
    results["lipschitz"] = lip

    print("== 3. pruned copies")
    rows = []
    pairs = [(f"trained 10-32-32-1 vs pruned {int(100 * p)}%", small, prune(small, p), Box(-1, 1)) for p in (0.1, 0.3, 0.5)]
    pairs.append(("random 2x32 pair (102/103)", small_random, ReLUNetwork.random((10, 32, 32, 1), seed=103), Box(-1, 1)))
    for name, f, g, dom in pairs:
        t0 = time.perf_counter()
        r = sup_distance(f, g, dom, time_limit=T)
        rows.append({"pair": name, "lower": r.lower, "upper": r.upper, "exact": r.exact,
                     "seconds": time.perf_counter() - t0, "status": r.status})
        print(f"{name:40s} [{r.lower:.6g}, {r.upper:.6g}] exact={r.exact} {rows[-1]['seconds']:.1f}s")
    g_big = prune(big, 0.1)
    t0 = time.perf_counter()
    # the goal's 120 s in total (T = 60): half for the distance, a quarter for each verdict
    r = sup_distance(big, g_big, boxes, time_limit=T)
    ratio = r.upper / r.lower if r.lower > 0 else float("inf")
    eq = epsilon_equivalent(big, g_big, boxes, 2 * r.lower, time_limit=0.5 * T)
    top = top1_agreement(big, g_big, boxes, time_limit=0.5 * T)
    total = time.perf_counter() - t0
    decided = {v.question: 1 - v.counts["undecided"] / len(boxes) for v in (eq, top)}
    rows.append({"pair": "digits 784 vs pruned 10% more, 100 boxes r=0.02", "lower": r.lower, "upper": r.upper,
                 "ratio": ratio, "epsilon": 2 * r.lower, "epsilon_counts": eq.counts, "top1_counts": top.counts,
                 "decided_fraction": decided, "seconds": total})
    print(f"digits 784 vs pruned, 100 boxes: sup in [{r.lower:.4g}, {r.upper:.4g}] ratio {ratio:.3g}; "
          f"eps-equivalence {eq.counts}; top-1 {top.counts}; {total:.1f}s in total")
    results["pruned"] = rows
    out = Path(__file__).parent / "results" / ("bounds_quick.json" if args.quick else "bounds.json")
    dump_json(results, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
