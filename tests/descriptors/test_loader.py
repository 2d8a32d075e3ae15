"""The loader: every example validates; each kind of mistake is reported with its file, line and field path.

Each bad descriptor below marks the line the error must point at with `# <-`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from airflow_provider_datalake.descriptors.loader import (
    DescriptorError,
    Problem,
    descriptor_files,
    load_descriptor,
    load_files,
    load_many,
    parse_descriptor,
)
from airflow_provider_datalake.descriptors.model import Descriptor, is_identifier
from tests.descriptors.conftest import EXAMPLE_FILES, example_text, write

HEAD = """\
name: readings
parser:
  kind: csv
"""
FIELDS = """\
fields:
  - name: sensor_id
    type: int
  - name: value
    type: float
"""
TARGETS = """\
targets:
  - store: postgres
    table: readings
"""

# case id -> (YAML text, field path, words the message must contain)
BAD: dict[str, tuple[str, str, str]] = {
    "sql_in_table_name": (
        HEAD + FIELDS + "targets:\n  - store: postgres\n    table: readings; drop table x  # <-\n",
        "targets[0].table",
        "String should match pattern '^[a-z_][a-z0-9_]{0,62}$' (expected a safe identifier)",
    ),
    "quote_in_column_name": (
        HEAD + 'fields:\n  - name: sensor_id\n  - name: "room\'id"  # <-\n' + TARGETS,
        "fields[1].name",
        "expected a safe identifier",
    ),
    "sql_in_schema": (
        HEAD + FIELDS + TARGETS + '    schema: "public; drop schema public"  # <-\n',
        "targets[0].schema",
        "expected a safe identifier",
    ),
    "descriptor_name_not_identifier": (
        "name: Sensor-Readings  # <-\n" + HEAD.split("\n", 1)[1] + FIELDS + TARGETS,
        "name",
        "expected a safe identifier",
    ),
    "unknown_parser_kind": (
        "name: readings\nparser:\n  kind: xml  # <-\n" + FIELDS + TARGETS,
        "parser.kind",
        "unknown parser kind 'xml'; expected one of: csv, json, jsonl, neocampus_mqtt",
    ),
    "parser_without_kind": (
        "name: readings\nparser:  # <-\n  delimiter: ';'\n" + FIELDS + TARGETS,
        "parser.kind",
        "missing `kind`",
    ),
    "unknown_key_typo": (
        HEAD + "fields:\n  - name: sensor_id\n    requird: true  # <-\n" + TARGETS,
        "fields[0].requird",
        "unknown key (did you mean 'required'?)",
    ),
    "unknown_top_level_key": (
        HEAD + FIELDS + TARGETS + "quarantaine: {max_ratio: 0.2}  # <-\n",
        "quarantaine",
        "unknown key (did you mean 'quarantine'?)",
    ),
    "merge_without_keys": (
        HEAD + FIELDS + TARGETS + "    mode: merge  # <-\n",
        "targets[0].mode",
        "mode merge needs `keys`",
    ),
    "merge_keys_not_fields": (
        HEAD + FIELDS + TARGETS + "    mode: merge\n    keys: [sensor_id, sensorid]  # <-\n",
        "targets[0].keys[1]",
        "'sensorid' is not a field of this descriptor (did you mean 'sensor_id'?)",
    ),
    "merge_keys_repeated": (
        HEAD + FIELDS + TARGETS + "    mode: merge\n    keys: [sensor_id, sensor_id]  # <-\n",
        "targets[0].keys",
        "merge keys must be unique",
    ),
    "duplicate_field_names": (
        HEAD + FIELDS + "  - name: value  # <-\n" + TARGETS,
        "fields[2].name",
        "field name 'value' is repeated (first at line 7)",
    ),
    "same_table_twice": (
        HEAD + FIELDS + TARGETS + "  - store: postgres  # <-\n    table: readings\n",
        "targets[1]",
        "loads the same postgres_readings as targets[0]",
    ),
    "bad_regex": (
        HEAD + "fields:\n  - name: room\n    converters:\n      - regex: {pattern: '(abc'}  # <-\n" + TARGETS,
        "fields[0].converters[0].regex.pattern",
        "invalid regular expression: missing ), unterminated subpattern",
    ),
    "regex_group_missing": (
        HEAD
        + "fields:\n  - name: room\n    converters:\n      - regex: {pattern: 'r(\\d+)', group: 2}  # <-\n"
        + TARGETS,
        "fields[0].converters[0].regex.group",
        "group 2 does not exist: the pattern has 1 group(s)",
    ),
    "bad_jinja_expression": (
        HEAD + FIELDS + "  - name: doubled\n    expression: 'fields.value *'  # <-\n" + TARGETS,
        "fields[2].expression",
        "invalid Jinja2 expression",
    ),
    "negative_skip_rows": (
        HEAD + "  skip_rows: -1  # <-\n" + FIELDS + TARGETS,
        "parser.skip_rows",
        "greater than or equal to 0, got -1",
    ),
    "two_char_delimiter": (
        HEAD + "  delimiter: ';;'  # <-\n" + FIELDS + TARGETS,
        "parser.delimiter",
        "at most 1 character, got ';;'",
    ),
    "thousands_equals_decimal": (
        HEAD + "  decimal: ','\n  thousands: ','  # <-\n" + FIELDS + TARGETS,
        "parser.thousands",
        "thousands separator ',' is also the decimal separator",
    ),
    "missing_targets": (
        "name: readings  # <-\nparser:\n  kind: csv\n" + FIELDS,
        "targets",
        "required key is missing",
    ),
    "target_without_store": (
        HEAD + FIELDS + "targets:\n  - table: readings  # <-\n",
        "targets[0].store",
        "missing `store` (one of: postgres, influxdb, mongodb, neo4j)",
    ),
    "unknown_store": (
        HEAD + FIELDS + "targets:\n  - store: postgress  # <-\n    table: readings\n",
        "targets[0].store",
        "unknown target store 'postgress' (did you mean 'postgres'?)",
    ),
    "empty_fields": (
        HEAD + "fields: []  # <-\n" + TARGETS,
        "fields",
        "List should have at least 1 item",
    ),
    "unknown_converter": (
        HEAD + "fields:\n  - name: room\n    converters:\n      - lowr  # <-\n" + TARGETS,
        "fields[0].converters[0]",
        "unknown converter 'lowr' (did you mean 'lower'?)",
    ),
    "converter_params_not_a_mapping": (
        HEAD + "fields:\n  - name: room\n    converters:  # <-\n      - split: '/'\n" + TARGETS,
        "fields[0].converters",
        "converter 'split' takes a mapping of parameters, got '/'",
    ),
    "converter_missing_parameter": (
        HEAD
        + "fields:\n  - name: room\n    converters:\n      - kind: split  # <-\n        sep: /\n"
        + TARGETS,
        "fields[0].converters[0].index",
        "required key is missing",
    ),
    "unknown_time_zone": (
        HEAD
        + "fields:\n  - name: day\n    converters:\n      - timestamp_format:\n"
        + "          format: '%d/%m/%Y'\n          timezone: Europe/Toulouse  # <-\n"
        + TARGETS,
        "fields[0].converters[0].timestamp_format.timezone",
        "unknown time zone 'Europe/Toulouse'",
    ),
    "wrong_type_name": (
        HEAD + "fields:\n  - name: sensor_id\n    type: integer  # <-\n" + TARGETS,
        "fields[0].type",
        "got 'integer'",
    ),
    "version_zero": (
        "name: readings\nversion: 0  # <-\nparser:\n  kind: csv\n" + FIELDS + TARGETS,
        "version",
        "greater than or equal to 1, got 0",
    ),
    "quarantine_ratio_above_one": (
        HEAD + FIELDS + TARGETS + "quarantine:\n  max_ratio: 1.5  # <-\n",
        "quarantine.max_ratio",
        "less than or equal to 1, got 1.5",
    ),
    "yaml_syntax_error": (
        HEAD + "owner: a: b  # <-\n" + FIELDS + TARGETS,
        "",
        "YAML syntax error: mapping values are not allowed",  # libyaml and PyYAML word the rest apart
    ),
    "duplicate_yaml_key": (
        HEAD + "name: other  # <-\n" + FIELDS + TARGETS,
        "name",
        "duplicate key 'name' (first at line 1)",
    ),
    "duplicate_nested_yaml_key": (
        HEAD + FIELDS + TARGETS + "    table: other  # <-\n",
        "targets[0].table",
        "duplicate key 'table' (first at line 11)",
    ),
    "non_mapping_document": (
        "- name: readings  # <-\n- parser: csv\n",
        "",
        "a descriptor must be a YAML mapping, not a list",
    ),
    "scalar_document": (
        "just some words  # <-\n",
        "",
        "a descriptor must be a YAML mapping, not a scalar",
    ),
    "empty_file": ("", "", "empty document"),
    "comments_only_file": ("# a descriptor, some day\n", "", "empty document"),
    "two_documents": (
        HEAD + FIELDS + TARGETS + "---  # <-\nname: other\n",
        "",
        "expected a single document in the stream",
    ),
    "python_object_tag": (
        HEAD + "owner: !!python/object/apply:os.system ['id']  # <-\n" + FIELDS + TARGETS,
        "",
        "YAML error: could not determine a constructor for the tag",
    ),
    "control_character": (
        HEAD + "owner: bell\x07  # <-\n" + FIELDS + TARGETS,
        "",
        "YAML syntax error: character '\\x07' is not allowed",
    ),
}


def expected_line(text: str) -> int:
    """The line marked `# <-` (line 1 when the text has no marker: empty files)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.rstrip().endswith("# <-"):
            return number
    return 1


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_every_example_validates(path: Path) -> None:
    desc = load_descriptor(path)
    assert desc.name == path.stem
    assert desc.fields and desc.targets


