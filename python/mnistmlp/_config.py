"""Build configuration of the compiled engine: what ``mnistmlp.show_config()`` prints."""

from __future__ import annotations

import os
import platform
import sys
import warnings

import numpy as np

from . import _core


def cuda_available() -> bool:
    """True when ``MLP(..., device="cuda")`` can run: this build has the CUDA backend and a
    GPU it has code for is visible. ``get_config()["cuda"]["problem"]`` says why not."""
    return bool(_core.cuda_status()["available"])


def set_flush_denormal(mode: bool) -> bool:
    """Choose whether training treats subnormal floats as zero; returns whether it can.

    Subnormal floats (below about 1.2e-38 in float32) cost an x86 core on the order of a
    hundred cycles per operation. Adam's first moment decays by ``beta1`` every step for
    weights whose inputs stay zero, such as MNIST's border pixels, and passes through that
    range: on the tutorial's network this made an epoch about 1.5 times slower. Like
    TensorFlow (and so TFLearn) on CPU, mnistmlp therefore trains with subnormal results
    flushed to zero and subnormal inputs read as zero (the CPU's FTZ and DAZ modes): the
    default, ``True``. A flushed value's effect on any weight is far below float32's
    resolution. ``False`` keeps IEEE arithmetic throughout.

    The setting is process-wide and applies to CPU training started after the call; the
    flags are set only on the engine's own threads while they train, so NumPy and the rest
    of Python never see them. Inference is unaffected. Returns ``False``, changing nothing,
    on CPUs without these modes (builds other than x86-64).
    """
    if not isinstance(mode, (bool, np.bool_)):
        raise TypeError(f"mode must be True or False, got {mode!r}")
    return bool(_core.set_flush_denormals(bool(mode)))


def get_flush_denormal() -> bool:
    """Whether CPU training flushes subnormal floats to zero (see :func:`set_flush_denormal`)."""
    return bool(_core.flush_denormals())


SIMD_LEVELS = ("generic", "avx2", "avx512")


def set_simd(level: str) -> None:
    """Choose the CPU kernels' instruction set.

    The engine's hot kernels (the matrix product's micro-kernel, the sparse first layer,
    Adam's update, the pixel compression) exist for ``"avx512"``, ``"avx2"`` (with FMA) and
    as ``"generic"`` loops compiled for the build's target. At import, mnistmlp picks the
    best level the CPU supports (``MNISTMLP_SIMD`` in the environment may ask for a lower
    one), so a portable build is fast on any x86-64 CPU. Levels give the same results to
    rounding: within a level, results are identical for any thread count. The setting is
    process-wide; change it between calls, not while a model trains or predicts. A level
    above what this CPU runs (:func:`get_config`'s ``simd_supported``) raises ValueError
    naming the levels it does run, and changes nothing.
    """
    if level not in SIMD_LEVELS:
        raise ValueError(f"unknown SIMD level {level!r}; expected one of {', '.join(SIMD_LEVELS)}")
    if not _core.set_simd_level(level):
        runnable = SIMD_LEVELS[: SIMD_LEVELS.index(_core.simd_supported()) + 1]
        raise ValueError(f"this CPU cannot run the {level} kernels; it runs {', '.join(runnable)}")


def get_simd() -> str:
    """The CPU kernels in use: ``"generic"``, ``"avx2"`` or ``"avx512"`` (see :func:`set_simd`)."""
    return _core.simd_level()


def _check_simd_environment() -> None:
    """Warn when ``MNISTMLP_SIMD`` names no level, or one this CPU cannot run: the engine then
    runs the best level it can (a setting must not make the import fail)."""
    asked = os.environ.get("MNISTMLP_SIMD", "")
    supported = _core.simd_supported()
    if not asked:
        return
    if asked not in SIMD_LEVELS:
        problem = f"is not a SIMD level ({', '.join(SIMD_LEVELS)})"
    elif SIMD_LEVELS.index(asked) > SIMD_LEVELS.index(supported):
        problem = f"is above what this CPU runs (up to {supported})"
    else:
        return
    warnings.warn(f"MNISTMLP_SIMD={asked!r} {problem}; mnistmlp uses {get_simd()}", RuntimeWarning, stacklevel=2)


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def get_config() -> dict:
    """The build facts of ``mnistmlp._core``, the GPUs it sees, and the Python and NumPy it
    runs under."""
    config = dict(_core.build_info())
    config["cuda"] = dict(_core.cuda_status())
    config["flush_denormal"] = get_flush_denormal()
    config["flush_denormal_supported"] = bool(_core.flush_denormals_supported())
    config["simd_level"] = get_simd()
    config["simd_supported"] = _core.simd_supported()
    config["python"] = f"{platform.python_implementation()} {platform.python_version()}"
    config["numpy"] = np.__version__
    config["platform"] = f"{platform.system()} {platform.machine()}"
    return config


def show_config(file=None) -> None:
    """Print how mnistmlp was built, like ``numpy.show_config()``."""
    out = file if file is not None else sys.stdout
    c = get_config()
    openmp = (f"yes (OpenMP {c['openmp_version']})" if c["openmp"]
              else "no: built without OpenMP, every call runs on one thread")
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
        ("SIMD kernels", f"{c['simd_level']} (chosen at run time; this CPU runs up to "
                         f"{c['simd_supported']}; set_simd or MNISTMLP_SIMD to change)"),
        ("generic level's sums", "fused multiply-adds" if c["generic_fused"]
         else "products and sums rounded apart (no hardware FMA in this build's target)"),
        ("OpenMP", openmp),
        ("default threads", str(c["max_threads"])),
        ("subnormals in training", "flushed to zero (set_flush_denormal)" if c["flush_denormal"]
         else "kept" if c["flush_denormal_supported"] else "kept (no flush mode on this CPU)"),
        ("CUDA backend", backend),
        ("GPU", gpu),
        ("python", c["python"]),
        ("numpy", c["numpy"]),
        ("platform", c["platform"]),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}} : {value}", file=out)


_check_simd_environment()
