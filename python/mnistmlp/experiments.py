"""The TFLearn notebook's lesson as a measured study: hidden width, depth and optimizer.

The notebook trained four networks once each and read the display: 1×100 relu with SGD
(≈70%), 1×10 (20–44%), 2×100 with SGD (≈12%: it does not train) and 2×100 with Adam (≈96%).
Here every configuration runs with several seeds and is measured three ways: TFLearn's
displayed accuracy (a moving average of about the last ten batches during training), and,
after training, the accuracy over the whole training and test sets.

::

    from mnistmlp import experiments
    study = experiments.run_preset("tutorial", out_dir="results", plot=True)
    print(study.table)

    records = experiments.run_grid(widths=[10, 100], depths=[1, 2], optimizers=["sgd", "adam"],
                                   learning_rates={"sgd": [0.1], "adam": [0.001]},
                                   batch_size=32, epochs=2, seeds=[0, 1], n_jobs=2)

Each record holds the configuration, the seed, ``train_accuracy_displayed``,
``train_accuracy``, ``validation_accuracy``, ``test_accuracy``, ``test_loss``, ``seconds``,
``samples_per_second``, a learning ``curve`` (loss and accuracy every ``curve_every``
samples), the ``predicted_class_histogram`` of the test set, the ``train_limit``, and the
run's ``key``: a SHA-256 of everything the record depends on (the configuration, the seed,
the settings, ``curve_every``, the device, the SHA-256 of the data and mnistmlp's version).

Runs go one after another (``n_jobs=1``), in worker processes on this machine (``n_jobs=N``
or -1 for every core: joblib's loky processes), or on the workers of a Dask cluster
(``scheduler="tcp://host:8786"`` or a ``distributed.Client``). Workers load MNIST
themselves, from their own data directory; the data set is never sent with the runs. Every
record is the same, bit for bit, whichever way its run went, but for the fields of
:data:`TIMING_FIELDS` (on machines of the same SIMD level: see :func:`mnistmlp.get_simd`).

With ``out_dir``, each finished run is appended at once to ``out_dir/results.jsonl``; a
study run again with ``resume=True`` skips the runs recorded there, so an interrupted study
loses only the runs that were under way. :func:`load_records` reads the file back, and the
tables and plots are made from records.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import itertools
import json
import math
import os
import statistics
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import optimizers as _optimizers
from ._progress import ProgressBar
from ._spec import ACTIVATIONS, DEVICE, OneOf
from ._terminal import capabilities
from ._validation import check_int
from .datasets import mnist
from .model import MLP

__all__ = ["Config", "GRID", "PRESETS", "RECORDS_FILE", "TIMING_FIELDS", "Preset", "StudyResult", "grid_configs",
           "grid_preset", "grid_table", "load_records", "plot_heatmaps", "plot_learning_curves",
           "records_to_dataframe", "run_configs", "run_grid", "run_preset", "tutorial_table"]

Record = Dict[str, Any]

#: TFLearn's settings, which the tutorial used: truncated normal (stddev 0.02) weights and
#: gradients clipped to a global norm of 5.0.
TFLEARN_SETTINGS = dict(weight_init="truncated_normal", clip_norm=5.0)

#: The fields of a record that measure time: the only ones two runs of the same study may
#: differ in.
TIMING_FIELDS = ("seconds", "samples_per_second")

#: The file in a study's folder that holds its records, one JSON object a line, each appended
#: as its run finishes.
RECORDS_FILE = "results.jsonl"


@dataclasses.dataclass(frozen=True)
class Config:
    """One network and how it is trained; checked when made."""

    hidden: tuple
    optimizer: str
    learning_rate: float
    activation: str = "relu"
    batch_size: int = 10
    epochs: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(check_int("hidden width", w, 1) for w in self.hidden))
        OneOf(ACTIVATIONS).check("activation", self.activation)
        check_int("batch_size", self.batch_size, 1)
        check_int("epochs", self.epochs, 1)
        self.make_optimizer()  # an unknown name or a bad rate fails here, not in a worker

    @property
    def label(self) -> str:
        shape = f"{len(self.hidden)}×{self.hidden[0]}" if len(set(self.hidden)) == 1 else "-".join(map(str, self.hidden))
        return f"{shape} {self.activation} {_optimizer_name(self.optimizer)}"

    def make_optimizer(self):
        return _optimizers.get(self.optimizer, self.learning_rate)


def _optimizer_name(name: str) -> str:
    """An optimizer as tables and titles show it: its class's name (SGD, Adam, RMSProp...)."""
    return _optimizers.OPTIMIZERS[name].__name__


