"""The reluscope tensor scheme: named arrays <-> :class:`~reluscope.ReLUNetwork`.

Every file format ends up here: :func:`network_from_tensors` turns named arrays (the
``layers.{i}.weight|bias|mask`` scheme, or a PyTorch ``state_dict``) into a network and
checks them; :func:`network_to_tensors` is its inverse. :func:`mask_array` is the one
check that an array is a pruning mask. The scheme itself is described in
:mod:`reluscope.io`.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidNetwork, ModelFileError, ReluscopeError, UnsupportedLayer
from ..network import ReLUNetwork

__all__ = ["network_from_tensors", "network_to_tensors", "mask_array"]

MARKER = "__reluscope__"
MARKER_VALUE = "reluscope-model-1"
_SCHEME = re.compile(r"^layers\.(\d+)\.(weight|bias|mask)$")
_PARAM_NAMES = {"weight", "bias", "weight_orig", "weight_mask", "bias_orig", "bias_mask", "mask"}


def fail(path: str | Path, message: str) -> ModelFileError:
    """The error for a bad model file: ``"<path>: <message>"``."""
    return ModelFileError(f"{path}: {message}")


def _natural_key(prefix: str) -> tuple:
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in prefix.split("."))


def _check_values(path: str | Path, key: str, arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind not in "biuf":
        raise fail(path, f"tensor '{key}' has unsupported dtype {arr.dtype} (expected a real number type)")
    out = np.array(arr, dtype=np.float64, copy=True)
    bad = ~np.isfinite(out)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise fail(path, f"tensor '{key}' (shape {out.shape}) has non-finite value {out[idx]} at index {idx}")
    return out


def mask_array(arr: Any, what: str, error: type[ReluscopeError] = ModelFileError) -> np.ndarray:
    """The boolean mask in ``arr`` (a copy), or ``error`` naming ``what`` and the first bad entry.

    The one reader of pruning masks: model files (``weight_mask`` / ``mask`` tensors), PyTorch
    ``weight_mask`` buffers (:mod:`reluscope.torch_interop`) and ``.npz`` files of masks
    (:func:`reluscope.io.formats.read_mask_arrays`) all go through it, so they accept the
    same values -- booleans, or numbers that are exactly 0 or 1 -- and say the same thing
    about the rest. ``what`` starts the message (e.g. ``"net.npz: mask 'layers.0.mask'"``).
    """
    arr = np.asarray(arr)
    if arr.dtype == np.bool_:
        return np.array(arr, dtype=bool, copy=True)
    if arr.dtype.kind not in "biuf":
        raise error(f"{what} has unsupported dtype {arr.dtype}")
    ok = (arr == 0) | (arr == 1)
    if not ok.all():
        idx = tuple(int(i) for i in np.argwhere(~ok)[0])
        raise error(f"{what} is not boolean: value {arr[idx]} at index {idx} (expected 0 or 1)")
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
    strict = MARKER in tensors
    tensors.pop(MARKER, None)
    if not tensors:
        raise fail(path, "contains no tensors")
    groups: dict[str, dict[str, tuple[str, np.ndarray]]] = {}
    if strict:
        for key, arr in tensors.items():
            m = _SCHEME.match(key)
            if m is None:
                raise fail(path, f"unexpected tensor '{key}' (reluscope files hold layers.{{i}}.weight|bias|mask)")
            groups.setdefault(m.group(1), {})[m.group(2)] = (key, np.asarray(arr))
        indices = sorted(int(i) for i in groups)
        depth = indices[-1] + 1
        for i in range(depth):
            for part in ("weight", "bias"):
                if part not in groups.get(str(i), {}):
                    raise fail(path, f"missing tensor 'layers.{i}.{part}' (file has {depth} layers)")
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
                    raise fail(path, f"missing tensor '{full(prefix, need)}' (pruned layers need weight_orig and weight_mask)")
            wkey, w_raw = g["weight_orig"]
            mkey, m_raw = g["weight_mask"]
        elif "weight" in g:
            wkey, w_raw = g["weight"]
            mkey, m_raw = g["mask"] if "mask" in g else (None, None)
        else:
            raise fail(path, f"missing tensor '{full(prefix, 'weight')}'")
        if w_raw.ndim != 2:
            raise UnsupportedLayer(
                f"{path}: tensor '{wkey}' has shape {tuple(w_raw.shape)}; a Linear weight is 2-D (out, in)"
            )
        w = _check_values(path, wkey, w_raw)
        if mkey is not None:
            if tuple(m_raw.shape) != w.shape:
                raise fail(path, f"mask '{mkey}' has shape {tuple(m_raw.shape)} but '{wkey}' has shape {w.shape}")
            mask = mask_array(m_raw, f"{path}: mask '{mkey}'")
            any_mask = True
            if "weight_orig" in g:
                w = w * mask  # the effective pruned weight, exactly as torch computes it
            else:
                outside = (w != 0) & ~mask
                if outside.any():
                    idx = tuple(int(i) for i in np.argwhere(outside)[0])
                    raise fail(path, f"tensor '{wkey}' is nonzero ({w[idx]}) at index {idx}, outside mask '{mkey}'")
        if "bias_orig" in g or "bias_mask" in g:
            for need in ("bias_orig", "bias_mask"):
                if need not in g:
                    raise fail(path, f"missing tensor '{full(prefix, need)}'")
            bkey, b_raw = g["bias_orig"]
            b = _check_values(path, bkey, b_raw)
            bm = mask_array(g["bias_mask"][1], f"{path}: mask '{g['bias_mask'][0]}'")
            if bm.shape != b.shape:
                raise fail(path, f"mask '{g['bias_mask'][0]}' has shape {bm.shape} but '{bkey}' has shape {b.shape}")
            b = b * bm
        elif "bias" in g:
            bkey, b_raw = g["bias"]
            b = _check_values(path, bkey, b_raw)
        else:
            bkey, b = full(prefix, "bias"), np.zeros(w.shape[0])
        if b.shape != (w.shape[0],):
            raise fail(path, f"tensor '{bkey}' has shape {b.shape} but '{wkey}' has shape {w.shape} (expected ({w.shape[0]},))")
        if prev is not None and w.shape[1] != prev[1]:
            raise fail(
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
        raise fail(path, str(exc)) from None


def network_to_tensors(net: ReLUNetwork) -> dict[str, np.ndarray]:
    """The reluscope tensor scheme of ``net`` (without the marker): ``layers.{i}.weight`` ...."""
    out: dict[str, np.ndarray] = {}
    for i, (w, b) in enumerate(net.layers()):
        out[f"layers.{i}.weight"] = np.ascontiguousarray(w, dtype=np.float64)
        out[f"layers.{i}.bias"] = np.ascontiguousarray(b, dtype=np.float64)
        if net.masks is not None:
            out[f"layers.{i}.mask"] = np.ascontiguousarray(net.masks[i], dtype=bool)
    return out


def digest(tensors: dict[str, np.ndarray]) -> str:
    """SHA-256 of the tensors (names, dtypes, shapes, bytes), stored in safetensors files."""
    h = hashlib.sha256()
    for key in sorted(tensors):
        arr = np.ascontiguousarray(tensors[key])
        h.update(key.encode())
        h.update(str(arr.dtype.str).encode())
        h.update(str(arr.shape).encode())
        h.update(arr.tobytes())
    return h.hexdigest()
