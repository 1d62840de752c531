"""The ``baseline`` peer of ``bench_train.py``: mnistmlp as another build has it (an earlier
commit built by ``build_baseline.sh``), timed in the same run as the current build.

Two builds of mnistmlp's compiled module cannot share a Python process (pybind11 registers
each C++ type once), so the baseline runs in a worker process: this file, run by the
benchmark's Python with the baseline's folder first on ``sys.path`` (or by the Python of
another environment where the baseline is installed). :class:`BaselinePeer` starts it and
stands for it in the benchmark: its ``trainer`` and ``predictor`` set up, untimed, the very
calls of :class:`_mnistmlp_peer.MnistmlpPeer` in the worker, and the callable they return
runs the call there. The worker times the call itself (:func:`_common.timed`) and answers a
:class:`_common.SelfTimed`, so that neither the pipe's latency nor the transfer of the
result is counted.

Arrays travel once. The data is written to an ``.npy`` file in a temporary folder, which
the worker loads (and the file is then deleted); a request names its inputs as rows of such
an array. Initial weights go once per content, in an ``.npz``. Requests and answers are
plain Python values (numbers, strings, and arrays as raw bytes, so that the two ends may
run different NumPy versions) over a :mod:`multiprocessing.connection` on a socket pair;
the worker's stdout goes to stderr, where it cannot mix with the benchmark's tables.

No orphan is left: the worker ignores Ctrl-C (the benchmark gets it and closes the peer),
exits when the benchmark closes the connection or dies (on Linux at once, even in the
middle of a call), and :meth:`BaselinePeer.close` kills it if it has not exited two
seconds after being asked.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import traceback
from multiprocessing.connection import Connection
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

import _common as common

# The environment as the user set it, before mnistmlp's import adds its defaults
# (GOMP_SPINCOUNT): the worker starts from it, so that the baseline's own import sets the
# defaults of its own build. (bench_train.py imports this module before mnistmlp.)
_USER_ENVIRONMENT = dict(os.environ)

WORKER = os.path.abspath(__file__)

Rows = Tuple[int, int, int]  # (array key, first row, end row)


# ----------------------------------------------------------------------------------------
# Values across the pipe
# ----------------------------------------------------------------------------------------

def _encode(value):
    """``value`` as plain Python values: arrays as raw bytes, NumPy scalars as numbers."""
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        return {"__ndarray__": array.tobytes(), "dtype": array.dtype.str, "shape": list(array.shape)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(item) for item in value]
    return value


def _decode(value):
    if isinstance(value, dict):
        if "__ndarray__" in value:
            return np.frombuffer(value["__ndarray__"], dtype=value["dtype"]).reshape(value["shape"])
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


def _row_span(X: np.ndarray, base: np.ndarray) -> Optional[Tuple[int, int]]:
    """(start, stop) if ``X`` is ``base[start:stop]`` in memory, else None."""
    if (not isinstance(X, np.ndarray) or X.dtype != base.dtype or X.shape[1:] != base.shape[1:]
            or not X.flags.c_contiguous or not base.flags.c_contiguous or len(base) == 0):
        return None
    row_bytes = base.nbytes // len(base)
    offset = X.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    if row_bytes == 0 or offset < 0 or offset % row_bytes:
        return None
    start = offset // row_bytes
    return (start, start + len(X)) if start + len(X) <= len(base) else None


# ----------------------------------------------------------------------------------------
# The benchmark's side
# ----------------------------------------------------------------------------------------

class BaselineError(RuntimeError):
    """The worker failed, or could not start."""


class BaselinePeer:
    """The mnistmlp of another build, in a worker process: a peer like ``MnistmlpPeer``.

    ``path`` is a folder where that build is installed (``build_baseline.sh REF DIR``; the
    worker then runs this Python with the folder first on ``sys.path`` and checks that
    ``mnistmlp`` comes from it), or a Python interpreter whose environment has it. ``arrays``
    (the data) are sent to the worker at once; a training or test set given to
    ``trainer`` or ``predictor`` should be rows of one of them. Close the peer (or use it as
    a context manager) to end the worker.
    """

    name = "baseline"

    def __init__(self, path: str, arrays: Sequence[np.ndarray] = ()) -> None:
        self.path = os.path.abspath(path)
        if os.path.isdir(self.path):
            python, folder = sys.executable, self.path
        elif os.path.isfile(self.path) and os.access(self.path, os.X_OK):
            python, folder = self.path, None
        else:
            raise BaselineError(f"{path} is neither a folder nor a Python interpreter")
        self._arrays: List[np.ndarray] = []
        self._weights: Set[str] = set()
        self._process: Optional[subprocess.Popen] = None
        self._connection: Optional[Connection] = None
        self._tmp = tempfile.mkdtemp(prefix="mnistmlp-baseline-")
        try:
            stdout = sys.stderr.fileno()
        except (AttributeError, OSError, ValueError):
            stdout = None
        ours, theirs = socket.socketpair()
        try:
            with ours, theirs:
                self._process = subprocess.Popen(
                    [python, WORKER, str(theirs.fileno())] + ([folder] if folder else []),
                    pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=stdout,
                    env=_USER_ENVIRONMENT,
                )
                self._connection = Connection(ours.detach())
            #: What the worker imported: mnistmlp's file, version and get_config(), Python, NumPy.
            self.build: dict = self._answer("start")
            self.build["path"] = self.path
            self.build["source_revision"] = _source_revision(folder)
            for array in arrays:
                self.share(array)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> "BaselinePeer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Ends the worker (asked to exit, killed if it has not within 2 s) and deletes the
        temporary folder. Idempotent."""
        process, self._process = self._process, None
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.send({"op": "exit"})
            except OSError:
                pass
            connection.close()
        if process is not None:
            try:
                process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self._tmp, ignore_errors=True)

    # The requests ------------------------------------------------------------------------

    def _request(self, op: str, **fields) -> dict:
        if self._connection is None:
            raise BaselineError("the baseline's worker is closed")
        try:
            self._connection.send(dict(fields, op=op))
        except OSError as exc:
            raise BaselineError(f"the baseline's worker does not listen ({exc}); "
                                "see its messages above") from None
        return self._answer(op)

    def _answer(self, op: str) -> dict:
        assert self._connection is not None and self._process is not None
        try:
            answer = self._connection.recv()
        except (EOFError, OSError):
            status = self._process.wait()
            raise BaselineError(f"the baseline's worker exited with status {status} "
                                f"(request {op!r}); see its messages above") from None
        if "error" in answer:
            raise BaselineError(f"the baseline's worker failed ({op!r}):\n{answer['error']}")
        return answer

    def share(self, array: np.ndarray) -> None:
        """Sends ``array`` to the worker, once: later requests can name any of its rows."""
        key = len(self._arrays)
        path = os.path.join(self._tmp, f"array{key}.npy")
        np.save(path, array)
        try:
            self._request("load", key=key, path=path)
        finally:
            os.remove(path)
        self._arrays.append(array)  # kept: rows are found by their address in it

    def _rows(self, X: np.ndarray) -> Rows:
        """``X`` as rows of an array the worker has (sent now if it has none)."""
        for key, base in enumerate(self._arrays):
            span = _row_span(X, base)
            if span is not None:
                return (key, *span)
        self.share(X)
        return (len(self._arrays) - 1, 0, len(X))

    def _weights_key(self, weights) -> str:
        """The key of ``weights`` in the worker (sent now, the first time these values come)."""
        digest = hashlib.sha256()
        flat = [np.ascontiguousarray(a) for pair in weights for a in pair]
        for array in flat:
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(array.data)
        key = digest.hexdigest()[:16]
        if key not in self._weights:
            path = os.path.join(self._tmp, f"weights-{key}.npz")
            np.savez(path, *flat)
            try:
                self._request("weights", key=key, path=path)
            finally:
                os.remove(path)
            self._weights.add(key)
        return key

    def _run(self) -> common.SelfTimed:
        answer = self._request("run")
        return common.SelfTimed(_decode(answer["value"]), answer["seconds"], answer["other_cpu"])

    # The peer ----------------------------------------------------------------------------

    def trainer(self, sizes, optimizer, weights, threads, batch_size, X, y) -> Callable[[], common.SelfTimed]:
        self._request("setup", call="trainer", sizes=list(sizes), optimizer=optimizer,
                      weights=self._weights_key(weights), threads=threads, batch_size=batch_size,
                      X=self._rows(X), y=self._rows(y))
        return self._run

    def predictor(self, sizes, weights, threads, X) -> Callable[[], common.SelfTimed]:
        self._request("setup", call="predictor", sizes=list(sizes),
                      weights=self._weights_key(weights), threads=threads, X=self._rows(X))
        return self._run


