"""Reading labelled data for reports (a CSV file with a header row and a label column) and
the default domain of an analysis with data: the data's bounding box.

Constant features (for example the always-blank border pixels of scikit-learn's digits)
have ``lo == hi``; a box needs ``lo < hi``. Such a coordinate ``c`` gets the interval
``[c - δ, c + δ]`` with ``δ = CONSTANT_FEATURE_WIDTH * max(1, |c|)``: the feature stays
fixed up to a relative ``1e-6``, so every analysis sees the data's value, and the report
lists the widened features.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..domain import Box
from ..tabular import check_data_path, numeric_labels, read_labeled_csv

__all__ = ["load_csv", "data_box", "default_label_column", "CONSTANT_FEATURE_WIDTH", "LABEL_NAMES"]

#: Half-width of the interval of a constant feature, relative to ``max(1, |value|)``.
CONSTANT_FEATURE_WIDTH = 1e-6


def data_box(X: np.ndarray) -> tuple[Box, list[int], str]:
    """The bounding box of ``X`` (n, d), constant features widened (see the module docstring).

    Returns ``(box, constant feature indices, note)``; the note is empty when no feature is
    constant.
    """
    lo, hi = X.min(axis=0), X.max(axis=0)
    constant = np.flatnonzero(hi <= lo)
    if constant.size == 0:
        return Box(lo, hi), [], ""
    delta = CONSTANT_FEATURE_WIDTH * np.maximum(1.0, np.abs(lo[constant]))
    lo, hi = lo.copy(), hi.copy()
    lo[constant] -= delta
    hi[constant] += delta
    shown = ", ".join(map(str, constant[:20].tolist())) + (", ..." if constant.size > 20 else "")
    note = (f"{constant.size} of {X.shape[1]} input features are constant on the data (columns {shown}, "
            f"0-based); the domain keeps each at its value c, widened to [c - δ, c + δ] with "
            f"δ = {CONSTANT_FEATURE_WIDTH:g}·max(1, |c|) because a box needs lo < hi.")
    return Box(lo, hi), constant.tolist(), note


#: Column names taken as the label column when none is given (case-insensitive), in order.
LABEL_NAMES = ("label", "target", "class", "y")


def default_label_column(path: str | Path) -> str:
    """The label column of a CSV file when none is given: the first column named one of
    :data:`LABEL_NAMES` (case-insensitive), else the last column."""
    import csv

    try:
        with open(check_data_path(path), newline="") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        header = []  # the reader below names the file and the fault
    if not header:
        read_labeled_csv(path, "")  # raises the reader's error naming the file
    lowered = {h.strip().lower(): h for h in header}
    for name in LABEL_NAMES:
        if name in lowered:
            return lowered[name]
    return header[-1]


def load_csv(path: str | Path, label_column: str | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read ``path`` (CSV with a header) into features ``X`` (float64), labels ``y`` and feature names.

    Every column but ``label_column`` must be numeric. Labels are kept as integers when
    they all parse as integers, as strings otherwise. ``label_column=None``: see
    :func:`default_label_column`.

    Raises
    ------
    InvalidData
        Missing file, missing label column, non-numeric or non-finite feature, ragged row.
    """
    if label_column is None:
        label_column = default_label_column(path)
    X, labels, features = read_labeled_csv(path, label_column)
    return X, np.array(numeric_labels(labels)), features
