"""Where an undecided closedness question lies: :func:`undecided_region`.

The routing-cover proof (Lemma D6 of ``docs/background/deep-patterns.md``) fails exactly on
the entries of the path support ``S`` that the greedy forest leaves uncovered. This module
reports them and the part of the pattern they live on (outputs, inputs, hidden units on a
path between them), so that a user of an undecided mask knows where the question lies.
It is a localization of the *proof attempt*, not a theorem about ``L_I``: the pattern may be
closed (another cover may exist) or not; nothing outside the region is claimed either.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .._results import ResultMixin
from .deep import path_product
from .pattern import SparsityPattern, as_pattern
from .repair import _oriented, _routed_forest

__all__ = ["UndecidedRegion", "undecided_region"]


@dataclasses.dataclass(frozen=True)
class UndecidedRegion(ResultMixin):
    """The uncovered entries of the best greedy routing forest and the sub-pattern on them.

    ``rows`` / ``cols``: outputs / inputs with an uncovered path-support entry; ``units``:
    per hidden layer, the units on a path of some uncovered entry (input ``j`` to output ``i``);
    ``uncovered`` / ``support``: number of uncovered entries / of path-support entries.
    Empty ``rows``: the forest is a routing cover, ``L_I`` is closed (Lemma D6).
    """

    rows: tuple[int, ...]
    cols: tuple[int, ...]
    units: tuple[tuple[int, ...], ...]
    uncovered: int
    support: int

    def __str__(self) -> str:
        if not self.rows:
            return "undecided region: none (a routing cover covers the whole path support)"
        hidden = ", ".join(f"layer {l + 1}: {len(u)}" for l, u in enumerate(self.units))
        return (f"undecided region: {self.uncovered} of {self.support} path-support entries not covered by the "
                f"routing cover, on {len(self.rows)} outputs x {len(self.cols)} inputs through hidden units "
                f"({hidden}); outputs {list(self.rows[:10])}{' ...' if len(self.rows) > 10 else ''}. "
                "This locates where the closedness proof fails; it does not decide the question there.")


def undecided_region(pattern: SparsityPattern | Any, seed: int = 0) -> UndecidedRegion:
    """The region of ``pattern`` where the routing-cover proof fails (see the module doc);
    the forest of the pattern or of its transpose with fewer uncovered entries is used."""
    pattern = as_pattern(pattern)
    masks = [np.asarray(m, bool) for m in pattern.masks]
    support = path_product(masks)
    if pattern.n_factors < 2:
        return UndecidedRegion((), (), (), 0, int(support.sum()))
    best = None
    for flip in (False, True):
        todo = _routed_forest(_oriented(masks, flip), np.random.default_rng(seed))[1]
        todo = todo.T if flip else todo
        if best is None or todo.sum() < best.sum():
            best = todo
    rows, cols = np.nonzero(best.any(axis=1))[0], np.nonzero(best.any(axis=0))[0]
    units: list[tuple[int, ...]] = []
    for l in range(1, pattern.n_factors):  # hidden layer l: on a path of some uncovered entry (i, j)
        down = path_product(masks[:l]).astype(np.int64)  # units x inputs
        up = path_product(masks[l:]).astype(np.int64)  # outputs x units
        on = ((up.T @ best.astype(np.int64)) * down).sum(axis=1) > 0
        units.append(tuple(int(u) for u in np.nonzero(on)[0]))
    return UndecidedRegion(tuple(int(i) for i in rows), tuple(int(j) for j in cols), tuple(units),
                           int(best.sum()), int(support.sum()))
