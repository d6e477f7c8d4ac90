"""``reproduce(names, ...)``: run registered experiments and write one combined report.

Each experiment writes its figures and its numbers (JSON) into ``out_dir/<name>/``. The
combined ``out_dir/report.md`` and ``out_dir/report.html`` lead with one table: for every
experiment, the paper and the part of it reproduced, each published value, the measured
value, the tolerance and the verdict (match / mismatch / not measured / no published value;
:mod:`reluscope.experiments.sources`). Each experiment's section then shows its source, its
summary and its figures, and links its numbers file (raw JSON is linked, not inlined). An
experiment that fails is reported as not computed with its reason; the others still run.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._budget import Budget
from .._progress import track
from .._results import ResultMixin, dump_json, to_jsonable, make_out_dir
from .._validation import check_int, check_time_limit
from ..errors import ReluscopeError
from ..experiments.sources import source_of, verdicts
from ._runner import SectionContent, run_section
from .document import Document, Figure, Link, Paragraph, Table, format_value

VERDICT_COLUMNS = ("experiment", "quantity", "published", "measured", "tolerance", "verdict")

__all__ = ["ReproduceReport", "reproduce"]


@dataclasses.dataclass(frozen=True)
class ReproduceReport(ResultMixin):
    """What :func:`reproduce` wrote: the combined report and each experiment's outcome."""

    out_dir: Path
    markdown: Path
    html: Path
    json: Path
    experiments: dict[str, dict[str, Any]]
    quick: bool
    seconds: float

    def __str__(self) -> str:
        lines = [f"reproduced {len(self.experiments)} experiment(s) ({'quick' if self.quick else 'full'}, "
                 f"{self.seconds:.1f} s) into {self.out_dir}"]
        for name, info in self.experiments.items():
            lines.append(f"  {name}: reproduces {info.get('source', 'source not declared')}")
            if info["status"] == "ok":
                lines.append(f"    {len(info['figures'])} figure(s), numbers {info['numbers']}")
            else:
                lines.append(f"    not computed: {info.get('reason', '')}")
            for v in info.get("verdicts", []):
                if v["verdict"] == "no published value":
                    lines.append("    verdict: no published value")
                else:
                    lines.append(f"    {v['verdict']}: {v['quantity']}: published {v['published']:.4g}, measured "
                                 + ("–" if v["measured"] is None else f"{v['measured']:.4g}") + f" ({v['tolerance']})")
        lines.append(f"  report: {self.html}")
        return "\n".join(lines)


def _relative(path: Path | str, root: Path) -> str:
    p = Path(path)
    try:
        return p.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return p.as_posix()


def _source_blocks(name: str) -> list[Any]:
    source = source_of(name)
    if source is None:
        return [Paragraph("Source: not declared.")]
    blocks: list[Any] = [Paragraph(f"Source: {source.paper.cite()}. Reproduces: {source.part}.")]
    if source.note:
        blocks.append(Paragraph(f"Note: {source.note.rstrip('.')}."))
    return blocks


def _verdict_row(row: tuple[Any, ...]) -> tuple[str, ...]:
    experiment, quantity, published, measured, tolerance, verdict = row
    fmt = lambda v: "–" if v is None else f"{v:.4g}"  # noqa: E731
    return (experiment, quantity, fmt(published), fmt(measured), tolerance, verdict)


def _summary_rows(summary: dict[str, Any]) -> list[tuple[str, Any]]:
    rows = []
    for key, value in summary.items():
        if isinstance(value, (dict, list, tuple)):
            text = json.dumps(to_jsonable(value))
            value = text if len(text) <= 300 else text[:300] + "…"
        rows.append((str(key), value))
    return rows


