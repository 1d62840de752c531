"""Tests of mnistmlp.reference, the pure-NumPy oracle."""

import itertools
import math
import struct

import numpy as np
import pytest

from _gradients import central_differences, flat, relative_error
from mnistmlp import reference as ref

SIZES = [5, 4, 3, 3]
B = 6

VALID_COMBOS = [
    (act, out, loss)
    for act in ref.ACTIVATIONS
    for out in ref.OUTPUT_ACTIVATIONS
    for loss in ref.LOSSES
    if loss == "mean_square" or out == "softmax"
]


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------

def naive_act(name, z):
    """Textbook formulas, written independently of the module."""
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "linear":
        return z
    if name == "leaky_relu":
        return np.where(z > 0, z, 0.1 * z)
    if name == "elu":
        return np.where(z < 0, np.expm1(np.minimum(z, 0)), z)
    if name == "softmax":
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)
    raise AssertionError(name)


def naive_loss(loss, z, a, Y):
    if loss == "categorical_crossentropy":
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        return -np.sum(Y * np.log(p)) / z.shape[0]
    return np.mean((a - Y) ** 2)


def make_problem(act, out, loss, seed=0, dropout_masks=None, margin=1e-3):
    """Float64 parameters (with non-zero biases), inputs and targets. For relu layers the
    problem is re-drawn until every relu (and leaky_relu) pre-activation is at least `margin`
    from the kink."""
    for s in range(seed, seed + 200):
        rng = np.random.default_rng(s)
        params = [(rng.normal(0, 0.8, (m, n)), rng.normal(0, 0.3, n)) for m, n in zip(SIZES[:-1], SIZES[1:])]
        X = rng.normal(0, 1, (B, SIZES[0]))
        if loss == "categorical_crossentropy":
            Y = rng.uniform(0, 1, (B, SIZES[-1]))  # non-negative weights, rows not summing to 1
        else:
            Y = rng.normal(0, 1, (B, SIZES[-1]))
        fp = ref.forward(params, X, act, out, dropout=0.5 if dropout_masks else 0.0, masks=dropout_masks)
        kinked = ("relu", "leaky_relu")
        zs = [z for z, _ in fp[:-1]] if act in kinked else []
        if out in kinked:
            zs.append(fp[-1][0])
        if all(np.abs(z).min() > margin for z in zs):
            return params, X, Y
    raise AssertionError("no problem away from the relu kinks found")


