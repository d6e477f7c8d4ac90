"""Reading labelled data for reports: a CSV file with a header row and a label column."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..errors import InvalidData

__all__ = ["load_csv"]


def load_csv(path: str | Path, label_column: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read ``path`` (CSV with a header) into features ``X`` (float64), labels ``y`` and feature names.

    Every column but ``label_column`` must be numeric. Labels are kept as integers when
    they all parse as integers, as strings otherwise.

    Raises
    ------
    InvalidData
        Missing file, missing label column, non-numeric or non-finite feature, ragged row.
    """
    p = Path(path)
    if p.is_dir():
        raise InvalidData(f"{p}: is a directory, not a CSV data file")
    if not p.is_file():
        raise InvalidData(f"{p}: data file not found")
    try:
        with p.open(newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidData(f"{p}: cannot read CSV ({type(exc).__name__}: {exc})") from exc
    rows = [r for r in rows if r and any(cell.strip() for cell in r)]
    if len(rows) < 2:
        raise InvalidData(f"{p}: needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    if label_column not in header:
        raise InvalidData(f"{p}: no column {label_column!r}; columns are {', '.join(header)}")
    j = header.index(label_column)
    features = [h for i, h in enumerate(header) if i != j]
    if not features:
        raise InvalidData(f"{p}: no feature columns besides {label_column!r}")
    X = np.empty((len(rows) - 1, len(features)))
    labels: list[str] = []
    for r, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise InvalidData(f"{p}: line {r} has {len(row)} fields, the header has {len(header)}")
        values = [cell for i, cell in enumerate(row) if i != j]
        for c, cell in enumerate(values):
            try:
                X[r - 2, c] = float(cell)
            except ValueError:
                raise InvalidData(f"{p}: line {r}, column {features[c]!r}: {cell!r} is not a number") from None
        if not row[j].strip():
            raise InvalidData(f"{p}: line {r}, column {label_column!r}: empty label")
        labels.append(row[j].strip())
    if not np.all(np.isfinite(X)):
        bad = np.argwhere(~np.isfinite(X))[0]
        raise InvalidData(f"{p}: line {bad[0] + 2}, column {features[bad[1]]!r} is not finite")
    try:
        y: np.ndarray = np.array([int(v) for v in labels])
    except ValueError:
        y = np.array(labels)
    return X, y, features
