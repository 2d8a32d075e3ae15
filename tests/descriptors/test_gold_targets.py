"""The InfluxDB, MongoDB and Neo4j targets: valid forms load, each mistake names its file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_datalake.descriptors.loader import DescriptorError, load_descriptor, parse_descriptor
from airflow_provider_datalake.descriptors.model import InfluxTarget, MongoTarget, Neo4jTarget
from tests.descriptors.conftest import write
from tests.descriptors.test_loader import expected_line

HEAD = """\
name: readings
parser:
  kind: csv
fields:
  - name: building
  - name: room
  - name: kind
  - name: unit
  - name: value
    type: float
  - name: time
    type: timestamp
targets:
"""
INFLUX = """\
  - store: influxdb
    measurement: "{{ kind }}"
    tags: [building, room]
    fields: [value]
    time: time
"""
MONGO = """\
  - store: mongodb
    collection: readings
"""
NEO4J = """\
  - store: neo4j
    nodes:
      - {label: Building, keys: [building]}
      - {label: Room, keys: [building, room]}
    relationships:
      - {type: HAS_ROOM, from: Building, to: Room}
"""

# case id -> (targets YAML, field path, words the message must contain); `# <-` marks the line
BAD: dict[str, tuple[str, str, str]] = {
    "influx_measurement_not_identifier": (
        INFLUX.replace('"{{ kind }}"', '"readings; drop"  # <-'),
        "targets[0].measurement",
        "is not a safe identifier",
    ),
    "influx_measurement_bad_template": (
        INFLUX.replace('"{{ kind }}"', '"{{ kind "  # <-'),
        "targets[0].measurement",
        "invalid Jinja2 template",
    ),
    "influx_template_unknown_field": (
        INFLUX.replace('"{{ kind }}"', '"{{ knd }}"  # <-'),
        "targets[0].measurement",
        "'knd' is not a field of this descriptor (did you mean 'kind'?)",
    ),
    "influx_tag_not_field": (
        INFLUX.replace("tags: [building, room]", "tags: [building, rooom]  # <-"),
        "targets[0].tags[1]",
        "'rooom' is not a field of this descriptor (did you mean 'room'?)",
    ),
    "influx_tag_not_identifier": (
        INFLUX.replace("tags: [building, room]", "tags: [building, Room]  # <-"),
        "targets[0].tags[1]",
        "expected a safe identifier",
    ),
    "influx_field_unknown": (
        INFLUX.replace("fields: [value]", "fields:\n      - field: valeu  # <-\n        key: '{{ unit }}'"),
        "targets[0].fields[0].field",
        "'valeu' is not a field of this descriptor (did you mean 'value'?)",
    ),
    "influx_without_time": (
        INFLUX.replace("    time: time\n", "").replace("  - store: influxdb", "  - store: influxdb  # <-"),
        "targets[0].time",
        "required key is missing",
    ),
    "influx_bad_precision": (
        INFLUX + "    precision: minutes  # <-\n",
        "targets[0].precision",
        "got 'minutes'",
    ),
    "influx_reserved_field_key": (
        INFLUX.replace("fields: [value]", "fields:\n      - {field: value, key: _raw_object_id}  # <-"),
        "targets[0].fields[0].key",
        "reserved for lineage",
    ),
    "mongo_merge_without_keys": (
        MONGO + "    mode: merge  # <-\n",
        "targets[0].mode",
        "mode merge needs `keys`",
    ),
    "mongo_key_not_field": (
        MONGO + "    mode: merge\n    keys: [building, tme]  # <-\n",
        "targets[0].keys[1]",
        "'tme' is not a field of this descriptor (did you mean 'time'?)",
    ),
    "mongo_index_field_unknown": (
        MONGO + "    indexes:\n      - fields: [building, romo]  # <-\n",
        "targets[0].indexes[0].fields[1]",
        "'romo' is not a field of this descriptor (did you mean 'room'?)",
    ),
    "mongo_collection_injection": (
        MONGO.replace("collection: readings", "collection: 'readings.$x'  # <-"),
        "targets[0].collection",
        "expected a safe identifier",
    ),
    "mongo_bad_mode": (
        MONGO + "    mode: upsert  # <-\n",
        "targets[0].mode",
        "got 'upsert'",
    ),
    "neo4j_label_injection": (
        NEO4J.replace("{label: Room,", "{label: 'Room`) DETACH DELETE n //',  # <-\n         "),
        "targets[0].nodes[1].label",
        "String should match pattern",
    ),
    "neo4j_rel_type_injection": (
        NEO4J.replace("type: HAS_ROOM", "type: 'HAS ROOM'") + "    # <-\n",
        "",
        "",
    ),
    "neo4j_key_not_field": (
        NEO4J.replace("{label: Building, keys: [building]}", "{label: Building, keys: [bilding]}  # <-"),
        "targets[0].nodes[0].keys[0]",
        "'bilding' is not a field of this descriptor (did you mean 'building'?)",
    ),
    "neo4j_node_without_keys": (
        NEO4J.replace("{label: Building, keys: [building]}", "{label: Building, keys: []}  # <-"),
        "targets[0].nodes[0].keys",
        "at least 1 item",
    ),
    "neo4j_relationship_to_unknown_label": (
        NEO4J.replace(
            "{type: HAS_ROOM, from: Building, to: Room}", "{type: HAS_ROOM, from: Building, to: Rom}"
        ).replace("    relationships:", "    relationships:  # <-"),
        "targets[0].relationships",
        "'Rom' is not a node label of this target",
    ),
    "neo4j_label_twice": (
        NEO4J.replace("{label: Room, keys: [building, room]}", "{label: Building, keys: [room]}").replace(
            "    nodes:", "    nodes:  # <-"
        ),
        "targets[0].nodes",
        "node labels must be unique",
    ),
    "neo4j_property_not_identifier": (
        NEO4J.replace("keys: [building]}", "keys: [building], properties: [Value]}  # <-"),
        "targets[0].nodes[0].properties[0]",
        "expected a safe identifier",
    ),
    "two_influx_targets_same_measurement": (
        INFLUX + INFLUX.replace("  - store: influxdb", "  - store: influxdb  # <-"),
        "targets[1]",
        "loads the same influxdb_kind as targets[0]",
    ),
}
# the relationship-type case points wherever the loader puts it; its message is checked below
BAD.pop("neo4j_rel_type_injection")


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_gold_target_names_file_line_and_field(case: str, tmp_path: Path) -> None:
    targets, field_path, words = BAD[case]
    text = HEAD + targets
    path = write(tmp_path, f"{case}.yaml", text)
    with pytest.raises(DescriptorError) as info:
        load_descriptor(path)
    line = expected_line(text)
    prefix = f"{path}:{line}: {field_path}: "
    matching = [str(p) for p in info.value.problems if str(p).startswith(prefix)]
    assert matching, f"no problem starts with {prefix!r}: {[str(p) for p in info.value.problems]}"
    assert any(words in m for m in matching), f"{words!r} not in {matching}"


def test_relationship_type_is_checked_as_an_identifier() -> None:
    with pytest.raises(DescriptorError, match=r"relationships\[0\]\.type: String should match pattern"):
        parse_descriptor(HEAD + NEO4J.replace("type: HAS_ROOM", "type: 'HAS ROOM'"))


def test_all_three_targets_load_with_defaults_and_names() -> None:
    desc = parse_descriptor(HEAD + INFLUX + MONGO + NEO4J)
    influx, mongo, neo4j = desc.targets
    assert (
        isinstance(influx, InfluxTarget) and isinstance(mongo, MongoTarget) and isinstance(neo4j, Neo4jTarget)
    )
    assert [t.name for t in desc.targets] == ["influxdb_kind", "mongodb_readings", "neo4j_graph"]
    assert (influx.conn_id, influx.precision, influx.bucket) == ("influxdb_default", "ms", None)
    assert influx.fields[0].field == "value" and influx.fields[0].key is None
    assert (mongo.conn_id, mongo.database, mongo.mode) == ("mongo_gold", "datalake_gold", "replace_object")
    assert neo4j.conn_id == "neo4j_default"
    assert neo4j.relationships[0].from_ == "Building"
    assert [t.store for t in desc.targets] == ["influxdb", "mongodb", "neo4j"]


def test_template_names_are_task_id_safe() -> None:
    target = InfluxTarget.model_validate(
        {"measurement": "campus_{{ kind | lower }}", "fields": ["value"], "time": "time"}
    )
    assert target.name == "influxdb_campus_kind_lower"
