"""The core model: :class:`MLP`, a multilayer perceptron trained by the C++ engine.

Input is validated here, once per call; whole epochs then run in native code with the GIL
released. Learned state carries a trailing underscore (``steps_``, ``epochs_``), as in
scikit-learn.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import sys
import time
import warnings
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from . import optimizers as _optimizers
from ._modelfile import ModelFileError, read_model_file, state_slots, write_model_file
from ._config import usable_cpus
from ._progress import ProgressBar
from ._validation import as_dtype, as_inputs, check_int, check_xy, stacklevel_outside_package

__all__ = ["MLP", "History", "ACTIVATIONS", "OUTPUT_ACTIVATIONS", "LOSSES", "WEIGHT_INITS"]

ACTIVATIONS = ("relu", "sigmoid", "tanh", "linear")
DEVICES = ("cpu", "cuda")
OUTPUT_ACTIVATIONS = ("softmax", "linear", "relu", "sigmoid", "tanh")
LOSSES = ("categorical_crossentropy", "mean_square")
#: Weight initialisers and the scale each uses by default (a stddev; None: set by fan-in/out).
WEIGHT_INITS: Dict[str, Optional[float]] = {
    "truncated_normal": 0.02,  # TFLearn's default for fully_connected
    "normal": 0.02,
    "uniform": 0.02,
    "glorot_uniform": None,
    "xavier": None,
    "he_normal": None,
    "zeros": None,
}
_INIT_ALIASES = {"xavier": "glorot_uniform"}
# One per fit() call: the engine may keep a fit's data on the GPU across its epochs, and
# reads it again when the token changes.
_FIT_TOKENS = itertools.count(1)


def _check_name(kind: str, value, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"unknown {kind} {value!r}; expected one of: {', '.join(allowed)}")
    return value


def _check_number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _check_fraction(name: str, value) -> float:
    if not 0.0 <= _check_number(name, value) < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return float(value)


def _check_non_negative(name: str, value) -> float:
    if _check_number(name, value) < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return float(value)


def _per_layer(name: str, value, count: int, check) -> list:
    """``value`` repeated for ``count`` layers, or a sequence of exactly ``count``; each checked."""
    if isinstance(value, (str, int, float)):
        values = [value] * count
    else:
        values = list(value)
        if len(values) != count:
            raise ValueError(f"{name} lists {len(values)} values for {count} layers")
    return [check(f"{name}[{i}]" if not isinstance(value, (str, int, float)) else name, v) for i, v in enumerate(values)]


def _single(values: list):
    """One value when every layer has the same, else the list (for reprs and file metadata)."""
    return values[0] if values and all(v == values[0] for v in values) else values


class History:
    """What :meth:`MLP.fit` measured, per epoch.

    ``history`` maps ``loss``, ``accuracy`` (over all of each epoch's batches, measured in the
    forward pass before each update), ``loss_moving_average`` and ``accuracy_moving_average``
    (at the epoch's end, TFLearn's displayed figures: an exponential moving average over about
    the last ten batches), ``val_loss`` and ``val_accuracy`` (when validation data is given),
    ``seconds`` and ``samples_per_second`` to per-epoch lists. ``batch_loss`` and
    ``batch_accuracy`` hold one array per epoch with each batch's figures (learning curves).
    """

    def __init__(self) -> None:
        self.epoch: List[int] = []
        self.history: Dict[str, List[float]] = {}
        self.batch_loss: List[np.ndarray] = []
        self.batch_accuracy: List[np.ndarray] = []

    def _append(self, epoch: int, logs: Dict[str, float]) -> None:
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self) -> str:
        last = {k: round(v[-1], 4) for k, v in self.history.items()} if self.epoch else {}
        return f"History(epochs={len(self.epoch)}, last={last})"


class MLP:
    """A multilayer perceptron: ``layer_sizes = [inputs, hidden..., outputs]``.

    Parameters
    ----------
    layer_sizes : sequence of int
        e.g. ``[784, 100, 10]``: 784 inputs, one hidden layer of 100 units, 10 classes.
    activation : {"relu", "sigmoid", "tanh", "linear"} or a sequence of them
        Activation of every hidden layer, or one per hidden layer.
    output_activation : {"softmax", "linear", "relu", "sigmoid", "tanh"}
    loss : {"categorical_crossentropy", "mean_square"}
        Cross-entropy is fused with the softmax output (which it requires) and computed
        through log-sum-exp, so it stays finite for any logits. TFLearn instead clips the
        softmax output to [1e-10, 1 - 1e-10] before taking the log; the two agree except for
        predictions within 1e-10 of 0 or 1. ``mean_square`` is TFLearn's: the mean over
        samples *and* outputs of the squared error.
    optimizer : str or optimizer object
        ``"sgd"``, ``"adam"`` or an object from :mod:`mnistmlp.optimizers`.
    learning_rate : float, optional
        Replaces the optimizer's own learning rate when given.
    weight_init : str or sequence of str
        One of :data:`WEIGHT_INITS`, or one per layer. Biases start at zero.
    dropout : float or sequence of float
        Inverted dropout probability on hidden-layer outputs while training; one value for
        every hidden layer, or one per hidden layer.
    weight_decay : float or sequence of float
        L2 penalty ``weight_decay * sum(W**2) / 2`` over the weights (not the biases); one
        value for every layer, or one per layer.
    clip_norm : float, optional
        Clip the gradient to this global norm before each update (TensorFlow's
        ``clip_by_global_norm``). None: no clipping.
    seed : int, optional
        Seeds the initial weights, the shuffles and dropout; None draws one at random.
    threads : int, optional
        Threads the engine uses; None or 0: all cores. Results are bitwise identical for any
        thread count.
    dtype : {"float32", "float64"}
    device : {"cpu", "cuda"}
        Where the model trains and predicts. ``"cuda"`` runs whole epochs on the GPU (see
        :func:`mnistmlp.cuda_available`) and raises RuntimeError saying why when this build
        has no CUDA backend or no GPU is visible. Results repeat exactly run to run on the
        same GPU and agree with the CPU's to rounding; model files do not depend on the device.
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        activation: Union[str, Sequence[str]] = "relu",
        output_activation: str = "softmax",
        loss: str = "categorical_crossentropy",
        optimizer: Union[str, _optimizers.Optimizer] = "adam",
        learning_rate: Optional[float] = None,
        weight_init: Union[str, Sequence[str]] = "he_normal",
        dropout: Union[float, Sequence[float]] = 0.0,
        weight_decay: Union[float, Sequence[float]] = 0.0,
        clip_norm: Optional[float] = None,
        seed: Optional[int] = 0,
        threads: Optional[int] = None,
        dtype: str = "float32",
        device: str = "cpu",
    ) -> None:
        if isinstance(layer_sizes, (str, bytes)) or not isinstance(layer_sizes, Iterable):
            raise TypeError(
                f"layer_sizes must be a sequence of sizes such as [784, 100, 10], got {layer_sizes!r}"
                + (" (pass all the sizes as one list: MLP([784, 100, 10]))" if isinstance(layer_sizes, int) else "")
            )
        sizes = list(layer_sizes)
        if len(sizes) < 2:
            raise ValueError(f"layer_sizes needs at least an input and an output size, got {layer_sizes!r}")
        self.layer_sizes = [check_int(f"layer_sizes[{i}]", n, 1) for i, n in enumerate(sizes)]
        n_layers = len(self.layer_sizes) - 1
        self.activation = _per_layer("activation", activation, n_layers - 1, lambda n, v: _check_name(n, v, ACTIVATIONS))
        self.output_activation = _check_name("output_activation", output_activation, OUTPUT_ACTIVATIONS)
        self.loss = _check_name("loss", loss, LOSSES)
        if self.loss == "categorical_crossentropy" and self.output_activation != "softmax":
            raise ValueError(
                f"loss 'categorical_crossentropy' needs output_activation 'softmax', got {output_activation!r}"
            )
        self.optimizer = _optimizers.get(optimizer, learning_rate)
        self.weight_init = _per_layer("weight_init", weight_init, n_layers, lambda n, v: _check_name(n, v, tuple(WEIGHT_INITS)))
        self.dropout = _per_layer("dropout", dropout, n_layers - 1, _check_fraction)
        self.weight_decay = _per_layer("weight_decay", weight_decay, n_layers, _check_non_negative)
        if clip_norm is not None:
            if isinstance(clip_norm, bool) or not isinstance(clip_norm, (int, float)) or not clip_norm > 0 or not math.isfinite(clip_norm):
                raise ValueError(f"clip_norm must be a finite number > 0 or None, got {clip_norm!r}")
        self.clip_norm = None if clip_norm is None else float(clip_norm)
        self.seed = int.from_bytes(os.urandom(4), "little") if seed is None else check_int("seed", seed, 0, 2**64 - 1)
        self.dtype = as_dtype(dtype)
        self._device = _check_name("device", device, DEVICES)

        engine = _core.Model64 if self.dtype == np.float64 else _core.Model32
        args = dict(
            optimizer="sgd", learning_rate=0.01, momentum=0.0, nesterov=False, decay_rate=1.0,
            decay_steps=1.0, staircase=False, beta1=0.9, beta2=0.999, epsilon=1e-8,
        )
        args.update(self.optimizer._engine_args())
        self._engine = engine(
            sizes=self.layer_sizes, activations=self.activation + [self.output_activation],
            loss=self.loss, dropout=self.dropout + [0.0], weight_decay=self.weight_decay,
            clip_norm=self.clip_norm or 0.0,
            seed=self.seed, threads=0, device=self._device, **args,
        )
        self.threads = threads
        for layer, init in enumerate(self.weight_init):
            self._initialize(layer, init)

    def _initialize(self, layer: int, init: str, scale: Optional[float] = None) -> None:
        name = _INIT_ALIASES.get(init, init)
        if scale is None:
            scale = WEIGHT_INITS[init] or 1.0
        # Each layer draws from its own stream of the model's seed.
        self._engine.initialize_layer(layer, name, float(scale), self.seed)

    # -- configuration ------------------------------------------------------------------

    @property
    def threads(self) -> int:
        """Threads the engine uses (settable; None or 0 means all cores)."""
        return self._engine.threads

    @threads.setter
    def threads(self, value: Optional[int]) -> None:
        threads = 0 if value is None else check_int("threads", value, 0)
        if threads > usable_cpus():
            warnings.warn(
                f"threads={threads} is more than the {usable_cpus()} CPUs this process may use: the "
                "extra threads only wait for each other (threads=None uses every CPU)",
                RuntimeWarning, stacklevel=stacklevel_outside_package(),
            )
        self._engine.threads = threads

    @property
    def device(self) -> str:
        """Where the model trains and predicts: ``"cpu"`` or ``"cuda"``."""
        return self._device

    @property
    def n_layers(self) -> int:
        return len(self.layer_sizes) - 1

    @property
    def steps_(self) -> int:
        """Optimizer updates applied so far."""
        return self._engine.step

    @property
    def epochs_(self) -> int:
        """Complete epochs trained so far."""
        return self._engine.epoch

    def __repr__(self) -> str:
        return (
            f"MLP({self.layer_sizes}, activation={_single(self.activation)!r}, "
            f"output_activation={self.output_activation!r}, loss={self.loss!r}, "
            f"optimizer={self.optimizer!r}, dtype={self.dtype.name!r}"
            + (f", device={self._device!r})" if self._device != "cpu" else ")")
        )

    # -- training -----------------------------------------------------------------------

    def fit(
        self,
        X,
        y,
        epochs: int = 1,
        batch_size: int = 32,
        shuffle: bool = True,
        validation_data: Optional[Tuple] = None,
        verbose: int = 1,
        callbacks: Sequence = (),
    ) -> History:
        """Train for ``epochs`` epochs of mini-batches; returns a :class:`History`.

        ``X``: (n, features) or (n, 28, 28); uint8 (scaled by 1/255), float32 or float64.
        ``y``: integer labels (n,) or one-hot / soft targets (n, classes).
        ``verbose=1`` draws a live progress bar per epoch on a terminal (one line per epoch
        elsewhere); ``verbose=0`` prints nothing. Each callback may define
        ``on_epoch_begin(epoch)``, ``on_progress(progress)`` (called at most about every 0.1 s
        during an epoch with a ``_core.EpochProgress``; return False to stop) and
        ``on_epoch_end(epoch, logs)``.
        Ctrl-C stops between two batches, leaves the model consistent and raises
        KeyboardInterrupt. NaN or Inf in ``X`` raises ValueError naming the first row and
        column holding one; the model is left as it was before the epoch that met it (the
        first, since every epoch reads every row). Training that diverges (a batch loss of
        NaN or Inf, or weights too large to square in the model's dtype) raises
        FloatingPointError and leaves the model as it was before that epoch.

        ``on_progress`` may read the model (``predict``, ``evaluate``, ``get_weights``,
        ``save``), which it sees as of the last finished batch, but not change it: that
        raises RuntimeError. So may other threads; their changes wait for the epoch's end.
        """
        epochs = check_int("epochs", epochs, 1)
        batch_size = check_int("batch_size", batch_size, 1)
        # The CPU engine finds NaN and Inf as it reads each batch and then undoes the epoch:
        # no pass over X here.
        X, y = check_xy(X, y, self.layer_sizes[0], self.layer_sizes[-1], self.dtype,
                        check_finite=not self._engine.checks_inputs)
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data must be a tuple (X_val, y_val)")
            Xv, yv = check_xy(*validation_data, self.layer_sizes[0], self.layer_sizes[-1], self.dtype)
        history = History()
        token = next(_FIT_TOKENS)
        last_epoch = self.epochs_ + epochs
        for _ in range(epochs):
            epoch = self.epochs_ + 1
            for callback in callbacks:
                if hasattr(callback, "on_epoch_begin"):
                    callback.on_epoch_begin(epoch)
            display = _EpochDisplay(epoch, last_epoch, X.shape[0], verbose)
            result = self._fit_epoch(X, y, batch_size, shuffle, display, callbacks, token)
            logs = {
                "loss": result["loss"],
                "accuracy": result["accuracy"],
                "loss_moving_average": result["loss_average"],
                "accuracy_moving_average": result["accuracy_average"],
                "seconds": result["seconds"],
                "samples_per_second": result["samples"] / max(result["seconds"], 1e-12),
            }
            if validation_data is not None:
                logs["val_loss"], logs["val_accuracy"] = self._engine.evaluate(Xv, yv)
            display.close(logs)
            history._append(epoch, logs)
            history.batch_loss.append(result["batch_loss"])
            history.batch_accuracy.append(result["batch_accuracy"])
            for callback in callbacks:
                if hasattr(callback, "on_epoch_end"):
                    callback.on_epoch_end(epoch, dict(logs))
            if result["stopped"]:
                break
        self.history_ = history
        return history

    def _fit_epoch(self, X, y, batch_size, shuffle, display, callbacks, token: int) -> dict:
        """One epoch in the engine, reporting to ``display`` and the callbacks' on_progress."""
        listeners = [display.update] + [c.on_progress for c in callbacks if hasattr(c, "on_progress")]

        def report(progress) -> bool:
            keep_going = True
            for listener in listeners:
                if listener(progress) is False:
                    keep_going = False
            return keep_going

        try:
            return self._engine.fit_epoch(X, y, batch_size, bool(shuffle), report, data_token=token)
        except BaseException:
            display.abandon()
            raise

    # -- inference ----------------------------------------------------------------------

    def predict_proba(self, X) -> np.ndarray:
        """Output activations (softmax probabilities for a softmax output), shape (n, classes).

        Safe to call from several threads at once, and while the model trains (it then
        predicts with the weights of the last finished batch). Ctrl-C interrupts a long call.
        Raises FloatingPointError, never returns NaN, when the outputs overflow.
        """
        return self._engine.predict(as_inputs(X, self.layer_sizes[0], check_finite=False))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row, shape (n,)."""
        return self.predict_proba(X).argmax(axis=1)

    def evaluate(self, X, y) -> Dict[str, float]:
        """``{"loss": mean loss (no L2 penalty), "accuracy": fraction correct}`` over all rows."""
        X, y = check_xy(X, y, self.layer_sizes[0], self.layer_sizes[-1], self.dtype, check_finite=False)
        loss, accuracy = self._engine.evaluate(X, y)
        return {"loss": loss, "accuracy": accuracy}

    def loss_and_gradients(self, X, y) -> Tuple[float, List[Tuple[np.ndarray, np.ndarray]]]:
        """Mean loss over all rows (L2 penalty included) and its gradient ``[(dW, db), ...]``.

        Parameters are not changed. Dropout is not applied: this is the gradient of the
        deterministic network.
        """
        X, y = check_xy(X, y, self.layer_sizes[0], self.layer_sizes[-1], self.dtype,
                        check_finite=not self._engine.checks_inputs)
        return self._engine.loss_and_gradients(X, y)

    # -- model files --------------------------------------------------------------------

    def _file_config(self) -> dict:
        """The model file's description of this model, but for its training counters."""
        optimizer = {"name": self.optimizer.name, **dataclasses.asdict(self.optimizer)}
        return {
            "layer_sizes": self.layer_sizes,
            "activation": self.activation,
            "output_activation": self.output_activation,
            "loss": self.loss,
            "dropout": self.dropout,
            "weight_decay": self.weight_decay,
            "weight_init": self.weight_init,
            "clip_norm": self.clip_norm,
            "seed": self.seed,
            "dtype": self.dtype.name,
            "optimizer": optimizer,
        }

    def _file_sections(self, optimizer: dict) -> List[Tuple[str, int]]:
        """(tensor-name prefix, engine arena section) of each group of tensors in a file:
        the parameters, then each optimizer state slot (arena section 1 holds gradients)."""
        return [("layers", 0)] + [(f"optimizer.{name}.layers", 2 + slot)
                                  for slot, name in enumerate(state_slots(optimizer))]

    def save(self, path, extra: Optional[dict] = None) -> None:
        """Save architecture, weights, optimizer state and counters to a safetensors file.

        A model loaded from it predicts identically and resumes training exactly where this
        one stands. ``extra`` (JSON-able) is stored alongside, for wrappers such as the
        TFLearn API. The file is written atomically. Saving while the model trains in
        another thread (or from a progress callback) saves it as of its last finished batch.
        """
        config = self._file_config()
        sections = self._file_sections(config["optimizer"])
        # One read of the engine: counters and tensors from the same moment.
        config["training"], layers = self._engine.read_state([section for _, section in sections])
        if extra is not None:
            config["extra"] = extra
        tensors = {}
        for (prefix, _), pairs in zip(sections, layers):
            for layer, (W, b) in enumerate(pairs):
                tensors[f"{prefix}.{layer}.weight"] = W
                tensors[f"{prefix}.{layer}.bias"] = b
        write_model_file(path, config, tensors)

    @classmethod
    def load(cls, path, threads: Optional[int] = None, device: str = "cpu") -> "MLP":
        """A model from a file written by :meth:`save` (on any device), on ``device``; raises
        ModelFileError if the file is bad."""
        _check_name("device", device, DEVICES)
        config, tensors = read_model_file(path)
        return cls._from_file(path, config, tensors, threads, device)

    @classmethod
    def _from_file(
        cls, path, config: dict, tensors: Dict[str, np.ndarray], threads: Optional[int], device: str
    ) -> "MLP":
        settings = dict(config["optimizer"])
        optimizer_class = {"sgd": _optimizers.SGD, "adam": _optimizers.Adam}[settings.pop("name")]
        known = {f.name for f in dataclasses.fields(optimizer_class)}
        try:
            if set(settings) - known:
                raise ValueError(f"unknown settings {sorted(set(settings) - known)}")
            optimizer = optimizer_class(**settings)
            model = cls(
                config["layer_sizes"], activation=config["activation"], output_activation=config["output_activation"],
                loss=config["loss"], optimizer=optimizer, weight_init="zeros", dropout=config["dropout"],
                weight_decay=config["weight_decay"], clip_norm=config["clip_norm"], seed=config["seed"],
                threads=threads, dtype=config["dtype"], device=device,
            )
        except (ValueError, TypeError) as exc:
            raise ModelFileError(f"{path}: inconsistent model settings: {exc}") from None
        model.weight_init = config["weight_init"]
        model._load_state(path, config, tensors)
        return model

    def load_weights(self, path, weights_only: bool = False) -> None:
        """Load a model file written by :meth:`save` into this model.

        The file's architecture must match this model's. With ``weights_only``, only the
        weights and biases are read; otherwise the optimizer state and counters too (the
        optimizer must then be of the same kind), so training resumes where it stopped.
        """
        config, tensors = read_model_file(path)
        mine = self._file_config()
        keys = ["layer_sizes", "activation", "output_activation", "dtype"] + ([] if weights_only else ["loss"])
        for key in keys:
            if config[key] != mine[key]:
                raise ModelFileError(f"{path}: {key} is {config[key]!r} in the file but {mine[key]!r} in this model")
        if not weights_only and state_slots(config["optimizer"]) != state_slots(mine["optimizer"]):
            raise ModelFileError(
                f"{path}: saved with optimizer {config['optimizer']['name']!r}, whose state does not fit "
                f"this model's {mine['optimizer']['name']!r} (load with weights_only=True)"
            )
        self._load_state(path, config, tensors, weights_only)

    def _load_state(self, path, config: dict, tensors: Dict[str, np.ndarray], weights_only: bool = False) -> None:
        """Weights and, unless ``weights_only``, optimizer state, counters and seed from a
        checked model file; a state the model may not hold is refused as ModelFileError."""
        sections = self._file_sections(config["optimizer"])[:1 if weights_only else None]
        layers = [
            [(tensors[f"{prefix}.{layer}.weight"], tensors[f"{prefix}.{layer}.bias"]) for layer in range(self.n_layers)]
            for prefix, _ in sections
        ]
        try:
            self._engine.write_state([section for _, section in sections], layers,
                                     None if weights_only else config["training"])
        except ValueError as exc:
            raise ModelFileError(f"{path}: {exc}") from None
        if not weights_only:
            self.seed = self._engine.seed = config["seed"]

    # -- weights ------------------------------------------------------------------------

    def get_weights(self) -> List[Tuple[np.ndarray, np.ndarray]]:
        """Copies of ``[(W (in, out), b (out,)), ...]``, one pair per layer.

        Safe while the model trains in another thread or from a progress callback: the
        weights are then those of the last finished batch."""
        return self._engine.read_state([0])[1][0]

    def set_weights(self, weights: Sequence[Tuple[np.ndarray, np.ndarray]]) -> None:
        """Replace every layer's weight and bias.

        Shapes must match; values must be floating-point, finite, and small enough that their
        squares are finite in the model's dtype (training squares them). Refused weights
        leave the model as it was."""
        weights = list(weights)
        if len(weights) != self.n_layers:
            raise ValueError(f"expected {self.n_layers} (W, b) pairs, got {len(weights)}")
        checked = []
        for layer, pair in enumerate(weights):
            if len(pair) != 2:
                raise ValueError(f"layer {layer}: expected a (W, b) pair")
            n_in, n_out = self.layer_sizes[layer], self.layer_sizes[layer + 1]
            W, b = (np.asarray(a) for a in pair)
            if W.shape != (n_in, n_out) or b.shape != (n_out,):
                raise ValueError(
                    f"layer {layer}: expected W of shape {(n_in, n_out)} and b of shape {(n_out,)}, "
                    f"got {W.shape} and {b.shape}"
                )
            for name, a in (("W", W), ("b", b)):
                if not np.issubdtype(a.dtype, np.floating):
                    raise ValueError(f"layer {layer}: {name} must hold floating-point values, got {a.dtype}")
            checked.append((np.ascontiguousarray(W, self.dtype), np.ascontiguousarray(b, self.dtype)))
        self._engine.write_state([0], [checked])