# ---------------------------------------------------------------------------------------
# forward pass and losses against textbook formulas
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("act,out", list(itertools.product(ref.ACTIVATIONS, ref.OUTPUT_ACTIVATIONS)))
def test_forward_matches_textbook_formulas(act, out):
    params, X, _ = make_problem(act, out, "mean_square", margin=0.0)
    a = X
    expected = []
    for l, (W, b) in enumerate(params):
        z = a @ W + b
        a = naive_act(act if l < len(params) - 1 else out, z)
        expected.append((z, a))
    fp = ref.forward(params, X, act, out)
    assert len(fp) == len(params)
    for (z, a), (ez, ea) in zip(fp, expected):
        np.testing.assert_allclose(z, ez, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(a, ea, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ref.predict_proba(params, X, act, out), expected[-1][1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("act,out,loss", VALID_COMBOS)
def test_loss_value_matches_textbook_formula_and_weight_decay_term(act, out, loss):
    params, X, Y = make_problem(act, out, loss, margin=0.0)
    fp = ref.forward(params, X, act, out)
    z, a = fp[-1]
    expected = naive_loss(loss, z, a, Y)
    assert ref.loss_value(out, loss, z, a, Y) == pytest.approx(expected, rel=1e-12)
    lam = 0.3
    value, _ = ref.loss_and_gradients(params, X, Y, act, out, loss, weight_decay=lam)
    decay = lam * sum(np.sum(W ** 2) for W, _ in params) / 2
    assert value == pytest.approx(expected + decay, rel=1e-12)


@pytest.mark.parametrize("loss", ref.LOSSES)
def test_integer_labels_mean_one_hot(loss):
    params, X, _ = make_problem("tanh", "softmax", loss)
    labels = np.array([0, 2, 1, 1, 0, 2])
    one_hot = np.eye(3)[labels]
    value_l, grads_l = ref.loss_and_gradients(params, X, labels, "tanh", "softmax", loss)
    value_h, grads_h = ref.loss_and_gradients(params, X, one_hot, "tanh", "softmax", loss)
    assert value_l == pytest.approx(value_h, rel=1e-14)
    np.testing.assert_allclose(flat(grads_l), flat(grads_h), rtol=1e-13, atol=1e-16)


def test_cross_entropy_output_gradient_is_p_minus_y_over_b():
    params, X, _ = make_problem("sigmoid", "softmax", "categorical_crossentropy")
    labels = np.array([1, 0, 2, 2, 1, 0])
    Y = np.eye(3)[labels]
    p = ref.predict_proba(params, X, "sigmoid", "softmax")
    _, grads = ref.loss_and_gradients(params, X, Y, "sigmoid", "softmax")
    np.testing.assert_allclose(grads[-1][1], ((p - Y) / B).sum(axis=0), rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------------------------
# gradients against finite differences
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("weight_decay", [0.0, 0.25])
@pytest.mark.parametrize("act,out,loss", VALID_COMBOS)
def test_gradients_match_finite_differences(act, out, loss, weight_decay):
    params, X, Y = make_problem(act, out, loss)
    value, grads = ref.loss_and_gradients(params, X, Y, act, out, loss, weight_decay=weight_decay)
    numeric = central_differences(
        lambda: ref.loss_and_gradients(params, X, Y, act, out, loss, weight_decay=weight_decay)[0], params)
    assert relative_error(grads, numeric) < 1e-6
    for (dW, db), (W, b) in zip(grads, params):
        assert dW.shape == W.shape and db.shape == b.shape


@pytest.mark.parametrize("act,out,loss", [("relu", "softmax", "categorical_crossentropy"),
                                          ("sigmoid", "tanh", "mean_square"),
                                          ("tanh", "softmax", "mean_square")])
def test_gradients_with_dropout_mask_match_finite_differences(act, out, loss):
    rng = np.random.default_rng(7)
    masks = [rng.random((B, n)) < 0.5 for n in SIZES[1:-1]]
    masks[0][:, 0] = True  # keep at least something flowing in every row
    params, X, Y = make_problem(act, out, loss, dropout_masks=masks)
    value, grads = ref.loss_and_gradients(params, X, Y, act, out, loss, weight_decay=0.1, dropout=0.5, masks=masks)
    numeric = central_differences(
        lambda: ref.loss_and_gradients(params, X, Y, act, out, loss, weight_decay=0.1, dropout=0.5, masks=masks)[0],
        params)
    assert relative_error(grads, numeric) < 1e-6
    # the mask matters: without it the gradients differ
    _, plain = ref.loss_and_gradients(params, X, Y, act, out, loss, weight_decay=0.1)
    assert not np.allclose(flat(plain), flat(grads))


def test_dropout_scales_kept_units_by_inverse_keep_probability():
    params, X, _ = make_problem("tanh", "softmax", "mean_square")
    rng = np.random.default_rng(3)
    masks = [rng.random((B, n)) < 0.7 for n in SIZES[1:-1]]
    fp = ref.forward(params, X, "tanh", "softmax", dropout=0.3, masks=masks)
    h1 = np.tanh(X @ params[0][0] + params[0][1])
    np.testing.assert_allclose(fp[0][1], h1 * masks[0] / 0.7, rtol=1e-14)
    h2 = np.tanh(fp[0][1] @ params[1][0] + params[1][1])
    np.testing.assert_allclose(fp[1][1], h2 * masks[1] / 0.7, rtol=1e-14)


def test_dropout_generator_keeps_a_fraction_one_minus_p():
    params = ref.init_params([3, 400, 2], seed=0, dtype=np.float64)
    params[0][1][:] = 1.0  # relu(z) > 0 everywhere -> a unit is zero only if dropped
    X = np.zeros((500, 3))
    fp = ref.forward(params, X, "relu", "softmax", dropout=0.25, masks=np.random.default_rng(0))
    a = fp[0][1]
    kept = a != 0
    assert kept.mean() == pytest.approx(0.75, abs=0.01)
    np.testing.assert_allclose(a[kept], 1.0 / 0.75)
    with pytest.raises(ValueError):
        ref.forward(params, X, "relu", "softmax", dropout=0.25)  # no masks, no generator


def test_dropout_rates_per_hidden_layer():
    params, X, _ = make_problem("tanh", "softmax", "mean_square")
    rng = np.random.default_rng(4)
    masks = [rng.random((B, n)) < 0.5 for n in SIZES[1:-1]]
    fp = ref.forward(params, X, "tanh", "softmax", dropout=[0.0, 0.5], masks=masks)
    h1 = np.tanh(X @ params[0][0] + params[0][1])
    np.testing.assert_allclose(fp[0][1], h1 * masks[0], rtol=1e-14)  # rate 0: the mask as given
    h2 = np.tanh(fp[0][1] @ params[1][0] + params[1][1])
    np.testing.assert_allclose(fp[1][1], h2 * masks[1] / 0.5, rtol=1e-14)
    drawn = ref.forward(params, X, "tanh", "softmax", dropout=[0.0, 0.5], masks=np.random.default_rng(0))
    assert drawn.dropout_scales[0] is None and set(np.unique(drawn.dropout_scales[1])) == {0.0, 2.0}
    with pytest.raises(ValueError, match="one dropout rate per hidden layer"):
        ref.forward(params, X, "tanh", "softmax", dropout=[0.5], masks=masks)
    with pytest.raises(ValueError, match=r"in \[0, 1\)"):
        ref.forward(params, X, "tanh", "softmax", dropout=[0.5, 1.0], masks=masks)


# ---------------------------------------------------------------------------------------
# numerical stability
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_finite_for_huge_logits(dtype):
    # one linear layer whose logits are +-1e4
    W = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], dtype=dtype)
    params = [(W, np.zeros(3, dtype=dtype))]
    X = np.eye(2, dtype=dtype)
    labels = np.array([0, 0])
    value, grads = ref.loss_and_gradients(params, X, labels)
    # row 0: label at the max -> -log p = log(1 + e^-1e4 + e^-2e4) = 0
    # row 1: -log p_0 = 2e4 + log 2
    expected = (0.0 + 2e4 + math.log(2.0)) / 2
    assert math.isfinite(value)
    assert value == pytest.approx(expected, rel=1e-6)
    z, a = ref.forward(params, X)[-1]
    assert ref.loss_value("softmax", "categorical_crossentropy", z, a, labels) == pytest.approx(expected, rel=1e-6)
    p = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]])
    dz = (p - np.eye(3)[labels]) / 2
    np.testing.assert_allclose(grads[0][1], dz.sum(axis=0), atol=1e-6)
    np.testing.assert_allclose(grads[0][0], X.T @ dz, atol=1e-6)
    assert all(np.isfinite(g).all() and g.dtype == dtype for pair in grads for g in pair)


