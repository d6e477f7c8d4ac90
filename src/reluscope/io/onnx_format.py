"""ONNX models: :func:`read_onnx` turns a graph of affine ops and ``Relu`` into a network,
:func:`onnx_bytes` writes one (``Gemm`` / ``Relu`` in float64). Needs the ``onnx`` package
(the ``onnx`` extra); nothing is executed, the graph is read node by node.

Reading
-------
The graph must have one data input. Its nodes are followed from that input in the
graph's (topological) order; every value computed from the input is an affine map of the
last ReLU's output (or of the input), so

* ``Gemm`` (``transA=0``), ``MatMul`` by a constant matrix (followed by ``Add`` of the
  bias), and ``Add`` / ``Sub`` / ``Mul`` / ``Div`` with a constant that broadcasts over the
  features compose into the pending affine map; only one weight matrix (``Gemm`` /
  ``MatMul``) per layer, as in :func:`reluscope.from_torch`. Elementwise constants may act
  on any feature shape -- an input normalization ``(x - mean) / std`` on an
  ``(N, 1, 1, 5)`` input before its ``Flatten`` (the VNN-COMP ACAS Xu networks), or an
  output scaling after the last layer -- they are diagonal maps of the flat (C-order)
  features (Rule 6 of docs/background/model-import.md). Folding is exact in real
  arithmetic; in float64 each composed coefficient is rounded once (a product, quotient or
  dot product), far below the float32 precision the exporters store;
* ``BatchNormalization`` (inference mode) is the affine map
  ``x -> scale * (x - mean) / sqrt(var + eps) + B`` and is folded into the neighbouring
  affine layer (the preceding one when it comes before the ReLU, the following one after);
  the fold is exact in real arithmetic and rounds once in float64;
* skl2onnx's ``Scaler`` (``ai.onnx.ml``, a fitted scaler in a pipeline) is affine too;
* ``Relu`` ends a layer; ``Identity``, ``Dropout``, ``Cast`` to a float type, ``Flatten``
  (``axis=1``) and ``Reshape`` keeping the batch dimension first (to ``(batch, features)``
  or ``(batch, 1, 1, features)``, ...) are no-ops on the flat data;
* shape arithmetic on constants (``Shape``, ``Gather``, ``Unsqueeze``, ``Concat``, ...,
  as exported for ``x.view(x.size(0), -1)``) is evaluated;
* a final ``Softmax`` / ``LogSoftmax`` / ``Sigmoid`` / ``ArgMax`` (and whatever is computed
  from it, such as skl2onnx's label and probability outputs) is an output map: increasing
  in each logit, so the network's outputs are the logits and decisions agree; it is
  recorded in the network's provenance.

Anything else -- another activation, two computed tensors added (a residual connection),
a convolution, an unknown op -- raises :class:`~reluscope.errors.UnsupportedLayer` naming
the node and its op type.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidNetwork, ReluscopeError, UnsupportedLayer
from ..network import Provenance, ReLUNetwork
from .tensors import fail, provenance_from_record

__all__ = ["read_onnx", "onnx_bytes", "OUTPUT_MAPS"]

OUTPUT_MAPS = ("Softmax", "LogSoftmax", "Sigmoid", "ArgMax")
_NOOPS = ("Identity", "Dropout")
_AFFINE_CONST = ("Add", "Sub", "Mul", "Div")
_BATCH = -(2**62)  # the symbolic batch size inside evaluated shapes
_OPSET = 17
_IR_VERSION = 8


def _import_onnx() -> Any:
    try:
        import onnx
        import onnx.numpy_helper
    except ImportError:  # pragma: no cover - depends on the environment
        raise ReluscopeError("reading and writing ONNX needs the onnx package: pip install 'reluscope[onnx]'") from None
    return onnx


@dataclass
class _Data:
    """A tensor computed from the input: ``A h + c`` with ``h`` the last layer's output."""

    features: tuple[int, ...]  # shape without the batch dimension
    A: np.ndarray | None = None  # None: identity
    c: np.ndarray | None = None
    matrix: str | None = None  # name of the node that applied this layer's weight matrix
    output_map: str | None = None  # set once an output map (Softmax, ...) was applied
    layers: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def width(self) -> int:
        return int(np.prod(self.features)) if self.features else 1

    def affine(self) -> tuple[np.ndarray, np.ndarray]:
        n = self.width()
        A = np.eye(n) if self.A is None else self.A
        c = np.zeros(A.shape[0]) if self.c is None else self.c
        return A, c

    def then(self, M: np.ndarray | None, v: np.ndarray | None, features: tuple[int, ...]) -> _Data:
        """Compose ``x -> M x + v`` after this map (``M`` None: identity; 1-D: the diagonal
        ``diag(M)``). Nothing is
        multiplied by an implicit identity, so values read as they are stored stay bit-exact."""
        A, c = self.A, self.c
        if M is not None and M.ndim == 1:  # a diagonal map, given by its diagonal
            A = np.diag(M) if A is None else M[:, None] * A
            c = None if c is None else M * c
        elif M is not None:
            A = np.array(M, dtype=np.float64) if A is None else M @ A
            c = None if c is None else M @ c
        if v is not None:
            c = np.array(v, dtype=np.float64) if c is None else c + v
        return _Data(features, A, c, self.matrix, None, self.layers)


