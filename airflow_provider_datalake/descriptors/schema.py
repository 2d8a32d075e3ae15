"""The published JSON Schema of format descriptors, generated from the pydantic model (never hand-written).

Editors (``# yaml-language-server: $schema=...``) and CI linters use it, so it must accept exactly what the
loader accepts. Two things pydantic's own output misses are patched in here:

* union members do not list their discriminator (``kind`` / ``store``) as required, yet the model rejects
  a parser, converter or target without it;
* converters may be written in the short forms the model expands before validation: ``- lower`` and
  ``- split: {sep: "/", index: 0}``.

The shipped copy, ``descriptor.schema.json``, is regenerated with
``python -m airflow_provider_datalake.descriptors.schema``; a test fails when it is stale.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

from airflow_provider_datalake.descriptors.model import Descriptor

SCHEMA_ID = "urn:airflow-provider-datalake:format-descriptor:1"
SCHEMA_PATH = Path(__file__).with_name("descriptor.schema.json")
_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _require_discriminators(schema: dict[str, Any]) -> None:
    defs = schema["$defs"]

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            disc = node.get("discriminator")
            if isinstance(disc, dict):
                for ref in disc.get("mapping", {}).values():
                    member = defs[ref.rsplit("/", 1)[-1]]
                    required = member.setdefault("required", [])
                    if disc["propertyName"] not in required:
                        required.insert(0, disc["propertyName"])
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(schema)


def _allow_converter_shorthand(schema: dict[str, Any]) -> None:
    defs = schema["$defs"]
    converters = defs["FieldSpec"]["properties"]["converters"]
    full = converters["items"]
    bare: list[str] = []  # kinds that need no parameter: `- lower`
    short: dict[str, Any] = {}  # `- split: {sep: "/", index: 0}`
    for kind, ref in sorted(full["discriminator"]["mapping"].items()):
        name = ref.rsplit("/", 1)[-1]
        params = copy.deepcopy(defs[name])
        params["properties"].pop("kind", None)
        params["required"] = [r for r in params.get("required", []) if r != "kind"]
        if not params["required"]:
            del params["required"]
            bare.append(kind)
        params["title"] = f"{defs[name].get('title', name)} parameters"
        defs[f"{name}Params"] = params
        params_ref = {"$ref": f"#/$defs/{name}Params"}
        short[kind] = params_ref if kind not in bare else {"anyOf": [params_ref, {"type": "null"}]}
    converters["items"] = {
        "anyOf": [
            full,
            {"enum": bare, "description": "a converter without parameters, by name"},
            {
                "type": "object",
                "description": "one key, the converter's kind, mapping to its parameters",
                "properties": short,
                "additionalProperties": False,
                "minProperties": 1,
                "maxProperties": 1,
            },
        ]
    }


def descriptor_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a format descriptor, as published."""
    schema = Descriptor.model_json_schema()
    _require_discriminators(schema)
    _allow_converter_shorthand(schema)
    return {
        "$schema": _DIALECT,
        "$id": SCHEMA_ID,
        "title": "airflow-provider-datalake format descriptor",
        "description": (
            "How to recognise, parse, type and load one raw data format; one YAML file per format. "
            "Generated from airflow_provider_datalake.descriptors.model.Descriptor."
        ),
        **{k: v for k, v in schema.items() if k != "title"},
    }


def schema_text() -> str:
    """The schema as the shipped file spells it (stable key order, 2-space indent, final newline)."""
    return json.dumps(descriptor_json_schema(), indent=2, ensure_ascii=False) + "\n"


def shipped_schema_text() -> str:
    """The schema file installed with the package (what editors and the CLI hand out)."""
    from importlib.resources import files

    return files("airflow_provider_datalake.descriptors").joinpath(SCHEMA_PATH.name).read_text("utf-8")


def write_schema(path: str | Path = SCHEMA_PATH) -> Path:
    path = Path(path)
    path.write_text(schema_text(), encoding="utf-8")
    return path


if __name__ == "__main__":
    sys.stdout.write(f"{write_schema(*sys.argv[1:2])}\n")
