"""``reluscope check-pattern INPUT``: closedness of ``L_I`` and existence of optima for a sparsity pattern."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

import numpy as np

from ..errors import InvalidArgument, ModelFileError, ReluscopeError, UnsupportedLayer
from .common import console, print_json, time_limit_option

__all__ = ["register", "read_pattern"]

_HELP = """Does the sparsity pattern of a network admit optimal parameters?

Decides whether the linear counterpart L_I (products of factors supported on the masks) is
closed, prints the verdict, the reasoning and a checkable certificate, and the three-valued
verdict on the ReLU training problem: "no optimum guaranteed", "an optimum always exists" or
"undecided".

INPUT is one of:

* a pruned PyTorch model (.pt/.pth: state_dict with weight_mask buffers, or nn.Sequential);

* a model file with masks (.npz / .safetensors written by reluscope);

* an .npz holding only the masks (2-D 0/1 arrays, W_1 first, in key order);

* the compact text notation: layers W_1;W_2;... separated by ';', each layer its rows of
0/1 separated by '/', e.g. "10/11;11/01" (2x2 LU: W_1 lower, W_2 upper), or nested lists
"[[1,0],[1,1]];[[1,1],[0,1]]". Layer W_l has shape (N_l, N_(l-1)).

A model without masks contributes the nonzero pattern of its weights.
"""


def read_pattern(source: str) -> tuple[Any, str]:
    """The pattern named by ``source`` (file or text notation) and a description of it."""
    # the library is imported when a command runs, not when the CLI starts
    from ..sparsity import SparsityPattern

    if not source.strip():
        raise ModelFileError("empty pattern argument: pass a model file, an .npz of masks or text like '10/11;11/01'")
    path = Path(source)
    looks_like_text = all(c in "01/;[], \t\n" for c in source) or source.strip().startswith("[")
    if not path.exists():
        if looks_like_text:
            return SparsityPattern.from_text(source), "text notation"
        raise ModelFileError(f"{source}: no such file (and not a pattern in text notation, e.g. '10/11;11/01')")
    from ..io import detect_format, load
    from ..io.formats import read_mask_arrays

    fmt = detect_format(path)
    try:
        net = load(path)
    except (ModelFileError, UnsupportedLayer) as exc:
        if fmt != "npz":
            raise
        try:  # an .npz of masks only
            return SparsityPattern(read_mask_arrays(path)), f"{path} (npz of masks)"
        except ReluscopeError:
            raise exc from None  # neither a model nor masks: the model reader's error names the file
    if net.masks is not None:
        return SparsityPattern.from_network(net), f"{path} (model masks)"
    return SparsityPattern([w != 0 for w in net.weights]), f"{path} (nonzero weights; no masks in file)"


def _repair(source: str, pattern: Any, described: str, time_limit: float, output: str | None, json_output: bool,
            allow_remove: bool = False, recheckable: bool = False) -> None:
    from ..sparsity import repair, verify

    result = repair(pattern, time_limit=time_limit, allow_remove=allow_remove, recheckable=recheckable)
    written, zeroed = None, []
    if output is not None:
        if not Path(source).exists():
            raise InvalidArgument(f"--output needs a model file as INPUT, got the text pattern {source!r}")
        from ..io import load, save
        from ..network import ReLUNetwork

        net = load(source)
        if net.widths != tuple(pattern.widths):
            raise InvalidArgument(f"{source}: model widths {net.widths} do not match the pattern {pattern.widths}")
        weights = [np.array(w, dtype=float) for w in net.weights]
        zeroed = [abs(float(weights[l - 1][i, j])) for l, i, j in result.removed]
        for l, i, j in result.removed:  # removed entries: those weights become 0 in the copy
            weights[l - 1][i, j] = 0.0
        save(ReLUNetwork(weights, net.biases, masks=[np.array(m) for m in result.pattern.masks]), output)
        written = output
    valid = None if result.verdict.certificate is None else verify(result.verdict.certificate).valid
    if json_output:
        print_json({"input": described, "added": [list(e) for e in result.added],
                    "removed": [list(e) for e in result.removed], "cost": result.cost,
                    "removed_weight_abs_sum": sum(zeroed), "removed_weight_abs_max": max(zeroed, default=0.0),
                    "closed_before": result.original.closed, "closed_after": result.verdict.closed,
                    "certificate_valid": valid, "seconds": result.seconds, "note": result.note,
                    "output": written, "pattern": result.pattern.to_text() if result.pattern.n_allowed < 2000 else None})
        return
    console.print(f"[bold]pattern[/bold] widths {'x'.join(map(str, pattern.widths))} ({described})", highlight=False)
    console.print(str(result), highlight=False, markup=False)
    console.print(f"  repaired pattern: {result.verdict.reasoning}", highlight=False, markup=False)
    if valid is not None:
        console.print(f"  certificate verified independently: {valid}", highlight=False)
    if written:
        console.print(f"  wrote the repaired masks into a copy of the model: {written} (new weights start at 0)",
                      highlight=False)
    if written and result.removed:
        console.print(f"  removed weights set to 0 in the copy: sum |w| = {sum(zeroed):.4g}, max |w| = {max(zeroed):.4g} "
                      "(the network function changes; added entries do not change it)", highlight=False)


def register(app: typer.Typer) -> None:
    @app.command("check-pattern", help=_HELP)
    def check_pattern(
        input: Annotated[str, typer.Argument(help="Model file, .npz of masks, or text notation like '10/11;11/01'.")],
        time_limit: Annotated[float, time_limit_option("Seconds for the closedness decision.")] = 30.0,
        json_output: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
        defects: Annotated[
            int, typer.Option("--defects", help="List up to N localized defects (blocks of outputs x inputs) with certificates.")
        ] = 0,
        repair: Annotated[bool, typer.Option("--repair", help="Add mask entries until L_I is certified closed; print them.")] = False,
        output: Annotated[
            str | None, typer.Option("--output", help="With --repair: write a copy of the model with the repaired masks.")
        ] = None,
        allow_remove: Annotated[bool, typer.Option(
            "--allow-remove", help="With --repair: may also remove mask entries (their weights become 0) if cheaper.")] = False,
        recheckable: Annotated[bool, typer.Option(
            "--recheckable", help="With --repair: masks that check-pattern alone re-certifies (may add more entries).")] = False,
    ) -> None:
        from ..sparsity import optimum_exists

        pattern, described = read_pattern(input)
        if (output is not None or allow_remove or recheckable) and not repair:
            raise InvalidArgument("--output, --allow-remove and --recheckable need --repair")
        if repair:
            _repair(input, pattern, described, time_limit, output, json_output, allow_remove, recheckable)
            return
        if defects:
            from ..sparsity import locate_defects

            found = locate_defects(pattern, time_limit=time_limit, max_defects=defects)
            if json_output:
                print_json({"input": described, "blocks_tried": found.blocks_tried, "exhausted": found.exhausted,
                            "seconds": found.seconds,
                            "defects": [{"rows": list(d.rows), "cols": list(d.cols), "units": [list(u) for u in d.units],
                                         "entries": [list(e) for e in d.entries],
                                         "certificate": d.certificate.to_dict()} for d in found.defects]})
            else:
                console.print(str(found), highlight=False, markup=False)
            return
        result = optimum_exists(pattern, time_limit=time_limit)
        closedness = result.closedness
        if json_output:
            print_json(
                {
                    "input": described,
                    "pattern": pattern.to_text(),
                    "widths": list(pattern.widths),
                    "existence": result.status,
                    "reasoning": result.reasoning,
                    "closed": None if closedness is None else closedness.closed,
                    "closedness": None if closedness is None else closedness.to_dict(),
                    "certificate_valid": result.certificate_valid,
                    "training_points": None if result.training_inputs is None else int(result.training_inputs.shape[0]),
                    "sequence": [
                        {"eps": e, "loss": loss, "theta_norm": n} for e, loss, n in result.sequence
                    ],
                }
            )
            return
        text = pattern.to_text()
        if len(text) > 120:  # large patterns: the full text is in --json
            text = f"({pattern.n_allowed} allowed weights)"
        widths = "x".join(map(str, pattern.widths))
        console.print(f"[bold]pattern[/bold] {text} (widths {widths}; {described})", highlight=False)
        if closedness is not None:
            console.print(str(closedness), highlight=False, markup=False)
            if closedness.closed is None and pattern.n_factors >= 2:  # where the routing-cover proof fails
                from ..sparsity.region import undecided_region

                console.print(f"  {undecided_region(pattern)}", highlight=False, markup=False)
        else:
            console.print("L_I closedness: not needed for this verdict", highlight=False)
        console.print(f"[bold]training problem:[/bold] {result.status}", highlight=False)
        console.print(f"  reasoning: {result.reasoning}", highlight=False, markup=False)
        if result.training_inputs is not None:
            console.print(
                f"  training set: {result.training_inputs.shape[0]} points in general position, labels A x",
                highlight=False,
            )
        if result.sequence:
            console.print("  eps        loss          ||theta||_2", highlight=False)
            for eps, loss, norm in result.sequence:
                console.print(f"  {eps:<9.1e}  {loss:<12.4e}  {norm:.4g}", highlight=False)
        if result.certificate_valid is not None:
            console.print(f"  certificate verified independently: {result.certificate_valid}", highlight=False)
