"""Deadline cases of the sparsity side, for ``benchmarks/deadlines.py``.

``CASES``: ``(name, size_label, fn)``; ``fn(time_limit)`` runs one long call with that
time limit and returns a one-line outcome. Sizes: random three-factor patterns with
square factors of 13, 16 and 24 units (density 0.5, the sizes of issue 15); the two-factor
sweep on 8x8x8, 12x12x12 and 16x16x16 (one pattern per call, so the wall time is the time
per pattern); and masks of MLPs magnitude-pruned 90 % per layer (30-16-16-2, 64-128-64-10,
784-300-100-10) for ``check-pattern`` (the command in-process, model file written
beforehand), ``optimum_exists`` and ``repair``.
"""

from __future__ import annotations

import contextlib
import functools
import io
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from reluscope import ReLUNetwork, save
from reluscope.sparsity import SparsityPattern, is_closed, optimum_exists, repair, sweep
from reluscope.sparsity.sweep import random_pattern

_DEEP = {"13": (13, 13, 13, 13), "16": (16, 16, 16, 16), "24": (24, 24, 24, 24)}
_SWEEP = {"8x8x8": "8x8x8", "12x12x12": "12x12x12", "16x16x16": "16x16x16"}
_MLP = {"30-16-16-2": (30, 16, 16, 2), "64-128-64-10": (64, 128, 64, 10), "784-300-100-10": (784, 300, 100, 10)}
_TMP = Path(tempfile.mkdtemp(prefix="reluscope-deadlines-"))


@functools.lru_cache(maxsize=None)
def deep_pattern(size: str) -> SparsityPattern:
    return random_pattern(_DEEP[size], 0.5, 20261204, 0)


@functools.lru_cache(maxsize=None)
def pruned_mlp(size: str) -> ReLUNetwork:
    """Gaussian weights (1/sqrt(fan_in)), 90 % of each layer's smallest weights masked."""
    widths = _MLP[size]
    rng = np.random.default_rng(7)
    weights, masks = [], []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        w = rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)
        m = np.abs(w) > np.quantile(np.abs(w), 0.9)
        weights.append(w * m)
        masks.append(m)
    return ReLUNetwork(weights, [np.zeros(n) for n in widths[1:]], masks=masks)


@functools.lru_cache(maxsize=None)
def model_file(size: str) -> Path:
    path = _TMP / f"mlp-{size}.npz"
    save(pruned_mlp(size), path)
    return path


def _verdict(v) -> str:
    return f"closed={v.closed} ({v.method}, {v.seconds:.2f} s)"


def _is_closed(size: str) -> Callable[[float], str]:
    return lambda T: _verdict(is_closed(deep_pattern(size), time_limit=T))


def _sweep(size: str) -> Callable[[float], str]:
    def run(T: float) -> str:
        r = sweep(_SWEEP[size], 0.5, samples=1, seed=3, time_limit=T, workers=1, quiet=True)
        return f"closed {r.n_closed}, not closed {r.n_not_closed}, undecided {r.n_undecided}"
    return run


def _check_pattern(size: str) -> Callable[[float], str]:
    def run(T: float) -> str:
        from reluscope.cli import main

        path = model_file(size)
        out, err = io.StringIO(), io.StringIO()
        argv = sys.argv
        sys.argv = ["reluscope", "check-pattern", str(path), "--time-limit", repr(T)]
        code = 0
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            sys.argv = argv
        text = " ".join(out.getvalue().split())
        return f"exit {code}: " + (text[text.find("L_I is"):][:60] if "L_I is" in text else err.getvalue()[:60])
    return run


def _optimum_exists(size: str) -> Callable[[float], str]:
    def run(T: float) -> str:
        v = optimum_exists(SparsityPattern.from_network(pruned_mlp(size)), time_limit=T, verify_time_limit=T)
        return f"{v.status}"
    return run


def _repair(size: str) -> Callable[[float], str]:
    def run(T: float) -> str:
        r = repair(SparsityPattern.from_network(pruned_mlp(size)), time_limit=T)
        return f"cost {r.cost}, closed after: {r.verdict.closed}"
    return run


CASES: list[tuple[str, str, Callable[[float], str]]] = [
    *[("is_closed (3 factors)", "x".join(map(str, _DEEP[s])), _is_closed(s)) for s in _DEEP],
    *[("sweep (1 pattern)", s, _sweep(s)) for s in _SWEEP],
    *[("check-pattern (CLI)", s, _check_pattern(s)) for s in _MLP],
    *[("optimum_exists", s, _optimum_exists(s)) for s in _MLP],
    *[("repair", s, _repair(s)) for s in _MLP],
]
