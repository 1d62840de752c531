"""Helpers for tests that compare parameters and gradients: lists of ``(W, b)`` pairs."""

from __future__ import annotations

import numpy as np


def flat(pairs):
    """The arrays of ``[(W_1, b_1), (W_2, b_2), ...]`` (parameters or gradients) as one vector."""
    return np.concatenate([array.ravel() for pair in pairs for array in pair])
