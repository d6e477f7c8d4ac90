"""The "distances" section (pruning sensitivity): sup and Sobolev distances to the network pruned further."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...domain import Box, Boxes, PointSet
from ...network import ReLUNetwork
from .._runner import SectionContent
from ..document import Paragraph, Table, format_value
from ._context import Context, sample
from ._scale import output_scale, search_starts

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


#: radius of the boxes around data points, as a fraction of each feature's range on the data
_RADIUS = 0.02
#: data points whose neighbourhoods are checked (the first ones)
_MAX_BOXES = 100


def _data_neighbourhoods(ctx: Context) -> Boxes:
    """L-inf boxes around the first data points, radius 2 % of each feature's range (a
    constant feature keeps a tiny width), clipped to the analysis box: the region near the
    data, where a pruned network is actually used (the domain box's corners are far from it)."""
    X = ctx.X[:_MAX_BOXES]
    span = ctx.X.max(axis=0) - ctx.X.min(axis=0)
    r = np.maximum(_RADIUS * span, 1e-6 * np.maximum(1.0, np.abs(X).max(axis=0)))
    lo, hi = X - r, X + r
    if isinstance(ctx.domain, Box):
        dlo, dhi = ctx.domain.bounds(ctx.net.input_dim)
        lo, hi = np.maximum(lo, dlo), np.minimum(hi, dhi)
        hi = np.maximum(hi, lo + 1e-12)
    return Boxes(lo, hi, centres=X)


def _searched_lower_bounds(ctx: Context, pruned: ReLUNetwork) -> dict[str, Any]:
    """Gradient search for the largest |f - g| and the largest gradient entry of f - g on the
    box (each value re-evaluated on both networks at its witness)."""
    from ...distance.ascent import jacobian_ascent, output_ascent

    lo, hi = ctx.domain.bounds(ctx.net.input_dim)
    starts = search_starts(ctx)
    found: dict[str, Any] = {}
    for key, search in (("sup", lambda b: output_ascent(ctx.net, pruned, lo, hi, starts, budget=b, rounds=20,
                                                        seed=ctx.seed)),
                        ("gradient", lambda b: jacobian_ascent(ctx.net, pruned, lo, hi, starts, budget=b, rounds=20,
                                                               seed=ctx.seed))):
        budget = ctx.search_budget(0.25 if key == "sup" else 0.35)
        if budget.expired():  # no time to spare: the solvers' lower bounds only
            continue
        r = search(budget)
        i = r.best()
        found[key] = {"lower": max(float(r.values[i]), 0.0), "witness": r.witnesses[i].tolist(),
                      "component": list(r.targets[i][:-1]), "method": r.method, "source": r.source, "steps": r.steps,
                      "seconds": r.seconds, "best_at_starting_points": float(r.start_values.max())}
    return found


def _closed(lower: float, upper: float) -> bool:
    return upper - lower <= 1e-9 * max(1.0, abs(upper))


def build(ctx: Context) -> SectionContent:
    """Sup and Sobolev distances between the network and the network pruned 10 % further."""
    from ...distance import sobolev_distance, sup_distance, top1_agreement

    fraction = 0.1
    pruned = _pruned_further(ctx.net, fraction)
    removed = sum(int(np.count_nonzero(a)) - int(np.count_nonzero(b)) for a, b in zip(ctx.net.weights, pruned.weights))
    scale = output_scale(ctx, share=0.15) if isinstance(ctx.domain, Box) else None  # computed once per run
    searched = _searched_lower_bounds(ctx, pruned) if isinstance(ctx.domain, Box) else None
    # shares of the section's time: sup, then Sobolev, then (with data) the boxes around the data
    first = 0.25 if ctx.X is not None else 0.45
    lim_sup = ctx.solver_limit(first)
    sup = sup_distance(ctx.net, pruned, ctx.domain, time_limit=lim_sup, seed=ctx.seed)
    lim_sob = ctx.solver_limit(0.4 if ctx.X is not None else 1.0)
    sob = sobolev_distance(ctx.net, pruned, ctx.domain, time_limit=lim_sob, seed=ctx.seed)
    limits = f"{lim_sup:.2g} s (sup) and {lim_sob:.2g} s (Sobolev)"
    # lower bounds: the solvers' or the gradient search's, whichever is larger (each attained at a witness)
    sup_lo, sup_src = float(sup.lower), "solver"
    grad_lo, grad_src = float(sob.gradient_part.lower), "solver"
    if searched is not None:
        if "sup" in searched and searched["sup"]["lower"] > sup_lo:
            sup_lo, sup_src = searched["sup"]["lower"], searched["sup"]["source"]
        if "gradient" in searched and searched["gradient"]["lower"] > grad_lo:
            grad_lo, grad_src = searched["gradient"]["lower"], searched["gradient"]["source"]
    # sup |f - g| <= ||f - g||_{W^{1,inf}} (the latter is the max of the sup and the gradient norm):
    # each bound of one is a bound of the other
    sup_up, sup_exact = min(float(sup.upper), float(sob.upper)), bool(sup.exact)
    sob_lo, sob_up, sob_exact = max(float(sob.lower), sup_lo, grad_lo), float(sob.upper), bool(sob.exact)
    sup_exact = sup_exact or _closed(sup_lo, sup_up)
    sob_exact = sob_exact or _closed(sob_lo, sob_up)
    if scale is None:  # a point set: the exact spread over its points
        points = sample(ctx.domain, ctx.net.input_dim, ctx.n_samples, ctx.seed + 5)
        out = ctx.net(points)
        out_range = float((out.max(axis=0) - out.min(axis=0)).max()) if len(points) else 0.0
        scale_text = (f"Scale: the output range of f on the {len(points)} points of the domain is R = "
                      f"{format_value(out_range)} (largest max - min of one output); the relative columns divide by R.")
    else:
        out_range = scale.attained
        scale_text = (scale.relative_to() + " So a relative number is a fraction of an output spread "
                      "the network really produces on the domain.")

    def rel(v: float) -> float | None:
        return v / out_range if out_range > 0 else None

    rows: list[tuple[Any, ...]] = [
        ("sup |f - g| on the domain", sup_lo, sup_up, rel(sup_lo), rel(sup_up),
         "exact" if sup_exact else "bounds (time limit)"),
        ("W^{1,inf}: max(sup |f - g|, ess sup |grad(f - g)|) on the domain", sob_lo, sob_up, rel(sob_lo), rel(sob_up),
         "exact" if sob_exact else "bounds (time limit)"),
    ]
    data: dict[str, Any] = {
        "fraction": fraction,
        "weights_removed": int(removed),
        "sup": {"lower": sup_lo, "upper": sup_up, "exact": sup_exact, "lower_source": sup_src, "method": sup.method},
        "sobolev": {"lower": sob_lo, "upper": sob_up, "exact": sob_exact, "gradient_lower": grad_lo,
                    "gradient_lower_source": grad_src, "method": sob.method},
        "output_range": out_range,
        "output_range_kind": "exact on the points" if scale is None else (
            "attained by gradient search" if scale.method == "ascent" else "attained at the search's starting points"),
        "output_range_upper_bound": None if scale is None else scale.upper,
        "output_scale": None if scale is None else scale.to_dict(),
        "searched": searched,
    }
    if ctx.X is not None:
        on_data = sup_distance(ctx.net, pruned, PointSet(ctx.X))
        data["sup_on_data"] = float(on_data.upper)
        rows.append((f"max |f - g| over the {len(ctx.X)} data points", on_data.lower, on_data.upper,
                     rel(float(on_data.lower)), rel(float(on_data.upper)), "exact"))
        boxes = _data_neighbourhoods(ctx)
        near = sup_distance(ctx.net, pruned, boxes, time_limit=ctx.solver_limit(0.5), seed=ctx.seed)
        top1 = top1_agreement(ctx.net, pruned, boxes, time_limit=ctx.solver_limit(), seed=ctx.seed)
        data["sup_near_data"] = {"lower": near.lower, "upper": near.upper, "exact": near.exact,
                                 "boxes": len(boxes), "radius_fraction": _RADIUS}
        data["top1_near_data"] = top1.counts
        rows.append((f"sup |f - g| on the boxes around {len(boxes)} data points (radius {_RADIUS:.0%} of each "
                     "feature's range)", near.lower, near.upper, rel(near.lower), rel(near.upper),
                     "exact" if near.exact else "bounds (time limit)"))
        rows.append((f"same top class on those boxes: {top1.counts['proved']} proved, {top1.counts['refuted']} "
                     f"refuted, {top1.counts['undecided']} undecided", None, None, None, None, top1.status))
    blocks: list[Any] = [
        Paragraph(f"How much does the function move if pruning goes further? g is the network with the "
                  f"{fraction:.0%} smallest-magnitude remaining weights of each layer removed "
                  f"({removed} weights). Distances are computed by the library within {limits} (its automatic "
                  f"choice: sup by {sup.method}, W^{{1,inf}} by {sob.method}: region enumeration, MILP on HiGHS or "
                  "the branch and bound over input boxes); when the limit hits, the true value lies between the "
                  "bounds: the lower one attained, the upper one a sound bound."),
        Paragraph(f"Lower bounds are values of |f - g| (or of a gradient entry of f - g) at witness points, "
                  f"evaluated on both networks: from the solvers or from a gradient search (projected gradient "
                  f"ascent with restarts{', from the data and' if ctx.X is not None else ' from'} points of the box), "
                  f"whichever is larger (sup: {sup_src}; gradient part: {grad_src}). " + scale_text +
                  " Bounds of the two norms are made consistent: sup |f - g| <= the W^{1,inf} norm."),
        Table(("distance between f (the network) and g (pruned further)", "lower (attained)", "upper (bound)",
               "lower / R", "upper / R", "status"), tuple(rows)),
    ]
    note = scale.note(ctx.net.input_dim) if scale is not None else ""
    if note:
        blocks.append(Paragraph(note))
    status, reason = "ok", ""
    if not (sup_exact and sob_exact):
        status, reason = "partial", (f"the exact distances were not closed (solver status {sup.status} / "
                                     f"{sob.status}, time limits {limits}); bounds reported")
    return SectionContent(blocks, data, status, reason)
