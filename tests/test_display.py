"""The training displays on terminals of every width, in pipes, with NO_COLOR and TERM=dumb.

The end-to-end tests train on the real MNIST in a subprocess whose standard output is a
pseudo-terminal of a given size, read everything it wrote, and replay it on a small terminal
emulator: every line redrawn in place must fit the width, each epoch's summary must hold every
metric whole, and what stays on the screen must be exactly the summaries, with no live line
left over. The unit tests check the fitting of each line at 20, 40, 80 and 200 columns, the
one rule that decides what a display may do (``mnistmlp._terminal.capabilities``) and the
notebook path with a stand-in for IPython.
"""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
import types
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import pytest

from _terminal import child_env, run_on_terminal, set_columns
from _training_programs import MLP_SCRIPT, TFLEARN_SCRIPT

from mnistmlp import _progress, _terminal
from mnistmlp._display import EpochDisplay, check_verbose
from mnistmlp._progress import ProgressBar
from mnistmlp._terminal import capabilities, fit_pieces, terminal_width
from mnistmlp.tflearn._display import TermDisplay
from mnistmlp.tflearn.callbacks import TrainingState

ESCAPE = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")
SGR = re.compile(r"\x1b\[[0-9;]*m")
METRIC = r"\d+\.\d{4}(?!\d)"  # a number with exactly its 4 decimals


# ---- running a script on a pseudo-terminal ---------------------------------------------------


def run_on_pty(code: str, columns: int, timeout: float = 120, **env: Optional[str]) -> str:
    """Everything ``python -c code`` writes to a pseudo-terminal of ``columns`` columns."""
    return run_on_terminal([sys.executable, "-c", code], child_env(env), columns, timeout)


def run_in_pipe(code: str, **env: Optional[str]) -> str:
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=child_env(env))
    assert run.returncode == 0, run.stderr
    return run.stdout


class Screen:
    """A terminal just good enough to replay the displays: printable characters (wrapping at
    the last column), '\\r', '\\n' (as the usual '\\r\\n'), erase line (ESC[2K), cursor to the
    start of the n-th previous line (ESC[nF), erase below (ESC[J) and colours (ESC[...m)."""

    def __init__(self, columns: int) -> None:
        self.columns = columns
        self.rows: List[List[str]] = [[]]
        self.continues: List[bool] = [False]  # row i is the wrapped tail of row i - 1
        self.row = self.column = 0

    def feed(self, text: str) -> "Screen":
        position = 0
        while position < len(text):
            escape = ESCAPE.match(text, position)
            if escape:
                self._escape(*escape.groups())
                position = escape.end()
                continue
            char = text[position]
            position += 1
            if char == "\r":
                self.column = 0
            elif char == "\n":
                self._go_to(self.row + 1)
                self.column = 0
            else:
                assert char.isprintable(), f"unexpected control character {char!r}"
                if self.column >= self.columns:
                    self._go_to(self.row + 1)
                    self.continues[self.row] = True
                    self.column = 0
                line = self.rows[self.row]
                line.extend(" " * (self.column + 1 - len(line)))
                line[self.column] = char
                self.column += 1
        return self

    def _go_to(self, row: int) -> None:
        while len(self.rows) <= row:
            self.rows.append([])
            self.continues.append(False)
        self.row = row

    def _escape(self, argument: str, command: str) -> None:
        if command == "m":
            return
        if command == "K" and argument == "2":
            self.rows[self.row] = []
            self.continues[self.row] = False
        elif command == "F":
            self.row = max(self.row - int(argument or 1), 0)
            self.column = 0
        elif command == "J" and argument in ("", "0"):
            del self.rows[self.row][self.column:]
            del self.rows[self.row + 1:], self.continues[self.row + 1:]
        else:
            raise AssertionError(f"unexpected escape sequence ESC[{argument}{command}")

    def lines(self) -> List[str]:
        """The text left on the screen, wrapped rows joined again."""
        lines: List[str] = []
        for row, continues in zip(self.rows, self.continues):
            text = "".join(row)
            if continues and lines:
                lines[-1] += text
            else:
                lines.append(text)
        while lines and not lines[-1].strip():
            lines.pop()
        return [line.rstrip() for line in lines]


