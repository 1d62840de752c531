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

Public API:

- ``read_idx(source, *, name=None, expected_magic=None, expected_shape=None, sha256=None)``
  reads a file (path) or bytes, gzipped or not, checks it and returns a numpy array.
- ``parse_idx(buffer, *, name="<bytes>", expected_magic=None, expected_shape=None)`` decodes
  uncompressed IDX bytes without copying where possible.
- ``encode_idx(array)`` and ``write_idx(path, array, *, compress=None)`` do the reverse.
- ``read_bytes(path, *, name=None)``, ``decompress(data, *, name)`` and
  ``check_sha256(data, sha256, *, name)`` are the building blocks, for callers (like the
  dataset loaders) that cache content.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import struct
import zlib
from typing import Dict, Optional, Sequence, Union

import numpy as np

from ._errors import DataError
from ._files import PathLike, atomic_write, read_file

__all__ = [
    "GZIP_MAGIC",
    "TYPE_CODES",
    "check_sha256",
    "decompress",
    "encode_idx",
    "parse_idx",
    "read_bytes",
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

Shape = Sequence[Optional[int]]
BytesLike = Union[bytes, bytearray, memoryview]


def _type_names() -> str:
    return ", ".join(f"{code:#04x} {dtype.name}" for code, dtype in TYPE_CODES.items())


def decompress(data: BytesLike, *, name: str = "<bytes>") -> BytesLike:
    """``data`` itself, or its decompressed content if it is gzip-compressed.

    Concatenated gzip members are decompressed as one stream, as ``gunzip`` does. A corrupt
    or truncated gzip stream raises :class:`DataError` naming ``name``.
    """
    if bytes(data[:2]) != GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except EOFError as exc:
        raise DataError(f"{name}: truncated gzip stream ({exc})") from exc
    except (OSError, zlib.error) as exc:
        raise DataError(f"{name}: corrupt gzip stream ({exc})") from exc


def read_bytes(path: PathLike, *, name: Optional[str] = None) -> BytesLike:
    """The uncompressed content of the file at ``path``: gunzipped if it is gzip-compressed.

    Raises :class:`DataError` naming ``name`` (default: ``path``) if the file cannot be read
    or its gzip stream is corrupt.
    """
    name = os.fspath(path) if name is None else name
    try:
        data = read_file(path)
    except OSError as exc:
        raise DataError(f"{name}: cannot read the file ({exc.strerror or exc})") from exc
    return decompress(data, name=name)


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
    size = len(data)
    if size < 4:
        raise DataError(f"{name}: not an IDX file: {size} bytes, fewer than its 4-byte magic number")
    magic = int.from_bytes(data[:4], "big")
    if data[0] or data[1]:
        hint = " (it is gzip-compressed)" if bytes(data[:2]) == GZIP_MAGIC else ""
        raise DataError(
            f"{name}: not an IDX file: its magic number {magic:#010x} does not start with "
            f"two zero bytes{hint}"
        )
    type_code, ndim = data[2], data[3]
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
    header_size = 4 + 4 * ndim
    if size < header_size:
        raise DataError(
            f"{name}: truncated: the header of a {ndim}-dimensional IDX file takes "
            f"{header_size} bytes, the file has {size}"
        )
    shape = struct.unpack(f">{ndim}i", data[4:header_size])
    if min(shape) <= 0:
        raise DataError(f"{name}: invalid dimensions {shape}: every dimension must be positive")
    if expected_shape is not None and (
        len(shape) != len(expected_shape)
        or any(e is not None and e != d for d, e in zip(shape, expected_shape))
    ):
        raise DataError(f"{name}: shape {shape}, expected {_format_shape(expected_shape)}")
    count = math.prod(shape)
    expected_size = header_size + count * dtype.itemsize
    if size < expected_size:
        raise DataError(
            f"{name}: truncated: an IDX {dtype.name} array of shape {shape} takes "
            f"{expected_size:,} bytes, the file has {size:,}"
        )
    if size > expected_size:
        raise DataError(
            f"{name}: {size - expected_size:,} unexpected bytes after the end of its {dtype.name} "
            f"array of shape {shape} (the file has {size:,} bytes, expected {expected_size:,})"
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


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

    Raises :class:`DataError` naming the file for any problem: unreadable file, corrupt or
    truncated gzip stream, invalid header, wrong length, failed check. The returned array
    owns its memory and is writable.
    """
    if isinstance(source, (str, os.PathLike)):
        name = os.fspath(source) if name is None else name
        data = read_bytes(source)
    else:
        name = "<bytes>" if name is None else name
        data = decompress(source, name=name)
    array = parse_idx(data, name=name, expected_magic=expected_magic, expected_shape=expected_shape)
    if sha256 is not None:
        check_sha256(data, sha256, name=name)
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
