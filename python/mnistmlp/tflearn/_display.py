"""TFLearn's training display, drawn from the engine's progress reports.

On a terminal, two lines are redrawn in place (at most about ten times a second)::

    Training Step: 5500  | total loss: 1.58367 | time: 1.234s
    | SGD | epoch: 001 | loss: 1.58367 - acc: 0.7369 -- iter: 55000/55000

with ``| val_loss: ... - val_acc: ...`` before ``-- iter`` at the end of an epoch that has a
validation set. Elsewhere (a log file, CI) each epoch prints its final pair of lines once.
Every epoch ends with the accuracy over all of its batches, since TFLearn's ``acc`` is a
moving average over about the last ten.
"""

from __future__ import annotations

import sys
from typing import Optional, TextIO

from .callbacks import TrainingState

__all__ = ["TermDisplay"]

_BOLD_GREEN, _RESET, _CLEAR_LINE, _UP_TWO = "\033[1m\033[32m", "\033[0m\033[0m", "\x1b[2K\r", "\033[2F"


class TermDisplay:
    def __init__(self, name: str, train_size: int, show_metric: bool, file: Optional[TextIO] = None) -> None:
        self.name = name
        self.train_size = train_size
        self.show_metric = show_metric
        self.file = sys.stdout if file is None else file
        try:
            self.live = bool(self.file.isatty())
        except (AttributeError, ValueError):
            self.live = False
        self._drawn = False

    def header(self, run_id: str, val_size: int) -> None:
        self._write(
            "---------------------------------\n"
            f"Run id: {run_id}\n"
            "---------------------------------\n"
            f"Training samples: {self.train_size}\n"
            f"Validation samples: {val_size}\n"
            "--\n"
        )

    def lines(self, state: TrainingState, with_validation: bool = False) -> str:
        loss = "" if state.global_loss is None else f"{state.global_loss:.5f}"
        if loss and self.live:
            loss = _BOLD_GREEN + loss + _RESET
        first = f"Training Step: {state.step} " + (f" | total loss: {loss}" if loss else "")
        first += f" | time: {state.step_time_total:.3f}s"
        second = f"| {self.name} | epoch: {state.epoch:03d}"
        if state.loss_value is not None:
            second += f" | loss: {state.loss_value:.5f}"
        if self.show_metric and state.acc_value is not None:
            second += f" - acc: {state.acc_value:.4f}"
        if with_validation and state.val_loss is not None:
            second += f" | val_loss: {state.val_loss:.5f}"
            if self.show_metric and state.val_acc is not None:
                second += f" - val_acc: {state.val_acc:.4f}"
        width = len(str(self.train_size))
        second += f" -- iter: {state.current_iter:0{width}d}/{self.train_size}"
        return first + "\n" + second + "\n"

    def update(self, state: TrainingState) -> None:
        if self.live:
            self._redraw(self.lines(state))

    def epoch_end(self, state: TrainingState) -> None:
        text = self.lines(state, with_validation=True)
        if self.live:
            self._redraw(text)
        else:
            self._write(text)
        self._drawn = False
        if self.show_metric and state.epoch_acc is not None:
            self._write(
                f"| epoch {state.epoch:03d}: accuracy over all {state.epoch_batches} batches of the epoch: "
                f"{state.epoch_acc:.4f} (acc above: moving average of about the last 10 batches)\n"
            )
        self._write("--\n")

    def _redraw(self, text: str) -> None:
        prefix = _UP_TWO if self._drawn else ""
        first, second = text.splitlines()
        self._write(f"{prefix}{_CLEAR_LINE}{first}\n{_CLEAR_LINE}{second}\n")
        self._drawn = True

    def _write(self, text: str) -> None:
        self.file.write(text)
        self.file.flush()
