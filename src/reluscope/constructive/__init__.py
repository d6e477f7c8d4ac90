"""Constructive cost minimization: explicit ReLU networks built without gradient descent.

- :func:`fit`: the shallow width-``Q`` construction with its ``O(δ_P)`` cost bound and the
  metric it induces;
- :func:`exact_local_minimum`: the closed-form degenerate local minimum for ``M = Q``
  (zero-offset and free-offset variants);
- :func:`cone_truncation_clustered`, :func:`cone_truncation_separable`: deep zero-cost
  constructions by cone truncation;
- :class:`ConstructiveReLUClassifier`: a scikit-learn estimator.

Mathematics: ``docs/background/constructive.md``.
"""

from __future__ import annotations

from .._lazy import lazy_exports

from .shallow import ConstructiveFit, fit

_LAZY = {
    "exact_local_minimum": "exact",
    "ExactLocalMinimum": "exact",
    "cone_truncation_clustered": "deep",
    "cone_truncation_separable": "deep",
    "DeepConstruction": "deep",
    "ConstructiveReLUClassifier": "estimator",
}

__all__ = ["fit", "ConstructiveFit", *_LAZY]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
