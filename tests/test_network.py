"""Properties of the ReLUNetwork value: realization, vector round trip, patterns, local affine maps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reluscope import InvalidNetwork, ReLUNetwork

torch = pytest.importorskip("torch")

widths_st = st.lists(st.integers(1, 7), min_size=2, max_size=5)


def _random_masks(widths, rng, density=0.6):
    return [rng.random((o, i)) < density for i, o in zip(widths[:-1], widths[1:])]


def _torch_forward(net: ReLUNetwork, X: np.ndarray) -> np.ndarray:
    """Independent realization: explicit torch float64 ops (not via to_torch)."""
    h = torch.from_numpy(np.array(X, dtype=np.float64))
    for i, (w, b) in enumerate(net.layers()):
        h = torch.nn.functional.linear(h, torch.from_numpy(np.array(w)), torch.from_numpy(np.array(b)))
        if i < net.depth - 1:
            h = torch.relu(h)
    return h.numpy()


@settings(max_examples=60, deadline=None)
@given(widths=widths_st, seed=st.integers(0, 2**32 - 1), n=st.integers(1, 9), masked=st.booleans())
def test_realization_matches_torch(widths, seed, n, masked):
    rng = np.random.default_rng(seed)
    masks = _random_masks(widths, rng) if masked else None
    net = ReLUNetwork.random(widths, seed=rng, bias_scale=0.5, masks=masks)
    X = rng.standard_normal((n, widths[0])) * 2
    out = net(X)
    assert out.shape == (n, widths[-1])
    np.testing.assert_allclose(out, _torch_forward(net, X), rtol=1e-12, atol=1e-12)
    # a single point gives a (k,) vector equal to the batch row
    np.testing.assert_allclose(net(X[0]), out[0], rtol=1e-13, atol=1e-13)


@settings(max_examples=60, deadline=None)
@given(widths=widths_st, seed=st.integers(0, 2**32 - 1), masked=st.booleans())
def test_vector_round_trip(widths, seed, masked):
    rng = np.random.default_rng(seed)
    masks = _random_masks(widths, rng) if masked else None
    net = ReLUNetwork.random(widths, seed=rng, masks=masks)
    v = net.to_vector()
    assert v.shape == (net.n_parameters,)
    back = ReLUNetwork.from_vector(net.widths, v, masks=net.masks)
    assert back == net
    assert back.to_vector().tobytes() == v.tobytes()
    # and the other direction: any vector is a network
    w = rng.standard_normal(v.size)
    assert np.array_equal(ReLUNetwork.from_vector(widths, w).to_vector(), w)


@settings(max_examples=50, deadline=None)
@given(widths=widths_st, seed=st.integers(0, 2**32 - 1))
def test_activation_pattern_is_sign_of_preactivation(widths, seed):
    rng = np.random.default_rng(seed)
    net = ReLUNetwork.random(widths, seed=rng, bias_scale=0.5)
    X = rng.standard_normal((6, widths[0]))
    pats = net.activation_pattern(X)
    assert len(pats) == net.depth - 1
    # independent recomputation of each hidden layer's pre-activation
    h = X
    for layer, (w, b) in enumerate(list(net.layers())[:-1]):
        z = h @ w.T + b
        np.testing.assert_array_equal(pats[layer], z > 0)
        h = np.maximum(z, 0)
    single = net.activation_pattern(X[2])
    for layer in range(net.depth - 1):
        np.testing.assert_array_equal(single[layer], pats[layer][2])


@settings(max_examples=50, deadline=None)
@given(widths=widths_st, seed=st.integers(0, 2**32 - 1))
def test_local_affine_equals_network_on_its_piece(widths, seed):
    rng = np.random.default_rng(seed)
    net = ReLUNetwork.random(widths, seed=rng, bias_scale=0.5)
    x = rng.standard_normal(widths[0])
    J, c = net.local_affine(x)
    assert J.shape == (widths[-1], widths[0]) and c.shape == (widths[-1],)
    np.testing.assert_allclose(J @ x + c, net(x), rtol=1e-10, atol=1e-10)
    base = [p for p in net.activation_pattern(x)]
    checked = 0
    for _ in range(20):
        y = x + 1e-3 * rng.standard_normal(widths[0])
        if all(np.array_equal(a, b) for a, b in zip(net.activation_pattern(y), base)):
            np.testing.assert_allclose(net(y), J @ y + c, rtol=1e-9, atol=1e-9)
            checked += 1
    # central finite differences along each axis where the pattern is stable on the segment
    h = 1e-6
    for i in range(widths[0]):
        e = np.zeros(widths[0])
        e[i] = h
        same = all(
            np.array_equal(a, b) and np.array_equal(a, c2)
            for a, b, c2 in zip(base, net.activation_pattern(x + e), net.activation_pattern(x - e))
        )
        if same:
            fd = (net(x + e) - net(x - e)) / (2 * h)
            np.testing.assert_allclose(fd, J[:, i], rtol=1e-5, atol=1e-6)


def test_local_affine_known_network():
    # f(x) = relu(x) - relu(x - 1): slope 1 on (0, 1), 0 elsewhere
    net = ReLUNetwork([[[1.0], [1.0]], [[1.0, -1.0]]], [[0.0, -1.0], [0.0]])
    assert net.local_affine([0.5])[0].tolist() == [[1.0]]
    assert net.local_affine([2.0])[0].tolist() == [[0.0]]
    assert net.local_affine([2.0])[1].tolist() == [1.0]
    assert net.local_affine([-1.0])[0].tolist() == [[0.0]]


def test_structure_and_counts():
    masks = [np.array([[1, 0, 1], [0, 1, 1]], dtype=bool), None]
    net = ReLUNetwork.random((3, 2, 1), seed=3, masks=masks)
    assert net.widths == (3, 2, 1) and net.depth == 2 and net.hidden_widths == (2,)
    assert net.n_parameters == 3 * 2 + 2 + 2 + 1
    assert net.n_free_parameters == 4 + 2 + 2 + 1
    assert net.masks[1].all()
    assert "widths=(3, 2, 1)" in repr(net)


def test_inputs_not_aliased_and_immutable():
    w = [np.ones((2, 3)), np.ones((1, 2))]
    b = [np.zeros(2), np.zeros(1)]
    net = ReLUNetwork(w, b)
    w[0][0, 0] = 5.0
    assert net.weights[0][0, 0] == 1.0
    with pytest.raises(ValueError):
        net.weights[0][0, 0] = 3.0
    with pytest.raises(AttributeError):
        net.foo = 1  # type: ignore[attr-defined]


def test_equality_allclose_replace():
    net = ReLUNetwork.random((2, 4, 1), seed=0)
    other = net.replace(biases=[b + 1e-14 for b in net.biases])
    assert net != other and net.allclose(other) and not net.allclose(other, rtol=0, atol=0)
    assert net.replace() == net and hash(net.replace()) == hash(net)
    assert not net.allclose(ReLUNetwork.random((2, 3, 1), seed=0))


def test_wrong_input_shape():
    net = ReLUNetwork.random((3, 2, 1), seed=0)
    with pytest.raises(InvalidNetwork, match=r"\(n, 3\)"):
        net(np.zeros((4, 2)))


@pytest.mark.parametrize("widths", [(4, 32, 32, 2), (3, 600, 1), (2, 8, 1)])
def test_large_batches_match_independent_computation(widths):
    # exercises the blocked evaluation of large batches (n > 2048) in __call__
    rng = np.random.default_rng(5)
    net = ReLUNetwork.random(widths, seed=rng, bias_scale=0.5)
    X = rng.standard_normal((5000, widths[0]))
    out = net(X)
    assert out.shape == (5000, widths[-1])
    np.testing.assert_allclose(out, _torch_forward(net, X), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out[1234], net(X[1234]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_fused_bias_path_equals_layer_by_layer_formula(layout):
    """Large pre-activation matrices go through one dgemm call from a bias-initialized
    output; it must agree with ``relu(H W^T + b)`` layer by layer, whatever the input layout."""
    from reluscope.network import _FUSED_BIAS_MIN_ENTRIES

    net = ReLUNetwork.random([12, 600, 300, 3], seed=4, bias_scale=1.0)
    rng = np.random.default_rng(5)
    X = rng.standard_normal((2 * 300, 12))
    if layout == "F":
        X = np.asfortranarray(X)
    elif layout == "strided":
        X = X[::2]
    assert X.shape[0] * 600 >= _FUSED_BIAS_MIN_ENTRIES  # the first layer takes the fused path
    ref = np.array(X)
    for i, (w, b) in enumerate(net.layers()):
        ref = ref @ w.T + b
        if i < net.depth - 1:
            ref = np.maximum(ref, 0.0)
    out = net(X)
    assert out.shape == (X.shape[0], 3) and out.flags.c_contiguous
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
