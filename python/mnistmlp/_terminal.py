"""Where mnistmlp's live displays go, and what they may do there: the one place that decides.

Three displays use it: the progress bar of downloads and studies (``_progress.ProgressBar``),
:meth:`mnistmlp.MLP.fit`'s epoch display (``_display.EpochDisplay``) and the TFLearn training
display (``tflearn._display.TermDisplay``). For an output stream, :func:`capabilities` answers:

* **live or lines?** -- ``kind`` is ``"terminal"`` when the stream is a terminal (``isatty()``)
  and ``TERM`` is not ``dumb``: lines are redrawn in place. It is ``"notebook"`` when the
  stream is ``sys.stdout`` or ``sys.stderr`` of an IPython kernel (Jupyter, VS Code, Colab):
  the live lines are one display output, updated in place through
  ``IPython.display.display(..., display_id=True)``; no ``\\r`` and no escape sequence is ever
  written into a notebook. Anywhere else (a pipe, a log file, CI, ``TERM=dumb``) it is
  ``"lines"``: nothing is redrawn, each display prints its final lines once.
* **may I move the cursor?** -- ``cursor``: only on a terminal that is not ``TERM=dumb``
  (``\\r`` redraws and cursor-movement escapes).
* **may I colour?** -- ``color``: only where the cursor may move, and not when ``NO_COLOR``
  is set to a non-empty value (https://no-color.org). ``NO_COLOR`` leaves the redrawing on.

IPython is never imported here: a kernel is recognised only when ``IPython`` is already in
``sys.modules`` and its ``get_ipython()`` shell has a ``kernel``.

:func:`terminal_width` reads the stream's terminal width (again at each redraw, so a resized
window is followed), :func:`fit_pieces` drops the optional parts of a line until it fits, and
:class:`LiveLines` redraws a few lines in place on a terminal or in a notebook.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import sys
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, TextIO, Tuple

__all__ = [
    "Capabilities",
    "LiveLines",
    "capabilities",
    "fit_pieces",
    "in_notebook_kernel",
    "terminal_width",
    "visible_length",
]

#: Select Graphic Rendition (colour, bold) and cursor/erase sequences: what has no width.
_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True)
class Capabilities:
    """What a live display may do on one output stream (see the module's docstring)."""

    #: ``"terminal"``, ``"notebook"`` or ``"lines"``.
    kind: str
    #: ``\\r`` redraws and cursor-movement escapes allowed (a terminal, not ``TERM=dumb``).
    cursor: bool
    #: ANSI colour and bold allowed (``cursor``, and ``NO_COLOR`` unset or empty).
    color: bool

    @property
    def live(self) -> bool:
        """Whether lines are redrawn in place (a terminal or a notebook)."""
        return self.kind != "lines"


def no_color() -> bool:
    """``NO_COLOR`` is set to a non-empty value."""
    return bool(os.environ.get("NO_COLOR"))


def dumb_terminal() -> bool:
    """``TERM=dumb``: a terminal that understands neither ``\\r`` redraws nor escapes."""
    return os.environ.get("TERM", "") == "dumb"


def in_notebook_kernel() -> bool:
    """Whether this process is an IPython kernel (Jupyter and its kin), found without
    importing IPython: it must already be imported and its shell must have a kernel."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    if get_ipython is None:
        return False
    try:
        shell = get_ipython()
    except Exception:  # a half-initialised or foreign IPython: not a kernel we can use
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def _isatty(file: Any) -> bool:
    try:
        return bool(file.isatty())
    except (AttributeError, ValueError):  # no isatty(), or a closed stream
        return False


def capabilities(file: Any) -> Capabilities:
    """What a live display may do on ``file`` (see the module's docstring)."""
    if (file is sys.stdout or file is sys.stderr) and in_notebook_kernel():
        return Capabilities("notebook", cursor=False, color=False)
    if _isatty(file) and not dumb_terminal():
        return Capabilities("terminal", cursor=True, color=not no_color())
    return Capabilities("lines", cursor=False, color=False)


def terminal_width(file: Any) -> int:
    """The columns of ``file``'s terminal, read now; ``shutil.get_terminal_size()`` (the
    ``COLUMNS`` variable, then standard output's terminal, then 80) when ``file`` has none."""
    try:
        columns = os.get_terminal_size(file.fileno()).columns
    except (AttributeError, ValueError, OSError):  # no fileno(), closed, or not a terminal
        columns = 0
    if columns <= 0:  # a pseudo-terminal nobody gave a size reports 0
        columns = shutil.get_terminal_size().columns
    return max(columns, 1)


def visible_length(text: str) -> int:
    """The columns ``text`` takes: its length without escape sequences."""
    return len(_ESCAPE.sub("", text))


def fit_pieces(pieces: Sequence[Tuple[str, int]], width: Optional[int]) -> Optional[str]:
    """Join ``pieces`` (text, rank) into a line of at most ``width`` columns by leaving out
    the pieces of the highest rank first; rank 0 is never left out. Each piece carries its
    own separator. ``None`` when even the rank-0 pieces are wider; ``width=None`` keeps all."""
    ranks = sorted({rank for _, rank in pieces if rank > 0}, reverse=True)
    limit = max(ranks, default=0)
    for drop_above in [limit] + [rank - 1 for rank in ranks]:
        line = "".join(text for text, rank in pieces if rank <= drop_above).strip()
        if width is None or visible_length(line) <= width:
            return line
    return None


class LiveLines:
    """A few lines redrawn in place.

    On a terminal (``kind="terminal"``), one line is redrawn with ``\\r`` and blank padding
    (no escape sequence), several with "cursor up" (``ESC[nF``) and "erase line" (``ESC[2K``).
    The caller fits each line to :func:`terminal_width` first: a line that wrapped would
    break the redraw. In a notebook (``kind="notebook"``) the lines are the plain-text content
    of one display output, replaced in place through its display handle.

    :meth:`finish` replaces the live lines by the final text, printed whole (on a terminal it
    may wrap: nothing is redrawn after it) and ends them.
    """

    def __init__(self, file: TextIO, kind: str) -> None:
        if kind not in ("terminal", "notebook"):
            raise ValueError(f"kind must be 'terminal' or 'notebook', not {kind!r}")
        self.file = file
        self.kind = kind
        self._lines: List[str] = []
        self._handle: Any = None
        self._width: Optional[int] = None
        self._finished = False

    def show(self, lines: Sequence[str], width: Optional[int] = None) -> None:
        """Replace the live lines by ``lines`` (the same number each time, on a terminal);
        ``width``: the columns the lines were fitted to, which blanks never pass."""
        if self._finished:
            return
        lines = list(lines)
        if self.kind == "notebook":
            self._publish("\n".join(lines))
        elif len(lines) == 1 and len(self._lines) <= 1:
            # '\r' and blanks over what is left of a longer previous line (but not past the
            # terminal's edge, should the window have narrowed: they would wrap).
            previous = visible_length(self._lines[0]) if self._lines else 0
            if width is not None:
                previous = min(previous, width)
            self._width = width
            line = lines[0]
            self._write("\r" + line + " " * (previous - visible_length(line)))
        else:
            up = f"\x1b[{len(self._lines)}F" if self._lines else ""
            self._write(up + "".join(f"\x1b[2K\r{line}\n" for line in lines))
        self._lines = lines

    def finish(self, text: Optional[str] = None) -> None:
        """End the live lines: replace them by ``text`` (lines joined by newlines, without a
        final one) or, with ``None``, leave the last lines drawn as they are. Calling it
        again does nothing."""
        if self._finished:
            return
        self._finished = True
        if self.kind == "notebook":
            if text is not None:
                self._publish(text)
            return
        if text is None:
            if len(self._lines) == 1:
                self._write("\n")
            return
        if len(self._lines) == 1:
            drawn = visible_length(self._lines[0])
            clear = "\r" + " " * (drawn if self._width is None else min(drawn, self._width)) + "\r"
        elif self._lines:
            clear = f"\x1b[{len(self._lines)}F\x1b[J"
        else:
            clear = ""
        self._write(clear + text + "\n")

    def _publish(self, text: str) -> None:
        display = importlib.import_module("IPython.display")
        bundle = {"text/plain": text}
        if self._handle is None:
            self.file.flush()  # what was printed before comes first
            self._handle = display.display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)

    def _write(self, text: str) -> None:
        self.file.write(text)
        self.file.flush()
