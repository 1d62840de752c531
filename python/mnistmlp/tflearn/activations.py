"""Activations by name or as functions (``tflearn.activations.relu``).

mnistmlp computes activations in its engine; these functions stand for them when building a
network, as ``fully_connected(net, 100, activation=tflearn.activations.relu)``.
"""

from __future__ import annotations

from ._errors import unsupported

from .._spec import OUTPUT_ACTIVATIONS

__all__ = ["linear", "relu", "sigmoid", "tanh", "softmax", "leaky_relu", "elu", "get"]

SUPPORTED = OUTPUT_ACTIVATIONS  # every hidden activation, and softmax
KNOWN_UNSUPPORTED = ("selu", "relu6", "prelu", "crelu", "softplus", "softsign")


def _marker(name: str):
    def activation(x):
        raise TypeError(f"tflearn.activations.{name} names an activation for fully_connected; it is not applied to arrays")

    activation.__name__ = name
    activation.__doc__ = f"The {name} activation (computed by mnistmlp's engine)."
    return activation


linear, relu, sigmoid, tanh, softmax, leaky_relu, elu = (_marker(name) for name in
                                                         ("linear", "relu", "sigmoid", "tanh", "softmax", "leaky_relu", "elu"))


def get(activation) -> str:
    """The engine's name for ``activation``: a name or one of this module's functions."""
    name = getattr(activation, "__name__", activation)
    if not isinstance(name, str):
        raise TypeError(f"activation must be a name or a tflearn.activations function, got {activation!r}")
    name = name.lower()
    if name in SUPPORTED:
        return name
    if name in KNOWN_UNSUPPORTED:
        raise unsupported(f"the activation {name!r}", f"use one of {', '.join(SUPPORTED)}")
    raise ValueError(f"unknown activation {activation!r}; expected one of: {', '.join(SUPPORTED)}")
