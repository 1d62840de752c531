"""Whole-file reads and atomic writes, shared by downloads, the content cache and ``write_idx``."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator, Optional, Union

PathLike = Union[str, "os.PathLike[str]"]
BytesLike = Union[bytes, bytearray, memoryview]


def read_file(path: PathLike, max_size: Optional[int] = None) -> bytearray:
    """The bytes of ``path``, in a writable buffer (so arrays viewing it need no copy).

    With ``max_size``, no more than ``max_size + 1`` bytes are read: a result longer than
    ``max_size`` tells the caller the file is too long, without reading all of it.
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        data = bytearray(size if max_size is None else min(size, max_size + 1))
        # A file that shrinks while being read yields fewer bytes; keep only those.
        del data[f.readinto(data):]
    return data


@contextlib.contextmanager
def atomic_write(target: PathLike) -> Iterator[IO[bytes]]:
    """Write ``target`` all at once, or not at all.

    Yields a temporary file in ``target``'s folder (its ``name`` is its path, so it can be
    re-read before it is committed). When the ``with`` block ends normally the data is
    flushed to disk and the file renamed over ``target``; when it raises, KeyboardInterrupt
    included, the temporary file is removed and the exception propagates. Readers therefore
    never see a partial ``target``.
    """
    target = Path(target)
    tmp = tempfile.NamedTemporaryFile(
        dir=target.parent, prefix=f".{target.name}.", suffix=".part", delete=False
    )
    try:
        with tmp:
            # mkstemp's 0600 would hide downloaded data from the other users of a shared folder.
            os.chmod(tmp.name, 0o644)
            yield tmp
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp.name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp.name)
        raise
