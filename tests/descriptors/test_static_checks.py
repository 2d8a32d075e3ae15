"""Checks made before any data is read: cross-field references and types, expressions compiled in the
parser's sandbox, type-name aliases, and every independent mistake reported in one run."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from airflow_provider_datalake.descriptors.loader import DescriptorError, load_descriptor, plain_data
from airflow_provider_datalake.descriptors.model import TYPE_ALIASES, Descriptor, FieldSpec, FieldType
from tests.descriptors.conftest import write
from tests.descriptors.test_loader import expected_line

HEAD = """\
name: readings
parser:
  kind: csv
fields:
  - name: building
  - name: room
  - name: value
    type: float
  - name: n
    type: int
  - name: day
    type: date
  - name: payload
    type: json
  - name: time
    type: timestamp
targets:
  - store: postgres
    table: readings
"""
INFLUX = """\
  - store: influxdb
    measurement: readings
    tags: [building]
    fields: [value]
    time: time
"""


def problems(tmp_path: Path, text: str) -> list[str]:
    """`line: path: message` of every problem (the file name left out)."""
    path = write(tmp_path, "d.yaml", text)
    with pytest.raises(DescriptorError) as info:
        load_descriptor(path)
    return [str(p).removeprefix(f"{path}:") for p in info.value.problems]


def the_problem(tmp_path: Path, text: str) -> str:
    """The one problem of `text`, checked to be on the line marked `# <-`."""
    (problem,) = problems(tmp_path, text)
    assert problem.startswith(f"{expected_line(text)}: "), problem
    return problem.split(": ", 1)[1]


# ------------------------------------------------------------------------------------ InfluxDB time, tags


@pytest.mark.parametrize(("time_field", "kind"), [("room", "string"), ("day", "date"), ("value", "float")])
def test_influx_time_must_be_a_timestamp_or_an_int(tmp_path: Path, time_field: str, kind: str) -> None:
    text = HEAD + INFLUX.replace("time: time", f"time: {time_field}  # <-")
    assert the_problem(tmp_path, text) == (
        f"targets[1].time: time field {time_field!r} is a {kind}: it must be a timestamp (or an int, "
        "already an epoch in the target's precision)"
    )


@pytest.mark.parametrize("time_field", ["time", "n"])
def test_influx_time_may_be_a_timestamp_or_an_int(time_field: str) -> None:
    # exactly what gold/influxdb.py InfluxLoader accepts
    desc = Descriptor.model_validate_json(
        '{"name": "r", "parser": {"kind": "csv"}, "fields": [{"name": "time", "type": "timestamp"}, '
        '{"name": "n", "type": "int"}, {"name": "v", "type": "float"}], '
        f'"targets": [{{"store": "influxdb", "measurement": "m", "fields": ["v"], "time": "{time_field}"}}]}}'
    )
    assert desc.targets[0].time == time_field


def test_influx_time_of_an_unknown_type_is_not_judged(tmp_path: Path) -> None:
    text = HEAD.replace("type: date", "type: datetime  # <-") + INFLUX.replace("time: time", "time: day")
    assert the_problem(tmp_path, text).startswith("fields[4].type: Input should be")


def test_influx_json_tag_is_refused(tmp_path: Path) -> None:
    text = HEAD + INFLUX.replace("tags: [building]", "tags: [building, payload]  # <-")
    assert (
        the_problem(tmp_path, text) == "targets[1].tags[1]: tag 'payload' is a json field; tags hold scalars"
    )


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("tags: [building, time]", "tags time: raw_object_id, source_row, time are reserved keys"),
        ("fields: [value, time]", "field 'time' has no `key`, so its key 'time': raw_object_id, source_row"),
        ("fields: [{field: value, key: source_row}]", "field key 'source_row': raw_object_id, source_row"),
    ],
)
def test_influx_reserved_keys_are_refused(tmp_path: Path, change: str, words: str) -> None:
    key = change.split(":")[0]
    text = HEAD + "\n".join(
        f"{line}  # <-" if line.strip().startswith(f"{key}:") else line for line in INFLUX.splitlines()
    )
    text = text.replace("tags: [building]", change if key == "tags" else "tags: [building]")
    text = text.replace("fields: [value]", change if key == "fields" else "fields: [value]") + "\n"
    assert words in the_problem(tmp_path, text)


def test_influx_default_key_starting_with_underscore_is_refused() -> None:
    with pytest.raises(ValidationError, match="keys starting with _ are reserved"):
        Descriptor.model_validate(
            {
                "name": "r",
                "parser": {"kind": "csv"},
                "fields": [{"name": "_v", "type": "float"}, {"name": "t", "type": "timestamp"}],
                "targets": [{"store": "influxdb", "measurement": "m", "fields": ["_v"], "time": "t"}],
            }
        )


def test_lineage_field_names_are_refused(tmp_path: Path) -> None:
    text = HEAD.replace("  - name: room\n", "  - name: _source_row  # <-\n")
    assert the_problem(tmp_path, text) == (
        "fields[1].name: field name '_source_row' is reserved: every gold store adds _raw_object_id, "
        "_source_row, _loaded_at itself"
    )


# ------------------------------------------------------------------------------------------- expressions


def with_expression(expression: str) -> str:
    return HEAD.replace("targets:", f"  - name: computed\n    expression: {expression}  # <-\ntargets:")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ('"{{ row.x }}"', "write the bare expression, without {{ }}: 'row.x'"),
        ("' {{fields.value * 2}} '", "write the bare expression, without {{ }}: 'fields.value * 2'"),
        ("row.__class__", "invalid Jinja2 expression: the sandbox refuses special attributes (__class__)"),
        (
            "row['__class__'].__mro__",
            "invalid Jinja2 expression: the sandbox refuses special attributes (__class__, __mro__)",
        ),
        (
            "row | attr('__globals__')",
            "invalid Jinja2 expression: the sandbox refuses special attributes (__globals__)",
        ),
        ("value | floaat", "invalid Jinja2 expression: No filter named 'floaat'."),
        ("value is numbr", "invalid Jinja2 expression: No test named 'numbr'."),
        ("\"'fields.value *'\"", None),  # a string constant: fine
        ("fields.value *", "invalid Jinja2 expression: unexpected 'end of template'"),
        ("a }} {{ b", "invalid Jinja2 expression: chunk after expression"),
    ],
)
def test_expressions_are_compiled_in_the_parsers_sandbox(
    tmp_path: Path, expression: str, message: str | None
) -> None:
    text = with_expression(expression)
    if message is None:
        assert load_descriptor(text).field("computed").expression
        return
    assert the_problem(tmp_path, text).startswith(f"fields[7].expression: {message}")


@pytest.mark.parametrize("expression", ["row._id", "row['_id']", "row.__typename", "value | float * 2"])
def test_underscore_keys_of_the_record_stay_readable(expression: str) -> None:
    # `row._id` reads the record's `_id` key in the sandbox: only dunders are refused statically
    assert FieldSpec.model_validate({"name": "f", "expression": expression}).expression == expression


@pytest.mark.parametrize(
    "expression", ["9 ** 99999999", "'x' * 10000000000", "'x' | center(1000000000)", "range(10 ** 9) | list"]
)
def test_validating_a_bomb_does_not_run_it(expression: str) -> None:
    started = time.perf_counter()
    FieldSpec.model_validate({"name": "f", "expression": expression})
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize(
    ("measurement", "message"),
    [
        ("'{{ building.__class__ }}'", "invalid Jinja2 template: the sandbox refuses special attributes"),
        ("'{{ building | lowr }}'", "invalid Jinja2 template: No filter named 'lowr'."),
    ],
)
def test_templates_are_compiled_too(tmp_path: Path, measurement: str, message: str) -> None:
    text = HEAD + INFLUX.replace("measurement: readings", f"measurement: {measurement}  # <-")
    assert the_problem(tmp_path, text).startswith(f"targets[1].measurement: {message}")


# ------------------------------------------------------------------------------------- type-name aliases


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("datetime", "timestamp"),
        ("time", "timestamp"),
        ("ts", "timestamp"),
        ("DateTime", "timestamp"),
        ("integer", "int"),
        ("long", "int"),
        ("double", "float"),
        ("number", "float"),
        ("decimal", "float"),
        ("str", "string"),
        ("text", "string"),
        ("varchar", "string"),
        ("boolean", "bool"),
        ("object", "json"),
        ("dict", "json"),
        ("array", "json"),
        ("strng", "string"),  # no alias: the closest name
    ],
)
def test_type_name_mistakes_suggest_what_is_meant(tmp_path: Path, written: str, meant: str) -> None:
    text = HEAD.replace("type: date", f"type: {written}  # <-")
    assert the_problem(tmp_path, text).endswith(f"got {written!r} (did you mean {meant!r}?)")


def test_aliases_name_real_types_and_are_not_types_themselves() -> None:
    assert set(TYPE_ALIASES.values()) <= set(FieldType)
    assert not set(TYPE_ALIASES) & {t.value for t in FieldType}
    with pytest.raises(ValidationError):
        FieldSpec.model_validate({"name": "f", "type": "datetime"})


# ------------------------------------------------------------------------------------------ one run, all


TYPES = "Input should be 'string', 'int', 'float', 'bool', 'timestamp', 'date' or 'json'"


def test_independent_mistakes_are_reported_in_one_run(tmp_path: Path) -> None:
    text = """\
