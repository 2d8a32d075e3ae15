"""What the parsing stage hands to the loaders: typed row batches plus the rows it had to quarantine."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC
from typing import Any

VALUE_CHARS = 200
RECORD_CHARS = 2000


def clip(text: str | None, limit: int) -> str | None:
    """Bound what a bad row keeps: a 50 MB cell must not be copied into the quarantine."""
    if text is None or len(text) <= limit:
        return text
    return text[:limit]


def as_text(value: Any, limit: int) -> str | None:
    """A raw value as text for humans: strings as they are, anything else as (compact) JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return clip(value, limit)
    try:
        text = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    except ValueError:  # a cycle cannot come from a parser; be safe anyway
        text = repr(value)
    return clip(text, limit)


def record_text(source: Any) -> str | None:
    """`BadRow.record`: a CSV/JSON line without its terminator, or a parsed record dumped as JSON."""
    if isinstance(source, str):
        # Clip before stripping, so a huge line is never copied whole.
        return clip(source[: RECORD_CHARS + 2].rstrip("\r\n"), RECORD_CHARS)
    return as_text(source, RECORD_CHARS)


@dataclass(frozen=True, slots=True)
class BadRow:
    """A quarantined record: kept with its reason and linked to the raw object by `row_number`."""

    row_number: int
    field: str | None
    value: str | None
    error: str
    record: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "row_number": self.row_number,
            "field": self.field,
            "value": self.value,
            "error": self.error,
            "record": self.record,
        }


@dataclass
class Batch:
    """One stretch of the input: good rows as tuples in `columns` order, and the bad rows beside them.

    `row_numbers[i]` is the output number of `rows[i]`; good and bad rows share one numbering, so
    (raw object, row number) identifies a record across retries and batch sizes. Treat rows as read-only:
    values are not copied, so rows zipped from one MQTT message may share a `json` value (a list, a dict).
    """

    columns: list[str]
    rows: list[tuple[Any, ...]]
    row_numbers: list[int]
    bad: list[BadRow]


@dataclass(frozen=True, slots=True)
class Unusable:
    """A reader's verdict that a whole record cannot be used (ragged, undecodable, not an object...)."""

    error: str
    value: str | None = None


class ColumnarBatch(Batch):
    """A `Batch` whose good rows are held as typed Arrow columns (the CSV fast path's output).

    `arrow` (a `pyarrow.Table`, one column per field) and `numbers` (a numpy int64 array) are what a loader
    that speaks Arrow reads; `rows` and `row_numbers` are built from them on first use, with the very
    values the row path gives (timestamps in `datetime.UTC`), so every other consumer sees a plain `Batch`.
    """

    def __init__(self, columns: list[str], arrow: Any, numbers: Any, bad: list[BadRow]) -> None:
        self.columns = columns
        self.arrow = arrow
        self.numbers = numbers
        self.bad = bad
        self._rows: list[tuple[Any, ...]] | None = None
        self._row_numbers: list[int] | None = None

    @property
    def rows(self) -> list[tuple[Any, ...]]:
        if self._rows is None:
            self._rows = _materialise(self.arrow)
        return self._rows

    @rows.setter
    def rows(self, value: list[tuple[Any, ...]]) -> None:
        self._rows = value

    @property
    def row_numbers(self) -> list[int]:
        if self._row_numbers is None:
            self._row_numbers = self.numbers.tolist()
        return self._row_numbers

    @row_numbers.setter
    def row_numbers(self, value: list[int]) -> None:
        self._row_numbers = value


def _materialise(table: Any) -> list[tuple[Any, ...]]:
    import pyarrow as pa  # only columnar batches need it: the row path's imports stay light

    columns = []
    for column in table.columns:
        values = column.to_pylist()
        if pa.types.is_timestamp(column.type):  # Arrow gives ZoneInfo('UTC'); the row path datetime.UTC
            values = [None if v is None else v.replace(tzinfo=UTC) for v in values]
        columns.append(values)
    return list(zip(*columns, strict=True)) if columns else []
