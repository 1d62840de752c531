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
from ._errors import unsupported
from .activations import elu, leaky_relu, linear, relu, sigmoid, softmax, tanh
from .config import get_training_mode, init_graph, is_training
from .layers import *  # noqa: F401,F403 - TFLearn exposes its layers at the top level
from .layers import __all__ as _layers_all
from .metrics import Accuracy
from .models.dnn import DNN
# TFLearn exposes its optimizers at the top level too (tflearn.SGD(...)); the ones mnistmlp
# does not train with raise NotImplementedError when made.
from .optimizers import SGD, AdaDelta, AdaGrad, Adam, Ftrl, Momentum, Nesterov, ProximalAdaGrad, RMSProp

__all__ = ["DNN", "init_graph", "is_training", "get_training_mode", "activations", "callbacks", "config", "data_utils", "datasets",
           "initializations", "layers", "metrics", "models", "optimizers", "Accuracy",
           "linear", "relu", "sigmoid", "softmax", "tanh", "leaky_relu", "elu", "SGD", "Momentum", "Nesterov", "Adam",
           "RMSProp", "AdaGrad", "Ftrl", "AdaDelta", "ProximalAdaGrad"] + list(_layers_all)

# The rest of TFLearn's top level, and why each is not here: met in tutorials, so asked for
# by name, they raise NotImplementedError saying so rather than AttributeError.
_NOT_PROVIDED = {
    "variables": "there are no TensorFlow variables: read and write weights with "
                 "DNN.get_weights(layer.W) and DNN.set_weights(layer.W, values)",
    "get_layer_variables_by_name": "use DNN.get_weights(layer.W) and DNN.get_weights(layer.b)",
    "get_all_variables": "use DNN.model.get_weights()",
    "get_all_trainable_variable": "use DNN.model.get_weights()",
    "variable": "there are no TensorFlow variables",
    "helpers": "training runs in DNN.fit",
    "Trainer": "training runs in DNN.fit",
    "Evaluator": "use DNN.evaluate or DNN.predict",
    "summaries": "TensorBoard summaries are not written",
    "summarize": "TensorBoard summaries are not written",
    "objectives": "name the loss in regression(loss=...): 'categorical_crossentropy' or 'mean_square'",
}


def __getattr__(name: str):
    if name in _NOT_PROVIDED:
        raise unsupported(f"tflearn.{name}", _NOT_PROVIDED[name])
    raise AttributeError(f"module 'mnistmlp.tflearn' has no attribute {name!r}")
