"""The "sparsity" section: existence of an optimum for the masks, closedness of the linear counterpart."""

from __future__ import annotations

from typing import Any

from ..._results import to_jsonable
from .._runner import SectionContent
from ..document import Code, Paragraph, Table
from ._context import Context

__all__ = ["build"]


def build(ctx: Context) -> SectionContent:
    """The existence verdict of the training problem for the masks, and the closedness of
    the linear counterpart."""
    from ... import sparsity

    blocks: list[Any] = []
    status, reason = "ok", ""
    if ctx.net.masks is None:
        blocks.append(Paragraph("The network has no masks: its sparsity pattern is full support."))
    pattern = sparsity.SparsityPattern.from_network(ctx.net)
    verdict = sparsity.optimum_exists(pattern, domain=ctx.domain, time_limit=ctx.solver_limit(0.6),
                                      verify_time_limit=ctx.solver_limit(0.2))
    closed = verdict.closedness
    if closed is None:
        closed = sparsity.is_closed(pattern, time_limit=ctx.solver_limit(), seed=ctx.seed)
    data: dict[str, Any] = {
        "answer": verdict.status,
        "reasoning": verdict.reasoning,
        "certificate_valid": verdict.certificate_valid,
        "sequence": [list(map(float, row)) for row in verdict.sequence],
        "linear_closedness": {"closed": closed.closed, "method": closed.method, "seconds": closed.seconds,
                              "reasoning": closed.reasoning, "certificate": to_jsonable(closed.certificate)},
    }
    blocks.append(Paragraph(f"Existence of an optimum for the training problem of this architecture and "
                            f"mask (squared loss): **{verdict.status}**."))
    blocks.append(Paragraph(verdict.reasoning))
    if verdict.sequence:
        blocks.append(Table(("eps", "training loss", "parameter norm"), tuple(tuple(r) for r in verdict.sequence),
                            caption="A parameter sequence whose loss tends to 0 while its norm grows"))
    if verdict.certificate_valid is not None:
        blocks.append(Paragraph(f"Non-closedness certificate re-verified independently: "
                                f"**{'valid' if verdict.certificate_valid else 'INVALID'}**."))
    state = {True: "closed", False: "not closed", None: "undecided"}[closed.closed]
    blocks.append(Paragraph(
        f"Linear counterpart: the set L_I of products W_L ... W_1 with supports inside the masks is "
        f"**{state}** (method `{closed.method}`, {closed.seconds:.2f} s)."
        + (f" {closed.reasoning}" if closed.reasoning else "")))
    if closed.certificate is not None:
        text = str(closed.certificate)
        blocks.append(Code(text if len(text) < 3000 else text[:3000] + "\n… (truncated)"))
    if verdict.status == "undecided":
        why = " ".join(verdict.reasoning.split())
        status, reason = "partial", "existence undecided: " + (why if len(why) <= 240 else why[:240] + "…")
    return SectionContent(blocks, data, status, reason)
