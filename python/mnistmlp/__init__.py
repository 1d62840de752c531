"""mnistmlp: multilayer perceptrons for MNIST, trained by a multithreaded C++ engine."""

import os as _os

# The engine's OpenMP threads meet at a barrier after every step of a batch. By default libgomp
# spins about 300,000 times at a barrier before sleeping: on a busy machine that keeps a waiting
# thread on the core its partner needs, and a 2-thread epoch ran 10 to 20 times slower. A short
# spin costs nothing measurable when idle. It must be set before libgomp loads (with _core); a
# setting of the user's own wins.
if "GOMP_SPINCOUNT" not in _os.environ and "OMP_WAIT_POLICY" not in _os.environ:
    _os.environ["GOMP_SPINCOUNT"] = "1000"

try:
    from . import _core as _core  # the "as" re-exports it to the package's modules
except ImportError as exc:  # pragma: no cover - only when the package was not built
    raise ImportError(
        "mnistmlp's compiled engine (mnistmlp._core) could not be imported: "
        f"{exc}. Build and install the package with `pip install .` from the source "
        "folder (it needs a C++17 compiler and CMake), and do not run Python from "
        "inside the source folder's python/ directory."
    ) from exc

from . import callbacks, datasets, optimizers, reference, schedules
from ._config import (cuda_available, get_config, get_flush_denormal, get_simd, set_flush_denormal, set_simd,
                      show_config)
from ._modelfile import ModelFileError
from .model import MLP, History, Progress

__version__ = _core.__version__

# Submodules with heavier or optional imports load when first used, so that
# `mnistmlp.experiments.run_preset(...)` works after a plain `import mnistmlp`.
_LAZY_SUBMODULES = ("experiments", "tflearn")


def __getattr__(name: str):
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'mnistmlp' has no attribute {name!r}")

__all__ = [
    "MLP", "History", "ModelFileError", "Progress", "__version__", "callbacks", "cuda_available", "datasets",
    "get_config", "get_flush_denormal", "get_simd", "optimizers", "reference", "schedules", "set_flush_denormal",
    "set_simd", "show_config",
]
