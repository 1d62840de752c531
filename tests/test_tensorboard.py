"""mnistmlp._tensorboard writes event files that TensorBoard itself reads.

The files are read back with TensorBoard's own code: the Python data path its UI falls back
to (event_file_loader -> plugin_event_multiplexer -> MultiplexerDataProvider, which is what
the scalars plugin queries), ``tensorboard --inspect``, and a real ``tensorboard`` server,
with its Rust data server (the default loader) and without, queried over HTTP as the UI does.
TensorBoard is in the ``test`` extra; without it these tests are skipped, or fail when the
``CI`` environment variable is set.
"""

from __future__ import annotations

import json
import math
import os
import queue
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, List, Optional

import numpy as np
import pytest

from mnistmlp import _tensorboard
from mnistmlp._tensorboard import EventFileWriter, crc32c, masked_crc32c

from _tensorboard_reader import read_scalars, tensorboard_modules

# The largest float32 and the smallest finite double that rounds past it to +inf.
_F32_MAX = float(np.finfo(np.float32).max)
_F32_OVERFLOW = 3.4028235677973366e38


def f32(value: float) -> float:
    return float(np.float32(value))


@pytest.fixture(scope="module")
def tb() -> SimpleNamespace:
    return tensorboard_modules()


def raw_events(tb: SimpleNamespace, path: str) -> list:
    """The Event protos of a file as written (no read-time conversion)."""
    return list(tb.loader.LegacyEventFileLoader(path).Load())


def same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


# ---------------------------------------------------------------------------------------------
# Checksums and encoding


def test_crc32c_check_value() -> None:
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(b"") == 0
    # The iSCSI test vectors of RFC 3720, B.4.
    assert crc32c(bytes(32)) == 0x8A9136AA
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E


def test_masked_crc32c_matches_tensorboard(tb: SimpleNamespace) -> None:
    rng = np.random.default_rng(0)
    for size in (0, 1, 7, 8, 100, 1000):
        data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        assert masked_crc32c(data) == tb.pywrap.masked_crc32c(data)
        assert crc32c(data) == tb.pywrap.crc32c(data)


@pytest.mark.parametrize("wall_time, step, values", [
    (1.5, 300, [("loss", 0.25), ("Accuracy/Validation", 0.9), ("é/ü", -1e-3)]),
    (0.0, 0, [("a", 0.0)]),
    (1_700_000_000.123456, 2**63 - 1, [("nan", math.nan), ("inf", math.inf), ("-inf", -math.inf)]),
    (12.0, 1, [("big", 1e30), ("tiny", 1e-45), ("max", _F32_MAX)]),
])
def test_encoding_is_protobufs_own(tb: SimpleNamespace, wall_time: float, step: int, values: list) -> None:
    summary = tb.summary_pb2.Summary(value=[tb.summary_pb2.Summary.Value(tag=t, simple_value=v) for t, v in values])
    expected = tb.event_pb2.Event(wall_time=wall_time, step=step, summary=summary).SerializeToString()
    assert _tensorboard._event(wall_time, step, values=[(t.encode(), v) for t, v in values]) == expected
    version = tb.event_pb2.Event(wall_time=wall_time, file_version="brain.Event:2").SerializeToString()
    assert _tensorboard._event(wall_time, file_version="brain.Event:2") == version


def test_record_framing(tmp_path: Path) -> None:
    with EventFileWriter(tmp_path) as writer:
        writer.add_scalars(3, {"loss": 0.5})
    data = Path(writer.path).read_bytes()
    offset, records = 0, 0
    while offset < len(data):
        header = data[offset:offset + 8]
        (length,) = struct.unpack("<Q", header)
        assert struct.unpack("<I", data[offset + 8:offset + 12])[0] == masked_crc32c(header)
        payload = data[offset + 12:offset + 12 + length]
        assert struct.unpack("<I", data[offset + 12 + length:offset + 16 + length])[0] == masked_crc32c(payload)
        offset += 16 + length
        records += 1
    assert offset == len(data) and records == 2


