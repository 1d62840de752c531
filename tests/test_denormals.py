"""Training flushes subnormal floats to zero by default (like TensorFlow on CPU), and only
there: mnistmlp.set_flush_denormal."""

import numpy as np
import pytest
import safetensors.numpy

import mnistmlp

pytestmark = pytest.mark.skipif(
    not mnistmlp.get_config()["flush_denormal_supported"], reason="this CPU build has no flush-to-zero mode"
)

TINY = np.finfo(np.float32).tiny  # the smallest normal float32


@pytest.fixture
def flush_setting():
    before = mnistmlp.get_flush_denormal()
    yield
    mnistmlp.set_flush_denormal(before)


def decayed_adam_moments(flush, dense, tmp_path):
    """Adam's first moment of weights whose input was nonzero once, then zero for 800 steps:
    it decays by beta1 = 0.9 per step, through the subnormal range."""
    mnistmlp.set_flush_denormal(flush)
    rng = np.random.default_rng(0)
    X = rng.random((8, 20)).astype(np.float32) * (1.0 if dense else (rng.random((8, 20)) < 0.2))
    X[:, 0] = 1.0
    y = rng.integers(0, 3, 8)
    model = mnistmlp.MLP([20, 6, 3], optimizer="adam", seed=0, threads=1)
    model.fit(X, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    X[:, 0] = 0.0
    model.fit(X, y, epochs=800, batch_size=8, shuffle=False, verbose=0)
    path = tmp_path / f"model-{flush}-{dense}.safetensors"
    model.save(path)
    return safetensors.numpy.load_file(str(path))["optimizer.m.layers.0.weight"][0]


def _subnormal(values):
    return (values != 0) & (np.abs(values) < TINY)


@pytest.mark.parametrize("dense", [False, True], ids=["sparse-inputs", "dense-inputs"])
def test_training_flushes_subnormals_by_default_and_not_when_told(flush_setting, dense, tmp_path):
    assert mnistmlp.get_flush_denormal() is True  # the default
    flushed = decayed_adam_moments(True, dense, tmp_path)
    kept = decayed_adam_moments(False, dense, tmp_path)
    assert _subnormal(kept).any(), "the test needs moments that decay into the subnormal range"
    assert not _subnormal(flushed).any()
    # Flushing changes only moments that went subnormal without it. (TensorFlow's float32 step
    # m += (0 - m) * (1 - beta1) leaves them just above the smallest normal float, where the
    # decrement itself would be subnormal and becomes zero.)
    assert np.all((flushed == kept) | _subnormal(kept))


def test_flags_do_not_leak_into_python(flush_setting):
    mnistmlp.set_flush_denormal(True)
    X = np.random.default_rng(0).random((64, 10)).astype(np.float32)
    mnistmlp.MLP([10, 4, 2], optimizer="adam", threads=1).fit(X, np.arange(64) % 2, epochs=2, verbose=0)
    for dtype in (np.float32, np.float64):
        tiny = np.finfo(dtype).tiny
        assert tiny / dtype(16) * dtype(16) == tiny  # this thread still computes subnormals


def test_setting_is_checked(flush_setting):
    assert mnistmlp.set_flush_denormal(False) is True
    assert mnistmlp.get_flush_denormal() is False
    assert mnistmlp.get_config()["flush_denormal"] is False
    assert mnistmlp.set_flush_denormal(np.bool_(True)) is True and mnistmlp.get_flush_denormal() is True
    with pytest.raises(TypeError, match="mode must be True or False"):
        mnistmlp.set_flush_denormal("no")
