"""Labelled tabular data: a CSV file with a header row, numeric feature columns and one
label column (used by ``reluscope construct`` and ``reluscope analyze --data``)."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InvalidData

__all__ = ["read_labeled_csv", "numeric_labels", "check_data_path"]


def check_data_path(path: str | Path) -> Path:
    """The path of an existing regular file (refused before opening: directories, missing
    files, and pipes or devices, whose reading could block forever)."""
    path = Path(path)
    if path.is_dir():
        raise InvalidData(f"{path}: is a directory, not a CSV data file; give the path of a .csv file")
    if path.exists() and not path.is_file():
        raise InvalidData(f"{path}: is not a regular file (a pipe, socket or device); save the data to a .csv file")
    if not path.is_file():
        raise InvalidData(f"{path}: no such data file; check the path")
    return path


def read_labeled_csv(path: str | Path, label_column: str) -> tuple[np.ndarray, list[str], list[str]]:
    """Read a CSV with a header row: returns ``(X (n, M) float array, labels, feature names)``.

    Raises
    ------
    InvalidData
        Missing/unreadable file, no header, unknown label column, ragged rows, non-numeric
        or non-finite feature values (the message names the file, row and column).
    """
    path = check_data_path(path)
    try:
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InvalidData(f"{path}: cannot read as CSV: {exc}; save it as a UTF-8 CSV file") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise InvalidData(f"{path}: empty file (expected a header row and data rows)")
    header = [h.strip() for h in rows[0]]
    if label_column not in header:
        raise InvalidData(f"{path}: no column named {label_column!r}; columns are {', '.join(header)}: "
                          "name the label column with one of them (--label-column)")
    if len(rows) < 2:
        raise InvalidData(f"{path}: header only, no data rows; add one row per sample")
    li = header.index(label_column)
    features = [h for k, h in enumerate(header) if k != li]
    if not features:
        raise InvalidData(f"{path}: no feature columns besides the label column {label_column!r}; add the feature columns")
    X = np.empty((len(rows) - 1, len(features)))
    labels: list[str] = []
    for r, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise InvalidData(f"{path}: line {r} has {len(row)} fields but the header has {len(header)}; "
                              "give every row one value per header column")
        if not row[li].strip():
            raise InvalidData(f"{path}: line {r}, column {label_column!r}: empty label; label the row or drop it")
        labels.append(row[li].strip())
        values = [cell for k, cell in enumerate(row) if k != li]
        for c, (name, cell) in enumerate(zip(features, values)):
            try:
                v = float(cell)
            except ValueError:
                raise InvalidData(f"{path}: line {r}, column {name!r}: non-numeric feature value {cell.strip()!r}; "
                                  "features must be numbers: encode the column or drop it") from None
            if not math.isfinite(v):
                raise InvalidData(f"{path}: line {r}, column {name!r}: non-finite feature value {cell.strip()!r}; "
                                  "drop or impute the row")
            X[r - 2, c] = v
    return X, labels, features


def numeric_labels(labels: list[str]) -> list[Any]:
    """Labels as ints when all are integers (so '10' sorts after '9'), else strings."""
    try:
        return [int(v) for v in labels]
    except ValueError:
        return labels


