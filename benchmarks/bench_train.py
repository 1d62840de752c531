"""Training and inference speed: mnistmlp against NumPy (mnistmlp.numpy_baseline), PyTorch,
and another build of mnistmlp (``--baseline``: is the current build slower than a previous
commit's?).

Usage (from the repository root; the real MNIST comes from --data-dir or $MNISTMLP_DATA)::

    python benchmarks/bench_train.py                     # the default run, a few minutes
    python benchmarks/bench_train.py --full --samples 5500 --json full.json
    python benchmarks/bench_train.py --configs A,D --optimizers adam --batch-sizes 10,1024 \\
        --threads 1,2 --peers mnistmlp,numpy,torch
    python benchmarks/bench_train.py --synthetic --samples 200 --repeats 1   # no data needed

    # against the previous commit, in the same run (the build takes about a minute):
    benchmarks/build_baseline.sh HEAD~1 /tmp/baseline-prev
    python benchmarks/bench_train.py --baseline /tmp/baseline-prev --peers mnistmlp,baseline,numpy

    # what callbacks cost an epoch (vs callbacks above 1: they slow it):
    python benchmarks/bench_train.py --peers mnistmlp,callbacks --repeats 9

**Training.** One epoch over the 55,000 training images (or the first ``--samples``),
trained by every peer:

- ``mnistmlp``: ``MLP(sizes, optimizer=..., threads=t).fit(X, y, epochs=1, batch_size=b)``;
- ``numpy``: ``mnistmlp.numpy_baseline.NumpyMLP.fit_epoch`` (NumPy, vectorised per mini-batch)
  inside ``threadpoolctl.threadpool_limits(t)``;
- ``torch``: idiomatic eager PyTorch with ``torch.set_num_threads(t)``: an ``nn.Sequential``
  of ``nn.Linear``/``nn.ReLU``, ``torch.optim.SGD``/``Adam``, ``F.cross_entropy``, mini-batches
  indexed from a fresh random permutation each epoch (only if torch is importable; it is
  never a dependency of mnistmlp);
- ``baseline`` (with ``--baseline DIR``): the ``mnistmlp`` peer's very call on another build of
  mnistmlp, installed in DIR (``benchmarks/build_baseline.sh REF DIR`` builds commit REF there,
  with the current build's compiler and flags), or in the environment of the Python
  interpreter DIR names. Two builds cannot be imported into one process, so it runs in a
  worker process (``_baseline.py``) that gets the data once, sets up each call untimed on
  request, and times the call itself, so that the pipe costs nothing; ``vs baseline`` below
  1 means the current build is slower. The two builds' code is ``_mnistmlp_peer.py``'s, which
  uses only the API every build has. Between runs of the same build the ratio moves by the
  machine's noise (on the 2-core development machine 0.8x to 1.2x per row at 9 repetitions,
  a baseline of the same build against itself): more ``--repeats`` narrow it.
- ``callbacks`` (only when named in ``--peers``): the ``mnistmlp`` peer's very call with
  ``callbacks=[EarlyStopping(monitor="loss", patience=1_000_000, restore_best_weights=True),
  CSVLogger(file), LearningRateScheduler(lambda epoch, rate: rate)]``: each epoch snapshots the
  model, writes a CSV row and sets the learning rate, and training is unchanged. ``vs
  callbacks`` is what they cost (1.02x: 2% slower with them). Not in the inference table.

All peers start every epoch from the same initial weights (mnistmlp's, copied) with the
same optimizer (SGD lr 0.01 or Adam lr 0.001) and shuffle the data. Each repetition sets up
fresh models (untimed), then times one epoch of every peer in turn (rep 1: mnistmlp,
baseline, numpy, torch; rep 2: ...), each after ``--pause`` seconds of idling (so that the
previous peer's thread pool has stopped spinning); the table shows medians. A timing is the
wall-clock time of the whole call a user would make, input checks included.

Per row the table gives each peer's samples/s, mnistmlp's achieved GFLOP/s and its share of
the machine's float32 roof, and mnistmlp's speed relative to each peer (``2.00x``: twice as
many samples/s). FLOPs per sample = 2 x multiply-adds, counting for each layer ``l`` (n_l
inputs, n_{l+1} outputs) the forward product ``n_l n_{l+1}``, the weight gradient
``n_l n_{l+1}``, and the input gradient ``n_l n_{l+1}`` for every layer but the first.
Biases, activations, the loss and the optimizer are not counted. The roof is NumPy's
``matmul`` on two 2048x2048 float32 matrices at the same thread count, measured at the start
and at the end of the run (median of several each; the better of the two counts, since other
processes can only lower it). The ``others`` column gives the cores that other processes
kept busy during a row's timings (from /proc/stat): above about 0.2, a multithreaded timing
was disturbed.

Each epoch is also a sanity check: every loss must be finite (the baseline's too) and, on
the real data with at least 5,000 samples, every peer's epoch accuracy (the running accuracy
of the training forward passes) must be within 0.15 of mnistmlp's (the shuffling alone moves the small B
network's accuracy by up to 0.09 on 5,000 samples), and at least 0.3 (three times chance)
when the epoch has at least 400 updates (with fewer, e.g. 5,000 samples in batches of 1024,
an epoch is too short to be far from chance).

**Inference.** ``predict_proba`` on the 10,000 test images with the initial weights of each
configuration: mnistmlp against the baseline's ``predict_proba``, ``NumpyMLP.predict_proba``
(same weights) and a no-grad torch forward pass plus softmax, per thread count, interleaved,
medians; the probabilities must agree to rtol 1e-4, atol 1e-5.

``--full`` selects every configuration (A 784-100-10, B 784-10-10, C 784-100-100-10,
D 784-1024-1024-10), both optimizers, batch sizes 10, 32, 128, 1024 and 1 thread as well as
all cores. That takes long (NumPy trains D at batch 10 slowly): ``--samples N`` shrinks each
epoch to the first N images; samples/s still compare. The real data is the default;
``--synthetic`` uses random MNIST-like data instead (to check the script runs, e.g. in CI).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

import _baseline  # first: it keeps the environment as it was before mnistmlp's import
import _common as common
import mnistmlp
from _mnistmlp_peer import LEARNING_RATES, SEED, MnistmlpPeer
from mnistmlp import reference
from mnistmlp.callbacks import CSVLogger, EarlyStopping, LearningRateScheduler
from mnistmlp.numpy_baseline import NumpyMLP

CONFIGS: Dict[str, List[int]] = {
    "A": [784, 100, 10],
    "B": [784, 10, 10],
    "C": [784, 100, 100, 10],
    "D": [784, 1024, 1024, 10],
}
BATCH_SIZES = [10, 32, 128, 1024]
PEERS = ("mnistmlp", "baseline", "callbacks", "numpy", "torch")
TRAIN_SIZE = 55_000
TEST_SIZE = 10_000
TORCH_MISSING = "torch not installed (pip install torch==2.13.0 for the CPU build): torch columns left out"

# The sanity checks of the training epochs (see the module docstring).
CHECK_MIN_SAMPLES = 5_000
CHECK_ACCURACY_SPREAD = 0.15
CHECK_MIN_UPDATES = 400
CHECK_MIN_ACCURACY = 0.3


def flops_per_sample(sizes: Sequence[int]) -> int:
    """FLOPs of one training sample: 2 x the multiply-adds of the forward pass, the weight
    gradients and the input gradients of every layer but the first."""
    products = [n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    return 2 * (2 * sum(products) + sum(products[1:]))


def config_label(name: str) -> str:
    return f"{name} {'-'.join(map(str, CONFIGS[name]))}"


# ----------------------------------------------------------------------------------------
# The peers. Each builds, untimed, the call to time: a training epoch from the given
# weights, or predict_proba. MnistmlpPeer (_mnistmlp_peer.py) is shared with the baseline
# (_baseline.BaselinePeer), which runs it on another build in a worker process.
# ----------------------------------------------------------------------------------------

Weights = List[tuple]


class CallbacksPeer(MnistmlpPeer):
    """The mnistmlp peer's epoch with the callbacks a user steering training would give:
    what they cost is its ratio to mnistmlp, and the time spent in their hooks, which each
    epoch reports as ``hook_seconds``. Its inference would be mnistmlp's: left out."""

    name = "callbacks"
    trains_only = True

    def __init__(self, cleanup: contextlib.ExitStack) -> None:
        self.log_dir = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="bench-callbacks-"))
        self.hook_seconds = [0.0]

    def trainer(self, sizes, optimizer, weights, threads, batch_size, X, y) -> Callable[[], dict]:
        hook_seconds = self.hook_seconds = [0.0]  # fit_options, called by super().trainer, adds to it
        epoch = super().trainer(sizes, optimizer, weights, threads, batch_size, X, y)

        def timed_epoch() -> dict:
            return {**epoch(), "hook_seconds": hook_seconds[0]}

        return timed_epoch

    def fit_options(self) -> dict:
        # Callbacks that leave training as it is (the peers must train alike): a patience no
        # epoch reaches, a schedule keeping the rate. EarlyStopping still snapshots the whole
        # model each epoch, CSVLogger still writes its row, the schedule still sets the rate.
        callbacks = [
            EarlyStopping(monitor="loss", patience=1_000_000, restore_best_weights=True),
            CSVLogger(os.path.join(self.log_dir, "log.csv")),
            LearningRateScheduler(lambda epoch, rate: rate),
        ]
        return {"callbacks": [TimedHooks(callback, self.hook_seconds) for callback in callbacks]}


