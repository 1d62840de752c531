"""The CUDA backend: ``MLP(..., device="cuda")``.

Tests marked ``cuda`` need a build with the backend and a visible GPU (conftest.py skips them
with the reason otherwise). They hold each GPU operation against its CPU twin
(``_core.cuda_kernels`` against ``_core.kernels``: float32 to 1e-5 relative, dropout masks bit
for bit), float64 gradients against finite differences, optimizer steps against
mnistmlp.reference, whole epochs against the CPU from the same weights and seed, and check
run-to-run reproducibility, data and weights changed between fits, and model files moving
between devices. The unmarked tests check what every build must do without a GPU: say why.
"""

from __future__ import annotations

import functools
import json
import re
import threading

import numpy as np
import pytest

import _synthetic
import mnistmlp
from _gradients import finite_difference_gradients, relative_error
from mnistmlp import _core
from mnistmlp._spec import ModelSpec
from mnistmlp.model import ACTIVATIONS, engine_config
from test_cpu_kernels import config_of
from test_model_numerics import (
    COMBINATIONS,
    OPTIMIZERS,
    STEPS,
    TOLERANCE,
    assert_weights_close,
    model_with_random_weights,
    small_problem,
    train_reference,
)

cuda = pytest.mark.cuda
RTOL = 1e-5  # float32, GPU against CPU


def assert_close(actual, expected, rtol=RTOL):
    """Equal to rtol relative to the largest expected magnitude (summation order differs)."""
    expected = np.asarray(expected)
    scale = float(np.abs(expected).max()) if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def on_both(name, *args, **kwargs):
    """(CPU result, GPU result) of the operation `name`."""
    return getattr(_core.kernels, name)(*args, **kwargs), getattr(_core.cuda_kernels, name)(*args, **kwargs)


# This file's data: labels from a fixed linear teacher, learnable like MNIST's, so training is
# well-conditioned and CPU and GPU runs stay together.
mnist_like = functools.partial(_synthetic.mnist_like, labels="teacher")


def max_difference(a, b):
    return max(float(np.abs(x - y).max()) for pa, pb in zip(a, b) for x, y in zip(pa, pb))


# ---- without a GPU --------------------------------------------------------------------------


def test_cuda_available_agrees_with_config():
    config = mnistmlp.get_config()["cuda"]
    assert mnistmlp.cuda_available() is config["available"]
    assert config["available"] == (config["problem"] == "")
    assert config["built"] or not config["available"]


@pytest.mark.skipif(mnistmlp.cuda_available(), reason="a GPU is usable here")
def test_device_cuda_is_refused_with_the_reason(tmp_path):
    problem = mnistmlp.get_config()["cuda"]["problem"]
    assert "no CUDA backend" in problem or "no CUDA GPU is visible" in problem or "no code for" in problem
    with pytest.raises(RuntimeError, match=r"^device 'cuda' is not available: ") as info:
        mnistmlp.MLP([784, 100, 10], device="cuda")
    assert problem in str(info.value)
    path = tmp_path / "model.safetensors"
    mnistmlp.MLP([4, 3]).save(path)
    with pytest.raises(RuntimeError, match="device 'cuda' is not available"):
        mnistmlp.MLP.load(path, device="cuda")
    with pytest.raises(RuntimeError, match=r"^device 'cuda:1' is not available: ") as info:
        mnistmlp.MLP([4, 3], device="cuda:1")
    assert problem in str(info.value)
    # Without a CUDA backend the stub says so; with one but no usable GPU, the CUDA error does.
    with pytest.raises(RuntimeError, match=r"^device 'cuda' is not available: |\(in dense_forward\)$"):
        _core.cuda_kernels.dense_forward(np.ones((2, 3), np.float32), np.ones((3, 4), np.float32), np.zeros(4, np.float32))


