"""A small, dependency-free progress bar for terminals (downloads, training loops).

::

    with ProgressBar(total=size, desc="train-images-idx3-ubyte.gz") as bar:
        for chunk in chunks:
            bar.update(len(chunk))

draws, redrawing in place with ``\\r`` at most ten times a second (and once done, with the
elapsed time instead of the time left)::

    train-images-idx3-ubyte.gz:  45% [#########-----------] 4.4 MiB/9.9 MiB 3.1 MiB/s, 0:02 left

Counts are human-readable bytes when ``unit == "B"``, plain numbers otherwise. By default
the bar is drawn only when its stream is a terminal, so logs and pipes stay clean; a
disabled bar writes nothing at all.
"""

from __future__ import annotations

import shutil
import sys
import time
from types import TracebackType
from typing import Optional, TextIO, Type

__all__ = ["ProgressBar", "format_bytes", "format_duration"]

#: Minimum seconds between two redraws: more often only costs time and flickers.
MIN_INTERVAL = 0.1
BAR_WIDTH = 20


def format_bytes(n: float) -> str:
    """``n`` bytes in binary units: ``'512 B'``, ``'4.4 KiB'``, ``'9.9 MiB'``, ``'1.2 GiB'``."""
    if n < 1024:
        return f"{n:.0f} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024
        if n < 1024 or unit == "TiB":
            break
    return f"{n:.1f} {unit}"


def format_duration(seconds: float) -> str:
    """``seconds`` as ``'m:ss'``, or ``'h:mm:ss'`` from an hour on."""
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _isatty(file: TextIO) -> bool:
    try:
        return bool(file.isatty())
    except (AttributeError, ValueError):  # no isatty(), or a closed stream
        return False


class ProgressBar:
    """A progress bar for ``total`` units of work, drawn on ``file`` (default ``sys.stderr``).

    ``total`` may be ``None`` (or 0) when unknown: the bar then shows the count and rate
    only. ``unit`` names what is counted; ``"B"`` (bytes) shows sizes like ``'4.4 MiB'``.
    ``enabled=None`` draws only if ``file`` is a terminal. Use it as a context manager, or
    call :meth:`close` when done.
    """

    def __init__(
        self,
        total: Optional[int],
        desc: str = "",
        unit: str = "B",
        file: Optional[TextIO] = None,
        enabled: Optional[bool] = None,
    ) -> None:
        self.total = total if total and total > 0 else None
        self.desc = desc
        self.unit = unit
        self.file = sys.stderr if file is None else file
        self.enabled = _isatty(self.file) if enabled is None else enabled
        self.count = 0
        self.postfix = ""
        self._start = time.monotonic()
        self._last_draw: Optional[float] = None
        self._drawn_width = 0
        self._closed = False
        self._maybe_draw()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more units done; redraw if the last redraw is old enough."""
        self.count += n
        self._maybe_draw()

    def set_postfix(self, text: str) -> None:
        """Show ``text`` (e.g. ``'loss 0.123'``) after the bar from the next redraw on."""
        self.postfix = text
        self._maybe_draw()

    def close(self) -> None:
        """Draw the final state and end the line. Calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        if self.enabled:
            self._draw(time.monotonic())
            self.file.write("\n")
            self.file.flush()

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def format(self, elapsed: float, bar: bool = True) -> str:
        """The line the bar shows after ``elapsed`` seconds (without ``\\r`` or padding);
        ``bar=False`` leaves out the ``[###---]`` graphic, for narrow terminals."""
        size = format_bytes if self.unit == "B" else (lambda n: f"{n:,.0f}")
        rate = self.count / elapsed if elapsed > 0 else 0.0
        rate_text = f"{size(rate)}/s" if self.unit == "B" else f"{rate:,.0f} {self.unit}/s"
        parts = [f"{self.desc}:"] if self.desc else []
        if self.total is None:
            parts.append(size(self.count) if self.unit == "B" else f"{size(self.count)} {self.unit}")
            timing = f"{format_duration(elapsed)} elapsed"
        else:
            fraction = min(self.count / self.total, 1.0)
            filled = int(fraction * BAR_WIDTH)
            graphic = f" [{'#' * filled}{'-' * (BAR_WIDTH - filled)}]" if bar else ""
            parts.append(f"{fraction:4.0%}{graphic}")
            parts.append(f"{size(self.count)}/{size(self.total)}")
            if self.count >= self.total or rate == 0:
                timing = f"{format_duration(elapsed)} elapsed"
            else:
                timing = f"{format_duration((self.total - self.count) / rate)} left"
        parts.append(f"{rate_text}, {timing}")
        if self.postfix:
            parts.append(self.postfix)
        return " ".join(parts)

    def _maybe_draw(self) -> None:
        if not self.enabled or self._closed:
            return
        now = time.monotonic()
        if self._last_draw is None or now - self._last_draw >= MIN_INTERVAL:
            self._draw(now)

    def _draw(self, now: float) -> None:
        self._last_draw = now
        # A line wider than the terminal wraps, and '\r' then only rewinds its last part.
        width = shutil.get_terminal_size().columns - 1
        line = self.format(now - self._start)
        if len(line) > width:
            line = self.format(now - self._start, bar=False)[:width]
        # Blank out what is left of a longer previous line.
        self.file.write("\r" + line + " " * (self._drawn_width - len(line)))
        self.file.flush()
        self._drawn_width = len(line)
