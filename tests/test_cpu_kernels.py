"""The CPU's single operations (``_core.kernels``) against mnistmlp.reference and NumPy: the
optimizer step at any step number, with state and clipping, at every SIMD level; the fused
output activation and loss; dropout masks; sums of squares across the 4096-element chunks. And
the fast kernels against their naive twins, at every SIMD level, within float rounding: the
dense layer forward and backward (weight decay, previous activation, dropout) and the float32
product, either operand transposed, over shapes that end past every block edge."""

import numpy as np
import pytest

import mnistmlp
from _gradients import flat
from mnistmlp import _core
from mnistmlp import reference as ref
from mnistmlp._config import SIMD_LEVELS
from mnistmlp._spec import ACTIVATIONS, LEAKY_RELU_ALPHA
from mnistmlp.model import engine_optimizer

SUPPORTED = mnistmlp.get_config()["simd_supported"]
RUNNABLE = SIMD_LEVELS[: SIMD_LEVELS.index(SUPPORTED) + 1]


@pytest.fixture(params=RUNNABLE)
def simd(request):
    """Runs a test at each SIMD level this CPU has, then restores the level in use."""
    before = mnistmlp.get_simd()
    mnistmlp.set_simd(request.param)
    yield request.param
    mnistmlp.set_simd(before)


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
    "rmsprop": (dict(optimizer="rmsprop", learning_rate=0.01, decay=0.9, epsilon=1e-10), lambda: ref.RMSProp(0.01)),
    "rmsprop_momentum": (dict(optimizer="rmsprop", learning_rate=0.01, decay=0.8, momentum=0.5, epsilon=1e-6),
                         lambda: ref.RMSProp(0.01, decay=0.8, momentum=0.5, epsilon=1e-6)),
    "adagrad": (dict(optimizer="adagrad", learning_rate=0.05, initial_accumulator_value=0.1),
                lambda: ref.AdaGrad(0.05)),
}


def test_the_step_table_covers_every_kind_of_update():
    assert {config_of(settings).kind for settings, _ in OPTIMIZERS.values()} == set(_core.known_names()["optimizer"])


# The reference's name for each state slot the engine names.
SLOTS = {"sgd": ("velocity",), "adam": ("m", "v"), "rmsprop": ("ms", "mom"), "adagrad": ("accumulator",)}


def config_of(settings):
    """The engine's configuration of a kernel test's settings (the optimizer's defaults for
    the rest, as MLP would give it)."""
    settings = dict(settings)
    return engine_optimizer(mnistmlp.optimizers.OPTIMIZERS[settings.pop("optimizer")](**settings))


def slots_of(settings):
    kind = settings["optimizer"]
    return SLOTS[kind] if kind != "sgd" or settings.get("momentum") else ()

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
    # Each slot's state: signed (m, velocity, mom), or a positive sum of squares (v, ms, accumulator).
    signed = {"velocity": True, "m": True, "v": False, "ms": False, "mom": True, "accumulator": False}
    states = [(rng.normal(size=n) * 0.1 if signed[slot] else 0.01 + rng.random(n) * 0.1).astype(dtype)
              for slot in slots_of(settings)]
    return params, grads, states + [None] * (2 - len(states))


def as_layer(vector):
    W, b = vector[: LAYER[0] * LAYER[1]], vector[LAYER[0] * LAYER[1]:]
    return [(W.reshape(LAYER).copy(), b.copy())]


def reference_update(name, params, grads, states, step, clip):
    """The reference optimizer's update number step + 1 from the same state, the gradients
    scaled by `clip` first (in their dtype, as clip_by_global_norm scales them)."""
    optimizer = OPTIMIZERS[name][1]()
    optimizer.t = step
    slots = slots_of(OPTIMIZERS[name][0])
    for slot, state in zip(slots, states):
        setattr(optimizer, slot, list(as_layer(state)[0]))
    layer = as_layer(params)
    optimizer.step(layer, [(W * clip, b * clip) for W, b in as_layer(grads)])
    new_states = [flat([getattr(optimizer, slot)]) for slot in slots]
    return flat(layer), new_states + [None] * (2 - len(new_states))


