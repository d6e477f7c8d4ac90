"""One way to run many independent tasks: in this process, in local worker processes, or on
a Dask cluster (``scheduler="tcp://HOST:PORT"`` or a ``dask.distributed.Client``).

Used by the pattern sweep (:func:`reluscope.sparsity.sweep.sweep`) and by batches of
verification jobs (:func:`reluscope.verify_jobs.verify_many`). Tasks are independent and
each computes its own answer, so the answers do not depend on where they ran.

Tasks may refer to *shared* objects (networks used by many tasks): they are shipped once
per worker (local processes: the pool's initializer; Dask: ``client.scatter``), not once
per task.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from ._progress import track
from .errors import ReluscopeError

__all__ = ["run_tasks"]

_SHARED: Sequence[Any] | None = None  # the shared objects inside a local worker process


def _set_shared(shared: Sequence[Any] | None) -> None:
    global _SHARED
    _SHARED = shared


def _call(fn: Callable[..., Any], index: int, ref: int | None, payload: Any) -> tuple[int, Any]:
    """Run one task in a local worker: ``fn(shared[ref], payload)`` or ``fn(payload)``."""
    out = fn(payload) if ref is None else fn(_SHARED[ref], payload)  # type: ignore[index]
    return index, out


def _call_with(fn: Callable[..., Any], index: int, item: Any, payload: Any) -> tuple[int, Any]:
    """Run one task on a Dask worker, the shared item already resolved by Dask."""
    return index, fn(item, payload)


def _call_plain(fn: Callable[..., Any], index: int, payload: Any) -> tuple[int, Any]:
    return index, fn(payload)


def run_tasks(
    fn: Callable[..., Any],
    payloads: Sequence[Any],
    *,
    refs: Sequence[int] | None = None,
    shared: Sequence[Any] | None = None,
    scheduler: Any = None,
    workers: int | None = None,
    description: str = "",
    quiet: bool | None = None,
    error: type[ReluscopeError] = ReluscopeError,
    start_method: str | None = None,
) -> tuple[list[Any], str]:
    """Run ``fn`` on every payload; return the outputs in payload order and where they ran.

    Parameters
    ----------
    fn:
        A module-level (picklable) function: ``fn(payload)``, or ``fn(shared[ref], payload)``
        when ``shared`` is given.
    payloads:
        One per task.
    refs, shared:
        Optional: task ``i`` uses ``shared[refs[i]]`` (shipped once per worker).
    scheduler:
        ``None``: local processes (``workers``, default the number of CPUs; ``1`` or a single
        task runs in this process). A Dask scheduler address or ``dask.distributed.Client``:
        that cluster (a client made from an address is closed afterwards).
    description, quiet:
        The progress bar (on a terminal only, unless forced).
    error:
        The error class for an unreachable scheduler or a missing Dask.
    start_method:
        Local processes' start method (default ``"fork"`` where available); ``"spawn"`` for
        work that starts threads (PyTorch) before forking would be unsafe.

    Returns
    -------
    (outputs, backend)
        ``backend`` is ``"in-process"``, ``"local processes (N)"`` or ``"dask ADDRESS"``.
    """
    n = len(payloads)
    if (refs is None) != (shared is None):
        raise error("run_tasks needs both refs and shared, or neither")
    ref_list = list(refs) if refs is not None else [None] * n
    results: list[Any] = [None] * n
    if scheduler is not None:
        backend = _run_dask(fn, payloads, ref_list, shared, scheduler, results, description, quiet, error)
        return results, backend
    n_workers = int(workers) if workers is not None else (os.cpu_count() or 1)
    if n_workers <= 1 or n <= 1:
        for i in track(range(n), description, quiet=quiet):
            ref = ref_list[i]
            results[i] = fn(payloads[i]) if ref is None else fn(shared[ref], payloads[i])  # type: ignore[index]
        return results, "in-process"
    import multiprocessing

    method = start_method or ("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    context = multiprocessing.get_context(method)
    with ProcessPoolExecutor(max_workers=min(n_workers, n), mp_context=context, initializer=_set_shared,
                             initargs=(shared,)) as pool:
        futures = [pool.submit(_call, fn, i, ref_list[i], payloads[i]) for i in range(n)]
        for fut in track(as_completed(futures), description, total=n, quiet=quiet):
            i, out = fut.result()
            results[i] = out
    return results, f"local processes ({min(n_workers, n)})"


def _run_dask(fn: Callable[..., Any], payloads: Sequence[Any], refs: list[int | None], shared: Sequence[Any] | None,
              scheduler: Any, results: list[Any], description: str, quiet: bool | None,
              error: type[ReluscopeError]) -> str:
    try:
        from dask.distributed import Client
        from dask.distributed import as_completed as dask_completed
    except ImportError:  # pragma: no cover - dask is an optional extra
        raise error("a Dask scheduler was given but dask.distributed is not installed "
                    "(pip install 'reluscope[dask]')") from None
    own = not isinstance(scheduler, Client)
    try:
        client = Client(scheduler, timeout="5s") if own else scheduler
    except (OSError, TimeoutError, ValueError) as exc:
        raise error(f"cannot connect to Dask scheduler {scheduler!r}: {exc}") from None
    try:
        n = len(payloads)
        if shared is not None:
            items = client.scatter(list(shared))
            futures = client.map(_call_with, [fn] * n, range(n), [items[r] for r in refs], list(payloads), pure=False)
        else:
            futures = client.map(_call_plain, [fn] * n, range(n), list(payloads), pure=False)
        for fut in track(dask_completed(futures), description, total=n, quiet=quiet):
            i, out = fut.result()
            results[i] = out
        return f"dask {client.scheduler.address}"
    finally:
        if own:
            client.close()
