"""Many properties at once: :func:`verify_many` runs :func:`reluscope.verify` on a batch of
(model, property) jobs in this process, in local worker processes or on a Dask cluster
(``scheduler="tcp://HOST:PORT"``, as ``sweep-patterns`` does, through
:func:`reluscope._parallel.run_tasks`), with the same answers wherever they run: each job is
one independent call with its own time limit.

:func:`read_instances` reads a VNN-COMP instances CSV (``onnx,vnnlib,timeout`` per row,
paths relative to the CSV's folder).

Models and properties are read once, in the calling process (so a bad file fails before any
work starts, in one line), and shipped to the workers as values: a cluster needs no access
to the files, and each network is sent once per worker, not once per job.
"""

from __future__ import annotations

import csv
import math
import os
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ._parallel import run_tasks
from ._results import ResultMixin
from ._validation import check_int, check_time_limit
from .errors import InvalidArgument, ModelFileError
from .io import load
from .io.vnnlib import load_vnnlib, resolve_vnnlib_path
from .network import ReLUNetwork
from .spec import Specification
from .verification import verify

__all__ = ["VerifyJob", "JobOutcome", "VerifyManyResult", "verify_many", "read_instances", "DEFAULT_TIME_LIMIT"]

DEFAULT_TIME_LIMIT = 60.0  # seconds per job when neither the job nor the call gives one
RESULTS = ("holds", "violated", "unknown")


@dataclass(frozen=True)
class VerifyJob:
    """One property of one model: a model file (or a :class:`~reluscope.ReLUNetwork`), a
    VNN-LIB file (or a :class:`~reluscope.spec.Specification`) and an optional time limit."""

    model: Any
    spec: Any
    time_limit: float | None = None


@dataclass(frozen=True)
class JobOutcome(ResultMixin):
    """The answer to one job. ``counterexample`` (when ``violated``) was re-evaluated on the
    network in float64 by :meth:`Specification.is_counterexample` in the calling process."""

    model: str
    spec: str
    result: str
    seconds: float
    time_limit: float
    counterexample: np.ndarray | None = None
    output: np.ndarray | None = None  # f(counterexample)
    details: dict[str, Any] = field(default_factory=dict)  # the verify result's to_dict()

    def __str__(self) -> str:
        return f"{self.result}  {self.model}  {self.spec}  {self.seconds:.2f} s (limit {self.time_limit:g} s)"


@dataclass(frozen=True)
class VerifyManyResult(ResultMixin):
    """The answers to a batch of jobs, in job order, and where they ran."""

    outcomes: tuple[JobOutcome, ...]
    backend: str
    seconds: float

    def counts(self) -> dict[str, int]:
        c = Counter(o.result for o in self.outcomes)
        return {r: c.get(r, 0) for r in RESULTS}

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "counts": self.counts()}

    def table(self) -> Any:
        """A rich table: one row per job."""
        from rich.table import Table

        table = Table(title=f"{len(self.outcomes)} properties ({self.backend})")
        for col in ("result", "model", "property", "seconds", "limit"):
            table.add_column(col, justify="right" if col in ("seconds", "limit") else "left", no_wrap=True)
        for o in self.outcomes:
            table.add_row(o.result, o.model, o.spec, f"{o.seconds:.2f}", f"{o.time_limit:g}")
        return table

    def __str__(self) -> str:
        c = self.counts()
        return (f"{len(self.outcomes)} properties: {c['holds']} hold, {c['violated']} violated, "
                f"{c['unknown']} unknown in {self.seconds:.1f} s ({self.backend})")


