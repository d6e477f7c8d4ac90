"""scikit-learn interoperability: :func:`from_sklearn`, :func:`to_sklearn` and
:func:`read_skops` (scikit-learn and skops are imported lazily).

``MLPClassifier`` and ``MLPRegressor`` with ``activation="relu"`` compute
``out(A_L relu(... relu(A_1 x + b_1) ...) + b_L)`` with ``A_l = coefs_[l - 1].T``, ``b_l =
intercepts_[l - 1]`` and an output map ``out``: the identity (regressor), the softmax
(multiclass) or the logistic function (binary or multilabel). The softmax and the logistic
function increase with each logit, so the classes they predict are the argmax (binary:
the sign) of the network's outputs; reluscope analyzes the logits and records the output
map in the network's :attr:`~reluscope.ReLUNetwork.provenance`.

A ``Pipeline`` of ``StandardScaler`` / ``MinMaxScaler`` / ``MaxAbsScaler`` steps followed by
the MLP is also read: each scaler is affine and is folded into the first layer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InvalidArgument, ModelFileError, ReluscopeError, UnsupportedLayer
from .network import Provenance, ReLUNetwork

__all__ = ["from_sklearn", "to_sklearn", "read_skops"]

_SCALERS = ("StandardScaler", "MinMaxScaler", "MaxAbsScaler")
_SKOPS_TRUSTED = (
    "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
    "sklearn.neural_network._multilayer_perceptron.MLPRegressor",
    "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    "sklearn.preprocessing._label.LabelBinarizer",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._data.MinMaxScaler",
    "sklearn.preprocessing._data.MaxAbsScaler",
)


def _import_sklearn() -> Any:
    try:
        import sklearn.neural_network as nn
    except ImportError:  # pragma: no cover - depends on the environment
        raise ReluscopeError("this needs scikit-learn: pip install 'reluscope[sklearn]'") from None
    return nn


def _scaler_affine(step: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(s, t)`` with ``step.transform(x) == s * x + t``."""
    kind = type(step).__name__
    if kind == "StandardScaler":
        scale = np.ones(step.n_features_in_) if step.scale_ is None else np.asarray(step.scale_, dtype=np.float64)
        mean = np.zeros(step.n_features_in_) if step.mean_ is None else np.asarray(step.mean_, dtype=np.float64)
        return 1.0 / scale, -mean / scale
    if kind == "MinMaxScaler":
        if getattr(step, "clip", False):
            raise UnsupportedLayer(f"pipeline step '{name}' (MinMaxScaler) has clip=True, which is not affine")
        return np.asarray(step.scale_, dtype=np.float64), np.asarray(step.min_, dtype=np.float64)
    return 1.0 / np.asarray(step.scale_, dtype=np.float64), np.zeros(step.n_features_in_)


def from_sklearn(estimator: Any) -> ReLUNetwork:
    """The network of a fitted ``MLPClassifier`` / ``MLPRegressor`` (``activation="relu"``).

    Parameters
    ----------
    estimator:
        A fitted ``MLPClassifier`` or ``MLPRegressor``, or a ``Pipeline`` of scalers
        (``StandardScaler``, ``MinMaxScaler``, ``MaxAbsScaler``) ending in one.

    Returns
    -------
    ReLUNetwork
        Weights ``coefs_[l].T`` and biases ``intercepts_[l]`` in float64 (exact). For a
        classifier the outputs are the logits: ``estimator.predict`` is the argmax of the
        outputs (binary: class 1 when the single output is positive). The output map and
        any folded scaler are recorded in ``net.provenance.notes``.

    Raises
    ------
    UnsupportedLayer
        Another activation, another estimator, a non-affine pipeline step.
    InvalidArgument
        An estimator that is not fitted.

    Examples
    --------
    >>> import numpy as np, warnings
    >>> from sklearn.neural_network import MLPRegressor
    >>> X = np.random.default_rng(0).normal(size=(50, 3)); y = X.sum(axis=1)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     est = MLPRegressor(hidden_layer_sizes=(8,), max_iter=50, random_state=0).fit(X, y)
    >>> net = from_sklearn(est)
    >>> net.widths
    (3, 8, 1)
    >>> bool(np.allclose(net(X)[:, 0], est.predict(X)))
    True
    """
    sk = _import_sklearn()
    notes: list[str] = []
    steps: list[tuple[str, Any]] = []
    if type(estimator).__name__ == "Pipeline" and hasattr(estimator, "steps"):
        *steps, (_, estimator) = list(estimator.steps)
    if not isinstance(estimator, (sk.MLPClassifier, sk.MLPRegressor)):
        raise UnsupportedLayer(
            f"from_sklearn reads MLPClassifier and MLPRegressor (optionally after scalers in a Pipeline); "
            f"got {type(estimator).__name__}"
        )
    kind = type(estimator).__name__
    if not hasattr(estimator, "coefs_"):
        raise InvalidArgument(f"the {kind} is not fitted (no coefs_); call fit first")
    if estimator.activation != "relu":
        raise UnsupportedLayer(
            f"{kind} has activation={estimator.activation!r}; reluscope analyzes ReLU networks (activation='relu')"
        )
    weights = [np.array(c, dtype=np.float64).T for c in estimator.coefs_]
    biases = [np.array(b, dtype=np.float64) for b in estimator.intercepts_]
    if steps:
        s_tot, t_tot = np.ones(weights[0].shape[1]), np.zeros(weights[0].shape[1])
        for name, step in steps:
            if step is None or step == "passthrough":
                continue
            if type(step).__name__ not in _SCALERS:
                raise UnsupportedLayer(
                    f"pipeline step '{name}' ({type(step).__name__}) is not one of {', '.join(_SCALERS)}; "
                    "reluscope folds only affine scalers into the first layer"
                )
            s, t = _scaler_affine(step, name)
            s_tot, t_tot = s * s_tot, s * t_tot + t
            notes.append(f"pipeline step '{name}' ({type(step).__name__}) folded into the first layer")
        biases[0] = weights[0] @ t_tot + biases[0]
        weights[0] = weights[0] * s_tot
    out = estimator.out_activation_
    if out != "identity":
        notes.append(
            f"output map {out} not included: it increases with each logit, so the network's outputs are the "
            "logits and its decisions agree with the estimator's"
        )
    net = ReLUNetwork(weights, biases)
    return net.with_provenance(Provenance("scikit-learn", kind, None, tuple(notes)))


