"""Training behaviour: thread-count independence, interruption, concurrency, real MNIST."""

import functools
import os
import re
import threading

import numpy as np
import pytest

import _synthetic
import mnistmlp
from _terminal import run_python
from mnistmlp.datasets import mnist

# Three threads on a 2-CPU machine is the point of the thread-count tests: its warning is expected.
OVERSUBSCRIBED = "ignore:threads=3 is more than:RuntimeWarning"


# This file's data: 1500 images unless told, four classes (the brighter half and a parity bit).
mnist_like = functools.partial(_synthetic.mnist_like, n=1500, labels="brighter_half_and_parity")


def weights_bytes(model):
    return b"".join(a.tobytes() for pair in model.get_weights() for a in pair)


@pytest.mark.parametrize(
    "config",
    [
        dict(layer_sizes=[784, 100, 10], optimizer="sgd", batch_size=10),
        dict(layer_sizes=[784, 64, 32, 10], optimizer="adam", batch_size=37, clip_norm=1.0, dropout=0.2),
        # Batches big enough that two threads share each step (small ones run on one thread).
        dict(layer_sizes=[784, 64, 32, 10], optimizer="adam", batch_size=600, clip_norm=1.0, dropout=0.2),
        dict(layer_sizes=[784, 300, 10], optimizer="sgd", batch_size=100, clip_norm=0.5),
        dict(layer_sizes=[784, 70, 10], optimizer=mnistmlp.optimizers.SGD(0.05, momentum=0.9), batch_size=128,
             weight_decay=1e-3, activation="tanh"),
        dict(layer_sizes=[784, 50, 10], optimizer="adam", batch_size=700, loss="mean_square", output_activation="sigmoid",
             dtype="float64"),
        # Adam fused into the sparse first layer: rows wider than one 128-column tile.
        dict(layer_sizes=[784, 200, 10], optimizer="adam", batch_size=300),
    ],
)
@pytest.mark.filterwarnings(OVERSUBSCRIBED)
def test_weights_are_bitwise_identical_for_any_thread_count(config):
    config = dict(config)
    batch_size = config.pop("batch_size")
    X, y = mnist_like()
    results = []
    for threads in (1, 2, 3):
        model = mnistmlp.MLP(threads=threads, seed=42, **config)
        history = model.fit(X, y, epochs=2, batch_size=batch_size, verbose=0)
        results.append((weights_bytes(model), history.history["loss"], model.predict_proba(X).tobytes()))
    assert results[0] == results[1] == results[2]


@pytest.mark.filterwarnings(OVERSUBSCRIBED)
def test_inference_is_bitwise_identical_for_any_thread_count():
    X, y = mnist_like(n=2777)  # 6 chunks, the last one partial
    results = []
    for threads in (1, 2, 3):
        model = mnistmlp.MLP([784, 100, 10], threads=threads, seed=5)
        results.append((model.predict_proba(X).tobytes(), model.evaluate(X, y)))
    assert results[0] == results[1] == results[2]


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs Linux and two CPUs")
def test_inference_gives_every_thread_its_cpus_back():
    """Workers keep to a CPU of their own during a call, and only during it."""
    def allowed_cpus():
        tasks = {}
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/status") as status:
                tasks[task] = next(line for line in status if line.startswith("Cpus_allowed_list"))
        return tasks

    before = set(allowed_cpus().values())
    X, _ = mnist_like(n=3000)
    model = mnistmlp.MLP([784, 300, 10], threads=2)
    for _ in range(3):
        model.predict_proba(X)
    assert set(allowed_cpus().values()) == before and len(before) == 1


def test_training_is_repeatable_and_seeded():
    X, y = mnist_like()
    a = mnistmlp.MLP([784, 32, 10], seed=3, dropout=0.1)
    b = mnistmlp.MLP([784, 32, 10], seed=3, dropout=0.1)
    c = mnistmlp.MLP([784, 32, 10], seed=4, dropout=0.1)
    for model in (a, b, c):
        model.fit(X, y, epochs=1, batch_size=16, verbose=0)
    assert weights_bytes(a) == weights_bytes(b) != weights_bytes(c)


