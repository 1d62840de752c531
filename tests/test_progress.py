"""The terminal progress bar: what it draws, when, and that it stays silent off a terminal."""

from __future__ import annotations

import io

import pytest

from mnistmlp import _progress
from mnistmlp._progress import ProgressBar, format_bytes, format_duration


class FakeClock:
    """Stands in for the ``time`` module inside ``_progress``."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(_progress, "time", fake)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("TERM", "xterm")  # whatever the tests run under
    monkeypatch.delenv("NO_COLOR", raising=False)
    return fake


def frames(output: str) -> list:
    """The successive lines drawn, without their '\\r' and padding."""
    return [frame.rstrip(" \n") for frame in output.split("\r")[1:]]


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (10_380_000, "9.9 MiB"),
        (3 * 2**30, "3.0 GiB"),
        (2**50, "1024.0 TiB"),
    ],
)
def test_format_bytes(n: int, text: str) -> None:
    assert format_bytes(n) == text


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0:00"), (2.4, "0:02"), (59.6, "1:00"), (3725, "1:02:05")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_disabled_bar_writes_nothing(clock: FakeClock) -> None:
    out = io.StringIO()  # not a terminal: enabled=None means off
    with ProgressBar(100, desc="x", file=out) as bar:
        clock.now += 1
        bar.update(50)
        bar.set_postfix("loss 1")
    assert out.getvalue() == ""

    terminal = Terminal()
    with ProgressBar(100, file=terminal, enabled=False) as bar:
        bar.update(100)
    assert terminal.getvalue() == ""


def test_draws_on_a_terminal_by_default(clock: FakeClock) -> None:
    terminal = Terminal()
    with ProgressBar(10, desc="x", unit="it", file=terminal) as bar:
        bar.update(10)
    assert terminal.getvalue().startswith("\rx:   0% [")
    assert terminal.getvalue().endswith("\n")


def test_byte_progress_shows_percent_sizes_rate_and_time_left(clock: FakeClock) -> None:
    out = io.StringIO()
    bar = ProgressBar(4 * 2**20, desc="file.gz", file=out, enabled=True)
    clock.now += 2
    bar.update(2**20)
    assert frames(out.getvalue())[-1] == (
        "file.gz:  25% [#####---------------] 1.0 MiB/4.0 MiB 512.0 KiB/s, 0:06 left"
    )
    clock.now += 2
    bar.update(3 * 2**20)
    bar.close()
    assert frames(out.getvalue())[-1] == (
        "file.gz: 100% [####################] 4.0 MiB/4.0 MiB 1.0 MiB/s, 0:04 elapsed"
    )


def test_other_units_and_postfix(clock: FakeClock) -> None:
    out = io.StringIO()
    with ProgressBar(200, desc="epoch 1", unit="batch", file=out, enabled=True) as bar:
        clock.now += 4
        bar.update(50)
        bar.set_postfix("loss 0.123")
    assert frames(out.getvalue())[-1] == (
        "epoch 1:  25% [#####---------------] 50/200 12 batch/s, 0:12 left loss 0.123"
    )
    assert bar.format(4.0, bar=False) == "epoch 1:  25% 50/200 12 batch/s, 0:12 left loss 0.123"


def test_unknown_total_shows_count_and_rate(clock: FakeClock) -> None:
    out = io.StringIO()
    with ProgressBar(None, file=out, enabled=True) as bar:
        clock.now += 1
        bar.update(3000)
    assert frames(out.getvalue())[-1] == "2.9 KiB 2.9 KiB/s, 0:01 elapsed"


def test_redraws_at_most_ten_times_a_second(clock: FakeClock) -> None:
    out = io.StringIO()
    bar = ProgressBar(1000, file=out, enabled=True)
    for _ in range(50):
        clock.now += 0.001
        bar.update(1)
    assert len(frames(out.getvalue())) == 1  # only the initial frame
    clock.now += 0.1
    bar.update(1)
    assert len(frames(out.getvalue())) == 2
    assert "51/1,000" not in out.getvalue() and "5%" in frames(out.getvalue())[-1]


def test_shorter_line_blanks_out_the_previous_one(clock: FakeClock) -> None:
    out = io.StringIO()
    bar = ProgressBar(10, unit="it", file=out, enabled=True)
    clock.now += 1
    bar.set_postfix("a long postfix")
    clock.now += 1
    bar.set_postfix("")
    _, first, second = out.getvalue().split("\r")[1:]
    assert len(second) == len(first) and second.endswith(" " * len(" a long postfix"))


def test_lines_are_cut_to_the_terminal_width(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "30")
    out = io.StringIO()
    ProgressBar(10, desc="d" * 50, file=out, enabled=True)
    assert out.getvalue() == "\r" + "d" * 29


def test_close_ends_the_line_once_even_after_an_error(clock: FakeClock) -> None:
    out = io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        with ProgressBar(10, file=out, enabled=True) as bar:
            raise KeyboardInterrupt
    bar.close()
    bar.update(5)  # ignored once closed
    assert out.getvalue().count("\n") == 1 and out.getvalue().endswith("\n")
    assert len(frames(out.getvalue())) == 2  # the initial frame and the final one
