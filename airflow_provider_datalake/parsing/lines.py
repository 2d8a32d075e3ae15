"""Bytes in, physical lines out: the streaming base of the line formats (CSV, JSON lines).

Whatever the caller's chunking, input is cut into pieces of at most `PIECE_BYTES`, so memory follows the
piece size, not the chunk size. A line longer than `MAX_RECORD_BYTES` (a file with no newline, a 50 MB
cell) is never buffered whole: past the limit its bytes are counted and dropped, and an `Overlong` marker
stands in for it so the reader can quarantine it.
"""

from __future__ import annotations

import codecs
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from airflow_provider_datalake.parsing.errors import ParseError

MAX_RECORD_BYTES = 16 * 1024 * 1024  # longest line (CSV, JSON lines) parsed; longer ones are quarantined
PIECE_BYTES = 1 << 20
MIN_PIECE_BYTES = 1 << 16
HEAD_BYTES = 8192  # what an overlong line keeps for its quarantine record
UTF8_BOM = codecs.BOM_UTF8
_PROBE = "\t\n\r !\"#$%&'()*+,-./0123456789:;<=>?@AZaz[\\]^_`{|}~"
_STATEFUL = ("iso2022", "hz", "utf_7", "utf-7")


def pieces(chunks: Iterable[bytes], size: int = PIECE_BYTES, least: int = MIN_PIECE_BYTES) -> Iterator[bytes]:
    """Re-cut the caller's chunks into `bytes` of `least`..`size` bytes (the last may be shorter).

    Big chunks are sliced so memory follows `size`; tiny ones (a socket's 1 kB reads) are gathered so the
    per-piece work stays small and a long line is a short list of parts.
    """
    gathered: list[bytes] = []
    held = 0
    for chunk in chunks:
        if isinstance(chunk, str):
            raise TypeError("parse() takes bytes chunks, got str: pass the raw bytes")
        if not chunk:
            continue
        if len(chunk) < least:
            gathered.append(bytes(chunk))
            held += len(chunk)
            if held >= least:
                yield b"".join(gathered)
                gathered, held = [], 0
            continue
        if gathered:
            yield b"".join(gathered)
            gathered, held = [], 0
        if len(chunk) <= size:
            yield chunk if isinstance(chunk, bytes) else bytes(chunk)
            continue
        view = memoryview(chunk)
        for start in range(0, len(view), size):
            yield bytes(view[start : start + size])
    if gathered:
        yield b"".join(gathered)


