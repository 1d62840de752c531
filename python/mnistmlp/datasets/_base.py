"""The generic MNIST-format dataset: where its files are, how to get, verify, cache and load them.

A dataset is described once, by an :class:`IdxDataset` (its file names, checksums, shapes,
mirrors, class names and where to look for it); :mod:`~mnistmlp.datasets.mnist` and
:mod:`~mnistmlp.datasets.fashion_mnist` are two such descriptions plus thin wrappers, and a
test or a user can describe another set the same way (see :meth:`IdxDataset.mnist_format`).

Loading a file:

1. find it: in the data directory (the argument, else the dataset's environment variable,
   else ``$XDG_CACHE_HOME/mnistmlp/<slug>``), then in the dataset's system folders, under
   its name or its name plus ``.gz``;
2. if it is missing, download it into the data directory (or fail if ``download=False``),
   dropping a mirror that is too slow or sends more than the file can take (see
   :mod:`._download`);
3. check it: the IDX header (magic number, exact shape), then the exact length, reading no
   more than the shape declares (so a gzip bomb costs no memory), the label range, and the
   SHA-256 of the uncompressed content -- so a recompressed file still passes;
4. keep its uncompressed content in the user cache (see :mod:`._cache`) when it is gzipped,
   so the next load skips decompression.
"""

from __future__ import annotations

import functools
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _cache, _download, _tfcompat, idx
from ._errors import DataError
from ._files import PathLike
from .idx import GZIP_MAGIC

__all__ = ["FileStatus", "IdxDataset", "IdxFile", "Split"]

SPLITS = ("train", "test")


@dataclass(frozen=True)
class IdxFile:
    """One uint8 IDX file of a dataset.

    ``name`` is the uncompressed file name (the ``.gz`` name adds the suffix), ``sha256`` the
    hex SHA-256 of the uncompressed content, ``shape`` the exact array shape, and
    ``num_classes``, for a label file, the number of classes (values must be below it).
    """

    name: str
    sha256: str
    shape: Tuple[int, ...]
    num_classes: Optional[int] = None

    @property
    def magic(self) -> int:
        """The IDX magic number: type code 0x08 (uint8) and the number of dimensions."""
        return 0x0800 | len(self.shape)

    @property
    def size(self) -> int:
        """The length of its uncompressed content, the IDX header included."""
        return idx.content_size(self.shape)

    @property
    def max_gzip_size(self) -> int:
        """The most its ``.gz`` file can take: deflate makes incompressible data at most an
        eighth longer (zlib's ``deflateBound``), and 64 KiB leave room for gzip's headers,
        file name included. A download is cut off beyond this."""
        return self.size + self.size // 8 + 64 * 1024


@dataclass(frozen=True)
class Split:
    """The image file and the label file of one split."""

    images: IdxFile
    labels: IdxFile

    def __post_init__(self) -> None:
        if self.images.shape[0] != self.labels.shape[0] or len(self.labels.shape) != 1:
            raise ValueError(
                f"{self.images.name} of shape {self.images.shape} does not pair with "
                f"{self.labels.name} of shape {self.labels.shape}"
            )


@dataclass(frozen=True)
class FileStatus:
    """What :meth:`IdxDataset.status` found out about one file.

    ``path`` is where the file was found (``None``: missing); ``problem`` says why it is not
    valid (``None``: valid, or missing).
    """

    name: str
    path: Optional[Path]
    problem: Optional[str] = None

    @property
    def present(self) -> bool:
        """Whether the file was found."""
        return self.path is not None

    @property
    def valid(self) -> bool:
        """Whether the file was found and passed every check."""
        return self.path is not None and self.problem is None

    def __str__(self) -> str:
        if self.path is None:
            return f"{self.name}: missing"
        if self.problem is not None:
            return f"{self.name}: INVALID: {self.problem}"
        return f"{self.name}: ok ({self.path})"


