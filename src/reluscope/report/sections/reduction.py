"""The "reduction" section: the smaller network with the same realization, checked by the sup distance."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._budget import OutOfTime
from ...domain import Box
from ...errors import ReluscopeError
from .._runner import SectionContent
from ..document import Code, Paragraph, Table, format_value
from ._context import Context, sample
from ._scale import search_starts

__all__ = ["build"]

#: Reduction actions (as worded by ``degeneracy.rules``) that leave the function on the domain
#: exactly unchanged in exact arithmetic (rules 1-3 of docs/background/symmetries.md): a neuron
#: whose contribution is zero on the domain is dropped, or a constant neuron is folded into the
#: next bias.
_EXACT_RULES = ("(zero outgoing weights)", "(dead on the domain)", "(zero incoming weights)")


def build(ctx: Context) -> SectionContent:
    """``reduction`` on the domain, checked by a sampled and an exact sup distance."""
    from ...degeneracy import reduction
    from ...distance import sup_distance

    result = reduction(ctx.net, ctx.domain, time_limit=ctx.solver_limit(0.5), seed=ctx.seed)  # the rest: its check
    reduced = result.network
    X = sample(ctx.domain, ctx.net.input_dim, ctx.n_samples, ctx.seed + 1)
    sampled_gap = float(np.abs(ctx.net(X) - reduced(X)).max()) if len(X) else 0.0
    data: dict[str, Any] = {
        "widths_before": list(ctx.net.widths),
        "widths_after": list(reduced.widths),
        "parameters_before": ctx.net.n_parameters,
        "parameters_after": reduced.n_parameters,
        "removed_neurons": int(result.removed),
        "actions": list(result.actions),
        "sampled_max_abs_difference": sampled_gap,
        "n_sample_points": int(len(X)),
    }
    blocks: list[Any] = [
        Paragraph("`reduce` drops dead and disconnected neurons, merges parallel ones and folds "
                  "always-active ones; the reduced network has the same realization on the domain."),
        Table(("", "before", "after"), (
            ("widths", "-".join(map(str, ctx.net.widths)), "-".join(map(str, reduced.widths))),
            ("parameters", ctx.net.n_parameters, reduced.n_parameters),
        )),
    ]
    if result.actions:
        shown = list(result.actions[:40])
        if len(result.actions) > 40:
            shown.append(f"... ({len(result.actions) - 40} more)")
        blocks.append(Code("\n".join(shown)))
    else:
        blocks.append(Paragraph("No rule applies: the network is already reduced on this domain."))
    status, reason = "ok", ""
    exact_rules = all(any(kind in a for kind in _EXACT_RULES) for a in result.actions)
    scale = float(np.abs(ctx.net(X)).max()) if len(X) else 0.0
    if exact_rules and sampled_gap <= 1e-9 * max(1.0, scale):
        # only rules 1-3: the reduced network computes the same function on the domain (exact
        # arithmetic); a float evaluation differs by rounding only, as the sampled check confirms
        data["sup_distance"] = {"lower": 0.0, "upper": 0.0, "exact": True,
                                "status": "identical" if not result.actions else "exact: rules 1-3 only"}
        blocks.append(Paragraph(
            "The reduced network is the network itself: sup distance exactly 0." if not result.actions else
            "Only exact rules were applied: neurons whose output contributes zero on the domain were dropped "
            "(zero outgoing weights, or dead on the domain) and constant neurons (zero incoming weights) were "
            "folded into the next bias. The two networks compute the same function on the domain: sup "
            "distance exactly 0 (no MILP needed; floating-point evaluations differ by rounding only)."))
        blocks.append(Paragraph(f"Largest |difference| on {len(X)} sampled points of the domain: "
                                f"{format_value(sampled_gap)}."))
        return SectionContent(blocks, data, status, reason)
    try:
        searched = None
        budget = ctx.search_budget(0.3)
        if isinstance(ctx.domain, Box) and not budget.expired():  # a lower bound with a witness, in any dimension
            from ...distance.ascent import output_ascent

            lo, hi = ctx.domain.bounds(ctx.net.input_dim)
            searched = output_ascent(ctx.net, reduced, lo, hi, search_starts(ctx), budget=budget, rounds=10,
                                     seed=ctx.seed)
        dist = sup_distance(ctx.net, reduced, ctx.domain, time_limit=ctx.solver_limit())
        lower, upper, exact = float(dist.lower), float(dist.upper), bool(dist.exact)
        data["sup_distance"] = {"lower": lower, "upper": upper, "exact": exact, "status": str(dist.status),
                                "lower_source": "solver"}
        if searched is not None and float(searched.values.max()) > lower:
            i = searched.best()
            lower = float(searched.values[i])  # |f - reduced| at the witness, both networks in float64
            exact = exact or upper - lower <= 1e-9 * max(1.0, upper)
            data["sup_distance"].update({"lower": lower, "exact": exact, "lower_source": searched.source,
                                         "lower_witness": searched.witnesses[i].tolist()})
        blocks.append(Paragraph(
            f"Sup distance between the network and its reduction on the domain (MILP): "
            + (f"{format_value(upper)} (exact up to the solver tolerance)." if exact else
               f"between {format_value(lower)} and {format_value(upper)} (bounds; solver status {dist.status}).")))
        if not exact:
            status, reason = "partial", (f"the exact sup distance was not closed (solver status {dist.status}, "
                                         f"time limit {ctx.time_limit:g} s); bounds reported")
    except OutOfTime:
        status, reason = "partial", "exact sup distance not computed: the section's time budget is spent; sampled check only"
    except ReluscopeError as exc:
        status, reason = "partial", f"exact sup distance not computed: {type(exc).__name__}: {exc}"
    blocks.append(Paragraph(f"Largest |difference| on {len(X)} sampled points of the domain: {format_value(sampled_gap)}."))
    return SectionContent(blocks, data, status, reason)