def drawn_pieces(raw: str) -> List[str]:
    """Each stretch of text written from the start of a line, colours and erasing removed:
    the successive frames of a line redrawn with '\\r'."""
    return [ESCAPE.sub("", piece) for line in raw.split("\n") for piece in line.split("\r") if ESCAPE.sub("", piece)]


# ---- MLP.fit ---------------------------------------------------------------------------------


SUMMARY = re.compile(rf"^Epoch (\d)/2 - .*\bloss {METRIC} - accuracy {METRIC} - val_loss {METRIC} - val_accuracy {METRIC}\b")


def check_mlp_output(raw: str, columns: int) -> List[str]:
    """The epoch display's output on a terminal of ``columns``: returns its live frames."""
    pieces = drawn_pieces(raw)
    summaries = [piece for piece in pieces if piece.startswith("Epoch ") and " - " in piece[:12]]
    assert [SUMMARY.match(line).group(1) for line in summaries] == ["1", "2"], summaries  # type: ignore[union-attr]
    frames = [piece for piece in pieces if piece not in summaries and piece.strip()]
    live = [frame for frame in frames if re.search(rf"loss {METRIC} - acc {METRIC}", frame)]
    assert len(live) >= 3, f"the bar was redrawn in place a few times: {frames}"
    for frame in frames:
        assert len(frame) < columns, f"a redrawn line is wider than {columns} columns: {frame!r}"
    # The screen ends up holding the two summaries, whole, and nothing of the live bar.
    assert Screen(columns).feed(raw).lines() == summaries
    return live


@pytest.mark.parametrize("columns", [80, 200])
def test_mlp_fit_bar_fits_the_terminal(mnist_dir: Path, columns: int) -> None:
    raw = run_on_pty(MLP_SCRIPT, columns, MNISTMLP_DATA=str(mnist_dir))
    assert "\x1b" not in raw, "the epoch display uses no escape sequence"
    live = check_mlp_output(raw, columns)
    with_graphic = [frame for frame in live if re.search(r"\[[#-]{20}\]", frame)]
    if columns == 80:
        # Even "Epoch 1/2:   0% [-----...] 0/5,000 0:00 left loss 0.1234 - acc 0.5678" takes 81
        # columns: the graphic always makes way for the metrics (and the rate when it must).
        assert not with_graphic, live
        assert all(
            re.match(r"Epoch \d/2: +\d+% [\d,]+/5,000 ([\d,]+ samples/s, )?\d:\d\d left loss", frame) for frame in live
        ), live
    else:
        assert with_graphic == live and all("samples/s" in frame for frame in live), live


# ---- the TFLearn display ---------------------------------------------------------------------


def check_tflearn_output(raw: str, columns: int) -> None:
    live = [ESCAPE.sub("", line) for line in re.findall(r"\x1b\[2K\r([^\r\n]*)", raw)]
    assert len(live) >= 4 and len(live) % 2 == 0, "pairs of lines redrawn in place"
    assert raw.count("\x1b[2F") >= 3, "several redraws"
    for line in live:
        assert len(line) < columns, f"a redrawn line is wider than {columns} columns: {line!r}"
    for first, second in zip(live[::2], live[1::2]):
        assert re.search(r"\| total loss: \d+\.\d{5}(?!\d)", first), first
        assert re.search(r"\| loss: \d+\.\d{5} - acc: \d\.\d{4}(?!\d)", second), second
    # What stays: the header, then each epoch's final pair, its accuracy line and "--".
    lines = Screen(columns).feed(raw).lines()
    assert lines[:6] == [
        "-" * 33, lines[1], "-" * 33, "Training samples: 18000", "Validation samples: 2000", "--"
    ] and lines[1].startswith("Run id: ")
    for epoch, block in enumerate((lines[6:10], lines[10:14]), 1):
        assert re.match(r"Training Step: \d+ +\| total loss: \d\.\d{5} \| time: \d+\.\d{3}s$", block[0]), block
        assert re.match(
            rf"\| SGD \| epoch: {epoch:03d} \| loss: \d\.\d{{5}} - acc: \d\.\d{{4}} "
            r"\| val_loss: \d\.\d{5} - val_acc: \d\.\d{4} -- iter: 18000/18000$",
            block[1],
        ), block
        assert block[2].startswith(f"| epoch {epoch:03d}: accuracy over all 18000 batches") and block[3] == "--"
    assert len(lines) == 14


