"""Learning rates by epoch, for :class:`mnistmlp.callbacks.LearningRateScheduler`.

Each schedule is a frozen object called with an epoch index (from 0, as Keras counts) that
returns that epoch's learning rate, computed with Python floats exactly as its formula reads::

    from mnistmlp import schedules
    from mnistmlp.callbacks import LearningRateScheduler

    model.fit(X, y, epochs=30, callbacks=[LearningRateScheduler(schedules.CosineDecay(0.1, 30))])

======================  ==========================================================================
``StepDecay``           ``initial * factor ** (epoch // step_size)``
``ExponentialDecay``    ``initial * decay_rate ** (epoch / decay_epochs)`` (``//`` if ``staircase``)
``CosineDecay``         ``initial * ((1 - alpha) * c + alpha)``,
                        ``c = (1 + cos(pi * min(epoch, decay_epochs) / decay_epochs)) / 2``
``PiecewiseConstant``   ``values[0]`` while ``epoch <= boundaries[0]``, ``values[i]`` while
                        ``boundaries[i - 1] < epoch <= boundaries[i]``, then ``values[-1]``
                        (Keras's ``PiecewiseConstantDecay``)
======================  ==========================================================================

With SGD's own ``decay_rate`` the schedule sets the rate that decays per step.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from typing import Any, ClassVar, Dict, Tuple, Type

from ._spec import POSITIVE, Boolean, Interval, Rule, shown

__all__ = ["Schedule", "StepDecay", "ExponentialDecay", "CosineDecay", "PiecewiseConstant", "SCHEDULES"]

_EPOCH = Interval(0, integer=True)
_POSITIVE_INTEGER = Interval(1, integer=True)


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A learning rate per epoch: ``schedule(epoch)``. Subclasses give ``name``, their
    fields' rules (``constraints``) and :meth:`rate`."""

    name: ClassVar[str]
    constraints: ClassVar[Dict[str, Rule]] = {}

    def __post_init__(self) -> None:
        for field, rule in self.constraints.items():
            value = rule.check(f"{type(self).__name__}: {field}", getattr(self, field))
            object.__setattr__(self, field, value)

    def __call__(self, epoch: int) -> float:
        return self.rate(_EPOCH.check("epoch", epoch))

    def rate(self, epoch: int) -> float:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class StepDecay(Schedule):
    initial_learning_rate: float
    factor: float = 0.5
    step_size: int = 10

    name: ClassVar[str] = "step"
    constraints: ClassVar[Dict[str, Rule]] = {
        "initial_learning_rate": POSITIVE, "factor": POSITIVE, "step_size": _POSITIVE_INTEGER,
    }

    def rate(self, epoch: int) -> float:
        return self.initial_learning_rate * self.factor ** (epoch // self.step_size)


@dataclasses.dataclass(frozen=True)
class ExponentialDecay(Schedule):
    initial_learning_rate: float
    decay_rate: float
    decay_epochs: float = 1.0
    staircase: bool = False

    name: ClassVar[str] = "exponential"
    constraints: ClassVar[Dict[str, Rule]] = {
        "initial_learning_rate": POSITIVE, "decay_rate": POSITIVE, "decay_epochs": POSITIVE, "staircase": Boolean(),
    }

    def rate(self, epoch: int) -> float:
        exponent = epoch / self.decay_epochs
        return self.initial_learning_rate * self.decay_rate ** (math.floor(exponent) if self.staircase else exponent)


@dataclasses.dataclass(frozen=True)
class CosineDecay(Schedule):
    initial_learning_rate: float
    decay_epochs: int
    alpha: float = 0.0

    name: ClassVar[str] = "cosine"
    constraints: ClassVar[Dict[str, Rule]] = {
        "initial_learning_rate": POSITIVE, "decay_epochs": _POSITIVE_INTEGER, "alpha": Interval(0, 1),
    }

    def rate(self, epoch: int) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * min(epoch, self.decay_epochs) / self.decay_epochs))
        return self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha)


@dataclasses.dataclass(frozen=True)
class PiecewiseConstant(Schedule):
    boundaries: Tuple[int, ...]
    values: Tuple[float, ...]

    name: ClassVar[str] = "piecewise"

    def __post_init__(self) -> None:
        label = "PiecewiseConstant"
        boundaries = tuple(_EPOCH.check(f"{label}: boundaries[{i}]", b) for i, b in enumerate(_sequence(self.boundaries)))
        values = tuple(float(POSITIVE.check(f"{label}: values[{i}]", v)) for i, v in enumerate(_sequence(self.values)))
        if list(boundaries) != sorted(set(boundaries)):
            raise ValueError(f"{label}: boundaries must increase, got {shown(list(boundaries))}")
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"{label}: needs one value more than boundaries ({len(boundaries) + 1}), got {len(values)}")
        object.__setattr__(self, "boundaries", boundaries)
        object.__setattr__(self, "values", values)

    def rate(self, epoch: int) -> float:
        return self.values[bisect.bisect_left(self.boundaries, epoch)]


def _sequence(value: Any) -> Tuple[Any, ...]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"expected a sequence of numbers, got {shown(value)}")
    return tuple(value)


#: Each schedule by its name (the command line's ``--lr-schedule NAME:...``).
SCHEDULES: Dict[str, Type[Schedule]] = {cls.name: cls for cls in (StepDecay, ExponentialDecay, CosineDecay,
                                                                   PiecewiseConstant)}
