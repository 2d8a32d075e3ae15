"""The format descriptor: one YAML file says how to recognise, parse, type and load one data format.

This pydantic model is the contract between the stages: parsing reads `parser` and `fields`, the gold
operators read `targets`, the factory reads `name`, `match` and `targets`. Every name that ends up as a
database identifier is checked here against a strict pattern, so no SQL or Cypher can ride in on a name;
the drivers still quote them (psycopg `sql.Identifier`, parameterised Cypher).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

IDENTIFIER = r"^[a-z_][a-z0-9_]{0,62}$"
_IDENT_RE = re.compile(IDENTIFIER)

Identifier = Annotated[
    str,
    Field(
        pattern=IDENTIFIER,
        description="lower-case letters, digits and _, starting with a letter or _; 63 max",
    ),
]


class Strict(BaseModel):
    """Unknown keys are errors: a typo in a descriptor must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldType(StrEnum):
    STRING = "string"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    TIMESTAMP = "timestamp"
    DATE = "date"
    JSON = "json"


def _check_separators(decimal: str | None, thousands: str | None) -> str | None:
    if thousands is not None and thousands == decimal:
        raise ValueError(f"thousands separator {thousands!r} is also the decimal separator")
    return thousands


# --------------------------------------------------------------------------- converters
# In YAML a converter is a one-key mapping, e.g. `- split: {sep: "/", index: 0}` or `- percent: {}`.


class LocaleNumber(Strict):
    """'4 090,8' (fr) or '4,090.8' (en) -> 4090.8."""

    kind: Literal["locale_number"] = "locale_number"
    decimal: str = Field(".", min_length=1, max_length=1)
    thousands: str | None = Field(None, max_length=1)

    @field_validator("thousands")
    @classmethod
    def _distinct_separators(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _check_separators(info.data.get("decimal"), value)


class SuffixNumber(Strict):
    """'14.13K' -> 14130, '2.49M' -> 2490000, '1.2B' -> 1.2e9 (K, M, B/G, T; case-insensitive)."""

    kind: Literal["suffix_number"] = "suffix_number"
    decimal: str = Field(".", min_length=1, max_length=1)


class Percent(Strict):
    """'2.19%' -> 2.19, or 0.0219 with `fraction: true`."""

    kind: Literal["percent"] = "percent"
    fraction: bool = False
    decimal: str = Field(".", min_length=1, max_length=1)


class TimestampFormat(Strict):
    """Parse with strptime `format` (e.g. '%b %d, %Y' for 'Mar 16, 2019'); naive values get `timezone`."""

    kind: Literal["timestamp_format"] = "timestamp_format"
    format: str
    timezone: str = "UTC"

    @field_validator("format")
    @classmethod
    def _has_directive(cls, value: str) -> str:
        if "%" not in value:
            raise ValueError("a strptime format needs at least one % directive, e.g. '%b %d, %Y'")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as 'Europe/Paris')") from None
        return value


class RegexExtract(Strict):
    """Keep one group of the first match of `pattern` (no match -> the row is quarantined)."""

    kind: Literal["regex"] = "regex"
    pattern: str
    group: int | str = 1

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from exc
        return value

    @field_validator("group")
    @classmethod
    def _group_exists(cls, value: int | str, info: ValidationInfo) -> int | str:
        pattern = info.data.get("pattern")
        if pattern is None:  # the pattern itself is invalid: already reported
            return value
        compiled = re.compile(pattern)
        if isinstance(value, int) and not 0 <= value <= compiled.groups:
            raise ValueError(f"group {value} does not exist: the pattern has {compiled.groups} group(s)")
        if isinstance(value, str) and value not in compiled.groupindex:
            raise ValueError(f"the pattern has no named group {value!r}")
        return value


class Split(Strict):
    """'u4/302/humidity' with sep '/' and index 1 -> '302' (a topic path's parts)."""

    kind: Literal["split"] = "split"
    sep: str = Field(min_length=1)
    index: int


class Strip(Strict):
    kind: Literal["strip"] = "strip"
    chars: str | None = None


class Lower(Strict):
    kind: Literal["lower"] = "lower"


class Replace(Strict):
    kind: Literal["replace"] = "replace"
    old: str
    new: str = ""


Converter = Annotated[
    LocaleNumber | SuffixNumber | Percent | TimestampFormat | RegexExtract | Split | Strip | Lower | Replace,
    Field(discriminator="kind"),
]


def _converter_shorthand(value: Any) -> Any:
    """`{split: {sep: "/", index: 0}}` -> `{kind: split, sep: "/", index: 0}`; `lower` -> `{kind: lower}`."""
    if isinstance(value, str):
        return {"kind": value}
    if isinstance(value, dict) and "kind" not in value and len(value) == 1:
        ((kind, params),) = value.items()
        if params is not None and not isinstance(params, dict):
            # A TypeError here would escape pydantic; a ValueError becomes a located validation error.
            raise ValueError(f"converter {kind!r} takes a mapping of parameters, got {params!r}")
        return {"kind": kind, **(params or {})}
    return value


# --------------------------------------------------------------------------- parsers