@pytest.mark.parametrize("columns", [80, 200])
def test_tflearn_display_fits_the_terminal(mnist_dir: Path, columns: int) -> None:
    raw = run_on_pty(TFLEARN_SCRIPT, columns, MNISTMLP_DATA=str(mnist_dir))
    check_tflearn_output(raw, columns)
    assert "\x1b[1m\x1b[32m" in raw, "the total loss in bold green, as TFLearn, on a colour terminal"


# ---- NO_COLOR and TERM=dumb ------------------------------------------------------------------

BOTH_SCRIPT = MLP_SCRIPT.replace("[:5000]", "[:2000]") + "\nprint('=== tflearn ===', flush=True)\n" + (
    TFLEARN_SCRIPT.replace("[:20000]", "[:2000]").replace("batch_size=1", "batch_size=10")
)


def test_no_color_means_no_colour(mnist_dir: Path) -> None:
    raw = run_on_pty(BOTH_SCRIPT, 80, MNISTMLP_DATA=str(mnist_dir), NO_COLOR="1")
    mlp, tflearn = raw.split("=== tflearn ===\n")
    assert "\x1b" not in mlp and "\r" in mlp, "the MLP bar still redraws, with '\\r' only"
    assert not SGR.search(tflearn), "no colour or bold"
    assert "\x1b[2K" in tflearn, "TFLearn's two lines are still redrawn in place (NO_COLOR is about colour)"
    # An empty NO_COLOR does not count (https://no-color.org).
    assert capabilities_in_child(NO_COLOR="") == "terminal cursor color"


def test_dumb_terminal_gets_plain_lines(mnist_dir: Path) -> None:
    raw = run_on_pty(BOTH_SCRIPT, 80, MNISTMLP_DATA=str(mnist_dir), TERM="dumb")
    assert "\x1b" not in raw and "\r" not in raw
    mlp, tflearn = raw.split("=== tflearn ===\n")
    assert [SUMMARY.match(line) is not None for line in mlp.splitlines()] == [True, True]
    assert tflearn.count("Training Step:") == 2 and tflearn.count(" - val_acc: ") == 2


def capabilities_in_child(**env: Optional[str]) -> str:
    code = (
        "from mnistmlp._terminal import capabilities; import sys; c = capabilities(sys.stdout); "
        "print(c.kind, 'cursor' if c.cursor else '-', 'color' if c.color else '-')"
    )
    return run_on_pty(code, 80, **env).strip()


# ---- verbosity -------------------------------------------------------------------------------

VERBOSE_SCRIPT = """
import sys, numpy as np, mnistmlp
rng = np.random.default_rng(0)
X, y = rng.random((600, 784), dtype=np.float32), rng.integers(0, 10, 600)
for verbose in {values}:
    print(f"[{{verbose!r}}]", flush=True)
    mnistmlp.MLP([784, 8, 10], seed=0).fit(X, y, epochs=2, batch_size=30, verbose=verbose)
"""


