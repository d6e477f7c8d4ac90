"""Derive ``consensus.csv`` from the VNN-COMP 2021 per-tool results in ``tool_results.csv``.

Result names are normalized as the competition's ``process_results.py`` does (``unsat`` ->
holds, ``sat`` -> violated, everything else -> no answer). The consensus of an instance is
the answer given by the majority of the tools that answered holds or violated; instances on
which tools disagree are flagged (``conflict`` column) and resolved by majority vote, the
competition's "voting" rule. RPM's mnistfc answers are skipped, as the competition's
``process_results.py`` does (``skip_benchmarks['RPM'] = ['mnistfc']``: a VNN-LIB parsing bug
found after the competition; with them, 38 mnistfc instances have conflicting answers). Run:
``python make_consensus.py`` in this folder.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
SKIPPED = {("RPM", "mnistfc")}  # (tool, benchmark) pairs the competition did not count


def _normalized(result: str) -> str:
    result = result.strip().lower()
    if result == "unsat":
        return "holds"
    if result == "sat":
        return "violated"
    return result if result in ("holds", "violated") else "none"


def main() -> None:
    votes: dict[tuple[str, str, str], dict[str, list[str]]] = defaultdict(
        lambda: {"holds": [], "violated": []}
    )
    with open(HERE / "tool_results.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            key = (row["benchmark"], row["onnx"], row["vnnlib"])
            answer = _normalized(row["result"])
            votes[key]  # every instance gets a row, answered or not
            if answer != "none" and (row["tool"], row["benchmark"]) not in SKIPPED:
                votes[key][answer].append(row["tool"])
    with open(HERE / "consensus.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["benchmark", "onnx", "vnnlib", "consensus", "n_holds", "n_violated", "conflict"])
        for (benchmark, onnx, vnnlib), answer in sorted(votes.items()):
            n_holds, n_violated = len(answer["holds"]), len(answer["violated"])
            if n_holds == n_violated:
                consensus = "unknown"
            else:
                consensus = "holds" if n_holds > n_violated else "violated"
            conflict = "yes" if n_holds and n_violated else "no"
            writer.writerow([benchmark, onnx, vnnlib, consensus, n_holds, n_violated, conflict])


if __name__ == "__main__":
    main()
