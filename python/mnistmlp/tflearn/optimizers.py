"""TFLearn's optimizers, with its argument names and defaults, mapped onto mnistmlp's.

``SGD(learning_rate=0.001, lr_decay=0.0, decay_step=100, staircase=False)``,
``Momentum(learning_rate=0.001, momentum=0.9, ...)``, ``Nesterov(...)``,
``Adam(learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-08)``,
``RMSProp(learning_rate=0.001, decay=0.9, momentum=0.0, epsilon=1e-10)`` and
``AdaGrad(learning_rate=0.001, initial_accumulator_value=0.1)``; by name in
``regression(optimizer=...)`` as 'sgd', 'momentum', 'nesterov', 'adam', 'rmsprop' and
'adagrad'. ``lr_decay`` > 0 decays the learning rate as TensorFlow's ``exponential_decay``:
``lr * lr_decay ** (step / decay_step)`` (``floor`` of the exponent when ``staircase``).
Ftrl, AdaDelta and ProximalAdaGrad raise NotImplementedError.
"""

from __future__ import annotations

from typing import Callable

from .. import optimizers as _core_optimizers
from ._errors import unsupported

__all__ = ["Optimizer", "SGD", "Momentum", "Nesterov", "Adam", "RMSProp", "AdaGrad", "get"]


class Optimizer:
    """Base class: ``name`` is what the training display shows (``| SGD | epoch: ...``)."""

    def __init__(self, learning_rate: float, use_locking: bool, name: str) -> None:
        self.learning_rate = learning_rate
        self.use_locking = use_locking
        self.name = name

    def _engine_optimizer(self):
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"tflearn.optimizers.{type(self).__name__}(learning_rate={self.learning_rate})"


class _DecayingMomentum(Optimizer):
    # mnistmlp's optimizer: SGD for plain SGD, Momentum (TFLearn's name) for the others.
    _engine_class: Callable[..., _core_optimizers.Optimizer] = _core_optimizers.Momentum

    def __init__(self, learning_rate, momentum, lr_decay, decay_step, staircase, use_locking, name, nesterov):
        super().__init__(learning_rate, use_locking, name)
        self.momentum, self.lr_decay, self.decay_step, self.staircase = momentum, lr_decay, decay_step, staircase
        self.nesterov = nesterov
        self._engine_optimizer()  # validate now, as TFLearn users expect errors at construction

    def _engine_optimizer(self):
        decay = self.lr_decay if self.lr_decay else None
        return self._engine_class(
            learning_rate=self.learning_rate, momentum=self.momentum, nesterov=self.nesterov,
            decay_rate=decay, decay_steps=self.decay_step if decay else None, staircase=bool(self.staircase),
        )


class SGD(_DecayingMomentum):
    """Plain stochastic gradient descent."""

    _engine_class = _core_optimizers.SGD

    def __init__(self, learning_rate=0.001, lr_decay=0.0, decay_step=100, staircase=False,
                 use_locking=False, name="SGD"):
        super().__init__(learning_rate, 0.0, lr_decay, decay_step, staircase, use_locking, name, False)


class Momentum(_DecayingMomentum):
    """SGD with momentum: ``v = momentum * v + g; w -= lr * v``."""

    def __init__(self, learning_rate=0.001, momentum=0.9, lr_decay=0.0, decay_step=100,
                 staircase=False, use_locking=False, name="Momentum"):
        super().__init__(learning_rate, momentum, lr_decay, decay_step, staircase, use_locking, name, False)


class Nesterov(_DecayingMomentum):
    """SGD with Nesterov momentum."""

    def __init__(self, learning_rate=0.001, momentum=0.9, lr_decay=0.0, decay_step=100,
                 staircase=False, use_locking=False, name="Nesterov"):
        super().__init__(learning_rate, momentum, lr_decay, decay_step, staircase, use_locking, name, True)


class Adam(Optimizer):
    """Adam, as TensorFlow 1 computes it (epsilon outside the bias correction)."""

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-08,
                 use_locking=False, name="Adam"):
        super().__init__(learning_rate, use_locking, name)
        self.beta1, self.beta2, self.epsilon = beta1, beta2, epsilon
        self._engine_optimizer()

    def _engine_optimizer(self):
        return _core_optimizers.Adam(self.learning_rate, self.beta1, self.beta2, self.epsilon)


class RMSProp(Optimizer):
    """RMSProp, as TensorFlow 1 computes it (its mean square starts at 1)."""

    def __init__(self, learning_rate=0.001, decay=0.9, momentum=0.0, epsilon=1e-10, use_locking=False,
                 name="RMSProp"):
        super().__init__(learning_rate, use_locking, name)
        self.decay, self.momentum, self.epsilon = decay, momentum, epsilon
        self._engine_optimizer()

    def _engine_optimizer(self):
        return _core_optimizers.RMSProp(self.learning_rate, self.decay, self.momentum, self.epsilon)


class AdaGrad(Optimizer):
    """AdaGrad, as TensorFlow 1 computes it (no epsilon)."""

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, use_locking=False, name="AdaGrad"):
        super().__init__(learning_rate, use_locking, name)
        self.initial_accumulator_value = initial_accumulator_value
        self._engine_optimizer()

    def _engine_optimizer(self):
        return _core_optimizers.AdaGrad(self.learning_rate, self.initial_accumulator_value)


_BY_NAME = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adam": Adam, "rmsprop": RMSProp,
            "adagrad": AdaGrad}
_KNOWN_UNSUPPORTED = ("ftrl", "adadelta", "proximaladagrad")


def _unsupported_optimizer(class_name: str):
    class Unsupported(Optimizer):
        def __init__(self, *args, **kwargs):
            raise unsupported(f"the {class_name} optimizer", "use SGD, Momentum, Nesterov, Adam, RMSProp or AdaGrad")

    Unsupported.__name__ = Unsupported.__qualname__ = class_name
    return Unsupported


Ftrl = _unsupported_optimizer("Ftrl")
AdaDelta = _unsupported_optimizer("AdaDelta")
ProximalAdaGrad = _unsupported_optimizer("ProximalAdaGrad")


def get(optimizer, learning_rate: float) -> Optimizer:
    """An optimizer object from a name (with ``learning_rate``) or an object (kept as is)."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str):
        name = optimizer.lower()
        if name in _BY_NAME:
            return _BY_NAME[name](learning_rate=learning_rate)
        if name in _KNOWN_UNSUPPORTED:
            raise unsupported(f"the optimizer {optimizer!r}", f"use one of {', '.join(_BY_NAME)}")
        raise ValueError(f"unknown optimizer {optimizer!r}; expected one of: {', '.join(_BY_NAME)}")
    raise TypeError(f"optimizer must be a name or a tflearn.optimizers object, got {optimizer!r}")
