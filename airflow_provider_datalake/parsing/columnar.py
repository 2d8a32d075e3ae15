"""The CSV fast path: Arrow parses blocks of records into string columns, typed a column at a time.

Why: typing value by value in Python bounds how fast a CSV loads. Here pyarrow's CSV parser turns a block of
records into string columns and `column_typing.ColumnTyper` types each field over the whole block, handing
the row path's `FieldPlan` only the values Arrow does not read exactly as it would, so values, errors and
quarantined records are the row path's by construction.

Blocks end on record boundaries (a newline outside quotes). The fast path vouches only for blocks it reads
exactly as `csv_reader` would; any other block (undecodable bytes, a ragged row, a NUL, a lone CR, a cell
near the csv module's size limit) is read by the row path, resumed at the block's line and byte offsets so
its messages are the same. Quotes that are not whole quoted cells make boundaries uncertain: the row path
then reads the rest of the input. Record numbers are the row path's: every record after the preamble and
header takes the next number, blank lines none.

Used automatically (`parse()`) for CSV descriptors without expressions or `json` fields. One reader, one
module: cutting blocks, reading the header and resuming the row path share the reader's position in the
input (buffer, byte offset, line number), which is what keeps the two paths' numbers and messages equal.
"""

from __future__ import annotations

import csv
import itertools
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv

from airflow_provider_datalake.descriptors.model import CsvParser, Descriptor
from airflow_provider_datalake.parsing.column_typing import ARROW_TYPES, ColumnTyper
from airflow_provider_datalake.parsing.csv_reader import Item, read_pieces, unique_names
from airflow_provider_datalake.parsing.errors import ConversionError
from airflow_provider_datalake.parsing.fields import RowPlan
from airflow_provider_datalake.parsing.lines import UTF8_BOM, ascii_pieces
from airflow_provider_datalake.parsing.records import (
    VALUE_CHARS,
    BadRow,
    ColumnarBatch,
    Unusable,
    as_text,
    record_text,
)

#: Set DATALAKE_COLUMNAR=0 to read every CSV with the row path (to compare the two).
ENABLED = os.environ.get("DATALAKE_COLUMNAR", "1") != "0"

FIRST_BLOCK_BYTES = 64 << 10  # small first blocks: the first batch comes quickly, as with the row path
BLOCK_BYTES = 1 << 20
MAX_PENDING = 4 << 20  # a record longer than this is left to the row path (which caps lines at 16 MiB)
FIELD_LIMIT = 100_000  # records longer than this may hit csv.field_size_limit() (131072): row path


def columnar_ok(descriptor: Descriptor) -> bool:
    """Can the fast path read this descriptor? (otherwise `parse()` uses the row path, same results)."""
    parser = descriptor.parser
    if not ENABLED or not isinstance(parser, CsvParser):
        return False
    if not (parser.delimiter.isascii() and parser.quotechar.isascii()):
        return False
    if {parser.delimiter, parser.quotechar} & {"\r", "\n", "\x00"}:
        return False
    return all(f.expression is None and f.type in ARROW_TYPES for f in descriptor.fields)


class _RestByRows(Exception):
    """Boundaries cannot be trusted from here on (or a record is huge): the row path reads the rest."""


@dataclass
class _Segment:
    """The records numbered first .. first + count - 1: good ones typed, bad ones quarantined."""

    first: int
    count: int
    table: pa.Table
    numbers: np.ndarray
    bad: list[BadRow]

    def split(self, count: int) -> tuple[_Segment, _Segment]:
        edge = self.first + count
        cut = int(np.searchsorted(self.numbers, edge))
        head = _Segment(
            self.first,
            count,
            self.table.slice(0, cut),
            self.numbers[:cut],
            [b for b in self.bad if b.row_number < edge],
        )
        tail = _Segment(
            edge,
            self.count - count,
            self.table.slice(cut),
            self.numbers[cut:],
            [b for b in self.bad if b.row_number >= edge],
        )
        return head, tail