class TimedHooks:
    """A callback whose hooks add the seconds they take to ``seconds[0]``."""

    def __init__(self, callback, seconds: List[float]) -> None:
        self._callback, self._seconds = callback, seconds

    def __getattr__(self, name: str):
        attribute = getattr(self._callback, name)
        if not name.startswith(("on_", "set_")) or not callable(attribute):
            return attribute

        def timed(*args):
            start = time.perf_counter()
            try:
                return attribute(*args)
            finally:
                self._seconds[0] += time.perf_counter() - start

        return timed


class NumpyPeer:
    name = "numpy"

    def _model(self, sizes, optimizer: str, weights) -> NumpyMLP:
        make_optimizer = reference.SGD if optimizer == "sgd" else reference.Adam
        model = NumpyMLP(sizes, optimizer=make_optimizer(LEARNING_RATES[optimizer]), seed=SEED, dtype=np.float32)
        model.params = [(W.copy(), b.copy()) for W, b in weights]
        return model

    def trainer(self, sizes, optimizer, weights, threads, batch_size, X, y) -> Callable[[], dict]:
        model = self._model(sizes, optimizer, weights)

        def epoch() -> dict:
            with common.numpy_threads(threads):
                return model.fit_epoch(X, y, batch_size, shuffle=True, seed=SEED)

        return epoch

    def predictor(self, sizes, weights, threads, X) -> Callable[[], np.ndarray]:
        model = self._model(sizes, "sgd", weights)  # the optimizer plays no part in inference

        def predict() -> np.ndarray:
            with common.numpy_threads(threads):
                return model.predict_proba(X)

        return predict


