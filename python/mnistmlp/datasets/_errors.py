"""The exceptions of :mod:`mnistmlp.datasets`."""

from __future__ import annotations

from typing import Sequence, Tuple


class DataError(ValueError):
    """A data file is missing, unreadable, corrupt, or not the file it claims to be.

    The message names the file (or folder) and what is wrong with it. It subclasses
    :class:`ValueError` because bad data is a bad input value: code that already handles
    ``ValueError`` keeps working.
    """


class DownloadError(DataError):
    """No mirror delivered a valid copy of a file, or the file could not be stored.

    ``failures`` lists ``(url, reason)`` for every URL that was tried, in order (empty when
    the download could not start, e.g. because the data directory is not writable).
    """

    def __init__(self, message: str, failures: Sequence[Tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.failures = list(failures)
