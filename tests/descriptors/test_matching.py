"""Recognising the format of an object inserted without one, from the descriptors' `match` rules."""

from __future__ import annotations

import pytest

from airflow_provider_datalake.descriptors.matching import holds, match_format, rules_of
from airflow_provider_datalake.descriptors.model import Descriptor


def _desc(name: str, **match: object) -> Descriptor:
    return Descriptor.model_validate(
        {
            "name": name,
            "match": match,
            "parser": {"kind": "json"},
            "fields": [{"name": "a"}],
            "targets": [{"store": "postgres", "table": name}],
        }
    )


def _match(descs: list[Descriptor], filename: str | None, **kw: str) -> str | None:
    args = {"container": "datalake-raw", "content_type": "application/json", "application": None, **kw}
    return match_format(descs, filename=filename, **args)


def test_globs_containers_content_types_and_application() -> None:
    mqtt = _desc("mqtt", filenames=["mqtt_dump_*.json"])
    lab = _desc("lab", containers=["lab"], content_types=["text/*"])
    bridge = _desc("bridge", application="mqtt-bridge", filenames=["*.jsonl"])
    descs = [mqtt, lab, bridge]
    assert _match(descs, "mqtt_dump_0001.json") == "mqtt"
    assert _match(descs, "export.csv", container="lab", content_type="text/csv") == "lab"
    assert _match(descs, "export.csv", container="datalake-raw", content_type="text/csv") is None
    assert _match(descs, "x.jsonl", application="mqtt-bridge") == "bridge"
    assert _match(descs, "x.jsonl", application="someone-else") is None
    assert _match(descs, None) is None


def test_a_descriptor_without_rules_never_claims_objects_and_ambiguity_chooses_none() -> None:
    assert _match([_desc("greedy")], "anything.json") is None
    twins = [_desc("a", filenames=["*.json"]), _desc("b", content_types=["application/json"])]
    assert _match(twins, "x.json") is None


def test_rules_read_from_the_yaml_hold_as_the_validated_descriptors_do() -> None:
    text = """
name: mqtt
match:
  filenames: ["mqtt_dump_*.json"]
  containers: [gateways]
parser: {kind: json}
"""
    rules = rules_of(text)
    assert rules == {"filenames": ["mqtt_dump_*.json"], "containers": ["gateways"]}
    where = {"content_type": "application/json", "application": None}
    assert holds(rules, "gateways", filename="mqtt_dump_1.json", **where)
    assert not holds(rules, "datalake-raw", filename="mqtt_dump_1.json", **where)
    desc = _desc("mqtt", filenames=["mqtt_dump_*.json"], containers=["gateways"])
    for container in ("gateways", "datalake-raw"):
        for name in ("mqtt_dump_1.json", "other.json", None):
            light = holds(rules, container, filename=name, **where)
            assert light == (_match([desc], name, container=container) == "mqtt")


@pytest.mark.parametrize(
    "text",
    ["", "- a list\n", "name: x\n", "match: [a]\n", "match: {containers: lab}\n", "a: [unclosed\n"],
    ids=["empty", "list", "no-match", "match-list", "containers-not-a-list", "not-yaml"],
)
def test_rules_that_are_absent_or_malformed_claim_nothing(text: str) -> None:
    rules = rules_of(text)
    assert not holds(rules, "lab", "text/csv", "lab.csv", "app")
