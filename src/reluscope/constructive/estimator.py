"""scikit-learn estimator around the explicit shallow construction."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

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

    def __init__(self, targets: Any = None, margin: float = 1.0, affine: bool = True, rank_tol: float = 1e-10) -> None:
        self.targets = targets
        self.margin = margin
        self.affine = affine
        self.rank_tol = rank_tol

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
        self.result_: ConstructiveFit = fit(
            X, encoded, targets, margin=self.margin, affine=self.affine, rank_tol=self.rank_tol
        )
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

    def transform_distances(self, X: ArrayLike) -> np.ndarray:
        """Metric distances ``d(x, x̄_j)`` to every class mean, shape ``(n, n_classes)``."""
        return self._distances(X)