def test_sigmoid_does_not_overflow_in_float32():
    z = np.array([[-200.0, 0.0, 200.0]], dtype=np.float32)
    params = [(np.eye(3, dtype=np.float32), np.zeros(3, dtype=np.float32))]
    with np.errstate(all="raise"):
        a = ref.predict_proba(params, z, output_activation="sigmoid")
    np.testing.assert_allclose(a, [[0.0, 0.5, 1.0]], atol=1e-7)


# ---------------------------------------------------------------------------------------
# gradient clipping and optimizers against scalar formulas
# ---------------------------------------------------------------------------------------

def scalar_problem(w=1.0, b=0.5, dtype=np.float64):
    return [(np.array([[w]], dtype=dtype), np.array([b], dtype=dtype))]


def grads_of(gw, gb, dtype=np.float64):
    return [(np.array([[gw]], dtype=dtype), np.array([gb], dtype=dtype))]


def values(params):
    return [float(params[0][0][0, 0]), float(params[0][1][0])]


def test_clip_by_global_norm_below_and_above_threshold():
    grads = grads_of(3.0, 4.0)  # global norm 5
    same, norm = ref.clip_by_global_norm(grads, 10.0)
    assert norm == pytest.approx(5.0)
    assert values(same) == pytest.approx([3.0, 4.0])
    clipped, norm = ref.clip_by_global_norm(grads, 2.5)
    assert norm == pytest.approx(5.0)
    assert values(clipped) == pytest.approx([1.5, 2.0])
    assert values(grads) == [3.0, 4.0]  # input untouched
    rng = np.random.default_rng(0)
    many = [(rng.normal(size=(4, 3)), rng.normal(size=3)), (rng.normal(size=(3, 2)), rng.normal(size=2))]
    clipped, norm = ref.clip_by_global_norm(many, 1.0)
    assert norm == pytest.approx(np.linalg.norm(flat(many)))
    assert np.linalg.norm(flat(clipped)) == pytest.approx(1.0)
    np.testing.assert_allclose(flat(clipped), flat(many) / norm)