class _Reader:
    def __init__(self, path: Path, model: Any, onnx: Any) -> None:
        self.path, self.model, self.onnx = path, model, onnx
        self.values: dict[str, Any] = {}
        self.notes: list[str] = []

    # ------------------------------------------------------------------ helpers
    def err(self, node: Any, message: str) -> UnsupportedLayer:
        name = node.name or (node.output[0] if node.output else "?")
        return UnsupportedLayer(f"{self.path}: node '{name}' ({node.op_type}) {message}")

    def attrs(self, node: Any) -> dict[str, Any]:
        return {a.name: self.onnx.helper.get_attribute_value(a) for a in node.attribute}

    def const(self, node: Any, name: str) -> np.ndarray:
        value = self.values.get(name)
        if not isinstance(value, np.ndarray):
            raise self.err(node, f"needs a constant for input '{name}', but it is computed from the model input; "
                                 "reluscope reads fully connected ReLU networks (one chain of affine layers)")
        return value

    def vector(self, node: Any, arr: np.ndarray, n: int) -> np.ndarray:
        """``arr`` broadcast over ``n`` features (scalar, ``(n,)`` or ``(1, n)``)."""
        a = np.asarray(arr, dtype=np.float64)
        if a.size == 1:
            return np.full(n, float(a.ravel()[0]))
        if a.ndim >= 1 and a.shape[-1] == n and a.size == n:
            return a.reshape(n)
        raise self.err(node, f"has a constant of shape {a.shape} that does not broadcast over {n} features")

    # ------------------------------------------------------------------ the walk
    def run(self) -> ReLUNetwork:
        graph = self.model.graph
        numpy_helper = self.onnx.numpy_helper
        for init in graph.initializer:
            self.values[init.name] = numpy_helper.to_array(init)
        inputs = [i for i in graph.input if i.name not in self.values]
        if len(inputs) != 1:
            raise fail(self.path, f"an ONNX model needs exactly one data input; this graph has {[i.name for i in inputs]}")
        dims = inputs[0].type.tensor_type.shape.dim
        feats = tuple(int(d.dim_value) if d.HasField("dim_value") else -1 for d in list(dims)[1:])
        self.values[inputs[0].name] = _Data(feats)
        for node in graph.node:
            self.step(node)
        return self.finish(graph)

    def step(self, node: Any) -> None:
        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            if node.domain == "ai.onnx.ml" and op in ("ArrayFeatureExtractor", "ZipMap") and self.after_map(node):
                return
            if node.domain == "ai.onnx.ml" and op == "Scaler" and isinstance(self.values.get(node.input[0]), _Data):
                self.values[node.output[0]] = self.scaler(node, self.values[node.input[0]])
                return
            raise self.err(node, f"from domain '{node.domain}' is not supported")
        if op == "Constant":
            self.values[node.output[0]] = self.constant(node)
            return
        ins = [self.values.get(n) if n else None for n in node.input]
        for n, v in zip(node.input, ins):
            if n and v is None:
                raise self.err(node, f"reads '{n}', which no earlier node or initializer defines")
        data = [v for v in ins if isinstance(v, _Data)]
        if not data:
            self.values[node.output[0]] = self.fold_constant(node, ins)
            return
        if self.after_map(node):
            return
        x = data[0]
        if len(data) > 1:
            raise self.err(node, "combines two tensors computed from the input (a residual or branching connection); "
                                 "reluscope reads chains of Linear and ReLU layers")
        if op in OUTPUT_MAPS:
            if x.matrix is None:
                raise self.err(node, "is applied to a value that is not the output of an affine layer")
            out = _Data(x.features, x.A, x.c, x.matrix, op, x.layers)
            self.values[node.output[0]] = out
            return
        self.values[node.output[0]] = self.data_op(node, op, ins, x)

    def after_map(self, node: Any) -> bool:
        """Nodes computed from an output map (labels, probabilities) only propagate it."""
        ins = [self.values.get(n) for n in node.input if n]
        mapped = [v for v in ins if isinstance(v, _Data) and v.output_map]
        if not mapped:
            return False
        for out in node.output:
            self.values[out] = mapped[0]
        return True

    def constant(self, node: Any) -> np.ndarray:
        attrs = self.attrs(node)
        if "value" in attrs:
            return self.onnx.numpy_helper.to_array(attrs["value"])
        for key in ("value_float", "value_int"):
            if key in attrs:
                return np.array(attrs[key])
        for key in ("value_floats", "value_ints"):
            if key in attrs:
                return np.array(list(attrs[key]))
        raise self.err(node, f"has attributes {sorted(attrs)}; only tensor/float/int constants are supported")

    def fold_constant(self, node: Any, ins: list[Any]) -> Any:
        op, a = node.op_type, self.attrs(node)
        try:
            if op in ("Identity", "Cast"):
                v = ins[0]
                if op == "Cast" and isinstance(v, np.ndarray):
                    to = self.onnx.helper.tensor_dtype_to_np_dtype(a["to"])
                    v = v if (v == _BATCH).any() else v.astype(to)
                return v
            if op == "Gather":
                return np.take(ins[0], ins[1].astype(np.int64), axis=a.get("axis", 0))
            if op == "Unsqueeze":
                axes = a.get("axes") if len(ins) < 2 else ins[1]
                return np.expand_dims(ins[0], tuple(int(i) for i in np.atleast_1d(axes)))
            if op == "Squeeze":
                axes = a.get("axes") if len(ins) < 2 else ins[1]
                return np.squeeze(ins[0], None if axes is None else tuple(int(i) for i in np.atleast_1d(axes)))
            if op == "Concat":
                return np.concatenate([np.atleast_1d(v) for v in ins], axis=a.get("axis", 0))
            if op == "Reshape":
                return np.reshape(ins[0], tuple(int(i) for i in ins[1]))
            if op in ("Add", "Sub", "Mul", "Div"):
                fn = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op]
                return fn(ins[0], ins[1])
            if op == "Transpose":
                return np.transpose(ins[0], a.get("perm"))
        except Exception as exc:
            raise self.err(node, f"cannot be evaluated on its constant inputs ({exc})") from None
        raise self.err(node, "is not supported on constants; supported: Constant, Identity, Cast, Shape, Gather, "
                             "Unsqueeze, Squeeze, Concat, Reshape, Transpose, Add, Sub, Mul, Div")

    def data_op(self, node: Any, op: str, ins: list[Any], x: _Data) -> Any:
        a = self.attrs(node)
        if x.output_map:  # pragma: no cover - handled by after_map
            raise self.err(node, "follows an output map")
        if op in _NOOPS or (op == "Cast" and a.get("to") in (1, 10, 11, 16)):
            return x
        if op == "Shape":
            return np.array([_BATCH, *x.features], dtype=np.int64)
        if op == "Flatten":
            if a.get("axis", 1) != 1:
                raise self.err(node, f"has axis={a.get('axis')}; only Flatten(axis=1) is supported")
            return _Data((x.width() if min(x.features, default=1) > 0 else -1,), x.A, x.c, x.matrix, None, x.layers)
        if op == "Reshape":
            return self.reshape(node, ins, x)
        if op == "Relu":
            if x.matrix is None:
                raise self.err(node, "is not preceded by an affine layer (Gemm or MatMul)")
            A, c = x.affine()
            return _Data(x.features, None, None, None, None, [*x.layers, (A, c)])
        if op in ("Gemm", "MatMul"):
            return self.matrix(node, op, ins, x, a)
        if op in _AFFINE_CONST:
            return self.elementwise(node, op, ins, x)
        if op == "BatchNormalization":
            return self.batchnorm(node, ins, x, a)
        raise self.err(node, "is not supported; reluscope reads fully connected ReLU networks: Gemm, MatMul, Add, "
                             "Sub, Mul, Div, BatchNormalization, Relu, Flatten, Reshape, Identity, Dropout (and a final "
                             "Softmax, LogSoftmax, Sigmoid or ArgMax)")

    def reshape(self, node: Any, ins: list[Any], x: _Data) -> _Data:
        """A reshape keeping the batch dimension first: the flat (C-order) feature vector is
        unchanged, so only the feature shape changes (a no-op on the affine map)."""
        shape = self.const(node, node.input[1]).astype(np.int64).ravel().tolist()
        n = x.width() if min(x.features, default=1) > 0 else -1
        shown = ["N" if s == _BATCH else s for s in shape]
        refused = self.err(node, f"reshapes to {shown}; only reshapes that keep the batch dimension first "
                                 f"(to (batch, ...) with {n if n > 0 else 'all'} features) are supported")
        if not shape or shape[0] not in (_BATCH, 0, -1, 1):
            raise refused
        feats = [x.features[i] if s == 0 and i < len(x.features) else s for i, s in enumerate(shape[1:])]
        if any(f == 0 or f < -1 for f in feats) or feats.count(-1) > 1 or (shape[0] == -1 and -1 in feats):
            raise refused
        known = int(np.prod([f for f in feats if f != -1])) if feats else 1
        if n > 0:
            if -1 in feats:
                if n % known:
                    raise refused
                feats[feats.index(-1)] = n // known
            if int(np.prod(feats)) != n:
                raise refused
        return _Data(tuple(feats), x.A, x.c, x.matrix, None, x.layers)

    def matrix(self, node: Any, op: str, ins: list[Any], x: _Data, a: dict[str, Any]) -> _Data:
        lead = x.features[:-1]
        if len(x.features) != 1 and (op == "Gemm" or any(f != 1 for f in lead)):
            raise self.err(node, f"is applied to a tensor of shape (N, {', '.join(map(str, x.features))}); "
                                 "flatten it first (fully connected layers only)")
        if not isinstance(ins[0], _Data):
            raise self.err(node, "multiplies the model input from the right; only x @ W is supported")
        W = np.asarray(self.const(node, node.input[1]), dtype=np.float64)
        if op == "Gemm":
            if a.get("transA", 0):
                raise self.err(node, "has transA=1; only transA=0 is supported")
            M = (W if a.get("transB", 0) else W.T) * float(a.get("alpha", 1.0))
        else:
            if W.ndim != 2:
                raise self.err(node, f"multiplies by a constant of shape {W.shape}; a 2-D weight is needed")
            M = W.T
        if x.features[-1] < 0 and x.A is None and x.c is None and M.ndim == 2:
            x = _Data((*lead, M.shape[1]), layers=x.layers)  # the input's width was not declared: the weight's
        if M.ndim != 2 or M.shape[1] != x.features[-1]:
            raise self.err(node, f"has a weight of shape {W.shape} for {x.features[-1]} input features")
        if x.matrix is not None:
            raise self.err(node, f"follows '{x.matrix}' without a Relu in between; reluscope does not compose "
                                 "two weight matrices into one layer (compose them first)")
        bias = None
        if op == "Gemm" and len(ins) > 2 and node.input[2]:
            bias = self.vector(node, self.const(node, node.input[2]), M.shape[0]) * float(a.get("beta", 1.0))
        out = x.then(M, bias, (*lead, M.shape[0]))  # MatMul over (N, 1, ..., 1, m) keeps the unit dims
        out.matrix = node.name or node.output[0]
        return out

    def elementwise(self, node: Any, op: str, ins: list[Any], x: _Data) -> _Data:
        """``x + k``, ``x - k``, ``k - x``, ``x * k``, ``x / k`` with a constant ``k`` that
        broadcasts over the features (any feature shape, e.g. a normalization applied to an
        ``(N, 1, 1, 5)`` input before its Flatten): a diagonal affine map of the flat
        (C-order) features, composed into the pending affine map."""
        first = isinstance(ins[0], _Data)
        k, x = self.feature_constant(node, self.const(node, node.input[1 if first else 0]), x)
        n = k.size
        if op == "Add":
            return x.then(None, k, x.features)
        if op == "Sub":
            return x.then(None, -k, x.features) if first else x.then(-np.ones(n), k, x.features)
        if op == "Mul":
            return x.then(k, None, x.features)
        if not first:
            raise self.err(node, "divides a constant by a computed tensor (not affine)")
        return x.then(1.0 / k, None, x.features)

    def feature_constant(self, node: Any, arr: np.ndarray, x: _Data) -> tuple[np.ndarray, _Data]:
        """The constant ``arr`` broadcast over ``x``'s features (batch dimension 1 allowed in
        front), flattened in C order like ``Flatten``; and ``x`` with its feature shape
        taken from the constant when the model input left it undeclared."""
        a = np.asarray(arr, dtype=np.float64)
        feats = x.features
        if min(feats, default=1) < 0:  # undeclared input dims: the constant's trailing shape says them
            trailing = a.shape[-len(feats):] if a.ndim >= len(feats) else ()
            fits = len(trailing) == len(feats) and all(f in (-1, t) for f, t in zip(feats, trailing))
            if a.size == 1 or not fits or x.A is not None or x.c is not None:
                raise self.err(node, f"is applied to a tensor of undeclared shape (N, {', '.join(map(str, feats))}) "
                                     f"with a constant of shape {a.shape}; declare the model input's shape")
            feats = tuple(int(t) for t in trailing)
            x = _Data(feats, layers=x.layers)
        target = (1, *feats)
        try:
            ok = a.ndim <= len(target) and np.broadcast_shapes(a.shape, target) == target
        except ValueError:
            ok = False
        if not ok:
            raise self.err(node, f"has a constant of shape {a.shape} that does not broadcast over a tensor of shape "
                                 f"(N, {', '.join(map(str, feats))})")
        return np.broadcast_to(a, target).reshape(-1).copy(), x

    def scaler(self, node: Any, x: _Data) -> _Data:
        """skl2onnx's ``Scaler`` (a fitted ``StandardScaler`` and friends): ``(x - offset) * scale``."""
        if x.output_map or len(x.features) != 1:
            raise self.err(node, "is applied to something other than flat features")
        a = self.attrs(node)
        n = x.features[0]
        scale = self.vector(node, np.array(a.get("scale", [1.0])), n)
        offset = self.vector(node, np.array(a.get("offset", [0.0])), n)
        self.notes.append(f"Scaler '{node.name or node.output[0]}' folded into the following affine layer")
        return x.then(scale, -scale * offset, x.features)

    def batchnorm(self, node: Any, ins: list[Any], x: _Data, a: dict[str, Any]) -> _Data:
        if a.get("training_mode", 0) or len(node.output) > 1 and any(node.output[1:]):
            raise self.err(node, "is in training mode; export the model in evaluation mode (model.eval())")
        if len(x.features) != 1:
            raise self.err(node, f"normalizes a tensor of shape (N, {', '.join(map(str, x.features))}); "
                                 "only BatchNormalization of flat features is supported")
        n = x.features[0]
        scale, bias, mean, var = (self.vector(node, self.const(node, name), n) for name in node.input[1:5])
        s = scale / np.sqrt(var + float(a.get("epsilon", 1e-5)))
        where = "preceding" if x.matrix is not None else "following"
        self.notes.append(f"BatchNormalization '{node.name or node.output[0]}' folded into the {where} affine layer")
        return x.then(s, bias - s * mean, x.features)

    def finish(self, graph: Any) -> ReLUNetwork:
        outs = [self.values.get(o.name) for o in graph.output]
        data = [v for v in outs if isinstance(v, _Data)]
        if not data:
            raise fail(self.path, "no graph output is computed from the model input")
        if len({(id(v.layers), id(v.A), id(v.c)) for v in data}) > 1:
            names = [o.name for o in graph.output]
            raise fail(self.path, f"outputs {names} are computed along different paths; reluscope reads one chain")
        x = data[0]
        if x.matrix is None:
            raise fail(self.path, f"the output '{graph.output[0].name}' is not an affine layer's output (the last "
                                  "layer of a ReLU network must be affine)")
        maps = sorted({v.output_map for v in data if v.output_map})
        if maps:
            self.notes.append(f"output map {', '.join(maps)} not included: it increases with each logit, so the "
                              "network's outputs are the logits and its decisions agree with the model's")
        A, c = x.affine()
        layers = [*x.layers, (A, c)]
        masks = self.masks([w.shape for w, _ in layers])
        try:
            net = ReLUNetwork([w for w, _ in layers], [b for _, b in layers], masks)
        except InvalidNetwork as exc:
            raise fail(self.path, str(exc)) from None
        meta = {p.key: p.value for p in self.model.metadata_props}
        if "reluscope.provenance" in meta:  # written by reluscope: what was inferred or folded before
            stored = provenance_from_record(self.path, meta["reluscope.provenance"])
            return net.with_provenance(Provenance("onnx", str(self.path), stored.inferred,
                                                  (*stored.notes, *self.notes), stored.domain))
        return net.with_provenance(Provenance("onnx", str(self.path), None, tuple(self.notes)))

    def masks(self, shapes: list[tuple[int, ...]]) -> list[np.ndarray] | None:
        meta = {p.key: p.value for p in self.model.metadata_props}
        if "reluscope.masks" not in meta:
            return None
        try:
            packed = json.loads(meta["reluscope.masks"])
            out = []
            for shape, text in zip(shapes, packed, strict=True):
                bits = np.unpackbits(np.frombuffer(base64.b64decode(text), dtype=np.uint8))
                out.append(bits[: shape[0] * shape[1]].reshape(shape).astype(bool))
            return out
        except (ValueError, TypeError) as exc:
            raise fail(self.path, f"corrupted reluscope.masks metadata ({exc})") from None


