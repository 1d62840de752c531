"""What :meth:`mnistmlp.MLP.fit` shows while it trains, Keras-like.

``verbose`` (checked by :func:`check_verbose`):

* ``0``: nothing.
* ``1`` (and ``"auto"``, the default): a live bar per epoch where lines can be redrawn in
  place -- a terminal, or a Jupyter kernel's output (one display, updated in place) -- and
  one line per epoch elsewhere (a pipe, a log file, ``TERM=dumb``), so logs never fill with
  ``\\r`` redraws.
* ``2``: one line per epoch, always.
* ``True`` and ``False`` mean ``1`` and ``0`` (``verbose=True`` reads as "show progress").

The live bar, on a terminal of any width::

    Epoch 1/2:  45% [#########-----------] 2,250/5,000 9,870 samples/s, 0:00 left loss 0.4321 - acc 0.8765

fits the terminal, re-measured at each redraw: the ``[###---]`` graphic goes first, then the
rate and time left, the sample count, the epoch and the percentage; the running loss and
accuracy (over the epoch's batches so far, 4 decimals) are never cut. Each epoch ends with
its summary line, printed whole (it may wrap on a narrow terminal, it is never cut)::

    Epoch 1/2 - 0.51s - 9,804 samples/s - loss 0.4321 - accuracy 0.8765 - val_loss 0.3210 - val_accuracy 0.9012

with ``lr 0.001`` after the metrics when the epoch's logs hold a ``learning_rate`` (other log
keys are not shown). With ``verbose=2`` or off a terminal, that summary line is all there is.
No colour is used; ``NO_COLOR`` and ``TERM=dumb`` are honoured by the one rule in
``_terminal.capabilities``.
"""

from __future__ import annotations

import numbers
import sys
from typing import Any, Dict, Optional, TextIO

from ._progress import ProgressBar
from ._terminal import capabilities

__all__ = ["EpochDisplay", "check_verbose", "VERBOSE_VALUES"]

#: What ``verbose`` may be, as said in error messages.
VERBOSE_VALUES = "0 (silent), 1 (a live bar per epoch), 2 (one line per epoch) or 'auto' (1)"


def check_verbose(verbose: Any) -> int:
    """``verbose`` resolved to ``0``, ``1`` or ``2``: ``"auto"`` is ``1``, ``True`` and
    ``False`` are ``1`` and ``0``; anything else raises ValueError naming the allowed values."""
    if isinstance(verbose, str):
        if verbose == "auto":
            return 1
    elif isinstance(verbose, numbers.Integral) and int(verbose) in (0, 1, 2):
        return int(verbose)  # bool, int and NumPy integers
    raise ValueError(f"verbose must be {VERBOSE_VALUES}, not {verbose!r}")


def _summary(logs: Dict[str, float]) -> str:
    """The figures of the epoch's summary line: the metrics (4 decimals) and the learning rate."""
    parts = [f"{key} {logs[key]:.4f}" for key in ("loss", "accuracy", "val_loss", "val_accuracy") if key in logs]
    if "learning_rate" in logs:
        parts.append(f"lr {logs['learning_rate']:.4g}")
    return " - ".join(parts)


class EpochDisplay:
    """The progress of one epoch (``epoch`` is the 1-based number shown, "Epoch 3/10") of
    ``samples`` samples: see the module's docstring. ``verbose`` is any value
    :func:`check_verbose` accepts; ``file`` defaults to ``sys.stdout``."""

    def __init__(
        self, epoch: int, total_epochs: int, samples: int, verbose: Any, file: Optional[TextIO] = None
    ) -> None:
        self.file = sys.stdout if file is None else file
        self.verbose = check_verbose(verbose)
        self.prefix = f"Epoch {epoch}/{total_epochs}"
        self.live = self.verbose == 1 and capabilities(self.file).live
        # Until the first report, dashes hold the metrics' place: the first frame is as wide.
        self.bar = ProgressBar(samples, desc=self.prefix, unit="samples", file=self.file, enabled=self.live,
                               postfix="loss -.---- - acc -.----")

    def update(self, progress: Any) -> None:
        """Show a :class:`mnistmlp.Progress` (redrawn at most about ten times a second)."""
        if not self.live:
            return
        self.bar.postfix = f"loss {progress.epoch_loss:.4f} - acc {progress.epoch_accuracy:.4f}"
        self.bar.update(progress.samples_done - self.bar.count)

    def abandon(self) -> None:
        """Training raised: leave the live bar as it stood and end its line."""
        self.bar.close()

    def close(self, logs: Dict[str, float]) -> None:
        """The epoch's summary line (replacing the live bar), from its ``logs``."""
        if not self.verbose:
            return
        parts = [self.prefix]
        if "seconds" in logs:
            parts.append(f"{logs['seconds']:.2f}s")
        if "samples_per_second" in logs:
            parts.append(f"{logs['samples_per_second']:,.0f} samples/s")
        figures = _summary(logs)
        if figures:
            parts.append(figures)
        line = " - ".join(parts)
        if self.live:
            self.bar.finish(line)
        else:
            print(line, file=self.file, flush=True)
