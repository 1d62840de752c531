"""Fashion-MNIST, Zalando's images of clothes: MNIST's format and sizes, and the interface of
:mod:`mnistmlp.datasets.mnist` but for the loader's name (``load_fashion_mnist`` for
``load_mnist``).

::

    from mnistmlp.datasets import fashion_mnist

    images, labels = fashion_mnist.load_fashion_mnist("train")
    data = fashion_mnist.read_data_sets(one_hot=True)
    fashion_mnist.CLASS_NAMES[labels[0]]         # 'Ankle boot'

The same four file names as MNIST, looked for in the data directory (the ``data_dir``
argument, else ``$MNISTMLP_FASHION_DATA``, else ``$XDG_CACHE_HOME/mnistmlp/fashion-mnist``),
then in ``/usr/share/datasets/fashion-mnist`` (where the Debian package
``dataset-fashion-mnist`` installs them), and otherwise downloaded into the data directory
from :data:`MIRRORS`. Checks and caching are those of :mod:`mnistmlp.datasets.mnist`, whose
functions these mirror:

- ``load_fashion_mnist(split="train", data_dir=None, download=True, *, mirrors=None)``
- ``read_data_sets(train_dir=None, *, one_hot=False, dtype="float32", reshape=True,
  validation_size=5000, download=True, seed=None, mirrors=None)``
- ``data_dir(data_dir=None)``, ``status(data_dir=None)``, ``verify(data_dir=None)``,
  ``fetch(data_dir=None, *, mirrors=None, progress=None)``
- ``FASHION_MNIST`` (the ``IdxDataset``), ``MIRRORS``, ``SYSTEM_DIRS``, ``CLASS_NAMES``.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from ._base import FileStatus, IdxDataset
from ._files import PathLike
from ._tfcompat import Datasets

__all__ = [
    "CLASS_NAMES",
    "FASHION_MNIST",
    "MIRRORS",
    "SYSTEM_DIRS",
    "data_dir",
    "fetch",
    "load_fashion_mnist",
    "read_data_sets",
    "status",
    "verify",
]

#: Base URLs serving the four ``.gz`` files, tried in order.
MIRRORS: Tuple[str, ...] = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)

#: Read-only folders searched after the data directory.
SYSTEM_DIRS: Tuple[Path, ...] = (Path("/usr/share/datasets/fashion-mnist"),)

#: The label of each class number.
CLASS_NAMES: Tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

FASHION_MNIST = IdxDataset.mnist_format(
    name="Fashion-MNIST",
    slug="fashion-mnist",
    env_var="MNISTMLP_FASHION_DATA",
    sha256={
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
    class_names=CLASS_NAMES,
    mirrors=MIRRORS,
    system_dirs=SYSTEM_DIRS,
)


def data_dir(data_dir: Optional[PathLike] = None) -> Path:
    """The Fashion-MNIST data directory: ``data_dir``, else ``$MNISTMLP_FASHION_DATA``, else
    ``$XDG_CACHE_HOME/mnistmlp/fashion-mnist``. Downloads go there."""
    return FASHION_MNIST.data_dir(data_dir)


def status(data_dir: Optional[PathLike] = None) -> List[FileStatus]:
    """Where each file is and whether it is valid; see :func:`mnistmlp.datasets.mnist.status`."""
    return FASHION_MNIST.status(data_dir)


def verify(data_dir: Optional[PathLike] = None) -> List[FileStatus]:
    """Check all four files; see :func:`mnistmlp.datasets.mnist.verify`."""
    return FASHION_MNIST.verify(data_dir)


def fetch(
    data_dir: Optional[PathLike] = None,
    *,
    mirrors: Optional[Sequence[str]] = None,
    progress: Optional[bool] = None,
) -> List[FileStatus]:
    """Download the missing files and verify all; see :func:`mnistmlp.datasets.mnist.fetch`."""
    return FASHION_MNIST.fetch(data_dir, mirrors=mirrors, progress=progress)


def load_fashion_mnist(
    split: str = "train",
    data_dir: Optional[PathLike] = None,
    download: bool = True,
    *,
    mirrors: Optional[Sequence[str]] = None,
) -> Tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST's ``split`` ("train" or "test") as uint8 ``(images, labels)``; see
    :func:`mnistmlp.datasets.mnist.load_mnist`."""
    return FASHION_MNIST.load(split, data_dir, download, mirrors=mirrors)


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
    """Fashion-MNIST as TensorFlow's ``read_data_sets`` serves MNIST; see
    :func:`mnistmlp.datasets.mnist.read_data_sets`."""
    return FASHION_MNIST.read_data_sets(
        train_dir,
        one_hot=one_hot,
        dtype=dtype,
        reshape=reshape,
        validation_size=validation_size,
        download=download,
        seed=seed,
        mirrors=mirrors,
    )
