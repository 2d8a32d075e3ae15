"""The format descriptor: one YAML file says how to recognise, parse, type and load one data format.

This pydantic model is the contract between the stages: parsing reads `parser` and `fields`, the gold
operators read `targets`, the factory reads `name`, `match` and `targets`. Every name that ends up as a
database identifier is checked here against a strict pattern, so no SQL or Cypher can ride in on a name;
the drivers still quote them (psycopg `sql.Identifier`, parameterised Cypher).
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

if TYPE_CHECKING:
    from jinja2 import Environment, nodes

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


#: Type names people write from other systems -> the descriptor type they mean (for "did you mean").
TYPE_ALIASES: dict[str, FieldType] = {
    **dict.fromkeys(("datetime", "time", "ts", "timestamptz", "instant"), FieldType.TIMESTAMP),
    **dict.fromkeys(("integer", "long", "bigint", "int64", "smallint"), FieldType.INT),
    **dict.fromkeys(("double", "number", "decimal", "numeric", "real", "float64"), FieldType.FLOAT),
    **dict.fromkeys(("str", "text", "varchar", "char"), FieldType.STRING),
    **dict.fromkeys(("boolean",), FieldType.BOOL),
    **dict.fromkeys(("object", "dict", "array", "list", "map", "jsonb"), FieldType.JSON),
}

_TYPE_NAMES = frozenset(t.value for t in FieldType)

#: Field names every gold loader refuses: the lineage columns/properties it adds to each row.
LINEAGE_NAMES = ("_raw_object_id", "_source_row", "_loaded_at")
#: Keys the InfluxDB loader refuses as tags or field keys (its lineage fields, and `time`).
INFLUX_RESERVED_KEYS = ("raw_object_id", "source_row", "time")
#: pydantic error type of the cross-field checks; ctx `message`, and `first_loc` for a repeated name.
CONSISTENCY_ERROR = "descriptor_consistency"


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
    null_values: list[str] = Field(default_factory=list, description="string values read as null ('n/a')")


class JsonLinesParser(Strict):
    kind: Literal["jsonl"] = "jsonl"
    encoding: str = "utf-8"
    null_values: list[str] = Field(default_factory=list, description="string values read as null ('n/a')")


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
            bare = value.strip()
            if bare.startswith("{{") and bare.endswith("}}"):
                # The parser's error for this ("expected token ':', got '}'") helps nobody.
                raise ValueError(f"write the bare expression, without {{{{ }}}}: {bare[2:-2].strip()!r}")
            problem = _sandbox_problem(value, expression=True)
            if problem:
                raise ValueError(problem)
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
        return _unique_keys(value)

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

    def field_refs(self) -> list[tuple[tuple[Any, ...], str]]:
        """(path inside the target, field name) of every descriptor field this target reads."""
        return [(("keys", i), k) for i, k in enumerate(self.keys)]


def _repeated(names: list[str]) -> list[str]:
    """The names listed more than once, sorted (for one error naming them all)."""
    return sorted({n for n in names if names.count(n) > 1})


def _unique_keys(value: list[str]) -> list[str]:
    repeated = _repeated(value)
    if repeated:
        raise ValueError(f"merge keys must be unique; repeated: {', '.join(repeated)}")
    return value


#: Neo4j labels, relationship types and property names: like Identifier, but case matters there
#: (`Building`, `HAS_ROOM`); still no character that would need quoting, and backticked anyway.
GRAPH_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"
GraphName = Annotated[
    str,
    Field(pattern=GRAPH_NAME, description="letters, digits and _, starting with a letter or _; 63 max"),
]
_TEMPLATE_MARK = re.compile(r"{[{%#]")


def _template_fields(value: str) -> list[str]:
    """Check a sandboxed Jinja2 template's syntax; return the names it reads (fields of the row)."""
    return list(_template_names(value))