name: readings
parser:
  kind: csv
  delimiter: ';;'
fields:
  - name: building
  - name: room
  - name: value
    type: double
  - name: time
    type: datetime
  - 42
  - name: room
  - name: doubled
    expression: "{{ row.x }}"
targets:
  - store: postgres
    table: readings
    mode: merge
    keys: [building, rom]
  - store: influxdb
    measurement: m
    precision: minutes
    tags: [building, room]
    fields: [value]
    time: room
  - store: influxdb
    measurement: m
    tags: [room]
    fields: [value, room]
    time: time
  - store: mongodb
    collection: readings
    batch_size: 0
    indexes:
      - fields: [bilding]
"""
    assert problems(tmp_path, text) == [
        "4: parser.delimiter: String should have at most 1 character, got ';;'",
        f"9: fields[2].type: {TYPES}, got 'double' (did you mean 'float'?)",
        f"11: fields[3].type: {TYPES}, got 'datetime' (did you mean 'timestamp'?)",
        "12: fields[4]: Input should be a valid dictionary or instance of FieldSpec, got 42",
        "13: fields[5].name: field name 'room' is repeated (first at line 7)",
        "15: fields[6].expression: write the bare expression, without {{ }}: 'row.x'",
        # a field's name cannot be read (42): it may be the one a key means, so no key is judged...
        "23: targets[1].precision: Input should be 's', 'ms', 'us' or 'ns', got 'minutes'",
        # ...but the rest of a target with an invalid key still is
        "26: targets[1].time: time field 'room' is a string: it must be a timestamp (or an int, already an "
        "epoch in the target's precision)",
        "30: targets[2].fields: room cannot be both a tag and a field key",
        "34: targets[3].batch_size: Input should be greater than or equal to 1, got 0",
    ]
    # with every field readable, unknown references join in, still in the same run
    found = problems(tmp_path, text.replace("  - 42\n", "  - name: n\n"))
    assert "20: targets[0].keys[1]: 'rom' is not a field of this descriptor (did you mean 'room'?)" in found
    assert any(p.startswith("36: targets[3].indexes[0].fields[0]: 'bilding' is not a field") for p in found)
    assert len(found) == 11


def test_a_bare_name_item_counts_as_that_field_for_references(tmp_path: Path) -> None:
    text = HEAD.replace("  - name: room\n", "  - room  # <-\n") + INFLUX.replace("[building]", "[room]")
    assert the_problem(tmp_path, text).startswith("fields[1]: Input should be a valid dictionary")


def test_duplicate_yaml_keys_come_with_the_other_problems(tmp_path: Path) -> None:
    text = HEAD.replace("    table: readings\n", "    table: readings\n    table: other\n    mode: upsert\n")
    found = problems(tmp_path, text)
    assert found[0].startswith("20: targets[0].table: duplicate key 'table' (first at line 19)")
    assert found[1].startswith("21: targets[0].mode: Input should be 'append', 'merge' or 'replace_object'")
    assert plain_data(text) is None  # the cache keeps no pre-parsed copy of such a file


def test_a_duplicate_yaml_key_alone_is_still_an_error(tmp_path: Path) -> None:
    text = HEAD.replace("  - name: room\n", "  - name: room\n    name: salle  # <-\n")
    assert the_problem(tmp_path, text).startswith("fields[1].name: duplicate key 'name'")


def test_a_partly_invalid_target_never_clashes_by_its_defaults(tmp_path: Path) -> None:
    neo4j = "  - store: neo4j\n    nodes: [{label: Room, keys: [room]}]\n"
    text = HEAD + neo4j + neo4j + "    graph: Bad-Name  # <-\n"
    assert the_problem(tmp_path, text).startswith("targets[2].graph: String should match pattern")


def test_neo4j_key_and_property_overlap_is_reported_with_a_bad_label(tmp_path: Path) -> None:
    text = HEAD + (
        "  - store: neo4j\n    nodes:\n      - label: 'Bad Label'\n        keys: [room]\n"
        "        properties: [room]  # <-\n"
    )
    found = problems(tmp_path, text)
    assert [p.split(": ", 2)[1] for p in found] == [
        "targets[1].nodes[0].label",
        "targets[1].nodes[0].properties",
    ]
    assert found[1].endswith("room listed twice (keys and properties)")


def test_mongo_index_names_clash_is_reported_with_other_mistakes(tmp_path: Path) -> None:
    text = HEAD + (
        "  - store: mongodb\n    collection: readings\n    mode: upsert\n    indexes:  # <-\n"
        "      - {fields: [room], name: by_room}\n      - {fields: [building], name: by_room}\n"
    )
    found = problems(tmp_path, text)
    assert any(
        p.startswith("23: targets[1].indexes: index names must be unique; repeated: by_room") for p in found
    )
    assert any("targets[1].mode" in p for p in found)


def test_the_model_alone_locates_cross_field_errors() -> None:
    data: dict[str, Any] = {
        "name": "r",
        "version": 0,
        "parser": {"kind": "csv"},
        "fields": [{"name": "a"}, {"name": "a"}, {"name": "t", "type": "string"}],
        "targets": [
            {"store": "postgres", "table": "x", "mode": "merge", "keys": ["b"]},
            {"store": "influxdb", "measurement": "m", "fields": ["a"], "time": "t"},
        ],
    }
    with pytest.raises(ValidationError) as info:
        Descriptor.model_validate(data)
    assert [(e["loc"], e["type"]) for e in info.value.errors()] == [
        (("version",), "greater_than_equal"),
        (("fields", 1, "name"), "descriptor_consistency"),
        (("targets", 0, "postgres", "keys", 0), "descriptor_consistency"),
        (("targets", 1, "influxdb", "time"), "descriptor_consistency"),
    ]
    data["version"] = 1  # valid otherwise: the same cross-field errors
    with pytest.raises(ValidationError) as info:
        Descriptor.model_validate(data)
    assert len(info.value.errors()) == 3


def test_a_target_with_an_invalid_required_name_still_has_its_references_checked(tmp_path: Path) -> None:
    text = HEAD.replace("table: readings", "table: Bad-Table\n    mode: merge\n    keys: [rooom]") + (
        INFLUX.replace("measurement: readings", "measurement: '{{ zz | lowr }}'").replace(
            "time: time", "time: room"
        )
    )
    assert [p.split(": ", 2)[1] for p in problems(tmp_path, text)] == [
        "targets[0].table",
        "targets[0].keys[0]",  # 'rooom' is not a field (did you mean 'room'?)
        "targets[1].measurement",  # its own error only: `zz` is not judged inside a broken template
        "targets[1].time",  # 'room' is a string
    ]
