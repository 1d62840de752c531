"""The ``mnistmlp`` command line, run as ``python -m mnistmlp`` (the console script only
exists after an install) and, for the cheap checks, in-process through ``cli.main``.

Every error must be one line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np
import pytest

import mnistmlp
from mnistmlp import cli

COMMANDS = ("train", "experiments", "predict", "data", "info")


def run(*args: str, data: Optional[Path] = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """``python -m mnistmlp args...``; MNISTMLP_DATA is ``data`` if given, else unset."""
    env = {k: v for k, v in os.environ.items() if k != "MNISTMLP_DATA"}
    if data is not None:
        env["MNISTMLP_DATA"] = str(data)
    return subprocess.run([sys.executable, "-m", "mnistmlp", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)


def assert_ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str, status: Optional[int] = None) -> str:
    """A non-zero exit with exactly one line on stderr, naming the command and the fragments."""
    assert result.returncode != 0, result.stdout
    if status is not None:
        assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mnistmlp") and ": error: " in lines[0], lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def trained(mnist_dir, tmp_path_factory):
    """A small model trained by ``mnistmlp train`` (1 epoch on 2,000 images), and its output."""
    path = tmp_path_factory.mktemp("cli") / "model.safetensors"
    result = run("train", "--hidden", 16, "--epochs", 1, "--train-limit", 2000, "--threads", 2,
                 "--seed", 3, "--save", path, data=mnist_dir)
    return path, assert_ok(result)


# -- train --------------------------------------------------------------------------------


def test_train_reports_validation_and_test_accuracy_and_saves(trained):
    path, out = trained
    assert "2,000 training, 5,000 validation, 10,000 test images" in out
    assert "MLP([784, 16, 10]" in out
    epoch_line = next(line for line in out.splitlines() if line.startswith("Epoch 1/1"))
    assert "val_loss" in epoch_line and "val_accuracy" in epoch_line
    accuracy = float(re.search(r"Test accuracy: ([0-9.]+)", out).group(1))
    assert 0.5 < accuracy <= 1.0
    assert f"Saved the model to {path}" in out and path.is_file()


def test_train_two_hidden_layers_sgd_momentum(mnist_dir, tmp_path):
    out = assert_ok(run("train", "--hidden", 8, 8, "--optimizer", "sgd", "--lr", 0.05, "--momentum", 0.9,
                        "--weight-init", "glorot_uniform", "--dropout", 0.1, "--clip-norm", 5, "--epochs", 2,
                        "--batch-size", 64, "--train-limit", 1000, "--quiet", "--data-dir", mnist_dir))
    assert "MLP([784, 8, 8, 10]" in out and "SGD(learning_rate=0.05, momentum=0.9" in out
    assert "Epoch " not in out, "--quiet draws no per-epoch lines"
    assert re.search(r"Test accuracy: 0\.\d{4}", out)


@pytest.mark.parametrize("optimizer,activation", [("rmsprop", "leaky_relu"), ("adagrad", "elu"), ("momentum", "relu")])
def test_train_with_every_optimizer_and_activation_and_predict_from_the_file(mnist_dir, tmp_path, optimizer, activation):
    path = tmp_path / "model.safetensors"
    out = assert_ok(run("train", "--hidden", 16, "--optimizer", optimizer, "--activation", activation, "--lr", 0.01,
                        "--epochs", 1, "--train-limit", 2000, "--quiet", "--save", path, "--data-dir", mnist_dir))
    assert f"activation='{activation}'" in out and f"{mnistmlp.optimizers.OPTIMIZERS[optimizer].__name__}(" in out
    accuracy = float(re.search(r"Test accuracy: ([0-9.]+)", out).group(1))
    assert accuracy > 0.5
    assert f"{accuracy:.4f}" in assert_ok(run("predict", path, "--data-dir", mnist_dir))


def test_train_keeps_the_model_when_the_save_fails(mnist_dir, tmp_path, monkeypatch, capsys):
    """A full disk at --save's folder: one line saying so, and the model saved in the temp folder."""
    from mnistmlp import model as model_module

    full, temporary = tmp_path / "full", tmp_path / "tmp"
    full.mkdir()
    temporary.mkdir()
    real_write = model_module.write_model_file

    def write(path, *args):
        if Path(path).parent == full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_write(path, *args)

    monkeypatch.setattr(model_module, "write_model_file", write)
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    target = full / "model.safetensors"
    status = cli.main(["train", "--hidden", "8", "--epochs", "1", "--train-limit", "300", "--quiet", "--threads", "2",
                       "--data-dir", str(mnist_dir), "--save", str(target)])
    err = capsys.readouterr().err
    assert status == 1 and err.count("\n") == 1, err
    match = re.fullmatch(rf"mnistmlp train: error: could not save the model to {re.escape(str(target))} "
                         r"\(No space left on device\); saved it to (\S+) instead\n", err)
    assert match, err
    kept = Path(match.group(1))
    assert kept.parent == temporary and kept.suffix == ".safetensors"
    import mnistmlp

    assert mnistmlp.MLP.load(kept).layer_sizes == [784, 8, 10]
    assert not target.exists()


