"""The "constructive" section: the explicit shallow construction against the model, on the data."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import InvalidData, ReluscopeError
from ...network import ReLUNetwork
from .. import figures
from .._runner import NotComputed, SectionContent
from ..document import Figure, Paragraph, Table, format_value
from ._context import Context

__all__ = ["build"]


def _model_predictions(net: ReLUNetwork, X: np.ndarray, classes: np.ndarray) -> np.ndarray | None:
    """The model's class decisions by argmax over outputs, when there is one output per class."""
    if net.output_dim != len(classes):
        return None
    return classes[np.argmax(net(X), axis=1)]


def _balanced_cost(outputs: np.ndarray, y: np.ndarray, classes: np.ndarray) -> tuple[float, float]:
    """(balanced, mean) cost of ``outputs`` against one-hot targets, as in reluscope.constructive."""
    from ...constructive.shallow import training_costs

    index = np.searchsorted(classes, y)
    counts = np.bincount(index, minlength=len(classes))
    return training_costs(outputs, np.eye(len(classes)), index, counts)


def _cross_entropy(logits: np.ndarray, y: np.ndarray, classes: np.ndarray) -> float:
    """Mean cross-entropy of ``softmax(logits)`` against the labels (classes in sorted order)."""
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(y)), np.searchsorted(classes, y)].mean())


