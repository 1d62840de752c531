"""The model's specification (mnistmlp/_spec.py): written once, read by every layer, the same
facts as the engine's."""

import ast
import dataclasses
from pathlib import Path

import pytest

import mnistmlp
from mnistmlp import _core, _spec
from mnistmlp._spec import ModelSpec

SPEC_SOURCE = Path(_spec.__file__)


def test_the_spec_is_a_leaf_module():
    """It imports nothing from the package, so that anything may import it."""
    tree = ast.parse(SPEC_SOURCE.read_text())
    imported = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert all(node.level == 0 and not (node.module or "").startswith("mnistmlp") for node in imported)


def test_the_engine_knows_the_same_names():
    engine = _core.known_names()
    assert set(_spec.ACTIVATIONS) | set(_spec.OUTPUT_ACTIVATIONS) == set(engine["activation"])
    assert set(_spec.LOSSES) == set(engine["loss"])
    assert set(_spec.DEVICES) == set(engine["device"])
    assert {_spec.WEIGHT_INIT_ALIASES.get(name, name) for name in _spec.WEIGHT_INITS} == set(engine["weight_init"])
    assert {cls.engine for cls in _spec.OPTIMIZERS.values()} == set(engine["optimizer"])
    assert _spec.COUNTER_LIMIT == _core.COUNTER_LIMIT


@pytest.mark.parametrize("name", list(_spec.OPTIMIZERS))
def test_every_optimizers_defaults_obey_its_rules_and_reach_the_engine(name):
    cls = _spec.OPTIMIZERS[name]
    optimizer = cls()
    assert set(cls.constraints) == {field.name for field in dataclasses.fields(cls)}
    config = mnistmlp.model.engine_optimizer(optimizer)
    assert config.kind == cls.engine
    for setting, value in optimizer.settings().items():
        if value is not None:
            assert getattr(config, setting) == value


@pytest.mark.parametrize("optimizer", list(_spec.OPTIMIZERS))
@pytest.mark.parametrize("activation", _spec.ACTIVATIONS)
def test_a_spec_round_trips_through_its_dict(optimizer, activation):
    spec = ModelSpec.make([6, 5, 4, 3], activation=activation, optimizer=optimizer, dropout=[0.1, 0.0],
                          weight_decay=0.01, clip_norm=2.0, seed=7, dtype="float64", weight_init="xavier")
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    assert spec.to_dict()["optimizer"]["name"] == optimizer


@pytest.mark.parametrize(
    "change,error,match",
    [
        (dict(layer_sizes=[6]), ValueError, "layer_sizes must list at least an input and an output size"),
        (dict(layer_sizes=[6, True, 3]), TypeError, r"layer_sizes\[1\] must be an integer >= 1, got true"),
        (dict(activation=["relu"]), ValueError, r"activation must list 2 values \(one per hidden layer\), got 1"),
        (dict(activation="relu"), TypeError, r"activation must be a list of 2 \(one per hidden layer\)"),
        (dict(dropout=[0.5, float("nan")]), ValueError, r"dropout\[1\] must be a finite number in \[0, 1\), got nan"),
        (dict(seed=2**64), ValueError, r"seed must be an integer in \[0, 18446744073709551615\]"),
        (dict(clip_norm="1"), TypeError, "clip_norm must be None or a finite number > 0, got \"1\""),
        (dict(output_activation="relu"), ValueError, "needs output_activation 'softmax'"),
        (dict(optimizer="adam"), TypeError, "optimizer must be an mnistmlp.optimizers object"),
    ],
)
def test_every_rule_names_the_setting_and_what_it_must_be(change, error, match):
    base = dict(ModelSpec.make([6, 5, 4, 3]).__dict__)
    with pytest.raises(error, match=match):
        ModelSpec(**{**base, **change})


@pytest.mark.parametrize(
    "make,error,match",
    [
        (lambda: _spec.RMSProp(decay=1.0), ValueError, r"decay must be a finite number in \[0, 1\), got 1.0"),
        (lambda: _spec.AdaGrad(initial_accumulator_value=0), ValueError, "initial_accumulator_value must be a finite number > 0"),
        (lambda: _spec.Momentum(momentum="0.9"), TypeError, "momentum must be a finite number in"),
        (lambda: _spec.optimizer_from_dict({"name": "adagrad", "learning_rate": 0.1}), ValueError,
         "optimizer lacks initial_accumulator_value"),
        (lambda: _spec.optimizer_from_dict({"name": "adagrad", "learning_rate": 0.1, "initial_accumulator_value": 0.1,
                                            "epsilon": 1e-7}), ValueError, "optimizer has unknown settings: epsilon"),
    ],
)
def test_optimizer_rules(make, error, match):
    with pytest.raises(error, match=match):
        make()
