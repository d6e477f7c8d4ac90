"""Reading and writing model files: format detection, one reader and writer per format,
:func:`load` and :func:`save` (documented in :mod:`reluscope.io`), and
:func:`read_mask_arrays` for ``.npz`` files that hold only masks.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import struct
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFileError, ReluscopeError, UnsupportedLayer
from ..network import Provenance, ReLUNetwork
from ..sklearn_interop import read_skops
from ..torch_interop import _import_torch, from_torch
from .nnet import looks_like_nnet, nnet_text, read_nnet
from .onnx_format import onnx_bytes, read_onnx
from .tensors import (
    MARKER,
    MARKER_VALUE,
    PROVENANCE_KEY,
    digest,
    fail,
    mask_array,
    network_from_tensors,
    network_to_tensors,
    provenance_record,
    torch_array,
)

__all__ = ["load", "save", "detect_format", "read_mask_arrays", "FORMATS"]

FORMATS = ("npz", "safetensors", "torch", "onnx", "skops", "nnet")
_SUFFIX_FORMAT = {".npz": "npz", ".safetensors": "safetensors", ".pt": "torch", ".pth": "torch", ".onnx": "onnx",
                  ".nnet": "nnet"}
# a serialized onnx.ModelProto starts with field 1 (ir_version, a small varint) followed by
# one of its other fields: producer_name (2), producer_version (3), domain (4), model_version (5),
# doc_string (6), graph (7), opset_import (8), metadata_props (14), ...
_ONNX_SECOND_FIELD = frozenset({0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72, 0x7A, 0x82})


# ---------------------------------------------------------------------- format detection
def detect_format(path: str | os.PathLike[str]) -> str:
    """Return ``"npz"``, ``"safetensors"``, ``"torch"``, ``"onnx"``, ``"skops"`` or ``"nnet"``
    from the content of ``path``.

    Raises
    ------
    ModelFileError
        If the file is missing, a directory, empty, or of no recognized format.
    """
    p = Path(path)
    if not p.exists():
        raise fail(p, "no such file")
    if p.is_dir():
        raise fail(p, "is a directory, not a model file")
    if not p.is_file():  # a pipe, socket or device: reading it could block forever or never end
        raise fail(p, "is not a regular file (a pipe, socket or device); save the model to a file first")
    try:
        size = p.stat().st_size
        with open(p, "rb") as fh:
            start = fh.read(4096)
        head = start[:16]
    except OSError as exc:
        raise fail(p, f"cannot be read ({exc.strerror or exc})") from None
    if size == 0:
        raise fail(p, "is empty (0 bytes)")
    if head[:2] == b"PK":
        try:
            with zipfile.ZipFile(p) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise fail(p, f"truncated or corrupted zip archive ({exc})") from None
        if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            return "torch"
        if names and all(n.endswith(".npy") for n in names):
            return "npz"
        if "schema.json" in names:
            return "skops"
        raise fail(p, f"zip archive is neither an npz, a torch.save nor a skops file (members {names[:4]})")
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return "torch"  # legacy torch.save / pickle stream, only ever read with weights_only=True
    if len(head) >= 9:
        (n,) = struct.unpack("<Q", head[:8])
        if head[8:9] == b"{":
            if 8 + n > size:
                raise fail(p, f"truncated safetensors file: header claims {n} bytes but the file has {size}")
            return "safetensors"
    if head[:1] == b"\x08" and len(head) > 2 and head[1] < 0x80 and head[2] in _ONNX_SECOND_FIELD:
        return "onnx"
    if looks_like_nnet(start if size > len(start) else start + b"\n"):
        return "nnet"
    raise fail(
        p,
        f"unrecognized model file format (first bytes {head[:8]!r}); expected npz, safetensors, ONNX, skops, NNet "
        "or a torch.save file",
    )


# ---------------------------------------------------------------------- readers
def _zip_crc_check(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError) as exc:
        raise fail(path, f"truncated or corrupted zip archive ({exc})") from None
    except Exception as exc:  # zlib.error and friends
        raise fail(path, f"corrupted zip archive ({type(exc).__name__}: {exc})") from None
    if bad is not None:
        raise fail(path, f"corrupted bytes: archive member '{bad}' fails its CRC-32 check")


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    _zip_crc_check(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: np.array(data[k]) for k in data.files}
    except ReluscopeError:
        raise
    except Exception as exc:
        raise fail(path, f"corrupted npz file ({type(exc).__name__}: {exc})") from None


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    data = path.read_bytes()
    if len(data) < 9:
        raise fail(path, f"truncated safetensors file ({len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise fail(path, f"truncated safetensors file: header claims {n} bytes but the file has {len(data)}")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError("header is not a JSON object")
    except (UnicodeDecodeError, ValueError) as exc:
        raise fail(path, f"corrupted safetensors header ({exc})") from None
    metadata = header.get("__metadata__") or {}
    torch_only = {"BF16", "F8_E4M3", "F8_E5M2"}
    needs_torch = any(
        isinstance(v, dict) and v.get("dtype") in torch_only for k, v in header.items() if k != "__metadata__"
    )
    try:
        if needs_torch:  # dtypes numpy lacks: read with torch and widen to float64 (exact)
            _import_torch()  # a one-line "needs PyTorch" when it is missing
            from safetensors.torch import load as torch_load

            tensors = {k: torch_array(v, f"{path}: tensor '{k}'") for k, v in torch_load(data).items()}
        else:
            import safetensors.numpy as stn

            tensors = dict(stn.load(data))
    except ReluscopeError:
        raise
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise fail(path, f"corrupted or truncated safetensors file ({msg})") from None
    info: dict[str, Any] = {}
    if isinstance(metadata, dict) and "reluscope" in metadata:
        try:
            info = json.loads(metadata["reluscope"])
            if not isinstance(info, dict):
                raise ValueError("not a JSON object")
        except (TypeError, ValueError) as exc:
            raise fail(path, f"corrupted reluscope metadata in the safetensors header ({exc})") from None
    if info.get("format") == MARKER_VALUE:
        tensors[MARKER] = np.array(MARKER_VALUE)
        expected = info.get("sha256")
        if expected is not None:
            got = digest({k: v for k, v in tensors.items() if k != MARKER})
            if got != expected:
                raise fail(path, "corrupted bytes: tensor data does not match the sha256 checksum in the header")
        if "provenance" in info:
            tensors[PROVENANCE_KEY] = np.array(json.dumps(info["provenance"]))
    return tensors


_SAFE_SEQUENTIAL_NAMES = ("Sequential", "Linear", "ReLU", "Identity", "Flatten", "Dropout", "BatchNorm1d")
_SAFE_PRUNE_NAMES = (
    "Identity",
    "L1Unstructured",
    "RandomUnstructured",
    "LnStructured",
    "RandomStructured",
    "CustomFromMask",
    "PruningContainer",
)


def _read_torch(path: Path, order: list[str] | None = None) -> ReLUNetwork:
    torch = _import_torch()
    nn = torch.nn
    import torch.nn.utils.prune as prune

    if zipfile.is_zipfile(path):
        _zip_crc_check(path)
    allowed = [getattr(nn, n) for n in _SAFE_SEQUENTIAL_NAMES] + [getattr(prune, n) for n in _SAFE_PRUNE_NAMES]
    try:
        # torch's own warnings (deprecated storages, beta sparse layouts) are not the user's concern
        with torch.serialization.safe_globals(allowed), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        text = str(exc)
        m = re.search(r"GLOBAL ([\w.]+)", text)
        if m and m.group(1).startswith("torch.nn."):
            raise UnsupportedLayer(
                f"{path}: contains {m.group(1)}, which is not part of a Linear/ReLU stack (not unpickled; "
                "only tensors, state dicts and nn.Sequential of Linear/ReLU/BatchNorm1d/Identity/Flatten/Dropout "
                "are loaded; for other modules export to ONNX or call reluscope.from_torch(model))"
            ) from None
        if m:
            raise fail(path, f"refers to {m.group(1)}, which the safe loader refuses to unpickle (not executed)")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        informative = [ln for ln in lines if not ln.startswith(("Weights only load failed", "Check the documentation", "(1)", "(2)"))]
        first = (informative or lines or [type(exc).__name__])[0]
        first = first.split("WeightsUnpickler error:")[-1].strip() or "invalid pickle data"
        raise fail(path, f"truncated or corrupted torch file ({type(exc).__name__}: {first[:200]})") from None
    notes: list[str] = []
    if isinstance(obj, dict):
        obj = _checkpoint_model(path, obj, torch, notes)
    if isinstance(obj, nn.Module):
        try:
            net = from_torch(obj)
        except UnsupportedLayer as exc:
            raise UnsupportedLayer(f"{path}: {exc}") from None
        except ReluscopeError as exc:
            raise fail(path, str(exc)) from None
        prov = net.provenance or Provenance()
        return net.with_provenance(Provenance("torch", None, prov.inferred, (*notes, *prov.notes)))
    if isinstance(obj, dict):
        tensors = {}
        for key, value in obj.items():
            if not isinstance(value, torch.Tensor):
                raise fail(path, f"entry '{key}' is a {type(value).__name__}, not a tensor")
            tensors[str(key)] = torch_array(value, f"{path}: tensor '{key}'")
        tensors = _strip_prefix(tensors, notes)
        net = network_from_tensors(tensors, path, order=order)
        return net.with_provenance(Provenance("torch", None, net.provenance.inferred, tuple(notes)))
    raise fail(path, f"holds a {type(obj).__name__}; expected a state_dict or an nn.Sequential")


_CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model", "net", "module")


def _checkpoint_model(path: Path, obj: dict, torch: Any, notes: list[str]) -> Any:
    """The model inside a training checkpoint (``{"model_state_dict": ..., "optimizer": ...}``):
    a known key, else the one entry that is a module or a dict of tensors."""
    nn = torch.nn
    if all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj
    for key in _CHECKPOINT_KEYS:
        if key in obj and isinstance(obj[key], (dict, nn.Module)):
            notes.append(f"model read from the checkpoint entry '{key}'")
            return _checkpoint_model(path, obj[key], torch, notes) if isinstance(obj[key], dict) else obj[key]
    candidates = [
        k for k, v in obj.items()
        if isinstance(v, nn.Module) or (isinstance(v, dict) and v and all(isinstance(t, torch.Tensor) for t in v.values()))
    ]
    if len(candidates) == 1:
        notes.append(f"model read from the checkpoint entry '{candidates[0]}'")
        return obj[candidates[0]]
    if candidates:
        raise fail(path, f"checkpoint holds several state dicts {candidates}; save the model's own state_dict "
                         "(or put it under the key 'model_state_dict')")
    return obj


def _strip_prefix(tensors: dict[str, np.ndarray], notes: list[str]) -> dict[str, np.ndarray]:
    """Drop the ``module.`` prefix that ``nn.DataParallel`` / DistributedDataParallel (and
    ``_orig_mod.`` that ``torch.compile``) put in front of every key."""
    for prefix in ("module.", "_orig_mod."):
        if tensors and all(k.startswith(prefix) for k in tensors):
            notes.append(f"key prefix '{prefix}' removed (DataParallel / torch.compile wrapper)")
            tensors = {k[len(prefix):]: v for k, v in tensors.items()}
    return tensors


# ---------------------------------------------------------------------- public API
def load(path: str | os.PathLike[str], *, order: list[str] | None = None) -> ReLUNetwork:
    """Load a network from an ``.npz``, ``.safetensors``, PyTorch ``.pt`` / ``.pth``, ONNX,
    skops or NNet file.

    The format is detected from the file's content (see :func:`detect_format`). PyTorch
    files are read with ``torch.load(weights_only=True)``; they may hold a ``state_dict``
    of a Linear/ReLU stack (pruned layers included; inside a training checkpoint; with
    DataParallel's ``module.`` prefix) or a saved ``nn.Sequential``. ONNX graphs are read by
    :mod:`reluscope.io.onnx_format`, skops files (scikit-learn ``MLPClassifier`` /
    ``MLPRegressor``) by :func:`reluscope.sklearn_interop.read_skops` -- never plain pickle.
    NNet files (:mod:`reluscope.io.nnet`) load as their reference evaluator computes: raw
    inputs, the normalization folded into the first and last layers, un-normalized outputs;
    the file's min/max box is ``net.provenance.domain``.

    A file without a reluscope marker that holds only tensors (a state dict) does not say
    how its layers are wired: the layers are taken in the file's stored order (a PyTorch
    state dict keeps registration order), checked against the shape chain, with a ReLU
    assumed between them; the result's :attr:`~reluscope.ReLUNetwork.provenance` says so.
    When the order cannot be established the error says how to supply it.

    Parameters
    ----------
    path:
        The model file.
    order:
        For a state dict: the module paths of its Linear layers in forward order
        (e.g. ``["fc_in", "fc_hidden", "fc_out"]``).

    Returns
    -------
    ReLUNetwork
        The network, bit for bit as stored (float64), with masks if the file has any.

    Raises
    ------
    ModelFileError
        Missing, empty, truncated or corrupted file; missing tensors; shape mismatch;
        non-finite values; non-boolean masks.
    UnsupportedLayer
        The file describes layers other than Linear/ReLU (or no-ops).

    Examples
    --------
    >>> import tempfile, pathlib, reluscope
    >>> net = reluscope.ReLUNetwork.random((2, 3, 1), seed=0)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "net.safetensors"
    >>> reluscope.save(net, path)
    >>> reluscope.load(path) == net
    True
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ModelFileError(f"model path must be a str or path-like; got {type(path).__name__} {path!r:.60}")
    p = Path(path)
    fmt = detect_format(p)
    if fmt == "npz":
        net = network_from_tensors(_read_npz(p), p, order=order)
    elif fmt == "safetensors":
        net = network_from_tensors(_read_safetensors(p), p, order=order, stored_order=False)
    elif fmt == "onnx":
        net = read_onnx(p)
    elif fmt == "skops":
        net = read_skops(p)
    elif fmt == "nnet":
        net = read_nnet(p)
    else:
        net = _read_torch(p, order)
    prov = net.provenance or Provenance()
    return net.with_provenance(dataclasses.replace(prov, format=fmt, source=str(p)))


