"""The TFLearn-compatible API: the notebook, TFLearn's defaults, errors, DNN features."""

import inspect
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mnistmlp
import mnistmlp.tflearn as tflearn
from _terminal import run_python
from mnistmlp.tflearn.callbacks import Callback

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def fresh_graph_defaults():
    tflearn.init_graph(seed=1, num_cores=0)
    yield
    tflearn.init_graph()


def synthetic(n=600, seed=0, one_hot=True):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 784), dtype=np.float32) * (rng.random((n, 784)) < 0.3)
    labels = (X[:, :392].sum(1) > X[:, 392:].sum(1)).astype(int) + 2 * (X[:, ::3].sum(1) > X[:, 1::3].sum(1))
    return X, (np.eye(10, dtype=np.float32)[labels] if one_hot else labels)


def mlp_net(hidden=(32,), optimizer="adam", **regression_kwargs):
    net = tflearn.input_data(shape=[None, 784])
    for units in hidden:
        net = tflearn.fully_connected(net, units, activation="relu")
    net = tflearn.fully_connected(net, 10, activation="softmax")
    return tflearn.regression(net, optimizer=optimizer, loss="categorical_crossentropy", **regression_kwargs)


# ---- the notebook --------------------------------------------------------------------------

NOTEBOOK = """
import numpy as np
import mnistmlp.tflearn as tflearn
from mnistmlp.tflearn.datasets import mnist
mnist_data = mnist.read_data_sets(one_hot=True)
data_train, data_validation, data_test = mnist_data.train, mnist_data.validation, mnist_data.test
X, Y = data_train._images, data_train._labels
tflearn.init_graph(num_cores=4)
net = tflearn.input_data(shape=[None, 784])
net = tflearn.fully_connected(net, 100, activation='relu')
net = tflearn.fully_connected(net, 10, activation='softmax')
net = tflearn.regression(net, optimizer='sgd', loss='categorical_crossentropy')
model = tflearn.DNN(net)
model.fit(X, Y, n_epoch=1, batch_size=10, show_metric=True)
"""


