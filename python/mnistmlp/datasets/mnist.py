"""MNIST, the handwritten digits: found or downloaded, verified, cached and loaded.

::

    from mnistmlp.datasets import mnist

    images, labels = mnist.load_mnist("train")   # uint8, (60000, 28, 28) and (60000,)
    data = mnist.read_data_sets(one_hot=True)    # TensorFlow's tutorial interface
    batch_images, batch_labels = data.train.next_batch(100)

The four files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each gzipped or not) are looked for
in the data directory: the ``data_dir`` argument, else ``$MNISTMLP_DATA``, else
``$XDG_CACHE_HOME/mnistmlp/mnist`` (default ``~/.cache/mnistmlp/mnist``). Missing files are
downloaded there from the first working mirror in :data:`MIRRORS` unless ``download=False``.
Every file is checked (IDX header, exact length, label range, SHA-256 of the uncompressed
content), and any problem raises :class:`~mnistmlp.datasets.DataError` naming the file.
Gzipped files are decompressed once; later loads read the verified uncompressed bytes from
``$XDG_CACHE_HOME/mnistmlp/idx/``.

Public API:

- ``load_mnist(split="train", data_dir=None, download=True, *, mirrors=None)`` -> ``(images, labels)``
- ``read_data_sets(train_dir=None, *, one_hot=False, dtype="float32", reshape=True,
  validation_size=5000, download=True, seed=None, mirrors=None)`` -> ``Datasets``
- ``data_dir(data_dir=None)`` -> ``Path``
- ``status(data_dir=None)``, ``verify(data_dir=None)``,
  ``fetch(data_dir=None, *, mirrors=None, progress=None)`` -> ``list[FileStatus]``
- ``MNIST``, the dataset description (an ``IdxDataset``), and ``MIRRORS``.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from ._base import FileStatus, IdxDataset
from ._files import PathLike
from ._tfcompat import Datasets

__all__ = [
    "MIRRORS",
    "MNIST",
    "data_dir",
    "fetch",
    "load_mnist",
    "read_data_sets",
    "status",
    "verify",
]

#: Base URLs serving the four ``.gz`` files, tried in order.
MIRRORS: Tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

MNIST = IdxDataset.mnist_format(
    name="MNIST",
    slug="mnist",
    env_var="MNISTMLP_DATA",
    sha256={
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    class_names=[str(digit) for digit in range(10)],
    mirrors=MIRRORS,
)


def data_dir(data_dir: Optional[PathLike] = None) -> Path:
    """The MNIST data directory: ``data_dir``, else ``$MNISTMLP_DATA``, else
    ``$XDG_CACHE_HOME/mnistmlp/mnist`` (default ``~/.cache/mnistmlp/mnist``)."""
    return MNIST.data_dir(data_dir)


def status(data_dir: Optional[PathLike] = None) -> List[FileStatus]:
    """For each of the four files: where it is (or that it is missing) and, fully checked,
    whether it is valid. Never raises for bad data."""
    return MNIST.status(data_dir)


def verify(data_dir: Optional[PathLike] = None) -> List[FileStatus]:
    """Like :func:`status`, but raise :class:`~mnistmlp.datasets.DataError` listing every
    missing or invalid file."""
    return MNIST.verify(data_dir)


def fetch(
    data_dir: Optional[PathLike] = None,
    *,
    mirrors: Optional[Sequence[str]] = None,
    progress: Optional[bool] = None,
) -> List[FileStatus]:
    """Download the missing files into the data directory, then :func:`verify` all four.

    ``mirrors`` replaces :data:`MIRRORS`; ``progress`` draws progress bars on stderr
    (default: if it is a terminal). Raises :class:`~mnistmlp.datasets.DownloadError` if a
    file cannot be downloaded, :class:`~mnistmlp.datasets.DataError` if one is invalid.
    """
    return MNIST.fetch(data_dir, mirrors=mirrors, progress=progress)


def load_mnist(
    split: str = "train",
    data_dir: Optional[PathLike] = None,
    download: bool = True,
    *,
    mirrors: Optional[Sequence[str]] = None,
) -> Tuple[np.ndarray, np.ndarray]:
    """MNIST's ``split`` ("train": 60,000 examples, "test": 10,000) as ``(images, labels)``:
    uint8 arrays of shapes ``(n, 28, 28)`` and ``(n,)``, in file order.

    Missing files are downloaded (from ``mirrors``, default :data:`MIRRORS`) if
    ``download``, else raise :class:`~mnistmlp.datasets.DataError`.
    """
    return MNIST.load(split, data_dir, download, mirrors=mirrors)


def read_data_sets(
    train_dir: Optional[PathLike] = None,
    *,
    one_hot: bool = False,
    dtype: Union[str, type, np.dtype] = "float32",
    reshape: bool = True,
    validation_size: int = 5000,
    download: bool = True,
    seed: Optional[int] = None,
    mirrors: Optional[Sequence[str]] = None,
) -> Datasets:
    """MNIST the way TensorFlow's ``input_data.read_data_sets`` (and TFLearn's) serve it.

    Returns ``Datasets(train, validation, test)``: ``validation`` holds the first
    ``validation_size`` training examples, ``train`` the rest (55,000 by default), both in
    file order; ``test`` the 10,000 test examples. Each is a ``DataSet`` with ``images``
    (also ``_images``), ``labels`` (also ``_labels``), ``num_examples``,
    ``epochs_completed`` and ``next_batch(batch_size, shuffle=True)``.

    - ``train_dir``: the data directory (see :func:`data_dir`).
    - ``dtype``: "float32" (default) or "float64" scale images to [0, 1]; "uint8" keeps the
      raw bytes.
    - ``reshape``: images of shape ``(n, 784)``; if false, ``(n, 28, 28)``.
    - ``one_hot``: labels as float32 rows of 10 with a single 1; else uint8 class numbers.
    - ``validation_size``: from 0 to 60,000, else :class:`ValueError`.
    - ``seed``: seeds the shuffling of ``next_batch`` (``None``: different every run).
    - ``download``, ``mirrors``: as for :func:`load_mnist`.

    Unlike TensorFlow's, the arguments after ``train_dir`` are keyword-only: TensorFlow's
    second positional parameter is ``fake_data``, which this loader does not have.
    """
    return MNIST.read_data_sets(
        train_dir,
        one_hot=one_hot,
        dtype=dtype,
        reshape=reshape,
        validation_size=validation_size,
        download=download,
        seed=seed,
        mirrors=mirrors,
    )
