"""Parallel studies: a fixed small grid of runs, one after another and in worker processes,
timed in the same run.

Usage (from the repository root; the real MNIST comes from --data-dir or $MNISTMLP_DATA)::

    python benchmarks/bench_sweep.py                    # about 2 minutes on 2 cores
    python benchmarks/bench_sweep.py --repeats 5 --json sweep.json
    python benchmarks/bench_sweep.py --no-dask          # without the Dask cluster

**The grid.** Widths 32 and 128 × depths 1 and 2 × SGD (lr 0.1) and Adam (lr 0.001), batch
32, one epoch over the 55,000 training images (or the first ``--train-limit``), ``--seeds``
seeds (2): 16 runs of a few tenths of a second each, each measured as the study measures it
(training, then the accuracy over the training, validation and test sets).

**The contenders**, each a call of ``mnistmlp.experiments.run_grid``:

- ``serial``: ``n_jobs=1``, each run with the engine's default threads (every core): what a
  study does without ``--jobs``;
- ``serial, 1 thread``: the same, each run on one thread;
- ``joblib``: ``n_jobs=J, threads_per_job=1`` (``--jobs``, default 2): J loky worker processes
  of one engine thread each;
- ``dask`` (unless ``--no-dask``): ``scheduler=client`` for a ``distributed.LocalCluster`` of J
  worker processes of one thread each, started before the timings.

They are timed interleaved (repetition 1 times each once, then repetition 2, ...), each after
``--pause`` seconds idle; the table shows medians, runs per second and the speed against
``serial`` (above 1: faster). Worker processes are started, and have read MNIST, before the
timings: each contender runs the grid once untimed, and the notes give what the first sweep
of the joblib workers and the start of the Dask cluster cost. The Dask overhead per run is
given twice: (dask's median - joblib's median) / runs, the same processes and threads, so
the difference is the scheduler's round trips and the transfer of the runs and records (but
it is the difference of two noisy timings); and measured alone, the median time of one task
that takes a record to a worker and brings it back.

Every contender's records must equal serial's bit for bit, timing fields aside.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

import _common as common

from mnistmlp import experiments

GRID = dict(widths=[32, 128], depths=[1, 2], optimizers=["sgd", "adam"], learning_rates={"sgd": [0.1], "adam": [0.001]},
            batch_size=32, epochs=1)


def without_timing(records: List[dict]) -> List[dict]:
    return [{k: v for k, v in r.items() if k not in experiments.TIMING_FIELDS} for r in records]


def workers_cpu() -> Optional[float]:
    """CPU seconds used so far by this process's descendants (the worker processes), or None
    without psutil (which Dask brings)."""
    try:
        import psutil
    except ImportError:
        return None
    total = 0.0
    for process in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):  # a process that ended meanwhile
            times = process.cpu_times()
            total += times.user + times.system
    return total


def timed_with_workers(call: Callable[[], object]) -> common.SelfTimed:
    """``call`` timed as :func:`common.timed` times it, but with the CPU of this process's
    worker processes not counted as other processes' (None where it cannot be told apart)."""
    before = workers_cpu()
    measured = common.timed(call)
    after = workers_cpu()
    if measured.other_cpu is None or before is None or after is None:
        return measured._replace(other_cpu=None)
    return measured._replace(other_cpu=max(0.0, measured.other_cpu - (after - before)))


