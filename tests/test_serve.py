"""`mnistmlp serve`: the preprocessing of drawings, the API through Starlette's TestClient,
and the command itself (a real server on a free port, ended by Ctrl-C)."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import mnistmlp
from mnistmlp.datasets import mnist
from mnistmlp.experiments import PRESETS, TFLEARN_SETTINGS
from mnistmlp.serve.drawing import to_mnist

from _serve import start_server

# --- drawings ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data(mnist_dir):
    return mnist.read_data_sets(mnist_dir, download=False)


@pytest.fixture(scope="module")
def adam(data):
    """The notebook's 2×100 Adam network, trained as the page trains it (96% on the test set)."""
    config = PRESETS["tutorial"].configs[3]
    model = mnistmlp.MLP([784, *config.hidden, 10], optimizer=config.make_optimizer(), seed=0, **TFLEARN_SETTINGS)
    model.fit(data.train.images, data.train.labels, epochs=1, batch_size=config.batch_size, verbose=0)
    return model


def _test_digits(data, count):
    return np.rint(data.test.images[:count].reshape(count, 28, 28) * 255).astype(np.uint8)


def test_an_mnist_digit_is_its_own_preprocessing(data):
    """MNIST's digits already fill 20 pixels and have their centre of mass at (14, 14)."""
    digits = _test_digits(data, 200)
    assert all(np.array_equal(to_mnist(digit), digit) for digit in digits)


def _redrawn(digits, magnify):
    """Each digit drawn again, ``magnify(digit, scale)`` 4 to 13 times larger, somewhere on a
    400×400 canvas, then preprocessed."""
    rng = np.random.default_rng(0)
    redrawn = []
    for digit in digits:
        big = magnify(digit, int(rng.integers(4, 14)))
        canvas = np.zeros((400, 400), big.dtype)
        top, left = rng.integers(0, 400 - big.shape[0] + 1), rng.integers(0, 400 - big.shape[1] + 1)
        canvas[top:top + big.shape[0], left:left + big.shape[1]] = big
        redrawn.append(to_mnist(canvas))
    return np.stack(redrawn)


def test_a_test_digit_redrawn_anywhere_at_any_size_gets_the_same_prediction(data, adam):
    """Magnified blockwise (as a coarse pen draws), every digit is classified as the original was."""
    digits = _test_digits(data, 300)
    redrawn = _redrawn(digits, lambda digit, scale: np.kron(digit, np.ones((scale, scale), np.uint8)))
    np.testing.assert_array_equal(adam.predict(redrawn), adam.predict(digits))


def test_a_test_digit_redrawn_smoothly_mostly_gets_the_same_prediction(data, adam):
    """Magnified with linear interpolation (grey edges, as a canvas anti-aliases a stroke), the
    ink's extent grows by up to a pixel of the original and the grey levels move: at least 95%
    of the digits are classified as the originals were (97% when this was written)."""
    def smooth(digit, scale):
        at = (np.arange(28 * scale) + 0.5) / scale - 0.5
        rows = np.array([np.interp(at, np.arange(28), row) for row in digit / 255.0])
        return np.array([np.interp(at, np.arange(28), column) for column in rows.T]).T

    digits = _test_digits(data, 300)
    assert np.mean(adam.predict(_redrawn(digits, smooth)) == adam.predict(digits)) >= 0.95


def test_a_stroke_is_scaled_to_20_pixels_and_centred_by_mass():
    canvas = np.zeros((300, 200), np.float32)
    canvas[10:250, 150:170] = 1.0  # a tall bar near the right edge
    image = to_mnist(canvas)
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    assert rows[-1] - rows[0] + 1 == 20 and cols[-1] - cols[0] + 1 == 2
    mass = image.astype(float)
    centre = [(np.arange(28) * mass.sum(axis=1 - axis)).sum() / mass.sum() for axis in (0, 1)]
    np.testing.assert_allclose(centre, 14, atol=0.5)
    assert image.max() == 255


def test_a_blank_drawing_is_a_blank_image_and_bad_drawings_are_refused():
    assert not to_mnist(np.zeros((50, 50), np.uint8)).any()
    with pytest.raises(ValueError, match="2-D image"):
        to_mnist(np.zeros((2000, 10), np.uint8))
    with pytest.raises(ValueError, match="uint8 or finite floats"):
        to_mnist(np.full((5, 5), np.nan))


