"""Messy files as users have them: a stray value does not make a column text (it is an outlier, quarantined
at load), null tokens ('n/a', 'NaN') are nulls the parser is told about, naive times say UTC is assumed."""

from __future__ import annotations

import json
import random

import pytest

from airflow_provider_datalake.descriptors.loader import parse_descriptor
from airflow_provider_datalake.descriptors.model import CsvParser, FieldType
from airflow_provider_datalake.inference import infer_sample, to_yaml
from airflow_provider_datalake.inference.sniff import Sample
from airflow_provider_datalake.inference.types import Context, infer_field
from airflow_provider_datalake.parsing import parse

CSV_COMMA = Context("comma", csv=True)


def _infer(data: bytes, filename: str = "file.csv"):
    return infer_sample(Sample(data, True), filename=filename)


def _load(descriptor, data: bytes) -> tuple[list[tuple], list]:
    rows, bad = [], []
    for batch in parse(descriptor, [data[i : i + 4096] for i in range(0, len(data), 4096)]):
        rows += batch.rows
        bad += batch.bad
    return rows, bad


def _messy_csv(outliers: dict[int, tuple[str, str]], rows: int = 200) -> bytes:
    """';' CSV in French spelling: a day-first local time, a room, decimal commas, a percentage."""
    rng = random.Random(11)
    lines = ["horodatage;salle;temperature;humidite"]
    for i in range(rows):
        cells = {
            "horodatage": f"{16 + i // 24:02d}/03/2019 {i % 24:02d}:05",
            "salle": "ABC"[i % 3],
            "temperature": f"{rng.uniform(15, 25):.1f}".replace(".", ","),
            "humidite": f"{rng.uniform(30, 60):.1f}".replace(".", ",") + " %",
        }
        if i in outliers:
            column, value = outliers[i]
            cells[column] = value
        lines.append(";".join(cells.values()))
    return ("\n".join(lines) + "\n").encode()


# Row index in the body -> (column, garbage). Record numbers are 1-based: index 49 is record 50.
OUTLIERS = {49: ("temperature", "beaucoup"), 119: ("humidite", "??"), 169: ("horodatage", "hier soir")}


def test_one_bad_value_does_not_make_a_column_text() -> None:
    data = _messy_csv(OUTLIERS)
    desc = _infer(data).descriptor
    assert {f.name: f.type for f in desc.fields} == {
        "horodatage": FieldType.TIMESTAMP,
        "salle": FieldType.STRING,
        "temperature": FieldType.FLOAT,
        "humidite": FieldType.FLOAT,
    }
    assert desc.parser.decimal == ","
    assert [c.kind for c in desc.field("humidite").converters] == ["percent"]
    influx = next(t for t in desc.targets if t.store == "influxdb")
    assert influx.time == "horodatage" and [f.field for f in influx.fields] == ["temperature", "humidite"]
    fields = desc.evidence.fields
    assert "1 of 200 values unreadable as float" in fields["temperature"].detected
    assert "'beaucoup'" in fields["temperature"].detected and "'??'" in fields["humidite"].detected
    assert "'hier soir'" in fields["horodatage"].detected
    assert "beaucoup" not in fields["temperature"].examples
    clean = _infer(_messy_csv({})).descriptor.evidence.fields["temperature"].confidence
    assert 0.9 < fields["temperature"].confidence < clean  # the share of values read, weighted by the sample
    assert any("3 of 200 sampled records" in n for n in desc.evidence.notes)
    assert parse_descriptor(to_yaml(desc)) == desc


def test_the_outlier_rows_and_only_they_are_quarantined() -> None:
    data = _messy_csv(OUTLIERS)
    desc = _infer(data).descriptor
    rows, bad = _load(desc, data)
    assert len(rows) == 197
    assert [(b.row_number, b.field, b.value) for b in bad] == [
        (50, "temperature", "beaucoup"),
        (120, "humidite", "??"),
        (170, "horodatage", "hier soir"),
    ]
    assert all(b.error for b in bad)  # kept with their reason
    assert _load(_infer(_messy_csv({})).descriptor, _messy_csv({}))[1] == []  # a clean file: none


@pytest.mark.parametrize(
    ("rows", "bad", "expected"),
    [
        (200, 5, FieldType.FLOAT),  # 2.5%: a quarter of quarantine.max_ratio
        (200, 6, FieldType.STRING),  # 3%: too many to be outliers
        (39, 1, FieldType.STRING),  # few values must all be read
        (40, 1, FieldType.FLOAT),
        (9, 1, FieldType.STRING),
    ],
)
def test_outlier_threshold(rows: int, bad: int, expected: FieldType) -> None:
    values = [f"{i},5" for i in range(rows - bad)] + [f"bad{i}" for i in range(bad)]
    guess = infer_field("temperature", values, CSV_COMMA, frozenset({""}))
    assert guess.type is expected
    assert guess.outliers == (bad if expected is FieldType.FLOAT else 0)


def test_outliers_over_the_whole_file_stay_within_half_the_quarantine_ratio() -> None:
    # Three columns with 2.5% outliers each, on different rows: 7.5% of the records would be quarantined.
    outliers = {i: ("temperature", "x") for i in range(0, 5)}
    outliers |= {i: ("humidite", "x") for i in range(50, 55)}
    outliers |= {i: ("horodatage", "x") for i in range(100, 105)}
    desc = _infer(_messy_csv(outliers)).descriptor
    types = [desc.field(n).type for n in ("horodatage", "temperature", "humidite")]
    assert types.count(FieldType.STRING) == 1  # the first to go back to text brings the file to 5%
    rows, bad = _load(desc, _messy_csv(outliers))
    assert len(bad) == 10 and len(rows) == 190