def test_the_four_required_examples_exist() -> None:
    names = {p.stem for p in EXAMPLE_FILES}
    assert {"neocampus_mqtt", "sensor_readings", "lab_csv_fr", "lab_csv_en"} <= names


def test_mqtt_example_contract() -> None:
    desc = load_descriptor(example_text("neocampus_mqtt"))
    assert desc.parser.kind == "neocampus_mqtt"
    assert [f.name for f in desc.fields] == [
        "building", "room", "kind", "sub_id", "unit_id", "input", "value", "unit", "unit_index", "time",
    ]  # fmt: skip
    assert [c.index for n in ("building", "room", "kind") for c in desc.field(n).converters] == [0, 1, 2]
    assert desc.field("sub_id").source_key == "subID" and desc.field("unit_id").source_key == "unitID"
    assert desc.field("time").required and desc.field("time").type == "timestamp"
    target, *others = desc.targets
    assert [t.name for t in others] == ["influxdb_kind", "mongodb_mqtt_messages", "neo4j_campus"]
    assert (target.table, target.mode) == ("mqtt_readings", "merge")
    assert target.keys == ["building", "room", "kind", "sub_id", "unit_id", "time", "unit"]


def test_sensor_readings_example_contract() -> None:
    desc = load_descriptor(example_text("sensor_readings"))
    assert desc.parser.kind == "json"
    sources = {f.name: (f.source_key, f.type.value) for f in desc.fields}
    assert sources == {
        "sensor_id": ("idcapteur", "int"),
        "room_id": ("idpiece", "int"),
        "value": ("value", "float"),
        "measured_at": ("datemesure", "timestamp"),
        "unit": ("mesurevaleur", "string"),
    }
    assert (desc.targets[0].table, desc.targets[0].mode) == ("sensor_readings", "replace_object")


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_descriptor_names_file_line_and_field(case: str, tmp_path: Path) -> None:
    text, field_path, words = BAD[case]
    path = write(tmp_path, f"{case}.yaml", text)
    with pytest.raises(DescriptorError) as info:
        load_descriptor(path)
    problems = info.value.problems
    line = expected_line(text)
    prefix = f"{path}:{line}: {field_path}: " if field_path else f"{path}:{line}: "
    matching = [str(p) for p in problems if str(p).startswith(prefix)]
    assert matching, f"no problem starts with {prefix!r}: {[str(p) for p in problems]}"
    assert any(words in m for m in matching), f"{words!r} not in {matching}"
    # str() of the error is one line per problem, each `file:line: ...`
    assert str(info.value).splitlines() == [str(p) for p in problems]
    assert all(p.file == str(path) for p in problems)


