"""Model files: safetensors, no pickle, exact round trips, clean failures on bad files."""

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import mnistmlp
from mnistmlp import ModelFileError, optimizers


def data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 20), dtype=np.float32)
    return X, (X[:, :10].sum(1) > X[:, 10:].sum(1)).astype(int) + 2 * (X[:, 0] > 0.5)


CONFIGS = [
    dict(optimizer="adam", dropout=0.2, clip_norm=1.0),
    dict(optimizer=optimizers.SGD(0.1, momentum=0.9, nesterov=True), weight_decay=[1e-3, 0.0, 1e-2]),
    dict(optimizer=optimizers.SGD(0.05, decay_rate=0.5, decay_steps=10), activation=["tanh", "sigmoid"], dtype="float64"),
    dict(optimizer="sgd", loss="mean_square", output_activation="sigmoid"),
]


@pytest.mark.parametrize("config", CONFIGS)
def test_round_trip_predicts_identically_and_resumes_exactly(tmp_path, config):
    X, y = data()
    path = tmp_path / "m.safetensors"
    uninterrupted = mnistmlp.MLP([20, 16, 8, 4], seed=3, **config)
    uninterrupted.fit(X, y, epochs=2, batch_size=32, verbose=0)

    first = mnistmlp.MLP([20, 16, 8, 4], seed=3, **config)
    first.fit(X, y, epochs=1, batch_size=32, verbose=0)
    first.save(path)
    loaded = mnistmlp.MLP.load(path)
    assert np.array_equal(loaded.predict_proba(X), first.predict_proba(X))
    assert (loaded.steps_, loaded.epochs_, loaded.seed) == (first.steps_, first.epochs_, 3)
    assert repr(loaded) == repr(first)
    loaded.fit(X, y, epochs=1, batch_size=32, verbose=0)
    for (W, b), (We, be) in zip(loaded.get_weights(), uninterrupted.get_weights()):
        assert np.array_equal(W, We) and np.array_equal(b, be)
    assert loaded.history_.history["loss_moving_average"] == uninterrupted.history_.history["loss_moving_average"][1:]


def test_file_layout_is_plain_safetensors(tmp_path):
    X, y = data()
    model = mnistmlp.MLP([20, 16, 4], optimizer="adam", seed=0)
    model.fit(X, y, verbose=0)
    path = tmp_path / "m.safetensors"
    model.save(path)
    tensors = load_file(path)  # any safetensors reader, e.g. PyTorch users'
    assert sorted(tensors) == sorted(
        f"{prefix}{i}.{kind}" for prefix in ("layers.", "optimizer.m.layers.", "optimizer.v.layers.")
        for i in range(2) for kind in ("weight", "bias"))
    assert tensors["layers.0.weight"].shape == (20, 16) and tensors["layers.1.bias"].shape == (4,)
    assert np.array_equal(tensors["layers.0.weight"], model.get_weights()[0][0])
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as f:
        meta = f.metadata()
    assert meta["format"] == "mnistmlp" and meta["format_version"] == "1"
    config = json.loads(meta["mnistmlp"])
    assert config["layer_sizes"] == [20, 16, 4] and config["optimizer"]["name"] == "adam"
    assert config["training"]["step"] == model.steps_
    assert b"pickle" not in path.read_bytes() and not path.read_bytes().startswith(b"\x80")
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temporary file left


def test_a_failed_save_leaves_the_old_file_and_no_debris(tmp_path, monkeypatch):
    X, y = data()
    model = mnistmlp.MLP([20, 4], seed=0)
    path = tmp_path / "m.safetensors"
    model.save(path)
    before = path.read_bytes()

    def explode(*args, **kwargs):
        Path(args[1]).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr("safetensors.numpy.save_file", explode)
    model.fit(X, y, verbose=0)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


@pytest.fixture
def saved(tmp_path):
    model = mnistmlp.MLP([20, 8, 4], optimizer=optimizers.SGD(0.1, momentum=0.9), seed=0)
    path = tmp_path / "good.safetensors"
    model.save(path)
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as f:
        meta = f.metadata()
    return path, load_file(path), meta


def rewrite(path, tensors, meta, change):
    tensors, meta = dict(tensors), dict(meta)
    original = meta["mnistmlp"]
    config = json.loads(original)
    change(tensors, meta, config)
    if meta.get("mnistmlp") == original:
        meta["mnistmlp"] = json.dumps(config)
    bad = path.with_name("bad.safetensors")
    save_file(tensors, bad, metadata=meta)
    return bad


def set_key(key, value):
    def change(tensors, meta, config):
        config[key] = value

    return change


@pytest.mark.parametrize(
    "change,match",
    [
        (lambda t, m, c: m.pop("mnistmlp"), "model description .* is missing"),
        (lambda t, m, c: m.update(mnistmlp="{not json"), "not valid JSON"),
        (lambda t, m, c: m.update(format="other"), "not an mnistmlp model file"),
        (lambda t, m, c: m.update(format_version="7"), "format version '7' is not supported"),
        (set_key("activation", ["gelu"]), "activation must list 1 valid values"),
        (set_key("output_activation", "softplus"), "unknown output_activation"),
        (set_key("loss", "hinge"), "unknown loss"),
        (set_key("optimizer", {"name": "rmsprop"}), "optimizer must name one of"),
        (set_key("layer_sizes", [20, 9, 4]), r"layers.0.weight has shape \(20, 8\), expected \(20, 9\)"),
        (set_key("dtype", "float64"), "is float32, expected float64"),
        (set_key("training", {"step": -1}), "training counters"),
        (lambda t, m, c: c["optimizer"].update(momentum=1.5), "inconsistent model settings.*momentum"),
        (lambda t, m, c: c["optimizer"].update(eval="__import__('os')"), "inconsistent model settings.*unknown settings"),
        (lambda t, m, c: t.pop("optimizer.velocity.layers.1.bias"), "missing tensors: optimizer.velocity.layers.1.bias"),
        (lambda t, m, c: t.update(extra=np.zeros(3, np.float32)), "unexpected tensors: extra"),
        (lambda t, m, c: t.update({"layers.0.bias": np.full(8, np.nan, np.float32)}), "layers.0.bias holds NaN or Inf"),
        (lambda t, m, c: t.update({"layers.1.weight": np.zeros((4, 8), np.float32)}), "layer shapes must chain"),
    ],
)
def test_inconsistent_files_are_refused(saved, change, match):
    path, tensors, meta = saved
    bad = rewrite(path, tensors, meta, change)
    with pytest.raises(ModelFileError, match=match) as info:
        mnistmlp.MLP.load(bad)
    assert "bad.safetensors" in str(info.value)


def test_broken_files_are_refused(saved, tmp_path):
    path, _, _ = saved
    data = path.read_bytes()
    cases = {
        "missing.safetensors": None,
        "truncated.safetensors": data[: len(data) // 2],
        "header-only.safetensors": data[:8],
        "empty.safetensors": b"",
        "random.safetensors": np.random.default_rng(0).bytes(500),
        "pickle.safetensors": b"\x80\x04\x95" + b"\x00" * 40,
    }
    for name, content in cases.items():
        target = tmp_path / name
        if content is not None:
            target.write_bytes(content)
        with pytest.raises(ModelFileError, match=name):
            mnistmlp.MLP.load(target)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"weight": np.zeros((2, 2), np.float32)}, foreign)
    with pytest.raises(ModelFileError, match="not an mnistmlp model file"):
        mnistmlp.MLP.load(foreign)