@pytest.mark.skipif(mnistmlp.cuda_available(), reason="a GPU is usable here")
def test_dnn_study_and_cli_refuse_cuda_with_the_reason(capsys):
    from mnistmlp import cli, experiments
    from mnistmlp import tflearn

    problem = mnistmlp.get_config()["cuda"]["problem"]
    net = tflearn.regression(tflearn.fully_connected(tflearn.input_data([None, 4]), 3, activation="softmax"))
    with pytest.raises(RuntimeError, match="device 'cuda' is not available"):
        tflearn.DNN(net, device="cuda")
    with pytest.raises(RuntimeError, match="device 'cuda' is not available"):
        experiments.run_configs(experiments.PRESETS["tutorial"].configs[:1], [0], device="cuda", progress=False,
                                data=_tiny_mnist())
    for command in (["train"], ["experiments"], ["predict", "model.safetensors"]):
        for device in ("cuda", "cuda:1"):
            assert cli.main([*command, "--device", device]) == 1
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and f"--device {device}: {problem}; use --device cpu" in err


def _tiny_mnist():
    from mnistmlp.datasets import DataSet, Datasets

    rng = np.random.default_rng(0)
    split = DataSet(rng.random((20, 784)).astype(np.float32), rng.integers(0, 10, 20))
    return Datasets(split, split, split)


FORMS = "'cpu', 'cuda' or 'cuda:N' (N: a GPU's index)"


@pytest.mark.parametrize("device", ["tpu", "gpu:0", "cpu:0", "cuda:", "cuda:x", "cuda:-1", "cuda: 1", "cuda:1234567890",
                                    "CUDA", "cuda:\u0661"])
def test_unknown_device_is_a_value_error(tmp_path, device, capsys):
    from mnistmlp import cli

    shown = json.dumps(device)
    with pytest.raises(ValueError, match=re.escape(f"device must be {FORMS}, got {shown}")):
        mnistmlp.MLP([4, 3], device=device)
    path = tmp_path / "model.safetensors"
    mnistmlp.MLP([4, 3]).save(path)
    with pytest.raises(ValueError, match=re.escape(f"device must be {FORMS}, got {shown}")):
        mnistmlp.MLP.load(path, device=device)
    with pytest.raises(ValueError, match=re.escape(f"unknown device '{device}'; expected {FORMS}")):
        _core.Model32(engine_config(ModelSpec.make([4, 3])), 1, device)
    assert cli.main(["train", "--device", device]) == 2
    assert f"must be {FORMS}, got {device!r}" in capsys.readouterr().err


def test_cpu_is_the_default_device():
    model = mnistmlp.MLP([4, 3])
    assert model.device == "cpu" and model._engine.device == "cpu"
    assert "device" not in repr(model)


def test_show_config_reports_the_cuda_backend_and_gpu(capsys):
    mnistmlp.show_config()
    lines = dict((part.strip() for part in line.split(" : ", 1)) for line in capsys.readouterr().out.splitlines())
    config = mnistmlp.get_config()["cuda"]
    assert lines["CUDA backend"].startswith("built for " if config["built"] else "not built")
    if config["built"]:
        assert config["architectures"] in lines["CUDA backend"]
        assert (config["problem"] or config["devices"][0]) in lines["GPU"]


# ---- single operations against the CPU's ------------------------------------------------------

DENSE_SHAPES = [
    (10, 784, 100),  # the notebook's first layer: split K
    (10, 100, 10),
    (1, 1, 1),
    (7, 13, 5),
    (300, 512, 256),  # medium tiles
    (1024, 784, 1024),  # D's first layer at batch 1024: the largest tiles
    (64, 4000, 3),  # long K, tiny output: split K
]


@cuda
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("B,IN,OUT", DENSE_SHAPES)
def test_dense_forward_matches_cpu(B, IN, OUT, activation):
    rng = np.random.default_rng(B + IN + OUT)
    X = rng.normal(size=(B, IN)).astype(np.float32)
    W = rng.normal(scale=IN ** -0.5, size=(IN, OUT)).astype(np.float32)
    b = rng.normal(size=OUT).astype(np.float32)
    cpu, gpu = on_both("dense_forward", X, W, b, activation)
    assert gpu.dtype == np.float32 and gpu.shape == (B, OUT)
    assert_close(gpu, cpu)


