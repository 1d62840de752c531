"""The model's specification, written once: the names it knows, the defaults it takes and the
rules its values obey.

Every layer reads its facts from here: :class:`~mnistmlp.MLP`, model files, the NumPy
reference, the command line, the study and the TFLearn API. A leaf module: it imports nothing
from the package, so anything may import it.

* Name tables: :data:`ACTIVATIONS`, :data:`OUTPUT_ACTIVATIONS`, :data:`LOSSES`,
  :data:`WEIGHT_INITS` (with each initialiser's default scale), :data:`DEVICES`,
  :data:`DTYPES`. (The engine has the same names in C++; a test holds the two together.)
* Rules (scikit-learn's ``_parameter_constraints`` is the model): :class:`Rule` objects such
  as ``Interval(0, 1, closed="left")`` or ``OneOf(ACTIVATIONS)`` say what a value must be, in
  words, and refuse anything else with TypeError (wrong type) or ValueError (wrong value)
  naming the setting.
* Optimizers: frozen dataclasses whose fields are their settings with defaults, each class
  with a table of the rules (``constraints``) its fields obey; :data:`OPTIMIZERS` maps the
  names to the classes.
* :class:`ModelSpec`: a model's architecture and training settings, frozen and checked
  against its own table, with ``to_dict`` / ``from_dict`` for model files.
* :data:`TRAINING_RULES`: the training counters a model file carries.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import re
from collections.abc import Iterable
from typing import Any, ClassVar, Dict, Mapping, Optional, Sequence, Tuple, Type

__all__ = [
    "ACTIVATIONS", "OUTPUT_ACTIVATIONS", "LOSSES", "WEIGHT_INITS", "WEIGHT_INIT_ALIASES", "DEVICES", "DTYPES",
    "COUNTER_LIMIT", "SEED_LIMIT", "Rule", "Interval", "OneOf", "Boolean", "OrNone", "Exactly", "AnyOf", "DeviceName",
    "DEVICE",
    "Optimizer", "SGD", "Momentum", "Adam", "RMSProp", "AdaGrad", "OPTIMIZERS", "ModelSpec", "TRAINING_RULES",
]

#: Hidden-layer activations (the output layer may also be softmax).
ACTIVATIONS = ("relu", "sigmoid", "tanh", "linear", "leaky_relu", "elu")
OUTPUT_ACTIVATIONS = ("softmax", "linear", "relu", "sigmoid", "tanh", "leaky_relu", "elu")
#: leaky_relu's slope for negative inputs: TFLearn's default.
LEAKY_RELU_ALPHA = 0.1
LOSSES = ("categorical_crossentropy", "mean_square")
#: Weight initialisers and the scale each uses by default (a stddev; None: set by fan-in/out).
WEIGHT_INITS: Dict[str, Optional[float]] = {
    "truncated_normal": 0.02,  # TFLearn's default for fully_connected
    "normal": 0.02,
    "uniform": 0.02,
    "glorot_uniform": None,
    "xavier": None,
    "he_normal": None,
    "zeros": None,
}
#: Other names for initialisers, as the engine knows them.
WEIGHT_INIT_ALIASES = {"xavier": "glorot_uniform"}
DEVICES = ("cpu", "cuda")
DTYPES = ("float32", "float64")
#: The engine's bound on the training counters (steps, epochs): 2**53, exact as a double.
COUNTER_LIMIT = 2**53
#: The engine's seed is an unsigned 64-bit integer.
SEED_LIMIT = 2**64 - 1


# -- rules --------------------------------------------------------------------------------


def shown(value: Any) -> str:
    """``value`` as a message shows it: short, in JSON's words where it is JSON, whatever its
    depth (a model file may hold anything)."""
    if isinstance(value, dict):
        return "a JSON object" if all(isinstance(k, str) for k in value) else f"a dict of {len(value)}"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)}"
    try:
        text = json.dumps(value) if isinstance(value, (str, bool)) or value is None else repr(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else f"{text[:30]}... ({len(text)} characters)"


class Rule:
    """What a value must be: ``expected`` in words; :meth:`check` refuses anything else.

    Subclasses say which values have the right type (:meth:`has_type`: else TypeError) and
    which of those are allowed (:meth:`allows`: else ValueError).
    """

    expected = "a value"

    def has_type(self, value: Any) -> bool:
        return True

    def allows(self, value: Any) -> bool:
        return True

    def check(self, name: str, value: Any) -> Any:
        """``value``, if it obeys the rule; else TypeError or ValueError naming ``name``."""
        if not self.has_type(value):
            raise TypeError(f"{name} must be {self.expected}, got {shown(value)}")
        if not self.allows(value):
            raise ValueError(f"{name} must be {self.expected}, got {shown(value)}")
        return value


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class Interval(Rule):
    """A finite number (``integer=True``: an integer) between ``low`` and ``high`` (None: no
    bound on that side), each end included as ``closed`` says: "both", "left", "right" or
    "neither"."""

    def __init__(self, low: Optional[float] = None, high: Optional[float] = None, *, closed: str = "both",
                 integer: bool = False) -> None:
        self.low, self.high, self.closed, self.integer = low, high, closed, integer
        kind = "an integer" if integer else "a finite number"
        if low is not None and high is not None:
            left, right = "[" if closed in ("both", "left") else "(", "]" if closed in ("both", "right") else ")"
            self.expected = f"{kind} in {left}{_number_text(low)}, {_number_text(high)}{right}"
        elif low is not None:
            self.expected = f"{kind} {'>=' if closed in ('both', 'left') else '>'} {_number_text(low)}"
        elif high is not None:
            self.expected = f"{kind} {'<=' if closed in ('both', 'right') else '<'} {_number_text(high)}"
        else:
            self.expected = kind

    def has_type(self, value: Any) -> bool:
        return _is_integer(value) if self.integer else _is_real(value)

    def allows(self, value: Any) -> bool:
        if not self.integer:
            try:
                if not math.isfinite(value):
                    return False
            except OverflowError:  # an integer beyond any float
                return False
        if self.low is not None and not (value >= self.low if self.closed in ("both", "left") else value > self.low):
            return False
        return self.high is None or (value <= self.high if self.closed in ("both", "right") else value < self.high)


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e16 else repr(value)


class OneOf(Rule):
    """One of the names ``names``."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self.expected = "one of " + ", ".join(f"'{name}'" for name in self.names)

    def has_type(self, value: Any) -> bool:
        return isinstance(value, str)

    def allows(self, value: Any) -> bool:
        return value in self.names