def _source_revision(folder: Optional[str]) -> Optional[str]:
    """What ``build_baseline.sh`` recorded in ``folder``/SOURCE_REVISION (its first word,
    ``git describe --always``), or None."""
    if folder is None:
        return None
    try:
        with open(os.path.join(folder, "SOURCE_REVISION"), encoding="utf-8") as file:
            words = file.read().split()
    except OSError:
        return None
    return words[0] if words else None


def build_line(build: dict) -> str:
    """The Markdown header line of the baseline's build."""
    config = build.get("config") or {}
    revision = build.get("source_revision")
    line = (f"- baseline: mnistmlp {build.get('version')}"
            + (f" (git {revision})" if revision else "") + f" from {build['path']}")
    if config:
        line += f": {common.build_summary(config)}"
    return line


def build_differences(build: dict, current: dict) -> List[str]:
    """Notes on what differs between the baseline's build (``build['config']``) and the
    current one's (``mnistmlp.get_config()``) that changes speed by itself."""
    config = build.get("config") or {}
    return [
        f"the baseline's {key} is {config.get(key)!r}, the current build's {current.get(key)!r}: "
        "the comparison measures that too"
        for key in ("simd_level", "simd", "native_build", "compiler", "build_type", "openmp")
        if key in config and key in current and config[key] != current[key]
    ]