def test_there_are_at_least_twenty_distinct_bad_cases() -> None:
    assert len(BAD) >= 20
    assert len({text for text, _, _ in BAD.values()}) == len(BAD)


def test_several_problems_are_reported_at_once(tmp_path: Path) -> None:
    text = (
        "name: readings\nparser:\n  kind: csv\n  delimiter: ';;'\n"
        "fields:\n  - name: Bad-Name\n    type: integer\ntargets:\n  - store: postgres\n    tabel: x\n"
    )
    with pytest.raises(DescriptorError) as info:
        load_descriptor(write(tmp_path, "many.yaml", text))
    where = [(p.line, p.field_path) for p in info.value.problems]
    assert where == [
        (4, "parser.delimiter"),
        (6, "fields[0].name"),
        (7, "fields[0].type"),
        (9, "targets[0].table"),  # missing: the item's line
        (10, "targets[0].tabel"),
    ]


def test_converter_in_full_form_reports_the_path_as_written(tmp_path: Path) -> None:
    text = (
        HEAD
        + "fields:\n  - name: room\n    converters:\n      - {kind: split, sep: '', index: 0}\n"
        + TARGETS
    )
    with pytest.raises(DescriptorError) as info:
        load_descriptor(write(tmp_path, "full.yaml", text))
    (problem,) = info.value.problems
    assert (problem.line, problem.field_path) == (7, "fields[0].converters[0].sep")


