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
                                   batch_size=32, epochs=2, seeds=[0, 1])

Each record holds the configuration, the seed, ``train_accuracy_displayed``,
``train_accuracy``, ``validation_accuracy``, ``test_accuracy``, ``test_loss``, ``seconds``,
``samples_per_second``, a learning ``curve`` (loss and accuracy every ``curve_every``
samples) and the ``predicted_class_histogram`` of the test set.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import statistics
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Union

import numpy as np

from . import optimizers as _optimizers
from ._progress import ProgressBar
from .datasets import mnist
from .model import MLP

__all__ = ["Config", "PRESETS", "StudyResult", "run_grid", "run_configs", "run_preset", "tutorial_table",
           "grid_table", "plot_learning_curves", "plot_heatmaps"]

Record = Dict[str, Any]

#: TFLearn's settings, which the tutorial used: truncated normal (stddev 0.02) weights and
#: gradients clipped to a global norm of 5.0.
TFLEARN_SETTINGS = dict(weight_init="truncated_normal", clip_norm=5.0)


@dataclasses.dataclass(frozen=True)
class Config:
    """One network and how it is trained."""

    hidden: tuple
    optimizer: str
    learning_rate: float
    activation: str = "relu"
    batch_size: int = 10
    epochs: int = 1

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


def _train_one(config: Config, seed: int, data, threads: Optional[int], curve_every: int, settings: dict,
               device: str) -> Record:
    X, y = data.train.images, data.train.labels
    model = MLP([X.shape[1], *config.hidden, 10], activation=config.activation, optimizer=config.make_optimizer(),
                seed=seed, threads=threads, device=device, **settings)
    history = model.fit(X, y, epochs=config.epochs, batch_size=config.batch_size, verbose=0)
    h = history.history
    seconds = float(sum(h["seconds"]))
    test = model.evaluate(data.test.images, data.test.labels)
    predicted = model.predict(data.test.images)
    return {
        "name": config.label,
        "hidden": list(config.hidden),
        "activation": config.activation,
        "optimizer": config.optimizer,
        "learning_rate": config.learning_rate,
        "batch_size": config.batch_size,
        "epochs": config.epochs,
        "seed": seed,
        **{k: v for k, v in settings.items()},
        "train_samples": int(len(X)),
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
        "device": device,
        "curve": _curve(np.concatenate(history.batch_loss), np.concatenate(history.batch_accuracy),
                        config.batch_size, len(X), curve_every),
        "predicted_class_histogram": np.bincount(predicted, minlength=10).tolist(),
    }


def _load_data(data, data_dir, train_limit: Optional[int]):
    data = data if data is not None else mnist.read_data_sets(data_dir)
    if train_limit is None:
        return data
    from .datasets import Datasets, DataSet

    if train_limit < 1:
        raise ValueError(f"train_limit must be at least 1, got {train_limit}")
    train = DataSet(data.train.images[:train_limit], data.train.labels[:train_limit])
    return Datasets(train, data.validation, data.test)


def run_configs(configs: Sequence[Config], seeds: Sequence[int], data=None, data_dir=None,
                threads: Optional[int] = None, curve_every: int = 1000, progress: bool = True,
                train_limit: Optional[int] = None, settings: Optional[dict] = None,
                device: str = "cpu") -> List[Record]:
    """Train every configuration with every seed; one record per run, in order. ``device``:
    ``"cpu"`` or ``"cuda"`` (see :class:`mnistmlp.MLP`)."""
    if not configs or not seeds:
        raise ValueError("a study needs at least one configuration and one seed")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    data = _load_data(data, data_dir, train_limit)
    settings = dict(TFLEARN_SETTINGS if settings is None else settings)
    runs = [(config, seed) for config in configs for seed in seeds]
    records = []
    with ProgressBar(len(runs), desc="study", unit="runs", enabled=None if progress else False) as bar:
        for config, seed in runs:
            bar.set_postfix(f"{config.label}, seed {seed}")
            records.append(_train_one(config, seed, data, threads, curve_every, settings, device))
            bar.update(1)
    return records


def run_grid(widths: Iterable[int], depths: Iterable[int], optimizers: Iterable[str],
             learning_rates: Union[float, Sequence[float], Mapping[str, Sequence[float]]], batch_size: int = 10,
             epochs: int = 1, seeds: Sequence[int] = (0,), activation: str = "relu", **kwargs) -> List[Record]:
    """Every width × depth × optimizer × learning rate, each with every seed.

    ``learning_rates`` is one rate, a list for every optimizer, or a mapping from optimizer
    name to its list. Other keyword arguments go to :func:`run_configs` (``data``,
    ``data_dir``, ``threads``, ``curve_every``, ``progress``, ``train_limit``, ``settings``,
    ``device``).
    """
    configs = []
    for width, depth, optimizer in itertools.product(widths, depths, optimizers):
        rates = learning_rates[optimizer] if isinstance(learning_rates, Mapping) else learning_rates
        for rate in ([rates] if isinstance(rates, (int, float)) else rates):
            configs.append(Config((int(width),) * int(depth), optimizer, float(rate), activation, batch_size, epochs))
    return run_configs(configs, list(seeds), **kwargs)


# ---- presets -------------------------------------------------------------------------------

#: What the notebook printed as its displayed training accuracy after one epoch, and the mean
#: of ten runs of the real TFLearn 0.5.0 on TensorFlow 2.12 (displayed; test).
NOTEBOOK_REPORTED = {
    "1×100 relu SGD": ("69.5%", 69.3, 71.1),
    "1×10 relu SGD": ("in the twenties … 35 … 44%", 37.0, 36.5),
    "2×100 relu SGD": ("12%", 11.9, 11.5),
    "2×100 relu Adam": ("96.44%", 96.6, 95.9),
}