class Boolean(Rule):
    expected = "True or False"

    def has_type(self, value: Any) -> bool:
        return isinstance(value, bool) or (type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_"))

    def check(self, name: str, value: Any) -> Any:
        return bool(super().check(name, value))


class OrNone(Rule):
    """None, or a value obeying ``rule``."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.expected = f"None or {rule.expected}"

    def check(self, name: str, value: Any) -> Any:
        if value is None:
            return None
        try:
            return self.rule.check(name, value)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{name} must be {self.expected}, got {shown(value)}") from None


class Exactly(Rule):
    """The one value ``value`` (such as ``math.inf``)."""

    def __init__(self, value: Any) -> None:
        self.value = value
        self.expected = shown(value)

    def has_type(self, value: Any) -> bool:
        return isinstance(value, type(self.value)) and not isinstance(value, bool)

    def allows(self, value: Any) -> bool:
        return bool(value == self.value)


class AnyOf(Rule):
    """A value obeying one of ``rules`` (the first it obeys normalises it)."""

    def __init__(self, *rules: Rule) -> None:
        self.rules = rules
        self.expected = " or ".join(rule.expected for rule in rules)

    def has_type(self, value: Any) -> bool:
        return any(rule.has_type(value) for rule in self.rules)

    def allows(self, value: Any) -> bool:
        return any(rule.has_type(value) and rule.allows(value) for rule in self.rules)

    def check(self, name: str, value: Any) -> Any:
        super().check(name, value)
        return next(rule for rule in self.rules if rule.has_type(value) and rule.allows(value)).check(name, value)


class DeviceName(Rule):
    """Where a model runs: ``"cpu"``, ``"cuda"`` (the first GPU) or ``"cuda:N"`` (the GPU of
    CUDA index N). The engine reads the same forms (``parse_placement``)."""

    expected = "'cpu', 'cuda' or 'cuda:N' (N: a GPU's index)"

    def has_type(self, value: Any) -> bool:
        return isinstance(value, str)

    def allows(self, value: Any) -> bool:
        kind, colon, index = value.partition(":")
        return kind in DEVICES and (not colon or (kind == "cuda" and re.fullmatch("[0-9]{1,9}", index) is not None))


POSITIVE = Interval(0, closed="neither")
FRACTION = Interval(0, 1, closed="left")
NON_NEGATIVE = Interval(0)
DEVICE = DeviceName()


# -- optimizers ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Optimizer:
    """Settings of an optimizer: frozen, checked when made against ``constraints``.

    ``name`` is the name the optimizer goes by (``MLP(optimizer=...)``, model files);
    ``engine`` the update rule the engine runs.
    """

    learning_rate: float  # every optimizer's first setting

    name: ClassVar[str]
    engine: ClassVar[str]
    constraints: ClassVar[Dict[str, Rule]]

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = self.constraints[field.name].check(field.name, getattr(self, field.name))
            object.__setattr__(self, field.name, value)  # frozen: normalised once, while being made
        self._check_together()

    def _check_together(self) -> None:
        """Rules that tie settings together."""

    def settings(self) -> Dict[str, Any]:
        """The settings by name."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


class _Decaying:
    """SGD's learning-rate decay (TensorFlow's exponential_decay) and momentum rules."""

    momentum: float
    nesterov: bool
    decay_rate: Optional[float]
    decay_steps: Optional[float]

    def _check_together(self) -> None:
        if self.nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs a momentum > 0")
        if (self.decay_rate is None) != (self.decay_steps is None):
            raise ValueError("give both decay_rate and decay_steps, or neither")


_DECAY_CONSTRAINTS: Dict[str, Rule] = {
    "nesterov": Boolean(),
    # A rate above 1 grows the learning rate exponentially: training then diverges.
    "decay_rate": OrNone(Interval(0, 1, closed="right")),
    "decay_steps": OrNone(POSITIVE),
    "staircase": Boolean(),
}


@dataclasses.dataclass(frozen=True)
class SGD(_Decaying, Optimizer):
    """Stochastic gradient descent, with optional momentum, Nesterov momentum and exponential
    learning-rate decay (see :mod:`mnistmlp.optimizers` for the update equations)."""

    learning_rate: float = 0.01
    momentum: float = 0.0
    nesterov: bool = False
    decay_rate: Optional[float] = None
    decay_steps: Optional[float] = None
    staircase: bool = False

    name: ClassVar[str] = "sgd"
    engine: ClassVar[str] = "sgd"
    constraints: ClassVar[Dict[str, Rule]] = {"learning_rate": POSITIVE, "momentum": FRACTION, **_DECAY_CONSTRAINTS}


@dataclasses.dataclass(frozen=True)
class Momentum(_Decaying, Optimizer):
    """SGD with momentum, with TFLearn's name and defaults (``tflearn.Momentum``): the update
    of :class:`SGD` with momentum."""

    learning_rate: float = 0.001
    momentum: float = 0.9
    nesterov: bool = False
    decay_rate: Optional[float] = None
    decay_steps: Optional[float] = None
    staircase: bool = False

    name: ClassVar[str] = "momentum"
    engine: ClassVar[str] = "sgd"
    constraints: ClassVar[Dict[str, Rule]] = {"learning_rate": POSITIVE, "momentum": FRACTION, **_DECAY_CONSTRAINTS}


@dataclasses.dataclass(frozen=True)
class Adam(Optimizer):
    """Adam, as TensorFlow 1 computes it (see :mod:`mnistmlp.optimizers` for where epsilon sits)."""

    learning_rate: float = 0.001
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8

    name: ClassVar[str] = "adam"
    engine: ClassVar[str] = "adam"
    # Epsilon 0 would divide 0 by 0 for weights whose gradient stays zero (MNIST's border pixels).
    constraints: ClassVar[Dict[str, Rule]] = {"learning_rate": POSITIVE, "beta1": FRACTION, "beta2": FRACTION,
                                              "epsilon": POSITIVE}


@dataclasses.dataclass(frozen=True)
class RMSProp(Optimizer):
    """RMSProp as TensorFlow 1 runs it (TFLearn's defaults): a mean square that starts at 1.0,
    epsilon inside the square root, optional momentum."""

    learning_rate: float = 0.001
    decay: float = 0.9
    momentum: float = 0.0
    epsilon: float = 1e-10

    name: ClassVar[str] = "rmsprop"
    engine: ClassVar[str] = "rmsprop"
    constraints: ClassVar[Dict[str, Rule]] = {"learning_rate": POSITIVE, "decay": FRACTION, "momentum": FRACTION,
                                              "epsilon": POSITIVE}


@dataclasses.dataclass(frozen=True)
class AdaGrad(Optimizer):
    """AdaGrad as TensorFlow 1 runs it (TFLearn's defaults): the accumulator starts at
    ``initial_accumulator_value`` and has no epsilon."""

    learning_rate: float = 0.001
    initial_accumulator_value: float = 0.1

    name: ClassVar[str] = "adagrad"
    engine: ClassVar[str] = "adagrad"
    constraints: ClassVar[Dict[str, Rule]] = {"learning_rate": POSITIVE, "initial_accumulator_value": POSITIVE}


#: Every optimizer by the name it goes by.
OPTIMIZERS: Dict[str, Type[Optimizer]] = {cls.name: cls for cls in (SGD, Momentum, Adam, RMSProp, AdaGrad)}


def optimizer_from_dict(settings: Mapping[str, Any]) -> Optimizer:
    """The optimizer a model file's ``{"name": ..., settings...}`` describes: exactly the
    fields of its class, each obeying its rule."""
    settings = dict(settings)
    cls: Any = OPTIMIZERS[OneOf(tuple(OPTIMIZERS)).check("optimizer.name", settings.pop("name", None))]
    fields = [field.name for field in dataclasses.fields(cls)]
    unknown = sorted(set(settings) - set(fields))
    missing = [name for name in fields if name not in settings]
    if unknown:
        raise ValueError(f"optimizer has unknown settings: {', '.join(unknown)[:200]}")
    if missing:
        raise ValueError(f"optimizer lacks {', '.join(missing)}")
    try:
        return cls(**settings)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"optimizer.{exc}") from None


