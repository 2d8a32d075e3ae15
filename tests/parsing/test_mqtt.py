"""neOCampus broker dumps: energy meters' value arrays are zipped with their units, one row per unit."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from airflow_provider_datalake.parsing import parse
from airflow_provider_datalake.samples import (
    ELECTRICAL_UNITS,
    mqtt_messages,
    write_mqtt_dump,
    write_mqtt_jsonl,
)
from tests.parsing.helpers import mqtt_descriptor, run, sample

# Two messages as the campus broker spells them (mqtt_sample.json).
BROKER = (
    b'[{"topic":"u4/301/energy","value": [1230563.0, 1230560.0, 236.49, 0.0, 0.0, 0.0, 0.0, 0.0], '
    b'"value_units": ["Wh", "Ea+", "V", "A", "W", "VAR", "VA", "cosPhi"], "input": 78, "subID": "lighting", '
    b'"unitID": "modbus_rs485", "time": "2021-07-22T11:01:22.000Z"}\n'
    b',{"topic":"u4/302/humidity","value": 35, "value_units": "%r.H.", "input": 104, "subID": "ilot1", '
    b'"unitID": "inside", "time": "2021-07-22T11:11:22.000Z"}]\n'
)


def expected_rows(count: int, seed: int) -> list[tuple]:
    rows = []
    for m in mqtt_messages(count, seed):
        building, room, kind = m["topic"].split("/")
        values = m["value"] if isinstance(m["value"], list) else [m["value"]]
        units = m["value_units"] if isinstance(m["value"], list) else [m["value_units"]]
        when = datetime.fromisoformat(m["time"])
        for index, (value, unit) in enumerate(zip(values, units, strict=True)):
            rows.append(
                (building, room, kind, float(value), unit, index, m["input"], m["subID"], m["unitID"], when)
            )
    return rows


def test_one_energy_message_gives_eight_consecutive_rows() -> None:
    parsed = run(mqtt_descriptor(), BROKER)
    assert parsed.numbers == list(range(1, 10))
    energy = parsed.rows[:8]
    assert [r[4] for r in energy] == list(ELECTRICAL_UNITS)
    assert [r[5] for r in energy] == list(range(8))
    assert energy[0][:4] == ("u4", "301", "energy", 1230563.0)
    assert parsed.rows[8] == (
        "u4",
        "302",
        "humidity",
        35.0,
        "%r.H.",
        0,
        104,
        "ilot1",
        "inside",
        datetime(2021, 7, 22, 11, 11, 22, tzinfo=UTC),
    )


def test_generated_dump_matches_the_generator() -> None:
    parsed = run(mqtt_descriptor(), sample(write_mqtt_dump, 400, seed=5), batch_size=97, chunk=4096)
    assert not parsed.bad
    assert parsed.rows == expected_rows(400, 5)


def test_json_lines_mode_gives_the_same_rows() -> None:
    dump = run(mqtt_descriptor(), sample(write_mqtt_dump, 300, seed=8))
    lines = run(mqtt_descriptor(lines=True), sample(write_mqtt_jsonl, 300, seed=8))
    assert (lines.rows, lines.numbers) == (dump.rows, dump.numbers)


def test_mismatched_arrays_are_one_bad_record_and_numbering_goes_on() -> None:
    messages = [
        {
            "topic": "u4/300/energy",
            "value": [1.0, 2.0],
            "value_units": ["Wh", "V", "A"],
            "time": "2021-07-22",
        },
        {"topic": "u4/300/energy", "value": [1.0, 2.0], "value_units": "Wh", "time": "2021-07-22"},
        {"topic": "u4/300/co2", "value": 400, "value_units": "ppm", "time": "2021-07-22T00:00:00+02:00"},
        {"topic": "u4/300/co2", "value": "high", "value_units": "ppm", "time": "2021-07-22"},
        {"topic": "u4", "value": 1, "time": "2021-07-22"},
        "not an object",
    ]
    parsed = run(mqtt_descriptor(), json.dumps(messages).encode())
    assert parsed.numbers == [3]
    assert parsed.rows[0][3:6] == (400.0, "ppm", 0)
    assert parsed.rows[0][-1] == datetime(2021, 7, 21, 22, 0, tzinfo=UTC)
    assert [(b.row_number, b.field, b.error) for b in parsed.bad] == [
        (1, None, "value has 2 elements but value_units has 3 elements"),
        (2, None, "value has 2 elements but value_units has no array"),
        (4, "value", "expected float, got 'high'"),
        (5, "room", "split: 'u4' split on '/' has 1 part(s), no index 1"),
        (6, None, "expected a JSON object, got string"),
    ]
    assert json.loads(parsed.bad[0].record or "")["value_units"] == ["Wh", "V", "A"]


def test_a_bad_topic_on_an_energy_message_quarantines_each_of_its_rows() -> None:
    message = {"topic": "u4", "value": [1.0, 2.0, 3.0], "value_units": ["Wh", "V", "A"], "time": 0}
    ok = {"topic": "u4/300/co2", "value": 400, "value_units": "ppm", "time": 0}
    parsed = run(mqtt_descriptor(), json.dumps([ok, message, ok]).encode())
    assert parsed.numbers == [1, 5]
    assert [(b.row_number, b.field) for b in parsed.bad] == [(2, "room"), (3, "room"), (4, "room")]


def test_records_path_and_lines_mode_bad_line() -> None:
    doc = {"dump": {"messages": [{"topic": "a/b/c", "value": [1, 2], "value_units": ["x", "y"], "time": 0}]}}
    parsed = run(mqtt_descriptor(records_path="dump.messages"), json.dumps(doc).encode())
    assert [(r[3], r[4], r[5]) for r in parsed.rows] == [(1.0, "x", 0), (2.0, "y", 1)]
    assert parsed.rows[0][-1] == datetime(1970, 1, 1, tzinfo=UTC)
    data = b'{"topic": "a/b/c", "value": 1, "time": 1626951682}\n{oops\n'
    parsed = run(mqtt_descriptor(lines=True), data)
    assert parsed.rows[0][-1] == datetime(2021, 7, 22, 11, 1, 22, tzinfo=UTC)
    assert parsed.bad[0].row_number == 2 and parsed.bad[0].record == "{oops"


def test_truncated_dump_keeps_what_came_before() -> None:
    data = sample(write_mqtt_dump, 50, seed=1)
    cut = data[: len(data) // 2]
    parsed = run(mqtt_descriptor(), cut)
    assert parsed.bad[-1].error == f"truncated JSON at byte {len(cut)}"
    assert parsed.bad[-1].row_number == len(parsed.rows) + 1
    assert parsed.rows == expected_rows(50, 1)[: len(parsed.rows)]


def test_empty_dump() -> None:
    assert list(parse(mqtt_descriptor(), [sample(write_mqtt_dump, 0)])) == []
