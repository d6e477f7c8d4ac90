"""The "lipschitz" section: the solver's bounds on the Lipschitz constant, the lower bound
raised by a gradient search (a gradient realized at a witness point)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._results import to_jsonable
from ...domain import PointSet
from .._runner import SectionContent
from ..document import Paragraph, Table, format_value
from ._context import Context
from ._scale import output_scale, search_starts

__all__ = ["build"]

#: upper / lower above this: the report says how far apart the bounds are
_WIDE_GAP = 10.0
#: how lipschitz_constant computed its bounds (its result's ``method``)
_HOW = {"search": "branch and bound over input boxes with Jacobian bounds",
        "exact+search": "MILP on HiGHS, then branch and bound over input boxes",
        "exact": "MILP on HiGHS with the bound engine's Jacobian bounds",
        "enumerate": "linear regions enumerated", "points": "exact on the points",
        "sampled": "sampling only"}


def build(ctx: Context) -> SectionContent:
    """The solver's Lipschitz bounds on the domain, the lower one raised by gradient search."""
    from ...distance import lipschitz_constant
    from ...distance.ascent import jacobian_ascent

    net = ctx.net
    blocks: list[Any] = [
        Paragraph("Lipschitz constant in the W^{1,inf} sense: the essential supremum over the domain of the "
                  "largest absolute partial derivative of any output."),
    ]
    search = note = None
    if not isinstance(ctx.domain, PointSet):  # on points the library's answer is exact
        note = output_scale(ctx, share=0.2).note(net.input_dim)  # computed once per run
        lo, hi = ctx.domain.bounds(net.input_dim)
        budget = ctx.search_budget(0.5)
        if not budget.expired():  # else no time to spare: the solver's lower bound only
            starts = search_starts(ctx)
            search = jacobian_ascent(net, None, lo, hi, starts, budget=budget, rounds=30, seed=ctx.seed)
    limit = ctx.solver_limit()
    result = lipschitz_constant(net, ctx.domain, time_limit=limit)
    lower, upper = float(result.lower), float(result.upper)
    witness, component, source = result.witness, result.component, "solver"
    data: dict[str, Any] = {}
    how = _HOW.get(result.method, result.method)
    rows: list[tuple[Any, ...]] = [
        (f"lower, attained (library, {how}): a gradient entry of the network at a witness point", float(result.lower)),
        (f"upper, a sound bound (library, {how})", upper)]
    if search is not None:
        i = search.best()
        found = float(search.values[i])  # sign * df_k/dx_j of the real network at the witness, float64
        k, j, _ = search.targets[i]
        data["search"] = {"lower": found, "witness": search.witnesses[i].tolist(), "component": [k, j],
                          "method": search.method, "steps": search.steps, "seconds": search.seconds,
                          "n_starts": int(len(starts)), "n_targets": len(search.targets),
                          "best_at_starting_points": float(search.start_values.max())}
        rows.insert(0, (f"lower, attained (gradient search: |df_{k}/dx_{j}| at a witness point, {len(starts)} starting "
                        f"points, {len(search.targets)} entries, {search.steps} steps; {search.method})", found))
        rows.append(("largest gradient entry attained at the search's starting points (sampling alone)",
                     float(search.start_values.max())))
        if found > lower:
            lower, witness, component, source = found, search.witnesses[i], (k, j), search.source
    exact = bool(result.exact) or upper - lower <= 1e-6 * max(1.0, upper)
    data.update({"lower": lower, "upper": upper, "exact": exact, "lower_source": source,
                 "lower_witness": None if witness is None else np.asarray(witness).tolist(),
                 "lower_component": None if component is None else list(component),
                 "sampled_lower_bound": float(search.start_values.max()) if search is not None else lower,
                 "result": to_jsonable(result), "method": result.method})
    blocks.append(Table(("bound", "value"), tuple(rows)))
    text = (f"The constant lies in [{format_value(lower)}, {format_value(upper)}]: the lower bound is attained, the "
            f"gradient of the network realized at a witness point inside a linear region (found by "
            f"{'the library' if source == 'solver' else source}); the upper bound is a sound bound "
            f"(lipschitz_constant: {how}).")
    if lower > 0 and upper / lower > _WIDE_GAP:
        text += (f" The bounds are {upper / lower:.0f} times apart: in {net.input_dim} dimensions the exact solve "
                 "does not close within the time limit, and the true constant can be anywhere between them.")
    blocks.append(Paragraph(text))
    if note:
        blocks.append(Paragraph(note))
    status, reason = "ok", ""
    if not exact and result.status == "numerical_risk":
        status, reason = "partial", ("the domain's magnitudes make the solvers numerically unreliable "
                                     "(docs/background/numerical-scaling.md); the interval is reported")
    elif not exact:
        status, reason = "partial", (f"the exact solve did not close the gap (solver status "
                                     f"{result.status}, time limit {limit:.2g} s"
                                     + (f": this section's share of the run's budget, less than the per-call "
                                        f"{ctx.time_limit:g} s" if limit < ctx.time_limit else "")
                                     + "); the interval is reported")
    return SectionContent(blocks, data, status, reason)
