"""The example descriptors describe what the seeded generator (`samples.py`) really writes.

A small reference reading of generated files (stdlib csv/json, the descriptor's dialect) checks every
cell against what each field's type and converters expect: a wrong delimiter, decimal mark, preamble
length or date format in an example fails here, before any parser runs.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest

from airflow_provider_datalake import samples
from airflow_provider_datalake.descriptors.loader import load_descriptor
from airflow_provider_datalake.descriptors.model import (
    CsvParser,
    Descriptor,
    FieldSpec,
    Percent,
    SuffixNumber,
    TimestampFormat,
)
from tests.descriptors.conftest import EXAMPLES


def _number_re(decimal: str, thousands: str | None) -> str:
    grouped = rf"\d{{1,3}}(?:{re.escape(thousands)}\d{{3}})*|\d+" if thousands else r"\d+"
    return rf"-?(?:{grouped})(?:{re.escape(decimal)}\d+)?"


def _check_cell(field: FieldSpec, parser: CsvParser, cell: str) -> None:
    """Raise if `cell` is not what this field's converters and type accept."""
    if cell in parser.null_values:
        assert not field.required, f"{field.name}: required but empty"
        return
    if not field.converters:
        if field.type.value == "timestamp":
            assert dt.datetime.fromisoformat(cell).tzinfo is not None, cell
        elif field.type.value == "int":
            int(cell)
        elif field.type.value == "float":
            assert re.fullmatch(_number_re(parser.decimal, parser.thousands), cell), (field.name, cell)
        return
    (conv,) = field.converters
    if isinstance(conv, SuffixNumber):
        assert re.fullmatch(_number_re(conv.decimal, None) + "[KMBGT]?", cell, re.IGNORECASE), cell
    elif isinstance(conv, Percent):
        assert re.fullmatch(_number_re(conv.decimal, None) + "%", cell), cell
    elif isinstance(conv, TimestampFormat):
        dt.datetime.strptime(cell, conv.format)  # %b: English month names, as the exports write them
    else:
        raise AssertionError(f"no reference check for {conv.kind}")


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_lab_csv_examples_read_generated_exports(locale: str, tmp_path: Path) -> None:
    desc = load_descriptor(EXAMPLES / f"lab_csv_{locale}.yaml")
    spec = samples.LAB_CSV_LOCALES[locale]
    parser = desc.parser
    assert isinstance(parser, CsvParser)
    assert (parser.delimiter, parser.decimal, parser.thousands) == (
        spec.delimiter,
        spec.decimal,
        spec.thousands,
    )
    assert parser.skip_rows == spec.preamble_lines and parser.header
    path = tmp_path / "export.csv"
    samples.write_lab_csv(path, 400, seed=11, locale=locale)
    text = path.read_bytes().decode(parser.encoding)
    lines = io.StringIO(text, newline="")
    for _ in range(parser.skip_rows):
        lines.readline()
    reader = csv.reader(lines, delimiter=parser.delimiter, quotechar=parser.quotechar)
    header = next(reader)
    assert tuple(header) == spec.header
    assert {f.source_key for f in desc.fields} == set(header)  # every column is loaded, none invented
    rows = list(reader)
    assert len(rows) == 400
    for row in rows:
        assert len(row) == len(header)
        for field in desc.fields:
            _check_cell(field, parser, row[header.index(field.source_key)])


def test_both_lab_locales_load_the_same_table_with_the_same_columns() -> None:
    fr, en = (load_descriptor(EXAMPLES / f"lab_csv_{x}.yaml") for x in ("fr", "en"))
    assert [(f.name, f.type) for f in fr.fields] == [(f.name, f.type) for f in en.fields]
    assert fr.targets[0].table == en.targets[0].table == "lab_measurements"


@pytest.mark.parametrize("name", ["neocampus_mqtt", "neocampus_mqtt_jsonl"])
def test_mqtt_examples_match_generated_messages(name: str) -> None:
    desc = load_descriptor(EXAMPLES / f"{name}.yaml")
    produced_by_parser = {"unit", "unit_index"}  # zipped from value/value_units by the MQTT parser
    for message in samples.mqtt_messages(300, seed=3):
        for field in desc.fields:
            if field.name in produced_by_parser:
                continue
            assert field.source_key in message, field.source_key
        assert len(message["topic"].split("/")) == 3
        assert dt.datetime.fromisoformat(message["time"]).tzinfo is not None


def test_sensor_readings_example_matches_generated_records(tmp_path: Path) -> None:
    desc: Descriptor = load_descriptor(EXAMPLES / "sensor_readings.yaml")
    path = tmp_path / "readings.json"
    samples.write_sensor_readings_json(path, 200, seed=5)
    for record in json.loads(path.read_text()):
        for field in desc.fields:
            value = record[field.source_key]
            if field.type.value == "int":
                assert isinstance(value, int)
            elif field.type.value == "timestamp":
                dt.datetime.fromisoformat(value)
