"""Decide the closedness of many random sparsity patterns: local processes or a Dask cluster.

:func:`sweep` draws ``samples`` random patterns of a given shape and density (pattern ``i``
from the generator seeded with ``(seed, i)``, so the patterns do not depend on where they
are decided), decides each with :func:`reluscope.sparsity.decide.decide` under a time
limit, and returns a :class:`SweepResult` (table, JSON, figure). Work runs in local worker
processes by default or on a Dask cluster when ``scheduler`` is an address
(``tcp://HOST:PORT``) or a ``dask.distributed.Client``. Decisions are deterministic, so both
give identical verdicts (up to decisions that hit the time limit, which are reported as
undecided and may differ on a machine with another load).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._parallel import run_tasks
from .._results import ResultMixin, dump_json, make_out_dir
from .._validation import check_fraction, check_int, check_memory, check_time_limit
from ..errors import InvalidPattern
from .decide import decide
from .pattern import SparsityPattern

__all__ = ["sweep", "SweepResult", "PatternOutcome", "parse_shape", "random_pattern", "wilson_interval"]


def parse_shape(shape: str | Sequence[int]) -> tuple[int, ...]:
    """``"MxRxN"`` (output x hidden x input, as the product ``W_2 W_1`` of an ``M x N``
    matrix with inner width ``R``; more factors allowed) or a sequence of ints."""
    if isinstance(shape, str):
        parts = shape.lower().replace(" ", "").split("x")
        try:
            dims = tuple(int(p) for p in parts)
        except ValueError:
            raise InvalidPattern(f"shape {shape!r} must look like MxRxN with positive integers") from None
    else:
        try:
            dims = tuple(int(d) for d in shape)
        except (TypeError, ValueError):
            raise InvalidPattern(f"shape {shape!r} must be a sequence of positive integers") from None
    if len(dims) < 2 or min(dims) < 1:
        raise InvalidPattern(f"shape {shape!r} needs at least two positive sizes (MxRxN)")
    # the masks (and the random numbers drawn for them, float64) and the path product
    n_bytes = 9.0 * sum(a * b for a, b in zip(dims[:-1], dims[1:])) + 8.0 * dims[0] * dims[-1]
    check_memory(n_bytes, f"a random pattern of shape {'x'.join(map(str, dims))}", "choose smaller sizes")
    return dims


def random_pattern(shape: Sequence[int], density: float, seed: int, index: int) -> SparsityPattern:
    """Pattern ``index`` of a sweep: every weight entry allowed with probability ``density``,
    drawn from ``numpy.random.default_rng([seed, index])``. ``shape`` is output-first
    (``(M, R, N)``)."""
    widths = tuple(reversed(tuple(shape)))
    rng = np.random.default_rng([int(seed), int(index)])
    return SparsityPattern([rng.random((widths[l + 1], widths[l])) < density for l in range(len(widths) - 1)])


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (``(0, 1)`` when ``n == 0``)."""
    if n <= 0:
        return 0.0, 1.0
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclasses.dataclass(frozen=True)
class PatternOutcome(ResultMixin):
    """The verdict on one pattern of a sweep."""

    index: int
    pattern: str
    closed: bool | None
    method: str
    seconds: float
    certified: bool
    rule: str

    def key(self) -> tuple:
        """Everything except the timing (what must agree between backends)."""
        return (self.index, self.pattern, self.closed, self.method, self.certified, self.rule)


def _decide_one(task: tuple[tuple[int, ...], float, int, int, float, bool]) -> PatternOutcome:
    shape, density, seed, index, time_limit, use_qe = task
    pattern = random_pattern(shape, density, seed, index)
    verdict = decide(pattern, time_limit=time_limit, seed=index, use_qe=use_qe)
    cert = verdict.certificate
    rule = ""
    if cert is not None:
        rule = cert.rule
        if cert.kind == "closed" and cert.rule == "reductions":
            rule = "reductions:" + ",".join(sorted({c["rule"] for c in cert.details.get("components", [])}))
    return PatternOutcome(index, pattern.to_text(), verdict.closed, verdict.method, verdict.seconds, cert is not None, rule)