def _format_for(path: Path, format: str | None) -> str:
    if format is not None:
        fmt = {"pt": "torch", "pth": "torch"}.get(format.lower(), format.lower())
        if fmt not in FORMATS or fmt == "skops":
            raise ModelFileError(f"{path}: unknown format {format!r}; use one of npz, safetensors, torch, onnx, nnet")
        return fmt
    fmt = _SUFFIX_FORMAT.get(path.suffix.lower())
    if fmt is None:
        raise ModelFileError(
            f"{path}: cannot tell the format from the suffix {path.suffix!r}; use .npz, .safetensors, "
            ".pt/.pth, .onnx, .nnet or pass format="
        )
    return fmt


def _torch_state_dict(net: ReLUNetwork) -> dict[str, Any]:
    torch = _import_torch()
    sd: dict[str, Any] = {}
    for i, (w, b) in enumerate(net.layers()):
        j = 2 * i
        wt = torch.from_numpy(np.array(w, dtype=np.float64, copy=True))
        if net.masks is not None:
            sd[f"{j}.weight_orig"] = wt
            sd[f"{j}.weight_mask"] = torch.from_numpy(np.array(net.masks[i], dtype=np.float64))
        else:
            sd[f"{j}.weight"] = wt
        sd[f"{j}.bias"] = torch.from_numpy(np.array(b, dtype=np.float64, copy=True))
    return sd


