"""Existence of optima: the ReLU counterexample table, general position, the three verdicts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reluscope import PointSet, ReLUNetwork
from reluscope.sparsity import SparsityPattern, lu_certificate, optimum_exists, relu_lift
from reluscope.sparsity.existence import NO_OPTIMUM, OPTIMUM_EXISTS, UNDECIDED, moment_curve_points

J = np.array([[0.0, 1.0], [1.0, 0.0]])
# The 9 generic points of the notes' table: numpy's default_rng(0), uniform in [-1, 1]^2
NOTES_POINTS = np.random.default_rng(0).uniform(-1.0, 1.0, size=(9, 2))


def test_relu_counterexample_table_of_the_notes() -> None:
    """U_eps = [[-1/eps, 1/eps], [0, 1]], L_eps = [[1, 0], [1, eps]], b_1 = (10, 10), b_2 = -U_eps b_1."""
    cert = lu_certificate(2)
    table = []
    for eps in (1e-1, 1e-2, 1e-3, 1e-4):
        W1, W2 = cert.evaluate(eps)
        np.testing.assert_allclose(W1, [[1, 0], [1, eps]])
        np.testing.assert_allclose(W2, [[-1 / eps, 1 / eps], [0, 1]])
        net = relu_lift((W1, W2), NOTES_POINTS, beta=[10.0])
        np.testing.assert_allclose(net.biases[0], [10, 10])
        np.testing.assert_allclose(net.biases[1], -W2 @ [10, 10])
        loss = float(np.sum((net(NOTES_POINTS) - NOTES_POINTS @ J.T) ** 2))
        # loss = eps^2 * sum x_2^2 exactly (all units active)
        assert loss == pytest.approx(eps**2 * np.sum(NOTES_POINTS[:, 1] ** 2), rel=1e-6)
        table.append((eps, loss, float(np.linalg.norm(net.to_vector()))))
    losses = [round(row[1] / row[0] ** 2, 2) for row in table]
    assert losses == [5.08] * 4  # 5.08e-2, 5.08e-4, 5.08e-6, 5.08e-8
    norms = [row[2] for row in table]
    assert norms == pytest.approx([22.4, 142.5, 1414.3, 14142.1], rel=2e-3)


def test_lu_has_no_optimum_with_training_set_and_sequence() -> None:
    result = optimum_exists(SparsityPattern.lu(2), time_limit=10)
    assert result.status == NO_OPTIMUM and result.exists is False
    assert result.certificate_valid is True
    X, Y = result.training_inputs, result.training_labels
    assert X.shape == (2**2 * 2 + 1, 2)  # more than 2^H N_0 points
    A = result.closedness.certificate.limit_array()
    np.testing.assert_allclose(Y, X @ A.T)
    losses = [row[1] for row in result.sequence]
    norms = [row[2] for row in result.sequence]
    assert all(b < a for a, b in zip(losses, losses[1:])) and losses[-1] < 1e-6
    assert all(b > a for a, b in zip(norms, norms[1:])) and norms[-1] > 1e3


def test_lu_three_by_three_and_network_input() -> None:
    masks = list(SparsityPattern.lu(3).masks)
    net = ReLUNetwork.random((3, 3, 3), seed=1, masks=masks)
    result = optimum_exists(net, time_limit=10)
    assert result.status == NO_OPTIMUM
    assert result.training_inputs.shape[0] == 2**3 * 3 + 1


def test_relu_lift_realizes_the_product_exactly() -> None:
    rng = np.random.default_rng(3)
    for depth in (2, 3, 4):
        widths = rng.integers(1, 5, size=depth + 1)
        factors = [rng.normal(size=(widths[l + 1], widths[l])) for l in range(depth)]
        X = rng.uniform(-1, 1, size=(20, widths[0]))
        net = relu_lift(factors, X)
        product = factors[0]
        for f in factors[1:]:
            product = f @ product
        np.testing.assert_allclose(net(X), X @ product.T, atol=1e-9)
        assert all(p.min() > 0 for p in net.preactivations(X)[:-1])  # every hidden unit active


@pytest.mark.parametrize("n,dim", [(9, 2), (13, 3), (7, 4)])
def test_moment_curve_points_in_general_position(n: int, dim: int) -> None:
    X = moment_curve_points(n, dim)
    assert X.min() >= -1 and X.max() <= 1
    lifted = np.hstack([X, np.ones((n, 1))])
    for subset in itertools.combinations(range(n), dim + 1):
        assert abs(np.linalg.det(lifted[list(subset)])) > 1e-12


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.floats(0.0, 1.0), st.integers(0, 10**6))
def test_one_hidden_layer_scalar_output_always_has_optimum(d: int, h: int, density: float, seed: int) -> None:
    pattern = SparsityPattern.random((d, h, 1), density, seed=seed)
    result = optimum_exists(pattern)
    assert result.status == OPTIMUM_EXISTS and result.exists is True


def test_closed_pattern_is_undecided() -> None:
    result = optimum_exists(SparsityPattern.dense((2, 3, 2)), time_limit=5)
    assert result.status == UNDECIDED and result.exists is None
    assert result.closedness.closed is True


def test_point_set_too_small_is_undecided() -> None:
    result = optimum_exists(SparsityPattern.lu(2), domain=PointSet(NOTES_POINTS[:5]), time_limit=10)
    assert result.status == UNDECIDED
    full = optimum_exists(SparsityPattern.lu(2), domain=PointSet(NOTES_POINTS), time_limit=10)
    assert full.status == NO_OPTIMUM
    np.testing.assert_allclose(full.training_inputs, NOTES_POINTS)


def test_seeded_sweep_nonclosed_patterns_give_diverging_minimizing_sequences() -> None:
    """For random patterns with a verified non-closedness certificate, the lifted networks fit
    labels A x with loss -> 0 (like eps^2 or faster) while ||theta|| -> infinity."""
    from reluscope.sparsity import is_closed, verify

    found = 0
    for seed in range(30):
        pattern = SparsityPattern.random((3, 3, 3), 0.6, seed=seed)
        verdict = is_closed(pattern, time_limit=3)
        if verdict.closed is not False or verdict.certificate is None:
            continue
        assert verify(verdict.certificate, time_limit=10).valid is True
        result = optimum_exists(pattern, time_limit=3)
        assert result.status == NO_OPTIMUM
        losses = [row[1] for row in result.sequence]
        norms = [row[2] for row in result.sequence]
        assert losses[-1] <= 1e-4 * max(losses[0], 1e-300) + 1e-12
        assert norms[-1] > 100 * norms[0] / 2
        found += 1
    assert found >= 3


def test_tampered_certificate_is_not_trusted(monkeypatch) -> None:
    import dataclasses

    import reluscope.sparsity.existence as existence
    from reluscope.sparsity import ClosednessVerdict

    bad = dataclasses.replace(lu_certificate(2), limit=((1, 0), (0, 1)))  # wrong limit
    monkeypatch.setattr(existence, "is_closed", lambda *a, **k: ClosednessVerdict(False, "fake", 0.0, bad, ""))
    result = existence.optimum_exists(SparsityPattern.lu(2))
    assert result.status == UNDECIDED and result.certificate_valid is False


def test_linear_parts_lie_in_the_linear_counterpart() -> None:
    """Lemma 2: on an activation region the linear part is W_L D_{L-1} W_{L-1} ... D_1 W_1,
    a product of factors D_l W_l supported in the masks."""
    rng = np.random.default_rng(11)
    for trial in range(20):
        depth = int(rng.integers(2, 5))
        widths = [int(w) for w in rng.integers(1, 6, size=depth + 1)]
        pattern = SparsityPattern.random(widths, 0.6, seed=trial)
        net = ReLUNetwork.random(widths, seed=trial, masks=list(pattern.masks))
        x = rng.uniform(-1, 1, size=widths[0])
        J, _ = net.local_affine(x)
        active = net.activation_pattern(x[None, :])
        factors = []
        for l, w in enumerate(net.weights):
            f = w if l == depth - 1 else np.asarray(active[l][0], dtype=float)[:, None] * w
            assert not np.any((f != 0) & ~pattern.masks[l])
            factors.append(f)
        product = factors[0]
        for f in factors[1:]:
            product = f @ product
        np.testing.assert_allclose(J, product, atol=1e-12)


def test_too_many_points_needed_still_checks_numerically() -> None:
    result = optimum_exists(SparsityPattern.lu(3), max_points=10, time_limit=10)
    assert result.status == NO_OPTIMUM and result.training_inputs is None
    losses = [row[1] for row in result.sequence]
    assert len(losses) == 4 and all(b < a for a, b in zip(losses, losses[1:]))
    assert "25 points" in result.reasoning  # 2^3 * 3 + 1


def test_finite_training_set_keyword_X() -> None:
    from reluscope.sparsity import SparsityPattern, optimum_exists
    from reluscope.sparsity.existence import NO_OPTIMUM, UNDECIDED, moment_curve_points

    lu = SparsityPattern.lu(2)
    X = moment_curve_points(9, 2)  # 2^H N_0 + 1 = 9 points in general position
    v = optimum_exists(lu, X=X, time_limit=10)
    assert v.status == NO_OPTIMUM
    A = v.closedness.certificate.limit_array()
    assert np.allclose(v.training_labels, X @ A.T)
    losses = [loss for _, loss, _ in v.sequence]
    norms = [n for _, _, n in v.sequence]
    assert all(b < a for a, b in zip(losses, losses[1:])) and all(b > a for a, b in zip(norms, norms[1:]))
    few = optimum_exists(lu, X=X[:5], time_limit=10)
    assert few.status == UNDECIDED and "not more than" in few.reasoning
    with pytest.raises(ValueError):
        optimum_exists(lu, domain=X, X=X)
