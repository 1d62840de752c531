"""Mutation fuzzing of model files, shared by the seeded test (``test_model_file_fuzz.py``)
and the long-running atheris harness (``fuzz/fuzz_model_file.py``).

The property: ``MLP.load`` of any byte string either gives a model, or raises exactly
``ModelFileError`` naming the file; a model it gives predicts finite outputs for inputs in
[0, 1], or refuses with a ValueError saying why.

Mutations start from real model files (SGD with momentum and Adam, float32 and float64, one or
two hidden layers, a few training steps so counters and optimizer state are not zero) and
reach every level of the format: raw bytes, the header's length, the header's JSON, the
safetensors metadata, the model description's JSON, tensor entries and tensor values.
"""

from __future__ import annotations

import json
import struct
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

import mnistmlp
from mnistmlp import ModelFileError, optimizers

Mutation = Callable[[np.random.Generator, bytes], Tuple[str, bytes]]

SEED_MODELS = [
    dict(layer_sizes=[6, 5, 3], optimizer=optimizers.SGD(0.1, momentum=0.9), dtype="float32"),
    dict(layer_sizes=[6, 4, 3, 2], optimizer=optimizers.Adam(), dtype="float64", dropout=0.1, clip_norm=2.0),
    dict(layer_sizes=[5, 3, 4], optimizer=optimizers.Adam(0.01), dtype="float32", activation="tanh"),
    dict(layer_sizes=[4, 3, 3, 2], optimizer=optimizers.SGD(0.05, momentum=0.5, nesterov=True,
                                                             decay_rate=0.9, decay_steps=3), dtype="float64",
         weight_decay=[0.01, 0.0, 0.1], activation=["relu", "sigmoid"]),
]


def seed_files() -> List[bytes]:
    """The bytes of a small trained model file for each of ``SEED_MODELS``."""
    files = []
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        for index, settings in enumerate(SEED_MODELS):
            settings = dict(settings)
            model = mnistmlp.MLP(settings.pop("layer_sizes"), seed=index, threads=1, **settings)
            X = rng.random((24, model.layer_sizes[0]))
            model.fit(X, rng.integers(0, model.layer_sizes[-1], 24), epochs=2, batch_size=8, verbose=0)
            path = Path(folder) / f"seed{index}.safetensors"
            model.save(path)
            files.append(path.read_bytes())
    return files


# -- the format, taken apart and put back together ---------------------------------------


def split(data: bytes) -> Tuple[dict, bytes]:
    """(header JSON, tensor bytes) of a well-formed safetensors file."""
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + length]), data[8 + length:]


def dumps(value, raw: Optional[Dict[str, str]] = None) -> str:
    """``value`` as JSON text, each ``"<key>"`` string of ``raw`` replaced by its raw text
    (NaN, 1e999, deep nesting...: what json.dumps would not write)."""
    text = json.dumps(value)
    for key, replacement in (raw or {}).items():
        text = text.replace(json.dumps(key), replacement)
    return text


def join(header, body: bytes, raw: Optional[Dict[str, str]] = None) -> bytes:
    """A safetensors file of ``header`` (any JSON value, see :func:`dumps`) and ``body``."""
    encoded = dumps(header, raw).encode()
    encoded += b" " * (-len(encoded) % 8)
    return struct.pack("<Q", len(encoded)) + encoded + body


WEIRD_VALUES = [
    None, True, False, 0, 1, -1, 2, 3, 0.5, -0.5, 1e300, -1e300, 2**31, 2**53, 2**53 + 1, 2**63, 2**64,
    10**30, -(2**63), "", "relu", "adam", "sgd", "float32", "float64", "zeros", "softmax", "0.9", [], [1], [[]],
    ["relu"], [0.0], {}, {"name": "adam"}, {"": 1}, float("nan"), float("inf"), float("-inf"),
]
# Raw JSON texts json.dumps would not write: literals Python's parser accepts, numbers that
# overflow, very long numbers, deep nesting.
RAW_VALUES = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1" * 5000, "0." + "1" * 5000,
              "[" * 100 + "]" * 100, "[" * 5000 + "]" * 5000, '{"a":' * 3000 + "1" + "}" * 3000]
RAW_MARK = "__raw_value__"


def _weird(rng: np.random.Generator):
    """A value to put somewhere it does not belong, its description, and the raw texts it
    stands for."""
    if rng.random() < 0.25:
        text = RAW_VALUES[rng.integers(len(RAW_VALUES))]
        return RAW_MARK, _short(text), {RAW_MARK: text}
    value = WEIRD_VALUES[rng.integers(len(WEIRD_VALUES))]
    return value, repr(value), {}


def _short(text: str) -> str:
    return repr(text) if len(text) <= 40 else f"{text[:20]!r}...({len(text)} characters)"


def _containers(value, path=()) -> List[tuple]:
    """The path of every dict and list inside ``value`` (itself included)."""
    found = [path] if isinstance(value, (dict, list)) else []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found += _containers(item, path + (key,))
    return found