def test_shuffle_changes_each_epoch_and_partial_batches_train():
    X, y = mnist_like(n=103)
    model = mnistmlp.MLP([784, 16, 10], seed=0, optimizer="sgd", learning_rate=0.1)
    history = model.fit(X, y, epochs=2, batch_size=10, verbose=0)
    assert model.steps_ == 22 and model.epochs_ == 2  # 10 full batches + a batch of 3, twice
    assert [len(c) for c in history.batch_loss] == [11, 11]
    assert not np.array_equal(history.batch_loss[0], history.batch_loss[1])


def test_each_epoch_visits_every_row_once_in_an_order_of_its_own():
    """With a learning rate too small to move float32 weights, the loss of a batch of one row
    is that row's loss whatever came before: the batch losses spell out each epoch's order."""
    X, y = mnist_like(n=40)
    model = mnistmlp.MLP([784, 16, 10], seed=0, optimizer="sgd", learning_rate=1e-30, threads=1)
    row_loss = np.array([model.loss_and_gradients(X[i:i + 1], y[i:i + 1])[0] for i in range(40)], np.float32)
    assert len(np.unique(row_loss)) == 40, "every row is known by its loss"
    weights = model.get_weights()

    def orders(history):
        found = []
        for losses in history.batch_loss:
            order = [int(np.argmin(np.abs(row_loss - loss))) for loss in losses]
            np.testing.assert_allclose(losses, row_loss[order], rtol=1e-6)
            found.append(order)
        return found

    shuffled = orders(model.fit(X, y, epochs=3, batch_size=1, verbose=0))
    assert all(np.array_equal(W, W0) for (W, _), (W0, _) in zip(model.get_weights(), weights))
    assert all(sorted(order) == list(range(40)) for order in shuffled)  # each row once
    assert len({tuple(order) for order in shuffled} | {tuple(range(40))}) == 4  # new orders, not the identity
    # The orders come from the seed and the epoch number: the same again for the same seed...
    again = mnistmlp.MLP([784, 16, 10], seed=0, optimizer="sgd", learning_rate=1e-30, threads=1)
    assert orders(again.fit(X, y, epochs=3, batch_size=1, verbose=0)) == shuffled
    # ... continuing after an interruption, and in order without shuffling.
    resumed = mnistmlp.MLP([784, 16, 10], seed=0, optimizer="sgd", learning_rate=1e-30, threads=1)
    resumed.fit(X, y, epochs=1, batch_size=1, verbose=0)
    assert orders(resumed.fit(X, y, epochs=2, batch_size=1, verbose=0)) == shuffled[1:]
    assert orders(model.fit(X, y, epochs=1, batch_size=1, shuffle=False, verbose=0)) == [list(range(40))]


def test_fit_learns_a_separable_problem_and_reports_history():
    X, _ = mnist_like(n=3000)
    # Two learnable bits (mnist_like's second is a parity no MLP learns in three epochs).
    y = (X[:, :392].sum(1) > X[:, 392:].sum(1)).astype(int) + 2 * (X[:, ::3].sum(1) > X[:, 1::3].sum(1))
    model = mnistmlp.MLP([784, 64, 10], seed=0)
    history = model.fit(X[:2500], y[:2500], epochs=3, batch_size=32, validation_data=(X[2500:], y[2500:]), verbose=0)
    h = history.history
    assert history.epoch == [0, 1, 2]  # Keras's numbering, from 0
    assert set(h) >= {"loss", "accuracy", "val_loss", "val_accuracy", "seconds", "samples_per_second"}
    assert h["loss"][-1] < h["loss"][0]
    # Over seeds 0-9: training accuracy 0.76-0.81, validation 0.56-0.61; chance is 0.25.
    assert h["accuracy"][-1] > 0.7 and h["val_accuracy"][-1] > 0.5
    assert model.evaluate(X[2500:], y[2500:])["accuracy"] == pytest.approx(h["val_accuracy"][-1])


def test_mean_square_trains_on_any_real_targets():
    """Regression: with mean_square, targets may be negative, and a one-output model takes
    them as a column (n,) or (n, 1)."""
    rng = np.random.default_rng(0)
    X = rng.random((256, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0]) - 0.5
    for targets in (y, y[:, None]):
        model = mnistmlp.MLP([4, 16, 1], output_activation="linear", loss="mean_square", learning_rate=0.01, seed=0,
                             dtype="float64")
        before = model.evaluate(X, targets)["loss"]
        model.fit(X, targets, epochs=30, batch_size=32, verbose=0)
        assert model.evaluate(X, targets)["loss"] < before / 10
        assert model.predict_proba(X).shape == (256, 1)
    with pytest.raises(ValueError, match="targets must be >= 0"):  # cross-entropy's targets are class weights
        mnistmlp.MLP([4, 2]).fit(X, np.stack([y, -y], axis=1), verbose=0)


