"""Per-instance cache of peer results: ``benchmarks/results/peers_<tool>_<suite>.json``.

Peers are slow, so their runs are kept keyed by instance and the final table can be
assembled in one invocation (``verification.py --reuse-peers``). The file records when and
with which versions each entry was measured; it is rewritten after every instance, so an
interrupted run keeps what it measured.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import time
from pathlib import Path

from ._common import PEERS_DIR

RESULTS = Path(__file__).resolve().parents[1] / "results"


def path_for(tool: str, suite: str) -> Path:
    return RESULTS / f"peers_{tool}_{suite}.json"


def versions() -> str:
    p = PEERS_DIR / "versions.txt"
    return p.read_text().strip() if p.exists() else "unknown (benchmarks/peers/setup.sh not run)"


def load(tool: str, suite: str) -> dict:
    p = path_for(tool, suite)
    if p.exists():
        return json.loads(p.read_text())
    return {"tool": tool, "suite": suite, "instances": {}}


def store(tool: str, suite: str, data: dict, entry_key: str, entry: dict) -> None:
    entry = {**entry, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "load1": round(os.getloadavg()[0], 2)}
    data["instances"][entry_key] = entry
    data["machine"] = f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}"
    data["versions"] = versions()
    RESULTS.mkdir(parents=True, exist_ok=True)
    p = path_for(tool, suite)
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(p)


def merge_entry(path: Path, key: str, entry: dict) -> dict:
    """Add one entry to a JSON cache ``{"instances": {...}}`` shared by several processes
    (shards of one run): re-read under a lock, update, write atomically; returns the merged
    data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(path.read_text()) if path.exists() else {"instances": {}}
        data["instances"][key] = entry
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        tmp.replace(path)
    return data
