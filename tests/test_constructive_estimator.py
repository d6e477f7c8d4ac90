"""The scikit-learn estimator: full check_estimator suite and agreement with fit()."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris, load_wine
from sklearn.utils.estimator_checks import check_estimator

from reluscope import ReLUNetwork
from reluscope.constructive import ConstructiveReLUClassifier, fit
from reluscope.errors import InvalidData

# Checks that are skipped only because an optional package / environment variable is absent
# (not a property of the estimator): pandas is not installed, SCIPY_ARRAY_API is not set.
ENVIRONMENT_SKIPS = {"check_classifier_data_not_an_array", "check_array_api_input"}


def test_check_estimator_passes():
    results = check_estimator(ConstructiveReLUClassifier(), on_fail=None, on_skip=None)
    failed = [r for r in results if r["status"] == "failed"]
    assert not failed, [(r["check_name"], repr(r["exception"])) for r in failed]
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert skipped <= ENVIRONMENT_SKIPS
    assert sum(r["status"] == "passed" for r in results) >= 40


def test_estimator_matches_fit_and_metric_prediction():
    X, y = load_wine(return_X_y=True)
    names = np.array(["barolo", "grignolino", "barbera"])[y]
    clf = ConstructiveReLUClassifier(affine=False).fit(X, names)
    r = fit(X, names)
    assert list(clf.classes_) == sorted(set(names))
    assert clf.n_features_in_ == 13
    assert isinstance(clf.network_, ReLUNetwork) and clf.network_.widths == (13, 3, 3)
    assert clf.network_.allclose(r.network)
    assert np.array_equal(clf.predict(X), r.predict(X))
    assert clf.score(X, names) == pytest.approx(np.mean(r.predict(X) == names))
    d = clf.transform_distances(X)
    assert np.array_equal(clf.classes_[d.argmin(1)], clf.predict(X))


def test_params_clone_and_dict_targets():
    X, y = load_iris(return_X_y=True)
    clf = ConstructiveReLUClassifier(margin=2.0)
    assert clf.get_params()["margin"] == 2.0
    clf.set_params(affine=False, targets={0: [2, 0, 0], 1: [0, 3, 0], 2: [0, 0, 1]})
    c2 = clone(clf).fit(X, y)
    assert np.allclose(c2.result_.targets, np.diag([2.0, 3.0, 1.0]))
    direct = fit(X, y, {0: [2, 0, 0], 1: [0, 3, 0], 2: [0, 0, 1]})
    assert c2.score(X, y) == pytest.approx(np.mean(direct.predict(X) == y))
    with pytest.raises(InvalidData, match="class 5, which has no samples"):
        ConstructiveReLUClassifier(targets={0: [1, 0], 5: [0, 1]}).fit(X[y < 2], y[y < 2])


def test_affine_lift_handles_more_classes_than_features():
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    y = np.repeat([0, 1, 2], 20)
    X = centers[y] + 0.3 * rng.normal(size=(60, 2))
    clf = ConstructiveReLUClassifier().fit(X, y)
    assert clf.score(X, y) == 1.0
    with pytest.raises(InvalidData, match="3 classes but only 2"):
        ConstructiveReLUClassifier(affine=False).fit(X, y)


def test_decision_function_and_predict_proba_follow_the_distances():
    X, y = load_wine(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    clf = ConstructiveReLUClassifier(temperature=0.5).fit(X, y)
    d = clf.transform_distances(X)
    p = clf.predict_proba(X)
    assert p.shape == (len(X), 3) and np.allclose(p.sum(1), 1.0)
    assert np.array_equal(p.argmax(1), clf.predict(X))
    expected = np.exp(-d / 0.5) / np.exp(-d / 0.5).sum(1, keepdims=True)
    assert np.allclose(p, expected)
    assert np.allclose(clf.predict_log_proba(X), np.log(expected))
    assert np.allclose(clf.decision_function(X), -d)
    # a lower temperature is more confident in the same class
    sharp = clf.set_params(temperature=0.05).fit(X, y).predict_proba(X)
    assert np.all(sharp.max(1) >= p.max(1) - 1e-12)


def test_binary_decision_function_and_roc_auc_scoring():
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    clf = ConstructiveReLUClassifier().fit(X, y)
    s = clf.decision_function(X)
    assert s.shape == (len(X),)
    assert np.array_equal(clf.classes_[(s > 0).astype(int)], clf.predict(X))
    p1 = clf.predict_proba(X)[:, 1]
    assert np.all(np.diff(p1[np.argsort(s)]) >= -1e-12)  # probability monotone in the score
    auc = cross_val_score(make_pipeline(StandardScaler(), ConstructiveReLUClassifier()), X, y, scoring="roc_auc", cv=3)
    assert auc.mean() > 0.9


def test_linear_construction_on_centred_data_says_use_affine():
    X, y = load_wine(return_X_y=True)
    centred = (X - X.mean(0)) / X.std(0)  # what StandardScaler returns
    with pytest.raises(InvalidData, match="data are centred.*use affine=True"):
        ConstructiveReLUClassifier(affine=False).fit(centred, y)
    assert ConstructiveReLUClassifier(affine=True).fit(centred, y).score(centred, y) > 0.9
    with pytest.raises(ValueError, match="temperature must be a positive"):
        ConstructiveReLUClassifier(temperature=0).fit(X, y)
