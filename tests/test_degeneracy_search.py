"""Dead / always-active statuses settled by the branch and bound (reluscope.search) when the
exact MILP would be large: agreement with the MILP and with dense sampling, soundness of
every proof and refutation, and the time limit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reluscope as rs
import reluscope.degeneracy.status as status_module
from reluscope.degeneracy import degeneracies
from test_degeneracy import assert_status_sound


def random_net(seed: int) -> rs.ReLUNetwork:
    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 5))
    widths = [d] + [int(rng.integers(2, 7)) for _ in range(int(rng.integers(2, 4)))] + [1]
    W = [rng.normal(size=(b, a)) for a, b in zip(widths[:-1], widths[1:])]
    # biases of every sign and size: many neurons dead / always active deep down
    B = [rng.normal(size=b) * rng.uniform(0.2, 2.0) for b in widths[1:]]
    return rs.ReLUNetwork(W, B)


@pytest.fixture
def search_only(monkeypatch):
    """No MILP at all: every open question of a deeper layer goes to the search."""
    monkeypatch.setattr(status_module, "MILP_MAX_HIDDEN", -1)


def _sampled(net, n=20000, seed=0):
    X = rs.Box(-1, 1).sample(n, net.input_dim, seed=seed)
    return net.preactivations(X)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_search_statuses_agree_with_milp_and_sampling(seed):
    net = random_net(seed)
    box = rs.Box(-1, 1)
    milp = degeneracies(net, box, time_limit=20)
    old = status_module.MILP_MAX_HIDDEN
    status_module.MILP_MAX_HIDDEN = -1
    try:
        found = degeneracies(net, box, time_limit=20)
    finally:
        status_module.MILP_MAX_HIDDEN = old
    Z = _sampled(net, seed=seed + 1)
    for a, s in zip(milp.neurons, found.neurons):
        z = Z[s.layer - 1][:, s.neuron]
        assert_status_sound(s, z)
        # both exact where both decided (tiny networks: both decide everything in time)
        if a.dead is not None and s.dead is not None:
            assert a.dead == s.dead, (s.layer, s.neuron)
        if a.always_active is not None and s.always_active is not None:
            assert a.always_active == s.always_active, (s.layer, s.neuron)
        assert s.method in ("interval", "linear+samples", "samples", "search", "undecided")


def test_refutations_have_witnesses_and_the_search_path_is_taken(search_only):
    """On nets where the sampled witnesses miss a thin positive region, the search's witness
    (re-evaluated on the real network) is the refutation; counted over many networks."""
    searched = proved = 0
    for seed in range(40):
        net = random_net(seed)
        rep = degeneracies(net, rs.Box(-1, 1), time_limit=10, samples=8)
        Z = _sampled(net, seed=seed)
        for s in rep.neurons:
            if s.method != "search":
                continue
            searched += 1
            z = Z[s.layer - 1][:, s.neuron]
            if s.dead is True:
                proved += 1
                assert z.max() <= 1e-9
            if s.always_active is True:
                proved += 1
                assert z.min() >= -1e-9
            if s.dead is False:
                # not dead: a point with z > 0 exists; its value is inside the reported range
                assert s.pre_max > 0
            if s.always_active is False:
                assert s.pre_min < 0
    assert searched > 0 and proved > 0


def test_search_proves_the_thin_dead_neuron(search_only):
    # the MILP test's network: relu(x1 + x2) + relu(x1 - x2) - 2.5 <= -0.5 on [-1, 1]^2;
    # the linear tier cannot show it, the search's split bounds do
    W1 = np.array([[1.0, 1.0], [1.0, -1.0]])
    W2 = np.array([[1.0, 1.0], [1.0, 0.0]])
    net = rs.ReLUNetwork([W1, W2, np.array([[1.0, 1.0]])], [np.zeros(2), np.array([-2.5, 0.1]), np.zeros(1)])
    rep = degeneracies(net, rs.Box(-1, 1), time_limit=20)
    s = rep.status(2, 0)
    assert s.dead is True and s.method == "search"
    assert -0.5 - 1e-9 <= s.pre_max <= 1e-12
    assert rep.status(2, 1).always_active is True
    assert rep.exact


def test_search_refutes_a_dead_looking_neuron_with_a_witness(search_only):
    # z = relu(x1 + x2) + relu(x1 - x2) - 1.99 > 0 only where x1 > 0.995 (max 0.01); nine
    # more inputs that do not matter keep the box vertices out of the witnesses, so the one
    # random sample misses it: only the search's point (checked on the real network) refutes
    W1 = np.zeros((2, 11))
    W1[:, :2] = [[1.0, 1.0], [1.0, -1.0]]
    net = rs.ReLUNetwork([W1, np.array([[1.0, 1.0]]), np.array([[1.0]])],
                         [np.zeros(2), np.array([-1.99]), np.zeros(1)])
    rep = degeneracies(net, rs.Box(-1, 1), time_limit=20, samples=1, seed=3)
    s = rep.status(2, 0)
    assert s.dead is False and s.method == "search"
    assert s.pre_max >= 0.01 - 1e-9
    # and a neuron that is dead by a margin as thin is proved, not refuted
    net2 = rs.ReLUNetwork([W1, np.array([[1.0, 1.0]]), np.array([[1.0]])],
                          [np.zeros(2), np.array([-2.01]), np.zeros(1)])
    s2 = degeneracies(net2, rs.Box(-1, 1), time_limit=20, samples=1, seed=3).status(2, 0)
    assert s2.dead is True and s2.method == "search" and s2.pre_max <= 0


def test_zero_time_limit_still_skips_the_search(search_only):
    W1 = np.array([[1.0, 1.0], [1.0, -1.0]])
    W2 = np.array([[1.0, 1.0], [1.0, 0.0]])
    net = rs.ReLUNetwork([W1, W2, np.array([[1.0, 1.0]])], [np.zeros(2), np.array([-2.5, 0.1]), np.zeros(1)])
    rep = degeneracies(net, rs.Box(-1, 1), time_limit=0)
    assert rep.status(2, 0).dead is None and rep.status(2, 0).method == "undecided"


def test_a_wide_network_goes_to_the_search_without_monkeypatching():
    # more hidden neurons than MILP_MAX_HIDDEN: the default path is the search
    rng = np.random.default_rng(7)
    widths = [4, 40, 40, 1]
    net = rs.ReLUNetwork([rng.normal(size=(b, a)) / np.sqrt(a) for a, b in zip(widths[:-1], widths[1:])],
                         [rng.normal(size=b) * 0.5 for b in widths[1:]])
    assert sum(widths[1:-1]) > status_module.MILP_MAX_HIDDEN
    rep = degeneracies(net, rs.Box(-1, 1), time_limit=20)
    assert any(s.method == "search" for s in rep.layer(2))
    Z = _sampled(net, seed=1)
    for s in rep.layer(2):
        z = Z[1][:, s.neuron]
        assert_status_sound(s, z)
