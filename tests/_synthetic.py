"""MNIST-like data made up on the spot, for tests that train without the real files."""

from __future__ import annotations

import numpy as np

LABELS = ("brighter_half", "brighter_half_and_parity", "teacher", "random")


def mnist_like(n, seed=0, labels="brighter_half"):
    """``n`` uint8 images of 784 pixels, about 80% of them zero as in MNIST, and labels:

    - ``"brighter_half"``: 1 where the first 392 pixels sum to more than the last 392, else 0
      (two classes an MLP learns);
    - ``"brighter_half_and_parity"``: that, plus 2 x the parity of the even pixels' sum (four
      classes; the parity bit is one no MLP learns in a few epochs);
    - ``"teacher"`` (int32): the argmax of a fixed random linear map of the pixels, ten classes
      learnable like MNIST's, so training is well-conditioned and two engines' runs stay together;
    - ``"random"``: 0..9 drawn at random (nothing to learn), after the images, from the same
      generator.
    """
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, size=(n, 784), dtype=np.uint8)
    X[rng.random((n, 784)) < 0.8] = 0
    brighter_half = (X[:, :392].sum(axis=1) > X[:, 392:].sum(axis=1)).astype(np.int64)
    if labels == "brighter_half":
        return X, brighter_half
    if labels == "brighter_half_and_parity":
        return X, brighter_half + 2 * (X[:, ::2].sum(axis=1) % 2)
    if labels == "teacher":
        teacher = np.random.default_rng(100).normal(size=(784, 10))
        return X, (X.astype(np.float64) @ teacher).argmax(axis=1).astype(np.int32)
    if labels == "random":
        return X, rng.integers(0, 10, n)
    raise ValueError(f"labels must be one of {LABELS}, got {labels!r}")
