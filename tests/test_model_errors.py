"""Bad input gets a clear exception that names the problem; nothing crashes or hangs."""

import numpy as np
import pytest

import mnistmlp
from mnistmlp import _core


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
        (np.zeros(784, np.float32), Y_GOOD[:1], ValueError, r"shape \(n_samples, 784\)"),
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


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(activation="gelu"), "unknown activation 'gelu'"),
        (dict(output_activation="softplus"), "unknown output_activation"),
        (dict(loss="hinge"), "unknown loss 'hinge'"),
        (dict(optimizer="rmsprop"), "unknown optimizer 'rmsprop'"),
        (dict(weight_init="orthogonal"), "unknown weight_init"),
        (dict(loss="categorical_crossentropy", output_activation="sigmoid"), "needs output_activation 'softmax'"),
        (dict(dropout=1.0), r"dropout must be in \[0, 1\)"),
        (dict(weight_decay=-1), "weight_decay"),
        (dict(clip_norm=0), "clip_norm"),
        (dict(learning_rate=-0.1), "learning_rate"),
        (dict(dtype="float16"), "dtype must be 'float32' or 'float64'"),
        (dict(threads=-1), "threads must be at least 0"),
        (dict(seed=-5), "seed must be at least 0"),
    ],
)
def test_bad_configuration(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mnistmlp.MLP([784, 16, 10], **kwargs)


@pytest.mark.parametrize("sizes,match", [([784], "at least an input and an output"), ([784, 0, 10], r"layer_sizes\[1\] must be at least 1"), ([784, 2.5, 10], "must be an integer")])
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
    with pytest.raises(ValueError, match=r"\[MLP.set_weights\] the weights of layer 0 hold NaN or Inf"):
        model.set_weights([(bad, weights[0][1]), weights[1]])


def test_engine_checks_what_it_relies_on():
    """The bindings refuse what would be unsafe even when the Python layer is bypassed."""
    engine = mnistmlp.MLP([4, 3], threads=1)._engine
    x = np.zeros((2, 4), np.float32)
    with pytest.raises(ValueError, match=r"\[fit_epoch\] label 7 at row 1 is outside 0\.\.2"):
        engine.fit_epoch(x, np.array([0, 7], np.int32), 1, False)
    with pytest.raises(ValueError, match=r"\[predict\] expected 4 input features per row, got 5"):
        engine.predict(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        engine.predict(np.zeros((4, 2), np.float32).T)
    with pytest.raises(ValueError, match="uint8, float32 or float64"):
        engine.predict(np.zeros((2, 4), np.int16))
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        engine.fit_epoch(x, np.array([0, 1], np.int32), 0, False)
    with pytest.raises(ValueError, match=r"\[read_state\] no arena section 4 \(this optimizer keeps 2 state slots\)"):
        engine.read_state([0, 4])
    with pytest.raises(ValueError, match=r"\[write_state\] layer 0 weight must be a float32 array of shape \(4, 3\)"):
        engine.write_state([0], [[(np.zeros((3, 4), np.float32), np.zeros(3, np.float32))]])
    with pytest.raises(ValueError, match=r"\[write_state\] step must be an integer in \[0, 2\*\*53\], got 9007199254740993"):
        engine.write_state([], [], {"step": 2**53 + 1, "epoch": 0, "loss_average": 0.0, "accuracy_average": 0.0})
    with pytest.raises(ValueError, match=r"\[model\] categorical_crossentropy needs a softmax output"):
        _core.Model32([4, 3], ["linear"], "categorical_crossentropy", [0.0], [0.0], 0.0, "sgd", 0.1, 0.0, False,
                      1.0, 1.0, False, 0.9, 0.999, 1e-8, 0, 1)
    with pytest.raises(ValueError, match=r"\[model\] no dropout on the output layer"):
        _core.Model32([4, 3], ["softmax"], "categorical_crossentropy", [0.5], [0.0], 0.0, "sgd", 0.1, 0.0, False,
                      1.0, 1.0, False, 0.9, 0.999, 1e-8, 0, 1)