# -- the model ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A multilayer perceptron's architecture and training settings, checked when made.

    Per-layer settings are lists: ``activation`` and ``dropout`` one per hidden layer,
    ``weight_init`` and ``weight_decay`` one per layer. :meth:`make` takes what
    :class:`~mnistmlp.MLP` takes (a single value for every layer, an optimizer by name);
    :meth:`from_dict` what a model file holds.
    """

    layer_sizes: Tuple[int, ...]
    activation: Tuple[str, ...]
    output_activation: str
    loss: str
    optimizer: Optimizer
    weight_init: Tuple[str, ...]
    dropout: Tuple[float, ...]
    weight_decay: Tuple[float, ...]
    clip_norm: Optional[float]
    seed: int
    dtype: str

    #: The rule of each setting (of each entry, for the per-layer ones).
    constraints: ClassVar[Dict[str, Rule]] = {
        "layer_sizes": Interval(1, integer=True),
        "activation": OneOf(ACTIVATIONS),
        "output_activation": OneOf(OUTPUT_ACTIVATIONS),
        "loss": OneOf(LOSSES),
        "weight_init": OneOf(tuple(WEIGHT_INITS)),
        "dropout": FRACTION,
        "weight_decay": NON_NEGATIVE,
        "clip_norm": OrNone(POSITIVE),
        "seed": Interval(0, SEED_LIMIT, integer=True),
        "dtype": OneOf(DTYPES),
    }
    #: Which per-layer settings have one entry per hidden layer, which one per layer.
    per_hidden_layer: ClassVar[Tuple[str, ...]] = ("activation", "dropout")
    per_layer: ClassVar[Tuple[str, ...]] = ("weight_init", "weight_decay")

    def __post_init__(self) -> None:
        sizes = self.layer_sizes
        if not isinstance(sizes, (list, tuple)) or len(sizes) < 2:
            raise ValueError(f"layer_sizes must list at least an input and an output size, got {shown(sizes)}")
        layers = len(sizes) - 1
        counts = {"layer_sizes": (layers + 1, "the inputs and each layer")}
        counts.update({name: (layers - 1, "hidden layer") for name in self.per_hidden_layer})
        counts.update({name: (layers, "layer") for name in self.per_layer})
        for name, rule in self.constraints.items():
            value = getattr(self, name)
            if name in counts:
                count, per = counts[name]
                if not isinstance(value, (list, tuple)):
                    raise TypeError(f"{name} must be a list of {count} (one per {per}), got {shown(value)}")
                if len(value) != count:
                    raise ValueError(f"{name} must list {count} value{'s' * (count != 1)} (one per {per}), "
                                     f"got {len(value)}")
                value = tuple(rule.check(f"{name}[{i}]", item) for i, item in enumerate(value))
            else:
                value = rule.check(name, value)
            object.__setattr__(self, name, value)
        if not isinstance(self.optimizer, Optimizer):
            raise TypeError(f"optimizer must be an mnistmlp.optimizers object, got {shown(self.optimizer)}")
        if self.loss == "categorical_crossentropy" and self.output_activation != "softmax":
            raise ValueError(f"loss 'categorical_crossentropy' needs output_activation 'softmax', "
                             f"got {self.output_activation!r}")

    @property
    def n_layers(self) -> int:
        return len(self.layer_sizes) - 1

    @classmethod
    def make(cls, layer_sizes: Sequence[int], *, activation: Any = "relu", output_activation: str = "softmax",
             loss: str = "categorical_crossentropy", optimizer: Any = "adam", learning_rate: Optional[float] = None,
             weight_init: Any = "he_normal", dropout: Any = 0.0, weight_decay: Any = 0.0,
             clip_norm: Optional[float] = None, seed: int = 0, dtype: Any = "float32") -> "ModelSpec":
        """A spec from :class:`~mnistmlp.MLP`'s arguments: one value stands for every layer,
        ``optimizer`` may be a name, ``learning_rate`` replaces the optimizer's."""
        if isinstance(layer_sizes, (str, bytes)) or not isinstance(layer_sizes, Iterable):
            raise TypeError(
                f"layer_sizes must be a sequence of sizes such as [784, 100, 10], got {shown(layer_sizes)}"
                + (" (pass all the sizes as one list: MLP([784, 100, 10]))" if _is_integer(layer_sizes) else "")
            )
        sizes = tuple(layer_sizes)
        layers = max(len(sizes) - 1, 1)

        def each(value: Any, count: int) -> Any:
            return (value,) * count if isinstance(value, (str, numbers.Real)) else value

        if not isinstance(dtype, str):  # np.float32, np.dtype("float64"), ...
            dtype = getattr(dtype, "__name__", None) or getattr(dtype, "name", None) or dtype
        return cls(
            layer_sizes=sizes, activation=each(activation, layers - 1), output_activation=output_activation,
            loss=loss, optimizer=make_optimizer(optimizer, learning_rate), weight_init=each(weight_init, layers),
            dropout=each(dropout, layers - 1), weight_decay=each(weight_decay, layers), clip_norm=clip_norm,
            seed=seed, dtype=dtype,
        )

    def to_dict(self) -> Dict[str, Any]:
        """The spec as a model file's description holds it (JSON-able)."""
        described: Dict[str, Any] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, Optimizer):
                value = {"name": value.name, **value.settings()}
            elif isinstance(value, tuple):
                value = list(value)
            described[field.name] = value
        return described

    @classmethod
    def from_dict(cls, described: Mapping[str, Any]) -> "ModelSpec":
        """The spec a model file describes: exactly the keys :meth:`to_dict` writes."""
        fields = [field.name for field in dataclasses.fields(cls)]
        missing = [name for name in fields if name not in described]
        if missing:
            raise ValueError(f"the model description lacks {', '.join(missing)}")
        settings = {name: described[name] for name in fields}
        optimizer = settings["optimizer"]
        if not isinstance(optimizer, dict):
            raise TypeError(f"optimizer must be a JSON object, got {shown(optimizer)}")
        settings["optimizer"] = optimizer_from_dict(optimizer)
        return cls(**settings)


