"""The ``mnistmlp`` command line (also ``python -m mnistmlp``).

::

    mnistmlp train --hidden 100 --optimizer adam --epochs 5 --save model.safetensors
    mnistmlp predict model.safetensors --split test
    mnistmlp experiments --preset tutorial --seeds 3 --out results --plot
    mnistmlp experiments --widths 10,100,1000 --depths 1,2 --jobs 2 --out sweep --resume
    mnistmlp data [info|verify|fetch] [--data-dir DIR]
    mnistmlp info

Every command reads MNIST from the data directory (``--data-dir``, else ``$MNISTMLP_DATA``,
else ``~/.cache/mnistmlp/mnist``); only ``data fetch`` downloads. Errors print one line on
stderr (``mnistmlp <command>: error: ...``) and exit with a non-zero status: 2 for bad
options, 1 for missing or bad data and model files, 130 when interrupted with Ctrl-C.

:func:`main` takes the argument list and returns the exit status, so it can be called
in-process as well.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, NoReturn, Optional, Sequence, TypeVar

__all__ = ["main", "build_parser", "CommandError"]

PROG = "mnistmlp"
MNIST_FEATURES = 784
MNIST_CLASSES = 10
TRAIN_SIZE = 55000  # the training split of read_data_sets: the 60,000 less 5,000 for validation
VALIDATION_SIZE = 5000
SPLITS = ("test", "train", "validation")


class CommandError(Exception):
    """A problem the user can fix, reported as one line and exit status ``status``."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


