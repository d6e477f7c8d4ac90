"""Model files: :func:`load` and :func:`save` for ``.npz``, ``.safetensors`` and PyTorch ``.pt``.

File formats
------------
The format of a file is detected from its **content** (the suffix is only used by
:func:`save` to choose a format):

* ``npz`` -- a zip archive of ``.npy`` members (written by :func:`numpy.savez`);
* ``safetensors`` -- an 8-byte little-endian header length followed by a JSON header;
* ``torch`` -- a ``torch.save`` zip archive (members ``<name>/data.pkl``, ...) or a legacy
  ``torch.save`` pickle. It is always read with ``torch.load(weights_only=True)``: only
  tensors, state dicts and an ``nn.Sequential`` of ``Linear`` / ``ReLU`` / ``Identity`` /
  ``Flatten`` / ``Dropout`` (plus ``torch.nn.utils.prune`` bookkeeping objects) are ever
  unpickled; nothing else is executed.

Tensor names
------------
:func:`save` writes, for every affine layer ``i = 0, ..., L-1`` (0-based, as in
``net.weights[i]``), the tensors ``layers.{i}.weight`` (float64, ``(out, in)``),
``layers.{i}.bias`` (float64, ``(out,)``) and, for a masked network,
``layers.{i}.mask`` (bool). npz files also hold a marker ``__reluscope__``; safetensors
files carry the metadata key ``reluscope`` whose value is the JSON object
``{"format": "reluscope-model-1", "widths": [...], "sha256": ...}`` (the checksum of the
tensor bytes, verified on load, so flipped data bytes are detected). Files are
byte-for-byte deterministic.
A ``.pt`` file is written as the ``state_dict`` of the equivalent
``nn.Sequential(Linear, ReLU, ..., Linear)``: keys ``0.weight``, ``0.bias``,
``2.weight``, ...; masked layers as ``{j}.weight_orig`` + ``{j}.weight_mask``, exactly
what ``torch.nn.utils.prune`` produces, so ``model.load_state_dict`` accepts it.

:func:`load` also reads files without the marker, in PyTorch ``state_dict`` style: keys
``<module path>.weight`` / ``.bias`` (bias optional: zero), pruned
``.weight_orig`` + ``.weight_mask``, or ``.mask``; layers are ordered by their module path
(``net.2`` before ``net.10``) and a ReLU is assumed between consecutive Linear layers.

Every round trip is exact: float64 values are stored and read bit for bit, masks are
preserved. Every problem raises :class:`~reluscope.errors.ModelFileError` (or
:class:`~reluscope.errors.UnsupportedLayer`) with a one-line message that starts with the
file name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import tempfile
import zipfile
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InvalidNetwork, ModelFileError, ReluscopeError, UnsupportedLayer
from .network import ReLUNetwork

__all__ = [
    "load",
    "save",
    "detect_format",
    "network_from_tensors",
    "network_to_tensors",
    "example_path",
    "load_example",
    "example_info",
    "example_dataset",
    "FORMATS",
]

FORMATS = ("npz", "safetensors", "torch")
_SUFFIX_FORMAT = {".npz": "npz", ".safetensors": "safetensors", ".pt": "torch", ".pth": "torch"}
_MARKER = "__reluscope__"
_MARKER_VALUE = "reluscope-model-1"
_SCHEME = re.compile(r"^layers\.(\d+)\.(weight|bias|mask)$")
_PARAM_NAMES = {"weight", "bias", "weight_orig", "weight_mask", "bias_orig", "bias_mask", "mask"}


def _fail(path: str | Path, message: str) -> ModelFileError:
    return ModelFileError(f"{path}: {message}")


# ---------------------------------------------------------------------- format detection
def detect_format(path: str | os.PathLike[str]) -> str:
    """Return ``"npz"``, ``"safetensors"`` or ``"torch"`` from the content of ``path``.

    Raises
    ------
    ModelFileError
        If the file is missing, a directory, empty, or of no recognized format.
    """
    p = Path(path)
    if not p.exists():
        raise _fail(p, "no such file")
    if p.is_dir():
        raise _fail(p, "is a directory, not a model file")
    try:
        size = p.stat().st_size
        with open(p, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise _fail(p, f"cannot be read ({exc.strerror or exc})") from None
    if size == 0:
        raise _fail(p, "is empty (0 bytes)")
    if head[:2] == b"PK":
        try:
            with zipfile.ZipFile(p) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise _fail(p, f"truncated or corrupted zip archive ({exc})") from None
        if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            return "torch"
        if names and all(n.endswith(".npy") for n in names):
            return "npz"
        raise _fail(p, f"zip archive is neither an npz file nor a torch.save file (members {names[:4]})")
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return "torch"  # legacy torch.save / pickle stream, only ever read with weights_only=True
    if len(head) >= 9:
        (n,) = struct.unpack("<Q", head[:8])
        if head[8:9] == b"{":
            if 8 + n > size:
                raise _fail(p, f"truncated safetensors file: header claims {n} bytes but the file has {size}")
            return "safetensors"
    raise _fail(
        p,
        f"unrecognized model file format (first bytes {head[:8]!r}); expected npz, safetensors or a torch.save file",
    )


# ---------------------------------------------------------------------- tensors <-> network
def _natural_key(prefix: str) -> tuple:
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in prefix.split("."))


def _check_values(path: str | Path, key: str, arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind not in "biuf":
        raise _fail(path, f"tensor '{key}' has unsupported dtype {arr.dtype} (expected a real number type)")
    out = np.array(arr, dtype=np.float64, copy=True)
    bad = ~np.isfinite(out)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise _fail(path, f"tensor '{key}' (shape {out.shape}) has non-finite value {out[idx]} at index {idx}")
    return out


def _check_mask(path: str | Path, key: str, arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.bool_:
        return np.array(arr, dtype=bool, copy=True)
    if arr.dtype.kind not in "biuf":
        raise _fail(path, f"mask '{key}' has unsupported dtype {arr.dtype}")
    ok = (arr == 0) | (arr == 1)
    if not ok.all():
        idx = tuple(int(i) for i in np.argwhere(~ok)[0])
        raise _fail(path, f"mask '{key}' is not boolean: value {arr[idx]} at index {idx} (expected 0 or 1)")
    return arr != 0


def network_from_tensors(tensors: dict[str, Any], path: str | Path = "<tensors>") -> ReLUNetwork:
    """Build a network from named arrays (the reluscope scheme or a PyTorch ``state_dict``).

    Parameters
    ----------
    tensors:
        Mapping of names to numpy arrays. With the ``__reluscope__`` marker, exactly the
        scheme ``layers.{i}.weight|bias|mask`` for ``i = 0..L-1`` is required; otherwise
        keys are grouped by module path as in a PyTorch ``state_dict``.
    path:
        Name used in error messages.

    Raises
    ------
    ModelFileError
        Missing tensors, shape mismatches, non-finite values, non-boolean masks, weights
        outside their mask.
    UnsupportedLayer
        Tensors of layers that are not ``Linear`` (convolutions, batch norm, ...).
    """
    tensors = dict(tensors)
    strict = _MARKER in tensors
    tensors.pop(_MARKER, None)
    if not tensors:
        raise _fail(path, "contains no tensors")
    groups: dict[str, dict[str, tuple[str, np.ndarray]]] = {}
    if strict:
        for key, arr in tensors.items():
            m = _SCHEME.match(key)
            if m is None:
                raise _fail(path, f"unexpected tensor '{key}' (reluscope files hold layers.{{i}}.weight|bias|mask)")
            groups.setdefault(m.group(1), {})[m.group(2)] = (key, np.asarray(arr))
        indices = sorted(int(i) for i in groups)
        depth = indices[-1] + 1
        for i in range(depth):
            for part in ("weight", "bias"):
                if part not in groups.get(str(i), {}):
                    raise _fail(path, f"missing tensor 'layers.{i}.{part}' (file has {depth} layers)")
        prefixes = [str(i) for i in range(depth)]
    else:
        for key, arr in tensors.items():
            prefix, _, name = key.rpartition(".")
            arr = np.asarray(arr)
            if name not in _PARAM_NAMES:
                raise UnsupportedLayer(
                    f"{path}: tensor '{key}' (shape {arr.shape}) belongs to a layer that is not Linear; "
                    "reluscope reads stacks of Linear and ReLU layers"
                )
            groups.setdefault(prefix, {})[name] = (key, arr)
        prefixes = sorted(groups, key=_natural_key)

    def full(prefix: str, name: str) -> str:
        if strict:
            return f"layers.{prefix}.{name}"
        return f"{prefix}.{name}" if prefix else name

    weights, biases, masks = [], [], []
    any_mask = False
    prev: tuple[str, int] | None = None
    for prefix in prefixes:
        g = groups[prefix]
        mask = None
        if "weight_orig" in g or "weight_mask" in g:
            for need in ("weight_orig", "weight_mask"):
                if need not in g:
                    raise _fail(path, f"missing tensor '{full(prefix, need)}' (pruned layers need weight_orig and weight_mask)")
            wkey, w_raw = g["weight_orig"]
            mkey, m_raw = g["weight_mask"]
        elif "weight" in g:
            wkey, w_raw = g["weight"]
            mkey, m_raw = g["mask"] if "mask" in g else (None, None)
        else:
            raise _fail(path, f"missing tensor '{full(prefix, 'weight')}'")
        if w_raw.ndim != 2:
            raise UnsupportedLayer(
                f"{path}: tensor '{wkey}' has shape {tuple(w_raw.shape)}; a Linear weight is 2-D (out, in)"
            )
        w = _check_values(path, wkey, w_raw)
        if mkey is not None:
            if tuple(m_raw.shape) != w.shape:
                raise _fail(path, f"mask '{mkey}' has shape {tuple(m_raw.shape)} but '{wkey}' has shape {w.shape}")
            mask = _check_mask(path, mkey, m_raw)
            any_mask = True
            if "weight_orig" in g:
                w = w * mask  # the effective pruned weight, exactly as torch computes it
            else:
                outside = (w != 0) & ~mask
                if outside.any():
                    idx = tuple(int(i) for i in np.argwhere(outside)[0])
                    raise _fail(path, f"tensor '{wkey}' is nonzero ({w[idx]}) at index {idx}, outside mask '{mkey}'")
        if "bias_orig" in g or "bias_mask" in g:
            for need in ("bias_orig", "bias_mask"):
                if need not in g:
                    raise _fail(path, f"missing tensor '{full(prefix, need)}'")
            bkey, b_raw = g["bias_orig"]
            b = _check_values(path, bkey, b_raw)
            bm = _check_mask(path, g["bias_mask"][0], g["bias_mask"][1])
            if bm.shape != b.shape:
                raise _fail(path, f"mask '{g['bias_mask'][0]}' has shape {bm.shape} but '{bkey}' has shape {b.shape}")
            b = b * bm
        elif "bias" in g:
            bkey, b_raw = g["bias"]
            b = _check_values(path, bkey, b_raw)
        else:
            bkey, b = full(prefix, "bias"), np.zeros(w.shape[0])
        if b.shape != (w.shape[0],):
            raise _fail(path, f"tensor '{bkey}' has shape {b.shape} but '{wkey}' has shape {w.shape} (expected ({w.shape[0]},))")
        if prev is not None and w.shape[1] != prev[1]:
            raise _fail(
                path,
                f"tensor '{wkey}' has shape {w.shape} (expects {w.shape[1]} inputs) but the previous layer "
                f"'{prev[0]}' has {prev[1]} outputs",
            )
        prev = (wkey, w.shape[0])
        weights.append(w)
        biases.append(b)
        masks.append(mask)
    try:
        return ReLUNetwork(weights, biases, masks if any_mask else None)
    except InvalidNetwork as exc:  # pragma: no cover - all checks above come first
        raise _fail(path, str(exc)) from None


def network_to_tensors(net: ReLUNetwork) -> dict[str, np.ndarray]:
    """The reluscope tensor scheme of ``net`` (without the marker): ``layers.{i}.weight`` ...."""
    out: dict[str, np.ndarray] = {}
    for i, (w, b) in enumerate(net.layers()):
        out[f"layers.{i}.weight"] = np.ascontiguousarray(w, dtype=np.float64)
        out[f"layers.{i}.bias"] = np.ascontiguousarray(b, dtype=np.float64)
        if net.masks is not None:
            out[f"layers.{i}.mask"] = np.ascontiguousarray(net.masks[i], dtype=bool)
    return out


def _digest(tensors: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for key in sorted(tensors):
        arr = np.ascontiguousarray(tensors[key])
        h.update(key.encode())
        h.update(str(arr.dtype.str).encode())
        h.update(str(arr.shape).encode())
        h.update(arr.tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------------- readers
def _zip_crc_check(path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError) as exc:
        raise _fail(path, f"truncated or corrupted zip archive ({exc})") from None
    except Exception as exc:  # zlib.error and friends
        raise _fail(path, f"corrupted zip archive ({type(exc).__name__}: {exc})") from None
    if bad is not None:
        raise _fail(path, f"corrupted bytes: archive member '{bad}' fails its CRC-32 check")


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    _zip_crc_check(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: np.array(data[k]) for k in data.files}
    except ReluscopeError:
        raise
    except Exception as exc:
        raise _fail(path, f"corrupted npz file ({type(exc).__name__}: {exc})") from None


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    data = path.read_bytes()
    if len(data) < 9:
        raise _fail(path, f"truncated safetensors file ({len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise _fail(path, f"truncated safetensors file: header claims {n} bytes but the file has {len(data)}")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError("header is not a JSON object")
    except (UnicodeDecodeError, ValueError) as exc:
        raise _fail(path, f"corrupted safetensors header ({exc})") from None
    metadata = header.get("__metadata__") or {}
    torch_only = {"BF16", "F8_E4M3", "F8_E5M2"}
    needs_torch = any(
        isinstance(v, dict) and v.get("dtype") in torch_only for k, v in header.items() if k != "__metadata__"
    )
    try:
        if needs_torch:  # dtypes numpy lacks: read with torch and widen to float64 (exact)
            from safetensors.torch import load as torch_load

            tensors = {k: v.to(dtype=_torch_float64()).numpy() for k, v in torch_load(data).items()}
        else:
            import safetensors.numpy as stn

            tensors = dict(stn.load(data))
    except ReluscopeError:
        raise
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _fail(path, f"corrupted or truncated safetensors file ({msg})") from None
    info: dict[str, Any] = {}
    if isinstance(metadata, dict) and "reluscope" in metadata:
        try:
            info = json.loads(metadata["reluscope"])
            if not isinstance(info, dict):
                raise ValueError("not a JSON object")
        except (TypeError, ValueError) as exc:
            raise _fail(path, f"corrupted reluscope metadata in the safetensors header ({exc})") from None
    if info.get("format") == _MARKER_VALUE:
        tensors[_MARKER] = np.array(_MARKER_VALUE)
        expected = info.get("sha256")
        if expected is not None:
            got = _digest({k: v for k, v in tensors.items() if k != _MARKER})
            if got != expected:
                raise _fail(path, "corrupted bytes: tensor data does not match the sha256 checksum in the header")
    return tensors


def _torch_float64() -> Any:
    from .torch_interop import _import_torch

    return _import_torch().float64


_SAFE_SEQUENTIAL_NAMES = ("Sequential", "Linear", "ReLU", "Identity", "Flatten", "Dropout")
_SAFE_PRUNE_NAMES = (
    "Identity",
    "L1Unstructured",
    "RandomUnstructured",
    "LnStructured",
    "RandomStructured",
    "CustomFromMask",
    "PruningContainer",
)


def _read_torch(path: Path) -> ReLUNetwork:
    from .torch_interop import _import_torch, from_torch

    torch = _import_torch()
    nn = torch.nn
    import torch.nn.utils.prune as prune

    if zipfile.is_zipfile(path):
        _zip_crc_check(path)
    allowed = [getattr(nn, n) for n in _SAFE_SEQUENTIAL_NAMES] + [getattr(prune, n) for n in _SAFE_PRUNE_NAMES]
    try:
        with torch.serialization.safe_globals(allowed):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        text = str(exc)
        m = re.search(r"GLOBAL ([\w.]+)", text)
        if m and m.group(1).startswith("torch.nn."):
            raise UnsupportedLayer(
                f"{path}: contains {m.group(1)}, which is not part of a Linear/ReLU stack (not unpickled; "
                "only tensors, state dicts and nn.Sequential of Linear/ReLU/Identity/Flatten/Dropout are loaded)"
            ) from None
        if m:
            raise _fail(path, f"refers to {m.group(1)}, which the safe loader refuses to unpickle (not executed)")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        informative = [ln for ln in lines if not ln.startswith(("Weights only load failed", "Check the documentation", "(1)", "(2)"))]
        first = (informative or lines or [type(exc).__name__])[0]
        first = first.split("WeightsUnpickler error:")[-1].strip() or "invalid pickle data"
        raise _fail(path, f"truncated or corrupted torch file ({type(exc).__name__}: {first[:200]})") from None
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if key in obj and isinstance(obj[key], (dict, nn.Module)):
                obj = obj[key]
                break
    if isinstance(obj, nn.Module):
        try:
            return from_torch(obj)
        except UnsupportedLayer as exc:
            raise UnsupportedLayer(f"{path}: {exc}") from None
        except ReluscopeError as exc:
            raise _fail(path, str(exc)) from None
    if isinstance(obj, dict):
        tensors = {}
        for key, value in obj.items():
            if not isinstance(value, torch.Tensor):
                raise _fail(path, f"entry '{key}' is a {type(value).__name__}, not a tensor")
            if value.is_complex():
                raise _fail(path, f"tensor '{key}' is complex ({value.dtype})")
            t = value.detach().cpu()
            if t.is_floating_point():
                t = t.to(torch.float64)
            tensors[str(key)] = t.numpy().copy()
        return network_from_tensors(tensors, path)
    raise _fail(path, f"holds a {type(obj).__name__}; expected a state_dict or an nn.Sequential")


# ---------------------------------------------------------------------- public API
def load(path: str | os.PathLike[str]) -> ReLUNetwork:
    """Load a network from an ``.npz``, ``.safetensors`` or PyTorch ``.pt`` / ``.pth`` file.

    The format is detected from the file's content (see :func:`detect_format`). PyTorch
    files are read with ``torch.load(weights_only=True)``; they may hold a ``state_dict``
    of a Linear/ReLU stack (pruned layers included) or a saved ``nn.Sequential``.

    Parameters
    ----------
    path:
        The model file.

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
        return network_from_tensors(_read_npz(p), p)
    if fmt == "safetensors":
        return network_from_tensors(_read_safetensors(p), p)
    return _read_torch(p)


