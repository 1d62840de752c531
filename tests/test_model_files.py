"""Model files: safetensors, no pickle, exact round trips, clean failures on bad files; and
pickled models, which are their model file's bytes."""

import copy
import errno
import fcntl
import json
import os
import pickle
import re
import signal
import stat
import struct
import subprocess
import sys
import time
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
    dict(optimizer=optimizers.RMSProp(0.01, momentum=0.5), activation="leaky_relu", clip_norm=1.0),
    dict(optimizer="adagrad", activation=["elu", "linear"], dtype="float64"),
    dict(optimizer=optimizers.Momentum(0.05), dropout=0.1),
]


def test_the_round_trips_cover_every_optimizer_and_activation():
    models = [mnistmlp.MLP([20, 16, 8, 4], **config) for config in CONFIGS]
    assert {model.optimizer.name for model in models} == set(optimizers.OPTIMIZERS)
    assert {name for model in models for name in model.activation} == set(mnistmlp.model.ACTIVATIONS)


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


def assert_same_state(model, other):
    """Weights, optimizer state and counters, bitwise."""
    (training, layers), (other_training, other_layers) = model._snapshot(), other._snapshot()
    assert training == other_training and len(layers) == len(other_layers)
    for section, other_section in zip(layers, other_layers):
        for (W, b), (other_W, other_b) in zip(section, other_section):
            assert np.array_equal(W, other_W) and np.array_equal(b, other_b)


@pytest.mark.parametrize("config", CONFIGS)
def test_pickled_models_train_on_exactly_as_the_original(config):
    X, y = data()
    original = mnistmlp.MLP([20, 16, 8, 4], seed=3, threads=1, **config)
    original.fit(X, y, epochs=1, batch_size=32, verbose=0)
    pickled = pickle.dumps(original)
    assert b"mnistmlp._core" not in pickled  # the engine's state travels as the model file's bytes
    restored = pickle.loads(pickled)
    assert type(restored) is mnistmlp.MLP and repr(restored) == repr(original)
    assert (restored.threads, restored.device, restored.seed) == (1, "cpu", 3)
    assert restored.history_.history == original.history_.history
    assert_same_state(restored, original)
    for model in (original, restored):  # shuffles, dropout masks and updates go on alike
        model.fit(X, y, epochs=1, batch_size=32, verbose=0)
    assert_same_state(restored, original)
    assert np.array_equal(restored.predict_proba(X), original.predict_proba(X))


def test_copies_keep_the_thread_setting_and_are_independent():
    X, y = data()
    default = mnistmlp.MLP([20, 4], seed=0, threads=None)
    copied = copy.deepcopy(default)
    assert copied._requested_threads == 0 and copied.threads == default.threads  # the default, wherever restored
    copied.fit(X, y, verbose=0)
    assert default.steps_ == 0 and copied.steps_ > 0


def unpickled(model_file: bytes) -> mnistmlp.MLP:
    """What ``pickle.loads`` makes of a pickled model whose model file's bytes are ``model_file``."""
    state = mnistmlp.MLP([20, 4]).__getstate__()
    state["_model_file"] = model_file
    model = mnistmlp.MLP.__new__(mnistmlp.MLP)
    model.__setstate__(state)
    return model


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


def set_training(key, value):
    def change(tensors, meta, config):
        config["training"][key] = value

    return change


def set_raw(key, text, within=()):
    """The description's ``key`` (in the objects ``within``) set to a raw JSON text that
    json.dumps would not write."""
    def change(tensors, meta, config):
        target = config
        for outer in within:
            target = target[outer]
        target[key] = "@raw@"
        meta["mnistmlp"] = json.dumps(config).replace('"@raw@"', text)

    return change