class TorchPeer:
    name = "torch"

    def __init__(self, torch) -> None:
        self.torch = torch

    def _model(self, weights):
        return common.torch_mlp(self.torch, weights)

    def trainer(self, sizes, optimizer, weights, threads, batch_size, X, y) -> Callable[[], dict]:
        torch = self.torch
        model = self._model(weights)
        make_optimizer = torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam
        opt = make_optimizer(model.parameters(), lr=LEARNING_RATES[optimizer])
        inputs, labels = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
        generator = torch.Generator().manual_seed(SEED)
        n = len(X)

        def epoch() -> dict:
            torch.set_num_threads(threads)
            order = torch.randperm(n, generator=generator)
            total_loss, correct, n_batches = common.torch_epoch(torch, model, opt, inputs, labels, order, batch_size)
            return {"loss": total_loss.item() / n_batches, "accuracy": correct.item() / n}

        return epoch

    def predictor(self, sizes, weights, threads, X) -> Callable[[], np.ndarray]:
        torch = self.torch
        model = self._model(weights)
        inputs = torch.from_numpy(X)

        def predict() -> np.ndarray:
            torch.set_num_threads(threads)
            with torch.no_grad():
                return torch.softmax(model(inputs), dim=1).numpy()

        return predict


def make_peers(names: Sequence[str], notes: List[str], make_baseline: Callable[[], object],
               cleanup: contextlib.ExitStack) -> list:
    """The peers named, in order; torch is left out, with a note, if it is not importable.
    ``make_baseline`` starts the baseline's worker; ``cleanup`` removes what peers leave."""
    peers: list = []
    for name in names:
        if name == "mnistmlp":
            peers.append(MnistmlpPeer())
        elif name == "callbacks":
            peers.append(CallbacksPeer(cleanup))
        elif name == "baseline":
            peers.append(make_baseline())
        elif name == "numpy":
            peers.append(NumpyPeer())
            if common.threadpoolctl is None:
                notes.append(common.THREADPOOLCTL_MISSING)
        else:
            try:
                import torch
            except ImportError:
                notes.append(TORCH_MISSING)
                continue
            peers.append(TorchPeer(torch))
    return peers


