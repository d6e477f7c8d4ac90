"""The ``reluscope`` command line (Typer + rich).

Commands live in small modules under ``reluscope._cli`` (one per topic), each with a
``register(app)`` function, so the CLI stays a thin layer over the API. Any
:class:`~reluscope.errors.ReluscopeError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated

import typer

from . import __version__
from .errors import ReluscopeError

# topic modules under reluscope._cli, each defining register(app)
_COMMAND_MODULES: list[str] = [
    "sparsity",
    "info",
    "report",
    "constructive",
    "symmetry",
    "sweep",
    "distance",
]

app = typer.Typer(
    name="reluscope",
    help="Geometry of ReLU network parametrizations: degeneracy, equivalence, exact distances, "
    "sparse existence of optima, constructive shallow networks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"reluscope {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """reluscope command line."""


for _module in _COMMAND_MODULES:
    importlib.import_module(f"reluscope._cli.{_module}").register(app)


def main() -> None:
    """Entry point: run the app, turning library errors into one line and exit code 2."""
    try:
        app()
    except ReluscopeError as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
