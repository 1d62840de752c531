"""Build configuration of the compiled engine: what ``mnistmlp.show_config()`` prints."""

from __future__ import annotations

import platform
import sys

import numpy as np

from . import _core


def cuda_available() -> bool:
    """True when ``MLP(..., device="cuda")`` can run: this build has the CUDA backend and a
    GPU it has code for is visible. ``get_config()["cuda"]["problem"]`` says why not."""
    return bool(_core.cuda_status()["available"])


def get_config() -> dict:
    """The build facts of ``mnistmlp._core``, the GPUs it sees, and the Python and NumPy it
    runs under."""
    config = dict(_core.build_info())
    config["cuda"] = dict(_core.cuda_status())
    config["python"] = f"{platform.python_implementation()} {platform.python_version()}"
    config["numpy"] = np.__version__
    config["platform"] = f"{platform.system()} {platform.machine()}"
    return config


def show_config(file=None) -> None:
    """Print how mnistmlp was built, like ``numpy.show_config()``."""
    out = file if file is not None else sys.stdout
    c = get_config()
    openmp = f"yes (OpenMP {c['openmp_version']})" if c["openmp"] else "no"
    cuda = c["cuda"]
    if not cuda["built"]:
        backend, gpu = "not built", "not looked for (no CUDA backend)"
    else:
        runtime = f"{cuda['runtime_version'] // 1000}.{cuda['runtime_version'] % 1000 // 10}"
        backend = f"built for {cuda['architectures']} ({cuda['compiler']}, CUDA runtime {runtime})"
        gpu = "; ".join(cuda["devices"] + ([] if cuda["available"] else [cuda["problem"]]))
    rows = [
        ("mnistmlp", c["version"]),
        ("compiler", c["compiler"]),
        ("build type", c["build_type"]),
        ("SIMD compiled for", c["simd"] + (" (-march=native)" if c["native_build"] else " (portable)")),
        ("OpenMP", openmp),
        ("default threads", str(c["max_threads"])),
        ("CUDA backend", backend),
        ("GPU", gpu),
        ("python", c["python"]),
        ("numpy", c["numpy"]),
        ("platform", c["platform"]),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}} : {value}", file=out)
