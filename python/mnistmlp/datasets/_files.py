"""Whole-file reads and atomic writes, shared by downloads, the content cache and ``write_idx``."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator, Union

PathLike = Union[str, "os.PathLike[str]"]


def read_file(path: PathLike) -> bytearray:
    """The bytes of ``path``, in a writable buffer (so arrays viewing it need no copy)."""
    with open(path, "rb") as f:
        data = bytearray(os.fstat(f.fileno()).st_size)
        # A file that shrinks while being read yields fewer bytes; keep only those.
        del data[f.readinto(data):]
    return data


@contextlib.contextmanager
def atomic_write(target: PathLike) -> Iterator[BinaryIO]:
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