def read_onnx(path: Path, data: bytes | None = None) -> ReLUNetwork:
    """The network computed by the ONNX model in ``path`` (see the module docstring)."""
    onnx = _import_onnx()
    try:
        if data is None:
            # weights may live in an external data file beside the model (torch.onnx.export's
            # default); onnx resolves it relative to the model's folder and refuses paths outside it
            model = onnx.load(str(path), load_external_data=True)
        else:
            model = onnx.load_model_from_string(data)
    except Exception as exc:
        raise fail(path, f"corrupted ONNX file or missing external data ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:160] if str(exc) else ''})") from None
    return _Reader(path, model, onnx).run()


def onnx_bytes(net: ReLUNetwork, provenance: dict[str, Any] | None = None) -> bytes:
    """The ONNX model of ``net``: input ``input`` (float64, ``(N, d)``), ``Gemm`` (``transB=1``,
    weights ``layers.{i}.weight`` as stored, ``(out, in)``) and ``Relu`` nodes, output
    ``output``; masks in the metadata key ``reluscope.masks`` (packed bits, base64). float64
    throughout, so a round trip is exact. Deterministic bytes."""
    onnx = _import_onnx()
    helper, nh = onnx.helper, onnx.numpy_helper
    nodes, inits = [], []
    prev = "input"
    for i, (w, b) in enumerate(net.layers()):
        wn, bn, out = f"layers.{i}.weight", f"layers.{i}.bias", f"layers.{i}.output"
        inits += [nh.from_array(np.ascontiguousarray(w), wn), nh.from_array(np.ascontiguousarray(b), bn)]
        last = i == net.depth - 1
        nodes.append(helper.make_node("Gemm", [prev, wn, bn], ["output" if last else out], name=f"layers.{i}",
                                      transB=1))
        prev = out
        if not last:
            nodes.append(helper.make_node("Relu", [out], [f"layers.{i}.relu"], name=f"layers.{i}.relu"))
            prev = f"layers.{i}.relu"
    double = onnx.TensorProto.DOUBLE
    graph = helper.make_graph(
        nodes, "reluscope",
        [helper.make_tensor_value_info("input", double, ["N", net.input_dim])],
        [helper.make_tensor_value_info("output", double, ["N", net.output_dim])],
        inits,
    )
    model = helper.make_model(graph, producer_name="reluscope", opset_imports=[helper.make_opsetid("", _OPSET)])
    model.ir_version = _IR_VERSION
    meta = {"reluscope": json.dumps({"format": "reluscope-model-1", "widths": list(net.widths)})}
    if net.masks is not None:
        meta["reluscope.masks"] = json.dumps(
            [base64.b64encode(np.packbits(m.ravel()).tobytes()).decode("ascii") for m in net.masks]
        )
    if provenance is not None:
        meta["reluscope.provenance"] = json.dumps(provenance, sort_keys=True)
    helper.set_model_props(model, meta)
    return model.SerializeToString(deterministic=True)
