"""auto_LiRPA bounds for the benchmark: runs ``lirpa_child.py`` in the peers' environment.

Methods: ``CROWN`` (backward linear relaxation, adaptive lower slopes) and
``CROWN-Optimized`` (alpha-CROWN: lower slopes of every ReLU optimized by gradient steps,
auto_LiRPA's default settings).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from ._common import PEER_PYTHON, WORK, require, run, tail

CHILD = Path(__file__).resolve().parent / "lirpa_child.py"
METHODS = ("CROWN", "CROWN-Optimized")


def output_bounds(weights, biases, lo: np.ndarray, hi: np.ndarray, methods=METHODS,
                  timeout: float = 1800.0) -> dict:
    """``{method: {"lower": (B, m), "upper": (B, m), "seconds": s}, "convert_seconds": s}``."""
    require(PEER_PYTHON, "the peers' Python")
    WORK.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        job = Path(tmp) / "job.npz"
        out = Path(tmp) / "out.json"
        arrays = {"lo": np.atleast_2d(lo), "hi": np.atleast_2d(hi)}
        for k, (W, b) in enumerate(zip(weights, biases)):
            arrays[f"W{k}"], arrays[f"b{k}"] = np.asarray(W), np.asarray(b)
        np.savez(job, **arrays)
        done = run([str(PEER_PYTHON), str(CHILD), str(job), str(out), *methods], wall_limit=timeout)
        if done.killed or not out.exists():
            raise RuntimeError(f"auto_LiRPA failed ({'timeout' if done.killed else done.returncode}): "
                               f"{tail(done.stderr, 600)}")
        result = json.loads(out.read_text())
    for m in methods:
        result[m]["lower"] = np.array(result[m]["lower"])
        result[m]["upper"] = np.array(result[m]["upper"])
    result["wall_seconds"] = done.seconds
    return result
