"""The contract of the gold zone: the `GoldLoader` protocol every store implements, its result and errors.

A store's loader is built by its module's ``make_loader(target, fields)`` (see `gold.registry`), then:

1. ``ensure_table()`` makes the store ready for the descriptor's fields (tables, indexes, constraints), or
   raises `GoldSchemaError` when that needs a manual migration;
2. ``load(raw_object_id, batches, reject)`` writes one raw object's parsed batches and returns a
   `LoadResult`, or raises `GoldLoadError`.

Every load is idempotent per raw object: running an object again converges to the same state, never to
duplicates. PostgreSQL also makes it atomic (one transaction per object). InfluxDB, MongoDB and Neo4j have
no transaction across batches, so a load that fails half-way may leave part of the object written, which
the next run of the object overwrites. Rows a store cannot take (a null key, a null time...) are handed to
``reject`` with the reason, so the data lake quarantines them beside the parser's bad rows.

Every row written carries its lineage: the raw object it came from, its row number in that object, and
when it was loaded (`LINEAGE`).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from airflow_provider_datalake.descriptors.model import FieldSpec

RAW_OBJECT_ID, SOURCE_ROW, LOADED_AT = "_raw_object_id", "_source_row", "_loaded_at"
LINEAGE = (RAW_OBJECT_ID, SOURCE_ROW, LOADED_AT)

#: reject(row_number, field, value, error, record): quarantine one row the store cannot take
Reject = Callable[[int, str | None, Any, str, Any], None]


class GoldLoadError(RuntimeError):
    """A load into the gold zone failed.

    What stays written is the store's guarantee: PostgreSQL rolled the object back; the other stores keep
    whole batches, which the next run of the object overwrites.
    """


class GoldSchemaError(GoldLoadError):
    """The store cannot hold the descriptor's fields without a manual migration (nothing was changed)."""


class BatchLike(Protocol):
    """What the parsing stage yields (``airflow_provider_datalake.parsing.Batch``)."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    row_numbers: list[int]


@dataclass(frozen=True)
class LoadResult:
    """What one load wrote. ``rows_rejected`` is None for a store that refuses no single row (a value
    PostgreSQL cannot take fails the whole object)."""

    rows_written: int  # rows, points, documents or graph rows written or changed (a no-op re-run may say 0)
    rows_in: int  # rows received from the batches (rejected ones included)
    mode: str
    table: str  # where: schema.table, bucket/measurement, database.collection, neo4j:database/graph
    rows_rejected: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (an XCom value); ``rows_rejected`` only for stores that reject rows."""
        data = dataclasses.asdict(self)
        if data["rows_rejected"] is None:
            del data["rows_rejected"]
        return data


class GoldLoader(Protocol):
    """One target of a descriptor in one store: what `processing` calls, whatever the store."""

    def ensure_table(self) -> None:
        """Create or evolve what the target needs in the store; idempotent and safe in parallel."""
        ...

    def load(
        self, raw_object_id: str, batches: Iterable[BatchLike], reject: Reject | None = None
    ) -> LoadResult:
        """Write one raw object's rows; re-running it gives the same state.

        ``reject`` receives each row the store refuses, while the batch it came in is consumed; a store
        that refuses no single row never calls it.
        """
        ...


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
    """The fields' names, refusing an empty list and names that clash with the lineage."""
    names = [f.name for f in fields]
    if not names:
        raise ValueError(f"a {store} target needs at least one field")
    clash = sorted(set(names) & set(LINEAGE))
    if clash:
        raise ValueError(f"field names {clash} are reserved for the lineage of the gold zone")
    return names


def check_batch(batch: BatchLike, names: list[str]) -> None:
    """Refuse a batch whose columns are not the descriptor's fields, or whose row numbers do not match."""
    check_columns(batch, names)
    check_row_numbers(batch)


def check_columns(batch: BatchLike, names: list[str]) -> None:
    if batch.columns != names:
        raise GoldLoadError(f"batch columns {batch.columns} do not match the descriptor's fields {names}")


def check_row_numbers(batch: BatchLike) -> None:
    if len(batch.rows) != len(batch.row_numbers):
        raise GoldLoadError(f"batch has {len(batch.rows)} rows but {len(batch.row_numbers)} row numbers")


_gc_lock = threading.Lock()
_gc_loads = 0


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep the objects that exist before a load out of the garbage collector's full passes, during it.

    A load allocates many short-lived tuples, which trigger full collections now and then; each one walks
    every tracked object, and in an Airflow task that is the whole Airflow heap. ``gc.freeze()`` parks those
    objects for the load's duration. Nested and threaded loads share one freeze; the last one out unfreezes.
    """
    global _gc_loads
    with _gc_lock:
        if _gc_loads == 0:
            gc.freeze()
        _gc_loads += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_loads -= 1
            if _gc_loads == 0:
                gc.unfreeze()
