"""Metrics: accuracy, the one TFLearn's regression uses by default for classification."""

from __future__ import annotations

from ._errors import unsupported

__all__ = ["Accuracy", "get"]


class Accuracy:
    """The fraction of samples whose most probable class is the target's."""

    def __init__(self, name=None):
        self.name = name or "Accuracy"


def get(metric) -> Accuracy:
    if isinstance(metric, Accuracy):
        return metric
    if metric in ("default", "accuracy", "acc"):
        return Accuracy()
    raise unsupported(f"the metric {metric!r}", "only accuracy ('default', 'accuracy' or tflearn.metrics.Accuracy())")
