"""The models bundled with reluscope (``reluscope/examples/*.safetensors``), their JSON
sidecars and the data sets they were trained on (recomputed from scikit-learn's shipped
data sets, never downloaded). ``scripts/make_example.py`` regenerates them: bit for bit on the machine that made them, up to
floating-point rounding on another (float training is not bit-identical across CPUs and BLAS kernels)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFileError, ReluscopeError
from ..network import ReLUNetwork
from .formats import load

__all__ = ["example_path", "load_example", "example_info", "example_dataset", "example_names",
           "example_test_mask", "preprocess"]

DEFAULT = "pruned_mlp"


def _base() -> Path:
    return Path(str(resources.files("reluscope") / "examples"))


def example_names() -> list[str]:
    """Names of the bundled examples (see :func:`example_info` for each)."""
    return sorted(q.stem for q in _base().glob("*.safetensors"))


def example_path(name: str = DEFAULT) -> Path:
    """Path of a model bundled with reluscope (names: :func:`example_names`)."""
    p = _base() / f"{name}.safetensors"
    if not isinstance(name, str) or "/" in name or not p.exists():
        raise ModelFileError(f"{p}: no bundled example named {name!r}; available: {example_names()}")
    return p


def load_example(name: str = DEFAULT) -> ReLUNetwork:
    """Load a bundled example network (default: a 50%-pruned 30-16-16-2 MLP)."""
    return load(example_path(name))


def example_info(name: str = DEFAULT) -> dict[str, Any]:
    """The JSON sidecar of a bundled example: dataset, preprocessing, split, training, accuracy."""
    p = example_path(name).with_suffix(".json")
    return json.loads(p.read_text())


def preprocess(X: np.ndarray, pre: dict[str, Any]) -> np.ndarray:
    """Apply a sidecar's ``preprocessing`` to raw features ``X`` (float64):

    * ``standardize``: ``(x - mean) / scale``;
    * ``divide``: ``x / by``;
    * ``upsample``: each row is an ``image`` (h, w); every pixel becomes a ``factor`` x
      ``factor`` block, the image is padded by ``pad`` zero pixels, then divided by ``by``.
    """
    kind = pre.get("kind")
    X = np.asarray(X, dtype=np.float64)
    if kind == "standardize":
        return (X - np.asarray(pre["mean"])) / np.asarray(pre["scale"])
    if kind == "divide":
        return X / float(pre["by"])
    if kind == "upsample":
        h, w = pre["image"]
        f, pad = int(pre["factor"]), int(pre["pad"])
        imgs = X.reshape(-1, h, w)
        big = np.kron(imgs, np.ones((1, f, f)))
        big = np.pad(big, ((0, 0), (pad, pad), (pad, pad)))
        return big.reshape(len(X), -1) / float(pre["by"])
    if kind in (None, "none"):
        return X
    raise ReluscopeError(f"unknown example preprocessing {kind!r}")


def example_dataset(name: str = DEFAULT) -> tuple[np.ndarray, np.ndarray]:
    """The data set of a bundled example, recomputed from scikit-learn with the same
    preprocessing as in training: ``(X, y)`` with ``X`` float64 ``(n, d)``, ``y`` int labels.

    Requires scikit-learn (the ``sklearn`` extra).
    """
    info = example_info(name)
    try:
        import sklearn.datasets as skd
    except ImportError:  # pragma: no cover - depends on the environment
        raise ReluscopeError("example_dataset needs scikit-learn: pip install 'reluscope[sklearn]'") from None
    loader = getattr(skd, info["dataset"]["loader"])
    X, y = loader(return_X_y=True)
    return preprocess(X, info["preprocessing"]), np.asarray(y)


def example_test_mask(name: str = DEFAULT) -> np.ndarray:
    """Boolean mask of the held-out rows of :func:`example_dataset`: the example's recorded
    train/test split (``train_test_split`` on ``arange(n)``), redone."""
    from sklearn.model_selection import train_test_split

    _, y = example_dataset(name)
    split = example_info(name)["dataset"]["split"]
    _, test = train_test_split(np.arange(len(y)), test_size=split["test_size"], random_state=split["random_state"],
                               stratify=y if split.get("stratify") else None)
    mask = np.zeros(len(y), dtype=bool)
    mask[test] = True
    return mask