class CsvParser(Strict):
    kind: Literal["csv"] = "csv"
    delimiter: str = Field(",", min_length=1, max_length=1)
    quotechar: str = Field('"', min_length=1, max_length=1)
    encoding: str = "utf-8"
    header: bool = True
    skip_rows: int = Field(0, ge=0, description="lines to skip before the header (a preamble)")
    decimal: str = Field(
        ".", min_length=1, max_length=1, description="default decimal separator for int/float fields"
    )
    thousands: str | None = Field(None, max_length=1)
    null_values: list[str] = Field(default_factory=lambda: ["", "NA", "N/A", "null", "NULL", "-"])

    @field_validator("quotechar")
    @classmethod
    def _quote_is_not_delimiter(cls, value: str, info: ValidationInfo) -> str:
        if value == info.data.get("delimiter"):
            raise ValueError("quotechar and delimiter must differ")
        return value

    @field_validator("thousands")
    @classmethod
    def _distinct_separators(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _check_separators(info.data.get("decimal"), value)


class JsonParser(Strict):
    """A JSON document; `records_path` ('data.items') leads to the array of records (default: the root)."""

    kind: Literal["json"] = "json"
    encoding: str = "utf-8"
    records_path: str | None = None


class JsonLinesParser(Strict):
    kind: Literal["jsonl"] = "jsonl"
    encoding: str = "utf-8"


class MqttParser(Strict):
    """neOCampus broker dump: a JSON array (or JSON lines) of messages; an array `value` is zipped with the
    `value_units` array into one row per unit, each row carrying `value`, `unit` and `unit_index`; scalar
    values give one row with `unit` = `value_units`."""

    kind: Literal["neocampus_mqtt"] = "neocampus_mqtt"
    encoding: str = "utf-8"
    records_path: str | None = None
    lines: bool = False


Parser = Annotated[CsvParser | JsonParser | JsonLinesParser | MqttParser, Field(discriminator="kind")]


# --------------------------------------------------------------------------- fields


class FieldSpec(Strict):
    name: Identifier
    type: FieldType = FieldType.STRING
    source: str | None = Field(
        None, description="column name (CSV) or dotted path (JSON); default: the field's name"
    )
    required: bool = False
    default: Any = None
    converters: list[Converter] = Field(default_factory=list)
    expression: str | None = Field(
        None,
        description="sandboxed Jinja2 expression over `row` (the raw record) and `fields` (converted so far)",
    )
    description: str | None = None

    @field_validator("converters", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return [_converter_shorthand(v) for v in value] if isinstance(value, list) else value

    @field_validator("expression")
    @classmethod
    def _expression_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            from jinja2 import TemplateSyntaxError
            from jinja2.sandbox import ImmutableSandboxedEnvironment

            try:
                # Parse only: compiling would fold constants, and `9 ** 99999999` would hang validation.
                ImmutableSandboxedEnvironment().parse("{{ (" + value + ") }}")
            except TemplateSyntaxError as exc:
                raise ValueError(f"invalid Jinja2 expression: {exc.message}") from exc
        return value

    @property
    def source_key(self) -> str:
        return self.source or self.name


# --------------------------------------------------------------------------- targets


class PostgresTarget(Strict):
    store: Literal["postgres"] = "postgres"
    conn_id: str = "postgres_default"
    schema_: Identifier = Field("public", alias="schema")
    table: Identifier
    keys: list[Identifier] = Field(default_factory=list, description="merge key (mode merge)")
    mode: Literal["append", "merge", "replace_object"] = "replace_object"

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("keys")
    @classmethod
    def _keys_unique(cls, value: list[str]) -> list[str]:
        repeated = sorted({k for k in value if value.count(k) > 1})
        if repeated:
            raise ValueError(f"merge keys must be unique; repeated: {', '.join(repeated)}")
        return value

    @field_validator("mode")
    @classmethod
    def _merge_mode_needs_keys(cls, value: str, info: ValidationInfo) -> str:
        # Same rule as _merge_needs_keys below, but reported on the `mode` line of the YAML.
        if value == "merge" and "keys" in info.data and not info.data["keys"]:
            raise ValueError("mode merge needs `keys` (the columns that identify a row)")
        return value

    @model_validator(mode="after")
    def _merge_needs_keys(self) -> PostgresTarget:
        if self.mode == "merge" and not self.keys:
            raise ValueError("mode merge needs `keys` (the columns that identify a row)")
        return self

    @property
    def name(self) -> str:
        return f"postgres_{self.table}"


Target = Annotated[PostgresTarget, Field(discriminator="store")]


class Match(Strict):
    """How a raw object with no explicit format is recognised (all given criteria must hold)."""

    containers: list[str] = Field(default_factory=list)
    content_types: list[str] = Field(default_factory=list)
    filenames: list[str] = Field(default_factory=list, description="globs on the original file name")
    application: str | None = None


class Quarantine(Strict):
    max_ratio: float = Field(0.1, ge=0, le=1, description="bad rows / rows above which the load fails")


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

    @model_validator(mode="after")
    def _consistent(self) -> Descriptor:
        names = [f.name for f in self.fields]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"field names must be unique; repeated: {', '.join(dupes)}")
        for target in self.targets:
            unknown = [k for k in getattr(target, "keys", []) if k not in names]
            if unknown:
                raise ValueError(f"target {target.name}: keys {unknown} are not fields of this descriptor")
        target_names = [t.name for t in self.targets]
        if len(set(target_names)) != len(target_names):
            raise ValueError("two targets load the same table/measurement/collection")
        return self

    def field(self, name: str) -> FieldSpec:
        return next(f for f in self.fields if f.name == name)


def is_identifier(value: str) -> bool:
    # fullmatch: with `match`, `$` also matches before a trailing newline, so "abc\n" would pass.
    return isinstance(value, str) and bool(_IDENT_RE.fullmatch(value))