@functools.lru_cache(maxsize=4096)
def _template_names(value: str) -> tuple[str, ...]:
    # Cached: validation, field_refs() and every DAG parse ask again for the same few templates.
    from jinja2 import TemplateSyntaxError, meta

    try:
        # Parse only (never compile here): see _checking_sandbox. The name finder checks filters: an
        # unknown one raises TemplateAssertionError, a TemplateSyntaxError.
        return tuple(sorted(meta.find_undeclared_variables(_checking_sandbox().parse(value))))
    except TemplateSyntaxError as exc:
        raise ValueError(f"invalid Jinja2 template: {exc.message}") from exc


@functools.cache
def _checking_sandbox() -> Environment:
    """The parser's tightened sandbox (same filters and tests), without the optimizer: compiling then
    folds no constant, so `'x' | center(10 ** 9)` cannot hang or bloat validation."""
    from airflow_provider_datalake.parsing.expressions import _Sandbox

    return _Sandbox(optimized=False)


_SPECIAL_NAME = re.compile(r"__\w*__")


def _special_names(ast: nodes.Node) -> list[str]:
    """`x.__class__`, `x['__class__']`, `x | attr('__class__')`: refused by the sandbox on any value.

    Only dunders: `row._id` is legitimate (a dict row falls back to its `_id` key)."""
    from jinja2 import nodes

    found: list[str] = []
    for node in ast.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        if isinstance(node, nodes.Getattr):
            name: Any = node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value
        elif isinstance(node, nodes.Filter) and node.name == "attr" and node.args:
            name = node.args[0].value if isinstance(node.args[0], nodes.Const) else None
        else:
            continue
        if isinstance(name, str) and _SPECIAL_NAME.fullmatch(name) and name not in found:
            found.append(name)
    return sorted(found)


@functools.lru_cache(maxsize=4096)
def _sandbox_problem(source: str, *, expression: bool) -> str | None:
    """Why the parser's sandbox would refuse this expression (or template) as soon as it is used: a syntax
    error, an unknown filter or test, a special attribute. None when it compiles."""
    from jinja2 import TemplateSyntaxError

    env = _checking_sandbox()
    what = "expression" if expression else "template"
    try:
        if expression:
            env.compile_expression(source)
            ast = env.parse("{{ (" + source + ") }}")
        else:
            ast = env.parse(source)
            env.from_string(ast)
    except TemplateSyntaxError as exc:  # TemplateAssertionError too: "No filter named 'lowr'."
        return f"invalid Jinja2 {what}: {exc.message}"
    special = _special_names(ast)
    if special:
        return f"invalid Jinja2 {what}: the sandbox refuses special attributes ({', '.join(special)})"
    return None


def _check_template(value: str) -> None:
    _template_fields(value)
    problem = _sandbox_problem(value, expression=False)
    if problem:
        raise ValueError(problem)


def is_template(value: str) -> bool:
    return bool(_TEMPLATE_MARK.search(value))


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
            _check_template(value)
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


class InfluxTarget(Strict):
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
        _check_template(value)
        if not is_template(value) and not is_identifier(value):
            raise ValueError(
                f"measurement {value!r} is not a safe identifier (lower-case letters, digits and _), "
                "nor a template such as '{{ kind }}'"
            )
        return value

    @field_validator("tags")
    @classmethod
    def _tags_unique(cls, value: list[str]) -> list[str]:
        repeated = _repeated(value)
        if repeated:
            raise ValueError(f"tags must be unique; repeated: {', '.join(repeated)}")
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

    def field_refs(self) -> list[tuple[tuple[Any, ...], str]]:
        refs: list[tuple[tuple[Any, ...], str]] = [
            (("measurement",), n) for n in _template_fields(self.measurement)
        ]
        refs += [(("tags", i), t) for i, t in enumerate(self.tags)]
        for i, f in enumerate(self.fields):
            refs.append((("fields", i, "field"), f.field))
            refs += [(("fields", i, "key"), n) for n in _template_fields(f.key or "")]
        refs.append((("time",), self.time))
        return refs


class MongoIndex(Strict):
    """An index of the gold collection (ascending on each field, in order)."""

    fields: list[Identifier] = Field(min_length=1)
    unique: bool = False
    name: Identifier | None = Field(None, description="default: datalake_<fields joined by _>")

    @property
    def index_name(self) -> str:
        return self.name or f"datalake_{'_'.join(self.fields)}"[:63]


