"""The core model: :class:`MLP`, a multilayer perceptron trained by the C++ engine.

Input is validated here, once per call; whole epochs then run in native code with the GIL
released. Learned state carries a trailing underscore (``steps_``, ``epochs_``), as in
scikit-learn.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from ._config import usable_cpus
from ._display import EpochDisplay
from ._modelfile import ModelFileError, read_model_file, write_model_file
from ._spec import (ACTIVATIONS, DEVICES, LOSSES, OUTPUT_ACTIVATIONS, WEIGHT_INIT_ALIASES, WEIGHT_INITS, ModelSpec,
                    OneOf, Optimizer, check_training, shown)
from ._validation import as_inputs, check_int, check_xy, stacklevel_outside_package

__all__ = ["MLP", "History", "Progress", "ACTIVATIONS", "OUTPUT_ACTIVATIONS", "LOSSES", "WEIGHT_INITS"]

# One per fit() call: the engine may keep a fit's data on the GPU across its epochs, and
# reads it again when the token changes.
_FIT_TOKENS = itertools.count(1)
# What a model file's description holds besides the spec.
_FILE_EXTRAS = ("training", "extra")


def engine_optimizer(optimizer: Optimizer) -> _core.OptimizerConfig:
    """The engine's configuration of ``optimizer``: its update rule and its settings (a
    setting of None, such as SGD's absent decay, leaves the engine's neutral value)."""
    settings = {name: value for name, value in optimizer.settings().items() if value is not None}
    return _core.OptimizerConfig(optimizer.engine, **settings)


def engine_config(spec: ModelSpec) -> _core.ModelConfig:
    """The engine's configuration of the model ``spec`` describes."""
    config = _core.ModelConfig()
    config.sizes = list(spec.layer_sizes)
    config.activations = [*spec.activation, spec.output_activation]
    config.loss = spec.loss
    config.dropout = [*spec.dropout, 0.0]  # none on the output layer
    config.weight_decay = list(spec.weight_decay)
    config.clip_norm = spec.clip_norm or 0.0
    config.optimizer = engine_optimizer(spec.optimizer)
    config.seed = spec.seed
    return config


def _file_sections(optimizer: Optimizer) -> List[Tuple[str, str]]:
    """(tensor-name prefix, engine state name) of each group of tensors in a model file: the
    parameters, then each of the optimizer's state slots, named by the engine."""
    return [("layers", "params")] + [(f"optimizer.{slot}.layers", slot)
                                     for slot in engine_optimizer(optimizer).state_slot_names]


def _file_layout(spec: ModelSpec) -> Dict[str, Tuple[int, ...]]:
    """Each tensor a model file of ``spec`` holds, and its shape."""
    sizes = spec.layer_sizes
    layout: Dict[str, Tuple[int, ...]] = {}
    for prefix, _ in _file_sections(spec.optimizer):
        for layer in range(spec.n_layers):
            layout[f"{prefix}.{layer}.weight"] = (sizes[layer], sizes[layer + 1])
            layout[f"{prefix}.{layer}.bias"] = (sizes[layer + 1],)
    return layout


def read_model(path) -> Tuple[ModelSpec, Dict[str, Any], Dict[str, np.ndarray]]:
    """(spec, the rest of the description: training counters and extra, tensors) of the model
    file at ``path``, each checked; anything wrong raises ModelFileError naming the file."""

    def describe(description: Any) -> Tuple[Dict[str, Tuple[int, ...]], str]:
        spec = _check_description(description)[0]
        return _file_layout(spec), spec.dtype

    description, tensors = read_model_file(path, describe)
    spec, rest = _check_description(description)
    return spec, rest, tensors


def _check_extra(extra: Any) -> Dict[str, Any]:
    """What a wrapper keeps in a model file (``extra``): a JSON object."""
    if not isinstance(extra, dict):
        raise TypeError(f"extra must be a JSON object, got {shown(extra)}")
    return extra


def _check_description(description: Any) -> Tuple[ModelSpec, Dict[str, Any]]:
    """The spec and the training counters (and extra) of a model file's description."""
    if not isinstance(description, dict):
        raise ModelFileError(f"the model description must be a JSON object, got {shown(description)}")
    try:
        unknown = sorted(set(description) - {*ModelSpec.__dataclass_fields__, *_FILE_EXTRAS})
        if unknown:
            raise ValueError(f"the model description has unknown keys: {', '.join(unknown)[:200]}")
        spec = ModelSpec.from_dict(description)
        rest = {"training": check_training(description.get("training"))}
        if "extra" in description:
            rest["extra"] = _check_extra(description["extra"])
    except (TypeError, ValueError) as exc:
        raise ModelFileError(str(exc)) from None
    return spec, rest


