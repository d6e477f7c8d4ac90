"""CLI commands ``reluscope analyze`` and ``reluscope reproduce`` (the main job)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..errors import InvalidArgument, InvalidData
from ..report.analysis import SECTION_KEYS, check_sections
from .common import console, time_limit_option


def _example(name: str) -> tuple[Any, str]:
    """A bundled example model and how the report names it, from reluscope.io."""
    from ..io import example_info, load_example

    description = example_info(name).get("description", "")
    return load_example(name), f"the bundled example {name}" + (f" ({description})" if description else "")


def _list_examples() -> None:
    from ..io import example_info, example_names

    for name in example_names():
        console.print(f"{name}: {example_info(name).get('description', '')}", markup=False, highlight=False,
                      soft_wrap=True)


def register(app: typer.Typer) -> None:
    @app.command("analyze")
    def analyze_command(
        model: Annotated[Optional[Path], typer.Argument(
            help="Model file (.safetensors, .npz, .pt/.pth, .onnx, .skops). Default: the bundled example "
                 "pruned_mlp (a pruned MLP trained on a scikit-learn dataset), analyzed with its dataset.")] = None,
        example: Annotated[Optional[str], typer.Option(
            "--example", help="Analyze a bundled example (with its dataset) instead of a file; "
                              "see --list-examples.")] = None,
        list_examples: Annotated[bool, typer.Option(
            "--list-examples", help="List the bundled examples and exit.")] = False,
        data: Annotated[Optional[Path], typer.Option(
            "--data", help="CSV file with a header row: features plus a label column.")] = None,
        label_column: Annotated[Optional[str], typer.Option(
            "--label-column", help="Name of the label column of --data (default: a column named label, "
                                   "target, class or y, else the last column).")] = None,
        domain: Annotated[Optional[str], typer.Option(
            "--domain", help="Box LO,HI for every input coordinate. Default: the data's bounding "
                             "box with data, else the box the model file declares (NNet), else [-1,1]^d.")] = None,
        out: Annotated[Path, typer.Option("-o", "--out", help="Report folder.")] = Path("reluscope-report"),
        time_limit: Annotated[float, time_limit_option(
            "Seconds for the whole run: the sections share them (each gets a share of what is left, weighted by its cost; "
            "a solver that reaches its share reports bounds / undecided).")] = 60.0,
        seed: Annotated[int, typer.Option("--seed", help="Seed of sampling and data splits.")] = 0,
        sections: Annotated[Optional[str], typer.Option(
            "--sections", help=f"Comma-separated subset of: {', '.join(SECTION_KEYS)} (default: all).")] = None,
    ) -> None:
        """Analyze a network and write report.md, report.html and PNG figures.

        Sections: degeneracies, reduction, canonical form, Lipschitz constant and distances
        (time-limited, bounds otherwise), sparsity verdict, activation patterns and, with
        data, the constructive baseline.
        """
        started = time.perf_counter()  # --time-limit covers reading the model and data too
        from ..domain import Box
        from ..report import analyze
        from ..report.data import load_csv

        if list_examples:
            _list_examples()
            return
        keys = None if sections is None else check_sections(  # before anything is loaded or written
            [k.strip() for k in sections.split(",") if k.strip()], f"--sections {sections!r}: ")
        if model is not None and example is not None:
            raise InvalidArgument("give a MODEL file or --example NAME, not both")
        X = y = held_out = None
        name = example or "pruned_mlp"
        if model is None:
            from ..io import example_dataset, example_test_mask

            net, source = _example(name)
            if data is None:
                X, y = example_dataset(name)
                held_out = example_test_mask(name)
        else:
            from ..io import load

            net, source = load(model), str(model)
        if data is not None:
            X, y, _ = load_csv(data, label_column or None)
        elif label_column:
            raise InvalidData("--label-column given without --data")
        dom = Box.parse(domain) if domain else None
        title = f"reluscope analysis of {f'the bundled example ({name})' if model is None else model.name}"
        report = analyze(net, out, domain=dom, X=X, y=y, held_out=held_out, time_limit=time_limit, seed=seed, title=title,
                         total_time_limit=max(time_limit - (time.perf_counter() - started), 0.05 * time_limit),
                         source=source, sections=keys, data_source=None if data is None else str(data))
        console.print(f"[bold]reluscope analyze[/bold] {source}", soft_wrap=True)
        for key, value in report.summary.items():
            console.print(f"  {key}: {value}", markup=False, highlight=False, soft_wrap=True)
        for key, info in report.sections.items():
            if info["status"] == "not computed":
                console.print(f"  {key}: not computed: {info.get('reason', '')}", markup=False, highlight=False, soft_wrap=True)
        console.print(f"report: {report.html}  (also {report.markdown.name}, {report.json.name}, "
                      f"{len(report.figures)} figure(s))", markup=False, highlight=False, soft_wrap=True)

    @app.command("reproduce")
    def reproduce_command(
        name: Annotated[str, typer.Argument(help="Experiment name, or 'all'.")] = "all",
        quick: Annotated[bool, typer.Option("--quick", help="Small configurations (CI).")] = False,
        out: Annotated[Path, typer.Option("-o", "--out", help="Report folder.")] = Path("reluscope-reproduce"),
        seed: Annotated[int, typer.Option("--seed", help="Seed passed to every experiment.")] = 0,
        list_only: Annotated[bool, typer.Option("--list", help="List the registered experiments and exit.")] = False,
    ) -> None:
        """Run registered experiments (figures + JSON numbers each) and write a combined report."""
        from .. import experiments
        from ..report import reproduce

        if list_only:
            for experiment_name in experiments.names():
                experiment = experiments.get(experiment_name)
                src = experiment.source
                reproduces = "source not declared" if src is None else f"{src.paper.cite()}; {src.part}"
                published = "no published value" if src is None or not src.published else \
                    f"{len(src.published)} published value(s)"
                console.print(f"{experiment_name}: {experiment.description}\n  reproduces: {reproduces}\n"
                              f"  compared against: {published}", markup=False, highlight=False, soft_wrap=True)
            return
        report = reproduce(name, out, quick=quick, seed=seed)
        console.print(str(report), markup=False, highlight=False, soft_wrap=True)
        if any(info["status"] != "ok" for info in report.experiments.values()):
            raise typer.Exit(1)
