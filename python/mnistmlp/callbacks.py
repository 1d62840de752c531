"""Steering training: Keras's callback protocol, and the callbacks most runs want.

::

    from mnistmlp.callbacks import CSVLogger, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau

    model.fit(X, y, epochs=50, validation_split=0.1, callbacks=[
        EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True),
        ModelCheckpoint("best.safetensors", monitor="val_accuracy", save_best_only=True),
        ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2),
        CSVLogger("training.csv"),
    ])

A callback is any object with some of these hooks (subclass :class:`Callback` to get the
rest as no-ops); :meth:`mnistmlp.MLP.fit` calls them in the order given:

- ``on_train_begin(logs)`` and ``on_train_end(logs)`` (the last epoch's logs) around a fit;
- ``on_epoch_begin(epoch, logs)`` and ``on_epoch_end(epoch, logs)`` around each epoch, whose
  ``logs`` hold ``loss``, ``accuracy``, ``learning_rate``, ``val_loss``, ``val_accuracy`` (with
  validation data), ``seconds``... (``History`` lists them all). Epochs are numbered from 0,
  counting every epoch the model has trained, as Keras numbers them;
- ``on_progress(progress)`` with a :class:`mnistmlp.Progress`, at most about every 0.1 s while
  an epoch runs and at least once, at its end. Whole epochs run in native code: there is no
  call per batch, so callbacks cost the training loop nothing.

A callback ends training by setting ``self.model.stop_training = True`` (after the current
epoch), or by returning False from ``on_progress`` (after the current batch). Between epochs
it may change the model: its ``learning_rate``, its weights. ``self.model`` is the model being
trained and ``self.params`` holds fit's settings (``epochs``, ``batch_size``, ``samples``,
``verbose``, and ``metrics``: the keys the epochs' logs will have).
"""

from __future__ import annotations

import csv
import inspect
import math
import numbers
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, TextIO

from ._spec import NON_NEGATIVE, Interval, OneOf, OrNone, shown

if TYPE_CHECKING:
    from .model import MLP, Progress

__all__ = ["Callback", "CallbackList", "EarlyStopping", "ModelCheckpoint", "CSVLogger", "TensorBoard",
           "LearningRateScheduler", "ReduceLROnPlateau"]

#: The hooks of the protocol, in the order fit calls them.
HOOKS = ("on_train_begin", "on_epoch_begin", "on_progress", "on_epoch_end", "on_train_end")
_COUNT = Interval(0, integer=True)
_MODES = OneOf(("auto", "min", "max"))


class Callback:
    """Base class of callbacks: every hook does nothing until overridden."""

    model: "MLP"
    params: Dict[str, Any] = {}

    def set_model(self, model: "MLP") -> None:
        self.model = model

    def set_params(self, params: Dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs: Optional[Dict[str, float]] = None) -> None:
        pass

    def on_train_end(self, logs: Optional[Dict[str, float]] = None) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs: Optional[Dict[str, float]] = None) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: Optional[Dict[str, float]] = None) -> None:
        pass

    def on_progress(self, progress: "Progress") -> Optional[bool]:
        return None


class CallbackList:
    """fit's view of its callbacks: each hook called on every callback that has it."""

    def __init__(self, callbacks: Optional[Iterable[Any]], model: "MLP") -> None:
        if callbacks is None:
            callbacks = ()
        if isinstance(callbacks, Callback) or not isinstance(callbacks, Iterable) or isinstance(callbacks, str):
            raise TypeError(f"callbacks must be a list of callbacks, got {shown(callbacks)}")
        self.callbacks = list(callbacks)
        for index, callback in enumerate(self.callbacks):
            if not any(callable(getattr(callback, hook, None)) for hook in HOOKS):
                hint = (": wrap a schedule in mnistmlp.callbacks.LearningRateScheduler" if callable(callback)
                        else "")
                raise TypeError(f"callbacks[{index}] ({shown(callback)}) has none of the hooks "
                                f"{', '.join(HOOKS)}{hint}")
            if callable(getattr(callback, "set_model", None)):
                callback.set_model(model)
        self._hooks: Dict[str, List[Callable[..., Any]]] = {
            hook: [getattr(c, hook) for c in self.callbacks if callable(getattr(c, hook, None))] for hook in HOOKS
        }

    def set_params(self, params: Dict[str, Any]) -> None:
        for callback in self.callbacks:
            if callable(getattr(callback, "set_params", None)):
                callback.set_params(params)

    def on_train_begin(self, logs: Dict[str, float]) -> None:
        for hook in self._hooks["on_train_begin"]:
            hook(logs)

    def on_train_end(self, logs: Dict[str, float]) -> None:
        for hook in self._hooks["on_train_end"]:
            hook(logs)

    def on_epoch_begin(self, epoch: int, logs: Dict[str, float]) -> None:
        for hook in self._hooks["on_epoch_begin"]:
            hook(epoch, logs)

    def on_epoch_end(self, epoch: int, logs: Dict[str, float]) -> None:
        for hook in self._hooks["on_epoch_end"]:
            hook(epoch, logs)

    def on_progress(self, progress: "Progress") -> bool:
        """Whether training goes on: False if any callback's on_progress returned False."""
        keep_going = True
        for hook in self._hooks["on_progress"]:
            if hook(progress) is False:
                keep_going = False
        return keep_going


