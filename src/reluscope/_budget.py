"""One budget object for every time-limited computation.

A :class:`Budget` is an *absolute* deadline on :func:`time.monotonic` plus a record of
where the time went. Every long-running function takes a ``time_limit`` (a duration in
seconds, checked by :func:`reluscope._validation.check_time_limit`), turns it into a
budget once with :meth:`Budget.start` (or accepts a parent's budget), and passes budgets —
never floats — down to the loops that can run long:

* cooperative loops ask :meth:`Budget.expired` (or call :meth:`Budget.check`, which raises
  :class:`OutOfTime`) between units of work;
* a blocking solver call (HiGHS, Z3) is given :meth:`Budget.remaining` as its own limit;
* a sub-computation gets :meth:`Budget.share` (a fraction of what is left) or
  :meth:`Budget.child` (a fixed number of seconds), never more than the parent has.

Why one object: "deadline" used to mean an absolute time in one module and a duration in
another, and extensions such as ``deadline + 5.0`` let work run past the caller's limit.
A child budget can only be *shorter* than its parent, so no callee can overrun its caller.

:meth:`Budget.phase` records the seconds spent per named phase in a log shared by a
budget and all its children, so an undecided answer can say where the time went.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator

__all__ = ["Budget", "OutOfTime"]


class OutOfTime(Exception):
    """Raised by :meth:`Budget.check` when the budget is spent.

    Internal control flow only: public functions catch it and return an honest partial
    answer (bounds, "undecided"); it never reaches a user.
    """


class Budget:
    """A wall-clock allowance ending at an absolute ``deadline`` (``time.monotonic`` scale).

    ``Budget(None)`` (or ``math.inf`` seconds) never expires.
    """

    __slots__ = ("deadline", "started", "phases")

    def __init__(self, seconds: float | None = None, *, _deadline: float | None = None,
                 _phases: dict[str, float] | None = None) -> None:
        now = time.monotonic()
        self.started = now
        if _deadline is not None:
            self.deadline = _deadline
        elif seconds is None or math.isinf(seconds):
            self.deadline = math.inf
        else:
            self.deadline = now + max(float(seconds), 0.0)
        # shared by a budget and its children: seconds spent per named phase
        self.phases: dict[str, float] = {} if _phases is None else _phases

    # -------------------------------------------------------------- constructors
    @classmethod
    def start(cls, seconds: float | None) -> Budget:
        """A fresh budget of ``seconds`` from now (``None``: unlimited)."""
        return cls(seconds)

    @classmethod
    def of(cls, time_limit: float | None, budget: Budget | None = None) -> Budget:
        """The budget a function should use: ``budget`` capped at ``time_limit`` seconds
        from now when both are given, the one given otherwise."""
        if budget is None:
            return cls(time_limit)
        return budget if time_limit is None else budget.child(time_limit)

    def child(self, seconds: float | None = None) -> Budget:
        """A budget of at most ``seconds`` from now, never past this one's deadline."""
        if seconds is None:
            deadline = self.deadline
        else:
            deadline = min(self.deadline, time.monotonic() + max(float(seconds), 0.0))
        return Budget(_deadline=deadline, _phases=self.phases)

    def share(self, fraction: float, *, at_least: float = 0.0) -> Budget:
        """A child with ``fraction`` of the remaining time (at least ``at_least`` seconds,
        still capped by this budget's deadline)."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction must be in [0, 1]; got {fraction!r}")
        left = self.remaining()
        if math.isinf(left):
            return self.child()
        return self.child(max(fraction * left, at_least))

    # -------------------------------------------------------------- queries
    def remaining(self) -> float:
        """Seconds left (``>= 0``; ``inf`` for an unlimited budget)."""
        return max(self.deadline - time.monotonic(), 0.0)

    def elapsed(self) -> float:
        """Seconds since this budget was made."""
        return time.monotonic() - self.started

    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return time.monotonic() >= self.deadline

    def check(self) -> None:
        """Raise :class:`OutOfTime` when the deadline has passed."""
        if self.expired():
            raise OutOfTime(f"time budget spent ({self.elapsed():.3g} s)")

    def solver_limit(self, floor: float = 1e-3) -> float:
        """The remaining time as a finite, positive limit for a solver option (HiGHS and
        Z3 reject 0 and inf); an unlimited budget gives a week."""
        left = self.remaining()
        return max(min(left, 7 * 24 * 3600.0), floor)

    # -------------------------------------------------------------- accounting
    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[Budget]:
        """Time the enclosed block and add its seconds to ``phases[name]``."""
        t0 = time.monotonic()
        try:
            yield self
        finally:
            self.phases[name] = self.phases.get(name, 0.0) + time.monotonic() - t0

    def describe_phases(self) -> str:
        """``"rules 1.2 s, quantifier elimination 18.7 s"``: where the time went."""
        return ", ".join(f"{name} {sec:.3g} s" for name, sec in self.phases.items())

    def __repr__(self) -> str:
        left = self.remaining()
        return f"Budget(remaining={'inf' if math.isinf(left) else f'{left:.3g} s'})"
