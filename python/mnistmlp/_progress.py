"""A small, dependency-free progress bar for terminals and notebooks (downloads, studies,
:meth:`mnistmlp.MLP.fit`'s epochs).

::

    with ProgressBar(total=size, desc="train-images-idx3-ubyte.gz") as bar:
        for chunk in chunks:
            bar.update(len(chunk))

draws, redrawing in place at most ten times a second (and once done, with the elapsed time
instead of the time left)::

    train-images-idx3-ubyte.gz:  45% [#########-----------] 4.4 MiB/9.9 MiB 3.1 MiB/s, 0:02 left

Counts are human-readable bytes when ``unit == "B"``, plain numbers otherwise. By default
the bar is drawn only where ``_terminal.capabilities`` says lines may be redrawn: on a
terminal (with ``\\r``; never with ``TERM=dumb``) and in a Jupyter kernel (one display
output updated in place), so logs and pipes stay clean; a disabled bar writes nothing at all.

On a terminal the line fits the terminal's width, read again at each redraw: the
``[###---]`` graphic goes first, then the rate, the time left and the count. A postfix
(:meth:`ProgressBar.set_postfix`: the metrics of a training loop) is never cut: the
description and the percentage make way for it too, and should even it not fit, the bar shows
the percentage alone. A line without a postfix is cut at the terminal's edge once the
optional pieces are gone. :meth:`ProgressBar.finish` replaces the bar by a final line
printed whole (it may wrap, nothing redraws it).
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import List, Optional, TextIO, Tuple, Type

from ._terminal import LiveLines, capabilities, fit_pieces, terminal_width

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


class ProgressBar:
    """A progress bar for ``total`` units of work, drawn on ``file`` (default ``sys.stderr``).

    ``total`` may be ``None`` (or 0) when unknown: the bar then shows the count and rate
    only. ``unit`` names what is counted; ``"B"`` (bytes) shows sizes like ``'4.4 MiB'``.
    ``enabled=None`` draws only where lines may be redrawn (a terminal that is not
    ``TERM=dumb``, or a Jupyter kernel's output); ``enabled=True`` draws anyway (with ``\\r``
    where there is no notebook). ``postfix`` is the first :meth:`set_postfix`. Use it as a
    context manager, or call :meth:`close` (or :meth:`finish`) when done.
    """

    def __init__(
        self,
        total: Optional[int],
        desc: str = "",
        unit: str = "B",
        file: Optional[TextIO] = None,
        enabled: Optional[bool] = None,
        postfix: str = "",
    ) -> None:
        self.total = total if total and total > 0 else None
        self.desc = desc
        self.unit = unit
        self.file = sys.stderr if file is None else file
        where = capabilities(self.file)
        self.enabled = where.live if enabled is None else bool(enabled)
        self.notebook = where.kind == "notebook"
        self.count = 0
        self.postfix = postfix
        self._start = time.monotonic()
        self._last_draw: Optional[float] = None
        self._live: Optional[LiveLines] = None
        if self.enabled:
            self._live = LiveLines(self.file, "notebook" if self.notebook else "terminal")
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
        if self._live is not None:
            self._draw(time.monotonic())
            self._live.finish()

    def finish(self, text: str) -> None:
        """Replace the bar by ``text``, printed whole (on a terminal it may wrap), and end the
        line; in a notebook the display shows ``text``. A disabled bar writes nothing."""
        if self._closed:
            return
        self._closed = True
        if self._live is not None:
            self._live.finish(text)

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def pieces(self, elapsed: float) -> List[Tuple[str, int]]:
        """The line after ``elapsed`` seconds as ``(text, rank)`` pieces for
        :func:`_terminal.fit_pieces`: the graphic (rank 6) goes first, then the rate (5), the
        time left (4), the count (3), the description (2) and the percentage (1); the postfix
        (0) stays."""
        size = format_bytes if self.unit == "B" else (lambda n: f"{n:,.0f}")
        rate = self.count / elapsed if elapsed > 0 else 0.0
        rate_text = f"{size(rate)}/s" if self.unit == "B" else f"{rate:,.0f} {self.unit}/s"
        pieces = [(f"{self.desc}: ", 2)] if self.desc else []
        if self.total is None:
            count = size(self.count) if self.unit == "B" else f"{size(self.count)} {self.unit}"
            pieces.append((count + " ", 1))
            timing = f"{format_duration(elapsed)} elapsed"
        else:
            fraction = min(self.count / self.total, 1.0)
            filled = int(fraction * BAR_WIDTH)
            pieces.append((f"{fraction:4.0%} ", 1))
            pieces.append((f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] ", 6))
            pieces.append((f"{size(self.count)}/{size(self.total)} ", 3))
            if self.count >= self.total or rate == 0:
                timing = f"{format_duration(elapsed)} elapsed"
            else:
                timing = f"{format_duration((self.total - self.count) / rate)} left"
        pieces.append((f"{rate_text}, ", 5))
        pieces.append((f"{timing} ", 4))
        if self.postfix:
            pieces.append((self.postfix, 0))
        return pieces

    def format(self, elapsed: float, bar: bool = True, width: Optional[int] = None) -> str:
        """The line the bar shows after ``elapsed`` seconds (without ``\\r`` or padding);
        ``bar=False`` leaves out the ``[###---]`` graphic. With ``width``, the line is made to
        fit in ``width`` columns (see the module's docstring)."""
        pieces = [piece for piece in self.pieces(elapsed) if bar or piece[1] != 6]
        if width is None:
            return "".join(text for text, _ in pieces).strip()
        if not self.postfix:
            # Without metrics to keep whole: the optional pieces go, then the edge cuts.
            shortest = fit_pieces([(text, 0 if rank < 3 else rank) for text, rank in pieces], width)
            return shortest if shortest is not None else self.format(elapsed, bar=False)[:width].rstrip()
        line = fit_pieces(pieces, width)
        if line is None:  # not even the metrics fit: the percentage (or count) alone
            line = "".join(text for text, rank in pieces if rank == 1).strip()[:width]
        return line

    def _maybe_draw(self) -> None:
        if not self.enabled or self._closed:
            return
        now = time.monotonic()
        if self._last_draw is None or now - self._last_draw >= MIN_INTERVAL:
            self._draw(now)

    def _draw(self, now: float) -> None:
        self._last_draw = now
        assert self._live is not None
        # A notebook wraps nothing away; on a terminal, a line as wide as the terminal would
        # wrap (and '\r' then only rewinds its last part): one column stays free.
        width = None if self.notebook else terminal_width(self.file) - 1
        self._live.show([self.format(now - self._start, width=width)], width)
