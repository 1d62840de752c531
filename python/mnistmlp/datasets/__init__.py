"""Datasets in the IDX format: MNIST and Fashion-MNIST, downloaded, verified and cached.

- :mod:`.mnist` and :mod:`.fashion_mnist`: ``load_mnist`` / ``load_fashion_mnist``,
  TensorFlow-style ``read_data_sets``, and ``data_dir``, ``status``, ``verify``, ``fetch``.
- :mod:`.idx`: read and write any IDX file (``read_idx``, ``write_idx``).
- :class:`IdxDataset`: the description of a dataset in MNIST's layout, to load others.
- :class:`DataError` (a ``ValueError``): a missing, unreadable or corrupt data file;
  :class:`DownloadError`, its subclass: no mirror delivered a valid copy.
"""

from . import fashion_mnist, idx, mnist
from ._base import FileStatus, IdxDataset, IdxFile, Split
from ._errors import DataError, DownloadError
from ._tfcompat import DataSet, Datasets

__all__ = [
    "DataError",
    "DataSet",
    "Datasets",
    "DownloadError",
    "FileStatus",
    "IdxDataset",
    "IdxFile",
    "Split",
    "fashion_mnist",
    "idx",
    "mnist",
]
