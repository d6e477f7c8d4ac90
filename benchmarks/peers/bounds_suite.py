"""Suite (d) of benchmarks/verification.py: reluscope's linear tier vs CROWN and its
optimized slopes vs alpha-CROWN (auto_LiRPA), same networks, same boxes.

Networks and boxes: ACAS Xu networks on the input boxes of the VNN-COMP properties 1-4,
the mnistfc networks on the input boxes of their VNN-COMP properties (eps 0.03 and 0.05),
and the 784-300-100-10 digits network of benchmarks/bounds.py on L-inf boxes of radius
0.02 around held-out images. Measured per box: the width ``upper - lower`` of every output
bound; compared per box as the mean output width, ours / theirs (< 1: ours tighter), and
whether ours is at least as tight on every output (1e-6 relative slack for float32 vs
float64). Times: ours one box at a time (``layer_bounds``) or all boxes in one batched call
(the search's bounders, ``alpha_crown_bounds``), auto_LiRPA all boxes of a network in one
batched call (its conversion timed apart); wall seconds, one torch thread each.
"""

from __future__ import annotations

import re
import statistics
import time
from pathlib import Path

import numpy as np

from . import lirpa
from .consensus import VNNCOMP


_BOUND = re.compile(r"\(\s*assert\s*\(\s*(<=|>=)\s+X_(\d+)\s+([-+0-9.eE]+)\s*\)\s*\)")


def _vnnlib_boxes(paths) -> list[tuple[np.ndarray, np.ndarray]]:
    """The input box of each VNN-LIB file (its top-level ``X_i`` bound assertions; the
    files used here have a single box each)."""
    boxes = []
    for p in paths:
        lo, hi = {}, {}
        for op, i, v in _BOUND.findall(Path(p).read_text()):
            (hi if op == "<=" else lo)[int(i)] = float(v)
        n = max(lo) + 1
        boxes.append((np.array([lo[i] for i in range(n)]), np.array([hi[i] for i in range(n)])))
    return boxes


