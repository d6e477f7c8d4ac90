"""ReLU-split branching rules on one mnistfc instance: the lowest bound reached in a fixed wall
time, CPU seconds, subdomains (BENCHMARKS.md, verification, mnistfc session 6).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/branching_mnistfc.py NET.onnx PROP.vnnlib.gz SECONDS RULES
    RULES: comma-separated fsb<k>[:steps][-r] or babsr[-r] (-r: no per-subdomain refinement)
    e.g. mnist-net_256x2.onnx prop_3_0.03.vnnlib.gz 60 fsb3,fsb3-r,babsr-r

The root bounds are reluscope.search.relu_split.relu_root_bounds (shared by every rule);
the 9 polytopes not proved at the root are searched in one frontier, as verify does."""
import sys, time, json
import numpy as np, torch
import reluscope
from reluscope.io import load_vnnlib
from reluscope._budget import Budget
from reluscope.search.core import branch_and_bound
from reluscope.search.crown import TorchNet, optimize_objective_bound
from reluscope.search.relu_split import ReluSplitProblem, relu_root_bounds
from pathlib import Path
B = str(Path(__file__).resolve().parent / "vnncomp2021" / "mnistfc") + "/"
torch.set_num_threads(1)
net = reluscope.load(B + sys.argv[1]); spec = load_vnnlib(B + sys.argv[2]); T = float(sys.argv[3])
rules = sys.argv[4].split(",")
case = spec.cases[0]; lo, hi = case.box.bounds(net.input_dim)
A = np.vstack([p.A for p in case.unsafe]); d = np.concatenate([-p.b for p in case.unsafe])
tnet = TorchNet(list(net.weights), list(net.biases), A, d)
root = relu_root_bounds(net, tnet, lo, hi)
lb = optimize_objective_bound(tnet, torch.from_numpy(lo)[None], torch.from_numpy(hi)[None], [l[None] for l in root[0]], [u[None] for u in root[1]], steps=20).lower[0].numpy()
open_ = [i for i in range(len(case.unsafe)) if lb[i] <= 0]
print("root row bounds", np.round(lb, 3), "open", open_, flush=True)
polys = [case.unsafe[i] for i in open_]
A = np.vstack([p.A for p in polys]); d = np.concatenate([-p.b for p in polys]); g = np.arange(len(polys))
for rule in rules:
    kw = {}
    if rule.endswith("-r"):
        rule = rule[:-2]; kw["refine"] = False
    if ":" in rule:
        rule, st = rule.split(":"); kw["steps"] = int(st)
    if rule.startswith("fsb"):
        kw.update(branching="fsb", fsb_candidates=int(rule[3:] or 3))
    else:
        kw.update(branching="babsr")
    bud = Budget(T)
    prob = ReluSplitProblem(net, A, d, lo, hi, root_bounds=root, budget=bud, groups=g, **kw)
    c0 = time.process_time(); w0 = time.monotonic(); trace = []
    out = branch_and_bound(prob, budget=bud, rng=np.random.default_rng(0), target=0.0,
                           on_progress=lambda l, u: trace.append((time.process_time() - c0, l)))
    cpu = time.process_time() - c0
    marks = {}
    for t in (5, 10, 20, 40, 80, 160):
        v = [l for c, l in trace if c <= t]
        if v and t <= cpu: marks[t] = round(v[-1], 4)
    print(json.dumps({"rule": rule, "status": out.status, "lower": round(out.lower, 5), "domains": out.domains,
                      "iters": out.iterations, "cpu": round(cpu, 1), "wall": round(time.monotonic() - w0, 1),
                      "lower_at_cpu": marks, "load1": round(__import__("os").getloadavg()[0], 2)}), flush=True)
