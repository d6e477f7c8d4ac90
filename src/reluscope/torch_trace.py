"""Reading a PyTorch module's layer chain: :func:`token` classifies one torch layer and
:func:`traced_tokens` follows a module's ``forward`` with ``torch.fx`` symbolic tracing
(used by :func:`reluscope.from_torch` for modules that are not a plain ``nn.Sequential``).

The traced graph must be one chain: every operation reads the output of the previous one
(plus constants and the batch size), so residual connections (``x + f(x)``) and branches
are refused, as are operations outside the supported set.
"""

from __future__ import annotations

import operator
from typing import Any

from .errors import UnsupportedLayer

__all__ = ["token", "traced_tokens"]

_WHY = ("reluscope analyzes fully connected ReLU networks (its theory is about their parametrization): "
        "Linear, ReLU, BatchNorm1d in eval mode, and the no-ops Identity, Flatten, Dropout")
_FLAT_NOOPS = ("Identity", "Dropout", "AlphaDropout")


def token(path: str, leaf: Any, torch: Any) -> tuple[str, str, Any] | None:
    """``("L" | "R" | "B", path, module)`` for a leaf module, ``None`` for a no-op."""
    nn = torch.nn
    kind = type(leaf)
    if kind is nn.Linear:
        return ("L", path, leaf)
    if kind is nn.ReLU:
        return ("R", path, leaf)
    if kind is nn.BatchNorm1d:
        if leaf.training and leaf.track_running_stats:
            raise UnsupportedLayer(f"layer '{path}' (BatchNorm1d) is in training mode, where its output depends on "
                                   "the batch; call model.eval() first (reluscope folds eval-mode BatchNorm exactly)")
        if not leaf.track_running_stats:
            raise UnsupportedLayer(f"layer '{path}' (BatchNorm1d) has track_running_stats=False: it normalizes with "
                                   "each batch's statistics, which is not a fixed function")
        return ("B", path, leaf)
    if kind.__name__ in _FLAT_NOOPS and kind.__module__.startswith("torch.nn"):
        return None
    if kind is nn.Flatten:
        if leaf.start_dim != 1 or leaf.end_dim != -1:
            raise UnsupportedLayer(
                f"layer '{path}' (Flatten) has start_dim={leaf.start_dim}, end_dim={leaf.end_dim}; "
                "only Flatten(1, -1), a no-op on flat input, is supported"
            )
        return None
    what = kind.__name__
    if kind.__name__ in ("Linear", "ReLU", "Sequential", "BatchNorm1d"):
        what = f"{kind.__module__}.{kind.__qualname__}, a subclass"
    raise UnsupportedLayer(f"layer '{path}' ({what}) is not supported; {_WHY}")


_NOOP_METHODS = ("contiguous", "clone", "float", "double", "detach", "to")


def _describe(node: Any) -> str:
    """``'add' (_operator.add) in layer '2' (Residual)``: the operation and the innermost
    module whose ``forward`` performs it."""
    target = node.target
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None) or str(target)
    module = getattr(target, "__module__", None)
    text = f"'{node.name}' ({module + '.' if module and node.op == 'call_function' else ''}{name})"
    stack = node.meta.get("nn_module_stack") or {}
    if stack:
        path, kind = list(stack.values())[-1]
        text += f" in layer '{path}' ({getattr(kind, '__name__', kind)})"
    return text


def _flat_view(node: Any, kinds: dict[Any, str]) -> bool:
    """``x.view(x.size(0), -1)``, ``x.reshape(-1, n)`` (checked later by the shapes), ``x.flatten(1)``."""
    args = list(node.args[1:])
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = list(args[0])
    if len(args) != 2:
        return False
    first, second = args
    batch = (hasattr(first, "op") and kinds.get(first) == "size") or first == -1
    return bool(batch and (second == -1 or isinstance(second, int)) and not (first == -1 and second == -1))