def _digits_case(n_boxes: int, quick: bool):
    import importlib.util
    import sys

    from reluscope import Box
    path = Path(__file__).resolve().parents[1] / "bounds.py"
    spec = importlib.util.spec_from_file_location("_bench_bounds", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    net, images = mod.digits_784(max_iter=5 if quick else 30)
    boxes = []
    for x in images[:n_boxes]:
        b = Box(np.clip(x - 0.02, 0, 1), np.clip(x + 0.02, 0, 1))
        boxes.append((np.asarray(b.lo, dtype=np.float64), np.asarray(b.hi, dtype=np.float64)))
    return "digits 784-300-100-10 (benchmarks/bounds.py), r=0.02", net, boxes


def cases(quick: bool):
    """``[(label, net, boxes)]``."""
    import reluscope
    acas = VNNCOMP / "acasxu"
    mnist = VNNCOMP / "mnistfc"
    nets = ["1_1", "2_5", "3_3", "4_5", "5_9"] if not quick else ["1_1"]
    from ._common import plain_vnnlib
    out = []
    for n in nets:
        net = reluscope.load(str(acas / f"ACASXU_run2a_{n}_batch_2000.onnx"))
        props = (1, 2, 3, 4) if not quick else (1, 3)
        out.append((f"ACAS Xu {n} on props {'/'.join(map(str, props))}", net,
                    _vnnlib_boxes([plain_vnnlib(acas / f"prop_{p}.vnnlib") for p in props])))
    per_eps = 5 if not quick else 2
    for width in ((2, 4, 6) if not quick else (2,)):
        net = reluscope.load(str(mnist / f"mnist-net_256x{width}.onnx"))
        specs = [plain_vnnlib(mnist / f"prop_{i}_{eps}.vnnlib") for eps in ("0.03", "0.05") for i in range(per_eps)]
        out.append((f"mnistfc 784-256x{width}-10, props 0-{per_eps - 1} eps 0.03/0.05", net, _vnnlib_boxes(specs)))
    out.append(_digits_case(20 if not quick else 3, quick))
    return out


def _ours(net, boxes, alpha: str):
    from reluscope import Box
    from reluscope.bounds import layer_bounds
    lows, ups, secs = [], [], []
    for lo, hi in boxes:
        t0 = time.perf_counter()
        lb, ub = layer_bounds(net, Box(lo, hi, allow_flat=True), method="linear", alpha=alpha).output
        secs.append(time.perf_counter() - t0)
        lows.append(lb)
        ups.append(ub)
    return np.array(lows), np.array(ups), secs


def _search_root(net, boxes, alpha_steps: int):
    """The branch and bound's batched root bound (``reluscope.search.network.NetworkBounder``,
    all boxes in one call) on ``phi = [f; -f]``: output bounds ``(lower, upper)``, seconds."""
    from reluscope.search.network import NetworkBounder
    m = net.output_dim
    bounder = NetworkBounder(net, np.vstack([np.eye(m), -np.eye(m)]), np.zeros(2 * m), alpha_steps=alpha_steps)
    bounder.leaf_below = -np.inf  # bounds of each row only: no leaf LPs of the rows' maximum
    lo = np.array([b[0] for b in boxes])
    hi = np.array([b[1] for b in boxes])
    t0 = time.perf_counter()
    lower = np.asarray(bounder.bound(lo, hi).lower)
    return lower[:, :m], -lower[:, m:], time.perf_counter() - t0


def _alpha_crown(net, boxes, steps: int = 20):
    """alpha-CROWN with optimized intermediate bounds (``reluscope.search.crown.alpha_crown_bounds``,
    all boxes in one call) on ``phi = [f; -f]``: output bounds ``(lower, upper)``, seconds."""
    import torch

    from reluscope.search.crown import TorchNet, alpha_crown_bounds
    from reluscope.search.threads import torch_threads
    m = net.output_dim
    tnet = TorchNet(list(net.weights), list(net.biases), np.vstack([np.eye(m), -np.eye(m)]), np.zeros(2 * m))
    lo = torch.tensor(np.array([b[0] for b in boxes]))
    hi = torch.tensor(np.array([b[1] for b in boxes]))
    t0 = time.perf_counter()
    with torch_threads(1):
        _, _, bound = alpha_crown_bounds(tnet, lo, hi, steps=steps)
    lower = bound.lower.numpy()
    return lower[:, :m], -lower[:, m:], time.perf_counter() - t0


def compare(label, net, boxes) -> dict:
    lo = np.array([b[0] for b in boxes])
    hi = np.array([b[1] for b in boxes])
    theirs = lirpa.output_bounds(list(net.weights), list(net.biases), lo, hi)
    row = {"case": label, "n_boxes": len(boxes), "widths": list(net.widths),
           "lirpa_convert_seconds": theirs["convert_seconds"]}
    runs = [("linear alpha=adaptive", "CROWN", lambda: _ours(net, boxes, "adaptive")),
            ("linear alpha=optimized", "CROWN-Optimized", lambda: _ours(net, boxes, "optimized"))]
    try:
        import reluscope.search.network  # noqa: F401 - the search's bounder, when present
        runs += [("search root bound (CROWN, batched)", "CROWN", lambda: _search_root(net, boxes, 0)),
                 ("search root bound (alpha, 20 steps, batched)", "CROWN-Optimized",
                  lambda: _search_root(net, boxes, 20))]
    except ImportError:
        pass
    try:
        from reluscope.search.crown import alpha_crown_bounds  # noqa: F401 - optimized intermediate bounds
        runs.append(("alpha_crown_bounds (intermediate layers optimized too, 20 steps, batched)", "CROWN-Optimized",
                     lambda: _alpha_crown(net, boxes)))
    except ImportError:
        pass
    for ours_name, method, fn in runs:
        ol, ou, secs = fn()
        secs = secs if isinstance(secs, list) else [secs]
        tl, tu = theirs[method]["lower"], theirs[method]["upper"]
        ow, tw = ou - ol, tu - tl
        slack = 1e-6 * np.maximum(1.0, np.abs(np.concatenate([tl, tu], axis=1))).max(axis=1, keepdims=True)
        as_tight = np.all(ow <= tw + 2 * slack, axis=1)
        ratios = ow.mean(axis=1) / np.maximum(tw.mean(axis=1), 1e-300)
        # soundness cross-check: both are outer bounds, so they must overlap
        overlap = bool(np.all(np.maximum(ol, tl) <= np.minimum(ou, tu) + 2 * slack))
        row.setdefault("vs", []).append({"ours": ours_name, "theirs": method,
                       "median_width_ratio": float(statistics.median(ratios)),
                       "max_width_ratio": float(ratios.max()), "min_width_ratio": float(ratios.min()),
                       "boxes_ours_as_tight": int(as_tight.sum()),
                       "ours_mean_width": float(ow.mean()), "theirs_mean_width": float(tw.mean()),
                       "ours_seconds_total": float(sum(secs)), "theirs_seconds_total": float(theirs[method]["seconds"]),
                       "bounds_overlap": overlap})
    return row


def run(quick: bool, log=print) -> list[dict]:
    rows = []
    for label, net, boxes in cases(quick):
        row = compare(label, net, boxes)
        for r in row["vs"]:
            log(f"  {label}: {r['ours']} vs {r['theirs']}: width ours/theirs median {r['median_width_ratio']:.4f} "
                f"(max {r['max_width_ratio']:.4f}), ours as tight on {r['boxes_ours_as_tight']}/{row['n_boxes']} boxes; "
                f"time ours {r['ours_seconds_total']:.2f}s theirs {r['theirs_seconds_total']:.2f}s")
        rows.append(row)
    return rows