def test_sgd_plain_step():
    params = scalar_problem()
    grads = grads_of(0.2, -0.4)
    opt = ref.SGD(learning_rate=0.1)
    opt.step(params, grads)
    assert values(params) == pytest.approx([1.0 - 0.1 * 0.2, 0.5 + 0.1 * 0.4], abs=1e-15)
    assert values(grads) == [0.2, -0.4]
    assert opt.t == 1


def test_sgd_momentum_two_steps():
    params = scalar_problem()
    opt = ref.SGD(learning_rate=0.1, momentum=0.9)
    opt.step(params, grads_of(0.2, -0.4))
    v_w, v_b = 0.2, -0.4
    w, b = 1.0 - 0.1 * v_w, 0.5 - 0.1 * v_b
    assert values(params) == pytest.approx([w, b], abs=1e-15)
    opt.step(params, grads_of(-0.1, 0.3))
    v_w, v_b = 0.9 * v_w - 0.1, 0.9 * v_b + 0.3
    w, b = w - 0.1 * v_w, b - 0.1 * v_b
    assert values(params) == pytest.approx([w, b], abs=1e-15)


def test_sgd_nesterov_two_steps():
    params = scalar_problem()
    opt = ref.SGD(learning_rate=0.1, momentum=0.9, nesterov=True)
    opt.step(params, grads_of(0.2, -0.4))
    v_w, v_b = 0.2, -0.4
    w, b = 1.0 - 0.1 * (0.2 + 0.9 * v_w), 0.5 - 0.1 * (-0.4 + 0.9 * v_b)
    assert values(params) == pytest.approx([w, b], abs=1e-15)
    opt.step(params, grads_of(-0.1, 0.3))
    v_w, v_b = 0.9 * v_w - 0.1, 0.9 * v_b + 0.3
    w, b = w - 0.1 * (-0.1 + 0.9 * v_w), b - 0.1 * (0.3 + 0.9 * v_b)
    assert values(params) == pytest.approx([w, b], abs=1e-15)


@pytest.mark.parametrize("staircase", [False, True])
def test_sgd_exponential_decay(staircase):
    params = scalar_problem(w=0.0, b=0.0)
    opt = ref.SGD(learning_rate=0.1, decay_rate=0.5, decay_steps=2, staircase=staircase)
    if staircase:
        lrs = [0.1, 0.1, 0.05, 0.05, 0.025]
    else:
        lrs = [0.1 * 0.5 ** (t / 2) for t in range(5)]
    w = 0.0
    for t, lr in enumerate(lrs):
        assert opt.learning_rate_at(t) == pytest.approx(lr, rel=1e-15)
        opt.step(params, grads_of(1.0, 1.0))
        w -= lr
        assert values(params) == pytest.approx([w, w], rel=1e-14)


