"""``DNN``: TFLearn's model class, training an mnistmlp :class:`~mnistmlp.MLP`.

The network given to ``DNN`` (the chain ``input_data -> fully_connected / dropout ... ->
regression``) becomes one ``MLP``, available as ``dnn.model``. Every DNN is independent:
building several in one process needs no graph reset.
"""

from __future__ import annotations

import math
import numbers
import os
import secrets
import string
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np

from ..._modelfile import check_destination
from ...model import MLP
from ..._validation import as_inputs, as_targets, check_int
from .._display import TermDisplay
from .._summaries import TrainingSummaries
from .._errors import unsupported
from ..callbacks import TrainingState
from ..config import graph_defaults
from ..layers.core import Layer, Variable

__all__ = ["DNN"]


def _chain(network: Layer) -> Tuple[Layer, List[Layer], List[float], Layer]:
    """(input layer, dense layers in order, dropout rate after each dense layer, regression)."""
    if not isinstance(network, Layer) or network.kind != "regression":
        raise TypeError(f"DNN needs the output of tflearn.regression(...), got {network!r}")
    nodes, node = [], network.incoming
    while node is not None:
        nodes.append(node)
        node = node.incoming
    nodes.reverse()
    if nodes[0].kind != "input":
        raise ValueError("the network must start with input_data")
    dense, rates = [], []
    for node in nodes[1:]:
        if node.kind == "fully_connected":
            dense.append(node)
            rates.append(0.0)
        elif node.kind == "dropout":
            rates[-1] = 1.0 - node.settings["keep_prob"]
        elif node.kind == "flatten" and dense:
            raise unsupported("flatten after a fully_connected layer")
    return nodes[0], dense, rates, network


def _run_id() -> str:
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(6))