class MongoTarget(Strict):
    """Rows -> documents of a MongoDB collection in the gold database (never the catalog's)."""

    store: Literal["mongodb"] = "mongodb"
    conn_id: str = "mongo_gold"
    database: Identifier = "datalake_gold"
    collection: Identifier
    keys: list[Identifier] = Field(default_factory=list, description="merge key (mode merge)")
    mode: Literal["append", "merge", "replace_object"] = "replace_object"
    indexes: list[MongoIndex] = Field(default_factory=list)
    batch_size: int = Field(5_000, ge=1, le=100_000, description="documents per bulk write")

    @field_validator("keys")
    @classmethod
    def _keys_unique(cls, value: list[str]) -> list[str]:
        return _unique_keys(value)

    @field_validator("mode")
    @classmethod
    def _merge_mode_needs_keys(cls, value: str, info: ValidationInfo) -> str:
        if value == "merge" and "keys" in info.data and not info.data["keys"]:
            raise ValueError("mode merge needs `keys` (the fields that identify a document)")
        return value

    @field_validator("indexes")
    @classmethod
    def _index_names_unique(cls, value: list[MongoIndex]) -> list[MongoIndex]:
        repeated = _repeated([i.index_name for i in value])
        if repeated:
            raise ValueError(f"index names must be unique; repeated: {', '.join(repeated)}")
        return value

    @model_validator(mode="after")
    def _merge_needs_keys(self) -> MongoTarget:
        if self.mode == "merge" and not self.keys:
            raise ValueError("mode merge needs `keys` (the fields that identify a document)")
        return self

    @property
    def name(self) -> str:
        return f"mongodb_{self.collection}"

    def field_refs(self) -> list[tuple[tuple[Any, ...], str]]:
        refs = [(("keys", i), k) for i, k in enumerate(self.keys)]
        for i, index in enumerate(self.indexes):
            refs += [(("indexes", i, "fields", j), f) for j, f in enumerate(index.fields)]
        return refs


class GraphNode(Strict):
    """A node per distinct key: MERGE on `keys` (unique together), then SET `properties`."""

    label: GraphName
    keys: list[Identifier] = Field(min_length=1, description="fields identifying the node (its MERGE key)")
    properties: list[Identifier] = Field(default_factory=list, description="other fields set on the node")

    @field_validator("properties")
    @classmethod
    def _distinct(cls, value: list[str], info: ValidationInfo) -> list[str]:
        # A field validator, not a model one: it runs even when the label is wrong.
        repeated = _repeated([*info.data.get("keys", []), *value])
        if repeated:
            raise ValueError(f"{', '.join(repeated)} listed twice (keys and properties)")
        return value


class GraphRelationship(Strict):
    """(from)-[:type]->(to) between two nodes of the same row, merged once, with `properties` set on it."""

    type: GraphName
    from_: GraphName = Field(alias="from", description="label of the start node (declared in `nodes`)")
    to: GraphName = Field(description="label of the end node (declared in `nodes`)")
    properties: list[Identifier] = Field(default_factory=list)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Neo4jTarget(Strict):
    """Rows -> a property graph: each row merges its nodes (by key) and the relationships between them."""

    store: Literal["neo4j"] = "neo4j"
    conn_id: str = "neo4j_default"
    database: str | None = Field(None, description="default: the connection's schema, else the server's")
    graph: Identifier = Field("graph", description="names this target (task `neo4j_<graph>`)")
    nodes: list[GraphNode] = Field(min_length=1)
    relationships: list[GraphRelationship] = Field(default_factory=list)
    batch_size: int = Field(5_000, ge=1, le=100_000, description="rows per UNWIND transaction")

    @field_validator("nodes")
    @classmethod
    def _labels_unique(cls, value: list[GraphNode]) -> list[GraphNode]:
        repeated = _repeated([n.label for n in value])
        if repeated:
            raise ValueError(f"node labels must be unique in a graph target; repeated: {', '.join(repeated)}")
        return value

    @field_validator("relationships")
    @classmethod
    def _ends_are_nodes(cls, value: list[GraphRelationship], info: ValidationInfo) -> list[GraphRelationship]:
        if "nodes" not in info.data:  # the nodes are invalid: already reported
            return value
        labels = [n.label for n in info.data["nodes"]]
        for rel in value:
            for end in (rel.from_, rel.to):
                if end not in labels:
                    raise ValueError(
                        f"relationship {rel.type}: {end!r} is not a node label of this target "
                        f"(declared: {', '.join(labels)})"
                    )
        return value

    @property
    def name(self) -> str:
        return f"neo4j_{self.graph}"

    def field_refs(self) -> list[tuple[tuple[Any, ...], str]]:
        refs: list[tuple[tuple[Any, ...], str]] = []
        for i, node in enumerate(self.nodes):
            refs += [(("nodes", i, "keys", j), k) for j, k in enumerate(node.keys)]
            refs += [(("nodes", i, "properties", j), p) for j, p in enumerate(node.properties)]
        for i, rel in enumerate(self.relationships):
            refs += [(("relationships", i, "properties", j), p) for j, p in enumerate(rel.properties)]
        return refs