@cuda
@pytest.mark.parametrize("B,IN,OUT", DENSE_SHAPES)
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_dense_backward_matches_cpu(B, IN, OUT, weight_decay):
    rng = np.random.default_rng(B * IN + OUT)
    dout = rng.normal(size=(B, OUT)).astype(np.float32)
    X = rng.normal(size=(B, IN)).astype(np.float32)
    W = rng.normal(scale=IN ** -0.5, size=(IN, OUT)).astype(np.float32)
    cpu, gpu = on_both("dense_backward", dout, X, W, weight_decay)
    for c, g in zip(cpu, gpu):
        assert_close(g, c)


@cuda
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_dense_backward_applies_the_previous_layers_derivative_and_dropout(activation):
    B, IN, OUT = 33, 70, 20
    rng = np.random.default_rng(1)
    dout = rng.normal(size=(B, OUT)).astype(np.float32)
    X = rng.normal(size=(B, IN)).astype(np.float32)
    W = rng.normal(size=(IN, OUT)).astype(np.float32)
    prev_act = _core.kernels.dense_forward(X, np.eye(IN, dtype=np.float32), np.zeros(IN, np.float32), activation)
    _, scale = _core.kernels.dropout_forward(prev_act, 0.3, 5, 2, 0)
    cpu, gpu = on_both("dense_backward", dout, X, W, prev_act=prev_act, activation=activation, dropout_scale=scale)
    for c, g in zip(cpu, gpu):
        assert_close(g, c)


@cuda
@pytest.mark.parametrize("output,loss", COMBINATIONS)
@pytest.mark.parametrize("targets", ["labels", "one_hot", "soft"])
def test_output_loss_matches_cpu(output, loss, targets):
    B, K = 37, 10
    rng = np.random.default_rng(2)
    logits = rng.normal(scale=3, size=(B, K)).astype(np.float32)
    labels = rng.integers(0, K, B).astype(np.int32)
    y = {
        "labels": labels,
        "one_hot": np.eye(K, dtype=np.float32)[labels],
        "soft": rng.dirichlet(np.ones(K), B).astype(np.float32),
    }[targets]
    cpu, gpu = on_both("output_loss", logits, y, output, loss)
    for name, c, g in zip(("dz", "output", "row_loss"), cpu[:3], gpu[:3]):
        assert_close(g, c), name
    np.testing.assert_array_equal(gpu[3], cpu[3])


OPTIMIZER_SETTINGS = {
    "sgd": dict(optimizer="sgd", learning_rate=0.1),
    "momentum": dict(optimizer="sgd", learning_rate=0.1, momentum=0.9),
    "nesterov": dict(optimizer="sgd", learning_rate=0.1, momentum=0.9, nesterov=True),
    "decay": dict(optimizer="sgd", learning_rate=0.1, decay_rate=0.5, decay_steps=3),
    "staircase": dict(optimizer="sgd", learning_rate=0.1, decay_rate=0.5, decay_steps=3, staircase=True),
    "adam": dict(optimizer="adam", learning_rate=0.01),
    "rmsprop": dict(optimizer="rmsprop", learning_rate=0.01, momentum=0.5),
    "adagrad": dict(optimizer="adagrad", learning_rate=0.05),
}


@cuda
@pytest.mark.parametrize("clip", [1.0, 0.7])
@pytest.mark.parametrize("step", [0, 7])
@pytest.mark.parametrize("name", list(OPTIMIZER_SETTINGS))
def test_optimizer_update_matches_cpu(name, step, clip):
    settings = OPTIMIZER_SETTINGS[name]
    n = 20_000  # several blocks and chunks
    rng = np.random.default_rng(3)
    params, grads = rng.normal(size=n).astype(np.float32), rng.normal(size=n).astype(np.float32)
    config = config_of(settings)
    slots = len(config.state_slot_names)
    states = [0.01 + rng.random(n).astype(np.float32) for _ in range(slots)] + [None] * (2 - slots)
    cpu, gpu = on_both("optimizer_update", params, grads, *states, config=config, step=step, clip=clip)
    for c, g in zip(cpu, gpu):
        assert (c is None) == (g is None)
        if c is not None:
            assert_close(g, c)


