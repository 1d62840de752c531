"""Gzip bombs, and a measure of the memory a piece of code takes, for the tests of bounded reading."""

from __future__ import annotations

import contextlib
import functools
import gzip
import tracemalloc
from dataclasses import dataclass
from typing import Iterator

MiB = 1 << 20


@functools.lru_cache(maxsize=None)
def _zeros_member() -> bytes:
    return gzip.compress(bytes(MiB), mtime=0)


def gzip_bomb(content: bytes, mib_of_zeros: int) -> bytes:
    """``content`` then ``mib_of_zeros`` MiB of zeros, gzipped: about 1 KiB per MiB.

    The zeros are one gzip member of a MiB repeated (a valid gzip file, as ``gunzip`` reads
    it), so building even a large bomb takes no time.
    """
    return gzip.compress(content, mtime=0) + _zeros_member() * mib_of_zeros


@dataclass
class Memory:
    peak: int = 0


@contextlib.contextmanager
def peak_memory() -> Iterator[Memory]:
    """The most memory Python and numpy held at once inside the ``with`` block, in
    ``.peak`` (bytes, counted from the block's start)."""
    memory = Memory()
    tracemalloc.start()
    try:
        yield memory
    finally:
        memory.peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
