"""PyTorch interoperability: :func:`from_torch` and :func:`to_torch` (torch is imported lazily).

Accepted modules
----------------
:func:`from_torch` reads an ``nn.Sequential`` (nested ``nn.Sequential`` too) or a single
``nn.Linear`` whose leaves, in order, form ``Linear, ReLU, Linear, ReLU, ..., Linear``;
any other module (a custom class, ``nn.ModuleList`` / ``nn.ModuleDict`` used in
``forward``, ``F.relu``, ``torch.flatten(x, 1)``, ``x.view(x.size(0), -1)``) is read by
``torch.fx`` symbolic tracing of its ``forward`` (:mod:`reluscope.torch_trace`), which
must be one chain of supported operations. ``nn.DataParallel`` /
``DistributedDataParallel`` wrappers are unwrapped. The no-op layers ``nn.Identity``,
``nn.Flatten`` (``start_dim=1``, on flat input) and ``nn.Dropout`` (the identity in
evaluation mode, which is the function reluscope analyzes) may appear anywhere. Two
consecutive ``ReLU`` are merged (``relu . relu = relu`` exactly). ``nn.BatchNorm1d`` in
evaluation mode is the affine map ``x -> s * x + t`` with ``s = gamma / sqrt(var + eps)``
and ``t = beta - s * mean``; it is folded into the preceding ``Linear`` when no ReLU lies
between them (``W' = diag(s) W``, ``b' = s * b + t``), else into the following one
(``W' = W diag(s)``, ``b' = W t + b``): the same function in real arithmetic, one rounding
in float64; zeros of pruned weights stay zeros, so masks are kept. Each fold is recorded
in ``net.provenance.notes``.

Rules that raise :class:`~reluscope.errors.UnsupportedLayer` naming the layer path
(e.g. ``layer '3' (GELU)``) or the traced operation, and saying what is supported:

* any other layer type or operation (Conv2d, Sigmoid, GELU, subclasses of Linear/ReLU,
  arithmetic on computed tensors, ...), residual or branching connections;
* ``BatchNorm1d`` in training mode or without running statistics (a function of the batch);
* two ``Linear`` layers without a ``ReLU`` in between (reluscope does not compose them,
  since the composed weights would not be the user's parameters; compose them yourself);
* a ``ReLU`` before the first or after the last ``Linear``;
* forward hooks other than ``torch.nn.utils.prune`` masks.

Pruning masks (``weight_orig`` / ``weight_mask`` of ``torch.nn.utils.prune``) become the
network's masks; the effective weight ``weight_orig * weight_mask`` becomes its weight.
Values are converted to float64 exactly (float16/bfloat16/float32 embed in float64) by
the one tensor reader :func:`reluscope.io.tensors.torch_array`, the same check as for
state dicts: sparse (COO, CSR, ...), meta-device, quantized and complex parameters or
buffers raise :class:`~reluscope.errors.InvalidNetwork` naming the layer and tensor
(``layer '0' (Linear) weight is sparse (sparse_coo); convert it with .to_dense() first``).
The user's module is never modified.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import InvalidNetwork, ReluscopeError, UnsupportedLayer
from .io.tensors import mask_array, torch_array
from .network import Provenance, ReLUNetwork
from .torch_trace import token as _token
from .torch_trace import traced_tokens as _traced_tokens

__all__ = ["from_torch", "to_torch"]


def _import_torch() -> Any:
    try:
        import torch
    except ImportError:  # pragma: no cover - depends on the environment
        raise ReluscopeError(
            "this needs PyTorch, which is not installed: pip install 'reluscope[torch]'"
        ) from None
    return torch


def _leaves(module: Any, path: str, torch: Any, out: list[tuple[str, Any]]) -> None:
    nn = torch.nn
    if type(module) is nn.Sequential:
        for name, child in module.named_children():
            _leaves(child, f"{path}.{name}" if path else name, torch, out)
        return
    out.append((path or "<root>", module))


def _values(t: Any, what: str) -> np.ndarray:
    """A parameter or buffer read by the one checked path (sparse, meta, quantized, complex:
    one-line :class:`InvalidNetwork` naming ``what``), as float64."""
    return torch_array(t, what, InvalidNetwork).astype(np.float64, copy=False)


def _check_finite(arr: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InvalidNetwork(f"{what} (shape {arr.shape}) has non-finite value {arr[idx]} at index {idx}")


def _read_linear(path: str, lin: Any, torch: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    import torch.nn.utils.prune as prune

    label = f"layer '{path}' (Linear)"
    for hooks, kind in ((lin._forward_hooks, "forward hook"), (lin._forward_pre_hooks, "forward pre-hook")):
        for hook in hooks.values():
            if not isinstance(hook, prune.BasePruningMethod):
                raise UnsupportedLayer(f"{label} has a {kind} ({type(hook).__name__}) that may change its output")
    params = dict(lin.named_parameters(recurse=False))
    buffers = dict(lin.named_buffers(recurse=False))
    mask = None
    if "weight_orig" in params:
        if "weight_mask" not in buffers:
            raise InvalidNetwork(f"{label} has weight_orig but no weight_mask")
        orig = _values(params["weight_orig"], f"{label} weight_orig")
        _check_finite(orig, f"{label} weight_orig")
        mask = mask_array(torch_array(buffers["weight_mask"], f"{label} weight_mask", InvalidNetwork),
                          f"{label} weight_mask", InvalidNetwork)
        if mask.shape != orig.shape:
            raise InvalidNetwork(f"{label} weight_mask has shape {mask.shape} but weight_orig has {orig.shape}")
        w = orig * mask  # exactly torch's effective weight (signed zeros included)
    else:
        w = _values(lin.weight, f"{label} weight")
        _check_finite(w, f"{label} weight")
    if w.ndim != 2:
        raise InvalidNetwork(f"{label} weight must be 2-D; got shape {w.shape}")
    if "bias_orig" in params:
        b = _values(params["bias_orig"], f"{label} bias_orig")
        _check_finite(b, f"{label} bias_orig")
        bm = mask_array(torch_array(buffers["bias_mask"], f"{label} bias_mask", InvalidNetwork),
                        f"{label} bias_mask", InvalidNetwork)
        b = b * bm
    elif lin.bias is None:
        b = np.zeros(w.shape[0])
    else:
        b = _values(lin.bias, f"{label} bias")
        _check_finite(b, f"{label} bias")
    return w, b, mask


def _fold_batchnorm(tokens: list[tuple[str, str, Any]], torch: Any, notes: list[str]) -> list[tuple[str, str, Any]]:
    """Replace every BatchNorm1d by its exact affine map folded into the neighbouring Linear:
    the preceding one when no ReLU lies between them, else the following one."""
    out: list[tuple[str, str, Any]] = []
    pending: list[tuple[str, np.ndarray, np.ndarray]] = []  # BatchNorms waiting for the next Linear
    for kind, path, leaf in tokens:
        if kind == "B":
            s, t = _bn_affine(path, leaf, torch)
            if out and out[-1][0] == "L":
                w, b, mask = out[-1][2]
                if w.shape[0] != s.size:
                    raise InvalidNetwork(f"layer '{path}' (BatchNorm1d) has {s.size} features but layer "
                                         f"'{out[-1][1]}' (Linear) has {w.shape[0]} outputs")
                out[-1] = ("L", out[-1][1], (s[:, None] * w, s * b + t, mask))
                notes.append(f"BatchNorm1d '{path}' folded into the preceding Linear '{out[-1][1]}'")
            else:
                pending.append((path, s, t))
            continue
        if kind == "L":
            w, b, mask = leaf
            for bn_path, s, t in pending:
                if w.shape[1] != s.size:
                    raise InvalidNetwork(f"layer '{bn_path}' (BatchNorm1d) has {s.size} features but layer "
                                         f"'{path}' (Linear) has {w.shape[1]} inputs")
                b = w @ t + b
                w = w * s[None, :]
                notes.append(f"BatchNorm1d '{bn_path}' folded into the following Linear '{path}'")
            pending = []
            leaf = (w, b, mask)
        elif pending:
            raise UnsupportedLayer(f"layer '{pending[0][0]}' (BatchNorm1d) is followed by '{path}' (ReLU) before a "
                                   "Linear layer; only BatchNorm next to a Linear layer can be folded")
        out.append((kind, path, leaf))
    if pending:
        raise UnsupportedLayer(f"layer '{pending[0][0]}' (BatchNorm1d) comes after the last ReLU with no Linear "
                               "after it; the output must be affine")
    return out


def _bn_affine(path: str, bn: Any, torch: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(s, t)`` with ``bn(x) == s * x + t`` in evaluation mode."""
    label = f"layer '{path}' (BatchNorm1d)"
    mean = _values(bn.running_mean, f"{label} running_mean")
    var = _values(bn.running_var, f"{label} running_var")
    s = 1.0 / np.sqrt(var + float(bn.eps))
    t = -mean * s
    if bn.affine:
        gamma, beta = _values(bn.weight, f"{label} weight"), _values(bn.bias, f"{label} bias")
        s, t = gamma * s, gamma * t + beta
    for what, arr in (("scale", s), ("shift", t)):
        _check_finite(arr, f"layer '{path}' (BatchNorm1d) {what}")
    return s, t


