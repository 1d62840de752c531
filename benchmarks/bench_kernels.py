"""Dense-layer kernels: mnistmlp's ``_core.kernels`` against ``numpy.matmul``.

Usage (from the repository root; needs no data)::

    python benchmarks/bench_kernels.py                    # all shapes and batches, all cores
    python benchmarks/bench_kernels.py --shapes 784x100,1024x1024 --batch-sizes 32 \\
        --threads 1,2 --json kernels.json

For every layer shape of the training benchmark's networks (784->100, 100->10, 784->10,
10->10, 100->100, 784->1024, 1024->1024, 1024->10), every batch size (10, 32, 128, 1024)
and every thread count, in float32:

- forward: ``kernels.dense_forward(x, W, b, "relu")`` against NumPy's
  ``relu(x @ W + b)`` (``np.matmul``, then the bias and ``np.maximum`` in place);
- backward: ``kernels.dense_backward(g, x, W)`` (returning ``g @ W.T``, ``x.T @ g`` and
  ``g.sum(0)``) against the same three NumPy expressions.

NumPy's BLAS runs with the same number of threads (threadpoolctl). One timing is a loop of
back-to-back calls lasting at least ``--min-time`` seconds (divided by the number of calls);
mnistmlp and NumPy take turns, ``--repeats`` times, each after ``--pause`` seconds of idling
(so that the other's thread pool has stopped spinning) and one untimed call (so that its own
threads are awake). The table shows median times per call, the GFLOP/s of each, mnistmlp's
speed relative to NumPy (``2.00x``: twice as fast) and the cores that other processes kept
busy meanwhile (``others``: above about 0.2 the timings were disturbed). FLOPs = 2 x
multiply-adds: ``B IN OUT`` forward, ``2 B IN OUT`` backward (the bias, its gradient and the
activation are not counted). The roof (NumPy's 2048x2048 float32 matmul) is measured at the
start and at the end, for reference.

Every case is also a correctness check: mnistmlp's results must equal NumPy's to rtol 1e-4
(relative to the largest magnitude of the expected array), and on shapes small enough
(``B IN OUT`` up to 2**22) the naive kernels must agree with the fast ones too.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

import _common as common
from mnistmlp._core import kernels

SHAPES: List[Tuple[int, int]] = [
    (784, 100), (100, 10), (784, 10), (10, 10), (100, 100), (784, 1024), (1024, 1024), (1024, 10),
]
BATCH_SIZES = [10, 32, 128, 1024]
PASSES = ("forward", "backward")
#: Check the naive kernels against the fast ones when B * IN * OUT is at most this.
NAIVE_CHECK_MAX_WORK = 2**22


def shape_list(text: str) -> List[Tuple[int, int]]:
    """argparse type: ``"784x100,100x10"`` -> ``[(784, 100), (100, 10)]``."""
    shapes = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        sizes = part.lower().split("x")
        if len(sizes) != 2:
            raise argparse.ArgumentTypeError(f"expected shapes like 784x100, got {part!r}")
        shapes.append((common.positive_int(sizes[0]), common.positive_int(sizes[1])))
    if not shapes:
        raise argparse.ArgumentTypeError("expected shapes like 784x100,100x10, got nothing")
    return shapes


def assert_close(actual, expected, what: str) -> None:
    """Equal to rtol 1e-4, relative to each element and to the largest magnitude of ``expected``."""
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max(),
                               err_msg=what)


class Case:
    """One pass of one layer shape at one batch size: its arrays, its two contenders
    (:meth:`mnistmlp` and :meth:`numpy`) and its checks."""

    def __init__(self, pass_: str, n_in: int, n_out: int, batch: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.pass_, self.n_in, self.n_out, self.batch = pass_, n_in, n_out, batch
        self.x = rng.standard_normal((batch, n_in), dtype=np.float32)
        self.W = rng.standard_normal((n_in, n_out), dtype=np.float32) * np.float32(np.sqrt(2.0 / n_in))
        self.b = rng.standard_normal(n_out, dtype=np.float32)
        self.g = rng.standard_normal((batch, n_out), dtype=np.float32)
        multiply_adds = batch * n_in * n_out
        self.flops = 2 * multiply_adds * (1 if pass_ == "forward" else 2)
        self.check_naive = multiply_adds <= NAIVE_CHECK_MAX_WORK

    def mnistmlp(self, threads: int) -> Callable[[], object]:
        """mnistmlp's fast kernel, on ``threads`` OpenMP threads."""
        if self.pass_ == "forward":
            return lambda: kernels.dense_forward(self.x, self.W, self.b, "relu", threads=threads)
        return lambda: kernels.dense_backward(self.g, self.x, self.W, threads=threads)

    def numpy(self) -> Callable[[], object]:
        """NumPy's version; its BLAS threads are set by the caller (common.numpy_threads)."""
        x, W, b, g = self.x, self.W, self.b, self.g
        if self.pass_ == "forward":
            def forward():
                out = np.matmul(x, W)
                out += b
                return np.maximum(out, 0, out=out)
            return forward
        return lambda: (np.matmul(g, W.T), np.matmul(x.T, g), g.sum(axis=0))

    def check(self, threads: int) -> None:
        """mnistmlp's results equal NumPy's; the naive kernels' equal the fast ones'."""
        what = (f"{self.pass_} {self.n_in}->{self.n_out} batch {self.batch}, "
                f"{common.threads_label(threads)}")
        fast = self.mnistmlp(threads)()
        with common.numpy_threads(threads):
            expected = self.numpy()()
        if self.pass_ == "forward":
            fast, expected = (fast,), (expected,)
        for name, got, want in zip(("out/dx", "dW", "db"), fast, expected):
            assert_close(got, want, f"{what}: mnistmlp's {name} differs from numpy's")
        if self.check_naive:
            if self.pass_ == "forward":
                naive = (kernels.dense_forward(self.x, self.W, self.b, "relu", naive=True),)
            else:
                naive = kernels.dense_backward(self.g, self.x, self.W, naive=True)
            for name, got, want in zip(("out/dx", "dW", "db"), naive, fast):
                assert_close(got, want, f"{what}: the naive kernel's {name} differs from the fast one's")


