"""TFLearn's data helpers that MLP code uses."""

from __future__ import annotations

import numpy as np

__all__ = ["to_categorical"]


def to_categorical(y, nb_classes=None) -> np.ndarray:
    """One-hot float32 rows for integer labels ``y`` (``nb_classes`` defaults to max + 1)."""
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"to_categorical: y must be a 1-D array of integer labels, got shape {y.shape}, dtype {y.dtype}")
    if y.size and y.min() < 0:
        raise ValueError("to_categorical: labels must be >= 0")
    n = int(y.max()) + 1 if nb_classes is None else int(nb_classes)
    if y.size and y.max() >= n:
        raise ValueError(f"to_categorical: label {int(y.max())} does not fit nb_classes={n}")
    out = np.zeros((len(y), n), np.float32)
    out[np.arange(len(y)), y] = 1
    return out