@pytest.mark.parametrize("clip", [1.0, 0.7])
@pytest.mark.parametrize("step", [0, 7, 300, 20_000])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_float32_optimizer_update_is_the_references_bit_for_bit(simd, name, step, clip):
    """float32 steps are TensorFlow's float32 kernels, every operation rounded as the NumPy
    reference rounds it: the same bits at every SIMD level, in vector bodies and tails alike.
    Steps 300 and 20,000 are past where 1 - beta1^t and then 1 - beta2^t round to 1."""
    params, grads, states = optimizer_problem(name, np.float32, seed=step)
    settings, _ = OPTIMIZERS[name]
    got = _core.kernels.optimizer_update(params, grads, *states, config=config_of(settings), step=step, clip=clip)
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
    got = _core.kernels.optimizer_update(params, grads, *states, config=config_of(settings), step=step, clip=clip)
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
        got, _, _ = _core.kernels.optimizer_update(zeros, zeros, np.ones(8, np.float32), zeros,
                                                   config=config_of(dict(optimizer="adam", learning_rate=0.001)),
                                                   step=step)
        np.testing.assert_array_equal(got, -((m_next * alpha) / np.float32(1e-8)), err_msg=f"step {step}")


# ---- the fused output activation and loss --------------------------------------------------

COMBINATIONS = [("softmax", "categorical_crossentropy")] + [
    (output, "mean_square") for output in ("softmax", "linear", "relu", "sigmoid", "tanh")]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("targets", ["labels", "one_hot", "soft"])
@pytest.mark.parametrize("output,loss", COMBINATIONS)
@pytest.mark.parametrize("B", [1, 37])
def test_output_loss_matches_the_reference(B, output, loss, targets, dtype):
    """dz, the output activations, each row's loss and whether it is right, against the
    reference's loss and gradient: one linear layer whose weight is the logits, fed the
    identity, has z = logits and dW = dz."""
    K = 10
    rng = np.random.default_rng(B)
    logits = rng.normal(scale=3, size=(B, K)).astype(dtype)
    labels = rng.integers(0, K, B)
    y = {
        "labels": labels.astype(np.int32),
        "one_hot": np.eye(K, dtype=dtype)[labels],
        "soft": rng.dirichlet(np.ones(K), B).astype(dtype),
    }[targets]
    dz, out, row_loss, correct = _core.kernels.output_loss(logits, y, output, loss)
    layer = [(logits.copy(), np.zeros(K, dtype))]
    identity = np.eye(B, dtype=dtype)
    loss_value, ((expected_dz, _),) = ref.loss_and_gradients(layer, identity, y, output_activation=output, loss=loss)
    expected_out = ref.predict_proba(layer, identity, output_activation=output)
    rtol, atol = (1e-13, 1e-15) if dtype == np.float64 else (2e-6, 1e-7)
    np.testing.assert_allclose(out, expected_out, rtol=rtol, atol=atol)
    np.testing.assert_allclose(dz, expected_dz, rtol=rtol, atol=atol)
    # Row losses, unscaled: their mean (cross-entropy) or mean over K too (mean square) is the loss.
    scale = 1 / B if loss == "categorical_crossentropy" else 1 / (B * K)
    assert row_loss.sum(dtype=np.float64) * scale == pytest.approx(loss_value, rel=rtol * 10, abs=atol)
    for i in range(B):
        row = [(logits[i:i + 1].copy(), np.zeros(K, dtype))]
        one = ref.loss_and_gradients(row, np.eye(1, dtype=dtype), y[i:i + 1], output_activation=output, loss=loss)[0]
        assert row_loss[i] == pytest.approx(one * (K if loss == "mean_square" else 1), rel=rtol * 10, abs=atol)
    target_class = labels if targets == "labels" else y.argmax(axis=1)
    np.testing.assert_array_equal(correct, expected_out.argmax(axis=1) == target_class)


# ---- dropout -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
def test_dropout_drops_a_fraction_rate_and_scales_the_rest_by_1_over_1_minus_rate(rate, dtype):
    act = np.random.default_rng(0).normal(size=(400, 250)).astype(dtype)
    dropped, scale = _core.kernels.dropout_forward(act, rate, 7, 3, 1)
    keep = dtype(1.0 / (1.0 - rate))
    assert set(np.unique(scale)) == {dtype(0), keep}
    np.testing.assert_array_equal(dropped, act * scale)
    n = act.size
    kept = np.count_nonzero(scale)
    sigma = np.sqrt(n * rate * (1 - rate))
    assert abs(kept - n * (1 - rate)) < 5 * sigma, (kept, n * (1 - rate))
    # Rows and columns alike: no unit or sample kept far more often than the others.
    assert abs(np.count_nonzero(scale[:, :125]) - kept / 2) < 5 * sigma
    assert abs(np.count_nonzero(scale[:200]) - kept / 2) < 5 * sigma


