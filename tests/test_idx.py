"""The generic IDX reader and writer: good files of every type, and every kind of bad file."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
from _bombs import MiB, gzip_bomb, peak_memory

from mnistmlp.datasets import DataError, idx


def header(type_code: int, *dims: int) -> bytes:
    return bytes([0, 0, type_code, len(dims)]) + struct.pack(f">{len(dims)}i", *dims)


LABELS = np.array([5, 0, 4, 1, 9], dtype=np.uint8)
LABELS_BYTES = header(0x08, 5) + bytes([5, 0, 4, 1, 9])


@pytest.mark.parametrize(
    ("dtype", "shape"),
    [
        (np.uint8, (7,)),
        (np.int8, (3, 4)),
        (np.int16, (2, 3, 4)),
        (np.int32, (5, 1)),
        (np.float32, (1, 2, 3, 2)),
        (np.float64, (6,)),
    ],
)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip_of_every_type(tmp_path: Path, dtype: type, shape: tuple, suffix: str) -> None:
    rng = np.random.default_rng(0)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    else:
        array = (rng.standard_normal(shape) * 1e6).astype(dtype)
    path = tmp_path / f"array{suffix}"
    idx.write_idx(path, array)

    assert path.read_bytes()[:2] == (idx.GZIP_MAGIC if suffix else b"\x00\x00")
    result = idx.read_idx(path)
    assert result.dtype == np.dtype(dtype) and result.dtype.isnative
    assert result.shape == shape
    np.testing.assert_array_equal(result, array)
    assert result.flags.writeable and result.flags.owndata


def test_values_are_big_endian_and_header_is_standard() -> None:
    data = header(0x0B, 2) + b"\x01\x02\xff\xfe"
    np.testing.assert_array_equal(idx.read_idx(data), [258, -2])
    assert idx.encode_idx(np.array([258, -2], dtype="<i2")) == data
    assert idx.encode_idx(LABELS) == LABELS_BYTES


def test_reads_bytes_gzipped_or_not_and_checks_expectations() -> None:
    for data in (LABELS_BYTES, gzip.compress(LABELS_BYTES), bytearray(LABELS_BYTES)):
        result = idx.read_idx(
            data,
            expected_magic=2049,
            expected_shape=(None,),
            sha256=hashlib.sha256(LABELS_BYTES).hexdigest(),
        )
        np.testing.assert_array_equal(result, LABELS)
        assert result.flags.owndata  # never a view of the caller's buffer


def test_checksum_is_of_the_content_so_recompressed_files_pass(tmp_path: Path) -> None:
    digest = hashlib.sha256(LABELS_BYTES).hexdigest()
    for level in (1, 9):
        path = tmp_path / f"labels-{level}.gz"
        path.write_bytes(gzip.compress(LABELS_BYTES, compresslevel=level, mtime=level))
        np.testing.assert_array_equal(idx.read_idx(path, sha256=digest), LABELS)


def test_parse_idx_views_the_buffer_without_copying() -> None:
    buffer = bytearray(LABELS_BYTES)
    array = idx.parse_idx(buffer)
    buffer[-1] = 7
    assert array[-1] == 7


BAD_FILES = {
    "too short for a magic number": (b"\x00\x00\x08", "fewer than its 4-byte magic number"),
    "non-zero first byte": (b"\x01" + LABELS_BYTES[1:], "does not start with two zero bytes"),
    "non-zero second byte": (b"\x00\x05" + LABELS_BYTES[2:], "does not start with two zero bytes"),
    "unknown type code": (bytes([0, 0, 0x0A, 1]) + LABELS_BYTES[4:], "unknown IDX type code 0x0a"),
    "no dimensions": (bytes([0, 0, 8, 0]) + b"\x05", "0 dimensions"),
    "truncated header": (header(0x08, 28, 28)[:10], "truncated: the header"),
    "zero dimension": (header(0x08, 0, 28), "every dimension must be positive"),
    "negative dimension": (header(0x08, 2, -1) + b"\x00\x00", "every dimension must be positive"),
    "truncated data": (
        LABELS_BYTES[:-1],
        "truncated: an IDX uint8 array of shape (5,) takes 13 bytes, the file has 12",
    ),
    "truncated multi-byte data": (header(0x0C, 3) + b"\x00" * 11, "takes 20 bytes, the file has 19"),
    "over-long data": (LABELS_BYTES + b"\x00\x00", "2 unexpected bytes after the end"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
@pytest.mark.parametrize("compressed", [False, True])
def test_bad_files_raise_data_error_naming_the_file(tmp_path: Path, case: str, compressed: bool) -> None:
    data, message = BAD_FILES[case]
    path = tmp_path / ("bad.gz" if compressed else "bad")
    path.write_bytes(gzip.compress(data) if compressed else data)
    with pytest.raises(DataError) as excinfo:
        idx.read_idx(path)
    assert str(excinfo.value).startswith(f"{path}: ")
    assert message in str(excinfo.value)


def test_data_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        idx.read_idx(b"\x00\x00")


def test_gzip_magic_in_an_uncompressed_buffer_is_pointed_out() -> None:
    with pytest.raises(DataError, match="it is gzip-compressed"):
        idx.parse_idx(gzip.compress(LABELS_BYTES), name="labels")


@pytest.mark.parametrize(
    ("checks", "message"),
    [
        ({"expected_magic": 2051}, "wrong magic number 2049 (0x00000801), expected 2051 (0x00000803)"),
        # The same number of dimensions, another type: the whole magic number is compared.
        ({"expected_magic": 0x0901}, "wrong magic number 2049 (0x00000801), expected 2305 (0x00000901)"),
        ({"expected_shape": (6,)}, "shape (5,), expected (6,)"),
        ({"expected_shape": (None, 28, 28)}, "shape (5,), expected (any, 28, 28)"),
        ({"sha256": "0" * 64}, "SHA-256 mismatch"),
    ],
)
def test_failed_checks_raise_data_error(checks: dict, message: str) -> None:
    with pytest.raises(DataError) as excinfo:
        idx.read_idx(LABELS_BYTES, name="labels.idx", **checks)
    assert str(excinfo.value).startswith("labels.idx: ")
    assert message in str(excinfo.value)


def test_corrupt_gzip_stream(tmp_path: Path) -> None:
    array = np.arange(4000, dtype=np.int32)
    compressed = bytearray(gzip.compress(idx.encode_idx(array)))
    compressed[len(compressed) // 2] ^= 0xFF
    path = tmp_path / "corrupt.gz"
    path.write_bytes(compressed)
    with pytest.raises(DataError, match=rf"^{path}: corrupt gzip stream"):
        idx.read_idx(path)


def test_gzip_crc_mismatch(tmp_path: Path) -> None:
    compressed = bytearray(gzip.compress(LABELS_BYTES))
    compressed[-8] ^= 0xFF  # the CRC-32 of the content, in the gzip trailer
    path = tmp_path / "crc.gz"
    path.write_bytes(compressed)
    with pytest.raises(DataError, match=rf"^{path}: corrupt gzip stream.*CRC"):
        idx.read_idx(path)


@pytest.mark.parametrize("cut", [3, 20, -4])
def test_truncated_gzip_stream(tmp_path: Path, cut: int) -> None:
    path = tmp_path / "truncated.gz"
    path.write_bytes(gzip.compress(idx.encode_idx(np.arange(1000, dtype=np.int16)))[:cut])
    with pytest.raises(DataError, match=rf"^{path}: (truncated|corrupt) gzip stream"):
        idx.read_idx(path)


# A bomb decompresses to 8 times the memory bound; reading what a small header declares takes
# a small fraction of it.
BOMB_MIB = 64
MEMORY_BOUND = 8 * MiB


@pytest.mark.parametrize("source", ["path", "bytes"])
def test_a_gzip_bomb_is_refused_after_reading_what_its_header_declares(tmp_path: Path, source: str) -> None:
    bomb = gzip_bomb(LABELS_BYTES, BOMB_MIB)
    path = tmp_path / "bomb.gz"
    path.write_bytes(bomb)
    with peak_memory() as memory, pytest.raises(DataError) as excinfo:
        idx.read_idx(path if source == "path" else bomb, name="bomb.gz")
    assert memory.peak < MEMORY_BOUND
    assert str(excinfo.value).startswith(
        "bomb.gz: more than 65,536 unexpected bytes after the end of its uint8 array of shape (5,) "
        "(the file has more than 65,549 bytes, expected 13)"
    )


def test_an_over_long_uncompressed_file_is_refused_before_its_data_is_read(tmp_path: Path) -> None:
    path = tmp_path / "long"
    with open(path, "wb") as f:
        f.write(LABELS_BYTES)
        f.truncate(len(LABELS_BYTES) + BOMB_MIB * MiB)  # sparse: takes no disk space
    with peak_memory() as memory, pytest.raises(DataError) as excinfo:
        idx.read_idx(path)
    assert memory.peak < MEMORY_BOUND
    assert f"{BOMB_MIB * MiB:,} unexpected bytes after the end" in str(excinfo.value)


@pytest.mark.parametrize("expected_shape", [None, (None, 1000, 1000)])
def test_memory_follows_the_data_present_not_an_unchecked_header(expected_shape) -> None:
    # The header declares 2 TB; the data that follows is 100 bytes.
    data = gzip.compress(header(0x08, 2_000_000, 1000, 1000) + bytes(100))
    with peak_memory() as memory, pytest.raises(DataError, match="truncated: an IDX uint8 array"):
        idx.read_idx(data, expected_shape=expected_shape)
    assert memory.peak < MEMORY_BOUND


def test_read_content_returns_the_checked_uncompressed_bytes(tmp_path: Path) -> None:
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(LABELS_BYTES))
    assert idx.read_content(path, expected_magic=2049, expected_shape=(5,)) == LABELS_BYTES
    assert idx.read_content(LABELS_BYTES) is LABELS_BYTES
    with pytest.raises(DataError, match=rf"^{path}: shape \(5,\), expected \(6,\)"):
        idx.read_content(path, expected_shape=(6,))
    assert idx.content_size((5,)) == len(LABELS_BYTES)
    assert idx.content_size((2, 3), np.int16) == 4 + 2 * 4 + 6 * 2


def test_max_size_bounds_read_bytes_and_decompress(tmp_path: Path) -> None:
    bomb = gzip_bomb(b"", BOMB_MIB)
    (tmp_path / "bomb.gz").write_bytes(bomb)
    (tmp_path / "plain").write_bytes(bytes(1001))
    calls = [
        lambda: idx.decompress(bomb, name="bomb.gz", max_size=1000),
        lambda: idx.read_bytes(tmp_path / "bomb.gz", name="bomb.gz", max_size=1000),
        lambda: idx.decompress(bytes(1001), name="bomb.gz", max_size=1000),
        lambda: idx.read_bytes(tmp_path / "plain", name="bomb.gz", max_size=1000),
    ]
    for call in calls:
        with peak_memory() as memory, pytest.raises(DataError) as excinfo:
            call()
        assert memory.peak < MEMORY_BOUND
        assert str(excinfo.value) == (
            "bomb.gz: the uncompressed content is longer than 1,000 bytes, the most expected"
        )
    assert idx.decompress(gzip.compress(bytes(1000)), max_size=1000) == bytes(1000)
    assert idx.read_bytes(tmp_path / "plain", max_size=1001) == bytes(1001)
    assert idx.read_bytes(tmp_path / "plain") == bytes(1001)


def test_unreadable_file_raises_data_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(DataError, match=rf"^{missing}: cannot read the file"):
        idx.read_idx(missing)
    with pytest.raises(DataError, match=rf"^{tmp_path}: cannot read the file"):
        idx.read_idx(tmp_path)


@pytest.mark.parametrize(
    "array",
    [np.zeros(3, dtype=np.uint16), np.zeros(3, dtype=bool), np.zeros(2, dtype=np.complex64)],
    ids=["uint16", "bool", "complex"],
)
def test_write_rejects_types_idx_cannot_store(tmp_path: Path, array: np.ndarray) -> None:
    with pytest.raises(ValueError, match="IDX cannot store dtype"):
        idx.write_idx(tmp_path / "x", array)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("shape", [(), (0,), (3, 0)])
def test_write_rejects_shapes_idx_cannot_store(tmp_path: Path, shape: tuple) -> None:
    with pytest.raises(ValueError, match="IDX stores arrays of 1 to 255 dimensions"):
        idx.encode_idx(np.zeros(shape, dtype=np.uint8))


def test_write_compress_overrides_the_suffix(tmp_path: Path) -> None:
    idx.write_idx(tmp_path / "plain.gz", LABELS, compress=False)
    idx.write_idx(tmp_path / "packed", LABELS, compress=True)
    assert (tmp_path / "plain.gz").read_bytes() == LABELS_BYTES
    assert gzip.decompress((tmp_path / "packed").read_bytes()) == LABELS_BYTES
    assert sorted(p.name for p in tmp_path.iterdir()) == ["packed", "plain.gz"]  # no temp files left