def _at(value, path):
    for key in path:
        value = value[key]
    return value


def _mutate_json(rng: np.random.Generator, document) -> Tuple[str, dict]:
    """Change one place in ``document`` (in place): drop, replace, add or duplicate a value,
    or shorten or lengthen a list. Returns what was done and the raw texts to substitute."""
    paths = _containers(document)
    path = paths[rng.integers(len(paths))]
    container = _at(document, path)
    where = ".".join(map(str, path)) or "top"
    keys = list(container) if isinstance(container, dict) else list(range(len(container)))
    action = rng.integers(5)
    if action == 0 and keys:
        key = keys[rng.integers(len(keys))]
        del container[key]
        return f"dropped {where}.{key}", {}
    if action == 1 and isinstance(container, list) and container:
        container.append(container[rng.integers(len(container))])
        return f"lengthened {where}", {}
    if action == 2:
        value, shown, raw = _weird(rng)
        if isinstance(container, dict):
            container["unknown_key" if rng.random() < 0.5 else f"k{rng.integers(3)}"] = value
        else:
            container.insert(int(rng.integers(len(container) + 1)), value)
        return f"added {shown} to {where}", raw
    if not keys:
        return "nothing", {}
    key = keys[rng.integers(len(keys))]
    value, shown, raw = _weird(rng)
    container[key] = value
    return f"set {where}.{key} to {shown}", raw


# -- mutations -----------------------------------------------------------------------------


def flip_bytes(rng, data):
    data = bytearray(data)
    header_end = 8 + min(struct.unpack("<Q", bytes(data[:8]))[0], len(data))
    positions = []
    for _ in range(rng.integers(1, 5)):
        limit = header_end if rng.random() < 0.5 else len(data)
        position = int(rng.integers(limit))
        data[position] ^= int(rng.integers(1, 256))
        positions.append(position)
    return f"flipped bytes at {positions}", bytes(data)


def truncate(rng, data):
    end = int(rng.integers(len(data)))
    return f"truncated to {end} bytes", data[:end]


def corrupt_header_length(rng, data):
    (length,) = struct.unpack("<Q", data[:8])
    choices = [0, 1, 7, length - 8, length - 1, length + 1, length + 8, len(data) - 8, len(data), 2**31,
               2**32 + length, 2**63 - 1, 2**64 - 1, int(rng.integers(2**62))]
    value = choices[rng.integers(len(choices))]
    return f"header length {value}", struct.pack("<Q", value % 2**64) + data[8:]


def mutate_description(rng, data):
    """One change to the model description (the ``mnistmlp`` metadata's JSON)."""
    header, body = split(data)
    description = json.loads(header["__metadata__"]["mnistmlp"])
    done, raw = _mutate_json(rng, description)
    header["__metadata__"]["mnistmlp"] = dumps(description, raw)
    return f"description: {done}", join(header, body)


def replace_description(rng, data):
    """The model description replaced by another JSON text (or none)."""
    header, body = split(data)
    texts = ["", "null", "[]", "{}", "1", '"text"', "{not json", "NaN", "[" * 100000, "[" * 5000 + "]" * 5000,
             '{"layer_sizes": [6, 5, 3]}', json.dumps({"x": 1} | json.loads(header["__metadata__"]["mnistmlp"]))]
    text = texts[rng.integers(len(texts))]
    header["__metadata__"]["mnistmlp"] = text
    return f"description replaced by {_short(text)}", join(header, body)


def mutate_metadata(rng, data):
    """One change to the safetensors metadata (format, version, description)."""
    header, body = split(data)
    done, raw = _mutate_json(rng, header["__metadata__"])
    return f"metadata: {done}", join(header, body, raw)


def mutate_tensor_entry(rng, data):
    """One change to a tensor's entry in the header: dtype, shape, offsets, name, presence."""
    header, body = split(data)
    names = [name for name in header if name != "__metadata__"]
    name = names[rng.integers(len(names))]
    entry = header[name]
    action = rng.integers(7)
    if action == 0:
        dtypes = ["F16", "BF16", "F32", "F64", "I8", "I32", "I64", "U8", "BOOL", "F8_E4M3", "F8_E5M2", "C64", "X", 5]
        entry["dtype"] = dtypes[rng.integers(len(dtypes))]
        return f"{name} dtype {entry['dtype']}", join(header, body)
    if action == 1:
        shape = list(entry["shape"])
        edits = [[], shape + [1], shape[:-1], [d + 1 for d in shape], [d * 2 for d in shape], [0] + shape,
                 [2**62] + shape, [-1] + shape, shape[::-1], ["3"], [int(np.prod(shape))]]
        entry["shape"] = edits[rng.integers(len(edits))]
        return f"{name} shape {entry['shape']}", join(header, body)
    if action == 2:
        begin, end = entry["data_offsets"]
        edits = [[end, begin], [begin + 4, end + 4], [begin - 4, end - 4], [0, end - begin], [begin, begin],
                 [0, 2**64 - 1], [begin, end + 2**32], [-1, end], [begin]]
        entry["data_offsets"] = edits[rng.integers(len(edits))]
        return f"{name} offsets {entry['data_offsets']}", join(header, body)
    if action == 3:
        header[name.replace("layers", "layer") if rng.random() < 0.5 else name + "x"] = header.pop(name)
        return f"{name} renamed", join(header, body)
    if action == 4:
        del header[name]
        return f"{name} removed from the header", join(header, body)
    if action == 5:
        header[name] = [entry] if rng.random() < 0.5 else None
        return f"{name} entry replaced", join(header, body)
    end = len(body)
    header["optimizer.velocity.layers.0.bias" if rng.random() < 0.5 else "extra"] = {
        "dtype": "F32", "shape": [2], "data_offsets": [end, end + 8]}
    return "a tensor added", join(header, body + bytes(8))


