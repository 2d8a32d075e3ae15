"""The InfluxDB target: rows -> points, with measurement (a name or a template), tags, fields and time
taken from the row."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from airflow_provider_datalake.asset_uris import CONNECTION_DEFAULT, GoldAsset, gold_uri
from airflow_provider_datalake.descriptors.base import (
    IDENTIFIER,
    FieldType,
    Identifier,
    Strict,
    is_identifier,
    repeated,
)
from airflow_provider_datalake.descriptors.targets.common import FieldRef, GoldTarget, TargetProblem
from airflow_provider_datalake.descriptors.templates import check_template, is_template, template_fields

#: Keys the InfluxDB loader refuses as tags or field keys (its lineage fields, and `time`).
INFLUX_RESERVED_KEYS = ("raw_object_id", "source_row", "time")


def _slug(value: str) -> str:
    """A template as a task-id-safe name part: '{{ kind }}_v2' -> 'kind_v2'."""
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9_]", "_", value.lower())).strip("_")[:56] or "measurement"


class InfluxField(Strict):
    """One InfluxDB field of a point: the value of descriptor field `field`, under key `key`."""

    field: Identifier
    key: str | None = Field(
        None,
        min_length=1,
        max_length=255,
        description="field key, or a sandboxed Jinja2 template over the row's fields (e.g. '{{ unit }}' "
        "for one field per unit of an energy meter); default: the field's name",
    )

    @field_validator("key")
    @classmethod
    def _key_template(cls, value: str | None) -> str | None:
        if value is not None:
            check_template(value)
            _check_influx_key(value, "field key")
        return value

    @model_validator(mode="after")
    def _default_key(self) -> InfluxField:
        if self.key is None:  # the key is the field's name
            _check_influx_key(self.field, f"field {self.field!r} has no `key`, so its key")
        return self


def _check_influx_key(key: str, what: str) -> None:
    """The InfluxDB loader refuses these keys (whatever the row), so say it now."""
    if is_template(key):
        return
    if key.startswith("_"):
        raise ValueError(f"{what} {key!r}: keys starting with _ are reserved for lineage and InfluxDB itself")
    if key in INFLUX_RESERVED_KEYS:
        raise ValueError(
            f"{what} {key!r}: {', '.join(INFLUX_RESERVED_KEYS)} are reserved keys (lineage fields, time)"
        )


def _or_name_items(schema: dict[str, Any]) -> None:
    """JSON Schema of a list whose items may also be a bare field name (the `- value` shorthand)."""
    schema["items"] = {"anyOf": [schema["items"], {"type": "string", "pattern": IDENTIFIER}]}


class InfluxTarget(GoldTarget):
    """Rows -> InfluxDB points: measurement (a name or a template), tags, fields and time from the row.

    A point with the same measurement, tags and time overwrites the earlier one: re-running an object
    rewrites the same series instead of adding points.
    """

    store: Literal["influxdb"] = "influxdb"
    conn_id: str = "influxdb_default"
    bucket: str | None = Field(
        None,
        min_length=1,
        description="InfluxDB bucket (1.8: 'database' or 'database/retention'); default: the connection's "
        "extra `bucket`, else 'datalake'",
    )
    measurement: str = Field(
        min_length=1,
        max_length=255,
        description="measurement name, or a sandboxed Jinja2 template over the row's fields (e.g. "
        "'{{ kind }}': one measurement per sensor kind); rendered names must be safe identifiers",
    )
    tags: list[Identifier] = Field(default_factory=list, description="fields written as tags (indexed)")
    fields: list[InfluxField] = Field(
        min_length=1,
        description="InfluxDB fields: a field's name, or {field, key}",
        # the shorthand `- value` too (expanded by _shorthand before validation)
        json_schema_extra=lambda schema: _or_name_items(schema),
    )
    time: Identifier = Field(description="the timestamp field giving the point's time")
    precision: Literal["s", "ms", "us", "ns"] = "ms"
    batch_size: int = Field(5_000, ge=1, le=100_000, description="points per write request")

    @field_validator("fields", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        """`- value` is `{field: value}`."""
        return (
            [{"field": v} if isinstance(v, str) else v for v in value] if isinstance(value, list) else value
        )

    @field_validator("measurement")
    @classmethod
    def _measurement(cls, value: str) -> str:
        check_template(value)
        if not is_template(value) and not is_identifier(value):
            raise ValueError(
                f"measurement {value!r} is not a safe identifier (lower-case letters, digits and _), "
                "nor a template such as '{{ kind }}'"
            )
        return value

    @field_validator("tags")
    @classmethod
    def _tags_unique(cls, value: list[str]) -> list[str]:
        duplicates = repeated(value)
        if duplicates:
            raise ValueError(f"tags must be unique; repeated: {', '.join(duplicates)}")
        reserved = [t for t in value if t in INFLUX_RESERVED_KEYS]
        if reserved:
            raise ValueError(
                f"tags {', '.join(reserved)}: {', '.join(INFLUX_RESERVED_KEYS)} are reserved keys "
                "(lineage fields, time)"
            )
        return value

    @field_validator("fields")
    @classmethod
    def _disjoint(cls, value: list[InfluxField], info: ValidationInfo) -> list[InfluxField]:
        # A field validator, not a model one: it runs even when another key of the target is wrong.
        tags = info.data.get("tags") or []
        keys = [f.key or f.field for f in value if f.key is None or not is_template(f.key)]
        clash = sorted(set(tags) & set(keys))
        if clash:
            raise ValueError(f"{', '.join(clash)} cannot be both a tag and a field key")
        return value

    @property
    def name(self) -> str:
        m = self.measurement
        return f"influxdb_{_slug(m) if is_template(m) else m}"

    def field_refs(self) -> list[FieldRef]:
        refs: list[FieldRef] = [(("measurement",), n) for n in template_fields(self.measurement)]
        refs += [(("tags", i), t) for i, t in enumerate(self.tags)]
        for i, f in enumerate(self.fields):
            refs.append((("fields", i, "field"), f.field))
            refs += [(("fields", i, "key"), n) for n in template_fields(f.key or "")]
        refs.append((("time",), self.time))
        return refs

    def assets(self) -> list[GoldAsset]:
        """The measurement; for a templated one, the bucket as a whole (its measurements are named by the
        rows, unknown while the DAG is parsed)."""
        bucket = self.bucket or CONNECTION_DEFAULT
        if is_template(self.measurement):
            uri, shown, kind = gold_uri(self.store, self.conn_id, bucket), f"{bucket}/*", "bucket"
        else:
            uri = gold_uri(self.store, self.conn_id, bucket, self.measurement)
            shown, kind = f"{bucket}/{self.measurement}", "measurement"
        return [
            GoldAsset(
                target=self.name,
                uri=uri,
                name=f"influxdb:{shown}@{self.conn_id}",
                store=self.store,
                kind=kind,
            )
        ]

    def type_problems(self, types: dict[str, FieldType], invalid: frozenset[str]) -> list[TargetProblem]:
        problems: list[TargetProblem] = []
        time_type = types.get(self.time) if "time" not in invalid else None
        if time_type is not None and time_type not in (FieldType.TIMESTAMP, FieldType.INT):
            problems.append(
                (
                    ("time",),
                    self.time,
                    f"time field {self.time!r} is a {time_type.value}: it must be a timestamp (or an "
                    "int, already an epoch in the target's precision)",
                )
            )
        for j, name in enumerate(self.tags):
            if types.get(name) is FieldType.JSON:
                problems.append((("tags", j), name, f"tag {name!r} is a json field; tags hold scalars"))
        return problems
