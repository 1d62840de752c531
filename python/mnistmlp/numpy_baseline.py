"""The NumPy baseline of the speed benchmarks: an MLP trained in plain NumPy.

:class:`NumpyMLP` trains with the maths of :mod:`mnistmlp.reference` (the engine's test
oracle), vectorised per mini-batch, so that the benchmarks compare the engine with the
same computation done by NumPy, and can check that both give the same results.

Example
-------
>>> import numpy as np
>>> from mnistmlp import reference as ref
>>> from mnistmlp.numpy_baseline import NumpyMLP
>>> X = np.random.default_rng(0).random((256, 784), dtype=np.float32)
>>> y = np.arange(256) % 10
>>> model = NumpyMLP([784, 128, 10], optimizer=ref.SGD(0.1), seed=0)
>>> stats = model.fit_epoch(X, y, batch_size=32)   # {"loss": ..., "accuracy": ...}
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np

from . import reference as ref

# The training loop uses the reference's unchecked building blocks (forward pass, output
# gradient, backward pass): the arguments are checked once per epoch, not once per batch,
# so that the baseline's time is the maths' time.
from .reference import (
    Params,
    _as_targets,
    _backward,
    _check_config,
    _clip_scale,
    _dropout_scales,
    _flat,
    _float_dtype,
    _forward,
    _loss_and_output_grad,
    _one_hot,
    _weight_decay_value,
)

__all__ = ["NumpyMLP"]


class NumpyMLP:
    """A multilayer perceptron trained by mini-batch gradient descent in plain NumPy.

    Each update does forward pass, loss, backward pass, (weight decay), (clipping by global
    norm) and one optimizer step, as :mod:`mnistmlp.reference` writes them.

    Parameters
    ----------
    sizes : sequence of int
        Layer sizes ``[n0, n1, ..., K]``.
    activation, output_activation, loss : str
        See the reference's :data:`~mnistmlp.reference.ACTIVATIONS`,
        :data:`~mnistmlp.reference.OUTPUT_ACTIVATIONS`, :data:`~mnistmlp.reference.LOSSES`.
    optimizer : mnistmlp.reference.SGD or mnistmlp.reference.Adam, optional
        Default ``Adam()``, TFLearn's default.
    weight_init, seed, dtype
        Passed to :func:`mnistmlp.reference.init_params`.
    clip_norm : float, optional
        Clip the gradients by this global norm (``None``: no clipping).
    weight_decay : float
        L2 coefficient lambda (loss += lambda sum ||W||^2 / 2).
    dropout : float
        Dropout rate on the hidden layers' outputs during :meth:`fit_epoch`.
    """

    def __init__(self, sizes: Sequence[int], activation: str = "relu", output_activation: str = "softmax",
                 loss: str = "categorical_crossentropy", optimizer: Union[ref.SGD, ref.Adam, None] = None,
                 weight_init: str = "he_normal", seed: int = 0, dtype=np.float32,
                 clip_norm: Optional[float] = None, weight_decay: float = 0.0, dropout: float = 0.0):
        _check_config(activation, output_activation, loss)
        self.activation = activation
        self.output_activation = output_activation
        self.loss = loss
        self.optimizer = ref.Adam() if optimizer is None else optimizer
        self.dtype = _float_dtype(dtype)
        self.params: Params = ref.init_params(sizes, weight_init=weight_init, seed=seed, dtype=self.dtype)
        self.sizes = [int(n) for n in sizes]
        self.clip_norm = None if clip_norm is None else float(clip_norm)
        if self.clip_norm is not None and not self.clip_norm > 0:
            raise ValueError(f"clip_norm must be > 0, got {clip_norm}")
        self.weight_decay = float(weight_decay)
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        self.dropout = float(dropout)
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {dropout}")

    def _inputs(self, X) -> np.ndarray:
        """X (B, n0) in the model's dtype; uint8 pixels are scaled to [0, 1] (x / 255)."""
        X = np.asarray(X)
        if X.dtype == np.uint8:
            return np.divide(X, 255, dtype=self.dtype)
        return X.astype(self.dtype, copy=False)

    def fit_epoch(self, X, y, batch_size: int, shuffle: bool = True, seed: int = 0) -> dict:
        """Train for one pass over ``X`` (N, n0) in mini-batches of ``batch_size``.

        ``X``: float32/float64, or uint8 pixels (scaled by 1/255). ``y``: integer labels
        (N,) or targets (N, K). Samples are visited in the order of
        ``numpy.random.default_rng(seed).permutation(N)`` when ``shuffle`` (in order
        otherwise); the last batch may be smaller and is trained too. Dropout masks, if
        any, come from the same generator, after the permutation.

        Returns ``{"loss": mean over batches of the batch loss (weight decay included),
        "accuracy": fraction of the N samples whose argmax prediction, in the training
        forward pass before each update, matches the argmax of the target}``.
        """
        X = np.asarray(X)
        N = X.shape[0]
        n0, K = self.sizes[0], self.sizes[-1]
        if X.ndim != 2 or X.shape[1] != n0:
            raise ValueError(f"X must have shape (N, {n0}), got {X.shape}")
        batch_size = int(batch_size)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if N == 0:
            raise ValueError("X is empty")
        Y, labels = _as_targets(y, N, K, self.dtype)
        if labels is None:
            assert Y is not None                 # _as_targets gives Y or labels
            true_class = Y.argmax(axis=1)
        else:
            true_class = labels
            if self.loss == "mean_square":
                Y, labels = _one_hot(labels, K, self.dtype), None  # once per epoch, not per batch
        rng = np.random.default_rng(seed)
        order = rng.permutation(N) if shuffle else None
        masks = rng if self.dropout > 0 else None
        params, act, out_act, loss = self.params, self.activation, self.output_activation, self.loss
        total_loss, correct, n_batches = 0.0, 0, 0
        for start in range(0, N, batch_size):
            rows = slice(start, start + batch_size) if order is None else order[start:start + batch_size]
            xb = self._inputs(X[rows])            # (b, n0): b = batch_size, or less for the last batch
            yb = None if Y is None else Y[rows]
            lb = None if labels is None else labels[rows]
            scales = _dropout_scales(params, xb.shape[0], self.dropout, masks)
            fp = _forward(params, xb, act, out_act, scales)
            z, a = fp[-1]
            value, dz = _loss_and_output_grad(out_act, loss, z, a, yb, lb)
            correct += int(np.count_nonzero(a.argmax(axis=1) == true_class[rows]))
            grads = _backward(params, fp, dz, act, self.weight_decay)
            if self.weight_decay:
                value += _weight_decay_value(params, self.weight_decay)
            if self.clip_norm is not None:
                scale = _clip_scale(ref.global_norm(grads), self.clip_norm)
                if scale != 1.0:
                    for g in _flat(grads):
                        g *= scale
            self.optimizer.step(params, grads)
            total_loss += value
            n_batches += 1
        return {"loss": total_loss / n_batches, "accuracy": correct / N}

    def predict_proba(self, X) -> np.ndarray:
        """The network's output a_L (N, K) for inputs ``X`` (N, n0) (uint8 scaled by 1/255)."""
        X = self._inputs(X)
        if X.ndim != 2 or X.shape[1] != self.sizes[0]:
            raise ValueError(f"X must have shape (N, {self.sizes[0]}), got {X.shape}")
        return _forward(self.params, X, self.activation, self.output_activation,
                        [None] * (len(self.params) - 1)).output

    def predict(self, X) -> np.ndarray:
        """The predicted class (argmax of the output) for each row of ``X``."""
        return self.predict_proba(X).argmax(axis=1)
