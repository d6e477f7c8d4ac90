"""``reluscope sweep-patterns``: decide the closedness of many random sparsity patterns."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import console, print_json, time_limit_option

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("sweep-patterns")
    def sweep_patterns(
        shape: Annotated[str, typer.Option(
            "--shape", help="MxRxN: product W_2 W_1 of an M x N matrix with R hidden units (more sizes: deeper).")] = "3x3x3",
        density: Annotated[float, typer.Option("--density", help="Probability that a weight entry is allowed.")] = 0.5,
        samples: Annotated[int, typer.Option("--samples", help="Number of random patterns.")] = 100,
        scheduler: Annotated[Optional[str], typer.Option(
            "--scheduler", help="Dask scheduler address tcp://HOST:PORT (default: local worker processes).")] = None,
        seed: Annotated[int, typer.Option("--seed", help="Pattern i is drawn from numpy default_rng with entropy (seed, i).")] = 0,
        time_limit: Annotated[float, time_limit_option("Seconds per pattern.")] = 1.0,
        workers: Annotated[Optional[int], typer.Option(
            "--workers", help="Local worker processes (default: number of CPUs).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")] = False,
        out: Annotated[Optional[Path], typer.Option(
            "-o", "--out", help="Folder for sweep.json and sweep.png.")] = None,
    ) -> None:
        """Decide closedness of L_I for random patterns: verdicts, certificates, P(not closed)."""
        from ..sparsity.sweep import sweep

        result = sweep(shape=shape, density=density, samples=samples, seed=seed, time_limit=time_limit,
                       scheduler=scheduler, workers=workers)
        paths = result.save(out) if out is not None else None
        if as_json:
            print_json(result.to_dict())
            return
        console.print(result.table())
        console.print(str(result))
        if paths is not None:
            console.print(f"wrote {paths[0]} and {paths[1]}")