@pytest.mark.parametrize(
    "change,match",
    [
        (lambda t, m, c: m.pop("mnistmlp"), "model description .* is missing"),
        (lambda t, m, c: m.update(mnistmlp="{not json"), "not valid JSON"),
        (lambda t, m, c: m.update(mnistmlp="[1, 2]"), "model description must be a JSON object, got a list of 2"),
        (lambda t, m, c: m.update(format="other"), "not an mnistmlp model file"),
        (lambda t, m, c: m.update(format_version="7"), "format version '7' is not supported"),
        (set_key("activation", ["gelu"]), r"activation\[0\] must be one of 'relu', .*, got \"gelu\""),
        (set_key("activation", ["relu", "relu"]), "activation must list 1 value .one per hidden layer., got 2"),
        (set_key("output_activation", "softplus"), "output_activation must be one of"),
        (set_key("loss", "hinge"), "loss must be one of"),
        (set_key("optimizer", {"name": "nadam"}), "optimizer.name must be one of 'sgd', 'momentum', 'adam', 'rmsprop', 'adagrad', got \"nadam\""),
        (set_key("layer_sizes", [20, 9, 4]), r"layers.0.weight has shape \(20, 8\), expected \(20, 9\)"),
        (set_key("dtype", "float64"), "tensor layers.0.weight holds float32 values, expected float64"),
        (set_training("step", -1), r"training.step must be an integer in \[0, 9007199254740992\], got -1"),
        (lambda t, m, c: c["optimizer"].update(momentum=1.5), r"optimizer.momentum must be a finite number in \[0, 1\), got 1.5"),
        (lambda t, m, c: c["optimizer"].update(eval="__import__('os')"), "optimizer has unknown settings: eval"),
        (lambda t, m, c: t.pop("optimizer.velocity.layers.1.bias"), "missing tensors: optimizer.velocity.layers.1.bias"),
        (lambda t, m, c: t.update(extra=np.zeros(3, np.float32)), "unexpected tensors: extra"),
        (lambda t, m, c: t.update({"layers.0.bias": np.full(8, np.nan, np.float32)}), "layers.0.bias holds NaN or Inf"),
        (lambda t, m, c: t.update({"layers.1.weight": np.zeros((4, 8), np.float32)}), "layer shapes must chain"),
        (lambda t, m, c: t.update({"optimizer.velocity.layers.0.weight": np.zeros((16, 20), np.float32)}),
         r"bad.safetensors: tensor optimizer.velocity.layers.0.weight has shape \(16, 20\), expected \(20, 8\)"),
        # What fuzzing found: every malformed description is refused before the model sees it.
        (set_key("weight_init", [{}, "zeros"]), "weight_init.0. must be one of .*, got a JSON object"),
        (set_training("step", 2**63), "training.step must be an integer in .0, 9007199254740992., got 9223372036854775808"),
        (set_training("epoch", mnistmlp._core.COUNTER_LIMIT + 1), "training.epoch must be an integer in"),
        (set_raw("loss_average", "1e400", within=["training"]), "training.loss_average must be a finite number >= 0, got inf"),
        (set_training("loss_average", -0.5), "training.loss_average must be a finite number >= 0, got -0.5"),
        (set_training("accuracy_average", 1.5), r"training.accuracy_average must be a finite number in \[0, 1\]"),
        (lambda t, m, c: c["training"].pop("epoch"), "training lacks epoch"),
        (lambda t, m, c: c.pop("clip_norm"), "the model description lacks clip_norm"),
        (set_key("clip_norm", "1.0"), "clip_norm must be None or a finite number > 0"),
        (set_key("seed", True), "seed must be an integer in .0, 18446744073709551615., got true"),
        (set_key("seed", 2**64), "seed must be an integer in"),
        (set_key("layer_sizes", [20, True, 4]), r"layer_sizes\[1\] must be an integer >= 1, got true"),
        (set_key("layer_sizes", [20]), "layer_sizes must list at least an input and an output size"),
        (set_key("dtype", ["float32"]), "dtype must be one of 'float32', 'float64', got a list of 1"),
        (set_key("dropout", [{"a": 1}]), r"dropout\[0\] must be a finite number in \[0, 1\), got a JSON object"),
        (set_key("bogus", 1), "the model description has unknown keys: bogus"),
        (set_key("extra", [1]), "extra must be a JSON object"),
        (lambda t, m, c: c["optimizer"].pop("nesterov"), "optimizer lacks nesterov"),
        (lambda t, m, c: c["optimizer"].update(momentum="0.9"), "optimizer.momentum must be a finite number"),
        (lambda t, m, c: c["optimizer"].update(nesterov=0), "optimizer.nesterov must be True or False, got 0"),
        (lambda t, m, c: c["optimizer"].update(learning_rate=10**400), "optimizer.learning_rate must be a finite number"),
        (lambda t, m, c: c["optimizer"].update(name=["sgd"]), "optimizer.name must be one of"),
        (set_raw("seed", "NaN"), "not valid JSON.*NaN"),
        (set_raw("seed", "1" * 5000), "not valid JSON"),
        (set_raw("extra", "[" * 600000 + "]" * 600000), "model description is 1,200,... characters long, more than"),
        (set_raw("extra", '{"a":' * 5000 + "1" + "}" * 5000), "model description nests too deeply"),
    ],
)
def test_inconsistent_files_are_refused(saved, change, match):
    path, tensors, meta = saved
    bad = rewrite(path, tensors, meta, change)
    with pytest.raises(ModelFileError, match=match) as info:
        mnistmlp.MLP.load(bad)
    assert "bad.safetensors" in str(info.value)
    with pytest.raises(ModelFileError, match=match.replace("bad.safetensors", "the pickled model")) as info:
        unpickled(bad.read_bytes())
    assert str(info.value).startswith("the pickled model: ")


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
        if content is not None:
            with pytest.raises(ModelFileError, match="the pickled model: not readable safetensors data"):
                unpickled(content)
    foreign = tmp_path / "foreign.safetensors"
    save_file({"weight": np.zeros((2, 2), np.float32)}, foreign)
    with pytest.raises(ModelFileError, match="not an mnistmlp model file"):
        mnistmlp.MLP.load(foreign)