def sections(raw: str) -> Dict[str, str]:
    """The output after each ``[verbose]`` marker."""
    parts = re.split(r"^\[(.*?)\]\n", raw, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def test_verbosity_on_a_terminal() -> None:
    out = sections(run_on_pty(VERBOSE_SCRIPT.format(values="[0, 2, 1, 'auto', True, False]"), 80))
    assert out["0"] == "" and out["False"] == ""
    lines = out["2"].split("\n")
    assert "\r" not in out["2"] and lines[2:] == [""], "verbose=2: one line per epoch, even on a terminal"
    assert [line.startswith(f"Epoch {e}/2 - ") for e, line in ((1, lines[0]), (2, lines[1]))] == [True, True]
    for live in ("1", "'auto'", "True"):
        assert out[live].count("\r") >= 4, f"verbose={live}: a live bar"
        assert [line.startswith("Epoch ") for line in Screen(80).feed(out[live]).lines()] == [True, True]


def test_verbosity_in_a_pipe() -> None:
    out = sections(run_in_pipe(VERBOSE_SCRIPT.format(values="[0, 1, 'auto', 2]")))
    assert out["0"] == ""
    for verbose in ("1", "'auto'", "2"):
        assert "\r" not in out[verbose] and "\x1b" not in out[verbose]
        lines = out[verbose].splitlines()
        assert len(lines) == 2 and lines[0].startswith("Epoch 1/2 - ") and lines[1].startswith("Epoch 2/2 - ")
        assert re.search(rf" - loss {METRIC} - accuracy {METRIC}( - lr [\d.e-]+)?$", lines[1]), lines[1]


@pytest.mark.parametrize(("given", "mode"), [(0, 0), (1, 1), (2, 2), ("auto", 1), (True, 1), (False, 0), (np.int64(2), 2)])
def test_check_verbose_resolves(given, mode) -> None:
    assert check_verbose(given) == mode and type(check_verbose(given)) is int


@pytest.mark.parametrize("bad", [3, -1, "1", "Auto", "silent", 1.0, None, [1]])
def test_check_verbose_refuses_and_names_the_allowed_values(bad) -> None:
    with pytest.raises(ValueError, match=r"verbose must be 0 .*, 1 .*, 2 .* or 'auto'") as info:
        check_verbose(bad)
    assert repr(bad) in str(info.value)
    with pytest.raises(ValueError, match="verbose must be"):
        EpochDisplay(1, 1, 10, bad, file=io.StringIO())


def test_fit_refuses_a_bad_verbose() -> None:
    import mnistmlp

    X = np.zeros((20, 784), dtype=np.float32)
    with pytest.raises(ValueError, match=r"verbose must be .*'auto'"):
        mnistmlp.MLP([784, 4, 10]).fit(X, np.zeros(20, dtype=int), verbose=3)


# ---- fitting a line to a width ---------------------------------------------------------------


def epoch_bar() -> ProgressBar:
    bar = ProgressBar(55000, desc="Epoch 3/10", unit="samples", enabled=False, postfix="loss 0.1234 - acc 0.9876")
    bar.count = 22000
    return bar


@pytest.mark.parametrize(
    ("width", "line"),
    [
        (200, "Epoch 3/10:  40% [########------------] 22,000/55,000 11,000 samples/s, 0:03 left loss 0.1234 - acc 0.9876"),
        (106, "Epoch 3/10:  40% [########------------] 22,000/55,000 11,000 samples/s, 0:03 left loss 0.1234 - acc 0.9876"),
        (105, "Epoch 3/10:  40% 22,000/55,000 11,000 samples/s, 0:03 left loss 0.1234 - acc 0.9876"),
        (79, "Epoch 3/10:  40% 22,000/55,000 0:03 left loss 0.1234 - acc 0.9876"),
        (65, "Epoch 3/10:  40% 22,000/55,000 0:03 left loss 0.1234 - acc 0.9876"),
        (64, "Epoch 3/10:  40% 22,000/55,000 loss 0.1234 - acc 0.9876"),
        (50, "Epoch 3/10:  40% loss 0.1234 - acc 0.9876"),
        (40, "40% loss 0.1234 - acc 0.9876"),
        (28, "40% loss 0.1234 - acc 0.9876"),
        (27, "loss 0.1234 - acc 0.9876"),
        (23, "40%"),
        (20, "40%"),
    ],
)
def test_epoch_bar_drops_the_graphic_then_the_rate_never_the_metrics(width: int, line: str) -> None:
    assert epoch_bar().format(2.0, width=width) == line


@pytest.mark.parametrize(
    ("width", "line"),
    [
        (200, "train-images-idx3-ubyte.gz:  46% [#########-----------] 4.4 MiB/9.5 MiB 2.9 MiB/s, 0:02 left"),
        (80, "train-images-idx3-ubyte.gz:  46% 4.4 MiB/9.5 MiB 2.9 MiB/s, 0:02 left"),
        (40, "train-images-idx3-ubyte.gz:  46%"),
        (20, "train-images-idx3-ub"),
    ],
)
def test_download_bar_obeys_the_same_order(width: int, line: str) -> None:
    bar = ProgressBar(9_912_422, desc="train-images-idx3-ubyte.gz", enabled=False)
    bar.count = 4_600_000
    assert bar.format(1.5, width=width) == line


def training_state() -> TrainingState:
    state = TrainingState()
    state.epoch, state.step, state.current_iter, state.step_time_total = 1, 2200, 22000, 1.234
    state.loss_value = state.global_loss = 0.31234
    state.acc_value, state.val_loss, state.val_acc = 0.9123, 0.28765, 0.9234
    state.epoch_acc, state.epoch_batches = 0.9, 2200
    return state


@pytest.mark.parametrize(
    ("width", "first", "second"),
    [
        (200, "Training Step: 2200  | total loss: 0.31234 | time: 1.234s",
         "| SGD | epoch: 001 | loss: 0.31234 - acc: 0.9123 -- iter: 22000/55000"),
        (80, "Training Step: 2200  | total loss: 0.31234 | time: 1.234s",
         "| SGD | epoch: 001 | loss: 0.31234 - acc: 0.9123 -- iter: 22000/55000"),
        (60, "Training Step: 2200  | total loss: 0.31234 | time: 1.234s", "| epoch: 001 | loss: 0.31234 - acc: 0.9123"),
        (40, "| total loss: 0.31234", "| loss: 0.31234 - acc: 0.9123"),
        (20, "", ""),
    ],
)
def test_tflearn_lines_fit(width: int, first: str, second: str) -> None:
    display = TermDisplay("SGD", 55000, True, file=io.StringIO())
    assert display.lines(training_state(), width=width) == f"{first}\n{second}\n"
    # At the epoch's end the validation figures come too, whole at any width.
    full = display.lines(training_state(), with_validation=True)
    assert full.endswith("| SGD | epoch: 001 | loss: 0.31234 - acc: 0.9123 | val_loss: 0.28765 - val_acc: 0.9234 -- iter: 22000/55000\n")


def test_fit_pieces() -> None:
    pieces = [("a", 0), (" bb", 2), (" ccc", 1), (" d", 0)]
    assert fit_pieces(pieces, None) == fit_pieces(pieces, 10) == "a bb ccc d"
    assert fit_pieces(pieces, 8) == "a ccc d"
    assert fit_pieces(pieces, 3) == "a d"
    assert fit_pieces(pieces, 2) is None
    assert fit_pieces([("\x1b[1mab\x1b[0m", 0)], 2) == "\x1b[1mab\x1b[0m", "escape sequences take no room"


# ---- the one rule: capabilities, width -------------------------------------------------------


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("env", "tty", "expected"),
    [
        ({}, True, ("terminal", True, True)),
        ({"NO_COLOR": "1"}, True, ("terminal", True, False)),
        ({"NO_COLOR": ""}, True, ("terminal", True, True)),
        ({"TERM": "dumb"}, True, ("lines", False, False)),
        ({"TERM": "dumb", "NO_COLOR": "1"}, True, ("lines", False, False)),
        ({}, False, ("lines", False, False)),
    ],
)
def test_capabilities(monkeypatch: pytest.MonkeyPatch, env, tty, expected) -> None:
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.delenv("NO_COLOR", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    where = capabilities(FakeTerminal() if tty else io.StringIO())
    assert (where.kind, where.cursor, where.color) == expected
    assert where.live == (expected[0] != "lines")


def test_terminal_width_reads_the_streams_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "123")
    assert terminal_width(io.StringIO()) == 123  # no terminal: shutil's answer
    main, child = pty.openpty()
    try:
        with open(child, "w", closefd=False) as stream:
            set_columns(child, 57)
            assert terminal_width(stream) == 57
            set_columns(child, 91)
            assert terminal_width(stream) == 91, "read again each time: a resized window"
    finally:
        os.close(main)
        os.close(child)