@dataclasses.dataclass(frozen=True)
class Preset:
    description: str
    configs: tuple
    seeds: int
    table: Callable[[List[Record]], str]


def _tutorial_configs() -> tuple:
    return (
        Config((100,), "sgd", 0.001),
        Config((10,), "sgd", 0.001),
        Config((100, 100), "sgd", 0.001),
        Config((100, 100), "adam", 0.001),
    )


def _grid_configs() -> tuple:
    rates = {"sgd": (0.001, 0.1), "adam": (0.001,)}
    return tuple(
        Config((width,) * depth, optimizer, rate, batch_size=32, epochs=3)
        for optimizer in ("sgd", "adam") for rate in rates[optimizer]
        for depth in (1, 2, 3, 4) for width in (10, 32, 100, 300, 1000)
    )


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
    """The tutorial study: a table beside the notebook's figures, and its conclusions."""
    by_name: Dict[str, List[Record]] = {}
    for record in records:
        by_name.setdefault(str(record["name"]), []).append(record)
    n_seeds = max(len(v) for v in by_name.values())
    lines = [
        f"### The TFLearn tutorial, {n_seeds} seed{'s' if n_seeds > 1 else ''} per network "
        f"(batch {records[0]['batch_size']}, {records[0]['epochs']} epoch, truncated normal 0.02, clip 5.0)",
        "",
        "| network | displayed training accuracy | notebook showed | TFLearn 0.5.0 (mean of 10) | training-set accuracy | test accuracy | TFLearn test | s/run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, group in by_name.items():
        shown, tf_displayed, tf_test = NOTEBOOK_REPORTED.get(name, ("–", None, None))
        lines.append(
            f"| {name} | {_percent([r['train_accuracy_displayed'] for r in group])} | {shown} | "
            f"{'–' if tf_displayed is None else f'{tf_displayed}%'} | {_percent([r['train_accuracy'] for r in group])} | "
            f"{_percent([r['test_accuracy'] for r in group])} | {'–' if tf_test is None else f'{tf_test}%'} | "
            f"{_mean(group, 'seconds'):.2f} |"
        )
    lines += [
        "",
        "The displayed accuracy is what TFLearn prints: a moving average of about the last ten batch "
        "accuracies, measured during training while the weights still change; the training-set and test "
        "accuracies are measured once, after training, over every image.",
        "",
        "### The notebook's conclusions, checked",
        "",
    ]
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
    lines = []
    for optimizer, rate in sorted({(r["optimizer"], r["learning_rate"]) for r in records}):
        chosen = [r for r in records if r["optimizer"] == optimizer and r["learning_rate"] == rate]
        first = chosen[0]
        lines += [f"### {_optimizer_name(optimizer)}, learning rate {rate} "
                  f"(batch {first['batch_size']}, {first['epochs']} epochs): test accuracy", "",
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


PRESETS: Dict[str, Preset] = {
    "tutorial": Preset("The notebook's four networks with TFLearn's settings: batch 10, one epoch, lr 0.001.",
                       _tutorial_configs(), 5, tutorial_table),
    "grid": Preset("Widths 10–1000 × depths 1–4, SGD (lr 0.001 and 0.1) and Adam (lr 0.001), batch 32, 3 epochs.",
                   _grid_configs(), 1, grid_table),
}


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
    fig.suptitle("Learning curves: accuracy of the training batches, averaged over windows of samples")
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
    fig.suptitle("Test accuracy by width and depth")
    return _save_figure(plt, fig, path)


# ---- a whole study ---------------------------------------------------------------------------


@dataclasses.dataclass
class StudyResult:
    """A preset's records, its Markdown table, the files written, and why plots were
    skipped (None when they were made or not asked for)."""

    preset: str
    records: List[Record]
    table: str
    files: List[Path]
    plot_message: Optional[str] = None


def run_preset(name: str, seeds: Optional[int] = None, out_dir=None, plot: bool = False, data_dir=None,
               threads: Optional[int] = None, progress: bool = True, train_limit: Optional[int] = None,
               data=None, device: str = "cpu") -> StudyResult:
    """Run a preset study (``"tutorial"`` or ``"grid"``) with ``seeds`` seeds (0, 1, ...), on
    ``device`` (``"cpu"`` or ``"cuda"``).

    With ``out_dir``, writes ``results.json`` (one record per run) and ``results.md`` (the
    table), and with ``plot`` PNG figures: ``learning_curves.png`` (tutorial) or
    ``heatmap.png`` (grid).
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; expected one of: {', '.join(PRESETS)}")
    preset = PRESETS[name]
    n_seeds = preset.seeds if seeds is None else seeds
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 1:
        raise ValueError(f"seeds must be a positive integer, got {seeds!r}")
    records = run_configs(preset.configs, list(range(n_seeds)), data=data, data_dir=data_dir, threads=threads,
                          progress=progress, train_limit=train_limit, device=device)
    study = StudyResult(name, records, preset.table(records), [])
    if out_dir is None:
        if plot:
            study.plot_message = "plots need an output folder (out_dir)"
        return study
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(records, indent=1) + "\n")
    (out / "results.md").write_text(f"# mnistmlp study: {name}\n\n{preset.description}\n\n{study.table}")
    study.files += [out / "results.json", out / "results.md"]
    if plot:
        if _pyplot() is None:
            study.plot_message = "plots skipped: matplotlib is not installed (pip install 'mnistmlp[plot]')"
        elif name == "tutorial":
            study.files.append(plot_learning_curves(records, out / "learning_curves.png"))
        else:
            study.files.append(plot_heatmaps(records, out / "heatmap.png"))
    return study
