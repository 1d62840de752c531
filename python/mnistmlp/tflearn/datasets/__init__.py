"""TFLearn's datasets: MNIST."""

from . import mnist

__all__ = ["mnist"]