def test_progress_bar_is_silent_on_a_dumb_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "dumb")
    out = FakeTerminal()
    with ProgressBar(100, desc="x", file=out) as bar:
        bar.update(100)
    assert out.getvalue() == ""


def test_tflearn_colour_follows_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("NO_COLOR", "1")
    state = training_state()
    out = FakeTerminal()
    display = TermDisplay("SGD", 55000, True, file=out)
    display.update(state)
    display.epoch_end(state)
    assert "\x1b[2K" in out.getvalue() and not SGR.search(out.getvalue())
    monkeypatch.delenv("NO_COLOR")
    out = FakeTerminal()
    TermDisplay("SGD", 55000, True, file=out).update(state)
    assert "\x1b[1m\x1b[32m0.31234\x1b[0m" in out.getvalue()


# ---- the epoch display's lines ---------------------------------------------------------------

LOGS = {"loss": 0.45641, "accuracy": 0.86321, "seconds": 0.5, "samples_per_second": 10000.0,
        "loss_moving_average": 0.4, "accuracy_moving_average": 0.8}


def test_summary_line_shows_the_metrics_and_a_learning_rate() -> None:
    out = io.StringIO()
    EpochDisplay(3, 10, 5000, 2, file=out).close(dict(LOGS, val_loss=0.24781, val_accuracy=0.92741))
    EpochDisplay(4, 10, 5000, "auto", file=out).close(dict(LOGS, learning_rate=0.001, something=5.0))
    EpochDisplay(5, 10, 5000, 0, file=out).close(LOGS)
    assert out.getvalue().splitlines() == [
        "Epoch 3/10 - 0.50s - 10,000 samples/s - loss 0.4564 - accuracy 0.8632 - val_loss 0.2478 - val_accuracy 0.9274",
        "Epoch 4/10 - 0.50s - 10,000 samples/s - loss 0.4564 - accuracy 0.8632 - lr 0.001",
    ]


