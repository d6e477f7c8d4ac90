"""What each registered experiment reproduces: the paper, the part of it, the published
values it is compared against, and the verdict of a run.

Every registered experiment has an entry in :data:`SOURCES` (a test enforces it). A published
value names the number from the source (never a number of this project), where in the
experiment's numbers file the measured counterpart is (a dotted path into the JSON), and a
tolerance. A run then states, per value, ``match``, ``mismatch`` or ``not measured`` (the
configuration did not produce it, for example a quick run that stops before the published
iteration); an experiment without a published value says ``no published value``.

The papers' full texts were not consulted when these entries were written (see
``/work/shared/math/``): where the figure, table or theorem number is unknown, the entry says
so rather than guess. Every number below is quoted from the source named in its ``where``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Literal

__all__ = ["Paper", "Published", "Source", "SOURCES", "Verdict", "source_of", "verdicts"]

Tolerance = Literal["abs", "rel", "factor", "at_most", "at_least"]


@dataclasses.dataclass(frozen=True)
class Paper:
    authors: str
    title: str
    venue: str
    arxiv: str

    def cite(self) -> str:
        return f"{self.authors}, \"{self.title}\", {self.venue} (arXiv {self.arxiv})"


@dataclasses.dataclass(frozen=True)
class Published:
    """One published value and how a run is compared against it.

    ``kind``: ``"abs"`` (``|measured - value| <= tolerance``), ``"rel"`` (relative to
    ``|value|``), ``"factor"`` (``value / tolerance <= measured <= value * tolerance``),
    ``"at_most"`` / ``"at_least"`` (a bound stated by a theorem: ``measured <= value`` or
    ``>=``, ``tolerance`` the slack).
    """

    quantity: str
    value: float
    key: str  # dotted path into the experiment's numbers JSON
    kind: Tolerance
    tolerance: float
    where: str

    def tolerance_text(self) -> str:
        return {
            "abs": f"± {self.tolerance:g}",
            "rel": f"± {100 * self.tolerance:g}%",
            "factor": f"within a factor {self.tolerance:g}",
            "at_most": f"<= (slack {self.tolerance:g})",
            "at_least": f">= (slack {self.tolerance:g})",
        }[self.kind]

    def holds(self, measured: float) -> bool:
        v, t = self.value, self.tolerance
        if self.kind == "abs":
            return abs(measured - v) <= t
        if self.kind == "rel":
            return abs(measured - v) <= t * abs(v)
        if self.kind == "factor":
            return v / t <= measured <= v * t if v > 0 else v * t <= measured <= v / t
        if self.kind == "at_most":
            return measured <= v + t
        return measured >= v - t


@dataclasses.dataclass(frozen=True)
class Source:
    """What an experiment reproduces: ``paper``, ``part`` (figure, table, theorem or other
    artefact, as precisely as known), and the published values compared against."""

    paper: Paper
    part: str
    published: tuple[Published, ...] = ()
    note: str = ""


@dataclasses.dataclass(frozen=True)
class Verdict:
    experiment: str
    quantity: str
    published: float | None
    measured: float | None
    tolerance: str
    verdict: str  # "match", "mismatch", "not measured", "no published value"
    where: str

    def row(self) -> tuple[str, str, str, str, str, str]:
        fmt = lambda v: "–" if v is None else f"{v:.4g}"  # noqa: E731
        return (self.experiment, self.quantity, fmt(self.published), fmt(self.measured), self.tolerance, self.verdict)


BERNER = Paper("J. Berner, D. Elbrächter, P. Grohs",
               "How degenerate is the parametrization of neural networks with the ReLU activation function?",
               "NeurIPS 2019", "1905.09803")
CHEN = Paper("T. Chen, P. Muñoz Ewald",
             "Geometric structure of shallow neural networks and constructive L2 cost minimization",
             "preprint 2023", "2309.10370")
LE = Paper("Q.-T. Le, E. Riccietti, R. Gribonval",
           "Does a sparse ReLU network training problem always admit an optimum?", "NeurIPS 2023", "2306.02666")

_NOTEBOOK = "the authors' public notebook accompanying arXiv 1905.09803, iteration {it} (as recorded in the project's notes)"

SOURCES: dict[str, Source] = {
    "inverse-stability-notebook": Source(
        BERNER,
        "the width-2 ramp experiment of the authors' public notebook (not a figure of the paper)",
        (
            Published("validation MSE at iteration 30 (plain network)", 0.078,
                      "comparison.unrestricted.val_mse.30", "factor", 2.0, _NOTEBOOK.format(it=30)),
            Published("validation MSE at iteration 480 (plain network)", 0.003,
                      "comparison.unrestricted.val_mse.480", "factor", 2.0, _NOTEBOOK.format(it=480)),
            Published("validation max error at iteration 30 (plain network)", 0.746,
                      "comparison.unrestricted.val_max_error.30", "factor", 2.0, _NOTEBOOK.format(it=30)),
            Published("validation max error at iteration 480 (plain network)", 0.132,
                      "comparison.unrestricted.val_max_error.480", "factor", 2.0, _NOTEBOOK.format(it=480)),
        ),
        "SGD batches come from this run's own generator: the tolerance (a factor 2) asks for the same order "
        "of magnitude, not the same digits.",
    ),
    "pathologies": Source(
        BERNER,
        "the degenerate-parametrization phenomenon of the paper (families reconstructed by the project; "
        "figure/table number not identified)",
        note="the families and their analytic bounds are the project's reconstruction, not published values",
    ),
    "restricted-vs-unrestricted": Source(
        BERNER,
        "the restricted parametrization set and its inverse stability (the paper's main theorem; number not "
        "identified); the training comparison is the project's own experiment",
    ),
    "local-minima-width": Source(
        BERNER,
        "the argument that local minima of regularized problems are almost optimal for wide networks "
        "(paper's discussion; the experiment is the project's own)",
    ),
    "constructive-vs-gradient": Source(
        CHEN,
        "the O(δ_P) upper bound on the cost of the explicit construction (main theorem; number not identified)",
        (
            Published("largest constructive cost / bound sqrt(Q) ||Y||_op δ_P over the synthetic sweep", 1.0,
                      "max_cost_over_bound", "at_most", 1e-9, "the upper bound of arXiv 2309.10370 (a theorem)"),
        ),
    ),
    "random-support-closedness": Source(
        LE,
        "non-closed linear counterparts of sparse supports (the LU example and its generalisations); the "
        "random-support sweep is the project's own experiment",
    ),
    "sparse-divergence": Source(
        LE,
        "the two-layer LU-pattern training experiment (n = 100 in the paper; figure number not identified)",
        note="the paper's curves are qualitative here: no number from them is recorded",
    ),
    "sparse-divergence-real": Source(
        LE,
        "the divergence of training on a pattern without optimum (the paper's LU experiment), carried to a "
        "magnitude-pruned 64-128-64-10 mask with a certified block defect and its repaired mask; the project's own "
        "experiment",
        note="no published number: the paper has no pruned-MLP experiment",
    ),
}


def source_of(name: str) -> Source | None:
    return SOURCES.get(name)


def _lookup(data: Any, key: str) -> float | None:
    for part in key.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        else:
            return None
    if isinstance(data, bool) or not isinstance(data, (int, float)) or not math.isfinite(float(data)):
        return None
    return float(data)


def verdicts(name: str, numbers: Path | None, summary: dict[str, Any] | None = None) -> list[Verdict]:
    """Compare one run of experiment ``name`` with its published values.

    Keys are looked up in the numbers JSON first, then in the run's ``summary``.
    """
    source = SOURCES.get(name)
    if source is None:
        return [Verdict(name, "(source not declared)", None, None, "", "no published value", "")]
    if not source.published:
        return [Verdict(name, "—", None, None, "", "no published value", source.paper.cite())]
    data: dict[str, Any] = {}
    if numbers is not None:
        try:
            data = json.loads(Path(numbers).read_text())
        except (OSError, ValueError):
            data = {}
    out = []
    for p in source.published:
        measured = _lookup(data, p.key)
        if measured is None and summary is not None:
            measured = _lookup(summary, p.key)
        verdict = "not measured" if measured is None else ("match" if p.holds(measured) else "mismatch")
        out.append(Verdict(name, p.quantity, p.value, measured, p.tolerance_text(), verdict, p.where))
    return out
