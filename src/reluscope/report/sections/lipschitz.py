"""The "lipschitz" section: the exact Lipschitz constant (or an interval) and a sampled lower bound."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._results import to_jsonable
from .._runner import SectionContent
from ..document import Paragraph, Table
from ._context import Context, sample

__all__ = ["build"]


def build(ctx: Context) -> SectionContent:
    """The solver's Lipschitz bounds on the domain next to a sampled lower bound."""
    from ...distance import lipschitz_constant

    X = sample(ctx.domain, ctx.net.input_dim, min(ctx.n_samples, 512), ctx.seed + 3)
    sampled, used = 0.0, 0
    sampling = ctx.budget.share(0.2)  # the rest is the solver's
    for x in X:
        if used and sampling.expired():
            break
        J, _ = ctx.net.local_affine(x)
        sampled, used = max(sampled, float(np.abs(J).max()) if J.size else 0.0), used + 1
    X = X[:used]
    data: dict[str, Any] = {"sampled_lower_bound": sampled, "n_sample_points": int(len(X))}
    blocks: list[Any] = [
        Paragraph("Lipschitz constant in the W^{1,inf} sense: the essential supremum over the domain of the "
                  "largest absolute partial derivative of any output."),
    ]
    limit = ctx.solver_limit()
    result = lipschitz_constant(ctx.net, ctx.domain, time_limit=limit)
    lower, upper, exact = float(result.lower), float(result.upper), bool(result.exact)
    data.update({"lower": lower, "upper": upper, "exact": exact, "result": to_jsonable(result)})
    blocks.append(Table(("bound", "value"), (
        ("lower (solver)", lower), ("upper (solver)", upper),
        (f"lower (largest gradient entry at {len(X)} sampled points)", sampled),
    )))
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
