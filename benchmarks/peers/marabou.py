"""Marabou (``maraboupy`` 2.0.0's ``Marabou`` binary) on an ONNX network and a VNN-LIB file.

``Marabou NET.onnx SPEC.vnnlib --timeout T --num-workers 1``: the verdict is the last of the
lines ``sat`` / ``unsat`` / ``Timeout`` (also ``TIMEOUT``, ``unknown``); after ``sat`` it
prints ``Input assignment:`` with ``x<i> = value`` lines (6 decimals), kept as the
counterexample.
"""

from __future__ import annotations

import re
from pathlib import Path

from ._common import VENV, Completed, plain_vnnlib, require, run, tail

VERDICTS = {"sat": "violated", "unsat": "holds", "timeout": "timeout", "unknown": "unknown"}
_ASSIGN = re.compile(r"^\s*x(\d+)\s*=\s*([-+0-9.eE]+|nan|inf|-inf)\s*$")


def parse(stdout: str) -> tuple[str, list[float] | None]:
    """``(result, counterexample)`` from Marabou's output; result in holds / violated /
    timeout / unknown / error."""
    result = "error"
    lines = stdout.splitlines()
    verdict_at = None
    for i, line in enumerate(lines):
        word = line.strip().lower()
        if word in VERDICTS:
            result, verdict_at = VERDICTS[word], i
    cex = None
    if result == "violated" and verdict_at is not None:
        values: dict[int, float] = {}
        in_inputs = False
        for line in lines[verdict_at + 1:]:
            if line.strip().lower().startswith("input assignment"):
                in_inputs = True
                continue
            if in_inputs:
                m = _ASSIGN.match(line)
                if m:
                    values[int(m.group(1))] = float(m.group(2))
                elif line.strip():
                    break
        if values:
            cex = [values[i] for i in sorted(values)]
    return result, cex


def verify(onnx: Path, vnnlib: Path, timeout: float, grace: float = 20.0) -> dict:
    """Run Marabou once; returns ``{result, seconds, counterexample, note}``."""
    binary = require(VENV / "bin" / "Marabou", "the Marabou binary")
    spec = plain_vnnlib(Path(vnnlib)).resolve()
    onnx = Path(onnx).resolve()
    done: Completed = run([str(binary), str(onnx), str(spec), "--timeout", str(int(round(timeout))),
                           "--num-workers", "1"], wall_limit=timeout + grace)
    if done.killed:
        return {"result": "timeout", "seconds": done.seconds, "cpu_seconds": done.cpu_seconds, "counterexample": None,
                "note": f"killed at {timeout + grace:.0f} s wall"}
    result, cex = parse(done.stdout)
    note = "" if result != "error" else f"rc={done.returncode}: {tail(done.stdout + done.stderr)}"
    return {"result": result, "seconds": done.seconds, "cpu_seconds": done.cpu_seconds, "counterexample": cex, "note": note}