def test_abandoned_epoch_ends_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("COLUMNS", "200")
    out = FakeTerminal()
    display = EpochDisplay(1, 2, 100, 1, file=out)
    display.update(types.SimpleNamespace(samples_done=50, epoch_loss=1.0, epoch_accuracy=0.5))
    display.abandon()
    assert out.getvalue().endswith("\n") and out.getvalue().count("\n") == 1
    assert Screen(200).feed(out.getvalue()).lines()[0].startswith("Epoch 1/2:  ")


# ---- the notebook path, with a stand-in for IPython (test_notebook.py runs a real kernel) ------


class FakeHandle:
    def __init__(self, shown: list, bundle: dict) -> None:
        self.shown = shown
        shown.append(["display", bundle["text/plain"]])

    def update(self, bundle: dict, raw: bool = False) -> None:
        assert raw
        self.shown.append(["update", bundle["text/plain"]])


@pytest.fixture
def fake_kernel(monkeypatch: pytest.MonkeyPatch) -> list:
    """Make this process look like an IPython kernel; returns what was displayed."""
    shown: list = []
    shell = types.SimpleNamespace(kernel=object())
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: shell  # type: ignore[attr-defined]
    display_module = types.ModuleType("IPython.display")

    def display(bundle, raw=False, display_id=None):
        assert raw and display_id is True
        return FakeHandle(shown, bundle)

    display_module.display = display  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display_module)
    return shown


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now