def _curve(batch_loss: np.ndarray, batch_accuracy: np.ndarray, batch_size: int, n: int, every: int) -> dict:
    """Mean batch loss and accuracy over each window of ``every`` training samples."""
    sizes = np.full(len(batch_loss), batch_size)
    per_epoch = math.ceil(n / batch_size)
    sizes[per_epoch - 1::per_epoch] = n - batch_size * (per_epoch - 1)  # each epoch's last batch
    seen = np.cumsum(sizes)
    window = (seen - 1) // every
    samples, loss, accuracy = [], [], []
    for w in np.unique(window):
        chosen = window == w
        samples.append(int(seen[chosen][-1]))
        loss.append(float(np.average(batch_loss[chosen], weights=sizes[chosen])))
        accuracy.append(float(np.average(batch_accuracy[chosen], weights=sizes[chosen])))
    return {"samples": samples, "loss": loss, "accuracy": accuracy}


# ---- runs ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Run:
    """One run of a study, as it travels to a worker: small, whatever the data set's size."""

    config: Config
    seed: int
    settings: Mapping[str, Any]
    curve_every: int
    device: str
    threads: Optional[int]
    data_dir: Optional[str]
    train_limit: Optional[int]
    data_sha256: str

    @property
    def key(self) -> str:
        """What the record depends on, hashed: the same run of the same study has the same key."""
        from . import __version__

        described = {"config": dataclasses.asdict(self.config), "seed": self.seed, "settings": self.settings,
                     "curve_every": self.curve_every, "device": self.device, "data_sha256": self.data_sha256,
                     "mnistmlp": __version__}
        return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def _train(run: _Run, data=None) -> Record:
    """Train and measure one run, on ``data`` or, in a worker, on the MNIST it loads itself."""
    if data is None:
        data = _mnist(run.data_dir, run.train_limit, download=False)
    config, settings = run.config, dict(run.settings)
    X, y = data.train.images, data.train.labels
    model = MLP([X.shape[1], *config.hidden, 10], activation=config.activation, optimizer=config.make_optimizer(),
                seed=run.seed, threads=run.threads, device=run.device, **settings)
    history = model.fit(X, y, epochs=config.epochs, batch_size=config.batch_size, verbose=0)
    h = history.history
    seconds = float(sum(h["seconds"]))
    test = model.evaluate(data.test.images, data.test.labels)
    predicted = model.predict(data.test.images)
    record = {
        "name": config.label,
        "hidden": list(config.hidden),
        "activation": config.activation,
        "optimizer": config.optimizer,
        "learning_rate": config.learning_rate,
        "batch_size": config.batch_size,
        "epochs": config.epochs,
        "seed": run.seed,
        **settings,
        "train_samples": int(len(X)),
        "train_limit": run.train_limit,
        "train_accuracy_displayed": float(h["accuracy_moving_average"][-1]),
        "train_loss_displayed": float(h["loss_moving_average"][-1]),
        "train_accuracy_last_epoch": float(h["accuracy"][-1]),
        "train_accuracy": float(model.evaluate(X, y)["accuracy"]),
        "validation_accuracy": float(model.evaluate(data.validation.images, data.validation.labels)["accuracy"])
        if data.validation.num_examples else None,
        "test_accuracy": float(test["accuracy"]),
        "test_loss": float(test["loss"]),
        "seconds": seconds,
        "samples_per_second": float(len(X) * config.epochs / seconds),
        "device": run.device,
        "curve": _curve(np.concatenate(history.batch_loss), np.concatenate(history.batch_accuracy),
                        config.batch_size, len(X), run.curve_every),
        "predicted_class_histogram": np.bincount(predicted, minlength=10).tolist(),
        "data_sha256": run.data_sha256,
        "key": run.key,
    }
    # As the records file holds it (lists, not tuples), whether it is read back or not.
    return json.loads(json.dumps(record))


def _limited(data, train_limit: Optional[int]):
    """``data`` with only the first ``train_limit`` training examples."""
    if train_limit is None:
        return data
    from .datasets import DataSet, Datasets

    return Datasets(DataSet(data.train.images[:train_limit], data.train.labels[:train_limit]), data.validation,
                    data.test)


@functools.lru_cache(maxsize=1)
def _mnist_in(folder: Path, train_limit: Optional[int], download: bool):
    return _limited(mnist.read_data_sets(folder, download=download), train_limit)


