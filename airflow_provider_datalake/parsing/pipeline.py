"""The parsing stage end to end: reader (by parser kind) → numbered records → typed rows → batches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from airflow_provider_datalake.descriptors.model import CsvParser, Descriptor, JsonLinesParser, JsonParser
from airflow_provider_datalake.parsing.csv_reader import read_csv
from airflow_provider_datalake.parsing.errors import ConversionError
from airflow_provider_datalake.parsing.fields import FieldPlan, RowPlan, csv_lookup, json_lookup
from airflow_provider_datalake.parsing.json_reader import Item, read_json, read_jsonl
from airflow_provider_datalake.parsing.mqtt import read_mqtt
from airflow_provider_datalake.parsing.records import (
    VALUE_CHARS,
    BadRow,
    Batch,
    Unusable,
    as_text,
    record_text,
)


def row_plan(descriptor: Descriptor) -> RowPlan:
    """Compile the fields with the lookups and number defaults of the descriptor's parser."""
    parser = descriptor.parser
    if isinstance(parser, CsvParser):
        plans = [FieldPlan(f, parser.decimal, parser.thousands) for f in descriptor.fields]
        lookups = [csv_lookup(f.source_key, parser.null_values) for f in descriptor.fields]
    else:
        plans = [FieldPlan(f) for f in descriptor.fields]
        nulls = getattr(parser, "null_values", ())  # JSON and JSON lines; MQTT has none
        lookups = [json_lookup(f.source_key, nulls) for f in descriptor.fields]
    return RowPlan(plans, lookups)


def records(descriptor: Descriptor, chunks: Iterable[bytes]) -> Iterator[Item]:
    parser = descriptor.parser
    if isinstance(parser, CsvParser):
        return read_csv(parser, chunks)
    if isinstance(parser, JsonParser):
        return read_json(chunks, parser.encoding, parser.records_path)
    if isinstance(parser, JsonLinesParser):
        return read_jsonl(chunks, parser.encoding)
    return read_mqtt(parser, chunks)


def batches(plan: RowPlan, items: Iterator[Item], batch_size: int) -> Iterator[Batch]:
    """Number every record (good or bad) in input order and cut batches of `batch_size` records."""
    rows: list[tuple[Any, ...]] = []
    numbers: list[int] = []
    bad: list[BadRow] = []
    build = plan.row
    for number, (record, source) in enumerate(items, start=1):
        if isinstance(record, dict):
            try:
                rows.append(build(record))
                numbers.append(number)
            except ConversionError as exc:
                value = as_text(exc.value, VALUE_CHARS)
                bad.append(BadRow(number, exc.field, value, exc.reason, record_text(source)))
        elif isinstance(record, Unusable):
            bad.append(BadRow(number, None, record.value, record.error, record_text(source)))
        if len(rows) + len(bad) >= batch_size:
            yield Batch(list(plan.names), rows, numbers, bad)
            rows, numbers, bad = [], [], []
    if rows or bad:
        yield Batch(list(plan.names), rows, numbers, bad)
