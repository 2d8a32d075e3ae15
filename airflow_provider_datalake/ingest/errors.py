"""The errors `insert_datalake()` raises: one family, so a caller catches InsertError alone."""

from __future__ import annotations


class InsertError(RuntimeError):
    """insert_datalake() failed; what was done has been rolled back (or left for reconcile(), as said)."""


class EmptySourceError(InsertError, ValueError):
    pass


class SourceError(InsertError, OSError):
    """The source cannot be read: missing, not a regular file, unreadable."""


class Cancelled(KeyboardInterrupt):
    """The insert's ``cancel`` event was set (by the thread that got the Ctrl-C of a parallel batch): it
    stops like a Ctrl-C, rolled back unless its record was committed already."""
