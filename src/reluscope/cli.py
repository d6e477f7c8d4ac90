"""The ``reluscope`` command line (Typer + rich).

Commands live in small modules under ``reluscope._cli`` (one per topic), each with a
``register(app)`` function, so the CLI stays a thin layer over the API. Any
:class:`~reluscope.errors.ReluscopeError` becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from typing import Annotated, Any

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
    "verify",
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
    """Entry point: run the app, turning library errors and command-line usage errors
    (unknown option, unparsable value, missing argument) into one line and exit code 2."""
    try:  # typer >= 0.2x runs on its vendored copy of click
        from typer._click import exceptions as click_exc
    except ImportError:  # pragma: no cover
        from click import exceptions as click_exc
    no_args = getattr(click_exc, "NoArgsIsHelpError", ())

    # third-party warnings (torch's pickle and storage notices, NumPy RuntimeWarnings on
    # extreme values, scikit-learn's convergence notes) are recorded, not printed: the
    # command's output and its one-line errors are what the user reads
    with warnings.catch_warnings(record=True):
        _run(no_args, click_exc)


def _run(no_args: Any, click_exc: Any) -> None:
    try:
        code = app(standalone_mode=False)
    except no_args as exc:  # bare `reluscope`: the help text, exit 2 as before
        exc.show()
        sys.exit(2)
    except click_exc.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "reluscope"
        message = " ".join(exc.format_message().split())
        sys.stderr.write(f"error: {message} (see '{where} --help')\n")
        sys.exit(2)
    except click_exc.ClickException as exc:
        sys.stderr.write(f"error: {' '.join(exc.format_message().split())}\n")
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("aborted\n")
        sys.exit(1)
    except ReluscopeError as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