def test_dropout_masks_are_keyed_by_seed_step_layer_and_place():
    act = np.ones((64, 100), np.float32)
    _, base = _core.kernels.dropout_forward(act, 0.5, 7, 3, 1)
    np.testing.assert_array_equal(_core.kernels.dropout_forward(act, 0.5, 7, 3, 1)[1], base)
    for seed, step, layer in [(8, 3, 1), (7, 4, 1), (7, 3, 2)]:
        _, other = _core.kernels.dropout_forward(act, 0.5, seed, step, layer)
        assert 0.4 < np.mean(other != base) < 0.6  # independent masks
    # Element i's mask depends on i alone, not on how many elements there are.
    _, part = _core.kernels.dropout_forward(act[:13], 0.5, 7, 3, 1)
    np.testing.assert_array_equal(part, base[:13])


# ---- sums of squares ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 4095, 4096, 4097, 8191, 8192, 8193, 100_003])
def test_sum_of_squares_counts_every_element_once(n, dtype):
    """Accumulated in double over chunks of 4096: an element lost or counted twice at a
    chunk's edge would move the sum by about 1/n of itself."""
    x = np.random.default_rng(n).normal(size=n).astype(dtype)
    expected = float(np.sum(x.astype(np.float64) ** 2))
    assert _core.kernels.sum_of_squares(x) == pytest.approx(expected, rel=1e-13)
    for edge in {0, n // 2, n - 1}:  # one element made to stand out
        y = x.copy()
        y[edge] = 1000
        assert _core.kernels.sum_of_squares(y) == pytest.approx(expected - float(x[edge]) ** 2 + 1e6, rel=1e-13)


# ---- the fast kernels against their naive twins ------------------------------------------------
#
# The fast kernels (float32: the packed GEMM of each SIMD level; float64: blocked loops that skip
# zero inputs) and the naive triple loops add the same products in other orders, with and
# without fused multiply-adds. However it is ordered, a sum of n products computed in floating
# point is within gamma_n * sum |products| of the exact one, gamma_n = n u / (1 - n u), u the
# unit roundoff (2**-24 for float32, 2**-53 for float64) [Higham, Accuracy and Stability of
# Numerical Algorithms, 2nd ed., section 3.1]: fast and naive may differ by twice that. A few
# roundings after the sum (the bias or the weight decay added, a dropout multiplier and an
# activation derivative at most 1 applied) count as terms. The activations are 1-Lipschitz, and
# their own rounding (vector and scalar exp or tanh differ by a few units in the last place)
# adds 8 u (1 + |a|).

# (B, IN, OUT), each a product's (M, K, N) in the GEMM test. float32 register blocks are
# MR x NR = 4 x 16, 6 x 16 or 12 x 32 by level; packed blocks 96 rows x 384 deep x 256 columns.
# float64 blocks are 4 rows x 32 columns in row tiles of 16 and column tiles of 64.
FAST_NAIVE_SHAPES = [
    (1, 1, 1),
    (5, 3, 7),          # smaller than any block
    (13, 17, 33),       # one past 12, 16 and 32: a partial block on every side
    (97, 385, 257),     # one past a packed block in rows, depth and columns
    (385, 65, 97),      # the batch, dW's depth, one past a depth block; 65 past a column tile
    (10, 40, 600),      # short and wide: column tiles; dX's depth, 600, spans two blocks
    (200, 784, 100),    # tall enough for a run of rows per thread (MNIST's first layer)
]


def unit_roundoff(dtype):
    return float(np.finfo(dtype).eps) / 2


def summation_bound(dtype, terms, magnitude):
    """Twice gamma_terms times ``magnitude`` (the sum of the terms' absolute values)."""
    nu = terms * unit_roundoff(dtype)
    return 2 * nu / (1 - nu) * magnitude


def absolute_product(a, b):
    """|a| . |b| in float64: each result's sum of its products' absolute values."""
    return np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64))


def assert_within(fast, naive, bound, what):
    excess = np.abs(fast.astype(np.float64) - naive.astype(np.float64)) - bound
    if excess.size and excess.max() > 0:
        at = np.unravel_index(np.argmax(excess), excess.shape)
        raise AssertionError(f"{what}: at {at} the fast kernel gives {fast[at]!r}, the naive one "
                             f"{naive[at]!r}, further apart than rounding allows ({bound[at]:.3g})")


def derivative(activation, a):
    """f'(z) from a = f(z) in a's dtype, as kernels/activation.hpp takes it."""
    one = np.ones_like(a)
    if activation == "relu":
        return (a > 0).astype(a.dtype)
    if activation == "sigmoid":
        return a * (1 - a)
    if activation == "tanh":
        return 1 - a * a
    if activation == "leaky_relu":
        return np.where(a > 0, one, np.where(a < 0, a.dtype.type(LEAKY_RELU_ALPHA), 0 * one))
    if activation == "elu":
        return np.where(a < 0, a + 1, one)
    return one