def from_torch(module: Any) -> ReLUNetwork:
    """Convert a PyTorch module computing a chain of ``Linear`` / ``ReLU`` layers to a :class:`ReLUNetwork`.

    Parameters
    ----------
    module:
        An ``nn.Sequential`` (possibly nested), a single ``nn.Linear``, or any module whose
        ``forward`` chains supported layers -- read by ``torch.fx`` symbolic tracing (custom
        classes, ``nn.ModuleList`` / ``nn.ModuleDict`` in ``forward``, ``F.relu``,
        ``torch.flatten(x, 1)``, ``x.view(x.size(0), -1)``). ``nn.DataParallel`` wrappers are
        unwrapped. ``BatchNorm1d`` in eval mode is folded exactly into the neighbouring
        Linear (recorded in ``net.provenance.notes``). Pruning masks are read into the masks.

    Returns
    -------
    ReLUNetwork
        The same function in float64; ``masks`` is set when any Linear is pruned (the
        unpruned layers then get all-True masks).

    Raises
    ------
    UnsupportedLayer
        A layer (named by its path, e.g. ``layer '3' (GELU)``) or an operation that is not
        part of a Linear/ReLU chain: other activations, convolutions, residual or branching
        connections; a stack that does not alternate properly.
    InvalidNetwork
        Shapes that do not chain, non-finite values, non-boolean masks.

    Examples
    --------
    >>> import torch
    >>> from reluscope import from_torch
    >>> net = from_torch(torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 1)))
    >>> net.widths
    (3, 5, 1)
    """
    torch = _import_torch()
    nn = torch.nn
    if not isinstance(module, nn.Module):
        raise UnsupportedLayer(f"from_torch expects a torch.nn.Module; got {type(module).__name__}")
    notes: list[str] = []
    source = type(module).__name__
    while True:
        if isinstance(module, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
            notes.append(f"{type(module).__name__} wrapper unwrapped")
            module = module.module
        elif type(module).__name__ == "OptimizedModule" and isinstance(getattr(module, "_orig_mod", None), nn.Module):
            notes.append("torch.compile wrapper unwrapped")
            module = module._orig_mod
        else:
            break
    leaves: list[tuple[str, Any]] = []
    _leaves(module, "", torch, leaves)
    custom = [leaf for _, leaf in leaves
              if not type(leaf).__module__.startswith("torch.nn.") or next(leaf.children(), None) is not None]
    if not custom:  # a tree of nn.Sequential over torch's own layers: read it directly
        tokens = [t for path, leaf in leaves if (t := _token(path, leaf, torch)) is not None]
    else:
        tokens = _traced_tokens(module, torch)
        notes.append(f"layer chain read by torch.fx tracing of {type(module).__name__}.forward")
    if not any(t[0] == "L" for t in tokens):
        raise UnsupportedLayer("the module contains no Linear layer")
    tokens = [(k, p, _read_linear(p, leaf, torch) if k == "L" else leaf) for k, p, leaf in tokens]
    tokens = _fold_batchnorm(tokens, torch, notes)
    weights, biases, masks = [], [], []
    any_mask = False
    prev: tuple[str, str] | None = None
    last_linear: tuple[str, int] | None = None
    for kind, path, leaf in tokens:
        if kind == "R":
            if prev is None:
                raise UnsupportedLayer(f"layer '{path}' (ReLU) comes before the first Linear layer")
            prev = ("R", path)
            continue
        if prev is not None and prev[0] == "L":
            raise UnsupportedLayer(
                f"layers '{prev[1]}' (Linear) and '{path}' (Linear) follow each other without a ReLU; "
                "compose them into one Linear layer first"
            )
        w, b, mask = leaf
        if last_linear is not None and w.shape[1] != last_linear[1]:
            raise InvalidNetwork(
                f"layer '{path}' (Linear) has weight shape {w.shape} (expects {w.shape[1]} inputs) but "
                f"layer '{last_linear[0]}' has {last_linear[1]} outputs"
            )
        last_linear = (path, w.shape[0])
        weights.append(w)
        biases.append(b)
        masks.append(mask)
        any_mask = any_mask or mask is not None
        prev = ("L", path)
    if prev is not None and prev[0] == "R":
        raise UnsupportedLayer(f"layer '{prev[1]}' (ReLU) comes after the last Linear layer; the output must be affine")
    net = ReLUNetwork(weights, biases, masks if any_mask else None)
    return net.with_provenance(Provenance("torch module", source, None, tuple(notes)))


def to_torch(net: ReLUNetwork, dtype: Any = None) -> Any:
    """An equivalent ``nn.Sequential(Linear, ReLU, ..., Linear)``.

    Parameters
    ----------
    net:
        The network.
    dtype:
        Parameter dtype (default ``torch.float64``; any other dtype rounds the values, so
        only float64 round trips are exact).

    Returns
    -------
    torch.nn.Sequential
        Linear layers at even indices ``0, 2, ...``; masked networks get their masks
        applied with ``torch.nn.utils.prune.custom_from_mask`` (``weight_orig`` /
        ``weight_mask``), so ``from_torch(to_torch(net)) == net``.
    """
    torch = _import_torch()
    import torch.nn.utils.prune as prune

    if not isinstance(net, ReLUNetwork):
        raise InvalidNetwork(f"to_torch expects a ReLUNetwork; got {type(net).__name__}")
    dtype = torch.float64 if dtype is None else dtype
    layers: list[Any] = []
    for i, (w, b) in enumerate(net.layers()):
        lin = torch.nn.Linear(w.shape[1], w.shape[0], dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.array(w, copy=True)))
            lin.bias.copy_(torch.from_numpy(np.array(b, copy=True)))
        if net.masks is not None:
            prune.custom_from_mask(lin, "weight", torch.from_numpy(np.array(net.masks[i], copy=True)))
        layers.append(lin)
        if i < net.depth - 1:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)
