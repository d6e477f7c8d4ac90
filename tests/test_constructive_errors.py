"""Bad input to the constructive networks: one-line InvalidData errors naming the fault."""

from __future__ import annotations

import numpy as np
import pytest

from reluscope.constructive import exact_local_minimum, fit
from reluscope.errors import InvalidArgument, InvalidData, ReluscopeError


def good(Q=3, M=3, n=4, seed=0):
    rng = np.random.default_rng(seed)
    means = 4 * np.eye(Q, M) + rng.normal(size=(Q, M)) * 0.1
    y = np.repeat(np.arange(Q), n)
    return means[y] + 0.1 * rng.normal(size=(len(y), M)), y


def raises(match, fn, *args, error=InvalidData, **kwargs):
    with pytest.raises(error, match=match) as info:
        fn(*args, **kwargs)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ReluscopeError) and isinstance(info.value, ValueError)
    return info.value


def test_rank_deficient_class_means():
    X, y = good(Q=3, M=4)
    X = X.copy()
    means = np.stack([X[y == j].mean(0) for j in range(3)])
    X[y == 2] += (means[0] + means[1]) - means[2]  # third mean = sum of the first two
    raises("linearly dependent", fit, X, y)


def test_more_classes_than_features():
    X, y = good(Q=3, M=3)
    raises(r"3 classes but only 2 input features", fit, X[:, :2], y)
    raises(r"Q <= M \+ 1", fit, X[:, :1], y, affine=True)


def test_targets_for_class_without_samples_and_missing_target():
    X, y = good()
    raises("class 7, which has no samples", fit, X, y, {0: [1, 0, 0], 1: [0, 1, 0], 2: [0, 0, 1], 7: [1, 1, 1]})
    raises("targets missing for class 2", fit, X, y, {0: [1, 0, 0], 1: [0, 1, 0]})
    raises(r"shape \(n_classes=3, k\)", fit, X, y, np.eye(4))
    raises("linearly independent", fit, X, y, np.ones((3, 3)))


def test_single_class():
    X, y = good()
    raises("only one class", fit, X, np.zeros(len(y)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs(bad):
    X, y = good()
    X = X.copy()
    X[2, 1] = bad
    err = raises("non-finite", fit, X, y)
    assert "row 2, column 1" in str(err)
    raises("non-finite", fit, good()[0], y, np.diag([1.0, bad, 1.0]))


def test_mismatched_lengths_and_shapes():
    X, y = good()
    raises(f"X has {len(X)} rows but y has {len(y) - 1} labels", fit, X, y[:-1])
    raises("2-D", fit, X[:, 0], y)
    raises("one-dimensional", fit, X, np.stack([y, y], axis=1))
    raises("not numeric", fit, [["a", "b", "c"]] * len(y), y)
    raises("cost must be", fit, X, y, cost="l1", error=InvalidArgument)
    raises("margin", fit, X, y, margin=-1.0, error=InvalidArgument)
    raises(r"A must be an invertible \(3, 3\)", fit, X, y, A=np.eye(2))
    raises("not \\(numerically\\) invertible", fit, X, y, A=np.zeros((3, 3)))


def test_exact_needs_square():
    X, y = good(Q=3, M=4)
    raises("M = Q", exact_local_minimum, X, y)


def test_inputs_not_mutated_on_error():
    X, y = good()
    X = X.copy()
    X[0, 0] = np.nan
    X0 = X.copy()
    with pytest.raises(InvalidData):
        fit(X, y)
    assert np.array_equal(X, X0, equal_nan=True)
