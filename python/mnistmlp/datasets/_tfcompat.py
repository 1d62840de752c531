"""The ``read_data_sets`` interface of TensorFlow's (and TFLearn's) old MNIST tutorial loader.

``read_data_sets`` returns ``Datasets(train, validation, test)``; each is a :class:`DataSet`
with ``images``, ``labels``, ``num_examples``, ``epochs_completed`` and ``next_batch``. As in
TensorFlow, the validation set is the *first* ``validation_size`` training examples and the
training set the rest, both in file order; images are scaled to [0, 1] unless
``dtype="uint8"``.

Unlike TensorFlow, ``next_batch`` shuffles an index instead of the arrays, so ``images`` and
``labels`` stay in file order, and each ``DataSet`` has its own random generator (seeded
from ``read_data_sets``'s ``seed``) instead of reseeding numpy's global one.
"""

from __future__ import annotations

import operator
from typing import Callable, NamedTuple, Optional, Tuple, Union

import numpy as np

__all__ = ["DataSet", "Datasets", "read_data_sets"]

Seed = Union[None, int, np.random.SeedSequence, np.random.Generator]
DTypeLike = Union[str, type, np.dtype]

#: The image dtypes ``read_data_sets`` produces: raw bytes, or values scaled to [0, 1].
IMAGE_DTYPES = (np.dtype(np.uint8), np.dtype(np.float32), np.dtype(np.float64))


class DataSet:
    """One split of a dataset: ``images`` and ``labels``, and minibatches drawn from them.

    ``_images`` and ``_labels`` are the same arrays under TensorFlow's private names, which
    some tutorials read.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, *, seed: Seed = None) -> None:
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self._images = images
        self._labels = labels
        self._num_examples = len(images)
        self._epochs_completed = 0
        self._index_in_epoch = 0
        self._order = np.arange(self._num_examples)
        self._rng = np.random.default_rng(seed)

    @property
    def images(self) -> np.ndarray:
        """The images, in file order: ``(n, rows * cols)`` or ``(n, rows, cols)``."""
        return self._images

    @property
    def labels(self) -> np.ndarray:
        """The labels, in file order: class numbers, or one-hot rows."""
        return self._labels

    @property
    def num_examples(self) -> int:
        """The number of examples."""
        return self._num_examples

    @property
    def epochs_completed(self) -> int:
        """How many times ``next_batch`` has gone past the last example."""
        return self._epochs_completed

    def next_batch(self, batch_size: int, shuffle: bool = True) -> Tuple[np.ndarray, np.ndarray]:
        """The next ``batch_size`` examples, as ``(images, labels)`` copies.

        Each epoch visits every example once, in a new random order when ``shuffle``. A batch
        that crosses the end of an epoch holds the epoch's remaining examples followed by the
        first ones of the next epoch, which then continues from there (TensorFlow's rule).
        """
        if not 1 <= batch_size <= self._num_examples:
            raise ValueError(
                f"batch_size must be from 1 to the number of examples ({self._num_examples}), "
                f"not {batch_size}"
            )
        start = self._index_in_epoch
        if shuffle and self._epochs_completed == 0 and start == 0:
            self._order = self._rng.permutation(self._num_examples)
        if start + batch_size > self._num_examples:
            self._epochs_completed += 1
            rest = self._order[start:]
            if shuffle:
                self._order = self._rng.permutation(self._num_examples)
            self._index_in_epoch = batch_size - len(rest)
            indices = np.concatenate((rest, self._order[: self._index_in_epoch]))
        else:
            self._index_in_epoch = start + batch_size
            indices = self._order[start : self._index_in_epoch]
        return self._images[indices], self._labels[indices]


class Datasets(NamedTuple):
    """The three splits ``read_data_sets`` returns."""

    train: DataSet
    validation: DataSet
    test: DataSet


def _image_dtype(dtype: DTypeLike) -> np.dtype:
    image_dtype = np.dtype(dtype)
    if image_dtype not in IMAGE_DTYPES:
        raise TypeError(f"invalid image dtype {image_dtype}: expected uint8, float32 or float64")
    return image_dtype


def _prepare_images(images: np.ndarray, dtype: np.dtype, reshape: bool) -> np.ndarray:
    if reshape:
        images = images.reshape(len(images), -1)
    if dtype == np.uint8:
        return images
    # TensorFlow multiplies by 1/255 rather than dividing, in the image dtype.
    return np.multiply(images, dtype.type(1.0 / 255.0), dtype=dtype)


def _prepare_labels(labels: np.ndarray, one_hot: bool, num_classes: int) -> np.ndarray:
    return np.eye(num_classes, dtype=np.float32)[labels] if one_hot else labels


def read_data_sets(
    load: Callable[[str], Tuple[np.ndarray, np.ndarray]],
    *,
    train_size: int,
    num_classes: int,
    one_hot: bool = False,
    dtype: DTypeLike = "float32",
    reshape: bool = True,
    validation_size: int = 5000,
    seed: Optional[int] = None,
) -> Datasets:
    """Build ``Datasets(train, validation, test)`` from ``load(split)``, TensorFlow's way.

    ``load("train")`` and ``load("test")`` return ``(images, labels)`` as uint8 arrays;
    ``train_size`` is the number of training examples, known before loading so that a bad
    ``validation_size`` fails at once. The options are those of the dataset modules'
    ``read_data_sets`` (see :func:`mnistmlp.datasets.mnist.read_data_sets`).

    Raises :class:`ValueError` if ``validation_size`` is not in ``0..train_size`` and
    :class:`TypeError` if ``dtype`` is not uint8, float32 or float64, before loading anything.
    """
    image_dtype = _image_dtype(dtype)
    validation_size = operator.index(validation_size)
    if not 0 <= validation_size <= train_size:
        raise ValueError(
            f"validation_size must be from 0 to {train_size} (the number of training "
            f"examples), not {validation_size}"
        )
    seeds = np.random.SeedSequence(seed).spawn(3)
    splits = []
    for split in ("train", "test"):
        images, labels = load(split)
        splits.append(
            (_prepare_images(images, image_dtype, reshape), _prepare_labels(labels, one_hot, num_classes))
        )
    (train_images, train_labels), (test_images, test_labels) = splits
    return Datasets(
        train=DataSet(train_images[validation_size:], train_labels[validation_size:], seed=seeds[0]),
        validation=DataSet(
            train_images[:validation_size], train_labels[:validation_size], seed=seeds[1]
        ),
        test=DataSet(test_images, test_labels, seed=seeds[2]),
    )