# ----------------------------------------------------------------------------------------
# The worker's side
# ----------------------------------------------------------------------------------------

def _import_from(folder: str):
    """``import mnistmlp`` from ``folder``, ahead of any other installation.

    ``folder`` goes first on ``sys.path``; and an editable install (scikit-build-core's)
    serves its package from a finder at the head of ``sys.meta_path``, before ``sys.path``
    is searched, so every finder that claims mnistmlp, other than the path finder, is
    removed first."""
    if "mnistmlp" in sys.modules:
        raise BaselineError("mnistmlp was imported before the baseline's folder was set")
    if not os.path.isfile(os.path.join(folder, "mnistmlp", "__init__.py")):
        raise BaselineError(f"{folder} holds no mnistmlp package: build one there with "
                            "benchmarks/build_baseline.sh REF FOLDER")
    sys.path.insert(0, folder)
    for finder in list(sys.meta_path):
        if finder is importlib.machinery.PathFinder:
            continue
        try:
            claims = getattr(finder, "find_spec", lambda *_: None)("mnistmlp", None) is not None
        except Exception:  # a finder that cannot answer does not serve mnistmlp
            claims = False
        if claims:
            sys.meta_path.remove(finder)
    import mnistmlp

    where = os.path.realpath(mnistmlp.__file__ or "")
    if os.path.commonpath([where, os.path.realpath(folder)]) != os.path.realpath(folder):
        raise BaselineError(f"import mnistmlp loaded {where}, not the baseline in {folder}")
    return mnistmlp


def _serve(connection: Connection, folder: Optional[str]) -> None:
    """Answers the benchmark's requests until it says exit or closes the connection."""
    try:
        mnistmlp = _import_from(folder) if folder else __import__("mnistmlp")
        import _mnistmlp_peer

        get_config = getattr(mnistmlp, "get_config", None)
        config = json.loads(json.dumps(get_config(), default=str)) if get_config else None
    except BaselineError as exc:
        connection.send({"error": str(exc)})
        return
    except Exception:
        connection.send({"error": traceback.format_exc()})
        return
    connection.send({"mnistmlp_file": mnistmlp.__file__, "version": getattr(mnistmlp, "__version__", None),
                     "config": config, "python": sys.executable, "numpy": np.__version__})

    peer = _mnistmlp_peer.MnistmlpPeer()
    arrays: Dict[int, np.ndarray] = {}
    weights: Dict[str, list] = {}
    run: Optional[Callable[[], object]] = None

    def rows(ref: Rows) -> np.ndarray:
        key, start, stop = ref
        return arrays[key][start:stop]

    while True:
        try:
            request = connection.recv()
        except (EOFError, OSError):
            return
        op = request["op"]
        if op == "exit":
            return
        answer: dict = {}
        try:
            if op == "load":
                arrays[request["key"]] = np.load(request["path"])
            elif op == "weights":
                with np.load(request["path"]) as saved:
                    flat = [saved[f"arr_{i}"] for i in range(len(saved.files))]
                weights[request["key"]] = list(zip(flat[0::2], flat[1::2]))
            elif op == "setup":
                run = None
                if request["call"] == "trainer":
                    run = peer.trainer(request["sizes"], request["optimizer"], weights[request["weights"]],
                                       request["threads"], request["batch_size"],
                                       rows(request["X"]), rows(request["y"]))
                else:
                    run = peer.predictor(request["sizes"], weights[request["weights"]], request["threads"],
                                         rows(request["X"]))
            elif op == "run":
                if run is None:
                    raise RuntimeError("run before a successful setup")
                measured = common.timed(run)
                answer = {"value": _encode(measured.value), "seconds": measured.seconds,
                          "other_cpu": measured.other_cpu}
            else:
                raise ValueError(f"unknown request {op!r}")
        except Exception:
            answer = {"error": traceback.format_exc()}
        connection.send(answer)


def _die_with_parent() -> None:
    """Asks Linux to end this process when the benchmark dies: killed in the middle of a
    call, it never closes the connection. (Elsewhere, or if it died before this, the worker
    exits when its current call is done and it finds the connection closed.)"""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main(argv: Sequence[str]) -> int:
    """The worker: ``python _baseline.py FD [FOLDER]``, FD the connection's socket."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the benchmark handles Ctrl-C and closes us
    _die_with_parent()
    connection = Connection(int(argv[0]))
    try:
        _serve(connection, argv[1] if len(argv) > 1 else None)
    except OSError:  # the benchmark is gone: nobody is left to answer
        pass
    finally:
        connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