class _Monitoring(Callback):
    """A callback that watches one figure of the epochs' logs for improvement."""

    def __init__(self, monitor: str, mode: str, min_delta: float) -> None:
        if not isinstance(monitor, str):
            raise TypeError(f"{type(self).__name__}: monitor must be the name of a logged figure, got {shown(monitor)}")
        self.monitor = monitor
        self.mode = _MODES.check(f"{type(self).__name__}: mode", mode)
        self.min_delta = abs(NON_NEGATIVE.check(f"{type(self).__name__}: min_delta", min_delta))
        # Keras's "auto": accuracies grow, everything else (losses) shrinks.
        self.maximize = mode == "max" or (mode == "auto" and monitor.endswith(("accuracy", "acc")))

    def check_monitor(self) -> None:
        """Before training: the monitored figure must be one fit will log."""
        metrics = self.params.get("metrics")
        if metrics is not None and self.monitor not in metrics:
            hint = (" (val_ figures need validation_data or validation_split)"
                    if self.monitor.startswith("val_") else "")
            raise ValueError(f"{type(self).__name__}: monitor={self.monitor!r} is not a figure this fit logs{hint}; "
                             f"it logs {', '.join(metrics)}")

    def worst(self) -> float:
        return -math.inf if self.maximize else math.inf

    def improves(self, current: float, reference: float) -> bool:
        """Whether ``current`` beats ``reference`` by more than min_delta (NaN never does)."""
        if self.maximize:
            return current - self.min_delta > reference
        return current + self.min_delta < reference

    def current(self, logs: Optional[Dict[str, float]]) -> float:
        return float((logs or {})[self.monitor])


