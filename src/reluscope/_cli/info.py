"""``reluscope info [MODEL] [--json]``: the architecture of a model file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import InvalidArgument
from ..network import ReLUNetwork
from .common import console, print_json

__all__ = ["architecture", "provenance_lines", "register"]


def provenance_lines(net: ReLUNetwork) -> list[str]:
    """What :attr:`~reluscope.ReLUNetwork.provenance` says, one sentence a line: the source
    format, the inferred-architecture statement, the foldings and dropped output maps."""
    prov = net.provenance
    if prov is None:
        return []
    lines = [f"source format: {prov.format}" + (f" ({prov.source})" if prov.source else "")]
    if prov.inferred:
        lines.append(prov.inferred)
    lines.extend(prov.notes)
    return lines


def architecture(net: ReLUNetwork) -> dict[str, Any]:
    """Architecture summary of ``net``: widths, parameter counts and per-layer sparsity.

    Per layer ``i`` (0-based, as in ``net.weights[i]``): weight shape, number of
    parameters (weights + biases), nonzero weights, weight sparsity (fraction of zero
    weights), and the mask's density (fraction of allowed weights; ``None`` when the
    network has no masks).
    """
    layers = []
    for i, (w, b) in enumerate(net.layers()):
        nonzero = int((w != 0).sum())
        mask_density = None if net.masks is None else float(net.masks[i].mean())
        layers.append(
            {
                "layer": i,
                "shape": [int(w.shape[0]), int(w.shape[1])],
                "parameters": int(w.size + b.size),
                "nonzero_weights": nonzero,
                "weight_sparsity": 1.0 - nonzero / w.size,
                "mask_density": mask_density,
                "mask_allowed": None if net.masks is None else int(net.masks[i].sum()),
                "activation": "relu" if i < net.depth - 1 else "identity",
            }
        )
    return {
        "widths": list(net.widths),
        "depth": net.depth,
        "input_dim": net.input_dim,
        "output_dim": net.output_dim,
        "hidden_widths": list(net.hidden_widths),
        "parameters": net.n_parameters,
        "free_parameters": net.n_free_parameters,
        "nonzero_parameters": int(sum(int((w != 0).sum()) + int((b != 0).sum()) for w, b in net.layers())),
        "masked": net.masks is not None,
        "layers": layers,
    }


def register(app: typer.Typer) -> None:
    @app.command("info")
    def info(
        model: Annotated[
            Optional[Path],
            typer.Argument(help="Model file (.npz, .safetensors, .pt/.pth, .onnx, .skops, .nnet). Default: the bundled "
                                "example."),
        ] = None,
        example: Annotated[Optional[str], typer.Option(
            "--example", help="A bundled example by name (see `reluscope analyze --list-examples`).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    ) -> None:
        """Print a model's architecture: widths, parameter counts, per-layer sparsity and masks,
        the source format, the input domain the file declares (NNet min/max box) and what was
        inferred or folded while reading it (e.g. an NNet file's normalization)."""
        from ..io import detect_format, example_info, example_path, load

        if model is not None and example is not None:
            raise InvalidArgument("give a MODEL file or --example NAME, not both")
        bundled = model is None
        name = example or "pruned_mlp"
        path = example_path(name) if bundled else model
        net = load(path)
        domain = None if net.provenance is None else net.provenance.domain
        summary = {"file": str(path), "format": detect_format(path), **architecture(net),
                   "domain": None if domain is None else {"lo": domain.lo.tolist(), "hi": domain.hi.tolist()},
                   "provenance": provenance_lines(net)}
        if bundled:
            summary["example"] = example_info(name)
        if as_json:
            print_json(summary)
            return
        title = f"{escape(path.name)}  ({summary['format']})" + ("  - bundled example" if bundled else "")
        table = Table(title=title)
        for col in ("layer", "shape", "params", "nonzero", "sparsity", "mask", "then"):
            table.add_column(col, justify="left" if col == "then" else "right", no_wrap=True)
        for row in summary["layers"]:
            table.add_row(
                str(row["layer"]),
                f"({row['shape'][0]}, {row['shape'][1]})",
                str(row["parameters"]),
                str(row["nonzero_weights"]),
                f"{row['weight_sparsity']:.1%}",
                "dense" if row["mask_density"] is None else f"{row['mask_density']:.1%}",
                row["activation"],
            )
        table.caption = "shape = (out, in); sparsity = zero weights; mask = allowed weights; then = activation"
        console.print(table)
        console.print(
            f"widths {tuple(summary['widths'])}  depth {summary['depth']}  parameters {summary['parameters']}  "
            f"free {summary['free_parameters']}  nonzero {summary['nonzero_parameters']}"
            + ("  (masked)" if summary["masked"] else "")
        )
        if domain is not None:
            console.print(f"default domain (from the file): {domain!r}", markup=False, highlight=False,
                          soft_wrap=True)
        for line in summary["provenance"]:
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        if bundled:
            ex = summary["example"]
            console.print(f"example: {escape(ex.get('description', ''))}")