# ---------------------------------------------------------------------- instances CSV
def read_instances(path: str | os.PathLike[str]) -> tuple[VerifyJob, ...]:
    """The jobs of a VNN-COMP instances CSV: rows ``model,property,timeout`` (seconds), paths
    relative to the CSV's folder (a missing ``X.vnnlib`` is read from ``X.vnnlib.gz``).

    Raises
    ------
    ModelFileError
        Missing file, or a malformed row (named by its line number).
    """
    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"{p}: no such instances file" if not p.exists() else f"{p}: is not a regular file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{p}: cannot be read as a CSV text file ({exc})") from None
    jobs = []
    for lineno, row in enumerate(csv.reader(text.splitlines()), start=1):
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if len(cells) != 3:
            raise ModelFileError(f"{p}: line {lineno}: expected 'model,property,timeout', got {len(cells)} columns")
        try:
            timeout = float(cells[2])
        except ValueError:
            if lineno == 1:  # a header row
                continue
            raise ModelFileError(f"{p}: line {lineno}: timeout {cells[2][:40]!r} is not a number") from None
        if not (math.isfinite(timeout) and timeout > 0):
            raise ModelFileError(f"{p}: line {lineno}: timeout must be a positive number of seconds; got {cells[2]!r}")
        jobs.append(VerifyJob(p.parent / cells[0], resolve_vnnlib_path(p.parent / cells[1]), timeout))
    if not jobs:
        raise ModelFileError(f"{p}: no instances")
    return tuple(jobs)


# ---------------------------------------------------------------------- the batch
def _job(value: Any, index: int) -> VerifyJob:
    if isinstance(value, VerifyJob):
        return value
    if isinstance(value, (tuple, list)) and len(value) in (2, 3):
        return VerifyJob(*value)
    raise InvalidArgument(f"job {index} must be a VerifyJob or a (model, spec[, time_limit]) tuple; "
                          f"got {type(value).__name__}")


def _label(obj: Any, kind: str, index: int) -> str:
    if isinstance(obj, (str, os.PathLike)):
        return Path(obj).name
    name = getattr(obj, "name", "") if kind == "spec" else ""
    return name or f"{kind} #{index}"


def _verify_one(net: ReLUNetwork, payload: tuple[Specification, float, dict[str, Any]]) -> tuple[str, float, Any, dict]:
    """One job on a worker: ``reluscope.verify`` with its own time limit."""
    spec, time_limit, options = payload
    res = verify(net, spec, time_limit=time_limit, **options)
    return str(res.result), float(res.seconds), _point(res.counterexample), _details(res)


def _details(res: Any) -> dict[str, Any]:
    """What a verify result says beyond the answer, time and counterexample (bounds, method, note)."""
    return {k: v for k, v in res.to_dict().items() if k not in ("result", "seconds", "counterexample", "spec_name")}


def _point(counterexample: Any) -> np.ndarray | None:
    """The input point of a verify result's counterexample (``x`` or ``(x, f(x))``)."""
    if counterexample is None:
        return None
    x = counterexample[0] if isinstance(counterexample, tuple) else counterexample
    return np.asarray(x, dtype=np.float64).reshape(-1)


