"""Compact text notation for sparsity patterns.

A pattern is written layer by layer, **first weight matrix first** (``W_1`` then ``W_2`` ...),
layers separated by ``;``. Each layer is either

* rows of ``0``/``1`` characters separated by ``/``: ``"10/11"`` is the mask
  ``[[1, 0], [1, 1]]`` (row ``i`` of a layer is output neuron ``i``); or
* a nested list ``"[[1,0],[1,1]]"`` (JSON-like, entries 0/1 or true/false).

So the 2x2 LU pattern (``W_1`` lower triangular, ``W_2`` upper triangular) is
``"10/11;11/01"`` or ``"[[1,0],[1,1]];[[1,1],[0,1]]"``. Whitespace is ignored. A layer
``W_l`` has shape ``(N_l, N_{l-1})``, so consecutive layers must chain: the number of
columns of layer ``l+1`` equals the number of rows of layer ``l``.
"""

from __future__ import annotations

import json

import numpy as np

from ..errors import InvalidPattern

__all__ = ["parse_masks", "format_masks"]


def _parse_layer(text: str, index: int) -> np.ndarray:
    if text.startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidPattern(f"layer {index} of the pattern text is not a nested list: {exc.msg}") from None
        if not isinstance(value, list) or not value or not all(isinstance(r, list) for r in value):
            raise InvalidPattern(f"layer {index} of the pattern text must be a non-empty list of rows")
        rows = []
        for r in value:
            row = []
            for v in r:
                if isinstance(v, bool) or v in (0, 1):
                    row.append(bool(v))
                else:
                    raise InvalidPattern(f"layer {index} of the pattern text has entry {v!r}; use 0/1")
            rows.append(row)
    else:
        parts = text.split("/")
        rows = []
        for r in parts:
            if not r or any(c not in "01" for c in r):
                raise InvalidPattern(
                    f"layer {index} of the pattern text has row {r!r}; rows are strings of 0/1 separated by '/'"
                )
            rows.append([c == "1" for c in r])
    lengths = {len(r) for r in rows}
    if len(lengths) != 1 or 0 in lengths:
        raise InvalidPattern(f"layer {index} of the pattern text has rows of unequal or zero length")
    return np.array(rows, dtype=bool)


def parse_masks(text: str) -> list[np.ndarray]:
    """Parse the compact notation into a list of boolean masks (``W_1`` first).

    Parameters
    ----------
    text:
        For example ``"10/11;11/01"`` or ``"[[1,0],[1,1]];[[1,1],[0,1]]"``.

    Returns
    -------
    list of numpy.ndarray
        Boolean masks, ``masks[l]`` of shape ``(N_{l+1}, N_l)``.
    """
    if not isinstance(text, str):
        raise InvalidPattern(f"pattern text must be a string, got {type(text).__name__}")
    compact = "".join(text.split())
    if not compact:
        raise InvalidPattern("pattern text is empty")
    layers = [_parse_layer(part, i + 1) for i, part in enumerate(compact.split(";"))]
    for i in range(1, len(layers)):
        if layers[i].shape[1] != layers[i - 1].shape[0]:
            raise InvalidPattern(
                f"layer {i + 1} of the pattern text has {layers[i].shape[1]} columns but layer {i} "
                f"has {layers[i - 1].shape[0]} rows"
            )
    return layers


def format_masks(masks: list[np.ndarray] | tuple[np.ndarray, ...]) -> str:
    """Inverse of :func:`parse_masks` in the ``0``/``1`` row form (``"10/11;11/01"``)."""
    return ";".join("/".join("".join("1" if v else "0" for v in row) for row in np.asarray(m)) for m in masks)
