"""Training runs of the page: each in a worker thread, its learning curve kept as a list of
events that any number of streams read."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from ..cli import MNIST_CLASSES, confusion_matrix
from ..experiments import TFLEARN_SETTINGS, Config, _curve
from ..model import MLP, Progress

__all__ = ["Run", "Runs", "TooManyRuns"]

Event = Dict[str, Any]
#: Points of the batch-accuracy curve per epoch: enough for a smooth line, few enough to send.
CURVE_POINTS_PER_EPOCH = 200


class TooManyRuns(RuntimeError):
    """As many runs train as the server allows."""


class Run:
    """One network trained on the page's data, in a thread of its own.

    ``events`` only grows; a stream reads it from any index. What the model is when read
    from another thread (predictions, weights, its file) is its last finished batch.
    """

    def __init__(self, run_id: str, config: Config, seed: int, data, threads: Optional[int], device: str) -> None:
        self.id = run_id
        self.config = config
        self.seed = seed
        self.state = "training"
        self.events: List[Event] = []
        self._data = data
        self._stop = threading.Event()
        self._changed = threading.Condition()
        settings: Dict[str, Any] = dict(TFLEARN_SETTINGS)
        self.model = MLP([data.train.images.shape[1], *config.hidden, MNIST_CLASSES], activation=config.activation,
                         optimizer=config.make_optimizer(), seed=seed, threads=threads, device=device, **settings)
        self._add({"type": "start", **self.summary()})
        self._thread = threading.Thread(target=self._train, name=f"mnistmlp-serve-run-{run_id}", daemon=True)
        self._thread.start()

    def summary(self) -> Dict[str, Any]:
        c = self.config
        return {"id": self.id, "label": c.label, "hidden": list(c.hidden), "activation": c.activation,
                "optimizer": c.optimizer, "learning_rate": c.learning_rate, "batch_size": c.batch_size,
                "epochs": c.epochs, "seed": self.seed, "state": self.state,
                "train_samples": len(self._data.train.images)}

    @property
    def finished(self) -> bool:
        return self.state != "training"

    def stop(self) -> None:
        """End training after the current batch."""
        self._stop.set()

    def join(self, timeout: Optional[float] = None) -> None:
        self._thread.join(timeout)

    def events_since(self, index: int) -> Tuple[List[Event], bool]:
        """The events from ``index`` on, and whether the run has ended (no more will come)."""
        with self._changed:
            return self.events[index:], self.finished

    def _add(self, event: Event, state: Optional[str] = None) -> None:
        with self._changed:
            self.events.append(event)
            if state is not None:
                self.state = state

    # -- the worker thread -----------------------------------------------------------------

    def _train(self) -> None:
        data, config = self._data, self.config
        started = time.monotonic()
        try:
            self.model.fit(data.train.images, data.train.labels, epochs=config.epochs, batch_size=config.batch_size,
                           verbose=0, callbacks=[_Stream(self)],
                           validation_data=(data.validation.images, data.validation.labels))
            test = self.model.evaluate(data.test.images, data.test.labels)
            predicted = self.model.predict(data.test.images)
        except Exception as exc:  # the page shows it; the server goes on
            self._add({"type": "failed", "state": "failed", "message": f"{type(exc).__name__}: {exc}"}, state="failed")
            return
        state = "stopped" if self._stop.is_set() else "done"
        self._add({"type": "end", "state": state, "seconds": time.monotonic() - started,
                   "test_accuracy": float(test["accuracy"]), "test_loss": float(test["loss"]),
                   "confusion": confusion_matrix(data.test.labels, predicted, MNIST_CLASSES).tolist()}, state=state)


class _Stream:
    """The callback that turns a run's training into its events: progress reports as they
    come, and each epoch's batch accuracies and validation figures at its end."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.n = len(run._data.train.images)
        self.epoch = 0

    def on_epoch_begin(self, epoch: int, logs: Dict[str, float]) -> None:
        self.epoch = epoch

    def on_progress(self, progress: Progress) -> bool:
        self.run._add({"type": "progress", "epoch": self.epoch, "samples": self.epoch * self.n + progress.samples_done,
                       "accuracy_average": progress.accuracy_average, "epoch_accuracy": progress.epoch_accuracy})
        return not self.run._stop.is_set()  # False ends training after this batch

    def on_epoch_end(self, epoch: int, logs: Dict[str, float]) -> None:
        history, n, batch_size = self.run.model.history_, self.n, self.run.config.batch_size
        curve = _curve(history.batch_loss[-1], history.batch_accuracy[-1], batch_size, n,
                       max(batch_size, n // CURVE_POINTS_PER_EPOCH))
        self.run._add({"type": "epoch", "epoch": epoch, "samples": epoch * n + int(curve["samples"][-1]),
                       "batch_curve": {"samples": [epoch * n + s for s in curve["samples"]],
                                       "accuracy": curve["accuracy"]},
                       **{key: float(logs[key]) for key in ("loss", "accuracy", "accuracy_moving_average",
                                                            "val_loss", "val_accuracy")}})


class Runs:
    """The server's runs: at most ``max_training`` training at once, the last ``max_kept``
    kept (the oldest finished run makes way for a new one)."""

    def __init__(self, data, max_training: int, max_kept: int, threads: Optional[int], device: str) -> None:
        self._data = data
        self._device = device
        self.max_training = max_training
        self.max_kept = max_kept
        self._threads = threads
        self._runs: Dict[str, Run] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def start(self, config: Config, seed: int) -> Run:
        with self._lock:
            if sum(not run.finished for run in self._runs.values()) >= self.max_training:
                raise TooManyRuns(f"{self.max_training} runs are training already, the most this server allows; "
                                  "stop one or wait for one to end")
            finished = [run_id for run_id, run in self._runs.items() if run.finished]
            while len(self._runs) >= self.max_kept and finished:
                del self._runs[finished.pop(0)]
            run = Run(str(next(self._ids)), config, seed, self._data, self._threads, self._device)
            self._runs[run.id] = run
            return run

    def get(self, run_id: str) -> Run:
        """The run ``run_id``; KeyError if there is none (or no longer)."""
        with self._lock:
            return self._runs[run_id]

    def all(self) -> List[Run]:
        with self._lock:
            return list(self._runs.values())

    def stop_all(self, timeout: Optional[float] = None) -> None:
        """Stop every run and wait for its thread to end (each ends within a batch)."""
        runs = self.all()
        for run in runs:
            run.stop()
        for run in runs:
            run.join(timeout)