def test_kernel_detection_needs_an_imported_ipython_with_a_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert not _terminal.in_notebook_kernel()
    terminal_shell = types.ModuleType("IPython")
    terminal_shell.get_ipython = lambda: types.SimpleNamespace()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", terminal_shell)
    assert not _terminal.in_notebook_kernel(), "the IPython terminal is no kernel"


def test_epoch_display_in_a_notebook(fake_kernel: list, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(_progress, "time", clock)
    assert capabilities(sys.stdout).kind == "notebook"
    assert capabilities(io.StringIO()).kind == "lines", "only the kernel's own streams"
    display = EpochDisplay(1, 2, 1000, "auto")
    for done in (100, 200, 300):
        clock.now += 0.0625  # sixteen reports a second: every other one is drawn
        display.update(types.SimpleNamespace(samples_done=done, epoch_loss=1.0, epoch_accuracy=0.5))
    display.close(LOGS)
    assert capsys.readouterr().out == ""
    assert [kind for kind, _ in fake_kernel] == ["display", "update", "update"]
    assert fake_kernel[1][1].startswith("Epoch 1/2:  20% [####----------------] 200/1,000 ")
    assert fake_kernel[1][1].endswith(" loss 1.0000 - acc 0.5000")
    assert fake_kernel[-1][1] == "Epoch 1/2 - 0.50s - 10,000 samples/s - loss 0.4564 - accuracy 0.8632"
    EpochDisplay(2, 2, 1000, 2).close(LOGS)
    assert capsys.readouterr().out.startswith("Epoch 2/2 - "), "verbose=2 prints lines in a notebook too"


def test_tflearn_display_in_a_notebook(fake_kernel: list, capsys: pytest.CaptureFixture) -> None:
    display = TermDisplay("SGD", 55000, True)
    state = training_state()
    display.header("ABC", 0)
    display.update(state)
    display.epoch_end(state)
    assert [kind for kind, _ in fake_kernel] == ["display", "update"]
    assert fake_kernel[0][1] == display.lines(state).rstrip("\n")
    assert fake_kernel[1][1] == display.lines(state, with_validation=True).rstrip("\n")
    printed = capsys.readouterr().out
    assert "Run id: ABC" in printed and "| epoch 001: accuracy over all" in printed
    assert "\r" not in printed and "\x1b" not in printed


def test_a_narrowed_window_gets_no_blanks_past_its_edge(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(_progress, "time", clock)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("COLUMNS", "200")
    out = FakeTerminal()
    bar = ProgressBar(55000, desc="Epoch 3/10", unit="samples", file=out, postfix="loss 0.1234 - acc 0.9876")
    clock.now += 2
    bar.update(22000)
    monkeypatch.setenv("COLUMNS", "41")  # the window narrows: the width is read at each redraw
    clock.now += 0.5
    bar.update(1000)
    frames = out.getvalue().split("\r")[1:]
    assert "[########------------]" in frames[1]
    assert frames[2] == "42% loss 0.1234 - acc 0.9876".ljust(40), "blanks up to the edge, not past it"
    bar.finish("Epoch 3/10 - 2.50s - ...")
    assert out.getvalue().endswith("\r" + " " * 28 + "\rEpoch 3/10 - 2.50s - ...\n"), "the live line blanked"