class _UsageError(Exception):
    """Raised by the parsers instead of printing usage and exiting."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(message)
        self.prog = prog


# -- argument types: each refuses a bad value with a message naming what is expected --------


Number = TypeVar("Number", int, float)


def _number(text: str, kind: Callable[[str], Number], what: str) -> Number:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    value = _number(text, int, "an integer >= 1")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text}")
    return value


def non_negative_int(text: str) -> int:
    value = _number(text, int, "an integer >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text}")
    return value


def device_name(text: str) -> str:
    from ._spec import DEVICE

    if not DEVICE.allows(text):
        raise argparse.ArgumentTypeError(f"must be {DEVICE.expected}, got {text!r}")
    return text


def positive_float(text: str) -> float:
    value = _number(text, float, "a number > 0")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    value = _number(text, float, "a number >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def _jobs(text: str) -> int:
    value = _number(text, int, "an integer >= 1, or -1")
    if value < 1 and value != -1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, or -1, got {text}")
    return value


def _one_of(names: Sequence[str]) -> Callable[[str], str]:
    def check(text: str) -> str:
        if text not in names:
            raise argparse.ArgumentTypeError(f"must be one of {_joined(names)}, got {text!r}")
        return text

    return check


def _comma_list(item: Callable[[str], Any]) -> Callable[[str], List[Any]]:
    """An argument type: comma-separated values (``10,100,1000``), each checked by ``item``."""

    def parse(text: str) -> List[Any]:
        values = [item(part.strip()) for part in text.split(",") if part.strip()]
        if not values:
            raise argparse.ArgumentTypeError(f"must be comma-separated values, got {text!r}")
        return values

    return parse


def _joined(values: Iterable[Any]) -> str:
    return ",".join(map(str, values))


def fraction(text: str) -> float:
    value = _number(text, float, "a number in [0, 1)")
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {text}")
    return value


# -- the parser ---------------------------------------------------------------------------


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the descriptions' and epilogs' line breaks; shows each option's default unless
    its help already speaks of it or there is none to show (None, False)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text or default is None or default is False or default is argparse.SUPPRESS
                or not action.option_strings and action.nargs not in ("?", "*")):
            return text
        shown = " ".join(map(str, default)) if isinstance(default, list) else default
        return f"{text} (default: {shown})"


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors become :class:`_UsageError` (one line, no usage dump)."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(self.prog, message)


def _epilog(*examples: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in examples)


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", metavar="DIR", default=None,
        help="folder of the four MNIST files, gzipped or not (default: $MNISTMLP_DATA, "
             "else ~/.cache/mnistmlp/mnist)",
    )


def _add_threads(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads", type=non_negative_int, default=0, metavar="N",
        help="threads the engine uses; 0: OpenMP's setting (OMP_NUM_THREADS), at most the usable cores (results are "
             "identical for any count)",
    )
    parser.add_argument(
        "--device", type=device_name, default="cpu", metavar="DEVICE",
        help="where to compute: cpu, or cuda (an NVIDIA GPU, when this build has the CUDA backend; cuda:N for "
             "the GPU of CUDA index N)",
    )


def _check_device(device: str) -> None:
    """Refuse --device cuda (or cuda:N) up front, with the reason, when no GPU can run."""
    if device != "cpu":
        from ._config import cuda_available, get_config

        if not cuda_available():
            raise CommandError(f"--device {device}: {get_config()['cuda']['problem']}; use --device cpu")


def build_parser() -> argparse.ArgumentParser:
    """The parser of the whole command line."""
    from . import __version__
    from ._spec import ACTIVATIONS, DTYPES, OPTIMIZERS, WEIGHT_INITS, make_optimizer
    from .schedules import SCHEDULES

    parser = _Parser(
        prog=PROG,
        formatter_class=_Formatter,
        description="Train and use multilayer perceptrons on MNIST with mnistmlp's multithreaded C++ engine.",
        epilog=_epilog(
            "mnistmlp data fetch                         # download MNIST once",
            "mnistmlp train --hidden 100 --epochs 5 --save model.safetensors",
            "mnistmlp predict model.safetensors",
            "mnistmlp experiments --preset tutorial --out results --plot",
            "mnistmlp <command> --help                   # the options of a command",
        ),
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}",
                        help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="<command>", title="commands")

    # train ---------------------------------------------------------------------------------
    train = commands.add_parser(
        "train", formatter_class=_Formatter, help="train a network on MNIST, report test accuracy, save it",
        description=(
            "Train a multilayer perceptron on MNIST's 55,000 training images, showing a progress\n"
            "bar and the validation loss and accuracy (5,000 held-out images) after each epoch;\n"
            "then print the accuracy on the 10,000 test images and optionally save the model."
        ),
        epilog=_epilog(
            "mnistmlp train --hidden 100 --activation relu --optimizer adam --lr 0.001 \\",
            "    --epochs 5 --batch-size 32 --threads 2 --seed 0 --save model.safetensors",
            "mnistmlp train --hidden 256 128 --dropout 0.2 --epochs 10",
            "mnistmlp train --optimizer sgd --lr 0.1 --momentum 0.9 --train-limit 10000",
        ),
    )
    train.add_argument("--hidden", type=positive_int, nargs="*", default=[100], metavar="WIDTH",
                       help="width of each hidden layer: '--hidden 100 100' makes two; '--hidden' "
                            "alone makes none (softmax regression)")
    train.add_argument("--activation", choices=ACTIVATIONS, default="relu",
                       help="activation of the hidden layers")
    train.add_argument("--optimizer", choices=tuple(OPTIMIZERS), default="adam",
                       help="the optimizer (TensorFlow 1's update rules; see mnistmlp.optimizers)")
    train.add_argument("--lr", type=positive_float, default=None, metavar="RATE",
                       help="learning rate (default: the optimizer's own: "
                            + ", ".join(f"{name} {make_optimizer(name).learning_rate:g}" for name in OPTIMIZERS) + ")")
    train.add_argument("--momentum", type=fraction, default=None, metavar="M",
                       help="momentum in [0, 1), for the optimizers that have one (sgd, momentum, rmsprop)")
    train.add_argument("--nesterov", action="store_true",
                       help="Nesterov momentum (sgd or momentum, with a momentum > 0)")
    train.add_argument("--epochs", type=positive_int, default=5, metavar="N", help="passes over the training images")
    train.add_argument("--batch-size", type=positive_int, default=32, metavar="N", help="images per update")
    train.add_argument("--lr-schedule", type=_schedule_text, default=None, metavar="NAME:ARGS",
                       help="change the learning rate each epoch, starting from --lr: " + "; ".join(
                           f"{name}:{':'.join(_schedule_fields(name))}" for name in SCHEDULES)
                       + " (see mnistmlp.schedules; e.g. step:0.5:2 halves it every 2 epochs, cosine:10)")
    train.add_argument("--early-stopping", type=positive_int, default=None, metavar="PATIENCE",
                       help="stop when the validation loss has not improved for PATIENCE epochs, and keep the "
                            "model of the best epoch")
    train.add_argument("--checkpoint", metavar="PATH", default=None,
                       help="save the model after every epoch; PATH may hold {epoch} and figures such as "
                            "{val_accuracy:.4f} (e.g. ckpt-{epoch:02d}.safetensors)")
    train.add_argument("--log-csv", metavar="PATH", default=None,
                       help="write each epoch's figures (loss, accuracy, validation, learning rate...) as a CSV row")
    train.add_argument("--weight-init", choices=tuple(WEIGHT_INITS), default="he_normal",
                       help="how the weights start (biases start at zero)")
    train.add_argument("--dropout", type=fraction, default=0.0, metavar="P",
                       help="dropout probability on the hidden layers' outputs while training, in [0, 1)")
    train.add_argument("--weight-decay", type=non_negative_float, default=0.0, metavar="L2",
                       help="L2 penalty on the weights: weight_decay * sum(W**2) / 2")
    train.add_argument("--clip-norm", type=positive_float, default=None, metavar="NORM",
                       help="clip the gradient to this global norm before each update (default: no clipping)")
    train.add_argument("--dtype", choices=DTYPES, default="float32", help="floating-point precision")
    train.add_argument("--seed", type=non_negative_int, default=0, metavar="N",
                       help="seed of the initial weights, the shuffles and dropout")
    _add_threads(train)
    train.add_argument("--train-limit", type=positive_int, default=None, metavar="N",
                       help=f"train on only the first N of the {TRAIN_SIZE:,} training images (quick runs)")
    _add_data_dir(train)
    train.add_argument("--save", metavar="PATH", default=None,
                       help="save the trained model to this safetensors file; if that fails (a full disk...), "
                            "it is saved in the temp folder instead, and the error says where (default: do not save)")
    train.add_argument("-q", "--quiet", action="store_true",
                       help="no progress bar or per-epoch lines, only the final results")
    train.set_defaults(handler=cmd_train)

    # experiments ---------------------------------------------------------------------------
    from .experiments import GRID

    experiments = commands.add_parser(
        "experiments", formatter_class=_Formatter, help="run a study (a preset or any grid) over several seeds",
        description=(
            "Run a study (several networks, each trained with several seeds) and print its results\n"
            "as a Markdown table. With --out, each run's record is appended to results.jsonl as it\n"
            "finishes, the table goes to results.md and, with --plot, PNG figures beside them.\n"
            "Presets: 'tutorial' (the TFLearn notebook's network and its variations) and 'grid'\n"
            "(widths × depths, for SGD at two learning rates and for Adam), whose axes and training\n"
            "the grid options change. The runs go one after another, in --jobs worker processes on\n"
            "this machine, or to the workers of a Dask cluster (--scheduler); --resume skips the\n"
            "runs already recorded in --out, so an interrupted study continues where it stopped."
        ),
        epilog=_epilog(
            "mnistmlp experiments --preset tutorial",
            "mnistmlp experiments --preset grid --seeds 5 --out grid-results --plot",
            "mnistmlp experiments --widths 10,100,1000 --depths 1,2,3 --optimizers sgd,adam \\",
            "    --learning-rates 0.001,0.1 --epochs 3 --seeds 5 --jobs 2 --out sweep --plot",
            "mnistmlp experiments --widths 10,100 --scheduler tcp://10.0.0.5:8786 --out sweep --resume",
            "mnistmlp experiments --preset tutorial --seeds 1 --train-limit 5000   # a quick look",
        ),
    )
    experiments.add_argument("--preset", default=None, metavar="NAME",
                             help="the study to run: 'tutorial' (the default), or 'grid' (the default with any "
                                  "grid option)")
    grid = experiments.add_argument_group("the grid (each option replaces one of the grid preset's)")
    grid.add_argument("--widths", type=_comma_list(positive_int), default=None, metavar="W,...",
                      help=f"units per hidden layer (default: {_joined(GRID['widths'])})")
    grid.add_argument("--depths", type=_comma_list(positive_int), default=None, metavar="D,...",
                      help=f"hidden layers (default: {_joined(GRID['depths'])})")
    grid.add_argument("--optimizers", type=_comma_list(_one_of(tuple(OPTIMIZERS))), default=None, metavar="NAME,...",
                      help=f"among {_joined(OPTIMIZERS)} (default: {_joined(GRID['optimizers'])})")
    grid.add_argument("--learning-rates", type=_comma_list(positive_float), default=None, metavar="RATE,...",
                      help="every optimizer with each rate (default: " + "; ".join(
                          f"{name} {_joined(rates)}" for name, rates in GRID["learning_rates"].items())
                      + "; any other optimizer its own rate)")
    grid.add_argument("--batch-size", type=positive_int, default=None, metavar="N",
                      help=f"images per update (default: {GRID['batch_size']})")
    grid.add_argument("--epochs", type=positive_int, default=None, metavar="N",
                      help=f"passes over the training images (default: {GRID['epochs']})")
    experiments.add_argument("--seeds", type=positive_int, default=None, metavar="N",
                             help="seeds per configuration (default: the preset's own)")
    experiments.add_argument("--out", metavar="DIR", default=None,
                             help="write results.jsonl, results.md and the figures into this folder (default: write no "
                                  "files, only print the table)")
    experiments.add_argument("--resume", action="store_true",
                             help="run only the runs that --out's results.jsonl does not hold yet (without it, a "
                                  "results.jsonl that holds runs is refused)")
    experiments.add_argument("--plot", action="store_true", help="also draw PNG figures (needs matplotlib and --out)")
    experiments.add_argument("--jobs", type=_jobs, default=1, metavar="N",
                             help="runs at once, each in a worker process of this machine (joblib), with the cores "
                                  "shared out between them unless --threads says otherwise; -1: one per core")
    experiments.add_argument("--scheduler", metavar="ADDR", default=None,
                             help="a Dask scheduler's address (tcp://host:8786): the runs go to its workers, which "
                                  "read MNIST from their own data folder (pip install 'mnistmlp[dask]')")
    _add_threads(experiments)
    experiments.add_argument("--train-limit", type=positive_int, default=None, metavar="N",
                             help="train on only the first N training images (quick runs; the tables then leave out "
                                  "the full-data TFLearn figures)")
    _add_data_dir(experiments)
    experiments.set_defaults(handler=cmd_experiments)

    # predict -------------------------------------------------------------------------------
    predict = commands.add_parser(
        "predict", formatter_class=_Formatter, help="evaluate a saved model: accuracy and confusion matrix",
        description=(
            "Load a model saved by 'mnistmlp train --save' (or MLP.save / DNN.save), classify an\n"
            "MNIST split and print its accuracy, the 10x10 confusion matrix (rows: true label,\n"
            "columns: predicted label) and each digit's accuracy."
        ),
        epilog=_epilog("mnistmlp predict model.safetensors", "mnistmlp predict model.safetensors --split validation"),
    )
    predict.add_argument("model", metavar="MODEL", help="the model file (safetensors)")
    predict.add_argument("--split", choices=SPLITS, default="test",
                         help="the images to classify: test (10,000), train (55,000) or validation "
                              "(5,000, the first images of MNIST's training file)")
    _add_threads(predict)
    _add_data_dir(predict)
    predict.set_defaults(handler=cmd_predict)

    # serve ---------------------------------------------------------------------------------
    serve = commands.add_parser(
        "serve", formatter_class=_Formatter, help="a local page to train, compare, draw digits and look inside",
        description=(
            "Start a local web page (the 'serve' extra: pip install 'mnistmlp[serve]') that trains the\n"
            "notebook's networks or your own while their learning curves stream in, overlays runs on\n"
            "one chart, classifies digits you draw, shows the test images a model gets wrong and the\n"
            "first layer's weights. It binds to 127.0.0.1 (this machine only) unless --host says\n"
            "otherwise; Ctrl-C stops its runs and the server."
        ),
        epilog=_epilog("mnistmlp serve --open", "mnistmlp serve --model model.safetensors --port 8080"),
    )
    serve.add_argument("--model", metavar="FILE", default=None,
                       help="a model file to draw digits for and look inside, beside the page's own runs")
    serve.add_argument("--host", default="127.0.0.1",
                       help="the address to listen on; anything but 127.0.0.1, localhost or ::1 lets other "
                            "machines reach the page")
    serve.add_argument("--port", type=non_negative_int, default=8000, metavar="N",
                       help="the port to listen on (0: any free one, printed)")
    serve.add_argument("--open", action="store_true", help="open the page in the web browser")
    _add_threads(serve)
    _add_data_dir(serve)
    serve.set_defaults(handler=cmd_serve)

    # data ----------------------------------------------------------------------------------
    data = commands.add_parser(
        "data", formatter_class=_Formatter, help="show, verify or download the MNIST files",
        description=(
            "info:   show the data directory, how it was chosen, and whether each of the four\n"
            "        files is present and valid (the default);\n"
            "verify: the same, in words for a log: check every file (IDX header, size, labels,\n"
            "        SHA-256);\n"
            "fetch:  download the missing files into the data directory, then verify all four.\n"
            "Each exits 1 when a file is missing or invalid, so scripts can test for the data."
        ),
        epilog=_epilog("mnistmlp data", "mnistmlp data verify --data-dir ~/datasets/mnist", "mnistmlp data fetch"),
    )
    data.add_argument("action", nargs="?", choices=("info", "verify", "fetch"), default="info",
                      help="what to do")
    _add_data_dir(data)
    data.set_defaults(handler=cmd_data)

    # info ----------------------------------------------------------------------------------
    info = commands.add_parser(
        "info", formatter_class=_Formatter, help="show how mnistmlp was built",
        description="Show the build configuration of mnistmlp's C++ engine (compiler, SIMD, OpenMP,\n"
                    "default thread count) and the Python and NumPy it runs under.",
        epilog=_epilog("mnistmlp info"),
    )
    info.set_defaults(handler=cmd_info)
    return parser


# -- helpers ------------------------------------------------------------------------------


def _out(*args, **kwargs) -> None:
    print(*args, **kwargs, flush=True)


def _check_data(data_dir: Optional[str]) -> None:
    """Fail with one helpful line when MNIST files are missing (nothing is downloaded)."""
    from .datasets import mnist

    missing = [file.name for file in mnist.MNIST.files if mnist.MNIST.locate(file, data_dir) is None]
    if missing:
        where = " or ".join(str(d) for d in mnist.MNIST.search_dirs(data_dir))
        fetch = "mnistmlp data fetch" + (f" --data-dir {data_dir}" if data_dir else "")
        raise CommandError(
            f"MNIST files missing from {where}: {', '.join(missing)}. Run '{fetch}' to download "
            "them, or point --data-dir (or MNISTMLP_DATA) at a folder that has them."
        )


def _load_split(split: str, data_dir: Optional[str]):
    """(images uint8 (n, 28, 28), labels) of ``split``: train, validation (as read_data_sets) or test."""
    from .datasets import mnist

    if split == "test":
        return mnist.load_mnist("test", data_dir, download=False)
    images, labels = mnist.load_mnist("train", data_dir, download=False)
    if split == "validation":
        return images[:VALIDATION_SIZE], labels[:VALIDATION_SIZE]
    return images[VALIDATION_SIZE:], labels[VALIDATION_SIZE:]


def _check_save_path(path: str) -> None:
    from ._modelfile import check_destination

    try:
        check_destination(path)
    except OSError as exc:
        raise CommandError(f"--save {path}: {exc.strerror}", 2) from None


def confusion_matrix(labels, predictions, classes: int = MNIST_CLASSES):
    """Counts ``[true, predicted]`` as a (classes, classes) int64 array."""
    import numpy as np

    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels, dtype=np.intp), np.asarray(predictions, dtype=np.intp)), 1)
    return matrix


def format_confusion_matrix(matrix) -> str:
    """The matrix as an aligned text table, with each row's total and accuracy at its right."""
    classes = matrix.shape[0]
    width = max(5, len(str(int(matrix.max()))) + 1)
    head = "true\\pred"
    lines = [head + "".join(f"{c:>{width}}" for c in range(classes)) + " |   total  accuracy"]
    for true in range(classes):
        row = matrix[true]
        total = int(row.sum())
        accuracy = f"{row[true] / total:9.4f}" if total else "        -"
        lines.append(f"{true:>{len(head)}}" + "".join(f"{int(n):>{width}}" for n in row) + f" | {total:7d} {accuracy}")
    return "\n".join(lines)


