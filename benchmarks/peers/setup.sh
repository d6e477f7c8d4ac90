#!/usr/bin/env bash
# Comparator tools for benchmarks/verification.py, in their own virtual environment
# (benchmarks/.peers/, gitignored). Never part of reluscope's dependencies; none of the
# peers' code is committed. Idempotent: each step is skipped when its product exists.
#
# Needs:
#   - python3.11 with venv, gcc, make; apt-get (as root) for libopenblas-dev
#   - AUTO_LIRPA_SRC   : a snapshot of the public repository Verified-Intelligence/auto_LiRPA
#   - NEURODIFF_SRC    : a snapshot of the public repository pauls658/NeuroDiff-ASE2020-Artifact
#   Each may be a work tree or a bare git directory (as the search tool's `fetch` leaves them,
#   /work/.mirror/<owner>+<name>/repo); by default the script looks there.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PEERS="$(cd "$HERE/.." && pwd)/.peers"
VENV="$PEERS/venv"
PY="${PYTHON:-python3.11}"
AUTO_LIRPA_SRC="${AUTO_LIRPA_SRC:-/work/.mirror/Verified-Intelligence+auto_LiRPA/repo}"
NEURODIFF_SRC="${NEURODIFF_SRC:-/work/.mirror/pauls658+NeuroDiff-ASE2020-Artifact/repo}"

need_snapshot() {  # $1 name, $2 path, $3 repository
    if [ ! -d "$2" ]; then
        echo "setup.sh: $1 snapshot not found at '$2'." >&2
        echo "  Get the public repository $3 (e.g. the search tool's fetch github:$3)" >&2
        echo "  and point ${1} at it (work tree or bare git dir)." >&2
        exit 2
    fi
}

# Copy a snapshot (work tree or bare git dir) into $2 as a plain work tree.
materialize() {
    local src="$1" dst="$2"
    rm -rf "$dst.tmp" && mkdir -p "$dst.tmp"
    if [ -d "$src/.git" ] || [ ! -f "$src/HEAD" ]; then
        cp -a "$src/." "$dst.tmp/"
    else
        # A snapshot may lack its largest blobs (data files): copy what is there, list the rest.
        git --git-dir="$src" ls-tree -r HEAD | while read -r mode type sha path; do
            [ "$type" = blob ] || continue
            if git --git-dir="$src" cat-file -e "$sha" 2>/dev/null; then
                mkdir -p "$dst.tmp/$(dirname "$path")"
                git --git-dir="$src" cat-file blob "$sha" > "$dst.tmp/$path"
            else
                echo "$path" >> "$dst.tmp/.snapshot_absent"
            fi
        done
        git --git-dir="$src" rev-parse HEAD > "$dst.tmp/.snapshot_commit"
    fi
    rm -rf "$dst" && mv "$dst.tmp" "$dst"
}

mkdir -p "$PEERS"
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check -q)

# 1. torch from the machine's disk (CPU build); the registry's torchvision/torchaudio are left
#    out on purpose (torchvision does not import beside this torch: see peers/torchvision_shim).
if ! "$VENV/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" 2>/dev/null; then
    "${PIP[@]}" "torch==2.13.0"
fi

# 2. Marabou (Python API + the Marabou binary).
if [ ! -x "$VENV/bin/Marabou" ]; then
    "${PIP[@]}" "maraboupy==2.0.0"
fi

# 3. NeuralSAT without torchvision/torchaudio (its only use of torchvision is ONNX
#    NonMaxSuppression; the shim covers fully connected networks).
if ! "$VENV/bin/python" -m pip show neuralsat >/dev/null 2>&1; then
    "${PIP[@]}" --no-deps "neuralsat==0.2.17"
    "${PIP[@]}" "torch==2.13.0" beartype coloredlogs "gurobipy>=11.0.0" networkx numpy onnx \
        onnxsim onnxruntime packaging Pillow "protobuf<6.0,>=4.25.1" psutil requests \
        sortedcontainers sympy tqdm termcolor joblib scipy
fi

# 4. auto_LiRPA from the maintained source (registry's auto-lirpa needs torch<1.13).
if ! "$VENV/bin/python" -c "import auto_LiRPA" 2>/dev/null; then
    need_snapshot AUTO_LIRPA_SRC "$AUTO_LIRPA_SRC" Verified-Intelligence/auto_LiRPA
    materialize "$AUTO_LIRPA_SRC" "$PEERS/auto_LiRPA"
    "${PIP[@]}" --no-deps "$PEERS/auto_LiRPA"
    "${PIP[@]}" tqdm graphviz appdirs pyyaml packaging
fi

# 5. NeuroDiff, built from its public C code against Debian's OpenBLAS.
if [ ! -x "$PEERS/neurodiff/DiffNN-Code/delta_network_test" ]; then
    need_snapshot NEURODIFF_SRC "$NEURODIFF_SRC" pauls658/NeuroDiff-ASE2020-Artifact
    if ! dpkg-query -W -f='${Status}' libopenblas-dev 2>/dev/null | grep -q "ok installed"; then
        apt-get install -y -q libopenblas-dev >/dev/null || {
            apt-get update -q >/dev/null && apt-get install -y -q libopenblas-dev >/dev/null; }
    fi
    materialize "$NEURODIFF_SRC" "$PEERS/neurodiff"
    make -C "$PEERS/neurodiff/DiffNN-Code" delta_network_test \
        CFLAGS="-O3 -Wall -fcommon -DLINEQ -DLINEQDELTA -DEXTRAVARS -DEXTRAVARSSYM -DMAX_THREAD=1" \
        >"$PEERS/neurodiff_build.log" 2>&1 || {
            echo "setup.sh: NeuroDiff build failed, see $PEERS/neurodiff_build.log" >&2; exit 1; }
fi

# Versions, for BENCHMARKS.md.
{
    "$VENV/bin/python" -c "import sys; print('python', sys.version.split()[0])"
    "$VENV/bin/python" -m pip list --format=freeze 2>/dev/null \
        | grep -i -E '^(torch|maraboupy|neuralsat|auto.lirpa|gurobipy|onnx|onnxruntime|onnxsim|numpy)=='
    echo "auto_LiRPA snapshot $(cat "$PEERS/auto_LiRPA/.snapshot_commit" 2>/dev/null || echo unknown)"
    echo "NeuroDiff snapshot $(cat "$PEERS/neurodiff/.snapshot_commit" 2>/dev/null || echo unknown)"
    dpkg-query -W libopenblas-dev 2>/dev/null | tr '\t' ' '
} > "$PEERS/versions.txt"
cat "$PEERS/versions.txt"
echo "peers ready in $VENV"