TRAIN_UNDER_FILE_SIZE_LIMIT = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))
from mnistmlp.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_train_says_when_the_model_cannot_be_kept_anywhere(mnist_dir, tmp_path):
    target, temporary = tmp_path / "model.safetensors", tmp_path / "tmp"
    temporary.mkdir()
    env = {**os.environ, "TMPDIR": str(temporary), "MNISTMLP_DATA": str(mnist_dir)}
    result = subprocess.run(
        [sys.executable, "-c", TRAIN_UNDER_FILE_SIZE_LIMIT, "train", "--hidden", "16", "--epochs", "1",
         "--train-limit", "300", "--quiet", "--threads", "2", "--save", str(target)],
        capture_output=True, text=True, env=env, timeout=120)
    line = assert_one_line_error(result, f"could not save the model to {target} (File too large), nor to {temporary}/",
                                 "(File too large): the trained model is lost", status=1)
    assert line.startswith("mnistmlp train: error: ")
    assert not target.exists() and list(temporary.iterdir()) == [], "no debris"


def test_train_with_a_schedule_early_stopping_checkpoints_and_a_csv_log(mnist_dir, tmp_path):
    out = assert_ok(run("train", "--hidden", 16, "--optimizer", "sgd", "--lr", 0.1, "--epochs", 4,
                        "--lr-schedule", "step:0.5:1", "--early-stopping", 1,
                        "--checkpoint", tmp_path / "ckpt-{epoch}-{val_loss:.3f}.safetensors",
                        "--log-csv", tmp_path / "log.csv", "--train-limit", 2000, "--quiet", "--data-dir", mnist_dir))
    import csv

    rows = list(csv.DictReader((tmp_path / "log.csv").open()))
    assert [float(row["learning_rate"]) for row in rows] == [0.1 * 0.5 ** e for e in range(len(rows))]
    names = sorted(p.name for p in tmp_path.glob("ckpt-*.safetensors"))
    assert names == sorted(f"ckpt-{e + 1}-{float(row['val_loss']):.3f}.safetensors" for e, row in enumerate(rows))
    assert ("Stopped early" in out) == (len(rows) < 4)
    last = mnistmlp.MLP.load(tmp_path / names[-1])
    assert last.epochs_ == len(rows) and last.learning_rate == 0.1 * 0.5 ** (len(rows) - 1)


@pytest.mark.parametrize("schedule, fragments", [
    ("wobble", ["--lr-schedule", "must start with one of step, exponential, cosine, piecewise", "wobble"]),
    ("cosine", ["--lr-schedule cosine:DECAY_EPOCHS:ALPHA takes 1 to 2 values"]),
    ("step:half", ["--lr-schedule step:FACTOR:STEP_SIZE: FACTOR cannot be 'half'"]),
    ("piecewise:5,2:0.1,0.01,0.001", ["PiecewiseConstant: boundaries must increase"]),
])
def test_a_bad_schedule_is_one_line_before_any_work(schedule, fragments):
    assert_one_line_error(run("train", "--lr-schedule", schedule), *fragments, status=2)


TRAIN_INTERRUPTED = """
import os, signal, sys, threading
# A shell that starts this in the background has SIGINT ignored, and Python then leaves it so.
signal.signal(signal.SIGINT, signal.default_int_handler)
from mnistmlp import cli

said = cli._out
def out(*args, **kwargs):
    said(*args, **kwargs)
    if str(args[0]).startswith("Training for"):  # Ctrl-C half a second into training
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
cli._out = out
sys.exit(cli.main(sys.argv[1:]))
"""