def test_tolerance_is_for_typed_readings_only() -> None:
    names = ["Dupont", "Martin", "Nguyen", "García"] * 50 + ["12"]
    assert infer_field("who", names, CSV_COMMA).type is FieldType.STRING
    codes = [f"{n:05d}" for n in range(100, 300)] + ["01234"]  # codes keep their zeros
    assert infer_field("code", codes, CSV_COMMA).type is FieldType.STRING
    answers = ["oui", "non"] * 50 + ["peut-être"]
    guess = infer_field("ok", answers, CSV_COMMA)
    assert guess.type is FieldType.BOOL and guess.outlier_examples == ["peut-être"]


# ------------------------------------------------------------------------------------------ null tokens


def test_json_lines_null_token_makes_a_nullable_float_that_loads_as_null() -> None:
    lines = [
        {"time": f"2024-01-01T00:{i:02d}:00Z", "room": "ab"[i % 2], "co2": "n/a" if i == 7 else 400.5 + i}
        for i in range(30)
    ]
    data = "\n".join(json.dumps(line) for line in lines).encode()
    desc = _infer(data, "co2_stream_d248b5d5_0001.jsonl").descriptor
    assert desc.name == "co2_stream_d248b5d5"
    co2 = desc.field("co2")
    assert co2.type is FieldType.FLOAT and not co2.required
    assert desc.parser.null_values == ["n/a"]
    assert desc.evidence.fields["co2"].nulls == 1 and "'n/a' read as null" in co2.description
    assert [t.store for t in desc.targets] == ["postgres", "influxdb"]
    assert parse_descriptor(to_yaml(desc)) == desc
    rows, bad = _load(desc, data)
    index = [f.name for f in desc.fields].index("co2")
    assert bad == [] and len(rows) == 30 and rows[7][index] is None and rows[8][index] == 408.5


def test_json_array_null_tokens_in_nested_fields() -> None:
    records = [{"id": i, "m": {"temp": ["NaN", "", "—"][i % 3] if i % 10 == 0 else i / 4}} for i in range(40)]
    data = json.dumps(records).encode()
    desc = _infer(data, "readings.json").descriptor
    assert desc.field("m_temp").type is FieldType.FLOAT and desc.field("m_temp").source == "m.temp"
    assert sorted(desc.parser.null_values) == sorted(["NaN", "", "—"])
    rows, bad = _load(desc, data)
    assert bad == [] and [r[1] for r in rows if r[1] is None] == [None] * 4


def test_csv_null_tokens_join_the_parser_defaults() -> None:
    lines = ["when,site,co2,note"]
    for i in range(60):
        co2 = {5: "n/a", 17: "NaN", 33: "#N/A"}.get(i, str(400 + i))
        lines.append(f"2024-01-01T00:{i:02d}:00Z,s{i % 2},{co2},{'n/a' if i == 40 else 'ok'}")
    data = ("\n".join(lines) + "\n").encode()
    desc = _infer(data).descriptor
    assert desc.field("co2").type is FieldType.INT
    assert desc.parser.null_values == [*CsvParser().null_values, "n/a", "NaN", "#N/A"]
    assert desc.field("note").type is FieldType.STRING
    assert desc.evidence.fields["note"].nulls == 1  # the marker is the parser's: the text field reads it too
    rows, bad = _load(desc, data)
    assert bad == [] and [r[2] for r in rows if r[2] is None] == [None] * 3
    assert rows[40][3] is None


def test_null_tokens_in_a_text_column_stay_text() -> None:
    lines = ["name,score"] + [f"{['Ann', 'None', 'Bo'][i % 3]},{i}" for i in range(30)]
    desc = _infer(("\n".join(lines) + "\n").encode()).descriptor
    assert desc.field("name").type is FieldType.STRING
    assert desc.parser.null_values == CsvParser().null_values
    assert "null_values" not in to_yaml(desc)


def test_json_without_tokens_writes_no_null_values() -> None:
    data = json.dumps([{"a": 1.5, "b": "x"}, {"a": 2, "b": ""}]).encode()
    desc = _infer(data, "x.json").descriptor
    assert desc.parser.null_values == [] and "null_values" not in to_yaml(desc)


# ------------------------------------------------------------------------------------------ time zones


def test_naive_times_say_utc_is_assumed() -> None:
    ctx = Context("plain", csv=True)
    local = infer_field("t", ["16/03/2019 14:05", "17/03/2019 09:30"], ctx)
    assert (
        local.type is FieldType.TIMESTAMP and "UTC assumed" in local.detected and "timezone" in local.detected
    )
    iso = infer_field("t", ["2019-03-16T14:05:00", "2019-03-16T15:05:00"], ctx)
    assert "UTC assumed" in iso.detected
    zoned = infer_field("t", ["2019-03-16T14:05:00+01:00", "2019-03-16T15:05:00Z"], ctx)
    assert "UTC assumed" not in zoned.detected and "with zone" in zoned.detected
    assert "UTC assumed" not in infer_field("d", ["16/03/2019", "17/03/2019"], ctx).detected  # dates: no zone


def test_an_impossible_date_shaped_like_the_others_is_an_outlier_too() -> None:
    """'32/13/2019 25:61' looks like a date, so it sits among the candidates: one such value must not
    stop the day-first format from being found (it did: every value had to read)."""
    data = _messy_csv({169: ("horodatage", "32/13/2019 25:61")})
    desc = _infer(data).descriptor
    assert desc.field("horodatage").type is FieldType.TIMESTAMP
    assert desc.field("horodatage").converters[0].format == "%d/%m/%Y %H:%M"
    assert "'32/13/2019 25:61'" in desc.evidence.fields["horodatage"].detected
    rows, bad = _load(desc, data)
    assert [b.row_number for b in bad] == [170] and len(rows) == 199
