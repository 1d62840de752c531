"""Tests of mnistmlp.numpy_baseline, the benchmarks' NumPy training loop, against mnistmlp.reference."""

import math

import numpy as np
import pytest

from _gradients import flat
from mnistmlp import reference as ref
from mnistmlp.numpy_baseline import NumpyMLP


def blobs(n=1500, dim=20, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 1, (classes, dim))
    y = rng.integers(0, classes, n)
    X = centers[y] + rng.normal(0, 0.7, (n, dim))
    return X, y


@pytest.mark.parametrize("optimizer", [lambda: ref.SGD(0.05, momentum=0.9), lambda: ref.Adam(0.01)])
def test_numpy_mlp_learns_separable_problem_in_one_epoch(optimizer):
    X, y = blobs()
    model = NumpyMLP([20, 32, 3], optimizer=optimizer(), seed=1, dtype=np.float32)
    before = np.mean(model.predict(X) == y)
    stats = model.fit_epoch(X, y, batch_size=10, seed=0)
    after = np.mean(model.predict(X) == y)
    assert before < 0.7
    assert after > 0.97
    assert stats["accuracy"] > 0.85 and math.isfinite(stats["loss"])
    assert all(p.dtype == np.float32 for pair in model.params for p in pair)
    assert model.predict_proba(X).dtype == np.float32


def test_numpy_mlp_epoch_statistics_and_partial_batch():
    X, y = blobs(n=25)
    model = NumpyMLP([20, 8, 3], optimizer=ref.SGD(0.0), seed=2, dtype=np.float64)
    stats = model.fit_epoch(X, y, batch_size=10, shuffle=True, seed=5)
    assert model.optimizer.t == 3  # 10 + 10 + 5: the partial batch is trained
    order = np.random.default_rng(5).permutation(25)
    losses = [ref.loss_and_gradients(model.params, X[order[s:s + 10]], y[order[s:s + 10]])[0] for s in (0, 10, 20)]
    assert stats["loss"] == pytest.approx(np.mean(losses), rel=1e-12)
    assert stats["accuracy"] == pytest.approx(np.mean(model.predict(X) == y))


@pytest.mark.parametrize("loss,out", [("categorical_crossentropy", "softmax"), ("mean_square", "sigmoid")])
def test_numpy_mlp_matches_a_hand_written_training_loop(loss, out):
    X, y = blobs(n=47, seed=3)
    kwargs = dict(activation="tanh", output_activation=out, loss=loss, weight_init="glorot_uniform", seed=4,
                  dtype=np.float64, clip_norm=0.5, weight_decay=0.01)
    model = NumpyMLP([20, 6, 5, 3], optimizer=ref.SGD(0.1, momentum=0.9, nesterov=True), **kwargs)
    params = [(W.copy(), b.copy()) for W, b in model.params]
    stats = model.fit_epoch(X, np.eye(3)[y], batch_size=10, shuffle=False)
    opt = ref.SGD(0.1, momentum=0.9, nesterov=True)
    losses = []
    for s in range(0, 47, 10):
        value, grads = ref.loss_and_gradients(params, X[s:s + 10], y[s:s + 10], "tanh", out, loss, weight_decay=0.01)
        grads, _ = ref.clip_by_global_norm(grads, 0.5)
        opt.step(params, grads)
        losses.append(value)
    np.testing.assert_allclose(flat(model.params), flat(params), rtol=1e-12, atol=1e-14)
    assert stats["loss"] == pytest.approx(np.mean(losses), rel=1e-12)


def test_numpy_mlp_scales_uint8_inputs():
    rng = np.random.default_rng(0)
    X8 = rng.integers(0, 256, (30, 12), dtype=np.uint8)
    y = rng.integers(0, 4, 30)
    a = NumpyMLP([12, 7, 4], optimizer=ref.SGD(0.1), seed=0)
    b = NumpyMLP([12, 7, 4], optimizer=ref.SGD(0.1), seed=0)
    sa = a.fit_epoch(X8, y, batch_size=8, seed=1)
    sb = b.fit_epoch(X8.astype(np.float32) / np.float32(255), y, batch_size=8, seed=1)
    np.testing.assert_array_equal(flat(a.params), flat(b.params))
    assert sa == sb
    np.testing.assert_array_equal(a.predict_proba(X8), b.predict_proba(X8 / 255))
