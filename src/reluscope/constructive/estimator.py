"""scikit-learn estimator around the explicit shallow construction."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validation import check_tol
from ..errors import InvalidData
from .shallow import ConstructiveFit, fit

__all__ = ["ConstructiveReLUClassifier"]


class ConstructiveReLUClassifier(ClassifierMixin, BaseEstimator):
    """Shallow ReLU classifier built explicitly (no gradient descent).

    ``fit`` runs :func:`reluscope.constructive.fit`: a width-``Q`` ReLU network whose
    output on the training data is ``Y X_red^+ x``; ``predict`` returns the class of the
    nearest class mean in the induced metric ``|Y X_red^+ (x - x')|``.

    Parameters
    ----------
    targets:
        ``None`` (one-hot), an array ``(n_classes, k)`` (rows in sorted class order) or a
        mapping ``label -> target``.
    margin:
        Smallest hidden pre-activation on the training data.
    affine:
        Lift inputs to ``(x, 1)`` (default ``True``): only ``n_classes <= n_features + 1`` and
        affinely independent class means are needed. With ``False`` the construction is the
        paper's linear one and needs linearly independent class means (``Q <= M``).
    rank_tol:
        Relative singular-value tolerance for dependent class means.
    temperature:
        Temperature ``T > 0`` of :meth:`predict_proba` (default ``1.0``, in the units of the
        target space: one-hot targets are ``sqrt(2)`` apart).

    Notes
    -----
    Scores and probabilities come from the distances ``d_j(x) = |Y X_red^+ x - y_j|`` of the
    construction's linear output to the targets (equal to the induced-metric distance of ``x``
    to the class mean ``x̄_j``), the quantity :meth:`predict` minimizes:

    * :meth:`decision_function` returns ``-d_j(x)`` for every class, and for two classes the
      single column ``d_0(x) - d_1(x)`` (positive means ``classes_[1]``, as scikit-learn
      expects);
    * :meth:`predict_proba` is the softmax of ``-d_j(x) / T``. Its ``argmax`` is
      :meth:`predict`; it is *not* fitted to frequencies. For calibrated probabilities tune
      ``temperature`` on held-out log-loss (``GridSearchCV``) or wrap the estimator in
      :class:`sklearn.calibration.CalibratedClassifierCV`.

    With ``affine=False`` the class means must be linearly independent. On centred data
    (for example after ``StandardScaler``) the count-weighted class means sum to zero, so they
    never are: the fit then fails with a message saying to use ``affine=True``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    result_ : ConstructiveFit
        Full construction result (``delta_P``, ``cost``, ``upper_bound``, ``metric`` ...).
    network_ : ReLUNetwork
        The constructed network.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from reluscope.constructive import ConstructiveReLUClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = ConstructiveReLUClassifier().fit(X, y)
    >>> round(clf.score(X, y), 2) >= 0.8
    True
    """

    def __init__(
        self,
        targets: Any = None,
        margin: float = 1.0,
        affine: bool = True,
        rank_tol: float = 1e-10,
        temperature: float = 1.0,
    ) -> None:
        self.targets = targets
        self.margin = margin
        self.affine = affine
        self.rank_tol = rank_tol
        self.temperature = temperature

    def fit(self, X: ArrayLike, y: ArrayLike) -> ConstructiveReLUClassifier:
        """Construct the network from training data ``X`` (n, M) and labels ``y``."""
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        targets = self.targets
        if isinstance(targets, dict):
            lookup = {c: j for j, c in enumerate(self.classes_.tolist())}
            targets = {lookup.get(k, k): v for k, v in targets.items()}
            unknown = [k for k in self.targets if k not in lookup]
            if unknown:
                raise InvalidData(f"targets given for class {unknown[0]!r}, which has no samples in y")
        check_tol(self.temperature, "temperature", positive=True)
        try:
            self.result_: ConstructiveFit = fit(
                X, encoded, targets, margin=self.margin, affine=self.affine, rank_tol=self.rank_tol
            )
        except InvalidData as exc:
            if self.affine:
                raise
            raise InvalidData(f"{_linear_failure(X, encoded, exc)}; use affine=True") from None
        self.network_ = self.result_.network
        return self

    def _distances(self, X: ArrayLike) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self.result_.distances_to_means(X)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Class of the nearest class mean in the induced metric."""
        distances = self._distances(X)
        return self.classes_[np.argmin(distances, axis=1)]

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        """Scores ``-d_j(x)`` of shape ``(n, n_classes)``; ``d_0 - d_1`` of shape ``(n,)`` for two classes."""
        distances = self._distances(X)
        if len(self.classes_) == 2:
            return distances[:, 0] - distances[:, 1]
        return -distances

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Softmax of ``-d_j(x) / temperature`` over the classes, shape ``(n, n_classes)``."""
        logits = -self._distances(X) / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`, computed stably."""
        logits = -self._distances(X) / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))

    def transform_distances(self, X: ArrayLike) -> np.ndarray:
        """Metric distances ``d(x, x̄_j)`` to every class mean, shape ``(n, n_classes)``."""
        return self._distances(X)


def _linear_failure(X: np.ndarray, encoded: np.ndarray, exc: InvalidData) -> str:
    """The reason of a failed ``affine=False`` fit, naming centred data when that is the cause."""
    n_classes = int(encoded.max()) + 1
    scale = float(np.abs(X).max()) or 1.0
    if float(np.abs(X.mean(axis=0)).max()) <= 1e-8 * scale:  # the count-weighted mean of the class means
        return (
            f"affine=False needs linearly independent class means, but the data are centred "
            f"(the count-weighted class means sum to zero), so the {n_classes} class means are dependent"
        )
    return f"affine=False needs linearly independent class means: {exc}"
