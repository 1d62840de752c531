"""TFLearn's model classes."""

from .dnn import DNN

__all__ = ["DNN"]
