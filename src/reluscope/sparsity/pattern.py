"""Sparsity patterns of ReLU networks and of their linear counterparts.

A pattern ``I = (I_1, ..., I_L)`` is one boolean mask per weight matrix, ``I_l`` of shape
``(N_l, N_{l-1})`` (the shape of the weight ``W_l``). Biases are never constrained.

For two factors (one hidden layer) hidden neuron ``k`` has the rank-one support
``S_k = C_k x R_k`` with ``C_k`` the rows allowed in column ``k`` of ``W_2`` and ``R_k`` the
columns allowed in row ``k`` of ``W_1``; the linear counterpart is ``L_I = sum_k V_k``.

Canonical key
-------------
:meth:`SparsityPattern.canonical_key` is an exact, complete invariant under permutations of
the input coordinates, of the output coordinates and of the neurons of every hidden layer:
two patterns have equal keys **iff** one is obtained from the other by such permutations.
It is the text notation of a canonical representative computed by individualization-
refinement (the nauty scheme) with component splitting, twin merging and automorphism
pruning, all of which preserve exactness (see the functions below for the argument).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InvalidPattern, UnsupportedLayer
from ..io.tensors import torch_array
from ..network import ReLUNetwork
from .canonical import canonical_orders
from .notation import format_masks, parse_masks

__all__ = ["SparsityPattern", "SupportClass", "Component", "as_pattern", "overlap_groups"]


@dataclasses.dataclass(frozen=True)
class SupportClass:
    """Hidden neurons (two factors) sharing one nonempty rank-one support ``rows x cols``.

    ``sum_{k in neurons} V_k`` is the closed cone of matrices of rank at most
    ``len(neurons)`` supported on ``rows x cols``.
    """

    rows: tuple[int, ...]
    cols: tuple[int, ...]
    neurons: tuple[int, ...]

    @property
    def rank(self) -> int:
        """Number of neurons in the class (maximal rank of its cone)."""
        return len(self.neurons)

    def overlaps(self, other: SupportClass) -> bool:
        """Whether the two rectangles ``rows x cols`` share an entry."""
        return bool(set(self.rows) & set(other.rows)) and bool(set(self.cols) & set(other.cols))


@dataclasses.dataclass(frozen=True)
class Component:
    """An independent component of a two-factor pattern: a connected group of support classes.

    ``pattern`` is the restriction of the pattern to ``rows``, ``neurons`` and ``cols``
    (indices into the original pattern). ``L_I`` is the direct sum of the components'
    linear counterparts, so ``L_I`` is closed iff every component's is.
    """

    classes: tuple[int, ...]
    rows: tuple[int, ...]
    neurons: tuple[int, ...]
    cols: tuple[int, ...]
    pattern: SparsityPattern


def overlap_groups(items: Sequence[Any]) -> list[list[int]]:
    """Connected components (as sorted index lists, ordered by first index) of the graph on
    ``items`` where ``a`` and ``b`` are adjacent iff ``a.overlaps(b)``."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(items)
    if n == 0:
        return []
    edges = [(a, b) for a in range(n) for b in range(a + 1, n) if items[a].overlaps(items[b])]
    rows = [a for a, _ in edges]
    cols = [b for _, b in edges]
    graph = coo_matrix((np.ones(len(edges)), (rows, cols)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    groups: dict[int, list[int]] = {}
    for a in range(n):
        groups.setdefault(int(labels[a]), []).append(a)
    return sorted(groups.values())


class SparsityPattern:
    """An immutable sparsity pattern: one boolean mask per weight matrix.

    Parameters
    ----------
    masks:
        Sequence of ``L >= 1`` two-dimensional boolean (or 0/1) arrays, ``masks[l]`` of shape
        ``(N_{l+1}, N_l)`` like the weight it constrains. Masks are copied.

    Examples
    --------
    >>> from reluscope.sparsity import SparsityPattern
    >>> p = SparsityPattern.from_text("10/11;11/01")   # 2x2 LU
    >>> p.widths
    (2, 2, 2)
    >>> [(c.rows, c.cols) for c in p.support_classes()]
    [((0,), (0,)), ((0, 1), (0, 1))]
    """

    __slots__ = ("_masks", "_widths", "_key")

    def __init__(self, masks: Sequence[Any]) -> None:
        if isinstance(masks, np.ndarray) and masks.ndim == 2:
            raise InvalidPattern("masks must be a sequence of 2-D arrays (one per layer), not a single array")
        try:
            masks = list(masks)
        except TypeError:
            raise InvalidPattern(f"masks must be a sequence of arrays, got {type(masks).__name__}") from None
        if not masks:
            raise InvalidPattern("a pattern needs at least one mask")
        out = []
        for l, m in enumerate(masks, start=1):
            arr = np.array(m, copy=True)
            if arr.ndim != 2 or 0 in arr.shape:
                raise InvalidPattern(f"mask of layer {l} must be a non-empty 2-D array, got shape {arr.shape}")
            if arr.dtype != np.bool_:
                if not np.issubdtype(arr.dtype, np.number) or not np.all((arr == 0) | (arr == 1)):
                    raise InvalidPattern(f"mask of layer {l} (shape {arr.shape}) must contain only 0/1 or booleans")
                arr = arr.astype(bool)
            arr.setflags(write=False)
            out.append(arr)
        for l in range(1, len(out)):
            if out[l].shape[1] != out[l - 1].shape[0]:
                raise InvalidPattern(
                    f"mask of layer {l + 1} has shape {out[l].shape} but layer {l} has {out[l - 1].shape[0]} outputs"
                )
        self._masks = tuple(out)
        self._widths = (out[0].shape[1],) + tuple(m.shape[0] for m in out)
        self._key: str | None = None

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_text(cls, text: str) -> SparsityPattern:
        """Parse the compact notation (see :mod:`reluscope.sparsity.notation`)."""
        return cls(parse_masks(text))

    @classmethod
    def from_network(cls, net: Any) -> SparsityPattern:
        """The masks of a :class:`~reluscope.ReLUNetwork` (all-ones masks when it is dense)."""
        if not isinstance(net, ReLUNetwork):
            raise InvalidPattern(f"expected a ReLUNetwork, got {type(net).__name__}")
        return cls([net.mask(l) for l in range(net.depth)])

    @classmethod
    def from_torch(cls, module: Any) -> SparsityPattern:
        """The pattern of a (pruned) PyTorch MLP.

        Linear layers are taken in module order. A layer pruned with
        ``torch.nn.utils.prune`` contributes its ``weight_mask`` buffer; a layer without a
        mask contributes the nonzero pattern of its weight (so a pruned-then-``remove``-d
        model also works). A ``state_dict`` (mapping) is accepted too: keys ending in
        ``weight_mask`` are used when present, else nonzero patterns of 2-D ``weight`` /
        ``weight_orig`` tensors.
        """
        import torch

        masks: list[np.ndarray] = []
        if isinstance(module, dict):
            state = module
            mask_keys = [k for k in state if str(k).endswith("weight_mask")]
            if mask_keys:
                masks = [torch_array(state[k], f"tensor '{k}'", InvalidPattern) != 0 for k in mask_keys]
            else:
                masks = [
                    torch_array(state[k], f"tensor '{k}'", InvalidPattern) != 0
                    for k in state
                    if (str(k).endswith("weight") or str(k).endswith("weight_orig"))
                    and getattr(state[k], "ndim", 0) == 2
                ]
        elif isinstance(module, torch.nn.Module):
            for name, sub in module.named_modules():
                own = list(sub.parameters(recurse=False)) + list(sub.buffers(recurse=False))
                if own and not isinstance(sub, torch.nn.Linear):
                    raise UnsupportedLayer(
                        f"layer '{name or type(sub).__name__}' ({type(sub).__name__}) has weights but is not Linear; "
                        "sparsity patterns are read from Linear/ReLU stacks"
                    )
                if isinstance(sub, torch.nn.Linear):
                    mask = getattr(sub, "weight_mask", None)
                    what = f"layer '{name or type(sub).__name__}' (Linear) {'weight' if mask is None else 'weight_mask'}"
                    masks.append(torch_array(sub.weight if mask is None else mask, what, InvalidPattern) != 0)
        else:
            raise InvalidPattern(f"expected a torch.nn.Module or a state_dict, got {type(module).__name__}")
        if not masks:
            raise InvalidPattern("the PyTorch model has no Linear layers / 2-D weights")
        return cls(masks)

    @classmethod
    def dense(cls, widths: Sequence[int]) -> SparsityPattern:
        """The full pattern with widths ``(N_0, ..., N_L)``."""
        widths = [int(w) for w in widths]
        if len(widths) < 2 or min(widths) < 1:
            raise InvalidPattern(f"widths must be at least two positive integers, got {widths}")
        return cls([np.ones((widths[l + 1], widths[l]), dtype=bool) for l in range(len(widths) - 1)])

    @classmethod
    def lu(cls, n: int) -> SparsityPattern:
        """The ``n x n`` LU pattern: ``W_1`` lower triangular, ``W_2`` upper triangular."""
        if int(n) < 1:
            raise InvalidPattern(f"LU pattern size must be positive, got {n}")
        i, j = np.indices((int(n), int(n)))
        return cls([i >= j, i <= j])

    @classmethod
    def random(cls, widths: Sequence[int], density: float, seed: int | np.random.Generator = 0) -> SparsityPattern:
        """Each entry independently allowed with probability ``density``."""
        rng = np.random.default_rng(seed)
        widths = [int(w) for w in widths]
        if not 0.0 <= density <= 1.0:
            raise InvalidPattern(f"density must be in [0, 1], got {density}")
        return cls([rng.random((widths[l + 1], widths[l])) < density for l in range(len(widths) - 1)])

    # ------------------------------------------------------------------ basic properties
    @property
    def masks(self) -> tuple[np.ndarray, ...]:
        """Read-only boolean masks, ``masks[l]`` of shape ``(N_{l+1}, N_l)``."""
        return self._masks

    @property
    def widths(self) -> tuple[int, ...]:
        """``(N_0, N_1, ..., N_L)``."""
        return self._widths

    @property
    def shapes(self) -> tuple[tuple[int, int], ...]:
        return tuple(m.shape for m in self._masks)  # type: ignore[misc]

    @property
    def n_factors(self) -> int:
        """Number of weight matrices ``L``."""
        return len(self._masks)

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
    def n_allowed(self) -> int:
        """Number of allowed (support) weight entries."""
        return int(sum(m.sum() for m in self._masks))

    def is_dense(self) -> bool:
        """Whether every mask is all ones."""
        return all(bool(m.all()) for m in self._masks)

    def path_support(self) -> np.ndarray:
        """Boolean ``(N_L, N_0)``: entries of the product that some path can make nonzero."""
        acc = self._masks[0].astype(np.int64)
        for m in self._masks[1:]:
            acc = (m.astype(np.int64) @ acc > 0).astype(np.int64)
        return acc > 0

    def to_text(self) -> str:
        """Compact notation, ``W_1`` first (``"10/11;11/01"`` for 2x2 LU)."""
        return format_masks(self._masks)

    def transpose(self) -> SparsityPattern:
        """The pattern of the transposed product ``W_1^T ... W_L^T``."""
        return SparsityPattern([m.T for m in reversed(self._masks)])

    def permute(self, perms: Sequence[Sequence[int]]) -> SparsityPattern:
        """Relabel units: ``perms[l]`` is a permutation of layer ``l`` (new index -> old index)."""
        if len(perms) != len(self._widths):
            raise InvalidPattern(f"need {len(self._widths)} permutations (one per layer), got {len(perms)}")
        ps = []
        for l, p in enumerate(perms):
            arr = np.asarray(p, dtype=np.int64)
            if arr.shape != (self._widths[l],) or sorted(arr.tolist()) != list(range(self._widths[l])):
                raise InvalidPattern(f"perms[{l}] is not a permutation of range({self._widths[l]})")
            ps.append(arr)
        return SparsityPattern([m[np.ix_(ps[l + 1], ps[l])] for l, m in enumerate(self._masks)])

    def restrict(self, keep: Sequence[Sequence[int]]) -> SparsityPattern:
        """The sub-pattern on the units ``keep[l]`` of each layer ``l`` (in the given order)."""
        if len(keep) != len(self._widths):
            raise InvalidPattern(f"need {len(self._widths)} index lists (one per layer), got {len(keep)}")
        ks = [np.asarray(k, dtype=np.int64).reshape(-1) for k in keep]
        for l, k in enumerate(ks):
            if k.size == 0 or k.min() < 0 or k.max() >= self._widths[l]:
                raise InvalidPattern(f"keep[{l}] must be non-empty indices into range({self._widths[l]})")
        return SparsityPattern([m[np.ix_(ks[l + 1], ks[l])] for l, m in enumerate(self._masks)])

    # ------------------------------------------------------------------ two-factor structure
    def _require_two(self, what: str) -> None:
        if self.n_factors != 2:
            raise InvalidPattern(f"{what} is defined for two-factor patterns; this one has {self.n_factors} factors")

    def neuron_supports(self) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
        """Per hidden neuron ``k``: ``(C_k, R_k)`` — rows of column ``k`` of ``W_2`` and
        columns of row ``k`` of ``W_1`` allowed by the masks (two factors only)."""
        self._require_two("neuron_supports")
        m1, m2 = self._masks
        return tuple(
            (tuple(int(i) for i in np.nonzero(m2[:, k])[0]), tuple(int(j) for j in np.nonzero(m1[k])[0]))
            for k in range(self._widths[1])
        )

    def empty_neurons(self) -> tuple[int, ...]:
        """Hidden neurons whose rank-one support is empty (they contribute nothing to ``L_I``)."""
        return tuple(k for k, (c, r) in enumerate(self.neuron_supports()) if not c or not r)

    def support_classes(self) -> tuple[SupportClass, ...]:
        """Neurons with nonempty, identical supports grouped into classes (ordered by first neuron)."""
        groups: dict[tuple, list[int]] = {}
        for k, (c, r) in enumerate(self.neuron_supports()):
            if c and r:
                groups.setdefault((c, r), []).append(k)
        return tuple(SupportClass(c, r, tuple(ks)) for (c, r), ks in groups.items())

    def components(self) -> tuple[Component, ...]:
        """Connected components of the graph on support classes where two classes are
        adjacent iff their rectangles overlap. Supports of different components are
        disjoint, so ``L_I`` is their direct sum. Ordered by first class."""
        classes = self.support_classes()
        groups = overlap_groups(classes)
        out = []
        for members in groups:
            rows = tuple(sorted({i for a in members for i in classes[a].rows}))
            cols = tuple(sorted({j for a in members for j in classes[a].cols}))
            neurons = tuple(sorted(k for a in members for k in classes[a].neurons))
            out.append(Component(tuple(members), rows, neurons, cols, self.restrict([cols, neurons, rows])))
        return tuple(out)

    # ------------------------------------------------------------------ canonical form
    def canonical_form(self) -> SparsityPattern:
        """The canonical representative of the pattern's permutation class."""
        _, orders = canonical_orders(self._masks)
        return self.permute(orders)

    def canonical_key(self) -> str:
        """Exact permutation-invariant key: equal keys iff the patterns are equal up to row,
        column and hidden-neuron permutations (``widths`` + text of the canonical form)."""
        if self._key is None:
            canon = self.canonical_form()
            key = "x".join(str(w) for w in self._widths) + ":" + canon.to_text()
            self._key = key
        return self._key

    def is_isomorphic(self, other: SparsityPattern) -> bool:
        """Whether ``other`` equals this pattern up to layer-wise permutations."""
        return isinstance(other, SparsityPattern) and self.canonical_key() == other.canonical_key()

    # ------------------------------------------------------------------ value semantics
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SparsityPattern):
            return NotImplemented
        return self._widths == other._widths and all(np.array_equal(a, b) for a, b in zip(self._masks, other._masks))

    def __hash__(self) -> int:
        return hash((self._widths, self.to_text()))

    def __reduce__(self):  # pickling (multiprocessing, Dask)
        return (SparsityPattern, ([np.array(m) for m in self._masks],))

    def __repr__(self) -> str:
        return f"SparsityPattern({self.to_text()!r})"

    def __str__(self) -> str:
        return f"pattern {'x'.join(map(str, self._widths))} {self.to_text()}"

    def to_dict(self) -> dict[str, Any]:
        return {"widths": list(self._widths), "text": self.to_text()}


def as_pattern(value: Any) -> SparsityPattern:
    """A :class:`SparsityPattern` from a pattern, a ``ReLUNetwork``, text notation or masks."""
    if isinstance(value, SparsityPattern):
        return value
    if isinstance(value, ReLUNetwork):
        return SparsityPattern.from_network(value)
    if isinstance(value, str):
        return SparsityPattern.from_text(value)
    if isinstance(value, (list, tuple)):
        return SparsityPattern(value)
    raise InvalidPattern(f"cannot make a sparsity pattern from {type(value).__name__}")
