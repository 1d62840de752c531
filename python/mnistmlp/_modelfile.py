"""Model files: one safetensors file per model, never pickle.

Layout (format version 1), in safetensors' format: an 8-byte little-endian header length, a
JSON header padded with spaces to a multiple of 8 bytes, then the tensors' little-endian bytes
back to back, in header order, with no holes:

* tensors ``layers.{i}.weight`` (in, out) and ``layers.{i}.bias`` (out,), F32 or F64 as the
  model — PyTorch users can read them with ``safetensors.torch.load_file`` (transpose the
  weights for ``nn.Linear``);
* optimizer state as ``optimizer.{slot}.layers.{i}.weight`` / ``.bias``, the slots named by
  the engine (``velocity`` for SGD with momentum, ``m`` and ``v`` for Adam, ``ms`` and ``mom``
  for RMSProp, ``accumulator`` for AdaGrad);
* metadata ``format = "mnistmlp"``, ``format_version = "1"`` and ``mnistmlp`` = the model
  description, a JSON object: the model's spec (:meth:`mnistmlp._spec.ModelSpec.to_dict`),
  its training counters and, optionally, ``extra``, any JSON object a wrapper such as the
  TFLearn API keeps there.

This module reads and writes ``(description, tensors)`` and knows nothing of models: what a
description must hold, and which tensors it implies, the caller says (:mod:`mnistmlp.model`,
from :mod:`mnistmlp._spec`). The same bytes can also stay in memory (:func:`model_file_bytes`,
:func:`read_model_bytes`): that is how a model is pickled, with every check of loading.

Saving writes those bytes into a file that has no name until it is complete, so that no crash
leaves a partial file behind: on Linux an ``O_TMPFILE`` file in the target's folder; elsewhere,
or where the filesystem has no O_TMPFILE, a file named ``.{target}.{random}.mnistmlp-partial``,
locked (flock) while its save runs, which the next save in that folder removes once its lock
has died with its process. The file is flushed to disk (fsync), linked in under a temporary
name, renamed over the target and the folder flushed: after a crash or a power cut the target
holds the old model or the new one, whole. A failed save (a full disk: OSError ENOSPC) raises
OSError naming the target and leaves the old file and no debris. Saving needs POSIX (Linux,
macOS, BSD).

Loading trusts no size it has not checked, so memory stays bounded by the file's size:
safetensors checks the header's length and every tensor's offsets against the file before
anything is read; then come the format and its version, the model description (its length,
then, by the caller, every key, type and range), then every tensor's name, dtype and shape
against the description, from the header alone; only then are tensors read, and checked
finite. Anything wrong raises :class:`ModelFileError` naming the file and
the problem. Bytes in memory are checked alike, in memory bounded by their size: safetensors
checks the header and every tensor's offsets against the bytes, then the same checks follow.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import struct
from pathlib import Path
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["ModelFileError", "FORMAT", "FORMAT_VERSION", "check_destination", "write_model_file", "read_model_file",
           "model_file_bytes", "read_model_bytes"]

FORMAT = "mnistmlp"
FORMAT_VERSION = 1
#: Characters a model description may have: a thousand layers take about 60,000. The bound
#: keeps json.loads's work small whatever a file holds.
DESCRIPTION_LIMIT = 1 << 20
DTYPE_CODES = {"float32": "F32", "float64": "F64"}
PARTIAL_SUFFIX = ".mnistmlp-partial"
_PARTIAL_NAME = re.compile(r"\..+\.[0-9a-f]{16}" + re.escape(PARTIAL_SUFFIX), re.DOTALL)
# errno values of open(O_TMPFILE) where the kernel or the filesystem lacks it.
_NO_TMPFILE = {errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL}

PathLike = Union[str, "os.PathLike[str]"]


class ModelFileError(ValueError):
    """A model file is missing, truncated, corrupted, foreign or inconsistent."""


# -- writing ------------------------------------------------------------------------------


def check_destination(path: PathLike) -> Path:
    """``path`` as a Path, if a model file can be saved there; else an OSError saying why in
    the user's words and naming ``path``. Callers that save later (after training) check first."""
    path = Path(path).expanduser()
    folder = path.parent
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, f"is a folder; give a file name such as {path / 'model.safetensors'}",
                                str(path))
    if not folder.is_dir():
        raise FileNotFoundError(errno.ENOENT, f"the folder {folder} does not exist", str(path))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, f"the folder {folder} is not writable", str(path))
    return path


def write_model_file(path: PathLike, description: Dict[str, Any], tensors: Dict[str, np.ndarray]) -> None:
    """Write ``tensors`` and ``description`` (JSON-able, no NaN) to ``path``, atomically and
    durably (see the module's docstring); a failed write raises OSError naming ``path``."""
    path = check_destination(path)
    try:
        chunks = _encode(description, tensors)
    except ValueError as exc:
        raise ValueError(f"{path}: not saved: {exc}") from None
    try:
        folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            _remove_orphans(folder)
            _write_into_place(folder, path.name, chunks)
        finally:
            os.close(folder)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None


