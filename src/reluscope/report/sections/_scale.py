"""The scale of the report's relative numbers, the starting points of its gradient
searches, and the plain notes saying when the domain is much larger than where the model
is used.

The scale ``R`` is the largest spread ``f_k(x_hi) - f_k(x_lo)`` of one output that a
gradient search (:func:`reluscope.distance.ascent.output_ascent`) or the branch and bound
(:func:`reluscope.distance.extremes.output_range`) attains on the domain: both points are
real, evaluated on the network, so ``R`` is at most the true range of that output; the
branch and bound's sound bounds give the upper end of the bracket. Uniform sampling is not used for the scale:
in high dimension uniform points all look alike, and their spread can be a tiny fraction of
the range (0.04 of 2.7 for a 784-input MNIST network on ``[0, 1]^784``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ...distance.ascent import output_ascent, starting_pool
from ...distance.extremes import output_range
from ...domain import Box, PointSet
from ..document import format_value
from ._context import Context, sample

__all__ = ["OutputScale", "output_scale", "search_starts", "FAR_FROM_DATA", "FAR_FROM_TYPICAL"]

#: the search's spread exceeding this multiple of the data's spread: the box reaches far beyond the data
FAR_FROM_DATA = 3.0
#: the search's spread exceeding this multiple of the spread at uniform points: say so
FAR_FROM_TYPICAL = 10.0
#: a feature whose box width exceeds this multiple of its range on the data counts as "much wider"
WIDER = 2.0
#: starting points of the searches drawn from the box (besides data rows, centre and corners)
N_STARTS = 256
#: data rows used as starting points at most
MAX_DATA_STARTS = 256


@dataclasses.dataclass(frozen=True)
class OutputScale:
    """The output spread attained by search, bracketed, and the comparisons the notes use."""

    attained: float  # R = f_k(x_high) - f_k(x_low), both evaluated on the network
    output: int  # k
    high: float  # f_k(x_high)
    low: float  # f_k(x_low)
    x_high: np.ndarray | None
    x_low: np.ndarray | None
    upper: float  # the branch and bound's sound upper bound on the largest range of one output (inf if none)
    typical: float  # spread over uniform points of the domain (the old scale)
    n_typical: int
    on_data: float | None  # spread over the data points
    wider_features: int  # features whose box width exceeds WIDER times their range on the data
    method: str  # how R was found
    seconds: float

    def relative_to(self) -> str:
        """One sentence: what the report's percentages are relative to."""
        if self.method == "ascent":
            how = "the largest spread max - min of one output attained by gradient search on the domain"
        elif self.method.startswith("sampled"):
            how = ("the largest spread max - min of one output at the search's starting points (data, centre, "
                   f"corners, uniform points and vertices of the box; {self.method})")
        else:
            how = f"the largest spread max - min of one output over {self.method}"
        text = (f"Relative numbers divide by R = {format_value(self.attained)}, {how} (output {self.output}: "
                f"{format_value(self.high)} at one witness point, {format_value(self.low)} at another, both "
                f"evaluated on the network). The true range of that output on the domain is at least R")
        if np.isfinite(self.upper):
            text += (f" and no output's range exceeds {format_value(self.upper)} (a sound bound: the branch and "
                     "bound over input boxes)")
        return text + "."

    def note(self, dim: int) -> str:
        """The plain statement that the domain is much larger than where the model is used, or ''."""
        parts = []
        if self.on_data is not None:
            if self.wider_features:
                parts.append(f"In {self.wider_features} of {dim} features the domain box is more than {WIDER:g} "
                             "times wider than the range of the given data.")
            if self.on_data > 0 and self.attained > FAR_FROM_DATA * self.on_data:
                parts.append(f"On the box, gradient search reaches outputs {self.attained / self.on_data:.0f} times "
                             f"as far apart (R = {format_value(self.attained, 4)}) as on the data "
                             f"({format_value(self.on_data, 4)}).")
            if parts:
                parts.insert(0, "**The domain is much larger than where the model is used (the data).**")
                parts.append("Worst cases over the box (Lipschitz constant, distances) may come from inputs "
                             "unlike any data point; the rows near the data say more about the model in use.")
        elif self.typical > 0 and self.attained > FAR_FROM_TYPICAL * self.typical:
            parts = [f"**The domain is much larger than where the model is typically evaluated.** Gradient search "
                     f"finds outputs spread {format_value(self.attained, 4)} apart, "
                     f"{self.attained / self.typical:.0f} times the spread {format_value(self.typical, 4)} over "
                     f"{self.n_typical} uniform points of the box: the extremes sit at inputs far from typical "
                     "ones (in high dimension, uniform points all look alike, and real inputs, such as images, "
                     "fill a thin part of the box). Worst cases over the box (Lipschitz constant, distances) may "
                     "come from inputs unlike anything the model was made for; give data (--data) to analyze "
                     "near where the model is used."]
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"attained": self.attained, "output": self.output, "high": self.high, "low": self.low,
                "witness_high": None if self.x_high is None else self.x_high.tolist(),
                "witness_low": None if self.x_low is None else self.x_low.tolist(),
                "upper_bound": self.upper, "uniform_sample_spread": self.typical, "n_uniform_samples": self.n_typical,
                "data_spread": self.on_data, "features_much_wider_than_data": self.wider_features,
                "method": self.method, "seconds": self.seconds}


