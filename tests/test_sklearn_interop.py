"""scikit-learn MLPs: from_sklearn / to_sklearn agree with the estimators exactly; skops
files load safely; other estimators and activations are refused with one line."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from reluscope import InvalidArgument, ModelFileError, ReLUNetwork, UnsupportedLayer, from_sklearn, load, to_sklearn

pytest.importorskip("sklearn")
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler, StandardScaler  # noqa: E402


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.mark.parametrize("target", ["multiclass", "binary", "regression", "multioutput"])
def test_from_sklearn_is_the_estimators_function(iris, target):
    X, y = iris
    if target in ("multiclass", "binary"):
        yy = y if target == "multiclass" else (y > 0).astype(int)
        est = _fit(MLPClassifier(hidden_layer_sizes=(9, 6), max_iter=300, random_state=0), X, yy)
    else:
        yy = X[:, 0] if target == "regression" else X[:, :2]
        est = _fit(MLPRegressor(hidden_layer_sizes=(9,), max_iter=300, random_state=0), X[:, 1:], yy)
        X = X[:, 1:]
    net = from_sklearn(est)
    assert net.widths == (X.shape[1], *est.hidden_layer_sizes, est.n_outputs_)
    out = net(X)
    if target == "multiclass":
        e = np.exp(out - out.max(1, keepdims=True))
        np.testing.assert_allclose(e / e.sum(1, keepdims=True), est.predict_proba(X), rtol=1e-10, atol=1e-12)
        assert (est.classes_[out.argmax(1)] == est.predict(X)).all()
        assert any("softmax" in n for n in net.provenance.notes)
    elif target == "binary":
        np.testing.assert_allclose(1 / (1 + np.exp(-out[:, 0])), est.predict_proba(X)[:, 1], rtol=1e-10, atol=1e-12)
        assert ((out[:, 0] > 0).astype(int) == est.predict(X)).all()
    else:
        np.testing.assert_allclose(out.reshape(est.predict(X).shape), est.predict(X), rtol=1e-12, atol=1e-12)
    assert net.provenance.format == "scikit-learn" and net.provenance.inferred is None


@pytest.mark.parametrize("seed", range(5))
def test_to_sklearn_round_trip(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 5))
    net = ReLUNetwork.random((4, 6, 5, k), seed=seed)
    X = rng.normal(size=(100, 4))
    reg = to_sklearn(net)
    # scikit-learn multiplies X @ coefs_, reluscope X @ W.T: the same products, possibly another
    # BLAS kernel, so equal up to rounding
    np.testing.assert_allclose(reg.predict(X).reshape(-1, k), net(X), rtol=1e-12, atol=1e-12)
    assert from_sklearn(reg) == net
    clf = to_sklearn(net, "classifier", classes=None if k == 1 else np.arange(10, 10 + max(k, 2)))
    pred = clf.predict(X)
    out = net(X)
    expected = (out[:, 0] > 0).astype(int) if k == 1 else 10 + (out[:, 1] > out[:, 0]) if k == 2 else 10 + out.argmax(1)
    margin = np.abs(out[:, 0]) if k == 1 else np.abs(out[:, 1] - out[:, 0]) if k == 2 else np.sort(out, 1)[:, -1] - np.sort(out, 1)[:, -2]
    assert (pred[margin > 1e-9] == expected[margin > 1e-9]).all()


def test_pipeline_scalers_are_folded(iris):
    X, y = iris
    pipe = _fit(make_pipeline(MinMaxScaler(), StandardScaler(),
                              MLPClassifier(hidden_layer_sizes=(8,), max_iter=300, random_state=0)), X, y)
    net = from_sklearn(pipe)
    out = net(X)
    e = np.exp(out - out.max(1, keepdims=True))
    np.testing.assert_allclose(e / e.sum(1, keepdims=True), pipe.predict_proba(X), rtol=1e-9, atol=1e-12)
    assert sum("folded" in n for n in net.provenance.notes) == 2


def test_refusals(iris):
    X, y = iris
    tanh = _fit(MLPClassifier(hidden_layer_sizes=(4,), activation="tanh", max_iter=50, random_state=0), X, y)
    with pytest.raises(UnsupportedLayer, match="activation='tanh'"):
        from_sklearn(tanh)
    with pytest.raises(InvalidArgument, match="not fitted"):
        from_sklearn(MLPRegressor())
    with pytest.raises(UnsupportedLayer, match="LinearRegression"):
        from sklearn.linear_model import LinearRegression

        from_sklearn(LinearRegression().fit(X, y))
    with pytest.raises(InvalidArgument, match="kind"):
        to_sklearn(ReLUNetwork.random((2, 2, 1), seed=0), "svm")


def test_skops_files_load_and_other_types_are_refused(tmp_path, iris):
    sio = pytest.importorskip("skops.io")
    X, y = iris
    est = _fit(MLPClassifier(hidden_layer_sizes=(5,), max_iter=100, random_state=0), X, y)
    sio.dump(est, tmp_path / "mlp.skops")
    net = load(tmp_path / "mlp.skops")
    assert net == from_sklearn(est)
    assert net.provenance.format == "skops"
    from sklearn.ensemble import RandomForestClassifier

    sio.dump(RandomForestClassifier(n_estimators=2, random_state=0).fit(X, y), tmp_path / "rf.skops")
    with pytest.raises(ModelFileError, match="rf.skops: holds types reluscope does not load"):
        load(tmp_path / "rf.skops")