@dataclasses.dataclass(frozen=True)
class Progress:
    """How far an epoch of :meth:`MLP.fit` has come: what callbacks' ``on_progress`` gets,
    at most about every 0.1 s and once at the epoch's end."""

    samples_done: int
    samples_total: int
    batches_done: int
    batches_total: int
    #: Optimizer updates so far, all epochs.
    step: int
    #: TFLearn's displayed figures: moving averages over about the last ten batches.
    loss_average: float
    accuracy_average: float
    #: Over this epoch's batches so far: the mean batch loss, and correct / samples.
    epoch_loss: float
    epoch_accuracy: float
    seconds: float

    @classmethod
    def _of(cls, engine_progress: _core.EpochProgress) -> "Progress":
        return cls(**{field.name: getattr(engine_progress, field.name) for field in dataclasses.fields(cls)})


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
        optimizer: Union[str, Optimizer] = "adam",
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
        spec = ModelSpec.make(
            layer_sizes, activation=activation, output_activation=output_activation, loss=loss, optimizer=optimizer,
            learning_rate=learning_rate, weight_init=weight_init, dropout=dropout, weight_decay=weight_decay,
            clip_norm=clip_norm, seed=int.from_bytes(os.urandom(4), "little") if seed is None else seed, dtype=dtype,
        )
        self._build(spec, threads, device)
        for layer, init in enumerate(spec.weight_init):
            scale = WEIGHT_INITS[init] or 1.0
            # Each layer draws from its own stream of the model's seed.
            self._engine.initialize_layer(layer, WEIGHT_INIT_ALIASES.get(init, init), float(scale), spec.seed)

    def _build(self, spec: ModelSpec, threads: Optional[int], device: str) -> None:
        """The engine of the model ``spec`` describes, its weights not yet set."""
        #: The model's architecture and training settings (see :class:`mnistmlp._spec.ModelSpec`).
        self.spec = spec
        self._device = OneOf(DEVICES).check("device", device)
        engine = _core.Model64 if spec.dtype == "float64" else _core.Model32
        self._engine = engine(engine_config(spec), 0, self._device)
        self.threads = threads

    # -- configuration ------------------------------------------------------------------

    @property
    def layer_sizes(self) -> List[int]:
        return list(self.spec.layer_sizes)

    @property
    def activation(self) -> List[str]:
        """Each hidden layer's activation."""
        return list(self.spec.activation)

    @property
    def output_activation(self) -> str:
        return self.spec.output_activation

    @property
    def loss(self) -> str:
        return self.spec.loss

    @property
    def optimizer(self) -> Optimizer:
        return self.spec.optimizer

    @property
    def weight_init(self) -> List[str]:
        """Each layer's initialiser."""
        return list(self.spec.weight_init)

    @property
    def dropout(self) -> List[float]:
        """Each hidden layer's dropout rate."""
        return list(self.spec.dropout)

    @property
    def weight_decay(self) -> List[float]:
        """Each layer's L2 penalty."""
        return list(self.spec.weight_decay)

    @property
    def clip_norm(self) -> Optional[float]:
        return self.spec.clip_norm

    @property
    def seed(self) -> int:
        return self.spec.seed

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.spec.dtype)

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
        return self.spec.n_layers

    @property
    def steps_(self) -> int:
        """Optimizer updates applied so far."""
        return self._engine.step

    @property
    def epochs_(self) -> int:
        """Complete epochs trained so far."""
        return self._engine.epoch

    def __repr__(self) -> str:
        activation = self.activation
        shown_activation = activation[0] if activation and len(set(activation)) == 1 else activation
        return (
            f"MLP({self.layer_sizes}, activation={shown_activation!r}, "
            f"output_activation={self.output_activation!r}, loss={self.loss!r}, "
            f"optimizer={self.optimizer!r}, dtype={self.spec.dtype!r}"
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
        during an epoch with a :class:`Progress`; return False to stop) and
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
        # The engine refuses NaN and Inf as it reads X (and undoes the epoch): no pass over X here.
        X, y = check_xy(X, y, self.layer_sizes[0], self.layer_sizes[-1], self.dtype)
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
            display = EpochDisplay(epoch, last_epoch, X.shape[0], verbose)
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

        def report(engine_progress: _core.EpochProgress) -> bool:
            progress = Progress._of(engine_progress)
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
        return self._engine.predict(as_inputs(X, self.layer_sizes[0]))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row, shape (n,)."""
        return self.predict_proba(X).argmax(axis=1)

    def evaluate(self, X, y) -> Dict[str, float]:
        """``{"loss": mean loss (no L2 penalty), "accuracy": fraction correct}`` over all rows."""
        X, y = check_xy(X, y, self.layer_sizes[0], self.layer_sizes[-1], self.dtype)
        loss, accuracy = self._engine.evaluate(X, y)
        return {"loss": loss, "accuracy": accuracy}

    def loss_and_gradients(self, X, y) -> Tuple[float, List[Tuple[np.ndarray, np.ndarray]]]:
        """Mean loss over all rows (L2 penalty included) and its gradient ``[(dW, db), ...]``.

        Parameters are not changed. Dropout is not applied: this is the gradient of the
        deterministic network.
        """
        X, y = check_xy(X, y, self.layer_sizes[0], self.layer_sizes[-1], self.dtype)
        return self._engine.loss_and_gradients(X, y)

    # -- model files --------------------------------------------------------------------

    def save(self, path, extra: Optional[dict] = None) -> None:
        """Save architecture, weights, optimizer state and counters to a safetensors file.

        A model loaded from it predicts identically and resumes training exactly where this
        one stands. ``extra`` (JSON-able) is stored alongside, for wrappers such as the
        TFLearn API. The file is written atomically. Saving while the model trains in
        another thread (or from a progress callback) saves it as of its last finished batch.
        """
        description = self.spec.to_dict()
        sections = _file_sections(self.spec.optimizer)
        # One read of the engine: counters and tensors from the same moment.
        description["training"], layers = self._engine.read_state([name for _, name in sections])
        if extra is not None:
            try:
                description["extra"] = _check_extra(extra)
            except TypeError as exc:
                raise ValueError(f"{path}: not saved: {exc}") from None
        tensors = {}
        for (prefix, _), pairs in zip(sections, layers):
            for layer, (W, b) in enumerate(pairs):
                tensors[f"{prefix}.{layer}.weight"] = W
                tensors[f"{prefix}.{layer}.bias"] = b
        write_model_file(path, description, tensors)

    @classmethod
    def load(cls, path, threads: Optional[int] = None, device: str = "cpu") -> "MLP":
        """A model from a file written by :meth:`save` (on any device), on ``device``; raises
        ModelFileError if the file is bad."""
        OneOf(DEVICES).check("device", device)
        spec, rest, tensors = read_model(path)
        model = cls.__new__(cls)
        model._build(spec, threads, device)
        model._load_state(path, spec, rest, tensors)
        return model

    def load_weights(self, path, weights_only: bool = False) -> None:
        """Load a model file written by :meth:`save` into this model.

        The file's architecture must match this model's. With ``weights_only``, only the
        weights and biases are read; otherwise the optimizer state and counters too (the
        optimizer must then be of the same kind), so training resumes where it stopped.
        """
        spec, rest, tensors = read_model(path)
        keys = ["layer_sizes", "activation", "output_activation", "dtype"] + ([] if weights_only else ["loss"])
        for key in keys:
            if getattr(spec, key) != getattr(self.spec, key):
                raise ModelFileError(f"{path}: {key} is {getattr(spec, key)!r} in the file but "
                                     f"{getattr(self.spec, key)!r} in this model")
        if not weights_only and _file_sections(spec.optimizer) != _file_sections(self.spec.optimizer):
            raise ModelFileError(
                f"{path}: saved with optimizer {spec.optimizer.name!r}, whose state does not fit "
                f"this model's {self.spec.optimizer.name!r} (load with weights_only=True)"
            )
        self._load_state(path, spec, None if weights_only else rest, tensors)

    def _load_state(self, path, spec: ModelSpec, rest: Optional[Dict[str, Any]], tensors: Dict[str, np.ndarray]) -> None:
        """Weights and, unless ``rest`` is None (weights only), optimizer state, counters and
        seed from a checked model file; a state the model may not hold is refused as
        ModelFileError."""
        sections = _file_sections(spec.optimizer)[:1 if rest is None else None]
        layers = [
            [(tensors[f"{prefix}.{layer}.weight"], tensors[f"{prefix}.{layer}.bias"]) for layer in range(self.n_layers)]
            for prefix, _ in sections
        ]
        try:
            self._engine.write_state([name for _, name in sections], layers, None if rest is None else rest["training"])
        except ValueError as exc:
            raise ModelFileError(f"{path}: {exc}") from None
        if rest is not None:
            self._engine.seed = spec.seed
            self.spec = dataclasses.replace(self.spec, seed=spec.seed)

    # -- weights ------------------------------------------------------------------------

    def get_weights(self) -> List[Tuple[np.ndarray, np.ndarray]]:
        """Copies of ``[(W (in, out), b (out,)), ...]``, one pair per layer.

        Safe while the model trains in another thread or from a progress callback: the
        weights are then those of the last finished batch."""
        return self._engine.read_state(["params"])[1][0]

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
        self._engine.write_state(["params"], [checked])

