"""Reading labelled data for reports: a CSV file with a header row and a label column."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..tabular import numeric_labels, read_labeled_csv

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
    X, labels, features = read_labeled_csv(path, label_column)
    return X, np.array(numeric_labels(labels)), features
