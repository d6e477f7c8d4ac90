"""The :class:`ReLUNetwork` value: an immutable, validated, float64 ReLU multilayer perceptron.

Convention (as in ``../shared/math``): a network of depth ``L`` has affine layers
``(A_l, b_l)``, ``A_l`` of shape ``(N_l, N_{l-1})``; the realization is

``R(x) = A_L relu(A_{L-1} relu(... relu(A_1 x + b_1) ...) + b_{L-1}) + b_L``.

Optional boolean masks (one per weight matrix) describe a sparsity pattern; weights must be
zero outside their mask. The derivative of ReLU at 0 is taken as 0 (a neuron is *active*
when its pre-activation is strictly positive).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import InvalidArgument, InvalidNetwork

__all__ = ["ReLUNetwork", "Provenance"]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def _as_float_matrix(value: Any, what: str) -> FloatArray:
    try:
        complex_entries = np.iscomplexobj(value)
    except (TypeError, ValueError):
        complex_entries = False
    if complex_entries:
        raise InvalidNetwork(f"{what} has complex entries; weights and biases must be real")
    try:
        arr = np.array(value, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise InvalidNetwork(f"{what} is not numeric: {exc}") from None
    return arr


# Pre-activation matrices with at least this many entries are computed by one BLAS call
# that starts from the broadcast bias (C = H W^T + C, like torch's addmm), saving a full
# pass over the matrix; for small ones the plain product plus an in-place add is cheaper.
_FUSED_BIAS_MIN_ENTRIES = 1 << 17


def _affine_fused(H: FloatArray, w: FloatArray, b: FloatArray) -> FloatArray:
    """``H @ w.T + b`` through BLAS ``dgemm`` with ``beta = 1`` on a bias-initialized output."""
    from scipy.linalg.blas import dgemm

    Z = np.empty((H.shape[0], w.shape[0]))
    Z[...] = b
    # Z (C order, n x N) is Z.T in Fortran order: Z.T = w @ H.T + Z.T, written in place
    out = dgemm(1.0, w.T, H.T, beta=1.0, c=Z.T, trans_a=1, trans_b=0, overwrite_c=1)
    return Z if np.shares_memory(out, Z) else np.ascontiguousarray(out.T)


@dataclass(frozen=True)
class Provenance:
    """Where a network came from and what was inferred when it was read.

    Attributes
    ----------
    format:
        How it was read: ``"onnx"``, ``"safetensors"``, ``"npz"``, ``"torch"`` (a file),
        ``"torch module"``, ``"scikit-learn"``, ``"skops"``, ...
    source:
        The file name or the class of the object it was read from (``None`` if unknown).
    inferred:
        ``None`` when the file states the architecture (a reluscope file, a module, an ONNX
        graph, an estimator); otherwise the sentence saying what was assumed, e.g.
        ``"architecture inferred from a state dict: ..."``.
    notes:
        Transformations made while reading (BatchNorm folded, output map dropped, ...).
    domain:
        The input domain the file declares for the model (a :class:`~reluscope.Box`), or
        ``None``. An NNet file's min/max box is one: the network equals the file's reference
        evaluator inside it (outside, the evaluator clips its inputs).
    """

    format: str | None = None
    source: str | None = None
    inferred: str | None = None
    notes: tuple[str, ...] = ()
    domain: Any = None  # a reluscope.Box (core: network does not import domain)

    def __post_init__(self) -> None:
        object.__setattr__(self, "notes", tuple(str(n) for n in self.notes))

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "source": self.source, "inferred": self.inferred,
                "notes": list(self.notes), "domain": None if self.domain is None else self.domain.to_dict()}

    def __str__(self) -> str:
        head = f"{self.format or 'unknown format'}" + (f" ({self.source})" if self.source else "")
        lines = [head]
        if self.inferred:
            lines.append(self.inferred)
        lines.extend(self.notes)
        return "; ".join(lines)


class ReLUNetwork:
    """An immutable fully connected ReLU network with optional weight masks.

    Parameters
    ----------
    weights:
        Sequence of ``L >= 1`` matrices, ``weights[l]`` of shape ``(N_{l+1}, N_l)``.
    biases:
        Sequence of ``L`` vectors, ``biases[l]`` of shape ``(N_{l+1},)``.
    masks:
        ``None`` (dense) or a sequence of ``L`` boolean arrays of the weights' shapes
        (``None`` entries mean dense for that layer). Weights must vanish outside their mask.
    provenance:
        Optional :class:`Provenance` (set by :func:`reluscope.load` and the converters): where
        the network came from and what was inferred. It is not part of the value: equality,
        hashing and derived networks (:meth:`replace`) ignore it.

    All arrays are copied to read-only float64 arrays: the caller's arrays are never
    mutated nor aliased.

    Examples
    --------
    >>> import numpy as np
    >>> from reluscope import ReLUNetwork
    >>> net = ReLUNetwork([np.array([[1.0], [1.0]]), np.array([[1.0, -1.0]])],
    ...                   [np.array([0.0, -1.0]), np.array([0.0])])
    >>> net.widths
    (1, 2, 1)
    >>> net(np.array([[0.5], [2.0]])).ravel().tolist()
    [0.5, 1.0]
    """

    __slots__ = ("_weights", "_biases", "_masks", "_widths", "_provenance")

    def __init__(
        self,
        weights: Sequence[ArrayLike],
        biases: Sequence[ArrayLike],
        masks: Sequence[ArrayLike | None] | None = None,
        provenance: Provenance | None = None,
    ) -> None:
        if provenance is not None and not isinstance(provenance, Provenance):
            raise InvalidArgument(f"provenance must be a reluscope.network.Provenance or None; got {type(provenance).__name__}")
        if isinstance(weights, np.ndarray) or isinstance(biases, np.ndarray):
            raise InvalidNetwork(
                "weights and biases must be sequences of arrays (one per layer), not a single array"
            )
        weights = list(weights)
        biases = list(biases)
        if len(weights) == 0:
            raise InvalidNetwork("a network needs at least one layer; got 0 weight matrices")
        if len(biases) != len(weights):
            raise InvalidNetwork(
                f"got {len(weights)} weight matrices but {len(biases)} bias vectors"
            )
        ws: list[FloatArray] = []
        bs: list[FloatArray] = []
        widths: list[int] = []
        for layer, (w, b) in enumerate(zip(weights, biases), start=1):
            w = _as_float_matrix(w, f"layer {layer} weight")
            b = _as_float_matrix(b, f"layer {layer} bias")
            if w.ndim != 2:
                raise InvalidNetwork(f"layer {layer} weight must be 2-D (out, in); got shape {w.shape}")
            if w.shape[0] == 0 or w.shape[1] == 0:
                raise InvalidNetwork(f"layer {layer} weight has an empty dimension: shape {w.shape}")
            if b.ndim != 1 or b.shape[0] != w.shape[0]:
                raise InvalidNetwork(
                    f"layer {layer} bias must have shape ({w.shape[0]},) to match weight {w.shape}; "
                    f"got {b.shape}"
                )
            if widths and w.shape[1] != widths[-1]:
                raise InvalidNetwork(
                    f"layer {layer} weight has shape {w.shape}: expects {w.shape[1]} inputs but "
                    f"layer {layer - 1} has {widths[-1]} outputs"
                )
            for name, arr in (("weight", w), ("bias", b)):
                bad = ~np.isfinite(arr)
                if bad.any():
                    idx = tuple(int(i) for i in np.argwhere(bad)[0])
                    raise InvalidNetwork(
                        f"layer {layer} {name} (shape {arr.shape}) has non-finite value "
                        f"{arr[idx]} at index {idx}"
                    )
            if not widths:
                widths.append(w.shape[1])
            widths.append(w.shape[0])
            ws.append(_frozen(w))
            bs.append(_frozen(b))

        ms: tuple[BoolArray, ...] | None = None
        if masks is not None:
            masks = list(masks)
            if len(masks) != len(ws):
                raise InvalidNetwork(f"got {len(ws)} weight matrices but {len(masks)} masks")
            out: list[BoolArray] = []
            for layer, (m, w) in enumerate(zip(masks, ws), start=1):
                if m is None:
                    out.append(_frozen(np.ones(w.shape, dtype=bool)))
                    continue
                m_arr = np.array(m, copy=True)
                if m_arr.shape != w.shape:
                    raise InvalidNetwork(
                        f"layer {layer} mask has shape {m_arr.shape} but the weight has shape {w.shape}"
                    )
                if m_arr.dtype != np.bool_:
                    if m_arr.dtype.kind in "biuf" and np.isin(m_arr, (0, 1)).all():
                        m_arr = m_arr.astype(bool)
                    else:
                        raise InvalidNetwork(
                            f"layer {layer} mask must be boolean (or 0/1); got dtype {m_arr.dtype}"
                        )
                outside = (w != 0) & ~m_arr
                if outside.any():
                    idx = tuple(int(i) for i in np.argwhere(outside)[0])
                    raise InvalidNetwork(
                        f"layer {layer} weight is nonzero ({w[idx]}) at index {idx} outside its mask"
                    )
                out.append(_frozen(m_arr))
            ms = tuple(out)

        self._weights: tuple[FloatArray, ...] = tuple(ws)
        self._biases: tuple[FloatArray, ...] = tuple(bs)
        self._masks = ms
        self._provenance = provenance
        self._widths = tuple(int(n) for n in widths)

    # ------------------------------------------------------------------ immutability
    def __setattr__(self, name: str, value: Any) -> None:
        if hasattr(self, "_widths"):
            raise AttributeError("ReLUNetwork is immutable; use .replace(...) to derive a new one")
        object.__setattr__(self, name, value)

    def __reduce__(self):  # pickling (Dask, multiprocessing)
        return (ReLUNetwork, (list(self._weights), list(self._biases),
                              None if self._masks is None else list(self._masks), self._provenance))

    # ------------------------------------------------------------------ structure
    @property
    def weights(self) -> tuple[FloatArray, ...]:
        """Read-only weight matrices, ``weights[l]`` of shape ``(N_{l+1}, N_l)``."""
        return self._weights

    @property
    def biases(self) -> tuple[FloatArray, ...]:
        """Read-only bias vectors."""
        return self._biases

    @property
    def masks(self) -> tuple[BoolArray, ...] | None:
        """Read-only boolean masks, or ``None`` for a dense network."""
        return self._masks

    @property
    def provenance(self) -> Provenance | None:
        """Where the network came from and what was inferred (:class:`Provenance`), or ``None``."""
        return self._provenance

    def with_provenance(self, provenance: Provenance | None) -> ReLUNetwork:
        """The same network (same parameters and masks) with ``provenance`` recorded."""
        return ReLUNetwork(self._weights, self._biases, self._masks, provenance)

    @property
    def widths(self) -> tuple[int, ...]:
        """``(d, N_1, ..., N_{L-1}, k)``: input width, hidden widths, output width."""
        return self._widths

    @property
    def depth(self) -> int:
        """Number of affine layers ``L`` (one more than the number of hidden layers)."""
        return len(self._weights)

    @property
    def input_dim(self) -> int:
        return self._widths[0]

    @property
    def output_dim(self) -> int:
        return self._widths[-1]

    @property
    def hidden_widths(self) -> tuple[int, ...]:
        return self._widths[1:-1]

    @property
    def n_parameters(self) -> int:
        """Number of entries of all weights and biases (masked entries included)."""
        return sum(w.size + b.size for w, b in zip(self._weights, self._biases))

    @property
    def n_free_parameters(self) -> int:
        """Number of parameters allowed to be nonzero by the masks (all of them if dense)."""
        if self._masks is None:
            return self.n_parameters
        return sum(int(m.sum()) + b.size for m, b in zip(self._masks, self._biases))

    def mask(self, layer: int) -> BoolArray:
        """Boolean mask of layer ``layer`` (0-based); all ``True`` for a dense network."""
        if self._masks is None:
            return np.ones(self._weights[layer].shape, dtype=bool)
        return self._masks[layer]

    def layers(self) -> Iterator[tuple[FloatArray, FloatArray]]:
        """Iterate over ``(weight, bias)`` pairs."""
        return zip(self._weights, self._biases)

    def replace(
        self,
        weights: Sequence[ArrayLike] | None = None,
        biases: Sequence[ArrayLike] | None = None,
        masks: Sequence[ArrayLike | None] | None | str = "keep",
    ) -> ReLUNetwork:
        """A new network with some parts replaced (``masks="keep"`` keeps the current masks)."""
        return ReLUNetwork(
            self._weights if weights is None else weights,
            self._biases if biases is None else biases,
            self._masks if isinstance(masks, str) and masks == "keep" else masks,
        )

    # ------------------------------------------------------------------ realization
    def _check_input(self, X: ArrayLike) -> tuple[FloatArray, bool]:
        arr = np.asarray(X, dtype=np.float64)
        single = arr.ndim == 1
        if single:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != self._widths[0]:
            raise InvalidNetwork(
                f"input must have shape (n, {self._widths[0]}) or ({self._widths[0]},); "
                f"got {np.shape(X)}"
            )
        return arr, single

    def _forward(self, H: FloatArray) -> FloatArray:
        last = len(self._weights) - 1
        n = H.shape[0]
        for i, (w, b) in enumerate(zip(self._weights, self._biases)):
            if n * w.shape[0] >= _FUSED_BIAS_MIN_ENTRIES:
                Z = _affine_fused(H, w, b)
            else:
                Z = H @ w.T
                Z += b
            if i < last:
                np.maximum(Z, 0.0, out=Z)
            H = Z
        return H

    def __call__(self, X: ArrayLike) -> FloatArray:
        """Realization: ``X`` of shape ``(n, d)`` gives ``(n, k)``; ``(d,)`` gives ``(k,)``.

        Large batches of narrow networks (hidden widths <= 512) are evaluated in blocks of
        rows through all layers, so that the activations stay in cache (see
        ``benchmarks/realize.py``); every row is still computed by the same formula.
        """
        H, single = self._check_input(X)
        n = H.shape[0]
        if n > 2048:
            widest = max(self._widths[1:])
            if widest <= 512:
                rows = max(256, (1 << 17) // widest)
                if n > rows:
                    out = np.empty((n, self._widths[-1]))
                    for start in range(0, n, rows):
                        out[start:start + rows] = self._forward(H[start:start + rows])
                    return out
        H = self._forward(H)
        return H[0] if single else H

    def preactivations(self, X: ArrayLike) -> list[FloatArray]:
        """Pre-activations of every layer (hidden layers and the output), each ``(n, N_l)``."""
        H, _ = self._check_input(X)
        out = []
        for i, (w, b) in enumerate(zip(self._weights, self._biases)):
            Z = H @ w.T + b
            out.append(Z)
            H = np.maximum(Z, 0.0)
        return out

    def activation_pattern(self, X: ArrayLike) -> list[BoolArray]:
        """Boolean activation pattern of every hidden layer, each of shape ``(n, N_l)``
        (``(N_l,)`` for a single point). A neuron is active when its pre-activation is > 0."""
        _, single = self._check_input(X)
        pats = [z > 0 for z in self.preactivations(X)[:-1]]
        return [p[0] for p in pats] if single else pats

    def local_affine(self, x: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Jacobian ``J`` (``(k, d)``) and offset ``c`` (``(k,)``) of the affine piece at ``x``.

        On the linear region containing ``x`` the network equals ``y -> J y + c``.
        """
        arr, single = self._check_input(x)
        if not single and arr.shape[0] != 1:
            raise InvalidNetwork(f"local_affine takes a single point of shape ({self._widths[0]},); got {np.shape(x)}")
        c = np.zeros(self._widths[0])
        h = arr[0]
        last = len(self._weights) - 1
        actives = []
        for i, (w, b) in enumerate(zip(self._weights, self._biases)):
            c = w @ c + b
            z = w @ h + b
            if i < last:
                active = z > 0
                actives.append(active)
                c = c * active
                h = np.maximum(z, 0.0)
        # J = W_L D_{L-1} W_{L-1} ... D_1 W_1, multiplied from the output backwards (k rows
        # per layer rather than d columns: cheap for wide inputs)
        J = self._weights[last]
        for i in range(last - 1, -1, -1):
            J = (J * actives[i][None, :]) @ self._weights[i]
        return J.copy(), c

    # ------------------------------------------------------------------ parameter vector
    def to_vector(self) -> FloatArray:
        """All parameters in one vector: for each layer, the weight (row-major) then the bias."""
        return np.concatenate([np.concatenate([w.ravel(), b]) for w, b in self.layers()])

    @classmethod
    def from_vector(
        cls,
        widths: Sequence[int],
        vector: ArrayLike,
        masks: Sequence[ArrayLike | None] | None = None,
    ) -> ReLUNetwork:
        """Inverse of :meth:`to_vector` for the architecture ``widths``."""
        widths = [int(n) for n in widths]
        if len(widths) < 2 or min(widths) < 1:
            raise InvalidNetwork(f"widths must list at least two positive sizes; got {widths}")
        vec = np.asarray(vector, dtype=np.float64).ravel()
        expected = sum(o * i + o for i, o in zip(widths[:-1], widths[1:]))
        if vec.size != expected:
            raise InvalidNetwork(
                f"parameter vector has {vec.size} entries; architecture {tuple(widths)} needs {expected}"
            )
        ws, bs, pos = [], [], 0
        for i, o in zip(widths[:-1], widths[1:]):
            ws.append(vec[pos:pos + o * i].reshape(o, i))
            pos += o * i
            bs.append(vec[pos:pos + o])
            pos += o
        return cls(ws, bs, masks)

    # ------------------------------------------------------------------ comparison
    def same_architecture(self, other: ReLUNetwork) -> bool:
        return self._widths == other._widths

    def allclose(self, other: ReLUNetwork, rtol: float = 1e-9, atol: float = 1e-12) -> bool:
        """True when ``other`` has the same widths and all parameters agree within tolerances
        (parameters only: use :func:`reluscope.equivalent` for equality modulo symmetries)."""
        if not isinstance(other, ReLUNetwork) or not self.same_architecture(other):
            return False
        return all(
            np.allclose(a, b, rtol=rtol, atol=atol)
            for a, b in zip(self._weights + self._biases, other._weights + other._biases)
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ReLUNetwork) or not self.same_architecture(other):
            return False
        if (self._masks is None) != (other._masks is None):
            return False
        same_params = all(
            np.array_equal(a, b)
            for a, b in zip(self._weights + self._biases, other._weights + other._biases)
        )
        if not same_params:
            return False
        return self._masks is None or all(np.array_equal(a, b) for a, b in zip(self._masks, other._masks))

    def __hash__(self) -> int:
        return hash((self._widths, self.to_vector().tobytes()))

    def __repr__(self) -> str:
        masked = "" if self._masks is None else f", free_parameters={self.n_free_parameters}"
        return f"ReLUNetwork(widths={self._widths}, parameters={self.n_parameters}{masked})"

    # ------------------------------------------------------------------ constructors
    @classmethod
    def random(
        cls,
        widths: Sequence[int],
        seed: int | np.random.Generator | None = None,
        bias_scale: float = 0.1,
        masks: Sequence[ArrayLike | None] | None = None,
    ) -> ReLUNetwork:
        """A random network with He-scaled Gaussian weights (reproducible from ``seed``).

        If ``masks`` are given, weights outside them are set to zero.
        """
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed < 0:
            raise InvalidArgument(f"seed must be a non-negative integer; got {seed!r}")
        rng = np.random.default_rng(seed)
        widths = [int(n) for n in widths]
        if len(widths) < 2 or min(widths) < 1:
            raise InvalidNetwork(f"widths must list at least two positive sizes; got {widths}")
        ws, bs = [], []
        for layer, (i, o) in enumerate(zip(widths[:-1], widths[1:])):
            w = rng.standard_normal((o, i)) * np.sqrt(2.0 / i)
            if masks is not None and masks[layer] is not None:
                w = w * np.asarray(masks[layer], dtype=bool)
            ws.append(w)
            bs.append(bias_scale * rng.standard_normal(o))
        return cls(ws, bs, masks)
