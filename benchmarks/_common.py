"""Helpers shared by the benchmark scripts (``bench_train.py``, ``bench_kernels.py``,
``bench_sklearn.py``, ``bench_sweep.py``, and ``bench_gpu.py``, which uses some of them).

- timing: :func:`interleaved` runs every contender once per repetition, in a fixed order,
  after an idle pause, so that a slow phase of a shared, noisy machine hits all of them
  alike, and measures the CPU that other processes used meanwhile (:func:`other_cores`);
  :func:`timed` measures one call, in this process or in a worker that reports it as a
  :class:`SelfTimed`; :func:`calls_per_timing` sizes loops of short calls; :func:`median`,
  :func:`gflops`.
- threads: :func:`default_threads` (all usable cores), :func:`numpy_threads` (limits
  NumPy's BLAS with threadpoolctl when it is installed).
- the machine's float32 roof: :func:`matmul_roof`, NumPy's ``matmul`` on 2048x2048 float32
  matrices, and :class:`Roofs`, measured at the start and the end of a run.
- the environment of a run (:func:`environment`, with :func:`source_revision` and
  :func:`load_average`) and its Markdown header lines (:func:`header_lines`); Markdown
  tables (:func:`markdown_table`, :func:`fmt`, :func:`fmt_ratio`, :func:`threads_label`),
  JSON output (:func:`write_json`), progress lines on stderr (:func:`progress`).
- MNIST: :func:`load_mnist` (the real files, never downloaded) or :func:`synthetic_mnist`.
- the PyTorch peer: :func:`torch_mlp` (an ``nn.Sequential`` with given weights) and
  :func:`torch_epoch` (one idiomatic eager epoch), shared by the CPU and GPU benchmarks.
- command-line parsing: :func:`common_arguments` (--threads, --repeats, --roof-repeats,
  --pause, --json) and the argument types :func:`positive_int`, :func:`non_negative_float`,
  :func:`int_list`, :func:`choice_list`.

This file is not a script; the benchmarks import it from their own folder, which Python
puts on ``sys.path`` when they are run as ``python benchmarks/...``. It does not import
mnistmlp when it is imported (only :func:`environment` and :func:`load_mnist` do): the
baseline's worker (``_baseline.py``) imports it before choosing which build ``import
mnistmlp`` loads.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

try:
    import resource
except ImportError:  # Windows: the CPU use of other processes is then not measured
    resource = None

try:
    import threadpoolctl
except ImportError:  # optional: NumPy then runs with its default threads
    threadpoolctl = None

# Scanned once (NumPy's BLAS is loaded by now), so that limiting it costs microseconds.
_BLAS = None if threadpoolctl is None else threadpoolctl.ThreadpoolController().select(user_api="blas")

THREADPOOLCTL_MISSING = (
    "threadpoolctl not installed (pip install threadpoolctl): NumPy runs with its default "
    "number of threads whatever --threads says"
)

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

#: The roof's matrices are ROOF_SIZE x ROOF_SIZE.
ROOF_SIZE = 2048


# ----------------------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------------------

def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


class Timings(NamedTuple):
    """What :func:`interleaved` measured, per contender and repetition: the wall-clock
    ``seconds`` of each call, what each call returned (``results``), and ``other_cpu``, the
    CPU seconds that other processes used meanwhile (None where that is unknown)."""

    seconds: Dict[str, List[float]]
    results: Dict[str, List[object]]
    other_cpu: Dict[str, List[Optional[float]]]


def other_cores(timings: Iterable[Timings]) -> Optional[float]:
    """How many cores other processes kept busy, on average, while the calls of ``timings``
    ran: their CPU seconds over the calls' wall-clock seconds (None if unknown). Above about
    0.2 on a small machine, timings of multithreaded code are unreliable."""
    timings = list(timings)
    used = [c for t in timings for cpu in t.other_cpu.values() for c in cpu]
    if not used or None in used:
        return None
    return sum(used) / sum(s for t in timings for times in t.seconds.values() for s in times)


def _cpu_snapshot() -> Optional[Tuple[float, float]]:
    """(CPU seconds used on the whole machine, by this process), or None off Linux.

    The machine's comes from /proc/stat's busy time of all cores, time stolen by the
    hypervisor included; this process's from getrusage (all its threads)."""
    if resource is None:
        return None
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            ticks = [int(field) for field in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return ((user + nice + system + irq + softirq + steal) / _CLOCK_TICKS,
            usage.ru_utime + usage.ru_stime)


def _other_cpu_since(start: Optional[Tuple[float, float]]) -> Optional[float]:
    """CPU seconds other processes used since the snapshot ``start`` (clock ticks are
    10 ms, so this is coarse for short calls but adds up right over many)."""
    end = _cpu_snapshot()
    if start is None or end is None:
        return None
    return max(0.0, (end[0] - start[0]) - (end[1] - start[1]))


class SelfTimed(NamedTuple):
    """One call measured as :func:`interleaved` measures it: what it returned (``value``),
    its wall-clock ``seconds`` and the CPU seconds other processes used meanwhile
    (``other_cpu``, None where unknown).

    :func:`timed` makes one. A contender's callable returns one when the work ran elsewhere
    and was timed there: the baseline peer of ``bench_train.py`` asks a worker process to
    run the call, and the worker times it with :func:`timed`, so that the pipe's latency and
    the transfer of the result are not counted; :func:`interleaved` then records the
    worker's measurement instead of its own."""

    value: object
    seconds: float
    other_cpu: Optional[float] = None


def timed(run: Callable[[], object]) -> SelfTimed:
    """Calls ``run`` once, timed with :func:`time.perf_counter`, and measures the CPU that
    other processes used meanwhile."""
    cpu = _cpu_snapshot()
    start = time.perf_counter()
    value = run()
    seconds = time.perf_counter() - start
    return SelfTimed(value, seconds, _other_cpu_since(cpu))


def interleaved(
    contenders: Dict[str, Callable[[], Callable[[], object]]],
    repeats: int,
    pause: float = 0.0,
    warm_up: bool = False,
    on_repeat: Optional[Callable[[int, Dict[str, float]], None]] = None,
) -> Timings:
    """Time each contender ``repeats`` times, interleaved.

    A contender is a *setup* function that returns the callable to time: the setup (a fresh
    model, say) runs untimed before each timed call. Repetition 1 sets up and times every
    contender once, in the order of ``contenders``, then repetition 2, and so on, so that a
    slow phase of a shared machine hits all of them alike. Each call is timed with
    :func:`timed`, unless it returns a :class:`SelfTimed`: then its ``seconds`` and
    ``other_cpu`` replace this process's measurement and its ``value`` is the result.
    ``on_repeat`` gets the repetition number (from 1) and its timings.

    Before each timed call the machine is left idle for ``pause`` seconds: thread pools
    keep spinning for a while after their work is done (OpenBLAS's for about 0.1 s), and
    on a small machine those spinning threads would slow down the next contender's threads
    (measured here: 2 to 20 times, for calls of a millisecond). With ``warm_up``, the
    callable then runs once untimed, to wake its own threads: after the pause, the first
    parallel call on a virtual machine can take milliseconds.
    """
    timings = Timings({name: [] for name in contenders}, {name: [] for name in contenders},
                      {name: [] for name in contenders})
    for rep in range(1, repeats + 1):
        for name, setup in contenders.items():
            run = setup()
            time.sleep(pause)
            if warm_up:
                run()
            measured = timed(run)
            if isinstance(measured.value, SelfTimed):
                measured = measured.value
            timings.seconds[name].append(measured.seconds)
            timings.other_cpu[name].append(measured.other_cpu)
            timings.results[name].append(measured.value)
        if on_repeat is not None:
            on_repeat(rep, {name: times[-1] for name, times in timings.seconds.items()})
    return timings


def calls_per_timing(run: Callable[[], object], min_seconds: float) -> int:
    """How many back-to-back calls of ``run`` last at least ``min_seconds`` (a power of 2),
    so that one timing of a microsecond-scale call is not dominated by timer resolution.
    One untimed call first wakes the threads ``run`` uses."""
    run()
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            run()
        if time.perf_counter() - start >= min_seconds:
            return number
        number *= 2


# ----------------------------------------------------------------------------------------
# Threads
# ----------------------------------------------------------------------------------------

def default_threads() -> int:
    """The number of cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def numpy_threads(threads: int) -> contextlib.AbstractContextManager:
    """A context in which NumPy's BLAS uses ``threads`` threads (threadpoolctl), or, without
    threadpoolctl, a context that changes nothing (see :data:`THREADPOOLCTL_MISSING`)."""
    if _BLAS is None:
        return contextlib.nullcontext()
    return _BLAS.limit(limits=threads)


def matmul_roof(threads: int, repeats: int) -> dict:
    """The float32 matrix-multiply roof: NumPy's ``a @ b`` on two random float32
    ``ROOF_SIZE`` x ``ROOF_SIZE`` matrices with ``threads`` threads, one warm-up call, then
    ``repeats`` timed calls; GFLOP/s = 2 * ROOF_SIZE**3 / median time."""
    rng = np.random.default_rng(0)
    a = rng.random((ROOF_SIZE, ROOF_SIZE), dtype=np.float32)
    b = rng.random((ROOF_SIZE, ROOF_SIZE), dtype=np.float32)
    out = np.empty_like(a)

    def multiply() -> None:
        np.matmul(a, b, out=out)

    with numpy_threads(threads):
        timings = interleaved({"matmul": lambda: multiply}, repeats, warm_up=True)
    seconds = timings.seconds["matmul"]
    return {
        "threads": threads,
        "size": ROOF_SIZE,
        "seconds": seconds,
        "median_seconds": median(seconds),
        "gflops": gflops(2.0 * ROOF_SIZE**3, median(seconds)),
        "other_cores": other_cores([timings]),
    }


class Roofs:
    """The float32 roof (:func:`matmul_roof`) per thread count, measured when a run starts
    and again, with :meth:`measure`, when it ends. Other processes can only lower a
    measurement, so the higher of the two medians is the roof."""

    def __init__(self, thread_counts: Sequence[int], repeats: int) -> None:
        self.repeats = repeats
        self.measurements: Dict[int, List[dict]] = {t: [] for t in thread_counts}
        self.measure()

    def measure(self) -> None:
        for threads, measurements in self.measurements.items():
            measurements.append(matmul_roof(threads, self.repeats))
            progress(f"roof, {threads_label(threads)}: {measurements[-1]['gflops']:.1f} GFLOP/s")

    def gflops(self, threads: int) -> float:
        return max(m["gflops"] for m in self.measurements[threads])

    def report(self) -> List[dict]:
        """For the JSON report: per thread count, the roof and every measurement."""
        return [{"threads": t, "gflops": self.gflops(t), "measurements": m}
                for t, m in self.measurements.items()]


def gflops(flops: float, seconds: float) -> float:
    return flops / seconds / 1e9


# ----------------------------------------------------------------------------------------
# Environment and output
# ----------------------------------------------------------------------------------------

def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what :mod:`platform` says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def blas_info() -> List[dict]:
    """NumPy's BLAS libraries as threadpoolctl reports them (empty without threadpoolctl)."""
    if _BLAS is None:
        return []
    return [
        {key: info.get(key) for key in ("internal_api", "version", "num_threads", "architecture")}
        for info in _BLAS.info()
    ]


def source_revision() -> Optional[str]:
    """``git describe --always --dirty`` of the checkout holding these scripts (None outside
    a git checkout): which version of mnistmlp's sources a result belongs to."""
    try:
        result = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True,
                                text=True, timeout=10, cwd=os.path.dirname(os.path.abspath(__file__)))
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def load_average() -> Optional[float]:
    """The 1-minute load average (None where the system has none). It counts the benchmark's
    own threads too, so it cannot tell whether other programs disturbed a run: see
    :func:`other_cores` for that."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def environment(torch_version: Optional[str] = None) -> dict:
    """The facts of the run that a result depends on: date, machine, builds, versions.

    Made when the run starts; ``load_average_end`` is to be filled in when it ends."""
    import mnistmlp

    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "load_average_start": load_average(),
        "load_average_end": None,
        "cpu": cpu_model(),
        "cores": default_threads(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "mnistmlp": mnistmlp.get_config(),
        "source_revision": source_revision(),
        "numpy": np.__version__,
        "blas": blas_info(),
        "threadpoolctl": None if threadpoolctl is None else threadpoolctl.__version__,
        "torch": torch_version,
    }


def build_summary(config: dict) -> str:
    """A build of mnistmlp in a few words, from its ``get_config()``: the SIMD level its
    kernels run at, what the code around them was compiled for, compiler, OpenMP. (A build
    older than the run-time level shows what it was compiled for only.)"""
    compiled = f"compiled for {config.get('simd')}" + (" (-march=native)" if config.get("native_build") else "")
    kernels = f"kernels {config['simd_level']}, " if config.get("simd_level") else ""
    return (f"{kernels}{compiled}, {config.get('compiler')}, "
            f"OpenMP {'yes' if config.get('openmp') else 'no'}")


def header_lines(title: str, env: dict, roofs: Roofs, timings: Sequence[Timings],
                 notes: Sequence[str] = ()) -> List[str]:
    """The Markdown header of a report: title, date, CPU, builds, versions, roof, how busy
    other processes kept the machine during ``timings``, notes."""
    config = env["mnistmlp"]
    blas = ", ".join(f"{b['internal_api']} {b['version']}" for b in env["blas"])
    versions = f"numpy {env['numpy']}" + (f" ({blas})" if blas else "")
    if env["torch"] is not None:
        versions += f", torch {env['torch']}"
    lines = [
        f"## {title}",
        "",
        f"- date: {env['date']}",
        f"- CPU: {env['cpu']}, {env['cores']} cores",
        f"- mnistmlp {config['version']} (git {env['source_revision']}): {build_summary(config)}",
        f"- {versions}; Python {env['python']}",
    ]
    lines.append(
        f"- float32 roof (numpy matmul {ROOF_SIZE}x{ROOF_SIZE}, the better of the start and the end): "
        + "; ".join(f"{threads_label(t)}: {roofs.gflops(t):.1f} GFLOP/s" for t in roofs.measurements)
    )
    others = other_cores(timings)
    if others is not None:
        lines.append(f"- other processes kept {others:.2f} cores busy on average during the timings "
                     "(column `others`: during the row's; above about 0.2, multithreaded timings "
                     "are unreliable)")
    lines += [f"- note: {note}" for note in notes]
    return lines


def threads_label(threads: int) -> str:
    return f"{threads} thread{'' if threads == 1 else 's'}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]], left: int = 1) -> str:
    """A Markdown table; the first ``left`` columns are left-aligned, the others right-aligned."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(
            c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))
        ) + " |"

    rule = "|" + "|".join(
        ":" + "-" * (w + 1) if i < left else "-" * (w + 1) + ":" for i, w in enumerate(widths)
    ) + "|"
    return "\n".join([line(cells[0]), rule] + [line(row) for row in cells[1:]])


