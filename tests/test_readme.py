"""The README's descriptor examples are what a new user copies first: they must validate and parse."""

from __future__ import annotations

import re

import yaml

from airflow_provider_datalake.descriptors.loader import parse_descriptor
from airflow_provider_datalake.parsing import parse
from tests.conftest import REPO

BLOCKS = re.findall(r"```yaml\n(.*?)```", (REPO / "README.md").read_text(), re.S)


def block(starting: str) -> str:
    [text] = [b for b in BLOCKS if b.lstrip().startswith(starting)]
    return text


def test_the_complete_descriptor_example_validates() -> None:
    desc = parse_descriptor(block("# examples/neocampus_mqtt.yaml"), source_name="README.md")
    assert desc.name == "neocampus_mqtt" and [t.store for t in desc.targets] == ["postgres"]


def test_the_fields_and_targets_examples_validate_together_and_parse_a_row() -> None:
    base = [{"name": n} for n in ("building", "room", "kind", "unit")] + [
        {"name": "value", "type": "float"},
        {"name": "input", "type": "int"},
        {"name": "floor", "type": "int"},
        {"name": "time", "type": "timestamp"},
    ]
    data = {
        "name": "readme_targets",
        "parser": {"kind": "csv", "delimiter": ";"},
        "fields": base + yaml.safe_load(block("fields:"))["fields"],
        "targets": yaml.safe_load(block("targets:"))["targets"],
    }
    desc = parse_descriptor(yaml.safe_dump(data, sort_keys=False), source_name="README.md")
    assert [t.store for t in desc.targets] == ["postgres", "influxdb", "mongodb", "neo4j"]

    csv = (
        b"building;room;kind;unit;value;input;floor;time;at\n"
        b"u4;302;co2;ppm;40;1;3;2019-03-16T13:05:00Z;16/03/2019 14:05\n"
    )
    [batch] = list(parse(desc, [csv]))
    row = dict(zip([f.name for f in desc.fields], batch.rows[0], strict=True))
    assert not batch.bad
    assert row["at"].isoformat() == "2019-03-16T13:05:00+00:00"  # Europe/Paris, as the example says
    assert row["ratio"] == 0.4
