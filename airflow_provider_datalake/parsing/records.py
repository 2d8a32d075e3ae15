"""What the parsing stage hands to the loaders: typed row batches plus the rows it had to quarantine."""

from __future__ import annotations

import json
from dataclasses import dataclass
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
