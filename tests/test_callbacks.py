"""Steering training: the callback protocol, the learning rate as state, schedules, the
built-in callbacks, validation_split and summary, on the real MNIST."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

import mnistmlp
from mnistmlp import schedules
from mnistmlp.callbacks import (Callback, CSVLogger, EarlyStopping, LearningRateScheduler, ModelCheckpoint,
                                ReduceLROnPlateau, TensorBoard)
from mnistmlp.datasets import mnist

from _tensorboard_reader import read_scalars


@pytest.fixture(scope="module")
def data(mnist_dir):
    """5,000 training images and 2,000 validation images of the real MNIST, as uint8."""
    sets = mnist.read_data_sets(mnist_dir, dtype="uint8")
    X, y = sets.train.images[:5000], sets.train.labels[:5000]
    return X, y, (sets.validation.images[:2000], sets.validation.labels[:2000])


def weights_equal(a, b) -> bool:
    return all(np.array_equal(Wa, Wb) and np.array_equal(ba, bb) for (Wa, ba), (Wb, bb) in zip(a, b))


def small_model(**settings) -> mnistmlp.MLP:
    return mnistmlp.MLP([784, 32, 10], seed=settings.pop("seed", 1), threads=1, **settings)


class Recorder(Callback):
    """Every hook call, and the weights at each epoch's end."""

    def __init__(self) -> None:
        self.calls: list = []
        self.weights: dict = {}

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin",))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_progress(self, progress):
        self.calls.append(("progress", progress.samples_done, progress.samples_total))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, sorted(logs)))
        self.weights[epoch] = self.model.get_weights()

    def on_train_end(self, logs=None):
        self.calls.append(("train_end",))


# -- the protocol ----------------------------------------------------------------------------


def test_hooks_come_in_keras_order_with_epochs_counted_from_zero_across_fits(data):
    X, y, _ = data
    model = small_model()
    recorder = Recorder()
    model.fit(X[:2500], y[:2500], epochs=2, batch_size=50, verbose=0, callbacks=[recorder])
    second = model.fit(X[:2500], y[:2500], epochs=2, batch_size=50, verbose=0, callbacks=[recorder])
    hooks = [call for call in recorder.calls if call[0] != "progress"]
    logged = sorted(["loss", "accuracy", "loss_moving_average", "accuracy_moving_average", "learning_rate",
                     "seconds", "samples_per_second"])
    assert hooks == [("train_begin",), ("epoch_begin", 0), ("epoch_end", 0, logged), ("epoch_begin", 1),
                     ("epoch_end", 1, logged), ("train_end",)] * 1 + [
        ("train_begin",), ("epoch_begin", 2), ("epoch_end", 2, logged), ("epoch_begin", 3),
        ("epoch_end", 3, logged), ("train_end",)]
    assert second.epoch == [2, 3] and model.epochs_ == 4 and model.history_ is second


def test_on_progress_comes_at_least_once_in_an_epoch_too_short_to_report(data):
    X, y, _ = data
    recorder = Recorder()
    small_model().fit(X[:2500], y[:2500], epochs=3, batch_size=500, verbose=0, callbacks=[recorder])
    calls = recorder.calls
    for epoch in range(3):
        begin, end = calls.index(("epoch_begin", epoch)), calls.index(next(c for c in calls if c[:2] == ("epoch_end", epoch)))
        progress = [c for c in calls[begin:end] if c[0] == "progress"]
        assert progress and progress[-1][1:] == (2500, 2500)


