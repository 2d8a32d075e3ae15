"""What the InfluxDB, MongoDB and Neo4j loaders share: their result, their errors, refused rows, templates.

These stores have no multi-batch transaction like PostgreSQL's, so their loads are made *idempotent*
instead of atomic: a load that fails half-way (a server stopped, too many bad rows) may leave part of the
object written, and running the object again converges to the same state (same points, documents,
nodes) — never duplicates. Rows a store cannot take (a null key, a null time...) are handed to ``reject``
with the reason, so the data lake quarantines them beside the parser's bad rows.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from airflow_provider_datalake.descriptors.model import FieldSpec, _template_fields, is_template

RAW_OBJECT_ID, SOURCE_ROW, LOADED_AT = "_raw_object_id", "_source_row", "_loaded_at"
LINEAGE = (RAW_OBJECT_ID, SOURCE_ROW, LOADED_AT)

#: reject(row_number, field, value, error, record): quarantine one row the store cannot take
Reject = Callable[[int, str | None, Any, str, Any], None]


class GoldLoadError(RuntimeError):
    """A load failed; what was written before the failure is overwritten by the next run of the object."""


class BatchLike(Protocol):
    """What the parsing stage yields (``airflow_provider_datalake.parsing.Batch``)."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    row_numbers: list[int]


@dataclass(frozen=True)
class LoadResult:
    rows_written: int  # points / documents / rows merged into the graph
    rows_in: int  # rows received from the batches (rejected ones included)
    mode: str
    table: str  # where: bucket/measurement, database.collection, graph
    rows_rejected: int = 0


class Rejects:
    """Counts refused rows and forwards them to the caller's ``reject`` (the quarantine), if any."""

    def __init__(self, reject: Reject | None, columns: Sequence[str]) -> None:
        self.forward = reject
        self.columns = list(columns)
        self.count = 0

    def __call__(self, number: int, row: tuple[Any, ...], field: str | None, error: str) -> None:
        self.count += 1
        if self.forward is not None:
            value = row[self.columns.index(field)] if field in self.columns else None
            record = json.dumps(dict(zip(self.columns, row, strict=False)), default=str)
            self.forward(number, field, value, error, record)


def check_fields(fields: Sequence[FieldSpec], store: str) -> list[str]:
    names = [f.name for f in fields]
    if not names:
        raise ValueError(f"a {store} target needs at least one field")
    clash = sorted(set(names) & set(LINEAGE))
    if clash:
        raise ValueError(f"field names {clash} are reserved for the lineage of the gold zone")
    return names


def check_batch(batch: BatchLike, names: list[str]) -> None:
    if batch.columns != names:
        raise GoldLoadError(f"batch columns {batch.columns} do not match the descriptor's fields {names}")
    if len(batch.rows) != len(batch.row_numbers):
        raise GoldLoadError(f"batch has {len(batch.rows)} rows but {len(batch.row_numbers)} row numbers")


@functools.cache
def _sandbox() -> Any:
    """The tightened sandbox of field expressions (unsafe attributes raise, huge `*` / `**` are refused);
    a null value renders as nothing (not 'None'), so an absent unit gives an empty, refused, key."""
    from airflow_provider_datalake.parsing.expressions import _Sandbox

    return _Sandbox(optimized=False, finalize=lambda value: "" if value is None else value)  # see expressions


class RowTemplate:
    """A descriptor template ('{{ kind }}') over a row's fields, in the project's tightened Jinja sandbox.

    Rendered once per distinct tuple of the values it reads (a per-sensor-kind measurement renders six
    times for a million rows); a plain name is returned as is.
    """

    CACHE = 100_000

    def __init__(self, source: str, columns: Sequence[str]) -> None:
        self.source = source
        self.constant: str | None = None if is_template(source) else source
        names = _template_fields(source)
        self.names = names
        self.indexes = [list(columns).index(n) for n in names]
        self.cache: dict[tuple[Any, ...], str] = {}
        if self.constant is None:
            self.template = _sandbox().from_string(source)

    def __call__(self, row: tuple[Any, ...]) -> str:
        """The rendered text; raises ValueError (the row is then rejected) when rendering fails."""
        if self.constant is not None:
            return self.constant
        key = tuple(row[i] for i in self.indexes)
        try:
            return self.cache[key]
        except KeyError:
            pass
        except TypeError:  # a json value (dict, list) is not hashable: render without the cache
            return self._render(key)
        text = self._render(key)
        if len(self.cache) < self.CACHE:
            self.cache[key] = text
        return text

    def _render(self, values: tuple[Any, ...]) -> str:
        try:
            return self.template.render(dict(zip(self.names, values, strict=True))).strip()
        except Exception as exc:
            raise ValueError(f"template {self.source!r} failed: {type(exc).__name__}: {exc}") from None
