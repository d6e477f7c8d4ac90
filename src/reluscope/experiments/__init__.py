"""Registry of reproduced experiments, each runnable as ``reluscope reproduce NAME``.

An experiment module defines a function ``run(out_dir, quick, seed) -> ExperimentResult``
decorated with :func:`register`; what it reproduces (paper, arXiv number, figure, table or
theorem, the published values and their tolerances) is declared in
:data:`reluscope.experiments.sources.SOURCES` under the same name. Each writes at least one PNG figure and one JSON file of
numbers into ``out_dir``. ``quick=True`` is the small configuration run in CI.

Modules listed in ``_MODULES`` are imported on first use of the registry.
"""

from __future__ import annotations

import dataclasses
import importlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._results import ResultMixin
from .._validation import check_int
from ..errors import InvalidArgument
from .sources import Source, source_of

__all__ = ["Experiment", "ExperimentResult", "register", "get", "names", "run"]

# One module per reproduced result; each registers itself on import.
_MODULES: list[str] = [
    "inverse_stability_notebook",
    "pathologies_experiment",
    "restricted_vs_unrestricted",
    "local_minima_width",
    "sparse_divergence",
    "sparse_divergence_real",
    "constructive_vs_gradient",
    "random_support_closedness",
]


@dataclasses.dataclass(frozen=True)
class ExperimentResult(ResultMixin):
    """What an experiment produced: figures, numbers file, and a short summary."""

    name: str
    figures: tuple[Path, ...]
    numbers: Path
    summary: dict[str, Any]
    quick: bool
    seconds: float = 0.0

    def __str__(self) -> str:
        lines = [f"{self.name} ({'quick' if self.quick else 'full'}, {self.seconds:.1f} s)"]
        lines += [f"  figure: {p}" for p in self.figures]
        lines.append(f"  numbers: {self.numbers}")
        for key, value in self.summary.items():
            lines.append(f"  {key}: {value}")
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Experiment:
    name: str
    description: str
    function: Callable[..., ExperimentResult]
    module: str

    @property
    def source(self) -> Source | None:
        """What the experiment reproduces (``None`` if not declared)."""
        return source_of(self.name)


_REGISTRY: dict[str, Experiment] = {}
_loaded = False


def register(name: str, description: str) -> Callable[[Callable[..., ExperimentResult]], Callable[..., ExperimentResult]]:
    """Decorator registering ``function(out_dir: Path, quick: bool, seed: int)``."""

    def decorate(function: Callable[..., ExperimentResult]) -> Callable[..., ExperimentResult]:
        if name in _REGISTRY and _REGISTRY[name].function is not function:
            raise ValueError(f"experiment {name!r} registered twice")
        _REGISTRY[name] = Experiment(name, description, function, function.__module__)
        return function

    return decorate


def _load() -> None:
    global _loaded
    if not _loaded:
        for module in _MODULES:
            importlib.import_module(f"{__name__}.{module}")
        _loaded = True


def names() -> list[str]:
    """Names of all registered experiments, sorted."""
    _load()
    return sorted(_REGISTRY)


def get(name: str) -> Experiment:
    _load()
    if name not in _REGISTRY:
        raise InvalidArgument(f"unknown experiment {name!r}; known: {', '.join(sorted(_REGISTRY)) or 'none'}")
    return _REGISTRY[name]


def run(name: str, out_dir: str | Path, quick: bool = False, seed: int = 0) -> ExperimentResult:
    """Run experiment ``name``, writing its figure(s) and JSON into ``out_dir/name``.

    ``seed`` is a non-negative integer: experiments derive per-run seeds from it.
    """
    experiment = get(name)
    seed = check_int(seed, "seed")
    target = Path(out_dir) / name
    target.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    result = experiment.function(target, quick=quick, seed=seed)
    if not result.seconds:
        result = dataclasses.replace(result, seconds=time.perf_counter() - start)
    return result