def _mnist(data_dir: Optional[str], train_limit: Optional[int], download: bool):
    """MNIST as the study trains on it, read once per process (a worker's runs share it),
    from the data directory as this process sees it."""
    return _mnist_in(mnist.data_dir(data_dir), train_limit, download)


def _data_sha256(data) -> str:
    """The SHA-256 of a study's data: each split's images and labels, with their shapes and
    dtypes, as the runs see them."""
    digest = hashlib.sha256()
    for split in (data.train, data.validation, data.test):
        for array in (split.images, split.labels):
            array = np.ascontiguousarray(array)
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(array.data)
    return digest.hexdigest()


# ---- where the runs go ------------------------------------------------------------------------


def _one_by_one(runs: Sequence[_Run], data) -> Iterator[Record]:
    for run in runs:
        yield _train(run, data)


def _in_processes(runs: Sequence[_Run], n_jobs: int, threads_per_job: Optional[int], joblib) -> Iterator[Record]:
    """The runs in joblib's loky worker processes, each record as soon as its run ends.
    ``threads_per_job`` becomes the workers' OMP_NUM_THREADS (joblib's default: the cores
    shared out between the jobs), which the engine's default thread count honours."""
    with joblib.parallel_config(backend="loky", inner_max_num_threads=threads_per_job):
        # One run per task: a run takes long enough, and each record streams back alone.
        yield from joblib.Parallel(n_jobs=n_jobs, return_as="generator_unordered", batch_size=1)(
            joblib.delayed(_train)(run) for run in runs)


def _on_dask(runs: Sequence[_Run], scheduler: Any, distributed) -> Iterator[Record]:
    """The runs on a Dask cluster's workers, each record as soon as its run ends.
    ``scheduler``: a scheduler's address, or a ``distributed.Client`` (left open)."""
    client = scheduler if isinstance(scheduler, distributed.Client) else distributed.Client(scheduler)
    futures = client.map(_train, runs, pure=False)
    try:
        for future in distributed.as_completed(futures):
            yield future.result()
    finally:  # after an error or an interrupt, the runs not yet done are called off
        client.cancel([future for future in futures if not future.done()])
        if client is not scheduler:
            client.close()