@dataclass(frozen=True)
class IdxDataset:
    """The description of a dataset of uint8 IDX files, and the operations on it.

    ``name`` is for messages ("MNIST"); ``slug`` names its default data directory,
    ``$XDG_CACHE_HOME/mnistmlp/<slug>``; ``env_var`` is the environment variable that
    overrides that directory; ``mirrors`` are base URLs that serve ``<file name>.gz``, tried
    in order; ``system_dirs`` are read-only folders searched after the data directory (where
    an operating-system package may have put the files).
    """

    name: str
    slug: str
    env_var: str
    train: Split
    test: Split
    class_names: Tuple[str, ...]
    mirrors: Tuple[str, ...] = ()
    system_dirs: Tuple[Path, ...] = ()

    @classmethod
    def mnist_format(
        cls,
        *,
        name: str,
        slug: str,
        env_var: str,
        sha256: Mapping[str, str],
        class_names: Sequence[str],
        mirrors: Sequence[str] = (),
        system_dirs: Sequence[PathLike] = (),
        train_size: int = 60000,
        test_size: int = 10000,
        image_shape: Tuple[int, int] = (28, 28),
    ) -> "IdxDataset":
        """A dataset laid out like MNIST: ``{train,t10k}-{images-idx3,labels-idx1}-ubyte``.

        ``sha256`` maps each of the four file names to the SHA-256 of its uncompressed content.
        """

        def split(prefix: str, size: int) -> Split:
            images, labels = f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"
            return Split(
                IdxFile(images, sha256[images], (size, *image_shape)),
                IdxFile(labels, sha256[labels], (size,), num_classes=len(class_names)),
            )

        return cls(
            name=name,
            slug=slug,
            env_var=env_var,
            train=split("train", train_size),
            test=split("t10k", test_size),
            class_names=tuple(class_names),
            mirrors=tuple(mirrors),
            system_dirs=tuple(Path(d) for d in system_dirs),
        )

    @property
    def files(self) -> Tuple[IdxFile, ...]:
        """The four files: training images and labels, test images and labels."""
        return (self.train.images, self.train.labels, self.test.images, self.test.labels)

    @property
    def num_classes(self) -> int:
        """The number of classes."""
        return len(self.class_names)

    # -- where the files are -------------------------------------------------------------

    def data_dir(self, data_dir: Optional[PathLike] = None) -> Path:
        """The data directory: ``data_dir`` if given, else ``$<env_var>`` if set and not
        empty, else ``$XDG_CACHE_HOME/mnistmlp/<slug>`` (default ``~/.cache/mnistmlp/<slug>``).
        Downloads go there. ``~`` is expanded."""
        if data_dir is None:
            data_dir = os.environ.get(self.env_var) or _cache.user_cache_dir() / self.slug
        return Path(data_dir).expanduser()

    def search_dirs(self, data_dir: Optional[PathLike] = None) -> List[Path]:
        """The folders searched for the files, in order: the data directory, then ``system_dirs``."""
        dirs = [self.data_dir(data_dir)]
        dirs += [d for d in self.system_dirs if d not in dirs]
        return dirs

    def locate(self, file: IdxFile, data_dir: Optional[PathLike] = None) -> Optional[Path]:
        """Where ``file`` is (uncompressed or ``.gz``), or ``None`` if in no search folder."""
        for folder in self.search_dirs(data_dir):
            for candidate in (folder / file.name, folder / f"{file.name}.gz"):
                if candidate.is_file():
                    return candidate
        return None

    # -- verifying, fetching --------------------------------------------------------------

    def status(self, data_dir: Optional[PathLike] = None) -> List[FileStatus]:
        """Find and fully check each of the four files; report, never raise, what is wrong.

        Like loading, this keeps the verified content of gzipped files in the user cache.
        """
        report = []
        for file in self.files:
            path = self.locate(file, data_dir)
            problem = None
            if path is not None:
                try:
                    self._read_source(file, path)
                except DataError as exc:
                    problem = str(exc)
            report.append(FileStatus(file.name, path, problem))
        return report

    def verify(self, data_dir: Optional[PathLike] = None) -> List[FileStatus]:
        """Like :meth:`status`, but raise :class:`DataError` if a file is missing or invalid."""
        report = self.status(data_dir)
        bad = [entry for entry in report if not entry.valid]
        if bad:
            details = "\n".join(f"  {entry}" for entry in bad)
            raise DataError(
                f"{self.name} data in {self._dirs_text(data_dir)} is incomplete or invalid:\n"
                f"{details}\n{self._hint(data_dir, 'delete the invalid files and fetch() them again')}"
            )
        return report

    def fetch(
        self,
        data_dir: Optional[PathLike] = None,
        *,
        mirrors: Optional[Sequence[str]] = None,
        progress: Optional[bool] = None,
    ) -> List[FileStatus]:
        """Download the missing files into the data directory, then :meth:`verify` all four.

        ``mirrors`` replaces the dataset's mirror list; ``progress`` draws progress bars on
        stderr (default: if it is a terminal). A present but invalid file is not replaced:
        :meth:`verify` reports it, and deleting it lets the next ``fetch`` download it again.
        """
        self._require(self.files, data_dir, download=True, mirrors=mirrors, progress=progress)
        return self.verify(data_dir)

    # -- loading --------------------------------------------------------------------------

    def load(
        self,
        split: str = "train",
        data_dir: Optional[PathLike] = None,
        download: bool = True,
        *,
        mirrors: Optional[Sequence[str]] = None,
    ) -> Tuple[np.ndarray, np.ndarray]:
        """The verified ``(images, labels)`` of ``split`` ("train" or "test"), as writable
        uint8 arrays of shapes ``(n, rows, cols)`` and ``(n,)``.

        Missing files are downloaded into the data directory if ``download``, else raise
        :class:`DataError`. Any invalid file raises :class:`DataError` naming it.
        """
        if split not in SPLITS:
            raise ValueError(f"split must be 'train' or 'test', not {split!r}")
        part = self.train if split == "train" else self.test
        files = (part.images, part.labels)
        paths = self._require(files, data_dir, download=download, mirrors=mirrors)
        images, labels = (self._read(file, path) for file, path in zip(files, paths))
        return images, labels

    def read_data_sets(
        self,
        train_dir: Optional[PathLike] = None,
        *,
        one_hot: bool = False,
        dtype: Union[str, type, np.dtype] = "float32",
        reshape: bool = True,
        validation_size: int = 5000,
        download: bool = True,
        seed: Optional[int] = None,
        mirrors: Optional[Sequence[str]] = None,
    ) -> _tfcompat.Datasets:
        """TensorFlow's ``read_data_sets`` for this dataset; see :mod:`._tfcompat`."""
        return _tfcompat.read_data_sets(
            lambda split: self.load(split, train_dir, download, mirrors=mirrors),
            train_size=self.train.images.shape[0],
            num_classes=self.num_classes,
            one_hot=one_hot,
            dtype=dtype,
            reshape=reshape,
            validation_size=validation_size,
            seed=seed,
        )

    # -- internals ------------------------------------------------------------------------

    def _dirs_text(self, data_dir: Optional[PathLike]) -> str:
        return " or ".join(str(d) for d in self.search_dirs(data_dir))

    def _hint(self, data_dir: Optional[PathLike], first_step: str) -> str:
        return (
            f"To fix it, {first_step}, put the files (gzipped or not) into "
            f"{self.data_dir(data_dir)} by hand, or point {self.env_var} (or the data_dir "
            f"argument) at a folder that has them."
        )

    def _require(
        self,
        files: Sequence[IdxFile],
        data_dir: Optional[PathLike],
        *,
        download: bool,
        mirrors: Optional[Sequence[str]],
        progress: Optional[bool] = None,
    ) -> List[Path]:
        """The paths of ``files``, after downloading the missing ones if ``download``."""
        found = {file: self.locate(file, data_dir) for file in files}
        missing = [file for file, path in found.items() if path is None]
        if missing and not download:
            raise DataError(
                f"{self.name} files missing from {self._dirs_text(data_dir)}: "
                f"{', '.join(file.name for file in missing)} (looked for each with and without "
                f".gz).\n{self._hint(data_dir, 'pass download=True or call fetch() to download them')}"
            )
        paths = {file: path for file, path in found.items() if path is not None}
        target_dir = self.data_dir(data_dir)
        bases = self.mirrors if mirrors is None else mirrors
        for file in missing:
            remote_name = f"{file.name}.gz"
            target = target_dir / remote_name
            _download.download(
                [base.rstrip("/") + "/" + remote_name for base in bases],
                target,
                functools.partial(self._verify_download, file),
                hint=self._hint(data_dir, "check your connection and retry later"),
                progress=progress,
                max_size=file.max_gzip_size,
            )
            paths[file] = target
        return [paths[file] for file in files]

    def _verify_download(self, file: IdxFile, path: Path, url: str) -> None:
        """A download of ``file`` checks as a found file does (errors name the URL)."""
        self._read_source(file, path, name=url)

    def _read(self, file: IdxFile, path: Path) -> np.ndarray:
        """The verified array of ``file``, stored at ``path``: from the cache if possible."""
        trailer = _gzip_trailer(path)
        content = _cache.get(file.sha256, file.size) if trailer is not None else None
        # The cache entry is the right data; the trailer check makes sure it is also what
        # this source file holds, so a source damaged or replaced since is not hidden.
        if content is not None and (zlib.crc32(content), len(content) & 0xFFFFFFFF) == trailer:
            array = self._decode(file, content, str(path))
        else:
            array = self._read_source(file, path)
        return array if array.flags.writeable else array.copy()

    def _read_source(self, file: IdxFile, path: Path, name: Optional[str] = None) -> np.ndarray:
        """Read and fully check ``file`` from ``path`` (named ``name`` in errors), without
        the cache; cache its content if ``path`` is gzipped."""
        name = str(path) if name is None else name
        content = idx.read_content(
            path, name=name, expected_magic=file.magic, expected_shape=file.shape
        )
        array = self._decode(file, content, name)
        idx.check_sha256(content, file.sha256, name=name)
        if _gzip_trailer(path) is not None:
            _cache.put(file.sha256, content)
        return array

    def _decode(self, file: IdxFile, content: idx.BytesLike, name: str) -> np.ndarray:
        array = idx.parse_idx(content, name=name, expected_magic=file.magic, expected_shape=file.shape)
        if file.num_classes is not None:
            largest = int(array.max())
            if largest >= file.num_classes:
                raise DataError(
                    f"{name}: label {largest} at index {int(array.argmax())} is out of range: "
                    f"labels must be from 0 to {file.num_classes - 1}"
                )
        return array


def _gzip_trailer(path: Path) -> Optional[Tuple[int, int]]:
    """The (CRC-32, size mod 2**32) of the content of the gzip file ``path``, from its last
    8 bytes; ``None`` if ``path`` is not gzipped (or cannot be read)."""
    try:
        with open(path, "rb") as f:
            if f.read(2) != GZIP_MAGIC or f.seek(0, os.SEEK_END) < 18:
                return None
            f.seek(-8, os.SEEK_END)
            trailer = f.read(8)
    except OSError:
        return None
    return int.from_bytes(trailer[:4], "little"), int.from_bytes(trailer[4:], "little")