# -- commands -----------------------------------------------------------------------------


def _optimizer(args: argparse.Namespace):
    """The optimizer --optimizer names, with --lr, --momentum and --nesterov where given."""
    from ._spec import OPTIMIZERS

    cls = OPTIMIZERS[args.optimizer]
    fields = {field.name for field in dataclasses.fields(cls)}
    settings = {name: value for name, value in (("learning_rate", args.lr), ("momentum", args.momentum),
                                                 ("nesterov", args.nesterov or None)) if value is not None}
    for name in sorted(set(settings) - fields):
        raise CommandError(f"--{name} does not apply to --optimizer {args.optimizer}", 2)
    try:
        return cls(**settings)
    except ValueError as exc:
        raise CommandError(f"--optimizer {args.optimizer}: {exc}", 2) from None


def cmd_train(args: argparse.Namespace) -> int:
    from .model import MLP

    optimizer = _optimizer(args)
    callbacks = _callbacks(args, optimizer.learning_rate)
    if args.save is not None:
        _check_save_path(args.save)
    _check_device(args.device)
    _check_data(args.data_dir)

    start = time.monotonic()
    X_train, y_train = _load_split("train", args.data_dir)
    X_val, y_val = _load_split("validation", args.data_dir)
    X_test, y_test = _load_split("test", args.data_dir)
    if args.train_limit is not None:
        X_train, y_train = X_train[: args.train_limit], y_train[: args.train_limit]

    model = MLP(
        [MNIST_FEATURES, *args.hidden, MNIST_CLASSES], activation=args.activation, optimizer=optimizer,
        weight_init=args.weight_init, dropout=args.dropout, weight_decay=args.weight_decay,
        clip_norm=args.clip_norm, seed=args.seed, threads=args.threads, dtype=args.dtype, device=args.device,
    )
    from .datasets import mnist

    _out(f"MNIST from {mnist.data_dir(args.data_dir)}: {len(X_train):,} training, {len(X_val):,} validation, "
         f"{len(X_test):,} test images (loaded in {time.monotonic() - start:.1f}s)")
    _out(f"Model: {model!r}, {args.weight_init} initialisation, seed {args.seed}, {model.threads} threads")
    _out(f"Training for {args.epochs} epoch{'s' if args.epochs != 1 else ''} in batches of {args.batch_size}")
    try:
        history = model.fit(X_train, y_train, epochs=args.epochs, batch_size=args.batch_size,
                            validation_data=(X_val, y_val), verbose=0 if args.quiet else "auto",
                            callbacks=callbacks)
    except KeyboardInterrupt:
        if args.save is None:
            raise
        _save(model, args.save)
        # Ctrl-C lands between two batches, or after an epoch's last one.
        cut_short = model.steps_ != model.epochs_ * -(-len(X_train) // args.batch_size)
        _out(f"Interrupted: saved the model as it stands ({model.epochs_} epochs"
             f"{', the last cut short' if cut_short else ''}; {model.steps_:,} steps) to {args.save}")
        return 130
    seconds = sum(history.history["seconds"])
    result = model.evaluate(X_test, y_test)
    _out(f"Training took {seconds:.1f}s ({len(X_train) * len(history.epoch) / max(seconds, 1e-9):,.0f} samples/s); "
         f"final validation accuracy {history.history['val_accuracy'][-1]:.4f}")
    if len(history.epoch) < args.epochs:
        _out(f"Stopped early, after {len(history.epoch)} of {args.epochs} epochs: the validation loss stopped improving")
    if model.epochs_ < history.epoch[-1] + 1:
        _out(f"Kept the model of epoch {model.epochs_}, which had the best validation loss")
    _out(f"Test accuracy: {result['accuracy']:.4f} (loss {result['loss']:.4f}) on {len(X_test):,} images")
    if args.save is not None:
        _save(model, args.save)
        _out(f"Saved the model to {args.save}")
    return 0


def _schedule_fields(name: str) -> List[str]:
    """The --lr-schedule arguments of schedule ``name``, in order, upper-cased."""
    from .schedules import SCHEDULES

    return [field.name.upper() for field in dataclasses.fields(SCHEDULES[name]) if field.name != "initial_learning_rate"]


def _schedule_text(text: str) -> str:
    """--lr-schedule's NAME:ARGS, if NAME is a schedule's (the arguments are read with --lr)."""
    from .schedules import SCHEDULES

    if text.split(":")[0] not in SCHEDULES:
        raise argparse.ArgumentTypeError(f"must start with one of {', '.join(SCHEDULES)}, got {text!r}")
    return text


def _schedule(text: str, learning_rate: float):
    """The schedule --lr-schedule NAME:ARG:... describes, starting from ``learning_rate``."""
    from .schedules import SCHEDULES

    name, *texts = text.split(":")
    cls = SCHEDULES[name]
    fields = [field for field in dataclasses.fields(cls) if field.name != "initial_learning_rate"]
    required = [field for field in fields if field.default is dataclasses.MISSING]
    usage = f"--lr-schedule {name}:{':'.join(f.name.upper() for f in fields)}"
    if not len(required) <= len(texts) <= len(fields):
        raise CommandError(f"{usage} takes {len(required)} to {len(fields)} values, got {text!r}", 2)
    values: Dict[str, Any] = {}
    for field, value in zip(fields, texts):
        try:
            if field.type in ("int", "float"):
                values[field.name] = int(value) if field.type == "int" else float(value)
            elif field.type == "bool":
                values[field.name] = {"true": True, "false": False}[value.lower()]
            else:  # a tuple of numbers, comma-separated
                kind = int if "int" in str(field.type) else float
                values[field.name] = tuple(kind(item) for item in value.split(","))
        except (KeyError, ValueError):
            raise CommandError(f"{usage}: {field.name.upper()} cannot be {value!r}", 2) from None
    if any(field.name == "initial_learning_rate" for field in dataclasses.fields(cls)):
        values["initial_learning_rate"] = learning_rate
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise CommandError(f"--lr-schedule {text}: {exc}", 2) from None


def _callbacks(args: argparse.Namespace, learning_rate: float) -> List[Any]:
    """The callbacks --lr-schedule, --early-stopping, --checkpoint and --log-csv ask for."""
    from . import callbacks

    chosen: List[Any] = []
    if args.lr_schedule is not None:
        chosen.append(callbacks.LearningRateScheduler(_schedule(args.lr_schedule, learning_rate)))
    if args.early_stopping is not None:
        chosen.append(callbacks.EarlyStopping("val_loss", patience=args.early_stopping, restore_best_weights=True))
    if args.checkpoint is not None:
        chosen.append(callbacks.ModelCheckpoint(Path(args.checkpoint).expanduser()))
    if args.log_csv is not None:
        chosen.append(callbacks.CSVLogger(Path(args.log_csv).expanduser()))
    return chosen


def _save(model, path: str) -> None:
    """Save ``model`` to ``path``. When that fails (a full disk, a folder gone or made
    read-only during training), save it in the temp folder rather than lose the training,
    and say both in one line."""
    try:
        model.save(Path(path).expanduser())
        return
    except OSError as exc:
        problem = f"could not save the model to {path} ({exc.strerror or exc})"
    target = Path(path)
    kept = Path(tempfile.gettempdir()) / f"{target.stem}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}{target.suffix}"
    try:
        model.save(kept)
    except OSError as exc:
        raise CommandError(f"{problem}, nor to {kept} ({exc.strerror or exc}): the trained model is lost") from None
    raise CommandError(f"{problem}; saved it to {kept} instead")


def cmd_predict(args: argparse.Namespace) -> int:
    from .model import MLP

    _check_device(args.device)
    model = MLP.load(Path(args.model).expanduser(), threads=args.threads, device=args.device)
    if model.layer_sizes[0] != MNIST_FEATURES or model.layer_sizes[-1] != MNIST_CLASSES:
        raise CommandError(
            f"{args.model}: the model takes {model.layer_sizes[0]} inputs and gives {model.layer_sizes[-1]} "
            f"outputs; MNIST needs {MNIST_FEATURES} inputs and {MNIST_CLASSES} outputs"
        )
    _check_data(args.data_dir)
    images, labels = _load_split(args.split, args.data_dir)
    start = time.monotonic()
    predictions = model.predict(images)
    seconds = time.monotonic() - start
    matrix = confusion_matrix(labels, predictions)
    correct = int(matrix.trace())
    _out(f"Model: {args.model}: {model!r}")
    _out(f"Accuracy on the {args.split} split: {correct / len(labels):.4f} ({correct:,}/{len(labels):,} correct, "
         f"predicted in {seconds:.2f}s)")
    _out("")
    _out("Confusion matrix (rows: true label, columns: predicted label; right: each digit's count and accuracy):")
    _out(format_confusion_matrix(matrix))
    per_class = [matrix[d, d] / max(int(matrix[d].sum()), 1) for d in range(MNIST_CLASSES)]
    worst = min(range(MNIST_CLASSES), key=lambda d: per_class[d])
    off = matrix.copy()
    for d in range(MNIST_CLASSES):
        off[d, d] = 0
    true, predicted = divmod(int(off.argmax()), MNIST_CLASSES)
    _out("")
    _out(f"Hardest digit: {worst} ({per_class[worst]:.4f}); most common mistake: {true} read as {predicted} "
         f"({int(off[true, predicted])} times)")
    return 0


def _data_dir_origin(data_dir: Optional[str]) -> str:
    if data_dir is not None:
        return "the --data-dir argument"
    if os.environ.get("MNISTMLP_DATA"):
        return "the MNISTMLP_DATA environment variable"
    return "the default cache ($XDG_CACHE_HOME/mnistmlp/mnist, else ~/.cache/mnistmlp/mnist); set MNISTMLP_DATA or --data-dir to change it"


def _print_status(report) -> None:
    width = max(len(entry.name) for entry in report)
    for entry in report:
        if not entry.present:
            _out(f"  {entry.name:<{width}}  missing")
        elif entry.valid:
            _out(f"  {entry.name:<{width}}  ok       {entry.path}")
        else:
            problem = " ".join(str(entry.problem).split())
            _out(f"  {entry.name:<{width}}  INVALID  {entry.path}\n  {'':<{width}}           {problem}")


def cmd_data(args: argparse.Namespace) -> int:
    from .datasets import mnist

    folder = mnist.data_dir(args.data_dir)
    if args.action == "fetch":
        _out(f"Fetching MNIST into {folder}")
        report = mnist.fetch(args.data_dir)
        _print_status(report)
        _out("All 4 MNIST files are present and valid.")
        return 0
    exists = "" if folder.is_dir() else " (does not exist yet)"
    _out(f"MNIST data directory: {folder}{exists}")
    _out(f"  chosen by {_data_dir_origin(args.data_dir)}")
    report = mnist.status(args.data_dir)
    _print_status(report)
    bad = [entry for entry in report if not entry.valid]
    fetch = "mnistmlp data fetch" + (f" --data-dir {args.data_dir}" if args.data_dir else "")
    if not bad:
        _out("All 4 MNIST files are present and valid.")
        return 0
    missing = sum(not entry.present for entry in bad)
    invalid = len(bad) - missing
    summary = ", ".join(part for part in (f"{missing} missing" if missing else "", f"{invalid} invalid" if invalid else "") if part)
    advice = f"run '{fetch}' to download the missing files" if missing else ""
    if invalid:
        advice += ("; " if advice else "") + "delete the invalid files and fetch them again"
    raise CommandError(f"MNIST data in {folder} is incomplete or invalid ({summary}): {advice}")
    return 0


def cmd_experiments(args: argparse.Namespace) -> int:
    try:
        from . import experiments
    except ImportError as exc:
        raise CommandError(f"the experiments module is not available in this installation: {exc}") from None
    for option, needed in (("--plot", args.plot), ("--resume", args.resume)):
        if needed and args.out is None:
            raise CommandError(f"{option} needs --out DIR, the study's folder", 2)
    if args.scheduler is not None and args.jobs != 1:
        raise CommandError("give --jobs or --scheduler, not both: on a Dask cluster, its workers decide how many runs "
                           "go at once", 2)
    grid = {name: value for name, value in vars(args).items()
            if name in experiments.GRID and value is not None}
    name = args.preset or ("grid" if grid else "tutorial")
    if name not in experiments.PRESETS:
        raise CommandError(f"unknown preset {name!r}; choose from: {', '.join(experiments.PRESETS)}", 2)
    if grid and name != "grid":
        options = ", ".join("--" + option.replace("_", "-") for option in grid)
        raise CommandError(f"{options} change the grid; --preset {name} is a fixed set of networks", 2)
    _check_device(args.device)
    _check_data(args.data_dir)
    try:
        study = experiments.run_preset(
            experiments.grid_preset(**grid) if grid else name, seeds=args.seeds, out_dir=args.out, plot=args.plot,
            data_dir=args.data_dir, progress=True, train_limit=args.train_limit, device=args.device,
            n_jobs=args.jobs, threads_per_job=args.threads or None, scheduler=args.scheduler, resume=args.resume,
        )
    except ImportError as exc:  # an optional dependency --jobs or --scheduler needs
        raise CommandError(str(exc)) from None
    except KeyboardInterrupt:
        if args.out is not None:
            _out(f"Interrupted: the finished runs are in {Path(args.out) / experiments.RECORDS_FILE}; the same "
                 "command with --resume runs the others")
        raise
    _out("")
    _out(study.table.rstrip("\n"))
    _out("")
    if study.files:
        _out(f"Files written to {args.out}:")
        for path in study.files:
            _out(f"  {path}")
    else:
        _out(f"No files written (give --out DIR to keep {experiments.RECORDS_FILE} and results.md).")
    if study.plot_message:
        _out(f"Note: {study.plot_message}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .datasets import mnist

    if args.port > 65535:
        raise CommandError(f"--port must be at most 65535, got {args.port}", 2)
    if args.model is not None and not os.path.isfile(args.model):
        raise CommandError(f"--model {args.model}: no such file", 2)
    _check_device(args.device)
    _check_data(args.data_dir)
    try:
        from .serve.app import serve
    except ImportError as exc:
        raise CommandError(str(exc)) from None
    serve(mnist.read_data_sets(args.data_dir, download=False), args.model, args.host, args.port, args.threads or None,
          args.device, args.open)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from ._config import show_config

    show_config()
    return 0


# -- entry point --------------------------------------------------------------------------


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def _error(prog: str, message: str) -> None:
    print(f"{prog}: error: {_one_line(message)}", file=sys.stderr, flush=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    from . import ModelFileError
    from .datasets import DataError, DownloadError

    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # name the command whose options these are not
            prog = f"{PROG} {args.command}" if getattr(args, "command", None) else PROG
            raise _UsageError(prog, f"unrecognized arguments: {' '.join(extra)}")
    except _UsageError as exc:
        _error(exc.prog, f"{exc} (see '{exc.prog} --help')")
        return 2
    except SystemExit as exc:  # --help, --version
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    if args.command is None:
        _error(PROG, f"a command is required: train, experiments, predict, serve, data or info (see '{PROG} --help')")
        return 2
    prog = f"{PROG} {args.command}"
    try:
        return args.handler(args)
    except CommandError as exc:
        _error(prog, str(exc))
        return exc.status
    except DownloadError as exc:  # what went wrong with each mirror, a line each
        lines = str(exc).splitlines()
        _error(prog, lines[0])
        for line in lines[1:]:
            print(f"  {line.strip()}", file=sys.stderr, flush=True)
        return 1
    except (DataError, ModelFileError) as exc:
        _error(prog, str(exc))
        return 1
    except FileNotFoundError as exc:
        _error(prog, f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
        return 1
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):  # e.g. `mnistmlp predict m | head`
            try:
                sys.stdout = open(os.devnull, "w")
            except OSError:
                pass
            return 1
        _error(prog, f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
        return 1
    except ValueError as exc:
        _error(prog, str(exc))
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr, flush=True)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
