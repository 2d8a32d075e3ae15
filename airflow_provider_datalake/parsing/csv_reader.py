"""CSV records from bytes: the stdlib `csv` module decides where records end; we feed it one line at a time.

Feeding decoded physical lines (rather than a text stream) is what lets one badly encoded line cost one
record instead of the file, what keeps the raw text of each record for the quarantine, and what bounds
memory: an overlong line never reaches `csv`. After a broken record (overlong, or a `csv.Error` such as a
cell above `csv.field_size_limit()` = 131072 chars), lines are skipped until the quotes balance again, so
the rest of a runaway quoted cell is not read as records.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from airflow_provider_datalake.descriptors.model import CsvParser
from airflow_provider_datalake.parsing import lines as _limits
from airflow_provider_datalake.parsing.errors import ParseError
from airflow_provider_datalake.parsing.lines import LineSplitter, Overlong, ascii_pieces
from airflow_provider_datalake.parsing.records import Unusable

Item = tuple[dict[str, Any] | Unusable, Any]


class _TooLong(Exception):
    """Raised through `csv.reader` to abandon the record an overlong line belongs to."""


class _Lines:
    """What `csv.reader` pulls from: one decoded physical line per call, noting what each record used."""

    def __init__(self, splitter: LineSplitter, encoding: str, quotechar: str) -> None:
        self._splitter = splitter
        self._lines = iter(splitter)
        self._encoding = encoding
        self._quote = quotechar
        self._quote_byte = quotechar.encode(encoding)
        self.parts: list[str] = []
        self.quotes = 0
        self.problem: str | None = None
        self.first_line = 1

    def begin(self) -> None:
        self.parts = []
        self.quotes = 0
        self.problem = None
        self.first_line = self._splitter.number + 1

    def text(self) -> str:
        return "".join(self.parts)

    def skip(self, count: int) -> bool:
        """Skip `count` physical lines (a preamble that need not be CSV); False at end of input."""
        return all(next(self._lines, None) is not None for _ in range(count))

    def resync(self) -> None:
        """After a broken record, skip lines until the record's quotes balance (we were inside a cell)."""
        while self.quotes % 2:
            line = next(self._lines, None)
            if line is None:
                return
            self.quotes += line.quotes if isinstance(line, Overlong) else line.count(self._quote_byte)

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        if isinstance(line, Overlong):
            self.parts.append(line.head.decode(self._encoding, "replace"))
            self.quotes += line.quotes
            self.problem = f"line {self._splitter.number} is longer than {_limits.MAX_RECORD_BYTES} bytes"
            raise _TooLong
        try:
            text = line.decode(self._encoding)
        except UnicodeDecodeError as exc:
            text = line.decode(self._encoding, "replace")
            if self.problem is None:
                self.problem = (
                    f"cannot decode line {self._splitter.number} as {self._encoding}: "
                    f"byte 0x{line[exc.start]:02x} at byte {self._splitter.offset + exc.start}"
                )
        self.parts.append(text)
        self.quotes += text.count(self._quote)
        return text


def unique_names(names: list[str]) -> list[str]:
    """Header names as the CSV readers use them: stripped; repeated ones become 'name.1', 'name.2' (as
    pandas does) so none is lost. Inference names sampled columns with it too, so its records match."""
    seen: dict[str, int] = {}
    out = []
    for raw in names:
        name = raw.strip()
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out


def read_csv(spec: CsvParser, chunks: Iterable[bytes]) -> Iterator[Item]:
    """Yield (record dict of column → raw text, raw record text) or (Unusable, raw text) per record.

    Blank lines are not records. Without a header, columns are named '1', '2', ... (1-based, as
    spreadsheets count) and the first record sets the width.
    """
    source, encoding, strip_bom = ascii_pieces(chunks, spec.encoding)
    return read_pieces(spec, source, encoding, strip_bom=strip_bom)


def read_pieces(
    spec: CsvParser,
    source: Iterable[bytes],
    encoding: str,
    *,
    strip_bom: bool,
    first_line: int = 0,
    first_offset: int = 0,
) -> Iterator[Item]:
    """`read_csv` over input already cut by `ascii_pieces` (`encoding` is its codec, ASCII-compatible).

    The columnar reader resumes here mid-file: `first_line` and `first_offset` say where `source` starts,
    so messages name the same lines and bytes as a reading of the whole input.
    """
    splitter = LineSplitter(
        source,
        strip_bom=strip_bom,
        quote=spec.quotechar.encode(encoding),
        first_line=first_line,
        first_offset=first_offset,
    )
    lines = _Lines(splitter, encoding, spec.quotechar)
    if not lines.skip(spec.skip_rows):
        return
    reader = csv.reader(lines, delimiter=spec.delimiter, quotechar=spec.quotechar, strict=False)
    header: list[str] | None = None
    if spec.header:
        while not header:
            lines.begin()
            try:
                header = next(reader, None)
            except (_TooLong, csv.Error) as exc:
                reason = lines.problem or str(exc)
                raise ParseError(f"cannot read the CSV header (line {lines.first_line}): {reason}") from None
            if header is None:
                return
            if lines.problem:
                raise ParseError(f"cannot read the CSV header: {lines.problem}")
        header = unique_names(header)
    while True:
        lines.begin()
        try:
            values = next(reader, None)
        except _TooLong:
            yield Unusable(lines.problem or "line too long"), lines.text()
            lines.resync()
            continue
        except csv.Error as exc:
            yield Unusable(f"malformed CSV from line {lines.first_line}: {exc}"), lines.text()
            lines.resync()
            continue
        if values is None:
            return
        if not values:
            continue
        if lines.problem:
            yield Unusable(lines.problem), lines.text()
            continue
        if header is None:
            header = [str(n) for n in range(1, len(values) + 1)]
        if len(values) != len(header):
            yield Unusable(f"expected {len(header)} columns, got {len(values)}"), lines.text()
            continue
        yield dict(zip(header, values, strict=True)), lines.text()