# ----------------------------------------------------------------------------------------
# The measurements
# ----------------------------------------------------------------------------------------

def initial_weights(sizes: Sequence[int]) -> Weights:
    return mnistmlp.MLP(sizes, seed=SEED).get_weights()


def summarize(timings: common.Timings, work: float) -> dict:
    """Per peer: raw seconds, other processes' CPU seconds meanwhile, the median, and
    ``work`` (samples) per median second; mnistmlp's ratio to every other peer (how many
    times its throughput); and the cores other processes kept busy."""
    summary = {
        name: {"seconds": seconds, "other_cpu_seconds": timings.other_cpu[name],
               "median_seconds": common.median(seconds),
               "samples_per_second": work / common.median(seconds)}
        for name, seconds in timings.seconds.items()
    }
    ratios = {
        name: summary["mnistmlp"]["samples_per_second"] / entry["samples_per_second"]
        for name, entry in summary.items() if name != "mnistmlp"
    }
    return {"peers": summary, "ratios": ratios, "other_cores": common.other_cores([timings])}


def check_training(row: dict, real_data: bool) -> None:
    """The sanity checks of the module docstring; raises AssertionError naming the row."""
    where = f"{row['config']} {row['optimizer']} batch {row['batch_size']} threads {row['threads']}"
    peers = row["peers"]
    for name, entry in peers.items():
        for epoch in entry["epochs"]:
            assert math.isfinite(epoch["loss"]), f"{where}: {name}'s epoch loss is {epoch['loss']}"
    if not real_data or row["samples"] < CHECK_MIN_SAMPLES:
        return
    reference_accuracy = common.median([e["accuracy"] for e in peers["mnistmlp"]["epochs"]])
    updates = math.ceil(row["samples"] / row["batch_size"])
    for name, entry in peers.items():
        accuracy = common.median([e["accuracy"] for e in entry["epochs"]])
        assert abs(accuracy - reference_accuracy) <= CHECK_ACCURACY_SPREAD, (
            f"{where}: {name} reaches epoch accuracy {accuracy:.3f} but mnistmlp "
            f"{reference_accuracy:.3f}: the peers do not train alike"
        )
        assert updates < CHECK_MIN_UPDATES or accuracy >= CHECK_MIN_ACCURACY, (
            f"{where}: {name}'s epoch accuracy {accuracy:.3f} is near chance after {updates} updates"
        )