@dataclasses.dataclass(frozen=True)
class SweepResult(ResultMixin):
    """Verdicts on ``samples`` random patterns of one shape and density."""

    shape: tuple[int, ...]
    density: float
    samples: int
    seed: int
    time_limit: float
    backend: str
    outcomes: tuple[PatternOutcome, ...]
    seconds: float = 0.0

    @property
    def n_closed(self) -> int:
        return sum(o.closed is True for o in self.outcomes)

    @property
    def n_not_closed(self) -> int:
        return sum(o.closed is False for o in self.outcomes)

    @property
    def n_undecided(self) -> int:
        return sum(o.closed is None for o in self.outcomes)

    @property
    def decided_fraction(self) -> float:
        return (self.samples - self.n_undecided) / self.samples if self.samples else 0.0

    @property
    def not_closed_fraction(self) -> float:
        """Fraction of non-closed patterns among the decided ones (``nan`` if none decided)."""
        decided = self.samples - self.n_undecided
        return self.n_not_closed / decided if decided else float("nan")

    def not_closed_interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """Wilson interval of the non-closed probability, widened to stay honest about
        undecided patterns: lower bound counts them as closed, upper bound as non-closed."""
        lo, _ = wilson_interval(self.n_not_closed, self.samples, confidence)
        _, hi = wilson_interval(self.n_not_closed + self.n_undecided, self.samples, confidence)
        return lo, hi

    def agrees_with(self, other: SweepResult) -> bool:
        """Same verdicts, methods and certificate rules pattern by pattern (timings ignored)."""
        return [o.key() for o in self.outcomes] == [o.key() for o in other.outcomes]

    def summary(self) -> dict[str, Any]:
        lo, hi = self.not_closed_interval()
        times = [o.seconds for o in self.outcomes]
        return {
            "shape": "x".join(map(str, self.shape)),
            "density": self.density,
            "samples": self.samples,
            "closed": self.n_closed,
            "not_closed": self.n_not_closed,
            "undecided": self.n_undecided,
            "decided_fraction": self.decided_fraction,
            "certified": sum(o.certified for o in self.outcomes),
            "not_closed_fraction": self.not_closed_fraction,
            "not_closed_ci95": [lo, hi],
            "median_seconds": float(np.median(times)) if times else 0.0,
            "max_seconds": float(max(times)) if times else 0.0,
        }

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["summary"] = self.summary()
        return data

    def table(self) -> Any:
        """A rich table of the summary and the verdict counts per method/rule."""
        from rich.table import Table

        s = self.summary()
        table = Table(title=f"closedness sweep {s['shape']} density {self.density} ({self.backend})")
        table.add_column("quantity")
        table.add_column("value", justify="right")
        table.add_row("patterns", str(self.samples))
        table.add_row("closed", str(self.n_closed))
        table.add_row("not closed", str(self.n_not_closed))
        table.add_row("undecided", str(self.n_undecided))
        table.add_row("decided with certificate", str(s["certified"]))
        lo, hi = s["not_closed_ci95"]
        table.add_row("P(not closed) among decided", f"{s['not_closed_fraction']:.3f}")
        table.add_row("95% interval (undecided counted both ways)", f"[{lo:.3f}, {hi:.3f}]")
        table.add_row("median / max seconds", f"{s['median_seconds']:.4f} / {s['max_seconds']:.3f}")
        counts: dict[str, int] = {}
        for o in self.outcomes:
            label = {True: "closed", False: "not closed", None: "undecided"}[o.closed] + (f" [{o.rule}]" if o.rule else "")
            counts[label] = counts.get(label, 0) + 1
        from rich.markup import escape

        for label, n in sorted(counts.items()):
            table.add_row("  " + escape(label), str(n))
        return table

    def __str__(self) -> str:
        s = self.summary()
        lo, hi = s["not_closed_ci95"]
        return (
            f"sweep {s['shape']} density {self.density}: {self.samples} patterns, {self.n_closed} closed, "
            f"{self.n_not_closed} not closed, {self.n_undecided} undecided; P(not closed) = "
            f"{s['not_closed_fraction']:.3f} (95% [{lo:.3f}, {hi:.3f}]); median {s['median_seconds']:.4f} s "
            f"({self.backend}, {self.seconds:.1f} s)"
        )

    def figure(self, path: str | Path) -> Path:
        """PNG: verdict counts and the distribution of decision times."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        path = Path(path)
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
        labels = ["closed", "not closed", "undecided"]
        values = [self.n_closed, self.n_not_closed, self.n_undecided]
        ax1.bar(labels, values, color=["tab:green", "tab:red", "tab:gray"])
        ax1.set_ylabel("patterns")
        ax1.set_title(f"{'x'.join(map(str, self.shape))}, density {self.density}")
        times = np.array([max(o.seconds, 1e-6) for o in self.outcomes])
        if times.size:
            ax2.hist(np.log10(times), bins=20, color="tab:blue")
        ax2.set_xlabel("log10 seconds per pattern")
        ax2.set_ylabel("patterns")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path

    def save(self, out_dir: str | Path) -> tuple[Path, Path]:
        """Write ``sweep.json`` and ``sweep.png`` into ``out_dir``; returns both paths."""
        out = make_out_dir(out_dir)
        json_path = out / "sweep.json"
        dump_json(self.to_dict(), json_path)
        return json_path, self.figure(out / "sweep.png")


def sweep(
    shape: str | Sequence[int] = (3, 3, 3),
    density: float = 0.5,
    samples: int = 100,
    seed: int = 0,
    time_limit: float = 1.0,
    scheduler: Any = None,
    workers: int | None = None,
    use_qe: bool = True,
    quiet: bool | None = None,
) -> SweepResult:
    """Decide the closedness of ``L_I`` for ``samples`` random patterns.

    Parameters
    ----------
    shape:
        ``(M, R, N)`` (or ``"MxRxN"``): product ``W_2 W_1`` of shape ``M x N`` with ``R``
        hidden units. More sizes give deeper patterns (output first).
    density:
        Probability that a weight entry is allowed.
    samples:
        Number of patterns.
    seed:
        Pattern ``i`` is drawn from ``numpy.random.default_rng([seed, i])``.
    time_limit:
        Seconds per pattern.
    scheduler:
        ``None`` for local worker processes; a Dask scheduler address (``"tcp://HOST:PORT"``)
        or a ``dask.distributed.Client`` to run on that cluster.
    workers:
        Local worker processes (default: number of CPUs; ``1`` runs in this process).
    use_qe:
        Allow quantifier elimination on reduced components as a last resort.
    quiet:
        Force the progress bar off (``True``) or on (``False``); default: on a terminal only.

    Returns
    -------
    SweepResult
    """
    dims = parse_shape(shape)
    density = check_fraction(density, "density", include_one=True)
    samples = check_int(samples, "samples", minimum=1)
    time_limit = check_time_limit(time_limit)
    seed = check_int(seed, "seed")  # an integer: pattern i comes from default_rng([seed, i])
    if workers is not None:
        workers = check_int(workers, "workers", minimum=1)
    tasks = [(dims, float(density), int(seed), i, float(time_limit), bool(use_qe)) for i in range(int(samples))]
    start = time.perf_counter()
    description = f"sweep {'x'.join(map(str, dims))} p={density}"
    outputs, backend = run_tasks(_decide_one, tasks, scheduler=scheduler, workers=workers, description=description,
                                 quiet=quiet, error=InvalidPattern)
    results: dict[int, PatternOutcome] = {out.index: out for out in outputs}
    outcomes = tuple(results[i] for i in range(len(tasks)))
    return SweepResult(dims, float(density), int(samples), int(seed), float(time_limit), backend, outcomes,
                       time.perf_counter() - start)
