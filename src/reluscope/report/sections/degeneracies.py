"""The "degeneracies" section: the status of every hidden neuron on the domain."""

from __future__ import annotations

from typing import Any

from ..._results import to_jsonable
from .. import figures
from .._runner import SectionContent
from ..document import Figure, Paragraph, Table, format_value
from ._context import Context

__all__ = ["build"]


def build(ctx: Context) -> SectionContent:
    """Per-neuron degeneracy statuses on the domain, counted per hidden layer."""
    from ...degeneracy import degeneracies

    report = degeneracies(ctx.net, ctx.domain, time_limit=ctx.solver_limit(0.6), seed=ctx.seed)  # the rest: its figure
    counts = {str(k): int(v) for k, v in report.counts.items()}
    per_layer = {str(k): {str(s): int(n) for s, n in v.items()} for k, v in report.counts_by_layer.items()}
    layers = list(per_layer)
    # "unbalanced" is a gauge property (a positive rescaling fixes it without changing the function),
    # not a degeneracy: it gets its own row and stays out of the chart
    rows = tuple((status, *(per_layer[layer].get(status, 0) for layer in layers), total)
                 for status, total in counts.items() if status != "unbalanced")
    unbalanced = counts.get("unbalanced", 0)
    blocks: list[Any] = [
        Paragraph("Status of every hidden neuron on the domain: dead (never active), always active "
                  "(affine on the domain), zero incoming or outgoing weights, parallel or opposite to "
                  "another neuron of its layer. First hidden layer on a box: exact interval arithmetic; "
                  "deeper layers: LP/MILP bounds on HiGHS."),
        Table(("degeneracy", *layers, "total"), rows),
        Paragraph(f"{len(report.neurons)} hidden neurons, {report.n_degenerate} with at least one "
                  "degeneracy; "
                  + ("every status is exact." if report.exact else
                     f"{counts.get('undecided', 0)} neuron(s) undecided within the time limit "
                     "(dead / always-active open: only valid bounds were found).")),
        Table(("not a degeneracy", *layers, "total"),
              (("unbalanced", *(per_layer[layer].get("unbalanced", 0) for layer in layers), unbalanced),),
              caption="Unbalanced: incoming and outgoing weight norms differ. A positive rescaling (balancing, "
                      "see the canonical-form section) removes it without changing the function; almost every "
                      "neuron of a trained network is unbalanced."),
    ]
    chart = {layer: {k: v for k, v in c.items() if k != "unbalanced"} for layer, c in per_layer.items()}
    path = figures.status_bars(chart, ctx.figure("degeneracies.png"), "Hidden neurons per degeneracy status")
    blocks.append(Figure(path.name, "Number of hidden neurons per degeneracy status and hidden layer "
                                    "(unbalanced, a gauge property, not shown)."))
    listed = [s for s in report.neurons if [lab for lab in s.labels if not lab.startswith("unbalanced")]]
    if listed:
        shown = listed[:60]
        blocks.append(Table(
            ("hidden layer", "neuron", "pre-activation range on the domain", "statuses"),
            tuple((s.layer, s.neuron,
                   f"[{format_value(s.pre_min, 4)}{'' if s.exact_min else '*'}, "
                   f"{format_value(s.pre_max, 4)}{'' if s.exact_max else '*'}]",
                   "; ".join(s.labels)) for s in shown),
            caption="Degenerate neurons (* = valid bound, not attained)"
                    + (f"; first {len(shown)} of {len(listed)}" if len(listed) > len(shown) else "")))
    status, reason = ("ok", "") if report.exact else (
        "partial", f"{counts.get('undecided', 0)} neuron status(es) undecided within the time given to this section")
    return SectionContent(blocks, {"counts": counts, "counts_by_layer": per_layer, "exact": bool(report.exact),
                                   "n_degenerate": int(report.n_degenerate),
                                   "report": to_jsonable(report)}, status, reason)
