"""The upload side of the Swift hook: how a source is read, cut into PUT bodies and fingerprinted.

`SwiftClient.put_object` drives these pieces. A source of any size (a path, bytes, a stream that may not
seek) goes through in one pass that feeds sha256 as it is sent; each PUT body keeps its own md5, checked
against the ETag Swift returns, and can be rewound for swiftclient's retries without hashing twice.

A large object whose source can be read at an offset (a file, bytes) has its segments sent by several
threads at once: one thread still reads the source once, in order, for the fingerprints, and each segment's
PUT reads its own bytes again at their offset (`positional_reader`, `Span`), so no segment is held in memory.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import threading
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, BinaryIO

import swiftclient

from airflow_provider_datalake.hooks.errors import SwiftError, UploadAborted

MIB = 1 << 20
CHUNK = MIB  # bytes per read/send: few syscalls, bounded memory
SPOOL_RAM = 8 * MIB  # a piece of a non-seekable source stays in RAM up to this, then spills to a temp file


@dataclass(frozen=True)
class PutResult:
    """What the catalog records about a stored object (``segments`` is 0 for a plain object).

    ``md5`` is the content's MD5 for a plain object (it is Swift's ETag, checked against what was sent).
    An SLO's ETag is the MD5 of its segments' ETags, and its content MD5 is not computed: ``sha256`` is the
    fingerprint, and a second MD5 over every byte would cost a large upload client CPU for nothing.
    """

    container: str
    name: str
    size: int
    md5: str | None
    sha256: str
    etag: str
    segments: int


def target_of(container: str | None, obj: str | None = None) -> str:
    if obj is not None:
        return f"object {obj!r} in container {container!r}"
    return f"container {container!r}" if container is not None else "the account"


def remaining_bytes(stream: IO[bytes]) -> int | None:
    """Bytes left in a seekable stream; None when it cannot seek (a pipe, a socket, a response body)."""
    try:
        here = stream.tell()
        return stream.seek(0, io.SEEK_END) - stream.seek(here) if stream.seekable() else None
    except (AttributeError, OSError, ValueError):
        return None


@contextmanager
def open_source(source: str | os.PathLike[str] | bytes | BinaryIO) -> Iterator[IO[bytes]]:
    """Paths are opened (and closed) here; streams stay the caller's and are read from their position."""
    if isinstance(source, bytes | bytearray | memoryview):
        yield io.BytesIO(source)
    elif isinstance(source, str | os.PathLike):
        with open(source, "rb") as handle:
            yield handle
    else:
        yield source


class Upload:
    """One put_object call: running sha256/size of the source, and what exists now (for the rollback)."""

    def __init__(
        self,
        client: swiftclient.Connection,
        container: str,
        name: str,
        progress: Any,
        before_body: Callable[[], None] | None = None,
    ) -> None:
        self.client, self.container, self.name, self.progress = client, container, name, progress
        self.sha256, self.size = hashlib.sha256(), 0
        self.done: list[tuple[str, str]] = []
        self.segment: tuple[str, str] | None = None  # the segment whose PUT is under way
        # segments whose PUT other threads have started and not finished (parallel segments)
        self.in_flight: set[tuple[str, str]] = set()
        self.lock = threading.Lock()  # guards ``done`` and ``in_flight`` against the segment threads
        self.before_body = before_body

    def open_body(self) -> None:
        """Run the caller's ``before_body`` once, before the first byte of data leaves."""
        if (gate := self.before_body) is not None:
            self.before_body = None
            try:
                gate()
            except BaseException as err:
                if not isinstance(err, Exception):
                    raise
                where = target_of(self.container, self.name)
                raise UploadAborted(f"upload of {where} stopped: {err}") from err


