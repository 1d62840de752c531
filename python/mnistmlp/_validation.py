"""Input checks at the Python boundary: done once per call, before any native work.

Every failure names what was expected and what was given, so a shape or dtype slip reads
as an explanation rather than a crash inside the engine.
"""

from __future__ import annotations

import numbers
import os
import sys
import warnings
from types import FrameType
from typing import Optional

import numpy as np

ENGINE_INPUT_DTYPES = (np.uint8, np.float32, np.float64)
# Float inputs are pixel intensities in [0, 1]. Beyond this magnitude they are most likely raw
# 0..255 values (which train to a loss of about 30), not standardized features.
FLOAT_INPUT_WARNING_MAGNITUDE = 20.0
# Rows looked at for that warning: a strided sample, so the check costs a small part of a pass.
_RANGE_SAMPLE_ROWS = 256


def check_int(name: str, value, minimum: int, maximum: Optional[int] = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    number = int(value)
    if number < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {number}")
    return number


def as_inputs(X, n_features: int, what: str = "X", *, pixels: bool = True) -> np.ndarray:
    """X as a C-contiguous (n, n_features) array of uint8, float32 or float64.

    (n, 28, 28) images are flattened; uint8 is kept (the engine scales it by 1/255 as it
    gathers each batch); other dtypes are refused, saying how to convert. Float ``pixels``
    far outside [0, 1] give a RuntimeWarning (raw 0..255 values). NaN and Inf are the engine's to
    refuse, as it reads X (a pass over X here would cost a fifth of a prediction, or a
    twentieth of an epoch).
    """
    X = np.asarray(X)
    if X.dtype not in ENGINE_INPUT_DTYPES:
        hint = (" (pixel values 0..255: convert with X.astype(np.uint8))" if np.issubdtype(X.dtype, np.integer)
                else " (convert with X.astype(np.float32))" if np.issubdtype(X.dtype, np.floating) else "")
        raise TypeError(f"{what} must be uint8, float32 or float64, got dtype {X.dtype}{hint}")
    add_batch_axis = f"add a batch axis: {what}[None] (or {what}.reshape(1, -1))"
    if X.ndim == 1 and X.size == n_features:
        raise ValueError(
            f"{what} has shape {X.shape}: one sample without a batch axis, but the network takes "
            f"(n_samples, {n_features}); {add_batch_axis}"
        )
    if X.ndim == 3:
        X = X.reshape(X.shape[0], -1)
    if X.ndim != 2:
        raise ValueError(
            f"{what} must have shape (n_samples, {n_features}) or (n_samples, height, width), "
            f"got shape {X.shape}"
        )
    if X.shape[1] != n_features:
        image = f"; if it is one image of shape {X.shape}, {add_batch_axis}" if X.size == n_features else ""
        raise ValueError(f"{what} has {X.shape[1]} features per sample but the network expects {n_features}{image}")
    if X.shape[0] == 0:
        raise ValueError(f"{what} has no samples")
    if pixels and X.dtype != np.uint8:
        _warn_if_not_scaled(X, what)
    return np.ascontiguousarray(X)


def _warn_if_not_scaled(X: np.ndarray, what: str) -> None:
    """Warn when float inputs look like raw pixel values 0..255 rather than intensities in
    [0, 1], judged from a strided sample of rows. Python shows it once per line of the
    caller's code that passed them."""
    sample = X[:: max(1, X.shape[0] // _RANGE_SAMPLE_ROWS)]
    largest = float(np.abs(sample[np.isfinite(sample)]).max(initial=0.0))  # NaN and Inf are refused elsewhere
    if largest > FLOAT_INPUT_WARNING_MAGNITUDE:
        warnings.warn(
            f"{what} holds float values far outside [0, 1] (beyond {FLOAT_INPUT_WARNING_MAGNITUDE:g}); "
            "mnistmlp expects pixel intensities in [0, 1] (uint8 images are scaled by 1/255 as they "
            "are read). Divide float images by 255, or pass them as uint8.",
            RuntimeWarning,
            stacklevel=stacklevel_outside_package(),
        )


def stacklevel_outside_package() -> int:
    """The warnings stacklevel of the first caller outside mnistmlp, so a warning points at
    the user's line however deep in the package it was raised."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame: Optional[FrameType] = sys._getframe(1)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def as_targets(y, n_samples: int, n_classes: int, dtype: np.dtype, what: str = "y", *, loss: str) -> np.ndarray:
    """y as int32 labels (n,) when it is labels or exactly one-hot, else dense rows (n, K).

    Dense rows (soft targets) keep the model's dtype. Labels must lie in 0..K-1. For
    cross-entropy, dense targets are class weights (>= 0); for ``loss="mean_square"`` they
    are any finite values, and a one-output model's targets may come as a column (n,).
    """
    y = np.asarray(y)
    regression = loss == "mean_square"
    if regression and n_classes == 1:
        if y.ndim == 1:
            y = y[:, np.newaxis]
    elif y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.shape[:1] != (n_samples,):
        raise ValueError(f"X has {n_samples} samples but {what} has {y.shape[0] if y.ndim else 0} (shape {y.shape})")
    if y.ndim == 1:
        if y.dtype == np.bool_ or not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
            raise TypeError(f"{what} labels must be integers, got dtype {y.dtype}")
        if np.issubdtype(y.dtype, np.floating):
            if not np.isfinite(y).all() or not np.all(y == np.round(y)):
                raise ValueError(f"{what} labels must be whole numbers, got non-integer values")
        lo, hi = y.min(), y.max()
        if lo < 0 or hi >= n_classes:
            raise ValueError(f"{what} labels must lie in 0..{n_classes - 1}, got values from {lo} to {hi}")
        return np.ascontiguousarray(y, dtype=np.int32)
    if y.ndim != 2 or y.shape[1] != n_classes:
        raise ValueError(
            f"{what} must be labels of shape ({n_samples},) or one-hot rows of shape "
            f"({n_samples}, {n_classes}), got shape {y.shape}"
        )
    if not (np.issubdtype(y.dtype, np.floating) or np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_):
        raise TypeError(f"{what} must be numeric, got dtype {y.dtype}")
    if not np.isfinite(y).all():
        raise ValueError(f"{what} contains NaN or Inf")
    if not regression and np.any(y < 0):
        raise ValueError(f"{what} targets must be >= 0 (one-hot or class weights)")
    labels = y.argmax(axis=1)
    one_hot = np.all(y.sum(axis=1) == 1) and np.all(y[np.arange(n_samples), labels] == 1)
    if one_hot:
        return labels.astype(np.int32)
    return np.ascontiguousarray(y, dtype=dtype)
