"""Progress bars: rich on stderr on a terminal, silent when piped (or ``quiet=True``)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

T = TypeVar("T")

__all__ = ["track", "progress_enabled"]


def progress_enabled(quiet: bool | None = None) -> bool:
    """Whether to draw a progress bar: only on an interactive stderr, unless forced."""
    if quiet is not None:
        return not quiet
    return sys.stderr.isatty()


def track(iterable: Iterable[T], description: str = "", total: int | None = None,
          quiet: bool | None = None, *, label: Callable[[T], str] | None = None) -> Iterator[T]:
    """Iterate with a rich progress bar on a terminal; plain iteration otherwise.

    The bar is drawn on stderr (so piped standard output stays clean) and removed when the
    iteration ends. With ``label``, the bar's description names the item being worked on
    (``label(item)``) instead of the fixed ``description``.
    """
    if not progress_enabled(quiet):
        yield from iterable
        return
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task(description, total=total)
        for item in iterable:
            if label is not None:
                bar.update(task, description=label(item))
            yield item
            bar.advance(task)
