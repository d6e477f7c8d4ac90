"""NNet files (the text format of the ACAS Xu networks and many published verification
networks; https://github.com/sisl/NNet): :func:`read_nnet` and :func:`nnet_text`.

The format, line by line after any number of header lines containing ``//``:

1. ``L, n_inputs, n_outputs, max_layer_size,`` -- ``L`` affine layers;
2. the ``L + 1`` layer sizes, input first;
3. a flag that is no longer used (historically "symmetric"), ignored;
4. the inputs' minimums, 5. their maximums;
6. ``n_inputs + 1`` means, 7. ``n_inputs + 1`` ranges (the last of each for the outputs);
8. per layer: one line per neuron with its weights (one per input of the layer), then one
   line per neuron with its bias.

Values are separated by commas (a trailing comma is usual). The reference evaluator clips
each input to ``[min_i, max_i]``, normalizes it to ``(x_i - mean_i) / range_i``, runs the
ReLU network and un-normalizes every output as ``y * range_out + mean_out``.

:func:`read_nnet` returns that function on **raw** inputs: the normalization is folded
into the first and last affine layers (Rule 5 of docs/background/model-import.md,
``W' = W diag(1/range)``, ``b' = b - W' mean``; ``V' = range_out V``,
``c' = range_out c + mean_out``), and the min/max box becomes the network's default domain
(``net.provenance.domain``), on which the network equals the reference evaluator (outside
the box the evaluator clips, the network does not). The normalization is recorded in the
provenance notes (shown by ``reluscope info``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..domain import Box
from ..errors import InvalidNetwork
from ..network import Provenance, ReLUNetwork
from .tensors import fail

__all__ = ["read_nnet", "nnet_text", "looks_like_nnet"]

_NO_BOX = float(np.finfo(np.float64).max)  # min/max written for "no input box"
_SIZES_LINE = re.compile(r"^\s*\d+\s*,\s*\d+\s*,\s*\d+\s*,\s*\d+\s*,?\s*$")


def looks_like_nnet(head: bytes) -> bool:
    """Whether the first bytes of a file are an NNet header: text whose first line without
    ``//`` holds four comma-separated integers."""
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        return False
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if "//" in line:
            continue
        # the first data line must be complete (followed by another line) to be judged
        return i + 1 < len(lines) and bool(_SIZES_LINE.match(line))
    return False


