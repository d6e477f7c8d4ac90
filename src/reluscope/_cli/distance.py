"""``reluscope distance A B``: exact sup / W^{1,inf} distance between two models on a box."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .._validation import check_choice
from .common import console, print_json, time_limit_option

__all__ = ["register"]


def _fmt(x: float) -> str:
    return "inf" if x == float("inf") else f"{x:.9g}"


def register(app: typer.Typer) -> None:
    @app.command("distance")
    def distance(
        a: Annotated[Path, typer.Argument(help="First model file (.npz, .safetensors, .pt/.pth).")],
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
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ) -> None:
        """Distance between two networks as functions on a box: max over the box and over
        outputs of |A(x) - B(x)| (and, for --norm sobolev, of the Jacobian entries of A - B).
        Prints bounds [lower, upper] (exact when equal up to solver tolerance) and a witness."""
        from ..distance import sobolev_distance, sup_distance
        from ..domain import Box
        from ..io import load

        check_choice(norm, ("sup", "sobolev"), "--norm")
        f, g = load(a), load(b)
        box = Box.parse(domain)
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
