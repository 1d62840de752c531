"""Weight initialisers by name or as objects, with TFLearn's defaults.

``truncated_normal`` (stddev 0.02, values beyond two standard deviations redrawn) is what
``fully_connected`` uses unless told otherwise. Each initialiser draws from a NumPy generator
seeded by the model's seed and the layer's position, so a seeded model starts the same way
every run.
"""

from __future__ import annotations

import math
from typing import Callable, Dict, Sequence

import numpy as np

from ._errors import unsupported

__all__ = ["Initializer", "truncated_normal", "normal", "uniform", "uniform_scaling", "xavier",
           "variance_scaling", "zeros", "get"]


class Initializer:
    """Draws an array of a given shape; made by the functions of this module."""

    def __init__(self, name: str, draw) -> None:
        self.name = name
        self._draw = draw

    def __call__(self, shape: Sequence[int], rng: np.random.Generator) -> np.ndarray:
        return np.asarray(self._draw(tuple(shape), rng), dtype=np.float64)

    def __repr__(self) -> str:
        return f"<initializer {self.name}>"


def _fans(shape):
    fan_in = shape[0] if len(shape) > 1 else shape[0]
    fan_out = shape[1] if len(shape) > 1 else shape[0]
    return fan_in, fan_out


def _truncated(rng, shape, mean, stddev):
    values = rng.standard_normal(shape)
    outside = np.abs(values) > 2
    while outside.any():  # TensorFlow redraws values beyond two standard deviations
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2
    return mean + stddev * values


def truncated_normal(shape=None, mean=0.0, stddev=0.02, dtype=None, seed=None) -> Initializer:
    """N(mean, stddev) with values beyond two standard deviations redrawn (TFLearn's default)."""
    _check_unused(shape, seed)
    return Initializer(f"truncated_normal(mean={mean}, stddev={stddev})",
                       lambda s, rng: _truncated(rng, s, mean, stddev))


def normal(shape=None, mean=0.0, stddev=0.02, dtype=None, seed=None) -> Initializer:
    """N(mean, stddev)."""
    _check_unused(shape, seed)
    return Initializer(f"normal(mean={mean}, stddev={stddev})", lambda s, rng: rng.normal(mean, stddev, s))


def uniform(shape=None, minval=0, maxval=None, dtype=None, seed=None) -> Initializer:
    """U[minval, maxval); maxval defaults to 1, as TensorFlow's random_uniform_initializer."""
    _check_unused(shape, seed)
    high = 1.0 if maxval is None else maxval
    return Initializer(f"uniform({minval}, {high})", lambda s, rng: rng.uniform(minval, high, s))


def uniform_scaling(shape=None, factor=1.0, dtype=None, seed=None) -> Initializer:
    """U(-a, a) with a = sqrt(3 * factor / fan_in)."""
    _check_unused(shape, seed)

    def draw(s, rng):
        limit = math.sqrt(3 * factor / _fans(s)[0])
        return rng.uniform(-limit, limit, s)

    return Initializer(f"uniform_scaling(factor={factor})", draw)


def xavier(uniform=True, seed=None, dtype=None) -> Initializer:
    """Glorot/Xavier: U(+-sqrt(6 / (fan_in + fan_out))), or a truncated normal of stddev
    sqrt(1.3 * 2 / (fan_in + fan_out)) when ``uniform=False``."""
    _check_unused(None, seed)

    def draw(s, rng):
        fan_in, fan_out = _fans(s)
        if uniform:
            limit = math.sqrt(6.0 / (fan_in + fan_out))
            return rng.uniform(-limit, limit, s)
        return _truncated(rng, s, 0.0, math.sqrt(1.3 * 2.0 / (fan_in + fan_out)))

    return Initializer(f"xavier(uniform={uniform})", draw)


def variance_scaling(factor=2.0, mode="FAN_IN", uniform=False, seed=None, dtype=None) -> Initializer:
    """He-style scaling: variance factor / n, n by ``mode`` (FAN_IN, FAN_OUT or FAN_AVG);
    uniform, or a truncated normal of stddev sqrt(1.3 * factor / n) (TensorFlow 1's form)."""
    _check_unused(None, seed)
    if mode not in ("FAN_IN", "FAN_OUT", "FAN_AVG"):
        raise ValueError(f"variance_scaling: mode must be FAN_IN, FAN_OUT or FAN_AVG, got {mode!r}")

    def draw(s, rng):
        fan_in, fan_out = _fans(s)
        n = {"FAN_IN": fan_in, "FAN_OUT": fan_out, "FAN_AVG": (fan_in + fan_out) / 2}[mode]
        if uniform:
            limit = math.sqrt(3.0 * factor / n)
            return rng.uniform(-limit, limit, s)
        return _truncated(rng, s, 0.0, math.sqrt(1.3 * factor / n))

    return Initializer(f"variance_scaling(factor={factor}, mode={mode}, uniform={uniform})", draw)


def zeros(shape=None, dtype=None, seed=None) -> Initializer:
    """All zeros."""
    _check_unused(shape, seed)
    return Initializer("zeros", lambda s, rng: np.zeros(s))


def _check_unused(shape, seed) -> None:
    if shape is not None:
        raise unsupported("initialisers called with a shape", "pass the initialiser itself to fully_connected")
    if seed is not None:
        raise unsupported("per-initialiser seeds", "seed the whole model with tflearn.init_graph(seed=...)")


_BY_NAME: Dict[str, Callable[[], Initializer]] = {
    "truncated_normal": truncated_normal,
    "normal": normal,
    "uniform": uniform,
    "uniform_scaling": uniform_scaling,
    "xavier": xavier,
    "variance_scaling": variance_scaling,
    "zeros": zeros,
}


def get(init) -> Initializer:
    """An initialiser from a name, an :class:`Initializer`, or a constant number."""
    if isinstance(init, Initializer):
        return init
    if isinstance(init, str):
        try:
            return _BY_NAME[init.lower()]()
        except KeyError:
            raise ValueError(f"unknown initialiser {init!r}; expected one of: {', '.join(_BY_NAME)}") from None
    if isinstance(init, (int, float)) and not isinstance(init, bool):
        value = float(init)
        return Initializer(f"constant({value})", lambda s, rng: np.full(s, value))
    raise TypeError(f"an initialiser must be a name, a tflearn.initializations object or a number, got {init!r}")
