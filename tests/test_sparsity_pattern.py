"""SparsityPattern: construction, notation, rank-one supports, classes, components, canonical key."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reluscope import ReLUNetwork
from reluscope.errors import InvalidPattern
from reluscope.sparsity import SparsityPattern
from reluscope.sparsity.notation import format_masks, parse_masks


def test_text_notation_both_forms_agree() -> None:
    a = SparsityPattern.from_text("10/11;11/01")
    b = SparsityPattern.from_text("[[1,0],[1,1]];[[1,1],[0,1]]")
    assert a == b == SparsityPattern.lu(2)
    assert a.widths == (2, 2, 2)
    assert a.to_text() == "10/11;11/01"
    assert hash(a) == hash(b)


@pytest.mark.parametrize(
    "text",
    ["", "10/1;11", "12/11", "10/11;111/011/001", "[[1,0],[2,1]]", "[[1,0],[1]", "a"],
)
def test_bad_notation_raises_one_line(text: str) -> None:
    with pytest.raises(InvalidPattern) as info:
        SparsityPattern.from_text(text)
    assert "\n" not in str(info.value)


def test_bad_masks() -> None:
    with pytest.raises(InvalidPattern):
        SparsityPattern([np.ones((2, 2), bool), np.ones((2, 3), bool)])  # does not chain
    with pytest.raises(InvalidPattern):
        SparsityPattern([np.array([[0, 2]])])
    with pytest.raises(InvalidPattern):
        SparsityPattern([])


def test_masks_are_copied() -> None:
    m = np.ones((2, 2), dtype=bool)
    p = SparsityPattern([m, m])
    m[0, 0] = False
    assert p.masks[0][0, 0]
    with pytest.raises(ValueError):
        p.masks[0][0, 0] = False


def test_lu_rank_one_supports_and_classes() -> None:
    p = SparsityPattern.lu(3)
    # neuron k: C_k = rows i <= k of W2's column k, R_k = columns j <= k of W1's row k
    assert p.neuron_supports() == (((0,), (0,)), ((0, 1), (0, 1)), ((0, 1, 2), (0, 1, 2)))
    assert [c.neurons for c in p.support_classes()] == [(0,), (1,), (2,)]
    assert len(p.components()) == 1


def test_classes_merge_identical_and_drop_empty() -> None:
    # hidden neurons 0 and 2 share support {0}x{0,1}; neuron 1 has no output: empty
    w1 = np.array([[1, 1], [1, 0], [1, 1]], bool)
    w2 = np.array([[1, 0, 1], [0, 0, 0]], bool)
    p = SparsityPattern([w1, w2])
    assert p.empty_neurons() == (1,)
    (cls,) = p.support_classes()
    assert cls.neurons == (0, 2) and cls.rows == (0,) and cls.cols == (0, 1) and cls.rank == 2


def test_components_of_block_diagonal() -> None:
    block = np.kron(np.eye(2, dtype=int), np.ones((2, 2), dtype=int)).astype(bool)
    p = SparsityPattern([block, block])
    comps = p.components()
    assert len(comps) == 2
    assert comps[0].rows == (0, 1) and comps[1].cols == (2, 3)
    assert comps[0].pattern == SparsityPattern.dense((2, 2, 2))
    # rectangles sharing rows but not columns do not overlap: separate components
    w1 = np.array([[1, 0], [0, 1]], bool)
    w2 = np.array([[1, 1]], bool)
    assert len(SparsityPattern([w1, w2]).components()) == 2


def test_from_network_and_torch() -> None:
    torch = pytest.importorskip("torch")
    from torch.nn.utils import prune

    masks = [np.array([[1, 0], [1, 1]], bool), np.array([[1, 1], [0, 1]], bool)]
    net = ReLUNetwork.random((2, 2, 2), seed=0, masks=masks)
    assert SparsityPattern.from_network(net) == SparsityPattern.lu(2)
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU(), torch.nn.Linear(2, 2))
    for layer, m in zip((model[0], model[2]), masks):
        prune.custom_from_mask(layer, "weight", torch.tensor(m))
    assert SparsityPattern.from_torch(model) == SparsityPattern.lu(2)
    assert SparsityPattern.from_torch(model.state_dict()) == SparsityPattern.lu(2)


def _brute_isomorphic(p: SparsityPattern, q: SparsityPattern) -> bool:
    if p.widths != q.widths:
        return False
    for perms in itertools.product(*[itertools.permutations(range(w)) for w in p.widths]):
        if p.permute(perms) == q:
            return True
    return False


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(1, 3), min_size=3, max_size=3),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
)
def test_canonical_key_is_a_complete_invariant(widths: list[int], s1: int, s2: int) -> None:
    """Equal keys <=> isomorphic (brute force over all layer permutations, tiny sizes)."""
    p = SparsityPattern.random(widths, 0.5, seed=s1)
    q = SparsityPattern.random(widths, 0.5, seed=s2)
    assert (p.canonical_key() == q.canonical_key()) == _brute_isomorphic(p, q)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 7), min_size=2, max_size=4),
    st.floats(0.1, 0.9),
    st.integers(0, 10**6),
)
def test_canonical_key_invariant_under_random_permutations(widths: list[int], density: float, seed: int) -> None:
    p = SparsityPattern.random(widths, density, seed=seed)
    rng = np.random.default_rng(seed + 1)
    q = p.permute([rng.permutation(w) for w in widths])
    assert q.canonical_key() == p.canonical_key()
    assert q.canonical_form() == p.canonical_form()
    assert p.canonical_form().is_isomorphic(p)


def test_canonical_key_symmetric_patterns_fast() -> None:
    # large automorphism groups: dense, identity, disjoint blocks
    eye = np.eye(12, dtype=bool)
    assert SparsityPattern([eye, eye]).canonical_key() == SparsityPattern([eye, eye[::-1]]).canonical_key()
    assert SparsityPattern.dense((12, 12, 12)).canonical_key().startswith("12x12x12:")
    block = np.kron(np.eye(4, dtype=int), np.ones((3, 3), dtype=int)).astype(bool)
    p = SparsityPattern([block, block])
    perm = np.random.default_rng(0).permutation(12)
    assert p.permute([perm, perm[::-1], np.arange(12)]).canonical_key() == p.canonical_key()


def test_format_parse_roundtrip() -> None:
    p = SparsityPattern.random((3, 4, 2, 5), 0.5, seed=3)
    assert SparsityPattern(parse_masks(format_masks(p.masks))) == p
    assert SparsityPattern.from_text(p.to_text()) == p
    assert p.transpose().transpose() == p


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 6), st.floats(0.1, 0.8), st.integers(0, 10**6))
def test_components_partition_with_disjoint_supports(n_in: int, h: int, n_out: int, density: float, seed: int) -> None:
    p = SparsityPattern.random((n_in, h, n_out), density, seed=seed)
    classes = p.support_classes()
    comps = p.components()
    # every class in exactly one component; empty neurons in none
    listed = sorted(c for comp in comps for c in comp.classes)
    assert listed == list(range(len(classes)))
    covered = sorted(k for comp in comps for k in comp.neurons)
    assert covered == sorted(set(range(h)) - set(p.empty_neurons()))
    # supports of different components are disjoint; the union of supports is preserved
    supports = [
        {(i, j) for c in comp.classes for i in classes[c].rows for j in classes[c].cols} for comp in comps
    ]
    for x in range(len(supports)):
        for y in range(x + 1, len(supports)):
            assert not supports[x] & supports[y]
    assert set().union(*supports) == {(int(i), int(j)) for i, j in zip(*np.nonzero(p.path_support()))}
    # each component is connected in the overlap graph
    for comp in comps:
        seen, frontier = {comp.classes[0]}, [comp.classes[0]]
        while frontier:
            a = frontier.pop()
            for b in comp.classes:
                if b not in seen and classes[a].overlaps(classes[b]):
                    seen.add(b)
                    frontier.append(b)
        assert seen == set(comp.classes)


def test_from_torch_rejects_non_linear_layers() -> None:
    torch = pytest.importorskip("torch")
    from reluscope.errors import UnsupportedLayer

    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3), torch.nn.Linear(3, 1))
    with pytest.raises(UnsupportedLayer, match="BatchNorm1d"):
        SparsityPattern.from_torch(model)
    with pytest.raises(InvalidPattern):
        SparsityPattern.from_torch(torch.nn.Sequential(torch.nn.ReLU()))