# ---------------------------------------------------------------------------------------------
# Files and their contents, read by TensorBoard


def test_file_name_and_first_event(tb: SimpleNamespace, tmp_path: Path) -> None:
    before = time.time()
    first = EventFileWriter(tmp_path / "run", filename_suffix=".mnistmlp")
    second = EventFileWriter(tmp_path / "run")
    after = time.time()
    first.close()
    second.close()
    pattern = (r"events\.out\.tfevents\.(\d{10})\." + re.escape(socket.gethostname()) + r"\."
               + str(os.getpid()) + r"\.(\d+)")
    one = re.fullmatch(pattern + r"\.mnistmlp", os.path.basename(first.path))
    two = re.fullmatch(pattern, os.path.basename(second.path))
    assert one and two, (first.path, second.path)
    assert int(before) <= int(one[1]) <= int(two[1]) <= after
    assert int(two[2]) > int(one[2])
    assert os.path.dirname(first.path) == str(tmp_path / "run") == first.logdir
    events = raw_events(tb, first.path)
    assert len(events) == 1
    assert events[0].file_version == "brain.Event:2"
    assert before <= events[0].wall_time <= after
    assert events[0].step == 0 and not events[0].HasField("summary")


def test_scalars_read_back(tb: SimpleNamespace, tmp_path: Path) -> None:
    logged = {
        0: {"loss": 2.302585092994046, "accuracy": 0.1, "val_loss": 2.4, "val_accuracy": np.float32(0.11)},
        1: {"loss": np.float64(0.4), "accuracy": 0.875, "val_loss": math.nan, "val_accuracy": 1},
        5: {"loss": math.inf, "accuracy": np.int64(1), "val_loss": -math.inf, "val_accuracy": Fraction(1, 3)},
    }
    walls = {0: 1_700_000_000.25, 1: 1_700_000_061.5, 5: 1_700_000_999.125}
    with EventFileWriter(tmp_path) as writer:
        for step, values in logged.items():
            writer.add_scalars(step, values, wall_time=walls[step])
    read = read_scalars(tmp_path)
    assert list(read) == ["."]
    assert set(read["."]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for tag, series in read["."].items():
        assert [step for step, _, _ in series] == [0, 1, 5]
        assert [wall for _, wall, _ in series] == [walls[0], walls[1], walls[5]]
        for (step, _, value) in series:
            assert same(value, f32(float(logged[step][tag]))), (tag, step, value)
    # As written: one Event per call, its values in the mapping's order, as simple_value.
    events = raw_events(tb, writer.path)[1:]
    assert [e.step for e in events] == [0, 1, 5]
    for event, values in zip(events, logged.values()):
        assert [v.tag for v in event.summary.value] == list(values)
        assert all(v.WhichOneof("value") == "simple_value" for v in event.summary.value)


def test_default_wall_time_is_now(tb: SimpleNamespace, tmp_path: Path) -> None:
    with EventFileWriter(tmp_path) as writer:
        before = time.time()
        writer.add_scalars(7, {"loss": 1.0})
        after = time.time()
    (step, wall, value), = read_scalars(tmp_path)["."]["loss"]
    assert (step, value) == (7, 1.0) and before <= wall <= after


def test_values_beyond_float32_become_infinite(tb: SimpleNamespace, tmp_path: Path) -> None:
    with EventFileWriter(tmp_path) as writer:
        writer.add_scalars(0, {"a": _F32_OVERFLOW, "b": -1e300, "c": 10**400, "d": -(10**400), "e": _F32_MAX})
    read = {tag: series[0][2] for tag, series in read_scalars(tmp_path)["."].items()}
    assert read == {"a": math.inf, "b": -math.inf, "c": math.inf, "d": -math.inf, "e": _F32_MAX}


def test_each_call_is_readable_before_close(tb: SimpleNamespace, tmp_path: Path) -> None:
    with EventFileWriter(tmp_path) as writer:
        loader = tb.loader.LegacyEventFileLoader(writer.path)
        assert len(list(loader.Load())) == 1
        for step in range(3):
            writer.add_scalars(step, {"loss": step / 2})
            (event,) = loader.Load()
            assert event.step == step and event.summary.value[0].simple_value == step / 2
        writer.flush()
        assert list(loader.Load()) == []


def test_two_writers_in_one_logdir(tb: SimpleNamespace, tmp_path: Path) -> None:
    with EventFileWriter(tmp_path) as a, EventFileWriter(tmp_path) as b:
        assert a.path != b.path
        a.add_scalars(1, {"train": 0.5})
        b.add_scalars(1, {"eval": 0.25})
        a.add_scalars(2, {"train": 0.125})
    assert sorted(os.listdir(tmp_path)) == sorted([os.path.basename(a.path), os.path.basename(b.path)])
    assert [len(raw_events(tb, w.path)) for w in (a, b)] == [3, 2]
    read = read_scalars(tmp_path)["."]
    assert [(s, v) for s, _, v in read["train"]] == [(1, 0.5), (2, 0.125)]
    assert [(s, v) for s, _, v in read["eval"]] == [(1, 0.25)]


def test_runs_in_subdirectories(tb: SimpleNamespace, tmp_path: Path) -> None:
    for run, value in (("run_a", 1.0), ("run_b/train", 2.0)):
        with EventFileWriter(tmp_path / run) as writer:
            writer.add_scalars(0, {"loss": value})
    read = read_scalars(tmp_path)
    assert {run: series["loss"][0][2] for run, series in read.items()} == {"run_a": 1.0, "run_b/train": 2.0}


@pytest.mark.parametrize("where", ["length", "data"])
def test_tensorboard_detects_a_corrupted_byte(tb: SimpleNamespace, tmp_path: Path, where: str) -> None:
    with EventFileWriter(tmp_path) as writer:
        writer.add_scalars(0, {"loss": 1.0})
        writer.add_scalars(1, {"loss": 0.5})
    data = bytearray(Path(writer.path).read_bytes())
    starts, offset = [], 0
    while offset < len(data):
        starts.append(offset)
        offset += 16 + struct.unpack("<Q", data[offset:offset + 8])[0]
    last = starts[-1]
    data[last + (0 if where == "length" else 12 + 3)] ^= 0x01
    Path(writer.path).write_bytes(bytes(data))

    reader = tb.pywrap.PyRecordReader_New(writer.path)
    reader.GetNext()
    reader.GetNext()
    with pytest.raises(tb.errors.DataLossError, match="header crc" if where == "length" else "event crc"):
        reader.GetNext()
    # TensorBoard's loader stops at the damaged record: the records before it still show.
    assert [(s, v) for s, _, v in read_scalars(tmp_path)["."]["loss"]] == [(0, 1.0)]


# ---------------------------------------------------------------------------------------------
# TensorBoard's command line and server


def _tensorboard_command(*args: str) -> List[str]:
    return [sys.executable, "-m", "tensorboard.main", *args]


def test_tensorboard_inspect(tb: SimpleNamespace, tmp_path: Path) -> None:
    with EventFileWriter(tmp_path / "run") as writer:
        for step in range(4):
            writer.add_scalars(step, {"loss": 1 / (step + 1), "accuracy/val": step / 4})
    done = subprocess.run(_tensorboard_command("--inspect", "--logdir", str(tmp_path)),
                          capture_output=True, text=True, timeout=60)
    if "unrecognized arguments: --inspect" in done.stderr:  # pragma: no cover - a TensorBoard without it
        pytest.skip("this TensorBoard has no --inspect")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r"^scalars\n\s+accuracy/val\n\s+loss$", out, re.M), out
    assert re.search(r"first_step\s+0$", out, re.M) and re.search(r"last_step\s+3$", out, re.M), out
    assert re.search(r"num_steps\s+4$", out, re.M), out


