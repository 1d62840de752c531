"""TensorBoard event files, written without TensorBoard, TensorFlow or protobuf.

An event file is a sequence of TFRecords, each holding one serialized ``Event`` protocol
buffer (tensorboard/compat/proto/event.proto and summary.proto). Writing scalars needs only
four messages' worth of the protobuf wire format, so they are encoded here by hand::

    Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
    Summary { repeated Value value = 1; }
    Value   { string tag = 1; float simple_value = 2; }

Scalars go in ``simple_value``, as TensorFlow 1's ``tf.summary.scalar`` (and so TFLearn)
wrote them; TensorBoard reads them as scalar summaries. The encoding is the one protobuf
itself produces (fields in number order, proto3 defaults left out), byte for byte.

:meth:`EventFileWriter.add_scalar_series` writes many Events at once, as NumPy arrays of
bytes: TFLearn logged every training step, thousands of Events an epoch, too many to encode
one at a time in Python.
"""

from __future__ import annotations

import math
import numbers
import os
import socket
import struct
import threading
import time
from types import TracebackType
from typing import Any, BinaryIO, List, Mapping, Optional, Tuple, Type, Union

import numpy as np
import numpy.typing as npt

__all__ = ["EventFileWriter", "crc32c", "masked_crc32c"]

# ---------------------------------------------------------------------------------------------
# TFRecord framing


def _crc32c_table() -> Tuple[int, ...]:
    poly = 0x82F63B78  # Castagnoli's polynomial, bit-reversed (CRC32C is a reflected CRC)
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC32C_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data``, the checksum TFRecord uses; ``crc32c(b"123456789")``
    is 0xE3069283."""
    crc = 0xFFFFFFFF
    table = _CRC32C_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """The CRC as TFRecord stores it: rotated and offset, because a CRC computed over data
    that itself contains CRCs is weak."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _tfrecord(data: bytes) -> bytes:
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data))


# ---------------------------------------------------------------------------------------------
# Protobuf wire format

_VARINT, _FIXED64, _LENGTH_DELIMITED, _FIXED32 = 0, 1, 2, 5