# --- the API -----------------------------------------------------------------------------------

LOCAL = "http://127.0.0.1"


def make_client(data, model=None, **limits):
    """A TestClient of the page's app (the drawing tests above need only NumPy)."""
    pytest.importorskip("starlette", reason="the serve extra is not installed: pip install 'mnistmlp[serve]'")
    from starlette.testclient import TestClient

    from mnistmlp.serve.app import create_app

    return TestClient(create_app(data, model, "adam.safetensors", **limits), base_url=LOCAL)


@pytest.fixture(scope="module")
def client(data, adam):
    with make_client(data, adam, max_training=2, max_kept=3) as c:
        yield c


def events(client, run_id, last_id=None):
    """The run's server-sent events (type, id, data), read until the stream ends."""
    headers = {} if last_id is None else {"Last-Event-ID": str(last_id)}
    with client.stream("GET", f"/api/runs/{run_id}/events", headers=headers) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        blocks = "".join(response.iter_text()).split("\n\n")
    parsed = []
    for block in filter(None, blocks):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        parsed.append((fields["event"], int(fields["id"]), json.loads(fields["data"])))
    return parsed


def test_config_offers_the_spec_s_choices_and_the_notebook_s_networks(client):
    config = client.get("/api/config").json()
    assert config["activations"] == list(mnistmlp._spec.ACTIVATIONS)
    assert config["optimizers"]["sgd"] == mnistmlp.optimizers.SGD().learning_rate
    assert [p["label"] for p in config["presets"]] == ["1×100 relu SGD", "1×10 relu SGD", "2×100 relu SGD",
                                                       "2×100 relu Adam"]
    assert config["model"] == {"id": "file", "label": "adam.safetensors", "layer_sizes": [784, 100, 100, 10]}


def test_a_run_streams_its_curve_then_its_test_accuracy_and_confusion_matrix(client, data):
    preset = client.get("/api/config").json()["presets"][3]  # 2×100 Adam
    fields = {k: preset[k] for k in ("hidden", "activation", "optimizer", "learning_rate", "batch_size")}
    response = client.post("/api/runs", json={**fields, "epochs": 2, "seed": 1})
    assert response.status_code == 201
    run_id = response.json()["id"]
    stream = events(client, run_id)
    kinds = [kind for kind, _, _ in stream]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("epoch") == 2 and "progress" in kinds
    assert [i for _, i, _ in stream] == list(range(len(stream)))
    n = len(data.train.images)
    epoch_events = [e for kind, _, e in stream if kind == "epoch"]
    assert [e["samples"] for e in epoch_events] == [n, 2 * n]
    assert epoch_events[-1]["batch_curve"]["samples"][-1] == 2 * n and epoch_events[1]["val_accuracy"] > 0.9
    progress = [e["samples"] for kind, _, e in stream if kind == "progress"]
    assert progress == sorted(progress) and progress[-1] <= 2 * n
    end = stream[-1][2]
    assert end["state"] == "done" and end["test_accuracy"] > 0.94
    confusion = np.array(end["confusion"])
    assert confusion.sum() == 10_000 and np.trace(confusion) == round(end["test_accuracy"] * 10_000)
    # A browser reconnecting after event 2 gets the rest only.
    assert events(client, run_id, last_id=2) == stream[3:]
    summary = next(run for run in client.get("/api/runs").json() if run["id"] == run_id)
    assert summary["state"] == "done" and summary["label"] == "2×100 relu Adam"


def test_the_notebook_s_deep_sgd_network_stays_at_one_class(client):
    fields = {"hidden": [100, 100], "optimizer": "sgd", "learning_rate": 0.001}
    run_id = client.post("/api/runs", json=fields).json()["id"]
    end = events(client, run_id)[-1][2]
    assert end["test_accuracy"] < 0.2 and sum(np.array(end["confusion"]).any(axis=0)) == 1


def test_a_run_stops_on_request_and_its_model_downloads(client, tmp_path):
    run_id = client.post("/api/runs", json={"hidden": [300, 300], "optimizer": "adam", "epochs": 20}).json()["id"]
    assert client.post(f"/api/runs/{run_id}/stop").json()["id"] == run_id
    stream = events(client, run_id)
    assert stream[-1][2]["state"] == "stopped" and sum(kind == "epoch" for kind, _, _ in stream) == 1
    response = client.get(f"/api/models/{run_id}/file")
    assert response.headers["content-disposition"] == f'attachment; filename="mnistmlp-run-{run_id}.safetensors"'
    (tmp_path / "run.safetensors").write_bytes(response.content)
    assert mnistmlp.MLP.load(tmp_path / "run.safetensors").layer_sizes == [784, 300, 300, 10]


