"""``reluscope distance A B``: exact sup / W^{1,inf} distance between two models on a box."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from .._validation import check_choice
from ..errors import InvalidData
from .common import console, print_json, time_limit_option

__all__ = ["register"]


def _fmt(x: float) -> str:
    return "inf" if x == float("inf") else f"{x:.9g}"


def register(app: typer.Typer) -> None:
    @app.command("distance")
    def distance(
        a: Annotated[Path, typer.Argument(help="First model file (.npz, .safetensors, .pt/.pth, .onnx, .skops).")],
        b: Annotated[Path, typer.Argument(help="Second model file.")],
        domain: Annotated[
            str, typer.Option("--domain", help="Box LO,HI (same bounds per input) or LO1:HI1,LO2:HI2,...")
        ] = "-1,1",
        norm: Annotated[
            str, typer.Option("--norm", help="sup (uniform) or sobolev (W^{1,inf}: max of sup and gradient parts).")
        ] = "sup",
        time_limit: Annotated[float, time_limit_option("Seconds for the whole computation.")] = 30.0,
        method: Annotated[str, typer.Option("--method", help="auto, exact, sampled or enumerate (list the linear regions; for low input dimensions).")] = "auto",
        seed: Annotated[int, typer.Option("--seed", help="Seed of the sampling phase.")] = 0,
        data: Annotated[Optional[Path], typer.Option(
            "--data", help="CSV of data points (header row; a label column is ignored): the domain becomes "
                           "the union of L-inf boxes of radius --radius around them, clipped to --domain "
                           "if given explicitly.")] = None,
        label_column: Annotated[Optional[str], typer.Option(
            "--label-column", help="Label column of --data (default: a column named label/target/class/y, else the last).")] = None,
        radius: Annotated[float, typer.Option("--radius", help="Radius of the boxes around the --data points.")] = 0.02,
        epsilon: Annotated[Optional[float], typer.Option(
            "--epsilon", help="Decide whether |A - B| <= EPSILON everywhere on the domain (proved / refuted / undecided).")] = None,
        top1: Annotated[bool, typer.Option("--top1", help="Decide whether A and B pick the same class everywhere on the domain.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ) -> None:
        """Distance between two networks as functions on a box: max over the box and over
        outputs of |A(x) - B(x)| (and, for --norm sobolev, of the Jacobian entries of A - B).
        Prints bounds [lower, upper] (exact when equal up to solver tolerance) and a witness.
        With --data the domain is the union of boxes around the data points; --epsilon and
        --top1 ask the differential questions instead (per box counts)."""
        from ..distance import epsilon_equivalent, sobolev_distance, sup_distance, top1_agreement
        from ..domain import Box, PointSet
        from ..io import load
        from ..report.data import load_csv

        check_choice(norm, ("sup", "sobolev"), "--norm")
        f, g = load(a), load(b)
        box = Box.parse(domain)
        if data is not None:
            X, _, _ = load_csv(data, label_column)
            if X.shape[1] != f.input_dim:
                raise InvalidData(f"{data}: {X.shape[1]} feature columns but the models take {f.input_dim} inputs; "
                                  "give one column per model input (name the label column with --label-column)")
            within = box if domain != "-1,1" else None
            box = PointSet(X).neighbourhood(radius, within=within)
            domain = f"{len(box)} boxes of radius {radius:g} around {data.name}"
        if epsilon is not None or top1:
            verdicts = []
            if epsilon is not None:
                verdicts.append(epsilon_equivalent(f, g, box, epsilon, time_limit=time_limit, seed=seed))
            if top1:
                verdicts.append(top1_agreement(f, g, box, time_limit=time_limit, seed=seed))
            if as_json:
                print_json({"a": str(a), "b": str(b), "domain": box.to_dict(),
                            "verdicts": [v.to_dict() for v in verdicts]})
                return
            for v in verdicts:
                console.print(escape(str(v)))
            return
        if norm == "sup":
            res = sup_distance(f, g, box, method=method, time_limit=time_limit, seed=seed)
            parts = [("sup", res)]
        else:
            res = sobolev_distance(f, g, box, method=method, time_limit=time_limit, seed=seed)
            parts = [("sup part", res.sup_part), ("gradient part", res.gradient_part), ("W^{1,inf}", res)]
        if as_json:
            print_json({"a": str(a), "b": str(b), "domain": box.to_dict(), "norm": norm, **res.to_dict()})
            return
        table = Table(title=f"{escape(a.name)} vs {escape(b.name)} on {escape(domain)}")
        for col in ("quantity", "lower", "upper", "exact", "status"):
            table.add_column(col)
        for name, r in parts:
            table.add_row(name, _fmt(r.lower), _fmt(r.upper), "yes" if r.exact else "no", r.status)
        console.print(table)
        console.print(escape(str(res)))
