"""NeuroDiff (ASE 2020 artifact, built by setup.sh) on a network and its compressed copy.

``delta_network_test PROP NET.nnet COPY.nnet EPS [-e 15]`` proves
``|f_t(x) - g_t(x)| <= EPS`` for every ``x`` in the property's region, where ``t`` is the
property's *target* output (output 0 for ACAS Xu property 1: NeuroDiff checks that one
output only, see its ``check_epsilon_interval``). The region is hard-coded per property in
raw ACAS Xu units and normalized with the network file's means/ranges (clipped to its
min/max). Verdict on stderr: ``No adv!`` = proved; ``adv found`` = refuted; killed at the
wall-clock limit = timeout. ``-e 15`` (15 extra symbolic variables) is the setting of the
artifact's own logs (``logs_ASE/acas_*/neurodiff``).

Networks are given as weight/bias arrays and written in its NNet text format with the
normalization header of the artifact's copy of that ACAS Xu network (``nnet/<name>.nnet``),
so NeuroDiff and reluscope see the same two networks; float16-rounded weights are exact in
the float32 NeuroDiff reads.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ._common import PEERS_DIR, WORK, require, run, tail

CODE = PEERS_DIR / "neurodiff" / "DiffNN-Code"
BINARY = CODE / "delta_network_test"
EXTRA_VARS = 15

# Raw regions and target output of the ACAS Xu properties NeuroDiff's load_inputs defines
# (nnet.c); 1 is the setting. Bounds in raw units: rho, theta, psi, v_own, v_int.
PROPERTIES = {
    1: ([55947.691, -3.141592, -3.141592, 1145, 0], [60760, 3.141592, 3.141592, 1200, 60], 0),
    3: ([1500, -0.06, 3.10, 980, 960], [1800, 0.06, 3.141592, 1200, 1200], 0),
    4: ([1500, -0.06, 0, 1000, 700], [1800, 0.06, 0, 1200, 800], 0),
}


def header_lines(name: str) -> list[str]:
    """The artifact's NNet header of an ACAS Xu network (size lines + normalization)."""
    path = require(CODE / "nnet" / f"{name}.nnet", "the NeuroDiff artifact's ACAS Xu network")
    lines = [ln for ln in path.read_text().splitlines() if not ln.startswith("//")]
    return lines[:7]  # sizes, layer sizes, symmetric flag, mins, maxes, means, ranges


def read_nnet(path: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Weights and biases of an NNet file (as NeuroDiff reads it; for checks)."""
    lines = [ln for ln in Path(path).read_text().splitlines() if not ln.startswith("//")]
    sizes = [int(s) for s in lines[1].strip().strip(",").split(",")]
    values = iter(lines[7:])
    Ws, bs = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        Ws.append(np.array([[float(v) for v in next(values).strip().strip(",").split(",")] for _ in range(n_out)]))
        bs.append(np.array([float(next(values).strip().strip(",")) for _ in range(n_out)]))
    return Ws, bs


def normalization(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """mins, maxes, means, ranges (inputs only) of the artifact's network file."""
    head = header_lines(name)
    n = int(head[0].split(",")[1])  # inputs; the lines may carry more entries (outputs' too)
    rows = [np.array([float(v) for v in ln.strip().strip(",").split(",")])[:n] for ln in head[3:7]]
    return rows[0], rows[1], rows[2], rows[3]


def region(name: str, prop: int) -> tuple[np.ndarray, np.ndarray]:
    """The normalized input box NeuroDiff checks (float32 arithmetic, as its C code)."""
    lo_raw, hi_raw, _ = PROPERTIES[prop]
    mins, maxes, means, ranges = (a.astype(np.float32) for a in normalization(name))

    def norm(x):
        x = np.clip(np.asarray(x, dtype=np.float32), mins, maxes)
        return ((x - means) / ranges).astype(np.float64)
    return norm(lo_raw), norm(hi_raw)


def write_nnet(path: Path, header: list[str], weights, biases) -> None:
    sizes = [int(s) for s in header[1].strip().strip(",").split(",")]
    if sizes != [weights[0].shape[1]] + [W.shape[0] for W in weights]:
        raise ValueError(f"layer sizes {sizes} of the header do not match the weights")
    # NNet lists all weight rows of a layer, then its biases, layer after layer.
    lines = ["// written by reluscope benchmarks/peers/neurodiff.py", *header]
    for W, b in zip(weights, biases):
        lines += [",".join(repr(float(v)) for v in row) + "," for row in np.asarray(W)]
        lines += [repr(float(v)) + "," for v in np.asarray(b)]
    path.write_text("\n".join(lines) + "\n")


def _file_for(name: str, tag: str, weights, biases) -> Path:
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(a, dtype=np.float64).tobytes()
                                     for a in [*weights, *biases])).hexdigest()[:12]
    path = WORK / "neurodiff" / f"{name}_{tag}_{digest}.nnet"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_nnet(path, header_lines(name), weights, biases)
    return path


def parse(stderr: str) -> str:
    if "No adv!" in stderr:
        return "proved"
    if "adv found" in stderr:
        return "refuted"
    return "error"


def verify_pair(name: str, net: tuple[list, list], copy: tuple[list, list], prop: int, eps: float,
                timeout: float) -> dict:
    """NeuroDiff on ``net`` vs ``copy`` (each ``(weights, biases)``, weights ``(out, in)``)."""
    binary = require(BINARY, "NeuroDiff's delta_network_test")
    f1 = _file_for(name, "net", *net)
    f2 = _file_for(name, "copy", *copy)
    done = run([str(binary), str(prop), str(f1), str(f2), str(eps), "-e", str(EXTRA_VARS)],
               wall_limit=timeout, cwd=CODE)
    if done.killed:
        return {"result": "timeout", "seconds": done.seconds, "cpu_seconds": done.cpu_seconds, "note": ""}
    result = parse(done.stderr)
    return {"result": result, "seconds": done.seconds, "cpu_seconds": done.cpu_seconds,
            "note": "" if result != "error" else f"rc={done.returncode}: {tail(done.stdout + done.stderr)}"}
