"""Finding, checking, caching and loading MNIST-format datasets; the TensorFlow-style splits.

Most tests run on the small fake dataset of conftest.py; those marked by the ``mnist_dir``
fixture check the real MNIST files (read-only, from ``MNISTMLP_DATA``).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import pytest
from _bombs import MiB, gzip_bomb, peak_memory

from mnistmlp.datasets import (
    DataError,
    DataSet,
    Datasets,
    DownloadError,
    _cache,
    fashion_mnist,
    idx,
    mnist,
)

TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"


def snapshot(folder: Path) -> Dict[str, Tuple[int, int]]:
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


@pytest.fixture
def source_reads(monkeypatch: pytest.MonkeyPatch) -> list:
    """The paths the loaders read (and decompress) source files from, bypassing the cache."""
    calls = []
    original = idx.read_content

    def spy(path, **kwargs):
        calls.append(Path(path).name)
        return original(path, **kwargs)

    monkeypatch.setattr(idx, "read_content", spy)
    return calls


# -- the data directory ---------------------------------------------------------------------


def test_data_dir_resolution_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("MNISTMLP_DATA", raising=False)
    assert mnist.data_dir() == tmp_path / "xdg" / "mnistmlp" / "mnist"

    monkeypatch.setenv("MNISTMLP_DATA", str(tmp_path / "env"))
    assert mnist.data_dir() == tmp_path / "env"

    assert mnist.data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert mnist.data_dir(str(tmp_path / "arg")) == tmp_path / "arg"


def test_data_dir_defaults_to_home_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("MNISTMLP_DATA", "")  # empty: unset
    for xdg in (None, "", "relative/cache"):  # the XDG spec says to ignore a relative path
        if xdg is None:
            monkeypatch.delenv("XDG_CACHE_HOME")
        else:
            monkeypatch.setenv("XDG_CACHE_HOME", xdg)
        assert mnist.data_dir() == tmp_path / ".cache" / "mnistmlp" / "mnist"
    assert mnist.data_dir("~/digits") == tmp_path / "digits"


def test_fashion_mnist_has_its_own_directory_and_system_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("MNISTMLP_DATA", str(tmp_path / "mnist"))
    monkeypatch.delenv("MNISTMLP_FASHION_DATA", raising=False)
    assert fashion_mnist.data_dir() == tmp_path / "mnistmlp" / "fashion-mnist"
    monkeypatch.setenv("MNISTMLP_FASHION_DATA", str(tmp_path / "fashion"))
    assert fashion_mnist.FASHION_MNIST.search_dirs() == [
        tmp_path / "fashion",
        Path("/usr/share/datasets/fashion-mnist"),
    ]
    assert fashion_mnist.FASHION_MNIST.num_classes == 10
    assert [f.name for f in fashion_mnist.FASHION_MNIST.files] == [f.name for f in mnist.MNIST.files]
    assert {f.sha256 for f in fashion_mnist.FASHION_MNIST.files}.isdisjoint(
        f.sha256 for f in mnist.MNIST.files
    )


def test_the_environment_variable_is_used(fake, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake.write(tmp_path / "env")
    monkeypatch.setenv("MNISTMLP_FAKE_DATA", str(tmp_path / "env"))
    images, _ = fake.dataset.load("test", download=False)
    np.testing.assert_array_equal(images, fake.arrays[TEST_IMAGES])


def test_system_folders_are_searched_after_the_data_directory(fake, tmp_path: Path) -> None:
    fake.write(tmp_path / "system")
    dataset = dataclasses.replace(fake.dataset, system_dirs=(tmp_path / "system",))
    _, labels = dataset.load("train", tmp_path / "data", download=True)  # nothing to download
    np.testing.assert_array_equal(labels, fake.arrays[TRAIN_LABELS])
    assert not (tmp_path / "data").exists()
    located = dataset.locate(dataset.train.labels, tmp_path / "data")
    assert located == tmp_path / "system" / f"{TRAIN_LABELS}.gz"


# -- loading and checking -------------------------------------------------------------------


@pytest.mark.parametrize("compressed", [True, False])
def test_load_returns_uint8_arrays_in_file_order(fake, tmp_path: Path, compressed: bool) -> None:
    fake.write(tmp_path, compressed=compressed)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images, labels = fake.dataset.load(split, tmp_path, download=False)
        assert images.dtype == labels.dtype == np.uint8
        assert images.flags.writeable and labels.flags.writeable
        np.testing.assert_array_equal(images, fake.arrays[f"{prefix}-images-idx3-ubyte"])
        np.testing.assert_array_equal(labels, fake.arrays[f"{prefix}-labels-idx1-ubyte"])


def test_uncompressed_name_is_preferred(fake, tmp_path: Path) -> None:
    fake.write(tmp_path, compressed=False)
    (tmp_path / f"{TRAIN_IMAGES}.gz").write_bytes(b"not even gzip")
    images, _ = fake.dataset.load("train", tmp_path)
    np.testing.assert_array_equal(images, fake.arrays[TRAIN_IMAGES])


def test_unknown_split(fake, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="split must be 'train' or 'test', not 'validation'"):
        fake.dataset.load("validation", tmp_path)


def test_missing_files_without_download(fake, tmp_path: Path) -> None:
    fake.write(tmp_path, [TRAIN_IMAGES])
    with pytest.raises(DataError) as excinfo:
        fake.dataset.load("train", tmp_path, download=False)
    message = str(excinfo.value)
    assert f"Fake-MNIST files missing from {tmp_path}: {TRAIN_LABELS} " in message
    assert TRAIN_IMAGES not in message.split("\n")[0]
    assert "download=True" in message and "MNISTMLP_FAKE_DATA" in message
    assert not isinstance(excinfo.value, DownloadError)


def corrupt(data: bytes, offset: int) -> bytes:
    damaged = bytearray(data)
    damaged[offset] ^= 0x01
    return bytes(damaged)


def with_label(fake, index: int, value: int) -> bytes:
    labels = fake.arrays[TRAIN_LABELS].copy()
    labels[index] = value
    return idx.encode_idx(labels)


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        (
            TRAIN_IMAGES,
            lambda fake: corrupt(fake.content(TRAIN_IMAGES), 100),
            "SHA-256 mismatch",
        ),
        (
            TRAIN_IMAGES,
            lambda fake: fake.content(TRAIN_LABELS),
            "wrong magic number 2049 (0x00000801), expected 2051",
        ),
        (
            TRAIN_IMAGES,
            lambda fake: idx.encode_idx(fake.arrays[TRAIN_IMAGES][:29]),
            "shape (29, 6, 5), expected (30, 6, 5)",
        ),
        (TRAIN_IMAGES, lambda fake: fake.content(TRAIN_IMAGES)[:-1], "truncated"),
        (
            TRAIN_LABELS,
            lambda fake: with_label(fake, 3, (fake.arrays[TRAIN_LABELS][3] + 1) % 10),
            "SHA-256 mismatch",
        ),
        (
            TRAIN_LABELS,
            lambda fake: with_label(fake, 4, 10),
            "label 10 at index 4 is out of range: labels must be from 0 to 9",
        ),
    ],
    ids=["pixel", "magic", "count", "length", "label-sha", "label-range"],
)
def test_invalid_files_raise_data_error_naming_the_file(fake, tmp_path: Path, name, make, message) -> None:
    fake.write(tmp_path)
    path = tmp_path / f"{name}.gz"
    path.write_bytes(gzip.compress(make(fake)))
    with pytest.raises(DataError) as excinfo:
        fake.dataset.load("train", tmp_path)
    assert str(excinfo.value).startswith(f"{path}: ")
    assert message in str(excinfo.value)


def test_truncated_gzip_source(fake, tmp_path: Path) -> None:
    fake.write(tmp_path)
    path = tmp_path / f"{TRAIN_LABELS}.gz"
    path.write_bytes(fake.gz(TRAIN_LABELS)[:-6])
    with pytest.raises(DataError, match=f"^{path}: truncated gzip stream"):
        fake.dataset.load("train", tmp_path)


# A bomb decompresses to 8 times the memory bound; reading the small fake files takes a
# small fraction of it.
BOMB_MIB = 64
MEMORY_BOUND = 8 * MiB


def test_a_gzip_bomb_in_the_data_directory_is_refused_in_bounded_memory(
    fake, tmp_path: Path
) -> None:
    fake.write(tmp_path)
    path = tmp_path / f"{TRAIN_IMAGES}.gz"
    path.write_bytes(gzip_bomb(fake.content(TRAIN_IMAGES), BOMB_MIB))
    with peak_memory() as memory, pytest.raises(DataError) as excinfo:
        fake.dataset.load("train", tmp_path)
    with peak_memory() as status_memory:
        report = fake.dataset.status(tmp_path)
    assert max(memory.peak, status_memory.peak) < MEMORY_BOUND
    message = "more than 65,536 unexpected bytes after the end of its uint8 array of shape (30, 6, 5)"
    assert str(excinfo.value).startswith(f"{path}: {message}")
    assert report[0].problem.startswith(f"{path}: {message}")


def test_status_and_verify_report_every_file(fake, tmp_path: Path) -> None:
    fake.write(tmp_path, [TRAIN_IMAGES, TEST_IMAGES])
    fake.write(tmp_path, [TEST_LABELS], compressed=False)
    (tmp_path / f"{TEST_IMAGES}.gz").write_bytes(b"\x1f\x8b garbage")

    report = {entry.name: entry for entry in fake.dataset.status(tmp_path)}
    assert list(report) == [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS]
    assert report[TRAIN_IMAGES].valid and report[TRAIN_IMAGES].path == tmp_path / f"{TRAIN_IMAGES}.gz"
    assert report[TEST_LABELS].valid and report[TEST_LABELS].path == tmp_path / TEST_LABELS
    assert not report[TRAIN_LABELS].present and not report[TRAIN_LABELS].valid
    assert report[TEST_IMAGES].present and not report[TEST_IMAGES].valid
    assert "corrupt gzip stream" in report[TEST_IMAGES].problem
    assert str(report[TRAIN_LABELS]) == f"{TRAIN_LABELS}: missing"
    assert str(report[TEST_IMAGES]).startswith(f"{TEST_IMAGES}: INVALID: {tmp_path / TEST_IMAGES}.gz: ")

    with pytest.raises(DataError) as excinfo:
        fake.dataset.verify(tmp_path)
    lines = str(excinfo.value).splitlines()
    assert lines[0] == f"Fake-MNIST data in {tmp_path} is incomplete or invalid:"
    assert lines[1:3] == [f"  {report[TRAIN_LABELS]}", f"  {report[TEST_IMAGES]}"]

    fake.write(tmp_path, [TRAIN_LABELS, TEST_IMAGES])
    assert all(entry.valid for entry in fake.dataset.verify(tmp_path))


# -- the cache of uncompressed content ------------------------------------------------------


def test_second_load_uses_the_cache(fake, tmp_path: Path, monkeypatch, source_reads) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fake.write(tmp_path / "data")
    first = fake.dataset.load("train", tmp_path / "data")
    assert source_reads == [f"{TRAIN_IMAGES}.gz", f"{TRAIN_LABELS}.gz"]
    entry = _cache.entry_path(fake.dataset.train.images.sha256)
    assert entry == tmp_path / "cache" / "mnistmlp" / "idx" / f"{fake.dataset.train.images.sha256}.idx"
    assert entry.read_bytes() == fake.content(TRAIN_IMAGES)

    source_reads.clear()
    second = fake.dataset.load("train", tmp_path / "data")
    assert source_reads == []
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
        assert b.flags.writeable


def test_cache_entries_are_verified_on_read(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    content = b"some content"
    digest = hashlib.sha256(content).hexdigest()
    assert _cache.get(digest) is None
    _cache.put(digest, content)
    assert _cache.get(digest) == content
    _cache.entry_path(digest).write_bytes(b"some c0ntent")
    assert _cache.get(digest) is None


def test_a_cache_entry_of_the_wrong_size_is_not_read(fake, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fake.write(tmp_path / "data")
    entry = _cache.entry_path(fake.dataset.train.images.sha256)
    entry.parent.mkdir(parents=True)
    with open(entry, "wb") as f:
        f.truncate(BOMB_MIB * MiB)  # sparse: takes no disk space
    with peak_memory() as memory:
        images, _ = fake.dataset.load("train", tmp_path / "data")
    assert memory.peak < MEMORY_BOUND
    np.testing.assert_array_equal(images, fake.arrays[TRAIN_IMAGES])
    assert entry.read_bytes() == fake.content(TRAIN_IMAGES)  # replaced by the right content


def test_uncompressed_files_are_not_cached(fake, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fake.write(tmp_path / "data", compressed=False)
    fake.dataset.load("test", tmp_path / "data")
    assert not (tmp_path / "cache").exists()


def test_a_damaged_cache_entry_is_not_used_and_is_rewritten(
    fake, tmp_path: Path, monkeypatch, source_reads
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fake.write(tmp_path / "data")
    fake.dataset.load("train", tmp_path / "data")
    entry = _cache.entry_path(fake.dataset.train.images.sha256)
    entry.write_bytes(corrupt(fake.content(TRAIN_IMAGES), 20))  # a valid IDX file, wrong pixel

    source_reads.clear()
    images, _ = fake.dataset.load("train", tmp_path / "data")
    np.testing.assert_array_equal(images, fake.arrays[TRAIN_IMAGES])
    assert source_reads == [f"{TRAIN_IMAGES}.gz"]
    assert entry.read_bytes() == fake.content(TRAIN_IMAGES)


def test_the_cache_does_not_hide_a_damaged_source(fake, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    fake.write(tmp_path / "data")
    fake.dataset.load("train", tmp_path / "data")
    source = tmp_path / "data" / f"{TRAIN_IMAGES}.gz"
    source.write_bytes(source.read_bytes()[:-100])
    with pytest.raises(DataError, match=f"^{source}: (truncated|corrupt) gzip stream"):
        fake.dataset.load("train", tmp_path / "data")


def test_an_unwritable_cache_does_not_break_loading(fake, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "not-a-folder").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "not-a-folder"))
    fake.write(tmp_path / "data")
    images, _ = fake.dataset.load("train", tmp_path / "data")
    np.testing.assert_array_equal(images, fake.arrays[TRAIN_IMAGES])


def test_a_read_only_data_directory_is_never_written(fake, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    data = tmp_path / "data"
    fake.write(data)
    before = snapshot(data)
    data.chmod(0o555)  # root ignores this, hence the snapshot comparison
    try:
        fake.dataset.fetch(data)
        fake.dataset.read_data_sets(data, validation_size=10)
        fake.dataset.read_data_sets(data, validation_size=10)
    finally:
        data.chmod(0o755)
    assert snapshot(data) == before
    assert len(list((tmp_path / "cache" / "mnistmlp" / "idx").iterdir())) == 4


# -- read_data_sets on the fake dataset -----------------------------------------------------


def test_read_data_sets_options(fake, tmp_path: Path) -> None:
    fake.write(tmp_path)
    images = fake.arrays[TRAIN_IMAGES]

    data = fake.dataset.read_data_sets(tmp_path, validation_size=10, dtype="float64", reshape=False)
    assert isinstance(data, Datasets)
    assert [s.num_examples for s in data] == [20, 10, 10]
    assert data.train.images.dtype == np.float64 and data.train.images.shape == (20, 6, 5)
    np.testing.assert_allclose(data.train.images, images[10:] / 255.0)

    data = fake.dataset.read_data_sets(tmp_path, validation_size=0, dtype=np.uint8, one_hot=True)
    assert data.validation.num_examples == 0 and data.train.num_examples == 30
    np.testing.assert_array_equal(data.train.images, images.reshape(30, 30))
    labels = data.test.labels
    assert labels.dtype == np.float32 and labels.shape == (10, 10)
    np.testing.assert_array_equal(labels.argmax(axis=1), fake.arrays[TEST_LABELS])
    np.testing.assert_array_equal(labels.sum(axis=1), 1)


@pytest.mark.parametrize("size", [-1, 30 + 1])
def test_validation_size_out_of_range(fake, tmp_path: Path, size: int) -> None:
    with pytest.raises(ValueError, match=f"validation_size must be from 0 to 30 .*, not {size}"):
        fake.dataset.read_data_sets(tmp_path / "empty", validation_size=size, download=False)


@pytest.mark.parametrize("size", [-1, 60001])
def test_mnist_validation_size_is_checked_before_loading(tmp_path: Path, size: int) -> None:
    with pytest.raises(ValueError, match="validation_size must be from 0 to 60000") as excinfo:
        mnist.read_data_sets(tmp_path, validation_size=size, download=False)
    assert not isinstance(excinfo.value, DataError)


@pytest.mark.parametrize("dtype", ["int32", np.float16, "U1"])
def test_unsupported_image_dtype(tmp_path: Path, dtype) -> None:
    with pytest.raises(TypeError, match="expected uint8, float32 or float64"):
        mnist.read_data_sets(tmp_path, dtype=dtype, download=False)


# -- next_batch -----------------------------------------------------------------------------


def small_dataset(n: int = 10, seed=None) -> DataSet:
    return DataSet(np.arange(n * 2).reshape(n, 2), np.arange(n), seed=seed)


def test_next_batch_without_shuffling_wraps_around_the_epoch() -> None:
    data = small_dataset()
    batches = [data.next_batch(4, shuffle=False)[1].tolist() for _ in range(4)]
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1], [2, 3, 4, 5]]
    assert data.epochs_completed == 1


def test_next_batch_shuffles_each_epoch_and_crosses_epoch_boundaries() -> None:
    data = small_dataset(seed=3)
    seen = [data.next_batch(3) for _ in range(10)]  # 30 examples: exactly three epochs
    labels = np.concatenate([batch_labels for _, batch_labels in seen])
    for epoch in labels.reshape(3, 10):
        assert sorted(epoch) == list(range(10))
    assert len({tuple(epoch) for epoch in labels.reshape(3, 10)}) == 3  # a new order each epoch
    for images, batch_labels in seen:
        np.testing.assert_array_equal(images, data.images[batch_labels])  # pairs stay together
    # As in TensorFlow, an epoch counts as completed when a batch goes past its end: the
    # third epoch ended exactly with the last batch.
    assert data.epochs_completed == 2
    # The fourth batch took the last example of the first epoch and two of the second.
    assert labels[9] not in labels[:9] and labels[10] != labels[11]


def test_next_batch_is_reproducible_with_a_seed() -> None:
    first, again = (
        [data.next_batch(5)[1].tolist() for _ in range(4)]
        for data in (small_dataset(seed=7), small_dataset(seed=7))
    )
    assert first == again
    assert [small_dataset(seed=8).next_batch(5)[1].tolist()] != first[:1]


def test_next_batch_leaves_the_arrays_alone() -> None:
    data = small_dataset(seed=1)
    images, labels = data.next_batch(10)
    images[:] = -1
    np.testing.assert_array_equal(data.labels, np.arange(10))
    np.testing.assert_array_equal(data.images, np.arange(20).reshape(10, 2))
    assert data._images is data.images and data._labels is data.labels


@pytest.mark.parametrize("batch_size", [0, 11])
def test_next_batch_rejects_impossible_sizes(batch_size: int) -> None:
    with pytest.raises(ValueError, match="batch_size must be from 1 to the number of examples"):
        small_dataset().next_batch(batch_size)


def test_images_and_labels_must_pair() -> None:
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        DataSet(np.zeros((3, 4)), np.zeros(2))


# -- the real MNIST -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tutorial(mnist_dir: Path) -> Datasets:
    return mnist.read_data_sets(mnist_dir, download=False, seed=0)


@pytest.fixture(scope="module")
def raw_train(mnist_dir: Path) -> Tuple[np.ndarray, np.ndarray]:
    return mnist.load_mnist("train", mnist_dir, download=False)


def test_real_split_sizes_and_scaling(tutorial: Datasets) -> None:
    train, validation, test = tutorial
    assert (train.num_examples, validation.num_examples, test.num_examples) == (55000, 5000, 10000)
    for split in tutorial:
        assert split.images.dtype == np.float32
        assert split.images.shape == (split.num_examples, 784)
        assert split.images.min() == 0.0 and split.images.max() == 1.0
        assert split.labels.shape == (split.num_examples,)
        assert split._images is split.images and split._labels is split.labels
    assert validation.labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]


def test_real_train_starts_at_image_5000(tutorial: Datasets, raw_train) -> None:
    images, labels = raw_train
    assert images.shape == (60000, 28, 28) and labels.shape == (60000,)
    assert labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    np.testing.assert_array_equal(tutorial.train.labels, labels[5000:])
    np.testing.assert_array_equal(tutorial.validation.labels, labels[:5000])
    np.testing.assert_allclose(tutorial.train.images[0], images[5000].ravel() / 255, atol=1e-7)
    np.testing.assert_allclose(tutorial.validation.images[-1], images[4999].ravel() / 255, atol=1e-7)


def test_real_one_hot_and_raw_bytes(mnist_dir: Path, raw_train) -> None:
    data = mnist.read_data_sets(mnist_dir, one_hot=True, dtype="uint8", reshape=False, download=False)
    labels = data.validation.labels
    assert labels.dtype == np.float32 and labels.shape == (5000, 10)
    np.testing.assert_array_equal(labels.sum(axis=1), 1)
    assert labels[:10].argmax(axis=1).tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert data.train.images.dtype == np.uint8 and data.train.images.shape == (55000, 28, 28)
    np.testing.assert_array_equal(data.train.images, raw_train[0][5000:])


def test_real_test_split(mnist_dir: Path) -> None:
    images, labels = mnist.load_mnist("test", mnist_dir, download=False)
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_real_next_batch(tutorial: Datasets) -> None:
    images, labels = tutorial.train.next_batch(100)
    assert images.shape == (100, 784) and labels.shape == (100,)
    assert len(set(labels.tolist())) > 1  # shuffled: not just the first examples' few classes


def test_real_files_verify(mnist_dir: Path) -> None:
    report = mnist.verify(mnist_dir)
    assert [entry.name for entry in report] == [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS]
    assert all(entry.valid and entry.path.parent == mnist_dir for entry in report)


def test_real_data_directory_is_not_written(mnist_dir: Path, tutorial: Datasets) -> None:
    before = snapshot(mnist_dir)
    mnist.read_data_sets(mnist_dir, download=False, validation_size=0)
    assert snapshot(mnist_dir) == before
    assert not any(name.endswith(".part") for name in os.listdir(mnist_dir))
