"""Model files: one safetensors file per model, never pickle.

Layout (format version 1):

* tensors ``layers.{i}.weight`` (in, out) and ``layers.{i}.bias`` (out,) — PyTorch users can
  read them with ``safetensors.torch.load_file`` (transpose the weights for ``nn.Linear``);
* optimizer state as ``optimizer.{slot}.layers.{i}.weight`` / ``.bias``, with slots
  ``velocity`` (SGD with momentum) or ``m`` and ``v`` (Adam);
* metadata ``format = "mnistmlp"``, ``format_version = "1"`` and ``mnistmlp`` = JSON of the
  architecture, optimizer settings, seed, step and epoch counters.

Files are written atomically (a temporary file beside the target, then a rename). Loading
checks everything before building a model: the header, the format and its version, every
name against the known lists, the dtypes, that layer shapes chain, that values are finite.
Anything wrong raises :class:`ModelFileError` naming the file and the problem.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Tuple, Union

import numpy as np

__all__ = ["ModelFileError", "FORMAT", "FORMAT_VERSION", "write_model_file", "read_model_file"]

FORMAT = "mnistmlp"
FORMAT_VERSION = 1
STATE_SLOTS = {"sgd": ("velocity",), "adam": ("m", "v")}

PathLike = Union[str, "os.PathLike[str]"]


class ModelFileError(ValueError):
    """A model file is missing, truncated, corrupted, foreign or inconsistent."""


def state_slots(optimizer: Dict[str, Any]) -> Tuple[str, ...]:
    """Names of the per-parameter state tensors an optimizer keeps."""
    if optimizer["name"] == "adam":
        return STATE_SLOTS["adam"]
    return STATE_SLOTS["sgd"] if optimizer.get("momentum", 0.0) else ()


def write_model_file(path: PathLike, config: Dict[str, Any], tensors: Dict[str, np.ndarray]) -> None:
    """Write ``tensors`` and ``config`` (JSON-able) to ``path``, atomically."""
    from safetensors.numpy import save_file

    path = Path(path)
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION), FORMAT: json.dumps(config)}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent if str(path.parent) else ".")
    os.close(fd)
    try:
        save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, tmp, metadata=metadata)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_model_file(path: PathLike) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
    """The checked ``(config, tensors)`` of a model file."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        with safe_open(str(path), framework="np") as f:
            metadata = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except (SafetensorError, OSError, ValueError, TypeError) as exc:
        raise ModelFileError(
            f"{path}: not a readable safetensors file (truncated or corrupted?): {exc}"
        ) from None
    if metadata.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an mnistmlp model file (a safetensors file without mnistmlp metadata)")
    version = metadata.get("format_version")
    if version != str(FORMAT_VERSION):
        raise ModelFileError(
            f"{path}: model file format version {version!r} is not supported by this mnistmlp "
            f"(it reads version {FORMAT_VERSION})"
        )
    if FORMAT not in metadata:
        raise ModelFileError(f"{path}: the model description (metadata '{FORMAT}') is missing")
    try:
        config = json.loads(metadata[FORMAT])
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: its mnistmlp metadata is not valid JSON ({exc})") from None
    try:
        _check_config(config)
        _check_tensors(config, tensors)
    except ModelFileError as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    return config, tensors


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ModelFileError(message)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_config(config) -> None:
    # Imported here: model.py imports this module.
    from .model import ACTIVATIONS, LOSSES, OUTPUT_ACTIVATIONS, WEIGHT_INITS

    _require(isinstance(config, dict), "metadata is not a JSON object")
    sizes = config.get("layer_sizes")
    _require(
        isinstance(sizes, list) and len(sizes) >= 2 and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in sizes),
        f"layer_sizes must be a list of at least two positive integers, got {sizes!r}",
    )
    hidden, layers = len(sizes) - 2, len(sizes) - 1
    checks = [
        ("activation", hidden, lambda v: v in ACTIVATIONS),
        ("dropout", hidden, lambda v: _is_number(v) and 0 <= v < 1),
        ("weight_decay", layers, lambda v: _is_number(v) and v >= 0),
        ("weight_init", layers, lambda v: v in WEIGHT_INITS),
    ]
    for key, count, valid in checks:
        values = config.get(key)
        _require(isinstance(values, list) and len(values) == count and all(valid(v) for v in values),
                 f"{key} must list {count} valid values, got {values!r}")
    _require(config.get("output_activation") in OUTPUT_ACTIVATIONS, f"unknown output_activation {config.get('output_activation')!r}")
    _require(config.get("loss") in LOSSES, f"unknown loss {config.get('loss')!r}")
    _require(config.get("dtype") in ("float32", "float64"), f"dtype must be float32 or float64, got {config.get('dtype')!r}")
    clip = config.get("clip_norm")
    _require(clip is None or (_is_number(clip) and clip > 0), f"clip_norm must be null or > 0, got {clip!r}")
    _require(isinstance(config.get("seed"), int) and config["seed"] >= 0, f"seed must be an integer >= 0, got {config.get('seed')!r}")
    optimizer = config.get("optimizer")
    _require(isinstance(optimizer, dict) and optimizer.get("name") in STATE_SLOTS,
             f"optimizer must name one of {', '.join(STATE_SLOTS)}, got {optimizer!r}")
    training = config.get("training")
    _require(
        isinstance(training, dict)
        and all(isinstance(training.get(k), int) and training[k] >= 0 for k in ("step", "epoch"))
        and all(_is_number(training.get(k)) for k in ("loss_average", "accuracy_average")),
        f"training counters are missing or invalid: {training!r}",
    )


def _check_tensors(config, tensors: Dict[str, np.ndarray]) -> None:
    sizes, dtype = config["layer_sizes"], np.dtype(config["dtype"])
    expected = {}
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        for prefix in ["layers"] + [f"optimizer.{slot}.layers" for slot in state_slots(config["optimizer"])]:
            expected[f"{prefix}.{i}.weight"] = (n_in, n_out)
            expected[f"{prefix}.{i}.bias"] = (n_out,)
    missing = sorted(set(expected) - set(tensors))
    unknown = sorted(set(tensors) - set(expected))
    _require(not missing, f"missing tensors: {', '.join(missing)}")
    _require(not unknown, f"unexpected tensors: {', '.join(unknown)}")
    for name, shape in expected.items():
        array = tensors[name]
        _require(array.dtype == dtype, f"tensor {name} is {array.dtype}, expected {dtype}")
        _require(array.shape == shape, f"tensor {name} has shape {array.shape}, expected {shape} (layer shapes must chain)")
        _require(bool(np.isfinite(array).all()), f"tensor {name} holds NaN or Inf")