def codec_name(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise ValueError(f"unknown encoding {encoding!r}") from None


def ascii_compatible(name: str) -> bool:
    """Can lines be found by looking for b'\\n' and decoded one by one? (utf-8, latin-1, cp1252: yes)."""
    if name.startswith(_STATEFUL):
        return False
    try:
        return _PROBE.encode(name) == _PROBE.encode("ascii")
    except UnicodeError:
        return False


def transcode(chunks: Iterable[bytes], name: str) -> Iterator[bytes]:
    """UTF-16 and friends → UTF-8, streaming; such inputs are decoded strictly (no per-row recovery)."""
    decoder = codecs.getincrementaldecoder(name)("strict")
    offset = 0
    try:
        for piece in chunks:
            text = decoder.decode(piece)
            offset += len(piece)
            if text:
                yield text.encode("utf-8")
        tail = decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise ParseError(f"cannot decode the input as {name} near byte {offset + exc.start}") from None
    if tail:
        yield tail.encode("utf-8")


def ascii_pieces(chunks: Iterable[bytes], encoding: str) -> tuple[Iterator[bytes], str, bool]:
    """(pieces, codec, strip_bom): input in an encoding where b'\\n' and ASCII punctuation mean themselves."""
    name = codec_name(encoding)
    if name in ("utf-8", "utf-8-sig"):
        return pieces(chunks), "utf-8", True
    if ascii_compatible(name):
        return pieces(chunks), name, False
    return transcode(pieces(chunks), name), "utf-8", False


@dataclass(frozen=True, slots=True)
class Overlong:
    """Stands for a line longer than the limit: its first bytes, its size and its count of quote bytes."""

    head: bytes
    size: int
    quotes: int


def drop_bom(source: Iterable[bytes]) -> tuple[Iterator[bytes], int]:
    """Drop a leading UTF-8 BOM (Excel writes one), even if the caller's chunks cut it; return its length."""
    stream = iter(source)
    head = b""
    for piece in stream:
        head += piece
        if len(head) >= len(UTF8_BOM):
            break
    skipped = len(UTF8_BOM) if head.startswith(UTF8_BOM) else 0
    rest = head[skipped:]
    return itertools.chain((rest,) if rest else (), stream), skipped


class LineSplitter:
    """Physical lines with their terminator ('\\n', '\\r\\n' or a lone '\\r'), streaming.

    After each line is yielded, `offset` is its first byte in the input and `number` its 1-based line
    number, for error messages. `quote` (CSV) is counted in overlong lines so the reader can resync.
    """

    def __init__(
        self,
        source: Iterable[bytes],
        *,
        strip_bom: bool = False,
        quote: bytes | None = None,
        first_line: int = 0,
        first_offset: int = 0,
    ) -> None:
        # first_line / first_offset: where `source` starts in the whole input (a reader resumed mid-file
        # reports the same line numbers and byte offsets as one that read it all).
        self._source = source
        self._strip_bom = strip_bom
        self._quote = quote
        self._first_offset = first_offset
        self.offset = first_offset
        self.number = first_line

    def __iter__(self) -> Iterator[bytes | Overlong]:
        source, position = drop_bom(self._source) if self._strip_bom else (iter(self._source), 0)
        position += self._first_offset
        limit = MAX_RECORD_BYTES  # read at iteration time, so tests can lower it
        quote = self._quote
        pending: list[bytes] = []  # start of an unterminated line
        size = 0  # bytes of the pending (or skipped) line
        skipping = False  # the pending line passed the limit: only `head`, `size` and `quotes` are kept
        head = b""
        quotes = 0
        held_cr = False  # the pending line ends in '\r': complete unless the next piece starts with '\n'
        line: bytes | Overlong
        for piece in source:
            parts = piece.splitlines(keepends=True)
            last = len(parts) - 1
            for index, part in enumerate(parts):
                if held_cr:
                    held_cr = False
                    crlf = part == b"\n"
                    if crlf:
                        size += 1
                        if skipping:
                            head += part[: HEAD_BYTES - len(head)]
                        else:
                            pending.append(part)
                    line = Overlong(head, size, quotes) if skipping else b"".join(pending)
                    self.offset, self.number = position, self.number + 1
                    position += size
                    pending, size, skipping, head, quotes = [], 0, False, b"", 0
                    yield line
                    if crlf:
                        continue
                ends_cr = part[-1:] == b"\r"
                done = part[-1:] == b"\n" or (ends_cr and index < last)
                if done and not pending and not skipping and len(part) <= limit:  # the common case
                    self.offset, self.number = position, self.number + 1
                    position += len(part)
                    yield part
                    continue
                size += len(part)
                if skipping:
                    quotes += part.count(quote) if quote else 0
                    if len(head) < HEAD_BYTES:
                        head += part[: HEAD_BYTES - len(head)]
                else:
                    pending.append(part)
                    if size > limit:
                        for kept in pending:
                            head += kept[: HEAD_BYTES - len(head)]
                        quotes = sum(p.count(quote) for p in pending) if quote else 0
                        pending, skipping = [], True
                if ends_cr and index == last:
                    held_cr = True
                elif done:
                    line = Overlong(head, size, quotes) if skipping else b"".join(pending)
                    self.offset, self.number = position, self.number + 1
                    position += size
                    pending, size, skipping, head, quotes = [], 0, False, b"", 0
                    yield line
        if pending or skipping:
            self.offset, self.number = position, self.number + 1
            yield Overlong(head, size, quotes) if skipping else b"".join(pending)