class _StopAfter:
    def __init__(self, calls, how):
        self.calls, self.how, self.seen = calls, how, []

    def __call__(self, progress):
        self.seen.append(progress.batches_done)
        if len(self.seen) >= self.calls:
            if self.how == "interrupt":
                raise KeyboardInterrupt
            return False
        return True


@pytest.mark.parametrize("how", ["interrupt", "stop"])
def test_progress_callback_stops_training_cleanly_between_batches(how):
    X, y = mnist_like(n=2000)
    model = mnistmlp.MLP([784, 32, 10], seed=0, threads=1)
    Xc = np.ascontiguousarray(X)
    yc = y.astype(np.int32)
    callback = _StopAfter(3, how)
    if how == "interrupt":
        with pytest.raises(KeyboardInterrupt):
            model._engine.fit_epoch(Xc, yc, 10, True, callback, 0.0)
    else:
        result = model._engine.fit_epoch(Xc, yc, 10, True, callback, 0.0)
        assert result["stopped"] and result["batches"] == 3
    # Stopped after the third batch, with its update applied: the model is consistent, and the
    # shortened epoch counts.
    assert callback.seen == [1, 2, 3]
    assert model.steps_ == 3 and model.epochs_ == 1
    assert all(np.isfinite(a).all() for pair in model.get_weights() for a in pair)
    model.fit(X, y, epochs=1, batch_size=10, verbose=0)  # and it trains on afterwards
    assert model.epochs_ == 2


def test_callback_objects_get_progress_and_epoch_end():
    X, y = mnist_like(n=500)
    events = []

    class Recorder:
        def on_epoch_end(self, epoch, logs):
            events.append((epoch, sorted(logs)))

    mnistmlp.MLP([784, 8, 10]).fit(X, y, epochs=2, batch_size=50, verbose=0, callbacks=[Recorder()])
    assert [e for e, _ in events] == [0, 1] and "loss" in events[0][1]


def test_predict_is_safe_from_several_threads():
    X, y = mnist_like(n=4000)
    model = mnistmlp.MLP([784, 64, 10], seed=0, threads=2)
    model.fit(X, y, epochs=1, batch_size=64, verbose=0)
    expected = model.predict_proba(X)
    results, errors = [None] * 6, []

    def work(i):
        try:
            results[i] = model.predict_proba(X)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(np.array_equal(r, expected) for r in results)