def test_ctrl_c_while_training_saves_the_model_as_it_stands(mnist_dir, tmp_path):
    target = tmp_path / "model.safetensors"
    env = {**os.environ, "MNISTMLP_DATA": str(mnist_dir)}
    result = subprocess.run(
        [sys.executable, "-c", TRAIN_INTERRUPTED, "train", "--hidden", "16", "--epochs", "100", "--batch-size", "10",
         "--quiet", "--threads", "1", "--save", str(target)],
        capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 130, result.stderr
    assert "Traceback" not in result.stderr
    model = mnistmlp.MLP.load(target)
    cut_short = model.steps_ < 5500 * model.epochs_  # else Ctrl-C came as an epoch ended
    assert f"Interrupted: saved the model as it stands ({model.epochs_} epochs" \
           f"{', the last cut short' if cut_short else ''}; {model.steps_:,} steps) to {target}" in result.stdout
    assert 0 < model.epochs_ < 100 and 5500 * (model.epochs_ - 1) < model.steps_ <= 5500 * model.epochs_


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["--epochs", "0"], ["--epochs", "integer >= 1", "0"]),
        (["--batch-size", "0"], ["--batch-size", "integer >= 1"]),
        (["--lr", "-1"], ["--lr", "number > 0", "-1"]),
        (["--lr", "fast"], ["--lr", "'fast'"]),
        (["--threads", "-2"], ["--threads", "integer >= 0"]),
        (["--hidden", "100", "0"], ["--hidden", "integer >= 1"]),
        (["--dropout", "1"], ["--dropout", "[0, 1)"]),
        (["--optimizer", "nadam"], ["--optimizer", "invalid choice", "'nadam'"]),
        (["--activation", "gelu"], ["--activation", "invalid choice"]),
        (["--weight-init", "ones"], ["--weight-init", "invalid choice"]),
        (["--momentum", "0.9"], ["--momentum does not apply to --optimizer adam"]),
        (["--optimizer", "sgd", "--nesterov"], ["--optimizer sgd: nesterov=True needs a momentum > 0"]),
        (["--frobnicate"], ["unrecognized arguments", "--frobnicate"]),
        (["--save", "/nonexistent-folder/model.safetensors"], ["--save", "does not exist"]),
    ],
)
def test_train_bad_options_give_one_line(args, fragments):
    line = assert_one_line_error(run("train", *args), *fragments, status=2)
    assert line.startswith("mnistmlp train: error: ")


def test_train_without_data_gives_one_line(tmp_path):
    line = assert_one_line_error(run("train", "--epochs", 1, data=tmp_path), status=1)
    assert "MNIST files missing" in line and str(tmp_path) in line and "mnistmlp data fetch" in line


# -- predict ------------------------------------------------------------------------------


def test_predict_accuracy_and_confusion_matrix(trained, mnist_dir):
    path, train_out = trained
    out = assert_ok(run("predict", path, data=mnist_dir))
    accuracy = float(re.search(r"Accuracy on the test split: ([0-9.]+) \(([0-9,]+)/10,000 correct", out).group(1))
    assert f"Test accuracy: {accuracy:.4f}" in train_out, "predict agrees with train's test accuracy"
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("true\\pred"))
    assert lines[header].split()[1:11] == [str(d) for d in range(10)]
    rows = lines[header + 1: header + 11]
    counts = []
    for digit, row in enumerate(rows):
        cells = row.replace("|", " ").split()
        assert cells[0] == str(digit)
        assert len(cells) == 1 + 10 + 2, row  # label, 10 counts, total, per-class accuracy
        counts.append([int(c) for c in cells[1:11]])
        assert int(cells[11]) == sum(counts[-1])
        assert float(cells[12]) == pytest.approx(counts[-1][digit] / sum(counts[-1]), abs=1e-4)
    matrix = np.array(counts)
    assert matrix.shape == (10, 10) and matrix.sum() == 10000
    assert matrix.trace() / 10000 == pytest.approx(accuracy, abs=1e-4)
    # The columns line up: every row of the table has the same length.
    assert len({len(line) for line in lines[header: header + 11]}) == 1


def test_predict_validation_split(trained, mnist_dir):
    path, _ = trained
    out = assert_ok(run("predict", path, "--split", "validation", "--data-dir", mnist_dir))
    assert re.search(r"Accuracy on the validation split: 0\.\d{4} \([0-9,]+/5,000 correct", out)


def test_predict_bad_model_files(tmp_path, trained):
    assert_one_line_error(run("predict", tmp_path / "missing.safetensors"), "missing.safetensors", "no such model file")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"this is not a model")
    assert_one_line_error(run("predict", garbage), "garbage.safetensors")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(trained[0].read_bytes()[:-100])
    assert_one_line_error(run("predict", truncated), "truncated.safetensors")
    assert_one_line_error(run("predict", trained[0], "--split", "everything"), "--split", "invalid choice")


