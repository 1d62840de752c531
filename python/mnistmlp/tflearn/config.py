"""``init_graph``: defaults for the models built afterwards (threads and seed).

TFLearn configures a global TensorFlow graph here. mnistmlp has no graph: every ``DNN`` is
an independent model, and ``init_graph`` only sets the thread count and seed that the next
``DNN`` objects take.
"""

from __future__ import annotations

import numbers
from typing import Optional

from ._errors import unsupported

__all__ = ["init_graph", "graph_defaults", "init_training_mode", "is_training", "get_training_mode"]

_defaults = {"seed": None, "num_cores": 0}


def init_graph(seed: Optional[int] = None, log_device: bool = False, num_cores: int = 0,
               gpu_memory_fraction: float = 0, soft_placement: bool = True) -> None:
    """Set the thread count (``num_cores``; 0: :class:`mnistmlp.MLP`'s default) and ``seed`` of models
    built next.

    With a seed, weight initialisation, shuffling and dropout repeat exactly from run to run.
    ``log_device``, ``gpu_memory_fraction`` and ``soft_placement`` concern TensorFlow's device
    placement and have no effect here.
    """
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
        raise ValueError(f"init_graph: seed must be an integer >= 0 or None, got {seed!r}")
    if isinstance(num_cores, bool) or not isinstance(num_cores, numbers.Integral) or num_cores < 0:
        raise ValueError(f"init_graph: num_cores must be an integer >= 0 (0: the default), got {num_cores!r}")
    if log_device:
        raise unsupported("init_graph(log_device=True)", "there is no TensorFlow device placement to log")
    _defaults.update(seed=None if seed is None else int(seed), num_cores=int(num_cores))


def _no_training_mode(name: str):
    def refuse(*args, **kwargs):
        raise unsupported(f"tflearn.config.{name}", "mnistmlp has no training-mode switch: fit() trains "
                          "(with dropout), predict() and evaluate() infer (without)")

    refuse.__name__ = name
    refuse.__doc__ = "Not supported by mnistmlp: raises NotImplementedError."
    return refuse


init_training_mode = _no_training_mode("init_training_mode")
is_training = _no_training_mode("is_training")
get_training_mode = _no_training_mode("get_training_mode")


def graph_defaults() -> dict:
    """The current ``init_graph`` settings."""
    return dict(_defaults)
