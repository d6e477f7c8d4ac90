"""The "distances" section (pruning sensitivity): sup and Sobolev distances to the network pruned further."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...domain import PointSet
from ...network import ReLUNetwork
from .._runner import SectionContent
from ..document import Paragraph, Table
from ._context import Context

__all__ = ["build"]


def _pruned_further(net: ReLUNetwork, fraction: float) -> ReLUNetwork:
    """``net`` with the ``fraction`` smallest-magnitude nonzero weights of each layer removed.

    Exactly ``round(fraction * nonzero)`` weights per layer (ties broken by position); the
    removed entries leave the mask.
    """
    weights, masks = [], []
    for layer, W in enumerate(net.weights):
        mask = np.array(net.mask(layer), dtype=bool)
        rows, cols = np.nonzero(W)
        k = int(round(fraction * rows.size))
        order = np.argsort(np.abs(W[rows, cols]), kind="stable")[:k]
        mask[rows[order], cols[order]] = False
        weights.append(np.where(mask, W, 0.0))
        masks.append(mask)
    return net.replace(weights=weights, masks=masks)


def build(ctx: Context) -> SectionContent:
    """Sup and Sobolev distances between the network and the network pruned 10 % further."""
    from ...distance import sobolev_distance, sup_distance

    fraction = 0.1
    pruned = _pruned_further(ctx.net, fraction)
    removed = sum(int(np.count_nonzero(a)) - int(np.count_nonzero(b)) for a, b in zip(ctx.net.weights, pruned.weights))
    sup = sup_distance(ctx.net, pruned, ctx.domain, time_limit=ctx.solver_limit(), seed=ctx.seed)
    sob = sobolev_distance(ctx.net, pruned, ctx.domain, time_limit=ctx.solver_limit(), seed=ctx.seed)
    rows: list[tuple[Any, ...]] = [
        ("sup |f - g| on the domain", sup.lower, sup.upper, "exact" if sup.exact else "bounds (time limit)"),
        ("W^{1,inf}: max(sup |f - g|, ess sup |grad(f - g)|) on the domain", sob.lower, sob.upper,
         "exact" if sob.exact else "bounds (time limit)"),
    ]
    data: dict[str, Any] = {
        "fraction": fraction,
        "weights_removed": int(removed),
        "sup": {"lower": float(sup.lower), "upper": float(sup.upper), "exact": bool(sup.exact)},
        "sobolev": {"lower": float(sob.lower), "upper": float(sob.upper), "exact": bool(sob.exact)},
    }
    if ctx.X is not None:
        on_data = sup_distance(ctx.net, pruned, PointSet(ctx.X))
        data["sup_on_data"] = float(on_data.upper)
        rows.append((f"max |f - g| over the {len(ctx.X)} data points", on_data.lower, on_data.upper, "exact"))
    blocks: list[Any] = [
        Paragraph(f"How much does the function move if pruning goes further? g is the network with the "
                  f"{fraction:.0%} smallest-magnitude remaining weights of each layer removed "
                  f"({removed} weights). Distances are computed by MILP on HiGHS within "
                  f"{ctx.time_limit:g} s each; when the limit hits, the true value lies between the bounds."),
        Table(("distance between f (the network) and g (pruned further)", "lower", "upper", "status"),
              tuple(rows)),
    ]
    status, reason = "ok", ""
    if not (sup.exact and sob.exact):
        status, reason = "partial", (f"the exact distances were not closed (solver status {sup.status} / "
                                     f"{sob.status}, time limit {ctx.time_limit:g} s); bounds reported")
    return SectionContent(blocks, data, status, reason)
