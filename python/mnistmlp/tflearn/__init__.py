"""TFLearn's API for multilayer perceptrons, on mnistmlp's engine.

The TFLearn MNIST notebook runs unchanged but for its imports::

    import mnistmlp.tflearn as tflearn
    from mnistmlp.tflearn.datasets import mnist

Argument names, order and defaults follow TFLearn's (``fully_connected`` initialises weights
from a truncated normal of stddev 0.02, ``regression`` trains with Adam at 0.001, ``DNN``
clips gradients to a global norm of 5.0). Differences:

* no hidden graph: every ``DNN`` is independent, so several models live in one process;
* ``init_graph`` sets the thread count and seed of the models built after it;
* categorical cross-entropy is computed exactly through log-softmax; TFLearn clips the
  softmax output to [1e-10, 1 - 1e-10] first, which only matters for probabilities within
  1e-10 of 0 or 1;
* models are saved as one safetensors file (``DNN.save``), not TensorFlow checkpoints;
* what mnistmlp does not do (convolutions, recurrent layers, TensorBoard logging, sessions,
  other losses and optimizers) raises ``NotImplementedError`` naming it, rather than being
  ignored.
"""

from . import activations, callbacks, config, data_utils, datasets, initializations, layers, metrics, models, optimizers
from .config import init_graph
from .layers import *  # noqa: F401,F403 - TFLearn exposes its layers at the top level
from .layers import __all__ as _layers_all
from .models.dnn import DNN

__all__ = ["DNN", "init_graph", "activations", "callbacks", "config", "data_utils", "datasets",
           "initializations", "layers", "metrics", "models", "optimizers"] + list(_layers_all)
