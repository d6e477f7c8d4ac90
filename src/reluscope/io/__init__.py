"""Model files: :func:`load` and :func:`save` for ``.npz``, ``.safetensors``, PyTorch ``.pt``,
ONNX and NNet; :func:`load` also reads scikit-learn MLPs saved with skops. Property files:
:func:`load_vnnlib` reads VNN-LIB into a :class:`~reluscope.spec.Specification`.

Modules: :mod:`~reluscope.io.formats` (detection, readers, writers, load/save),
:mod:`~reluscope.io.tensors` (the tensor scheme, the one mask check, the layer order of a
state dict), :mod:`~reluscope.io.onnx_format` (ONNX graphs), :mod:`~reluscope.io.nnet`
(NNet text files), :mod:`~reluscope.io.vnnlib` (VNN-LIB properties),
:mod:`~reluscope.io.examples` (bundled example models).

File formats
------------
The format of a file is detected from its **content** (the suffix is only used by
:func:`save` to choose a format):

* ``npz`` -- a zip archive of ``.npy`` members (written by :func:`numpy.savez`);
* ``safetensors`` -- an 8-byte little-endian header length followed by a JSON header;
* ``onnx`` -- a serialized ONNX ``ModelProto`` (see :mod:`reluscope.io.onnx_format`);
* ``nnet`` -- a text file whose first line without ``//`` holds four comma-separated
  integers (layers, inputs, outputs, largest layer); see :mod:`reluscope.io.nnet`: it loads
  as its reference evaluator computes on raw inputs, and its min/max box becomes
  ``net.provenance.domain``;
* ``skops`` -- a zip archive with ``schema.json`` written by ``skops.io.dump``: a fitted
  ``MLPClassifier`` / ``MLPRegressor`` (see :mod:`reluscope.sklearn_interop`), loaded with
  only those types trusted;
* ``torch`` -- a ``torch.save`` zip archive (members ``<name>/data.pkl``, ...) or a legacy
  ``torch.save`` pickle. It is always read with ``torch.load(weights_only=True)``: only
  tensors, state dicts and an ``nn.Sequential`` of ``Linear`` / ``ReLU`` / ``BatchNorm1d`` / ``Identity`` /
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
tensor bytes, verified on load, so flipped data bytes are detected). A network whose
:attr:`~reluscope.ReLUNetwork.provenance` records an inference or a fold keeps it: under
the key ``provenance`` of that JSON object (npz: the string array ``__provenance__``;
ONNX: the metadata key ``reluscope.provenance``), as ``{"inferred": ..., "notes":
["originally read as <format>", ...]}``. Files are byte-for-byte deterministic.
A ``.pt`` file is written as the ``state_dict`` of the equivalent
``nn.Sequential(Linear, ReLU, ..., Linear)``: keys ``0.weight``, ``0.bias``,
``2.weight``, ...; masked layers as ``{j}.weight_orig`` + ``{j}.weight_mask``, exactly
what ``torch.nn.utils.prune`` produces, so ``model.load_state_dict`` accepts it.

:func:`load` also reads files without the marker, in PyTorch ``state_dict`` style: keys
``<module path>.weight`` / ``.bias`` (bias optional: zero), pruned
``.weight_orig`` + ``.weight_mask``, or ``.mask`` (also inside a training checkpoint, and
with DataParallel's ``module.`` prefix). A state dict stores neither activations nor
wiring, so the architecture is inferred and the network's
:attr:`~reluscope.ReLUNetwork.provenance` says so: the layers are taken in the file's
stored order (a PyTorch state dict keeps registration order; numbered children such as
``net.2``, ``net.10`` in index order; for safetensors, whose header is sorted by name, the
unique order in which the shapes chain), checked against the shape chain, with a ReLU
assumed between consecutive Linear layers. When the order cannot be established the error
says how to supply it (load the module, or ``load(path, order=[...])``).

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
    "example_names": "examples",
    "example_test_mask": "examples",
    "read_onnx": "onnx_format",
    "read_nnet": "nnet",
    "load_vnnlib": "vnnlib",
    "resolve_vnnlib_path": "vnnlib",
    "VNNLibError": "vnnlib",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
