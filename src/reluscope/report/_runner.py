"""Run one report section with a wall-clock deadline, turning failures into honest notes."""

from __future__ import annotations

import dataclasses
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from ..errors import ReluscopeError
from .document import Block, Section

__all__ = ["SectionContent", "SectionOutcome", "NotComputed", "run_section", "progress"]


def progress(items: list[Any], label: Callable[[Any], str], quiet: bool | None = None):
    """Iterate over ``items`` with a rich progress bar (on stderr, on a terminal only) whose
    description names the item being worked on."""
    from .._progress import progress_enabled

    if not progress_enabled(quiet):
        yield from items
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("", total=len(items))
        for item in items:
            bar.update(task, description=label(item))
            yield item
            bar.advance(task)


class NotComputed(Exception):
    """Raised by a section body to say, with a reason, that it does not apply."""


@dataclasses.dataclass
class SectionContent:
    """What a section body returns: blocks to render, numbers for JSON, and a status."""

    blocks: list[Block] = dataclasses.field(default_factory=list)
    data: dict[str, Any] = dataclasses.field(default_factory=dict)
    status: str = "ok"
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class SectionOutcome:
    """A rendered section plus its numbers and timing."""

    key: str
    section: Section
    data: dict[str, Any]
    seconds: float

    @property
    def status(self) -> str:
        return self.section.status

    @property
    def reason(self) -> str:
        return self.section.reason


def _describe(exc: BaseException) -> str:
    if isinstance(exc, NotComputed):
        return str(exc)
    if isinstance(exc, ReluscopeError):
        return f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ImportError):
        name = getattr(exc, "name", None) or str(exc)
        return f"this installation lacks the module it needs ({name})"
    if isinstance(exc, AttributeError) and str(exc).startswith("module 'reluscope"):
        return f"this installation lacks what it needs ({exc})"
    # Unexpected failure: say what happened in one line, keep the traceback's last frame.
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    message = " ".join(str(exc).split())
    return f"unexpected {type(exc).__name__}{where}: {message}"


def run_section(key: str, title: str, body: Callable[[], SectionContent], deadline: float | None) -> SectionOutcome:
    """Run ``body`` (in a worker thread when ``deadline`` is set) and wrap its result.

    A :class:`~reluscope.errors.ReluscopeError`, a missing module, :class:`NotComputed`
    or any other exception becomes a ``"not computed"`` section with the reason; a body
    still running after ``deadline`` seconds is abandoned (its thread is a daemon) and
    reported as not finished in time. Nothing is guessed.
    """
    start = time.perf_counter()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["content"] = body()
        except BaseException as exc:  # noqa: BLE001 - reported, never swallowed silently
            box["error"] = exc

    if deadline is None:
        target()
    else:
        worker = threading.Thread(target=target, name=f"reluscope-report-{key}", daemon=True)
        worker.start()
        worker.join(deadline)
        if worker.is_alive():
            seconds = time.perf_counter() - start
            section = Section(title, status="not computed",
                              reason=f"did not finish within the section's time budget of {deadline:.0f} s",
                              anchor=key)
            return SectionOutcome(key, section, {"status": "not computed", "reason": section.reason}, seconds)
    seconds = time.perf_counter() - start
    if "error" in box:
        exc = box["error"]
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise exc
        reason = _describe(exc)
        section = Section(title, status="not computed", reason=reason, anchor=key)
        return SectionOutcome(key, section, {"status": "not computed", "reason": reason}, seconds)
    content: SectionContent = box["content"]
    section = Section(title, tuple(content.blocks), status=content.status, reason=content.reason, anchor=key)
    data = {"status": content.status, **({"reason": content.reason} if content.reason else {}), **content.data}
    return SectionOutcome(key, section, data, seconds)
