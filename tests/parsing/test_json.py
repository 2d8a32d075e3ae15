"""JSON documents: the sensor database export, nested record paths, and broken documents."""

from __future__ import annotations

import json
import re
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from airflow_provider_datalake.parsing import ParseError, parse
from airflow_provider_datalake.samples import sensor_readings, write_sensor_readings_json
from tests.parsing.helpers import descriptor, readings_descriptor, run, sample

# The shape of /work/shared/data/neocampus/sensor_reading.json: one root object.
ONE_READING = b"""{
  "_id": "ObjectId(\\"5d004092adf80168fe79b55c\\")",
  "idcapteur": 4,
  "idpiece": 1,
  "value": 15,
  "datemesure": "2019-06-12T00:00:18.388374",
  "mesurevaleur": "celsius"
}
"""


def test_sensor_readings_export_is_typed() -> None:
    data = sample(write_sensor_readings_json, 500, seed=3)
    parsed = run(readings_descriptor(), data, batch_size=64)
    assert not parsed.bad
    assert parsed.numbers == list(range(1, 501))
    expected = list(sensor_readings(500, seed=3))
    for row, source in zip(parsed.dicts(), expected, strict=True):
        assert f'ObjectId("{row["id"]}")' == source["_id"]
        assert row["sensor"] == source["idcapteur"]
        assert row["value"] == float(source["value"])
        assert row["measured_at"] == datetime.fromisoformat(source["datemesure"]).replace(tzinfo=UTC)


def test_a_single_root_object_is_one_record() -> None:
    parsed = run(readings_descriptor(), ONE_READING)
    assert parsed.rows == [
        (
            "5d004092adf80168fe79b55c",
            4,
            1,
            15.0,
            datetime(2019, 6, 12, 0, 0, 18, 388374, tzinfo=UTC),
            "celsius",
        )
    ]


def test_records_path_and_nested_sources() -> None:
    doc = {
        "meta": {"site": "rangueil", "items": "not these"},
        "data": {"items": [{"id": 1, "pos": {"x": 1.5, "tags": ["a", "b"]}}, {"id": 2, "pos": {}}, 3]},
    }
    fields = [
        {"name": "id", "type": "int"},
        {"name": "x", "source": "pos.x", "type": "float"},
        {"name": "tag", "source": "pos.tags.-1"},
    ]
    desc = descriptor({"kind": "json", "records_path": "data.items"}, fields)
    parsed = run(desc, json.dumps(doc).encode())
    assert parsed.rows == [(1, 1.5, "b"), (2, None, None)]
    assert (parsed.bad[0].row_number, parsed.bad[0].error) == (3, "expected a JSON object, got number")


def test_a_records_path_that_leads_nowhere_fails_loudly() -> None:
    desc = descriptor({"kind": "json", "records_path": "data.rows"}, [{"name": "id"}])
    with pytest.raises(ParseError, match=re.escape("records_path 'data.rows'")):
        list(parse(desc, [b'{"data": {"items": [{"id": 1}]}}']))
    # ... but an empty array there is just no records.
    assert list(parse(desc, [b'{"data": {"rows": []}}'])) == []


def test_truncated_json_yields_the_records_before_then_one_bad_row() -> None:
    data = sample(write_sensor_readings_json, 10, seed=1)
    cut = data[
        : data.index(b'"idcapteur"', data.index(b"{", data.index(b"},") + 2))
    ]  # inside record 3... or so
    parsed = run(readings_descriptor(), cut, chunk=100)
    complete = cut.count(b"}")
    assert len(parsed.rows) == complete
    (bad,) = parsed.bad
    assert bad.row_number == complete + 1
    assert (bad.field, bad.error) == (None, f"truncated JSON at byte {len(cut)}")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"hello", "not JSON: unexpected byte b'h' at byte 0"),
        (b"  42", "JSON root at byte 2 is a scalar"),
        (b'[{"a": 1}, xx]', "invalid JSON between byte 0 and byte 14: lexical error"),
        (b'[{"a": 1}] [2]', "trailing garbage"),
        (b'[{"a": NaN}]', "invalid JSON"),
    ],
)
def test_not_json_is_a_parse_error_that_says_where(data: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=re.escape(message)):
        list(parse(descriptor({"kind": "json"}, [{"name": "a"}]), [data]))