def _damaged_copies(folder: Path):
    """Model files damaged the ways fuzzing found to escape as foreign exceptions."""
    good = folder / "good.safetensors"
    import mnistmlp

    mnistmlp.MLP([784, 8, 10], seed=0).save(good)
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    with safe_open(str(good), framework="np") as f:
        meta = f.metadata()
    tensors = load_file(good)
    changes = {
        "weight-init-object": lambda c: c.update(weight_init=[{}, "zeros"]),
        "huge-step": lambda c: c["training"].update(step=2**63),
        "no-clip-norm": lambda c: c.pop("clip_norm"),
        "huge-learning-rate": lambda c: c["optimizer"].update(learning_rate=10**400),
    }
    for name, change in changes.items():
        description = json.loads(meta["mnistmlp"])
        change(description)
        save_file(tensors, folder / f"{name}.safetensors", metadata={**meta, "mnistmlp": json.dumps(description)})
        yield folder / f"{name}.safetensors"
    nested = folder / "nested.safetensors"
    save_file(tensors, nested, metadata={**meta, "mnistmlp": "[" * 50000 + "]" * 50000})
    yield nested


def test_predict_damaged_model_files_give_one_line(tmp_path, capsys):
    for path in _damaged_copies(tmp_path):
        assert cli.main(["predict", str(path)]) == 1, path
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"mnistmlp predict: error: {path}: "), err


# -- data ---------------------------------------------------------------------------------


def test_data_info_and_verify_on_real_data(mnist_dir):
    out = assert_ok(run("data", data=mnist_dir))
    assert f"MNIST data directory: {mnist_dir}" in out and "MNISTMLP_DATA environment variable" in out
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        assert re.search(rf"{name}\s+ok\s+{re.escape(str(mnist_dir))}", out)
    out = assert_ok(run("data", "verify", "--data-dir", mnist_dir))
    assert "the --data-dir argument" in out and "All 4 MNIST files are present and valid." in out
    # Nothing is missing, so fetch downloads nothing and verifies.
    out = assert_ok(run("data", "fetch", data=mnist_dir))
    assert "All 4 MNIST files are present and valid." in out


@pytest.mark.parametrize("action", ["info", "verify"])
def test_data_on_an_empty_folder(tmp_path, action):
    result = run("data", action, "--data-dir", tmp_path)
    assert_one_line_error(result, str(tmp_path), "4 missing", "mnistmlp data fetch", status=1)
    assert result.stdout.count("missing") >= 4