def _varint(value: int) -> bytes:
    # Negative int64s would need their 64-bit two's complement; steps are never negative.
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _key(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _length_delimited(field: int, payload: bytes) -> bytes:
    return _key(field, _LENGTH_DELIMITED) + _varint(len(payload)) + payload


def _summary_value(tag: bytes, value: float) -> bytes:
    # Ends with the value's 4 bytes, where add_scalar_series puts them.
    return _length_delimited(1, _length_delimited(1, tag) + _key(2, _FIXED32) + _float32(value))


def _float32(value: float) -> bytes:
    try:
        return struct.pack("<f", value)
    except OverflowError:
        # Beyond float32's range: a float32 cast (what TensorFlow's summary ops did) gives +-inf.
        return struct.pack("<f", math.inf if value > 0 else -math.inf)


def _event(wall_time: float, step: int = 0, *, file_version: Optional[str] = None,
           values: Optional[List[Tuple[bytes, float]]] = None) -> bytes:
    # proto3 leaves fields at their default out; the oneof members (file_version, summary,
    # simple_value) have presence and are always written.
    out = b""
    if wall_time != 0.0:
        out += _key(1, _FIXED64) + struct.pack("<d", wall_time)
    if step != 0:
        out += _key(2, _VARINT) + _varint(step)
    if file_version is not None:
        out += _length_delimited(3, file_version.encode("utf-8"))
    if values is not None:
        out += _length_delimited(5, b"".join(_summary_value(tag, value) for tag, value in values))
    return out


# ---------------------------------------------------------------------------------------------
# Many records at once, as columns of bytes
#
# A series' records are encoded as a matrix of bytes with one column per record (so that the
# byte at a given position of every record is one contiguous row), which needs all of them to
# have the same length: add_scalar_series groups its records by length first.

_CRC32C_ARRAY = np.array(_CRC32C_TABLE, dtype=np.uint32)


def _masked_crc32c_columns(columns: np.ndarray) -> np.ndarray:
    """masked_crc32c of each column of ``columns`` (a (length, count) array of bytes)."""
    crc: np.ndarray = np.full(columns.shape[1], 0xFFFFFFFF, dtype=np.uint32)
    index = np.empty(columns.shape[1], dtype=np.uint8)
    # crc32c's loop, turned inside out: over the byte positions (a few dozen), each step one
    # table lookup for all the records (thousands).
    for byte in columns:
        np.bitwise_xor(crc, byte, out=index, casting="unsafe")  # the uint8 cast is the "& 0xFF"
        crc = _CRC32C_ARRAY.take(index) ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return ((crc >> 15) | (crc << 17)) + 0xA282EAD8  # uint32 arithmetic wraps, as the mask wants


def _varint_columns(values: np.ndarray, length: int) -> np.ndarray:
    """The varints of ``values``, all ``length`` bytes long, as a (length, count) array."""
    shifts = np.arange(0, 7 * length, 7, dtype=np.uint64)[:, np.newaxis]
    columns = ((values >> shifts) & np.uint64(0x7F)).astype(np.uint8)
    columns[:-1] |= 0x80  # "more bytes follow", on all but the last
    return columns


# The smallest number whose varint is 1, 2, ... 9 bytes long (the 10th byte needs 2**63).
_VARINT_STARTS = np.array([1 << (7 * k) for k in range(9)], dtype=np.uint64)


def _series_array(name: str, data: npt.ArrayLike, kinds: str, what: str) -> np.ndarray:
    try:
        array = np.asarray(data)
    except ValueError as exc:  # a ragged sequence
        raise ValueError(f"{name} must be a 1-D array of {what}: {exc}") from None
    # An empty list makes a float64 array: it is an empty series of anything.
    if array.dtype.kind not in kinds and array.size:
        raise TypeError(f"{name} must be {what}, not {array.dtype}")
    return array


def _encode_series(steps: np.ndarray, tags: List[bytes], values: np.ndarray, wall_times: np.ndarray) -> bytes:
    """The TFRecords of the Events (wall_times[i], steps[i], {tags[k]: values[i, k] ...}), in
    order: those of _tfrecord(_event(...)) for each, byte for byte.

    ``steps`` is uint64, ``values`` float32 (count, tags), ``wall_times`` float64.
    """
    entries = [_summary_value(tag, 0.0) for tag in tags]
    entry_lengths = [len(entry) for entry in entries]
    summary = np.frombuffer(_length_delimited(5, b"".join(entries)), dtype=np.uint8)
    value_ends = len(summary) - sum(entry_lengths) + np.cumsum(entry_lengths)
    # proto3 leaves a zero wall_time or step out: with the tags fixed, a record's length varies
    # only with those two and the step's varint length. Records of one length are encoded
    # together, as the columns of one array of bytes.
    step_lengths = np.searchsorted(_VARINT_STARTS, steps, side="right")
    has_wall_time = wall_times != 0.0
    record_lengths = 16 + 9 * has_wall_time + np.where(step_lengths > 0, 1 + step_lengths, 0) + len(summary)
    record_ends = np.cumsum(record_lengths)
    out = np.empty(int(record_ends[-1]) if len(steps) else 0, dtype=np.uint8)
    kinds = step_lengths + 10 * has_wall_time
    for kind in np.unique(kinds).tolist():
        members = np.flatnonzero(kinds == kind)
        step_length, wall = kind % 10, kind >= 10
        length = int(record_lengths[members[0]])
        header = struct.pack("<Q", length - 16)
        header += struct.pack("<I", masked_crc32c(header))
        columns = np.empty((length, len(members)), dtype=np.uint8)
        columns[:12] = np.frombuffer(header, dtype=np.uint8)[:, np.newaxis]
        at = 12
        if wall:
            columns[at] = 0x09  # field 1, fixed64
            columns[at + 1:at + 9] = wall_times[members].astype("<f8").view(np.uint8).reshape(-1, 8).T
            at += 9
        if step_length:
            columns[at] = 0x10  # field 2, varint
            columns[at + 1:at + 1 + step_length] = _varint_columns(steps[members], step_length)
            at += 1 + step_length
        columns[at:-4] = summary[:, np.newaxis]
        value_bytes = values[members].astype("<f4").view(np.uint8).T  # 4 rows a tag
        for index, end in enumerate((at + value_ends).tolist()):
            columns[end - 4:end] = value_bytes[4 * index:4 * index + 4]
        columns[-4:] = _masked_crc32c_columns(columns[12:-4]).astype("<u4").view(np.uint8).reshape(-1, 4).T

        starts = record_ends[members] - length
        if members[-1] - members[0] + 1 == len(members):
            # The usual case, steps that grow: the records are one run of the file.
            out[starts[0]:starts[0] + columns.size].reshape(-1, length)[...] = columns.T
        else:  # each record to its own place, by an index per byte
            out[starts[:, np.newaxis] + np.arange(length)] = columns.T
    return out.tobytes()


# ---------------------------------------------------------------------------------------------
# The writer

_FILE_VERSION = "brain.Event:2"
_INT64_MAX = 2**63 - 1

# Numbers the files this process opens, as TensorBoard's and TensorFlow 2's writers do, so that
# two writers started in the same second in one logdir get distinct names.
_file_counter = 0
_file_counter_lock = threading.Lock()


def _next_file_number() -> int:
    global _file_counter
    with _file_counter_lock:
        number = _file_counter
        _file_counter += 1
    return number


def _tagged(values: Any, kind: str) -> List[Tuple[str, bytes, Any]]:
    """``(tag, its UTF-8 bytes, value)`` for each entry of ``values``, a non-empty mapping of
    non-empty str tags to a ``kind`` each; TypeError or ValueError name the first bad one."""
    if not isinstance(values, Mapping):
        raise TypeError(f"values must be a mapping of tag to {kind}, not {type(values).__name__}")
    if not values:
        raise ValueError("values is empty: there is nothing to write")
    tagged = []
    for tag, value in values.items():
        if not isinstance(tag, str):
            raise TypeError(f"tags must be str, not {type(tag).__name__} ({tag!r})")
        if not tag:
            raise ValueError("tags must not be empty")
        try:
            tagged.append((tag, tag.encode("utf-8"), value))
        except UnicodeEncodeError as exc:
            raise ValueError(f"tag {tag!r} is not encodable as UTF-8: {exc.reason}") from None
    return tagged


def _is_number(value: object) -> bool:
    # bool is an int, but a True logged as 1.0 is a caller's mistake, not a metric.
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class EventFileWriter:
    """Appends scalar summaries to a new TensorBoard event file in ``logdir``.

    The file is named as TensorBoard's own writer (and tensorboardX) names it,
    ``events.out.tfevents.{time:010d}.{hostname}.{pid}.{n}{filename_suffix}``, ``n`` counting
    the files this process has opened; ``path`` is its full path. The logdir and its parents
    are created, and the file opened, on construction: an unwritable logdir raises OSError
    (naming the path) there, before any training starts.

    Flushing: every :meth:`add_scalars` and :meth:`add_scalar_series` hands its records to the
    operating system before it returns, so TensorBoard sees each value at once and a crash of
    the process loses nothing added; :meth:`flush` and :meth:`close` also fsync the file. A
    training loop that logs once per epoch pays nothing noticeable for this; one that logs every
    step logs each epoch's steps with one :meth:`add_scalar_series`.

    The writer is safe to share between threads and is a context manager (closing on exit).
    """

    def __init__(self, logdir: Union[str, "os.PathLike[str]"], filename_suffix: str = "") -> None:
        logdir = os.fspath(logdir)
        if not isinstance(logdir, str):
            raise TypeError(f"logdir must be a str or os.PathLike of str, not {logdir!r}")
        if not logdir:
            raise ValueError("logdir must not be empty")
        if not isinstance(filename_suffix, str):
            raise TypeError(f"filename_suffix must be a str, not {type(filename_suffix).__name__}")
        if any(sep and sep in filename_suffix for sep in (os.sep, os.altsep)):
            raise ValueError(f"filename_suffix must not contain a path separator: {filename_suffix!r}")
        self.logdir = logdir
        self.path = os.path.join(
            logdir,
            f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}."
            f"{_next_file_number()}{filename_suffix}",
        )
        self._lock = threading.Lock()
        try:
            os.makedirs(logdir, exist_ok=True)
            # "x": two writers never share a file, even if their names somehow collide.
            self._file: Optional[BinaryIO] = open(self.path, "xb")
        except OSError as exc:
            raise type(exc)(exc.errno, f"cannot write a TensorBoard event file in {logdir!r}: {exc.strerror}",
                            exc.filename) from exc
        # TensorBoard recognises an event file by this first record.
        self._write(_tfrecord(_event(time.time(), file_version=_FILE_VERSION)))

    @property
    def closed(self) -> bool:
        return self._file is None

    def add_scalars(self, step: int, values: Mapping[str, float], wall_time: Optional[float] = None) -> None:
        """Write one Event at ``step`` holding one ``simple_value`` per tag of ``values``.

        ``values`` maps non-empty str tags to real numbers (Python or NumPy floats and ints);
        they are stored as float32, as ``simple_value`` is, NaN and +-inf included (TensorBoard
        shows them). ``step`` is an int from 0 to 2**63 - 1; ``wall_time`` is in seconds since
        the epoch, the current time when None. All arguments are checked before anything is
        written: TypeError or ValueError name the first bad one.
        """
        if not isinstance(step, numbers.Integral) or isinstance(step, bool):
            raise TypeError(f"step must be an int, not {type(step).__name__}")
        step = int(step)
        if not 0 <= step <= _INT64_MAX:
            raise ValueError(f"step must be between 0 and 2**63 - 1, not {step}")
        encoded: List[Tuple[bytes, float]] = []
        for tag, tag_bytes, value in _tagged(values, "number"):
            if not _is_number(value):
                raise TypeError(f"the value of tag {tag!r} must be a real number, not {type(value).__name__}")
            try:
                number = float(value)
            except OverflowError:  # an int beyond even a double's range
                number = math.inf if value > 0 else -math.inf
            encoded.append((tag_bytes, number))
        if wall_time is None:
            seconds = time.time()
        elif not _is_number(wall_time):
            raise TypeError(f"wall_time must be a number of seconds or None, not {type(wall_time).__name__}")
        else:
            try:
                seconds = float(wall_time)
            except OverflowError:
                seconds = math.inf
            if not math.isfinite(seconds):
                raise ValueError(f"wall_time must be a finite number of seconds, not {wall_time}")
        self._write(_tfrecord(_event(seconds, step, values=encoded)))

    def add_scalar_series(self, steps: npt.ArrayLike, values: Mapping[str, npt.ArrayLike],
                          wall_times: npt.ArrayLike) -> None:
        """Write one Event per step, as many calls of :meth:`add_scalars` would, in one go.

        ``steps`` is a 1-D array of ``n`` ints from 0 to 2**63 - 1 (in any order);
        ``values`` maps non-empty str tags to 1-D arrays of ``n`` real numbers; ``wall_times``
        is a 1-D array of ``n`` finite numbers of seconds, or one for all. Event ``i`` is
        ``add_scalars(steps[i], {tag: values[tag][i] ...}, wall_times[i])``'s, byte for byte:
        its values, in the mapping's order, stored as float32 (NaN and +-inf included).

        The Events are written together, in order, with one write (no other thread's Event
        comes between them) and handed to the operating system before this returns. All
        arguments are checked first: TypeError or ValueError name the first bad one, and
        nothing is written. An empty series writes nothing.
        """
        step_array = _series_array("steps", steps, "iu", "ints")
        if step_array.ndim != 1:
            raise ValueError(f"steps must be a 1-D array, not one of shape {step_array.shape}")
        count = len(step_array)
        if count and step_array.min() < 0:
            index = int(np.argmin(step_array))
            raise ValueError(f"steps must be between 0 and 2**63 - 1, not {step_array[index]} (steps[{index}])")
        if count and step_array.max() > _INT64_MAX:
            index = int(np.argmax(step_array))
            raise ValueError(f"steps must be between 0 and 2**63 - 1, not {step_array[index]} (steps[{index}])")
        tags: List[bytes] = []
        series: List[np.ndarray] = []
        for tag, tag_bytes, data in _tagged(values, "array"):
            tags.append(tag_bytes)
            array = _series_array(f"the values of tag {tag!r}", data, "iuf", "real numbers")
            if array.shape != (count,):
                raise ValueError(f"the values of tag {tag!r} must be a 1-D array of {count} (as many as "
                                 f"steps), not one of shape {array.shape}")
            series.append(array)
        wall_array = _series_array("wall_times", wall_times, "iuf", "real numbers of seconds")
        if wall_array.shape not in ((count,), ()):
            raise ValueError(f"wall_times must be a 1-D array of {count} (as many as steps) or one number, "
                             f"not an array of shape {wall_array.shape}")
        with np.errstate(over="ignore", invalid="ignore"):
            # As add_scalars' float(): float64 first. Beyond float32's range is +-inf, as there.
            seconds = np.broadcast_to(wall_array.astype(np.float64), (count,))
            floats = np.stack([array.astype(np.float64) for array in series], axis=1).astype(np.float32)
        finite = np.isfinite(seconds)
        if not finite.all():
            index = int(np.argmin(finite))
            raise ValueError(f"wall_times must be finite numbers of seconds, not {wall_array.flat[index]}"
                             + (f" (wall_times[{index}])" if wall_array.ndim else ""))
        data = _encode_series(step_array.astype(np.uint64), tags, floats, seconds)
        self._write(data)

    def flush(self) -> None:
        """Make everything written so far durable (fsync). Does nothing once closed."""
        with self._lock:
            if self._file is not None:
                self._file.flush()
                os.fsync(self._file.fileno())

    def close(self) -> None:
        """Flush and close the file; closing again does nothing."""
        with self._lock:
            if self._file is None:
                return
            file, self._file = self._file, None
            try:
                file.flush()
                os.fsync(file.fileno())
            finally:
                file.close()

    def _write(self, records: bytes) -> None:
        with self._lock:
            if self._file is None:
                raise ValueError(f"the event file {self.path} is closed")
            self._file.write(records)
            self._file.flush()

    def __enter__(self) -> "EventFileWriter":
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<EventFileWriter {self.path!r}{' (closed)' if self.closed else ''}>"