@cuda
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
def test_dropout_masks_equal_the_cpus_bit_for_bit(rate, dtype):
    act = np.random.default_rng(4).normal(size=(123, 77)).astype(dtype)
    for seed, step, layer in [(0, 0, 0), (7, 12345, 1), (2**40, 3, 5)]:
        cpu, gpu = on_both("dropout_forward", act, rate, seed, step, layer)
        np.testing.assert_array_equal(gpu[1], cpu[1])
        np.testing.assert_array_equal(gpu[0], cpu[0])


@cuda
@pytest.mark.parametrize("n", [1, 4096, 4097, 100_003])
def test_sum_of_squares_matches_cpu(n):
    x = np.random.default_rng(n).normal(size=n).astype(np.float32)
    cpu, gpu = on_both("sum_of_squares", x)
    assert gpu == pytest.approx(cpu, rel=1e-12)


@cuda
def test_float64_operations_match_cpu_closely():
    rng = np.random.default_rng(6)
    X, W, b = rng.normal(size=(50, 300)), rng.normal(size=(300, 40)), rng.normal(size=40)
    cpu, gpu = on_both("dense_forward", X, W, b, "tanh")
    assert gpu.dtype == np.float64
    assert_close(gpu, cpu, rtol=1e-12)
    cpu, gpu = on_both("dense_backward", rng.normal(size=(50, 40)), X, W, 0.01)
    for c, g in zip(cpu, gpu):
        assert_close(g, c, rtol=1e-12)


# ---- the model's numerics on the GPU ----------------------------------------------------------


