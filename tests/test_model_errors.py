"""Bad input gets a clear exception that names the problem; nothing crashes or hangs."""

import re

import numpy as np
import pytest

import mnistmlp
from _synthetic import mnist_like
from mnistmlp import _core
from mnistmlp._spec import ModelSpec
from mnistmlp.model import engine_config


@pytest.fixture(scope="module")
def model():
    return mnistmlp.MLP([784, 16, 10], seed=0, threads=1)


X_GOOD = np.zeros((20, 784), np.float32)
Y_GOOD = np.arange(20) % 10


@pytest.mark.parametrize(
    "X,y,error,match",
    [
        (np.zeros((20, 700), np.float32), Y_GOOD, ValueError, "700 features.*expects 784"),
        (np.zeros((20, 28, 27), np.float32), Y_GOOD, ValueError, "756 features"),
        (np.zeros(784, np.float32), Y_GOOD[:1], ValueError, r"one sample without a batch axis.*X\[None\]"),
        (np.zeros((2, 392), np.float32), Y_GOOD[:2], ValueError, "392 features.*expects 784"),
        (np.zeros((0, 784), np.float32), Y_GOOD[:0], ValueError, "no samples"),
        (np.full((20, 784), np.nan, np.float32), Y_GOOD, ValueError, "NaN or Inf"),
        (np.where(np.eye(20, 784) > 0, np.inf, 0).astype(np.float64), Y_GOOD, ValueError, "NaN or Inf"),
        (np.zeros((20, 784), np.int64), Y_GOOD, TypeError, "uint8, float32 or float64.*astype"),
        (np.zeros((20, 784), object), Y_GOOD, TypeError, "uint8, float32 or float64"),
        (X_GOOD, np.arange(20), ValueError, r"labels must lie in 0\.\.9"),
        (X_GOOD, -np.ones(20, int), ValueError, r"labels must lie in 0\.\.9"),
        (X_GOOD, Y_GOOD[:15], ValueError, "20 samples but y has 15"),
        (X_GOOD, np.zeros((20, 11)), ValueError, r"one-hot rows of shape \(20, 10\)"),
        (X_GOOD, np.full((20, 10), np.nan), ValueError, "NaN or Inf"),
        (X_GOOD, np.full(20, 0.5), ValueError, "whole numbers"),
        (X_GOOD, np.array(["a"] * 20), TypeError, "labels must be integers"),
    ],
)
def test_bad_training_data(model, X, y, error, match):
    with pytest.raises(error, match=match):
        model.fit(X, y, verbose=0)
    with pytest.raises(error, match=match):
        model.evaluate(X, y)


@pytest.mark.parametrize("batch_size,error", [(0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError)])
def test_bad_batch_size(model, batch_size, error):
    with pytest.raises(error, match="batch_size"):
        model.fit(X_GOOD, Y_GOOD, batch_size=batch_size, verbose=0)


def test_bad_epochs_and_validation_data(model):
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        model.fit(X_GOOD, Y_GOOD, epochs=0, verbose=0)
    with pytest.raises(ValueError, match="validation_data must be a tuple"):
        model.fit(X_GOOD, Y_GOOD, validation_data=X_GOOD, verbose=0)
    with pytest.raises(ValueError, match="700 features"):
        model.fit(X_GOOD, Y_GOOD, validation_data=(np.zeros((3, 700)), [1, 2, 3]), verbose=0)


def test_bad_prediction_input(model):
    with pytest.raises(ValueError, match="700 features"):
        model.predict_proba(np.zeros((3, 700)))
    with pytest.raises(ValueError, match="NaN"):
        model.predict(np.full((3, 784), np.nan))


