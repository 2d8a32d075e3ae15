"""The published JSON Schema: generated from the model, shipped with the package, never stale, and it
accepts and rejects what the loader accepts and rejects."""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from airflow_provider_datalake.descriptors.schema import (
    SCHEMA_ID,
    SCHEMA_PATH,
    descriptor_json_schema,
    schema_text,
    shipped_schema_text,
)
from tests.conftest import REPO
from tests.descriptors.conftest import EXAMPLE_FILES, example_text


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_shipped_schema_is_not_stale() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "descriptor.schema.json is stale: run `python -m airflow_provider_datalake.descriptors.schema`"
    )


def test_schema_is_package_data() -> None:
    assert shipped_schema_text() == schema_text()
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "descriptors/*.json" in data["tool"]["setuptools"]["package-data"]["airflow_provider_datalake"]


def test_schema_identity() -> None:
    schema = descriptor_json_schema()
    assert schema["$id"] == SCHEMA_ID
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] and schema["required"] == ["name", "parser", "fields", "targets"]


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_examples_satisfy_the_schema(path: Path, validator: jsonschema.Draft202012Validator) -> None:
    errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
    assert errors == []


def _mqtt() -> dict[str, Any]:
    return yaml.safe_load(example_text("neocampus_mqtt"))


def _with(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(_mqtt())
    change(data)
    return data


REJECTED = {
    "unknown top-level key": lambda d: d.update(nmae="x"),
    "unknown parser kind": lambda d: d["parser"].update(kind="xml"),
    "parser without kind": lambda d: d["parser"].pop("kind"),
    "target without store": lambda d: d["targets"][0].pop("store"),
    "unsafe table name": lambda d: d["targets"][0].update(table="readings; drop table x"),
    "unsafe field name": lambda d: d["fields"][0].update(name='room"'),
    "negative skip_rows": lambda d: d.update(parser={"kind": "csv", "skip_rows": -1}),
    "two-char delimiter": lambda d: d.update(parser={"kind": "csv", "delimiter": ";;"}),
    "version 0": lambda d: d.update(version=0),
    "empty fields": lambda d: d.update(fields=[]),
    "unknown converter": lambda d: d["fields"][0].update(converters=["lowr"]),
    "bare converter that needs parameters": lambda d: d["fields"][0].update(converters=["split"]),
    "wrong type name": lambda d: d["fields"][5].update(type="integer"),
}


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_schema_rejects_what_the_model_rejects(case: str, validator: jsonschema.Draft202012Validator) -> None:
    from pydantic import ValidationError

    from airflow_provider_datalake.descriptors.model import Descriptor

    data = _with(REJECTED[case])
    assert list(validator.iter_errors(data)), f"schema accepted: {case}"
    with pytest.raises(ValidationError):
        Descriptor.model_validate(data)


def test_schema_accepts_every_converter_spelling(validator: jsonschema.Draft202012Validator) -> None:
    from airflow_provider_datalake.descriptors.model import Descriptor

    spellings = [
        "lower",
        {"lower": None},
        {"kind": "strip"},
        {"split": {"sep": "/", "index": 1}},
        {"kind": "split", "sep": "/", "index": 1},
        {"percent": {"decimal": ",", "fraction": True}},
        {"regex": {"pattern": r"(\d+)", "group": 1}},
    ]
    data = _with(lambda d: d["fields"][0].update(converters=spellings))
    assert [e.message for e in validator.iter_errors(data)] == []
    assert len(Descriptor.model_validate(data).fields[0].converters) == len(spellings)
