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
import warnings
from typing import Any, Callable, ClassVar, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _core
from ._config import usable_cpus
from ._display import EpochDisplay, check_verbose
from ._modelfile import ModelFileError, model_file_bytes, read_model_bytes, read_model_file, write_model_file
from ._progress import format_bytes
from ._spec import (ACTIVATIONS, DEVICE, FRACTION, LOSSES, OUTPUT_ACTIVATIONS, WEIGHT_INIT_ALIASES, WEIGHT_INITS,
                    ModelSpec, Optimizer, check_training, make_optimizer, shown)
from ._validation import as_inputs, as_targets, check_int, stacklevel_outside_package
from .callbacks import CallbackList

__all__ = ["MLP", "History", "Progress", "ACTIVATIONS", "OUTPUT_ACTIVATIONS", "LOSSES", "WEIGHT_INITS"]

# One per fit() call: the engine may keep a fit's data on the GPU across its epochs, and
# reads it again when the token changes.
_FIT_TOKENS = itertools.count(1)
# What a model file's description holds besides the spec.
_FILE_EXTRAS = ("training", "extra")
# The figures of an epoch's logs, in order (see fit), and those of its validation.
_EPOCH_LOGS = ("loss", "accuracy", "loss_moving_average", "accuracy_moving_average", "learning_rate", "seconds",
               "samples_per_second")
_VALIDATION_LOGS = ("val_loss", "val_accuracy")
# What a pickled model's errors call it.
_PICKLED = "the pickled model"


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