def verify_many(
    jobs: Iterable[Any],
    *,
    time_limit: float | None = None,
    scheduler: Any = None,
    workers: int | None = None,
    quiet: bool | None = None,
    **verify_options: Any,
) -> VerifyManyResult:
    """Verify many properties: each job is ``reluscope.verify(net, spec, time_limit=...)``.

    Parameters
    ----------
    jobs:
        :class:`VerifyJob` values or ``(model, spec[, time_limit])`` tuples; a model is a
        file name or a :class:`~reluscope.ReLUNetwork`, a spec a VNN-LIB file name or a
        :class:`~reluscope.spec.Specification`. :func:`read_instances` turns a VNN-COMP CSV
        into jobs.
    time_limit:
        Seconds per job when the job gives none (default :data:`DEFAULT_TIME_LIMIT`).
    scheduler:
        ``None``: local worker processes; a Dask scheduler address (``"tcp://HOST:PORT"``)
        or a ``dask.distributed.Client``: that cluster.
    workers:
        Local worker processes (default: the number of CPUs; ``1`` runs in this process).
    quiet:
        Force the progress bar off or on (default: on a terminal only).
    verify_options:
        Passed to every :func:`reluscope.verify` call.

    Returns
    -------
    VerifyManyResult
        One :class:`JobOutcome` per job, in job order. A ``violated`` answer's
        counterexample is re-evaluated on the network in float64 here; one that does not
        violate the property would be reported ``unknown`` (with a note), never ``violated``.

    Raises
    ------
    ReluscopeError
        A bad model or property file, a property whose sizes do not fit its model, a bad
        option, or an unreachable scheduler -- before any job runs.
    """
    start = time.perf_counter()
    jobs = [_job(j, i) for i, j in enumerate(jobs)]
    if not jobs:
        raise InvalidArgument("verify_many needs at least one job")
    default = DEFAULT_TIME_LIMIT if time_limit is None else check_time_limit(time_limit)
    if workers is not None:
        workers = check_int(workers, "workers", minimum=1)
    nets: list[ReLUNetwork] = []
    net_index: dict[Any, int] = {}
    specs: dict[tuple[str, int, int], Specification] = {}
    refs, payloads, labels, limits = [], [], [], []
    for i, job in enumerate(jobs):
        key = str(Path(job.model).resolve()) if isinstance(job.model, (str, os.PathLike)) else id(job.model)
        if key not in net_index:
            net = load(job.model) if isinstance(job.model, (str, os.PathLike)) else job.model
            if not isinstance(net, ReLUNetwork):
                raise InvalidArgument(f"job {i}: the model must be a file name or a ReLUNetwork; got {type(net).__name__}")
            net_index[key] = len(nets)
            nets.append(net)
        net = nets[net_index[key]]
        spec = job.spec
        if isinstance(spec, (str, os.PathLike)):  # read once per file and network size (props are shared)
            spec_key = (str(Path(spec).resolve()), net.input_dim, net.output_dim)
            if spec_key not in specs:
                specs[spec_key] = load_vnnlib(spec, n_inputs=net.input_dim, n_outputs=net.output_dim)
            spec = specs[spec_key]
        elif not isinstance(spec, Specification):
            raise InvalidArgument(f"job {i}: the property must be a VNN-LIB file name or a Specification; "
                                  f"got {type(spec).__name__}")
        elif (spec.n_inputs, spec.n_outputs) != (net.input_dim, net.output_dim):
            raise InvalidArgument(f"job {i}: the property has {spec.n_inputs} inputs and {spec.n_outputs} outputs, "
                                  f"the network {net.input_dim} and {net.output_dim}")
        limit = default if job.time_limit is None else check_time_limit(job.time_limit, f"job {i} time_limit")
        refs.append(net_index[key])
        payloads.append((spec, limit, dict(verify_options)))
        labels.append((_label(job.model, "model", net_index[key]), _label(job.spec, "spec", i)))
        limits.append(limit)
    # spawn, not fork: the bound engine may have started PyTorch's threads in this process
    outputs, backend = run_tasks(_verify_one, payloads, refs=refs, shared=nets, scheduler=scheduler,
                                 workers=workers, description="verify", quiet=quiet, error=InvalidArgument,
                                 start_method="spawn")
    outcomes = []
    for (model, spec_name), (spec, _, _), ref, limit, (result, seconds, cex, details) in zip(
            labels, payloads, refs, limits, outputs):
        outcomes.append(_checked(JobOutcome(model, spec_name, result, seconds, limit, cex, None, details),
                                 nets[ref], spec))
    return VerifyManyResult(tuple(outcomes), backend, time.perf_counter() - start)


def _checked(outcome: JobOutcome, net: ReLUNetwork, spec: Specification) -> JobOutcome:
    """Re-evaluate a counterexample on the real network (float64) before reporting it."""
    if outcome.result != "violated":
        return replace(outcome, counterexample=None) if outcome.result == "holds" else outcome
    x = outcome.counterexample
    if x is not None and x.size == net.input_dim and spec.is_counterexample(net, x):
        return replace(outcome, output=net(x.reshape(1, -1))[0])
    note = "verify answered violated but its counterexample does not violate the property on re-evaluation"
    return replace(outcome, result="unknown", counterexample=None, details={**outcome.details, "note": note})


def outcome_of(net: ReLUNetwork, spec: Specification, result: Any, model: str = "model", spec_name: str = "spec",
               time_limit: float = math.nan) -> JobOutcome:
    """A :class:`JobOutcome` from one :func:`reluscope.verify` result (counterexample re-checked)."""
    return _checked(JobOutcome(model, spec_name, str(result.result), float(result.seconds), time_limit,
                               _point(result.counterexample), None, _details(result)), net, spec)


def jobs_from(model: Any, specs: Sequence[Any], time_limit: float | None = None) -> list[VerifyJob]:
    """One job per property of one model."""
    return [VerifyJob(model, s, time_limit) for s in specs]