def test_the_notebook_runs_as_written(mnist_dir):
    """The tutorial's cells, with only the two imports changed, in a fresh interpreter."""
    check = """
history = model.model.history_.history
curve = model.model.history_.batch_loss[0]
print("RESULT", curve[:500].mean(), curve[-500:].mean(), history["accuracy"][0],
      model.evaluate(data_test.images, data_test.labels)[0])
"""
    env = dict(os.environ, MNISTMLP_DATA=str(mnist_dir))
    run = subprocess.run([sys.executable, "-c", NOTEBOOK + check], capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "Training samples: 55000" in out and "Validation samples: 0" in out
    assert "Training Step: 5500 " in out and "| SGD | epoch: 001 | loss: " in out and "-- iter: 55000/55000" in out
    assert "- acc: " in out and "accuracy over all 5500 batches" in out
    first, last, epoch_accuracy, test_accuracy = map(float, out.split("RESULT")[1].split())
    assert last < 0.75 * first, "the loss falls during the epoch"
    # Over 12 seeds (the notebook sets none): epoch accuracy 0.43-0.58, test accuracy 0.69-0.74
    # (TFLearn 0.5.0: 0.711 mean of 10); the bars sit about three standard deviations below.
    assert epoch_accuracy > 0.38 and test_accuracy > 0.64


# ---- TFLearn's defaults --------------------------------------------------------------------


def defaults(function):
    return {name: p.default for name, p in inspect.signature(function).parameters.items()
            if p.default is not inspect.Parameter.empty}


def test_tflearn_defaults():
    assert defaults(tflearn.init_graph) == dict(seed=None, log_device=False, num_cores=0, gpu_memory_fraction=0,
                                               soft_placement=True)
    assert defaults(tflearn.input_data) == dict(shape=None, placeholder=None, dtype="float32", data_preprocessing=None,
                                               data_augmentation=None, name="InputData")
    assert defaults(tflearn.fully_connected) == dict(
        activation="linear", bias=True, weights_init="truncated_normal", bias_init="zeros", regularizer=None,
        weight_decay=0.001, trainable=True, restore=True, reuse=False, scope=None, name="FullyConnected")
    assert list(inspect.signature(tflearn.fully_connected).parameters)[:3] == ["incoming", "n_units", "activation"]
    assert defaults(tflearn.regression) == dict(
        placeholder="default", optimizer="adam", loss="categorical_crossentropy", metric="default",
        learning_rate=0.001, dtype="float32", batch_size=64, shuffle_batches=True, to_one_hot=False, n_classes=None,
        trainable_vars=None, restore=True, op_name=None, validation_monitors=None, validation_batch_size=None,
        name=None)
    assert defaults(tflearn.optimizers.SGD) == dict(learning_rate=0.001, lr_decay=0.0, decay_step=100, staircase=False,
                                                   use_locking=False, name="SGD")
    assert defaults(tflearn.optimizers.Adam) == dict(learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-08,
                                                    use_locking=False, name="Adam")
    assert defaults(tflearn.optimizers.Momentum)["momentum"] == 0.9
    assert defaults(tflearn.DNN) == dict(
        clip_gradients=5.0, tensorboard_verbose=0, tensorboard_dir="/tmp/tflearn_logs/", checkpoint_path=None,
        best_checkpoint_path=None, max_checkpoints=None, session=None, best_val_accuracy=0.0,
        device="cpu")  # device: mnistmlp's one addition to TFLearn's signature
    assert defaults(tflearn.DNN.fit) == dict(
        n_epoch=10, validation_set=None, show_metric=False, batch_size=None, shuffle=None, snapshot_epoch=True,
        snapshot_step=None, excl_trainops=None, validation_batch_size=None, run_id=None, callbacks=[])
    assert defaults(tflearn.DNN.evaluate) == dict(batch_size=128)
    assert defaults(tflearn.DNN.load) == dict(weights_only=False)


def test_defaults_reach_the_engine():
    model = tflearn.DNN(mlp_net(hidden=(300,), optimizer="sgd"))
    mlp = model.model
    assert mlp.clip_norm == 5.0
    assert mlp.optimizer == mnistmlp.optimizers.SGD(learning_rate=0.001)
    assert mlp.weight_decay == [0.0, 0.0]  # weight_decay=0.001 acts only with regularizer='L2'
    W, b = mlp.get_weights()[0]
    assert np.abs(W).max() <= 0.04 and W.std() == pytest.approx(0.02 * 0.8796, rel=0.03)  # truncated normal 0.02
    assert not b.any()
    assert tflearn.DNN(mlp_net()).model.optimizer == mnistmlp.optimizers.Adam(0.001, 0.9, 0.999, 1e-8)
    assert tflearn.DNN(mlp_net(), clip_gradients=0).model.clip_norm is None
    net = tflearn.input_data(shape=[None, 784])
    net = tflearn.fully_connected(net, 20, activation="tanh", regularizer="L2", weight_decay=0.01, weights_init="xavier")
    net = tflearn.dropout(net, 0.8)
    net = tflearn.fully_connected(net, 10, activation="softmax")
    mlp = tflearn.DNN(tflearn.regression(net, optimizer=tflearn.optimizers.Momentum(0.1, lr_decay=0.5))).model
    assert mlp.activation == ["tanh"] and mlp.weight_decay == [0.01, 0.0] and mlp.dropout == [pytest.approx(0.2)]
    assert mlp.optimizer == mnistmlp.optimizers.Momentum(0.1, momentum=0.9, decay_rate=0.5, decay_steps=100)


def test_init_graph_seed_makes_runs_repeatable_and_num_cores_sets_threads():
    X, Y = synthetic()
    tflearn.init_graph(seed=7, num_cores=1)
    a, b = tflearn.DNN(mlp_net()), tflearn.DNN(mlp_net())
    assert a.model.threads == 1
    for m in (a, b):
        m.fit(X, Y, n_epoch=1)
    assert np.array_equal(a.predict(X), b.predict(X))
    tflearn.init_graph(seed=7)
    same_start = tflearn.DNN(mlp_net()).model.get_weights()[0][0]
    tflearn.init_graph(seed=8)
    other_start = tflearn.DNN(mlp_net()).model.get_weights()[0][0]
    assert np.array_equal(same_start, tflearn.DNN(mlp_net()).model.get_weights()[0][0]) is False
    tflearn.init_graph(seed=7)
    assert np.array_equal(same_start, tflearn.DNN(mlp_net()).model.get_weights()[0][0])
    assert not np.array_equal(same_start, other_start)


def test_several_models_in_one_process():
    X, Y = synthetic()
    models = [tflearn.DNN(mlp_net(hidden=h, learning_rate=0.01)) for h in [(16,), (32, 16), (8,)]]
    for model in models:
        model.fit(X, Y, n_epoch=20, batch_size=32)
    assert [m.model.layer_sizes for m in models] == [[784, 16, 10], [784, 32, 16, 10], [784, 8, 10]]
    assert [m.model.steps_ for m in models] == [380, 380, 380]
    # Each learns the training set (0.99-1.0 for init_graph seeds 0-9) ...
    assert all(m.evaluate(X, Y)[0] > 0.9 for m in models)
    # ... exactly as it would alone: no state is shared between models.
    tflearn.init_graph(seed=1)
    alone = tflearn.DNN(mlp_net(hidden=(8,), learning_rate=0.01))
    alone.fit(X, Y, n_epoch=20, batch_size=32)
    for (W, b), (W_alone, b_alone) in zip(models[2].model.get_weights(), alone.model.get_weights()):
        assert np.array_equal(W, W_alone) and np.array_equal(b, b_alone)


# ---- DNN features ----------------------------------------------------------------------------


def test_predict_predict_label_evaluate_and_weights():
    X, Y = synthetic()
    net = tflearn.input_data(shape=[None, 784])
    hidden = tflearn.fully_connected(net, 32, activation="relu")
    out = tflearn.fully_connected(hidden, 10, activation="softmax")
    model = tflearn.DNN(tflearn.regression(out))
    model.fit(X, Y, n_epoch=2, show_metric=True)
    proba = model.predict(X[:5])
    assert proba.shape == (5, 10) and np.allclose(proba.sum(1), 1)
    ranked = model.predict_label(X[:5])
    assert np.array_equal(ranked[:, 0], proba.argmax(1))
    assert all(np.all(np.diff(proba[i, ranked[i]]) <= 0) for i in range(5))
    [accuracy] = model.evaluate(X, Y)
    assert accuracy == pytest.approx(np.mean(model.predict(X).argmax(1) == Y.argmax(1)))
    W = model.get_weights(hidden.W)
    assert W.shape == (784, 32) and model.get_weights(out.b).shape == (10,)
    model.set_weights(out.b, np.full(10, 0.5, np.float32))
    assert np.all(model.get_weights(out.b) == 0.5)
    other = tflearn.fully_connected(tflearn.input_data(shape=[None, 784]), 10)
    with pytest.raises(ValueError, match="not a weight of this model"):
        model.get_weights(other.W)
    with pytest.raises(ValueError, match=r"expected W of shape \(784, 32\)"):
        model.set_weights(hidden.W, np.zeros((32, 784)))


def test_validation_set_as_tuple_and_fraction(capsys):
    X, Y = synthetic(n=1000)
    model = tflearn.DNN(mlp_net())
    model.fit(X[:800], Y[:800], n_epoch=1, validation_set=(X[800:], Y[800:]), show_metric=True)
    out = capsys.readouterr().out
    assert "Training samples: 800" in out and "Validation samples: 200" in out
    assert "| val_loss: " in out and " - val_acc: " in out
    assert model.training_state.val_acc == pytest.approx(model.evaluate(X[800:], Y[800:])[0])
    model.fit(X, Y, n_epoch=1, validation_set=0.1)
    out = capsys.readouterr().out
    assert "Training samples: 900" in out and "Validation samples: 100" in out
    assert "val_acc" not in out  # like TFLearn, validation accuracy only with show_metric


def test_callbacks_and_early_stopping():
    X, Y = synthetic()
    events = []

    class Recorder(Callback):
        def on_train_begin(self, state):
            events.append("train_begin")

        def on_epoch_begin(self, state):
            events.append(f"epoch_begin {state.epoch}")

        def on_epoch_end(self, state):
            events.append(f"epoch_end {state.epoch} {state.step}")
            if state.epoch == 2:
                raise StopIteration

        def on_train_end(self, state):
            events.append("train_end")

    model = tflearn.DNN(mlp_net())
    with pytest.raises(StopIteration):
        model.fit(X, Y, n_epoch=5, batch_size=100, callbacks=[Recorder()])
    assert events == ["train_begin", "epoch_begin 1", "epoch_end 1 6", "epoch_begin 2", "epoch_end 2 12", "train_end"]
    assert model.model.epochs_ == 2


def test_checkpoints(tmp_path):
    X, Y = synthetic()
    model = tflearn.DNN(mlp_net(), checkpoint_path=str(tmp_path / "ckpt"), max_checkpoints=2,
                        best_checkpoint_path=str(tmp_path / "best-"))
    model.fit(X[:500], Y[:500], n_epoch=3, batch_size=100, validation_set=(X[500:], Y[500:]), show_metric=True)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert [n for n in names if n.startswith("ckpt")] == ["ckpt-10", "ckpt-15"]
    assert any(n.startswith("best-") for n in names)
    restored = tflearn.DNN(mlp_net())
    restored.load(str(tmp_path / "ckpt-15"))
    assert np.array_equal(restored.predict(X), model.predict(X))
    assert restored.training_state.step == 15


def test_fit_batch_updates_once():
    X, Y = synthetic(n=50)
    model = tflearn.DNN(mlp_net())
    before = model.predict(X)
    loss = model.fit_batch(X, Y)
    assert np.isfinite(loss) and model.model.steps_ == 1 and not np.array_equal(before, model.predict(X))


# ---- files -----------------------------------------------------------------------------------


def test_save_load_predicts_identically_and_resumes_exactly(tmp_path):
    X, Y = synthetic()
    path = str(tmp_path / "model.safetensors")
    uninterrupted = tflearn.DNN(mlp_net(optimizer="momentum"))
    uninterrupted.fit(X, Y, n_epoch=2, batch_size=50)

    first = tflearn.DNN(mlp_net(optimizer="momentum"))
    first.fit(X, Y, n_epoch=1, batch_size=50)
    first.save(path)
    tflearn.init_graph(seed=99)  # a different start: everything must come from the file
    resumed = tflearn.DNN(mlp_net(optimizer="momentum"))
    resumed.load(path)
    assert np.array_equal(resumed.predict(X), first.predict(X))
    resumed.fit(X, Y, n_epoch=1, batch_size=50)
    assert np.array_equal(resumed.predict(X), uninterrupted.predict(X))

    weights_only = tflearn.DNN(mlp_net(optimizer="sgd"))
    weights_only.load(path, weights_only=True)
    assert np.array_equal(weights_only.predict(X), first.predict(X))
    with pytest.raises(mnistmlp.ModelFileError, match="optimizer 'momentum'.*weights_only=True"):
        tflearn.DNN(mlp_net(optimizer="adam")).load(path)
    with pytest.raises(mnistmlp.ModelFileError, match="layer_sizes"):
        tflearn.DNN(mlp_net(hidden=(16,))).load(path)


# ---- mistakes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build,error,match",
    [
        (lambda: tflearn.conv_2d(tflearn.input_data(shape=[None, 28, 28, 1]), 32, 3), NotImplementedError, "conv_2d"),
        (lambda: tflearn.max_pool_2d(None, 2), NotImplementedError, "max_pool_2d"),
        (lambda: tflearn.lstm(None, 128), NotImplementedError, "lstm"),
        (lambda: tflearn.DNN(mlp_net(), tensorboard_verbose=3), NotImplementedError, "tensorboard_verbose=3 \\(histograms"),
        (lambda: tflearn.DNN(mlp_net(), tensorboard_verbose=4), ValueError, "tensorboard_verbose must be 0, 1, 2 or 3"),
        (lambda: tflearn.DNN(mlp_net(), session=object()), NotImplementedError, "session"),
        (lambda: mlp_net(optimizer="ftrl"), NotImplementedError, "ftrl"),
        (lambda: tflearn.optimizers.AdaDelta(), NotImplementedError, "AdaDelta"),
        (lambda: tflearn.regression(tflearn.fully_connected(tflearn.input_data(shape=[None, 4]), 3, activation="softmax"),
                                    loss="binary_crossentropy"), NotImplementedError, "binary_crossentropy"),
        (lambda: tflearn.regression(tflearn.fully_connected(tflearn.input_data(shape=[None, 4]), 3, activation="sigmoid")),
         NotImplementedError, "categorical_crossentropy on a 'sigmoid' output"),
        (lambda: tflearn.fully_connected(tflearn.input_data(shape=[None, 4]), 3, activation="selu"), NotImplementedError, "selu"),
        (lambda: tflearn.fully_connected(tflearn.input_data(shape=[None, 4]), 3, regularizer="L1"), NotImplementedError, "L1"),
        (lambda: tflearn.fully_connected(tflearn.input_data(shape=[None, 4]), 3, bias=False), NotImplementedError, "bias=False"),
        (lambda: tflearn.fully_connected(tflearn.input_data(shape=[None, 4]), 3, trainable=False), NotImplementedError, "trainable"),
        (lambda: tflearn.input_data(shape=[None, 4], data_augmentation=object()), NotImplementedError, "data_augmentation"),
        (lambda: tflearn.dropout(tflearn.input_data(shape=[None, 4]), 0.5), NotImplementedError, "dropout after input"),
        (lambda: tflearn.fully_connected(tflearn.input_data(shape=[None, 4]), 0), ValueError, "n_units must be a positive"),
        (lambda: tflearn.fully_connected(tflearn.input_data(shape=[None, 4]), 3, activation="swish"), ValueError, "unknown activation"),
        (lambda: tflearn.fully_connected(np.zeros(3), 3), TypeError, "incoming must be the output"),
        (lambda: tflearn.input_data(), ValueError, "needs a shape"),
        (lambda: tflearn.DNN(tflearn.input_data(shape=[None, 4])), TypeError, "output of tflearn.regression"),
        (lambda: mlp_net(optimizer="adamw"), ValueError, "unknown optimizer"),
        (lambda: tflearn.init_graph(num_cores=-1), ValueError, "num_cores"),
    ],
)
def test_unsupported_and_wrong_uses_raise_clearly(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_optimizers_are_at_the_top_level_as_in_tflearn():
    X, Y = synthetic(n=100)
    for optimizer, engine in [
        (tflearn.SGD(learning_rate=0.1), mnistmlp.optimizers.SGD(0.1)),
        (tflearn.Momentum(learning_rate=0.1, momentum=0.5), mnistmlp.optimizers.Momentum(0.1, momentum=0.5)),
        (tflearn.Nesterov(learning_rate=0.1), mnistmlp.optimizers.Momentum(0.1, momentum=0.9, nesterov=True)),
        (tflearn.Adam(learning_rate=0.01), mnistmlp.optimizers.Adam(0.01)),
        (tflearn.RMSProp(learning_rate=0.01), mnistmlp.optimizers.RMSProp(0.01, decay=0.9, momentum=0.0, epsilon=1e-10)),
        (tflearn.AdaGrad(learning_rate=0.01), mnistmlp.optimizers.AdaGrad(0.01, initial_accumulator_value=0.1)),
    ]:
        model = tflearn.DNN(mlp_net(optimizer=optimizer))
        assert model.model.optimizer == engine
        model.fit(X, Y, n_epoch=1)
    for name in ("Ftrl", "AdaDelta", "ProximalAdaGrad"):
        with pytest.raises(NotImplementedError, match=f"does not support the {name} optimizer: use SGD, Momentum"):
            getattr(tflearn, name)()
    assert tflearn.relu is tflearn.activations.relu and tflearn.Accuracy is tflearn.metrics.Accuracy


@pytest.mark.parametrize(
    "use,match",
    [
        (lambda: tflearn.variables, r"does not support tflearn\.variables: there are no TensorFlow variables"),
        (lambda: tflearn.get_layer_variables_by_name("FullyConnected"), "get_layer_variables_by_name"),
        (lambda: tflearn.is_training(True), "tflearn.config.is_training: mnistmlp has no training-mode switch"),
        (lambda: tflearn.config.init_training_mode(), "tflearn.config.init_training_mode"),
        (lambda: tflearn.DNN(mlp_net()).trainer, r"DNN\.trainer: DNN\.fit and DNN\.fit_batch train the model"),
        (lambda: tflearn.DNN(mlp_net()).session, r"DNN\.session: there is no TensorFlow session"),
    ],
)
def test_tflearn_names_a_tutorial_meets_say_they_are_not_supported(use, match):
    with pytest.raises(NotImplementedError, match=match):
        use()
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        tflearn.no_such_name


def test_predict_takes_a_list_of_one_sample():
    X, Y = synthetic(n=50)
    model = tflearn.DNN(mlp_net())
    model.fit(X, Y, n_epoch=1)
    np.testing.assert_array_equal(model.predict([X[3]]), model.predict(X[3:4]))
    np.testing.assert_array_equal(model.predict([list(X[3])]), model.predict(X[3:4]))
    np.testing.assert_array_equal(model.predict([X[:7]]), model.predict(X[:7]))  # one input layer's array
    assert model.predict({"InputData": X[:2]}).shape == (2, 10)


@pytest.mark.parametrize("batch_size,error", [(0, ValueError), (-3, ValueError), (2.5, TypeError)])
def test_a_bad_batch_size_is_refused_before_training_starts(batch_size, error, capsys):
    X, Y = synthetic(n=50)
    model = tflearn.DNN(mlp_net())
    with pytest.raises(error, match="fit: batch_size must be"):
        model.fit(X, Y, n_epoch=1, batch_size=batch_size)
    assert capsys.readouterr().out == ""  # not even the run header
    assert model.model.steps_ == 0


def test_shape_mistakes_say_what_was_expected():
    X, Y = synthetic(n=20)
    model = tflearn.DNN(mlp_net())
    with pytest.raises(ValueError, match=r"expects samples of shape \(784,\), got an array of shape \(20, 28, 28\); reshape"):
        model.fit(X.reshape(20, 28, 28), Y, n_epoch=1)
    with pytest.raises(ValueError, match=r"one-hot rows of shape \(20, 10\), got shape \(20, 11\)"):
        model.fit(X, np.zeros((20, 11)), n_epoch=1)
    with pytest.raises(ValueError, match="X has 20 samples but Y_targets has 10"):
        model.fit(X, Y[:10], n_epoch=1)
    with pytest.raises(TypeError, match="uint8, float32 or float64"):
        model.predict(X.astype(np.int64))
    with pytest.raises(NotImplementedError, match="snapshot_step"):
        model.fit(X, Y, snapshot_step=100)


# ---- the display -----------------------------------------------------------------------------

DISPLAY_SCRIPT = """
import numpy as np, time
import mnistmlp.tflearn as tflearn
rng = np.random.default_rng(0)
X = rng.random((20000, 784), dtype=np.float32)
Y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 20000)]
tflearn.init_graph(seed=0, num_cores=1)
net = tflearn.input_data(shape=[None, 784])
net = tflearn.fully_connected(net, 256, activation="relu")
net = tflearn.fully_connected(net, 10, activation="softmax")
model = tflearn.DNN(tflearn.regression(net, optimizer="sgd"))
model.fit(X, Y, n_epoch=2, batch_size=4, show_metric=True, validation_set=0.05)
"""


def run_display(use_pty: bool) -> str:
    return run_python(DISPLAY_SCRIPT, on_terminal=use_pty)


def test_display_off_a_terminal_prints_one_block_per_epoch():
    out = run_display(use_pty=False)
    assert "\x1b" not in out and "\r" not in out
    assert out.count("Training Step:") == 2
    lines = out.splitlines()
    assert lines[0] == "-" * 33 and lines[1].startswith("Run id: ")
    assert "Training samples: 19000" in lines and "Validation samples: 1000" in lines
    epoch_lines = [line for line in lines if line.startswith("| SGD | epoch:")]
    assert len(epoch_lines) == 2
    assert epoch_lines[0].startswith("| SGD | epoch: 001 | loss: ") and " - acc: " in epoch_lines[0]
    assert " | val_loss: " in epoch_lines[0] and " - val_acc: " in epoch_lines[0]
    assert epoch_lines[0].endswith("-- iter: 19000/19000")
    assert sum("accuracy over all 4750 batches" in line for line in lines) == 2


def test_display_on_a_terminal_redraws_in_place():
    out = run_display(use_pty=True)
    redraws = out.count("\033[2F")
    assert redraws >= 3, "two lines redrawn in place several times during the epochs"
    assert "\033[1m\033[32m" in out  # total loss in bold green, as TFLearn
    assert out.count("Training Step:") > 2 and "-- iter: 19000/19000" in out


def test_tensorboard_verbose_0_writes_tflearns_loss_and_accuracy_summaries(tmp_path):
    from _tensorboard_reader import read_scalars

    X, Y = synthetic(n=600)
    net = mlp_net(optimizer="sgd")
    model = tflearn.DNN(net, tensorboard_dir=str(tmp_path), tensorboard_verbose=0)
    model.fit(X, Y, n_epoch=2, batch_size=50, validation_set=0.1, show_metric=True, run_id="RUN")
    runs = read_scalars(tmp_path)
    assert list(runs) == ["RUN"]
    tags = runs["RUN"]
    assert sorted(tags) == ["Accuracy", "Accuracy/Validation", "Accuracy/__raw_", "Loss", "Loss/Validation",
                            "SGD/Loss/raw"]
    history = model.model.history_
    steps = model.model.steps_
    assert [step for step, _, _ in tags["Loss"]] == list(range(1, steps + 1))
    raw = np.concatenate(history.batch_loss)
    assert [value for _, _, value in tags["SGD/Loss/raw"]] == [float(v) for v in raw.astype(np.float32)]
    # The moving average ends where the engine's display ends.
    final = history.history["loss_moving_average"][-1]
    assert tags["Loss"][-1][2] == pytest.approx(final, rel=1e-5)
    assert tags["Accuracy"][-1][2] == pytest.approx(history.history["accuracy_moving_average"][-1], rel=1e-5)
    # Validation once per epoch, at its last step.
    assert [step for step, _, _ in tags["Loss/Validation"]] == [steps // 2, steps]
    assert tags["Loss/Validation"][-1][2] == pytest.approx(history.history["val_loss"][-1], rel=1e-6)
    wall_times = [wall for _, wall, _ in tags["Loss"]]
    assert wall_times == sorted(wall_times)


def test_tensorboard_dir_must_be_writable_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    X, Y = synthetic(n=100)
    model = tflearn.DNN(mlp_net(), tensorboard_dir=str(blocker))
    with pytest.raises(OSError, match="file"):
        model.fit(X, Y, n_epoch=1, run_id="RUN")
    assert model.model.epochs_ == 0
