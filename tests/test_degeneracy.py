"""Tests of reluscope.degeneracy: per-neuron statuses on a domain and the reduction."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reluscope as rs
from reluscope.degeneracy import DegeneracyReport, degeneracies, reduce, reduction
from reluscope.errors import ReluscopeError


# --------------------------------------------------------------------------- planted degeneracies
def planted(seed: int, widths=None, p: float = 0.5) -> rs.ReLUNetwork:
    """A random network in which hidden neurons are made dead, always active, parallel,
    opposite, zero-in or zero-out at random (on the box [-1, 1]^d)."""
    rng = np.random.default_rng(seed)
    if widths is None:
        d = int(rng.integers(1, 4))
        hidden = [int(rng.integers(2, 7)) for _ in range(int(rng.integers(1, 3)))]
        widths = [d, *hidden, int(rng.integers(1, 3))]
    net = rs.ReLUNetwork.random(widths, seed=rng, bias_scale=0.3)
    ws = [w.copy() for w in net.weights]
    bs = [b.copy() for b in net.biases]
    for h in range(1, len(widths) - 1):
        W, b, C = ws[h - 1], bs[h - 1], ws[h]
        n = W.shape[0]
        for i in range(n):
            if rng.random() > p:
                continue
            kind = rng.choice(["dead", "active", "parallel", "opposite", "zero_in", "zero_out", "dup_cancel"])
            # a bound of |a . h| over the inputs of this layer (valid for the original rows)
            scale = np.abs(W[i]).sum() * (1.0 if h == 1 else 5.0) + 1.0
            j = int(rng.integers(n))
            if kind == "dead":
                b[i] = -3.0 * scale
            elif kind == "active":
                b[i] = 3.0 * scale
            elif kind == "parallel" and j != i:
                t = float(np.exp(rng.uniform(-1, 1)))
                W[i], b[i] = t * W[j], t * b[j]
            elif kind == "opposite" and j != i:
                t = float(np.exp(rng.uniform(-1, 1)))
                W[i], b[i] = -t * W[j], -t * b[j]
            elif kind == "zero_in":
                W[i] = 0.0
            elif kind == "zero_out":
                C[:, i] = 0.0
            elif kind == "dup_cancel" and j != i:
                W[i], b[i] = W[j], b[j]
                C[:, i] = -C[:, j]
    return rs.ReLUNetwork(ws, bs)


def assert_same_on_box(f: rs.ReLUNetwork, g: rs.ReLUNetwork, n: int = 3000, seed: int = 0, atol: float = 1e-8):
    box = rs.Box(-1.0, 1.0)
    X = box.sample(n, f.input_dim, seed=seed)
    a, b = f(X), g(X)
    scale = max(1.0, float(np.max(np.abs(a))))
    assert np.max(np.abs(a - b)) <= atol * scale
    # the affine pieces agree at sampled points (same function, so same local Jacobian/offset)
    for x in X[:40]:
        Jf, cf = f.local_affine(x)
        Jg, cg = g.local_affine(x)
        np.testing.assert_allclose(Jf, Jg, rtol=1e-7, atol=1e-8 * scale)
        np.testing.assert_allclose(cf, cg, rtol=1e-7, atol=1e-8 * scale)


# --------------------------------------------------------------------------- statuses
def assert_status_sound(s, z: np.ndarray) -> None:
    """The status ``s`` is consistent with the sampled pre-activations ``z`` of its neuron:
    the reported range contains them, a dead neuron is never positive, an always-active one
    never negative."""
    assert s.pre_min <= z.min() + 1e-9 and z.max() <= s.pre_max + 1e-9
    if s.dead is True:
        assert z.max() <= 1e-9
    if s.always_active is True:
        assert z.min() >= -1e-9


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_statuses_are_sound_against_dense_sampling(seed):
    net = planted(seed)
    rep = degeneracies(net, rs.Box(-1, 1), time_limit=5.0)
    X = rs.Box(-1, 1).sample(4000, net.input_dim, seed=seed + 1)
    Z = net.preactivations(X)
    for s in rep.neurons:
        assert_status_sound(s, Z[s.layer - 1][:, s.neuron])
        assert s.zero_in == (not net.weights[s.layer - 1][s.neuron].any())
        assert s.zero_out == (not net.weights[s.layer][:, s.neuron].any())
    # first hidden layer on a box: always exact
    assert all(s.dead is not None and s.always_active is not None and s.exact_min and s.exact_max
               for s in rep.layer(1))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_pointset_statuses_are_exact_evaluations(seed):
    net = planted(seed)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (50, net.input_dim))
    rep = degeneracies(net, rs.PointSet(X))
    Z = net.preactivations(X)
    for s in rep.neurons:
        z = Z[s.layer - 1][:, s.neuron]
        assert s.dead == bool(z.max() <= 0)
        assert s.always_active == bool(z.min() >= 0)
        assert s.pre_min == z.min() and s.pre_max == z.max()
        assert s.method == "points"
    assert rep.exact


def test_first_layer_interval_is_exact_and_labels():
    # neuron 0: x - 2 on [-1, 1] -> dead ; neuron 1: x + 2 -> always active; 2: x -> neither
    W1 = np.array([[1.0], [1.0], [1.0], [2.0], [-1.0]])
    b1 = np.array([-2.0, 2.0, 0.0, 0.0, 0.0])
    W2 = np.array([[1.0, 1.0, 1.0, 0.0, 1.0]])
    net = rs.ReLUNetwork([W1, W2], [b1, np.zeros(1)])
    rep = degeneracies(net, rs.Box(-1, 1))
    s0, s1, s2, s3, s4 = rep.layer(1)
    assert s0.dead is True and s0.pre_max == -1.0 and "dead (exact)" in s0.labels
    assert s1.always_active is True and s1.pre_min == 1.0
    assert s2.dead is False and s2.always_active is False
    assert 3 in s2.parallel_to and 2 in s3.parallel_to and s3.zero_out
    assert 4 in s2.opposite_to
    assert s3.zero_out and not s3.zero_in
    c = rep.counts
    assert c["dead"] == 1 and c["always_active"] == 1 and c["zero_out"] == 1 and c["undecided"] == 0


def test_deep_layer_needs_milp_and_reports_undecided_without_it():
    # layer 2 neuron: relu(x1 + x2) + relu(x1 - x2) - 2.5 <= -0.5 on [-1, 1]^2 (attained at
    # x1 = 1); interval arithmetic says <= 1.5 and the linear tier (chords 0.5 z + 1) <= 0.5
    W1 = np.array([[1.0, 1.0], [1.0, -1.0]])
    W2 = np.array([[1.0, 1.0], [1.0, 0.0]])
    b2 = np.array([-2.5, 0.1])
    W3 = np.array([[1.0, 1.0]])
    net = rs.ReLUNetwork([W1, W2, W3], [np.zeros(2), b2, np.zeros(1)])
    quick = degeneracies(net, rs.Box(-1, 1), time_limit=0)
    s = quick.status(2, 0)
    assert s.dead is None and s.method == "undecided"
    assert "possibly dead: undecided within time limit" in s.labels
    assert not quick.exact and quick.counts["undecided"] >= 1
    # reduce must not drop an undecided neuron
    assert reduce(net, rs.Box(-1, 1), time_limit=0).widths == net.widths
    full = degeneracies(net, rs.Box(-1, 1), time_limit=20)
    s = full.status(2, 0)
    assert s.dead is True and s.method == "milp"
    assert s.pre_max == pytest.approx(-0.5, abs=1e-6)
    assert full.status(2, 1).always_active is True
    red = reduction(net, rs.Box(-1, 1), time_limit=20)
    assert red.network.widths[2] < net.widths[2]
    assert_same_on_box(net, red.network)


def test_report_outputs():
    net = planted(3, widths=[2, 5, 4, 1])
    rep = degeneracies(net, "-1,1")
    assert isinstance(rep, DegeneracyReport)
    d = rep.to_dict()
    text = json.dumps(d)  # strict JSON
    assert json.loads(text)["counts"] == rep.counts
    assert len(d["neurons"]) == sum(net.hidden_widths)
    assert set(d["counts_by_layer"]) == {"hidden layer 1", "hidden layer 2"}
    from rich.console import Console

    console = Console(record=True, width=120)
    console.print(rep)
    out = console.export_text()
    assert "layer" in out and "pre-activation range" in out
    assert "hidden neurons" in str(rep)


def test_bad_domain():
    net = rs.ReLUNetwork.random((2, 3, 1), seed=0)
    with pytest.raises(ReluscopeError):
        degeneracies(net, rs.Box([-1, -1, -1], [1, 1, 1]))
    with pytest.raises(ReluscopeError):
        reduce(net, "nonsense")
    with pytest.raises(ReluscopeError):
        degeneracies("not a network")


# --------------------------------------------------------------------------- reduction
@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_reduce_keeps_realization_on_box_and_never_grows(seed):
    net = planted(seed)
    before = net.to_vector().copy()
    red = reduction(net, rs.Box(-1, 1), time_limit=5.0)
    out = red.network
    np.testing.assert_array_equal(net.to_vector(), before)  # input untouched
    assert out.depth == net.depth and out.input_dim == net.input_dim and out.output_dim == net.output_dim
    assert all(a <= b for a, b in zip(out.hidden_widths, net.hidden_widths))
    assert_same_on_box(net, out, seed=seed)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_reduce_keeps_realization_on_pointset(seed):
    net = planted(seed)
    X = np.random.default_rng(seed).uniform(-1, 1, (30, net.input_dim))
    out = reduce(net, rs.PointSet(X))
    assert all(a <= b for a, b in zip(out.hidden_widths, net.hidden_widths))
    np.testing.assert_allclose(out(X), net(X), rtol=1e-9, atol=1e-9)


def test_reduce_removes_planted_neurons():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 2))
    # 0: dead, 1: parallel to 2 (t = 3), 2, 3: zero outgoing; 4: zero incoming (constant relu(0.7))
    W1 = np.vstack([a[0], 3 * a[1], a[1], a[2], np.zeros(2)])
    b1 = np.array([-10.0, 0.3, 0.1, 0.2, 0.7])
    W2 = rng.standard_normal((2, 5))
    W2[:, 3] = 0.0
    net = rs.ReLUNetwork([W1, W2], [b1, np.array([0.5, -0.5])])
    red = reduction(net, rs.Box(-1, 1))
    assert red.network.widths == (2, 1, 2)
    assert red.removed == 4
    assert any("dead" in a for a in red.actions) and any("parallel" in a for a in red.actions)
    assert_same_on_box(net, red.network)
    # the constant neuron went into the output bias
    np.testing.assert_allclose(red.network.biases[-1], net.biases[-1] + W2[:, 4] * 0.7)


def test_always_active_neurons_fold_into_rank_many_neurons():
    rng = np.random.default_rng(1)
    W1 = rng.standard_normal((5, 3))
    b1 = 10.0 + rng.random(5)  # always active on [-1, 1]^3
    net = rs.ReLUNetwork([W1, rng.standard_normal((1, 5))], [b1, np.zeros(1)])
    out = reduce(net, rs.Box(-1, 1))
    assert out.widths == (3, 1, 1)  # one output: the affine part has rank 1
    assert_same_on_box(net, out)
    # the merged neuron stays active on the whole box
    assert degeneracies(out, rs.Box(-1, 1)).status(1, 0).always_active is True
    # with two outputs the affine part has rank 2 -> 2 neurons
    net2 = rs.ReLUNetwork([W1, rng.standard_normal((2, 5))], [b1, np.zeros(2)])
    out2 = reduce(net2, rs.Box(-1, 1))
    assert out2.widths == (3, 2, 2)
    assert_same_on_box(net2, out2)


def test_opposite_pair_with_affine_part_saves_a_neuron():
    # |x + 1/2| = relu(x + 1/2) + relu(-x - 1/2), plus an always-active neuron: 3 -> 2 neurons
    W1 = np.array([[1.0], [-1.0], [1.0]])
    b1 = np.array([0.5, -0.5, 3.0])
    W2 = np.array([[1.0, 1.0, 0.25]])
    net = rs.ReLUNetwork([W1, W2], [b1, np.array([-0.5])])
    red = reduction(net, rs.Box(-1, 1))
    assert red.network.widths == (1, 2, 1)
    assert any("opposite" in a for a in red.actions)
    assert_same_on_box(net, red.network)


def test_opposite_pair_realizing_identity_collapses():
    # relu(x + 1/2) - relu(-x - 1/2) - 1/2 = x (pathology 4): one always-active neuron suffices
    W1 = np.array([[1.0], [-1.0], [1.0]])
    b1 = np.array([0.5, -0.5, 3.0])
    W2 = np.array([[1.0, -1.0, 0.25]])
    net = rs.ReLUNetwork([W1, W2], [b1, np.array([-0.5])])
    out = reduce(net, rs.Box(-1, 1))
    assert out.widths == (1, 1, 1)
    assert_same_on_box(net, out)


def test_cancelling_parallel_neurons_vanish():
    # relu(x) - relu(x) = 0 (pathology 2): nothing is left but a zero neuron
    net = rs.ReLUNetwork([np.array([[1.0], [1.0]]), np.array([[1.0, -1.0]])], [np.zeros(2), np.zeros(1)])
    out = reduce(net, rs.Box(-1, 1))
    assert out.widths == (1, 1, 1)
    assert not out.weights[0].any() and not out.weights[1].any()
    assert_same_on_box(net, out)


def test_generic_network_is_not_reduced():
    net = rs.ReLUNetwork.random((3, 6, 1), seed=0, bias_scale=0.1)
    red = reduction(net, rs.Box(-1, 1))
    assert red.report.n_degenerate == 0  # a generic network: every kink crosses the box
    assert red.network.widths == net.widths
    assert red.actions == ()
    assert red.network.allclose(net, rtol=0, atol=0)


def test_network_without_hidden_layer():
    net = rs.ReLUNetwork.random((3, 2), seed=0)
    rep = degeneracies(net)
    assert rep.neurons == () and rep.exact and rep.counts["dead"] == 0
    assert reduce(net) == net


def test_linear_tier_proves_dead_where_interval_cannot():
    # relu(x) + relu(-x) - 1.5 <= -0.5 on [-1, 1]: interval arithmetic only gives <= 0.5,
    # the linear tier's chords (0.5 x + 0.5 and -0.5 x + 0.5) give exactly -0.5
    W1 = np.array([[1.0], [-1.0]])
    W2 = np.array([[1.0, 1.0]])
    W3 = np.array([[1.0]])
    net = rs.ReLUNetwork([W1, W2, W3], [np.zeros(2), np.array([-1.5]), np.zeros(1)])
    s = degeneracies(net, rs.Box(-1, 1), time_limit=0).status(2, 0)
    assert s.dead is True and s.method == "linear+samples"
    assert s.pre_max == pytest.approx(-0.5, abs=1e-7) and s.pre_max >= -0.5