class Piece:
    """File-like body of one PUT: ``stream`` from ``start``, at most ``limit`` bytes, ``last`` known ahead.
    ``reset`` rewinds it for swiftclient's retries; bytes already fed to the digests are not fed twice."""

    def __init__(self, up: Upload, stream: IO[bytes], start: int, limit: int | None, last: bool) -> None:
        self.up, self.stream, self.start, self.limit, self.last, self.fed = up, stream, start, limit, last, 0
        self.reset()

    def reset(self, *_args: Any, **_kwargs: Any) -> None:
        self.md5, self.count = hashlib.md5(usedforsecurity=False), 0
        self.stream.seek(self.start)

    def read(self, size: int = -1) -> bytes:
        self.up.open_body()
        if self.limit is not None:
            size = self.limit - self.count if size < 0 else min(size, self.limit - self.count)
        if size == 0:
            return b""
        try:
            data = self.stream.read(size) or b""
        except Exception as err:  # a SwiftError, so that swiftclient does not retry it as a network error
            where = target_of(self.up.container, self.up.name)
            raise SwiftError(f"{where}: source unreadable: {err}") from err
        self.md5.update(data)
        self.count += len(data)
        if self.count > self.fed:
            new, self.fed = data[len(data) - (self.count - self.fed) :], self.count
            self.up.sha256.update(new)
            self.up.size += len(new)
            if self.up.progress is not None:
                self.up.progress(len(new))
        return data


def positional_reader(stream: IO[bytes]) -> Callable[[int, int], bytes] | None:
    """``read_at(offset, size)`` that several threads may call at once without moving ``stream``'s position
    (a plain file's descriptor read with pread, an in-memory buffer sliced); None for any other stream,
    which then goes up sequentially. Only a file opened as such, and seekable: a pipe has a descriptor but no
    offsets, and a wrapper's descriptor (a gzip or bz2 stream) holds other bytes than those it reads."""
    if isinstance(stream, io.BytesIO):
        view = stream.getbuffer()
        return lambda offset, size: bytes(view[offset : offset + size])
    raw = stream.raw if isinstance(stream, io.BufferedReader | io.BufferedRandom) else stream
    if not isinstance(raw, io.FileIO):
        return None
    try:
        fd = raw.fileno()
        if not stream.seekable():
            return None
        os.pread(fd, 0, 0)  # a descriptor pread refuses sends the source sequentially
    except (OSError, ValueError):
        return None
    return lambda offset, size: os.pread(fd, size, offset)


class Span:
    """File-like body of one segment PUT sent by a segment thread: ``length`` bytes at ``offset``, read with
    ``read_at`` so that the thread reading ahead (and hashing) keeps the stream's position. ``reset``
    rewinds it for swiftclient's retries; once ``abort`` is set, its next read raises, which ends the PUT
    before its body is complete, so Swift stores nothing of it."""

    def __init__(
        self,
        read_at: Callable[[int, int], bytes],
        offset: int,
        length: int,
        abort: threading.Event,
        counted: Callable[[int], None] | None = None,
    ) -> None:
        self.read_at, self.offset, self.length, self.abort, self.sent = read_at, offset, length, abort, 0
        self.counted, self.fed = counted, 0

    def reset(self, *_args: Any, **_kwargs: Any) -> None:
        self.sent = 0

    def read(self, size: int = -1) -> bytes:
        """The next bytes of the segment; ``counted`` gets each byte once, the first time it is read (a
        retry's second reading is not counted again)."""
        if self.abort.is_set():
            raise SwiftError("segment upload stopped: another segment failed or the upload was interrupted")
        size = self.length - self.sent if size < 0 else min(size, self.length - self.sent)
        data = self.read_at(self.offset + self.sent, size) if size > 0 else b""
        self.sent += len(data)
        if self.counted is not None and self.sent > self.fed:
            self.counted(self.sent - self.fed)
            self.fed = self.sent
        return data


def cut_pieces(
    up: Upload, stream: IO[bytes], seekable: bool, limit: int | None
) -> Generator[Piece, None, None]:
    """Cut the source into PUT bodies of at most ``limit`` bytes (None: one body), at least one. Seekable
    sources are read in place; others are spooled one piece at a time (RAM, then a temp file), so memory
    stays bounded, swiftclient can still retry, and a stream of unknown size gets measured."""
    start, carry, last = stream.tell() if seekable else 0, b"", False
    while not last:
        if seekable:
            last = limit is None or (stream.seek(start + limit) >= 0 and not stream.read(1))
            yield Piece(up, stream, start, limit, last)
            start += limit or 0
            continue
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_RAM) as spool:
            length = spool.write(carry)
            while data := stream.read(CHUNK if limit is None else min(CHUNK, limit - length)):
                length += spool.write(data)
            carry = (stream.read(1) or b"") if limit is not None and length == limit else b""
            last = not carry
            yield Piece(up, spool, 0, None, last)
