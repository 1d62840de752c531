"""Shared fixtures: an isolated user cache, a small fake MNIST-format dataset, the real MNIST.

Tests that need real MNIST take the ``mnist_dir`` fixture, which reads the folder from the
``MNISTMLP_DATA`` environment variable. Without it (or without the files there) those tests
are skipped with the reason -- or fail, when the ``CI`` environment variable is set, so a CI
run cannot pass by silently skipping them. Nothing is ever downloaded.

Tests marked ``cuda`` need the CUDA backend and a visible GPU; without them they are left out
(deselected), and one line of the summary gives the reason mnistmlp gives (no CUDA backend
in this build, no GPU visible, ...).
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Iterator, Optional

import numpy as np
import pytest

from mnistmlp import _core
from mnistmlp.datasets import IdxDataset, idx, mnist


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "cuda: needs the CUDA backend and a visible GPU (skipped, with the reason, without them)"
    )


_CUDA_NOT_RUN: list = []


def pytest_collection_modifyitems(config: pytest.Config, items) -> None:
    """Leave out the ``cuda``-marked tests where device "cuda" cannot be used; the summary
    says so, with the reason, in one line (not one per test)."""
    marked = [item for item in items if item.get_closest_marker("cuda")]
    status = _core.cuda_status()
    if not marked or status["available"]:
        return
    config.hook.pytest_deselected(items=marked)
    items[:] = [item for item in items if not item.get_closest_marker("cuda")]
    _CUDA_NOT_RUN[:] = [len(marked), status["problem"]]


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if _CUDA_NOT_RUN:
        count, problem = _CUDA_NOT_RUN
        terminalreporter.write_line(f"{count} tests for device 'cuda' not run (deselected): {problem}")


@pytest.fixture(autouse=True, scope="session")
def _isolated_user_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Point ``XDG_CACHE_HOME`` at a temporary folder for the whole session, so tests never
    read or write the user's real cache (tests that need their own cache set it again)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The folder of the real MNIST files, from ``MNISTMLP_DATA``."""
    value = os.environ.get("MNISTMLP_DATA", "")
    if not value:
        problem = "MNISTMLP_DATA is not set"
    else:
        missing = [
            file.name
            for file in mnist.MNIST.files
            if not any((Path(value) / name).is_file() for name in (file.name, f"{file.name}.gz"))
        ]
        problem = f"MNISTMLP_DATA={value} lacks {', '.join(missing)}" if missing else None
    if problem is not None:
        message = (
            f"this test needs the real MNIST files, but {problem}. Set MNISTMLP_DATA to a "
            "folder holding the four MNIST IDX files (gzipped or not)."
        )
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return Path(value)


@dataclass
class FakeDataset:
    """A tiny dataset in MNIST's layout (30 training and 10 test images of 6x5 pixels) whose
    checksums are those of its random arrays, so the whole machinery can run on it."""

    dataset: IdxDataset
    arrays: Dict[str, np.ndarray]

    def content(self, name: str) -> bytes:
        """The uncompressed IDX bytes of file ``name``."""
        return idx.encode_idx(self.arrays[name])

    def gz(self, name: str) -> bytes:
        return gzip.compress(self.content(name), mtime=0)

    def write(
        self, folder: Path, names: Optional[Iterable[str]] = None, *, compressed: bool = True
    ) -> None:
        """Write the files ``names`` (default: all four) into ``folder``, gzipped or not."""
        folder.mkdir(parents=True, exist_ok=True)
        for name in self.arrays if names is None else names:
            if compressed:
                (folder / f"{name}.gz").write_bytes(self.gz(name))
            else:
                (folder / name).write_bytes(self.content(name))


@pytest.fixture
def fake() -> FakeDataset:
    rng = np.random.default_rng(42)
    arrays = {}
    for prefix, size in (("train", 30), ("t10k", 10)):
        arrays[f"{prefix}-images-idx3-ubyte"] = rng.integers(0, 256, size=(size, 6, 5), dtype=np.uint8)
        arrays[f"{prefix}-labels-idx1-ubyte"] = rng.integers(0, 10, size=size, dtype=np.uint8)
    dataset = IdxDataset.mnist_format(
        name="Fake-MNIST",
        slug="fake-mnist",
        env_var="MNISTMLP_FAKE_DATA",
        sha256={name: hashlib.sha256(idx.encode_idx(a)).hexdigest() for name, a in arrays.items()},
        class_names=[str(digit) for digit in range(10)],
        train_size=30,
        test_size=10,
        image_shape=(6, 5),
    )
    return FakeDataset(dataset, arrays)
