"""Shared helpers of the CLI command modules."""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.console import Console

from .._results import dump_json
from .._validation import check_time_limit

console = Console()
err_console = Console(stderr=True)

__all__ = ["console", "err_console", "print_json", "time_limit_option"]


def print_json(value: Any) -> None:
    """Print ``value`` as strict JSON on stdout (no rich markup, so it can be piped)."""
    sys.stdout.write(dump_json(value) + "\n")


def time_limit_option(help: str, *, allow_zero: bool = False) -> Any:
    """The ``--time-limit`` option of every command, checked while the command line is
    parsed by :func:`~reluscope._validation.check_time_limit`: a bad value gets the same
    one-line error and exit code 2 in every command, before any work starts.

    Use as ``time_limit: Annotated[float, time_limit_option("Seconds ...")] = 30.0``;
    ``allow_zero=True`` where ``0`` means "skip the time-limited part".
    """
    def check(value: float) -> float | None:
        return check_time_limit(value, allow_zero=allow_zero)

    return typer.Option("--time-limit", help=help, callback=check)