def _single_array(value, sample_ndim: int):
    """TFLearn takes an array, a list of one array (one per input layer), or a dict
    {layer: array}. A list holding one array of ``sample_ndim`` dimensions is a list of
    samples, not of inputs: ``predict([x])`` predicts the one sample ``x``."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)) and len(value) == 1 and np.ndim(value[0]) > sample_ndim:
        value = value[0]
    return value


class DNN:
    """A deep neural network model (TFLearn's ``tflearn.DNN``), trained by mnistmlp's engine.

    ``clip_gradients`` (default 5.0, as TFLearn) clips the gradient to that global norm before
    each update; 0 turns clipping off. ``checkpoint_path`` saves a model file
    ``{checkpoint_path}-{step}`` at the end of each epoch (when ``snapshot_epoch``), keeping
    the last ``max_checkpoints``; ``best_checkpoint_path`` saves
    ``{best_checkpoint_path}{val_acc * 10000}`` whenever validation accuracy beats
    ``best_val_accuracy``. With ``tensorboard_verbose=0`` (the default) each ``fit`` writes
    TFLearn's loss (and, with ``show_metric``, accuracy) summaries into
    ``tensorboard_dir/run_id/`` for TensorBoard (see :mod:`mnistmlp.tflearn._summaries`);
    levels 1 to 3 (histograms of gradients, weights and activations) and sessions are
    TensorFlow's and are not supported.

    ``device`` (an mnistmlp addition; TensorFlow chose devices with ``tf.device``): ``"cpu"``,
    ``"cuda"`` or ``"cuda:N"`` to train and predict on an NVIDIA GPU, as :class:`mnistmlp.MLP` does.
    """

    def __init__(self, network, clip_gradients=5.0, tensorboard_verbose=0, tensorboard_dir="/tmp/tflearn_logs/",
                 checkpoint_path=None, best_checkpoint_path=None, max_checkpoints=None, session=None,
                 best_val_accuracy=0.0, device="cpu") -> None:
        if session is not None:
            raise unsupported("DNN(session=...)", "there is no TensorFlow session")
        if tensorboard_verbose in (1, 2, 3) and not isinstance(tensorboard_verbose, bool):
            raise unsupported(f"tensorboard_verbose={tensorboard_verbose} (histograms of gradients, weights or "
                              "activations)", "tensorboard_verbose=0 writes the loss and accuracy")
        if tensorboard_verbose != 0:
            raise ValueError(f"DNN: tensorboard_verbose must be 0, 1, 2 or 3, got {tensorboard_verbose!r}")
        if isinstance(clip_gradients, bool) or not isinstance(clip_gradients, (int, float)) or not clip_gradients >= 0:
            raise ValueError(f"DNN: clip_gradients must be a number >= 0 (0 = no clipping), got {clip_gradients!r}")
        if max_checkpoints is not None and (not isinstance(max_checkpoints, numbers.Integral) or max_checkpoints < 1):
            raise ValueError(f"DNN: max_checkpoints must be a positive integer or None, got {max_checkpoints!r}")
        self.input_layer, self._dense, dropout, self.regression = _chain(network)
        settings = self.regression.settings
        defaults = graph_defaults()
        self.seed = defaults["seed"] if defaults["seed"] is not None else secrets.randbits(31)
        cores = os.cpu_count() or 1
        # More threads than cores only adds contention; TFLearn's num_cores is an upper bound too.
        threads = min(defaults["num_cores"], cores) if defaults["num_cores"] else None
        sizes = [self.input_layer.n_features] + [layer.settings["n_units"] for layer in self._dense]
        activations = [layer.settings["activation"] for layer in self._dense]
        self.model = MLP(
            sizes, activation=activations[:-1], output_activation=activations[-1], loss=settings["loss"],
            optimizer=settings["optimizer"]._engine_optimizer(), weight_init="zeros", dropout=dropout[:-1],
            weight_decay=[layer.settings["weight_decay"] for layer in self._dense],
            clip_norm=float(clip_gradients) or None, seed=self.seed, threads=threads, dtype=settings["dtype"],
            device=device,
        )
        weights = []
        for index, layer in enumerate(self._dense):
            rng = np.random.default_rng([self.seed, index])
            n_in, n_out = sizes[index], sizes[index + 1]
            weights.append((layer.settings["weights_init"]((n_in, n_out), rng), layer.settings["bias_init"]((n_out,), rng)))
        self.model.set_weights(weights)
        self.training_state = TrainingState()
        self.checkpoint_path = checkpoint_path
        self.best_checkpoint_path = best_checkpoint_path
        self.max_checkpoints = max_checkpoints
        self.best_val_accuracy = float(best_val_accuracy)
        self.tensorboard_dir = tensorboard_dir
        self._checkpoints: List[str] = []

    @property
    def trainer(self):
        """TFLearn's ``Trainer`` object: not in mnistmlp (raises NotImplementedError)."""
        raise unsupported("DNN.trainer", "DNN.fit and DNN.fit_batch train the model, DNN.model is the MLP they train")

    @property
    def session(self):
        """TFLearn's TensorFlow session: not in mnistmlp (raises NotImplementedError)."""
        raise unsupported("DNN.session", "there is no TensorFlow session; DNN.model is the MLP that holds the weights")

    # -- data ---------------------------------------------------------------------------

    def _inputs(self, X, what: str = "X_inputs") -> np.ndarray:
        expected = tuple(self.input_layer.shape[1:])
        X = np.asarray(_single_array(X, len(expected)))
        if X.ndim < 1 or X.shape[1:] != expected:
            raise ValueError(
                f"{what}: input_data(shape={self.input_layer.shape}) expects samples of shape {expected}, "
                f"got an array of shape {X.shape}"
                + (f"; reshape it with X.reshape(-1, {', '.join(map(str, expected))})" if X.ndim >= 1 and
                   math.prod(X.shape[1:]) == self.input_layer.n_features else "")
            )
        return as_inputs(X.reshape(len(X), -1), self.input_layer.n_features, what)

    def _targets(self, Y, n: int, what: str = "Y_targets") -> np.ndarray:
        return as_targets(_single_array(Y, 1), n, self._dense[-1].settings["n_units"], self.model.dtype, what,
                          loss=self.model.loss)

    # -- training -----------------------------------------------------------------------

    def fit(self, X_inputs, Y_targets, n_epoch=10, validation_set=None, show_metric=False, batch_size=None,
            shuffle=None, snapshot_epoch=True, snapshot_step=None, excl_trainops=None, validation_batch_size=None,
            run_id=None, callbacks=[]):
        """Train for ``n_epoch`` epochs with TFLearn's training display.

        ``validation_set``: a tuple ``(X, Y)``, or a fraction of the training data held out
        at random (seeded) for validation, evaluated at the end of each epoch.
        ``batch_size`` and ``shuffle`` default to those given to ``regression``.
        """
        if snapshot_step is not None:
            raise unsupported("fit(snapshot_step=...)", "snapshots are taken at the end of each epoch (snapshot_epoch)")
        if excl_trainops:
            raise unsupported("fit(excl_trainops=...)", "a network has exactly one training operation")
        if isinstance(n_epoch, bool) or not isinstance(n_epoch, numbers.Integral) or n_epoch < 1:
            raise ValueError(f"fit: n_epoch must be a positive integer, got {n_epoch!r}")
        for checkpoints in (self.checkpoint_path, self.best_checkpoint_path):
            if checkpoints:  # before an epoch of training, not after it
                check_destination(checkpoints)
        settings = self.regression.settings
        batch_size = settings["batch_size"] if batch_size is None else check_int("fit: batch_size", batch_size, 1)
        shuffle = settings["shuffle"] if shuffle is None else bool(shuffle)
        X = self._inputs(X_inputs)
        Y = self._targets(Y_targets, len(X))
        X, Y, validation = self._split_validation(X, Y, validation_set)
        callbacks = list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]
        run_id = run_id or _run_id()
        summaries = TrainingSummaries(self.tensorboard_dir, run_id, settings["op_name"], bool(show_metric))
        display = TermDisplay(settings["op_name"], len(X), bool(show_metric))
        display.header(run_id, 0 if validation is None else len(validation[0]))
        bridge = _TrainingBridge(self, display, summaries, callbacks, bool(show_metric), len(X), batch_size)
        for callback in callbacks:
            callback.on_train_begin(self.training_state)
        try:
            self.model.fit(X, Y, epochs=n_epoch, batch_size=batch_size, shuffle=shuffle,
                           validation_data=validation if snapshot_epoch else None, verbose=0, callbacks=[bridge])
        finally:
            summaries.close()
            for callback in callbacks:
                callback.on_train_end(self.training_state)

    def _split_validation(self, X, Y, validation_set):
        if validation_set is None:
            return X, Y, None
        if isinstance(validation_set, float) and not isinstance(validation_set, bool):
            if not 0 < validation_set < 1:
                raise ValueError(f"fit: a validation_set fraction must be in (0, 1), got {validation_set}")
            # TFLearn shuffles, then holds out the last fraction.
            order = np.random.default_rng([self.seed, self.training_state.epoch]).permutation(len(X))
            split = int(len(X) * (1 - validation_set))
            held = order[split:]
            order = np.sort(order[:split])
            return X[order], Y[order], (X[held], Y[held])
        if isinstance(validation_set, (tuple, list)) and len(validation_set) == 2:
            Xv = self._inputs(validation_set[0], "validation_set X")
            return X, Y, (Xv, self._targets(validation_set[1], len(Xv), "validation_set Y"))
        raise ValueError("fit: validation_set must be a tuple (X, Y) or a fraction such as 0.1")

    def fit_batch(self, X_inputs, Y_targets) -> float:
        """One update on exactly these samples; returns their loss measured before it."""
        X = self._inputs(X_inputs)
        Y = self._targets(Y_targets, len(X))
        history = self.model.fit(X, Y, epochs=1, batch_size=len(X), shuffle=False, verbose=0)
        self.training_state.step = self.model.steps_
        return history.history["loss"][-1]

    # -- inference ----------------------------------------------------------------------

    def predict(self, X) -> np.ndarray:
        """The network's output for each sample: class probabilities for a softmax output."""
        return self.model.predict_proba(self._inputs(X, "X"))

    def predict_label(self, X) -> np.ndarray:
        """Each sample's class indices sorted by descending probability (TFLearn's meaning)."""
        return np.argsort(-self.predict(X), axis=1, kind="stable")

    def evaluate(self, X, Y, batch_size=128) -> List[float]:
        """``[accuracy]`` over all of ``X`` (TFLearn's list of metric scores)."""
        X = self._inputs(X, "X")
        return [self.model.evaluate(X, self._targets(Y, len(X), "Y"))["accuracy"]]

    # -- weights and files --------------------------------------------------------------

    def _layer_index(self, variable) -> int:
        if isinstance(variable, Variable):
            for index, layer in enumerate(self._dense):
                if layer is variable.layer:
                    return index
        raise ValueError(f"{variable!r} is not a weight of this model's layers (use layer.W or layer.b)")

    def get_weights(self, weight_tensor) -> np.ndarray:
        """A copy of a layer's weights (``layer.W``, shape (in, out)) or biases (``layer.b``)."""
        W, b = self.model.get_weights()[self._layer_index(weight_tensor)]
        return W if weight_tensor.kind == "W" else b

    def set_weights(self, tensor, weights) -> None:
        """Replace a layer's weights (``layer.W``) or biases (``layer.b``)."""
        index = self._layer_index(tensor)
        all_weights = self.model.get_weights()
        W, b = all_weights[index]
        all_weights[index] = (weights, b) if tensor.kind == "W" else (W, weights)
        self.model.set_weights(all_weights)

    def save(self, model_file) -> None:
        """Save the model (weights, optimizer state, counters) to one safetensors file."""
        self.model.save(model_file, extra={"tflearn": {"layers": [layer.name for layer in self._dense]}})

    def load(self, model_file, weights_only=False, **optargs) -> None:
        """Load a file saved by ``save`` (or ``MLP.save``) into this model.

        The architecture must match. With ``weights_only``, only weights and biases are read;
        otherwise training resumes exactly where the saved model stopped.
        """
        if optargs:
            raise unsupported(f"load options {sorted(optargs)}")
        self.model.load_weights(model_file, weights_only=weights_only)
        if not weights_only:
            self.training_state.step = self.model.steps_
            self.training_state.epoch = self.model.epochs_

    def _snapshot(self, state: TrainingState) -> None:
        if self.checkpoint_path:
            path = f"{self.checkpoint_path}-{state.step}"
            self.save(path)
            self._checkpoints.append(path)
            while self.max_checkpoints and len(self._checkpoints) > self.max_checkpoints:
                Path(self._checkpoints.pop(0)).unlink(missing_ok=True)
        if self.best_checkpoint_path and state.val_acc is not None and state.val_acc > self.best_val_accuracy:
            self.best_val_accuracy = state.val_acc
            self.save(f"{self.best_checkpoint_path}{int(10000 * round(state.val_acc, 4))}")