def traced_tokens(module: Any, torch: Any) -> list[tuple[str, str, Any]]:
    """The ``("L" | "R" | "B", path, module)`` chain of ``module.forward``, traced by ``torch.fx``."""
    import torch.fx as fx
    import torch.nn.functional as F

    try:
        gm = fx.symbolic_trace(module)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise UnsupportedLayer(
            f"{type(module).__name__}.forward cannot be traced by torch.fx ({type(exc).__name__}: {first}); "
            f"write the model as an nn.Sequential. {_WHY}"
        ) from None
    relus = {F.relu, torch.relu, getattr(torch, "relu_", None), getattr(F, "relu_", None)}
    dropouts = {F.dropout, torch.dropout, F.alpha_dropout, F.feature_alpha_dropout}
    kinds: dict[Any, str] = {}
    tokens: list[tuple[str, str, Any]] = []
    data: Any = None
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            if data is not None and node.users:
                raise UnsupportedLayer(f"{type(module).__name__}.forward takes several inputs; reluscope reads "
                                       "networks of one input tensor")
            if data is None:
                data, kinds[node] = node, "data"
            continue
        if node.op == "get_attr":
            kinds[node] = "const"
            continue
        args = _nodes(node)
        data_args = [a for a in args if kinds.get(a) == "data"]
        if node.op == "output":
            if data_args != [data]:
                raise UnsupportedLayer(f"{type(module).__name__}.forward does not return the last layer's output "
                                       "(several outputs or a branch)")
            continue
        if not data_args:
            kinds[node] = "size" if any(kinds.get(a) == "size" for a in args) else "const"
            continue
        if node.op == "call_method" and node.target == "size" or (
            node.op == "call_function" and node.target is getattr and node.args[1:] == ("shape",)
        ):
            kinds[node] = "size"
            continue
        if len(data_args) > 1 or data_args[0] is not data:
            what = "combines two computed tensors" if len(data_args) > 1 else f"reuses '{data_args[0].name}'"
            raise UnsupportedLayer(
                f"operation {_describe(node)} {what} (a residual or branching connection); {_WHY}"
            )
        tok = _classify(node, gm, kinds, relus, dropouts, torch)
        if tok is not None:
            tokens.append(tok)
        data, kinds[node] = node, "data"
    return tokens


def _nodes(node: Any) -> list[Any]:
    out: list[Any] = []

    def visit(a: Any) -> None:
        if isinstance(a, (tuple, list)):
            for x in a:
                visit(x)
        elif isinstance(a, dict):
            for x in a.values():
                visit(x)
        elif hasattr(a, "op") and hasattr(a, "users"):
            out.append(a)

    visit(node.args)
    visit(node.kwargs)
    return out


def _classify(node: Any, gm: Any, kinds: dict[Any, str], relus: set, dropouts: set,
              torch: Any) -> tuple[str, str, Any] | None:
    """The token of one traced operation on the data, ``None`` for a no-op."""
    if node.op == "call_module":
        return token(str(node.target), gm.get_submodule(node.target), torch)
    if node.op == "call_function":
        if node.target in relus:
            return ("R", node.name, None)
        if node.target in dropouts:
            return None
        if node.target is torch.flatten:
            start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
            end = node.args[2] if len(node.args) > 2 else node.kwargs.get("end_dim", -1)
            if start == 1 and end == -1:
                return None
            raise UnsupportedLayer(f"operation {_describe(node)} flattens with start_dim={start}, end_dim={end}; "
                                   "only torch.flatten(x, 1) is supported")
    if node.op == "call_method":
        if node.target in ("relu", "relu_"):
            return ("R", node.name, None)
        if node.target in _NOOP_METHODS:
            return None
        if node.target == "flatten":
            start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
            if start == 1:
                return None
        if node.target in ("view", "reshape") and _flat_view(node, kinds):
            return None
        if node.target in ("view", "reshape", "flatten"):
            raise UnsupportedLayer(f"operation {_describe(node)} reshapes to something other than (batch, -1); "
                                   "only flattening each sample is supported")
    if node.op == "call_function" and node.target in (operator.add, operator.sub, operator.mul, operator.truediv):
        raise UnsupportedLayer(f"operation {_describe(node)} is arithmetic on a computed tensor; {_WHY}")
    raise UnsupportedLayer(f"operation {_describe(node)} is not supported; {_WHY}")
