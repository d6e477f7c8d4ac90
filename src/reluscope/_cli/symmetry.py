"""``reluscope inspect``, ``reluscope canonicalize``, ``reluscope compare`` and ``reluscope merge``:
degeneracies, canonical forms, equivalence modulo rescaling and permutation of hidden neurons,
alignment and merging."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from .common import console, print_json, time_limit_option

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("inspect")
    def inspect(
        model: Annotated[Path, typer.Argument(help="Model file (.npz, .safetensors, .pt/.pth, .onnx, .skops).")],
        domain: Annotated[
            Optional[str], typer.Option("--domain", help="Box LO,HI (same bounds per input) or LO1:HI1,LO2:HI2,... "
                                                    "Default: the box the model file declares (NNet), else -1,1.")
        ] = None,
        time_limit: Annotated[
            float, time_limit_option("Seconds of exact MILP for the deeper layers (0: none).", allow_zero=True)
        ] = 10.0,
        show_all: Annotated[bool, typer.Option("--all", help="List every hidden neuron, not only degenerate ones.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print the full report as JSON.")] = False,
    ) -> None:
        """Degeneracy report of every hidden neuron on a box: dead, always active, zero in/out,
        parallel, opposite, unbalanced (exact statuses, or undecided within the time limit)."""
        from ..degeneracy import degeneracies
        from ..domain import Box
        from ..io import load

        net = load(model)
        declared = None if net.provenance is None else net.provenance.domain
        box = Box.parse(domain) if domain is not None else declared if declared is not None else Box.parse("-1,1")
        report = degeneracies(net, box, time_limit=time_limit)
        if as_json:
            print_json({"file": str(model), **report.to_dict()})
            return
        console.print(report.table(only_degenerate=not show_all))
        counts = report.counts
        summary = Table(title="counts", show_header=True)
        summary.add_column("status")
        summary.add_column("neurons", justify="right")
        for k, v in counts.items():
            summary.add_row(k.replace("_", " "), str(v))
        console.print(summary)
        console.print(escape(str(report)))

    @app.command("canonicalize")
    def canonicalize(
        model: Annotated[Path, typer.Argument(help="Model file (.npz, .safetensors, .pt/.pth, .onnx, .skops).")],
        output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the canonical form.")],
        as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
    ) -> None:
        """Write the canonical form of a model: balanced (minimal parameter norm over its
        rescaling orbit, dangling weights zeroed) and with hidden neurons in canonical order."""
        import numpy as np

        from ..io import load, save
        from ..symmetry import balance_result, canonical_form

        net = load(model)
        res = balance_result(net)
        canon = canonical_form(net)
        save(canon, output)
        summary = {
            "input": str(model),
            "output": str(output),
            "widths": list(canon.widths),
            "parameter_norm_before": float(np.linalg.norm(net.to_vector())),
            "parameter_norm_after": float(np.linalg.norm(canon.to_vector())),
            "balancing_sweeps": res.iterations,
            "balancing_residual": res.residual,
            "converged": res.converged,
            "zeroed": [list(z) for z in res.zeroed],
        }
        if as_json:
            print_json(summary)
            return
        console.print(
            f"canonical form of {escape(str(model))} written to {escape(str(output))}: widths {canon.widths}, "
            f"parameter norm {summary['parameter_norm_before']:.6g} -> {summary['parameter_norm_after']:.6g} "
            f"({res.iterations} balancing sweeps, residual {res.residual:.1e}"
            + ("" if res.converged else ", NOT converged") + ")"
        )
        if res.zeroed:
            console.print(f"{len(res.zeroed)} dangling neuron(s) zeroed: "
                          + ", ".join(f"layer {l} neuron {i} ({r})" for l, i, r in res.zeroed))

    @app.command("compare")
    def compare(
        a: Annotated[Path, typer.Argument(help="First model file (the reference).")],
        b: Annotated[Path, typer.Argument(help="Second model file (mapped onto the first).")],
        tol: Annotated[float, typer.Option("--tol", help="Relative tolerance on the balanced parameters.")] = 1e-8,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        show_perms: Annotated[
            int, typer.Option("--show", min=0, help="Print permutations of hidden layers up to this width.")
        ] = 32,
        output: Annotated[
            Path | None,
            typer.Option("-o", "--output", help="Write B aligned onto A (permuted and rescaled; same function as B)."),
        ] = None,
    ) -> None:
        """Are two models the same network up to permutations and positive rescalings of hidden
        neurons? Prints the verdict and the alignment (exit code 0 if equivalent, 1 if not).
        With --output, also writes B aligned onto A, equivalent or not."""
        import numpy as np

        from ..io import load, save
        from ..symmetry import align, equivalent

        net_a, net_b = load(a), load(b)
        res = equivalent(net_a, net_b, tol=tol)
        written = None
        if output is not None:
            alignment = align(net_a, net_b, tol=tol)
            save(alignment.aligned, output)
            before = float(np.linalg.norm(net_a.to_vector() - net_b.to_vector()))
            written = {"output": str(output), "distance_before": before, "distance_after": alignment.distance}
        if as_json:
            print_json({"a": str(a), "b": str(b), **res.to_dict(), **({"aligned": written} if written else {})})
        else:
            verdict = "[green]equivalent[/green]" if res else "[red]NOT equivalent[/red]"
            console.print(f"{verdict}: {escape(a.name)} vs {escape(b.name)}")
            console.print(escape(res.reason))
            if res.alignment is not None and res.permutations:
                t = Table(title=f"alignment of {escape(b.name)} onto {escape(a.name)} (permute, then rescale)")
                for col in ("hidden layer", "width", "moved", "method", "scales min", "scales max", "permutation"):
                    t.add_column(col)
                for h, (p, s, m) in enumerate(zip(res.permutations, res.scales, res.alignment.methods), start=1):
                    perm = " ".join(map(str, p.tolist())) if p.size <= show_perms else "(use --json)"
                    t.add_row(str(h), str(p.size), str(int(np.sum(p != np.arange(p.size)))), m,
                              f"{float(np.min(s)):.4g}", f"{float(np.max(s)):.4g}", perm)
                console.print(t)
            if res.alignment is not None and not res.exact_orbit:
                console.print("note: dangling neurons (zero incoming or outgoing weights) were zeroed first")
            if written is not None:
                console.print(
                    f"{escape(b.name)} aligned onto {escape(a.name)} written to {escape(str(output))} (same function "
                    f"as {escape(b.name)}): parameter distance {written['distance_before']:.6g} -> "
                    f"{written['distance_after']:.6g}"
                )
        raise typer.Exit(code=0 if res else 1)

    @app.command("merge")
    def merge_command(
        a: Annotated[Path, typer.Argument(help="First model file (the reference).")],
        b: Annotated[Path, typer.Argument(help="Second model file, aligned onto the first.")],
        output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the merged model.")],
        alpha: Annotated[float, typer.Option("--alpha", help="Weight of B: (1 - alpha) A + alpha B'.")] = 0.5,
        no_align: Annotated[
            bool, typer.Option("--no-align", help="Average the parameters as stored (naive merge).")
        ] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
    ) -> None:
        """Merge two models of the same widths: align B onto A by permutations and positive
        rescalings of hidden neurons (B's function unchanged), then write (1 - alpha) A + alpha B'."""
        from ..io import load, save
        from ..symmetry import merge

        res = merge(load(a), load(b), alpha, align=not no_align)
        save(res.network, output)
        if as_json:
            d = res.to_dict()
            d.pop("alignment")
            print_json({"a": str(a), "b": str(b), "output": str(output), **d})
            return
        console.print(escape(str(res)))
        console.print(f"written to {escape(str(output))}")
