"""CLI command ``reluscope construct``: the explicit shallow network for a CSV dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import InvalidData
from ..tabular import numeric_labels, read_labeled_csv
from .common import console, print_json

__all__ = ["register"]


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
            result = fit(X, numeric_labels(labels), cost=cost, margin=margin, affine=affine)  # type: ignore[arg-type]
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
