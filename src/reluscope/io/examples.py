"""The models bundled with reluscope (``reluscope/examples/*.safetensors``), their JSON
sidecars and the data sets they were trained on."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFileError, ReluscopeError
from ..network import ReLUNetwork
from .formats import load

__all__ = ["example_path", "load_example", "example_info", "example_dataset"]


def example_path(name: str = "pruned_mlp") -> Path:
    """Path of a model bundled with reluscope (``"pruned_mlp"``: see :func:`example_info`)."""
    base = Path(str(resources.files("reluscope") / "examples"))
    p = base / f"{name}.safetensors"
    if not p.exists():
        known = sorted(q.stem for q in base.glob("*.safetensors"))
        raise ModelFileError(f"{p}: no bundled example named {name!r}; available: {known}")
    return p


def load_example(name: str = "pruned_mlp") -> ReLUNetwork:
    """Load a bundled example network (default: a 50%-pruned 30-16-16-2 MLP)."""
    return load(example_path(name))


def example_info(name: str = "pruned_mlp") -> dict[str, Any]:
    """The JSON sidecar of a bundled example: dataset, preprocessing, training, accuracy."""
    p = example_path(name).with_suffix(".json")
    return json.loads(p.read_text())


def example_dataset(name: str = "pruned_mlp") -> tuple[np.ndarray, np.ndarray]:
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
    X = np.asarray(X, dtype=np.float64)
    pre = info["preprocessing"]
    if pre.get("kind") == "standardize":
        X = (X - np.asarray(pre["mean"])) / np.asarray(pre["scale"])
    return X, np.asarray(y)
