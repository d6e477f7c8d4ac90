"""The "canonical-form" section: the orbit representative, its parameter distance and equivalence."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._runner import SectionContent
from ..document import Paragraph, Table, format_value
from ._context import Context, sample

__all__ = ["build"]


def build(ctx: Context) -> SectionContent:
    """The canonical form, its parameter distance to the network and their equivalence."""
    from ...symmetry import canonical_form, equivalent, parameter_distance

    canon = canonical_form(ctx.net)
    X = sample(ctx.domain, ctx.net.input_dim, ctx.n_samples, ctx.seed + 2)
    gap = float(np.abs(ctx.net(X) - canon(X)).max()) if len(X) else 0.0
    norm_before = float(np.linalg.norm(ctx.net.to_vector()))
    norm_after = float(np.linalg.norm(canon.to_vector()))
    data: dict[str, Any] = {
        "widths": list(canon.widths),
        "parameter_norm_before": norm_before,
        "parameter_norm_after": norm_after,
        "sampled_max_abs_difference": gap,
    }
    blocks: list[Any] = [
        Paragraph("The canonical form is the representative of the network's orbit under positive "
                  "rescalings and permutations of hidden neurons (balanced, then ordered); two networks "
                  "related by these symmetries have the same canonical form."),
        Table(("quantity", "value"), (
            ("Euclidean norm of the parameters (original)", norm_before),
            ("Euclidean norm of the parameters (canonical)", norm_after),
            (f"max |f(x) - canonical(x)| on {len(X)} sampled points", gap),
        )),
    ]
    pd = parameter_distance(ctx.net, canon, modulo_symmetry=True)
    data["parameter_distance_raw"] = float(pd.before)
    data["parameter_distance_modulo_symmetry"] = float(pd.distance)
    blocks.append(Paragraph(
        f"Max-norm parameter distance between the network and its canonical form: "
        f"{format_value(pd.before)} as given, {format_value(pd.distance)} after aligning by the best "
        f"permutation and rescaling (`parameter_distance(..., modulo_symmetry=True)`): the two "
        f"parametrizations differ, the function does not."))
    verdict = equivalent(ctx.net, canon)
    data["equivalent_to_original"] = bool(verdict.equivalent)
    data["equivalence_max_deviation"] = float(verdict.max_deviation)
    blocks.append(Paragraph(f"`equivalent(network, canonical_form(network))`: "
                            f"**{'yes' if verdict.equivalent else 'no'}** ({verdict.reason})."))
    return SectionContent(blocks, data)
