"""``analyze(network, ...)``: every cheap analysis of one network, as a report folder.

The folder holds ``report.md``, ``report.html`` (self-contained: plain HTML + inline CSS,
figures as relative PNG files in the same folder), ``report.json`` (the numbers of every
section) and the PNG figures. This module is the driver: the registry of sections (one
module each under :mod:`reluscope.report.sections`), the run's time budget, and the
documents. Each section runs on its own: a section whose analysis raises a
:class:`~reluscope.errors.ReluscopeError`, lacks a module or runs out of time says so
("not computed: reason") and the others go on.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._budget import Budget
from .._progress import track
from .._results import ResultMixin, dump_json, make_out_dir
from .._validation import check_int, check_time_limit
from ..domain import Box, PointSet, as_domain
from ..errors import InvalidArgument, InvalidData
from ..network import ReLUNetwork
from ._runner import SectionContent, SectionOutcome, run_section
from .data import data_box
from .document import Document, Paragraph, Table, format_value
from .sections import activations as activations_section
from .sections import canonical as canonical_section
from .sections import constructive as constructive_section
from .sections import degeneracies as degeneracies_section
from .sections import distances as distances_section
from .sections import lipschitz as lipschitz_section
from .sections import network as network_section
from .sections import reduction as reduction_section
from .sections import sparsity as sparsity_section
from .sections._context import Context, domain_text

__all__ = ["AnalysisReport", "analyze", "SECTION_KEYS"]

#: Section key -> (title, builder), in report order.
_SECTIONS: dict[str, tuple[str, Callable[[Context], SectionContent]]] = {
    "network": ("Network", network_section.build),
    "degeneracies": ("Degeneracies", degeneracies_section.build),
    "reduction": ("Reduction", reduction_section.build),
    "canonical-form": ("Canonical form", canonical_section.build),
    "lipschitz": ("Lipschitz constant", lipschitz_section.build),
    "distances": ("Pruning sensitivity (function distances)", distances_section.build),
    "sparsity": ("Sparsity pattern and existence of optima", sparsity_section.build),
    "activations": ("Activation patterns", activations_section.build),
    "constructive": ("Constructive baseline", constructive_section.build),
}

#: Keys of the sections of an analysis report, in order.
SECTION_KEYS: tuple[str, ...] = tuple(_SECTIONS)

#: Fraction of a section's budget its builder draws solver limits from; the rest is room for
#: the last solver call to return and the section to render before the safety net stops it.
_BUILDER_SHARE = 0.9
#: Under ``total_time_limit``: PyTorch (for the gradient searches, about 2 s to import) is
#: preloaded from this many seconds on; below, a search imports it only if its section has room.
_TORCH_PRELOAD = 10.0
#: Share of ``total_time_limit`` kept for writing the report after the sections.
_WRITE_RESERVE = 0.05
#: Under ``total_time_limit``: relative weight of each section's share of what is left
#: (solver-bound sections get more; the others need only a figure or two).
_WEIGHTS = {"network": 1.5, "degeneracies": 2.0, "reduction": 1.5, "canonical-form": 0.5, "lipschitz": 2.0,
            "distances": 2.0, "sparsity": 1.0, "activations": 0.5, "constructive": 1.0}
#: Under ``total_time_limit``: a section is stopped by the safety net only past twice its
#: share or this fraction of what is left, whichever is more (still within the run's
#: budget); what it overran comes out of the later sections' shares.
_SAFETY_SHARE = 0.3


@dataclasses.dataclass(frozen=True)
class AnalysisReport(ResultMixin):
    """What :func:`analyze` wrote.

    Attributes
    ----------
    out_dir, markdown, html, json : Path
        The report folder and its three documents.
    figures : tuple of Path
        PNG figures written into ``out_dir``.
    attachments : tuple of Path
        Other files written into ``out_dir`` and linked from the report (the sparsity
        certificate as JSON).
    sections : dict
        Section key -> ``{"status": "ok" | "partial" | "not computed", "reason": ..., <numbers>}``.
    summary : dict
        The headline numbers (also printed by the CLI).
    seconds : float
        Wall-clock time of the whole analysis.
    """

    out_dir: Path
    markdown: Path
    html: Path
    json: Path
    figures: tuple[Path, ...]
    sections: dict[str, dict[str, Any]]
    summary: dict[str, Any]
    seconds: float
    attachments: tuple[Path, ...] = ()

    def status(self, key: str) -> str:
        """Status of section ``key``."""
        return self.sections[key]["status"]

    def __str__(self) -> str:
        lines = [f"reluscope analysis written to {self.out_dir} ({self.seconds:.1f} s)"]
        for key, value in self.summary.items():
            lines.append(f"  {key}: {format_value(value)}")
        missing = [k for k, v in self.sections.items() if v["status"] == "not computed"]
        for key in missing:
            lines.append(f"  {key}: not computed: {self.sections[key].get('reason', '')}")
        lines.append(f"  report: {self.html}")
        return "\n".join(lines)



# ---------------------------------------------------------------------------- entry point


def analyze(
    network: ReLUNetwork | str | Path,
    out_dir: str | Path = "reluscope-report",
    *,
    domain: Box | PointSet | str | None = None,
    X: np.ndarray | None = None,
    y: np.ndarray | None = None,
    held_out: np.ndarray | None = None,
    time_limit: float = 10.0,
    section_timeout: float | None = None,
    total_time_limit: float | None = None,
    n_samples: int = 2000,
    seed: int = 0,
    title: str | None = None,
    sections: tuple[str, ...] | None = None,
    quiet: bool | None = None,
    source: str | None = None,
    budget: Budget | None = None,
    data_source: str | None = None,
) -> AnalysisReport:
    """Analyze one network and write a report folder.

    Parameters
    ----------
    network : ReLUNetwork or path
        The network, or a model file readable by :func:`reluscope.load`.
    out_dir : path
        Folder to write ``report.md``, ``report.html``, ``report.json`` and the figures into
        (created if missing).
    domain : Box, PointSet, "LO,HI" or None
        Domain of the analyses. ``None``: the bounding box of ``X`` when data are given
        (constant features widened by a relative ``1e-6``: :func:`reluscope.report.data.data_box`,
        noted in the report), else ``[-1, 1]^d``.
    X, y : arrays, optional
        Data ``(n, d)`` and labels ``(n,)``: enable the constructive baseline and the
        activation statistics on the data.
    held_out : array, optional
        Which rows of ``X`` the model did not train on (a boolean mask of shape ``(n,)`` or
        row indices). Then accuracies are reported as held-out and training accuracy;
        without it, accuracy on the given data is labelled as possibly including training data.
    time_limit : float
        Time limit in seconds of each solver call (MILP, Z3); a solver that hits it
        reports bounds or "undecided".
    total_time_limit : float, optional
        Wall-clock seconds for the whole run (what ``reluscope analyze --time-limit`` sets):
        the sections share one budget of this length (less a small reserve for writing the
        report), each getting a share of what is left when it starts, weighted by its
        expected cost (solver-bound sections such as degeneracies, Lipschitz and distances
        weigh two to four times the network or activation sections); solver calls never run past
        their section's share, and ``time_limit`` is capped by it. A section is stopped only
        past twice its share or 30 % of what is left (never past the run's budget).
        ``section_timeout`` is then ignored.
    section_timeout : float, optional
        Wall-clock seconds per section, default ``4 * time_limit + 30``. The run has one
        budget, ``section_timeout`` times the number of sections; each section gets an
        even share of what is left when it starts (time a quick section does not use goes
        to the later ones), and no solver call runs past its section's share. A section
        still running at the end of its share is stopped and reported as not computed.
    n_samples : int
        Number of points sampled from a box for the empirical checks.
    seed : int
        Seed of every random choice.
    title : str, optional
        Report title.
    sections : tuple of str, optional
        Subset of :data:`SECTION_KEYS` to run (default: all).
    quiet : bool, optional
        Force the progress bar off (``True``) or on (``False``); default: on a terminal only.
    source : str, optional
        Where the network came from (shown in the report); default: the path when
        ``network`` is a path.
    budget : Budget, optional
        A caller's budget: the run's budget is capped by it.
    data_source : str, optional
        Where ``X`` and ``y`` came from (a file name): named in data errors and the report.

    Returns
    -------
    AnalysisReport
    """
    start = time.perf_counter()
    if not isinstance(network, ReLUNetwork):
        from ..io import load

        source = source or str(network)
        network = load(network)
    time_limit = check_time_limit(time_limit)
    section_timeout = check_time_limit(section_timeout, "section_timeout", allow_none=True)
    total_time_limit = check_time_limit(total_time_limit, "total_time_limit", allow_none=True)
    if total_time_limit is not None:
        time_limit = min(time_limit, total_time_limit)
    seed = check_int(seed, "seed")
    Xa = ya = None
    if X is not None:
        what = f"{data_source}: " if data_source else ""
        Xa = np.array(X, dtype=float, copy=True)
        if Xa.ndim != 2 or Xa.shape[1] != network.input_dim:
            raise InvalidData(
                f"{what}data X has shape {Xa.shape}, expected (n, {network.input_dim}) for this network: give one "
                f"feature column per model input (and name the label column with --label-column / y)")
        if not np.all(np.isfinite(Xa)):
            r, c = (int(i) for i in np.argwhere(~np.isfinite(Xa))[0])
            raise InvalidData(f"{what}data X has a non-finite value ({Xa[r, c]}; NaN or Inf) at row {r}, "
                              f"column {c}: drop or impute it")
        if y is None:
            raise InvalidData(f"{what}data X given without labels y: pass the labels too")
        ya = np.array(y, copy=True)
        if ya.shape != (len(Xa),):
            raise InvalidData(f"{what}labels y have shape {ya.shape}, expected ({len(Xa)},): one label per row of X")
    domain_note = ""
    mask = None
    if held_out is not None:
        if Xa is None:
            raise InvalidArgument("held_out given without data X")
        h = np.asarray(held_out)
        if h.dtype == bool and h.shape == (len(Xa),):
            mask = h.copy()
        elif h.ndim == 1 and h.dtype.kind in "iu" and (h.size == 0 or (h.min() >= 0 and h.max() < len(Xa))):
            mask = np.zeros(len(Xa), dtype=bool)
            mask[h] = True
        else:
            raise InvalidArgument(f"held_out must be a boolean mask of shape ({len(Xa)},) or row indices of X; "
                                  f"got shape {h.shape}, dtype {h.dtype}")
    if domain is None and Xa is not None:
        dom, _, domain_note = data_box(Xa)
        domain_reason = "the bounding box of the given data, where the model is used"
    elif domain is None and getattr(network.provenance, "domain", None) is not None:
        # a model file that declares its input box (NNet min/max) is analyzed where it is defined
        dom = as_domain(network.provenance.domain, network.input_dim)
        domain_reason = "the input box the model file declares (its min/max normalization box)"
    else:
        dom = as_domain(domain, network.input_dim)
        domain_reason = ("the default box [-1, 1]^d, since neither data nor a domain was given" if domain is None
                         else "the domain given by the caller")
    keys = check_sections(sections)
    out = make_out_dir(out_dir)
    ctx = Context(network, dom, Xa, ya, out, time_limit, seed, int(n_samples), held_out=mask,
                  domain_reason=domain_reason)
    if total_time_limit is not None:  # one budget for the whole run, sections share it
        _preload(with_torch=total_time_limit >= _TORCH_PRELOAD)
        left = (1.0 - _WRITE_RESERVE) * total_time_limit - (time.perf_counter() - start)
        run = Budget.of(max(left, 1e-3), budget)
    else:
        per_section = section_timeout if section_timeout is not None else 4 * time_limit + 30
        run = Budget.of(per_section * len(keys), budget)

    outcomes: list[SectionOutcome] = []
    for i, key in enumerate(track(keys, quiet=quiet, label=lambda k: f"analyze: {_SECTIONS[k][0]}")):
        title_k, build = _SECTIONS[key]
        if total_time_limit is not None:  # shares by expected cost; the safety net is wider
            weights = [_WEIGHTS.get(k, 1.0) for k in keys[i:]]
            fraction = weights[0] / sum(weights)
            share = run.share(fraction)
            net_budget = run.share(min(1.0, max(2.0 * fraction, _SAFETY_SHARE)))
        else:
            share = net_budget = run.share(1.0 / (len(keys) - i))
        ctx.budget = share.share(_BUILDER_SHARE)
        n_figures, n_attachments = len(ctx.figures), len(ctx.attachments)
        outcome = run_section(key, title_k, lambda build=build: build(ctx), net_budget)
        if outcome.status == "not computed":
            del ctx.figures[n_figures:]  # a stopped or failed section's figures are not the report's
            for path in ctx.attachments[n_attachments:]:  # nor its other files (not linked from any text)
                path.unlink(missing_ok=True)
            del ctx.attachments[n_attachments:]
        outcomes.append(outcome)

    summary = _summary(network, outcomes)
    intro = [
        Paragraph(f"Model: `{source}`." if source else f"Model: a `ReLUNetwork` with widths {network.widths}."),
        *([Paragraph(f"Read as: {network.provenance}.")] if network.provenance is not None else []),
        *([Paragraph(f"Data: {domain_note}")] if domain_note else []),
        Table(("section", "status", "seconds"), tuple((o.section.title, o.status, f"{o.seconds:.1f}") for o in outcomes)),
        Table(("summary", "value"), tuple((k, v) for k, v in summary.items())),
        Paragraph(f"Solver time limit per call: {time_limit:g} s. Generated by reluscope "
                  f"in {time.perf_counter() - start:.1f} s."),
    ]
    doc = Document(title or "reluscope analysis", tuple(o.section for o in outcomes), tuple(intro))
    md_path, html_path, json_path = out / "report.md", out / "report.html", out / "report.json"
    md_path.write_text(doc.to_markdown())
    html_path.write_text(doc.to_html())
    section_data = {o.key: {**o.data, "seconds": o.seconds} for o in outcomes}
    written = tuple(p for p in ctx.figures if p.exists())
    attached = tuple(p for p in ctx.attachments if p.exists())
    seconds = time.perf_counter() - start
    dump_json({"model": source, "provenance": None if network.provenance is None else network.provenance.to_dict(),
               "widths": list(network.widths), "domain": domain_text(dom, network.input_dim),
               "domain_note": domain_note, "time_limit": time_limit, "summary": summary, "sections": section_data,
               "figures": [p.name for p in written], "attachments": [p.name for p in attached],
               "seconds": seconds}, json_path)
    return AnalysisReport(out, md_path, html_path, json_path, written, section_data, summary, seconds, attached)


def check_sections(sections: Sequence[str] | None, what: str = "") -> tuple[str, ...]:
    """The section keys to run (``None``: all), checked: every key known and at least one.
    ``what`` prefixes the message (e.g. the command-line flag and its value)."""
    keys = SECTION_KEYS if sections is None else tuple(sections)
    unknown = [k for k in keys if k not in _SECTIONS]
    if unknown:
        raise InvalidArgument(f"{what}unknown report section(s) {unknown}; known: {', '.join(SECTION_KEYS)}")
    if not keys:
        raise InvalidArgument(f"{what}no report section chosen; name at least one of: {', '.join(SECTION_KEYS)}")
    return keys


def _preload(with_torch: bool) -> None:
    """Import the libraries the sections share (matplotlib, SciPy's optimizers, HiGHS) before
    the sections' shares are computed (and PyTorch, when installed, for the gradient searches):
    imported lazily, their about 1.5 s would be charged to
    whichever section comes first and could leave it no time of its own."""
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401
    import scipy.optimize  # noqa: F401
    if with_torch:  # the gradient searches (network, Lipschitz and distance sections)
        try:
            import torch  # noqa: F401
        except ImportError:
            pass


def _summary(net: ReLUNetwork, outcomes: list[SectionOutcome]) -> dict[str, Any]:
    data = {o.key: o.data for o in outcomes}
    summary: dict[str, Any] = {"widths": "-".join(map(str, net.widths)), "parameters": net.n_parameters}
    deg = data.get("degeneracies", {})
    if deg.get("status") == "ok":
        counts = deg.get("counts", {})
        flagged = {k: v for k, v in counts.items()
                   if v and k not in ("ok", "regular", "healthy", "total", "unbalanced")}
        summary["degenerate neurons"] = ", ".join(f"{k} {v}" for k, v in flagged.items()) or "none"
        if counts.get("unbalanced"):
            summary["unbalanced neurons (not a degeneracy: fixed by rescaling)"] = counts["unbalanced"]
    red = data.get("reduction", {})
    if "widths_after" in red:
        summary["reduced widths"] = "-".join(map(str, red["widths_after"]))
    lip = data.get("lipschitz", {})
    if "lower" in lip:
        summary["Lipschitz constant"] = (format_value(lip["lower"]) if lip.get("exact")
                                         else f"[{format_value(lip['lower'])}, {format_value(lip['upper'])}]")
    dist = data.get("distances", {})
    if "sup" in dist:
        sup = dist["sup"]
        text = (format_value(sup["upper"]) if sup["exact"]
                else f"[{format_value(sup['lower'])}, {format_value(sup['upper'])}]")
        R = dist.get("output_range")
        if R:
            what = "output range attained on the domain" if dist.get("output_range_kind", "").startswith(
                "attained") else "output range on the domain's points"
            text += f" (relative to the {what}, R = {format_value(R, 4)}: " + (
                f"{sup['upper'] / R:.2%})" if sup["exact"] else f"{sup['lower'] / R:.2%} to {sup['upper'] / R:.2%})")
        summary[f"sup |f - g|, g = f pruned {dist['fraction']:.0%} more"] = text
    sp = data.get("sparsity", {})
    if "answer" in sp:
        summary["optimum exists"] = sp["answer"]
    con = data.get("constructive", {})
    held = con.get("held_out_accuracy", {})
    if held.get("split") == "the model's own test split" and "constructive" in held:
        summary["held-out accuracy (model / constructive)"] = (
            f"{format_value(held.get('model'))} / {format_value(held['constructive'])} "
            f"on {held['n_held_out']} rows the model did not train on")
        summary["training accuracy (model / constructive)"] = (
            f"{format_value(held.get('model_training'))} / {format_value(held.get('constructive_training'))}")
    elif "constructive_accuracy" in con:
        summary["accuracy on all given data (model / constructive)"] = (
            f"{format_value(con['model_accuracy'])} / {format_value(con['constructive_accuracy'])} "
            "(may include the model's training data; constructive: training accuracy)")
    not_computed = [o.key for o in outcomes if o.status == "not computed"]
    summary["sections not computed"] = ", ".join(not_computed) or "none"
    return summary