class _Input:
    """The input as one growing buffer: `pos` is where the next block starts, `base` the offset of buf[0]."""

    def __init__(self, source: Iterator[bytes]) -> None:
        self.source = source
        self.buf = b""
        self.pos = 0
        self.base = 0
        self.eof = False

    def fill(self, want: int, *, keep_all: bool = False) -> None:
        """Hold at least `want` bytes past `pos` (fewer at the end); drop what lies before `pos`."""
        have = len(self.buf) - self.pos
        if have >= want or self.eof:
            return
        start = 0 if keep_all else self.pos
        parts = [self.buf[start:]]
        while have < want:
            piece = next(self.source, None)
            if piece is None:
                self.eof = True
                break
            parts.append(piece)
            have += len(piece)
        self.buf = b"".join(parts)
        self.base += start
        self.pos -= start

    def rest(self) -> Iterator[bytes]:
        """What is left from `pos`, buffered bytes first."""
        head = self.buf[self.pos :]
        self.buf, self.pos = b"", 0
        return itertools.chain((head,) if head else (), self.source)


def _lines_in(data: bytes) -> int:
    """Physical lines ended in `data`, as `LineSplitter` counts them ('\\n', '\\r\\n' or a lone '\\r')."""
    lines = data.count(b"\n")
    if b"\r" in data:  # (counting b'\r\n' is slow: only when there is a CR at all)
        lines += data.count(b"\r") - data.count(b"\r\n")
    return lines