def header_and_body(data):
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + length]), data[8 + length:]


def with_header(header, body):
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + body


@pytest.mark.parametrize("dtype", ["F8_E4M3", "BF16", "F16", "I32", "BOOL"])
def test_tensors_of_other_dtypes_are_refused_by_name(saved, tmp_path, dtype):
    path, _, _ = saved
    header, body = header_and_body(path.read_bytes())
    entry = header["layers.1.bias"]
    begin, end = entry["data_offsets"]
    width = {"F8_E4M3": 1, "BOOL": 1, "BF16": 2, "F16": 2, "I32": 4}[dtype]
    entry.update(dtype=dtype, shape=[(end - begin) // width])
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(with_header(header, body))
    with pytest.raises(ModelFileError, match=f"bad.safetensors: tensor layers.1.bias holds {dtype} values, expected float32"):
        mnistmlp.MLP.load(bad)


def test_huge_layer_sizes_are_refused_in_bounded_memory(saved, tmp_path):
    """A file cannot make the reader allocate more than its own size: sizes in the
    description must match tensors the file really holds, and safetensors checks each
    tensor's declared bytes against the file before anything is read."""
    import tracemalloc

    path, tensors, meta = saved
    hostile = [rewrite(path, tensors, meta, set_key("layer_sizes", [20, 10**9, 4]))]
    header, body = header_and_body(path.read_bytes())
    header["layers.0.weight"].update(shape=[20, 10**9])  # 80 GB declared, 640 bytes present
    hostile.append(tmp_path / "claims-80GB.safetensors")
    hostile[-1].write_bytes(with_header(header, body))
    for bad in hostile:
        for read, name in ((mnistmlp.MLP.load, bad.name), (unpickled, "the pickled model")):
            source = bad.read_bytes() if read is unpickled else bad
            tracemalloc.start()
            try:
                with pytest.raises(ModelFileError, match=name):
                    read(source)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            assert peak < 10 * bad.stat().st_size + 2**20


def test_extra_holds_any_json_object(tmp_path):
    model = mnistmlp.MLP([20, 4], seed=0)
    path = tmp_path / "m.safetensors"
    model.save(path, extra={"tflearn": {"layers": ["FullyConnected"]}, "deep": [[{"x": None}]]})
    assert mnistmlp.MLP.load(path).layer_sizes == [20, 4]
    with pytest.raises(ValueError, match="m.safetensors: not saved: extra must be a JSON object"):
        model.save(path, extra=["not", "an", "object"])
    with pytest.raises(ValueError):
        model.save(path, extra={"loss": float("nan")})  # JSON has no NaN, and loading refuses it
    assert mnistmlp.MLP.load(path).layer_sizes == [20, 4]  # the file saved first is untouched


# -- saving: the bytes, durability, atomicity, failures -----------------------------------

PARTIAL = re.compile(r"\..+\.[0-9a-f]{16}\.mnistmlp-partial")


def names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_the_bytes_follow_the_safetensors_format(tmp_path):
    X, y = data()
    model = mnistmlp.MLP([20, 7, 4], optimizer="adam", dtype="float64", seed=0)
    model.fit(X, y, verbose=0)
    path = tmp_path / "m.safetensors"
    model.save(path)
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    text = raw[8:8 + length]
    assert length % 8 == 0 and text.startswith(b"{") and set(text[len(text.rstrip(b" ")):]) <= {ord(" ")}
    header = json.loads(text)
    entries = sorted((entry["data_offsets"], name) for name, entry in header.items() if name != "__metadata__")
    assert entries[0][0][0] == 0 and entries[-1][0][1] == len(raw) - 8 - length, "the data fills the file"
    assert all(a[1] == b[0] for (a, _), (b, _) in zip(entries, entries[1:])), "contiguous, no holes"
    loaded = load_file(path)
    weights = dict(enumerate(model.get_weights()))
    for (begin, end), name in entries:
        assert header[name]["dtype"] == "F64" and list(loaded[name].shape) == header[name]["shape"]
        assert loaded[name].astype("<f8").tobytes() == raw[8 + length + begin: 8 + length + end]
        if name.startswith("layers."):
            layer, kind = int(name.split(".")[1]), name.split(".")[2]
            assert np.array_equal(loaded[name], weights[layer][0 if kind == "weight" else 1])


def test_a_save_reaches_the_disk_before_it_takes_the_name(tmp_path, monkeypatch):
    """The file is flushed, then renamed over the target, then the folder is flushed: after a
    crash or a power cut the target is the old file or the new one, never an empty or partial
    one. On Linux the file has no name at all until it is complete (O_TMPFILE)."""
    model = mnistmlp.MLP([20, 8, 4], seed=0)
    path = tmp_path / "m.safetensors"
    model.save(path)
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        kind = "folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        events.append((f"fsync {kind}", names(tmp_path)))
        real_fsync(fd)

    def replace(source, target, **kwargs):
        events.append(("rename", names(tmp_path)))
        real_replace(source, target, **kwargs)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    model.fit(*data(), verbose=0)
    model.save(path)
    assert [event for event, _ in events] == ["fsync file", "rename", "fsync folder"]
    if hasattr(os, "O_TMPFILE"):
        assert events[0][1] == ["m.safetensors"], "the unfinished file has no name"
    assert names(tmp_path) == ["m.safetensors"]
    assert np.array_equal(mnistmlp.MLP.load(path).get_weights()[0][0], model.get_weights()[0][0])


def test_without_o_tmpfile_the_unfinished_file_is_named_and_locked(tmp_path, monkeypatch):
    monkeypatch.delattr(os, "O_TMPFILE", raising=False)  # as on macOS, or a filesystem without it
    model = mnistmlp.MLP([20, 8, 4], seed=0)
    path = tmp_path / "m.safetensors"
    seen = []
    real_fsync = os.fsync

    def fsync(fd):
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            partial = [name for name in names(tmp_path) if PARTIAL.fullmatch(name)]
            with open(tmp_path / partial[0], "rb") as other:
                with pytest.raises(BlockingIOError):  # held by the save writing it
                    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
            seen.append(partial)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    model.save(path)
    assert len(seen) == 1 and seen[0][0].startswith(".m.safetensors.")
    assert names(tmp_path) == ["m.safetensors"]
    mnistmlp.MLP.load(path)


def test_a_save_removes_the_partial_files_of_dead_saves_only(tmp_path):
    orphan = tmp_path / ".m.safetensors.0123456789abcdef.mnistmlp-partial"
    live = tmp_path / ".other.safetensors.fedcba9876543210.mnistmlp-partial"
    unrelated = [tmp_path / ".m.safetensors.x1y2.tmp", tmp_path / "notes.mnistmlp-partial", tmp_path / "other.safetensors"]
    for file in [orphan, live] + unrelated:
        file.write_bytes(b"bytes")
    model = mnistmlp.MLP([20, 4], seed=0)
    with open(live, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another process's save, still running
        model.save(tmp_path / "m.safetensors")
        assert live.exists() and not orphan.exists()
    model.save(tmp_path / "m.safetensors")  # that save was killed: its lock died with it
    assert names(tmp_path) == sorted(["m.safetensors"] + [file.name for file in unrelated])


def test_a_partial_file_taken_for_an_orphan_before_it_is_locked_is_made_again(tmp_path, monkeypatch):
    monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    real_flock = fcntl.flock
    raced = []

    def flock(fd, operation):
        if not raced:  # another save's cleanup removes it between its creation and its lock
            raced.extend(name for name in names(tmp_path) if PARTIAL.fullmatch(name))
            os.unlink(tmp_path / raced[0])
        return real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)
    path = tmp_path / "m.safetensors"
    mnistmlp.MLP([20, 4], seed=0).save(path)
    assert raced and names(tmp_path) == ["m.safetensors"]
    mnistmlp.MLP.load(path)


def test_a_full_disk_raises_oserror_naming_the_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    model = mnistmlp.MLP([20, 8, 4], seed=0)
    path = tmp_path / "m.safetensors"
    model.save(path)
    before = path.read_bytes()
    real_write = os.write

    def full_after_100_bytes(fd, chunk):
        real_write(fd, bytes(chunk[:100]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    model.fit(*data(), verbose=0)
    monkeypatch.setattr(os, "write", full_after_100_bytes)
    with pytest.raises(OSError) as info:
        model.save(path)
    monkeypatch.undo()
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path), info.value
    assert str(path) in str(info.value) and "No space left on device" in str(info.value)
    assert path.read_bytes() == before and names(tmp_path) == ["m.safetensors"]


FILE_SIZE_LIMIT_CHILD = """
import json, resource, signal, sys
import mnistmlp
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))
try:
    mnistmlp.MLP([784, 64, 10], seed=0).save(sys.argv[1])  # about 200 kB
except OSError as exc:
    print(json.dumps([exc.errno, exc.filename, str(exc)]))
"""


def test_a_write_failure_for_real_keeps_the_old_file_and_leaves_no_debris(tmp_path):
    path = tmp_path / "m.safetensors"
    mnistmlp.MLP([20, 4], seed=0).save(path)
    before = path.read_bytes()
    child = subprocess.run([sys.executable, "-c", FILE_SIZE_LIMIT_CHILD, str(path)], capture_output=True,
                           text=True, timeout=120)
    assert child.returncode == 0 and child.stdout, child.stderr
    number, filename, message = json.loads(child.stdout)
    assert number == errno.EFBIG and filename == str(path) and "File too large" in message
    assert path.read_bytes() == before and names(tmp_path) == ["m.safetensors"]


SAVE_FOREVER_CHILD = """
import os, sys, time
import mnistmlp
path, kind, moment = sys.argv[1:]
if kind == "named":
    del os.O_TMPFILE
if moment == "mid-save":  # wait to be killed where the file is written but not yet in place
    def fsync(fd):
        print("mid-save", flush=True)
        time.sleep(600)
    os.fsync = fsync
model = mnistmlp.MLP([784, 512, 512, 10], optimizer="adam", seed=0, threads=1)
print("ready", flush=True)
while True:
    model.save(path)
    if moment == "mid-save":
        sys.exit("saved without flushing the file to disk")
"""


@pytest.mark.parametrize("kind", ["unnamed", "named"])
def test_saves_killed_at_random_moments_leave_the_old_file_or_the_new_one_and_no_debris(tmp_path, kind):
    """SIGKILL a process that saves in a loop: first in the middle of its first save, then at
    seeded random moments. After each kill the target is absent or a complete file, and the
    folder holds nothing else but partial files the next save recognises as orphans; after
    that save, only the target remains."""
    if kind == "unnamed" and not hasattr(os, "O_TMPFILE"):
        pytest.skip("no O_TMPFILE on this system")
    expected = mnistmlp.MLP([784, 512, 512, 10], optimizer="adam", seed=0, threads=1).get_weights()
    folder = tmp_path / "saves"
    folder.mkdir()
    path = folder / "m.safetensors"
    rng = np.random.default_rng(12 if kind == "named" else 21)
    for moment in ["mid-save"] + ["random"] * 4:
        child = subprocess.Popen([sys.executable, "-c", SAVE_FOREVER_CHILD, str(path), kind, moment],
                                 stdout=subprocess.PIPE)
        assert child.stdout.readline() == b"ready\n"
        if moment == "mid-save":
            assert child.stdout.readline() == b"mid-save\n"
        else:
            time.sleep(rng.uniform(0, 0.15))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        child.stdout.close()
        debris = [name for name in names(folder) if name != path.name]
        if moment == "mid-save":
            assert not path.exists() and len(debris) == (kind == "named"), debris
        if path.exists():
            for (W, b), (We, be) in zip(mnistmlp.MLP.load(path).get_weights(), expected):
                assert np.array_equal(W, We) and np.array_equal(b, be)
        assert all(PARTIAL.fullmatch(name) for name in debris), debris
    mnistmlp.MLP([20, 4], seed=0).save(folder / "other.safetensors")
    assert names(folder) == sorted({"other.safetensors", *([path.name] if path.exists() else [])})


def test_settings_given_as_numpy_numbers_save_and_load(tmp_path):
    model = mnistmlp.MLP([20, 4], optimizer=optimizers.SGD(np.float64(0.1), momentum=np.float64(0.5)), seed=0)
    path = tmp_path / "m.safetensors"
    model.save(path)
    assert mnistmlp.MLP.load(path).optimizer == optimizers.SGD(0.1, momentum=0.5)


def test_long_file_names_save_through_a_named_partial_file(tmp_path, monkeypatch):
    monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    path = tmp_path / ("é" * 120 + ".safetensors")  # 252 bytes: its partial file's name is shortened
    mnistmlp.MLP([20, 4], seed=0).save(path)
    assert names(tmp_path) == [path.name]
