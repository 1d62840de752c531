"""Download a file from the first of several mirrors that delivers a valid copy.

Each attempt streams into a temporary file beside the target, has the caller verify it,
and only then renames it over the target, so the target folder never holds a partial or
unverified file: not after a failed attempt, and not after Ctrl-C. Uses urllib only.
"""

from __future__ import annotations

import http.client
import socket
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

from .._progress import ProgressBar
from ._errors import DataError, DownloadError
from ._files import atomic_write

#: Seconds to wait for a mirror to connect or send more data before trying the next one.
TIMEOUT = 30.0
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
) -> str:
    """Download the first of ``urls`` that ``verify`` accepts to ``target``; return its URL.

    ``verify(path, url)`` checks the downloaded file at ``path`` and raises
    :class:`DataError` (naming ``url``) if it is not valid. ``progress`` draws a progress bar
    on stderr (``None``: only if stderr is a terminal). ``timeout`` defaults to :data:`TIMEOUT`.
    ``hint`` ends the error messages: it tells the user how to get the file some other way.

    Raises :class:`DownloadError` if ``target``'s folder cannot be written, or listing every
    URL tried and why it failed if none worked.
    """
    timeout = TIMEOUT if timeout is None else timeout
    _check_writable(target.parent, hint)
    failures: List[Tuple[str, str]] = []
    for url in urls:
        try:
            _download_one(url, target, verify, progress=progress, timeout=timeout)
        # DataError from verify, and ValueError for a malformed URL, are ValueErrors.
        except (OSError, http.client.HTTPException, ValueError) as exc:
            failures.append((url, _reason(exc, timeout)))
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


def _download_one(
    url: str, target: Path, verify: Verify, *, progress: Optional[bool], timeout: float
) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response, atomic_write(target) as out:
        length = response.headers.get("Content-Length", "")
        total = int(length) if length.isdigit() else None
        received = 0
        with ProgressBar(total, desc=target.name, unit="B", enabled=progress) as bar:
            for chunk in iter(lambda: response.read(CHUNK_SIZE), b""):
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        # read(n) returns what it got when the server hangs up early, without an error.
        if total is not None and received != total:
            raise OSError(f"the connection closed after {received:,} of {total:,} bytes")
        out.flush()
        verify(Path(out.name), url)


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
