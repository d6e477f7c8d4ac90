"""CLI command ``reluscope construct``: the explicit shallow network for a CSV dataset."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..errors import InvalidData
from .common import console, print_json

__all__ = ["register", "read_labeled_csv"]


def read_labeled_csv(path: Path, label_column: str) -> tuple[Any, list[str], list[str]]:
    """Read a CSV with a header row: returns ``(X (n, M) float array, labels, feature names)``.

    Raises
    ------
    InvalidData
        Missing/unreadable file, no header, unknown label column, ragged rows, non-numeric
        or non-finite feature values (the message names the file, row and column).
    """
    import numpy as np

    if path.is_dir():
        raise InvalidData(f"{path}: is a directory, not a CSV data file")
    if not path.is_file():
        raise InvalidData(f"{path}: no such data file")
    try:
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidData(f"{path}: cannot read as CSV: {exc}") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise InvalidData(f"{path}: empty file (expected a header row and data rows)")
    header = [h.strip() for h in rows[0]]
    if label_column not in header:
        raise InvalidData(f"{path}: no column named {label_column!r}; columns are {', '.join(header)}")
    if len(rows) < 2:
        raise InvalidData(f"{path}: header only, no data rows")
    li = header.index(label_column)
    features = [h for k, h in enumerate(header) if k != li]
    if not features:
        raise InvalidData(f"{path}: no feature columns besides the label column {label_column!r}")
    X = np.empty((len(rows) - 1, len(features)))
    labels: list[str] = []
    for r, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise InvalidData(f"{path}: line {r} has {len(row)} fields but the header has {len(header)}")
        if not row[li].strip():
            raise InvalidData(f"{path}: line {r}, column {label_column!r}: empty label")
        labels.append(row[li].strip())
        values = [cell for k, cell in enumerate(row) if k != li]
        for c, (name, cell) in enumerate(zip(features, values)):
            try:
                v = float(cell)
            except ValueError:
                raise InvalidData(f"{path}: line {r}, column {name!r}: non-numeric feature value {cell.strip()!r}") from None
            if not math.isfinite(v):
                raise InvalidData(f"{path}: line {r}, column {name!r}: non-finite feature value {cell.strip()!r}")
            X[r - 2, c] = v
    return X, labels, features


def _numeric_labels(labels: list[str]) -> list[Any]:
    """Labels as ints when all are integers (so '10' sorts after '9'), else strings."""
    try:
        return [int(v) for v in labels]
    except ValueError:
        return labels


def register(app: typer.Typer) -> None:
    @app.command("construct")
    def construct_command(
        data: Annotated[Path, typer.Argument(help="CSV file with a header row: feature columns plus a label column.")],
        label_column: Annotated[str, typer.Option("--label-column", help="Name of the label column.")],
        out: Annotated[Optional[Path], typer.Option(
            "-o", "--out", help="Write the network here (.safetensors, .npz or .pt).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the numbers as JSON.")] = False,
        cost: Annotated[str, typer.Option(
            "--cost", help="balanced: sqrt(sum_j (1/N_j) sum_i |f(x)-y_j|^2); mean: mean squared error.")] = "balanced",
        affine: Annotated[bool, typer.Option(
            "--affine/--no-affine",
            help="Lift inputs to (x, 1) (needs classes <= features + 1); --no-affine is the plain "
                 "linear construction (needs classes <= features).")] = True,
        margin: Annotated[float, typer.Option("--margin", help="Smallest hidden pre-activation on the data.")] = 1.0,
    ) -> None:
        """Build the explicit shallow ReLU network (no gradient descent) for a labelled CSV.

        Prints delta_P (noise-to-signal ratio), the training cost, its upper bound and the
        training accuracy; saves the network with -o.
        """
        from ..constructive import fit

        X, labels, features = read_labeled_csv(data, label_column)
        try:
            result = fit(X, _numeric_labels(labels), cost=cost, margin=margin, affine=affine)  # type: ignore[arg-type]
        except InvalidData as exc:
            # the library speaks of X and y; the user knows the file and the label column
            raise InvalidData(f"{data} (label column {label_column!r}): {exc}") from None
        if out is not None:
            from ..io import save

            save(result.network, out)
        summary = {
            "data": str(data),
            "n_samples": int(X.shape[0]),
            "n_features": int(X.shape[1]),
            "classes": list(result.classes),
            "affine": result.affine,
            "delta_P": result.delta_P,
            "cost_kind": result.cost_kind,
            "cost": result.cost,
            "upper_bound": result.upper_bound,
            "balanced_cost": result.balanced_cost,
            "mean_squared_error": result.mean_cost,
            "training_accuracy": result.training_accuracy,
            "network_widths": list(result.network.widths),
            "saved": str(out) if out is not None else None,
        }
        if as_json:
            print_json(summary)
            return
        from rich.table import Table

        table = Table(title=f"constructive network for {data.name}", show_header=False)
        table.add_row("samples x features", f"{X.shape[0]} x {X.shape[1]}")
        table.add_row("classes", f"{len(result.classes)}")
        table.add_row("network widths", " -> ".join(map(str, result.network.widths)))
        table.add_row("delta_P", f"{result.delta_P:.6g}")
        table.add_row(f"cost ({result.cost_kind})", f"{result.cost:.6g}")
        table.add_row("upper bound", f"{result.upper_bound:.6g}")
        table.add_row("training accuracy", f"{result.training_accuracy:.4f}")
        if out is not None:
            table.add_row("saved", str(out))
        console.print(table)