def test_data_fetch_offline_says_what_each_mirror_did(tmp_path, monkeypatch, capsys):
    from mnistmlp.datasets import mnist

    refused = ["http://127.0.0.1:9/first/", "http://127.0.0.1:9/second/"]
    monkeypatch.setattr(mnist, "MNIST", dataclasses.replace(mnist.MNIST, mirrors=tuple(refused)))
    assert cli.main(["data", "fetch", "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("mnistmlp data: error: could not download ") and err[0].endswith("tried:")
    assert [line.split(": ")[0].strip() for line in err[1:3]] == [
        f"{url}{name}.gz" for url in refused for name in ["train-images-idx3-ubyte"]]
    assert "refused" in err[1].lower()


def test_data_info_names_the_default_cache():
    result = run("data")  # no MNISTMLP_DATA: the (test session's) user cache, empty
    assert result.returncode == 1
    assert "default cache" in result.stdout
    assert str(Path(os.environ["XDG_CACHE_HOME"]) / "mnistmlp" / "mnist") in result.stdout


def test_data_verify_reports_a_corrupt_file(tmp_path, mnist_dir):
    for path in mnist_dir.iterdir():
        if path.name.startswith("t10k") or path.name.startswith("train-labels"):
            (tmp_path / path.name).symlink_to(path)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 12)
    result = run("data", "verify", "--data-dir", tmp_path)
    assert_one_line_error(result, "1 invalid", status=1)
    assert "INVALID" in result.stdout and "train-images-idx3-ubyte" in result.stdout


# -- info, help, version ------------------------------------------------------------------


def test_info_shows_the_build():
    out = assert_ok(run("info"))
    for field in ("mnistmlp", "compiler", "SIMD compiled for", "OpenMP", "default threads", "numpy"):
        assert field in out


def test_version_and_missing_command():
    import mnistmlp

    assert assert_ok(run("--version")).strip() == f"mnistmlp {mnistmlp.__version__}"
    assert_one_line_error(run(), "a command is required", status=2)
    assert_one_line_error(run("bogus"), "invalid choice", status=2)


def _subparsers(parser):
    import argparse

    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


@pytest.mark.parametrize("command", COMMANDS)
def test_help_explains_every_option(command, capsys):
    assert cli.main([command, "--help"]) == 0
    text = capsys.readouterr().out
    parser = _subparsers(cli.build_parser())[command]
    assert parser.description and parser.description.split()[0] in text
    assert "examples:" in text and f"mnistmlp {command}" in text.split("examples:")[1]
    for action in parser._actions:
        assert action.help, f"{command}: {action.option_strings or action.dest} has no help"
        for option in action.option_strings:
            assert option in text


def test_top_level_help_lists_the_commands():
    out = assert_ok(run("--help"))
    for command in COMMANDS:
        assert command in out


def test_main_in_process(capsys, monkeypatch):
    assert cli.main(["info"]) == 0
    assert "compiler" in capsys.readouterr().out
    assert cli.main(["train", "--epochs", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--epochs" in err

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_info", interrupted)
    assert cli.main(["info"]) == 130
    assert "mnistmlp info: interrupted" in capsys.readouterr().err


def test_format_confusion_matrix():
    labels = np.array([0, 0, 1, 9, 9, 9])
    predicted = np.array([0, 1, 1, 9, 9, 0])
    matrix = cli.confusion_matrix(labels, predicted)
    assert matrix.shape == (10, 10) and matrix[0, 0] == 1 and matrix[0, 1] == 1 and matrix[9, 0] == 1
    lines = cli.format_confusion_matrix(matrix).splitlines()
    assert len(lines) == 11 and len({len(line) for line in lines}) == 1
    assert lines[1].split()[-1] == "0.5000" and lines[3].split()[-1] == "-"  # digit 2 never occurs


# -- experiments --------------------------------------------------------------------------


def test_experiments_quick_study(mnist_dir, tmp_path):
    pytest.importorskip("mnistmlp.experiments")
    out_dir = tmp_path / "study"
    out = assert_ok(run("experiments", "--preset", "tutorial", "--seeds", 1, "--train-limit", 500,
                        "--threads", 2, "--out", out_dir, data=mnist_dir))
    assert re.search(r"^\|.*\|$", out, re.MULTILINE), "prints the Markdown table"
    assert (out_dir / "results.jsonl").is_file() and (out_dir / "results.md").is_file()
    assert f"Files written to {out_dir}" in out and str(out_dir / "results.jsonl") in out
    assert "trained on the first 500 training images only" in out and "TFLearn test" not in out


def test_experiments_bad_options(tmp_path):
    assert_one_line_error(run("experiments", "--seeds", 0), "--seeds", status=2)
    assert_one_line_error(run("experiments", "--train-limit", "-5"), "--train-limit", status=2)
    if pytest.importorskip("mnistmlp.experiments"):
        assert_one_line_error(run("experiments", "--preset", "nonsense"), "unknown preset", "tutorial", status=2)
        assert_one_line_error(run("experiments", data=tmp_path), "MNIST files missing", status=1)


def test_experiments_grid_options_are_checked_before_any_work(tmp_path):
    """Refused in a folder without MNIST: the option is what the error names, not the data."""
    pytest.importorskip("mnistmlp.experiments")
    for args, fragments in [
        (["--plot"], ["--plot needs --out DIR"]),
        (["--resume"], ["--resume needs --out DIR"]),
        (["--jobs", "2", "--scheduler", "tcp://127.0.0.1:1"], ["give --jobs or --scheduler, not both"]),
        (["--preset", "tutorial", "--widths", "10", "--epochs", "2"],
         ["--widths, --epochs change the grid; --preset tutorial is a fixed set of networks"]),
        (["--jobs", "0"], ["--jobs", "must be an integer >= 1, or -1, got 0"]),
        (["--widths", "10,x"], ["--widths", "must be an integer >= 1, got 'x'"]),
        (["--optimizers", "sgd,nope"], ["--optimizers", "must be one of sgd,momentum,adam,rmsprop,adagrad, got 'nope'"]),
        (["--learning-rates", "0.1,-1"], ["--learning-rates", "must be a number > 0, got -1"]),
    ]:
        assert_one_line_error(run("experiments", *args, data=tmp_path), *fragments, status=2)