@pytest.mark.parametrize("how", ["stop_training", "on_progress"])
def test_a_stopped_fit_leaves_history_and_epochs_consistent(data, how):
    X, y, _ = data

    class Stop(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if how == "stop_training" and epoch == 1:
                self.model.stop_training = True

        def on_progress(self, progress):
            if how == "on_progress" and self.model.epochs_ == 1:
                return False  # in the second epoch: ends it after the current batch
            return None

    model = small_model()
    X, y = np.concatenate([X] * 4), np.concatenate([y] * 4)  # epochs long enough to report progress
    history = model.fit(X, y, epochs=5, batch_size=1, verbose=0, callbacks=[Stop()])
    assert history.epoch == [0, 1] and model.epochs_ == 2 and len(history.history["loss"]) == 2
    if how == "on_progress":  # the second epoch was cut short, and counts
        assert model.steps_ < 2 * len(X) and len(history.batch_loss[1]) == model.steps_ - len(X)
    else:
        assert model.steps_ == 2 * len(X)
    assert model.stop_training
    model.fit(X[:100], y[:100], epochs=1, batch_size=10, verbose=0)  # a new fit starts afresh
    assert model.epochs_ == 3 and not model.stop_training


def test_a_function_is_not_a_callback():
    with pytest.raises(TypeError, match="callbacks\\[0\\].*has none of the hooks.*LearningRateScheduler"):
        small_model().fit(np.zeros((10, 784), np.float32), np.zeros(10, int), verbose=0,
                          callbacks=[lambda epoch: 0.1])
    with pytest.raises(TypeError, match="callbacks must be a list"):
        small_model().fit(np.zeros((10, 784), np.float32), np.zeros(10, int), verbose=0, callbacks=Recorder())


# -- the learning rate -----------------------------------------------------------------------


def test_the_learning_rate_is_state_saved_and_exact_on_resume(data, tmp_path):
    X, y, _ = data
    model = small_model(optimizer="adam")
    model.fit(X, y, epochs=1, batch_size=32, verbose=0)
    model.learning_rate = 0.0003
    assert model.learning_rate == 0.0003 and model.optimizer == mnistmlp.optimizers.Adam(0.0003)
    model.save(tmp_path / "m.safetensors")
    loaded = mnistmlp.MLP.load(tmp_path / "m.safetensors", threads=1)
    assert loaded.learning_rate == 0.0003
    model.fit(X, y, epochs=1, batch_size=32, verbose=0)
    loaded.fit(X, y, epochs=1, batch_size=32, verbose=0)
    assert weights_equal(model.get_weights(), loaded.get_weights())


def test_the_engine_trains_at_the_rate_set(data):
    """An epoch at a new rate equals a model built with that rate (same state otherwise)."""
    X, y, _ = data
    first = small_model(optimizer="sgd", learning_rate=0.1)
    first.fit(X, y, epochs=1, batch_size=32, verbose=0)
    first.learning_rate = 0.05
    first.fit(X, y, epochs=1, batch_size=32, verbose=0)
    second = small_model(optimizer="sgd", learning_rate=0.1)
    second.fit(X, y, epochs=1, batch_size=32, verbose=0)
    rebuilt = small_model(optimizer="sgd", learning_rate=0.05)
    rebuilt._restore(second._snapshot())
    rebuilt.fit(X, y, epochs=1, batch_size=32, verbose=0)
    assert weights_equal(first.get_weights(), rebuilt.get_weights())
    assert not weights_equal(first.get_weights(), second.get_weights())


def test_the_optimizer_settings_change_between_epochs_and_its_state_carries_on(data):
    X, y, _ = data
    changed = small_model(optimizer="adam")
    changed.fit(X, y, epochs=1, batch_size=32, verbose=0)
    rebuilt = small_model(optimizer=mnistmlp.optimizers.Adam(0.002, beta1=0.8))
    rebuilt._restore(changed._snapshot())
    changed.optimizer = mnistmlp.optimizers.Adam(0.002, beta1=0.8)
    for model in (changed, rebuilt):
        model.fit(X, y, epochs=1, batch_size=32, verbose=0)
    assert weights_equal(changed.get_weights(), rebuilt.get_weights())
    with pytest.raises(ValueError, match="build a new model for another kind of optimizer"):
        changed.optimizer = "sgd"
    assert changed.optimizer == mnistmlp.optimizers.Adam(0.002, beta1=0.8)


@pytest.mark.parametrize("value", [0.0, -0.1, float("nan"), float("inf")])
def test_a_bad_learning_rate_is_refused(value):
    model = small_model()
    with pytest.raises(ValueError, match="learning_rate must be a finite number > 0"):
        model.learning_rate = value
    assert model.learning_rate == 0.001


def test_the_learning_rate_cannot_change_mid_epoch(data):
    X, y, _ = data
    model = small_model()

    class Change(Callback):
        def on_progress(self, progress):
            self.model.learning_rate = 0.5

    with pytest.raises(RuntimeError, match="the model is training on this thread"):
        model.fit(X, y, epochs=1, batch_size=10, verbose=0, callbacks=[Change()])
    assert model.learning_rate == 0.001


# -- schedules -------------------------------------------------------------------------------

SCHEDULE_CASES = {
    "step": (schedules.StepDecay(0.1, 0.5, 2), lambda e: 0.1 * 0.5 ** (e // 2)),
    "exponential": (schedules.ExponentialDecay(0.1, 0.9, 2.0), lambda e: 0.1 * 0.9 ** (e / 2.0)),
    "exponential_staircase": (schedules.ExponentialDecay(0.1, 0.9, 2.0, staircase=True),
                              lambda e: 0.1 * 0.9 ** math.floor(e / 2.0)),
    "cosine": (schedules.CosineDecay(0.1, 4, alpha=0.1),
               lambda e: 0.1 * (0.9 * 0.5 * (1 + math.cos(math.pi * min(e, 4) / 4)) + 0.1)),
    "piecewise": (schedules.PiecewiseConstant([1, 3], [0.1, 0.05, 0.01]),
                  lambda e: 0.1 if e <= 1 else 0.05 if e <= 3 else 0.01),
    "keras_form": (lambda epoch, rate: rate * 0.5 if epoch else rate, lambda e: 0.1 * 0.5 ** e),
}


@pytest.mark.parametrize("name", list(SCHEDULE_CASES))
def test_a_schedule_sets_each_epochs_rate_to_its_formula_exactly(data, name):
    X, y, _ = data
    schedule, formula = SCHEDULE_CASES[name]
    model = small_model(optimizer="sgd", learning_rate=0.1)
    history = model.fit(X[:1000], y[:1000], epochs=6, batch_size=100, verbose=0,
                        callbacks=[LearningRateScheduler(schedule)])
    assert history.history["learning_rate"] == [formula(e) for e in range(6)]
    # The engine trained each epoch at that rate: the same as setting it by hand.
    by_hand = small_model(optimizer="sgd", learning_rate=0.1)
    for epoch in range(6):
        by_hand.learning_rate = formula(epoch)
        by_hand.fit(X[:1000], y[:1000], epochs=1, batch_size=100, verbose=0)
    assert weights_equal(model.get_weights(), by_hand.get_weights())


def test_schedules_refuse_bad_settings():
    with pytest.raises(ValueError, match="StepDecay: step_size must be an integer >= 1, got 0"):
        schedules.StepDecay(0.1, 0.5, 0)
    with pytest.raises(ValueError, match="PiecewiseConstant: needs one value more than boundaries"):
        schedules.PiecewiseConstant([1, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="PiecewiseConstant: boundaries must increase"):
        schedules.PiecewiseConstant([3, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="epoch must be an integer >= 0"):
        schedules.CosineDecay(0.1, 10)(-1)
    with pytest.raises(ValueError, match="the schedule gave 0 for epoch 0"):
        small_model().fit(np.zeros((10, 784), np.float32), np.zeros(10, int), verbose=0,
                          callbacks=[LearningRateScheduler(lambda epoch: 0)])


def test_reduce_lr_on_plateau_follows_keras_rules():
    class FakeModel:
        learning_rate = 0.1

    callback = ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, min_delta=0.0, cooldown=1, min_lr=0.01)
    callback.set_model(FakeModel())  # type: ignore[arg-type]
    callback.set_params({"metrics": ["loss", "val_loss"]})
    callback.on_train_begin({})
    rates = []
    for epoch, value in enumerate([1.0, 0.9, 0.95, 0.96, 0.97, 0.8, 0.85, 0.86, 0.87, 0.88]):
        callback.on_epoch_end(epoch, {"val_loss": value})
        rates.append(callback.model.learning_rate)
    # Two epochs without improvement halve the rate, then one epoch of cooldown; never below 0.01.
    assert rates == [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.0125]


# -- early stopping --------------------------------------------------------------------------


def test_early_stopping_stops_at_the_right_epoch_and_restores_the_best_model_exactly(data):
    X, y, validation = data
    patience = 2
    # 500 images and a large Adam step: the validation loss soon rises (overfitting).
    settings = dict(optimizer="adam", learning_rate=0.01)
    model = small_model(**settings)
    recorder = Recorder()
    stopper = EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    history = model.fit(X[:500], y[:500], epochs=40, batch_size=10, validation_data=validation, verbose=0,
                        callbacks=[recorder, stopper])
    losses = history.history["val_loss"]
    best = int(np.argmin(losses))
    # It stopped at the first epoch `patience` epochs past the best so far.
    stop = next(e for e in range(len(losses)) if e - int(np.argmin(losses[:e + 1])) >= patience)
    assert len(losses) == stop + 1 < 40, "the run must overfit, or the test shows nothing"
    assert stopper.stopped_epoch == stop and stopper.best_epoch == best
    # The model is the best epoch's, bitwise: weights, and (training on) optimizer state and counters.
    assert weights_equal(model.get_weights(), recorder.weights[best])
    assert model.epochs_ == best + 1 and model.steps_ == 50 * (best + 1)
    replay = small_model(**settings)
    replay.fit(X[:500], y[:500], epochs=best + 1, batch_size=10, verbose=0)
    assert weights_equal(replay.get_weights(), model.get_weights())
    model.fit(X[:500], y[:500], epochs=1, batch_size=10, verbose=0)
    replay.fit(X[:500], y[:500], epochs=1, batch_size=10, verbose=0)
    assert weights_equal(replay.get_weights(), model.get_weights())


def test_early_stopping_needs_the_figure_it_watches_before_training():
    model = small_model()
    with pytest.raises(ValueError, match="monitor='val_loss' is not a figure this fit logs \\(val_ figures need"):
        model.fit(np.zeros((10, 784), np.float32), np.zeros(10, int), verbose=0, callbacks=[EarlyStopping()])
    assert model.epochs_ == 0


# -- checkpoints and logs --------------------------------------------------------------------


def test_a_checkpointed_and_resumed_run_equals_an_uninterrupted_one(data, tmp_path):
    X, y, validation = data
    settings = dict(optimizer="adam", dropout=0.2)
    schedule = LearningRateScheduler(schedules.ExponentialDecay(0.002, 0.7))
    uninterrupted = small_model(**settings)
    uninterrupted.fit(X, y, epochs=4, batch_size=32, validation_data=validation, verbose=0,
                      callbacks=[schedule, ModelCheckpoint(tmp_path / "ckpt-{epoch}.safetensors")])
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"ckpt-{e}.safetensors" for e in range(1, 5)]
    resumed = mnistmlp.MLP.load(tmp_path / "ckpt-2.safetensors", threads=1)
    assert resumed.epochs_ == 2 and resumed.learning_rate == 0.002 * 0.7 ** 1
    resumed.fit(X, y, epochs=2, batch_size=32, validation_data=validation, verbose=0, callbacks=[schedule])
    assert weights_equal(resumed.get_weights(), uninterrupted.get_weights())
    assert weights_equal(mnistmlp.MLP.load(tmp_path / "ckpt-4.safetensors").get_weights(), resumed.get_weights())


def test_model_checkpoint_keeps_the_best_and_checks_its_folder_first(data, tmp_path):
    X, y, validation = data
    model = small_model(optimizer="adam", learning_rate=0.01)
    saved = []

    class Saves(Callback):
        def on_epoch_end(self, epoch, logs=None):
            saved.append(sorted(p.name for p in tmp_path.iterdir()))

    checkpoint = ModelCheckpoint(tmp_path / "best-{epoch:02d}-{val_accuracy:.4f}.safetensors",
                                 monitor="val_accuracy", save_best_only=True)
    history = model.fit(X[:500], y[:500], epochs=6, batch_size=10, validation_data=validation, verbose=0,
                        callbacks=[checkpoint, Saves()])
    accuracies = history.history["val_accuracy"]
    improved = [e for e in range(6) if accuracies[e] > max(accuracies[:e], default=-1)]
    names = {f"best-{e + 1:02d}-{accuracies[e]:.4f}.safetensors" for e in improved}
    assert set(saved[-1]) == names
    best = max(improved, key=lambda e: accuracies[e])
    loaded = mnistmlp.MLP.load(tmp_path / f"best-{best + 1:02d}-{accuracies[best]:.4f}.safetensors")
    assert loaded.evaluate(*validation)["accuracy"] == accuracies[best]

    fresh = small_model()
    missing = tmp_path / "no-such-folder" / "m.safetensors"
    with pytest.raises(FileNotFoundError, match="no-such-folder"):
        fresh.fit(X[:100], y[:100], verbose=0, callbacks=[ModelCheckpoint(missing)])
    with pytest.raises(ValueError, match="cannot name a file by .*val_acc"):
        fresh.fit(X[:100], y[:100], verbose=0, callbacks=[ModelCheckpoint(tmp_path / "{val_acc}.safetensors")])
    assert fresh.epochs_ == 0


def test_csv_logger_writes_a_row_per_epoch(data, tmp_path):
    X, y, validation = data
    path = tmp_path / "log.csv"
    model = small_model()
    history = model.fit(X[:1000], y[:1000], epochs=3, batch_size=50, validation_data=validation, verbose=0,
                        callbacks=[CSVLogger(path)])
    model.fit(X[:1000], y[:1000], epochs=1, batch_size=50, validation_data=validation, verbose=0,
              callbacks=[CSVLogger(path, append=True)])
    rows = list(csv.DictReader(path.open()))
    assert [row["epoch"] for row in rows] == ["0", "1", "2", "3"]
    assert list(rows[0]) == ["epoch", *sorted(history.history)]
    assert [float(row["val_loss"]) for row in rows[:3]] == history.history["val_loss"]
    with pytest.raises(FileNotFoundError, match="nowhere"):
        small_model().fit(X[:100], y[:100], verbose=0, callbacks=[CSVLogger(tmp_path / "nowhere" / "log.csv")])


def test_tensorboard_logs_each_epochs_figures_as_keras_lays_them_out(data, tmp_path):
    X, y, validation = data
    model = small_model()
    history = model.fit(X[:1000], y[:1000], epochs=3, batch_size=50, validation_data=validation, verbose=0,
                        callbacks=[TensorBoard(tmp_path / "logs")]).history
    runs = read_scalars(tmp_path / "logs")
    assert sorted(runs) == ["train", "validation"]
    expected = {"train": {"epoch_loss": history["loss"], "epoch_accuracy": history["accuracy"],
                          "epoch_learning_rate": history["learning_rate"]},
                "validation": {"epoch_loss": history["val_loss"], "epoch_accuracy": history["val_accuracy"]}}
    for run, tags in expected.items():
        assert sorted(runs[run]) == sorted(tags)
        for tag, values in tags.items():
            assert [(step, value) for step, _, value in runs[run][tag]] == [
                (epoch, float(np.float32(v))) for epoch, v in enumerate(values)]


# -- validation_split and summary ------------------------------------------------------------


def test_validation_split_holds_out_the_last_rows_before_shuffling(data):
    X, y, _ = data
    model = small_model()
    history = model.fit(X[:1000], y[:1000], epochs=1, batch_size=50, validation_split=0.15, verbose=0)
    held = model.evaluate(X[850:1000], y[850:1000])
    assert (history.history["val_loss"][0], history.history["val_accuracy"][0]) == (held["loss"], held["accuracy"])
    assert model.steps_ == 850 // 50
    with pytest.raises(ValueError, match="give validation_data or validation_split, not both"):
        model.fit(X[:100], y[:100], validation_split=0.1, validation_data=(X[:10], y[:10]), verbose=0)
    with pytest.raises(ValueError, match="validation_split must be a finite number in \\[0, 1\\), got 1"):
        model.fit(X[:100], y[:100], validation_split=1, verbose=0)
    with pytest.raises(ValueError, match="validation_split=0.5 of 1 rows leaves no training rows"):
        model.fit(X[:1], y[:1], validation_split=0.5, verbose=0)


def test_summary_lists_layers_shapes_and_parameters():
    lines = []
    mnistmlp.MLP([784, 100, 10], optimizer="adam", dropout=0.2).summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "dense_0" in text and "(None, 100)" in text and "78,500" in text and "0.2" in text
    assert "dense_1" in text and "(None, 10)" in text and "1,010" in text and "softmax" in text
    assert "Parameters: 79,510 (310.6 KiB)" in text
    assert "state m, v: 159,020 values" in text
