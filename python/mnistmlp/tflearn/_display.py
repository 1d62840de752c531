"""TFLearn's training display, drawn from the engine's progress reports.

Where lines can be redrawn in place (``mnistmlp._terminal.capabilities``: a terminal that is
not ``TERM=dumb``, or a Jupyter kernel's output), two lines are redrawn in place, at most
about ten times a second::

    Training Step: 5500  | total loss: 1.58367 | time: 1.234s
    | SGD | epoch: 001 | loss: 1.58367 - acc: 0.7369 -- iter: 55000/55000

with ``| val_loss: ... - val_acc: ...`` before ``-- iter`` at the end of an epoch that has a
validation set. On a terminal the total loss is in bold green, as in TFLearn, unless
``NO_COLOR`` is set; the live lines fit the terminal's width, re-measured at each redraw:
``| time: ...``, the optimizer's name, ``-- iter: ...``, the step and the epoch number make
way, the losses and accuracies are never cut (on a terminal too narrow for them, a line is
left empty until the epoch's end). Each epoch's final pair of lines is printed whole once
the live lines are erased (it may wrap on a narrow terminal). In a notebook the two lines are
the plain text of one display output updated in place (no ``\\r``, no escape sequences).
Elsewhere (a log file, CI, ``TERM=dumb``) each epoch prints its final pair of lines once,
without escape sequences. Every epoch ends with the accuracy over all of its batches, since
TFLearn's ``acc`` is a moving average over about the last ten.
"""

from __future__ import annotations

import sys
import time
from typing import List, Optional, TextIO, Tuple

from .._terminal import LiveLines, capabilities, fit_pieces, terminal_width
from .callbacks import TrainingState

__all__ = ["TermDisplay"]

_BOLD_GREEN, _RESET = "\033[1m\033[32m", "\033[0m\033[0m"
#: Minimum seconds between two redraws: the engine reports about every 0.1 s, and a report
#: that comes a little early is still drawn.
MIN_INTERVAL = 0.08


class TermDisplay:
    def __init__(self, name: str, train_size: int, show_metric: bool, file: Optional[TextIO] = None) -> None:
        self.name = name
        self.train_size = train_size
        self.show_metric = show_metric
        self.file = sys.stdout if file is None else file
        where = capabilities(self.file)
        self.live = where.live
        self.kind = where.kind
        self.color = where.color
        self._area: Optional[LiveLines] = None
        self._last_draw: Optional[float] = None

    def header(self, run_id: str, val_size: int) -> None:
        self._write(
            "---------------------------------\n"
            f"Run id: {run_id}\n"
            "---------------------------------\n"
            f"Training samples: {self.train_size}\n"
            f"Validation samples: {val_size}\n"
            "--\n"
        )

    def pieces(
        self, state: TrainingState, with_validation: bool = False, color: bool = False
    ) -> Tuple[List[Tuple[str, int]], List[Tuple[str, int]]]:
        """The two lines as ``(text, rank)`` pieces for ``_terminal.fit_pieces``: the higher
        the rank, the sooner a piece makes way on a narrow terminal; rank 0 always stays."""
        loss = "" if state.global_loss is None else f"{state.global_loss:.5f}"
        if loss and color:
            loss = _BOLD_GREEN + loss + _RESET
        first = [(f"Training Step: {state.step} ", 1 if loss else 0)]
        if loss:
            first.append((f" | total loss: {loss}", 0))
        first.append((f" | time: {state.step_time_total:.3f}s", 2))
        second = [(f"| {self.name} ", 3), (f"| epoch: {state.epoch:03d}", 1)]
        metrics = ""
        if state.loss_value is not None:
            metrics += f" | loss: {state.loss_value:.5f}"
        if self.show_metric and state.acc_value is not None:
            metrics += f" - acc: {state.acc_value:.4f}"
        if with_validation and state.val_loss is not None:
            metrics += f" | val_loss: {state.val_loss:.5f}"
            if self.show_metric and state.val_acc is not None:
                metrics += f" - val_acc: {state.val_acc:.4f}"
        second.append((metrics, 0))
        width = len(str(self.train_size))
        second.append((f" -- iter: {state.current_iter:0{width}d}/{self.train_size}", 2))
        return first, second

    def lines(self, state: TrainingState, with_validation: bool = False, width: Optional[int] = None) -> str:
        """The two lines, each ending in a newline; with ``width``, fitted to it (a line
        whose metrics alone are wider is left empty)."""
        first, second = self.pieces(state, with_validation, color=self.color)
        if width is None:
            return "".join(text for text, _ in first) + "\n" + "".join(text for text, _ in second) + "\n"
        return "".join((fit_pieces(line, width) or "") + "\n" for line in (first, second))

    def update(self, state: TrainingState) -> None:
        if not self.live:
            return
        now = time.monotonic()
        if self._last_draw is not None and now - self._last_draw < MIN_INTERVAL:
            return
        self._last_draw = now
        if self._area is None:
            self._area = LiveLines(self.file, self.kind)
        width = terminal_width(self.file) - 1 if self.kind == "terminal" else None
        self._area.show(self.lines(state, width=width).splitlines())

    def epoch_end(self, state: TrainingState) -> None:
        text = self.lines(state, with_validation=True)
        if self.live:
            if self._area is None:
                self._area = LiveLines(self.file, self.kind)
            self._area.finish(text.rstrip("\n"))
            self._area = None
            self._last_draw = None
        else:
            self._write(text)
        if self.show_metric and state.epoch_acc is not None:
            self._write(
                f"| epoch {state.epoch:03d}: accuracy over all {state.epoch_batches} batches of the epoch: "
                f"{state.epoch_acc:.4f} (acc above: moving average of about the last 10 batches)\n"
            )
        self._write("--\n")

    def _write(self, text: str) -> None:
        self.file.write(text)
        self.file.flush()
