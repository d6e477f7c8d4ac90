"""``reluscope verify MODEL SPEC.vnnlib [SPEC ...]`` and ``reluscope verify --instances CSV``:
properties in the VNN-LIB format, answered ``holds``, ``violated`` (with the counterexample,
re-checked on the network in float64) or ``unknown``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import numpy as np
import typer

from .._validation import check_time_limit
from ..errors import InvalidArgument
from .common import console, print_json

__all__ = ["register"]


def _time_limit(value: Optional[float]) -> Optional[float]:
    return None if value is None else check_time_limit(value, "--time-limit")


def _vector(x: np.ndarray) -> str:
    """Every value exactly (shortest round-trip digits); long vectors shortened (--json has all)."""
    v = [repr(float(t)) for t in np.ravel(x)]
    if len(v) <= 24:
        return "[" + ", ".join(v) + "]"
    return "[" + ", ".join(v[:8]) + ", ..., " + ", ".join(v[-4:]) + f"] ({len(v)} values; all with --json)"


def _print_single(outcome: Any) -> None:
    """First word: the result; then, for ``violated``, the counterexample and its output."""
    head = f"{outcome.result}  ({outcome.spec} on {outcome.model}, {outcome.seconds:.2f} s"
    console.print(head + f", time limit {outcome.time_limit:g} s)", markup=False, highlight=False, soft_wrap=True)
    if outcome.result == "violated":
        console.print(f"counterexample x = {_vector(outcome.counterexample)}", markup=False, highlight=False,
                      soft_wrap=True)
        console.print(f"f(x) = {_vector(outcome.output)}", markup=False, highlight=False, soft_wrap=True)
        console.print("checked: x lies in the property's input box and f(x) in an unsafe set "
                      "(re-evaluated on the network in float64)", markup=False, highlight=False, soft_wrap=True)
    note = outcome.details.get("note") if isinstance(outcome.details, dict) else None
    if note:
        console.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)


def _single_dict(outcome: Any) -> dict[str, Any]:
    d = outcome.to_dict()
    return {"result": d.pop("result"), **d}


def register(app: typer.Typer) -> None:
    @app.command("verify")
    def verify_command(
        model: Annotated[Optional[Path], typer.Argument(
            help="Model file (.onnx, .nnet, .npz, .safetensors, .pt/.pth, .skops).", show_default=False)] = None,
        specs: Annotated[Optional[list[Path]], typer.Argument(
            help="One or more VNN-LIB property files (.vnnlib or .vnnlib.gz).", show_default=False)] = None,
        instances: Annotated[Optional[Path], typer.Option(
            "--instances", help="A VNN-COMP instances CSV (model,property,timeout per row, paths relative to "
                                "the CSV) instead of MODEL SPEC.")] = None,
        time_limit: Annotated[Optional[float], typer.Option(
            "--time-limit", callback=_time_limit,
            help="Seconds per property (default: the CSV's timeouts with --instances, else 60).")] = None,
        scheduler: Annotated[Optional[str], typer.Option(
            "--scheduler", help="Dask scheduler address tcp://HOST:PORT for many properties "
                                "(default: local worker processes).")] = None,
        workers: Annotated[Optional[int], typer.Option(
            "--workers", help="Local worker processes for many properties (default: number of CPUs).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ) -> None:
        """Verify properties in the VNN-LIB format. The first word printed is the answer:
        holds (proved for every input in the property's box), violated (a counterexample
        follows, re-checked on the network in float64) or unknown (the time limit was used
        up). With several properties or --instances, one such line per property, run in
        local processes or on a Dask cluster (--scheduler)."""
        from ..io import load
        from ..io.vnnlib import load_vnnlib
        from ..verification import verify
        from ..verify_jobs import DEFAULT_TIME_LIMIT, jobs_from, outcome_of, read_instances, verify_many

        if instances is not None and (model is not None or specs):
            raise InvalidArgument("give MODEL SPEC... or --instances CSV, not both")
        if instances is None and (model is None or not specs):
            raise InvalidArgument("give a MODEL and at least one SPEC.vnnlib (or --instances CSV)")
        if instances is None and len(specs) == 1 and scheduler is None:  # one property: in this process
            net = load(model)
            spec = load_vnnlib(specs[0], n_inputs=net.input_dim, n_outputs=net.output_dim)
            limit = DEFAULT_TIME_LIMIT if time_limit is None else time_limit
            outcome = outcome_of(net, spec, verify(net, spec, time_limit=limit), model.name, specs[0].name, limit)
            if as_json:
                print_json(_single_dict(outcome))
            else:
                _print_single(outcome)
            return
        if instances is not None:
            jobs = read_instances(instances)
            if time_limit is not None:
                jobs = [type(j)(j.model, j.spec, time_limit) for j in jobs]
        else:
            jobs = jobs_from(model, specs, time_limit)
        result = verify_many(jobs, time_limit=time_limit, scheduler=scheduler, workers=workers,
                             quiet=True if as_json else None)
        if as_json:
            print_json(result.to_dict())
            return
        for outcome in result.outcomes:
            console.print(str(outcome), markup=False, highlight=False, soft_wrap=True)
            if outcome.result == "violated":
                console.print(f"  counterexample x = {_vector(outcome.counterexample)} (checked)", markup=False,
                              highlight=False, soft_wrap=True)
        console.print(str(result), markup=False, highlight=False)