class EarlyStopping(_Monitoring):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs (Keras's rules).

    An epoch improves on the best so far when its figure is better by more than
    ``min_delta``. With ``baseline``, the patience counter restarts only on epochs that also
    beat the baseline. Epochs before ``start_from_epoch`` are not watched. With
    ``restore_best_weights`` the model ends training exactly as it was at the end of the best
    epoch: weights, optimizer state and counters (``epochs_``, ``steps_``), as if loaded from
    a checkpoint taken then; ``History`` keeps every epoch that ran. ``stopped_epoch`` and
    ``best_epoch`` say what happened.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, verbose: int = 0,
                 mode: str = "auto", baseline: Optional[float] = None, restore_best_weights: bool = False,
                 start_from_epoch: int = 0) -> None:
        super().__init__(monitor, mode, min_delta)
        self.patience = _COUNT.check("EarlyStopping: patience", patience)
        self.verbose = verbose
        self.baseline = OrNone(Interval()).check("EarlyStopping: baseline", baseline)
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = _COUNT.check("EarlyStopping: start_from_epoch", start_from_epoch)
        self.stopped_epoch = self.best_epoch = 0
        self.wait = 0
        self.best = self.worst()
        self.best_state: Any = None

    def on_train_begin(self, logs: Optional[Dict[str, float]] = None) -> None:
        self.check_monitor()
        self.stopped_epoch = self.best_epoch = self.wait = 0
        self.best = self.worst()
        self.best_state = None

    def on_epoch_end(self, epoch: int, logs: Optional[Dict[str, float]] = None) -> None:
        if epoch < self.start_from_epoch:
            return
        current = self.current(logs)
        if self.restore_best_weights and self.best_state is None:
            self.best_state, self.best_epoch = self.model._snapshot(), epoch
        self.wait += 1
        if self.improves(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_state = self.model._snapshot()
            if self.baseline is None or self.improves(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Optional[Dict[str, float]] = None) -> None:
        if self.stopped_epoch and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping ({self.monitor} has not improved "
                  f"for {self.wait} epochs)")
        if self.restore_best_weights and self.best_state is not None:
            if self.verbose:
                print(f"Restoring the model as it was at the end of the best epoch, {self.best_epoch + 1}")
            self.model._restore(self.best_state)
            self.best_state = None


class ModelCheckpoint(_Monitoring):
    """Save the model to ``filepath`` after every epoch, or only after those that improve
    ``monitor`` (``save_best_only``).

    ``filepath`` may hold ``{epoch}`` (numbered from 1, as Keras names files) and any logged
    figure, e.g. ``"ckpt-{epoch:02d}-{val_loss:.3f}.safetensors"``. Each save is atomic (a
    crash leaves the previous file whole). The folder is checked before training starts;
    every error names the path.
    """

    def __init__(self, filepath: "os.PathLike[str] | str", monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, mode: str = "auto",
                 initial_value_threshold: Optional[float] = None) -> None:
        super().__init__(monitor, mode, 0.0)
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.initial_value_threshold = OrNone(Interval()).check("ModelCheckpoint: initial_value_threshold",
                                                                initial_value_threshold)
        self.best = self.worst()

    def path_for(self, epoch: int, logs: Dict[str, float]) -> Path:
        try:
            return Path(self.filepath.format(epoch=epoch + 1, **logs))
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"ModelCheckpoint: cannot name a file by {self.filepath!r}: {exc!r}; it may use "
                             f"{{epoch}} and the logged figures {', '.join(logs)}") from None

    def on_train_begin(self, logs: Optional[Dict[str, float]] = None) -> None:
        from ._modelfile import check_destination

        if self.save_best_only:
            self.check_monitor()
        self.best = self.worst() if self.initial_value_threshold is None else self.initial_value_threshold
        metrics = self.params.get("metrics", ())
        check_destination(self.path_for(self.model.epochs_, {name: 0.0 for name in metrics}))

    def on_epoch_end(self, epoch: int, logs: Optional[Dict[str, float]] = None) -> None:
        logs = logs or {}
        if self.save_best_only:
            current = self.current(logs)
            if not self.improves(current, self.best):
                return
            self.best = current
        path = self.path_for(epoch, logs)
        self.model.save(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved the model to {path}")


class CSVLogger(Callback):
    """One CSV row per epoch, ``epoch`` first, then every logged figure in name order.

    The file is opened when training begins (so a bad path fails before any work) and each
    row is flushed as it is written. ``append=True`` continues an existing file (its header
    kept).
    """

    def __init__(self, filename: "os.PathLike[str] | str", separator: str = ",", append: bool = False) -> None:
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = bool(append)
        self.keys: Optional[List[str]] = None
        self._file: Optional[TextIO] = None
        self._writer: Any = None
        self._header_written = False

    def on_train_begin(self, logs: Optional[Dict[str, float]] = None) -> None:
        has_header = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._writer = csv.writer(self._file, delimiter=self.separator)
        self.keys = None
        self._header_written = has_header

    def on_epoch_end(self, epoch: int, logs: Optional[Dict[str, float]] = None) -> None:
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if not self._header_written:
                self._writer.writerow(["epoch", *self.keys])
        self._writer.writerow([epoch, *(repr(logs[key]) if key in logs else "NA" for key in self.keys)])
        assert self._file is not None
        self._file.flush()

    def on_train_end(self, logs: Optional[Dict[str, float]] = None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class TensorBoard(Callback):
    """TensorBoard event files of the epochs' figures: ``log_dir/train`` gets ``epoch_loss``,
    ``epoch_accuracy`` and ``epoch_learning_rate``, ``log_dir/validation`` gets ``epoch_loss``
    and ``epoch_accuracy`` of the validation set, at step = epoch index (Keras's layout).
    Writing needs nothing installed; viewing needs TensorBoard (``pip install
    "mnistmlp[tensorboard]"``, then ``tensorboard --logdir log_dir``)."""

    def __init__(self, log_dir: "os.PathLike[str] | str" = "logs") -> None:
        self.log_dir = os.fspath(log_dir)
        self._writers: Dict[str, Any] = {}

    def on_train_begin(self, logs: Optional[Dict[str, float]] = None) -> None:
        from ._tensorboard import EventFileWriter

        self._writers = {"train": EventFileWriter(os.path.join(self.log_dir, "train"))}
        if "val_loss" in self.params.get("metrics", ()):
            self._writers["validation"] = EventFileWriter(os.path.join(self.log_dir, "validation"))

    def on_epoch_end(self, epoch: int, logs: Optional[Dict[str, float]] = None) -> None:
        logs = logs or {}
        self._writers["train"].add_scalars(epoch, {f"epoch_{key}": logs[key] for key in
                                                   ("loss", "accuracy", "learning_rate") if key in logs})
        if "validation" in self._writers:
            self._writers["validation"].add_scalars(epoch, {f"epoch_{key}": logs[f"val_{key}"]
                                                            for key in ("loss", "accuracy") if f"val_{key}" in logs})

    def on_train_end(self, logs: Optional[Dict[str, float]] = None) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch: ``schedule(epoch)`` or
    ``schedule(epoch, learning_rate)`` (Keras's form) returns it; see :mod:`mnistmlp.schedules`
    for the usual shapes."""

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: schedule must be callable, got {shown(schedule)}")
        self.schedule = schedule
        self.verbose = verbose
        self._takes_rate = _accepts(schedule, 2)
        if not self._takes_rate and not _accepts(schedule, 1):
            raise TypeError("LearningRateScheduler: schedule must take (epoch) or (epoch, learning_rate)")

    def on_epoch_begin(self, epoch: int, logs: Optional[Dict[str, float]] = None) -> None:
        rate = self.schedule(epoch, self.model.learning_rate) if self._takes_rate else self.schedule(epoch)
        if not (isinstance(rate, numbers.Real) and not isinstance(rate, bool) and math.isfinite(rate) and rate > 0):
            raise ValueError(f"LearningRateScheduler: the schedule gave {shown(rate)} for epoch {epoch}; "
                             "a learning rate must be a finite number > 0")
        self.model.learning_rate = float(rate)
        if self.verbose:
            print(f"Epoch {epoch + 1}: learning rate {float(rate):g}")


def _accepts(function: Callable[..., Any], count: int) -> bool:
    """Whether ``function`` can be called with ``count`` positional arguments."""
    try:
        inspect.signature(function).bind(*range(count))
    except TypeError:
        return False
    except ValueError:  # no signature to read (some builtins): assume Keras's form
        return count == 2
    return True


class ReduceLROnPlateau(_Monitoring):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved (by more
    than ``min_delta``) for ``patience`` epochs, then wait ``cooldown`` epochs before watching
    again; never below ``min_lr``. Keras's rules."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, verbose: int = 0,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0) -> None:
        super().__init__(monitor, mode, min_delta)
        self.factor = Interval(0, 1, closed="neither").check("ReduceLROnPlateau: factor", factor)
        self.patience = _COUNT.check("ReduceLROnPlateau: patience", patience)
        self.verbose = verbose
        self.cooldown = _COUNT.check("ReduceLROnPlateau: cooldown", cooldown)
        self.min_lr = NON_NEGATIVE.check("ReduceLROnPlateau: min_lr", min_lr)
        self.wait = self.cooldown_counter = 0
        self.best = self.worst()

    def on_train_begin(self, logs: Optional[Dict[str, float]] = None) -> None:
        self.check_monitor()
        self.wait = self.cooldown_counter = 0
        self.best = self.worst()

    def on_epoch_end(self, epoch: int, logs: Optional[Dict[str, float]] = None) -> None:
        current = self.current(logs)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self.improves(current, self.best):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience and self.model.learning_rate > self.min_lr:
                rate = max(self.model.learning_rate * self.factor, self.min_lr)
                if rate > 0:
                    self.model.learning_rate = rate
                    if self.verbose:
                        print(f"Epoch {epoch + 1}: ReduceLROnPlateau: learning rate now {rate:g}")
                self.cooldown_counter = self.cooldown
                self.wait = 0
