"""TFLearn's optimizers, with its argument names and defaults, mapped onto mnistmlp's.

``SGD(learning_rate=0.001, lr_decay=0.0, decay_step=100, staircase=False)``,
``Momentum(learning_rate=0.001, momentum=0.9, ...)``, ``Nesterov(...)`` and
``Adam(learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-08)``; by name in
``regression(optimizer=...)`` as 'sgd', 'momentum', 'nesterov' and 'adam'. ``lr_decay`` > 0
decays the learning rate as TensorFlow's ``exponential_decay``:
``lr * lr_decay ** (step / decay_step)`` (``floor`` of the exponent when ``staircase``).
"""

from __future__ import annotations

from .. import optimizers as _core_optimizers
from ._errors import unsupported

__all__ = ["Optimizer", "SGD", "Momentum", "Nesterov", "Adam", "get"]


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
    def __init__(self, learning_rate, momentum, lr_decay, decay_step, staircase, use_locking, name, nesterov):
        super().__init__(learning_rate, use_locking, name)
        self.momentum, self.lr_decay, self.decay_step, self.staircase = momentum, lr_decay, decay_step, staircase
        self.nesterov = nesterov
        self._engine_optimizer()  # validate now, as TFLearn users expect errors at construction

    def _engine_optimizer(self):
        decay = self.lr_decay if self.lr_decay else None
        return _core_optimizers.SGD(
            learning_rate=self.learning_rate, momentum=self.momentum, nesterov=self.nesterov,
            decay_rate=decay, decay_steps=self.decay_step if decay else None, staircase=bool(self.staircase),
        )


class SGD(_DecayingMomentum):
    """Plain stochastic gradient descent."""

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


_BY_NAME = {"sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adam": Adam}
_KNOWN_UNSUPPORTED = ("rmsprop", "adagrad", "ftrl", "adadelta", "proximaladagrad")


def _unsupported_optimizer(class_name: str):
    class Unsupported(Optimizer):
        def __init__(self, *args, **kwargs):
            raise unsupported(f"the {class_name} optimizer", "use SGD, Momentum, Nesterov or Adam")

    Unsupported.__name__ = Unsupported.__qualname__ = class_name
    return Unsupported


RMSProp = _unsupported_optimizer("RMSProp")
AdaGrad = _unsupported_optimizer("AdaGrad")
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