def looped(run: Callable[[], object], number: int) -> Callable[[], Callable[[], None]]:
    """A setup for :func:`common.interleaved` that times ``number`` back-to-back calls."""
    def loop() -> None:
        for _ in range(number):
            run()
    return lambda: loop


def bench(args, all_timings: List[common.Timings]) -> List[dict]:
    cases = [(shape, b, t, p) for shape in args.shapes for b in args.batch_sizes
             for t in args.threads for p in args.passes]
    rows = []
    for index, ((n_in, n_out), batch, threads, pass_) in enumerate(cases, start=1):
        case = Case(pass_, n_in, n_out, batch)
        case.check(threads)
        contenders = {"mnistmlp": case.mnistmlp(threads), "numpy": case.numpy()}
        # NumPy's BLAS limit leaves mnistmlp's OpenMP threads alone, so it may span both.
        with common.numpy_threads(threads):
            numbers = {}
            for name, run in contenders.items():
                time.sleep(args.pause)  # as before a timing: the other's threads asleep
                numbers[name] = common.calls_per_timing(run, args.min_time)
            timings = common.interleaved(
                {name: looped(run, numbers[name]) for name, run in contenders.items()},
                args.repeats, args.pause, warm_up=True,
            )
        all_timings.append(timings)
        row = {"pass": pass_, "n_in": n_in, "n_out": n_out, "batch_size": batch, "threads": threads,
               "flops": case.flops, "naive_checked": case.check_naive, "peers": {},
               "other_cores": common.other_cores([timings])}
        for name, times in timings.seconds.items():
            per_call = [s / numbers[name] for s in times]
            row["peers"][name] = {"calls_per_timing": numbers[name], "seconds_per_call": per_call,
                                  "other_cpu_seconds": timings.other_cpu[name],
                                  "median_seconds": common.median(per_call),
                                  "gflops": common.gflops(case.flops, common.median(per_call))}
        peers = row["peers"]
        row["ratio"] = peers["numpy"]["median_seconds"] / peers["mnistmlp"]["median_seconds"]
        speeds = ", ".join(f"{name} {entry['gflops']:.1f}" for name, entry in peers.items())
        common.progress(f"[{index}/{len(cases)}] {pass_} {n_in}->{n_out} batch {batch}, "
                        f"{common.threads_label(threads)}: {speeds} GFLOP/s")
        rows.append(row)
    return rows