Target = Annotated[PostgresTarget | InfluxTarget | MongoTarget | Neo4jTarget, Field(discriminator="store")]


class Match(Strict):
    """How a raw object with no explicit format is recognised (all given criteria must hold)."""

    containers: list[str] = Field(default_factory=list)
    content_types: list[str] = Field(default_factory=list)
    filenames: list[str] = Field(default_factory=list, description="globs on the original file name")
    application: str | None = None


class Quarantine(Strict):
    max_ratio: float = Field(0.1, ge=0, le=1, description="bad rows / rows above which the load fails")


class Processing(Strict):
    """How long a claimed object may go unattended, and how often it is tried, before it fails."""

    max_attempts: int = Field(
        3, ge=1, le=20, description="runs that may take an object whose load died before it is failed"
    )
    lease_seconds: float = Field(
        300, ge=10, le=86_400, description="a claim's lease, renewed while a load works; expired: recovered"
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
        if isinstance(name, str) and isinstance(kind, str) and kind in _TYPE_NAMES:
            types.setdefault(name, FieldType(kind))
    parts: list[_Part] = []
    raw_targets = data.get("targets")
    for index, raw in enumerate(raw_targets if isinstance(raw_targets, list) else []):
        try:
            parts.append((index, _target_adapter().validate_python(raw), frozenset()))
            continue
        except ValidationError as exc:
            bad = frozenset(e["loc"][1] for e in exc.errors() if len(e["loc"]) > 1)
        store = raw.get("store") if isinstance(raw, dict) else None
        model = _TARGET_MODELS.get(store) if isinstance(store, str) else None
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
                    hint = _did_you_mean(key, known)
                    error(
                        ("targets", index, tag, *ref_path),
                        key,
                        f"{key!r} is not a field of this descriptor{hint}",
                    )
        if isinstance(target, InfluxTarget):
            time_type = types.get(target.time) if "time" not in bad else None
            if time_type is not None and time_type not in (FieldType.TIMESTAMP, FieldType.INT):
                error(
                    ("targets", index, tag, "time"),
                    target.time,
                    f"time field {target.time!r} is a {time_type.value}: it must be a timestamp (or an "
                    "int, already an epoch in the target's precision)",
                )
            for j, name in enumerate(target.tags):
                if types.get(name) is FieldType.JSON:
                    error(
                        ("targets", index, tag, "tags", j),
                        name,
                        f"tag {name!r} is a json field; tags hold scalars",
                    )
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


_TARGET_MODELS: dict[Any, type[BaseModel]] = {
    m.model_fields["store"].default: m for m in (PostgresTarget, InfluxTarget, MongoTarget, Neo4jTarget)
}


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def is_identifier(value: str) -> bool:
    # fullmatch: with `match`, `$` also matches before a trailing newline, so "abc\n" would pass.
    return isinstance(value, str) and bool(_IDENT_RE.fullmatch(value))