def fmt(value: Optional[float], digits: int = 0) -> str:
    """A number for a table, with thousands separated; ``-`` if unknown."""
    return "-" if value is None else f"{value:,.{digits}f}"


def fmt_ratio(value: Optional[float]) -> str:
    """A speed ratio for a table (``2.00x``); ``-`` if unknown."""
    return "-" if value is None else f"{value:.2f}x"


def write_json(path: str, report: dict) -> None:
    with open(path, "w", encoding="utf-8") as out:
        json.dump(report, out, indent=2)
        out.write("\n")


def progress(message: str) -> None:
    """A progress line on stderr, so that a long run shows it is alive."""
    print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------

class Mnist(NamedTuple):
    """Training and test images (float32 in [0, 1], one row per image), labels (uint8), where
    they come from, and whether they are the real MNIST."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str
    real: bool


def load_mnist(data_dir: Optional[str], validation_size: int = 5000) -> Mnist:
    """The real MNIST, split as TensorFlow's tutorial does (55,000 training images, the
    10,000 test images; ``validation_size=0`` keeps all 60,000 training images), from
    ``data_dir``, else ``$MNISTMLP_DATA``, else mnistmlp's cache folder. Never downloads: a
    missing file exits with an explanation."""
    from mnistmlp.datasets import DataError, mnist

    try:
        data = mnist.read_data_sets(data_dir, download=False, validation_size=validation_size)
    except DataError as exc:
        raise SystemExit(
            f"error: the MNIST files are not available: {str(exc).splitlines()[0]}\n"
            "Pass --data-dir FOLDER or set MNISTMLP_DATA to a folder holding the four MNIST "
            "IDX files (gzipped or not), or run on random data with --synthetic."
        ) from None
    return Mnist(data.train.images, data.train.labels, data.test.images, data.test.labels,
                 f"MNIST from {mnist.data_dir(data_dir)}", real=True)


def synthetic_mnist(train_size: int, test_size: int, seed: int = 0) -> Mnist:
    """Random data shaped like MNIST: 784 uint8 pixels per image, about a fifth of them
    lit, scaled to float32 in [0, 1], and random labels 0..9. Only for checking that the
    benchmarks run; the models cannot learn anything from it."""
    rng = np.random.default_rng(seed)

    def images(n: int) -> np.ndarray:
        pixels = rng.integers(0, 256, size=(n, 784), dtype=np.uint8)
        pixels[rng.random((n, 784)) < 0.8] = 0
        return pixels.astype(np.float32) / np.float32(255)

    def labels(n: int) -> np.ndarray:
        return rng.integers(0, 10, size=n, dtype=np.uint8)

    return Mnist(images(train_size), labels(train_size), images(test_size), labels(test_size),
                 "synthetic (random MNIST-like data)", real=False)


# ----------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------

def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def int_list(text: str) -> List[int]:
    """argparse type: ``"10,32,128"`` -> ``[10, 32, 128]``, every value >= 1."""
    values = [positive_int(part) for part in text.split(",") if part.strip()]
    if not values:
        raise argparse.ArgumentTypeError("expected comma-separated integers >= 1, got nothing")
    return values


def choice_list(choices: Sequence[str]) -> Callable[[str], List[str]]:
    """argparse type: comma-separated names, each one of ``choices`` (kept in the given order)."""

    def parse(text: str) -> List[str]:
        values = [part.strip() for part in text.split(",") if part.strip()]
        unknown = [v for v in values if v not in choices]
        if not values or unknown:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(map(repr, unknown)) or 'empty list'}; choose from {','.join(choices)}"
            )
        return values

    return parse


def common_arguments(parser: argparse.ArgumentParser, repeats: int) -> None:
    """The options both benchmarks take: --threads, --repeats, --roof-repeats, --pause, --json."""
    parser.add_argument(
        "--threads", type=int_list, metavar="T,...",
        help=f"thread counts, applied to every contender (default: all cores, {default_threads()} here)",
    )
    parser.add_argument(
        "--repeats", type=positive_int, default=repeats, metavar="N",
        help="interleaved repetitions of every measurement; the tables show medians (default %(default)s)",
    )
    parser.add_argument(
        "--roof-repeats", type=positive_int, default=5, metavar="N",
        help="timed calls of the roof's matrix product, at the start and at the end (default %(default)s)",
    )
    parser.add_argument(
        "--pause", type=non_negative_float, default=0.2, metavar="SECONDS",
        help="idle time before each timing, so that the previous contender's spinning threads "
             "(OpenBLAS's spin for about 0.1 s) do not slow down the next (default %(default)s)",
    )
    parser.add_argument(
        "--json", metavar="PATH",
        help="also write every raw timing, median and ratio, and the environment, to PATH",
    )


def data_arguments(parser: argparse.ArgumentParser, train_size: int, samples_note: str = "") -> None:
    """The options of the benchmarks that train on MNIST: --samples, and --data-dir or
    --synthetic. ``samples_note`` ends --samples' help."""
    parser.add_argument("--samples", type=positive_int, metavar="N",
                        help=f"train on the first N training images only (default all {train_size:,}){samples_note}")
    data = parser.add_mutually_exclusive_group()
    data.add_argument("--data-dir", metavar="DIR",
                      help="folder of the MNIST files (default: $MNISTMLP_DATA, else mnistmlp's cache folder); "
                           "never downloads")
    data.add_argument("--synthetic", action="store_true",
                      help="random MNIST-like data instead of MNIST (to check the script runs)")


