"""What :meth:`mnistmlp.MLP.fit` shows while it trains: a live bar per epoch on a terminal,
one line per epoch elsewhere."""

from __future__ import annotations

import sys
import time
from typing import Dict

from ._progress import ProgressBar

__all__ = ["EpochDisplay"]


class EpochDisplay:
    """The progress of one epoch: a live bar on a terminal, one line per epoch elsewhere."""

    def __init__(self, epoch: int, total_epochs: int, samples: int, verbose: int, file=None) -> None:
        self.file = sys.stdout if file is None else file
        self.verbose = verbose
        self.prefix = f"Epoch {epoch}/{total_epochs}"
        self.bar = ProgressBar(samples, desc=self.prefix, unit="samples", file=self.file,
                               enabled=None if verbose else False)
        self.start = time.monotonic()

    def update(self, progress) -> None:
        if not self.bar.enabled:
            return
        self.bar.set_postfix(f"loss {progress.epoch_loss:.4f} - acc {progress.epoch_accuracy:.4f}")
        self.bar.update(progress.samples_done - self.bar.count)

    def abandon(self) -> None:
        self.bar.close()

    def close(self, logs: Dict[str, float]) -> None:
        text = " - ".join(
            f"{key} {logs[key]:.4f}" for key in ("loss", "accuracy", "val_loss", "val_accuracy") if key in logs
        )
        if self.bar.enabled:
            self.bar.set_postfix(text)
            self.bar.close()
        elif self.verbose:
            rate = logs["samples_per_second"]
            print(f"{self.prefix} - {logs['seconds']:.2f}s - {rate:,.0f} samples/s - {text}", file=self.file, flush=True)
