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


def _unique_keys(value: list[str]) -> list[str]:
    repeated = sorted({k for k in value if value.count(k) > 1})
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
    from jinja2 import TemplateSyntaxError, meta
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    try:
        # Parse only (never compile here): see FieldSpec._expression_compiles.
        ast = ImmutableSandboxedEnvironment().parse(value)
    except TemplateSyntaxError as exc:
        raise ValueError(f"invalid Jinja2 template: {exc.message}") from exc
    return sorted(meta.find_undeclared_variables(ast))


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
            _template_fields(value)
            if not is_template(value) and value.startswith("_"):
                raise ValueError("field keys starting with _ are reserved for lineage (_raw_object_id...)")
        return value


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
        _template_fields(value)
        if not is_template(value) and not is_identifier(value):
            raise ValueError(
                f"measurement {value!r} is not a safe identifier (lower-case letters, digits and _), "
                "nor a template such as '{{ kind }}'"
            )
        return value

    @field_validator("tags")
    @classmethod
    def _tags_unique(cls, value: list[str]) -> list[str]:
        repeated = sorted({k for k in value if value.count(k) > 1})
        if repeated:
            raise ValueError(f"tags must be unique; repeated: {', '.join(repeated)}")
        return value

    @model_validator(mode="after")
    def _disjoint(self) -> InfluxTarget:
        keys = [f.key or f.field for f in self.fields if f.key is None or not is_template(f.key)]
        clash = sorted(set(self.tags) & set(keys))
        if clash:
            raise ValueError(f"{', '.join(clash)} cannot be both a tag and a field key")
        return self

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

    @model_validator(mode="after")
    def _merge_needs_keys(self) -> MongoTarget:
        if self.mode == "merge" and not self.keys:
            raise ValueError("mode merge needs `keys` (the fields that identify a document)")
        names = [i.index_name for i in self.indexes]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"index names must be unique; repeated: {', '.join(repeated)}")
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

    @model_validator(mode="after")
    def _distinct(self) -> GraphNode:
        names = [*self.keys, *self.properties]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"node {self.label}: {', '.join(repeated)} listed twice (keys and properties)")
        return self


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
        labels = [n.label for n in value]
        repeated = sorted({n for n in labels if labels.count(n) > 1})
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
    evidence: Evidence | None = Field(None, description="set by inference: how the descriptor was guessed")

    @model_validator(mode="after")
    def _consistent(self) -> Descriptor:
        names = [f.name for f in self.fields]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"field names must be unique; repeated: {', '.join(dupes)}")
        for target in self.targets:
            unknown = [k for _, k in target.field_refs() if k not in names]
            if unknown:
                raise ValueError(f"target {target.name}: {unknown} are not fields of this descriptor")
        target_names = [t.name for t in self.targets]
        if len(set(target_names)) != len(target_names):
            raise ValueError("two targets load the same table/measurement/collection")
        return self

    def field(self, name: str) -> FieldSpec:
        return next(f for f in self.fields if f.name == name)


def is_identifier(value: str) -> bool:
    # fullmatch: with `match`, `$` also matches before a trailing newline, so "abc\n" would pass.
    return isinstance(value, str) and bool(_IDENT_RE.fullmatch(value))