def test_text_and_bytes_and_source_name() -> None:
    text = HEAD + FIELDS + TARGETS
    assert load_descriptor(text).name == "readings"
    assert load_descriptor(text.encode()).name == "readings"
    with pytest.raises(DescriptorError) as info:
        load_descriptor(text.replace("kind: csv", "kind: xml"), source_name="catalog:readings@v3")
    assert str(info.value).startswith("catalog:readings@v3:3: parser.kind: ")
    with pytest.raises(DescriptorError, match=r"^<string>:3: parser.kind"):
        load_descriptor(text.replace("kind: csv", "kind: xml"))


def test_a_str_is_a_path_only_when_it_names_a_yaml_file(tmp_path: Path) -> None:
    secret = write(tmp_path, "secret.txt", "password: hunter2\n")
    with pytest.raises(DescriptorError) as info:
        load_descriptor(str(secret))  # treated as YAML text, never read from disk
    assert "hunter2" not in str(info.value)
    with pytest.raises(DescriptorError, match=r"missing\.yaml: cannot read"):
        load_descriptor(str(tmp_path / "missing.yaml"))
    with pytest.raises(DescriptorError, match="a descriptor must be a YAML mapping"):
        parse_descriptor(str(write(tmp_path, "ok.yaml", HEAD + FIELDS + TARGETS)))


def test_utf8_bom_and_invalid_utf8(tmp_path: Path) -> None:
    bom = tmp_path / "bom.yaml"
    bom.write_bytes(b"\xef\xbb\xbf" + (HEAD + FIELDS + TARGETS).encode())
    assert load_descriptor(bom).name == "readings"
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes((HEAD + "owner: Lef\xe8vre\n" + FIELDS + TARGETS).encode("latin-1"))
    with pytest.raises(DescriptorError, match=r"latin1\.yaml:4: not UTF-8 text"):
        load_descriptor(latin1)