def test_predicting_a_drawing_mistakes_and_weights(client, data, adam):
    canvas = np.zeros((140, 140), np.uint8)
    canvas[20:120, 66:76] = 255  # a "1"
    body = {"width": 140, "height": 140, "pixels": base64.b64encode(canvas.tobytes()).decode()}
    result = client.post("/api/models/file/predict", json=body).json()
    assert np.argmax(result["probabilities"]) == 1
    np.testing.assert_array_equal(np.array(result["image"]).reshape(28, 28), to_mnist(canvas))
    mistakes = client.get("/api/models/file/mistakes").json()
    wrong = adam.predict(data.test.images) != data.test.labels
    assert mistakes["errors"] == wrong.sum() and len(mistakes["images"]) == 12
    first = mistakes["images"][0]
    assert first["index"] == np.flatnonzero(wrong)[0] and first["label"] != first["predicted"]
    weights = client.get("/api/models/file/weights").json()
    w = adam.get_weights()[0][0]
    assert weights["units"] == 100 and len(weights["weights"]) == 100 and len(weights["weights"][0]) == 784
    unit = np.array(weights["weights"][5])
    clear = np.abs(unit) > 1  # signs rounding leaves alone
    assert np.abs(unit).max() == 127 and np.array_equal(np.sign(unit[clear]), np.sign(w[clear, 5]))


@pytest.mark.parametrize("body, status, fragment", [
    ({"hidden": 100, "optimizer": "sgd"}, 400, "hidden must be a list"),
    ({"hidden": [100, 0], "optimizer": "sgd"}, 400, "a hidden width must be an integer in [1, 1024], got 0"),
    ({"hidden": [10] * 5, "optimizer": "sgd"}, 400, "the number of hidden layers must be an integer in [1, 4]"),
    ({"hidden": [10], "optimizer": "lbfgs"}, 400, "optimizer must be one of 'sgd'"),
    ({"hidden": [10], "optimizer": "sgd", "epochs": 1000}, 400, "epochs must be an integer in [1, 20]"),
    ({"hidden": [10], "optimizer": "sgd", "learning_rate": -1}, 400, "learning_rate"),
    ({"hidden": [10], "optimizer": "sgd", "activation": "swish"}, 400, "activation must be one of"),
    ({"hidden": [10], "optimizer": "sgd", "path": "/etc/passwd"}, 400, "unknown field path"),
    ([1, 2], 400, "must be a JSON object"),
])
def test_bad_runs_are_4xx_with_a_clear_message(client, body, status, fragment):
    response = client.post("/api/runs", json=body)
    assert response.status_code == status and fragment in response.json()["error"]


def test_bad_requests_are_4xx_with_a_clear_message(client):
    from mnistmlp.serve.app import MAX_BODY

    def error(response, status):
        assert response.status_code == status, response.text
        return response.json()["error"]

    assert "Content-Type: application/json" in error(client.post("/api/runs", content=b"{}"), 415)
    as_json = {"Content-Type": "application/json"}
    assert "not valid JSON" in error(client.post("/api/runs", content=b"{", headers=as_json), 400)
    huge = b'{"pad": "' + b"x" * MAX_BODY + b'"}'
    assert "larger than" in error(client.post("/api/runs", content=huge, headers=as_json), 413)
    assert "no run '99'" in error(client.get("/api/runs/99/events"), 404)
    assert "no model 'nope'" in error(client.get("/api/models/nope/weights"), 404)
    draw = "/api/models/file/predict"
    assert "pixels holds 3 bytes" in error(client.post(draw, json={"width": 2, "height": 2, "pixels": "AAAA"}), 400)
    assert "not valid base64" in error(client.post(draw, json={"width": 1, "height": 1, "pixels": "!"}), 400)
    assert "width must be an integer in [1, 1024]" in error(client.post(draw, json={"width": 5000, "height": 1,
                                                                                     "pixels": ""}), 400)
    assert "not 'evil.example:80'" in error(client.get("/api/config", headers={"Host": "evil.example:80"}), 400)
    for local in ("localhost", "localhost:8000", "[::1]:8000"):
        assert client.get("/api/config", headers={"Host": local}).status_code == 200


