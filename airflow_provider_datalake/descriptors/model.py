"""The format descriptor: one YAML file says how to recognise, parse, type and load one data format.

This pydantic model is the contract between the stages: parsing reads `parser` and `fields`, the gold
operators read `targets`, the factory reads `name`, `match` and `targets`. Its parts live beside it, one
module each: `base` (strict models, safe names, field types), `fields` (fields and their converters),
`parsers`, `targets` (one module per gold store), `templates` (checks of the Jinja a descriptor holds).
This module holds the top-level `Descriptor` and the cross-field checks that need all of it; the parts are
re-exported here, so `descriptors.model` is the one import for the whole model.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Sequence
from typing import Any

from pydantic import (
    Field,
    ModelWrapValidatorHandler,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from airflow_provider_datalake.descriptors.base import (
    GRAPH_NAME,
    IDENTIFIER,
    LINEAGE_NAMES,
    TYPE_ALIASES,
    TYPE_NAMES,
    FieldType,
    GraphName,
    Identifier,
    Strict,
    did_you_mean,
    is_identifier,
)
from airflow_provider_datalake.descriptors.fields import (
    Converter,
    FieldSpec,
    LocaleNumber,
    Lower,
    Percent,
    RegexExtract,
    Replace,
    Split,
    Strip,
    SuffixNumber,
    TimestampFormat,
)
from airflow_provider_datalake.descriptors.parsers import (
    CsvParser,
    JsonLinesParser,
    JsonParser,
    MqttParser,
    Parser,
)
from airflow_provider_datalake.descriptors.targets import (
    TARGET_MODELS,
    GraphNode,
    GraphRelationship,
    InfluxField,
    InfluxTarget,
    MongoIndex,
    MongoTarget,
    Neo4jTarget,
    PostgresTarget,
    Target,
)
from airflow_provider_datalake.descriptors.targets.influxdb import INFLUX_RESERVED_KEYS
from airflow_provider_datalake.descriptors.templates import is_template

# gold.templates reads a template's field names under this name.
from airflow_provider_datalake.descriptors.templates import template_fields as _template_fields  # noqa: F401

__all__ = [
    "CONSISTENCY_ERROR",
    "GRAPH_NAME",
    "IDENTIFIER",
    "INFLUX_RESERVED_KEYS",
    "LINEAGE_NAMES",
    "TYPE_ALIASES",
    "Converter",
    "CsvParser",
    "Descriptor",
    "Evidence",
    "FieldEvidence",
    "FieldSpec",
    "FieldType",
    "GraphName",
    "GraphNode",
    "GraphRelationship",
    "Identifier",
    "InfluxField",
    "InfluxTarget",
    "JsonLinesParser",
    "JsonParser",
    "LocaleNumber",
    "Lower",
    "Match",
    "MongoIndex",
    "MongoTarget",
    "MqttParser",
    "Neo4jTarget",
    "Parser",
    "Percent",
    "PostgresTarget",
    "Processing",
    "Quarantine",
    "RegexExtract",
    "Replace",
    "Split",
    "Strict",
    "Strip",
    "SuffixNumber",
    "Target",
    "TimestampFormat",
    "is_identifier",
    "is_template",
]

#: pydantic error type of the cross-field checks; ctx `message`, and `first_loc` for a repeated name.
CONSISTENCY_ERROR = "descriptor_consistency"


class Match(Strict):
    """How a raw object with no explicit format is recognised (all given criteria must hold)."""

    containers: list[str] = Field(default_factory=list)
    content_types: list[str] = Field(default_factory=list)
    filenames: list[str] = Field(default_factory=list, description="globs on the original file name")
    application: str | None = None


class Quarantine(Strict):
    max_ratio: float = Field(0.1, ge=0, le=1, description="bad rows / rows above which the load fails")


class Processing(Strict):
    """How many objects a run takes, how long a claimed one may go unattended, and how often it is tried
    before it fails."""

    max_attempts: int = Field(
        3, ge=1, le=20, description="runs that may take an object whose load died before it is failed"
    )
    lease_seconds: float = Field(
        300, ge=10, le=86_400, description="a claim's lease, renewed while a load works; expired: recovered"
    )
    batch: int = Field(
        100, ge=1, le=10_000, description="objects one run claims at most; the rest wait for the next run"
    )


class FieldEvidence(Strict):
    """What the sample showed about one field of an inferred descriptor."""

    detected: str = Field("", description="what the values looked like, e.g. \"percentage (',' decimal)\"")
    confidence: float = Field(0.0, ge=0, le=1, description="share of values read, weighted by sample size")
    nulls: int = Field(0, ge=0)
    distinct: int = Field(0, ge=0)
    unique: bool = False
    examples: list[str] = Field(default_factory=list)


class Evidence(Strict):
    """How an inferred descriptor was guessed (`datalake formats infer`, the unknown-formats DAG): kept with
    the descriptor so a reviewer sees why each type was chosen. Informational: parsing ignores it."""

    engine: str = "datalake-inference/1"
    source: str | None = Field(None, description="the file or raw object the sample came from")
    inferred_at: str | None = None
    sample_bytes: int = Field(0, ge=0)
    sample_records: int = Field(0, ge=0)
    complete: bool = Field(False, description="the sample was the whole input")
    encoding: str | None = None
    shape: str | None = Field(None, description="csv, json, jsonl or neocampus_mqtt")
    confidence: float | None = Field(
        None,
        ge=0,
        le=1,
        description="the share of the sample read as regular records times the fields' mean type confidence",
    )
    time_field: str | None = None
    candidate_keys: list[list[str]] = Field(default_factory=list, description="unique in the sample")
    fields: dict[str, FieldEvidence] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)


class Descriptor(Strict):
    name: Identifier
    version: int = Field(1, ge=1)
    description: str = ""
    owner: str | None = None
    match: Match = Field(default_factory=Match)
    parser: Parser
    fields: list[FieldSpec] = Field(min_length=1)
    targets: list[Target] = Field(min_length=1)
    quarantine: Quarantine = Field(default_factory=Quarantine)
    processing: Processing = Field(default_factory=Processing)
    evidence: Evidence | None = Field(None, description="set by inference: how the descriptor was guessed")

    @model_validator(mode="wrap")
    @classmethod
    def _consistent(cls, data: Any, handler: ModelWrapValidatorHandler[Descriptor]) -> Descriptor:
        """Cross-field checks, located on the offending item, and run even when other keys are invalid
        (on the parts that are valid): one run reports every mistake, not one stage of them."""
        try:
            desc = handler(data)
        except ValidationError as exc:
            extra = _consistency_errors(*_valid_parts(data))
            if not extra:
                raise
            errors: list[Any] = exc.errors()
            raise ValidationError.from_exception_data(cls.__name__, [*errors, *extra]) from None
        fields = [f.name for f in desc.fields]
        types = {f.name: f.type for f in desc.fields}
        extra = _consistency_errors(fields, types, [(i, t, frozenset()) for i, t in enumerate(desc.targets)])
        if extra:
            raise ValidationError.from_exception_data(cls.__name__, extra)
        return desc

    def field(self, name: str) -> FieldSpec:
        return next(f for f in self.fields if f.name == name)


#: (index in `targets`, the validated target, its invalid keys: left out, or a placeholder if required)
_Part = tuple[int, Any, frozenset[str]]


@functools.cache
def _target_adapter() -> TypeAdapter[Any]:
    return TypeAdapter(Target)


def _valid_parts(data: Any) -> tuple[list[str | None], dict[str, FieldType], list[_Part]]:
    """What the cross-field checks can still use in an invalid descriptor: every field's name and type as
    written, and each target that validates (else the same without its invalid keys)."""
    if not isinstance(data, dict):
        return [], {}, []
    names: list[str | None] = []
    types: dict[str, FieldType] = {}
    raw_fields = data.get("fields")
    for raw in raw_fields if isinstance(raw_fields, list) else []:
        name = raw.get("name") if isinstance(raw, dict) else raw  # `- room`: meant as `- name: room`
        names.append(name if isinstance(name, str) else None)
        kind = raw.get("type", FieldType.STRING) if isinstance(raw, dict) else None
        if isinstance(name, str) and isinstance(kind, str) and kind in TYPE_NAMES:
            types.setdefault(name, FieldType(kind))
    parts: list[_Part] = []
    raw_targets = data.get("targets")
    for index, raw in enumerate(raw_targets if isinstance(raw_targets, list) else []):
        try:
            parts.append((index, _target_adapter().validate_python(raw), frozenset()))
            continue
        except ValidationError as exc:
            bad = frozenset(str(e["loc"][1]) for e in exc.errors() if len(e["loc"]) > 1)
        store = raw.get("store") if isinstance(raw, dict) else None
        model = TARGET_MODELS.get(store) if isinstance(store, str) else None
        if model is None or not bad:
            continue
        rest = {k: v for k, v in raw.items() if k not in bad}
        for name, field in model.model_fields.items():  # `table: Bad-Name`: the other keys still count
            if (field.alias or name) in bad and field.is_required() and field.annotation is str:
                rest[field.alias or name] = "placeholder"
        # Still invalid when a required list is (`fields`, `nodes`): nothing to check in this target.
        with contextlib.suppress(ValidationError):
            parts.append((index, _target_adapter().validate_python(rest), bad))
    return names, types, parts


def _consistency_errors(
    names: Sequence[str | None], types: dict[str, FieldType], targets: Sequence[_Part]
) -> list[InitErrorDetails]:
    """Field names unique and not reserved; targets read existing fields of fitting types; no two targets
    load the same table."""
    errors: list[InitErrorDetails] = []

    def error(loc: tuple[Any, ...], value: Any, message: str, **ctx: Any) -> None:
        error_type = PydanticCustomError(CONSISTENCY_ERROR, "{message}", {"message": message, **ctx})
        errors.append({"type": error_type, "loc": loc, "input": value})

    first: dict[str, int] = {}
    for index, name in enumerate(names):
        if name is None:
            continue
        if name in first:
            at = ("fields", first[name], "name")
            error(("fields", index, "name"), name, f"field name {name!r} is repeated", first_loc=at)
        else:
            first[name] = index
        if name in LINEAGE_NAMES:
            error(
                ("fields", index, "name"),
                name,
                f"field name {name!r} is reserved: every gold store adds {', '.join(LINEAGE_NAMES)} itself",
            )
    # A field whose name cannot be read might be the one a target means: then say nothing of references.
    known = [n for n in names if n is not None] if names and None not in names else None
    loaded: dict[str, int] = {}
    for index, target, bad in targets:
        tag = target.store
        if known is not None:
            for ref_path, key in target.field_refs():
                if key not in known and ref_path[0] not in bad:
                    hint = did_you_mean(key, known)
                    error(
                        ("targets", index, tag, *ref_path),
                        key,
                        f"{key!r} is not a field of this descriptor{hint}",
                    )
        for ref_path, value, message in target.type_problems(types, bad):
            error(("targets", index, tag, *ref_path), value, message)
        if bad:  # its name may come from a default or placeholder that replaced an invalid key
            continue
        if target.name in loaded:
            error(
                ("targets", index),
                target.name,
                f"loads the same {target.name} as targets[{loaded[target.name]}]",
            )
        else:
            loaded[target.name] = index
    return errors