@pytest.mark.parametrize("density", ["sparse", "dense"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_training_on_non_finite_input_fails_and_leaves_the_model_as_it_was(density, threads, optimizer):
    """The engine finds the NaN while it trains the epoch (no pass over X first), then puts
    back the parameters, optimizer state and counters the epoch started from."""
    rng = np.random.default_rng(1)
    X = rng.random((1500, 784), dtype=np.float32)
    if density == "sparse":
        X[rng.random(X.shape) < 0.8] = 0
    y = rng.integers(0, 10, 1500)
    model = mnistmlp.MLP([784, 16, 10], seed=0, threads=threads, optimizer=optimizer)
    model.fit(X, y, epochs=1, batch_size=600, verbose=0)
    before = [a.copy() for pair in model.get_weights() for a in pair]
    steps, epochs = model.steps_, model.epochs_
    bad = X.copy()
    bad[1234, 56] = np.nan
    bad[1400, 3] = np.inf
    with pytest.raises(ValueError, match=r"NaN or Inf \(first at row 1234, column 56\)"):
        model.fit(bad, y, epochs=3, batch_size=100, verbose=0)
    with pytest.raises(ValueError, match=r"NaN or Inf \(first at row 1234, column 56\)"):
        model.loss_and_gradients(bad, y)
    after = [a for pair in model.get_weights() for a in pair]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    assert (model.steps_, model.epochs_) == (steps, epochs)
    # ... and it trains on exactly as a model that never met the NaN.
    twin = mnistmlp.MLP([784, 16, 10], seed=0, threads=threads, optimizer=optimizer)
    twin.fit(X, y, epochs=1, batch_size=600, verbose=0)
    for m in (model, twin):
        m.fit(X, y, epochs=1, batch_size=100, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights()[0], twin.get_weights()[0]))


@pytest.mark.parametrize("density", ["sparse", "dense"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e300])
def test_inference_names_the_first_non_finite_input(density, bad):
    """predict and evaluate check inputs as the engine reads them, chunk by chunk, on any
    thread; 1e300 is Inf in float32."""
    rng = np.random.default_rng(0)
    X = rng.random((1500, 784))  # float64: converted as it is read
    if density == "sparse":
        X[rng.random(X.shape) < 0.8] = 0
    X[1234, 56] = bad
    X[1400, 3] = np.nan
    y = rng.integers(0, 10, 1500)
    for threads in (1, 2):
        model = mnistmlp.MLP([784, 16, 10], seed=0, threads=threads)
        with pytest.raises(ValueError, match=r"NaN or Inf \(first at row 1234, column 56\)"):
            model.predict_proba(X)
        with pytest.raises(ValueError, match=r"NaN or Inf \(first at row 1234, column 56\)"):
            model.evaluate(X, y)
        finite = X.copy()
        finite[1234, 56] = finite[1400, 3] = 0.5
        assert np.isfinite(model.predict_proba(finite)).all()


def test_inference_names_rows_as_the_caller_counts_them_past_its_first_block():
    """Long calls run in blocks of rows (2,048 for this network): a row in a later block is
    still named by its place in X."""
    X = np.zeros((6000, 784), np.float32)
    X[5000, 7] = np.nan
    model = mnistmlp.MLP([784, 1024, 10], seed=0, threads=2)
    with pytest.raises(ValueError, match=r"NaN or Inf \(first at row 5000, column 7\)"):
        model.predict_proba(X)
    with pytest.raises(ValueError, match=r"NaN or Inf \(first at row 5000, column 7\)"):
        model.evaluate(X, np.zeros(6000, int))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(activation="gelu"), r"activation\[0\] must be one of 'relu', 'sigmoid', .*, got \"gelu\""),
        (dict(output_activation="softplus"), "output_activation must be one of 'softmax', "),
        (dict(loss="hinge"), "loss must be one of 'categorical_crossentropy', 'mean_square', got \"hinge\""),
        (dict(optimizer="nadam"), "unknown optimizer 'nadam'; expected one of: sgd, momentum, adam, rmsprop, adagrad"),
        (dict(weight_init="orthogonal"), r"weight_init\[0\] must be one of"),
        (dict(loss="categorical_crossentropy", output_activation="sigmoid"), "needs output_activation 'softmax'"),
        (dict(dropout=1.0), r"dropout\[0\] must be a finite number in \[0, 1\), got 1.0"),
        (dict(weight_decay=-1), r"weight_decay\[0\] must be a finite number >= 0, got -1"),
        (dict(clip_norm=0), "clip_norm must be None or a finite number > 0, got 0"),
        (dict(learning_rate=-0.1), "learning_rate must be a finite number > 0, got -0.1"),
        (dict(dtype="float16"), "dtype must be one of 'float32', 'float64', got \"float16\""),
        (dict(threads=-1), "threads must be at least 0"),
        (dict(seed=-5), r"seed must be an integer in \[0, 18446744073709551615\], got -5"),
    ],
)
def test_bad_configuration(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mnistmlp.MLP([784, 16, 10], **kwargs)


@pytest.mark.parametrize("sizes,match", [([784], "at least an input and an output"), ([784, 0, 10], r"layer_sizes\[1\] must be an integer >= 1, got 0"), ([784, 2.5, 10], r"layer_sizes\[1\] must be an integer >= 1, got 2.5")])
def test_bad_layer_sizes(sizes, match):
    with pytest.raises((ValueError, TypeError), match=match):
        mnistmlp.MLP(sizes)


def test_bad_optimizer_objects():
    with pytest.raises(ValueError, match="momentum"):
        mnistmlp.optimizers.SGD(momentum=1.5)
    with pytest.raises(ValueError, match="nesterov=True needs a momentum"):
        mnistmlp.optimizers.SGD(nesterov=True)
    with pytest.raises(ValueError, match="both decay_rate and decay_steps"):
        mnistmlp.optimizers.SGD(decay_rate=0.5)
    with pytest.raises(ValueError, match="beta2"):
        mnistmlp.optimizers.Adam(beta2=1.0)
    with pytest.raises(TypeError, match="optimizer must be a name"):
        mnistmlp.MLP([4, 2], optimizer=42)


def test_bad_weights(model):
    with pytest.raises(ValueError, match=r"expected 2 \(W, b\) pairs"):
        model.set_weights([])
    weights = model.get_weights()
    with pytest.raises(ValueError, match=r"expected W of shape \(784, 16\)"):
        model.set_weights([(weights[0][0].T, weights[0][1]), weights[1]])
    bad = weights[0][0].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"^the weights of layer 0 hold NaN or Inf"):
        model.set_weights([(bad, weights[0][1]), weights[1]])