class _Lines:
    """The file's data lines (after the header), each with its 1-based line number."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        raw = text.splitlines()
        start = 0
        while start < len(raw) and "//" in raw[start]:
            start += 1
        self.items = [(n + 1, line) for n, line in enumerate(raw) if n >= start and line.strip()]
        self.pos = 0

    def numbers(self, what: str, count: int | None, integer: bool = False) -> list[float]:
        """The values of the next line (exactly ``count`` of them when given)."""
        if self.pos >= len(self.items):
            raise fail(self.path, f"ends early: {what} expected after line {self.items[-1][0] if self.items else 0}")
        lineno, line = self.items[self.pos]
        self.pos += 1
        tokens = [t.strip() for t in line.split(",")]
        tokens = [t for t in tokens if t]
        try:
            values = [int(t) if integer else float(t) for t in tokens]
        except ValueError:
            bad = next(t for t in tokens if not _is_number(t, integer))
            raise fail(self.path, f"line {lineno}: {what}: {bad[:40]!r} is not {'an integer' if integer else 'a number'}") from None
        if count is not None and len(values) < count:
            raise fail(self.path, f"line {lineno}: {what}: {count} values expected, found {len(values)}")
        if count is not None and len(values) > count:
            raise fail(self.path, f"line {lineno}: {what}: {count} values expected, found {len(values)}")
        if not integer and not all(np.isfinite(values)):
            raise fail(self.path, f"line {lineno}: {what}: non-finite value")
        return values

    def skip(self, what: str) -> None:
        if self.pos >= len(self.items):
            raise fail(self.path, f"ends early: {what} expected after line {self.items[-1][0] if self.items else 0}")
        self.pos += 1

    def lineno(self) -> int:
        return self.items[self.pos - 1][0]


def _is_number(token: str, integer: bool) -> bool:
    try:
        int(token) if integer else float(token)
    except ValueError:
        return False
    return True


def read_nnet(path: Path) -> ReLUNetwork:
    """The network an NNet file's reference evaluator computes, on raw inputs (see the
    module docstring); ``net.provenance.domain`` is the file's min/max box.

    Raises
    ------
    ModelFileError
        Malformed file: the message names the file and the line.
    """
    try:
        text = path.read_text(encoding="ascii")
    except UnicodeDecodeError as exc:
        raise fail(path, f"is not an NNet text file (byte {exc.start} is not ASCII)") from None
    except OSError as exc:
        raise fail(path, f"cannot be read ({exc.strerror or exc})") from None
    lines = _Lines(path, text)
    head = lines.numbers("the sizes line (layers, inputs, outputs, max layer size)", None, integer=True)
    if len(head) < 3:
        raise fail(path, f"line {lines.lineno()}: the sizes line needs layers, inputs, outputs (found {len(head)} values)")
    n_layers, n_in, n_out = head[:3]
    if n_layers < 1 or n_in < 1 or n_out < 1:
        raise fail(path, f"line {lines.lineno()}: layers, inputs and outputs must be positive; got {head[:3]}")
    sizes = lines.numbers("the layer sizes", n_layers + 1, integer=True)
    if sizes[0] != n_in or sizes[-1] != n_out or min(sizes) < 1:
        raise fail(path, f"line {lines.lineno()}: layer sizes {sizes} disagree with {n_in} inputs and {n_out} outputs")
    lines.skip("the unused (symmetric) flag")  # any content: readers ignore it
    lo = np.array(lines.numbers("the input minimums", n_in))
    hi = np.array(lines.numbers("the input maximums", n_in))
    if np.any(lo > hi):
        i = int(np.argmax(lo > hi))
        raise fail(path, f"line {lines.lineno()}: input {i} has minimum {lo[i]!r} above its maximum {hi[i]!r}")
    mean = np.array(lines.numbers("the means (inputs, then output)", n_in + 1))
    rng = np.array(lines.numbers("the ranges (inputs, then output)", n_in + 1))
    if np.any(rng == 0):
        raise fail(path, f"line {lines.lineno()}: range {int(np.argmax(rng == 0))} is 0 (the inputs are divided by it)")
    weights, biases = [], []
    for layer in range(n_layers):
        rows, cols = sizes[layer + 1], sizes[layer]
        W = np.array([lines.numbers(f"layer {layer} weights, neuron {i}", cols) for i in range(rows)])
        b = np.array([lines.numbers(f"layer {layer} bias, neuron {i}", 1)[0] for i in range(rows)])
        weights.append(W.reshape(rows, cols))
        biases.append(b)
    if lines.pos < len(lines.items):
        raise fail(path, f"line {lines.items[lines.pos][0]}: unexpected data after the last layer's biases")
    net = _fold(path, weights, biases, mean, rng)
    notes = ["NNet normalization folded exactly into the first and last affine layers: inputs (x - mean) / range "
             f"with mean {_fmt(mean[:-1])} and range {_fmt(rng[:-1])}; outputs y * {float(rng[-1])!r} + "
             f"{float(mean[-1])!r}"]
    if np.all(np.abs(np.concatenate([lo, hi])) >= _NO_BOX):  # written without a box (as nnet_text does)
        notes.append("no input box in the file (min/max are +-max float): no default domain, no clipping")
        return net.with_provenance(Provenance("nnet", str(path), None, tuple(notes)))
    notes.append(f"default domain: the file's input box min {_fmt(lo)}, max {_fmt(hi)}; on it the network equals "
                 "the NNet reference evaluator (which clips inputs to this box)")
    return net.with_provenance(Provenance("nnet", str(path), None, tuple(notes), Box(lo, hi)))


def _fmt(values: np.ndarray) -> str:
    return "[" + ", ".join(repr(float(v)) for v in values) + "]"


def _fold(path: Path, weights: list[np.ndarray], biases: list[np.ndarray], mean: np.ndarray,
          rng: np.ndarray) -> ReLUNetwork:
    """Fold ``u = (x - mean) / range`` into the first layer and ``y * range + mean`` into the
    last (Rule 5): divide columns (one rounding per weight), then the shifted bias."""
    weights, biases = list(weights), list(biases)
    W0 = weights[0] / rng[:-1]
    biases[0] = biases[0] - W0 @ mean[:-1]
    weights[0] = W0
    weights[-1] = weights[-1] * rng[-1]
    biases[-1] = biases[-1] * rng[-1] + mean[-1]
    try:
        return ReLUNetwork(weights, biases)
    except InvalidNetwork as exc:
        raise fail(path, str(exc)) from None


def nnet_text(net: ReLUNetwork, domain: Box | None = None, comments: tuple[str, ...] = ()) -> str:
    """An NNet file computing ``net`` exactly: identity normalization (means 0, ranges 1),
    weights in shortest round-trip decimal (read back bit for bit), and as min/max the
    ``domain`` box (default: ``net.provenance.domain``, else ``+-1.7976931348623157e+308``,
    i.e. no clipping). Masks are not stored (NNet has none; masked weights are zero)."""
    if domain is None and net.provenance is not None:
        domain = net.provenance.domain
    d = net.input_dim
    if domain is not None:
        lo, hi = domain.bounds(d)
    else:
        lo, hi = np.full(d, -_NO_BOX), np.full(d, _NO_BOX)

    def row(values) -> str:
        return ",".join(repr(float(v)) for v in np.ravel(values)) + ","

    out = ["// Neural network written by reluscope (NNet format, https://github.com/sisl/NNet)",
           "// normalization: identity (means 0, ranges 1); min/max: the network's input domain"]
    out += [f"// {' '.join(c.split())}" for c in comments]
    out.append(f"{net.depth},{d},{net.output_dim},{max(net.widths)},")
    out.append(",".join(str(w) for w in net.widths) + ",")
    out.append("0,")
    out += [row(lo), row(hi), row(np.zeros(d + 1)), row(np.ones(d + 1))]
    for W, b in net.layers():
        out += [row(r) for r in W]
        out += [f"{float(v)!r}," for v in b]
    return "\n".join(out) + "\n"
