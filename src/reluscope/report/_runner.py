"""Run one report section within its time budget, turning failures into honest notes.

A section gets a :class:`~reluscope._budget.Budget`: its share of the run's budget.

* **Cooperative first.** The section body takes every solver time limit from that budget
  (each library call gets at most the seconds left), so a section normally ends on its own,
  with bounds or "undecided" where a limit hit.
* **Safety net: the section is stopped, not abandoned.** On the main thread a ``SIGALRM``
  timer is set to the budget's deadline; if the body is still running then, the timer
  raises :class:`SectionOverrun` inside it, its ``finally`` blocks run (a forked Z3 child
  is killed by its owner's cleanup) and the section is reported "not computed: did not
  finish within the section's time budget of N s". A body that ran out of time
  cooperatively (:class:`~reluscope._budget.OutOfTime`) gets the same note. Nothing keeps
  running after :func:`run_section` returns, and no thread is started, so a section that
  forks (the sparsity section's Z3 calls) forks a single-threaded process.
* Off the main thread (signals are delivered only there), or when a ``SIGALRM`` timer of
  someone else is already pending (it is left alone), there is no preemption: the body runs
  to its end, bounded by the time limits of the calls it makes, and its result is kept.
  A budget already spent when the section starts skips the body.

Any exception of the body becomes a "not computed" section with a one-line reason
(:class:`~reluscope.errors.ReluscopeError`, a missing module, :class:`NotComputed`, or an
unexpected error with its last frame); ``KeyboardInterrupt`` and ``SystemExit`` propagate.
"""

from __future__ import annotations

import dataclasses
import math
import signal
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from .._budget import Budget, OutOfTime
from ..errors import ReluscopeError
from .document import Block, Section

__all__ = ["SectionContent", "SectionOutcome", "NotComputed", "SectionOverrun", "run_section"]


class NotComputed(Exception):
    """Raised by a section body to say, with a reason, that it does not apply."""


class SectionOverrun(BaseException):
    """Raised inside a section body by the safety-net timer at the end of its budget.

    A ``BaseException`` (like ``KeyboardInterrupt``) so that a library's ``except
    Exception`` cannot swallow it.
    """


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


class _Alarm:
    """A one-shot ``SIGALRM`` timer raising :class:`SectionOverrun` at a budget's deadline.

    ``disarm`` is idempotent: the alarm may fire inside the first call (after the body
    returned, before the timer was cancelled); the caller then calls it again.
    """

    def __init__(self) -> None:
        self._previous: Any = None
        self._armed = False

    def arm(self, budget: Budget | None) -> None:
        if (budget is None or math.isinf(budget.remaining()) or not hasattr(signal, "setitimer")
                or threading.current_thread() is not threading.main_thread()
                or signal.getitimer(signal.ITIMER_REAL)[0] > 0):
            return
        self._previous = signal.signal(signal.SIGALRM, self._fire)
        self._armed = True
        signal.setitimer(signal.ITIMER_REAL, budget.solver_limit())

    @staticmethod
    def _fire(signum: int, frame: Any) -> None:
        raise SectionOverrun

    def disarm(self) -> None:
        if self._armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._previous)
            self._armed = False


def _not_computed(key: str, title: str, reason: str, seconds: float) -> SectionOutcome:
    section = Section(title, status="not computed", reason=reason, anchor=key)
    return SectionOutcome(key, section, {"status": "not computed", "reason": reason}, seconds)


def run_section(key: str, title: str, body: Callable[[], SectionContent],
                budget: Budget | None = None) -> SectionOutcome:
    """Run ``body`` within ``budget`` (``None``: no limit) and wrap its result.

    See the module docstring for what happens when the body fails or overruns.
    """
    start = time.perf_counter()
    if budget is not None and budget.expired():
        return _not_computed(key, title, "the time budget was spent before this section started", 0.0)
    allotted = math.inf if budget is None else budget.remaining()
    overrun = f"did not finish within the section's time budget of {allotted:.2g} s"
    alarm = _Alarm()
    try:
        try:
            alarm.arm(budget)
            content = body()
        finally:
            alarm.disarm()
    except (SectionOverrun, OutOfTime):
        alarm.disarm()
        return _not_computed(key, title, overrun, time.perf_counter() - start)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - reported, never swallowed silently
        return _not_computed(key, title, _describe(exc), time.perf_counter() - start)
    seconds = time.perf_counter() - start
    section = Section(title, tuple(content.blocks), status=content.status, reason=content.reason, anchor=key)
    data = {"status": content.status, **({"reason": content.reason} if content.reason else {}), **content.data}
    return SectionOutcome(key, section, data, seconds)
