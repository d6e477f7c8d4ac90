"""Benchmark: merging two independently trained MLPs along the straight line between their
parameters, naive versus weight matching (Git Re-Basin) versus reluscope alignment.

For each shipped scikit-learn data set (digits: 64-128-128-10; wine, standardized:
13-64-64-3) pairs of MLPs are trained by ``sklearn.neural_network.MLPClassifier`` (ReLU, Adam,
the same data and hyper-parameters, different seeds). For each pair the second network is
mapped onto the first by

* ``naive``: nothing (plain parameter averaging);
* ``weight matching``: the permutation search of Ainsworth, Hayase and Srinivasa, "Git
  Re-Basin: Merging Models modulo Permutation Symmetries" (ICLR 2023), Algorithm 1, as
  implemented in ``benchmarks/equivalence.py`` (identity start, hidden layers in random order,
  ``scipy.optimize.linear_sum_assignment``, until a pass changes nothing): permutations only;
* ``reluscope``: ``reluscope.align`` (balancing, assignment, refinement): permutations **and**
  positive rescalings of hidden neurons;

and ``(1 - t) A + t B'`` is evaluated at ``t = 0, 0.1, ..., 1`` on the held-out split (never
used in training). Reported per data set and method (means over the pairs): held-out accuracy
at the midpoint, the worst accuracy along the path, the loss barrier
``max_t [L(t) - ((1 - t) L(0) + t L(1))]`` of the held-out cross-entropy ``L``, and the
seconds spent finding the alignment (one BLAS thread, ``threadpoolctl``), measured in one
run.

Usage::

    .venv/bin/python benchmarks/merging.py             # 3 pairs per data set
    .venv/bin/python benchmarks/merging.py --pairs 1   # quick

Prints a table and writes ``benchmarks/results/merging.json``
(``merging_pairs1.json`` etc. for other pair counts).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

import reluscope as rs
from reluscope.symmetry import permute

sys.path.insert(0, str(Path(__file__).resolve().parent))
from equivalence import weight_matching  # noqa: E402  (the one Git Re-Basin implementation)

TS = np.linspace(0.0, 1.0, 11)
DATASETS = {
    "digits": (load_digits, (128, 128)),
    "wine": (load_wine, (64, 64)),
}


def data(name: str):
    loader, hidden = DATASETS[name]
    X, y = loader(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X.astype(np.float64), y, test_size=0.3, random_state=0, stratify=y)
    mu, sd = Xtr.mean(0), Xtr.std(0)
    sd[sd == 0] = 1.0  # digits has constant pixels
    return (Xtr - mu) / sd, ytr, (Xte - mu) / sd, yte, hidden


def train(Xtr, ytr, hidden, seed: int) -> rs.ReLUNetwork:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m = MLPClassifier(hidden, activation="relu", max_iter=400, random_state=seed).fit(Xtr, ytr)
    return rs.ReLUNetwork([c.T for c in m.coefs_], list(m.intercepts_))


def loss_acc(net: rs.ReLUNetwork, X, y) -> tuple[float, float]:
    z = net(X)
    z = z - z.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean()), float(np.mean(z.argmax(1) == y))


def wm_aligned(a: rs.ReLUNetwork, b: rs.ReLUNetwork) -> rs.ReLUNetwork:
    perms, _ = weight_matching(a, b)
    for h, p in enumerate(perms, start=1):
        b = permute(b, h, p)
    return b


def path(a, b2, Xte, yte) -> dict:
    ls, accs = zip(*(loss_acc(rs.interpolate(a, b2, t, align=False), Xte, yte) for t in TS))
    ls, accs = np.array(ls), np.array(accs)
    barrier = float(np.max(ls - ((1 - TS) * ls[0] + TS * ls[-1])))
    return {"loss": ls.tolist(), "accuracy": accs.tolist(), "barrier": barrier,
            "mid_accuracy": float(accs[5]), "min_accuracy": float(accs.min()),
            "mid_loss": float(ls[5])}


def run_pair(name: str, k: int) -> dict:
    Xtr, ytr, Xte, yte, hidden = data(name)
    a = train(Xtr, ytr, hidden, 2 * k)
    b = train(Xtr, ytr, hidden, 2 * k + 1)
    out = {"dataset": name, "pair": k, "widths": list(a.widths)}
    with threadpool_limits(1):
        t0 = time.perf_counter()
        b_wm = wm_aligned(a, b)
        t_wm = time.perf_counter() - t0
        t0 = time.perf_counter()
        b_rs = rs.align(a, b).aligned
        t_rs = time.perf_counter() - t0
    for method, b2, secs in (("naive", b, 0.0), ("weight matching", b_wm, t_wm), ("reluscope", b_rs, t_rs)):
        assert np.allclose(b2(Xte), b(Xte), atol=1e-8)  # the same function as b
        r = path(a, b2, Xte, yte)
        r["seconds"] = secs
        r["distance"] = float(np.linalg.norm(a.to_vector() - b2.to_vector()))
        out[method] = r
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=3, help="independent pairs of MLPs per data set")
    args = ap.parse_args()
    rows = [run_pair(name, k) for name in DATASETS for k in range(args.pairs)]
    methods = ("naive", "weight matching", "reluscope")
    summary = []
    header = (f"{'data':7} {'method':16} {'distance':>9} {'mid acc':>8} {'min acc':>8} {'endpoints':>10} "
              f"{'barrier':>8} {'seconds':>8}")
    print(header)
    print("-" * len(header))
    for name in DATASETS:
        rs_ = [r for r in rows if r["dataset"] == name]
        ends = np.mean([(r["naive"]["accuracy"][0] + r["naive"]["accuracy"][-1]) / 2 for r in rs_])
        for m in methods:
            s = {
                "dataset": name, "method": m, "pairs": len(rs_),
                "distance": float(np.mean([r[m]["distance"] for r in rs_])),
                "mid_accuracy": float(np.mean([r[m]["mid_accuracy"] for r in rs_])),
                "min_accuracy": float(np.mean([r[m]["min_accuracy"] for r in rs_])),
                "endpoint_accuracy": float(ends),
                "barrier": float(np.mean([r[m]["barrier"] for r in rs_])),
                "seconds": float(np.mean([r[m]["seconds"] for r in rs_])),
            }
            summary.append(s)
            print(f"{name:7} {m:16} {s['distance']:9.2f} {s['mid_accuracy']:8.3f} {s['min_accuracy']:8.3f} "
                  f"{ends:10.3f} {s['barrier']:8.3f} {s['seconds']:8.4f}")
    for name in DATASETS:
        wm = next(s for s in summary if s["dataset"] == name and s["method"] == "weight matching")
        ours = next(s for s in summary if s["dataset"] == name and s["method"] == "reluscope")
        print(f"{name}: time ratio weight matching / reluscope = {wm['seconds'] / ours['seconds']:.1f}; "
              f"barrier reluscope {ours['barrier']:.3f} vs weight matching {wm['barrier']:.3f}")
    result = {
        "command": " ".join(["benchmarks/merging.py", *sys.argv[1:]]),
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "ts": TS.tolist(),
        "summary": summary,
        "runs": rows,
    }
    out = Path(__file__).parent / "results" / ("merging.json" if args.pairs == 3 else f"merging_pairs{args.pairs}.json")
    out.write_text(json.dumps(result, indent=1))
    print(f"written {out}")


if __name__ == "__main__":
    main()
