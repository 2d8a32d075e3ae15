"""JSON documents (streamed with ijson) and JSON lines, as raw records.

A JSON document is parsed incrementally by ijson's C backend (yajl2_c), fed pieces of at most
`JSON_PIECE_BYTES`, so memory follows the largest record, never the document: a 50 MB array on one line
streams. Syntax errors make the document unusable (`ParseError`: a C parser cannot resume past them); a
document that just stops (truncated upload) yields what came before plus one quarantined record.
JSON lines are independent: a bad line is one bad record.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import ijson

from airflow_provider_datalake.parsing import lines as _limits
from airflow_provider_datalake.parsing.coerce import loads
from airflow_provider_datalake.parsing.errors import ParseError
from airflow_provider_datalake.parsing.lines import LineSplitter, Overlong, ascii_pieces, drop_bom, pieces
from airflow_provider_datalake.parsing.records import Unusable

Item = tuple[dict[str, Any] | Unusable, Any]

JSON_PIECE_BYTES = 1 << 16  # ijson is fed this much at a time: bounds the records buffered per send
_WHITESPACE = b" \t\r\n"


def _not_an_object(value: Any) -> Unusable:
    return Unusable(f"expected a JSON object, got {_json_kind(value)}")


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    kinds: dict[type, str] = {str: "string", list: "array", dict: "object"}
    return kinds.get(type(value), type(value).__name__)


def _reason(exc: Exception) -> str:
    """yajl's first message line ('lexical error: invalid char in json text'); the rest is ASCII art."""
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text).strip().splitlines()[0].rstrip(".") if str(text).strip() else type(exc).__name__


def _utf8_pieces(chunks: Iterable[bytes], encoding: str) -> tuple[Iterator[bytes], int]:
    """yajl reads UTF-8 only: other encodings are transcoded; a BOM is dropped (and counted in offsets)."""
    source, name, strip_bom = ascii_pieces(chunks, encoding)
    if name not in ("utf-8", "ascii"):
        source = _limits.transcode(source, name)
    if strip_bom:
        source, skipped = drop_bom(source)
        return pieces(source, JSON_PIECE_BYTES, 1), skipped
    return pieces(source, JSON_PIECE_BYTES, 1), 0


def _first_byte(stream: Iterator[bytes]) -> tuple[bytes, list[bytes], int]:
    """Peek at the first significant byte ('[' or '{' ...), keeping what was read; b'' if there is none."""
    seen: list[bytes] = []
    blank = 0
    for piece in stream:
        seen.append(piece)
        stripped = piece.lstrip(_WHITESPACE)
        if stripped:
            return stripped[:1], seen, blank + len(piece) - len(stripped)
        blank += len(piece)
    return b"", seen, blank


def read_json(chunks: Iterable[bytes], encoding: str, records_path: str | None) -> Iterator[Item]:
    """Records of a JSON document: the array at `records_path` ('data.items'), else the root array, or a
    root object as the one record."""
    stream, offset = _utf8_pieces(chunks, encoding)
    first, seen, blank = _first_byte(stream)
    if not first:
        return  # empty or blank input: no records, no error
    if records_path:
        prefix = f"{records_path}.item"
    elif first == b"[":
        prefix = "item"
    elif first == b"{":
        prefix = ""
    else:
        where = offset + blank
        if first in b'-0123456789"tfn':
            raise ParseError(f"JSON root at byte {where} is a scalar, not an array of records or an object")
        raise ParseError(f"not JSON: unexpected byte {first!r} at byte {where}")
    found = ijson.sendable_list()
    parser = ijson.items_coro(found, prefix, use_float=True)
    watcher = _PathWatcher(records_path) if records_path else None
    for piece in _chain(seen, stream):
        try:
            parser.send(piece)
        except ijson.JSONError as exc:
            raise ParseError(
                f"invalid JSON between byte {offset} and byte {offset + len(piece)}: {_reason(exc)}"
            ) from None
        offset += len(piece)
        if watcher is not None:
            watcher.send(piece)
        for record in found:
            yield (record, record) if type(record) is dict else (_not_an_object(record), record)
        del found[:]
    try:
        parser.close()
    except ijson.JSONError:
        truncated = True
    else:
        truncated = False
    for record in found:
        yield (record, record) if type(record) is dict else (_not_an_object(record), record)
    if truncated:
        yield Unusable(f"truncated JSON at byte {offset}"), None
    elif watcher is not None and not watcher.seen:
        raise ParseError(f"records_path {records_path!r} does not lead to an array in this document")


def _chain(seen: list[bytes], rest: Iterator[bytes]) -> Iterator[bytes]:
    while seen:
        yield seen.pop(0)
    yield from rest


class _PathWatcher:
    """Notices whether `records_path` leads to an array, so a wrong path fails loudly instead of yielding
    nothing. It parses events only until the array starts (usually within the first piece)."""

    def __init__(self, path: str) -> None:
        self.seen = False
        self._path = path
        self._events = ijson.sendable_list()
        self._parser: Any = ijson.parse_coro(self._events)

    def send(self, piece: bytes) -> None:
        if self.seen:
            return
        try:
            self._parser.send(piece)
        except ijson.JSONError:
            return  # the items parser reports errors
        for prefix, event, _value in self._events:
            if prefix == self._path and event == "start_array":
                self.seen = True
                self._parser = None  # stop parsing: the rest is the items parser's job
                break
        del self._events[:]


def read_jsonl(chunks: Iterable[bytes], encoding: str) -> Iterator[Item]:
    """One record per line; blank lines are not records; each bad line is one quarantined record."""
    source, name, strip_bom = ascii_pieces(chunks, encoding)
    splitter = LineSplitter(source, strip_bom=strip_bom)
    for line in splitter:
        if isinstance(line, Overlong):
            reason = f"line {splitter.number} is longer than {_limits.MAX_RECORD_BYTES} bytes"
            yield Unusable(reason), line.head.decode(name, "replace")
            continue
        try:
            text = line.decode(name)
        except UnicodeDecodeError as exc:
            reason = (
                f"cannot decode line {splitter.number} as {name}: "
                f"byte 0x{line[exc.start]:02x} at byte {splitter.offset + exc.start}"
            )
            yield Unusable(reason), line.decode(name, "replace")
            continue
        text = text.strip()
        if not text:
            continue
        try:
            record = loads(text)
        except ValueError as exc:
            yield Unusable(f"invalid JSON on line {splitter.number}: {exc}"), text
            continue
        yield (record, text) if type(record) is dict else (_not_an_object(record), text)
