"""Model files: :func:`load` and :func:`save` for ``.npz``, ``.safetensors`` and PyTorch ``.pt``.

Modules: :mod:`~reluscope.io.formats` (detection, readers, writers, load/save),
:mod:`~reluscope.io.tensors` (the tensor scheme and the one mask check),
:mod:`~reluscope.io.examples` (bundled example models).

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

from .._lazy import lazy_exports

# Lazy, so that reluscope.torch_interop can use reluscope.io.tensors while
# reluscope.io.formats uses reluscope.torch_interop (to read a saved nn.Sequential).
_LAZY = {
    "load": "formats",
    "save": "formats",
    "detect_format": "formats",
    "FORMATS": "formats",
    "network_from_tensors": "tensors",
    "network_to_tensors": "tensors",
    "example_path": "examples",
    "load_example": "examples",
    "example_info": "examples",
    "example_dataset": "examples",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
