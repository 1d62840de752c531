"""Optimizers as configuration: small frozen objects, validated when made.

The update equations run in the C++ engine, which also keeps the optimizer state (momentum
buffers, Adam's moments) in the model's parameter arena. They follow TensorFlow 1, which
TFLearn used, so that the TFLearn tutorial's runs can be reproduced:

* :class:`SGD` — ``lr_t = learning_rate * decay_rate ** (t / decay_steps)`` (``t`` = updates
  already applied; ``floor(t / decay_steps)`` when ``staircase``; no decay by default), then

  - plain:    ``w -= lr_t * g``
  - momentum: ``v = momentum * v + g;  w -= lr_t * v``
  - Nesterov: ``v = momentum * v + g;  w -= lr_t * (g + momentum * v)``

* :class:`Adam` — with ``t`` counting from 1::

      m = beta1 * m + (1 - beta1) * g
      v = beta2 * v + (1 - beta2) * g**2
      lr_t = learning_rate * sqrt(1 - beta2**t) / (1 - beta1**t)
      w -= lr_t * m / (sqrt(v) + epsilon)

  Epsilon sits outside the bias correction (TensorFlow's form). The Adam paper writes
  ``m_hat / (sqrt(v_hat) + epsilon)``; the two differ only through where epsilon enters.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional, Union

import numpy as np

__all__ = ["SGD", "Adam", "Optimizer", "get"]


def _check_positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def _check_flag(optimizer, name: str) -> None:
    """A True/False setting, stored as a Python bool (numpy's bool_ included)."""
    value = getattr(optimizer, name)
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    object.__setattr__(optimizer, name, bool(value))  # frozen: set once, while being made


def _check_unit_interval(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")


@dataclasses.dataclass(frozen=True)
class SGD:
    """Stochastic gradient descent with optional momentum, Nesterov and exponential decay."""

    learning_rate: float = 0.01
    momentum: float = 0.0
    nesterov: bool = False
    decay_rate: Optional[float] = None
    decay_steps: Optional[float] = None
    staircase: bool = False

    name = "sgd"

    def __post_init__(self) -> None:
        _check_positive("learning_rate", self.learning_rate)
        _check_unit_interval("momentum", self.momentum)
        _check_flag(self, "nesterov")
        _check_flag(self, "staircase")
        if self.nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs a momentum > 0")
        if (self.decay_rate is None) != (self.decay_steps is None):
            raise ValueError("give both decay_rate and decay_steps, or neither")
        if self.decay_rate is not None:
            # A rate above 1 grows the learning rate exponentially: training then diverges.
            _check_positive("decay_rate", self.decay_rate)
            if self.decay_rate > 1:
                raise ValueError(f"decay_rate must be in (0, 1] (a rate above 1 grows the learning rate), got {self.decay_rate!r}")
            _check_positive("decay_steps", self.decay_steps)

    def _engine_args(self) -> dict:
        return dict(
            optimizer="sgd",
            learning_rate=float(self.learning_rate),
            momentum=float(self.momentum),
            nesterov=bool(self.nesterov),
            decay_rate=1.0 if self.decay_rate is None else float(self.decay_rate),
            decay_steps=1.0 if self.decay_steps is None else float(self.decay_steps),
            staircase=bool(self.staircase),
        )


@dataclasses.dataclass(frozen=True)
class Adam:
    """Adam, as TensorFlow 1 computes it (see the module docstring for where epsilon sits)."""

    learning_rate: float = 0.001
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8

    name = "adam"

    def __post_init__(self) -> None:
        _check_positive("learning_rate", self.learning_rate)
        _check_unit_interval("beta1", self.beta1)
        _check_unit_interval("beta2", self.beta2)
        # Zero would divide 0 by 0 for weights whose gradient stays zero (MNIST's border pixels).
        _check_positive("epsilon", self.epsilon)

    def _engine_args(self) -> dict:
        return dict(
            optimizer="adam",
            learning_rate=float(self.learning_rate),
            beta1=float(self.beta1),
            beta2=float(self.beta2),
            epsilon=float(self.epsilon),
        )


Optimizer = Union[SGD, Adam]
_BY_NAME = {"sgd": SGD, "adam": Adam}


def get(optimizer: Union[str, Optimizer], learning_rate: Optional[float] = None) -> Optimizer:
    """An optimizer object from a name (``"sgd"``, ``"adam"``) or an object.

    ``learning_rate``, when given, replaces the optimizer's own.
    """
    if isinstance(optimizer, str):
        try:
            cls = _BY_NAME[optimizer.lower()]
        except KeyError:
            raise ValueError(
                f"unknown optimizer {optimizer!r}; expected one of: {', '.join(_BY_NAME)} "
                "or an object from mnistmlp.optimizers"
            ) from None
        return cls() if learning_rate is None else cls(learning_rate=learning_rate)
    if isinstance(optimizer, (SGD, Adam)):
        return optimizer if learning_rate is None else dataclasses.replace(optimizer, learning_rate=learning_rate)
    raise TypeError(
        f"optimizer must be a name ('sgd', 'adam') or an mnistmlp.optimizers object, got {type(optimizer).__name__}"
    )