def test_adam_three_steps():
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    params = scalar_problem()
    opt = ref.Adam(learning_rate=lr, beta1=b1, beta2=b2, epsilon=eps)
    w, b = 1.0, 0.5
    mw = vw = mb = vb = 0.0
    for t, (gw, gb) in enumerate([(0.2, -0.4), (-0.1, 0.3), (0.5, 1e-3)], start=1):
        opt.step(params, grads_of(gw, gb))
        lr_t = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        mw, mb = b1 * mw + (1 - b1) * gw, b1 * mb + (1 - b1) * gb
        vw, vb = b2 * vw + (1 - b2) * gw * gw, b2 * vb + (1 - b2) * gb * gb
        w -= lr_t * mw / (math.sqrt(vw) + eps)
        b -= lr_t * mb / (math.sqrt(vb) + eps)
        assert values(params) == pytest.approx([w, b], rel=1e-13)
    assert opt.t == 3


def test_adam_epsilon_outside_bias_correction():
    # with g tiny, TF's placement differs visibly from the paper's
    lr, eps, g = 0.1, 1e-3, 1e-3
    params = scalar_problem(w=0.0)
    ref.Adam(learning_rate=lr, epsilon=eps).step(params, grads_of(g, g))
    tf_style = -lr * math.sqrt(1 - 0.999) / (1 - 0.9) * (0.1 * g) / (math.sqrt(0.001 * g * g) + eps)
    paper = -lr * g / (g + eps)
    assert values(params)[0] == pytest.approx(tf_style, rel=1e-12)
    assert abs(tf_style - paper) > 0.01


def test_optimizers_keep_float32():
    for opt in (ref.SGD(np.float64(0.1)), ref.SGD(0.1, momentum=np.float64(0.9), nesterov=True), ref.Adam()):
        params = scalar_problem(dtype=np.float32)
        opt.step(params, grads_of(0.2, -0.4, dtype=np.float32))
        assert all(p.dtype == np.float32 for pair in params for p in pair)
        state = [s for name in ("velocity", "m", "v") for s in (getattr(opt, name, None) or [])]
        assert state or isinstance(opt, ref.SGD) and opt.momentum == 0
        assert all(s.dtype == np.float32 for s in state)


def f32(x):
    """x rounded to float32, as a Python float. An operation on float32 values done in double
    and rounded once gives the float32 result for + - * / and sqrt: a second oracle for the
    float32 steps, independent of NumPy's float32 arithmetic."""
    return struct.unpack("f", struct.pack("f", x))[0]


def test_float32_adam_is_tensorflows_float32_kernel():
    """training_ops.cc's ApplyAdam with AdamOptimizer's running float32 beta powers."""
    params = scalar_problem(dtype=np.float32)
    opt = ref.Adam(learning_rate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-8)
    lr, b1, b2, eps = f32(0.01), f32(0.9), f32(0.999), f32(1e-8)
    state = {"w": [1.0, 0.0, 0.0], "b": [0.5, 0.0, 0.0]}  # value, m, v
    p1, p2 = b1, b2  # the variables start at beta
    for gw, gb in [(0.2, -0.4), (-0.1, 0.3), (0.5, 1e-3), (0.25, -0.125), (3e-5, 7.0)]:
        gw, gb = f32(gw), f32(gb)
        opt.step(params, grads_of(gw, gb, dtype=np.float32))
        alpha = f32(f32(lr * f32(math.sqrt(f32(1 - p2)))) / f32(1 - p1))
        for key, g in (("w", gw), ("b", gb)):
            w, m, v = state[key]
            m = f32(m + f32(f32(g - m) * f32(1 - b1)))
            v = f32(v + f32(f32(f32(g * g) - v) * f32(1 - b2)))
            w = f32(w - f32(f32(m * alpha) / f32(f32(math.sqrt(v)) + eps)))
            state[key] = [w, m, v]
        p1, p2 = f32(p1 * b1), f32(p2 * b2)
        assert values(params) == [state["w"][0], state["b"][0]]
        assert [float(opt.m[0][0, 0]), float(opt.v[1][0])] == [state["w"][1], state["b"][2]]
    assert opt.t == 5


