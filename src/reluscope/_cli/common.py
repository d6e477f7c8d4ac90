"""Shared helpers of the CLI command modules."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console

from .._results import dump_json

console = Console()
err_console = Console(stderr=True)

__all__ = ["console", "err_console", "print_json"]


def print_json(value: Any) -> None:
    """Print ``value`` as strict JSON on stdout (no rich markup, so it can be piped)."""
    sys.stdout.write(dump_json(value) + "\n")
