"""The "activations" section: activation frequencies and distinct patterns on data or samples."""

from __future__ import annotations

import numpy as np

from .. import figures
from .._runner import NotComputed, SectionContent
from ..document import Figure, Paragraph, Table
from ._context import Context, sample

__all__ = ["build"]


def build(ctx: Context) -> SectionContent:
    """Activation frequencies of the hidden neurons on the data or on sampled points."""
    X = ctx.X if ctx.X is not None else sample(ctx.domain, ctx.net.input_dim, ctx.n_samples, ctx.seed + 4)
    if ctx.net.depth < 2:
        raise NotComputed("the network has no hidden layer")
    patterns = ctx.net.activation_pattern(X)
    freqs = [p.mean(axis=0) for p in patterns]
    joint = np.concatenate(patterns, axis=1)
    distinct = int(len(np.unique(np.packbits(joint, axis=1), axis=0))) if len(X) else 0
    rows = []
    for i, f in enumerate(freqs):
        rows.append((i + 1, len(f), int((f == 0).sum()), int((f == 1).sum()), float(f.mean())))
    source = "points of the given data" if ctx.X is not None else "points sampled uniformly from the domain"
    path = figures.activation_histograms(freqs, ctx.figure("activations.png"), len(X))
    data = {
        "n_points": int(len(X)),
        "source": source,
        "distinct_patterns": distinct,
        "layers": [dict(zip(("layer", "width", "never_active", "always_active", "mean_active_fraction"), r)) for r in rows],
        "active_fraction": [f.tolist() for f in freqs],
    }
    blocks = [
        Paragraph(f"Activation patterns of the hidden neurons on the {len(X)} {source}: "
                  f"{distinct} distinct joint patterns (linear regions met). Sample counts are "
                  "empirical; the degeneracy section gives the exact statuses on the whole domain."),
        Table(("hidden layer", "width", "never active on sample", "always active on sample",
               "mean active fraction"), tuple(rows)),
        Figure(path.name, "Fraction of sample points on which each hidden neuron is active."),
    ]
    return SectionContent(blocks, data)