class ColumnarReader:
    """One CSV input read block by block; `batches()` gives `ColumnarBatch`es of `batch_size` records."""

    def __init__(self, descriptor: Descriptor, plan: RowPlan, batch_size: int) -> None:
        parser = descriptor.parser
        assert isinstance(parser, CsvParser)
        self.spec = parser
        self.plan = plan  # the row path's plan, for the blocks it reads
        self.fields = list(descriptor.fields)
        self.names = [f.name for f in self.fields]
        self.typer = ColumnTyper(self.fields, parser)
        self.types = self.typer.types
        self.batch_size = batch_size
        self.schema = pa.schema([pa.field(n, t) for n, t in zip(self.names, self.types, strict=True)])
        self.header: list[str] | None = None
        self.header_bytes = b""
        self.header_lines = 0
        self.line = 0  # physical lines before `input.pos`

    # ------------------------------------------------------------------ stream

    def batches(self, chunks: Iterable[bytes]) -> Iterator[ColumnarBatch]:
        source, self.codec, strip_bom = ascii_pieces(chunks, self.spec.encoding)
        self.quote = self.spec.quotechar.encode(self.codec)
        quote = re.escape(self.spec.quotechar)
        cell_end = re.escape(self.spec.delimiter) + r"\r\n"
        # A whole quoted cell: opens at a cell's start, closes just before a delimiter or a line end.
        self.quoted_cell = re.compile(
            rf"(?:(?<=[{cell_end}])|^){quote}[^{quote}]*(?:{quote}{quote}[^{quote}]*)*{quote}(?=[{cell_end}]|$)".encode(
                self.codec
            )
        )
        data = _Input(source)
        pending: list[_Segment] = []
        held = 0
        for segment in self._segments(data, strip_bom):
            pending.append(segment)
            held += segment.count
            while held >= self.batch_size:
                yield self._batch(pending, self.batch_size)
                held -= self.batch_size
        if held:
            yield self._batch(pending, held)

    def _batch(self, pending: list[_Segment], count: int) -> ColumnarBatch:
        """The first `count` records held (segments are consumed, the last one split if need be)."""
        taken: list[_Segment] = []
        while count:
            segment = pending[0]
            if segment.count <= count:
                taken.append(pending.pop(0))
                count -= segment.count
            else:
                head, pending[0] = segment.split(count)
                taken.append(head)
                count = 0
        tables = [s.table for s in taken]
        table = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
        numbers = taken[0].numbers if len(taken) == 1 else np.concatenate([s.numbers for s in taken])
        return ColumnarBatch(list(self.names), table, numbers, [b for s in taken for b in s.bad])

    def _segments(self, data: _Input, strip_bom: bool) -> Iterator[_Segment]:
        if not self._prologue(data, strip_bom):
            # The preamble or header is anything but plain: the row path reads it all (nothing was used).
            data.pos = 0
            yield from self._by_rows(self._resume(data.rest(), whole=True, strip_bom=strip_bom), 1)
            return
        number = 0
        target = FIRST_BLOCK_BYTES
        read = 0
        try:
            while (cut := self._cut(data, target)) is not None:
                block = data.buf[data.pos : cut]
                segment = self._block(block, number + 1, data.base + data.pos)
                yield segment
                number += segment.count
                read += len(block)
                self.line += _lines_in(block)
                data.pos = cut
                # Blocks of about two batches (memory follows the batch size), within 64 KiB .. 1 MiB.
                per_record = read / max(number, 1)
                target = int(min(BLOCK_BYTES, max(FIRST_BLOCK_BYTES, 2 * self.batch_size * per_record)))
        except _RestByRows:
            offset = data.base + data.pos
            yield from self._by_rows(self._resume(data.rest(), offset=offset), number + 1)

    # ------------------------------------------------------------------ preamble and header

    def _prologue(self, data: _Input, strip_bom: bool) -> bool:
        """Skip the BOM, the preamble and blank lines, read the header; False: leave it to the row path."""
        want = FIRST_BLOCK_BYTES
        while True:
            data.fill(want, keep_all=True)
            found = self._scan_prologue(data.buf, data.eof, strip_bom)
            if found is not None:
                break
            if len(data.buf) > MAX_PENDING:
                return False
            want *= 2
        if found is False:
            return False
        start, end = found
        if end == start:  # no header (header: false), or nothing at all
            self.header_bytes = b""
        else:
            header = self._parse_header(data.buf[start:end])
            if header is None:
                return False
            self.header = unique_names(header)
            self.header_bytes = data.buf[start:end]
            self.header_lines = _lines_in(self.header_bytes)
        self.line = _lines_in(data.buf[:end])
        data.pos = end
        return True

    def _scan_prologue(
        self, buf: bytes, eof: bool, strip_bom: bool
    ) -> tuple[int, int] | Literal[False] | None:
        """(header start, header end) in `buf`; None: more input needed; False: not plain enough."""
        pos = len(UTF8_BOM) if strip_bom and buf.startswith(UTF8_BOM) else 0
        if strip_bom and not eof and len(buf) < len(UTF8_BOM):
            return None
        for _ in range(self.spec.skip_rows):
            end = buf.find(b"\n", pos)
            if end < 0:
                return (len(buf), len(buf)) if eof else None
            line = buf[pos:end]
            if b"\r" in (line[:-1] if line.endswith(b"\r") else line):  # a lone CR ends a line too
                return False
            pos = end + 1
        if not self.spec.header:
            return pos, pos
        while True:  # blank lines before the header are no records
            if buf.startswith(b"\n", pos):
                pos += 1
            elif buf.startswith(b"\r\n", pos):
                pos += 2
            else:
                break
        end = self._boundary(buf, pos, len(buf), first=True)
        if end < 0:
            if not eof:
                return None
            end = len(buf)
        if b"\r" in buf[pos:end].replace(b"\r\n", b""):
            return False
        return pos, end

    def _dialect(self) -> dict[str, Any]:
        return {"delimiter": self.spec.delimiter, "quotechar": self.spec.quotechar, "strict": False}

    def _parse_header(self, raw: bytes) -> list[str] | None:
        if self.quote in raw and not self._regular(raw):
            return None
        try:
            text = raw.decode(self.codec)
            records = list(csv.reader(text.splitlines(keepends=True), **self._dialect()))
        except (UnicodeDecodeError, csv.Error):
            return None
        if len(records) != 1 or not records[0]:
            return None
        return records[0]

    # ------------------------------------------------------------------ blocks

    def _boundary(self, buf: bytes, start: int, end: int, *, first: bool = False) -> int:
        """Just past the last (or, with `first`, the first) newline in buf[start:end] outside quotes; -1."""
        quote = self.quote
        if first:
            odd = 0
            at = start
            while (nl := buf.find(b"\n", at, end)) >= 0:
                odd ^= buf.count(quote, at, nl) & 1
                if not odd:
                    return nl + 1
                at = nl + 1
            return -1
        nl = buf.rfind(b"\n", start, end)
        if nl < 0:
            return -1
        if buf.find(quote, start, nl) < 0:
            return nl + 1
        odd = buf.count(quote, start, nl) & 1
        while odd:
            previous = buf.rfind(b"\n", start, nl)
            if previous < 0:
                return -1
            odd ^= buf.count(quote, previous, nl) & 1
            nl = previous
        return nl + 1

    def _cut(self, data: _Input, target: int) -> int | None:
        """The end of the next block: about `target` bytes of whole records; None at the end of input."""
        while True:
            data.fill(target)
            buf, pos = data.buf, data.pos
            if pos >= len(buf):
                return None
            window = min(len(buf), pos + target)
            if data.eof and window == len(buf):
                return window
            cut = self._boundary(buf, pos, window)
            if cut > 0:
                return cut
            if len(buf) - pos >= MAX_PENDING:
                raise _RestByRows
            target *= 2

    def _regular(self, block: bytes) -> bool:
        """Is every quote of the block part of a whole quoted cell (so Arrow and csv read it alike)?"""
        return self.quote not in self.quoted_cell.sub(b"", block)

    def _block(self, block: bytes, first: int, offset: int) -> _Segment:
        """Type one block of whole records, numbered from `first`, starting at byte `offset` of the input."""
        if b"\x00" in block or (b"\r" in block and block.count(b"\r") != block.count(b"\r\n")):
            return self._block_by_rows(block, first, offset)
        quoted = self.quote in block
        if quoted and not self._regular(block):
            raise _RestByRows
        utf8 = block
        if not block.isascii():
            try:
                text = block.decode(self.codec)
            except UnicodeDecodeError:
                return self._block_by_rows(block, first, offset)
            if self.codec != "utf-8":
                utf8 = text.encode("utf-8")
        starts, ends = self._records(block, quoted)
        if len(starts) and int((ends - starts).max()) > FIELD_LIMIT:
            return self._block_by_rows(block, first, offset)
        if not len(starts):  # blank lines only
            return _Segment(first, 0, self.schema.empty_table(), np.empty(0, np.int64), [])
        if self.header is None:
            # header: false - the first record sets the width, as in the row path: columns '1'..'n'
            first_record = block[starts[0] : ends[0]].decode(self.codec)
            values = next(csv.reader(first_record.splitlines(keepends=True), **self._dialect()))
            self.header = [str(n) for n in range(1, len(values) + 1)]
            self.header_bytes = (self.spec.delimiter.join(self.header) + "\n").encode(self.codec)
            self.header_lines = 1
        table = self._read_block(utf8)
        if table is None or table.num_rows != len(starts):
            return self._block_by_rows(block, first, offset)
        return self._typed(table, block, starts, ends, first)

    def _records(self, block: bytes, quoted: bool) -> tuple[np.ndarray, np.ndarray]:
        """Start and end offsets of the block's records (blank lines are none): for counts and bad rows."""
        raw = np.frombuffer(block, np.uint8)
        newlines = np.flatnonzero(raw == 10)
        if quoted:
            quotes = np.cumsum(raw == self.quote[0], dtype=np.int64)
            newlines = newlines[(quotes[newlines] & 1) == 0]
        ends = newlines + 1
        if len(block) and block[-1:] != b"\n":
            ends = np.append(ends, len(block))
        starts = np.concatenate(([0], ends[:-1])).astype(np.int64)
        size = ends - starts
        first_byte = raw[np.minimum(starts, max(len(block) - 1, 0))] if len(block) else raw[:0]
        blank = ((size == 1) & (first_byte == 10)) | ((size == 2) & (first_byte == 13))
        return starts[~blank], ends[~blank]

    def _read_block(self, utf8: bytes) -> pa.Table | None:
        """The block's cells as strings, or None when Arrow cannot read it (a ragged row, ...)."""
        assert self.header is not None
        names = [str(i) for i in range(len(self.header))]
        read = pcsv.ReadOptions(column_names=names, use_threads=False, block_size=len(utf8) + 1)
        parse = pcsv.ParseOptions(
            delimiter=self.spec.delimiter,
            quote_char=self.spec.quotechar,
            double_quote=True,
            escape_char=False,
            newlines_in_values=True,
            ignore_empty_lines=True,
        )
        wanted = self._wanted()
        convert = pcsv.ConvertOptions(
            include_columns=wanted,
            column_types=dict.fromkeys(wanted, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            null_values=[],
        )
        try:
            table = pcsv.read_csv(pa.py_buffer(utf8), read, parse, convert)
        except pa.ArrowInvalid:  # a ragged row (or anything else Arrow refuses): the row path reads the block
            return None
        return table

    def _wanted(self) -> list[str]:
        """Arrow names (positions) of the header columns some field reads."""
        if self.header is None:
            return []
        return sorted(
            {str(self.header.index(f.source_key)) for f in self.fields if f.source_key in self.header}
        )

    # ------------------------------------------------------------------ typing

    def _typed(
        self, table: pa.Table, block: bytes, starts: np.ndarray, ends: np.ndarray, first: int
    ) -> _Segment:
        assert self.header is not None
        rows = table.num_rows
        columns: list[pa.Array] = []
        failed: dict[int, ConversionError] = {}
        for k, f in enumerate(self.fields):
            cell = None
            if f.source_key in self.header:
                cell = table.column(str(self.header.index(f.source_key))).combine_chunks()
            array, errors = self.typer.column(k, cell, rows)
            columns.append(array)
            for index, exc in errors.items():
                failed.setdefault(index, exc)  # the first failing field names the row, as in the row path
        typed = pa.Table.from_arrays(columns, schema=self.schema)
        bad: list[BadRow] = []
        good = np.ones(rows, dtype=bool)
        for index in sorted(failed):
            exc = failed[index]
            source = block[starts[index] : ends[index]].decode(self.codec, "replace")
            value = as_text(exc.value, VALUE_CHARS)
            bad.append(BadRow(first + index, exc.field, value, exc.reason, record_text(source)))
            good[index] = False
        if bad:
            typed = typed.filter(pa.array(good))
        numbers = np.flatnonzero(good).astype(np.int64) + first
        return _Segment(first, rows, typed, numbers, bad)

    # ------------------------------------------------------------------ the row path, resumed

    def _resume(
        self, source: Iterable[bytes], *, offset: int = 0, whole: bool = False, strip_bom: bool = False
    ) -> Iterator[Item]:
        """The row path's records from `source` (from the start with `whole`, else after the header)."""
        if whole:
            spec = self.spec.model_copy(update={"encoding": self.codec})
            return read_pieces(spec, source, self.codec, strip_bom=strip_bom)
        spec = self.spec.model_copy(
            update={"encoding": self.codec, "skip_rows": 0, "header": bool(self.header_bytes)}
        )
        return read_pieces(
            spec,
            itertools.chain((self.header_bytes,), source),
            self.codec,
            strip_bom=False,
            first_line=self.line - self.header_lines,
            first_offset=offset - len(self.header_bytes),
        )

    def _block_by_rows(self, block: bytes, first: int, offset: int) -> _Segment:
        if self.header is None:  # header: false and the width is not known yet: the row path decides
            raise _RestByRows
        (segment,) = self._by_rows(self._resume([block], offset=offset), first, split=False)
        return segment

    def _by_rows(self, items: Iterator[Item], first: int, *, split: bool = True) -> Iterator[_Segment]:
        """Number and type row-path records as `batches()` does; segments of `batch_size` with `split`."""
        build = self.plan.row
        rows: list[tuple[Any, ...]] = []
        numbers: list[int] = []
        bad: list[BadRow] = []
        start, count = first, 0
        for number, (record, source) in enumerate(items, start=first):
            count += 1
            if isinstance(record, dict):
                try:
                    rows.append(build(record))
                    numbers.append(number)
                except ConversionError as exc:
                    value = as_text(exc.value, VALUE_CHARS)
                    bad.append(BadRow(number, exc.field, value, exc.reason, record_text(source)))
            elif isinstance(record, Unusable):
                bad.append(BadRow(number, None, record.value, record.error, record_text(source)))
            if split and count >= self.batch_size:
                yield self._rows_segment(start, count, rows, numbers, bad)
                rows, numbers, bad = [], [], []
                start, count = number + 1, 0
        if count or not split:
            yield self._rows_segment(start, count, rows, numbers, bad)

    def _rows_segment(
        self, first: int, count: int, rows: list[tuple[Any, ...]], numbers: list[int], bad: list[BadRow]
    ) -> _Segment:
        values = list(zip(*rows, strict=True)) if rows else [() for _ in self.types]
        columns = [pa.array(list(column), typ) for column, typ in zip(values, self.types, strict=True)]
        table = pa.Table.from_arrays(columns, schema=self.schema)
        return _Segment(first, count, table, np.array(numbers, dtype=np.int64), bad)
