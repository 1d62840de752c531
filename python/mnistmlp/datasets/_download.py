"""Download a file from the first of several mirrors that delivers a valid copy.

Each attempt streams into a temporary file beside the target, has the caller verify it,
and only then renames it over the target, so the target folder never holds a partial or
unverified file: not after a failed attempt, and not after Ctrl-C. Uses urllib only.

An attempt is abandoned, and the next mirror tried, when the mirror

- sends nothing for :data:`TIMEOUT` seconds, while connecting or between two reads;
- has not answered in full within :data:`DEADLINE` seconds, however it trickles its
  headers or its body;
- sends fewer than :data:`MIN_RATE` bytes per second, on average over :data:`RATE_WINDOW`
  seconds of its body;
- announces or sends more bytes than the caller's ``max_size``. One built-in mirror is
  plain ``http://``: the content's checksum protects its integrity, this bound protects
  the disk, and the caller's check of the file (streaming, see
  :func:`~mnistmlp.datasets.idx.read_content`) protects memory.

The failure reasons say which (``too slow: 12 bytes/s, below the 10,000 bytes/s minimum``,
``exceeded the 600 s deadline``).
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any, Callable, List, Optional, Sequence, Tuple, cast

from .._progress import ProgressBar
from ._errors import DataError, DownloadError
from ._files import atomic_write

#: Seconds to wait for a mirror to connect or send more data before trying the next one.
TIMEOUT = 30.0
#: Seconds one attempt may take in all, from the request to the last byte: MNIST's largest
#: file (9.9 MB) then needs 17 kB/s, Fashion-MNIST's (26 MB) 44 kB/s.
DEADLINE = 600.0
#: Bytes per second a mirror must send, on average over each :data:`RATE_WINDOW` seconds of
#: a file's body; a slower one could not deliver MNIST's training images within the deadline.
MIN_RATE = 10_000
#: Seconds over which :data:`MIN_RATE` is averaged; the first window is a slow start's grace.
RATE_WINDOW = 30.0
CHUNK_SIZE = 1 << 20
# Some servers refuse urllib's default "Python-urllib/3.x" agent.
USER_AGENT = "mnistmlp-datasets (Python urllib)"

Verify = Callable[[Path, str], None]


def download(
    urls: Sequence[str],
    target: Path,
    verify: Verify,
    *,
    hint: str,
    progress: Optional[bool] = None,
    timeout: Optional[float] = None,
    deadline: Optional[float] = None,
    min_rate: Optional[float] = None,
    max_size: Optional[int] = None,
) -> str:
    """Download the first of ``urls`` that ``verify`` accepts to ``target``; return its URL.

    ``verify(path, url)`` checks the downloaded file at ``path`` and raises
    :class:`DataError` (naming ``url``) if it is not valid. ``progress`` draws a progress bar
    on stderr (``None``: only if stderr is a terminal). ``timeout`` (seconds per read),
    ``deadline`` (seconds per attempt) and ``min_rate`` (bytes per second) default to
    :data:`TIMEOUT`, :data:`DEADLINE` and :data:`MIN_RATE`; ``max_size`` is the most bytes
    the file can take, if known. ``hint`` ends the error messages: it tells the user how to
    get the file some other way.

    Raises :class:`DownloadError` if ``target``'s folder cannot be written, or listing every
    URL tried and why it failed if none worked.
    """
    timeout = TIMEOUT if timeout is None else timeout
    deadline = DEADLINE if deadline is None else deadline
    min_rate = MIN_RATE if min_rate is None else min_rate
    _check_writable(target.parent, hint)
    failures: List[Tuple[str, str]] = []
    for url in urls:
        attempt = _Deadline(deadline)
        try:
            with atomic_write(target) as out:
                with attempt:
                    _receive(
                        url,
                        out,
                        attempt,
                        progress=progress,
                        timeout=timeout,
                        min_rate=min_rate,
                        max_size=max_size,
                        name=target.name,
                    )
                out.flush()
                verify(Path(out.name), url)
        # DataError from verify, and ValueError for a malformed URL, are ValueErrors.
        except (OSError, http.client.HTTPException, ValueError) as exc:
            failures.append((url, attempt.reason if attempt.expired else _reason(exc, timeout)))
        else:
            return url
    tried = "\n".join(f"  {url}: {reason}" for url, reason in failures) or "  (no mirrors configured)"
    raise DownloadError(
        f"could not download {target.name} from any mirror; tried:\n{tried}\n{hint}", failures
    )


def _check_writable(folder: Path, hint: str) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise DownloadError(
            f"cannot download into {folder}: the folder is not writable ({exc.strerror or exc}).\n{hint}"
        ) from exc


def _receive(
    url: str,
    out: IO[bytes],
    deadline: _Deadline,
    *,
    progress: Optional[bool],
    timeout: float,
    min_rate: float,
    max_size: Optional[int],
    name: str,
) -> None:
    """Write the body of ``url`` (the file ``name``) to ``out``, within the limits."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    opener = urllib.request.build_opener(_HTTPHandler(deadline), _HTTPSHandler(deadline))
    with opener.open(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length", "")
        total = int(length) if length.isdigit() else None
        if max_size is not None and total is not None and total > max_size:
            raise OSError(f"the server announced {total:,} bytes, {_too_big(name, max_size)}")
        received = 0
        window_start, window_received = time.monotonic(), 0
        with ProgressBar(total, desc=name, unit="B", enabled=progress) as bar:
            # read1 returns what has arrived; read(n) would wait for all n bytes, each read
            # restarting the timeout, so a trickling mirror would never be checked.
            for chunk in iter(lambda: response.read1(CHUNK_SIZE), b""):
                received += len(chunk)
                if max_size is not None and received > max_size:
                    raise OSError(f"the server sent {_too_big(name, max_size)}")
                out.write(chunk)
                bar.update(len(chunk))
                now = time.monotonic()
                if now - window_start >= RATE_WINDOW:
                    rate = (received - window_received) / (now - window_start)
                    if rate < min_rate:
                        raise OSError(
                            f"too slow: {rate:,.0f} bytes/s, below the {min_rate:,.0f} bytes/s minimum"
                        )
                    window_start, window_received = now, received
    # At the deadline the connection is shut down, which ends a body like a hang-up would.
    deadline.check()
    # read1 returns what it got when the server hangs up early, without an error.
    if total is not None and received != total:
        raise OSError(f"the connection closed after {received:,} of {total:,} bytes")


def _too_big(name: str, max_size: int) -> str:
    return f"more than a valid {name} can have ({max_size:,} bytes at most)"


class _Deadline:
    """Ends a download attempt after ``seconds``, wherever it waits.

    A socket timeout bounds each read only; when the time is up, a timer shuts down the
    attempt's connections, which wakes a read blocked on a mirror that trickles its headers
    or body. (A connection made after that is refused.) Connecting, and a TLS handshake,
    are bounded by the socket timeout alone: the socket is watched once connected.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sockets: List[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    @property
    def reason(self) -> str:
        return f"exceeded the {self.seconds:g} s deadline"

    def __enter__(self) -> "_Deadline":
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock`` down when the time is up; raise :class:`OSError` if it already is."""
        with self._lock:
            self.check()
            self._sockets.append(sock)

    def check(self) -> None:
        """Raise :class:`OSError` if the time is up."""
        if self.expired:
            raise OSError(self.reason)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):  # already closed
                # socket.socket's own shutdown: an SSL socket's would also drop its TLS
                # state under the thread that is reading it.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _WatchedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection whose socket, once connected, is watched by ``deadline``."""

    def __init__(self, *args: Any, deadline: _Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline = deadline

    def connect(self) -> None:
        super().connect()
        self._deadline.watch(self.sock)


class _WatchedHTTPSConnection(_WatchedHTTPConnection, http.client.HTTPSConnection):
    """The same over TLS: its ``connect`` comes first, so the socket watched is the TLS one."""


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(cast(Any, _WatchedHTTPConnection), req, deadline=self._deadline)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(cast(Any, _WatchedHTTPSConnection), req, deadline=self._deadline)


def _reason(exc: BaseException, timeout: float) -> str:
    """Why one download attempt failed, in a few words."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP error {exc.code} {exc.reason}"
    if isinstance(exc, DataError):
        return f"invalid file: {exc}"
    cause = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(cause, (socket.timeout, TimeoutError)):
        return f"no answer within {timeout:g} s"
    return str(cause) or type(cause).__name__
