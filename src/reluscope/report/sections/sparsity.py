"""The "sparsity" section: existence of an optimum for the masks, closedness of the linear
counterpart. The certificate is summarized in the body and written in full as a JSON file
next to the report (it holds every mask entry: unreadable inline for real layer sizes)."""

from __future__ import annotations

import json
from typing import Any

from .._runner import SectionContent
from ..document import Link, Paragraph, Table
from ._context import Context

__all__ = ["build", "CERTIFICATE_FILE"]

#: the certificate of the linear counterpart's closedness, in the report folder
CERTIFICATE_FILE = "sparsity-certificate.json"


def _what_it_proves(certificate: Any) -> str:
    """One sentence: what a certificate of either kind establishes, and how it is checked."""
    if certificate.kind == "closed":
        return (f"It proves that L_I is closed by the rule `{certificate.rule}`"
                + (f" ({len(certificate.parts)} sub-certificates)" if certificate.parts else "")
                + "; a checker re-establishes the rule's conclusion from the pattern alone.")
    return (f"It proves that L_I is not closed: factors W_1(eps), ..., W_{len(certificate.factors)}(eps) inside the "
            "masks (Laurent polynomials in eps) whose product tends to a rational matrix A while some entry blows "
            "up, and A is not in L_I; the checker multiplies the factors exactly and re-proves A not in L_I with Z3.")


def build(ctx: Context) -> SectionContent:
    """The existence verdict of the training problem for the masks, and the closedness of
    the linear counterpart, with its certificate as an attached JSON file."""
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
        closed = sparsity.is_closed(pattern, time_limit=ctx.solver_limit(0.6), seed=ctx.seed)
    cert = closed.certificate
    data: dict[str, Any] = {
        "answer": verdict.status,
        "reasoning": verdict.reasoning,
        "certificate_valid": verdict.certificate_valid,
        "sequence": [list(map(float, row)) for row in verdict.sequence],
        "linear_closedness": {"closed": closed.closed, "method": closed.method, "seconds": closed.seconds,
                              "reasoning": closed.reasoning, "certificate": None},
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
    blocks.append(Table(("factor", "shape (out x in)", "mask entries allowed", "of", "density"), tuple(
        (f"W_{i + 1}", f"{m.shape[0]} x {m.shape[1]}", int(m.sum()), int(m.size), float(m.sum()) / m.size)
        for i, m in enumerate(pattern.masks)), caption=f"The pattern I ({pattern.n_allowed} allowed entries)"))
    if cert is not None:
        check = sparsity.verify(cert, time_limit=ctx.solver_limit(0.5))
        valid = {True: "valid", False: "INVALID", None: "undecided (a check ran out of time)"}[check.valid]
        path = ctx.attachment(CERTIFICATE_FILE)
        path.write_text(json.dumps(cert.to_dict(), indent=1))
        data["linear_closedness"]["certificate"] = {"file": path.name, "kind": cert.kind,
                                                    "rule": getattr(cert, "rule", ""), "verified": check.valid}
        blocks.append(Paragraph(
            f"Certificate: a {cert.kind} certificate for the pattern {'x'.join(map(str, pattern.widths))} "
            f"({len(pattern.masks)} factors). " + _what_it_proves(cert)
            + f" Re-checked independently here ({check.seconds:.2f} s): **{valid}**. The full certificate, "
            "with every mask entry, is the attached JSON file; load it with "
            "`reluscope.sparsity.certificate_from_dict(json.load(f))` and check it with `reluscope.sparsity.verify`."))
        blocks.append(Link(path.name, f"{path.name} (full certificate, JSON)"))
    if verdict.status == "undecided":
        why = " ".join(verdict.reasoning.split())
        status, reason = "partial", "existence undecided: " + (why if len(why) <= 240 else why[:240] + "…")
    return SectionContent(blocks, data, status, reason)
