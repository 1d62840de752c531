"""Downloads from mirrors, against HTTP servers on 127.0.0.1 that the tests start themselves.

Nothing here touches the network: the mirrors are local servers serving bytes from memory
(the fake dataset of conftest.py, or the real MNIST files read from ``MNISTMLP_DATA``).
"""

from __future__ import annotations

import dataclasses
import gzip
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Union

import numpy as np
import pytest
from _bombs import MiB, gzip_bomb, peak_memory

from mnistmlp import _progress
from mnistmlp.datasets import DataError, DownloadError, _download, mnist

TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"

Route = Union[bytes, Callable[[BaseHTTPRequestHandler], None]]


class LocalMirror:
    """An HTTP server on 127.0.0.1 answering GET requests from ``routes`` (path -> bytes, or a
    function handling the request); other paths get 404. ``requests`` logs the paths asked."""

    def __init__(self) -> None:
        self.routes: Dict[str, Route] = {}
        self.requests: List[str] = []
        self.release = threading.Event()  # lets handlers that stall finish at teardown
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                mirror.requests.append(self.path)
                route = mirror.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                elif callable(route):
                    route(self)
                else:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(route)))
                    self.end_headers()
                    self.wfile.write(route)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # A short poll interval makes shutdown() quick.
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    def url(self, folder: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/{folder}/"

    def serve(self, folder: str, files: Dict[str, Route]) -> str:
        """Serve ``files`` (name -> route) under ``/folder/``; return the mirror's base URL."""
        for name, route in files.items():
            self.routes[f"/{folder}/{name}"] = route
        return self.url(folder)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def server() -> Iterator[LocalMirror]:
    mirror = LocalMirror()
    yield mirror
    mirror.close()


@pytest.fixture
def refused_url() -> str:
    """A URL on a local port nobody listens on: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def gz_files(fake, corrupt: bool = False) -> Dict[str, bytes]:
    """The fake dataset's four .gz files; if ``corrupt``, valid gzip of content with one wrong byte."""
    files = {}
    for name in fake.arrays:
        content = bytearray(fake.content(name))
        if corrupt:
            content[-1] ^= 0x01
        files[f"{name}.gz"] = gzip.compress(bytes(content), mtime=0)
    return files


def truncated_body(handler: BaseHTTPRequestHandler) -> None:
    """Promise 1000 bytes, send 10, and hang up."""
    handler.send_response(200)
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    handler.wfile.write(b"\x1f\x8b" + b"\x00" * 8)
    handler.close_connection = True


def trickle(mirror: LocalMirror, head: bytes, seconds: float = 3.0) -> Route:
    """A route that sends ``head`` (raw HTTP), then a byte every 5 ms, for ``seconds`` at most
    or until the client hangs up or the mirror closes."""

    def handle(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        end = time.monotonic() + seconds
        try:
            handler.wfile.write(head)
            while time.monotonic() < end and not mirror.release.wait(0.005):
                handler.wfile.write(b"a")
        except OSError:
            pass  # the client gave up

    return handle


def files_in(folder: Path) -> List[str]:
    return sorted(p.name for p in folder.iterdir())


def test_failing_mirrors_are_skipped(fake, server: LocalMirror, refused_url: str, tmp_path: Path) -> None:
    mirrors = [
        refused_url,
        server.url("missing"),  # 404
        server.serve("corrupt", gz_files(fake, corrupt=True)),
        server.serve("good", gz_files(fake)).rstrip("/"),  # without the trailing slash
    ]
    data = tmp_path / "new" / "data"
    images, labels = fake.dataset.load("train", data, mirrors=mirrors)

    np.testing.assert_array_equal(images, fake.arrays[TRAIN_IMAGES])
    np.testing.assert_array_equal(labels, fake.arrays[TRAIN_LABELS])
    assert server.requests == [
        f"/{folder}/{name}.gz"
        for name in (TRAIN_IMAGES, TRAIN_LABELS)
        for folder in ("missing", "corrupt", "good")
    ]
    assert files_in(data) == [f"{TRAIN_IMAGES}.gz", f"{TRAIN_LABELS}.gz"]  # no partial files
    assert (data / f"{TRAIN_IMAGES}.gz").read_bytes() == fake.gz(TRAIN_IMAGES)


def test_all_mirrors_failing_gives_one_error_listing_them(
    fake, server: LocalMirror, refused_url: str, tmp_path: Path
) -> None:
    mirrors = [
        refused_url,
        server.url("missing"),
        server.serve("corrupt", gz_files(fake, corrupt=True)),
        server.serve("html", {f"{TRAIN_IMAGES}.gz": b"<html>Moved</html>"}),
        server.serve("truncated", {f"{TRAIN_IMAGES}.gz": truncated_body}),
    ]
    with pytest.raises(DownloadError) as excinfo:
        fake.dataset.load("train", tmp_path, mirrors=mirrors)

    error = excinfo.value
    assert isinstance(error, DataError)
    urls = [base + f"{TRAIN_IMAGES}.gz" for base in mirrors]
    assert [url for url, _ in error.failures] == urls
    reasons = [reason for _, reason in error.failures]
    assert "Connection refused" in reasons[0]
    assert reasons[1] == "HTTP error 404 Not Found"
    assert reasons[2].startswith(f"invalid file: {urls[2]}: SHA-256 mismatch")
    assert reasons[3].startswith(f"invalid file: {urls[3]}: not an IDX file")
    assert reasons[4] == "the connection closed after 10 of 1,000 bytes"
    message = str(error)
    assert message.startswith(f"could not download {TRAIN_IMAGES}.gz from any mirror; tried:\n")
    for url, reason in error.failures:
        assert f"  {url}: {reason}\n" in message
    assert str(tmp_path) in message and "MNISTMLP_FAKE_DATA" in message
    assert files_in(tmp_path) == []  # no partial or unverified file left behind


def test_stalled_mirror_times_out(fake, server: LocalMirror, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(_download, "TIMEOUT", 0.2)
    stall = lambda handler: server.release.wait(10)  # noqa: E731
    stalled = server.serve("stalled", {name: stall for name in gz_files(fake)})
    good = server.serve("good", gz_files(fake))
    fake.dataset.load("test", tmp_path, mirrors=[stalled, good])
    with pytest.raises(DownloadError, match=rf"stalled/{TRAIN_IMAGES}.gz: no answer within 0.2 s"):
        fake.dataset.load("train", tmp_path, mirrors=[stalled])


SLOW_HEADERS = b"HTTP/1.1 200 OK\r\nX-Slow: "
SLOW_BODY = b"HTTP/1.1 200 OK\r\nContent-Length: 50000\r\n\r\n"  # within the size limit


def test_a_slow_mirror_is_dropped_at_the_deadline(fake, server: LocalMirror, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(_download, "DEADLINE", 0.5)
    monkeypatch.setattr(_download, "MIN_RATE", 0)
    slow_headers = server.serve("slow-headers", {f"{TRAIN_IMAGES}.gz": trickle(server, SLOW_HEADERS)})
    slow_body = server.serve("slow-body", {f"{TRAIN_IMAGES}.gz": trickle(server, SLOW_BODY)})
    with pytest.raises(DownloadError) as excinfo:
        fake.dataset.load("train", tmp_path, mirrors=[slow_headers, slow_body])
    assert [reason for _, reason in excinfo.value.failures] == ["exceeded the 0.5 s deadline"] * 2
    assert files_in(tmp_path) == []

    good = server.serve("good", gz_files(fake))
    images, _ = fake.dataset.load("train", tmp_path, mirrors=[slow_body, good])
    np.testing.assert_array_equal(images, fake.arrays[TRAIN_IMAGES])
    assert f"/good/{TRAIN_IMAGES}.gz" in server.requests


def test_a_mirror_below_the_minimum_rate_is_dropped(
    fake, server: LocalMirror, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(_download, "MIN_RATE", 1000)
    monkeypatch.setattr(_download, "RATE_WINDOW", 0.2)
    trickling = server.serve("trickling", {name: trickle(server, SLOW_BODY) for name in gz_files(fake)})
    with pytest.raises(DownloadError) as excinfo:
        fake.dataset.load("train", tmp_path, mirrors=[trickling])
    [(_, reason)] = excinfo.value.failures
    assert re.fullmatch(r"too slow: \d+ bytes/s, below the 1,000 bytes/s minimum", reason), reason
    assert files_in(tmp_path) == []

    good = server.serve("good", gz_files(fake))
    images, labels = fake.dataset.load("train", tmp_path, mirrors=[trickling, good])
    np.testing.assert_array_equal(labels, fake.arrays[TRAIN_LABELS])
    assert server.requests[-4:] == [
        f"/{folder}/{name}.gz" for name in (TRAIN_IMAGES, TRAIN_LABELS) for folder in ("trickling", "good")
    ]


def test_a_mirror_serving_a_gzip_bomb_is_refused_in_bounded_memory(
    fake, server: LocalMirror, tmp_path: Path
) -> None:
    # Small enough to pass the download's size limit for this 916-byte file (its size plus
    # an eighth plus 64 KiB), so that the check of the downloaded file has to refuse it.
    bomb = gzip_bomb(fake.content(TRAIN_IMAGES), 48)
    assert len(bomb) < 64 * 1024
    bombs = server.serve("bomb", {f"{TRAIN_IMAGES}.gz": bomb})
    with peak_memory() as memory, pytest.raises(DownloadError) as excinfo:
        fake.dataset.load("train", tmp_path, mirrors=[bombs])
    assert memory.peak < 8 * MiB  # the bomb holds 48 MiB
    [(url, reason)] = excinfo.value.failures
    assert reason.startswith(
        f"invalid file: {url}: more than 65,536 unexpected bytes after the end of its uint8 array"
    )
    assert files_in(tmp_path) == []

    good = server.serve("good", gz_files(fake))
    images, _ = fake.dataset.load("train", tmp_path, mirrors=[bombs, good])
    np.testing.assert_array_equal(images, fake.arrays[TRAIN_IMAGES])


def endless_body(handler: BaseHTTPRequestHandler) -> None:
    """Zeros without a Content-Length, until the client hangs up (or 16 MiB are sent)."""
    handler.send_response(200)
    handler.end_headers()
    handler.close_connection = True
    try:
        for _ in range(256):
            handler.wfile.write(bytes(64 * 1024))
    except OSError:
        pass


def huge_length(handler: BaseHTTPRequestHandler) -> None:
    """Announce a terabyte, send 10 bytes and hang up."""
    handler.send_response(200)
    handler.send_header("Content-Length", str(10**12))
    handler.end_headers()
    handler.wfile.write(b"\x1f\x8b" + b"\x00" * 8)
    handler.close_connection = True


def test_a_download_larger_than_the_file_can_be_is_cut_off(fake, server: LocalMirror, tmp_path: Path) -> None:
    mirrors = [
        server.serve("huge", {f"{TRAIN_IMAGES}.gz": huge_length}),
        server.serve("endless", {f"{TRAIN_IMAGES}.gz": endless_body}),
    ]
    with pytest.raises(DownloadError) as excinfo:
        fake.dataset.load("train", tmp_path, mirrors=mirrors)
    limit = f"more than a valid {TRAIN_IMAGES}.gz can have (66,566 bytes at most)"
    assert [reason for _, reason in excinfo.value.failures] == [
        f"the server announced 1,000,000,000,000 bytes, {limit}",
        f"the server sent {limit}",
    ]
    assert files_in(tmp_path) == []


def test_interrupted_download_leaves_nothing(fake, server: LocalMirror, tmp_path: Path, monkeypatch) -> None:
    def interrupt(self, n: int = 1) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_progress.ProgressBar, "update", interrupt)
    with pytest.raises(KeyboardInterrupt):
        fake.dataset.load("train", tmp_path, mirrors=[server.serve("good", gz_files(fake))])
    assert files_in(tmp_path) == []


def test_unwritable_data_directory(fake, server: LocalMirror, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    data = tmp_path / "a-file" / "data"  # cannot be created, even by root
    with pytest.raises(DownloadError) as excinfo:
        fake.dataset.load("train", data, mirrors=[server.serve("good", gz_files(fake))])
    assert str(excinfo.value).startswith(f"cannot download into {data}: the folder is not writable (")
    assert "MNISTMLP_FAKE_DATA" in str(excinfo.value)
    assert server.requests == []


def test_download_false_never_downloads(fake, server: LocalMirror, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="files missing from"):
        fake.dataset.load("test", tmp_path, download=False, mirrors=[server.serve("good", gz_files(fake))])
    assert server.requests == []


def test_fetch_downloads_only_missing_files(fake, server: LocalMirror, tmp_path: Path, capsys) -> None:
    fake.write(tmp_path, [TRAIN_IMAGES], compressed=False)
    good = server.serve("good", gz_files(fake))

    report = fake.dataset.fetch(tmp_path, mirrors=[good])
    assert [entry.valid for entry in report] == [True] * 4
    downloaded = [f"/good/{name}.gz" for name in fake.arrays if name != TRAIN_IMAGES]
    assert sorted(server.requests) == sorted(downloaded)
    assert capsys.readouterr().err == ""  # stderr is no terminal here: no progress bar

    server.requests.clear()
    fake.dataset.fetch(tmp_path, mirrors=[good])
    assert server.requests == []


def test_fetch_can_show_progress(fake, server: LocalMirror, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")  # wide enough for the bar's graphic
    fake.dataset.fetch(tmp_path, mirrors=[server.serve("good", gz_files(fake))], progress=True)
    err = capsys.readouterr().err
    assert f"\r{TRAIN_IMAGES}.gz: 100% [####################]" in err
    assert err.count("\n") == 4


def test_fetch_does_not_replace_an_invalid_file(fake, server: LocalMirror, tmp_path: Path) -> None:
    (tmp_path / TRAIN_LABELS).write_bytes(b"junk")
    with pytest.raises(DataError, match="delete the invalid files and fetch"):
        fake.dataset.fetch(tmp_path, mirrors=[server.serve("good", gz_files(fake))])
    assert (tmp_path / TRAIN_LABELS).read_bytes() == b"junk"


@pytest.fixture(scope="module")
def real_gz_files(mnist_dir: Path) -> Dict[str, bytes]:
    """The real MNIST .gz files, in memory (compressed here if stored uncompressed)."""
    files = {}
    for file in mnist.MNIST.files:
        path = mnist_dir / f"{file.name}.gz"
        data = path.read_bytes() if path.is_file() else gzip.compress((mnist_dir / file.name).read_bytes())
        files[f"{file.name}.gz"] = data
    return files


def test_mnist_downloads_from_a_local_mirror(
    real_gz_files, server: LocalMirror, refused_url: str, tmp_path: Path, monkeypatch
) -> None:
    good = server.serve("mnist", real_gz_files)
    monkeypatch.setattr(mnist, "MNIST", dataclasses.replace(mnist.MNIST, mirrors=(refused_url, good)))

    images, labels = mnist.load_mnist("test", tmp_path)
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    assert server.requests == ["/mnist/t10k-images-idx3-ubyte.gz", "/mnist/t10k-labels-idx1-ubyte.gz"]

    report = mnist.fetch(tmp_path, mirrors=[good])
    assert all(entry.valid for entry in report)
    assert files_in(tmp_path) == sorted(real_gz_files)