def mutate_values(rng, data):
    """Tensor values replaced by NaN, Inf, huge, tiny or negative numbers (a valid layout)."""
    header, body = split(data)
    body = bytearray(body)
    names = [name for name in header if name != "__metadata__"]
    name = names[rng.integers(len(names))]
    entry = header[name]
    dtype = np.dtype("<f4" if entry["dtype"] == "F32" else "<f8")
    begin, end = entry["data_offsets"]
    values = np.frombuffer(bytes(body[begin:end]), dtype=dtype).copy()
    replacement = [np.nan, np.inf, -np.inf, 1e30, 3e38, 1e300, -1e20, 1e-40, 1e-310, -1.0, 1e10][rng.integers(11)]
    everywhere = rng.random() < 0.3  # products of huge weights overflow where one alone may not
    with np.errstate(over="ignore"):
        values[slice(None) if everywhere else rng.integers(len(values))] = replacement
    body[begin:end] = values.tobytes()
    return f"{name} holds {replacement}{' everywhere' if everywhere else ''}", join(header, bytes(body))


def splice(rng, data, others: List[bytes]):
    """The header of one file with the tensor bytes of another."""
    other = others[rng.integers(len(others))]
    header, _ = split(data)
    _, body = split(other)
    return "spliced", join(header, body)


MUTATIONS: List[Mutation] = [
    flip_bytes, truncate, corrupt_header_length, mutate_description, mutate_description, mutate_description,
    replace_description, mutate_metadata, mutate_tensor_entry, mutate_tensor_entry, mutate_values,
]


def mutate(rng: np.random.Generator, data: bytes, others: List[bytes]) -> Tuple[str, bytes]:
    """One to three mutations of ``data``; returns what was done and the result."""
    steps = []
    for _ in range(1 if rng.random() < 0.7 else int(rng.integers(2, 4))):
        mutation = MUTATIONS[rng.integers(len(MUTATIONS))] if rng.random() < 0.95 else splice
        try:
            done, data = mutation(rng, data, others) if mutation is splice else mutation(rng, data)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError, struct.error, RecursionError):
            done = f"{mutation.__name__}: not applicable to an already broken file"
        steps.append(done)
    return "; ".join(steps), data


def damaged_file(seed: int, case: int, seeds: List[bytes]) -> Tuple[str, bytes]:
    """Case ``case`` of the seeded run ``seed`` over ``seeds``: what was done, and the bytes."""
    return mutate(np.random.default_rng([seed, case]), seeds[case % len(seeds)], seeds)


# -- the property --------------------------------------------------------------------------


def load_problem(path: Path) -> Tuple[Optional[mnistmlp.MLP], Optional[str]]:
    """(the model MLP.load gives or None, what is wrong with how it behaved or None)."""
    try:
        model = mnistmlp.MLP.load(path, threads=1)
    except ModelFileError as exc:
        if type(exc) is not ModelFileError or str(path) not in str(exc):
            return None, f"{type(exc).__name__} not naming the file: {exc}"
        return None, None
    except BaseException as exc:  # noqa: B036 -- anything else is what this looks for
        if isinstance(exc, KeyboardInterrupt):
            raise
        return None, f"{type(exc).__name__}: {str(exc)[:300]}"
    return model, None


def prediction_problem(model: mnistmlp.MLP) -> Optional[str]:
    """What is wrong with the model's predictions for inputs in [0, 1], or None."""
    rng = np.random.default_rng(0)
    n = model.layer_sizes[0]
    X = np.vstack([np.zeros(n), np.ones(n), rng.random((3, n))]).astype(model.dtype)
    try:
        outputs = model.predict_proba(X)
    except ValueError:
        return None
    except Exception as exc:
        return f"predict raised {type(exc).__name__}: {str(exc)[:300]}"
    if not np.isfinite(outputs).all():
        return f"predicts non-finite outputs {outputs.ravel()[:6]}"
    return None