def test_invalid_utf8_in_a_json_document_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="UTF8"):
        list(parse(descriptor({"kind": "json"}, [{"name": "a"}]), ['[{"a": "café"}]'.encode("latin-1")]))


def test_declared_encodings_are_transcoded() -> None:
    data = '[{"a": "café"}]'
    for encoding in ("latin-1", "utf-16", "utf-8-sig"):
        desc = descriptor({"kind": "json", "encoding": encoding}, [{"name": "a"}])
        assert run(desc, data.encode(encoding)).rows == [("café",)]


@pytest.mark.parametrize("data", [b"", b"  \n", b"[]", b"\xef\xbb\xbf[ ]\n"])
def test_empty_documents_give_no_batch(data: bytes) -> None:
    assert list(parse(descriptor({"kind": "json"}, [{"name": "a"}]), [data])) == []


def test_numbers_are_plain_python_floats_and_ints() -> None:
    fields = [{"name": "a", "type": "json"}, {"name": "b", "type": "float"}, {"name": "c", "type": "int"}]
    data = b'[{"a": {"x": 0.1, "y": [1e3]}, "b": 0.1, "c": 9223372036854775807}]'
    ((a, b, c),) = run(descriptor({"kind": "json"}, fields), data).rows
    assert a == {"x": 0.1, "y": [1000.0]} and isinstance(a["x"], float)
    assert b == 0.1 and c == 2**63 - 1


def test_integers_beyond_64_bits_are_a_known_limit_of_the_c_parser() -> None:
    # yajl (ijson's C backend) stores integers in 64 bits, so a bigger one makes the document unreadable;
    # JSON lines (stdlib) read it, and the int typing then refuses that one row.
    desc = descriptor({"kind": "json"}, [{"name": "c", "type": "int"}])
    with pytest.raises(ParseError, match="integer overflow"):
        list(parse(desc, [b'[{"c": 12345678901234567890123}]']))
    jsonl = descriptor({"kind": "jsonl"}, [{"name": "c", "type": "json"}, {"name": "i", "type": "int"}])
    parsed = run(jsonl, b'{"c": 12345678901234567890123, "i": 12345678901234567890123}\n')
    assert parsed.rows == []  # an int field is 64-bit in every gold store: one bad row, not a failed load
    assert parsed.bad[0].error == "int 12345678901234567890123 is out of the 64-bit range"


def _one_line_array(records: int, payload: int) -> Iterator[bytes]:
    """A JSON array on a single line, produced in ~1 MiB chunks (never held whole)."""
    pad = "p" * payload
    buffer = [b"["]
    held = 1
    for i in range(records):
        item = (b"," if i else b"") + f'{{"id": {i}, "pad": "{pad}"}}'.encode()
        buffer.append(item)
        held += len(item)
        if held >= 1 << 20:
            yield b"".join(buffer)
            buffer, held = [], 0
    buffer.append(b"]")
    yield b"".join(buffer)


def test_a_50_mb_array_on_one_line_streams() -> None:
    desc = descriptor({"kind": "json"}, [{"name": "id", "type": "int"}, {"name": "pad"}])
    tracemalloc.start()
    try:
        count = last = 0
        for batch in parse(desc, _one_line_array(5_000, 10_000), batch_size=100):
            count += len(batch.rows)
            last = batch.rows[-1][0]
            assert not batch.bad
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (count, last) == (5_000, 4_999)
    assert peak < 12 << 20, f"peak {peak / 1e6:.1f} MB for a 50 MB one-line document"
