"""JSON lines: every line stands alone, so every broken line is one quarantined record."""

from __future__ import annotations

import pytest

from airflow_provider_datalake.parsing import lines, parse
from airflow_provider_datalake.samples import write_mqtt_jsonl
from tests.parsing.helpers import descriptor, run, sample

FIELDS = [{"name": "a", "type": "int", "required": True}, {"name": "b"}]


def jsonl(**parser: object):
    return descriptor({"kind": "jsonl", **parser}, FIELDS)


def test_mqtt_stream_read_as_plain_json_lines() -> None:
    fields = [
        {"name": "topic", "required": True},
        {"name": "value", "type": "json"},
        {"name": "time", "type": "timestamp"},
    ]
    data = sample(write_mqtt_jsonl, 300, seed=2)
    parsed = run(descriptor({"kind": "jsonl"}, fields), data, batch_size=7)
    assert len(parsed.rows) == 300 and not parsed.bad
    assert any(isinstance(r[1], list) for r in parsed.rows)  # energy meters keep their array here


def test_bad_lines_cost_one_row_each() -> None:
    data = b'{"a": 1, "b": "x"}\n{"a": 2,\n[1, 2]\n\n   \n{"a": "zz"}\n{"a": NaN}\n{"a": 3}\r\n'
    parsed = run(jsonl(), data)
    assert parsed.rows == [(1, "x"), (3, None)]
    assert parsed.numbers == [1, 6]
    errors = [(b.row_number, b.field, b.error) for b in parsed.bad]
    assert errors[0][:2] == (2, None) and errors[0][2].startswith("invalid JSON on line 2")
    assert errors[1] == (3, None, "expected a JSON object, got array")
    assert errors[2] == (4, "a", "expected int, got 'zz'")
    assert errors[3][:2] == (5, None) and "NaN is not valid JSON" in errors[3][2]
    assert parsed.bad[0].record == '{"a": 2,'


def test_a_latin1_line_in_a_utf8_stream_is_one_bad_row() -> None:
    data = b'{"a": 1}\n' + '{"a": 2, "b": "café"}\n'.encode("latin-1") + b'{"a": 3}\n'
    parsed = run(jsonl(), data)
    assert parsed.rows == [(1, None), (3, None)]
    (bad,) = parsed.bad
    assert bad.row_number == 2 and "cannot decode line 2 as utf-8: byte 0xe9 at byte 27" in bad.error


def test_overlong_lines_are_quarantined_without_buffering(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lines, "MAX_RECORD_BYTES", 1000)
    data = b'{"a": 1}\n{"a": 2, "b": "' + b"x" * 5000 + b'"}\n{"a": 3}\n'
    parsed = run(jsonl(), data, chunk=100)
    assert parsed.rows == [(1, None), (3, None)]
    (bad,) = parsed.bad
    assert bad.row_number == 2 and bad.error == "line 2 is longer than 1000 bytes"
    assert bad.record is not None and bad.record.startswith('{"a": 2, "b": "xxx')


def test_empty_stream_gives_no_batch() -> None:
    assert list(parse(jsonl(), [b"", b"\n", b"  \r\n"])) == []


def test_nested_source_paths() -> None:
    fields = [{"name": "x", "source": "pos.x", "type": "float"}, {"name": "dotted", "source": "a.b"}]
    data = b'{"pos": {"x": "1.5"}, "a.b": "literal key wins"}\n{"pos": 3}\n'
    rows = run(descriptor({"kind": "jsonl"}, fields), data).rows
    assert rows == [(1.5, "literal key wins"), (None, None)]