def build(ctx: Context) -> SectionContent:
    if ctx.X is None or ctx.y is None:
        raise NotComputed("no data given (use --data DATA.csv [--label-column NAME])")
    """The constructive network fitted to the data, compared with the model."""
    from ... import constructive

    X, y = ctx.X, ctx.y
    classes = np.unique(y)
    affine_note = ""
    try:
        result = constructive.fit(X, y)
    except InvalidData as exc:
        if "linearly dependent" not in str(exc):
            raise
        # centred data make the class means linearly dependent; the affine lift (x, 1) only
        # needs them affinely independent
        result = constructive.fit(X, y, affine=True)
        affine_note = (f" The linear construction does not apply ({exc}); the construction uses the "
                       "affine lift (x, 1), which needs the class means only affinely independent.")
    affine = bool(result.affine)
    network = result.network
    con_acc = float(np.mean(np.asarray(result.network_predict(X)) == y))
    model_pred = _model_predictions(ctx.net, X, classes)
    model_acc = None if model_pred is None else float(np.mean(model_pred == y))
    model_cost = _balanced_cost(ctx.net(X), y, classes) if ctx.net.output_dim == len(classes) else (None, None)

    # held-out comparison. With the model's own split (ctx.held_out) both are measured on the rows the
    # model did not train on and the constructive network is fitted on the others; without it, the
    # constructive network is fitted on a random 70 % and both are measured on the other 30 %, which
    # the model may have trained on.
    known_split = ctx.held_out is not None
    if known_split:
        test = np.flatnonzero(ctx.held_out)
        train = np.flatnonzero(~ctx.held_out)
    else:
        order = np.random.default_rng(ctx.seed).permutation(len(X))
        cut = int(round(0.7 * len(X)))
        train, test = order[:cut], order[cut:]
    held: dict[str, Any] = {"split": "the model's own test split" if known_split else "random 30 %",
                            "n_held_out": int(len(test))}
    if len(np.unique(y[train])) == len(classes) and len(test):
        try:
            res70 = constructive.fit(X[train], y[train], affine=affine)
            held["constructive"] = float(np.mean(np.asarray(res70.network_predict(X[test])) == y[test]))
            held["constructive_training"] = float(np.mean(np.asarray(res70.network_predict(X[train])) == y[train]))
            if model_pred is not None:
                held["model"] = float(np.mean(model_pred[test] == y[test]))
                held["model_training"] = float(np.mean(model_pred[train] == y[train]))
        except ReluscopeError as exc:
            held["error"] = f"{type(exc).__name__}: {exc}"

    data: dict[str, Any] = {
        "n_samples": int(len(X)),
        "n_classes": int(len(classes)),
        "constructive_widths": list(network.widths),
        "affine_lift": affine,
        "constructive_parameters": int(network.n_parameters),
        "model_parameters": ctx.net.n_parameters,
        "constructive_accuracy": con_acc,
        "model_accuracy": model_acc,
        "constructive_balanced_cost": float(result.balanced_cost),
        "constructive_mean_cost": float(result.mean_cost),
        "constructive_upper_bound": float(result.upper_bound),
        "delta_P": float(result.delta_P),
        "model_balanced_cost": model_cost[0],
        "model_mean_cost": model_cost[1],
        "held_out_accuracy": held,
    }
    if known_split:
        rows = [
            (f"held-out accuracy ({len(test)} rows the model did not train on)", held.get("model"), held.get("constructive")),
            (f"training accuracy ({len(train)} rows; the constructive network is fitted on them)",
             held.get("model_training"), held.get("constructive_training")),
        ]
    else:
        rows = [
            ("accuracy on all given data (training accuracy for the constructive network; the model may "
             "have trained on these points)", model_acc, con_acc),
            (f"accuracy on a random 30 % ({len(test)} rows) held out from the constructive fit (the model's "
             "training split is unknown: it may have trained on them)", held.get("model"), held.get("constructive")),
        ]
    # like with like: each network's own loss. The constructive network is fitted to one-hot targets
    # (its balanced cost and mean squared error); a model with one logit per class is a softmax
    # classifier, whose loss is the cross-entropy -- its logits are not fitted to one-hot vectors.
    model_ce = _cross_entropy(ctx.net(X), y, classes) if model_pred is not None else None
    data["model_cross_entropy"] = model_ce
    rows += [
        ("cross-entropy of the softmax of the outputs (a classifier's loss)", model_ce, None),
        ("balanced cost against one-hot targets (the constructive network's loss)", None, result.balanced_cost),
        ("mean squared error against one-hot targets (the constructive network's loss)", None, result.mean_cost),
        ("parameters", ctx.net.n_parameters, network.n_parameters),
        ("widths", "-".join(map(str, ctx.net.widths)), "-".join(map(str, network.widths))),
    ]
    blocks: list[Any] = [
        Paragraph("The constructive network (explicit shallow construction of width Q, no gradient "
                  "descent) fitted to the same data, against the model. The model's decision is the "
                  "argmax of its outputs (one output per class, classes in sorted order); the "
                  "constructive network's decision is the nearest one-hot target. Each network's loss is "
                  "its own: the cross-entropy for the model's logits, the cost against one-hot targets "
                  "for the constructive network (logits are not fitted to one-hot vectors, so a squared "
                  "error of logits would not compare like with like)." + affine_note
                  + ("" if model_pred is not None else
                     f" The model has {ctx.net.output_dim} outputs for {len(classes)} classes, so its "
                     "accuracy and cost are not computed.")),
        Table(("", "model", "constructive"), tuple(rows)),
        Paragraph(f"Constructive fit: noise-to-signal ratio delta_P = {format_value(result.delta_P)}, "
                  f"balanced cost {format_value(result.balanced_cost)} <= bound "
                  f"{format_value(result.upper_bound)} (sqrt(Q) ||Y||_op delta_P)."),
    ]
    if "error" in held:
        blocks.append(Paragraph(f"Held-out fit not computed: {held['error']}."))
    if known_split:
        groups = {"training rows": {"model": held.get("model_training", np.nan),
                                    "constructive": held.get("constructive_training", np.nan)},
                  "held-out rows": {"model": held.get("model", np.nan), "constructive": held.get("constructive", np.nan)}}
    else:
        groups = {"all given data": {"model": model_acc if model_acc is not None else np.nan, "constructive": con_acc}}
        if "constructive" in held:
            groups["random 30 % (not held out for the model)"] = {"model": held.get("model", np.nan),
                                                                   "constructive": held["constructive"]}
    path = figures.grouped_bars(groups, ctx.figure("constructive.png"), "Accuracy: model vs constructive", "accuracy")
    blocks.append(Figure(path.name, "Classification accuracy of the model and of the constructive baseline."))
    return SectionContent(blocks, data)
