"""The ``mnistmlp`` peer of ``bench_train.py``: a training epoch and ``predict_proba``, called
as a user calls them, and the settings every peer shares (learning rates, seed).

Two builds time this same code: the current one, in ``bench_train.py``'s process, and the
``baseline`` peer's, in a worker process of its own (``_baseline.py``). A baseline can be an
older build, so this module uses only what every build of mnistmlp has:
``MLP(sizes, optimizer=, learning_rate=, seed=, threads=)``, ``set_weights``,
``fit(...).history``'s ``loss``, ``accuracy`` and ``seconds``, and ``predict_proba``; and it
imports nothing of the benchmarks, so that the worker imports it with the baseline's
mnistmlp.
"""

from __future__ import annotations

from typing import Callable, Dict

import numpy as np

import mnistmlp

LEARNING_RATES: Dict[str, float] = {"sgd": 0.01, "adam": 0.001}
SEED = 0


class MnistmlpPeer:
    """Builds, untimed, the call to time: one training epoch from the given weights
    (``trainer``), or ``predict_proba`` (``predictor``)."""

    name = "mnistmlp"

    def trainer(self, sizes, optimizer, weights, threads, batch_size, X, y) -> Callable[[], dict]:
        model = mnistmlp.MLP(sizes, optimizer=optimizer, learning_rate=LEARNING_RATES[optimizer],
                             seed=SEED, threads=threads)
        model.set_weights(weights)
        options = self.fit_options()

        def epoch() -> dict:
            logs = model.fit(X, y, epochs=1, batch_size=batch_size, shuffle=True, verbose=0, **options).history
            return {"loss": logs["loss"][0], "accuracy": logs["accuracy"][0],
                    "engine_seconds": logs["seconds"][0]}

        return epoch

    def fit_options(self) -> dict:
        """More arguments of ``fit``, for a peer that times another way of calling it."""
        return {}

    def predictor(self, sizes, weights, threads, X) -> Callable[[], np.ndarray]:
        model = mnistmlp.MLP(sizes, threads=threads)
        model.set_weights(weights)
        return lambda: model.predict_proba(X)