def test_verbose_output_off_a_terminal(capsys):
    X, y = mnist_like(n=300)
    mnistmlp.MLP([784, 8, 10]).fit(X, y, epochs=2, batch_size=30, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("Epoch 1/2") and "loss" in lines[0] and "\r" not in lines[0]
    mnistmlp.MLP([784, 8, 10]).fit(X, y, epochs=1, batch_size=30, verbose=0)
    assert capsys.readouterr().out == ""


def test_adam_on_real_mnist_learns(mnist_dir):
    """784-100-10 relu, Adam 0.001, batch 32 on the 55,000 training images.

    One epoch lands at 95.2-96.0% test accuracy over seeds (the NumPy reference: 95.2%,
    PyTorch with its default initialisation: 94.7-95.1%), so the bar for one epoch is 95%;
    a second epoch passes 96%.
    """
    data = mnist.read_data_sets(mnist_dir, one_hot=False)
    model = mnistmlp.MLP([784, 100, 10], activation="relu", optimizer="adam", learning_rate=0.001, seed=0)
    history = model.fit(data.train.images, data.train.labels, epochs=1, batch_size=32, verbose=0)
    accuracy = model.evaluate(data.test.images, data.test.labels)["accuracy"]
    assert accuracy >= 0.95, f"test accuracy {accuracy:.4f} after one epoch"
    assert history.history["accuracy"][0] > 0.9
    model.fit(data.train.images, data.train.labels, epochs=1, batch_size=32, verbose=0)
    accuracy = model.evaluate(data.test.images, data.test.labels)["accuracy"]
    assert accuracy >= 0.96, f"test accuracy {accuracy:.4f} after two epochs"


def test_moving_averages_follow_tflearn_formula():
    """TFLearn's displayed loss/accuracy: EMA from 0 with decay min(0.9, (1 + t) / (10 + t))."""
    X, y = mnist_like(n=700)
    model = mnistmlp.MLP([784, 16, 10], seed=0)
    history = model.fit(X, y, epochs=2, batch_size=50, verbose=0)
    batch_loss = np.concatenate(history.batch_loss).astype(np.float64)
    batch_accuracy = np.concatenate(history.batch_accuracy).astype(np.float64)
    loss_average = accuracy_average = 0.0
    for t, (loss, accuracy) in enumerate(zip(batch_loss, batch_accuracy)):
        decay = min(0.9, (1 + t) / (10 + t))
        loss_average = decay * loss_average + (1 - decay) * loss
        accuracy_average = decay * accuracy_average + (1 - decay) * accuracy
    assert history.history["loss_moving_average"][-1] == pytest.approx(loss_average, rel=1e-6)
    assert history.history["accuracy_moving_average"][-1] == pytest.approx(accuracy_average, rel=1e-6)
    # ... and the epoch accuracy is over all of its batches' samples.
    assert history.history["accuracy"][1] == pytest.approx(np.average(batch_accuracy[14:], weights=[50] * 14))


def test_verbose_progress_bar_on_a_terminal():
    code = """
import numpy as np, mnistmlp
rng = np.random.default_rng(0)
X = rng.random((30000, 784), dtype=np.float32)
y = rng.integers(0, 10, 30000)
mnistmlp.MLP([784, 256, 10], threads=1).fit(X, y, epochs=2, batch_size=4)
"""
    out = run_python(code, on_terminal=True)
    assert out.count("\r") > 4, "the bar is redrawn in place"
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "samples/s" in out
    assert "loss" in out and "acc" in out
    assert max(len(line) for line in re.split("[\r\n]", out)) <= 80, "fits an 80-column terminal"


def test_moving_averages_run_on_through_a_model_file(tmp_path):
    """A model saved after one epoch and loaded again continues TFLearn's moving averages
    where they stood: they equal the formula over every batch since the first."""
    X, y = mnist_like(n=700)
    first = mnistmlp.MLP([784, 16, 10], seed=0)
    before = first.fit(X, y, epochs=1, batch_size=50, verbose=0)
    first.save(tmp_path / "m.safetensors")
    after = mnistmlp.MLP.load(tmp_path / "m.safetensors").fit(X, y, epochs=1, batch_size=50, verbose=0)
    batch_loss = np.concatenate(before.batch_loss + after.batch_loss).astype(np.float64)
    batch_accuracy = np.concatenate(before.batch_accuracy + after.batch_accuracy).astype(np.float64)
    assert len(batch_loss) == 28
    loss_average = accuracy_average = 0.0
    for t, (loss, accuracy) in enumerate(zip(batch_loss, batch_accuracy)):
        decay = min(0.9, (1 + t) / (10 + t))
        loss_average = decay * loss_average + (1 - decay) * loss
        accuracy_average = decay * accuracy_average + (1 - decay) * accuracy
        if t == 13:
            assert before.history["loss_moving_average"][0] == pytest.approx(loss_average, rel=1e-6)
    assert after.history["loss_moving_average"][0] == pytest.approx(loss_average, rel=1e-6)
    assert after.history["accuracy_moving_average"][0] == pytest.approx(accuracy_average, rel=1e-6)


def test_callbacks_get_a_public_progress_object():
    X, y = mnist_like(n=300)
    seen = []

    class Recorder:
        def on_progress(self, progress):
            seen.append(progress)

    mnistmlp.MLP([784, 8, 10], seed=0).fit(X, y, epochs=1, batch_size=30, verbose=0, callbacks=[Recorder()])
    assert seen and all(type(p) is mnistmlp.Progress for p in seen)
    last = seen[-1]
    assert (last.samples_done, last.samples_total, last.batches_done, last.batches_total, last.step) == (300, 300, 10, 10, 10)
