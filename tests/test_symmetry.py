"""Tests of reluscope.symmetry: rescaling, permutation, balancing, canonical forms, alignment,
equivalence. Property tests over many random seeded instances (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reluscope as rs
from reluscope.errors import InvalidArgument, InvalidNetwork, ReluscopeError
from reluscope.symmetry import (
    Alignment,
    align,
    apply_alignment,
    balance,
    balance_result,
    canonical_form,
    equivalent,
    permute,
    rescale,
)

# --------------------------------------------------------------------------- strategies
widths_st = st.lists(st.integers(1, 6), min_size=3, max_size=5)


@st.composite
def networks(draw, min_hidden: int = 1):
    widths = draw(st.lists(st.integers(1, 6), min_size=2 + min_hidden, max_size=5))
    seed = draw(st.integers(0, 2**31 - 1))
    bias = draw(st.sampled_from([0.0, 0.1, 1.0]))
    return rs.ReLUNetwork.random(widths, seed=seed, bias_scale=bias)


def random_symmetry(net: rs.ReLUNetwork, seed: int, spread: float = 3.0) -> rs.ReLUNetwork:
    """Apply a random permutation and rescaling to every hidden layer, through the public API."""
    rng = np.random.default_rng(seed)
    out = net
    for h in range(1, net.depth):
        n = net.widths[h]
        out = permute(out, h, rng.permutation(n))
        out = rescale(out, h, np.exp(rng.uniform(-spread, spread, n)))
    return out


def sample(net: rs.ReLUNetwork, n: int = 200, seed: int = 0, radius: float = 3.0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-radius, radius, (n, net.input_dim))


def same_function(f: rs.ReLUNetwork, g: rs.ReLUNetwork, rtol: float = 1e-9) -> bool:
    X = sample(f)
    a, b = f(X), g(X)
    return bool(np.max(np.abs(a - b)) <= rtol * max(1.0, float(np.max(np.abs(a)))))


# --------------------------------------------------------------------------- symmetries
@settings(max_examples=60, deadline=None)
@given(net=networks(), seed=st.integers(0, 10**6))
def test_rescale_and_permute_preserve_realization(net, seed):
    other = random_symmetry(net, seed)
    assert same_function(net, other)


@settings(max_examples=30, deadline=None)
@given(net=networks(), seed=st.integers(0, 10**6))
def test_rescale_moves_exactly_the_rows_and_columns(net, seed):
    rng = np.random.default_rng(seed)
    h = int(rng.integers(1, net.depth))
    f = np.exp(rng.uniform(-2, 2, net.widths[h]))
    out = rescale(net, h, f)
    np.testing.assert_allclose(out.weights[h - 1], net.weights[h - 1] * f[:, None])
    np.testing.assert_allclose(out.biases[h - 1], net.biases[h - 1] * f)
    np.testing.assert_allclose(out.weights[h], net.weights[h] / f[None, :])
    for k in range(net.depth):
        if k not in (h - 1, h):
            np.testing.assert_array_equal(out.weights[k], net.weights[k])
    # the output bias of the last affine layer never scales
    np.testing.assert_array_equal(out.biases[-1], net.biases[-1])


def test_permute_convention_new_j_is_old_perm_j():
    net = rs.ReLUNetwork.random((2, 3, 1), seed=0)
    out = permute(net, 1, [2, 0, 1])
    np.testing.assert_array_equal(out.weights[0][0], net.weights[0][2])
    np.testing.assert_array_equal(out.weights[1][:, 1], net.weights[1][:, 0])


def test_permute_carries_masks():
    masks = [np.array([[1, 0], [0, 1], [1, 1]], bool), np.array([[1, 0, 1]], bool)]
    net = rs.ReLUNetwork.random((2, 3, 1), seed=0, masks=masks)
    out = permute(net, 1, [1, 2, 0])
    np.testing.assert_array_equal(out.masks[0], masks[0][[1, 2, 0]])
    np.testing.assert_array_equal(out.masks[1], masks[1][:, [1, 2, 0]])
    assert same_function(net, out)


def test_inputs_not_mutated():
    net = rs.ReLUNetwork.random((2, 3, 3, 1), seed=1)
    before = net.to_vector().copy()
    f = np.array([1.0, 2.0, 3.0])
    p = np.array([2, 1, 0])
    rescale(net, 1, f)
    permute(net, 2, p)
    balance(net)
    equivalent(net, random_symmetry(net, 3))
    np.testing.assert_array_equal(net.to_vector(), before)
    np.testing.assert_array_equal(f, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(p, [2, 1, 0])


@pytest.mark.parametrize(
    "call",
    [
        lambda n: rescale(n, 1, [1.0, -1.0, 2.0]),
        lambda n: rescale(n, 1, [1.0, 0.0, 2.0]),
        lambda n: rescale(n, 1, [1.0, np.inf, 2.0]),
        lambda n: rescale(n, 1, [1.0, 2.0]),
        lambda n: rescale(n, 0, 1.0),
        lambda n: rescale(n, 3, 1.0),
        lambda n: rescale(n, 1.5, 1.0),
        lambda n: rescale(n, 1, "abc"),
        lambda n: permute(n, 1, [0, 0, 1]),
        lambda n: permute(n, 1, [0, 1]),
        lambda n: permute(n, 1, [0, 1, 3]),
        lambda n: permute(n, 1, [0.5, 1, 2]),
        lambda n: permute(n, 2, [0, 1, 2]),
        lambda n: permute(n, -1, [0, 1, 2]),
        (lambda n: balance(n, tol=-1.0), InvalidArgument),
        lambda n: rescale("not a net", 1, 1.0),
        lambda n: align(n, rs.ReLUNetwork.random((2, 4, 1), seed=0)),
    ],
)
def test_bad_input_raises_one_line_error(call):
    # a bad option (a tolerance) raises InvalidArgument, a bad network or layer InvalidNetwork
    call, expected = call if isinstance(call, tuple) else (call, InvalidNetwork)
    net = rs.ReLUNetwork.random((2, 3, 1), seed=0)
    with pytest.raises(ReluscopeError) as info:
        call(net)
    assert isinstance(info.value, expected)
    assert "\n" not in str(info.value)


def test_no_hidden_layer():
    net = rs.ReLUNetwork.random((3, 2), seed=0)
    with pytest.raises(InvalidNetwork, match="no hidden layer"):
        rescale(net, 1, 1.0)
    assert balance(net) == net
    assert equivalent(net, net)
    assert not equivalent(net, rs.ReLUNetwork.random((3, 2), seed=1))


# --------------------------------------------------------------------------- balancing
def _neuron_norms(net: rs.ReLUNetwork):
    for h in range(1, net.depth):
        w_in = np.concatenate([net.weights[h - 1], net.biases[h - 1][:, None]], axis=1)
        yield np.linalg.norm(w_in, axis=1), np.linalg.norm(net.weights[h], axis=0)


@settings(max_examples=60, deadline=None)
@given(net=networks(), seed=st.integers(0, 10**6))
def test_balance_is_balanced_idempotent_and_constant_on_orbit(net, seed):
    res = balance_result(net)
    assert res.converged
    B = res.network
    assert same_function(net, B)
    # optimality condition: every neuron has equal in- and out-norm
    for n_in, n_out in _neuron_norms(B):
        np.testing.assert_allclose(n_in, n_out, rtol=1e-9, atol=1e-12)
    # idempotent
    assert balance(B).allclose(B, rtol=1e-9, atol=1e-12)
    # constant along the rescaling orbit
    rng = np.random.default_rng(seed)
    other = net
    for h in range(1, net.depth):
        other = rescale(other, h, np.exp(rng.uniform(-4, 4, net.widths[h])))
    assert balance(other).allclose(B, rtol=1e-8, atol=1e-10)
    # never increases the norm, and the scales reproduce the balanced network
    assert res.norm_after <= res.norm_before * (1 + 1e-12)
    rebuilt = net
    for h, f in enumerate(res.scales, start=1):
        rebuilt = rescale(rebuilt, h, f)
    assert rebuilt.allclose(B, rtol=1e-12, atol=1e-14)


@settings(max_examples=40, deadline=None)
@given(net=networks(), seed=st.integers(0, 10**6))
def test_balance_minimizes_norm_over_orbit(net, seed):
    """No random rescaling of the balanced network has a smaller squared norm."""
    B = balance(net)
    rng = np.random.default_rng(seed)
    base = float(np.sum(B.to_vector() ** 2))
    for _ in range(5):
        other = B
        for h in range(1, net.depth):
            other = rescale(other, h, np.exp(rng.uniform(-0.3, 0.3, net.widths[h])))
        assert float(np.sum(other.to_vector() ** 2)) >= base * (1 - 1e-12)


def test_balance_single_neuron_closed_form():
    # (a, b, c) = (3, 4, 1): in-norm 5, out-norm 1 -> factor sqrt(1/5)
    net = rs.ReLUNetwork([np.array([[3.0]]), np.array([[1.0]])], [np.array([4.0]), np.array([0.5])])
    B = balance(net)
    lam = np.sqrt(1 / 5)
    np.testing.assert_allclose(B.weights[0], [[3 * lam]])
    np.testing.assert_allclose(B.biases[0], [4 * lam])
    np.testing.assert_allclose(B.weights[1], [[1 / lam]])
    np.testing.assert_allclose(B.biases[1], [0.5])


def test_balance_zeroes_dangling_neurons_and_reports_them():
    W1 = np.array([[1.0, 2.0], [0.0, 0.0], [1.0, -1.0]])
    b1 = np.array([0.5, 0.0, 0.0])
    W2 = np.array([[1.0, 5.0, 0.0], [2.0, -1.0, 0.0]])  # neuron 2 has zero outgoing column
    b2 = np.array([0.1, 0.2])
    W3 = np.array([[1.0, 1.0]])
    net = rs.ReLUNetwork([W1, W2, W3], [b1, b2, np.zeros(1)])
    res = balance_result(net)
    reasons = {(l, i): r for l, i, r in res.zeroed}
    assert reasons[(1, 1)] == "zero incoming"
    assert reasons[(1, 2)] == "zero outgoing"
    B = res.network
    assert not B.weights[1][:, 1].any()  # the dead neuron's outgoing column is gone
    assert not B.weights[0][2].any() and B.biases[0][2] == 0
    assert same_function(net, B)
    assert res.converged


def test_balance_cascade():
    # neuron 0 of layer 2 only listens to neuron 0 of layer 1, which has zero incoming weights
    W1 = np.array([[0.0], [1.0]])
    b1 = np.array([0.0, 0.3])
    W2 = np.array([[2.0, 0.0], [0.0, 1.0]])
    W3 = np.array([[1.0, 1.0]])
    net = rs.ReLUNetwork([W1, W2, W3], [b1, np.zeros(2), np.zeros(1)])
    res = balance_result(net)
    assert (2, 0, "cascade: zero incoming") in res.zeroed
    assert same_function(net, res.network)


# --------------------------------------------------------------------------- canonical forms & equivalence
@settings(max_examples=60, deadline=None)
@given(net=networks(), seed=st.integers(0, 10**6))
def test_canonical_forms_of_orbit_agree(net, seed):
    other = random_symmetry(net, seed)
    ca, cb = canonical_form(net), canonical_form(other)
    assert ca.allclose(cb, rtol=1e-7, atol=1e-9)
    assert same_function(net, ca)


@settings(max_examples=80, deadline=None)
@given(net=networks(), seed=st.integers(0, 10**6))
def test_equivalent_recovers_permutation_and_scales(net, seed):
    other = random_symmetry(net, seed)
    res = equivalent(net, other)
    assert res and res.equivalent
    assert res.exact_orbit
    mapped = apply_alignment(other, res.alignment)
    assert mapped.allclose(net, rtol=1e-7, atol=1e-9)
    # the same thing through the public permute/rescale calls
    manual = other
    for h, p in enumerate(res.permutations, start=1):
        manual = permute(manual, h, p)
    for h, s in enumerate(res.scales, start=1):
        manual = rescale(manual, h, s)
    assert manual.allclose(net, rtol=1e-7, atol=1e-9)


@settings(max_examples=80, deadline=None)
@given(net=networks(), seed=st.integers(0, 10**6), eps=st.sampled_from([1e-5, 1e-3, 1e-1]))
def test_perturbed_copies_are_not_equivalent(net, seed, eps):
    rng = np.random.default_rng(seed)
    other = random_symmetry(net, seed)
    # perturb one parameter of the (symmetric) copy by a relative eps
    v = other.to_vector().copy()
    k = int(rng.integers(v.size))
    # perturbing the output bias or any other single entry changes the orbit
    v[k] += eps * max(1.0, abs(v[k]))
    pert = rs.ReLUNetwork.from_vector(other.widths, v)
    res = equivalent(net, pert)
    assert not res
    assert res.max_deviation > res.tol


def test_near_ties_do_not_break_equivalence():
    """Neurons whose sort keys nearly tie (identical incoming weights, tiny differences in
    outgoing weights) are still matched correctly by the assignment fallback."""
    rng = np.random.default_rng(5)
    W1 = np.repeat(rng.standard_normal((1, 3)), 6, axis=0) + 1e-13 * rng.standard_normal((6, 3))
    b1 = np.full(6, 0.2)
    W2 = rng.standard_normal((4, 6))
    W3 = rng.standard_normal((2, 4))
    net = rs.ReLUNetwork([W1, W2, W3], [b1, rng.standard_normal(4), np.zeros(2)])
    for seed in range(20):
        other = random_symmetry(net, seed, spread=1.0)
        res = equivalent(net, other, tol=1e-8)
        assert res, res.reason
        assert apply_alignment(other, res.alignment).allclose(net, rtol=1e-6, atol=1e-8)


def test_exact_duplicate_neurons():
    rng = np.random.default_rng(2)
    row = rng.standard_normal(3)
    W1 = np.stack([row, row, rng.standard_normal(3)])
    W2 = rng.standard_normal((2, 3))
    net = rs.ReLUNetwork([W1, W2], [np.array([0.1, 0.1, -0.3]), np.zeros(2)])
    for seed in range(10):
        other = random_symmetry(net, seed)
        assert equivalent(net, other)
        assert canonical_form(net).allclose(canonical_form(other), rtol=1e-7, atol=1e-9)


def test_different_widths_not_equivalent():
    a = rs.ReLUNetwork.random((2, 3, 1), seed=0)
    b = rs.ReLUNetwork.random((2, 4, 1), seed=0)
    res = equivalent(a, b)
    assert not res and "different widths" in res.reason


def test_equivalence_with_dangling_neurons_is_flagged():
    net = rs.ReLUNetwork([np.array([[1.0], [0.0]]), np.array([[1.0, 3.0]])], [np.array([0.0, 0.0]), np.zeros(1)])
    other = rs.ReLUNetwork([np.array([[1.0], [0.0]]), np.array([[1.0, -7.0]])], [np.array([0.0, 0.0]), np.zeros(1)])
    res = equivalent(net, other)
    assert res and not res.exact_orbit


def test_result_serialization_and_str():
    net = rs.ReLUNetwork.random((3, 4, 4, 2), seed=0)
    res = equivalent(net, random_symmetry(net, 1))
    d = res.to_dict()
    assert d["equivalent"] is True and len(d["permutations"]) == 2
    assert "equivalent" in str(res)
    b = balance_result(net)
    assert b.to_dict()["network"]["widths"] == [3, 4, 4, 2]
    assert "converged" in str(b)


# --------------------------------------------------------------------------- align
@settings(max_examples=30, deadline=None)
@given(net=networks(), seed=st.integers(0, 10**6))
def test_align_maps_equivalent_network_onto_reference(net, seed):
    other = random_symmetry(net, seed)
    al = align(net, other)
    assert isinstance(al, Alignment)
    assert al.aligned.allclose(net, rtol=1e-7, atol=1e-9)
    assert al.distance <= 1e-7 * max(1.0, float(np.linalg.norm(net.to_vector())))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_align_of_unrelated_networks_preserves_function_and_does_not_increase_distance(seed):
    a = rs.ReLUNetwork.random((3, 8, 8, 2), seed=seed)
    b = rs.ReLUNetwork.random((3, 8, 8, 2), seed=seed + 1)
    al = align(a, b)
    assert same_function(b, al.aligned)
    # aligned is exactly other permuted then rescaled by the recorded alignment
    assert apply_alignment(b, al).allclose(al.aligned, rtol=1e-12, atol=1e-14)
    assert al.distance == pytest.approx(float(np.linalg.norm(a.to_vector() - al.aligned.to_vector())))
    # permutations are valid and scales positive
    for p, s, n in zip(al.permutations, al.scales, a.hidden_widths):
        assert sorted(p.tolist()) == list(range(n))
        assert np.all(s > 0)


def test_public_exports():
    for name in ("rescale", "permute", "balance", "canonical_form", "equivalent"):
        assert callable(getattr(rs, name))


@settings(max_examples=30, deadline=None)
@given(net=networks(min_hidden=2), seed=st.integers(0, 10**6))
def test_coarse_layer_shift_reaches_the_same_balanced_point(net, seed):
    """The layer-wide shift used for large networks does not change the optimum."""
    from reluscope.symmetry.balancing import _balance_scales

    rng = np.random.default_rng(seed)
    other = net
    for h in range(1, net.depth):
        other = rescale(other, h, np.exp(rng.uniform(-3, 3, net.widths[h])))
    ws, bs = [np.array(w) for w in other.weights], [np.array(b) for b in other.biases]
    plain, _, r1 = _balance_scales(ws, bs, 1e-12, 10_000, coarse_min_params=10**12)
    coarse, _, r2 = _balance_scales(ws, bs, 1e-12, 10_000, coarse_min_params=0)
    assert r1 <= 1e-12 and r2 <= 1e-12
    for a, b in zip(plain, coarse):
        np.testing.assert_allclose(a, b, rtol=1e-9)


def test_perturbation_detected_despite_badly_scaled_neurons():
    """Tiny incoming norms make the normalized outgoing weights huge; a relative perturbation
    of a first-layer weight must still be detected (the check is entrywise relative)."""
    net = rs.ReLUNetwork.random((3, 5, 5, 2), seed=11)
    ws = [np.array(w) for w in net.weights]
    bs = [np.array(b) for b in net.biases]
    ws[0][0] *= 1e-6
    bs[0][0] *= 1e-6
    ws[1][1] *= 1e-6
    bs[1][1] *= 1e-6
    base = rs.ReLUNetwork(ws, bs)
    assert equivalent(base, random_symmetry(base, 4))
    ws[0][2, 1] *= 1 + 1e-6
    pert = rs.ReLUNetwork(ws, bs)
    res = equivalent(base, random_symmetry(pert, 4))
    assert not res and res.max_deviation > 1e-8


def test_sum_free_out_features_are_permutation_invariant():
    from reluscope.symmetry._matching import _out_features

    C = np.random.default_rng(0).standard_normal((7, 4))
    p = np.random.default_rng(1).permutation(7)
    np.testing.assert_allclose(_out_features(C), _out_features(C[p]), rtol=1e-14)


def test_masked_network_keeps_masks_through_balance_canonical_and_equivalence():
    rng = np.random.default_rng(3)
    masks = [rng.random((6, 3)) < 0.6, rng.random((5, 6)) < 0.6, np.ones((2, 5), bool)]
    net = rs.ReLUNetwork.random((3, 6, 5, 2), seed=3, masks=masks)
    for out in (balance(net), canonical_form(net)):
        assert out.masks is not None
        assert same_function(net, out)
    other = random_symmetry(net, 8)
    res = equivalent(net, other)
    assert res
    assert apply_alignment(other, res.alignment).allclose(net, rtol=1e-7, atol=1e-9)