def bench_training(args, peers, data: common.Mnist, all_timings: List[common.Timings]) -> List[dict]:
    X, y = data.train_images[:args.samples], data.train_labels[:args.samples]
    cases = [(c, o, b, t) for c in args.configs for o in args.optimizers
             for b in args.batch_sizes for t in args.threads]
    rows = []
    for number, (config, optimizer, batch_size, threads) in enumerate(cases, start=1):
        sizes = CONFIGS[config]
        weights = initial_weights(sizes)
        title = (f"[train {number}/{len(cases)}] {config_label(config)} {optimizer} batch {batch_size}, "
                 f"{common.threads_label(threads)}")

        def report(rep: int, seconds: Dict[str, float]) -> None:
            common.progress(f"{title}, rep {rep}/{args.repeats}: "
                            + ", ".join(f"{name} {s:.2f} s" for name, s in seconds.items()))

        timings = common.interleaved(
            {peer.name: (lambda peer=peer: peer.trainer(sizes, optimizer, weights, threads,
                                                        batch_size, X, y))
             for peer in peers},
            args.repeats, args.pause, on_repeat=report,
        )
        all_timings.append(timings)
        row = {"config": config, "sizes": sizes, "optimizer": optimizer,
               "learning_rate": LEARNING_RATES[optimizer], "batch_size": batch_size,
               "threads": threads, "samples": len(X), "flops_per_sample": flops_per_sample(sizes)}
        row.update(summarize(timings, len(X)))
        for name, epochs in timings.results.items():
            row["peers"][name]["epochs"] = epochs
        row["mnistmlp_gflops"] = common.gflops(row["flops_per_sample"] * len(X),
                                               row["peers"]["mnistmlp"]["median_seconds"])
        check_training(row, data.real)
        rows.append(row)
    return rows


def bench_inference(args, peers, data: common.Mnist, all_timings: List[common.Timings]) -> List[dict]:
    X = data.test_images
    cases = [(c, t) for c in args.configs for t in args.threads]
    peers = [peer for peer in peers if not getattr(peer, "trains_only", False)]
    rows = []
    for number, (config, threads) in enumerate(cases, start=1):
        sizes = CONFIGS[config]
        weights = initial_weights(sizes)
        title = f"[inference {number}/{len(cases)}] {config_label(config)}, {common.threads_label(threads)}"
        common.progress(f"{title}: {args.inference_repeats} reps")
        timings = common.interleaved(
            {peer.name: (lambda peer=peer: peer.predictor(sizes, weights, threads, X)) for peer in peers},
            args.inference_repeats, args.pause,
        )
        all_timings.append(timings)
        probabilities = {name: outputs[-1] for name, outputs in timings.results.items()}
        for name, outputs in probabilities.items():
            np.testing.assert_allclose(probabilities["mnistmlp"], outputs, rtol=1e-4, atol=1e-5,
                                       err_msg=f"{title}: mnistmlp's probabilities differ from {name}'s")
        row = {"config": config, "sizes": sizes, "threads": threads, "samples": len(X)}
        row.update(summarize(timings, len(X)))
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------

def training_table(rows: List[dict], peer_names: Sequence[str]) -> str:
    others = [name for name in peer_names if name != "mnistmlp"]
    headers = (["config", "opt", "batch", "threads"] + [f"{name} samples/s" for name in peer_names]
               + ["mnistmlp GFLOP/s", "% of roof"] + [f"vs {name}" for name in others] + ["others"])
    body = [
        [config_label(r["config"]), r["optimizer"], r["batch_size"], r["threads"]]
        + [common.fmt(r["peers"][name]["samples_per_second"]) for name in peer_names]
        + [common.fmt(r["mnistmlp_gflops"], 1), common.fmt(r["percent_of_roof"], 1)]
        + [common.fmt_ratio(r["ratios"][name]) for name in others] + [common.fmt(r["other_cores"], 2)]
        for r in rows
    ]
    return common.markdown_table(headers, body, left=2)


def inference_table(rows: List[dict], peer_names: Sequence[str]) -> str:
    others = [name for name in peer_names if name != "mnistmlp"]
    headers = (["config", "threads"] + [f"{name} ms" for name in peer_names]
               + [f"{name} samples/s" for name in peer_names] + [f"vs {name}" for name in others]
               + ["others"])
    body = [
        [config_label(r["config"]), r["threads"]]
        + [common.fmt(1e3 * r["peers"][name]["median_seconds"], 2) for name in peer_names]
        + [common.fmt(r["peers"][name]["samples_per_second"]) for name in peer_names]
        + [common.fmt_ratio(r["ratios"][name]) for name in others] + [common.fmt(r["other_cores"], 2)]
        for r in rows
    ]
    return common.markdown_table(headers, body)


