"""Optimizers as configuration: small frozen objects, checked when made.

The update equations run in the C++ engine, which also keeps the optimizer state (momentum
buffers, Adam's moments, ...) in the model's parameter arena. They follow TensorFlow 1, which
TFLearn used, so that the TFLearn tutorial's runs can be reproduced; float32 models take
TensorFlow's float32 operations in TensorFlow's order. ``g`` is the gradient (after clipping),
``t`` the number of updates already applied.

* :class:`SGD` — ``lr_t = learning_rate * decay_rate ** (t / decay_steps)``
  (``floor(t / decay_steps)`` when ``staircase``; no decay by default), then

  - plain:    ``w -= lr_t * g``
  - momentum: ``v = momentum * v + g;  w -= lr_t * v``
  - Nesterov: ``v = momentum * v + g;  w -= lr_t * g + lr_t * momentum * v``

* :class:`Momentum` — SGD with momentum under TFLearn's name and defaults
  (``learning_rate=0.001, momentum=0.9``).

* :class:`Adam` — with ``t`` counting from 1::

      m = beta1 * m + (1 - beta1) * g
      v = beta2 * v + (1 - beta2) * g**2
      lr_t = learning_rate * sqrt(1 - beta2**t) / (1 - beta1**t)
      w -= lr_t * m / (sqrt(v) + epsilon)

  Epsilon sits outside the bias correction (TensorFlow's form). The Adam paper writes
  ``m_hat / (sqrt(v_hat) + epsilon)``; the two differ only through where epsilon enters.

* :class:`RMSProp` — TensorFlow's, its mean square ``ms`` starting at 1::

      ms = decay * ms + (1 - decay) * g**2
      mom = momentum * mom + learning_rate * g / sqrt(ms + epsilon)
      w -= mom

* :class:`AdaGrad` — TensorFlow's, its accumulator starting at ``initial_accumulator_value``::

      accumulator += g**2
      w -= learning_rate * g / sqrt(accumulator)

Each class's settings, defaults and the rules they obey are written once, in
:mod:`mnistmlp._spec`; :func:`get` makes one from a name.
"""

from __future__ import annotations

from typing import Optional, Union

from ._spec import OPTIMIZERS, AdaGrad, Adam, Momentum, Optimizer, RMSProp, SGD, make_optimizer

__all__ = ["SGD", "Momentum", "Adam", "RMSProp", "AdaGrad", "Optimizer", "OPTIMIZERS", "get"]


def get(optimizer: Union[str, Optimizer], learning_rate: Optional[float] = None) -> Optimizer:
    """An optimizer object from a name (one of :data:`OPTIMIZERS`) or an object;
    ``learning_rate``, when given, replaces the optimizer's own."""
    return make_optimizer(optimizer, learning_rate)