def read_model(source) -> Tuple[ModelSpec, Dict[str, Any], Dict[str, np.ndarray]]:
    """(spec, the rest of the description: training counters and extra, tensors) of the model
    file at the path ``source``, or in the bytes ``source`` (a pickled model), each checked;
    anything wrong raises ModelFileError naming the file."""

    def describe(description: Any) -> Tuple[Dict[str, Tuple[int, ...]], str]:
        spec = _check_description(description)[0]
        return _file_layout(spec), spec.dtype

    if isinstance(source, bytes):
        description, tensors = read_model_bytes(source, describe, _PICKLED)
    else:
        description, tensors = read_model_file(source, describe)
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

    ``epoch`` lists the epochs' indices (from 0, counting every epoch the model has trained,
    as Keras numbers them). ``history`` maps ``loss``, ``accuracy`` (over all of each epoch's
    batches, measured in the forward pass before each update), ``loss_moving_average`` and
    ``accuracy_moving_average`` (at the epoch's end, TFLearn's displayed figures: an
    exponential moving average over about the last ten batches), ``learning_rate`` (the
    epoch's), ``val_loss`` and ``val_accuracy`` (with validation data), ``seconds`` and
    ``samples_per_second`` to per-epoch lists. ``batch_loss`` and
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
    activation : {"relu", "sigmoid", "tanh", "linear", "leaky_relu", "elu"} or a sequence of them
        Activation of every hidden layer, or one per hidden layer.
    output_activation : {"softmax", "linear", "relu", "sigmoid", "tanh", "leaky_relu", "elu"}
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
        Threads the engine uses. None or 0: OpenMP's setting (``OMP_NUM_THREADS``,
        threadpoolctl's limits), at most the CPUs this process may use, read at each call.
        Results are bitwise identical for any thread count.
    dtype : {"float32", "float64"}
    device : {"cpu", "cuda", "cuda:N"}
        Where the model trains and predicts. ``"cuda"`` runs whole epochs on the first GPU,
        ``"cuda:N"`` on the GPU of CUDA index N (see :func:`mnistmlp.cuda_available`); either
        raises RuntimeError saying why when this build has no CUDA backend or no such GPU is
        visible. Results repeat exactly run to run on the same GPU and agree with the CPU's to
        rounding; model files do not depend on the device.

    Notes
    -----
    Models pickle (``pickle``, ``joblib``, ``copy.deepcopy``) as their model file's bytes, with
    their thread and device settings: a restored model trains on exactly as the original would.
    """

    #: Whether inputs are pixel intensities, which float values far beyond [0, 1] are not.
    _inputs_are_pixels: ClassVar[bool] = True

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
        self._device = DEVICE.check("device", device)
        engine = _core.Model64 if spec.dtype == "float64" else _core.Model32
        self._engine = engine(engine_config(spec), 0, self._device)
        self.threads = threads
        #: Set True (by a callback) to end :meth:`fit` after the current epoch.
        self.stop_training = False

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
        """The optimizer's settings (settable between epochs, to settings of the same kind of
        optimizer, by name or object: its state carries on)."""
        return self.spec.optimizer

    @optimizer.setter
    def optimizer(self, value: Union[str, Optimizer]) -> None:
        optimizer = make_optimizer(value)
        self._engine.set_optimizer(engine_optimizer(optimizer))
        self.spec = dataclasses.replace(self.spec, optimizer=optimizer)

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
        """Threads the engine uses now (settable; None or 0: OpenMP's setting, at most the usable
        CPUs)."""
        return self._engine.threads

    @threads.setter
    def threads(self, value: Optional[int]) -> None:
        threads = 0 if value is None else check_int("threads", value, 0)
        self._requested_threads = threads  # what a pickle keeps: 0 (None) stays the default wherever it is restored
        if threads > usable_cpus():
            warnings.warn(
                f"threads={threads} is more than the {usable_cpus()} CPUs this process may use: the "
                "extra threads only wait for each other (threads=None never uses more)",
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
        validation_split: float = 0.0,
        verbose: Union[int, str] = "auto",
        callbacks: Sequence = (),
    ) -> History:
        """Train for ``epochs`` epochs of mini-batches; returns a :class:`History`.

        ``X``: (n, features) or (n, 28, 28); uint8 (scaled by 1/255), float32 or float64.
        ``y``: integer labels (n,) or one-hot / soft targets (n, classes).
        ``validation_data=(X_val, y_val)``, or ``validation_split``: the last fraction of ``X``
        and ``y`` (taken before any shuffling, as Keras takes it), held out and evaluated at the
        end of each epoch (``val_loss``, ``val_accuracy``).
        ``verbose``: 0 silent, 1 a live progress bar per epoch (on a terminal or in Jupyter;
        one line per epoch elsewhere), 2 one line per epoch, ``"auto"`` (1).

        ``callbacks``: objects with any of Keras's hooks (see :class:`mnistmlp.callbacks.Callback`):
        ``on_train_begin(logs)``, ``on_epoch_begin(epoch, logs)``, ``on_progress(progress)``
        (a :class:`Progress`, at most about every 0.1 s during an epoch and at least once at
        its end; no call per batch), ``on_epoch_end(epoch, logs)``, ``on_train_end(logs)``.
        Epochs are numbered from 0, counting every epoch the model has trained (as
        ``History.epoch``). A callback sets ``model.stop_training = True`` to end training
        after the current epoch; ``on_progress`` returning False ends it after the current
        batch (that shortened epoch counts in ``epochs_`` and ``History``). Between epochs
        callbacks may change the model (``learning_rate``, weights).

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
        verbose = check_verbose(verbose)
        # The engine refuses NaN and Inf as it reads X (and undoes the epoch): no pass over X here.
        X, y = self._checked(X, y)
        X, y, validation = self._validation(X, y, validation_data, validation_split)
        callback_list = CallbackList(callbacks, self)
        callback_list.set_params({"epochs": epochs, "batch_size": batch_size, "samples": X.shape[0], "verbose": verbose,
                                  "metrics": [*_EPOCH_LOGS, *(_VALIDATION_LOGS if validation is not None else ())]})
        history = History()
        self.history_ = history
        self.stop_training = False
        token = next(_FIT_TOKENS)
        last_epoch = self.epochs_ + epochs
        logs: Dict[str, float] = {}
        callback_list.on_train_begin({})
        for _ in range(epochs):
            epoch = self.epochs_
            callback_list.on_epoch_begin(epoch, {})
            display = EpochDisplay(epoch + 1, last_epoch, X.shape[0], verbose)
            learning_rate = self.learning_rate
            result = self._fit_epoch(X, y, batch_size, shuffle, display, callback_list, token)
            figures = (result["loss"], result["accuracy"], result["loss_average"], result["accuracy_average"],
                       learning_rate, result["seconds"], result["samples"] / max(result["seconds"], 1e-12))
            logs = dict(zip(_EPOCH_LOGS, figures))
            if validation is not None:
                logs.update(zip(_VALIDATION_LOGS, self._engine.evaluate(*validation)))
            display.close(logs)
            history._append(epoch, logs)
            history.batch_loss.append(result["batch_loss"])
            history.batch_accuracy.append(result["batch_accuracy"])
            if result["stopped"]:
                self.stop_training = True
            callback_list.on_epoch_end(epoch, dict(logs))
            if self.stop_training:
                break
        callback_list.on_train_end(dict(logs))
        return history

    def _validation(self, X, y, validation_data, validation_split) -> Tuple[np.ndarray, np.ndarray, Optional[Tuple]]:
        """The training rows and the checked validation set (None without one)."""
        split = FRACTION.check("validation_split", validation_split)
        if validation_data is not None:
            if split:
                raise ValueError("give validation_data or validation_split, not both")
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("validation_data must be a tuple (X_val, y_val)")
            X_val, y_val = validation_data
            return X, y, self._checked(X_val, y_val)
        if not split:
            return X, y, None
        keep = int(math.floor(X.shape[0] * (1.0 - split)))  # Keras's rounding
        if keep in (0, X.shape[0]):
            raise ValueError(f"validation_split={split} of {X.shape[0]} rows leaves "
                             f"{'no training' if keep == 0 else 'no validation'} rows")
        return X[:keep], y[:keep], (X[keep:], y[keep:])

    def _checked(self, X, y) -> Tuple[np.ndarray, np.ndarray]:
        """``X`` and ``y`` checked against this model, as the engine takes them."""
        X = as_inputs(X, self.layer_sizes[0], pixels=self._inputs_are_pixels)
        return X, as_targets(y, X.shape[0], self.layer_sizes[-1], self.dtype, loss=self.loss)

    def _fit_epoch(self, X, y, batch_size, shuffle, display, callback_list: "CallbackList", token: int) -> dict:
        """One epoch in the engine, reporting to ``display`` and the callbacks' on_progress."""

        def report(engine_progress: _core.EpochProgress) -> bool:
            progress = Progress._of(engine_progress)
            display.update(progress)
            return callback_list.on_progress(progress)

        try:
            return self._engine.fit_epoch(X, y, batch_size, bool(shuffle), report, data_token=token)
        except BaseException:
            display.abandon()
            raise

    @property
    def learning_rate(self) -> float:
        """The optimizer's learning rate (with SGD's decay, the rate it decays from).

        Settable between epochs, by a schedule or a callback; saved in model files, so a
        resumed model trains on at the rate it had."""
        return self.spec.optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self.optimizer = dataclasses.replace(self.spec.optimizer, learning_rate=value)

    def summary(self, print_fn: Callable[[str], Any] = print) -> None:
        """Print the layers, their output shapes and parameter counts, and the optimizer."""
        sizes, rows = self.layer_sizes, []
        activations = [*self.activation, self.output_activation]
        for layer in range(self.n_layers):
            rows.append((f"dense_{layer}", f"(None, {sizes[layer + 1]})", activations[layer],
                         f"{sizes[layer] * sizes[layer + 1] + sizes[layer + 1]:,}",
                         f"{self.dropout[layer]:g}" if layer < len(self.dropout) and self.dropout[layer] else ""))
        headers = ("Layer", "Output shape", "Activation", "Parameters", "Dropout")
        widths = [max(len(header), *(len(row[i]) for row in rows)) for i, header in enumerate(headers)]
        line = lambda cells: "  ".join(  # noqa: E731
            cell.rjust(width) if i == 3 else cell.ljust(width) for i, (cell, width) in enumerate(zip(cells, widths))
        ).rstrip()
        total = sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))
        slots = self._engine.state_slot_names
        rule = "-" * len(line(headers))
        print_fn(f"MLP: {sizes[0]} inputs, {self.n_layers} dense layers, {self.spec.dtype}, on {self._device}")
        print_fn(rule)
        print_fn(line(headers))
        print_fn(rule)
        for row in rows:
            print_fn(line(row))
        print_fn(rule)
        print_fn(f"Parameters: {total:,} ({format_bytes(total * self.dtype.itemsize)})")
        print_fn(f"Optimizer: {self.optimizer!r}"
                 + (f", state {', '.join(slots)}: {total * len(slots):,} values" if slots else ", no state"))
        print_fn(f"Trained: {self.epochs_:,} epochs, {self.steps_:,} steps")

    def _snapshot(self) -> _core._State:
        """Everything training changes (parameters, optimizer state, counters), as of now."""
        return self._engine.read_state(["params", *self._engine.state_slot_names])

    def _restore(self, snapshot: _core._State) -> None:
        """The model exactly as it was when :meth:`_snapshot` took ``snapshot``."""
        training, layers = snapshot
        self._engine.write_state(["params", *self._engine.state_slot_names], layers, training)

    # -- inference ----------------------------------------------------------------------

    def predict_proba(self, X) -> np.ndarray:
        """Output activations (softmax probabilities for a softmax output), shape (n, classes).

        Safe to call from several threads at once, and while the model trains (it then
        predicts with the weights of the last finished batch). Ctrl-C interrupts a long call.
        Raises FloatingPointError, never returns NaN, when the outputs overflow.
        """
        return self._engine.predict(as_inputs(X, self.layer_sizes[0], pixels=self._inputs_are_pixels))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row, shape (n,)."""
        return self.predict_proba(X).argmax(axis=1)

    def evaluate(self, X, y) -> Dict[str, float]:
        """``{"loss": mean loss (no L2 penalty), "accuracy": fraction correct}`` over all rows."""
        loss, accuracy = self._engine.evaluate(*self._checked(X, y))
        return {"loss": loss, "accuracy": accuracy}

    def loss_and_gradients(self, X, y) -> Tuple[float, List[Tuple[np.ndarray, np.ndarray]]]:
        """Mean loss over all rows (L2 penalty included) and its gradient ``[(dW, db), ...]``.

        Parameters are not changed. Dropout is not applied: this is the gradient of the
        deterministic network.
        """
        return self._engine.loss_and_gradients(*self._checked(X, y))

    # -- model files --------------------------------------------------------------------

    def save(self, path, extra: Optional[dict] = None) -> None:
        """Save architecture, weights, optimizer state and counters to a safetensors file.

        A model loaded from it predicts identically and resumes training exactly where this
        one stands. ``extra`` (JSON-able) is stored alongside, for wrappers such as the
        TFLearn API. The file is written atomically. Saving while the model trains in
        another thread (or from a progress callback) saves it as of its last finished batch.
        """
        if extra is not None:
            try:
                _check_extra(extra)
            except TypeError as exc:
                raise ValueError(f"{path}: not saved: {exc}") from None
        write_model_file(path, *self._file_contents(extra))

    def _file_contents(self, extra: Optional[dict] = None) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
        """The description and tensors of this model's file, as of now."""
        description = self.spec.to_dict()
        sections = _file_sections(self.spec.optimizer)
        # One read of the engine: counters and tensors from the same moment.
        description["training"], layers = self._engine.read_state([name for _, name in sections])
        if extra is not None:
            description["extra"] = extra
        tensors = {}
        for (prefix, _), pairs in zip(sections, layers):
            for layer, (W, b) in enumerate(pairs):
                tensors[f"{prefix}.{layer}.weight"] = W
                tensors[f"{prefix}.{layer}.bias"] = b
        return description, tensors

    def __getstate__(self) -> Dict[str, Any]:
        """What pickle keeps: the model file's bytes in place of the engine, and the other
        attributes (thread and device settings, ``history_``...)."""
        state = {name: value for name, value in self.__dict__.items() if name not in ("spec", "_engine")}
        state["_model_file"] = model_file_bytes(*self._file_contents())
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        """The model :meth:`__getstate__` pickled, checked as a model file is when loaded, on the
        same device (RuntimeError if it has none here) and thread setting."""
        state = dict(state)
        spec, rest, tensors = read_model(state.pop("_model_file"))
        self._build(spec, state.pop("_requested_threads"), state.pop("_device"))
        self._load_state(_PICKLED, spec, rest, tensors)
        self.__dict__.update(state)

    @classmethod
    def load(cls, path, threads: Optional[int] = None, device: str = "cpu") -> "MLP":
        """A model from a file written by :meth:`save` (on any device), on ``device``; raises
        ModelFileError if the file is bad."""
        DEVICE.check("device", device)
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