def test_float32_beta_powers_are_running_float32_products():
    power = f32(0.999)
    for t in range(1, 3000):
        assert float(ref.float32_beta_power(0.999, t)) == power
        power = f32(power * f32(0.999))
    # The product drifts from the exact power: 1 - beta^t differs in its fourth digit.
    assert abs(float(ref.float32_beta_power(0.999, 2000)) / 0.999 ** 2000 - 1) > 1e-5
    # A fresh optimizer set to a later step recomputes them.
    opt = ref.Adam()
    opt.t = 2999
    expected = ref.Adam().step_size(3000, np.float32)
    assert opt.step_size(3000, np.float32) == expected
    with pytest.raises(ValueError, match="count from 1"):
        ref.float32_beta_power(0.9, 0)


def test_float32_step_size_differs_from_the_double_one_by_its_bias():
    """lr_t in double from the exact 0.999 is 6.6e-6 larger at the first step than float32's:
    the bias that the float32 arithmetic removes."""
    opt = ref.Adam(learning_rate=0.001)
    alpha, exact = opt.step_size(1, np.float32), opt.step_size(1)
    assert isinstance(alpha, np.float32)
    assert exact / float(alpha) - 1 == pytest.approx(6.6e-6, rel=0.02)


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_float32_sgd_is_tensorflows_float32_kernel(momentum, nesterov):
    """ApplyGradientDescent (w -= g lr) and ApplyMomentum (v = v mu + g; w -= v lr, or
    w -= g lr + v mu lr for Nesterov), each operation rounded to float32."""
    params = scalar_problem(dtype=np.float32)
    opt = ref.SGD(learning_rate=0.1, momentum=momentum, nesterov=nesterov)
    lr, mu = f32(0.1), f32(momentum)
    state = {"w": [1.0, 0.0], "b": [0.5, 0.0]}  # value, velocity
    for gw, gb in [(0.2, -0.4), (-0.1, 0.3), (0.5, 1e-3)]:
        gw, gb = f32(gw), f32(gb)
        opt.step(params, grads_of(gw, gb, dtype=np.float32))
        for key, g in (("w", gw), ("b", gb)):
            w, v = state[key]
            if momentum == 0:
                w = f32(w - f32(g * lr))
            else:
                v = f32(f32(v * mu) + g)
                step = f32(f32(g * lr) + f32(f32(v * mu) * lr)) if nesterov else f32(v * lr)
                w = f32(w - step)
            state[key] = [w, v]
        assert values(params) == [state["w"][0], state["b"][0]]


@pytest.mark.parametrize("staircase", [False, True])
def test_float32_decay_is_tensorflows_float32_graph(staircase):
    """exponential_decay for a float32 rate: lr * powf(decay_rate, float32(t) / decay_steps)."""
    opt = ref.SGD(learning_rate=0.1, decay_rate=0.96, decay_steps=3, staircase=staircase)
    for t in range(10):
        lr = opt.learning_rate_at(t, np.float32)
        assert isinstance(lr, np.float32)
        p = f32(f32(t) / 3.0)
        if staircase:
            p = math.floor(p)
        power = np.float32(0.96) ** np.float32(p)  # the C library's powf, as TensorFlow's Pow
        assert float(lr) == f32(f32(0.1) * float(power))
        assert float(lr) == pytest.approx(0.1 * 0.96 ** p, rel=2e-7)


# ---------------------------------------------------------------------------------------
# initialisers
# ---------------------------------------------------------------------------------------

def test_truncated_normal_statistics():
    (W, b), = ref.init_params([1000, 1000], "truncated_normal", seed=1)
    assert W.dtype == np.float32 and b.dtype == np.float32
    assert not b.any()
    assert np.abs(W).max() <= 0.04 * (1 + 1e-6)
    assert np.abs(W).max() > 0.0399  # truncated at 2 stddev, not tighter
    assert W.std() == pytest.approx(0.02 * 0.8796, rel=0.01)
    assert abs(W.mean()) < 1e-4


