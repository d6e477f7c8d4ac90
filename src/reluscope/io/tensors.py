"""The reluscope tensor scheme: named arrays <-> :class:`~reluscope.ReLUNetwork`.

Every file format ends up here: :func:`network_from_tensors` turns named arrays (the
``layers.{i}.weight|bias|mask`` scheme, or a PyTorch ``state_dict``) into a network and
checks them; :func:`network_to_tensors` is its inverse. :func:`mask_array` is the one
check that an array is a pruning mask, :func:`torch_array` the one reader of PyTorch
tensors (state dicts, modules, checkpoints, safetensors read through torch). The scheme
itself is described in :mod:`reluscope.io`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..domain import Box
from ..errors import InvalidNetwork, ModelFileError, ReluscopeError, UnsupportedLayer
from ..network import Provenance, ReLUNetwork

__all__ = ["network_from_tensors", "network_to_tensors", "mask_array", "torch_array", "INFERRED",
           "provenance_record"]

MARKER = "__reluscope__"
MARKER_VALUE = "reluscope-model-1"
#: reluscope files keep what was inferred or folded when their network was first read
PROVENANCE_KEY = "__provenance__"
_ORIGIN = "originally read as "
_SCHEME = re.compile(r"^layers\.(\d+)\.(weight|bias|mask)$")
_PARAM_NAMES = {"weight", "bias", "weight_orig", "weight_mask", "bias_orig", "bias_mask", "mask"}


def fail(path: str | Path, message: str) -> ModelFileError:
    """The error for a bad model file: ``"<path>: <message>"``."""
    return ModelFileError(f"{path}: {message}")


INFERRED = "architecture inferred from a state dict: Linear layers in stored order, ReLU assumed between them"

_HOW = ("load the module itself (reluscope.from_torch(model), or torch.save(model) of an nn.Sequential) "
        "or pass the layer order: reluscope.load(path, order=[...])")


def provenance_record(net: ReLUNetwork) -> dict[str, Any] | None:
    """What a reluscope file keeps of ``net.provenance``: the inferred-architecture
    statement and the notes, led by ``"originally read as <format>"`` (kept, not repeated,
    when the network is saved again), and the declared input domain (an NNet file's box)
    as ``{"lo": [...], "hi": [...]}``. ``None`` when there is nothing to keep."""
    prov = net.provenance
    if prov is None or (prov.inferred is None and not prov.notes and prov.domain is None):
        return None
    notes = list(prov.notes)
    if not (notes and notes[0].startswith(_ORIGIN)) and prov.format:
        notes.insert(0, f"{_ORIGIN}{prov.format}")
    record: dict[str, Any] = {"inferred": prov.inferred, "notes": notes}
    if prov.domain is not None:  # JSON floats round-trip exactly (shortest repr)
        record["domain"] = {"lo": prov.domain.lo.tolist(), "hi": prov.domain.hi.tolist()}
    return record


def provenance_from_record(path: str | Path, record: Any) -> Provenance:
    """The provenance stored by :func:`provenance_record` (a dict or its JSON text)."""
    try:
        data = json.loads(record) if isinstance(record, str) else record
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        inferred = data.get("inferred")
        notes = data.get("notes", [])
        if not (inferred is None or isinstance(inferred, str)) or not all(isinstance(n, str) for n in notes):
            raise ValueError("unexpected value types")
        box = data.get("domain")
        domain = None if box is None else Box(box["lo"], box["hi"], allow_flat=True)
    except (TypeError, ValueError, KeyError, ReluscopeError) as exc:
        raise fail(path, f"corrupted provenance record ({exc})") from None
    return Provenance(inferred=inferred, notes=tuple(notes), domain=domain)


def _weight_shape(g: dict[str, tuple[str, np.ndarray]]) -> tuple[int, ...]:
    for name in ("weight", "weight_orig"):
        if name in g:
            return tuple(g[name][1].shape)
    return ()


def _numbered_gap(prefixes: list[str]) -> tuple[str, str] | None:
    """Two consecutive Linear layers numbered as siblings (``net.0``, ``net.4``) with more
    than one parameterless module between them: something other than one ReLU may sit there."""
    for a, b in zip(prefixes, prefixes[1:]):
        pa, _, ia = a.rpartition(".")
        pb, _, ib = b.rpartition(".")
        if pa == pb and ia.isdigit() and ib.isdigit() and int(ib) - int(ia) > 2:
            return a, b
    return None


def _numbered_siblings(prefixes: list[str]) -> list[str] | None:
    """The prefixes in numeric order when they are numbered children of one module
    (``net.0``, ``net.2``, ..., ``net.10``: an ``nn.Sequential`` / ``nn.ModuleList``, whose
    index order is its forward order), else ``None``."""
    parts = [p.rpartition(".") for p in prefixes]
    if len({head for head, _, _ in parts}) != 1 or not all(tail.isdigit() for _, _, tail in parts):
        return None
    return [p for _, p in sorted((int(tail), p) for p, (_, _, tail) in zip(prefixes, parts))]


def _chains(groups: dict[str, dict[str, tuple[str, np.ndarray]]], limit: int = 2) -> list[list[str]]:
    """Up to ``limit`` orders of all layers in which each layer's inputs match the previous
    layer's outputs (depth-first search over the shapes)."""
    shapes = {p: _weight_shape(g) for p, g in groups.items()}
    found: list[list[str]] = []

    def extend(path: list[str], left: set[str]) -> None:
        if len(found) >= limit:
            return
        if not left:
            found.append(list(path))
            return
        for p in sorted(left):
            if not path or shapes[p][1] == shapes[path[-1]][0]:
                path.append(p)
                extend(path, left - {p})
                path.pop()

    if all(len(s) == 2 for s in shapes.values()):
        extend([], set(groups))
    return found


def _layer_order(
    path: str | Path,
    groups: dict[str, dict[str, tuple[str, np.ndarray]]],
    order: Sequence[str] | None,
    stored_order: bool,
) -> tuple[list[str], str]:
    """The forward order of the Linear layers of a state dict and how it was found, or a
    one-line refusal.

    * ``order`` given: exactly the file's layers, in that order.
    * stored order (a PyTorch ``state_dict`` keeps registration order): used as it is,
      provided consecutive numbered siblings are at most two apart (``Linear, ReLU,
      Linear``) -- a larger gap hides modules whose function a state dict does not record.
    * no stored order (safetensors sorts its header by name): numbered children of one
      module (``net.0``, ``net.2``, ..., ``net.10``) in numeric order, else the unique order
      in which the shapes chain; none or several is a refusal (square layers are ambiguous).

    The shape chain itself is checked by the caller layer by layer, so stored orders that
    only fit a residual wiring are refused there with the same way forward.
    """
    names = list(groups)
    if order is not None:
        order = [str(o) for o in order]
        missing = [n for n in names if n not in order]
        unknown = [o for o in order if o not in groups]
        if unknown or missing or len(set(order)) != len(order):
            raise fail(path, f"order {order} must list each layer of the file once; the file's layers are {names}")
        return order, "in the given order"
    numbered = _numbered_siblings(names)
    if stored_order or numbered is not None:
        names = names if numbered is None else numbered
        gap = _numbered_gap(names)
        if gap is not None:
            raise fail(path, f"layers '{gap[0]}' and '{gap[1]}' have unnamed modules between them, which a state "
                             f"dict does not describe (not only a ReLU); {_HOW}")
        return names, "in stored order" if numbered is None else "in the order of their indices"
    chains = _chains(groups)
    if len(chains) == 1:
        return chains[0], "in the only order in which their shapes chain"
    if not chains:
        raise fail(path, f"the shapes of layers {names} do not chain in any order (branching or residual wiring?); "
                         f"{_HOW}")
    raise fail(path, f"the layer order is ambiguous: the file does not store it and the shapes chain in several "
                     f"orders (e.g. {chains[0]} and {chains[1]}); {_HOW}")


def _check_values(path: str | Path, key: str, arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind not in "biuf":
        raise fail(path, f"tensor '{key}' has unsupported dtype {arr.dtype} (expected a real number type)")
    out = np.array(arr, dtype=np.float64, copy=True)
    bad = ~np.isfinite(out)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise fail(path, f"tensor '{key}' (shape {out.shape}) has non-finite value {out[idx]} at index {idx}")
    return out


def _torch_refusal(value: Any, torch: Any) -> str:
    """Why a torch tensor is not readable as a dense real array, with the fix (``""`` if it is)."""
    if value.layout != torch.strided:
        layout = str(value.layout).replace("torch.", "")
        kind = f"sparse ({layout})" if "sparse" in layout else f"of layout {layout}, not a dense tensor"
        return f"{kind}; convert it with .to_dense() first"
    if value.is_meta:
        return "on the meta device (it holds no values); load or initialize its values first"
    if value.is_quantized:
        return f"quantized ({value.dtype}); convert it with .dequantize() first"
    if value.is_complex():
        return f"complex ({value.dtype}); reluscope reads real-valued tensors"
    if value.dtype == torch.bool or value.is_floating_point() or value.dtype in (
            torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8):
        return ""
    return f"of dtype {value.dtype}; reluscope reads real-valued (float, int, bool) tensors"


def torch_array(value: Any, what: str, error: type[ReluscopeError] = ModelFileError) -> np.ndarray:
    """The values of a PyTorch tensor as a new numpy array, or ``error`` in one line.

    The one reader of torch tensors: state dicts, the parameters and buffers of modules
    (:func:`reluscope.from_torch`, saved ``nn.Sequential``), checkpoints and the torch path of
    safetensors files all go through it, so they accept and refuse the same tensors.
    Floating tensors become float64 (exact: float8/16, bfloat16 and float32 embed in
    float64); bool and integer tensors keep their dtype. Sparse (COO, CSR, ...), nested,
    meta-device, quantized, complex and other non-real tensors are refused with ``error``
    ``"<what> is sparse (sparse_coo); convert it with .to_dense() first"``: converting them would
    guess (duplicate COO entries are summed with rounding, quantized values are rounded
    ones), so the user converts them explicitly. ``what`` names the tensor and its file or
    layer (e.g. ``"net.pt: layer '0' (Linear) weight"``).
    """
    import torch

    if not isinstance(value, torch.Tensor):
        raise error(f"{what} is a {type(value).__name__}, not a tensor")
    refusal = _torch_refusal(value, torch)
    if refusal:
        raise error(f"{what} is {refusal}")
    t = value.detach().to(device="cpu").resolve_conj().resolve_neg()
    if t.is_floating_point():
        t = t.to(torch.float64)
    return np.array(t.numpy(), copy=True)


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


def network_from_tensors(
    tensors: dict[str, Any],
    path: str | Path = "<tensors>",
    *,
    order: Sequence[str] | None = None,
    stored_order: bool = True,
) -> ReLUNetwork:
    """Build a network from named arrays (the reluscope scheme or a PyTorch ``state_dict``).

    Parameters
    ----------
    tensors:
        Mapping of names to numpy arrays. With the ``__reluscope__`` marker, exactly the
        scheme ``layers.{i}.weight|bias|mask`` for ``i = 0..L-1`` is required; otherwise
        keys are grouped by module path as in a PyTorch ``state_dict``.
    path:
        Name used in error messages.
    order:
        The module paths of the Linear layers in forward order (e.g. ``["fc_in",
        "fc_hidden", "fc_out"]``), for a state dict whose order cannot be established from
        the file; every layer of the file must be listed once.
    stored_order:
        Whether the mapping's order is the file's stored order (a PyTorch ``state_dict``
        keeps the modules' registration order, an ``.npz`` its members' order); ``False``
        for safetensors files, whose header is sorted by name. See :func:`_layer_order`.

    A state dict (no marker) carries no activations and no wiring: the result is marked
    as inferred in its :attr:`~reluscope.ReLUNetwork.provenance` (:data:`INFERRED`).

    Raises
    ------
    ModelFileError
        Missing tensors, shape mismatches, non-finite values, non-boolean masks, weights
        outside their mask.
    UnsupportedLayer
        Tensors of layers that are not ``Linear`` (convolutions, batch norm, ...).
    ModelFileError
        Also when the layer order cannot be established (see :func:`_layer_order`).
    """
    tensors = dict(tensors)
    strict = MARKER in tensors
    tensors.pop(MARKER, None)
    record = tensors.pop(PROVENANCE_KEY, None) if strict else None
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
                    f"{path}: tensor '{key}' (shape {arr.shape}) belongs to a layer that is not Linear "
                    "(BatchNorm, convolution, ...), whose place a state dict does not record; reluscope reads "
                    "stacks of Linear and ReLU layers: load the module with reluscope.from_torch(model) "
                    "(BatchNorm1d in eval mode is folded exactly)"
                )
            groups.setdefault(prefix, {})[name] = (key, arr)
        prefixes, how_ordered = _layer_order(path, groups, order, stored_order)

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
            how = "" if strict or order is not None else f"; a state dict does not store the wiring: {_HOW}"
            raise fail(
                path,
                f"tensor '{wkey}' has shape {w.shape} (expects {w.shape[1]} inputs) but the previous layer "
                f"'{prev[0]}' has {prev[1]} outputs{how}",
            )
        prev = (wkey, w.shape[0])
        weights.append(w)
        biases.append(b)
        masks.append(mask)
    if strict:
        provenance = None if record is None else provenance_from_record(path, str(np.asarray(record)))
    else:
        provenance = Provenance(inferred=INFERRED.replace("in stored order", how_ordered))
    try:
        return ReLUNetwork(weights, biases, masks if any_mask else None, provenance)
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
