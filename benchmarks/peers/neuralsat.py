"""NeuralSAT (``neuralsat`` 0.2.17) on an ONNX network and a VNN-LIB file.

The package installs its code as a top-level package ``src``; it runs as
``python $SITE/src/main.py --net NET --spec SPEC --timeout T --device cpu --verbosity 0
--result_file R`` with ``PYTHONPATH=<torchvision shim>:$SITE/src`` (the shim stands in for
torchvision, whose registry build does not import beside the disk's torch; NeuralSAT uses
it only for ONNX NonMaxSuppression). ``R`` starts with ``sat`` / ``unsat`` / ``timeout``
(also ``unknown``); after ``sat`` come VNN-LIB style ``(X_i value)`` pairs.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from ._common import PEER_PYTHON, SHIM, WORK, plain_vnnlib, require, run, site_packages, tail

VERDICTS = {"sat": "violated", "unsat": "holds", "timeout": "timeout", "unknown": "unknown"}
_PAIR = re.compile(r"\(\s*X_(\d+)\s+([-+0-9.eE]+)\s*\)")


def parse(result_text: str) -> tuple[str, list[float] | None]:
    """``(result, counterexample)`` from NeuralSAT's result file."""
    text = result_text.strip()
    if not text:
        return "error", None
    first = re.split(r"[\s,]+", text.splitlines()[0].strip().lower())[0]
    result = VERDICTS.get(first, "error")
    cex = None
    if result == "violated":
        pairs = {int(i): float(v) for i, v in _PAIR.findall(text)}
        if pairs:
            cex = [pairs[i] for i in sorted(pairs)]
    return result, cex


def verify(onnx: Path, vnnlib: Path, timeout: float, grace: float = 30.0) -> dict:
    """Run NeuralSAT once; returns ``{result, seconds, counterexample, note}``."""
    require(PEER_PYTHON, "the peers' Python")
    site = site_packages()
    main = require(site / "src" / "main.py", "NeuralSAT's main.py")
    spec = plain_vnnlib(Path(vnnlib)).resolve()
    onnx = Path(onnx).resolve()
    WORK.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        result_file = Path(tmp) / "result.txt"
        done = run([str(PEER_PYTHON), str(main), "--net", str(onnx), "--spec", str(spec),
                    "--timeout", str(timeout), "--device", "cpu", "--verbosity", "0",
                    "--result_file", str(result_file)],
                   wall_limit=timeout + grace, cwd=Path(tmp),
                   env={"PYTHONPATH": f"{SHIM}:{site / 'src'}"})
        text = result_file.read_text(errors="replace") if result_file.exists() else ""
    if done.killed:
        return {"result": "timeout", "seconds": done.seconds, "cpu_seconds": done.cpu_seconds, "counterexample": None,
                "note": f"killed at {timeout + grace:.0f} s wall"}
    result, cex = parse(text)
    note = "" if result != "error" else f"rc={done.returncode}: {tail(done.stdout + done.stderr)}"
    return {"result": result, "seconds": done.seconds, "cpu_seconds": done.cpu_seconds, "counterexample": cex, "note": note}