def search_starts(ctx: Context) -> np.ndarray:
    """Starting points of the report's searches on a box domain: data rows first (when given),
    the box's centre and corners, uniform points and random vertices."""
    lo, hi = ctx.domain.bounds(ctx.net.input_dim)
    X = None if ctx.X is None else ctx.X[:MAX_DATA_STARTS]
    return starting_pool(lo, hi, N_STARTS, seed=ctx.seed + 7, X=X)


def _spread(out: np.ndarray) -> float:
    return float((out.max(axis=0) - out.min(axis=0)).max()) if len(out) else 0.0


def output_scale(ctx: Context, share: float = 0.5) -> OutputScale:
    """The scale of the run (computed once, by the first section asking with time for a
    search, within ``share`` of its budget; see :meth:`Context.search_budget`)."""
    if "scale" in ctx.cache:
        return ctx.cache["scale"]
    net, dim = ctx.net, ctx.net.input_dim
    typical_pts = sample(ctx.domain, dim, ctx.n_samples, ctx.seed + 5)
    out = net(typical_pts)
    typical = _spread(out)
    on_data = _spread(net(ctx.X)) if ctx.X is not None else None
    wider = 0
    if isinstance(ctx.domain, PointSet):
        k = int(np.argmax(out.max(axis=0) - out.min(axis=0)))
        hi_i, lo_i = int(np.argmax(out[:, k])), int(np.argmin(out[:, k]))
        scale = OutputScale(typical, k, float(out[hi_i, k]), float(out[lo_i, k]), typical_pts[hi_i], typical_pts[lo_i],
                            np.inf, typical, len(typical_pts), on_data, 0,
                            f"the {len(typical_pts)} points of the domain (exact)", 0.0)
        ctx.cache["scale"] = scale
        return scale
    lo, hi = ctx.domain.bounds(dim)
    if ctx.X is not None:
        span = ctx.X.max(axis=0) - ctx.X.min(axis=0)
        wider = int(np.sum(hi - lo > WIDER * np.maximum(span, 1e-12 * np.maximum(1.0, np.abs(hi - lo)))))
    budget = ctx.search_budget(share)
    starts = search_starts(ctx)
    # a short ascent on every output, then more time on the outputs spread widest; the rest
    # goes to the branch and bound (output_range), whose sound bounds give the bracket's upper end
    found = output_ascent(net, None, lo, hi, starts, budget=budget.share(0.4), steps=25, restarts=4, seed=ctx.seed)
    v = found.values.reshape(-1, 2).copy()  # per output: max f_k, max -f_k
    witnesses = found.witnesses.copy()  # per target (k, +1), (k, -1)
    top = np.argsort(-(v[:, 0] + v[:, 1]), kind="stable")[:3]
    focus = output_ascent(net, None, lo, hi, starts, budget=budget.share(0.5),
                          targets=[(int(k), s) for k in top for s in (1, -1)], rounds=20, seed=ctx.seed + 1)
    upper, searched = np.inf, None  # the bracket's upper end, when there is time for the search
    if not budget.expired():
        searched = output_range(net, Box(lo, hi), budget=budget, seed=ctx.seed)
        upper = searched.spread_upper
    for i, (k, s) in enumerate(focus.targets):
        if focus.values[i] > v[k, (1 - s) // 2]:
            v[k, (1 - s) // 2] = focus.values[i]
            witnesses[2 * k + (1 - s) // 2] = focus.witnesses[i]
    # the uniform points count too (in low dimension they may do better)
    for k in range(v.shape[0]):
        for side, idx in ((0, int(np.argmax(out[:, k]))), (1, int(np.argmin(out[:, k])))):
            value = out[idx, k] if side == 0 else -out[idx, k]
            if value > v[k, side]:
                v[k, side], witnesses[2 * k + side] = value, typical_pts[idx]
    # the search's witnesses count too (both ends real values)
    if searched is not None:
        for k in range(v.shape[0]):
            if searched.max_lower[k] > v[k, 0]:
                v[k, 0], witnesses[2 * k] = searched.max_lower[k], searched.max_witness[k]
            if -searched.min_upper[k] > v[k, 1]:
                v[k, 1], witnesses[2 * k + 1] = -searched.min_upper[k], searched.min_witness[k]
    spreads = v[:, 0] + v[:, 1]
    k = int(np.argmax(spreads))
    x_high, x_low = witnesses[2 * k], witnesses[2 * k + 1]
    high, low = float(net(x_high[None, :])[0, k]), float(net(x_low[None, :])[0, k])  # the network, again
    scale = OutputScale(high - low, k, high, low, x_high, x_low, upper, typical, len(typical_pts), on_data, wider,
                        "ascent" if "ascent" in (found.method, focus.method) else focus.method,
                        found.seconds + focus.seconds + (searched.seconds if searched is not None else 0.0))
    if scale.method == "ascent" or found.method != "sampled (no time left for ascent)":
        ctx.cache["scale"] = scale  # else a later section with more time searches again
    return scale