def make_optimizer(optimizer: Any, learning_rate: Optional[float] = None) -> Optimizer:
    """An optimizer object from a name or an object; ``learning_rate``, when given, replaces
    its own."""
    if isinstance(optimizer, str):
        name = optimizer.lower()
        if name not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {optimizer!r}; expected one of: {', '.join(OPTIMIZERS)} "
                             "or an object from mnistmlp.optimizers")
        cls: Any = OPTIMIZERS[name]  # a subclass, whose settings all have defaults
        return cls() if learning_rate is None else cls(learning_rate=learning_rate)
    if isinstance(optimizer, Optimizer):
        return optimizer if learning_rate is None else dataclasses.replace(optimizer, learning_rate=learning_rate)
    raise TypeError(f"optimizer must be a name ({', '.join(OPTIMIZERS)}) or an mnistmlp.optimizers object, "
                    f"got {type(optimizer).__name__}")


#: The training counters a model file carries, and what each must be.
TRAINING_RULES: Dict[str, Rule] = {
    "step": Interval(0, COUNTER_LIMIT, integer=True),
    "epoch": Interval(0, COUNTER_LIMIT, integer=True),
    "loss_average": NON_NEGATIVE,
    "accuracy_average": Interval(0, 1),
}


def check_training(training: Any) -> Dict[str, Any]:
    """The training counters of a model file, each obeying its rule, and no other key."""
    if not isinstance(training, dict):
        raise TypeError(f"training must be a JSON object, got {shown(training)}")
    missing = [name for name in TRAINING_RULES if name not in training]
    unknown = sorted(set(training) - set(TRAINING_RULES))
    if missing:
        raise ValueError(f"training lacks {', '.join(missing)}")
    if unknown:
        raise ValueError(f"training has unknown keys: {', '.join(unknown)[:200]}")
    return {name: rule.check(f"training.{name}", training[name]) for name, rule in TRAINING_RULES.items()}