def test_oversized_file_is_refused_without_parsing(tmp_path: Path) -> None:
    big = write(tmp_path, "big.yaml", HEAD + FIELDS + TARGETS + "description: '" + "x" * 1_100_000 + "'\n")
    with pytest.raises(DescriptorError, match="not a format descriptor"):
        load_descriptor(big)


def test_alias_bomb_is_harmless() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    text = (
        "\n".join(lines)
        + "\nname: readings\nparser: {kind: csv}\nmatch: {containers: *a8}\n"
        + FIELDS
        + TARGETS
    )
    with pytest.raises(DescriptorError) as info:
        load_descriptor(text)
    assert len(info.value.problems) <= 51


def test_merge_keys_and_anchors_are_fine() -> None:
    text = (
        "name: readings\nparser: {kind: csv}\nfields:\n"
        "  - &int_field {name: sensor_id, type: int, required: true}\n"
        "  - <<: *int_field\n    name: room_id\n    required: false\n" + TARGETS
    )
    desc = load_descriptor(text)
    assert [(f.name, f.type.value, f.required) for f in desc.fields] == [
        ("sensor_id", "int", True),
        ("room_id", "int", False),
    ]


def test_load_many_one_bad_among_good(tmp_path: Path) -> None:
    good = [write(tmp_path, p.name, p.read_text()) for p in EXAMPLE_FILES]
    bad = write(tmp_path, "bad.yaml", BAD["sql_in_table_name"][0])
    unreadable = tmp_path / "gone.yaml"
    descriptors, errors = load_many([*good[:2], bad, unreadable, *good[2:]])
    assert [d.name for d in descriptors] == [p.stem for p in EXAMPLE_FILES]
    assert [e.file for e in errors] == [str(bad), str(unreadable)]
    assert errors[0].name == "readings"


def test_load_many_expands_directories_and_rejects_a_second_definition(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", HEAD + FIELDS + TARGETS)
    write(tmp_path, "b.yml", "# same name again\n" + HEAD + FIELDS + TARGETS)
    write(tmp_path, "notes.txt", "not a descriptor")
    assert [p.name for p in descriptor_files([tmp_path])] == ["a.yaml", "b.yml"]
    descriptors, errors = load_many([tmp_path])
    assert [d.name for d in descriptors] == ["readings"]
    assert (
        str(errors[0])
        == f"{tmp_path / 'b.yml'}:2: name: 'readings' is already defined in {tmp_path / 'a.yaml'}"
    )
    loaded = load_files([tmp_path])
    assert loaded[0].text == (tmp_path / "a.yaml").read_text() and loaded[1].descriptor is None


def test_problem_formatting() -> None:
    assert str(Problem("f.yaml", 3, "targets[0].table", "bad")) == "f.yaml:3: targets[0].table: bad"
    assert str(Problem("f.yaml", 1, "", "empty")) == "f.yaml:1: empty"
    assert str(Problem("f.yaml", None, "", "cannot read")) == "f.yaml: cannot read"
    err = DescriptorError([Problem("f.yaml", 1, "", "a"), Problem("f.yaml", 2, "b", "c")])
    assert isinstance(err, ValueError) and str(err) == "f.yaml:1: a\nf.yaml:2: b: c"


def test_is_identifier_rejects_a_trailing_newline() -> None:
    assert is_identifier("mqtt_readings")
    assert not is_identifier("mqtt_readings\n")
    assert not is_identifier("readings; drop table x")


def test_descriptor_model_round_trips_through_json() -> None:
    for path in EXAMPLE_FILES:
        desc = load_descriptor(path)
        assert Descriptor.model_validate(desc.model_dump(mode="json", by_alias=True)) == desc


def test_error_messages_carry_no_pydantic_urls(tmp_path: Path) -> None:
    for case, (text, _, _) in BAD.items():
        with pytest.raises(DescriptorError) as info:
            load_descriptor(text, source_name=f"{case}.yaml")
        assert not re.search(r"https?://", str(info.value)), case
