"""What every writer of the generator shares: the campus it describes, its target (a path or an open
stream) behind a buffering, byte-counting sink, and the checks of its arguments."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import BinaryIO

#: A file path, or an already open binary stream (left open: the caller owns it).
Target = str | os.PathLike[str] | BinaryIO

BUILDINGS: tuple[str, ...] = ("u4", "u3", "u2", "u1", "u5", "u6")
ROOMS: tuple[str, ...] = tuple(str(n) for n in range(300, 311))
SENSOR_POOL = 40  # distinct sensors per stream: enough variety, constant memory
_FLUSH_AT = 1 << 16  # writers hand the target ~64 KiB at a time: few calls, little memory


# --------------------------------------------------------------------------------------------------- helpers
def naive_utc(value: datetime | None, default: datetime) -> datetime:
    """Naive UTC datetime: aware values are converted, naive ones are taken as UTC already."""
    if value is None:
        return default
    if value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def check_count(count: int) -> None:
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")


class Sink:
    """Buffers small writes into large ones and counts the bytes, so writers stay simple and fast."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._parts: list[bytes] = []
        self._pending = 0
        self.written = 0

    def write(self, data: bytes) -> None:
        self._parts.append(data)
        self._pending += len(data)
        self.written += len(data)
        if self._pending >= _FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        if self._parts:
            self._out.write(b"".join(self._parts))
            self._parts.clear()
            self._pending = 0


@contextmanager
def open_binary(target: Target) -> Iterator[BinaryIO]:
    """Open a path for writing (and close it), or lend a caller's stream (flushed, left open)."""
    if isinstance(target, str | os.PathLike):
        with open(target, "wb") as out:
            yield out
    else:
        yield target
        target.flush()


@contextmanager
def open_sink(target: Target) -> Iterator[Sink]:
    """A buffering, byte-counting sink over ``target``; flushed before the target is closed."""
    with open_binary(target) as out:
        sink = Sink(out)
        yield sink
        sink.flush()