def _optional(module: str, purpose: str, extra: str):
    """The optional dependency ``module``, or ImportError saying what needs it and how to
    install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"{purpose} needs {module}, which is not installed: pip install 'mnistmlp[{extra}]'") from None


# ---- records ---------------------------------------------------------------------------------


def load_records(path: Union[str, Path]) -> List[Record]:
    """The records of a study's ``results.jsonl`` (``path`` is the file or its folder), in the
    order their runs finished. A last line cut short (the process was killed while writing it)
    is left out."""
    path = Path(path)
    if path.is_dir():
        path = path / RECORDS_FILE
    records = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.endswith("\n"):
                break
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}, line {number}: not a study record ({exc})") from None
            if not isinstance(record, dict) or "key" not in record:
                raise ValueError(f"{path}, line {number}: not a study record (it has no key)")
            records.append(record)
    return records


class _RecordsFile:
    """A study's ``results.jsonl``: each record appended as one line, on disk before the next
    run is counted done, so a killed study loses only the runs under way."""

    def __init__(self, folder: Union[str, Path], resume: bool) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / RECORDS_FILE
        self.recorded: Dict[str, Record] = {}
        if not self.path.exists():
            return
        records = load_records(self.path)
        if records and not resume:
            raise ValueError(f"{self.path} already holds {len(records)} runs: resume (--resume) to skip them and run "
                             "the others, or choose another output folder")
        for record in records:
            self.recorded.setdefault(record["key"], record)
        self._drop_cut_line()

    def _drop_cut_line(self) -> None:
        """Cut the file after its last whole line, so that the next record starts a line."""
        content = self.path.read_bytes()
        whole = content.rfind(b"\n") + 1
        if whole < len(content):
            with open(self.path, "r+b") as file:
                file.truncate(whole)

    def append(self, record: Record) -> None:
        with open(self.path, "a", encoding="utf-8") as file:
            file.write(json.dumps(record) + "\n")
            file.flush()
            os.fsync(file.fileno())


class _StudyProgress:
    """A study's progress on stderr: a bar over its runs where lines are redrawn (a terminal,
    Jupyter), one line per finished run anywhere else (a pipe, a log file)."""

    def __init__(self, runs: int, recorded: int, path: Optional[Path], enabled: bool) -> None:
        self.live = enabled and capabilities(sys.stderr).live
        self.lines = enabled and not self.live
        self.total, self.done = runs, 0
        if enabled and recorded:
            print(f"study: {recorded} of {runs + recorded} runs already recorded in {path}; running the other {runs}",
                  file=sys.stderr, flush=True)
        self.bar = ProgressBar(runs, desc="study", unit="runs", enabled=self.live)

    def finished(self, record: Record) -> None:
        self.done += 1
        summary = (f"{record['name']} lr={record['learning_rate']} seed {record['seed']}: test accuracy "
                   f"{100 * record['test_accuracy']:.1f}% in {record['seconds']:.2f} s")
        if self.lines:
            print(f"run {self.done}/{self.total}: {summary}", file=sys.stderr, flush=True)
        self.bar.set_postfix(summary)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def run_configs(configs: Sequence[Config], seeds: Sequence[int], data=None, data_dir=None, curve_every: int = 1000,
                progress: bool = True, train_limit: Optional[int] = None, settings: Optional[dict] = None,
                device: str = "cpu", *, n_jobs: int = 1, threads_per_job: Optional[int] = None,
                scheduler: Any = None, out_dir=None, resume: bool = False) -> List[Record]:
    """Train every configuration with every seed; one record per run, in the order of
    ``configs`` then ``seeds``, whatever order the runs finished in.

    - ``device``: ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` (see :class:`mnistmlp.MLP`).
    - ``n_jobs``: runs at once on this machine, in joblib's worker processes (-1: one per
      core); 1 runs them here, one after another.
    - ``threads_per_job``: the engine's threads in each run (default: with ``n_jobs``, the
      cores shared out between the jobs; else :class:`mnistmlp.MLP`'s default).
    - ``scheduler``: a Dask scheduler's address (``"tcp://host:8786"``) or a
      ``distributed.Client``: the runs go to the cluster's workers instead.
    - ``data``: a ``Datasets`` (``train``, ``validation``, ``test``) to use instead of MNIST
      from ``data_dir``; only for runs in this process.
    - ``out_dir``: each finished run is appended to ``out_dir/results.jsonl`` at once;
      ``resume=True`` skips the runs already recorded there (without it, a file that holds
      runs is refused).
    """
    if not configs or not seeds:
        raise ValueError("a study needs at least one configuration and one seed")
    DEVICE.check("device", device)
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or not (n_jobs >= 1 or n_jobs == -1):
        raise ValueError(f"n_jobs must be an integer >= 1, or -1 (one per core), got {n_jobs!r}")
    if threads_per_job is not None:
        check_int("threads_per_job", threads_per_job, 1)
    check_int("curve_every", curve_every, 1)
    if train_limit is not None:
        check_int("train_limit", train_limit, 1)
    if scheduler is not None and n_jobs != 1:
        raise ValueError("give n_jobs or a scheduler, not both: on a Dask cluster its workers decide how many runs go "
                         "at once")
    if data is not None and (n_jobs != 1 or scheduler is not None):
        raise ValueError("data= is for runs in this process; worker processes load MNIST themselves (give data_dir)")
    store = _RecordsFile(out_dir, resume) if out_dir is not None else None
    data = _limited(data, train_limit) if data is not None else _mnist(data_dir, train_limit, download=True)
    data_sha256 = _data_sha256(data)
    settings = dict(TFLEARN_SETTINGS if settings is None else settings)
    runs = [_Run(config, int(seed), settings, curve_every, device, threads_per_job,
                 None if data_dir is None else str(data_dir), train_limit, data_sha256)
            for config in configs for seed in seeds]
    records: Dict[str, Record] = {}
    if store is not None:
        records.update({run.key: store.recorded[run.key] for run in runs if run.key in store.recorded})
    todo = [run for run in runs if run.key not in records]
    finished: Iterator[Record]
    if not todo:
        finished = iter(())
    elif scheduler is not None:
        finished = _on_dask(todo, scheduler, _optional("distributed", "a study on a Dask cluster (scheduler=)", "dask"))
    elif n_jobs != 1:
        finished = _in_processes(todo, n_jobs, threads_per_job,
                                 _optional("joblib", "a study in worker processes (n_jobs)", "joblib"))
    else:
        finished = _one_by_one(todo, data)
    shown = _StudyProgress(len(todo), len(runs) - len(todo), None if store is None else store.path, progress)
    try:
        for record in finished:
            if store is not None:
                store.append(record)
            records[record["key"]] = record
            shown.finished(record)
    finally:
        shown.close()
    return [records[run.key] for run in runs]


def grid_configs(widths: Iterable[int], depths: Iterable[int], optimizers: Iterable[str],
                 learning_rates: Union[float, Sequence[float], Mapping[str, Sequence[float]]], batch_size: int = 10,
                 epochs: int = 1, activation: str = "relu") -> List[Config]:
    """Every width × depth × optimizer × learning rate, as configurations.

    ``learning_rates`` is one rate, a list for every optimizer, or a mapping from optimizer
    name to its list.
    """
    configs = []
    for width, depth, optimizer in itertools.product(widths, depths, optimizers):
        if isinstance(learning_rates, Mapping) and optimizer not in learning_rates:
            raise ValueError(f"learning_rates gives no rate for the optimizer {optimizer!r}")
        rates = learning_rates[optimizer] if isinstance(learning_rates, Mapping) else learning_rates
        for rate in ([rates] if isinstance(rates, (int, float)) else rates):
            configs.append(Config((int(width),) * check_int("depth", depth, 1), optimizer, float(rate), activation,
                                  batch_size, epochs))
    return configs


def run_grid(widths: Iterable[int], depths: Iterable[int], optimizers: Iterable[str],
             learning_rates: Union[float, Sequence[float], Mapping[str, Sequence[float]]], batch_size: int = 10,
             epochs: int = 1, seeds: Sequence[int] = (0,), activation: str = "relu", **kwargs) -> List[Record]:
    """Every width × depth × optimizer × learning rate (see :func:`grid_configs`), each with
    every seed. Other keyword arguments go to :func:`run_configs` (``data``, ``data_dir``,
    ``curve_every``, ``progress``, ``train_limit``, ``settings``, ``device``, ``n_jobs``,
    ``threads_per_job``, ``scheduler``, ``out_dir``, ``resume``).
    """
    configs = grid_configs(widths, depths, optimizers, learning_rates, batch_size, epochs, activation)
    return run_configs(configs, list(seeds), **kwargs)


def records_to_dataframe(records: Sequence[Record]):
    """The records as a pandas ``DataFrame``, one row per run, with a ``width`` and a
    ``depth`` column beside the records' fields (pandas is optional: ``pip install
    'mnistmlp[pandas]'``)."""
    pandas = _optional("pandas", "records_to_dataframe", "pandas")
    frame = pandas.DataFrame.from_records(list(records))
    frame.insert(1, "depth", [len(record["hidden"]) for record in records])
    frame.insert(1, "width", [record["hidden"][0] for record in records])
    return frame


# ---- tables --------------------------------------------------------------------------------

#: What the notebook printed as its displayed training accuracy after one epoch, and the mean
#: of ten runs of the real TFLearn 0.5.0 on TensorFlow 2.12 (displayed; test).
NOTEBOOK_REPORTED = {
    "1×100 relu SGD": ("69.5%", 69.3, 71.1),
    "1×10 relu SGD": ("in the twenties … 35 … 44%", 37.0, 36.5),
    "2×100 relu SGD": ("12%", 11.9, 11.5),
    "2×100 relu Adam": ("96.44%", 96.6, 95.9),
}


def _tutorial_configs() -> tuple:
    return (
        Config((100,), "sgd", 0.001),
        Config((10,), "sgd", 0.001),
        Config((100, 100), "sgd", 0.001),
        Config((100, 100), "adam", 0.001),
    )


def _train_limit_note(records: Sequence[Record]) -> str:
    """What tables and plot titles add when the runs trained on a slice of the training set."""
    limit = records[0].get("train_limit") if records else None
    return "" if limit is None else f", trained on the first {limit:,} training images only"


def _percent(values: Sequence[float]) -> str:
    values = [100 * v for v in values]
    if len(values) == 1:
        return f"{values[0]:.1f}%"
    return f"{statistics.mean(values):.1f}% ± {statistics.stdev(values):.1f} ({min(values):.1f}–{max(values):.1f})"


def _group(records: List[Record]) -> Dict[str, List[Record]]:
    groups: Dict[str, List[Record]] = {}
    for record in records:
        groups.setdefault(f"{record['name']} lr={record['learning_rate']}", []).append(record)
    return groups


def _mean(records: List[Record], key: str) -> float:
    return statistics.mean(float(r[key]) for r in records)


def tutorial_table(records: List[Record]) -> str:
    """The tutorial study: a table beside the notebook's figures, and its conclusions. Runs on
    a slice of the training set (``train_limit``) are not set beside those full-data figures."""
    by_name: Dict[str, List[Record]] = {}
    for record in records:
        by_name.setdefault(str(record["name"]), []).append(record)
    n_seeds = max(len(v) for v in by_name.values())
    note = _train_limit_note(records)
    compared = not note
    columns = ["network", "displayed training accuracy"]
    columns += ["notebook showed", "TFLearn 0.5.0 (mean of 10)"] if compared else []
    columns += ["training-set accuracy", "test accuracy"] + (["TFLearn test"] if compared else []) + ["s/run"]
    lines = [
        f"### The TFLearn tutorial, {n_seeds} seed{'s' if n_seeds > 1 else ''} per network "
        f"(batch {records[0]['batch_size']}, {records[0]['epochs']} epoch, truncated normal 0.02, clip 5.0{note})",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for name, group in by_name.items():
        shown, tf_displayed, tf_test = NOTEBOOK_REPORTED.get(name, ("–", None, None))
        cells = [name, _percent([r["train_accuracy_displayed"] for r in group])]
        cells += [shown, "–" if tf_displayed is None else f"{tf_displayed}%"] if compared else []
        cells += [_percent([r["train_accuracy"] for r in group]), _percent([r["test_accuracy"] for r in group])]
        cells += ["–" if tf_test is None else f"{tf_test}%"] if compared else []
        cells.append(f"{_mean(group, 'seconds'):.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "The displayed accuracy is what TFLearn prints: a moving average of about the last ten batch "
        "accuracies, measured during training while the weights still change; the training-set and test "
        "accuracies are measured once, after training, over every image.",
    ]
    if not compared:
        lines += ["", "The notebook's and TFLearn's figures, from the whole training set, are left out: these runs "
                      f"saw only the first {records[0]['train_limit']:,} training images."]
    lines += ["", "### The notebook's conclusions, checked", ""]
    lines += [f"- {line}" for line in _tutorial_conclusions(by_name)]
    return "\n".join(lines) + "\n"


def _tutorial_conclusions(by_name: Dict[str, List[Record]]) -> List[str]:
    out = []
    wide, narrow = by_name.get("1×100 relu SGD"), by_name.get("1×10 relu SGD")
    if wide and narrow:
        a, b = _mean(wide, "test_accuracy"), _mean(narrow, "test_accuracy")
        verdict = "borne out" if a > b + 0.05 else "not borne out"
        out.append(f"Width adds capacity: 100 hidden units reach {100 * a:.1f}% test accuracy against "
                   f"{100 * b:.1f}% for 10 units — {verdict}.")
    deep = by_name.get("2×100 relu SGD")
    if deep:
        accuracy = _mean(deep, "test_accuracy")
        histogram = np.sum([r["predicted_class_histogram"] for r in deep], axis=0)
        top = int(histogram.argmax())
        share = histogram[top] / histogram.sum()
        per_run = [max(r["predicted_class_histogram"]) / sum(r["predicted_class_histogram"]) for r in deep]
        verdict = "borne out" if accuracy < 0.2 and min(per_run) > 0.8 else "not borne out"
        runs = f"{len(deep)} runs" if len(deep) > 1 else "the run"
        single_class = ("every run puts all the test images in a single class" if min(per_run) == 1 else
                        f"each run puts at least {100 * min(per_run):.0f}% of the test images in a single class")
        out.append(
            f"Depth with plain SGD at learning rate 0.001 fails to train, predicting one class: two hidden layers "
            f"reach {100 * accuracy:.1f}% test accuracy, and {single_class} (over {runs}, "
            f"{100 * share:.0f}% of the predictions are '{top}'; the predicted-class histogram summed over "
            f"{runs} is {histogram.tolist()}) — {verdict}.")
    adam = by_name.get("2×100 relu Adam")
    if adam and deep:
        accuracy = _mean(adam, "test_accuracy")
        verdict = "borne out" if accuracy > 0.9 else "not borne out"
        out.append(f"Adam rescues it: the same two-layer network with Adam reaches {100 * accuracy:.1f}% test "
                   f"accuracy — {verdict}.")
    return out


def grid_table(records: List[Record]) -> str:
    """Test accuracy by width (rows) and depth (columns), one table per optimizer and rate."""
    depths = sorted({len(r["hidden"]) for r in records})
    widths = sorted({r["hidden"][0] for r in records})
    note = _train_limit_note(records)
    lines = []
    for optimizer, rate in sorted({(r["optimizer"], r["learning_rate"]) for r in records}):
        chosen = [r for r in records if r["optimizer"] == optimizer and r["learning_rate"] == rate]
        first = chosen[0]
        lines += [f"### {_optimizer_name(optimizer)}, learning rate {rate} "
                  f"(batch {first['batch_size']}, {first['epochs']} epochs{note}): test accuracy", "",
                  "| width \\ depth | " + " | ".join(map(str, depths)) + " |",
                  "|---|" + "---|" * len(depths)]
        for width in widths:
            cells = []
            for depth in depths:
                runs = [r["test_accuracy"] for r in chosen if r["hidden"] == [width] * depth]
                cells.append(f"{100 * statistics.mean(runs):.1f}%" if runs else "–")
            lines.append(f"| {width} | " + " | ".join(cells) + " |")
        lines.append("")
    # In the order of the tables: by optimizer and rate, then depth, then width (as numbers).
    failed = sorted({(r["optimizer"], r["learning_rate"], len(r["hidden"]), tuple(r["hidden"]), r["name"])
                     for r in records if r["test_accuracy"] < 0.2})
    lines.append("Runs that did not train (test accuracy below 20%): "
                 + (", ".join(f"{name} at lr {rate}" for _, rate, _, _, name in failed) if failed else "none") + ".")
    return "\n".join(lines) + "\n"


# ---- plots ---------------------------------------------------------------------------------


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_learning_curves(records: List[Record], path: Union[str, Path]) -> Path:
    """Accuracy against samples seen, one panel per network, one line per seed."""
    plt = _pyplot()
    groups = _group(records)
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 3.6), sharey=True, squeeze=False)
    for ax, (name, group) in zip(axes[0], groups.items()):
        for record in group:
            curve = record["curve"]
            ax.plot(curve["samples"], 100 * np.asarray(curve["accuracy"]), lw=1, alpha=0.8, label=f"seed {record['seed']}")
        ax.set_title(name)
        ax.set_xlabel("training samples seen")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    axes[0][0].set_ylabel("training accuracy, per window (%)")
    fig.suptitle("Learning curves: accuracy of the training batches, averaged over windows of samples"
                 + _train_limit_note(records))
    return _save_figure(plt, fig, path)


def _save_figure(plt, fig, path: Union[str, Path]) -> Path:
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_heatmaps(records: List[Record], path: Union[str, Path]) -> Path:
    """Test accuracy over width × depth, one heatmap per optimizer and learning rate."""
    plt = _pyplot()
    keys = sorted({(r["optimizer"], r["learning_rate"]) for r in records})
    depths = sorted({len(r["hidden"]) for r in records})
    widths = sorted({r["hidden"][0] for r in records})
    fig, axes = plt.subplots(1, len(keys), figsize=(4.6 * len(keys), 4.0), squeeze=False)
    for ax, (optimizer, rate) in zip(axes[0], keys):
        grid = np.full((len(widths), len(depths)), np.nan)
        for i, width in enumerate(widths):
            for j, depth in enumerate(depths):
                runs = [r["test_accuracy"] for r in records if r["optimizer"] == optimizer and
                        r["learning_rate"] == rate and r["hidden"] == [width] * depth]
                if runs:
                    grid[i, j] = 100 * np.mean(runs)
        image = ax.imshow(grid, vmin=0, vmax=100, cmap="viridis", origin="lower", aspect="auto")
        for i in range(len(widths)):
            for j in range(len(depths)):
                if not np.isnan(grid[i, j]):
                    ax.text(j, i, f"{grid[i, j]:.0f}", ha="center", va="center",
                            color="white" if grid[i, j] < 60 else "black", fontsize=8)
        ax.set_xticks(range(len(depths)), labels=[str(d) for d in depths])
        ax.set_yticks(range(len(widths)), labels=[str(w) for w in widths])
        ax.set_xlabel("hidden layers (depth)")
        ax.set_ylabel("units per hidden layer (width)")
        ax.set_title(f"{_optimizer_name(optimizer)}, lr {rate}")
        fig.colorbar(image, ax=ax, label="test accuracy (%)")
    fig.suptitle("Test accuracy by width and depth" + _train_limit_note(records))
    return _save_figure(plt, fig, path)


# ---- presets and whole studies -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Preset:
    """A study: its configurations, its default number of seeds, its table and its figure
    (a file name and the function that draws it from the records)."""

    name: str
    description: str
    configs: tuple
    seeds: int
    table: Callable[[List[Record]], str]
    figure: Tuple[str, Callable[[List[Record], Union[str, Path]], Path]]


#: The grid preset's axes and training. :func:`grid_preset` (and the command line's --widths,
#: --depths, --optimizers, --learning-rates, --batch-size and --epochs) change them one by one.
GRID: Dict[str, Any] = {
    "widths": (10, 32, 100, 300, 1000),
    "depths": (1, 2, 3, 4),
    "optimizers": ("sgd", "adam"),
    "learning_rates": {"sgd": (0.001, 0.1), "adam": (0.001,)},
    "batch_size": 32,
    "epochs": 3,
}


def grid_preset(**changes: Any) -> Preset:
    """The grid preset with some of :data:`GRID`'s entries changed: ``grid_preset(widths=(10,
    100), epochs=1)``. ``learning_rates`` is as :func:`grid_configs` takes it; when it is not
    given, an optimizer the preset has no rates for trains at its own default rate."""
    unknown = sorted(set(changes) - set(GRID))
    if unknown:
        raise TypeError(f"grid_preset: unknown {', '.join(unknown)}; the grid has {', '.join(GRID)}")
    axes = {**GRID, **changes}
    if "learning_rates" not in changes:
        axes["learning_rates"] = {name: GRID["learning_rates"].get(name, (_optimizers.get(name).learning_rate,))
                                  for name in axes["optimizers"]}
    configs = tuple(grid_configs(**axes))
    rates = {name: sorted({c.learning_rate for c in configs if c.optimizer == name}) for name in axes["optimizers"]}
    description = (f"Widths {', '.join(map(str, axes['widths']))} × depths {', '.join(map(str, axes['depths']))}, "
                   + " and ".join(f"{_optimizer_name(name)} (lr {', '.join(f'{r:g}' for r in rates[name])})"
                                  for name in axes["optimizers"])
                   + f", batch {axes['batch_size']}, {axes['epochs']} epoch{'s' * (axes['epochs'] != 1)}.")
    return Preset("grid", description, configs, 1, grid_table, ("heatmap.png", plot_heatmaps))


PRESETS: Dict[str, Preset] = {
    "tutorial": Preset("tutorial", "The notebook's four networks with TFLearn's settings: batch 10, one epoch, lr 0.001.",
                       _tutorial_configs(), 5, tutorial_table, ("learning_curves.png", plot_learning_curves)),
    "grid": grid_preset(),
}


@dataclasses.dataclass
class StudyResult:
    """A preset's records, its Markdown table, the files written, and why plots were
    skipped (None when they were made or not asked for)."""

    preset: str
    records: List[Record]
    table: str
    files: List[Path]
    plot_message: Optional[str] = None


def run_preset(preset: Union[str, Preset], seeds: Optional[int] = None, out_dir=None, plot: bool = False,
               data_dir=None, progress: bool = True, train_limit: Optional[int] = None, data=None,
               device: str = "cpu", *, n_jobs: int = 1, threads_per_job: Optional[int] = None, scheduler: Any = None,
               resume: bool = False) -> StudyResult:
    """Run a study, a preset by name (``"tutorial"`` or ``"grid"``) or a :class:`Preset`
    (such as :func:`grid_preset`'s), with ``seeds`` seeds (0, 1, ...).

    With ``out_dir``, the records go to ``results.jsonl`` as the runs finish (see
    :func:`run_configs` for ``resume``, ``n_jobs``, ``threads_per_job``, ``scheduler`` and
    ``device``), then the table to ``results.md``, and with ``plot`` the preset's PNG figure:
    ``learning_curves.png`` (tutorial) or ``heatmap.png`` (grid). ``plot`` without
    ``out_dir`` is refused before any run.
    """
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; expected one of: {', '.join(PRESETS)}")
        preset = PRESETS[preset]
    n_seeds = preset.seeds if seeds is None else seeds
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 1:
        raise ValueError(f"seeds must be a positive integer, got {seeds!r}")
    if plot and out_dir is None:
        raise ValueError("plots need an output folder: give out_dir (--out)")
    records = run_configs(preset.configs, list(range(n_seeds)), data=data, data_dir=data_dir, progress=progress,
                          train_limit=train_limit, device=device, n_jobs=n_jobs, threads_per_job=threads_per_job,
                          scheduler=scheduler, out_dir=out_dir, resume=resume)
    study = StudyResult(preset.name, records, preset.table(records), [])
    if out_dir is None:
        return study
    out = Path(out_dir)
    (out / "results.md").write_text(f"# mnistmlp study: {preset.name}\n\n{preset.description}\n\n{study.table}")
    study.files += [out / RECORDS_FILE, out / "results.md"]
    if plot:
        if _pyplot() is None:
            study.plot_message = "plots skipped: matplotlib is not installed (pip install 'mnistmlp[plot]')"
        else:
            name, draw = preset.figure
            study.files.append(draw(records, out / name))
    return study