def dense_problem(B, IN, OUT, dtype, seed=0):
    """Inputs about half zero (the fast float64 kernels skip zeros), weights, biases, and a
    gradient of the outputs."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(B, IN)) * (rng.random((B, IN)) < 0.5)
    return (X.astype(dtype), rng.normal(size=(IN, OUT)).astype(dtype), rng.normal(size=OUT).astype(dtype),
            rng.normal(size=(B, OUT)).astype(dtype))


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("B,IN,OUT", FAST_NAIVE_SHAPES)
def test_fast_dense_forward_agrees_with_the_naive_kernel(simd, B, IN, OUT, dtype, threads):
    X, W, b, _ = dense_problem(B, IN, OUT, dtype)
    u = unit_roundoff(dtype)
    for activation in ACTIVATIONS:
        fast = _core.kernels.dense_forward(X, W, b, activation, threads=threads)
        naive = _core.kernels.dense_forward(X, W, b, activation, naive=True)
        assert fast.dtype == naive.dtype == dtype
        bound = (summation_bound(dtype, IN + 1, absolute_product(X, W) + np.abs(b))
                 + 8 * u * (1 + np.abs(naive.astype(np.float64))))
        assert_within(fast, naive, bound, f"{activation} out")


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("B,IN,OUT", FAST_NAIVE_SHAPES)
def test_fast_dense_backward_agrees_with_the_naive_kernel(simd, B, IN, OUT, dtype, threads):
    X, W, _, dout = dense_problem(B, IN, OUT, dtype)
    rng = np.random.default_rng(1)
    # A previous layer of 8 inputs gives outputs of each activation, zeros and negatives included.
    X_prev, W_prev, b_prev = (rng.normal(size=shape).astype(dtype) for shape in ((B, 8), (8, IN), IN))
    dropout_scale = ((rng.random((B, IN)) < 0.5) * 2).astype(dtype)  # rate 0.5
    dx_magnitude = absolute_product(dout, W.T)
    for weight_decay in (0.0, 0.01):
        naive_dx, naive_dw, naive_db = _core.kernels.dense_backward(dout, X, W, weight_decay, naive=True)
        dx, dw, db = _core.kernels.dense_backward(dout, X, W, weight_decay, threads=threads)
        assert dx.dtype == dw.dtype == db.dtype == dtype
        assert_within(dw, naive_dw, summation_bound(dtype, B + 2, absolute_product(X.T, dout)
                                                    + weight_decay * np.abs(W.astype(np.float64))), "dW")
        assert_within(db, naive_db, summation_bound(dtype, B, np.abs(dout.astype(np.float64)).sum(axis=0)), "db")
        assert_within(dx, naive_dx, summation_bound(dtype, OUT, dx_magnitude), "dX")
    # dX through the previous layer's derivative and dropout: the naive kernel's dX times both.
    for activation in ACTIVATIONS:
        prev_act = _core.kernels.dense_forward(X_prev, W_prev, b_prev, activation)
        for scale in (None, dropout_scale):
            dx, _, _ = _core.kernels.dense_backward(dout, X, W, threads=threads, prev_act=prev_act,
                                                    activation=activation, dropout_scale=scale)
            factor = derivative(activation, prev_act) if scale is None else scale * derivative(activation, prev_act)
            magnitude = dx_magnitude if scale is None else dx_magnitude * scale
            what = f"dX through {activation}" + ("" if scale is None else " and dropout")
            assert_within(dx, naive_dx * factor, summation_bound(dtype, OUT + 3, magnitude), what)


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("transpose_a,transpose_b", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("M,K,N", FAST_NAIVE_SHAPES + [(5, 0, 7)])
def test_packed_gemm_agrees_with_the_naive_product(simd, M, K, N, transpose_a, transpose_b, threads):
    rng = np.random.default_rng(2)
    A = rng.normal(size=(M, K)).astype(np.float32)
    B = rng.normal(size=(K, N)).astype(np.float32)
    a = np.ascontiguousarray(A.T) if transpose_a else A  # a holds A^T when transposed
    b = np.ascontiguousarray(B.T) if transpose_b else B
    fast = _core.kernels.gemm(a, b, transpose_a, transpose_b, threads=threads)
    naive = _core.kernels.gemm(a, b, transpose_a, transpose_b, naive=True)
    assert fast.shape == naive.shape == (M, N)
    assert_within(fast, naive, summation_bound(np.float32, K, absolute_product(A, B)), "C")