def to_sklearn(net: ReLUNetwork, kind: str = "regressor", *, classes: Any = None) -> Any:
    """A fitted ``MLPRegressor`` or ``MLPClassifier`` computing ``net`` (``activation="relu"``).

    Parameters
    ----------
    net:
        The network.
    kind:
        ``"regressor"`` (the outputs as they are) or ``"classifier"`` (the outputs are logits:
        one output is binary with the logistic map, ``k >= 2`` outputs are ``k`` classes with
        the softmax; two outputs ``(l_0, l_1)`` become the single logit ``l_1 - l_0``, which
        gives the same probabilities and classes).
    classes:
        Class labels of a classifier (default ``0, ..., k - 1``).

    The estimator is ready to ``predict`` (its training attributes are empty); ``fit``
    would retrain it from scratch. scikit-learn has no pruning masks: a masked network's
    weights are kept (zeros included), its masks are not.
    """
    sk = _import_sklearn()
    from sklearn.preprocessing import LabelBinarizer

    if not isinstance(net, ReLUNetwork):
        raise InvalidArgument(f"to_sklearn expects a ReLUNetwork; got {type(net).__name__}")
    if kind not in ("regressor", "classifier"):
        raise InvalidArgument(f"kind must be 'regressor' or 'classifier'; got {kind!r}")
    coefs = [np.array(w.T) for w in net.weights]
    intercepts = [np.array(b) for b in net.biases]
    hidden = tuple(net.hidden_widths)
    if kind == "regressor":
        est = sk.MLPRegressor(hidden_layer_sizes=hidden, activation="relu")
        est.out_activation_ = "identity"
    else:
        k = net.output_dim
        n_classes = 2 if k <= 2 else k
        classes = np.arange(n_classes) if classes is None else np.asarray(classes)
        if classes.shape != (n_classes,):
            raise InvalidArgument(f"classes must list {n_classes} labels for {k} output(s); got {classes.shape}")
        if k == 2:
            coefs[-1] = coefs[-1][:, 1:] - coefs[-1][:, :1]
            intercepts[-1] = intercepts[-1][1:] - intercepts[-1][:1]
        est = sk.MLPClassifier(hidden_layer_sizes=hidden, activation="relu")
        est.out_activation_ = "logistic" if n_classes == 2 else "softmax"
        est.classes_ = classes
        est._label_binarizer = LabelBinarizer().fit(classes)
    est.coefs_, est.intercepts_ = coefs, intercepts
    est.n_layers_ = net.depth + 1
    est.n_outputs_ = coefs[-1].shape[1]
    est.n_features_in_ = net.input_dim
    est.n_iter_, est.t_, est.loss_curve_, est.best_loss_ = 0, 0, [], None
    return est


def read_skops(path: str | os.PathLike[str]) -> ReLUNetwork:
    """The network of an MLP estimator saved with ``skops.io.dump`` (never plain pickle).

    Only the MLP estimators, their optimizers and label binarizer, ``Pipeline`` and the
    scalers are trusted; a file holding any other type is refused without loading it.
    """
    p = Path(path)
    try:
        import skops.io as sio
    except ImportError:  # pragma: no cover - depends on the environment
        raise ReluscopeError("reading skops files needs skops: pip install 'reluscope[sklearn]'") from None
    try:
        untrusted = sio.get_untrusted_types(file=p)
    except Exception as exc:
        raise ModelFileError(f"{p}: corrupted skops file ({type(exc).__name__}: {str(exc)[:160]})") from None
    refused = [t for t in untrusted if t not in _SKOPS_TRUSTED]
    if refused:
        raise ModelFileError(f"{p}: holds types reluscope does not load ({', '.join(refused[:3])}); "
                             "it reads MLPClassifier / MLPRegressor, optionally after scalers in a Pipeline")
    try:
        est = sio.load(p, trusted=list(untrusted))
    except Exception as exc:
        raise ModelFileError(f"{p}: corrupted skops file ({type(exc).__name__}: {str(exc)[:160]})") from None
    try:
        net = from_sklearn(est)
    except ReluscopeError as exc:
        raise type(exc)(f"{p}: {exc}") from None
    return net.with_provenance(Provenance("skops", str(p), None, net.provenance.notes))
