"""Pure-NumPy reference implementation of the multilayer-perceptron maths.

This module does, in plain NumPy, exactly what the C++ engine does: it is the **test
oracle** for the engine (same equations, same conventions). The benchmarks' NumPy
baseline, a training loop over these functions, is :mod:`mnistmlp.numpy_baseline`.

So it is written to be read: every function states its equations, and the shapes of
the arrays are given in comments. It is vectorised per mini-batch (there is no Python
loop over samples) and it keeps the dtype of the parameters: float32 parameters give
float32 activations, gradients and optimizer state (inputs are cast to the parameters'
dtype, hyper-parameters are Python floats, so nothing is silently promoted to float64).
The optimizers' float32 steps are TensorFlow 1's float32 kernels operation by operation
(see :class:`SGD` and :class:`Adam`), as the engine's are.

Notation
--------
``sizes = [n0, n1, ..., nL]``: ``n0`` inputs, ``L`` layers (``L - 1`` hidden layers),
``nL = K`` outputs. ``B`` is the number of samples in a mini-batch.
Parameters are a list of ``(W_l, b_l)`` for ``l = 1..L`` with ``W_l`` of shape
``(n_{l-1}, n_l)`` (row-major, a sample is a row) and ``b_l`` of shape ``(n_l,)``.

Forward pass::

    a_0 = X                                   (B, n0)
    z_l = a_{l-1} @ W_l + b_l                 (B, n_l)
    a_l = act(z_l)           for l < L        hidden layers
    a_l = a_l * mask_l / (1 - p)              inverted dropout (training only, optional)
    a_L = out_act(z_L)                        output layer

Loss (averaged over the batch) plus L2 weight decay on the weights (not the biases)::

    categorical_crossentropy:  J = -(1/B) sum_i sum_k y_ik log_softmax(z_L)_ik
    mean_square:               J = (1/(B K)) sum_ik (a_L - y)_ik^2
    weight decay:              J += lambda * sum_l ||W_l||^2 / 2

Backward pass (``dz_l`` is dJ/dz_l)::

    dW_l = a_{l-1}^T @ dz_l  (+ lambda W_l)   (n_{l-1}, n_l)
    db_l = sum over rows of dz_l              (n_l,)
    da_{l-1} = dz_l @ W_l^T                   (B, n_{l-1})   for l > 1
    da_{l-1} *= mask_{l-1} / (1 - p)          if dropout
    dz_{l-1} = da_{l-1} * act'(z_{l-1})

Example
-------
>>> import numpy as np
>>> from mnistmlp import reference as ref
>>> params = ref.init_params([784, 128, 10], seed=0)
>>> X = np.random.default_rng(1).random((32, 784), dtype=np.float32)
>>> y = np.arange(32) % 10
>>> loss, grads = ref.loss_and_gradients(params, X, y)
>>> ref.SGD(learning_rate=0.1).step(params, grads)   # params updated in place
"""

from __future__ import annotations

import math
from itertools import chain
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _spec

__all__ = [
    "ACTIVATIONS",
    "OUTPUT_ACTIVATIONS",
    "LOSSES",
    "WEIGHT_INITS",
    "ForwardPass",
    "init_params",
    "forward",
    "predict_proba",
    "loss_value",
    "loss_and_gradients",
    "global_norm",
    "clip_by_global_norm",
    "SGD",
    "Adam",
    "RMSProp",
    "AdaGrad",
    "float32_beta_power",
]

# The names the reference knows are the model's (mnistmlp._spec): the same activations,
# losses and initialisers as the engine.
ACTIVATIONS = _spec.ACTIVATIONS
OUTPUT_ACTIVATIONS = _spec.OUTPUT_ACTIVATIONS
LOSSES = _spec.LOSSES
WEIGHT_INITS = tuple(_spec.WEIGHT_INITS)

Params = List[Tuple[np.ndarray, np.ndarray]]
Grads = List[Tuple[np.ndarray, np.ndarray]]


# ----------------------------------------------------------------------------------------
# Argument checking
# ----------------------------------------------------------------------------------------

