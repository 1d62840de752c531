"""Training callbacks with TFLearn's hooks, and the training state they receive.

Subclass :class:`Callback` and pass instances to ``DNN.fit(callbacks=...)``.
``on_train_begin``, ``on_epoch_begin``, ``on_epoch_end`` and ``on_train_end`` are called as in
TFLearn. The batch-level hooks (``on_batch_begin``, ``on_sub_batch_begin``,
``on_sub_batch_end``, ``on_batch_end``) are called at each progress report of the engine, at
most about ten times a second, with the latest state: whole epochs run in native code, so
there is no Python call per batch. Raise ``StopIteration`` (or any exception) from a hook to
stop training; it propagates out of ``fit`` once the engine has stopped cleanly between two
batches, as TFLearn users expect of an early-stopping callback.
"""

from __future__ import annotations

from typing import Optional

__all__ = ["Callback", "TrainingState"]


class TrainingState:
    """What callbacks and the display see: counters, running figures and validation results.

    ``loss_value`` and ``acc_value`` are TFLearn's moving averages of the batch loss and
    accuracy (decay ``min(0.9, (1 + t) / (10 + t))`` at step ``t``), about the last ten
    batches; ``epoch_acc`` is the accuracy over all of the current epoch's batches so far.
    """

    def __init__(self) -> None:
        self.epoch = 0
        self.step = 0
        self.current_iter = 0
        self.loss_value: Optional[float] = None
        self.acc_value: Optional[float] = None
        self.val_loss: Optional[float] = None
        self.val_acc: Optional[float] = None
        self.best_accuracy = 0.0
        self.global_loss: Optional[float] = None
        self.global_acc: Optional[float] = None
        self.epoch_acc: Optional[float] = None
        self.epoch_batches = 0
        self.step_time = 0.0
        self.step_time_total = 0.0

    def __repr__(self) -> str:
        return (f"TrainingState(epoch={self.epoch}, step={self.step}, loss_value={self.loss_value}, "
                f"acc_value={self.acc_value}, val_loss={self.val_loss}, val_acc={self.val_acc})")


class Callback:
    """Base class of training callbacks; override the hooks you need."""

    def on_train_begin(self, training_state: TrainingState) -> None:
        pass

    def on_epoch_begin(self, training_state: TrainingState) -> None:
        pass

    def on_batch_begin(self, training_state: TrainingState) -> None:
        pass

    def on_sub_batch_begin(self, training_state: TrainingState) -> None:
        pass

    def on_sub_batch_end(self, training_state: TrainingState, train_index: int = 0) -> None:
        pass

    def on_batch_end(self, training_state: TrainingState, snapshot: bool = False) -> None:
        pass

    def on_epoch_end(self, training_state: TrainingState) -> None:
        pass

    def on_train_end(self, training_state: TrainingState) -> None:
        pass
