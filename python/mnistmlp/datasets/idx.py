"""Read and write IDX files, the array format of MNIST, Fashion-MNIST and their relatives.

An IDX file is one big-endian array. Its header is a 4-byte magic number -- two zero bytes,
a type code and the number of dimensions -- followed by each dimension as a 32-bit integer,
then the values in C order::

    type code  0x08 uint8   0x09 int8    0x0B int16
               0x0C int32   0x0D float32 0x0E float64

MNIST's image files have the magic number 2051 (0x00000803: uint8, 3 dimensions), its label
files 2049 (0x00000801: uint8, 1 dimension). Files are often gzip-compressed; this module
recognizes gzip by its content, not by the file name.

Every check failure raises :class:`~mnistmlp.datasets.DataError`, whose message names the
file and what is wrong: bad magic number, unknown type code, non-positive dimensions, a
truncated or over-long file, a corrupt or truncated gzip stream, a SHA-256 mismatch.

Files are read as streams, header first: once the header is checked, no more is read (or
decompressed) than it declares, so a small gzip file that expands to gigabytes (a "gzip
bomb") is refused after reading what it should hold. Memory grows with the data as it
arrives, never with what an unchecked header claims.

Public API:

- ``read_idx(source, *, name=None, expected_magic=None, expected_shape=None, sha256=None)``
  reads a file (path) or bytes, gzipped or not, checks it and returns a numpy array.
- ``read_content(source, *, name=None, expected_magic=None, expected_shape=None)`` reads
  and checks the same way but returns the uncompressed bytes, for callers (like the
  dataset loaders) that cache content.
- ``parse_idx(buffer, *, name="<bytes>", expected_magic=None, expected_shape=None)`` decodes
  uncompressed IDX bytes without copying where possible.
- ``encode_idx(array)`` and ``write_idx(path, array, *, compress=None)`` do the reverse.
- ``content_size(shape, dtype="u1")``: the length of an uncompressed IDX file.
- ``read_bytes(path, *, name=None, max_size=None)``, ``decompress(data, *, name,
  max_size=None)`` and ``check_sha256(data, sha256, *, name)`` are the building blocks for
  any file; ``max_size`` bounds what they decompress.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import math
import os
import struct
import zlib
from typing import Any, BinaryIO, Dict, Iterator, NamedTuple, Optional, Sequence, Tuple, Union, cast

import numpy as np

from ._errors import DataError
from ._files import BytesLike, PathLike, atomic_write

__all__ = [
    "GZIP_MAGIC",
    "TYPE_CODES",
    "check_sha256",
    "content_size",
    "decompress",
    "encode_idx",
    "parse_idx",
    "read_bytes",
    "read_content",
    "read_idx",
    "write_idx",
]

#: The numpy dtype (big-endian, as stored) of each IDX type code.
TYPE_CODES: Dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

#: The first two bytes of every gzip stream; an IDX file starts with two zero bytes instead.
GZIP_MAGIC = b"\x1f\x8b"

# The longest IDX header: the magic number and 255 dimensions.
_MAX_HEADER_SIZE = 4 + 4 * 255
# Streams are read a chunk at a time: memory grows with the data that really arrives.
_CHUNK_SIZE = 1 << 20
# How many bytes past the declared end are read to tell by how much a file is too long;
# a file longer than that is refused there, so a gzip bomb is never expanded further.
_EXCESS_PROBE = 1 << 16

Shape = Sequence[Optional[int]]


def _type_names() -> str:
    return ", ".join(f"{code:#04x} {dtype.name}" for code, dtype in TYPE_CODES.items())


def content_size(shape: Sequence[int], dtype: Union[str, np.dtype] = "u1") -> int:
    """The length in bytes of the uncompressed IDX file of an array of ``shape`` and ``dtype``."""
    return 4 + 4 * len(shape) + math.prod(shape) * np.dtype(dtype).itemsize


@contextlib.contextmanager
def _reading(name: str) -> Iterator[None]:
    """Turn the errors of opening and reading a file or gzip stream into DataError naming ``name``."""
    try:
        yield
    except EOFError as exc:
        raise DataError(f"{name}: truncated gzip stream ({exc})") from exc
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{name}: corrupt gzip stream ({exc})") from exc
    except OSError as exc:
        raise DataError(f"{name}: cannot read the file ({exc.strerror or exc})") from exc


@contextlib.contextmanager
def _uncompressed(file: BinaryIO) -> Iterator[Tuple[BinaryIO, Optional[int]]]:
    """``file`` as a stream of its uncompressed content, gunzipped if it is gzip-compressed,
    and that content's size when it is known without reading it (``None`` for gzip)."""
    compressed = file.read(2) == GZIP_MAGIC
    size = file.seek(0, os.SEEK_END)
    file.seek(0)
    if compressed:
        with gzip.GzipFile(fileobj=file) as stream:
            yield cast(BinaryIO, stream), None
    else:
        yield file, size


