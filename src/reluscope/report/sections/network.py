"""The "network" section: widths, parameter counts, masks, weight heatmaps."""

from __future__ import annotations

import numpy as np

from .. import figures
from .._runner import SectionContent
from ..document import Figure, Paragraph, Table
from ._context import SEARCH_ROOM, Context, domain_text
from ._scale import output_scale

__all__ = ["build"]

#: seconds the section must have left to search for the output scale (the heatmaps need some too)
_SCALE_ROOM = 2 * SEARCH_ROOM


def build(ctx: Context) -> SectionContent:
    """Widths, parameter counts and mask density per layer, with a weight heatmap."""
    net = ctx.net
    rows = []
    for i, W in enumerate(net.weights):
        mask = net.mask(i) if net.masks is not None else None
        allowed = int(mask.sum()) if mask is not None else W.size
        nonzero = int(np.count_nonzero(W))
        rows.append((i + 1, f"{W.shape[0]} x {W.shape[1]}", W.size + W.shape[0], allowed,
                     nonzero, nonzero / W.size, float(np.abs(W).max()) if W.size else 0.0))
    # the scale (and the note on the domain) when there is time; else a later section computes it
    scale = output_scale(ctx) if ctx.budget.remaining() >= _SCALE_ROOM else None
    note = scale.note(net.input_dim) if scale is not None else ""
    path = figures.weight_heatmaps(net.weights, net.masks, ctx.figure("weights.png"))
    data = {
        "widths": list(net.widths),
        "depth": net.depth,
        "n_parameters": net.n_parameters,
        "n_free_parameters": net.n_free_parameters,
        "masked": net.masks is not None,
        "domain": domain_text(ctx.domain, net.input_dim),
        "domain_reason": ctx.domain_reason,
        "domain_note": note,
        "output_scale": None if scale is None else scale.to_dict(),
        "layers": [dict(zip(("layer", "shape", "parameters", "mask_entries", "nonzero_weights",
                             "weight_density", "max_abs_weight"), r)) for r in rows],
    }
    blocks = [
        Paragraph(f"Widths `{'-'.join(map(str, net.widths))}` (input, hidden..., output): "
                  f"{net.depth} affine layers, {net.n_parameters} parameters, "
                  f"{net.n_free_parameters} free (inside the masks). "
                  + ("The network carries sparsity masks." if net.masks is not None else "The network is dense (no masks).")),
        Paragraph(f"Analyses below use the domain {domain_text(ctx.domain, net.input_dim)}"
                  + (f": {ctx.domain_reason}." if ctx.domain_reason else ".")
                  + " Every statement about dead, always-active or degenerate neurons, distances and "
                    "Lipschitz constants holds on this domain only."),
        *([Paragraph(note)] if note else []),
        Table(("layer", "weight shape", "parameters (with bias)", "mask entries", "nonzero weights",
               "weight density", "max |w|"), tuple(rows)),
        Figure(path.name, "Weight magnitudes per layer (log10 |w|); grey entries are zero or outside the mask."),
    ]
    return SectionContent(blocks, data)
