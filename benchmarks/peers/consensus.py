"""VNN-COMP 2021 instances (acasxu, mnistfc) with the competition's consensus answers.

Reads the files vendored under ``benchmarks/vnncomp2021/`` (see its SOURCE.md): the instance
CSVs (``onnx,vnnlib,timeout_seconds``) and ``results/tool_results.csv`` (every tool's row of
the competition's results repository, stanleybak/vnncomp2021_results). The consensus is
computed here as the competition's ``process_results.py`` scores: answers normalized
(``unsat`` -> holds, ``sat`` -> violated), **RPM's mnistfc answers skipped** (upstream:
``skip_benchmarks['RPM'] = ['mnistfc']``, a VNN-LIB parsing bug found after the competition),
majority of the remaining holds/violated answers; a tie or no answer leaves the instance
without consensus. (``results/consensus.csv``, written by ``results/make_consensus.py``, applies
the same rule; this module reads the per-tool rows itself.)
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

VNNCOMP = Path(__file__).resolve().parents[1] / "vnncomp2021"
SUITES = ("acasxu", "mnistfc")
SKIPPED = {("RPM", "mnistfc")}  # as upstream's process_results.py

# Best published counts as quoted by issue 25 (its goal): solved within the per-instance timeout.
ISSUE_BEST = {"acasxu": {"VeriNet": 181, "alpha-beta-CROWN": 180},
              "mnistfc": {"RPM": 34, "alpha-beta-CROWN": 32}}


@dataclass(frozen=True)
class Instance:
    suite: str
    onnx: str  # file name inside benchmarks/vnncomp2021/<suite>/
    vnnlib: str
    timeout: float
    consensus: str  # "holds" | "violated" | "none"
    n_holds: int
    n_violated: int

    @property
    def key(self) -> str:
        return f"{self.onnx}|{self.vnnlib}"

    @property
    def onnx_path(self) -> Path:
        return VNNCOMP / self.suite / self.onnx

    @property
    def vnnlib_path(self) -> Path:
        """The vendored file (``.vnnlib`` or ``.vnnlib.gz``)."""
        plain = VNNCOMP / self.suite / self.vnnlib
        return plain if plain.exists() else plain.with_name(plain.name + ".gz")


def normalized(result: str) -> str:
    r = result.strip().lower()
    return {"unsat": "holds", "sat": "violated"}.get(r, r if r in ("holds", "violated") else "none")


def tool_answers(path: Path | None = None) -> dict[tuple[str, str, str], dict[str, tuple[str, float]]]:
    """``{(suite, onnx, vnnlib): {tool: (answer, run_seconds)}}`` from the vendored results."""
    path = path or VNNCOMP / "results" / "tool_results.csv"
    out: dict = defaultdict(dict)
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            if row["benchmark"] not in SUITES:
                continue
            key = (row["benchmark"], row["onnx"], row["vnnlib"])
            out[key][row["tool"]] = (normalized(row["result"]), float(row["run_seconds"] or -1))
    return out


def consensus_of(answers: dict[str, tuple[str, float]], suite: str) -> tuple[str, int, int]:
    votes = [a for tool, (a, _) in answers.items() if (tool, suite) not in SKIPPED]
    h, v = votes.count("holds"), votes.count("violated")
    return ("holds" if h > v else "violated" if v > h else "none"), h, v


def instances(suite: str, results_csv: Path | None = None) -> list[Instance]:
    """The suite's instances in the order of its instance CSV, with their consensus."""
    answers = tool_answers(results_csv)
    rows = []
    with open(VNNCOMP / suite / f"{suite}_instances.csv", newline="") as handle:
        for onnx, vnnlib, timeout in csv.reader(handle):
            cons, h, v = consensus_of(answers.get((suite, onnx, vnnlib), {}), suite)
            rows.append(Instance(suite, onnx, vnnlib, float(timeout), cons, h, v))
    return rows


def published_counts(suite: str, results_csv: Path | None = None) -> dict[str, int]:
    """Per tool: answers agreeing with the consensus (as this module computes it), from the
    vendored results. Upstream scoring also subtracts each tool's start-up overhead and
    applies the timeout; this count does neither (it is what the tool answered)."""
    answers = tool_answers(results_csv)
    cons = {k: consensus_of(a, suite)[0] for k, a in answers.items() if k[0] == suite}
    counts: dict[str, int] = defaultdict(int)
    for key, per_tool in answers.items():
        if key[0] != suite:
            continue
        for tool, (answer, _) in per_tool.items():
            if (tool, suite) not in SKIPPED and answer in ("holds", "violated") and answer == cons[key]:
                counts[tool] += 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def stride_subset(rows: list[Instance], stride: int) -> list[Instance]:
    """Every ``stride``-th instance in CSV order, starting with the first (deterministic)."""
    return rows[::max(1, int(stride))]