def _read_up_to(stream: BinaryIO, content: bytearray, size: Optional[int]) -> bytearray:
    """Append what ``stream`` holds to ``content`` until it has ``size`` bytes (``None``: all
    of them) or the stream ends. ``content`` grows as the data arrives, a chunk at a time, so
    a size that nobody has checked costs no memory; gunzipping this way takes as long as
    ``gzip.decompress`` (measured on MNIST's largest file)."""
    while size is None or len(content) < size:
        chunk = stream.read(_CHUNK_SIZE if size is None else min(_CHUNK_SIZE, size - len(content)))
        if not chunk:
            break
        content += chunk
    return content


def _check_max_size(size: int, *, name: str, max_size: Optional[int]) -> None:
    if max_size is not None and size > max_size:
        raise DataError(
            f"{name}: the uncompressed content is longer than {max_size:,} bytes, the most expected"
        )


def _read_all(stream: BinaryIO, size: Optional[int], *, name: str, max_size: Optional[int]) -> bytearray:
    """All of ``stream`` (whose ``size`` may be known), refused once it exceeds ``max_size``."""
    if size is not None:
        _check_max_size(size, name=name, max_size=max_size)
    content = _read_up_to(stream, bytearray(), None if max_size is None else max_size + 1)
    _check_max_size(len(content), name=name, max_size=max_size)
    return content


def decompress(data: BytesLike, *, name: str = "<bytes>", max_size: Optional[int] = None) -> BytesLike:
    """``data`` itself, or its decompressed content if it is gzip-compressed.

    Concatenated gzip members are decompressed as one stream, as ``gunzip`` does. A corrupt
    or truncated gzip stream raises :class:`DataError` naming ``name``, and so does content
    longer than ``max_size`` bytes, if given: decompression stops there, so a small file
    that expands enormously (a "gzip bomb") costs at most ``max_size`` bytes of memory. (For
    IDX files, :func:`read_content` stops at the size their header declares.)
    """
    if bytes(data[:2]) != GZIP_MAGIC:
        _check_max_size(len(data), name=name, max_size=max_size)
        return data
    with _reading(name), _uncompressed(io.BytesIO(data)) as (stream, size):
        return _read_all(stream, size, name=name, max_size=max_size)


def read_bytes(path: PathLike, *, name: Optional[str] = None, max_size: Optional[int] = None) -> BytesLike:
    """The uncompressed content of the file at ``path``: gunzipped if it is gzip-compressed.

    Raises :class:`DataError` naming ``name`` (default: ``path``) if the file cannot be read,
    its gzip stream is corrupt, or its content is longer than ``max_size`` bytes, if given
    (reading stops there; see :func:`decompress`).
    """
    name = _source_name(path, name)
    with _reading(name), open(path, "rb") as file, _uncompressed(file) as (stream, size):
        return _read_all(stream, size, name=name, max_size=max_size)