def model_file_bytes(description: Dict[str, Any], tensors: Dict[str, np.ndarray]) -> bytes:
    """The bytes :func:`write_model_file` would write, in memory."""
    return b"".join(memoryview(chunk).cast("B") for chunk in _encode(description, tensors))


def _encode(description: Dict[str, Any], tensors: Dict[str, np.ndarray]) -> List[Any]:
    """The file's bytes in pieces: header length and header, then each tensor's data.
    ValueError if ``description`` holds NaN or Inf, which JSON (and so loading) does not take."""
    described = json.dumps(description, allow_nan=False)
    arrays = {name: np.ascontiguousarray(array, array.dtype.newbyteorder("<")) for name, array in tensors.items()}
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION), FORMAT: described}
    header: Dict[str, Any] = {"__metadata__": metadata}
    offset = 0
    for name, array in arrays.items():
        header[name] = {"dtype": DTYPE_CODES[array.dtype.name], "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    return [struct.pack("<Q", len(text)) + text, *arrays.values()]


def _write_into_place(folder: int, name: str, chunks: Sequence[Any]) -> None:
    fd, temporary = _new_file(folder, name)
    try:
        try:
            for chunk in chunks:
                view = memoryview(chunk).cast("B")
                while view:
                    view = view[os.write(fd, view):]
            os.fsync(fd)
            if temporary is None:
                temporary = _temporary_name(name)
                # With a folder descriptor os.link calls linkat(..., AT_SYMLINK_FOLLOW), which
                # follows the /proc link to the unnamed file (plain link(2) would not).
                os.link(f"/proc/self/fd/{fd}", temporary, dst_dir_fd=folder)
            os.replace(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            if temporary is not None:
                _remove(folder, temporary)
            raise
        os.fsync(folder)
    finally:
        os.close(fd)


def _new_file(folder: int, name: str) -> Tuple[int, Optional[str]]:
    """A new file in ``folder``, open for writing and locked, and its name: None for an
    unnamed (O_TMPFILE) file, else a temporary name marking it as a partial save."""
    if hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd"):  # /proc gives it a name later
        try:
            fd = os.open(".", os.O_TMPFILE | os.O_WRONLY, 0o666, dir_fd=folder)
        except OSError as exc:
            if exc.errno not in _NO_TMPFILE:
                raise
        else:
            _lock(fd)  # it will have a name for an instant, between its link and its rename
            return fd, None
    while True:
        temporary = _temporary_name(name)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666, dir_fd=folder)
        _lock(fd)
        try:
            if os.path.samestat(os.stat(temporary, dir_fd=folder), os.fstat(fd)):
                return fd, temporary
        except FileNotFoundError:
            pass
        # Another save took it for an orphan between its creation and its lock.
        os.close(fd)


def _temporary_name(name: str) -> str:
    # At most 235 bytes: names may have 255.
    return f".{os.fsdecode(os.fsencode(name)[:200])}.{secrets.token_hex(8)}{PARTIAL_SUFFIX}"


def _lock(fd: int, wait: bool = True) -> bool:
    """Lock ``fd`` while it stays open. A process's locks die with it: a partial file that is
    locked is a save in progress, one that is not, an orphan."""
    import fcntl  # POSIX only: imported here so that reading model files works everywhere

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except OSError:  # held by another save, or a filesystem without locks: then no file is
        return False  # known to be an orphan, and none is removed
    return True


def _remove_orphans(folder: int) -> None:
    """Remove the partial files of saves whose process died."""
    for name in os.listdir(folder):
        if not _PARTIAL_NAME.fullmatch(name):
            continue
        try:
            fd = os.open(name, os.O_RDONLY, dir_fd=folder)
        except OSError:  # removed meanwhile by another save, or not ours to open
            continue
        try:
            if _lock(fd, wait=False):
                _remove(folder, name)
        finally:
            os.close(fd)


def _remove(folder: int, name: str) -> None:
    """Remove ``name`` if possible. Only a cleanup: it fails no save and hides no error (another
    save's cleanup may have been first; a sticky folder keeps other users' orphans)."""
    try:
        os.unlink(name, dir_fd=folder)
    except OSError:
        pass


# -- reading ------------------------------------------------------------------------------


#: What a file's description makes of its tensors: each one's name and shape, and the dtype
#: all have ("float32" or "float64"). It raises ModelFileError for a description it refuses.
Describe = Callable[[Any], Tuple[Dict[str, Tuple[int, ...]], str]]


def read_model_file(path: PathLike, describe: Describe) -> Tuple[Any, Dict[str, np.ndarray]]:
    """The ``(description, tensors)`` of a model file, checked: the description as parsed JSON
    (``describe`` says what is wrong with it), the tensors against what ``describe`` makes of
    it, from the header, before any is read, then each for NaN and Inf."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file" if not path.exists() else
                             f"{path}: is a folder, not a model file" if path.is_dir() else f"{path}: not a file")
    try:
        with safe_open(str(path), framework="np") as file:
            return _read_checked(file, describe, str(path))
    except (SafetensorError, OSError) as exc:
        raise ModelFileError(
            f"{path}: not a readable safetensors file (truncated or corrupted?): {exc}"
        ) from None


def read_model_bytes(data: bytes, describe: Describe, name: str) -> Tuple[Any, Dict[str, np.ndarray]]:
    """:func:`read_model_file` for a model file's bytes in memory; errors name them ``name``."""
    from safetensors import SafetensorError

    try:
        source = _InMemory(data)
    except SafetensorError as exc:
        raise ModelFileError(f"{name}: not readable safetensors data (truncated or corrupted?): {exc}") from None
    return _read_checked(source, describe, name)


class _InMemory:
    """The part of safetensors' ``safe_open`` that loading uses, over bytes in memory.

    safetensors' ``deserialize`` checks the header and each tensor's offsets against the bytes
    (as ``safe_open`` does for a file) and copies the tensors out; its answer lacks the
    metadata, which is then read from the header it has checked."""

    def __init__(self, data: bytes) -> None:
        from safetensors import deserialize

        self._tensors = dict(deserialize(data))
        (length,) = struct.unpack_from("<Q", data)
        self._metadata = json.loads(bytes(data[8:8 + length])).get("__metadata__")

    def metadata(self) -> Optional[Dict[str, str]]:
        return self._metadata

    def keys(self) -> List[str]:
        return list(self._tensors)

    def get_slice(self, name: str) -> "_Header":
        tensor = self._tensors[name]
        return _Header(tensor["dtype"], tensor["shape"])

    def get_tensor(self, name: str) -> np.ndarray:
        tensor = self._tensors[name]
        dtype = next(np.dtype(dtype) for dtype, code in DTYPE_CODES.items() if code == tensor["dtype"])
        return np.frombuffer(tensor["data"], dtype.newbyteorder("<")).reshape(tensor["shape"])


class _Header(NamedTuple):
    """A tensor's entry in the header, as safetensors' slices show it."""

    dtype: str
    shape: List[int]

    def get_dtype(self) -> str:
        return self.dtype

    def get_shape(self) -> List[int]:
        return self.shape


def _read_checked(file: Any, describe: Describe, name: str) -> Tuple[Any, Dict[str, np.ndarray]]:
    """The checks of loading, on a ``safe_open`` file or :class:`_InMemory` bytes: the
    description, then the tensors' layout from the header, then the tensors, each finite.
    Errors name the source ``name``."""
    try:
        description = _read_description(file.metadata() or {})
        expected, dtype = describe(description)
        _check_layout(expected, dtype, {key: file.get_slice(key) for key in file.keys()})
        tensors = {key: file.get_tensor(key) for key in file.keys()}
        for key, array in tensors.items():
            _require(bool(np.isfinite(array).all()), f"tensor {key} holds NaN or Inf")
    except ModelFileError as exc:
        raise ModelFileError(f"{name}: {exc}") from None
    return description, tensors


def _read_description(metadata: Dict[str, str]) -> Any:
    _require(metadata.get("format") == FORMAT,
             "not an mnistmlp model file (a safetensors file without mnistmlp metadata)")
    version = metadata.get("format_version")
    _require(version == str(FORMAT_VERSION),
             f"model file format version {version!r} is not supported by this mnistmlp "
             f"(it reads version {FORMAT_VERSION})")
    text = metadata.get(FORMAT)
    if text is None:
        raise ModelFileError(f"the model description (metadata '{FORMAT}') is missing")
    _require(len(text) <= DESCRIPTION_LIMIT,
             f"its model description is {len(text):,} characters long, more than the "
             f"{DESCRIPTION_LIMIT:,} a model file may have")
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ModelFileError("its model description nests too deeply") from None
    except ValueError as exc:
        raise ModelFileError(f"its model description is not valid JSON ({exc})") from None


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _check_layout(expected: Dict[str, Tuple[int, ...]], dtype: str, layout: Dict[str, Any]) -> None:
    """Each tensor's name, dtype and shape (``layout``: safetensors slices, read from the
    header alone) against what the description makes of them, before any tensor is read."""
    missing = sorted(set(expected) - set(layout))
    unknown = sorted(set(layout) - set(expected))
    _require(not missing, f"missing tensors: {', '.join(missing)}")
    _require(not unknown, f"unexpected tensors: {', '.join(unknown)}")
    names = {code: name for name, code in DTYPE_CODES.items()}
    for name, shape in expected.items():
        code, actual = layout[name].get_dtype(), tuple(layout[name].get_shape())
        _require(code == DTYPE_CODES[dtype], f"tensor {name} holds {names.get(code, code)} values, expected {dtype}")
        _require(actual == shape, f"tensor {name} has shape {actual}, expected {shape} (layer shapes must chain)")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ModelFileError(message)