def _check_name(what: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; expected one of {', '.join(map(repr, allowed))}")


def _check_config(activation: str, output_activation: str, loss: Optional[str] = None) -> None:
    _check_name("activation", activation, ACTIVATIONS)
    _check_name("output_activation", output_activation, OUTPUT_ACTIVATIONS)
    if loss is not None:
        _check_name("loss", loss, LOSSES)
        if loss == "categorical_crossentropy" and output_activation != "softmax":
            raise ValueError(
                "loss 'categorical_crossentropy' requires output_activation 'softmax' "
                f"(got {output_activation!r}); use loss 'mean_square' for other outputs"
            )


def _float_dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating-point type such as float32 or float64, got {dtype}")
    return dtype


def _check_params(params: Params) -> np.dtype:
    if len(params) == 0:
        raise ValueError("params is empty: a network needs at least one layer")
    dtype = params[0][0].dtype
    for l, (W, b) in enumerate(params, start=1):
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise ValueError(f"layer {l}: W must be (n_in, n_out) and b (n_out,), got {W.shape} and {b.shape}")
        if l > 1 and W.shape[0] != params[l - 2][0].shape[1]:
            raise ValueError(f"layer {l}: W has {W.shape[0]} rows but layer {l - 1} has {params[l - 2][0].shape[1]} outputs")
        if W.dtype != dtype or b.dtype != dtype:
            raise ValueError(f"all parameters must share one dtype; layer {l} has {W.dtype}/{b.dtype}, layer 1 {dtype}")
    return dtype


def _as_input(X, params: Params) -> np.ndarray:
    """X as a (B, n0) array in the parameters' dtype (no copy when it already is one)."""
    dtype = _check_params(params)
    X = np.asarray(X, dtype=dtype)
    n0 = params[0][0].shape[0]
    if X.ndim != 2 or X.shape[1] != n0:
        raise ValueError(f"X must have shape (batch, {n0}), got {X.shape}")
    return X


def _as_targets(Y, B: int, K: int, dtype: np.dtype) -> Tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """Split targets into ``(Y, None)`` for a (B, K) matrix or ``(None, labels)`` for integer labels (B,).

    Integer labels mean one-hot rows; they are kept as labels so that the cross-entropy
    can index instead of multiplying by a mostly-zero matrix (same numbers).
    """
    Y = np.asarray(Y)
    if Y.ndim == 1 and Y.dtype.kind in "iu":
        if Y.shape[0] != B:
            raise ValueError(f"got {Y.shape[0]} labels for {B} samples")
        if B and (Y.min() < 0 or Y.max() >= K):
            raise ValueError(f"labels must lie in [0, {K}), got values in [{Y.min()}, {Y.max()}]")
        return None, Y
    if Y.ndim == 2:
        if Y.shape != (B, K):
            raise ValueError(f"targets must have shape ({B}, {K}), got {Y.shape}")
        return Y.astype(dtype, copy=False), None
    raise ValueError(
        f"targets must be integer labels of shape ({B},) or a ({B}, {K}) matrix, got {Y.dtype} array of shape {Y.shape}"
    )


def _one_hot(labels: np.ndarray, K: int, dtype) -> np.ndarray:
    Y = np.zeros((labels.shape[0], K), dtype=dtype)
    Y[np.arange(labels.shape[0]), labels] = 1
    return Y


def _flat(pairs: Sequence[Tuple[np.ndarray, np.ndarray]]) -> Iterator[np.ndarray]:
    """W_1, b_1, W_2, b_2, ... from a list of (W, b) pairs."""
    return chain.from_iterable(pairs)


# ----------------------------------------------------------------------------------------
# Initialisation
# ----------------------------------------------------------------------------------------

def _draw_weights(rng: np.random.Generator, weight_init: str, fan_in: int, fan_out: int, stddev: float) -> np.ndarray:
    shape = (fan_in, fan_out)
    if weight_init == "truncated_normal":
        # N(0, stddev^2), values with |w| > 2 stddev re-drawn (tf.truncated_normal).
        # The result has standard deviation ~0.8796 * stddev.
        W = rng.normal(0.0, stddev, shape)
        out = np.abs(W) > 2.0 * stddev
        while out.any():  # ~4.6% re-drawn, then ~4.6% of those, ...
            W[out] = rng.normal(0.0, stddev, int(out.sum()))
            out = np.abs(W) > 2.0 * stddev
        return W
    if weight_init in ("glorot_uniform", "xavier"):
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, shape)
    if weight_init == "he_normal":
        return rng.normal(0.0, math.sqrt(2.0 / fan_in), shape)
    if weight_init == "normal":
        return rng.normal(0.0, stddev, shape)
    if weight_init == "uniform":
        # U(-sqrt(3) stddev, +sqrt(3) stddev): a uniform law whose standard deviation is `stddev`.
        limit = math.sqrt(3.0) * stddev
        return rng.uniform(-limit, limit, shape)
    if weight_init == "zeros":
        return np.zeros(shape)
    raise AssertionError(weight_init)  # pragma: no cover - names checked by the caller