def test_glorot_and_he_statistics():
    (W, _), = ref.init_params([600, 400], "glorot_uniform", seed=2, dtype=np.float64)
    limit = math.sqrt(6 / 1000)
    assert np.abs(W).max() <= limit and np.abs(W).max() > 0.999 * limit
    assert W.std() == pytest.approx(limit / math.sqrt(3), rel=0.01)
    (X, _), = ref.init_params([600, 400], "xavier", seed=2, dtype=np.float64)
    np.testing.assert_array_equal(W, X)
    (W, _), = ref.init_params([500, 300], "he_normal", seed=3)
    assert W.std() == pytest.approx(math.sqrt(2 / 500), rel=0.01)
    assert abs(W.mean()) < 1e-3 * math.sqrt(2 / 500) * 10


def test_other_initialisers_and_seeding():
    (W, _), = ref.init_params([400, 500], "normal", seed=4, stddev=0.1)
    assert W.std() == pytest.approx(0.1, rel=0.01) and np.abs(W).max() > 0.3
    (W, _), = ref.init_params([400, 500], "uniform", seed=4, stddev=0.1)
    assert W.std() == pytest.approx(0.1, rel=0.01) and np.abs(W).max() <= math.sqrt(3) * 0.1 * (1 + 1e-6)
    (W, _), = ref.init_params([4, 5], "zeros")
    assert not W.any()
    a = ref.init_params([7, 5, 3], seed=11)
    b = ref.init_params([7, 5, 3], seed=11)
    c = ref.init_params([7, 5, 3], seed=12)
    np.testing.assert_array_equal(flat(a), flat(b))
    assert not np.array_equal(flat(a), flat(c))
    assert [W.shape for W, _ in a] == [(7, 5), (5, 3)]


# ---------------------------------------------------------------------------------------
# dtype and argument checks
# ---------------------------------------------------------------------------------------

def test_float32_stays_float32():
    params = ref.init_params(SIZES, seed=0, dtype=np.float32)
    X = np.random.default_rng(0).normal(size=(B, SIZES[0]))           # float64 input
    Y = np.eye(3)[np.arange(B) % 3]                                   # float64 targets
    for act, out, loss in VALID_COMBOS:
        fp = ref.forward(params, X, act, out)
        assert all(z.dtype == np.float32 and a.dtype == np.float32 for z, a in fp)
        value, grads = ref.loss_and_gradients(params, X, Y, act, out, loss, weight_decay=np.float64(0.1))
        assert isinstance(value, float)
        assert all(g.dtype == np.float32 for pair in grads for g in pair)
        clipped, _ = ref.clip_by_global_norm(grads, np.float64(1e-3))
        assert all(g.dtype == np.float32 for pair in clipped for g in pair)


@pytest.mark.parametrize("act,out,loss", VALID_COMBOS)
def test_float32_gradients_agree_with_float64(act, out, loss):
    params, X, Y = make_problem(act, out, loss)
    params32 = [(W.astype(np.float32), b.astype(np.float32)) for W, b in params]
    v64, g64 = ref.loss_and_gradients(params, X, Y, act, out, loss, weight_decay=0.1)
    v32, g32 = ref.loss_and_gradients(params32, X.astype(np.float32), Y, act, out, loss, weight_decay=0.1)
    assert v32 == pytest.approx(v64, rel=1e-5)
    assert np.linalg.norm(flat(g32) - flat(g64)) < 1e-5 * np.linalg.norm(flat(g64))


def test_invalid_arguments_are_rejected():
    params = ref.init_params(SIZES, dtype=np.float64)
    X = np.zeros((B, SIZES[0]))
    with pytest.raises(ValueError, match="softmax"):
        ref.loss_and_gradients(params, X, np.zeros(B, dtype=int), output_activation="linear")
    with pytest.raises(ValueError, match="activation"):
        ref.forward(params, X, activation="gelu")
    with pytest.raises(ValueError, match="labels"):
        ref.loss_and_gradients(params, X, np.full(B, 3))
    with pytest.raises(ValueError):
        ref.forward(params, np.zeros((B, 4)))
