"""Core layers: ``input_data``, ``fully_connected``, ``dropout`` and ``flatten``.

Each returns a :class:`Layer`, an explicit node that points at its input: there is no hidden
global graph, so any number of networks can be built in one process, and ``DNN`` reads the
chain ending at ``regression``. ``fully_connected`` returns a layer whose ``W`` and ``b``
name its weights for ``DNN.get_weights`` / ``DNN.set_weights``.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, List, Optional

from .. import activations, initializations
from .._errors import unsupported

__all__ = ["Layer", "Variable", "input_data", "fully_connected", "dropout", "flatten"]


class Variable:
    """A layer's weights (``W``) or biases (``b``), as ``DNN.get_weights`` takes them."""

    def __init__(self, layer: "Layer", kind: str) -> None:
        self.layer = layer
        self.kind = kind
        self.name = f"{layer.name}/{kind}:0"

    def __repr__(self) -> str:
        return f"<tflearn variable {self.name}>"


class Layer:
    """A node of a network: its kind, its input, its output shape and its settings."""

    # fully_connected's weights and biases, as DNN.get_weights takes them
    W: Variable
    b: Variable

    def __init__(self, kind: str, incoming: Optional["Layer"], shape: List[Optional[int]], name: str, **settings: Any) -> None:
        self.kind = kind
        self.incoming = incoming
        self.shape = shape
        self.name = name
        self.settings = settings

    def get_shape(self) -> List[Optional[int]]:
        return list(self.shape)

    @property
    def n_features(self) -> int:
        """Values per sample at this layer's output (the product of its shape past the batch)."""
        return math.prod(size for size in self.shape[1:] if size is not None)  # only the batch is None

    def __repr__(self) -> str:
        return f"<tflearn layer {self.name}: {self.kind}, shape {self.shape}>"


def _check_incoming(op: str, incoming) -> Layer:
    if not isinstance(incoming, Layer):
        raise TypeError(f"{op}: incoming must be the output of input_data, fully_connected, dropout or flatten, got {incoming!r}")
    if incoming.kind == "regression":
        raise ValueError(f"{op}: incoming is a regression layer, which must come last")
    return incoming


def input_data(shape=None, placeholder=None, dtype="float32", data_preprocessing=None,
               data_augmentation=None, name="InputData") -> Layer:
    """The network's input: ``shape=[None, 784]`` (or e.g. ``[None, 28, 28]``)."""
    if placeholder is not None:
        raise unsupported("input_data(placeholder=...)", "there is no TensorFlow graph to feed")
    if data_preprocessing is not None:
        raise unsupported("data_preprocessing", "preprocess the arrays before fit")
    if data_augmentation is not None:
        raise unsupported("data_augmentation")
    if shape is None:
        raise ValueError("input_data needs a shape, such as shape=[None, 784]")
    shape = list(shape)
    if len(shape) < 2 or any(
        isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1 for n in shape[1:]
    ):
        raise ValueError(f"input_data: shape must be [None, n, ...] with positive sizes, got {shape}")
    if str(getattr(dtype, "name", dtype)) not in ("float32", "float64", "uint8"):
        raise ValueError(f"input_data: dtype must be float32, float64 or uint8, got {dtype!r}")
    return Layer("input", None, [None] + [int(n) for n in shape[1:]], name)


def fully_connected(incoming, n_units, activation="linear", bias=True, weights_init="truncated_normal",
                    bias_init="zeros", regularizer=None, weight_decay=0.001, trainable=True, restore=True,
                    reuse=False, scope=None, name="FullyConnected") -> Layer:
    """A dense layer of ``n_units`` with ``activation``; input of more than 2-D is flattened.

    ``regularizer='L2'`` adds ``weight_decay * sum(W**2) / 2`` to the loss (TensorFlow's
    ``l2_loss``); without a regularizer, ``weight_decay`` has no effect, as in TFLearn.
    """
    incoming = _check_incoming("fully_connected", incoming)
    if isinstance(n_units, bool) or not isinstance(n_units, numbers.Integral) or n_units < 1:
        raise ValueError(f"fully_connected: n_units must be a positive integer, got {n_units!r}")
    if not bias:
        raise unsupported("fully_connected(bias=False)", "every mnistmlp layer has a bias")
    if not trainable:
        raise unsupported("fully_connected(trainable=False)", "every mnistmlp layer is trained")
    if not restore:
        raise unsupported("fully_connected(restore=False)")
    if reuse:
        raise unsupported("fully_connected(reuse=True)", "layers are explicit objects; build a new one")
    if regularizer is None:
        decay = 0.0
    elif isinstance(regularizer, str) and regularizer.upper() == "L2":
        if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) or not weight_decay >= 0:
            raise ValueError(f"fully_connected: weight_decay must be a number >= 0, got {weight_decay!r}")
        decay = float(weight_decay)
    elif isinstance(regularizer, str) and regularizer.upper() == "L1":
        raise unsupported("the L1 regularizer", "use regularizer='L2'")
    else:
        raise ValueError(f"fully_connected: unknown regularizer {regularizer!r}; expected None or 'L2'")
    layer = Layer(
        "fully_connected", incoming, [None, int(n_units)], scope or name,
        n_units=int(n_units), activation=activations.get(activation),
        weights_init=initializations.get(weights_init), bias_init=initializations.get(bias_init),
        weight_decay=decay,
    )
    layer.W = Variable(layer, "W")
    layer.b = Variable(layer, "b")
    return layer


def dropout(incoming, keep_prob, noise_shape=None, name="Dropout") -> Layer:
    """Inverted dropout on ``incoming``'s outputs while training: each kept with
    probability ``keep_prob`` and scaled by ``1 / keep_prob``."""
    incoming = _check_incoming("dropout", incoming)
    if noise_shape is not None:
        raise unsupported("dropout(noise_shape=...)")
    if isinstance(keep_prob, bool) or not isinstance(keep_prob, (int, float)) or not 0 < keep_prob <= 1:
        raise ValueError(f"dropout: keep_prob must be in (0, 1], got {keep_prob!r}")
    if incoming.kind != "fully_connected":
        raise unsupported(f"dropout after {incoming.kind}", "place dropout right after a hidden fully_connected layer")
    return Layer("dropout", incoming, list(incoming.shape), name, keep_prob=float(keep_prob))


def flatten(incoming, name="Flatten") -> Layer:
    """Flatten each sample to one dimension (``fully_connected`` also does this itself)."""
    incoming = _check_incoming("flatten", incoming)
    return Layer("flatten", incoming, [None, incoming.n_features], name)
