"""``regression``: the training settings that end a network (optimizer, loss, batch size)."""

from __future__ import annotations

import numbers

from .. import metrics, optimizers
from .._errors import unsupported
from .core import Layer, _check_incoming

__all__ = ["regression"]

LOSSES = ("categorical_crossentropy", "mean_square")
KNOWN_UNSUPPORTED_LOSSES = ("softmax_categorical_crossentropy", "binary_crossentropy", "weighted_crossentropy",
                            "hinge_loss", "roc_auc_score", "weak_cross_entropy_2d", "contrastive_loss")


def regression(incoming, placeholder="default", optimizer="adam", loss="categorical_crossentropy",
               metric="default", learning_rate=0.001, dtype="float32", batch_size=64, shuffle_batches=True,
               to_one_hot=False, n_classes=None, trainable_vars=None, restore=True, op_name=None,
               validation_monitors=None, validation_batch_size=None, name=None) -> Layer:
    """How to train the network ending at ``incoming``; pass the result to ``DNN``.

    ``optimizer`` is a name ('sgd', 'momentum', 'nesterov', 'adam', built with
    ``learning_rate``) or a ``tflearn.optimizers`` object (which keeps its own learning rate).
    ``loss`` is 'categorical_crossentropy' (on a softmax output; TFLearn clips the softmax
    to [1e-10, 1 - 1e-10] before the log, mnistmlp uses the exact, stable log-softmax: the two
    agree except for probabilities within 1e-10 of 0 or 1) or 'mean_square'.
    """
    incoming = _check_incoming("regression", incoming)
    if incoming.kind != "fully_connected":
        raise ValueError(f"regression: the network must end with fully_connected, not {incoming.kind}")
    if placeholder not in ("default", None):
        raise unsupported("regression(placeholder=...)", "targets are given to DNN.fit")
    if loss in KNOWN_UNSUPPORTED_LOSSES:
        hint = "use activation='softmax' on the last layer with loss='categorical_crossentropy'" \
            if loss == "softmax_categorical_crossentropy" else f"use one of {', '.join(LOSSES)}"
        raise unsupported(f"the loss {loss!r}", hint)
    if loss not in LOSSES:
        raise ValueError(f"regression: unknown loss {loss!r}; expected one of: {', '.join(LOSSES)}")
    if loss == "categorical_crossentropy" and incoming.settings["activation"] != "softmax":
        raise unsupported(
            f"categorical_crossentropy on a {incoming.settings['activation']!r} output",
            "give the last fully_connected activation='softmax'",
        )
    if trainable_vars is not None:
        raise unsupported("regression(trainable_vars=...)", "every layer is trained")
    if not restore:
        raise unsupported("regression(restore=False)")
    if validation_monitors:
        raise unsupported("validation_monitors")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"regression: batch_size must be a positive integer, got {batch_size!r}")
    dtype_name = str(getattr(dtype, "name", dtype))
    if dtype_name not in ("float32", "float64"):
        raise ValueError(f"regression: dtype must be float32 or float64, got {dtype!r}")
    n_outputs = incoming.settings["n_units"]
    if n_classes is not None and n_classes != n_outputs:
        raise ValueError(f"regression: n_classes={n_classes} but the last layer has {n_outputs} units")
    chosen = optimizers.get(optimizer, learning_rate)
    return Layer(
        "regression", incoming, list(incoming.shape), name or "Regression",
        optimizer=chosen, loss=loss, metric=None if metric is None else metrics.get(metric),
        dtype=dtype_name, batch_size=int(batch_size), shuffle=bool(shuffle_batches),
        to_one_hot=bool(to_one_hot), op_name=op_name or chosen.name,
        validation_batch_size=validation_batch_size,
    )