@cuda
@pytest.mark.parametrize("output_activation,loss", COMBINATIONS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_float64_gradients_on_the_gpu_match_finite_differences(activation, output_activation, loss):
    kwargs = dict(activation=activation, output_activation=output_activation, loss=loss, weight_decay=0.05)
    model = model_with_random_weights(device="cuda", **kwargs)
    X, y = small_problem()
    loss_value, grads = model.loss_and_gradients(X, y)
    assert np.isfinite(loss_value)
    assert relative_error(grads, finite_difference_gradients(model, X, y)) < 1e-6
    cpu_loss, cpu_grads = model_with_random_weights(**kwargs).loss_and_gradients(X, y)
    assert loss_value == pytest.approx(cpu_loss, rel=1e-12)
    assert relative_error(grads, cpu_grads) < 1e-12


@cuda
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_steps_on_the_gpu_match_reference(name, dtype):
    engine_optimizer, reference_optimizer = OPTIMIZERS[name]
    X, y = small_problem(n=16, dtype=dtype)
    model = model_with_random_weights(dtype=dtype, optimizer=engine_optimizer(), device="cuda")
    start = [(W.copy(), b.copy()) for W, b in model.get_weights()]
    model.fit(X, y, epochs=STEPS[name], batch_size=len(X), shuffle=False, verbose=0)
    assert model.steps_ == STEPS[name]
    expected = train_reference(start, X, y, reference_optimizer(), STEPS[name])
    assert_weights_close(model.get_weights(), expected, TOLERANCE[dtype])


@cuda
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_clipping_and_weight_decay_on_the_gpu_match_reference(dtype):
    X, y = small_problem(n=16, dtype=dtype)
    model = model_with_random_weights(dtype=dtype, optimizer=mnistmlp.optimizers.Adam(0.01), clip_norm=0.5,
                                      weight_decay=0.01, activation="tanh", device="cuda")
    start = [(W.copy(), b.copy()) for W, b in model.get_weights()]
    model.fit(X, y, epochs=3, batch_size=len(X), shuffle=False, verbose=0)
    expected = train_reference(start, X, y, mnistmlp.reference.Adam(0.01), 3, clip_norm=0.5, weight_decay=0.01,
                               activation="tanh")
    assert_weights_close(model.get_weights(), expected, TOLERANCE[dtype])


# ---- whole epochs: GPU against CPU ------------------------------------------------------------

EPOCHS = {
    # The notebook: 784-100-10, SGD, batches of 10 (one CUDA graph replayed per batch).
    "notebook": dict(sizes=[784, 100, 10], kwargs=dict(optimizer="sgd", learning_rate=0.1), batch_size=10,
                     rows=20_000, inputs="uint8"),
    # Dropout, clipping, weight decay, momentum, float inputs and a shorter last batch. (Not
    # with Adam: with weight decay its steps magnify rounding, and float32 against float64 on
    # the CPU alone already ends 1e-2 apart.)
    "regularised": dict(sizes=[784, 64, 32, 10],
                        kwargs=dict(optimizer=mnistmlp.optimizers.SGD(0.05, momentum=0.9), dropout=[0.2, 0.1],
                                    clip_norm=5.0, weight_decay=1e-4),
                        batch_size=33, rows=5_000, inputs="float32"),
    # Adam with dropout, uint8 inputs.
    "adam": dict(sizes=[784, 100, 10], kwargs=dict(optimizer="adam", learning_rate=0.001, dropout=0.2),
                 batch_size=32, rows=5_000, inputs="uint8"),
    # Mean square over a sigmoid output, one-hot targets, momentum.
    "mean_square": dict(sizes=[784, 50, 10],
                        kwargs=dict(optimizer=mnistmlp.optimizers.SGD(0.5, momentum=0.9, nesterov=True),
                                    activation="tanh", output_activation="sigmoid", loss="mean_square"),
                        batch_size=100, rows=5_000, inputs="float64"),
}


def epoch_data(case):
    X, y = mnist_like(case["rows"])
    if case["inputs"] != "uint8":
        X = X.astype(case["inputs"]) / 255
    if case["kwargs"].get("loss") == "mean_square":
        y = np.eye(10, dtype=np.float32)[y]
    return X, y


@cuda
@pytest.mark.parametrize("name", list(EPOCHS))
def test_an_epoch_on_the_gpu_ends_within_1e_3_of_the_cpus(name):
    case = EPOCHS[name]
    X, y = epoch_data(case)
    models = {device: mnistmlp.MLP(case["sizes"], seed=3, device=device, **case["kwargs"]) for device in ("cpu", "cuda")}
    models["cuda"].set_weights(models["cpu"].get_weights())
    histories = {d: m.fit(X, y, epochs=1, batch_size=case["batch_size"], verbose=0) for d, m in models.items()}
    assert models["cuda"].steps_ == models["cpu"].steps_ == -(-case["rows"] // case["batch_size"])
    assert max_difference(models["cuda"].get_weights(), models["cpu"].get_weights()) < 1e-3
    for key in ("loss", "accuracy", "loss_moving_average"):
        assert histories["cuda"].history[key][0] == pytest.approx(histories["cpu"].history[key][0], rel=1e-3, abs=1e-4)
    assert_close(histories["cuda"].batch_loss[0], histories["cpu"].batch_loss[0], rtol=1e-2)


@cuda
def test_gpu_training_repeats_exactly_and_resumes_exactly():
    X, y = mnist_like(3_000)
    runs = []
    for _ in range(2):
        model = mnistmlp.MLP([784, 100, 10], optimizer="adam", dropout=0.2, seed=5, device="cuda")
        history = model.fit(X, y, epochs=2, batch_size=32, verbose=0)
        runs.append((model.get_weights(), history.batch_loss))
    (w1, losses1), (w2, losses2) = runs
    assert all(np.array_equal(a, b) for pa, pb in zip(w1, w2) for a, b in zip(pa, pb))
    assert all(np.array_equal(a, b) for a, b in zip(losses1, losses2))
    # Two fits of one epoch each: the same two epochs.
    model = mnistmlp.MLP([784, 100, 10], optimizer="adam", dropout=0.2, seed=5, device="cuda")
    model.fit(X, y, epochs=1, batch_size=32, verbose=0)
    model.fit(X, y, epochs=1, batch_size=32, verbose=0)
    assert all(np.array_equal(a, b) for pa, pb in zip(model.get_weights(), w1) for a, b in zip(pa, pb))


@cuda
def test_gpu_sees_data_and_weights_changed_between_fits():
    X, y = mnist_like(2_000)
    X2, y2 = mnist_like(2_000, seed=1)
    models = {d: mnistmlp.MLP([784, 30, 10], optimizer="sgd", learning_rate=0.1, seed=2, device=d) for d in ("cpu", "cuda")}
    start = models["cpu"].get_weights()
    for model in models.values():
        model.set_weights(start)
        model.fit(X, y, epochs=1, batch_size=50, verbose=0)
        X[:] = X2  # the same array, new contents
        y[:] = y2
        model.fit(X, y, epochs=1, batch_size=50, verbose=0)
        model.set_weights(start)  # weights set between fits count
        model.fit(X, y, epochs=1, batch_size=64, verbose=0)  # and a new batch size
        X[:], y[:] = mnist_like(2_000)
    assert max_difference(models["cuda"].get_weights(), models["cpu"].get_weights()) < 1e-4


@cuda
def test_progress_reports_and_stopping_on_the_gpu():
    X, y = mnist_like(5_000)
    model = mnistmlp.MLP([784, 100, 10], optimizer="sgd", seed=1, device="cuda")
    reports = []

    def callback(progress):
        reports.append((progress.batches_done, progress.samples_done, progress.step))
        return len(reports) < 2

    result = model._engine.fit_epoch(X, y.astype(np.int32), 10, True, callback, 0.0, 1)
    assert result["stopped"] and len(reports) == 2
    assert result["batches"] == model.steps_ == reports[-1][0] == len(result["batch_loss"])
    assert 0 < reports[0][0] < reports[1][0] < 500
    assert all(samples == batches * 10 and step == batches for batches, samples, step in reports)
    assert model.epochs_ == 1  # the shortened epoch counts
    done = model.fit(X, y, epochs=1, batch_size=10, verbose=0)  # and trains on after the stop
    assert model.epochs_ == 2 and np.isfinite(done.history["loss"][0])


# ---- inference and model files across devices ------------------------------------------------


@cuda
@pytest.mark.parametrize("inputs", ["uint8", "float32", "float64"])
def test_gpu_inference_matches_cpu_for_any_number_of_rows(inputs):
    cpu = mnistmlp.MLP([784, 200, 50, 10], activation=["relu", "sigmoid"], seed=4)
    gpu = mnistmlp.MLP([784, 200, 50, 10], activation=["relu", "sigmoid"], seed=4, device="cuda")
    X, y = mnist_like(20_000)  # several chunks, the last one short
    if inputs != "uint8":
        X = X.astype(inputs) / 255
    for rows in (1, 20_000):
        assert_close(gpu.predict_proba(X[:rows]), cpu.predict_proba(X[:rows]))
    assert gpu._engine.predict(X[:0]).shape == (0, 10)
    expected, actual = cpu.evaluate(X, y), gpu.evaluate(X, y)
    assert actual["loss"] == pytest.approx(expected["loss"], rel=1e-5)
    assert abs(actual["accuracy"] - expected["accuracy"]) <= 2 / len(y)


@cuda
def test_gpu_predicts_from_several_threads():
    model = mnistmlp.MLP([784, 100, 10], seed=4, device="cuda")
    X, _ = mnist_like(3_000)
    expected = model.predict_proba(X)
    results = [None] * 8

    def work(i):
        results[i] = model.predict_proba(X)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(results))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(np.array_equal(r, expected) for r in results)


@cuda
def test_model_files_move_between_devices(tmp_path):
    X, y = mnist_like(2_000)
    gpu = mnistmlp.MLP([784, 64, 10], optimizer="adam", seed=6, device="cuda")
    gpu.fit(X, y, epochs=1, batch_size=20, verbose=0)
    gpu.save(tmp_path / "gpu.safetensors")
    on_cpu = mnistmlp.MLP.load(tmp_path / "gpu.safetensors")
    assert on_cpu.device == "cpu" and on_cpu.steps_ == gpu.steps_
    assert all(np.array_equal(a, b) for pa, pb in zip(on_cpu.get_weights(), gpu.get_weights()) for a, b in zip(pa, pb))
    assert_close(on_cpu.predict_proba(X), gpu.predict_proba(X))
    # Both resume from the saved optimizer state and counters, and stay together.
    on_cpu.fit(X, y, epochs=1, batch_size=20, verbose=0)
    gpu.fit(X, y, epochs=1, batch_size=20, verbose=0)
    assert max_difference(on_cpu.get_weights(), gpu.get_weights()) < 1e-3

    cpu = mnistmlp.MLP([784, 64, 10], optimizer="adam", seed=7)
    cpu.fit(X, y, epochs=1, batch_size=20, verbose=0)
    cpu.save(tmp_path / "cpu.safetensors")
    on_gpu = mnistmlp.MLP.load(tmp_path / "cpu.safetensors", device="cuda")
    assert on_gpu.device == "cuda" and "device='cuda'" in repr(on_gpu)
    assert all(np.array_equal(a, b) for pa, pb in zip(on_gpu.get_weights(), cpu.get_weights()) for a, b in zip(pa, pb))
    assert_close(on_gpu.predict_proba(X), cpu.predict_proba(X))
    cpu.fit(X, y, epochs=1, batch_size=20, verbose=0)
    on_gpu.fit(X, y, epochs=1, batch_size=20, verbose=0)
    assert max_difference(on_gpu.get_weights(), cpu.get_weights()) < 1e-3


@cuda
def test_gpu_checks_targets_like_the_cpu():
    model = mnistmlp.MLP([4, 3], device="cuda")
    with pytest.raises(ValueError, match=r"^label 7 at row 1 is outside 0\.\.2"):
        model._engine.fit_epoch(np.zeros((2, 4), np.float32), np.array([0, 7], np.int32), 1, False)


@cuda
def test_dnn_study_and_cli_train_on_the_gpu(tmp_path, capsys):
    from mnistmlp import cli, experiments
    from mnistmlp import tflearn

    data = _tiny_mnist()
    X, y = data.train.images, data.train.labels
    results = {}
    for device in ("cpu", "cuda"):
        tflearn.init_graph(seed=3)
        net = tflearn.input_data([None, 784])
        net = tflearn.fully_connected(net, 16, activation="relu")
        net = tflearn.regression(tflearn.fully_connected(net, 10, activation="softmax"), optimizer="sgd",
                                 learning_rate=0.1)
        model = tflearn.DNN(net, device=device)
        assert model.model.device == device
        model.fit(X, np.eye(10)[y], n_epoch=2, batch_size=5, show_metric=False)
        results[device] = np.asarray(model.predict(X))
    tflearn.init_graph(seed=None)
    assert_close(results["cuda"], results["cpu"], rtol=1e-3)
    records = experiments.run_configs(experiments.PRESETS["tutorial"].configs[:1], [0], data=data, device="cuda",
                                      progress=False)
    assert records[0]["device"] == "cuda"
    path = tmp_path / "model.safetensors"
    mnistmlp.MLP([784, 10], seed=0).save(path)
    capsys.readouterr()
    assert cli.main(["predict", str(path), "--device", "cuda"]) in (0, 1)  # 1: no MNIST files here
    assert "--device cuda" not in capsys.readouterr().err