class _TrainingBridge:
    """Turns the engine's progress reports and epoch ends into TFLearn's state, display and
    callback calls."""

    def __init__(self, dnn: DNN, display: TermDisplay, summaries: TrainingSummaries, callbacks, show_metric: bool,
                 n_train: int, batch_size: int):
        self.dnn, self.display, self.summaries, self.callbacks = dnn, display, summaries, callbacks
        self.show_metric, self.n_train = show_metric, n_train
        self.batches = -(-n_train // batch_size)

    def on_epoch_begin(self, epoch: int, logs: dict) -> None:
        state = self.dnn.training_state
        state.epoch += 1
        state.current_iter = 0
        state.step_time_total = 0.0
        state.val_loss = state.val_acc = None
        counters = self.dnn.model._engine.read_state([])[0]
        self.summaries.epoch_begin(counters["step"], counters["loss_average"], counters["accuracy_average"])
        for callback in self.callbacks:
            callback.on_epoch_begin(state)

    def on_progress(self, progress) -> None:
        state = self.dnn.training_state
        state.step = progress.step
        state.current_iter = progress.samples_done
        state.loss_value = state.global_loss = progress.loss_average
        state.acc_value = state.global_acc = progress.accuracy_average if self.show_metric else None
        state.epoch_acc = progress.epoch_accuracy
        state.epoch_batches = progress.batches_done
        state.step_time_total = progress.seconds
        self.display.update(state)
        for callback in self.callbacks:
            callback.on_batch_begin(state)
            callback.on_sub_batch_begin(state)
            callback.on_sub_batch_end(state, 0)
            callback.on_batch_end(state, False)

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        state = self.dnn.training_state
        state.step = self.dnn.model.steps_
        state.current_iter = self.n_train
        state.loss_value = state.global_loss = logs["loss_moving_average"]
        state.acc_value = state.global_acc = logs["accuracy_moving_average"] if self.show_metric else None
        state.epoch_acc = logs["accuracy"]
        state.epoch_batches = self.batches
        state.step_time_total = logs["seconds"]
        state.val_loss = logs.get("val_loss")
        state.val_acc = logs.get("val_accuracy") if self.show_metric else None
        if state.val_acc is not None:
            state.best_accuracy = max(state.best_accuracy, state.val_acc)
        self.display.epoch_end(state)
        history = self.dnn.model.history_
        self.summaries.epoch_end(history.batch_loss[-1], history.batch_accuracy[-1], logs["seconds"],
                                 logs if "val_loss" in logs else None)
        self.dnn._snapshot(state)
        for callback in self.callbacks:
            callback.on_epoch_end(state)
