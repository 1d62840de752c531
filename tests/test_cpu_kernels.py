"""The CPU's single operations (``_core.kernels``) against mnistmlp.reference and NumPy: the
optimizer step at any step number, with state and clipping, at every SIMD level."""

import numpy as np
import pytest

import mnistmlp
from mnistmlp import _core
from mnistmlp import reference as ref
from mnistmlp._config import SIMD_LEVELS

SUPPORTED = mnistmlp.get_config()["simd_supported"]
RUNNABLE = SIMD_LEVELS[: SIMD_LEVELS.index(SUPPORTED) + 1]


@pytest.fixture(params=RUNNABLE)
def simd(request):
    """Runs a test at each SIMD level this CPU has, then restores the level in use."""
    before = mnistmlp.get_simd()
    assert mnistmlp.set_simd(request.param)
    yield request.param
    assert mnistmlp.set_simd(before)


# ---- the optimizer step ----------------------------------------------------------------------

# (the kernel's settings, the reference optimizer)
OPTIMIZERS = {
    "sgd": (dict(optimizer="sgd", learning_rate=0.1), lambda: ref.SGD(0.1)),
    "momentum": (dict(optimizer="sgd", learning_rate=0.1, momentum=0.9), lambda: ref.SGD(0.1, momentum=0.9)),
    "nesterov": (dict(optimizer="sgd", learning_rate=0.1, momentum=0.9, nesterov=True),
                 lambda: ref.SGD(0.1, momentum=0.9, nesterov=True)),
    "decay": (dict(optimizer="sgd", learning_rate=0.1, decay_rate=0.96, decay_steps=3),
              lambda: ref.SGD(0.1, decay_rate=0.96, decay_steps=3)),
    "staircase": (dict(optimizer="sgd", learning_rate=0.1, decay_rate=0.96, decay_steps=3, staircase=True),
                  lambda: ref.SGD(0.1, decay_rate=0.96, decay_steps=3, staircase=True)),
    "adam": (dict(optimizer="adam", learning_rate=0.01), lambda: ref.Adam(0.01)),
    "adam_settings": (dict(optimizer="adam", learning_rate=0.003, beta1=0.8, beta2=0.99, epsilon=1e-6),
                      lambda: ref.Adam(0.003, beta1=0.8, beta2=0.99, epsilon=1e-6)),
}

# One layer of 9 x 1001 weights and 1001 biases: 10,010 parameters, so two full chunks of
# 4096 and a third of 1818, which ends past its last whole vector (of 8 or 16 floats).
LAYER = (9, 1001)


def optimizer_problem(name, dtype, seed=0):
    """Parameters, gradients and non-zero optimizer state (m of both signs, v >= 0)."""
    rng = np.random.default_rng(seed)
    n = (LAYER[0] + 1) * LAYER[1]
    params = rng.normal(size=n).astype(dtype)
    # Gradients over many scales, and some exact zeros (MNIST's unused pixels).
    grads = (rng.normal(size=n) * 10.0 ** rng.uniform(-6, 1, n)).astype(dtype)
    grads[rng.random(n) < 0.1] = 0
    settings, _ = OPTIMIZERS[name]
    if settings["optimizer"] == "adam":
        states = [(rng.normal(size=n) * 0.1).astype(dtype), (rng.random(n) * 0.01).astype(dtype)]
    elif settings.get("momentum"):
        states = [rng.normal(size=n).astype(dtype), None]
    else:
        states = [None, None]
    return params, grads, states


def as_layer(flat):
    W, b = flat[: LAYER[0] * LAYER[1]], flat[LAYER[0] * LAYER[1]:]
    return [(W.reshape(LAYER).copy(), b.copy())]


def flatten(pairs):
    return np.concatenate([a.ravel() for pair in pairs for a in pair])


def reference_update(name, params, grads, states, step, clip):
    """The reference optimizer's update number step + 1 from the same state, the gradients
    scaled by `clip` first (in their dtype, as clip_by_global_norm scales them)."""
    optimizer = OPTIMIZERS[name][1]()
    optimizer.t = step
    slots = ("m", "v") if isinstance(optimizer, ref.Adam) else ("velocity",) if optimizer.momentum else ()
    for slot, state in zip(slots, states):
        setattr(optimizer, slot, list(as_layer(state)[0]))
    layer = as_layer(params)
    optimizer.step(layer, [(W * clip, b * clip) for W, b in as_layer(grads)])
    new_states = [flatten([getattr(optimizer, slot)]) for slot in slots]
    return flatten(layer), new_states + [None] * (2 - len(new_states))


@pytest.mark.parametrize("clip", [1.0, 0.7])
@pytest.mark.parametrize("step", [0, 7, 300, 20_000])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_float32_optimizer_update_is_the_references_bit_for_bit(simd, name, step, clip):
    """float32 steps are TensorFlow's float32 kernels, every operation rounded as the NumPy
    reference rounds it: the same bits at every SIMD level, in vector bodies and tails alike.
    Steps 300 and 20,000 are past where 1 - beta1^t and then 1 - beta2^t round to 1."""
    params, grads, states = optimizer_problem(name, np.float32, seed=step)
    settings, _ = OPTIMIZERS[name]
    got = _core.kernels.optimizer_update(params, grads, *states, step=step, clip=clip, **settings)
    expected_params, expected_states = reference_update(name, params, grads, states, step, clip)
    np.testing.assert_array_equal(got[0], expected_params)
    for got_state, expected_state in zip(got[1:], expected_states):
        assert (got_state is None) == (expected_state is None)
        if got_state is not None:
            np.testing.assert_array_equal(got_state, expected_state)


@pytest.mark.parametrize("clip", [1.0, 0.7])
@pytest.mark.parametrize("step", [0, 7, 20_000])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_float64_optimizer_update_matches_the_reference(name, step, clip):
    params, grads, states = optimizer_problem(name, np.float64, seed=step)
    settings, _ = OPTIMIZERS[name]
    got = _core.kernels.optimizer_update(params, grads, *states, step=step, clip=clip, **settings)
    expected_params, expected_states = reference_update(name, params, grads, states, step, clip)
    # The engine's float64 steps may fuse multiply-adds, NumPy's do not.
    np.testing.assert_allclose(got[0], expected_params, rtol=1e-13, atol=1e-16)
    for got_state, expected_state in zip(got[1:], expected_states):
        if expected_state is not None:
            np.testing.assert_allclose(got_state, expected_state, rtol=1e-13, atol=1e-16)


def test_float32_adam_steps_take_tensorflows_step_size():
    """Update t's step size is TensorFlow's float32 alpha from the running float32 powers:
    at steps either side of where 1 - beta1^t (t = 165) and 1 - beta2^t (t = 17,321) round
    to 1, taken in any order (as another model's steps would come between a model's). With
    m = 1, v = 0 and no gradient, the weight moves by exactly (m' alpha) / epsilon."""
    m_next = np.float32(1) + np.float32(-1) * (np.float32(1) - np.float32(0.9))
    for step in [0, 1, 2, 50, 165, 164, 163, 999, 17_321, 17_320, 17_319, 60_000, 3]:
        alpha = ref.Adam(0.001).step_size(step + 1, np.float32)
        zeros = np.zeros(8, np.float32)
        got, _, _ = _core.kernels.optimizer_update(zeros, zeros, np.ones(8, np.float32), zeros, optimizer="adam",
                                                   learning_rate=0.001, step=step)
        np.testing.assert_array_equal(got, -((m_next * alpha) / np.float32(1e-8)), err_msg=f"step {step}")
