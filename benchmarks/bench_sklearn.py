"""mnistmlp's scikit-learn estimator against scikit-learn's own: ``mnistmlp.sklearn.MLPClassifier``
and ``sklearn.neural_network.MLPClassifier``, in the same run, on the same data.

Usage (from the repository root; the real MNIST comes from --data-dir or $MNISTMLP_DATA)::

    python benchmarks/bench_sklearn.py                    # 10 epochs, 3 seeds, 1 and 2 threads
    python benchmarks/bench_sklearn.py --epochs 3 --seeds 1 --threads 2
    python benchmarks/bench_sklearn.py --synthetic --samples 500 --epochs 1 --seeds 1   # no data needed

**Fitting.** Both estimators train on the 60,000 MNIST training images (float32 in [0, 1],
the same array for both; or the first ``--samples``) with scikit-learn's defaults:
``hidden_layer_sizes=(100,)``, relu, Adam at 0.001, ``batch_size="auto"`` (200), ``alpha=1e-4``,
shuffling, ``tol=1e-4`` and ``n_iter_no_change=10`` (which cannot stop a run of 10 epochs), and
``max_iter=--epochs``; each is then tested on the 10,000 test images. One fit per seed
(``random_state``) and thread count, interleaved (seed 0: scikit-learn, then mnistmlp; seed 1:
...), each after ``--pause`` seconds of idling. Threads: ``MLPClassifier(threads=t)`` for
mnistmlp, NumPy's BLAS limited to ``t`` with threadpoolctl for scikit-learn. A timing is the
whole ``fit(X, y)`` call. The table gives each estimator's median fit time, the speed-up
(scikit-learn's median over mnistmlp's), and each one's test accuracy, the mean over the seeds
(with its range), and their difference in points. The target: at least 10x faster at equal
accuracy (within 0.3 points).

**Inference.** ``predict_proba`` on the 10,000 test images, ``--repeats`` times, interleaved:
mnistmlp's first fitted model against scikit-learn's estimator given the same weights
(``coefs_`` and ``intercepts_``), which must give the same probabilities (rtol 1e-4, atol 1e-5).

The run fails if a loss is not finite, or, on the real data with at least 10,000 images and 3
epochs, if either estimator's test accuracy is below 0.9 (both reach about 0.97).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import warnings
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import numpy as np

import _common as common

try:
    import sklearn
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier as ScikitLearnMLP
except ImportError:
    raise SystemExit('error: scikit-learn is not installed: pip install "mnistmlp[sklearn]"') from None

from mnistmlp.sklearn import MLPClassifier

TRAIN_SIZE = 60_000
TEST_SIZE = 10_000
#: The sanity check: the accuracy both estimators must reach on enough real data.
CHECK_MIN_SAMPLES = 10_000
CHECK_MIN_EPOCHS = 3
CHECK_MIN_ACCURACY = 0.9
#: The target: this many times faster, at a test accuracy within this many points.
TARGET_SPEED_UP = 10.0
TARGET_POINTS = 0.3


CONTENDERS = ("scikit-learn", "mnistmlp")


def estimator(name: str, seed: int, epochs: int, threads: int):
    """The contender ``name``'s estimator, with scikit-learn's defaults."""
    if name == "scikit-learn":
        return ScikitLearnMLP(max_iter=epochs, random_state=seed)
    return MLPClassifier(max_iter=epochs, random_state=seed, threads=threads)


def on_threads(name: str, threads: int, run: Callable[[], object]) -> Callable[[], object]:
    """``run`` with ``threads`` threads: mnistmlp's estimator has them already, scikit-learn's
    are NumPy's BLAS's."""
    def limited() -> object:
        with common.numpy_threads(threads) if name == "scikit-learn" else contextlib.nullcontext():
            return run()

    return limited


def bench_fits(args, data: common.Mnist, all_timings: List[common.Timings]) -> List[dict]:
    X, y = data.train_images[:args.samples], data.train_labels[:args.samples]
    rows = []
    for threads in args.threads:
        seeds: Dict[str, Iterator[int]] = {name: iter(range(args.seeds)) for name in CONTENDERS}

        def setup(name: str) -> Callable[[], object]:
            model = estimator(name, next(seeds[name]), args.epochs, threads)
            return on_threads(name, threads, lambda: model.fit(X, y))

        def report(rep: int, seconds: Dict[str, float]) -> None:
            common.progress(f"[fit] {common.threads_label(threads)}, seed {rep - 1}: "
                            + ", ".join(f"{name} {s:.2f} s" for name, s in seconds.items()))

        timings = common.interleaved({name: (lambda name=name: setup(name)) for name in seeds}, args.seeds,
                                     args.pause, on_repeat=report)
        all_timings.append(timings)
        row: dict = {"threads": threads, "samples": len(X), "epochs": args.epochs, "peers": {}}
        for name, fitted in timings.results.items():
            accuracies = [float(np.mean(model.predict(data.test_images) == data.test_labels)) for model in fitted]
            losses = [model.loss_curve_[-1] for model in fitted]
            row["peers"][name] = {"seconds": timings.seconds[name], "other_cpu_seconds": timings.other_cpu[name],
                                  "median_seconds": common.median(timings.seconds[name]),
                                  "test_accuracy": accuracies, "mean_test_accuracy": float(np.mean(accuracies)),
                                  "final_loss": losses, "n_iter": [model.n_iter_ for model in fitted]}
        peers = row["peers"]
        row["speed_up"] = peers["scikit-learn"]["median_seconds"] / peers["mnistmlp"]["median_seconds"]
        row["accuracy_points"] = 100 * (peers["mnistmlp"]["mean_test_accuracy"]
                                        - peers["scikit-learn"]["mean_test_accuracy"])
        row["other_cores"] = common.other_cores([timings])
        check_fits(row, args, data.real)
        row["model"] = timings.results["mnistmlp"][0]  # for the inference timings; not in the JSON
        rows.append(row)
    return rows


def check_fits(row: dict, args, real_data: bool) -> None:
    """The sanity checks of the module docstring; AssertionError naming the row."""
    for name, entry in row["peers"].items():
        where = f"{name}, {common.threads_label(row['threads'])}"
        assert all(math.isfinite(loss) for loss in entry["final_loss"]), f"{where}: losses {entry['final_loss']}"
        if real_data and row["samples"] >= CHECK_MIN_SAMPLES and args.epochs >= CHECK_MIN_EPOCHS:
            assert min(entry["test_accuracy"]) >= CHECK_MIN_ACCURACY, (
                f"{where}: test accuracies {entry['test_accuracy']}, expected at least {CHECK_MIN_ACCURACY}")


def bench_inference(args, data: common.Mnist, fits: List[dict], all_timings: List[common.Timings]) -> List[dict]:
    X = data.test_images
    rows = []
    for row in fits:
        threads, mine = row["threads"], row["model"]
        theirs = ScikitLearnMLP(max_iter=1).fit(X[:200], np.arange(200) % 10)  # fitted: then given mine's weights
        theirs.coefs_, theirs.intercepts_ = mine.coefs_, mine.intercepts_
        models = {"scikit-learn": theirs, "mnistmlp": mine}
        common.progress(f"[predict_proba] {common.threads_label(threads)}: {args.repeats} reps")
        timings = common.interleaved(
            {name: (lambda name=name: on_threads(name, threads, lambda: models[name].predict_proba(X)))
             for name in CONTENDERS},
            args.repeats, args.pause, warm_up=True)
        all_timings.append(timings)
        np.testing.assert_allclose(timings.results["mnistmlp"][-1], timings.results["scikit-learn"][-1],
                                   rtol=1e-4, atol=1e-5, err_msg="the same weights give other probabilities")
        seconds = {name: common.median(times) for name, times in timings.seconds.items()}
        rows.append({"threads": threads, "samples": len(X), "median_seconds": seconds,
                     "seconds": timings.seconds, "speed_up": seconds["scikit-learn"] / seconds["mnistmlp"],
                     "other_cores": common.other_cores([timings])})
    return rows


# ----------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------

def accuracy_cell(entry: dict) -> str:
    accuracies = entry["test_accuracy"]
    spread = f" ({100 * min(accuracies):.2f}–{100 * max(accuracies):.2f})" if len(accuracies) > 1 else ""
    return f"{100 * entry['mean_test_accuracy']:.2f}%{spread}"


def fit_table(rows: List[dict]) -> str:
    headers = ["threads", "scikit-learn fit s", "mnistmlp fit s", "speed-up", "scikit-learn test accuracy",
               "mnistmlp test accuracy", "difference (points)", "others"]
    body = [
        [r["threads"], common.fmt(r["peers"]["scikit-learn"]["median_seconds"], 2),
         common.fmt(r["peers"]["mnistmlp"]["median_seconds"], 2), common.fmt_ratio(r["speed_up"]),
         accuracy_cell(r["peers"]["scikit-learn"]), accuracy_cell(r["peers"]["mnistmlp"]),
         f"{r['accuracy_points']:+.2f}", common.fmt(r["other_cores"], 2)]
        for r in rows
    ]
    return common.markdown_table(headers, body)


def inference_table(rows: List[dict]) -> str:
    headers = ["threads", "scikit-learn ms", "mnistmlp ms", "speed-up", "others"]
    body = [[r["threads"], common.fmt(1e3 * r["median_seconds"]["scikit-learn"], 2),
             common.fmt(1e3 * r["median_seconds"]["mnistmlp"], 2), common.fmt_ratio(r["speed_up"]),
             common.fmt(r["other_cores"], 2)] for r in rows]
    return common.markdown_table(headers, body)


def verdict(rows: List[dict]) -> str:
    """Whether every thread count meets the target."""
    met = all(r["speed_up"] >= TARGET_SPEED_UP and abs(r["accuracy_points"]) <= TARGET_POINTS for r in rows)
    worst = min(rows, key=lambda r: r["speed_up"])
    return (f"- target (at least {TARGET_SPEED_UP:g}x faster fit at equal accuracy, within {TARGET_POINTS} "
            f"points): {'met' if met else 'not met'}; slowest speed-up {worst['speed_up']:.2f}x "
            f"({common.threads_label(worst['threads'])}), largest accuracy difference "
            f"{max(abs(r['accuracy_points']) for r in rows):.2f} points")


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time mnistmlp.sklearn.MLPClassifier against scikit-learn's MLPClassifier (fit and "
                    "predict_proba) on MNIST, interleaved, and print Markdown tables of medians and accuracies.",
    )
    parser.add_argument("--epochs", type=common.positive_int, default=10, metavar="N",
                        help="epochs of every fit (max_iter) (default %(default)s)")
    parser.add_argument("--seeds", type=common.positive_int, default=3, metavar="N",
                        help="fits per estimator and thread count, with random_state 0..N-1 (default %(default)s)")
    common.common_arguments(parser, repeats=10)
    common.data_arguments(parser, TRAIN_SIZE)
    args = parser.parse_args(argv)
    args.threads = args.threads or sorted({1, common.default_threads()})
    common.check_samples(parser, args, TRAIN_SIZE)
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is the number of epochs wanted
    data = (common.synthetic_mnist(args.samples, TEST_SIZE) if args.synthetic
            else common.load_mnist(args.data_dir, validation_size=0))
    notes = [] if common.threadpoolctl is not None else [common.THREADPOOLCTL_MISSING]
    env = common.environment()
    env["scikit-learn"] = sklearn.__version__
    common.progress(f"data: {data.source}; warming up")
    for threads in args.threads:  # thread pools started and code paths loaded before any timing
        for name in CONTENDERS:
            model = estimator(name, 0, 1, threads)
            on_threads(name, threads, lambda: model.fit(data.train_images[:1000], data.train_labels[:1000]))()

    roofs = common.Roofs(args.threads, args.roof_repeats)
    all_timings: List[common.Timings] = []
    fits = bench_fits(args, data, all_timings)
    inference = bench_inference(args, data, fits, all_timings)
    roofs.measure()
    env["load_average_end"] = common.load_average()

    print("\n".join(common.header_lines("mnistmlp.sklearn against scikit-learn", env, roofs, all_timings, notes)))
    print(f"- scikit-learn {sklearn.__version__}; data: {data.source}; {args.samples:,} training images "
          f"(float32 in [0, 1], the same array for both), {len(data.test_images):,} test images")
    print(f"- both: MLPClassifier(hidden_layer_sizes=(100,), activation='relu', solver='adam', batch_size='auto' "
          f"(200), alpha=1e-4, max_iter={args.epochs}, random_state=seed), seeds 0..{args.seeds - 1}, "
          f"interleaved, {args.pause} s idle before each timing; fit times are medians, accuracies means")
    print()
    print(f"### fit: {args.epochs} epochs of {args.samples:,} images")
    print()
    print(fit_table(fits))
    print()
    print(verdict(fits))
    print()
    print(f"### predict_proba on {len(data.test_images):,} test images, the same weights "
          f"(repetitions: {args.repeats}, interleaved; medians)")
    print()
    print(inference_table(inference))

    if args.json:
        for row in fits:
            del row["model"]
        common.write_json(args.json, {"benchmark": "bench_sklearn", "environment": env, "settings": vars(args),
                                      "data": data.source, "notes": notes, "roof": roofs.report(), "fit": fits,
                                      "inference": inference})
        common.progress(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