def reproduce(
    names: str | Sequence[str] = "all",
    out_dir: str | Path = "reluscope-reproduce",
    *,
    quick: bool = False,
    seed: int = 0,
    timeout: float | None = None,
    quiet: bool | None = None,
) -> ReproduceReport:
    """Run registered experiments and write a combined report.

    Parameters
    ----------
    names : "all", a name, or a sequence of names
        Experiments to run (see :func:`reluscope.experiments.names`).
    out_dir : path
        Folder of the combined report; each experiment writes into ``out_dir/<name>/``.
    quick : bool
        Small configurations (the ones CI runs).
    seed : int
        Seed passed to every experiment.
    timeout : float, optional
        Wall-clock seconds per experiment; one still running then is stopped and reported
        as not computed (see :mod:`reluscope.report._runner`).
    quiet : bool, optional
        Force the progress bar off or on (default: on a terminal only).

    Returns
    -------
    ReproduceReport
    """
    from .. import experiments

    start = time.perf_counter()
    known = experiments.names()
    if isinstance(names, str):
        selected = list(known) if names == "all" else [names]
    else:
        selected = list(names)
    for name in selected:
        experiments.get(name)  # raises ReluscopeError naming the unknown experiment
    if not selected:
        raise ReluscopeError("no experiments are registered")
    seed = check_int(seed, "seed")
    timeout = check_time_limit(timeout, "timeout", allow_none=True)
    out = make_out_dir(out_dir)

    outcomes = []
    info: dict[str, dict[str, Any]] = {}
    for name in track(selected, quiet=quiet, label=lambda n: f"reproduce: {n}"):
        experiment = experiments.get(name)

        def body(name: str = name, description: str = experiment.description) -> SectionContent:
            result = experiments.run(name, out, quick=quick, seed=seed)
            figures = [Path(f) for f in result.figures]
            missing = [str(f) for f in figures if not Path(f).exists()]
            if missing:
                raise ReluscopeError(f"experiment {name} reported figures that do not exist: {missing}")
            numbers_rel = _relative(result.numbers, out)
            if not Path(result.numbers).is_file():
                raise ReluscopeError(f"experiment {name}: numbers file {result.numbers} was not written")
            found = verdicts(name, result.numbers, result.summary)
            blocks: list[Any] = [Paragraph(description), *_source_blocks(name),
                                 Paragraph(f"Configuration: {'quick' if result.quick else 'full'}; "
                                           f"seed {seed}; {result.seconds:.1f} s."),
                                 Table(VERDICT_COLUMNS[1:] + ("published in",),
                                       tuple(v.row()[1:] + (v.where,) for v in found))]
            if result.summary:
                blocks.append(Table(("result", "value"), tuple(_summary_rows(result.summary))))
            for fig in figures:
                blocks.append(Figure(_relative(fig, out), f"{name}: {fig.name}"))
            blocks.append(Link(numbers_rel, f"Numbers of {name} (JSON): {numbers_rel}"))
            data = {"figures": [_relative(f, out) for f in figures], "numbers": numbers_rel,
                    "summary": to_jsonable(result.summary), "seconds": result.seconds, "quick": result.quick,
                    "verdicts": [dataclasses.asdict(v) for v in found]}
            return SectionContent(blocks, data)

        outcome = run_section(name, name, body, None if timeout is None else Budget.start(timeout))
        outcomes.append(outcome)
        source = source_of(name)
        info[name] = {**outcome.data, "status": outcome.status,
                      "source": "source not declared" if source is None else f"{source.paper.cite()}: {source.part}"}
        if outcome.status != "ok":
            info[name].setdefault("figures", [])
            info[name]["verdicts"] = [dataclasses.asdict(v) for v in verdicts(name, None)]

    verdict_rows = tuple(tuple(v.values())[:6] for name in info for v in info[name]["verdicts"])
    rows = tuple((o.key, o.status, format_value(o.data.get("seconds", o.seconds), 3),
                  len(o.data.get("figures", [])), o.data.get("numbers", o.reason)) for o in outcomes)
    intro = (
        Paragraph(f"Reproduced experiments ({'quick' if quick else 'full'} configurations, seed {seed}). "
                  "Published values against this run (a quick run may stop before a published iteration: "
                  "'not measured'):"),
        Table(VERDICT_COLUMNS, tuple(_verdict_row(r) for r in verdict_rows)),
        Table(("experiment", "reproduces"), tuple((n, info[n]["source"]) for n in info)),
        Table(("experiment", "status", "seconds", "figures", "numbers / reason"), rows),
    )
    doc = Document("reluscope reproduce", tuple(o.section for o in outcomes), intro)
    md_path, html_path, json_path = out / "report.md", out / "report.html", out / "report.json"
    md_path.write_text(doc.to_markdown())
    html_path.write_text(doc.to_html())
    seconds = time.perf_counter() - start
    dump_json({"quick": quick, "seed": seed, "experiments": info, "seconds": seconds}, json_path)
    return ReproduceReport(out, md_path, html_path, json_path, info, quick, seconds)