def table(rows: List[dict]) -> str:
    headers = ["layer", "pass", "batch", "threads", "mnistmlp us", "numpy us",
               "mnistmlp GFLOP/s", "numpy GFLOP/s", "vs numpy", "others"]
    body = [
        [f"{r['n_in']}->{r['n_out']}", r["pass"], r["batch_size"], r["threads"],
         common.fmt(1e6 * r["peers"]["mnistmlp"]["median_seconds"], 1),
         common.fmt(1e6 * r["peers"]["numpy"]["median_seconds"], 1),
         common.fmt(r["peers"]["mnistmlp"]["gflops"], 1), common.fmt(r["peers"]["numpy"]["gflops"], 1),
         common.fmt_ratio(r["ratio"]), common.fmt(r["other_cores"], 2)]
        for r in rows
    ]
    return common.markdown_table(headers, body, left=2)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time mnistmlp's dense forward/backward kernels against numpy.matmul at the "
                    "layer shapes of the training benchmark, check they agree, and print a "
                    "Markdown table of medians.",
    )
    parser.add_argument("--shapes", type=shape_list, default=SHAPES, metavar="INxOUT,...",
                        help="layer shapes (default: " + ",".join(f"{i}x{o}" for i, o in SHAPES) + ")")
    parser.add_argument("--batch-sizes", type=common.int_list, default=BATCH_SIZES, metavar="B,...",
                        help="batch sizes (default 10,32,128,1024)")
    parser.add_argument("--passes", type=common.choice_list(PASSES), default=list(PASSES), metavar="NAME,...",
                        help="forward, backward (default both)")
    common.common_arguments(parser, repeats=5)
    parser.add_argument("--min-time", type=common.non_negative_float, default=0.02, metavar="SECONDS",
                        help="each timing loops the call for at least this long (default %(default)s)")
    args = parser.parse_args(argv)
    args.threads = args.threads or [common.default_threads()]
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    notes = [] if common.threadpoolctl is not None else [common.THREADPOOLCTL_MISSING]
    for note in notes:
        common.progress(f"note: {note}")
    env = common.environment()
    roofs = common.Roofs(args.threads, args.roof_repeats)
    all_timings: List[common.Timings] = []
    rows = bench(args, all_timings)
    roofs.measure()
    env["load_average_end"] = common.load_average()
    print("\n".join(common.header_lines("mnistmlp dense-kernel benchmark (float32)", env, roofs,
                                         all_timings, notes)))
    print(f"- repetitions: {args.repeats}, interleaved, {args.pause} s idle before each timing, "
          f"each a loop of calls lasting at least {args.min_time} s; median time per call")
    print("- vs numpy: numpy's time divided by mnistmlp's (above 1: mnistmlp is faster)")
    print()
    print(table(rows))
    if args.json:
        settings = dict(vars(args), shapes=[list(s) for s in args.shapes])
        common.write_json(args.json, {"benchmark": "bench_kernels", "environment": env, "settings": settings,
                                      "notes": notes, "roof": roofs.report(), "kernels": rows})
        common.progress(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