def test_concurrent_runs_are_bounded_and_old_runs_make_way(data):
    with make_client(data, max_training=1, max_kept=2) as client:
        long = {"hidden": [300, 300], "optimizer": "adam", "epochs": 20}
        first = client.post("/api/runs", json=long).json()["id"]
        refused = client.post("/api/runs", json=long)
        assert refused.status_code == 429 and "1 runs are training already" in refused.json()["error"]
        client.post(f"/api/runs/{first}/stop")
        events(client, first)
        ids = [client.post("/api/runs", json={"hidden": [10], "optimizer": "sgd", "epochs": 1}).json()["id"]]
        events(client, ids[0])
        ids.append(client.post("/api/runs", json={"hidden": [10], "optimizer": "sgd"}).json()["id"])
        events(client, ids[1])
        assert [run["id"] for run in client.get("/api/runs").json()] == ids  # the first made way
        assert client.get(f"/api/models/{first}/weights").status_code == 404


def test_the_page_and_its_assets_come_from_the_package(client):
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    for asset in ("app.js", "style.css"):
        assert client.get(f"/static/{asset}").status_code == 200
    # Nothing the page loads comes from another site.
    folder = Path(mnistmlp.__file__).parent / "serve" / "static"
    for path in folder.iterdir():
        assert "http://" not in path.read_text() and "https://" not in path.read_text()


# --- the command -------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="the test stops the server with SIGINT, which Windows has not")
def test_serve_starts_trains_and_ends_its_runs_on_ctrl_c(mnist_dir, adam, tmp_path):
    adam.save(tmp_path / "adam.safetensors")
    # --open runs the browser that BROWSER names (Python's webbrowser): here, one that notes the address.
    opened = tmp_path / "opened.txt"
    browser = f"{sys.executable} -c \"import sys; open(sys.argv[1], 'w').write(sys.argv[2])\" {opened} %s"
    process, url = start_server(mnist_dir, "--port", "0", "--open", "--model", str(tmp_path / "adam.safetensors"),
                                env={"BROWSER": browser})
    try:
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "api/config", timeout=10) as response:
            assert json.load(response)["model"]["label"] == "adam.safetensors"
        request = urllib.request.Request(url + "api/runs", json.dumps({"hidden": [300, 300], "optimizer": "adam",
                                                                      "epochs": 20}).encode(),
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.load(response)["state"] == "training"
        stream = urllib.request.urlopen(url + "api/runs/1/events", timeout=10)
        assert stream.readline().startswith(b"id: 0")
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        rest = stream.read().decode()  # the stream ends with the run, cut short
        assert '"state": "stopped"' in rest
        assert process.wait(timeout=30) == 0 and time.monotonic() - started < 15
    finally:
        process.kill()
    assert "Traceback" not in process.stderr.read()
    assert opened.read_text() == url


@pytest.mark.skipif(sys.platform == "win32", reason="the test stops the server with SIGINT, which Windows has not")
def test_serve_warns_loudly_off_localhost_and_refuses_bad_options(mnist_dir, tmp_path):
    process, url = start_server(mnist_dir, "--host", "0.0.0.0", "--port", "0")
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    assert "WARNING: serving on 0.0.0.0, which other machines may reach" in process.stderr.read()
    env = {**os.environ, "MNISTMLP_DATA": str(mnist_dir)}
    (tmp_path / "bad.safetensors").write_bytes(b"not a model")
    for args, fragment in ((["--port", "70000"], "--port must be at most 65535"),
                           (["--model", str(tmp_path / "none")], "no such file"),
                           (["--model", str(tmp_path / "bad.safetensors")], "bad.safetensors")):
        result = subprocess.run([sys.executable, "-m", "mnistmlp", "serve", *args], capture_output=True, text=True,
                                env=env, timeout=60)
        assert result.returncode != 0 and fragment in result.stderr and len(result.stderr.splitlines()) == 1
    busy = start_server(mnist_dir, "--port", "0")
    try:
        port = busy[1].rsplit(":", 1)[1].strip("/")
        result = subprocess.run([sys.executable, "-m", "mnistmlp", "serve", "--port", port], capture_output=True,
                                text=True, env=env, timeout=60)
        assert result.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in result.stderr
    finally:
        busy[0].send_signal(signal.SIGINT)
        busy[0].wait(timeout=30)
