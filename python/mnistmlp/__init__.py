"""mnistmlp: multilayer perceptrons for MNIST, trained by a multithreaded C++ engine."""

try:
    from . import _core
except ImportError as exc:  # pragma: no cover - only when the package was not built
    raise ImportError(
        "mnistmlp's compiled engine (mnistmlp._core) could not be imported: "
        f"{exc}. Build and install the package with `pip install .` from the source "
        "folder (it needs a C++17 compiler and CMake), and do not run Python from "
        "inside the source folder's python/ directory."
    ) from exc

from . import datasets, optimizers, reference
from ._config import get_config, show_config
from ._modelfile import ModelFileError
from .model import MLP, History

__version__ = _core.__version__

__all__ = ["MLP", "History", "ModelFileError", "__version__", "datasets", "get_config", "optimizers", "reference", "show_config"]