def dask_round_trip(client, records: List[dict], calls: int = 20) -> float:
    """The median seconds of one task through the Dask scheduler that takes a record to a
    worker and brings it back: what a run costs on top of its work, measured alone."""
    seconds = []
    for call in range(calls):
        start = time.perf_counter()
        client.submit(dict, records[call % len(records)], pure=False).result()
        seconds.append(time.perf_counter() - start)
    return common.median(seconds)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time a fixed small grid of study runs one after another, in joblib's worker processes and on "
                    "a local Dask cluster, interleaved, and print a Markdown table of medians.")
    parser.add_argument("--jobs", type=common.positive_int, default=2, metavar="J",
                        help="worker processes of one thread each, for joblib and Dask (default %(default)s)")
    parser.add_argument("--seeds", type=common.positive_int, default=2, metavar="N",
                        help="seeds per configuration: 8 runs each (default %(default)s)")
    parser.add_argument("--train-limit", type=common.positive_int, default=None, metavar="N",
                        help="train on the first N training images (default: all 55,000)")
    parser.add_argument("--repeats", type=common.positive_int, default=3, metavar="N",
                        help="interleaved repetitions of every sweep; the table shows medians (default %(default)s)")
    parser.add_argument("--roof-repeats", type=common.positive_int, default=3, metavar="N",
                        help="timed calls of the roof's matrix product, at the start and at the end "
                             "(default %(default)s)")
    parser.add_argument("--pause", type=common.non_negative_float, default=0.2, metavar="SECONDS",
                        help="idle time before each timing (default %(default)s)")
    parser.add_argument("--no-dask", action="store_true", help="leave out the Dask cluster")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="folder of the MNIST files (default: $MNISTMLP_DATA, else mnistmlp's cache folder); "
                             "never downloads")
    parser.add_argument("--json", metavar="PATH",
                        help="also write every raw timing, median and ratio, and the environment, to PATH")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    data = common.load_mnist(args.data_dir)  # exits with an explanation when the files are missing
    seeds = list(range(args.seeds))
    runs = len(experiments.grid_configs(**GRID)) * len(seeds)

    def sweep(**how) -> Callable[[], common.SelfTimed]:
        return lambda: timed_with_workers(lambda: experiments.run_grid(
            **GRID, seeds=seeds, train_limit=args.train_limit, data_dir=args.data_dir, progress=False, **how))

    contenders: Dict[str, Callable[[], common.SelfTimed]] = {
        "serial": sweep(),
        "serial, 1 thread": sweep(threads_per_job=1),
        "joblib": sweep(n_jobs=args.jobs, threads_per_job=1),
    }
    layout = {"serial": f"1 × {common.default_threads()}", "serial, 1 thread": "1 × 1",
              "joblib": f"{args.jobs} × 1", "dask": f"{args.jobs} × 1"}
    env = common.environment()
    roofs = common.Roofs(sorted({1, common.default_threads()}), args.roof_repeats)
    notes: List[str] = []
    first: Dict[str, float] = {}
    with contextlib.ExitStack() as cleanup:
        if not args.no_dask:
            import distributed

            start = time.perf_counter()
            cluster = cleanup.enter_context(distributed.LocalCluster(
                n_workers=args.jobs, threads_per_worker=1, processes=True, dashboard_address=None))
            client = cleanup.enter_context(distributed.Client(cluster))
            first["dask cluster start"] = time.perf_counter() - start
            contenders["dask"] = sweep(scheduler=client)
        common.progress(f"data: {data.source}; {runs} runs per sweep; first sweeps (untimed)")
        expected: Optional[List[dict]] = None
        for name, call in contenders.items():
            start = time.perf_counter()
            records_of_first_sweep = call().value
            records = without_timing(records_of_first_sweep)
            first[f"{name}, first sweep"] = time.perf_counter() - start
            expected = records if expected is None else expected
            if records != expected:
                raise SystemExit(f"error: {name}'s records differ from serial's")
        round_trip = None if args.no_dask else dask_round_trip(client, records_of_first_sweep)
        timings = common.interleaved(
            {name: (lambda call=call: call) for name, call in contenders.items()}, args.repeats, args.pause,
            on_repeat=lambda rep, t: common.progress(f"repetition {rep}: " + ", ".join(
                f"{name} {seconds:.2f} s" for name, seconds in t.items())))
    roofs.measure()
    env["load_average_end"] = common.load_average()
    for name, results in timings.results.items():
        if any(without_timing(records) != expected for records in results):
            raise SystemExit(f"error: {name}'s records differ from serial's")

    medians = {name: common.median(seconds) for name, seconds in timings.seconds.items()}
    rows = [[name, layout[name], f"{medians[name]:.2f}", f"{runs / medians[name]:.2f}",
             common.fmt_ratio(medians["serial"] / medians[name]),
             common.fmt(common.other_cores([common.Timings({name: timings.seconds[name]}, {},
                                                           {name: timings.other_cpu[name]})]), 2)]
            for name in contenders]
    overhead = None if "dask" not in medians else (medians["dask"] - medians["joblib"]) / runs
    notes.append("startup, untimed in the table: " + "; ".join(f"{name} {s:.2f} s" for name, s in first.items()))
    print("\n".join(common.header_lines("mnistmlp study sweep benchmark", env, roofs, [timings], notes)))
    images = "all the training images" if args.train_limit is None else f"the first {args.train_limit:,} training images"
    print(f"- data: {data.source}; {images}; {runs} runs per sweep; "
          f"repetitions: {args.repeats}, interleaved, {args.pause} s idle before each; medians")
    print()
    print(common.markdown_table(["sweep", "processes × threads", "median s", "runs/s", "vs serial", "others"], rows))
    if overhead is not None and round_trip is not None:
        print()
        print(f"Dask overhead per run: {1000 * overhead:.1f} ms from the medians ((dask - joblib) / {runs} runs, the "
              f"same {args.jobs} processes of one thread); {1000 * round_trip:.1f} ms measured alone (one task taking "
              "a record to a worker and back, median of 20)")
    if args.json:
        common.write_json(args.json, {
            "environment": env,
            "settings": {"grid": GRID, "seeds": seeds, "train_limit": args.train_limit, "jobs": args.jobs,
                         "repeats": args.repeats, "pause": args.pause, "runs": runs},
            "roof": roofs.report(),
            "sweeps": {name: {"layout": layout[name], "seconds": timings.seconds[name], "median_seconds": medians[name],
                              "runs_per_second": runs / medians[name], "vs_serial": medians["serial"] / medians[name],
                              "other_cpu": timings.other_cpu[name]} for name in contenders},
            "startup_seconds": first,
            "dask_overhead_per_run_seconds": overhead,
            "dask_round_trip_seconds": round_trip,
            "notes": notes,
        })
    return 0


if __name__ == "__main__":
    sys.exit(main())