def check_samples(parser: argparse.ArgumentParser, args: argparse.Namespace, train_size: int) -> None:
    """--samples' default (every training image), and no more than MNIST has."""
    if args.samples is None:
        args.samples = train_size
    elif args.samples > train_size and not args.synthetic:
        parser.error(f"--samples: MNIST has {train_size:,} training images, got {args.samples:,}")


# ----------------------------------------------------------------------------------------
# The PyTorch peer (torch is passed in: it is never a dependency of mnistmlp)
# ----------------------------------------------------------------------------------------

def torch_mlp(torch, weights, device="cpu"):
    """``nn.Sequential`` of ``nn.Linear`` + ``nn.ReLU`` holding ``weights`` ([(W (in, out), b)])."""
    nn = torch.nn
    layers = []
    for i, (W, b) in enumerate(weights):
        linear = nn.Linear(*W.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W.T))  # torch stores (out, in)
            linear.bias.copy_(torch.from_numpy(b))
        layers.append(linear)
        if i < len(weights) - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers).to(device)


def torch_epoch(torch, model, optimizer, inputs, labels, order, batch_size: int):
    """One epoch of idiomatic eager PyTorch over the rows in ``order``: mini-batches indexed
    from it, ``F.cross_entropy``, ``zero_grad`` / ``backward`` / ``step``. Returns the summed
    batch losses and the count of correct predictions (tensors on the inputs' device, so a
    GPU epoch never waits for the host) and the number of batches."""
    F = torch.nn.functional
    total_loss = torch.zeros((), device=inputs.device)
    correct = torch.zeros((), dtype=torch.int64, device=inputs.device)
    batches = 0
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        xb, yb = inputs[rows], labels[rows]
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_loss += loss.detach()
        correct += (logits.argmax(dim=1) == yb).sum()
        batches += 1
    return total_loss, correct, batches