def init_params(sizes: Sequence[int], weight_init: str = "he_normal", seed: int = 0, dtype=np.float32,
                stddev: float = 0.02) -> Params:
    """Random weights and zero biases for a network with layer sizes ``[n0, ..., nL]``.

    Weights ``W_l`` (shape ``(n_{l-1}, n_l)``, fan_in = n_{l-1}, fan_out = n_l) are drawn,
    layer after layer, from one ``numpy.random.default_rng(seed)``:

    - ``"truncated_normal"``: N(0, stddev^2), values beyond 2 stddev re-drawn (TFLearn's
      default for ``fully_connected``, stddev 0.02); the standard deviation of the result
      is about 0.88 stddev;
    - ``"glorot_uniform"`` / ``"xavier"``: U(-r, r), r = sqrt(6 / (fan_in + fan_out));
    - ``"he_normal"``: N(0, 2 / fan_in);
    - ``"normal"``: N(0, stddev^2);
    - ``"uniform"``: U(-sqrt(3) stddev, sqrt(3) stddev) (standard deviation ``stddev``);
    - ``"zeros"``: all zero.

    Biases are zero. Values are drawn in float64 and rounded to ``dtype``.
    """
    sizes = [int(n) for n in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must list at least two positive layer sizes, got {sizes}")
    _check_name("weight_init", weight_init, WEIGHT_INITS)
    dtype = _float_dtype(dtype)
    stddev = float(stddev)
    if not stddev >= 0.0:
        raise ValueError(f"stddev must be >= 0, got {stddev}")
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        W = _draw_weights(rng, weight_init, fan_in, fan_out, stddev).astype(dtype)
        params.append((W, np.zeros(fan_out, dtype=dtype)))
    return params


# ----------------------------------------------------------------------------------------
# Activations
# ----------------------------------------------------------------------------------------

def _relu(z):
    return np.maximum(z, 0)  # max(z, 0)


def _sigmoid(z):
    # s(z) = 1 / (1 + exp(-z)) = (1 + tanh(z / 2)) / 2: the same function, written so that
    # it cannot overflow (exp(-z) overflows float32 for z < -88).
    s = np.tanh(z * 0.5)
    s += 1
    s *= 0.5
    return s


def _linear(z):
    return z


def _softmax(z):
    # p_ik = exp(z_ik - m_i) / sum_j exp(z_ij - m_i), m_i = max_j z_ij (no overflow)
    e = z - z.max(axis=1, keepdims=True)
    np.exp(e, out=e)
    e /= e.sum(axis=1, keepdims=True)
    return e


def _log_softmax(z):
    # log_softmax(z)_ik = z_ik - m_i - log sum_j exp(z_ij - m_i): finite for any finite z
    shifted = z - z.max(axis=1, keepdims=True)
    shifted -= np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return shifted


def _leaky_relu(z):
    # TFLearn's: relu(z) - alpha relu(-z), that is z for z > 0 and alpha z below
    return np.where(z > 0, z, z.dtype.type(_spec.LEAKY_RELU_ALPHA) * z)


def _elu(z):
    # tf.nn.elu: exp(z) - 1 for z < 0, z above (alpha 1)
    return np.where(z < 0, np.exp(np.minimum(z, 0)) - 1, z)


_ACTIVATION_FUNCTIONS: Dict[str, Callable[[np.ndarray], np.ndarray]] = {"relu": _relu, "sigmoid": _sigmoid, "tanh": np.tanh, "linear": _linear, "softmax": _softmax,
                                                                    "leaky_relu": _leaky_relu, "elu": _elu}


def _activation_backward(activation: str, da: np.ndarray, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """dz = da * act'(z), computed in place in ``da`` (which must be a scratch array).

    ``a = act(z)`` (before any dropout). relu'(z) = [z > 0]; sigmoid'(z) = a (1 - a);
    tanh'(z) = 1 - a^2; linear'(z) = 1; leaky_relu'(z) = 1 for z > 0, alpha for z < 0 (and
    0 at 0, as TensorFlow's gradient of relu(z) - alpha relu(-z)); elu'(z) = a + 1 for z < 0,
    1 above. Not for softmax (see :func:`_softmax_backward`).
    """
    if activation == "relu":
        np.multiply(da, z > 0, out=da)
    elif activation == "leaky_relu":
        da *= np.where(z > 0, 1, np.where(z < 0, _spec.LEAKY_RELU_ALPHA, 0)).astype(da.dtype)
    elif activation == "elu":
        da *= np.where(z < 0, a + 1, 1).astype(da.dtype)
    elif activation == "sigmoid":
        da *= a
        da *= 1 - a
    elif activation == "tanh":
        da *= 1 - a * a
    return da


def _softmax_backward(da: np.ndarray, p: np.ndarray) -> np.ndarray:
    """dz = J^T da for p = softmax(z): dz_ik = p_ik (da_ik - sum_j da_ij p_ij)."""
    return p * (da - (da * p).sum(axis=1, keepdims=True))


# ----------------------------------------------------------------------------------------
# Forward pass
# ----------------------------------------------------------------------------------------

class ForwardPass(list):
    """What :func:`forward` returns: the list ``[(z_1, a_1), ..., (z_L, a_L)]``.

    ``z_l`` (B, n_l) is layer l's pre-activation and ``a_l`` (B, n_l) its output as the
    next layer sees it (after dropout, for hidden layers with dropout). ``self[-1][1]``
    (also :attr:`output`) is the network's output. Extra attributes used by backprop:

    - ``X``: the input a_0 (B, n0), in the parameters' dtype;
    - ``hidden``: ``act(z_l)`` of the hidden layers before dropout (the same arrays as
      the ``a_l`` when there is no dropout);
    - ``dropout_scales``: per hidden layer, ``mask_l / (1 - p)`` (B, n_l) or ``None``.
    """

    def __init__(self, X: np.ndarray, dropout_scales: Sequence[Optional[np.ndarray]]):
        super().__init__()
        self.X = X
        self.hidden: List[np.ndarray] = []
        self.dropout_scales = list(dropout_scales)

    @property
    def output(self) -> np.ndarray:
        """a_L, the network's output (B, K)."""
        return self[-1][1]


def _dropout_rates(dropout, n_hidden: int) -> List[float]:
    """One rate per hidden layer from a rate for all or a sequence of them, each in [0, 1)."""
    rates = [float(dropout)] * n_hidden if np.ndim(dropout) == 0 else [float(p) for p in dropout]
    if len(rates) != n_hidden:
        raise ValueError(f"need one dropout rate per hidden layer ({n_hidden}), got {len(rates)}")
    for p in rates:
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {p}")
    return rates


def _dropout_scales(params: Params, B: int, dropout, masks) -> List[Optional[np.ndarray]]:
    """Per hidden layer, ``mask_l / (1 - p_l)`` in the parameters' dtype, or ``None`` (no dropout).

    ``dropout`` is the rate p of every hidden layer, or one rate per hidden layer. ``masks``
    is ``None`` (no dropout; an error when a rate is > 0), a ``numpy.random.Generator``
    (masks drawn with keep probability ``1 - p_l``; nothing is drawn where ``p_l == 0``), or
    one boolean/0-1 array per hidden layer, broadcastable to (B, n_l), applied as given
    (with scale ``1 / (1 - p_l)``, so 1 when ``p_l == 0``).
    """
    n_hidden = len(params) - 1
    rates = _dropout_rates(dropout, n_hidden)
    if masks is None:
        if any(rates):
            raise ValueError("dropout > 0 needs masks: a list of arrays (one per hidden layer) or a numpy Generator")
        return [None] * n_hidden
    dtype = params[0][0].dtype
    if isinstance(masks, np.random.Generator):
        # keep unit with probability 1 - p: P(U >= p) = 1 - p for U ~ U[0, 1)
        return [None if p == 0.0 else (masks.random((B, W.shape[1])) >= p).astype(dtype) * (1.0 / (1.0 - p))
                for p, (W, _) in zip(rates, params[:-1])]
    masks = list(masks)
    if len(masks) != n_hidden:
        raise ValueError(f"need one dropout mask per hidden layer ({n_hidden}), got {len(masks)}")
    scales: List[Optional[np.ndarray]] = []
    for l, (mask, p, (W, _)) in enumerate(zip(masks, rates, params[:-1]), start=1):
        mask = np.asarray(mask)
        try:
            np.broadcast_shapes(mask.shape, (B, W.shape[1]))
        except ValueError:
            raise ValueError(f"dropout mask {l} has shape {mask.shape}, not broadcastable to {(B, W.shape[1])}") from None
        scales.append(mask.astype(dtype) * (1.0 / (1.0 - p)))
    return scales


def _forward(params: Params, X: np.ndarray, activation: str, output_activation: str,
             dropout_scales: Sequence[Optional[np.ndarray]]) -> ForwardPass:
    """The forward pass, without argument checks (X already (B, n0) in the params' dtype)."""
    act = _ACTIVATION_FUNCTIONS[activation]
    fp = ForwardPass(X, dropout_scales)
    a = X                                        # a_0 (B, n0)
    last = len(params) - 1
    for l, (W, b) in enumerate(params):
        z = a @ W                                # (B, n_{l-1}) @ (n_{l-1}, n_l) -> (B, n_l)
        z += b                                   # + b_l (n_l,), broadcast over rows
        if l < last:
            h = act(z)                           # act(z_l)
            fp.hidden.append(h)
            scale = dropout_scales[l]
            a = h if scale is None else h * scale  # inverted dropout: a_l = h * mask / (1 - p)
        else:
            a = _ACTIVATION_FUNCTIONS[output_activation](z)
        fp.append((z, a))
    return fp


def forward(params: Params, X, activation: str = "relu", output_activation: str = "softmax",
            dropout: Union[float, Sequence[float]] = 0.0, masks=None) -> ForwardPass:
    """Forward pass: ``z_l = a_{l-1} @ W_l + b_l``, ``a_l = act(z_l)``, ``a_L = out_act(z_L)``.

    ``X`` (B, n0) is cast to the parameters' dtype (uint8 pixels are *not* scaled here).
    softmax is computed stably: ``p = exp(z - max z) / sum exp(z - max z)`` per row.

    Dropout (training only): with rate ``dropout = p`` each hidden output becomes
    ``a_l = act(z_l) * mask_l / (1 - p)`` (inverted dropout, keep probability 1 - p);
    ``dropout`` may also give one rate per hidden layer.
    ``masks`` is ``None`` (no dropout), a list of boolean/0-1 arrays, one per hidden
    layer (shape (B, n_l) or broadcastable), or a ``numpy.random.Generator`` to draw them.

    Returns a :class:`ForwardPass`: the list ``[(z_1, a_1), ..., (z_L, a_L)]``.
    """
    _check_config(activation, output_activation)
    X = _as_input(X, params)
    return _forward(params, X, activation, output_activation, _dropout_scales(params, X.shape[0], dropout, masks))


def predict_proba(params: Params, X, activation: str = "relu", output_activation: str = "softmax") -> np.ndarray:
    """The network's output ``a_L`` (B, K) for inputs ``X`` (B, n0), without dropout."""
    return forward(params, X, activation, output_activation).output


# ----------------------------------------------------------------------------------------
# Losses
# ----------------------------------------------------------------------------------------

def _loss_and_output_grad(output_activation: str, loss: str, z: np.ndarray, a: np.ndarray,
                          Y: Optional[np.ndarray], labels: Optional[np.ndarray]) -> Tuple[float, np.ndarray]:
    """Data loss J (a float) and dz_L = dJ/dz_L (B, K). Targets: Y (B, K) or integer labels (B,)."""
    B, K = z.shape
    if loss == "categorical_crossentropy":
        # J = -(1/B) sum_i sum_k y_ik log_softmax(z)_ik
        # dz = (p * sum_k y_ik - y) / B     (= (p - y) / B for rows of y summing to 1)
        log_p = _log_softmax(z)
        if labels is not None:                   # one-hot rows: sum_k y_ik = 1
            rows = np.arange(B)
            value = -float(log_p[rows, labels].sum()) / B
            dz = a.copy()
            dz[rows, labels] -= 1
        else:
            assert Y is not None                 # targets are Y or labels, never neither
            value = -float(np.vdot(Y, log_p)) / B
            dz = a * Y.sum(axis=1, keepdims=True)
            dz -= Y
        dz /= B
        return value, dz
    # mean_square: J = (1/(B K)) sum (a - y)^2, dJ/da = 2 (a - y) / (B K)
    if Y is None:
        assert labels is not None
        Y = _one_hot(labels, K, a.dtype)
    da = a - Y
    value = float(np.vdot(da, da)) / da.size
    da *= 2.0 / da.size
    if output_activation == "softmax":
        return value, _softmax_backward(da, a)
    return value, _activation_backward(output_activation, da, z, a)


def loss_value(output_activation: str, loss: str, z_L, a_L, Y) -> float:
    """The data loss (batch mean, without weight decay) of an output layer.

    ``z_L`` (B, K) are the output pre-activations, ``a_L = out_act(z_L)`` (B, K), ``Y``
    the targets: a (B, K) matrix (one-hot or non-negative weights) or integer labels (B,).

    - ``"categorical_crossentropy"`` (softmax outputs only), computed from ``z_L`` with
      log-sum-exp so that it stays finite for huge logits:
      ``J = -(1/B) sum_i sum_k y_ik (z_ik - m_i - log sum_j exp(z_ij - m_i))``, m_i = max_j z_ij;
    - ``"mean_square"`` (TFLearn's, ``tf.reduce_mean(tf.square(a_L - y))``):
      ``J = (1/(B K)) sum_ik (a_ik - y_ik)^2``.
    """
    _check_config("linear", output_activation, loss)
    z_L = np.asarray(z_L)
    a_L = np.asarray(a_L)
    B, K = z_L.shape
    Y, labels = _as_targets(Y, B, K, a_L.dtype)
    return _loss_and_output_grad(output_activation, loss, z_L, a_L, Y, labels)[0]


def _weight_decay_value(params: Params, weight_decay: float) -> float:
    # lambda * sum_l ||W_l||^2 / 2   (weights only, not biases)
    return weight_decay * 0.5 * sum(float(np.vdot(W, W)) for W, _ in params)


# ----------------------------------------------------------------------------------------
# Backward pass
# ----------------------------------------------------------------------------------------

def _backward(params: Params, fp: ForwardPass, dz: np.ndarray, activation: str, weight_decay: float) -> Grads:
    """Backpropagate dz_L through the layers; returns [(dW_1, db_1), ..., (dW_L, db_L)]."""
    grads: Grads = [None] * len(params)  # type: ignore[list-item]
    for l in range(len(params) - 1, -1, -1):     # l is 0-based here: layer l + 1
        W, _ = params[l]
        a_prev = fp[l - 1][1] if l > 0 else fp.X  # a_{l-1} (B, n_{l-1}), after dropout
        dW = a_prev.T @ dz                       # (n_{l-1}, B) @ (B, n_l) -> (n_{l-1}, n_l)
        if weight_decay:
            dW += weight_decay * W               # d/dW of lambda ||W||^2 / 2
        db = dz.sum(axis=0)                      # (n_l,)
        grads[l] = (dW, db)
        if l > 0:                                # no dX for the first layer
            da = dz @ W.T                        # (B, n_l) @ (n_l, n_{l-1}) -> (B, n_{l-1})
            scale = fp.dropout_scales[l - 1]
            if scale is not None:
                da *= scale                      # through a = h * mask / (1 - p)
            z_prev, _ = fp[l - 1]
            dz = _activation_backward(activation, da, z_prev, fp.hidden[l - 1])
    return grads


def loss_and_gradients(params: Params, X, Y, activation: str = "relu", output_activation: str = "softmax",
                       loss: str = "categorical_crossentropy", weight_decay: float = 0.0,
                       dropout: Union[float, Sequence[float]] = 0.0, masks=None) -> Tuple[float, Grads]:
    """Loss and its gradients with respect to every parameter, for one mini-batch.

    ``X`` (B, n0); ``Y`` (B, K) one-hot/non-negative weights, or integer labels (B,).
    The loss is the batch-mean data loss (see :func:`loss_value`) plus
    ``weight_decay * sum_l ||W_l||^2 / 2``. Gradients (``dz_l = dJ/dz_l``)::

        categorical_crossentropy:  dz_L = (softmax(z_L) * sum_k y_ik - y) / B
        mean_square:               da_L = 2 (a_L - y) / (B K),  dz_L = da_L * out_act'(z_L)
                                   (softmax: dz_L = p * (da_L - sum_k da_Lk p_k))
        dW_l = a_{l-1}^T dz_l + lambda W_l,   db_l = sum over rows of dz_l
        da_{l-1} = dz_l W_l^T  (* mask / (1 - p) with dropout),  dz_{l-1} = da_{l-1} * act'(z_{l-1})

    Returns ``(loss, [(dW_1, db_1), ..., (dW_L, db_L)])`` with gradients in the
    parameters' dtype. ``dropout``/``masks`` as in :func:`forward`.
    """
    _check_config(activation, output_activation, loss)
    X = _as_input(X, params)
    weight_decay = float(weight_decay)
    if weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
    B, K = X.shape[0], params[-1][0].shape[1]
    Y, labels = _as_targets(Y, B, K, X.dtype)
    fp = _forward(params, X, activation, output_activation, _dropout_scales(params, B, dropout, masks))
    z, a = fp[-1]
    value, dz = _loss_and_output_grad(output_activation, loss, z, a, Y, labels)
    grads = _backward(params, fp, dz, activation, weight_decay)
    if weight_decay:
        value += _weight_decay_value(params, weight_decay)
    return value, grads


# ----------------------------------------------------------------------------------------
# Gradient clipping
# ----------------------------------------------------------------------------------------

def global_norm(grads: Grads) -> float:
    """``sqrt(sum over every dW and db of sum g^2)``, as a Python float."""
    return math.sqrt(sum(float(np.vdot(g, g)) for g in _flat(grads)))


def _clip_scale(norm: float, clip_norm: float) -> float:
    if not math.isfinite(norm):
        return math.nan  # like TensorFlow: a non-finite norm gives NaN gradients
    return clip_norm / max(norm, clip_norm)


def clip_by_global_norm(grads: Grads, clip_norm: float) -> Tuple[Grads, float]:
    """Clip gradients by their global norm (``tf.clip_by_global_norm``).

    ``n = sqrt(sum_g sum g^2)`` over all dW and db; every gradient becomes
    ``g * c / max(n, c)`` (unchanged when n <= c). Returns ``(new_grads, n)``, n being the
    norm *before* clipping. The input gradients are not modified.
    """
    clip_norm = float(clip_norm)
    if not clip_norm > 0:
        raise ValueError(f"clip_norm must be > 0, got {clip_norm}")
    norm = global_norm(grads)
    scale = _clip_scale(norm, clip_norm)
    return [(dW * scale, db * scale) for dW, db in grads], norm


# ----------------------------------------------------------------------------------------
# Optimizers
# ----------------------------------------------------------------------------------------

def _check_state(state: Optional[List[np.ndarray]], params: Params, grads: Grads, name: str) -> List[np.ndarray]:
    flat = list(_flat(params))
    if len(grads) != len(params):
        raise ValueError(f"got gradients for {len(grads)} layers but {len(params)} layers of parameters")
    if state is None:
        return [np.zeros_like(p) for p in flat]
    if len(state) != len(flat) or any(s.shape != p.shape for s, p in zip(state, flat)):
        raise ValueError(f"this {name} optimizer's state belongs to parameters of another shape")
    return state


class SGD:
    """Stochastic gradient descent, optionally with (Nesterov) momentum and exponential decay.

    TensorFlow 1 semantics (``tf.train.GradientDescentOptimizer`` / ``MomentumOptimizer``
    with ``tf.train.exponential_decay``), as TFLearn used them. ``t`` counts the updates
    already applied (0 before the first one)::

        lr_t = lr * decay_rate ** (t / decay_steps)           (floor(t / decay_steps) if staircase;
                                                               lr_t = lr without decay_rate)
        plain (momentum == 0):  w <- w - g lr_t
        momentum mu > 0:        v <- v mu + g;  w <- w - v lr_t          (v starts at 0)
        Nesterov:               v <- v mu + g;  w <- w - (g lr_t + v mu lr_t)

    float64 parameters: lr_t is computed in double precision and applied as a scalar, and
    Nesterov's step is ``lr_t (g + mu v)``. float32 parameters: every operation is
    TensorFlow's float32 one, rounded to float32 in the order written above (training_ops.cc's
    ApplyGradientDescent and ApplyMomentum, no fused multiply-add), and lr_t is
    exponential_decay's float32 graph: ``float32(lr) * powf(float32(decay_rate), p)``,
    ``p = float32(t) / float32(decay_steps)`` (floored if staircase).
    """

    def __init__(self, learning_rate: float, momentum: float = 0.0, nesterov: bool = False,
                 decay_rate: Optional[float] = None, decay_steps: Optional[float] = None, staircase: bool = False):
        self.learning_rate = float(learning_rate)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.decay_rate = None if decay_rate is None else float(decay_rate)
        self.decay_steps = None if decay_steps is None else float(decay_steps)
        self.staircase = bool(staircase)
        if self.momentum < 0:
            raise ValueError(f"momentum must be >= 0, got {momentum}")
        if self.decay_rate is not None and not (self.decay_steps and self.decay_steps > 0):
            raise ValueError("decay_rate needs decay_steps > 0")
        self.t = 0                                # updates applied so far
        self.velocity: Optional[List[np.ndarray]] = None  # v per parameter (W_1, b_1, W_2, ...)

    def learning_rate_at(self, t: int, dtype=np.float64) -> Union[float, np.float32]:
        """lr_t for the update that follows ``t`` earlier updates, for parameters of ``dtype``
        (float32: TensorFlow's float32 arithmetic, an ``np.float32``)."""
        if np.dtype(dtype) == np.float32:
            lr = np.float32(self.learning_rate)
            if self.decay_rate is None or self.decay_steps is None:  # __init__ sets both or neither
                return lr
            p = np.float32(t) / np.float32(self.decay_steps)
            if self.staircase:
                p = np.floor(p)
            return lr * np.float32(self.decay_rate) ** p   # float32 scalar power: the C library's powf
        if self.decay_rate is None or self.decay_steps is None:
            return self.learning_rate
        exponent = t / self.decay_steps
        if self.staircase:
            exponent = math.floor(exponent)
        return self.learning_rate * self.decay_rate ** exponent

    def step(self, params: Params, grads: Grads) -> None:
        """Apply one update to ``params`` in place."""
        if len(grads) != len(params):
            raise ValueError(f"got gradients for {len(grads)} layers but {len(params)} layers of parameters")
        float32 = _check_params(params) == np.float32
        lr = self.learning_rate_at(self.t, np.float32 if float32 else np.float64)
        if self.momentum == 0.0:
            for w, g in zip(_flat(params), _flat(grads)):
                w -= g * lr
        else:
            self.velocity = _check_state(self.velocity, params, grads, "SGD")
            mu = np.float32(self.momentum) if float32 else self.momentum
            for w, g, v in zip(_flat(params), _flat(grads), self.velocity):
                v *= mu
                v += g                            # v <- v mu + g
                if not self.nesterov:
                    w -= v * lr
                elif float32:
                    w -= g * lr + v * mu * lr     # TensorFlow's order of operations
                else:
                    w -= lr * (g + mu * v)
        self.t += 1

    def __repr__(self) -> str:
        return (f"SGD(learning_rate={self.learning_rate}, momentum={self.momentum}, nesterov={self.nesterov}, "
                f"decay_rate={self.decay_rate}, decay_steps={self.decay_steps}, staircase={self.staircase})")


def float32_beta_power(beta: float, t: int) -> np.float32:
    """``beta^t`` as TensorFlow 1's ``AdamOptimizer`` holds it for float32 variables.

    TensorFlow keeps ``beta1_power`` and ``beta2_power`` in float32 variables that start at
    ``beta`` and are multiplied by ``beta`` after every update, so update ``t`` (from 1)
    sees ``t`` factors, the product rounded to float32 after each multiplication. This
    repeats those ``t - 1`` multiplications (``t >= 1``).
    """
    if t < 1:
        raise ValueError(f"update numbers count from 1, got {t}")
    factor = np.float32(beta)
    power = factor
    for _ in range(t - 1):
        power = power * factor
    return power


class Adam:
    """Adam, as ``tf.train.AdamOptimizer`` (TensorFlow 1, TFLearn's "adam") computes it::

        t <- t + 1
        m <- beta1 m + (1 - beta1) g
        v <- beta2 v + (1 - beta2) g^2
        lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
        w <- w - lr_t m / (sqrt(v) + epsilon)

    m and v start at 0. Note where epsilon sits: the paper (Kingma & Ba, Algorithm 1)
    updates ``w <- w - lr m_hat / (sqrt(v_hat) + eps)`` with m_hat = m / (1 - beta1^t)
    and v_hat = v / (1 - beta2^t), i.e. ``w <- w - lr_t m / (sqrt(v) + eps sqrt(1 - beta2^t))``.
    TensorFlow adds epsilon to the *uncorrected* sqrt(v), so its epsilon is effectively
    larger early on (by 1/sqrt(1 - beta2^t), ~31.6x at t = 1 with beta2 = 0.999); this
    class follows TensorFlow.

    float64 parameters: beta^t and lr_t are computed in double precision and the moments as
    written above. float32 parameters: TensorFlow's float32 kernel (training_ops.cc's
    ApplyAdam), every operation rounded to float32 in this order, no fused multiply-add::

        alpha = lr * sqrt(1 - beta2_power) / (1 - beta1_power)
        m <- m + (g - m) * (1 - beta1)
        v <- v + (g * g - v) * (1 - beta2)
        w <- w - (m * alpha) / (sqrt(v) + epsilon)

    with lr, beta1, beta2, epsilon rounded to float32 and the powers those of
    :func:`float32_beta_power`. These roundings are unbiased. An lr_t computed in double from
    the exact 0.999, applied to moments that use float32's 0.99900001, would make every step
    up to 6.4e-6 (relative) too large: a bias that training amplifies.
    """

    def __init__(self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8):
        self.learning_rate = float(learning_rate)
        self.beta1 = float(beta1)
        self.beta2 = float(beta2)
        self.epsilon = float(epsilon)
        if not (0.0 <= self.beta1 < 1.0 and 0.0 <= self.beta2 < 1.0):
            raise ValueError(f"beta1 and beta2 must be in [0, 1), got {beta1} and {beta2}")
        self.t = 0                                # updates applied so far
        self.m: Optional[List[np.ndarray]] = None  # first moments per parameter (W_1, b_1, W_2, ...)
        self.v: Optional[List[np.ndarray]] = None  # second moments
        # float32: TensorFlow's running beta1_power and beta2_power for update `t + 1`,
        # recomputed when t was set from outside.
        self._powers: Optional[Tuple[int, np.float32, np.float32]] = None

    def _float32_powers(self, t: int) -> Tuple[np.float32, np.float32]:
        """TensorFlow's float32 beta1_power and beta2_power at update ``t``: the running
        products kept by :meth:`step`, or recomputed."""
        if self._powers is not None and self._powers[0] == t:
            return self._powers[1], self._powers[2]
        return float32_beta_power(self.beta1, t), float32_beta_power(self.beta2, t)

    def step_size(self, t: int, dtype=np.float64) -> Union[float, np.float32]:
        """lr_t (float32: alpha) of update number ``t`` (from 1) for parameters of ``dtype``."""
        if np.dtype(dtype) == np.float32:
            p1, p2 = self._float32_powers(t)
            one = np.float32(1)
            return np.float32(self.learning_rate) * np.sqrt(one - p2) / (one - p1)
        b1, b2 = self.beta1, self.beta2
        return self.learning_rate * math.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t)

    def step(self, params: Params, grads: Grads) -> None:
        """Apply one update to ``params`` in place."""
        self.m = first = _check_state(self.m, params, grads, "Adam")
        self.v = second = _check_state(self.v, params, grads, "Adam")
        self.t += 1
        if _check_params(params) == np.float32:
            self._float32_step(params, grads, first, second)
            return
        b1, b2 = self.beta1, self.beta2
        lr_t = self.step_size(self.t)
        for w, g, m, v in zip(_flat(params), _flat(grads), first, second):
            m *= b1
            m += (1.0 - b1) * g                   # m <- b1 m + (1 - b1) g
            v *= b2
            v += (1.0 - b2) * np.square(g)        # v <- b2 v + (1 - b2) g^2
            step = np.sqrt(v)
            step += self.epsilon
            np.divide(m, step, out=step)          # m / (sqrt(v) + eps)
            step *= lr_t
            w -= step

    def _float32_step(self, params: Params, grads: Grads, first: List[np.ndarray], second: List[np.ndarray]) -> None:
        b1, b2, eps = np.float32(self.beta1), np.float32(self.beta2), np.float32(self.epsilon)
        p1, p2 = self._float32_powers(self.t)
        self._powers = (self.t, p1, p2)
        alpha = self.step_size(self.t, np.float32)
        one_b1, one_b2 = np.float32(1) - b1, np.float32(1) - b2
        for w, g, m, v in zip(_flat(params), _flat(grads), first, second):
            d = g - m
            d *= one_b1
            m += d                                # m <- m + (g - m) (1 - beta1)
            d = g * g
            d -= v
            d *= one_b2
            v += d                                # v <- v + (g g - v) (1 - beta2)
            step = m * alpha
            root = np.sqrt(v)
            root += eps
            step /= root                          # (m alpha) / (sqrt(v) + epsilon)
            w -= step
        self._powers = (self.t + 1, p1 * b1, p2 * b2)  # TensorFlow's _finish: beta_power *= beta

    def __repr__(self) -> str:
        return f"Adam(learning_rate={self.learning_rate}, beta1={self.beta1}, beta2={self.beta2}, epsilon={self.epsilon})"


def _filled_state(state: Optional[List[np.ndarray]], params: Params, grads: Grads, name: str,
                  start: float) -> List[np.ndarray]:
    """``state`` checked, or a new one of ``start`` for every parameter."""
    if state is None:
        return [np.full_like(p, start) for p in _flat(params)]
    return _check_state(state, params, grads, name)


class RMSProp:
    """RMSProp as TensorFlow 1's ``RMSPropOptimizer`` applies it (TFLearn's defaults)::

        ms  <- ms + (g g - ms) (1 - decay)                  (ms starts at 1)
        mom <- mom momentum + (g lr) / sqrt(ms + epsilon)   (mom starts at 0)
        w   <- w - mom

    float32 parameters: every operation rounded to float32 in that order (training_ops.cc's
    ApplyRMSProp); float64: the same formulas.
    """

    def __init__(self, learning_rate: float = 0.001, decay: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-10):
        self.learning_rate, self.decay, self.momentum, self.epsilon = (
            float(learning_rate), float(decay), float(momentum), float(epsilon))
        self.t = 0
        self.ms: Optional[List[np.ndarray]] = None   # mean squares
        self.mom: Optional[List[np.ndarray]] = None  # momentum accumulators

    def step(self, params: Params, grads: Grads) -> None:
        """Apply one update to ``params`` in place."""
        self.ms = _filled_state(self.ms, params, grads, "RMSProp", 1.0)
        self.mom = _filled_state(self.mom, params, grads, "RMSProp", 0.0)
        t = _check_params(params).type
        lr, rho, mu, eps = t(self.learning_rate), t(self.decay), t(self.momentum), t(self.epsilon)
        for w, g, ms, mom in zip(_flat(params), _flat(grads), self.ms, self.mom):
            ms += (g * g - ms) * (t(1) - rho)
            mom *= mu
            mom += (g * lr) / np.sqrt(ms + eps)
            w -= mom
        self.t += 1

    def __repr__(self) -> str:
        return (f"RMSProp(learning_rate={self.learning_rate}, decay={self.decay}, momentum={self.momentum}, "
                f"epsilon={self.epsilon})")


class AdaGrad:
    """AdaGrad as TensorFlow 1's ``AdagradOptimizer`` applies it (TFLearn's defaults)::

        accumulator <- accumulator + g g        (starts at initial_accumulator_value)
        w <- w - (g lr) (1 / sqrt(accumulator))

    float32 parameters: every operation rounded to float32 in that order; float64: the same.
    """

    def __init__(self, learning_rate: float = 0.001, initial_accumulator_value: float = 0.1):
        self.learning_rate = float(learning_rate)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.t = 0
        self.accumulator: Optional[List[np.ndarray]] = None

    def step(self, params: Params, grads: Grads) -> None:
        """Apply one update to ``params`` in place."""
        self.accumulator = _filled_state(self.accumulator, params, grads, "AdaGrad", self.initial_accumulator_value)
        t = _check_params(params).type
        lr = t(self.learning_rate)
        for w, g, accumulator in zip(_flat(params), _flat(grads), self.accumulator):
            accumulator += g * g
            w -= (g * lr) * (t(1) / np.sqrt(accumulator))
        self.t += 1

    def __repr__(self) -> str:
        return f"AdaGrad(learning_rate={self.learning_rate}, initial_accumulator_value={self.initial_accumulator_value})"
