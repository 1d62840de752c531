"""A drawing made the way MNIST's digits were made, so a model trained on MNIST reads it.

MNIST's images are handwritten digits scaled, aspect ratio kept, to fit a 20×20 box (with
anti-aliasing, which makes grey levels), then placed in a 28×28 field so that their centre of
mass lies at the field's centre (LeCun, Cortes and Burges, the MNIST page). A digit drawn on a
canvas is any size, anywhere: :func:`to_mnist` does the same to it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["to_mnist", "MNIST_SIDE", "DIGIT_BOX", "MAX_DRAWING_SIDE"]

MNIST_SIDE = 28
DIGIT_BOX = 20
#: The largest drawing taken, per side: a canvas sends a few hundred pixels a side at most.
MAX_DRAWING_SIDE = 1024


def _box_weights(n: int, m: int) -> np.ndarray:
    """(m, n): how much of each of ``n`` input pixels falls in each of ``m`` output pixels, as
    a fraction of the output pixel: area averaging, the anti-aliasing of a shrinking image."""
    edges = np.arange(m + 1) * (n / m)
    left, right = edges[:-1, None], edges[1:, None]
    pixel = np.arange(n)[None, :]
    overlap = np.clip(np.minimum(right, pixel + 1) - np.maximum(left, pixel), 0, None)
    return overlap / (n / m)


def to_mnist(drawing) -> np.ndarray:
    """A grey-level drawing (H, W), ink bright on a dark ground (uint8 0..255 or floats in
    [0, 1]), as a (28, 28) uint8 MNIST image: cropped to its ink, scaled to fit 20×20 keeping
    its aspect ratio, centred by centre of mass. A drawing without ink gives a blank image."""
    image = np.asarray(drawing)
    if image.ndim != 2 or not (1 <= min(image.shape) and max(image.shape) <= MAX_DRAWING_SIDE):
        raise ValueError(f"a drawing must be a 2-D image of at most {MAX_DRAWING_SIDE} pixels a side, "
                         f"got shape {image.shape}")
    if image.dtype == np.uint8:
        image = image / 255.0
    elif np.issubdtype(image.dtype, np.floating) and np.isfinite(image).all():
        image = np.clip(image.astype(np.float64), 0.0, 1.0)
    else:
        raise ValueError(f"a drawing must be uint8 or finite floats in [0, 1], got dtype {image.dtype}")
    out = np.zeros((MNIST_SIDE, MNIST_SIDE))
    if image.max() <= 0:
        return out.astype(np.uint8)
    # Every inked pixel counts, as in MNIST, whose digits all span exactly 20 pixels: an MNIST
    # image is then its own result.
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    digit = image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    height, width = digit.shape
    scale = DIGIT_BOX / max(height, width)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    digit = _box_weights(height, size[0]) @ digit @ _box_weights(width, size[1]).T
    # The centre of mass goes to (14, 14), where MNIST's digits have it (in pixel indices), as
    # far as the field allows (a lopsided stroke would otherwise be pushed off the edge).
    mass = digit.sum()
    centre = [(np.arange(n) * digit.sum(axis=1 - axis)).sum() / mass for axis, n in enumerate(digit.shape)]
    top, left = (int(np.clip(round(MNIST_SIDE / 2 - c), 0, MNIST_SIDE - n)) for c, n in zip(centre, digit.shape))
    out[top:top + size[0], left:left + size[1]] = digit
    return np.rint(out * 255).astype(np.uint8)