def hooks_lines(rows: List[dict]) -> str:
    """Per row, the callbacks peer's time in its callbacks' hooks against mnistmlp's epoch."""
    lines = []
    for row in rows:
        hooks = common.median([e["hook_seconds"] for e in row["peers"]["callbacks"]["epochs"]])
        epoch = row["peers"]["mnistmlp"]["median_seconds"]
        lines.append(f"- callbacks, {config_label(row['config'])} {row['optimizer']} batch {row['batch_size']}, "
                     f"{common.threads_label(row['threads'])}: hooks {1e3 * hooks:.2f} ms per epoch, "
                     f"{100 * hooks / epoch:.2f}% of mnistmlp's median epoch ({1e3 * epoch:.0f} ms)")
    return "\n".join(lines)


def warm_up(peers, data: common.Mnist, threads: Sequence[int]) -> None:
    """One short untimed epoch of every peer at every thread count, so that no timing pays
    for thread-pool start-up or first-call initialisation."""
    sizes = CONFIGS["A"]
    weights = initial_weights(sizes)
    X, y = data.train_images[:1000], data.train_labels[:1000]
    for t in threads:
        for peer in peers:
            peer.trainer(sizes, "sgd", weights, t, 100, X, y)()
            if not getattr(peer, "trains_only", False):
                peer.predictor(sizes, weights, t, data.test_images[:1000])()


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time one training epoch (and inference) of mnistmlp, NumPy "
                    "(mnistmlp.numpy_baseline), PyTorch and optionally another build of mnistmlp "
                    "(--baseline), interleaved, and print a Markdown table of medians.",
        epilog="Default: config A, sgd and adam, batch sizes 10,32,128,1024, all cores. "
               "Explicit options override --full's selection. Against the previous commit: "
               "benchmarks/build_baseline.sh HEAD~1 /tmp/baseline && "
               "python benchmarks/bench_train.py --baseline /tmp/baseline",
    )
    parser.add_argument("--configs", type=common.choice_list(list(CONFIGS)), metavar="NAME,...",
                        help="networks: " + ", ".join(config_label(c) for c in CONFIGS) + " (default A)")
    parser.add_argument("--optimizers", type=common.choice_list(list(LEARNING_RATES)), metavar="NAME,...",
                        help="sgd (lr 0.01), adam (lr 0.001) (default both)")
    parser.add_argument("--batch-sizes", type=common.int_list, metavar="B,...",
                        help="mini-batch sizes (default 10,32,128,1024)")
    parser.add_argument("--peers", type=common.choice_list(PEERS), metavar="NAME,...",
                        help="what to compare, timed in this order; must include mnistmlp (default "
                             "mnistmlp,numpy,torch, and baseline after mnistmlp with --baseline); "
                             "callbacks: mnistmlp's epoch with callbacks, to see what they cost")
    parser.add_argument("--baseline", metavar="DIR",
                        help="also time the mnistmlp of another build, in a worker process: DIR is a "
                             "folder where it is installed (benchmarks/build_baseline.sh REF DIR builds "
                             "a commit there) or a Python interpreter whose environment has it; the "
                             "tables get a baseline column and 'vs baseline' (below 1: slower than "
                             "the baseline)")
    parser.add_argument("--full", action="store_true",
                        help="every config, optimizer and batch size, and 1 thread as well as all cores")
    common.common_arguments(parser, repeats=3)
    parser.add_argument("--inference-repeats", type=common.positive_int, default=10, metavar="N",
                        help="interleaved repetitions of the (fast) inference timings (default %(default)s)")
    common.data_arguments(parser, TRAIN_SIZE, "; samples/s still compare")
    args = parser.parse_args(argv)

    args.configs = args.configs or (list(CONFIGS) if args.full else ["A"])
    args.optimizers = args.optimizers or list(LEARNING_RATES)
    args.batch_sizes = args.batch_sizes or BATCH_SIZES
    cores = common.default_threads()
    args.threads = args.threads or (sorted({1, cores}) if args.full else [cores])
    if args.peers is None:
        args.peers = [p for p in PEERS if (p != "baseline" or args.baseline) and p != "callbacks"]
    if "mnistmlp" not in args.peers:
        parser.error("--peers must include mnistmlp: the ratios compare with it")
    if "baseline" in args.peers and not args.baseline:
        parser.error("--peers baseline needs --baseline DIR (see benchmarks/build_baseline.sh)")
    if args.baseline and "baseline" not in args.peers:
        parser.error("--baseline is given but --peers leaves baseline out")
    common.check_samples(parser, args, TRAIN_SIZE)
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.synthetic:
        data = common.synthetic_mnist(args.samples, TEST_SIZE, SEED)
    else:
        data = common.load_mnist(args.data_dir)
    with contextlib.ExitStack() as cleanup:  # ends the baseline's worker, whatever happens
        try:
            return run(args, data, cleanup)
        except _baseline.BaselineError as exc:
            raise SystemExit(f"error: {exc}") from None