def _get_json(url: str) -> list:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read().decode("utf-8"))


@pytest.mark.parametrize("load_fast", ["true", "false"])
def test_tensorboard_server_shows_the_scalars(tb: SimpleNamespace, tmp_path: Path, load_fast: str) -> None:
    """A real ``tensorboard --logdir``: --load_fast=true is its Rust data server (the default
    where it is available), false its Python loader; the scalars plugin's HTTP API is what the
    UI draws from."""
    logdir = tmp_path / "logs"
    walls = [1_700_000_000.5, 1_700_000_010.75, 1_700_000_020.0]
    with EventFileWriter(logdir / "run") as writer:
        for step, wall in enumerate(walls):
            writer.add_scalars(step * 10, {"loss": 1 / (step + 3), "val_loss": math.nan if step == 1 else 0.5},
                               wall_time=wall)
    server = subprocess.Popen(
        _tensorboard_command("--logdir", str(logdir), "--port", "0", "--host", "127.0.0.1",
                             f"--load_fast={load_fast}", "--reload_interval", "1"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # Read its output on a thread, so that a server that hangs silently cannot hang the test.
    lines: "queue.Queue[Optional[str]]" = queue.Queue()

    def read_output() -> None:
        for line in server.stdout or ():
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read_output, daemon=True).start()
    try:
        output = ""
        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:  # the server exited
                break
            output += line
            found = re.search(r"TensorBoard \S+ at http://[^:/]+:(\d+)/", output)
            port = int(found[1]) if found else None
        if port is None and "load_fast=true not available" in output:  # pragma: no cover - no binary here
            pytest.skip("TensorBoard's data server is not available on this platform: " + output)
        assert port is not None, output
        base = f"http://127.0.0.1:{port}/data/plugin/scalars/"
        series: Dict[str, list] = {}
        # The server's first load of the logdir may still be under way: ask until all is there.
        while True:
            try:
                for tag in ("loss", "val_loss"):
                    query = urllib.parse.urlencode({"run": "run", "tag": tag})
                    series[tag] = _get_json(base + "scalars?" + query)
            except urllib.error.HTTPError as exc:
                if exc.code != 404:  # 404: no such run or tag yet
                    raise
            if all(len(series.get(t, ())) == 3 for t in ("loss", "val_loss")) or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        assert series["loss"] == [[wall, step * 10, f32(1 / (step + 3))] for step, wall in enumerate(walls)]
        assert series["val_loss"] == [[walls[0], 0, 0.5], [walls[1], 10, "NaN"], [walls[2], 20, 0.5]]
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover
            server.kill()
            server.wait()


# ---------------------------------------------------------------------------------------------
# Errors


def test_unwritable_logdir_raises_oserror_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    with pytest.raises(OSError, match=re.escape(str(blocker / "logs"))):
        EventFileWriter(blocker / "logs")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_logdir_raises_permission_error(tmp_path: Path) -> None:
    logdir = tmp_path / "read_only"
    logdir.mkdir()
    logdir.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match=re.escape(str(logdir))):
            EventFileWriter(logdir)
    finally:
        logdir.chmod(0o700)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"logdir": 3}, TypeError, "expected str, bytes or os.PathLike"),
    ({"logdir": b"logs"}, TypeError, "logdir must be a str or os.PathLike of str"),
    ({"logdir": ""}, ValueError, "logdir must not be empty"),
    ({"filename_suffix": 1}, TypeError, "filename_suffix must be a str"),
    ({"filename_suffix": "/x"}, ValueError, "must not contain a path separator"),
])
def test_bad_constructor_arguments(tmp_path: Path, kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        EventFileWriter(**{"logdir": tmp_path, **kwargs})
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("args, error, message", [
    ((-1, {"a": 1.0}), ValueError, "step must be between 0 and 2\\*\\*63 - 1, not -1"),
    ((2**63, {"a": 1.0}), ValueError, "step must be between"),
    ((1.0, {"a": 1.0}), TypeError, "step must be an int, not float"),
    ((True, {"a": 1.0}), TypeError, "step must be an int, not bool"),
    ((None, {"a": 1.0}), TypeError, "step must be an int, not NoneType"),
    ((0, [("a", 1.0)]), TypeError, "values must be a mapping"),
    ((0, {}), ValueError, "values is empty"),
    ((0, {"": 1.0}), ValueError, "tags must not be empty"),
    ((0, {1: 1.0}), TypeError, "tags must be str, not int"),
    ((0, {"\ud800": 1.0}), ValueError, "is not encodable as UTF-8"),
    ((0, {"a": 1.0, "b": "1.0"}), TypeError, "the value of tag 'b' must be a real number, not str"),
    ((0, {"a": None}), TypeError, "the value of tag 'a' must be a real number, not NoneType"),
    ((0, {"a": True}), TypeError, "not bool"),
    ((0, {"a": 1j}), TypeError, "not complex"),
    ((0, {"a": np.array([1.0])}), TypeError, "not ndarray"),
    ((0, {"a": 1.0}, "now"), TypeError, "wall_time must be a number of seconds or None, not str"),
    ((0, {"a": 1.0}, math.nan), ValueError, "wall_time must be a finite number"),
    ((0, {"a": 1.0}, 10**400), ValueError, "wall_time must be a finite number"),
])
def test_bad_add_scalars_arguments(tmp_path: Path, args: tuple, error: type, message: str) -> None:
    with EventFileWriter(tmp_path) as writer:
        size = os.path.getsize(writer.path)
        with pytest.raises(error, match=message):
            writer.add_scalars(*args)
        assert os.path.getsize(writer.path) == size  # nothing of a rejected call is written


def test_numpy_integer_step(tb: SimpleNamespace, tmp_path: Path) -> None:
    with EventFileWriter(tmp_path) as writer:
        writer.add_scalars(np.int64(12), {"loss": 1.0})
    assert raw_events(tb, writer.path)[1].step == 12


def test_close_and_context_manager(tmp_path: Path) -> None:
    with EventFileWriter(tmp_path) as writer:
        assert not writer.closed
        assert "closed" not in repr(writer)
    assert writer.closed and "(closed)" in repr(writer)
    writer.close()
    writer.flush()
    with pytest.raises(ValueError, match="is closed"):
        writer.add_scalars(0, {"loss": 1.0})


# ---------------------------------------------------------------------------------------------
# add_scalar_series: many Events at once


def events_bytes(path: str) -> bytes:
    """A file's records after its first (the file_version Event, stamped with its own time)."""
    data = Path(path).read_bytes()
    return data[16 + struct.unpack("<Q", data[:8])[0]:]


def series_steps() -> np.ndarray:
    """Steps whose varints are 0 (left out) to 9 bytes long, with every length's edges."""
    edges = [16384, 2**21, 2**28, 2**35, 2**42, 2**49, 2**56]
    around = [edge + np.arange(-300, 300) for edge in edges]
    return np.concatenate([np.arange(0, 2000), *around, [2**63 - 1, 2**63 - 2]]).astype(np.int64)


def series_values(count: int) -> Dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    loss = rng.normal(size=count) * 10.0 ** rng.integers(-40, 40, count)  # some beyond float32
    loss[:6] = [math.nan, math.inf, -math.inf, _F32_OVERFLOW, -1e-50, -0.0]
    return {
        "Loss": loss,
        "SGD/Loss/raw": rng.random(count).astype(np.float32),
        "é/ü": rng.integers(-10**6, 10**6, count),
        "Accuracy/__raw_": rng.random(count).astype(np.float16),
    }


@pytest.mark.parametrize("order", ["increasing", "shuffled", "decreasing"])
def test_series_is_byte_identical_to_add_scalars(tmp_path: Path, order: str) -> None:
    steps = series_steps()
    count = len(steps)
    values = series_values(count)
    wall_times = 1_700_000_000.0 + np.random.default_rng(3).random(count) * 1e5
    wall_times[[0, 7, 2500]] = [0.0, -0.0, 0.0]  # left out of the Event, as a zero step is
    permutation = {"increasing": np.arange(count), "shuffled": np.random.default_rng(5).permutation(count),
                   "decreasing": np.arange(count)[::-1]}[order]
    steps, wall_times = steps[permutation], wall_times[permutation]
    values = {tag: series[permutation] for tag, series in values.items()}

    with EventFileWriter(tmp_path, ".series") as bulk, EventFileWriter(tmp_path, ".scalars") as one_by_one:
        bulk.add_scalar_series(steps, values, wall_times)
        for i in range(count):
            one_by_one.add_scalars(steps[i], {tag: series[i] for tag, series in values.items()}, wall_times[i])
    expected = events_bytes(one_by_one.path)
    assert len(expected) > 100 * count
    assert events_bytes(bulk.path) == expected


def test_series_with_one_wall_time_and_one_tag(tmp_path: Path) -> None:
    steps = np.arange(126, 16500, dtype=np.uint64)  # varints of 1, 2 and 3 bytes
    loss = np.linspace(3.0, 0.1, len(steps), dtype=np.float32)
    with EventFileWriter(tmp_path, ".series") as bulk, EventFileWriter(tmp_path, ".scalars") as one_by_one:
        bulk.add_scalar_series(steps, {"loss": loss}, 1_700_000_123.5)
        for step, value in zip(steps.tolist(), loss.tolist()):
            one_by_one.add_scalars(step, {"loss": value}, 1_700_000_123.5)
    assert events_bytes(bulk.path) == events_bytes(one_by_one.path)


def test_series_read_back(tb: SimpleNamespace, tmp_path: Path) -> None:
    count = 5500  # an epoch of MNIST at batch size 10
    steps = np.arange(1, count + 1) + 55000
    wall_times = 1_700_000_000.0 + np.arange(1, count + 1) * (0.3 / count)
    values = {"Loss": np.linspace(2.3, 0.2, count), "Loss/raw": np.geomspace(2.5, 0.1, count),
              "Accuracy": np.linspace(0.1, 0.99, count).astype(np.float32)}
    values["Loss/raw"][10] = math.nan
    with EventFileWriter(tmp_path) as writer:
        writer.add_scalars(55000, {"Loss": 2.5}, wall_time=1_699_999_999.0)
        writer.add_scalar_series(steps, values, wall_times)
        writer.add_scalars(int(steps[-1]), {"Loss/Validation": 0.25}, wall_time=float(wall_times[-1]))
    read = read_scalars(tmp_path)["."]
    assert set(read) == {"Loss", "Loss/raw", "Accuracy", "Loss/Validation"}
    for tag, series in values.items():
        got = read[tag][1:] if tag == "Loss" else read[tag]
        assert [step for step, _, _ in got] == steps.tolist()
        assert [wall for _, wall, _ in got] == wall_times.tolist()
        assert all(same(value, f32(expected)) for (_, _, value), expected in zip(got, series.tolist())), tag
    assert read["Loss"][0] == (55000, 1_699_999_999.0, 2.5)
    assert read["Loss/Validation"] == [(steps[-1], wall_times[-1], 0.25)]
    # As written: one Event per step, its values in the mapping's order, as simple_value.
    events = raw_events(tb, writer.path)
    assert len(events) == 1 + 1 + count + 1
    for event in events[2:-1]:
        assert [v.tag for v in event.summary.value] == list(values)
        assert all(v.WhichOneof("value") == "simple_value" for v in event.summary.value)


def test_empty_series_writes_nothing(tmp_path: Path) -> None:
    with EventFileWriter(tmp_path) as writer:
        size = os.path.getsize(writer.path)
        writer.add_scalar_series([], {"loss": []}, [])
        writer.add_scalar_series(np.zeros(0, np.int64), {"loss": np.zeros(0), "acc": np.zeros(0)}, 1.5)
        assert os.path.getsize(writer.path) == size


_GOOD = {"steps": np.array([1, 2, 3]), "values": {"a": np.array([0.5, 0.25, 0.125])},
         "wall_times": np.array([1.0, 2.0, 3.0])}


@pytest.mark.parametrize("bad, error, message", [
    ({"steps": np.array([1.0, 2.0, 3.0])}, TypeError, "steps must be ints, not float64"),
    ({"steps": np.array([True, False, True])}, TypeError, "steps must be ints, not bool"),
    ({"steps": ["1", "2", "3"]}, TypeError, "steps must be ints, not <U1"),
    ({"steps": 3}, ValueError, r"steps must be a 1-D array, not one of shape \(\)"),
    ({"steps": np.ones((3, 1), np.int64)}, ValueError, r"steps must be a 1-D array, not one of shape \(3, 1\)"),
    ({"steps": np.array([0, -1, 2])}, ValueError, r"steps must be between 0 and 2\*\*63 - 1, not -1 \(steps\[1\]\)"),
    ({"steps": np.array([0, 1, 2**63], np.uint64)}, ValueError,
     r"between 0 and 2\*\*63 - 1, not 9223372036854775808 \(steps\[2\]\)"),
    ({"values": [("a", [1.0, 2.0, 3.0])]}, TypeError, "values must be a mapping of tag to array, not list"),
    ({"values": {}}, ValueError, "values is empty"),
    ({"values": {"": [1.0, 2.0, 3.0]}}, ValueError, "tags must not be empty"),
    ({"values": {1: [1.0, 2.0, 3.0]}}, TypeError, "tags must be str, not int"),
    ({"values": {"\ud800": [1.0, 2.0, 3.0]}}, ValueError, "is not encodable as UTF-8"),
    ({"values": {"a": [1.0, 2.0, 3.0], "b": [1.0, 2.0]}}, ValueError,
     r"the values of tag 'b' must be a 1-D array of 3 \(as many as steps\), not one of shape \(2,\)"),
    ({"values": {"a": 1.0}}, ValueError, r"the values of tag 'a' must be a 1-D array of 3"),
    ({"values": {"a": np.ones((3, 2))}}, ValueError, r"the values of tag 'a' must be a 1-D array of 3"),
    ({"values": {"a": ["1", "2", "3"]}}, TypeError, "the values of tag 'a' must be real numbers, not <U1"),
    ({"values": {"a": [True, False, True]}}, TypeError, "the values of tag 'a' must be real numbers, not bool"),
    ({"values": {"a": [1j, 2j, 3j]}}, TypeError, "must be real numbers, not complex128"),
    ({"values": {"a": [None, 1.0, 2.0]}}, TypeError, "must be real numbers, not object"),
    ({"values": {"a": [[1.0], [2.0, 3.0], []]}}, ValueError, "the values of tag 'a' must be a 1-D array"),
    ({"wall_times": [1.0, 2.0]}, ValueError,
     r"wall_times must be a 1-D array of 3 \(as many as steps\) or one number, not an array of shape \(2,\)"),
    ({"wall_times": None}, TypeError, "wall_times must be real numbers of seconds, not object"),
    ({"wall_times": "now"}, TypeError, "wall_times must be real numbers of seconds, not <U3"),
    ({"wall_times": [1.0, math.nan, 3.0]}, ValueError,
     r"wall_times must be finite numbers of seconds, not nan \(wall_times\[1\]\)"),
    ({"wall_times": math.inf}, ValueError, "wall_times must be finite numbers of seconds, not inf$"),
    ({"wall_times": np.array([1.0, 2.0, 1e300], np.longdouble) * 1e300}, ValueError,
     r"wall_times must be finite numbers of seconds, not .* \(wall_times\[2\]\)"),
])
def test_bad_add_scalar_series_arguments(tmp_path: Path, bad: dict, error: type, message: str) -> None:
    with EventFileWriter(tmp_path) as writer:
        size = os.path.getsize(writer.path)
        with pytest.raises(error, match=message):
            writer.add_scalar_series(**{**_GOOD, **bad})
        assert os.path.getsize(writer.path) == size  # nothing of a rejected call is written
        writer.add_scalar_series(**_GOOD)
        assert os.path.getsize(writer.path) > size


def test_series_on_a_closed_writer(tmp_path: Path) -> None:
    writer = EventFileWriter(tmp_path)
    writer.close()
    with pytest.raises(ValueError, match="is closed"):
        writer.add_scalar_series(**_GOOD)