def save(net: ReLUNetwork, path: str | os.PathLike[str], format: str | None = None) -> None:
    """Write ``net`` to ``path`` (atomically: a temporary file is renamed into place).

    Parameters
    ----------
    net:
        The network.
    path:
        Destination; its suffix (``.npz``, ``.safetensors``, ``.pt``, ``.pth``, ``.onnx``, ``.nnet``)
        selects the format unless ``format`` is given.
    format:
        ``"npz"``, ``"safetensors"``, ``"torch"`` (alias ``"pt"``), ``"onnx"`` (float64
        ``Gemm`` / ``Relu`` graph, see :func:`reluscope.io.onnx_format.onnx_bytes`) or
        ``"nnet"`` (identity normalization, min/max from ``net.provenance.domain``, see
        :func:`reluscope.io.nnet.nnet_text`; masks are not stored).

    Raises
    ------
    ModelFileError
        Unknown format, or the file cannot be written.
    """
    if not isinstance(net, ReLUNetwork):
        raise ModelFileError(f"{path}: save expects a ReLUNetwork, got {type(net).__name__}")
    p = Path(path)
    fmt = _format_for(p, format)
    if p.is_dir():
        raise fail(p, "is a directory")
    if not p.parent.exists():
        raise fail(p, f"directory {p.parent} does not exist")
    tensors = network_to_tensors(net)
    record = provenance_record(net)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".reluscope-", dir=p.parent)
    except OSError as exc:
        raise fail(p, f"cannot be written ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            if fmt == "npz":
                extra = {} if record is None else {PROVENANCE_KEY: np.array(json.dumps(record, sort_keys=True))}
                np.savez(fh, **tensors, **{MARKER: np.array(MARKER_VALUE)}, **extra)
            elif fmt == "safetensors":
                import safetensors.numpy as stn

                # one metadata key (safetensors does not keep the order of several keys)
                info = {"format": MARKER_VALUE, "widths": list(net.widths), "sha256": digest(tensors)}
                if record is not None:
                    info["provenance"] = record
                meta = {"reluscope": json.dumps(info, sort_keys=True)}
                fh.write(stn.save(tensors, metadata=meta))
            elif fmt == "onnx":
                fh.write(onnx_bytes(net, record))
            elif fmt == "nnet":
                fh.write(nnet_text(net, comments=tuple((record or {}).get("notes", ()))).encode("ascii"))
            else:
                _import_torch().save(_torch_state_dict(net), fh)
        os.replace(tmp, p)
    except OSError as exc:
        raise fail(p, f"cannot be written ({exc.strerror or exc})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# ---------------------------------------------------------------------- npz of masks
def read_mask_arrays(path: str | os.PathLike[str]) -> list[np.ndarray]:
    """The boolean masks in an ``.npz`` file that holds only masks: its 2-D arrays, in the
    natural order of their keys (``mask_2`` before ``mask_10``), each checked by
    :func:`~reluscope.io.tensors.mask_array`.

    Raises
    ------
    ModelFileError
        Corrupted archive, no 2-D array, or an array that is not 0/1.
    """
    p = Path(path)
    arrays = _read_npz(p)

    def natural(key: str) -> tuple:
        return tuple((0, int(s), "") if s.isdigit() else (1, 0, s) for s in re.split(r"(\d+)", key) if s)

    keys = [k for k in sorted(arrays, key=natural) if arrays[k].ndim == 2]
    if not keys:
        raise fail(p, "no 2-D arrays (masks) found")
    return [mask_array(arrays[k], f"{p}: mask '{k}'") for k in keys]
