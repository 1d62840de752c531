"""Threads and callbacks around a model that trains: nothing deadlocks, readers (the progress
callback among them) see the model as of its last finished batch, writers wait for the epoch
or, from the epoch's own thread, are refused, and long calls answer Ctrl-C.

Scenarios that could hang run in a subprocess with a time limit, so a deadlock fails the test
instead of hanging the suite.
"""

import numpy as np
import pytest

import mnistmlp
from _synthetic import mnist_like
from _terminal import run_python

# Seconds a subprocess scenario may take before it counts as hung (each takes a few).
HANG = 120

# The subprocesses' common start: MNIST-like data and a model a few seconds of training long.
SETUP = """
import os, signal, sys, tempfile, threading
import numpy as np, mnistmlp
rng = np.random.default_rng(0)
X = rng.integers(0, 256, (30000, 784), dtype=np.uint8)
X[rng.random(X.shape) < 0.8] = 0
y = rng.integers(0, 10, 30000)
model = mnistmlp.MLP([784, 256, 10], seed=0, threads=2)
started = threading.Event()

class Started:
    def on_progress(self, progress):
        started.set()

def fit_in_background(*callbacks):
    fit = threading.Thread(target=model.fit, args=(X, y),
                           kwargs=dict(epochs=1, batch_size=10, verbose=0, callbacks=[Started(), *callbacks]))
    fit.start()
    assert started.wait(60), "training never reported progress"
    return fit
"""


def test_another_thread_reads_the_model_while_it_trains():
    out = run_python(SETUP + """
fit = fit_in_background()
weights = model.get_weights()
model.save(os.path.join(tempfile.mkdtemp(), "during.safetensors"))
proba = model.predict_proba(X[:100])
steps = model.steps_
fit.join()
print(0 < steps <= 3000, np.isfinite(proba).all(), len(weights), model.steps_)
""", on_terminal=False, timeout=HANG)
    assert out.split() == ["True", "True", "2", "3000"]


def test_predict_from_another_thread_is_served_between_batches():
    """The epoch waits in its progress callback until a predict() from another thread has
    returned: that needs the model to be readable while the epoch runs, not after it."""
    out = run_python(SETUP + """
served = threading.Event()
in_time = []

class Gate:
    def on_progress(self, progress):
        if not in_time:
            in_time.append(served.wait(30))

fit = fit_in_background(Gate())
model.predict_proba(X[:10])
served.set()
fit.join()
print(in_time)
""", on_terminal=False, timeout=HANG)
    assert out.split() == ["[True]"]


def test_a_writer_in_another_thread_waits_for_the_epoch():
    out = run_python(SETUP + """
fit = fit_in_background()
zeros = [(np.zeros_like(W), np.zeros_like(b)) for W, b in model.get_weights()]
model.set_weights(zeros)  # waits for the epoch to end, then applies
fit.join()
print(all(not W.any() and not b.any() for W, b in model.get_weights()), model.epochs_)
""", on_terminal=False, timeout=HANG)
    assert out.split() == ["True", "1"]


def test_a_progress_callback_reads_the_model_as_of_its_last_batch(tmp_path):
    X, y = mnist_like(600, labels="brighter_half_and_parity")
    model = mnistmlp.MLP([784, 32, 10], seed=0, threads=2)
    seen = {}

    def callback(progress):
        seen["steps"] = (model.steps_, progress.step)
        seen["weights"] = model.get_weights()
        seen["proba"] = model.predict_proba(X[:5])
        seen["evaluate"] = model.evaluate(X[:100], y[:100])
        model.save(tmp_path / "during.safetensors")
        return progress.batches_done < 7  # stop after the seventh batch

    result = model._engine.fit_epoch(X, y.astype(np.int32), 10, True, callback, 0.0)
    assert result["stopped"] and result["batches"] == 7
    assert seen["steps"] == (7, 7)
    # Nothing trained after the last callback: what it read is the model as it stands.
    after = model.get_weights()
    assert all(np.array_equal(a, b) for pair, seen_pair in zip(after, seen["weights"]) for a, b in zip(pair, seen_pair))
    np.testing.assert_array_equal(model.predict_proba(X[:5]), seen["proba"])
    assert model.evaluate(X[:100], y[:100]) == seen["evaluate"]
    saved = mnistmlp.MLP.load(tmp_path / "during.safetensors")
    assert saved.steps_ == 7
    np.testing.assert_array_equal(saved.predict_proba(X[:5]), seen["proba"])


@pytest.mark.parametrize("change", ["set_weights", "threads", "fit", "loss_and_gradients"])
def test_changing_the_model_from_its_progress_callback_is_refused(change):
    X, y = mnist_like(300, labels="brighter_half_and_parity")
    model = mnistmlp.MLP([784, 16, 10], seed=0, threads=1)
    before = model.get_weights()
    changes = {
        "set_weights": lambda: model.set_weights(before),
        "threads": lambda: setattr(model, "threads", 2),
        "fit": lambda: model.fit(X, y, verbose=0),
        "loss_and_gradients": lambda: model.loss_and_gradients(X[:10], y[:10]),
    }

    def callback(progress):
        changes[change]()

    with pytest.raises(RuntimeError, match="the model is training on this thread: a progress callback may read"):
        model._engine.fit_epoch(X, y.astype(np.int32), 10, True, callback, 0.0)
    # The epoch stopped after the batch that called back (it counts), and the model stays usable.
    assert model.steps_ == 1 and model.epochs_ == 1
    model.fit(X, y, epochs=1, batch_size=10, verbose=0)
    assert model.epochs_ == 2


def test_counters_read_from_another_thread_only_grow():
    out = run_python(SETUP + """
fit = fit_in_background()
readings = []
while fit.is_alive():
    readings.append(model.steps_)
fit.join()
readings.append(model.steps_)
print(all(a <= b for a, b in zip(readings, readings[1:])), readings[-1])
""", on_terminal=False, timeout=HANG)
    assert out.split() == ["True", "3000"]


@pytest.mark.parametrize("call", ["predict_proba", "evaluate"])
def test_a_long_inference_call_answers_ctrl_c(call):
    """SIGINT 0.2 s into a call that takes seconds raises KeyboardInterrupt from inside the
    call, within a block of rows, not once the call is over. The whole call's length is
    estimated in the same run from a twentieth of it."""
    code = f"""
import os, signal, threading, time
import numpy as np, mnistmlp
# A shell that starts this in the background has SIGINT ignored, and Python then leaves it so.
signal.signal(signal.SIGINT, signal.default_int_handler)
model = mnistmlp.MLP([784, 1024, 1024, 10], seed=0, threads=2)
rng = np.random.default_rng(0)
X = rng.integers(0, 256, (120000, 784), dtype=np.uint8)
y = rng.integers(0, 10, 120000)
args = lambda rows: (X[:rows],) if "{call}" == "predict_proba" else (X[:rows], y[:rows])
start = time.monotonic()
model.{call}(*args(6000))
whole_call = (time.monotonic() - start) * 20
threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
start = time.monotonic()
try:
    model.{call}(*args(120000))
    print("finished")
except KeyboardInterrupt:
    waited = time.monotonic() - start
    print("interrupted", "early" if waited < whole_call / 2 else f"late: after {{waited:.2f}} s of {{whole_call:.2f}} s")
"""
    out = run_python(code, on_terminal=False, timeout=HANG)
    assert out.strip() == "interrupted early"
