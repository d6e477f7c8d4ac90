"""Exact canonical labelling of sparsity patterns (the nauty scheme).

:func:`canonical_orders` computes a canonical form of the layered graph of a pattern (units
= vertices, allowed weights = edges, colours = layers) by individualization-refinement with
component splitting, twin merging and automorphism pruning, all of which preserve
exactness. :meth:`~reluscope.sparsity.SparsityPattern.canonical_key` is built on it: two
patterns have equal keys **iff** one is obtained from the other by permutations of the
input coordinates, the output coordinates and the neurons of every hidden layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["canonical_orders"]

Graph = list[list[int]]


# ---------------------------------------------------------------------------------- canonical labelling
# Exact canonical labelling of the layered graph of a pattern (units = vertices, allowed
# weights = edges, colours = layers): components, twin merging, individualization-refinement
# with automorphism pruning. The argument for exactness is on the background page.


def _refine(colors: list[int], adj: Graph) -> list[int]:
    """Equivariant colour refinement to an equitable partition (colours = ranks)."""
    n = len(colors)
    current = list(colors)
    n_colors = len(set(current))
    while True:
        sigs = [(current[v], tuple(sorted(current[w] for w in adj[v]))) for v in range(n)]
        ranks = {s: i for i, s in enumerate(sorted(set(sigs)))}
        new = [ranks[s] for s in sigs]
        k = len(ranks)
        if k == n_colors:
            return new
        current, n_colors = new, k


def _leaf_form(colors: list[int], adj: Graph, labels: list[tuple]) -> tuple:
    n = len(colors)
    order = sorted(range(n), key=lambda v: colors[v])
    pos = {v: i for i, v in enumerate(order)}
    vertex_part = tuple(labels[v] for v in order)
    edges = tuple(sorted((pos[v], pos[w]) for v in range(n) for w in adj[v] if pos[v] < pos[w]))
    return vertex_part, edges


def _orbit_find(parent: list[int], x: int) -> int:
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def _canonical_graph(adj: Graph, labels: list[tuple]) -> tuple[tuple, list[int]]:
    """Canonical form and canonical order (list of vertices) of a coloured graph."""
    n = len(adj)
    label_rank = {lab: i for i, lab in enumerate(sorted(set(labels)))}
    start = _refine([label_rank[lab] for lab in labels], adj)
    best: list = [None, None]  # form, colors
    automorphisms: list[list[int]] = []

    def perm_of(colors: list[int]) -> list[int]:
        return sorted(range(n), key=lambda v: colors[v])

    def search(colors: list[int], prefix: list[int]) -> None:
        cells: dict[int, list[int]] = {}
        for v in range(n):
            cells.setdefault(colors[v], []).append(v)
        targets = [c for c, members in cells.items() if len(members) > 1]
        if not targets:
            form = _leaf_form(colors, adj, labels)
            if best[0] is None or form < best[0]:
                best[0], best[1] = form, colors
            elif form == best[0]:
                # automorphism: best order -> this order
                a, b = perm_of(best[1]), perm_of(colors)
                gamma = [0] * n
                for x, y in zip(a, b):
                    gamma[x] = y
                automorphisms.append(gamma)
            return
        target = min(targets)
        explored: list[int] = []
        for v in sorted(cells[target]):
            if explored:
                parent = list(range(n))
                fixed = prefix
                for g in automorphisms:
                    if all(g[p] == p for p in fixed):
                        for x in range(n):
                            rx, ry = _orbit_find(parent, x), _orbit_find(parent, g[x])
                            if rx != ry:
                                parent[rx] = ry
                rv = _orbit_find(parent, v)
                if any(_orbit_find(parent, u) == rv for u in explored):
                    continue
            child = [2 * c for c in colors]
            child[v] -= 1
            search(_refine(child, adj), prefix + [v])
            explored.append(v)

    search(start, [])
    return best[0], perm_of(best[1])


def canonical_orders(masks: Sequence[np.ndarray]) -> tuple[tuple, list[list[int]]]:
    """Canonical form of a pattern and, per layer, the canonical order of its units.

    Parameters
    ----------
    masks:
        Boolean masks ``masks[l]`` of shape ``(N_{l+1}, N_l)``.

    Returns
    -------
    form, orders:
        ``form`` is a hashable complete invariant under layer-wise permutations; ``orders[l]``
        lists the units of layer ``l`` in canonical order (permuting the masks by these
        orders gives the same matrices for all patterns in an isomorphism class).
    """
    widths = [masks[0].shape[1]] + [m.shape[0] for m in masks]
    offsets = np.cumsum([0] + widths)
    n = int(offsets[-1])
    layer_of = np.repeat(np.arange(len(widths)), widths)
    adj: list[set[int]] = [set() for _ in range(n)]
    for l, m in enumerate(masks):
        for i, j in zip(*np.nonzero(m)):
            a, b = int(offsets[l] + j), int(offsets[l + 1] + i)
            adj[a].add(b)
            adj[b].add(a)
    # connected components
    comp = [-1] * n
    comps: list[list[int]] = []
    for s in range(n):
        if comp[s] >= 0:
            continue
        stack, members = [s], []
        comp[s] = len(comps)
        while stack:
            v = stack.pop()
            members.append(v)
            for w in adj[v]:
                if comp[w] < 0:
                    comp[w] = len(comps)
                    stack.append(w)
        comps.append(sorted(members))
    results = []
    for members in comps:
        # twin classes inside the component (same layer, same neighbourhood)
        twins: dict[tuple, list[int]] = {}
        for v in members:
            twins.setdefault((int(layer_of[v]), frozenset(adj[v])), []).append(v)
        classes = list(twins.values())
        index = {}
        for ci, cls in enumerate(classes):
            for v in cls:
                index[v] = ci
        qadj = [sorted({index[w] for w in adj[cls[0]]}) for cls in classes]
        qlabels = [(int(layer_of[cls[0]]), len(cls)) for cls in classes]
        form, order = _canonical_graph(qadj, qlabels)
        vertex_order = [v for ci in order for v in classes[ci]]
        results.append((form, vertex_order))
    results.sort(key=lambda r: r[0])
    orders: list[list[int]] = [[] for _ in widths]
    for _, vertex_order in results:
        for v in vertex_order:
            l = int(layer_of[v])
            orders[l].append(int(v - offsets[l]))
    form = (tuple(widths), tuple(r[0] for r in results))
    return form, orders
