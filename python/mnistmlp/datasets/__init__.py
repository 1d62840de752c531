"""Datasets in the IDX format: MNIST and Fashion-MNIST, downloaded, verified and cached."""

from . import fashion_mnist, idx, mnist
from ._errors import DataError

__all__ = ["DataError", "fashion_mnist", "idx", "mnist"]
