"""TFLearn's layers that make a multilayer perceptron; the others raise NotImplementedError."""

from .._errors import unsupported_layer
from .core import Layer, Variable, dropout, flatten, fully_connected, input_data
from .estimator import regression

conv_1d = unsupported_layer("conv_1d")
conv_2d = unsupported_layer("conv_2d")
conv_3d = unsupported_layer("conv_3d")
max_pool_1d = unsupported_layer("max_pool_1d")
max_pool_2d = unsupported_layer("max_pool_2d")
avg_pool_2d = unsupported_layer("avg_pool_2d")
global_avg_pool = unsupported_layer("global_avg_pool")
batch_normalization = unsupported_layer("batch_normalization")
local_response_normalization = unsupported_layer("local_response_normalization")
embedding = unsupported_layer("embedding")
lstm = unsupported_layer("lstm")
gru = unsupported_layer("gru")
simple_rnn = unsupported_layer("simple_rnn")
bidirectional_rnn = unsupported_layer("bidirectional_rnn")
merge = unsupported_layer("merge")
reshape = unsupported_layer("reshape")
activation = unsupported_layer("activation")

__all__ = [
    "Layer", "Variable", "input_data", "fully_connected", "dropout", "flatten", "regression",
    "conv_1d", "conv_2d", "conv_3d", "max_pool_1d", "max_pool_2d", "avg_pool_2d", "global_avg_pool",
    "batch_normalization", "local_response_normalization", "embedding", "lstm", "gru", "simple_rnn",
    "bidirectional_rnn", "merge", "reshape", "activation",
]