def start_baseline(args, data: common.Mnist, cleanup: contextlib.ExitStack) -> _baseline.BaselinePeer:
    """The baseline peer, its worker started and given the data (closed by ``cleanup``)."""
    common.progress(f"baseline: starting a worker for {args.baseline}")
    peer = _baseline.BaselinePeer(args.baseline, arrays=[data.train_images[:args.samples],
                                                         data.train_labels[:args.samples],
                                                         data.test_images])
    cleanup.callback(peer.close)
    common.progress(_baseline.build_line(peer.build)[2:])
    return peer


def run(args, data: common.Mnist, cleanup: contextlib.ExitStack) -> int:
    notes: List[str] = []
    peers = make_peers(args.peers, notes, lambda: start_baseline(args, data, cleanup), cleanup)
    baseline = next((p for p in peers if p.name == "baseline"), None)
    if baseline is not None:
        notes += _baseline.build_differences(baseline.build, mnistmlp.get_config())
    for note in notes:
        common.progress(f"note: {note}")
    torch_version = next((p.torch.__version__ for p in peers if p.name == "torch"), None)
    env = common.environment(torch_version)
    env["baseline"] = None if baseline is None else baseline.build

    common.progress(f"data: {data.source}; warming up")
    warm_up(peers, data, args.threads)

    roofs = common.Roofs(args.threads, args.roof_repeats)
    all_timings: List[common.Timings] = []
    training = bench_training(args, peers, data, all_timings)
    inference = bench_inference(args, peers, data, all_timings)
    roofs.measure()
    env["load_average_end"] = common.load_average()
    for row in training:
        row["percent_of_roof"] = 100.0 * row["mnistmlp_gflops"] / roofs.gflops(row["threads"])

    names = [peer.name for peer in peers]
    samples = "" if args.samples == TRAIN_SIZE else f" (first {args.samples:,} images: --samples)"
    print("\n".join(common.header_lines("mnistmlp training benchmark", env, roofs, all_timings, notes)))
    if baseline is not None:
        print(_baseline.build_line(baseline.build))
    print(f"- data: {data.source}; repetitions: {args.repeats}, interleaved, {args.pause} s idle "
          "before each timing; medians")
    print("- vs X: mnistmlp's samples/s divided by X's (above 1: mnistmlp is faster"
          + ("; vs baseline below 1: the current build is slower than the baseline)" if baseline else ")"))
    print()
    print(f"### Training: one epoch of {args.samples:,} samples{samples}")
    print()
    print(training_table(training, names))
    if "callbacks" in names:
        print()
        print(hooks_lines(training))
    print()
    print(f"### Inference: predict_proba on {len(data.test_images):,} test images "
          f"(repetitions: {args.inference_repeats}, interleaved; medians)")
    print()
    print(inference_table(inference, [name for name in names if name in inference[0]["peers"]]))

    if args.json:
        common.write_json(args.json, {
            "benchmark": "bench_train",
            "environment": env,
            "settings": vars(args),
            "data": data.source,
            "notes": notes,
            "roof": roofs.report(),
            "training": training,
            "inference": inference,
        })
        common.progress(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
