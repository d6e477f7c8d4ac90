"""Deadline cases of the analysis side, for ``benchmarks/deadlines.py``.

``CASES``: ``(name, size_label, fn)``; ``fn(time_limit)`` runs one long call with that
time limit and returns a one-line outcome. Three sizes each (``small`` 10-32-32-1,
``medium`` 64-128-64-10, ``large`` the bundled 784-300-100-10 ``digits28_mlp``), the second
network of a pair being the first with 30 % of its nonzero weights per layer
magnitude-pruned. ``analyze`` runs with ``total_time_limit=T`` (the whole run's budget). Region enumeration
uses low input dimensions (2-64-64-1, 3-32-32-1, 4-32-32-1): beyond that it is not meant to
be run. Networks are built once and cached, so a case's time is the call's.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable

import numpy as np

from reluscope import Box, PointSet, ReLUNetwork

SIZES = ("small", "medium", "large")
_WIDTHS = {"small": (10, 32, 32, 1), "medium": (64, 128, 64, 10)}
_REGION_WIDTHS = {"small": (2, 64, 64, 1), "medium": (3, 32, 32, 1), "large": (4, 32, 32, 1)}


@functools.lru_cache(maxsize=None)
def network(size: str) -> ReLUNetwork:
    if size == "large":
        from reluscope.io.examples import load_example

        return load_example("digits28_mlp")
    return ReLUNetwork.random(_WIDTHS[size], seed=1)


@functools.lru_cache(maxsize=None)
def pruned(size: str, fraction: float = 0.3) -> ReLUNetwork:
    net = network(size)
    ws = []
    for W in net.weights:
        nonzero = np.abs(W[W != 0])  # the bundled example is already sparse: prune what is left
        cut = np.quantile(nonzero, fraction) if nonzero.size else 0.0
        ws.append(np.where(np.abs(W) <= cut, 0.0, W))
    return net.replace(weights=ws, masks=None)


def domain(size: str) -> Box:
    return Box(0.0, 1.0) if size == "large" else Box(-1.0, 1.0)


@functools.lru_cache(maxsize=None)
def neighbourhoods(size: str):
    """L-inf boxes of radius 0.02 around 20 points (test images for ``large``)."""
    net = network(size)
    if size == "large":
        from reluscope.io.examples import example_dataset

        X = example_dataset("digits28_mlp")[0][:20]
    else:
        X = np.random.default_rng(0).uniform(-0.8, 0.8, size=(20, net.input_dim))
    return PointSet(X).neighbourhood(0.02, within=domain(size))


def _lipschitz(size: str) -> Callable[[float], str]:
    def run(T: float) -> str:
        from reluscope import lipschitz_constant

        return str(lipschitz_constant(network(size), domain(size), method="exact", time_limit=T)).split(" [")[0]
    return run


def _sup(size: str) -> Callable[[float], str]:
    def run(T: float) -> str:
        from reluscope import sup_distance

        return str(sup_distance(network(size), pruned(size), domain(size), time_limit=T)).split(" [")[0]
    return run


def _sobolev(size: str) -> Callable[[float], str]:
    def run(T: float) -> str:
        from reluscope import sobolev_distance

        r = sobolev_distance(network(size), pruned(size), domain(size), time_limit=T)
        return f"[{r.lower:.4g}, {r.upper:.4g}] {r.status}"
    return run


def _degeneracies(size: str) -> Callable[[float], str]:
    def run(T: float) -> str:
        from reluscope.degeneracy import degeneracies

        rep = degeneracies(pruned(size), domain(size), time_limit=T)
        return type(rep).__name__
    return run


def _reduce(size: str) -> Callable[[float], str]:
    def run(T: float) -> str:
        from reluscope.degeneracy import reduction

        red = reduction(pruned(size), domain(size), time_limit=T)
        return f"{len(red.actions)} actions -> {'-'.join(map(str, red.network.widths))}"
    return run


def _epsilon(size: str) -> Callable[[float], str]:
    def run(T: float) -> str:
        from reluscope.distance import epsilon_equivalent

        v = epsilon_equivalent(network(size), pruned(size), neighbourhoods(size), 0.1, time_limit=T)
        return str(v.status)
    return run


def _top1(size: str) -> Callable[[float], str]:
    def run(T: float) -> str:
        from reluscope.distance import top1_agreement

        v = top1_agreement(network(size), pruned(size), neighbourhoods(size), time_limit=T)
        return str(v.status)
    return run


def _regions(size: str) -> Callable[[float], str]:
    def run(T: float) -> str:
        from reluscope.errors import SolverError
        from reluscope.regions import affine_pieces

        net = ReLUNetwork.random(_REGION_WIDTHS[size], seed=2)
        d = net.input_dim
        try:
            pieces = affine_pieces([net], -np.ones(d), np.ones(d), time_limit=T)
        except SolverError as exc:
            return f"stopped: {str(exc)[:60]}"
        return f"{len(pieces)} regions"
    return run


def _analyze(size: str) -> Callable[[float], str]:
    def run(T: float) -> str:
        from reluscope.report import analyze

        with tempfile.TemporaryDirectory() as out:
            # total_time_limit: the whole run's budget, what ``reluscope analyze --time-limit`` sets
            rep = analyze(network(size), out, domain=domain(size), time_limit=T, total_time_limit=T, quiet=True)
        return " ".join(f"{k}:{v.get('status', '?')[:3]}" for k, v in rep.sections.items())
    return run


_KINDS: tuple[tuple[str, Callable[[str], Callable[[float], str]]], ...] = (
    ("lipschitz_constant", _lipschitz),
    ("sup_distance", _sup),
    ("sobolev_distance", _sobolev),
    ("degeneracies", _degeneracies),
    ("reduction", _reduce),
    ("epsilon_equivalent", _epsilon),
    ("top1_agreement", _top1),
    ("affine_pieces", _regions),
    ("analyze", _analyze),
)


def _label(kind: str, size: str) -> str:
    if kind == "affine_pieces":
        return "-".join(map(str, _REGION_WIDTHS[size]))
    return "784-300-100-10" if size == "large" else "-".join(map(str, _WIDTHS[size]))


CASES: list[tuple[str, str, Callable[[float], str]]] = [
    (kind, _label(kind, size), make(size)) for kind, make in _KINDS for size in SIZES
]
