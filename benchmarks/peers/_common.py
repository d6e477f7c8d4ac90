"""Shared plumbing of the peer runners: where the peers' environment is, running one
peer call in a child process with a wall-clock limit, and plain VNN-LIB files.

Every peer call runs as its own process group; past the wall-clock limit the whole group
is killed (SIGKILL), so a peer that ignores its own ``--timeout`` cannot stall the run.
The measured time is the wall time of the whole child (start-up included), the same for
every tool; its CPU time (user + system, the child and the descendants it waited for) is
recorded too, since the machine's two cores are shared and wall times stretch with the load.
"""

from __future__ import annotations

import gzip
import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
PEERS_DIR = BENCH / ".peers"
VENV = PEERS_DIR / "venv"
PEER_PYTHON = VENV / "bin" / "python"
WORK = PEERS_DIR / "work"
SHIM = Path(__file__).resolve().parent / "torchvision_shim"

# One thread per peer: the machine has two cores shared with other work.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


class PeersMissing(RuntimeError):
    """The peers' environment is not set up (run benchmarks/peers/setup.sh)."""


def require(path: Path, what: str) -> Path:
    if not path.exists():
        raise PeersMissing(f"{what} not found at {path}; run `bash benchmarks/peers/setup.sh` first")
    return path


def site_packages() -> Path:
    found = sorted((VENV / "lib").glob("python3*/site-packages"))
    if not found:
        raise PeersMissing(f"no site-packages under {VENV}; run `bash benchmarks/peers/setup.sh` first")
    return found[0]


@dataclass
class Completed:
    returncode: int | None  # None: killed at the wall-clock limit
    stdout: str
    stderr: str
    seconds: float
    killed: bool
    cpu_seconds: float  # user + system time of the child and the descendants it waited for


def run(cmd: list[str], wall_limit: float, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> Completed:
    """Run ``cmd`` with a wall-clock limit; the process group is killed past it."""
    full_env = {**os.environ, **ONE_THREAD, **(env or {})}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            errors="replace", env=full_env, cwd=cwd, start_new_session=True)
    killed = False
    try:
        out, err = proc.communicate(timeout=wall_limit)
    except subprocess.TimeoutExpired:
        killed = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
    seconds = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Completed(None if killed else proc.returncode, out, err, seconds, killed, cpu)


def plain_vnnlib(path: Path) -> Path:
    """A plain-text copy of a (possibly gzipped) VNN-LIB file; peers read only plain text.

    A missing ``X.vnnlib`` resolves to the vendored ``X.vnnlib.gz``.
    """
    path = Path(path)
    if path.exists() and path.suffix != ".gz":
        return path
    gz = path if path.suffix == ".gz" else path.with_name(path.name + ".gz")
    if not gz.exists():
        raise FileNotFoundError(f"no VNN-LIB file {path} (nor {gz.name})")
    out = WORK / "specs" / gz.parent.name / gz.name[:-3]
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_bytes(gzip.decompress(gz.read_bytes()))
        tmp.replace(out)
    return out


def tail(text: str, n: int = 300) -> str:
    return text[-n:].replace("\n", " | ")


if __name__ == "__main__":  # pragma: no cover - a quick check of the environment
    print(PEER_PYTHON, PEER_PYTHON.exists(), site_packages(), file=sys.stderr)