def test_engine_checks_what_it_relies_on():
    """The bindings refuse what would be unsafe even when the Python layer is bypassed."""
    engine = mnistmlp.MLP([4, 3], threads=1)._engine
    x = np.zeros((2, 4), np.float32)
    with pytest.raises(ValueError, match=r"^label 7 at row 1 is outside 0\.\.2"):
        engine.fit_epoch(x, np.array([0, 7], np.int32), 1, False)
    with pytest.raises(ValueError, match=r"^expected 4 input features per row, got 5"):
        engine.predict(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        engine.predict(np.zeros((4, 2), np.float32).T)
    with pytest.raises(ValueError, match="uint8, float32 or float64"):
        engine.predict(np.zeros((2, 4), np.int16))
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        engine.fit_epoch(x, np.array([0, 1], np.int32), 0, False)
    with pytest.raises(ValueError, match=r"^the model has no state 'velocity' \(it has params, grads, m, v\)"):
        engine.read_state(["params", "velocity"])
    with pytest.raises(ValueError, match=r"^layer 0 weight must be a float32 array of shape \(4, 3\)"):
        engine.write_state(["params"], [[(np.zeros((3, 4), np.float32), np.zeros(3, np.float32))]])
    with pytest.raises(ValueError, match=r"^step must be an integer in \[0, 2\*\*53\], got 9007199254740993"):
        engine.write_state([], [], {"step": 2**53 + 1, "epoch": 0, "loss_average": 0.0, "accuracy_average": 0.0})
    config = engine_config(ModelSpec.make([4, 3], output_activation="linear", loss="mean_square"))
    config.loss = "categorical_crossentropy"
    with pytest.raises(ValueError, match=r"^categorical_crossentropy needs a softmax output"):
        _core.Model32(config, 1)
    config = engine_config(ModelSpec.make([4, 3]))
    config.dropout = [0.5]
    with pytest.raises(ValueError, match=r"^no dropout on the output layer"):
        _core.Model32(config, 1)


# -- numbers that do not fit: divergence, overflow, counters ----------------------------------


def _state(model):
    training, sections = model._engine.read_state(["params", "grads", *model._engine.state_slot_names])
    return training, [a.tobytes() for section in sections for pair in section for a in pair]


@pytest.mark.parametrize(
    "settings,learning_rate,what",
    [
        # Cross-entropy's gradient is bounded: the weights grow until they no longer fit.
        (dict(), 1e6, r"the weights of layer \d hold -?[0-9.e+]+, too large for float32 \(at most 1.84467e\+19 in "
                      r"magnitude, whose square is still finite\)"),
        # A squared error's gradient grows with the error: the loss overflows within batches.
        (dict(output_activation="linear", loss="mean_square"), 100, r"the loss of batch \d+ \(step \d+\) is inf"),
    ],
)
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_diverged_training_raises_and_leaves_the_model_as_before(settings, learning_rate, what, momentum, tmp_path):
    X, y = mnist_like(600, labels="random")
    optimizer = mnistmlp.optimizers.SGD(learning_rate, momentum=momentum)
    model = mnistmlp.MLP([784, 100, 10], optimizer=optimizer, seed=0, threads=2, **settings)
    before = _state(model)
    with pytest.raises(FloatingPointError, match=(
            rf"^training diverged in epoch 1: {what}\. The model is back as it was before this epoch\. "
            rf"Lower the learning rate \(now {re.escape(format(learning_rate, 'g'))}\) or clip the gradients \(clip_norm\)")):
        model.fit(X, y, epochs=3, batch_size=10, verbose=0)
    assert _state(model) == before and model.steps_ == 0 and model.epochs_ == 0
    # A model that failed to train is still a model the library can save and load.
    model.save(tmp_path / "m.safetensors")
    assert _state(mnistmlp.MLP.load(tmp_path / "m.safetensors")) == before


def test_progress_reports_stop_before_a_diverged_batch():
    X, y = mnist_like(3000, labels="random")
    model = mnistmlp.MLP([784, 100, 10], output_activation="linear", loss="mean_square",
                         optimizer=mnistmlp.optimizers.SGD(100), seed=0, threads=2)
    reports = []
    with pytest.raises(FloatingPointError, match=r"the loss of batch (\d+) \(step \1\) is inf"):
        model._engine.fit_epoch(X, y.astype(np.int32), 10, True, lambda p: reports.append(p.epoch_loss), 0.0)
    assert reports and np.isfinite(reports).all()
    assert model.steps_ == 0


def test_divergence_in_a_later_epoch_undoes_only_that_epoch():
    X, y = mnist_like(600, labels="random")
    model = mnistmlp.MLP([784, 32, 10], output_activation="linear", loss="mean_square", optimizer="sgd", seed=0,
                         threads=1)
    model.fit(X, y, epochs=1, batch_size=10, verbose=0)
    # Weights so large that the next epoch's squared error overflows float32.
    model.set_weights([(W * 1e15, b) for W, b in model.get_weights()])
    before = _state(model)
    with pytest.raises(FloatingPointError, match=r"training diverged in epoch 2: the loss of batch 1 \(step 61\) is inf"):
        model.fit(X, y, epochs=1, batch_size=10, verbose=0)
    assert _state(model) == before and model.epochs_ == 1 and model.steps_ == 60


@pytest.mark.parametrize("dtype,value", [("float32", 3e38), ("float32", 2e19), ("float64", 1e200)])
def test_weights_too_large_to_square_are_refused(dtype, value, tmp_path):
    model = mnistmlp.MLP([784, 4, 10], dtype=dtype, seed=0)
    weights = model.get_weights()
    before = _state(model)
    huge = weights[1][0].copy()
    huge[2, 3] = -value
    with pytest.raises(ValueError, match="^" + re.escape(f"the weights of layer 1 hold -{value:g}, too large for {dtype}")):
        model.set_weights([weights[0], (huge, weights[1][1])])
    assert _state(model) == before  # refused whole: layer 0 was not changed either


@pytest.mark.filterwarnings("ignore:X holds float values far outside:RuntimeWarning")  # 1e37 on purpose
def test_outputs_that_overflow_raise_instead_of_returning_nan():
    model = mnistmlp.MLP([784, 4, 10], seed=0, threads=1)
    model.set_weights([(np.ones((784, 4)), np.zeros(4)), (np.tile([1.0, -1.0], (4, 5)), np.zeros(10))])
    X = np.full((3, 784), 1e37, np.float32)
    X[0] = 0.5
    with pytest.raises(FloatingPointError, match=r"^the model's outputs overflow to NaN or Inf \(first at row 1\)"):
        model.predict_proba(X)
    with pytest.raises(FloatingPointError, match=r"^the loss overflows to NaN or Inf"):
        model.evaluate(X, np.zeros(3, int))
    assert np.isfinite(model.predict_proba(X[:1])).all()


def test_a_loss_that_overflows_in_evaluate_raises():
    model = mnistmlp.MLP([784, 4, 2], output_activation="linear", loss="mean_square", seed=0)
    X = np.zeros((2, 784), np.float32)
    assert np.isfinite(model.evaluate(X, np.ones((2, 2)))["loss"])
    with pytest.raises(FloatingPointError, match="the loss overflows"):
        model.evaluate(X, np.full((2, 2), 1e30))


def test_training_counters_stop_at_their_limit():
    X, y = mnist_like(100, labels="random")
    model = mnistmlp.MLP([784, 8, 10], seed=0)
    training, layers = model._engine.read_state(["params"])
    model._engine.write_state([], [], dict(training, step=_core.COUNTER_LIMIT - 5))
    before = _state(model)
    with pytest.raises(OverflowError, match=r"^the model has trained 0 epochs and 9007199254740987 steps: "
                                            r"another epoch would take its counters past 2\*\*53"):
        model.fit(X, y, batch_size=10, verbose=0)
    assert _state(model) == before
    model.fit(X[:50], y[:50], batch_size=10, verbose=0)  # exactly up to the limit is fine
    assert model.steps_ == _core.COUNTER_LIMIT
    for counter in ("step", "epoch"):
        with pytest.raises(ValueError, match=rf"{counter} must be an integer in \[0, 2\*\*53\], got 9223372036854775807"):
            model._engine.write_state([], [], dict(training, **{counter: 2**63 - 1}))


def test_engine_refuses_optimizer_state_no_training_could_leave():
    model = mnistmlp.MLP([784, 4, 10], optimizer="adam", seed=0)
    training, (params, m, v) = model._engine.read_state(["params", "m", "v"])
    v[1] = (v[1][0], np.full_like(v[1][1], -1.0))
    with pytest.raises(ValueError, match=r"the optimizer state 'v' of layer 1's biases hold -1 \(a sum of squares, which must be >= 0\)"):
        model._engine.write_state(["v"], [v])
    m[0] = (np.full_like(m[0][0], np.inf), m[0][1])
    with pytest.raises(ValueError, match=r"the optimizer state 'm' of layer 0's weights hold NaN or Inf"):
        model._engine.write_state(["m"], [m])
    adagrad = mnistmlp.MLP([784, 4, 10], optimizer="adagrad", seed=0)
    _, (accumulator,) = adagrad._engine.read_state(["accumulator"])
    accumulator[0] = (np.zeros_like(accumulator[0][0]), accumulator[0][1])
    with pytest.raises(ValueError, match=r"the optimizer state 'accumulator' of layer 0's weights hold 0 \(an accumulator of squares, which must be > 0\)"):
        adagrad._engine.write_state(["accumulator"], [accumulator])
    assert model._engine.state_problem() == ""


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: mnistmlp.optimizers.SGD(0.1, decay_rate=1.5, decay_steps=10), r"decay_rate must be None or a finite number in \(0, 1\], got 1.5"),
        (lambda: mnistmlp.optimizers.Adam(epsilon=float("inf")), "epsilon must be a finite number > 0"),
        (lambda: mnistmlp.optimizers.Adam(epsilon=0.0), "epsilon must be a finite number > 0"),
        (lambda: mnistmlp.optimizers.SGD(0.1, decay_rate=0.5, decay_steps=float("inf")), "decay_steps must be None or a finite number > 0, got inf"),
    ],
)
def test_optimizer_settings_that_diverge_or_divide_by_zero_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_engine_refuses_the_same_optimizer_settings():
    """ModelConfig::validate stays the engine's last word, whatever Python lets through."""
    with pytest.raises(ValueError, match=r"^decay_rate must be in \(0, 1\], got 1.5"):
        _core.OptimizerConfig("sgd", learning_rate=0.1, decay_rate=1.5, decay_steps=10.0)
    with pytest.raises(ValueError, match=r"^epsilon must be a finite number > 0, got inf"):
        _core.OptimizerConfig("adam", learning_rate=0.1, beta1=0.9, beta2=0.999, epsilon=float("inf"))
    with pytest.raises(ValueError, match=r"^the engine's optimizers have no setting 'rho'"):
        _core.OptimizerConfig("rmsprop", learning_rate=0.1, rho=0.9)
    config = engine_config(ModelSpec.make([4, 3], optimizer="adam"))
    config.optimizer.epsilon = 0.0
    with pytest.raises(ValueError, match=r"^epsilon must be a finite number > 0, got 0"):
        _core.Model32(config, 1)
