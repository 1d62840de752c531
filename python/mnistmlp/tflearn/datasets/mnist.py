"""TFLearn's ``tflearn.datasets.mnist``: MNIST, found or downloaded, verified and cached.

``read_data_sets(train_dir=None, fake_data=False, one_hot=False, ...)`` returns
``.train`` (55,000), ``.validation`` (5,000) and ``.test`` (10,000), as TFLearn's does.
TFLearn's default ``train_dir`` is ``'mnist/'`` under the working directory; mnistmlp's is
its data directory (``MNISTMLP_DATA``, else ``~/.cache/mnistmlp/mnist``), so the data is
shared by every project instead of downloaded again into each.
"""

from __future__ import annotations

from ...datasets import mnist as _mnist
from .._errors import unsupported

__all__ = ["read_data_sets", "load_data"]


def read_data_sets(train_dir=None, fake_data=False, one_hot=False, **kwargs):
    """MNIST as TensorFlow's tutorial loader returns it (see mnistmlp.datasets.mnist)."""
    if fake_data:
        raise unsupported("read_data_sets(fake_data=True)")
    return _mnist.read_data_sets(train_dir, one_hot=one_hot, **kwargs)


def load_data(data_dir=None, one_hot=False):
    """``(trainX, trainY, testX, testY)``: the 55,000 training and 10,000 test samples."""
    data = read_data_sets(data_dir, one_hot=one_hot)
    return data.train.images, data.train.labels, data.test.images, data.test.labels
