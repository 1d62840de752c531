"""Helpers for tests that compare parameters and gradients: lists of ``(W, b)`` pairs."""

from __future__ import annotations

import numpy as np


def flat(pairs):
    """The arrays of ``[(W_1, b_1), (W_2, b_2), ...]`` (parameters or gradients) as one vector."""
    return np.concatenate([array.ravel() for pair in pairs for array in pair])


def relative_error(got, expected):
    """``|got - expected| / |expected|`` over all the arrays of two lists of ``(W, b)`` pairs."""
    got, expected = flat(got), flat(expected)
    assert np.linalg.norm(expected) > 1e-3, "the expected gradients are all ~zero: the check would be vacuous"
    return np.linalg.norm(got - expected) / np.linalg.norm(expected)


def central_differences(loss, params, h=1e-6):
    """``(loss() at p + h - loss() at p - h) / 2h`` for every entry p of ``params``, a list of
    ``(W, b)`` arrays that ``loss`` reads; each entry is changed in place and set back."""
    grads = []
    for pair in params:
        pair_grads = []
        for array in pair:
            g = np.zeros_like(array)
            for index in np.ndindex(array.shape):
                original = array[index]
                array[index] = original + h
                above = loss()
                array[index] = original - h
                below = loss()
                array[index] = original
                g[index] = (above - below) / (2 * h)
            pair_grads.append(g)
        grads.append(tuple(pair_grads))
    return grads


def finite_difference_gradients(model, X, y, h=1e-6):
    """The gradients of an ``MLP``'s loss on ``(X, y)`` by central differences (its weights
    are set back afterwards)."""
    weights = model.get_weights()

    def loss():
        model.set_weights(weights)
        return model.loss_and_gradients(X, y)[0]

    grads = central_differences(loss, weights, h)
    model.set_weights(weights)
    return grads
