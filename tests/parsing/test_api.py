"""The public surface others code against: names, shapes, file parsing, argument checks, NaN policy."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from airflow_provider_datalake import parsing
from airflow_provider_datalake.parsing import BadRow, Batch, ParseError, parse, parse_file
from airflow_provider_datalake.samples import write_lab_csv, write_mqtt_dump
from tests.parsing.helpers import descriptor, lab_descriptor, mqtt_descriptor, run, sample


def test_public_names() -> None:
    assert set(parsing.__all__) == {
        "BadRow",
        "Batch",
        "ConversionError",
        "ParseError",
        "convert_value",
        "parse",
        "parse_file",
    }
    assert issubclass(ParseError, ValueError) and issubclass(parsing.ConversionError, ValueError)
    assert [f.name for f in dataclasses.fields(Batch)] == ["columns", "rows", "row_numbers", "bad"]
    assert [f.name for f in dataclasses.fields(BadRow)] == ["row_number", "field", "value", "error", "record"]


def test_bad_row_is_frozen_and_serialisable() -> None:
    bad = BadRow(3, "value", "abc", "expected float, got 'abc'", '{"value": "abc"}')
    with pytest.raises(dataclasses.FrozenInstanceError):
        bad.row_number = 4  # type: ignore[misc]
    assert bad.as_dict() == {
        "row_number": 3,
        "field": "value",
        "value": "abc",
        "error": "expected float, got 'abc'",
        "record": '{"value": "abc"}',
    }


def test_parse_file_equals_parse(tmp_path: Path) -> None:
    path = tmp_path / "dump.json"
    write_mqtt_dump(path, 7000, seed=4)  # > 1 MiB: several file chunks
    assert path.stat().st_size > 1 << 20
    from_file = [b for b in parse_file(mqtt_descriptor(), path, batch_size=1000)]
    from_bytes = run(mqtt_descriptor(), path.read_bytes(), batch_size=1000)
    assert [r for b in from_file for r in b.rows] == from_bytes.rows
    assert [n for b in from_file for n in b.row_numbers] == from_bytes.numbers


def test_parse_file_of_a_lab_export(tmp_path: Path) -> None:
    path = tmp_path / "lab.csv"
    write_lab_csv(path, 40, seed=2, locale="en")
    (batch,) = parse_file(lab_descriptor("en"), str(path))
    assert len(batch.rows) == 40 and batch.row_numbers == list(range(1, 41))


def test_parse_file_opens_the_file_on_first_use(tmp_path: Path) -> None:
    batches = parse_file(mqtt_descriptor(), tmp_path / "later.json")
    (tmp_path / "later.json").write_bytes(sample(write_mqtt_dump, 2, seed=1))
    assert sum(len(b.rows) for b in batches) >= 2


def test_argument_checks_happen_at_call_time() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        parse(mqtt_descriptor(), [], batch_size=0)
    with pytest.raises(ValueError, match="batch_size"):
        parse_file(mqtt_descriptor(), "/nonexistent", batch_size=0)
    with pytest.raises(TypeError, match="bytes chunks"):
        list(parse(mqtt_descriptor(), ["[]"]))  # type: ignore[list-item]


def test_bytes_like_chunks_are_accepted() -> None:
    data = sample(write_mqtt_dump, 20, seed=1)
    expected = run(mqtt_descriptor(), data).rows
    as_views = [memoryview(data)[:100], bytearray(data[100:])]
    assert run(mqtt_descriptor(), as_views).rows == expected  # type: ignore[arg-type]


def test_nan_and_infinity_never_reach_the_gold_zone() -> None:
    """The policy: NaN/±Infinity are refused, never stored and never turned into null silently.

    A float cell 'NaN' is a bad value (add 'NaN' to the CSV `null_values` to read it as null); JSON has no
    NaN, so a JSON lines record holding one is a bad record and a JSON document holding one is invalid.
    """
    csv_desc = descriptor({"kind": "csv"}, [{"name": "x", "type": "float"}])
    parsed = run(csv_desc, b"x\n1.5\nNaN\n-inf\nInfinity\n")
    assert parsed.rows == [(1.5,)]
    assert [b.error for b in parsed.bad] == [
        "expected finite float, got 'NaN'",
        "expected finite float, got '-inf'",
        "expected finite float, got 'Infinity'",
    ]
    as_null = descriptor({"kind": "csv", "null_values": ["", "NaN"]}, [{"name": "x", "type": "float"}])
    assert run(as_null, b"x\nNaN\n").rows == [(None,)]
    jsonl_desc = descriptor({"kind": "jsonl"}, [{"name": "x", "type": "float"}])
    parsed = run(jsonl_desc, b'{"x": NaN}\n{"x": Infinity}\n{"x": 1e400}\n{"x": 2}\n')
    assert parsed.rows == [(2.0,)]
    assert [b.field for b in parsed.bad] == [None, None, "x"]  # 1e400 parses to inf: refused by typing
    with pytest.raises(ParseError):
        list(parse(descriptor({"kind": "json"}, [{"name": "x"}]), [b'[{"x": Infinity}]']))