def _format_for(path: Path, format: str | None) -> str:
    if format is not None:
        fmt = {"pt": "torch", "pth": "torch"}.get(format.lower(), format.lower())
        if fmt not in FORMATS:
            raise ModelFileError(f"{path}: unknown format {format!r}; use one of npz, safetensors, torch")
        return fmt
    fmt = _SUFFIX_FORMAT.get(path.suffix.lower())
    if fmt is None:
        raise ModelFileError(
            f"{path}: cannot tell the format from the suffix {path.suffix!r}; use .npz, .safetensors, "
            ".pt/.pth or pass format="
        )
    return fmt


def _torch_state_dict(net: ReLUNetwork) -> dict[str, Any]:
    from .torch_interop import _import_torch

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
        Destination; its suffix (``.npz``, ``.safetensors``, ``.pt``, ``.pth``) selects the
        format unless ``format`` is given.
    format:
        ``"npz"``, ``"safetensors"`` or ``"torch"`` (alias ``"pt"``).

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
        raise _fail(p, "is a directory")
    if not p.parent.exists():
        raise _fail(p, f"directory {p.parent} does not exist")
    tensors = network_to_tensors(net)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".reluscope-", dir=p.parent)
    except OSError as exc:
        raise _fail(p, f"cannot be written ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            if fmt == "npz":
                np.savez(fh, **tensors, **{_MARKER: np.array(_MARKER_VALUE)})
            elif fmt == "safetensors":
                import safetensors.numpy as stn

                # one metadata key (safetensors does not keep the order of several keys)
                info = {"format": _MARKER_VALUE, "widths": list(net.widths), "sha256": _digest(tensors)}
                meta = {"reluscope": json.dumps(info, sort_keys=True)}
                fh.write(stn.save(tensors, metadata=meta))
            else:
                from .torch_interop import _import_torch

                _import_torch().save(_torch_state_dict(net), fh)
        os.replace(tmp, p)
    except OSError as exc:
        raise _fail(p, f"cannot be written ({exc.strerror or exc})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# ---------------------------------------------------------------------- bundled examples
def example_path(name: str = "pruned_mlp") -> Path:
    """Path of a model bundled with reluscope (``"pruned_mlp"``: see :func:`example_info`)."""
    base = Path(str(resources.files("reluscope") / "examples"))
    p = base / f"{name}.safetensors"
    if not p.exists():
        known = sorted(q.stem for q in base.glob("*.safetensors"))
        raise ModelFileError(f"{p}: no bundled example named {name!r}; available: {known}")
    return p


def load_example(name: str = "pruned_mlp") -> ReLUNetwork:
    """Load a bundled example network (default: a 50%-pruned 30-16-16-2 MLP)."""
    return load(example_path(name))


def example_info(name: str = "pruned_mlp") -> dict[str, Any]:
    """The JSON sidecar of a bundled example: dataset, preprocessing, training, accuracy."""
    p = example_path(name).with_suffix(".json")
    return json.loads(p.read_text())


def example_dataset(name: str = "pruned_mlp") -> tuple[np.ndarray, np.ndarray]:
    """The data set of a bundled example, recomputed from scikit-learn with the same
    preprocessing as in training: ``(X, y)`` with ``X`` float64 ``(n, d)``, ``y`` int labels.

    Requires scikit-learn (the ``sklearn`` extra).
    """
    info = example_info(name)
    try:
        import sklearn.datasets as skd
    except ImportError:  # pragma: no cover - depends on the environment
        raise ReluscopeError("example_dataset needs scikit-learn: pip install 'reluscope[sklearn]'") from None
    loader = getattr(skd, info["dataset"]["loader"])
    X, y = loader(return_X_y=True)
    X = np.asarray(X, dtype=np.float64)
    pre = info["preprocessing"]
    if pre.get("kind") == "standardize":
        X = (X - np.asarray(pre["mean"])) / np.asarray(pre["scale"])
    return X, np.asarray(y)
