"""The page's web app (Starlette) and the server that runs it (uvicorn).

The API, all JSON, under ``/api``:

* ``GET /api/config``: the page's choices (activations, optimizers and their default rates,
  the notebook's networks as presets), its limits, and the loaded ``--model`` if any;
* ``POST /api/runs`` ``{"hidden": [100], "optimizer": "sgd", "learning_rate": 0.001,
  "activation": "relu", "batch_size": 10, "epochs": 1, "seed": 0}``: start a run;
  ``GET /api/runs``: the runs; ``POST /api/runs/{id}/stop``;
* ``GET /api/runs/{id}/events``: the run's learning curve as server-sent events (``start``,
  ``progress``, ``epoch``, then ``end`` with the test accuracy and confusion matrix, or
  ``failed``), from its start or from the ``Last-Event-ID`` a reconnecting browser sends;
* ``/api/models/{id}/...`` for a run's model or ``file`` (the ``--model``): ``POST predict``
  ``{"width": W, "height": H, "pixels": base64 of W×H grey bytes}`` (a drawing, made MNIST-like
  by :func:`~mnistmlp.serve.drawing.to_mnist`), ``GET mistakes`` (test images it gets wrong),
  ``GET weights`` (the first layer's, per hidden unit), ``GET file`` (the model file).

No file path comes from the browser; bodies, drawings and the number of runs are bounded.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import os
import socket
import sys
import tempfile
import threading
import webbrowser
from pathlib import Path
from typing import Any, AsyncIterator, Dict, Optional, Sequence

import numpy as np

from .._spec import ACTIVATIONS, OPTIMIZERS, SEED_LIMIT, Interval, OneOf, make_optimizer
from ..experiments import PRESETS, Config, _optional
from ..model import MLP
from .drawing import MAX_DRAWING_SIDE, MNIST_SIDE, to_mnist
from ._runs import Run, Runs, TooManyRuns

_optional("starlette", "mnistmlp serve", "serve")

from starlette.applications import Starlette  # noqa: E402
from starlette.exceptions import HTTPException  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.datastructures import Headers  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse  # noqa: E402
from starlette.routing import Mount, Route  # noqa: E402
from starlette.staticfiles import StaticFiles  # noqa: E402
from starlette.types import ASGIApp, Receive, Scope, Send  # noqa: E402

__all__ = ["create_app", "serve", "RUN_RULES", "LOCAL_HOSTS"]

STATIC = Path(__file__).parent / "static"
#: The largest request body: a drawing of MAX_DRAWING_SIDE² grey bytes, in base64, fits.
MAX_BODY = 2 * 1024 * 1024
#: What a run may ask for: bounds on the work and memory one request can start.
RUN_RULES = {
    "hidden width": Interval(1, 1024, integer=True),
    "depth": Interval(1, 4, integer=True),
    "batch_size": Interval(1, 10_000, integer=True),
    "epochs": Interval(1, 20, integer=True),
    "seed": Interval(0, SEED_LIMIT, integer=True),
}
#: Runs training at once, and runs kept (with their models) for the page to compare.
MAX_TRAINING = 4
MAX_KEPT = 24
#: Test images shown as the model's mistakes, and first-layer units shown as images.
MISTAKES = 12
MAX_UNITS_SHOWN = 100
#: Hosts that only this machine reaches; any other makes the server say so, loudly.
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
#: The loaded --model's id in /api/models/{id}.
FILE_MODEL = "file"


async def _json_body(request: Request) -> Dict[str, Any]:
    """The request's JSON object, read up to MAX_BODY bytes. Requiring JSON's content type
    also makes a browser ask before another site's page may post here (a CORS preflight)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise HTTPException(415, "the request body must be JSON, sent as Content-Type: application/json")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPException(413, f"the request body is larger than {MAX_BODY} bytes")
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise HTTPException(400, f"the request body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise HTTPException(400, "the request body must be a JSON object")
    return value


def _checked(fields: Dict[str, Any], allowed: tuple) -> None:
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise ValueError(f"unknown field{'s' * (len(unknown) > 1)} {', '.join(unknown)}; expected {', '.join(allowed)}")


def run_config(fields: Dict[str, Any]) -> tuple:
    """(Config, seed) of a POST /api/runs body; TypeError or ValueError saying what is wrong."""
    _checked(fields, ("hidden", "activation", "optimizer", "learning_rate", "batch_size", "epochs", "seed"))
    hidden = fields.get("hidden")
    if not isinstance(hidden, list):
        raise TypeError("hidden must be a list of layer widths, such as [100, 100]")
    RUN_RULES["depth"].check("the number of hidden layers", len(hidden))
    for width in hidden:
        RUN_RULES["hidden width"].check("a hidden width", width)
    optimizer = OneOf(tuple(OPTIMIZERS)).check("optimizer", fields.get("optimizer"))
    settings = {name: RUN_RULES[name].check(name, fields[name]) for name in ("batch_size", "epochs") if name in fields}
    learning_rate = fields.get("learning_rate", make_optimizer(optimizer).learning_rate)
    config = Config(tuple(hidden), optimizer, learning_rate, activation=fields.get("activation", "relu"), **settings)
    return config, RUN_RULES["seed"].check("seed", fields.get("seed", 0))


def drawing(fields: Dict[str, Any]) -> np.ndarray:
    """The (height, width) uint8 drawing of a POST predict body."""
    _checked(fields, ("width", "height", "pixels"))
    side = Interval(1, MAX_DRAWING_SIDE, integer=True)
    width, height = side.check("width", fields.get("width")), side.check("height", fields.get("height"))
    pixels = fields.get("pixels")
    if not isinstance(pixels, str):
        raise TypeError("pixels must be a base64 string of width × height grey levels (0..255)")
    try:
        raw = base64.b64decode(pixels, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("pixels is not valid base64") from None
    if len(raw) != width * height:
        raise ValueError(f"pixels holds {len(raw)} bytes, but width × height is {width * height}")
    return np.frombuffer(raw, dtype=np.uint8).reshape(height, width)


class _HostsOnly:
    """Answers only requests whose Host header names one of ``hosts`` (on any port), so that a
    page on another site cannot reach this one through a name of its own that points here
    (DNS rebinding). Starlette's TrustedHostMiddleware cannot read an IPv6 Host ([::1]:8000)."""

    def __init__(self, app: ASGIApp, hosts: Sequence[str]) -> None:
        self.app, self.hosts = app, tuple(hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = Headers(scope=scope).get("host", "")
            name = host[1:host.find("]")] if host.startswith("[") else host.rsplit(":", 1)[0]
            if name not in self.hosts:
                response = JSONResponse({"error": f"this server answers requests for {', '.join(self.hosts)} only, "
                                                  f"not {host!r}"}, status_code=400)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _sse(index: int, event: Dict[str, Any]) -> str:
    return f"id: {index}\nevent: {event['type']}\ndata: {json.dumps(event)}\n\n"


def create_app(data, model: Optional[MLP] = None, model_name: Optional[str] = None, threads: Optional[int] = None,
               device: str = "cpu", allowed_hosts: Optional[tuple] = LOCAL_HOSTS, max_training: int = MAX_TRAINING,
               max_kept: int = MAX_KEPT) -> Starlette:
    """The page's app, training on ``data`` (``mnist.read_data_sets``'s splits) and offering
    ``model`` (a loaded 784-…-10 :class:`~mnistmlp.MLP`, shown as ``model_name``) for drawing.
    ``allowed_hosts``: the Host headers answered (None: any), which keeps a page on another
    site from reaching this one through a name that points here (DNS rebinding). ``threads``
    and ``device``: each run's engine's."""
    runs = Runs(data, max_training, max_kept, threads, device)

    def model_of(model_id: str) -> MLP:
        if model_id == FILE_MODEL and model is not None:
            return model
        try:
            return runs.get(model_id).model
        except KeyError:
            raise HTTPException(404, f"no model {model_id!r}: it is not a run of this server (or no longer kept)") from None

    def run_of(run_id: str) -> Run:
        try:
            return runs.get(run_id)
        except KeyError:
            raise HTTPException(404, f"no run {run_id!r}: it is not a run of this server (or no longer kept)") from None

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    async def config(request: Request) -> Response:
        presets = [{"label": c.label, "hidden": list(c.hidden), "activation": c.activation, "optimizer": c.optimizer,
                    "learning_rate": c.learning_rate, "batch_size": c.batch_size, "epochs": c.epochs}
                   for c in PRESETS["tutorial"].configs]
        return JSONResponse({
            "activations": list(ACTIVATIONS),
            "optimizers": {name: make_optimizer(name).learning_rate for name in OPTIMIZERS},
            "presets": presets,
            "limits": {name: [rule.low, rule.high] for name, rule in RUN_RULES.items() if name != "seed"},
            "train_samples": len(data.train.images),
            "model": None if model is None else {"id": FILE_MODEL, "label": model_name,
                                                 "layer_sizes": model.layer_sizes},
        })

    async def start_run(request: Request) -> Response:
        fields = await _json_body(request)
        try:
            config, seed = run_config(fields)
        except (TypeError, ValueError) as exc:
            raise HTTPException(400, str(exc)) from None
        try:
            run = await asyncio.to_thread(runs.start, config, seed)
        except TooManyRuns as exc:
            raise HTTPException(429, str(exc)) from None
        return JSONResponse(run.summary(), status_code=201)

    async def list_runs(request: Request) -> Response:
        return JSONResponse([run.summary() for run in runs.all()])

    async def stop_run(request: Request) -> Response:
        run = run_of(request.path_params["run_id"])
        run.stop()
        return JSONResponse(run.summary())

    async def events(request: Request) -> Response:
        run = run_of(request.path_params["run_id"])
        last = request.headers.get("last-event-id", "")
        start = int(last) + 1 if last.isdigit() else 0

        async def stream() -> AsyncIterator[str]:
            index = start
            while True:
                new, finished = run.events_since(index)
                for event in new:
                    yield _sse(index, event)
                    index += 1
                if finished and not new:
                    return
                # Polling keeps the worker thread free of the event loop; 20 looks a second
                # is smooth to the eye and nothing to the CPU.
                await asyncio.sleep(0.05)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    def predict(request: Request, fields: Dict[str, Any]) -> Response:
        net = model_of(request.path_params["model_id"])
        try:
            image = to_mnist(drawing(fields))
        except (TypeError, ValueError) as exc:
            raise HTTPException(400, str(exc)) from None
        probabilities = net.predict_proba(image.reshape(1, -1))[0] if image.any() else np.zeros(10)
        return JSONResponse({"probabilities": probabilities.tolist(), "image": image.ravel().tolist()})

    async def predict_drawing(request: Request) -> Response:
        fields = await _json_body(request)
        return await asyncio.to_thread(predict, request, fields)

    # The handlers below that are plain functions run in Starlette's thread pool: they read a
    # model, which may be training, and take milliseconds to a few tens of them.
    def mistakes(request: Request) -> Response:
        net = model_of(request.path_params["model_id"])
        probabilities = net.predict_proba(data.test.images)
        predicted = probabilities.argmax(axis=1)
        wrong = np.flatnonzero(predicted != data.test.labels)[:MISTAKES]
        images = np.rint(np.asarray(data.test.images[wrong]).reshape(len(wrong), -1) * 255).astype(np.uint8)
        return JSONResponse({"errors": int((predicted != data.test.labels).sum()), "of": len(predicted), "images": [
            {"index": int(i), "label": int(data.test.labels[i]), "predicted": int(predicted[i]),
             "probability": float(probabilities[i, predicted[i]]), "pixels": image.tolist()}
            for i, image in zip(wrong, images)]})

    def weights(request: Request) -> Response:
        net = model_of(request.path_params["model_id"])
        first = net.get_weights()[0][0]  # (784, units)
        shown = first[:, :MAX_UNITS_SHOWN].T
        # Each unit on its own scale (its largest |w| is ±127): the pattern, not the size, is
        # what the page shows.
        scale = np.abs(shown).max(axis=1, keepdims=True)
        scaled = np.rint(127 * shown / np.where(scale > 0, scale, 1)).astype(int)
        return JSONResponse({"units": int(first.shape[1]), "side": MNIST_SIDE, "scale": scale[:, 0].tolist(),
                             "weights": scaled.tolist()})

    def model_file(request: Request) -> Response:
        model_id = request.path_params["model_id"]
        net = model_of(model_id)
        # MLP.save writes files atomically by name: a private folder holds it for as long as
        # it takes to read it back.
        with tempfile.TemporaryDirectory(prefix="mnistmlp-serve-") as folder:
            path = os.path.join(folder, "model.safetensors")
            net.save(path)
            content = Path(path).read_bytes()
        name = f"mnistmlp-{'model' if model_id == FILE_MODEL else 'run-' + model_id}.safetensors"
        return Response(content, media_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await asyncio.to_thread(runs.stop_all, 30.0)

    routes = [
        Route("/", page),
        Route("/api/config", config),
        Route("/api/runs", start_run, methods=["POST"]),
        Route("/api/runs", list_runs),
        Route("/api/runs/{run_id}/stop", stop_run, methods=["POST"]),
        Route("/api/runs/{run_id}/events", events),
        Route("/api/models/{model_id}/predict", predict_drawing, methods=["POST"]),
        Route("/api/models/{model_id}/mistakes", mistakes),
        Route("/api/models/{model_id}/weights", weights),
        Route("/api/models/{model_id}/file", model_file),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    middleware = [] if allowed_hosts is None else [Middleware(_HostsOnly, hosts=allowed_hosts)]
    app = Starlette(routes=routes, middleware=middleware, exception_handlers={HTTPException: http_error},
                    lifespan=lifespan)
    app.state.runs = runs
    return app


def load_model(path: str, threads: Optional[int] = None, device: str = "cpu") -> MLP:
    """The ``--model`` file, which must take MNIST's 784 pixels and give 10 classes."""
    model = MLP.load(path, threads, device)
    sizes = model.layer_sizes
    if sizes[0] != MNIST_SIDE * MNIST_SIDE or sizes[-1] != 10:
        raise ValueError(f"{path}: the model takes {sizes[0]} inputs and gives {sizes[-1]} outputs; the page needs "
                         f"a model of MNIST's {MNIST_SIDE * MNIST_SIDE} pixels and 10 classes")
    return model


def _bound_socket(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port``, bound here so that a port in use is an error
    that says so, and port 0 (any free port) gets a real number to print."""
    family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, protocol)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(data, model_path: Optional[str] = None, host: str = "127.0.0.1", port: int = 8000,
          threads: Optional[int] = None, device: str = "cpu", open_browser: bool = False) -> None:
    """Serve the page on ``host``:``port`` until Ctrl-C (or SIGTERM), which stops every run
    after its current batch and then the server; ``open_browser``: open the page in the web
    browser too."""
    _optional("uvicorn", "mnistmlp serve", "serve")
    import uvicorn

    model = None if model_path is None else load_model(model_path, threads, device)
    local = host in LOCAL_HOSTS
    app = create_app(data, model, None if model_path is None else Path(model_path).name, threads, device,
                     allowed_hosts=LOCAL_HOSTS if local else None)
    sock = _bound_socket(host, port)
    shown_host = f"[{host}]" if ":" in host else host
    url = f"http://{shown_host}:{sock.getsockname()[1]}/"
    if not local:
        print(f"WARNING: serving on {host}, which other machines may reach: anyone who can reach {url} can "
              "train networks on this machine and read its models. There is no authentication. Serve on "
              "127.0.0.1 (the default) unless you mean this.", file=sys.stderr, flush=True)

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            # Runs end first, within a batch, and with them their event streams, so the server
            # is not left waiting for streams that would never end.
            for run in app.state.runs.all():
                run.stop()
            super().handle_exit(sig, frame)

    # Ctrl-C is the way to stop: uvicorn raises it again once it has shut down, and one that
    # comes before uvicorn listens for it (as the address is printed) ends the server as well.
    try:
        print(f"mnistmlp serve: the page is at {url} (Ctrl-C to stop)", flush=True)
        if open_browser:
            # In a thread, as Jupyter does: a text-mode browser would otherwise hold the
            # terminal. The socket listens already: the browser's first request waits for it.
            threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
        Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5)).run(sockets=[sock])
    except KeyboardInterrupt:
        app.state.runs.stop_all(30.0)
    finally:
        sock.close()
    print("mnistmlp serve: stopped", flush=True)
