"""TFLearn's TensorBoard logs at ``tensorboard_verbose=0``: loss (and, with ``show_metric``,
accuracy) at every training step, and the validation figures at each epoch's last step.

TFLearn wrote into ``tensorboard_dir/run_id/`` the tags (for a training op named, e.g., "SGD"):

======================  ===========================================================
``Loss``                moving average of the batch loss (the display's "loss")
``SGD/Loss/raw``        the batch's own loss
``Loss/Validation``     the validation loss, at the epoch's last step
``Accuracy``            moving average of the batch accuracy (with ``show_metric``)
``Accuracy/__raw_``     the batch's own accuracy (with ``show_metric``)
``Accuracy/Validation`` the validation accuracy (with ``show_metric``)
======================  ===========================================================

at step = the training step after the batch's update. The moving average is TensorFlow's
``ExponentialMovingAverage(0.9, num_updates=step)`` from 0, as the display's. Whole epochs
run in native code, so an epoch's steps are written at its end, their wall times spread
evenly over the epoch (TFLearn also skipped step 1; these logs include it).
"""

from __future__ import annotations

import os
import time
from typing import Dict, Optional

import numpy as np

from .._tensorboard import EventFileWriter

__all__ = ["TrainingSummaries"]


def moving_averages(values: np.ndarray, first_step: int, start: float) -> np.ndarray:
    """TFLearn's moving average after each of ``values``: at step ``t`` (before the update),
    decay ``min(0.9, (1 + t) / (10 + t))``, from ``start``."""
    averages = np.empty(len(values))
    average = start
    for index, value in enumerate(values.tolist()):
        t = first_step + index
        decay = min(0.9, (1.0 + t) / (10.0 + t))
        average = decay * average + (1.0 - decay) * value
        averages[index] = average
    return averages


class TrainingSummaries:
    """One fit's logs in ``tensorboard_dir/run_id`` (made, or refused with OSError naming it,
    before training)."""

    def __init__(self, tensorboard_dir: str, run_id: str, op_name: str, show_metric: bool) -> None:
        self.writer = EventFileWriter(os.path.join(os.path.expanduser(tensorboard_dir), run_id))
        self.op_name = op_name
        self.show_metric = show_metric
        self.epoch_started = time.time()
        self.first_step = 0
        self.start_averages = (0.0, 0.0)

    def epoch_begin(self, step: int, loss_average: float, accuracy_average: float) -> None:
        """Before an epoch: the model's step and its moving averages."""
        self.epoch_started = time.time()
        self.first_step = step
        self.start_averages = (loss_average, accuracy_average)

    def epoch_end(self, batch_loss: np.ndarray, batch_accuracy: np.ndarray, seconds: float,
                  validation: Optional[Dict[str, float]]) -> None:
        """After an epoch: its batches' figures, and the validation loss and accuracy if any."""
        count = len(batch_loss)
        if count == 0:
            return
        steps = self.first_step + 1 + np.arange(count)
        wall_times = self.epoch_started + seconds * (np.arange(1, count + 1) / count)
        series = {"Loss": moving_averages(batch_loss, self.first_step, self.start_averages[0]),
                  f"{self.op_name}/Loss/raw": batch_loss}
        if self.show_metric:
            series["Accuracy"] = moving_averages(batch_accuracy, self.first_step, self.start_averages[1])
            series["Accuracy/__raw_"] = batch_accuracy
        self.writer.add_scalar_series(steps, series, wall_times)
        if validation is not None:
            figures = {"Loss/Validation": validation["val_loss"]}
            if self.show_metric:
                figures["Accuracy/Validation"] = validation["val_accuracy"]
            self.writer.add_scalars(int(steps[-1]), figures, float(wall_times[-1]))

    def close(self) -> None:
        self.writer.close()