def check_sha256(data: BytesLike, sha256: str, *, name: str = "<bytes>") -> None:
    """Raise :class:`DataError` naming ``name`` unless ``data`` has the SHA-256 ``sha256`` (hex)."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256.lower():
        raise DataError(
            f"{name}: SHA-256 mismatch: the uncompressed content hashes to {actual}, "
            f"expected {sha256.lower()}; the file is corrupt or not the file it should be"
        )


def _format_shape(shape: Shape) -> str:
    dims = ", ".join("any" if d is None else str(d) for d in shape)
    return f"({dims},)" if len(shape) == 1 else f"({dims})"


class _Header(NamedTuple):
    """A checked IDX header: its bytes, and the type and shape of the array it declares."""

    raw: bytes
    dtype: np.dtype
    shape: Tuple[int, ...]

    @property
    def size(self) -> int:
        """The length of the file it declares, itself included."""
        return content_size(self.shape, self.dtype)


def _read_header(
    stream: BinaryIO, *, name: str, expected_magic: Optional[int], expected_shape: Optional[Shape]
) -> _Header:
    """Read an IDX header from ``stream`` and check it, and it only, against the expectations."""
    start = stream.read(4)
    if len(start) < 4:
        raise DataError(
            f"{name}: not an IDX file: {len(start)} bytes, fewer than its 4-byte magic number"
        )
    magic = int.from_bytes(start, "big")
    if start[0] or start[1]:
        hint = " (it is gzip-compressed)" if start[:2] == GZIP_MAGIC else ""
        raise DataError(
            f"{name}: not an IDX file: its magic number {magic:#010x} does not start with "
            f"two zero bytes{hint}"
        )
    type_code, ndim = start[2], start[3]
    dtype = TYPE_CODES.get(type_code)
    if dtype is None:
        raise DataError(f"{name}: unknown IDX type code {type_code:#04x} (known: {_type_names()})")
    if ndim == 0:
        raise DataError(f"{name}: invalid IDX header: 0 dimensions")
    if expected_magic is not None and magic != expected_magic:
        raise DataError(
            f"{name}: wrong magic number {magic} ({magic:#010x}), "
            f"expected {expected_magic} ({expected_magic:#010x})"
        )
    dims = stream.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise DataError(
            f"{name}: truncated: the header of a {ndim}-dimensional IDX file takes "
            f"{4 + 4 * ndim} bytes, the file has {4 + len(dims)}"
        )
    shape = struct.unpack(f">{ndim}i", dims)
    if min(shape) <= 0:
        raise DataError(f"{name}: invalid dimensions {shape}: every dimension must be positive")
    if expected_shape is not None and (
        len(shape) != len(expected_shape)
        or any(e is not None and e != d for d, e in zip(shape, expected_shape))
    ):
        raise DataError(f"{name}: shape {shape}, expected {_format_shape(expected_shape)}")
    return _Header(start + dims, dtype, shape)


def _check_length(header: _Header, size: int, *, name: str, more: bool = False) -> None:
    """Raise :class:`DataError` naming ``name`` unless ``size`` (with ``more``: more than
    ``size``), the length of the file, is the one ``header`` declares."""
    expected = header.size
    array = f"{header.dtype.name} array of shape {header.shape}"
    if size < expected:
        raise DataError(
            f"{name}: truncated: an IDX {array} takes {expected:,} bytes, the file has {size:,}"
        )
    if size > expected:
        over = "more than " if more else ""
        raise DataError(
            f"{name}: {over}{size - expected:,} unexpected bytes after the end of its {array} "
            f"(the file has {over}{size:,} bytes, expected {expected:,})"
        )


def _read_idx_stream(
    stream: BinaryIO,
    size: Optional[int],
    *,
    name: str,
    expected_magic: Optional[int],
    expected_shape: Optional[Shape],
) -> bytearray:
    """The content of the IDX file ``stream`` (``size`` bytes long, if known), checked: the
    header first, then the length, reading no more than the header declares plus
    :data:`_EXCESS_PROBE` bytes."""
    header = _read_header(stream, name=name, expected_magic=expected_magic, expected_shape=expected_shape)
    if size is not None:
        _check_length(header, size, name=name)
    content = _read_up_to(stream, bytearray(header.raw), header.size)
    excess = len(stream.read(_EXCESS_PROBE + 1)) if len(content) == header.size else 0
    if excess > _EXCESS_PROBE:
        _check_length(header, header.size + _EXCESS_PROBE, name=name, more=True)
    _check_length(header, len(content) + excess, name=name)
    return content


def _source_name(source: Union[PathLike, BytesLike], name: Optional[str]) -> str:
    if name is not None:
        return name
    return os.fspath(source) if isinstance(source, (str, os.PathLike)) else "<bytes>"


def read_content(
    source: Union[PathLike, BytesLike],
    *,
    name: Optional[str] = None,
    expected_magic: Optional[int] = None,
    expected_shape: Optional[Shape] = None,
) -> BytesLike:
    """The uncompressed content of an IDX file, gzip-compressed or not, with its header
    and length checked.

    ``source``, ``name``, ``expected_magic`` and ``expected_shape`` are those of
    :func:`read_idx`. The content is read as a stream, header first: once the header is
    checked, no more is read than it declares (plus up to 64 KiB, to tell by how much a file
    is too long), so a small gzip file that expands enormously costs no memory. Memory grows
    with the data as it arrives, never with what an unchecked header claims. The content
    of uncompressed ``bytes`` is ``source`` itself.

    Raises :class:`DataError` naming the file, like :func:`read_idx`.
    """
    name = _source_name(source, name)
    checks: Dict[str, Any] = {"name": name, "expected_magic": expected_magic, "expected_shape": expected_shape}
    if isinstance(source, (str, os.PathLike)):
        with _reading(name), open(source, "rb") as file, _uncompressed(file) as (stream, size):
            return _read_idx_stream(stream, size, **checks)
    if bytes(source[:2]) != GZIP_MAGIC:
        parse_idx(source, **checks)
        return source
    with _reading(name), _uncompressed(io.BytesIO(source)) as (stream, size):
        return _read_idx_stream(stream, size, **checks)


def parse_idx(
    buffer: BytesLike,
    *,
    name: str = "<bytes>",
    expected_magic: Optional[int] = None,
    expected_shape: Optional[Shape] = None,
) -> np.ndarray:
    """Decode the uncompressed IDX file held in ``buffer`` into a native-endian numpy array.

    ``expected_magic`` (e.g. 2051) and ``expected_shape`` (``None`` entries match any size)
    are checked if given. Like :func:`numpy.frombuffer`, the result is a view of ``buffer``
    when no byte swap is needed (1-byte types), read-only if ``buffer`` is.

    Raises :class:`DataError` naming ``name`` if the header is invalid or the length of the
    data does not match it exactly.
    """
    data = memoryview(buffer).cast("B")
    header = _read_header(
        io.BytesIO(data[:_MAX_HEADER_SIZE]),
        name=name,
        expected_magic=expected_magic,
        expected_shape=expected_shape,
    )
    _check_length(header, len(data), name=name)
    array = np.frombuffer(
        data, dtype=header.dtype, count=math.prod(header.shape), offset=len(header.raw)
    ).reshape(header.shape)
    return array.astype(header.dtype.newbyteorder("="), copy=False)


def read_idx(
    source: Union[PathLike, BytesLike],
    *,
    name: Optional[str] = None,
    expected_magic: Optional[int] = None,
    expected_shape: Optional[Shape] = None,
    sha256: Optional[str] = None,
) -> np.ndarray:
    """Read an IDX file, gzip-compressed or not, into a new native-endian numpy array.

    ``source`` is a path or the file's bytes. ``name`` labels error messages (default: the
    path, or ``"<bytes>"``). Optional checks: ``expected_magic`` (e.g. 2051 for MNIST
    images), ``expected_shape`` (``None`` entries match any size, e.g. ``(None, 28, 28)``)
    and ``sha256``, the hex SHA-256 of the *uncompressed* content, so a recompressed file
    still matches.

    The file is read as a stream and its header checked first (see :func:`read_content`):
    memory stays within what the header declares and the data really present, whatever the
    file holds; ``expected_shape`` bounds it further.

    Raises :class:`DataError` naming the file for any problem: unreadable file, corrupt or
    truncated gzip stream, invalid header, wrong length, failed check. The returned array
    owns its memory and is writable.
    """
    name = _source_name(source, name)
    content = read_content(source, name=name, expected_magic=expected_magic, expected_shape=expected_shape)
    array = parse_idx(content, name=name)
    if sha256 is not None:
        check_sha256(content, sha256, name=name)
    return array if array.flags.owndata else array.copy()


def encode_idx(array: np.ndarray) -> bytes:
    """The uncompressed IDX bytes of ``array`` (any byte order of a type IDX supports).

    Raises :class:`ValueError` for an unsupported dtype, a 0-dimensional or empty array, or
    a dimension too large for the format.
    """
    array = np.asarray(array)
    stored = next(
        (
            (code, dtype)
            for code, dtype in TYPE_CODES.items()
            if (dtype.kind, dtype.itemsize) == (array.dtype.kind, array.dtype.itemsize)
        ),
        None,
    )
    if stored is None:
        raise ValueError(f"IDX cannot store dtype {array.dtype}; it stores {_type_names()}")
    if not 1 <= array.ndim <= 255 or array.size == 0 or max(array.shape) >= 2**31:
        raise ValueError(
            f"IDX stores arrays of 1 to 255 dimensions, each from 1 to 2**31 - 1; got shape {array.shape}"
        )
    code, dtype = stored
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    return header + array.astype(dtype, copy=False).tobytes()


def write_idx(path: PathLike, array: np.ndarray, *, compress: Optional[bool] = None) -> None:
    """Write ``array`` to ``path`` as an IDX file, atomically.

    ``compress`` gzips the file; by default it does when ``path`` ends with ``.gz``. The
    gzip header carries no timestamp, so equal arrays give equal files.
    """
    data = encode_idx(array)
    if compress if compress is not None else os.fspath(path).endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    with atomic_write(path) as f:
        f.write(data)
