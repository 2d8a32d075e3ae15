"""Descriptors proposed from samples: safe names, targets, evidence, YAML that loads back."""

from __future__ import annotations

import json

import pytest
import yaml

from airflow_provider_datalake.descriptors.loader import parse_descriptor
from airflow_provider_datalake.descriptors.model import is_identifier
from airflow_provider_datalake.inference import format_name, infer_sample, safe_identifier, to_yaml
from airflow_provider_datalake.inference.sniff import Sample


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Variation %", "variation_pct"),
        ("Opérateur", "operateur"),
        ("subID", "sub_id"),
        ("measuredAt", "measured_at"),
        ("Energie kWh", "energie_kwh"),
        ("1", "f_1"),
        ("_id", "id"),
        ("  ", "f"),
        ("x; DROP TABLE y", "x_drop_table_y"),
        ("a" * 80, "a" * 63),
    ],
)
def test_safe_identifier(text: str, expected: str) -> None:
    assert safe_identifier(text) == expected
    assert is_identifier(safe_identifier(text))


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("lab_export_fr_0001.csv", "lab_export_fr"),
        ("chiller_log_0001.csv", "chiller_log"),
        ("co2_stream_d248b5d5_0001.jsonl", "co2_stream_d248b5d5"),  # digits glued to a word stay
        ("report2024.csv", "report2024"),
        ("export_2024-03.csv", "export"),  # a date at the end differs between files of one format
        ("mqtt_dump_2021-07-22.json", "mqtt_dump"),
        ("data-12.csv", "data"),
        ("data (3).csv", "data"),
        ("data.2.csv", "data"),
        ("sensor_v2_0007.tsv", "sensor_v2"),
        ("2021.csv", "inferred"),  # nothing but numbering: the fallback
        ("2021-03-16.csv", "inferred"),
        ("dir/sub/Meteo Toulouse_01.csv", "meteo_toulouse"),
    ],
)
def test_format_name_drops_the_numbering(filename: str, expected: str) -> None:
    assert format_name(filename) == expected


def test_format_name_fallback() -> None:
    assert format_name(None, fallback="mqtt-bridge") == "mqtt_bridge"


def _infer(data: bytes, **kw):
    return infer_sample(Sample(data, True), name="t", **kw)


def test_yaml_is_safe_dumpable_and_loads_back_identically() -> None:
    data = b"Time;Room;Temp;Note\n2020-01-01T00:00:00Z;a;1,5;x\n2020-01-01T01:00:00Z;b;2,5;\n"
    desc = _infer(data).descriptor
    text = to_yaml(desc)
    assert yaml.safe_load(text)["parser"]["delimiter"] == ";"
    assert parse_descriptor(text) == desc


def test_postgres_always_influx_only_with_time_measures_and_tags() -> None:
    rows = [{"t": f"2020-01-01T00:{i:02d}:00Z", "room": f"r{i % 3}", "v": i / 2} for i in range(30)]
    both = _infer(json.dumps(rows).encode()).descriptor
    assert [t.store for t in both.targets] == ["postgres", "influxdb"]
    influx = both.targets[1]
    assert influx.time == "t" and influx.tags == ["room"] and [f.field for f in influx.fields] == ["v"]
    only_pg = _infer(json.dumps([{"a": "x", "b": 1}, {"a": "y", "b": 2}]).encode()).descriptor
    assert [t.store for t in only_pg.targets] == ["postgres"]
    assert "no InfluxDB target" in only_pg.evidence.notes[-1]
    assert [t.store for t in _infer(json.dumps(rows).encode(), stores=["postgres"]).descriptor.targets] == [
        "postgres"
    ]


def test_evidence() -> None:
    rows = [{"id": i, "when": f"2020-01-{i + 1:02d}T00:00:00Z", "v": None if i == 2 else i} for i in range(9)]
    inf = _infer(json.dumps(rows).encode(), filename="x.json")
    ev = inf.descriptor.evidence
    assert ev.shape == "json" and ev.sample_records == 9 and ev.complete and ev.time_field == "when"
    assert ["id"] in ev.candidate_keys
    assert (
        ev.fields["v"].nulls == 1 and ev.fields["id"].unique and ev.fields["id"].examples == ["0", "1", "2"]
    )
    assert 0.8 < ev.fields["id"].confidence <= 1
    when = inf.descriptor.field("when")
    assert when.required  # the time field, never null in the sample
    assert not inf.descriptor.field("v").required


def test_nested_objects_become_dotted_sources() -> None:
    rows = [
        {"sensor": {"id": "s1", "pos": {"x": 1.5}}, "tags": ["a"]},
        {"sensor": {"id": "s2", "pos": {"x": 2}}, "tags": []},
    ]
    desc = _infer(json.dumps(rows).encode()).descriptor
    assert [(f.name, f.source, f.type.value) for f in desc.fields] == [
        ("sensor_id", "sensor.id", "string"),
        ("sensor_pos_x", "sensor.pos.x", "float"),
        ("tags", None, "json"),
    ]


def test_reserved_and_repeated_names_are_made_unique() -> None:
    desc = _infer(b"_raw_object_id,a,A,a.1\n1,2,3,4\n5,6,7,8\n").descriptor
    names = [f.name for f in desc.fields]
    assert len(set(names)) == len(names) and "_raw_object_id" not in names