class _EpochDisplay:
    """The progress of one epoch: a live bar on a terminal, one line per epoch elsewhere."""

    def __init__(self, epoch: int, total_epochs: int, samples: int, verbose: int, file=None) -> None:
        self.file = sys.stdout if file is None else file
        self.verbose = verbose
        self.prefix = f"Epoch {epoch}/{total_epochs}"
        self.bar = ProgressBar(samples, desc=self.prefix, unit="samples", file=self.file,
                               enabled=None if verbose else False)
        self.start = time.monotonic()

    def update(self, progress) -> None:
        if not self.bar.enabled:
            return
        self.bar.set_postfix(f"loss {progress.epoch_loss:.4f} - acc {progress.epoch_accuracy:.4f}")
        self.bar.update(progress.samples_done - self.bar.count)

    def abandon(self) -> None:
        self.bar.close()

    def close(self, logs: Dict[str, float]) -> None:
        text = " - ".join(
            f"{key} {logs[key]:.4f}" for key in ("loss", "accuracy", "val_loss", "val_accuracy") if key in logs
        )
        if self.bar.enabled:
            self.bar.set_postfix(text)
            self.bar.close()
        elif self.verbose:
            rate = logs["samples_per_second"]
            print(f"{self.prefix} - {logs['seconds']:.2f}s - {rate:,.0f} samples/s - {text}", file=self.file, flush=True)
