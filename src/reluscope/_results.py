"""Shared helpers for frozen result dataclasses: ``to_dict()`` and JSON conversion."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelFileError

__all__ = ["ResultMixin", "to_jsonable", "dump_json", "make_out_dir"]


def to_jsonable(value: Any) -> Any:
    """Convert numpy arrays/scalars, dataclasses, paths, sets and nested containers to JSON types.

    Non-finite floats become the strings ``"inf"``, ``"-inf"``, ``"nan"`` so that the
    output is strict JSON.
    """
    if hasattr(value, "to_dict") and callable(value.to_dict) and not isinstance(value, type):
        return to_jsonable(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if math.isfinite(f):
            return f
        return "nan" if math.isnan(f) else ("inf" if f > 0 else "-inf")
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (int, str)):
        return value
    if hasattr(value, "numerator") and hasattr(value, "denominator"):  # Fraction
        return str(value)
    return repr(value)


def dump_json(value: Any, path: str | Path | None = None, indent: int = 2) -> str:
    """Serialize ``value`` with :func:`to_jsonable`; write it to ``path`` when given."""
    text = json.dumps(to_jsonable(value), indent=indent)
    if path is not None:
        Path(path).write_text(text + "\n")
    return text


class ResultMixin:
    """Mixin for frozen result dataclasses: ``to_dict()`` (JSON-ready) and ``to_json()``.

    Subclasses define ``__str__`` for a readable summary.
    """

    def to_dict(self) -> dict[str, Any]:
        return {f.name: to_jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def to_json(self, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)


def make_out_dir(path: str | Path) -> Path:
    """Create the output folder ``path`` (with parents) and return it as a :class:`Path`.

    Raises
    ------
    ModelFileError
        One line naming ``path`` when it is an existing file or cannot be created.
    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ModelFileError(f"{out}: exists and is not a folder; pass a folder for the output")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelFileError(f"{out}: cannot create the output folder ({exc.strerror or exc})") from None
    return out
