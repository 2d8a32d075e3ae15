"""The parsing stage: raw bytes → typed record batches, streaming, per format descriptor.

    for batch in parse(descriptor, swift_chunks):
        load(batch.columns, batch.rows, batch.row_numbers)   # good rows, typed per FieldType
        quarantine(batch.bad)                                 # bad rows, with field, value and reason

Every record the parser produces (after the CSV header and preamble, after the MQTT zip) takes the next
row number from 1, good or bad, so (raw object id, row number) is a stable lineage and idempotency key:
same bytes + same descriptor → same numbers, whatever the batch size or chunking.

Rows are tuples: what most loaders feed their drivers is row-shaped (InfluxDB points, Mongo documents,
Neo4j `UNWIND` maps). CSV descriptors without expressions take a columnar fast path (`columnar.py`): its
batches are `ColumnarBatch`es, whose typed Arrow columns the PostgreSQL loader turns into binary COPY
without a Python object per value, while `rows` still gives the very tuples the row path would.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from airflow_provider_datalake.descriptors.model import CsvParser, Descriptor, FieldSpec
from airflow_provider_datalake.parsing.errors import ConversionError, ParseError
from airflow_provider_datalake.parsing.fields import cached_plan
from airflow_provider_datalake.parsing.lines import codec_name
from airflow_provider_datalake.parsing.pipeline import batches, records, row_plan
from airflow_provider_datalake.parsing.records import BadRow, Batch

__all__ = ["BadRow", "Batch", "ConversionError", "ParseError", "convert_value", "parse", "parse_file"]

FILE_CHUNK_BYTES = 1 << 20


def parse(descriptor: Descriptor, chunks: Iterable[bytes], *, batch_size: int = 10_000) -> Iterator[Batch]:
    """Parse a stream of byte chunks into batches of at most `batch_size` records (good + bad).

    Descriptor problems the model cannot see (unknown encoding or time zone, a default of the wrong type,
    a regex group that does not exist) raise `ValueError` here, before any input is read. Input problems
    raise `ParseError` while iterating, only when the input as a whole is unusable; a bad record is a
    `BadRow` in its batch. Empty input gives no batch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    plan = row_plan(descriptor)
    codec_name(descriptor.parser.encoding)  # an unknown encoding is a descriptor error: say so now
    if isinstance(descriptor.parser, CsvParser):  # imported here: pyarrow loads for CSV parses only
        from airflow_provider_datalake.parsing.columnar import ColumnarReader, columnar_ok

        if columnar_ok(descriptor):
            return ColumnarReader(descriptor, plan, batch_size).batches(chunks)
    return batches(plan, records(descriptor, chunks), batch_size)


def parse_file(
    descriptor: Descriptor, path: str | os.PathLike[str], *, batch_size: int = 10_000
) -> Iterator[Batch]:
    """`parse` over a local file read in 1 MiB chunks.

    The file is opened on the first `next()` (so an unread iterator holds no file) and closed when the
    iterator ends or is closed.
    """

    def chunks() -> Iterator[bytes]:
        with open(path, "rb") as handle:
            while chunk := handle.read(FILE_CHUNK_BYTES):
                yield chunk

    return parse(descriptor, chunks(), batch_size=batch_size)


def convert_value(
    field: FieldSpec,
    raw: Any,
    *,
    row: dict[str, Any],
    fields: dict[str, Any],
    csv_decimal: str = ".",
    csv_thousands: str | None = None,
) -> Any:
    """One raw value through the field's converters, expression, default and typing.

    `raw=None` means missing/null (so `default` and `required` apply); `row` and `fields` are what the
    expression sees. Raises `ConversionError(field, value, reason)`.
    """
    return cached_plan(field, csv_decimal, csv_thousands).convert(raw, row, fields)
