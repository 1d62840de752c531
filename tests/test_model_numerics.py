"""The engine's numerics against finite differences and against mnistmlp.reference."""

import numpy as np
import pytest

import mnistmlp
from _gradients import finite_difference_gradients, flat, relative_error
from mnistmlp import _core
from mnistmlp import reference as ref
from mnistmlp.datasets import mnist
from mnistmlp.model import ACTIVATIONS, OUTPUT_ACTIVATIONS

SIZES = [6, 5, 4, 3]
COMBINATIONS = [("softmax", "categorical_crossentropy")] + [(o, "mean_square") for o in OUTPUT_ACTIVATIONS]


def small_problem(seed=0, n=7, sizes=SIZES, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0])).astype(dtype)
    y = rng.integers(0, sizes[-1], size=n)
    return X, y


def model_with_random_weights(dtype="float64", seed=0, sizes=SIZES, **kwargs):
    model = mnistmlp.MLP(sizes, dtype=dtype, seed=seed, threads=1, **kwargs)
    rng = np.random.default_rng(seed + 100)
    weights = [(rng.normal(scale=0.7, size=(a, b)), rng.normal(scale=0.3, size=b)) for a, b in zip(sizes, sizes[1:])]
    model.set_weights(weights)
    return model


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("output_activation,loss", COMBINATIONS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradients_match_finite_differences(activation, output_activation, loss, weight_decay):
    model = model_with_random_weights(
        activation=activation, output_activation=output_activation, loss=loss, weight_decay=weight_decay
    )
    X, y = small_problem()
    loss_value, grads = model.loss_and_gradients(X, y)
    assert np.isfinite(loss_value)
    numeric = finite_difference_gradients(model, X, y)
    assert relative_error(grads, numeric) < 1e-6


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("output_activation,loss", COMBINATIONS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_loss_and_gradients_match_reference(activation, output_activation, loss, weight_decay):
    model = model_with_random_weights(
        activation=activation, output_activation=output_activation, loss=loss, weight_decay=weight_decay
    )
    X, y = small_problem(seed=3)
    expected_loss, expected = ref.loss_and_gradients(
        model.get_weights(), X, y, activation, output_activation, loss, weight_decay
    )
    loss_value, grads = model.loss_and_gradients(X, y)
    assert loss_value == pytest.approx(expected_loss, rel=1e-12)
    assert relative_error(grads, expected) < 1e-12


def test_soft_targets_match_reference():
    model = model_with_random_weights()
    X, _ = small_problem()
    Y = np.random.default_rng(5).random((X.shape[0], SIZES[-1]))
    Y /= Y.sum(axis=1, keepdims=True)
    expected_loss, expected = ref.loss_and_gradients(model.get_weights(), X, Y)
    loss_value, grads = model.loss_and_gradients(X, Y)
    assert loss_value == pytest.approx(expected_loss, rel=1e-12)
    assert relative_error(grads, expected) < 1e-12


def test_cross_entropy_is_finite_for_huge_logits():
    model = mnistmlp.MLP([2, 3], activation="linear", dtype="float64", threads=1)
    model.set_weights([(np.array([[1e4, -1e4, 0.0], [0.0, 0.0, 0.0]]), np.zeros(3))])
    X = np.array([[1.0, 0.0], [-1.0, 0.0]])
    loss_value, grads = model.loss_and_gradients(X, np.array([1, 2]))
    # Row 0: the right class trails the winner by 2e4; row 1: by 1e4.
    assert loss_value == pytest.approx((2e4 + 1e4) / 2, rel=1e-12)
    assert all(np.isfinite(g).all() for pair in grads for g in pair)
    proba = model.predict_proba(X)
    assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1)


# ---- optimizer steps against the reference ------------------------------------------------

OPTIMIZERS = {
    "sgd": (lambda: mnistmlp.optimizers.SGD(0.1), lambda: ref.SGD(0.1)),
    "momentum": (lambda: mnistmlp.optimizers.SGD(0.1, momentum=0.9), lambda: ref.SGD(0.1, momentum=0.9)),
    "nesterov": (
        lambda: mnistmlp.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
        lambda: ref.SGD(0.1, momentum=0.9, nesterov=True),
    ),
    "sgd_decay": (
        lambda: mnistmlp.optimizers.SGD(0.1, decay_rate=0.5, decay_steps=2),
        lambda: ref.SGD(0.1, decay_rate=0.5, decay_steps=2),
    ),
    "sgd_staircase": (
        lambda: mnistmlp.optimizers.SGD(0.1, decay_rate=0.5, decay_steps=2, staircase=True),
        lambda: ref.SGD(0.1, decay_rate=0.5, decay_steps=2, staircase=True),
    ),
    "adam": (lambda: mnistmlp.optimizers.Adam(0.01), lambda: ref.Adam(0.01)),
    "momentum_tflearn": (lambda: mnistmlp.optimizers.Momentum(0.05), lambda: ref.SGD(0.05, momentum=0.9)),
    "rmsprop": (lambda: mnistmlp.optimizers.RMSProp(0.01), lambda: ref.RMSProp(0.01)),
    "rmsprop_momentum": (lambda: mnistmlp.optimizers.RMSProp(0.01, decay=0.8, momentum=0.5, epsilon=1e-6),
                         lambda: ref.RMSProp(0.01, decay=0.8, momentum=0.5, epsilon=1e-6)),
    "adagrad": (lambda: mnistmlp.optimizers.AdaGrad(0.05), lambda: ref.AdaGrad(0.05)),
}
STEPS = {"sgd": 1, "momentum": 2, "nesterov": 2, "sgd_decay": 3, "sgd_staircase": 3, "adam": 3, "momentum_tflearn": 3,
         "rmsprop": 3, "rmsprop_momentum": 3, "adagrad": 3}
TOLERANCE = {"float32": 1e-5, "float64": 1e-12}


def test_the_step_table_covers_every_optimizer():
    assert {engine().name for engine, _ in OPTIMIZERS.values()} == set(mnistmlp.optimizers.OPTIMIZERS)


def train_reference(params, X, y, reference_optimizer, steps, clip_norm=None, weight_decay=0.0, **config):
    for _ in range(steps):
        _, grads = ref.loss_and_gradients(params, X, y, weight_decay=weight_decay, **config)
        if clip_norm is not None:
            grads, _ = ref.clip_by_global_norm(grads, clip_norm)
        reference_optimizer.step(params, grads)
    return params


def assert_weights_close(actual, expected, rtol):
    for (W, b), (We, be) in zip(actual, expected):
        scale = max(np.abs(We).max(), np.abs(be).max())
        np.testing.assert_allclose(W, We, rtol=rtol, atol=rtol * scale)
        np.testing.assert_allclose(b, be, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_steps_match_reference(name, dtype):
    engine_optimizer, reference_optimizer = OPTIMIZERS[name]
    X, y = small_problem(n=16, dtype=dtype)
    model = model_with_random_weights(dtype=dtype, optimizer=engine_optimizer())
    start = [(W.copy(), b.copy()) for W, b in model.get_weights()]
    steps = STEPS[name]
    # A batch of all rows without shuffling is one full-batch update per epoch.
    model.fit(X, y, epochs=steps, batch_size=len(X), shuffle=False, verbose=0)
    assert model.steps_ == steps
    expected = train_reference(start, X, y, reference_optimizer(), steps)
    assert_weights_close(model.get_weights(), expected, TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_clipping_and_weight_decay_match_reference(name, dtype):
    """Adam nearly cancels a uniform scale of the gradient; SGD shows every clipped element."""
    engine_optimizer, reference_optimizer = OPTIMIZERS[name]
    X, y = small_problem(n=16, dtype=dtype)
    model = model_with_random_weights(
        dtype=dtype, optimizer=engine_optimizer(), clip_norm=0.3, weight_decay=0.01, activation="tanh"
    )
    start = [(W.copy(), b.copy()) for W, b in model.get_weights()]
    _, grads = ref.loss_and_gradients(start, X, y, activation="tanh", weight_decay=0.01)
    assert ref.global_norm(grads) > 0.6, "the test needs gradients big enough to be clipped"
    model.fit(X, y, epochs=3, batch_size=len(X), shuffle=False, verbose=0)
    expected = train_reference(start, X, y, reference_optimizer(), 3, clip_norm=0.3, weight_decay=0.01,
                               activation="tanh")
    assert_weights_close(model.get_weights(), expected, TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["sgd", "adam"])
@pytest.mark.parametrize("inputs", ["dense", "sparse"])
def test_a_partial_last_batch_is_a_mean_over_its_own_rows(inputs, name, dtype):
    """23 rows in batches of 10: the third batch has 3 rows, and its loss and gradient are
    means over those 3, as the reference's are (a mean over 10 would make its SGD step 0.3
    times as long)."""
    rng = np.random.default_rng(8)
    if inputs == "dense":
        sizes = SIZES
        X = rng.normal(size=(23, sizes[0])).astype(dtype)
    else:  # mostly zeros: the sparse first layer
        sizes = [30, 6, 3]
        X = (rng.random((23, 30)) * (rng.random((23, 30)) < 0.2)).astype(dtype)
    y = rng.integers(0, sizes[-1], 23)
    engine_optimizer, reference_optimizer = OPTIMIZERS[name]
    model = model_with_random_weights(dtype=dtype, sizes=sizes, optimizer=engine_optimizer())
    params = [(W.copy(), b.copy()) for W, b in model.get_weights()]
    history = model.fit(X, y, epochs=2, batch_size=10, shuffle=False, verbose=0)
    optimizer = reference_optimizer()
    expected_losses = []
    for _ in range(2):
        for first in (0, 10, 20):
            loss, grads = ref.loss_and_gradients(params, X[first:first + 10], y[first:first + 10])
            optimizer.step(params, grads)
            expected_losses.append(loss)
    assert [len(losses) for losses in history.batch_loss] == [3, 3]
    # (the history keeps batch losses in float32)
    np.testing.assert_allclose(np.concatenate(history.batch_loss), expected_losses, rtol=max(TOLERANCE[dtype], 1e-6))
    assert_weights_close(model.get_weights(), params, TOLERANCE[dtype])


# ---- data forms -----------------------------------------------------------------------------


def test_uint8_inputs_are_scaled_by_1_over_255():
    model = mnistmlp.MLP([784, 20, 10], seed=1, threads=1)
    X = np.random.default_rng(0).integers(0, 256, size=(50, 784), dtype=np.uint8)
    scaled = X.astype(np.float32) / np.float32(255)
    np.testing.assert_array_equal(model.predict_proba(X), model.predict_proba(scaled))
    np.testing.assert_array_equal(model.predict_proba(X.reshape(50, 28, 28)), model.predict_proba(scaled))
    np.testing.assert_array_equal(model.predict_proba(np.asfortranarray(scaled)), model.predict_proba(scaled))


def test_one_hot_targets_equal_labels():
    X, y = small_problem(n=12)
    model = model_with_random_weights()
    one_hot = np.eye(SIZES[-1])[y]
    loss_a, grads_a = model.loss_and_gradients(X, y)
    loss_b, grads_b = model.loss_and_gradients(X, one_hot)
    assert loss_a == loss_b and relative_error(grads_a, grads_b) == 0
    assert model.evaluate(X, y) == model.evaluate(X, one_hot)


def test_predict_and_evaluate_agree_with_reference():
    X, y = small_problem(n=3000, sizes=[6, 5, 4, 3])  # several inference chunks
    model = model_with_random_weights()
    proba = model.predict_proba(X)
    expected = ref.predict_proba(model.get_weights(), X)
    np.testing.assert_allclose(proba, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(model.predict(X), expected.argmax(axis=1))
    metrics = model.evaluate(X, y)
    assert metrics["accuracy"] == pytest.approx(np.mean(expected.argmax(axis=1) == y))
    assert metrics["loss"] == pytest.approx(-np.mean(np.log(expected[np.arange(len(y)), y])), rel=1e-10)


def test_initialisers_are_seeded_and_shaped():
    a = mnistmlp.MLP([784, 300, 10], weight_init="truncated_normal", seed=7).get_weights()
    b = mnistmlp.MLP([784, 300, 10], weight_init="truncated_normal", seed=7).get_weights()
    c = mnistmlp.MLP([784, 300, 10], weight_init="truncated_normal", seed=8).get_weights()
    assert all(np.array_equal(x, y) for pa, pb in zip(a, b) for x, y in zip(pa, pb))
    assert not np.array_equal(a[0][0], c[0][0])
    W = a[0][0]
    assert np.abs(W).max() <= 0.04 + 1e-7  # truncated at 2 stddev
    assert W.std() == pytest.approx(0.02 * 0.8796, rel=0.02)  # std of a normal truncated at 2 sigma
    assert np.all(a[0][1] == 0)
    he = mnistmlp.MLP([784, 300, 10], weight_init="he_normal").get_weights()[0][0]
    assert he.std() == pytest.approx(np.sqrt(2 / 784), rel=0.02)
    glorot = mnistmlp.MLP([784, 300, 10], weight_init="glorot_uniform").get_weights()[0][0]
    limit = np.sqrt(6 / (784 + 300))
    assert np.abs(glorot).max() <= limit and glorot.std() == pytest.approx(limit / np.sqrt(3), rel=0.02)


def test_per_layer_activations_and_weight_decay_match_finite_differences():
    model = model_with_random_weights(activation=["tanh", "sigmoid"], weight_decay=[0.1, 0.0, 0.02])
    X, y = small_problem(seed=9)
    _, grads = model.loss_and_gradients(X, y)
    assert relative_error(grads, finite_difference_gradients(model, X, y)) < 1e-6
    # The penalty of each layer counts with its own factor.
    weights = model.get_weights()
    plain = model_with_random_weights(activation=["tanh", "sigmoid"])
    penalty = 0.5 * (0.1 * np.sum(weights[0][0] ** 2) + 0.02 * np.sum(weights[2][0] ** 2))
    assert model.loss_and_gradients(X, y)[0] == pytest.approx(plain.loss_and_gradients(X, y)[0] + penalty, rel=1e-12)


def engine_dropout_masks(model, batch_rows, step):
    """The masks (0/1, per hidden layer) that the engine draws at `step`: its generator is
    keyed by (seed, step, layer) and the element's place, so the single operation gives them."""
    masks = []
    for layer, (rate, width) in enumerate(zip(model.dropout, model.layer_sizes[1:-1])):
        ones = np.ones((batch_rows, width), model.dtype)
        masks.append(_core.kernels.dropout_forward(ones, rate, model.seed, step, layer)[1] != 0)
    return masks


@pytest.mark.parametrize("dropout", [0.3, [0.0, 0.5]])
def test_dropout_trains_as_the_reference_with_the_engines_masks(dropout):
    """Dropout where asked (per layer), at rate p, kept units scaled by 1/(1-p): the loss of
    each step and the weights after it are the reference's with the same masks."""
    sizes = [6, 32, 32, 3]
    X, y = small_problem(n=64, sizes=sizes)
    model = model_with_random_weights(sizes=sizes, dropout=dropout, optimizer="sgd", learning_rate=0.5)
    params = [(W.copy(), b.copy()) for W, b in model.get_weights()]
    history = model.fit(X, y, epochs=3, batch_size=64, shuffle=False, verbose=0)
    optimizer = ref.SGD(0.5)
    for step in range(3):
        masks = engine_dropout_masks(model, len(X), step)
        if dropout == [0.0, 0.5]:
            assert masks[0].all()  # no dropout where none was asked
        for mask, rate in zip(masks, np.broadcast_to(dropout, 2)):
            assert abs(mask.mean() - (1 - rate)) < 0.1
        loss, grads = ref.loss_and_gradients(params, X, y, dropout=dropout, masks=masks)
        optimizer.step(params, grads)
        assert history.batch_loss[step][0] == pytest.approx(loss, rel=1e-12)
    assert_weights_close(model.get_weights(), params, TOLERANCE["float64"])
    # Inference has no dropout.
    np.testing.assert_allclose(model.predict_proba(X), ref.predict_proba(params, X), rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "engine_optimizer,reference_optimizer,clip_norm,weight_decay",
    [
        (lambda: mnistmlp.optimizers.SGD(0.5), lambda: ref.SGD(0.5), None, 0.0),  # sparse rows update
        (lambda: mnistmlp.optimizers.SGD(0.5), lambda: ref.SGD(0.5), 0.05, 0.0),  # ... with clipping
        (lambda: mnistmlp.optimizers.SGD(0.5), lambda: ref.SGD(0.5), None, 0.01),  # weight decay: dense
        (lambda: mnistmlp.optimizers.Adam(0.01), lambda: ref.Adam(0.01), 0.05, 0.0),  # Adam: dense update
        (lambda: mnistmlp.optimizers.Adam(0.01), lambda: ref.Adam(0.01), None, 0.0),  # Adam fused in the rows
        (lambda: mnistmlp.optimizers.Adam(0.01), lambda: ref.Adam(0.01), None, 0.01),  # ... not with decay
        (lambda: mnistmlp.optimizers.RMSProp(0.01), lambda: ref.RMSProp(0.01), None, 0.0),  # RMSProp: dense
        (lambda: mnistmlp.optimizers.AdaGrad(0.05), lambda: ref.AdaGrad(0.05), 0.05, 0.0),  # AdaGrad: dense
    ],
)
def test_sparse_inputs_match_reference(engine_optimizer, reference_optimizer, clip_norm, weight_decay, dtype):
    """Mostly-zero inputs (like MNIST) take the sparse first-layer path: same results."""
    rng = np.random.default_rng(4)
    X = (rng.random((24, 30)) * (rng.random((24, 30)) < 0.2)).astype(dtype)
    X[:, 7] = 0  # a column no sample uses: its weights get no data gradient
    y = rng.integers(0, 3, 24)
    sizes = [30, 6, 3]
    model = model_with_random_weights(dtype=dtype, sizes=sizes, optimizer=engine_optimizer(), clip_norm=clip_norm,
                                      weight_decay=weight_decay)
    start = [(W.copy(), b.copy()) for W, b in model.get_weights()]
    model.fit(X, y, epochs=3, batch_size=len(X), shuffle=False, verbose=0)
    expected = train_reference(start, X, y, reference_optimizer(), 3, clip_norm=clip_norm, weight_decay=weight_decay)
    assert_weights_close(model.get_weights(), expected, TOLERANCE[dtype])
    _, grads = model.loss_and_gradients(X, y)
    _, expected_grads = ref.loss_and_gradients(model.get_weights(), X, y, weight_decay=weight_decay)
    assert relative_error(grads, expected_grads) < (1e-5 if dtype == "float32" else 1e-12)


# ---- float32 training against TensorFlow's arithmetic, step for step --------------------------

# The notebook's 2x100 network (784-100-100-10 relu, softmax cross-entropy, TFLearn's
# truncated-normal weights), batches of 10, on real MNIST.
LOCKSTEP_STEPS = 1500


@pytest.fixture(scope="module")
def lockstep_batches(mnist_dir):
    """The first LOCKSTEP_STEPS batches of 10 of one shuffled order of MNIST's training set."""
    data = mnist.read_data_sets(mnist_dir, one_hot=False)
    order = np.random.default_rng(0).permutation(len(data.train.labels))[: LOCKSTEP_STEPS * 10]
    return data.train.images[order], data.train.labels[order].astype(np.int64)


@pytest.mark.parametrize(
    "engine_optimizer,reference_optimizer,clip_norm",
    [
        # TFLearn's DNN clips at a global norm of 5: every parameter takes the dense update.
        (lambda: mnistmlp.optimizers.Adam(0.001), lambda: ref.Adam(0.001), 5.0),
        # Without clipping, the first weight's Adam step is fused into the sparse backward pass.
        (lambda: mnistmlp.optimizers.Adam(0.001), lambda: ref.Adam(0.001), None),
        # (At 0.1, SGD on this network is chaotic: runs 4e-7 apart at step 550 are 1e-1
        # apart at step 1,500, from rounding alone.)
        (lambda: mnistmlp.optimizers.SGD(0.01), lambda: ref.SGD(0.01), 5.0),
    ],
    ids=["adam-clipped", "adam-fused", "sgd"],
)
def test_float32_training_follows_tensorflows_arithmetic(lockstep_batches, engine_optimizer, reference_optimizer,
                                                        clip_norm):
    """1,500 steps of the engine and of the NumPy reference (TensorFlow 1's float32 optimizer
    kernels) from the same weights over the same batches end within 1e-4 (relative L2) of each
    other: only the rounding of the gradients' sums differs (measured: Adam 1.3e-6 clipped and
    8e-7 fused, SGD 6e-8, on x86-64 and AArch64 alike). Adam with its step size in double,
    6.6e-6 too large at every step, ended 8e-2 to 1.1e-1 apart. So does the generic level of
    the portable x86-64 build (9e-2, clipped), whose sums round products and sums apart where
    TensorFlow's kernels fuse them: Adam's steps on near-zero gradients follow their rounding."""
    if mnistmlp.get_simd() == "generic" and not mnistmlp.get_config()["generic_fused"]:
        pytest.skip("this build's generic level rounds products and sums apart (its target has no "
                    "hardware fused multiply-add), where TensorFlow's kernels fuse them")
    X, y = lockstep_batches
    model = mnistmlp.MLP([784, 100, 100, 10], activation="relu", optimizer=engine_optimizer(),
                         weight_init="truncated_normal", clip_norm=clip_norm, seed=1)
    params = [(W.copy(), b.copy()) for W, b in model.get_weights()]
    model.fit(X, y, epochs=1, batch_size=10, shuffle=False, verbose=0)
    optimizer = reference_optimizer()
    # The gradients in float64, rounded to float32: the sums that fused multiply-adds come
    # closest to, whatever BLAS NumPy runs on (AArch64's OpenBLAS rounds products and sums
    # apart: with its float32 gradients the reference itself ended 9e-2 away).
    X64 = X.astype(np.float64)
    for first in range(0, len(X), 10):
        params64 = [(W.astype(np.float64), b.astype(np.float64)) for W, b in params]
        _, grads64 = ref.loss_and_gradients(params64, X64[first:first + 10], y[first:first + 10])
        grads = [(dW.astype(np.float32), db.astype(np.float32)) for dW, db in grads64]
        if clip_norm is not None:
            grads, _ = ref.clip_by_global_norm(grads, clip_norm)
        optimizer.step(params, grads)
    engine = flat(model.get_weights()).astype(np.float64)
    expected = flat(params).astype(np.float64)
    distance = np.linalg.norm(engine - expected) / np.linalg.norm(expected)
    assert distance < 1e-4, f"relative L2 distance {distance:.2e} after {LOCKSTEP_STEPS} steps"
