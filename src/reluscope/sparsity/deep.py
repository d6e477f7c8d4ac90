"""Exact structural reductions of deep patterns (three or more factors): collapsing routing
stretches, restricting to blocks, and lifting factor families back to every factor.

The set of products of a *stretch* of consecutive factors ``W_m ... W_l`` is, in the cases
below, exactly the coordinate subspace ``R^S`` of matrices supported on the stretch's path
support ``S``; the stretch can then be replaced by a single factor with mask ``S`` without
changing ``L_I`` (``docs/background/deep-patterns.md``, Lemma D3):

* ``"single-output"`` / ``"single-input"`` — the stretch ends (starts) at one unit, e.g. at a
  hidden layer of width one (Lemma D2, a routing tree);
* ``"subspace-units"`` — two factors whose middle units' rectangles that are coordinate
  subspaces (a unit with one input or one output — a one-to-one link or a star — or a class
  of identical units at least as many as a side of their rectangle — a full block) cover
  the pair's path support (Lemma D4);
* ``"full-space"`` — two factors whose product set is proved to be ``R^S`` by the
  solver-free whole-space peeling of the two-factor page (closedness only: no explicit
  factorization map, so families are not lifted through it).

The first three come with a *section*: a map ``M -> (W_l, ..., W_m)`` whose entries are
``0``, ``1`` or entries of ``M``, with product ``M``. Sections carry Laurent factor families
of the collapsed pattern to families on every factor of the original one
(:meth:`Collapse.lift`), and :func:`restrict` / :func:`embed` carry a family of a block
sub-pattern (output rows ``O`` x input columns ``J``, all hidden units kept) into the whole
pattern (Lemma D5).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._budget import Budget
from .certificates import LaurentPoly
from .pattern import SparsityPattern
from .peeling import full_space
from .terms import prune_deep, support_terms

__all__ = ["Collapse", "collapse", "restrict", "embed_family", "path_product", "routing_cover", "LIFTABLE"]

#: Collapse rules with an explicit section (families lift through them).
LIFTABLE = ("single-output", "single-input", "subspace-units")
#: Seconds at most for one whole-space peeling of a pair in :func:`collapse`.
PAIR_PEEL_SECONDS = 0.5

Laurent = list[list[LaurentPoly]]


def path_product(masks: Sequence[np.ndarray]) -> np.ndarray:
    """The path support of a stretch: boolean product ``m_k ... m_1``."""
    out = np.asarray(masks[0], dtype=bool)
    for m in masks[1:]:
        out = (np.asarray(m, dtype=np.int64) @ out.astype(np.int64)) > 0
    return out


def _zeros(rows: int, cols: int) -> Laurent:
    return [[LaurentPoly() for _ in range(cols)] for _ in range(rows)]


# ---------------------------------------------------------------------------------- premises
def subspace_cover(bottom: np.ndarray, top: np.ndarray) -> list[Any] | None:
    """The subspace terms of the pair ``(bottom, top)`` when their rectangles cover the pair's
    path support (premise of ``"subspace-units"``), else ``None``."""
    support = path_product([bottom, top])
    covered = np.zeros_like(support)
    subs = [t for t in support_terms(bottom, top) if t.subspace]
    for t in subs:
        covered[np.ix_(t.rows, t.cols)] = True
    return subs if not (support & ~covered).any() else None


def pair_rule(bottom: np.ndarray, top: np.ndarray, peel: float = 0.0,
              budget: Budget | None = None) -> str | None:
    """The collapse rule that applies to two consecutive masks, or ``None``. ``peel > 0``
    allows the whole-space peeling (at most ``peel`` seconds)."""
    if top.shape[0] == 1:
        return "single-output"
    if bottom.shape[1] == 1:
        return "single-input"
    if subspace_cover(bottom, top) is not None:
        return "subspace-units"
    if peel > 0:
        terms = support_terms(bottom, top)
        if terms and full_space(terms, time_limit=peel, z3_leaf=0, budget=budget) is True:
            return "full-space"
    return None


# ---------------------------------------------------------------------------------- sections
def _tree_section(masks: Sequence[np.ndarray], M: Laurent) -> list[Laurent]:
    """Section of a stretch with ONE output unit (Lemma D2): every unit that reaches the
    output picks one successor that does; the first edge of input ``j`` carries ``M[0][j]``,
    the other tree edges ``1``, all remaining edges ``0``."""
    k = len(masks)
    reach = [None] * (k + 1)
    reach[k] = np.array([True])
    for l in range(k - 1, -1, -1):
        reach[l] = (masks[l][reach[l + 1]]).any(axis=0) if reach[l + 1].any() else np.zeros(masks[l].shape[1], bool)
    factors = [_zeros(*m.shape) for m in masks]
    for l, m in enumerate(masks):
        for u in np.nonzero(reach[l])[0]:
            succ = int(np.nonzero(m[:, u] & reach[l + 1])[0][0])
            factors[l][succ][u] = M[0][u] if l == 0 else LaurentPoly.const(1)
    return factors


def _transpose(F: Laurent) -> Laurent:
    return [list(col) for col in zip(*F)] if F and F[0] else [[] for _ in range(len(F[0]) if F else 0)]


def _subspace_section(bottom: np.ndarray, top: np.ndarray, M: Laurent) -> list[Laurent]:
    """Section of ``"subspace-units"``: every entry of the path support is assigned to one
    covering subspace term; a term with at least as many units as rows uses one unit per row
    (``top`` entry ``1``, ``bottom`` entries the row of ``M``), otherwise one unit per column."""
    subs = subspace_cover(bottom, top)
    assert subs is not None  # premise checked by the caller
    W1, W2 = _zeros(*bottom.shape), _zeros(*top.shape)
    support = path_product([bottom, top])
    done = np.zeros_like(support)
    for t in subs:
        by_rows = t.rank >= len(t.rows)
        for i in t.rows:
            for j in t.cols:
                if done[i, j] or not support[i, j]:
                    continue
                done[i, j] = True
                if by_rows:
                    k = t.neurons[t.rows.index(i)]
                    W2[i][k], W1[k][j] = LaurentPoly.const(1), M[i][j]
                else:
                    k = t.neurons[t.cols.index(j)]
                    W1[k][j], W2[i][k] = LaurentPoly.const(1), M[i][j]
    return [W1, W2]


def section(rule: str, masks: Sequence[np.ndarray], M: Laurent) -> list[Laurent] | None:
    """Factors of the stretch ``masks`` (bottom first) with product ``M`` (exactly), entries
    ``0``, ``1`` or entries of ``M``; ``None`` for a rule without a section."""
    if rule == "single-output":
        return _tree_section(masks, M)
    if rule == "single-input":
        flipped = _tree_section([m.T for m in reversed(masks)], _transpose(M))
        return [_transpose(F) for F in reversed(flipped)]
    if rule == "subspace-units":
        return _subspace_section(masks[0], masks[1], M)
    return None


# ---------------------------------------------------------------------------------- collapse
@dataclasses.dataclass(frozen=True)
class Collapse:
    """The result of :func:`collapse`: the pruned pattern, the merge steps, the collapsed
    pattern (same ``L_I``), and for every collapsed factor the tree of merges behind it."""

    original: SparsityPattern
    pruned: SparsityPattern
    kept: tuple[tuple[int, ...], ...]
    steps: tuple[dict[str, Any], ...]
    collapsed: SparsityPattern
    trees: tuple[Any, ...]  # int (a pruned factor) or (rule, (masks...), (children...))

    @property
    def liftable(self) -> bool:
        return all(s["rule"] in LIFTABLE for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {"pruned": self.pruned.to_text(), "steps": [dict(s) for s in self.steps],
                "collapsed": self.collapsed.to_text()}

    def lift(self, factors: Sequence[Laurent]) -> list[Laurent] | None:
        """Factors of the ORIGINAL pattern with the same product as the collapsed
        ``factors``, or ``None`` when a step has no section."""
        if not self.liftable:
            return None
        pruned: list[Laurent | None] = [None] * self.pruned.n_factors

        def down(tree: Any, F: Laurent) -> None:
            if isinstance(tree, int):
                pruned[tree] = F
                return
            rule, masks, children = tree
            for child, G in zip(children, section(rule, masks, F)):
                down(child, G)

        for tree, F in zip(self.trees, factors):
            down(tree, [list(r) for r in F])
        return embed_units(self.original, self.kept, pruned)


def embed_units(original: SparsityPattern, kept: Sequence[Sequence[int]], factors: Sequence[Laurent]) -> list[Laurent]:
    """Factors on kept units (``kept[l]`` = original indices of layer ``l``) placed into the
    original widths, zero elsewhere."""
    out = []
    for l, F in enumerate(factors):
        G = _zeros(original.widths[l + 1], original.widths[l])
        for a, i in enumerate(kept[l + 1]):
            for b, j in enumerate(kept[l]):
                G[i][j] = F[a][b]
        out.append(G)
    return out


def collapse(pattern: SparsityPattern, peel: float = 0.0, budget: Budget | None = None) -> Collapse:
    """Prune dead units, then merge stretches whose product set is a coordinate subspace
    until none is left (liftable rules first; the whole-space peeling only when ``peel > 0``
    and no liftable rule applies). The collapsed pattern has the same ``L_I``."""
    pruned, kept = prune_deep(pattern)
    masks = [np.array(m) for m in pruned.masks]
    trees: list[Any] = list(range(len(masks)))
    steps: list[dict[str, Any]] = []

    def merge(lo: int, hi: int, rule: str) -> None:
        block = masks[lo:hi + 1]
        masks[lo:hi + 1] = [path_product(block)]
        trees[lo:hi + 1] = [(rule, tuple(block), tuple(trees[lo:hi + 1]))]
        steps.append({"merge": [lo, hi], "rule": rule})

    while len(masks) > 1:
        widths = [masks[0].shape[1]] + [m.shape[0] for m in masks]
        merged = False
        for l in (l for l, w in enumerate(widths) if w == 1):
            # a layer of width one: the stretch below ends at one unit, the one above starts at one
            if l >= 2:
                merge(0, l - 1, "single-output")
            elif len(masks) - l >= 2:
                merge(l, len(masks) - 1, "single-input")
            else:
                continue
            merged = True
            break
        if merged:
            continue
        rule_at = None
        for l in range(len(masks) - 1):
            rule = pair_rule(masks[l], masks[l + 1])
            if rule is not None:
                rule_at = (l, rule)
                break
        if rule_at is None and peel > 0 and not (budget is not None and budget.expired()):
            for l in range(len(masks) - 1):
                if budget is not None and budget.expired():
                    break
                rule = pair_rule(masks[l], masks[l + 1], peel=peel, budget=budget)
                if rule is not None:
                    rule_at = (l, rule)
                    break
        if rule_at is None:
            break
        merge(rule_at[0], rule_at[0] + 1, rule_at[1])
    collapsed = SparsityPattern(masks)
    return Collapse(pattern, pruned, tuple(tuple(k) for k in kept), tuple(steps), collapsed, tuple(trees))


def replay(pattern: SparsityPattern, steps: Sequence[dict[str, Any]], peel: float = 1.0) -> tuple[SparsityPattern | None, str]:
    """Re-check recorded collapse steps from the pattern (for :func:`~reluscope.sparsity.verify`):
    prune, then for each step re-establish the rule's premise on the current masks and merge.
    Returns the collapsed pattern, or ``None`` and the reason a step fails."""
    pruned, _ = prune_deep(pattern)
    masks = [np.array(m) for m in pruned.masks]
    for n, step in enumerate(steps):
        try:
            lo, hi = (int(x) for x in step["merge"])
            rule = str(step["rule"])
        except (KeyError, TypeError, ValueError):
            return None, f"collapse step {n}: malformed"
        if not (0 <= lo < hi < len(masks)):
            return None, f"collapse step {n}: factors {lo}..{hi} out of range"
        block = masks[lo:hi + 1]
        if rule == "single-output":
            ok = block[-1].shape[0] == 1
        elif rule == "single-input":
            ok = block[0].shape[1] == 1
        elif rule == "subspace-units" and hi == lo + 1:
            ok = subspace_cover(block[0], block[1]) is not None
        elif rule == "full-space" and hi == lo + 1:
            terms = support_terms(block[0], block[1])
            ok = bool(terms) and full_space(terms, time_limit=peel, z3_leaf=0) is True
        else:
            ok = False
        if not ok:
            return None, f"collapse step {n}: premise of {rule!r} fails on factors {lo}..{hi}"
        masks[lo:hi + 1] = [path_product(block)]
    return SparsityPattern(masks), "collapse steps re-checked"


# ---------------------------------------------------------------------------------- blocks
def restrict(pattern: SparsityPattern, rows: Sequence[int], cols: Sequence[int]) -> SparsityPattern:
    """The block sub-pattern: output rows ``rows`` of ``W_L`` and input columns ``cols`` of
    ``W_1``, every hidden unit kept. Its ``L`` is ``{X[rows][:, cols] : X in L_I}`` (Lemma D5)."""
    masks = [np.array(m) for m in pattern.masks]
    masks[0] = masks[0][:, list(cols)]
    masks[-1] = masks[-1][list(rows)]
    return SparsityPattern(masks)


def embed_family(pattern: SparsityPattern, rows: Sequence[int], cols: Sequence[int],
                 factors: Sequence[Laurent]) -> list[Laurent]:
    """Factors of the block sub-pattern placed into the whole pattern (zero weights on the
    other output rows and input columns): the product is the block's product on
    ``rows x cols`` and zero elsewhere."""
    out = [[list(r) for r in F] for F in factors]
    W1 = _zeros(pattern.widths[1], pattern.widths[0])
    for i in range(pattern.widths[1]):
        for b, j in enumerate(cols):
            W1[i][j] = out[0][i][b]
    out[0] = W1
    WL = _zeros(pattern.widths[-1], pattern.widths[-2])
    for a, i in enumerate(rows):
        WL[i] = out[-1][a]
    out[-1] = WL
    return out


# ---------------------------------------------------------------------------------- routing covers
def out_forest(masks: Sequence[np.ndarray], rng: np.random.Generator) -> tuple[list[np.ndarray] | None, np.ndarray, dict[int, int]]:
    """A sub-pattern in which every hidden unit keeps ONE outgoing weight (a forest routing
    each first-layer unit to one output), found greedily to cover the path support. Returns
    the forest's masks, the entries of the path support it leaves uncovered (none: a routing
    cover) and the output each routed first-layer unit feeds.

    Greedy, rarest input first: an uncovered entry ``(i, j)`` is covered by routing to output
    ``i`` an unrouted first-layer unit that takes input ``j`` and can still reach ``i`` (through
    unrouted units or units already routed to ``i``), the one covering most uncovered entries
    of row ``i``; ties broken by ``rng``."""
    L = len(masks)
    masks = [np.asarray(m, dtype=bool) for m in masks]
    todo = path_product(masks)
    succ = [np.full(masks[l].shape[1], -1) for l in range(L)]  # succ[l][unit of layer l], l >= 1
    colour = [np.full(masks[l].shape[1], -1) for l in range(L)]
    cache: dict[int, list[np.ndarray]] = {}

    def reach(i: int) -> list[np.ndarray]:
        if i not in cache:
            can: list[np.ndarray] = [np.zeros(0, bool)] * (L + 1)
            can[L] = np.zeros(masks[-1].shape[0], bool)
            can[L][i] = True
            for l in range(L - 1, 0, -1):
                free = masks[l][can[l + 1]].any(axis=0)
                fixed = succ[l] >= 0
                ok_fixed = (colour[l] == i) & can[l + 1][np.where(fixed, succ[l], 0)]
                can[l] = np.where(fixed, ok_fixed, free)
            cache[i] = can
        return cache[i]

    first = masks[0]
    tie = rng.random(first.shape[0])
    for j in np.argsort(first.sum(axis=0) + rng.random(first.shape[1]) * 0.5, kind="stable"):
        for i in np.nonzero(todo[:, j])[0]:
            if not todo[i, j]:
                continue
            can = reach(int(i))
            cands = np.nonzero(first[:, j] & can[1] & (succ[1] < 0))[0] if L > 1 else np.zeros(0, int)
            if len(cands) == 0:
                continue
            gains = np.array([todo[i, first[u]].sum() for u in cands]) + tie[cands] * 0.5
            u = int(cands[int(np.argmax(gains))])
            v = u
            for l in range(1, L):  # follow fixed successors, else pick one that can reach i
                nxt = succ[l][v] if succ[l][v] >= 0 else int(np.nonzero(masks[l][:, v] & can[l + 1])[0][0])
                succ[l][v], colour[l][v] = nxt, i
                v = nxt
            todo[i, first[u]] = False
            cache.clear()
    if todo.any() and L > 1:
        # the rest of the first-layer units: each to the output it helps most (this never
        # hurts the cover, and gives the repair a routed unit per output where possible)
        for u in np.nonzero((succ[1] < 0) & first.any(axis=1))[0]:
            best, gain = -1, -1.0
            for i in range(masks[-1].shape[0]):
                if reach(i)[1][u]:
                    g = todo[i, first[u]].sum() - 1e-3 * (colour[1] == i).sum()
                    if g > gain:
                        best, gain = i, g
            if best < 0:
                continue
            can, v = reach(best), int(u)
            for l in range(1, L):
                nxt = succ[l][v] if succ[l][v] >= 0 else int(np.nonzero(masks[l][:, v] & can[l + 1])[0][0])
                succ[l][v], colour[l][v] = nxt, best
                v = nxt
            todo[best, first[u]] = False
            cache.clear()
    routed = {int(u): int(colour[1][u]) for u in np.nonzero(succ[1] >= 0)[0]} if L > 1 else {}
    sub = [np.array(m) for m in masks]
    for l in range(1, L):
        keep = np.zeros_like(sub[l])
        units = np.nonzero(succ[l] >= 0)[0]
        keep[succ[l][units], units] = True
        sub[l] = sub[l] & keep
    return sub, todo, routed


def routing_cover(pattern: SparsityPattern, seed: int = 0, tries: int = 2) -> SparsityPattern | None:
    """A sub-pattern ``J ⊆ I`` with the same path support ``S`` whose routing collapses to one
    factor (every hidden unit keeps one outgoing weight, or — on the transposed pattern — one
    incoming weight). Then ``R^S = L_J ⊆ L_I ⊆ R^S``: ``L_I`` is the coordinate subspace
    ``R^S``, closed (Lemma D6). ``None`` when the greedy search finds no such ``J``."""
    rng = np.random.default_rng(seed)
    full = [np.array(m) for m in pattern.masks]
    for _ in range(tries):
        for transposed in (False, True):
            ms = [m.T for m in reversed(full)] if transposed else full
            sub, todo, _ = out_forest(ms, rng)
            if todo.any():
                continue
            if transposed:
                sub = [m.T for m in reversed(sub)]
            return SparsityPattern(sub)
    return None


def thinned_cover(pattern: SparsityPattern, budget: Budget, seed: int = 0, max_weights: int = 60) -> SparsityPattern | None:
    """A sub-pattern ``J ⊆ I`` with the same path support that collapses to one factor, found
    by removing allowed weights in random orders (each removal kept only if the path support
    is unchanged) until the rules of :func:`collapse` reduce ``J`` to one factor (then
    ``L_I = R^S`` by Lemma D6). For small patterns (at most ``max_weights`` allowed weights);
    ``None`` when none is found before the budget runs out."""
    if pattern.n_allowed > max_weights:
        return None
    rng = np.random.default_rng(seed)
    S = pattern.path_support()
    entries = [(l, int(i), int(j)) for l, m in enumerate(pattern.masks) for i, j in zip(*np.nonzero(m))]
    while not budget.expired():
        masks = [np.array(m) for m in pattern.masks]
        for k in rng.permutation(len(entries)):
            if budget.expired():
                return None
            l, i, j = entries[k]
            masks[l][i, j] = False
            if not np.array_equal(path_product(masks), S):
                masks[l][i, j] = True
                continue
            candidate = SparsityPattern(masks)
            if collapse(candidate).collapsed.n_factors == 1:
                return candidate
    return None
