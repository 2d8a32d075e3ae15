"""From sniffed records and typed fields to a complete descriptor: safe names, targets, evidence, YAML.

Targets: PostgreSQL always (the default store, mode `replace_object`: re-running an object replaces its
rows, so a wrong guess corrected later reloads cleanly); InfluxDB when the sample has a time field, numeric
measures and low-cardinality text to use as tags. Nothing is `required` but the time field (when it was
never null): a null beyond the sample must not quarantine a row that a nullable column would have kept.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from airflow_provider_datalake.descriptors.model import (
    CsvParser,
    Descriptor,
    FieldType,
    is_identifier,
)
from airflow_provider_datalake.inference.shapes import looks_like_id, looks_like_time
from airflow_provider_datalake.inference.sniff import Encoding, Sample, Table
from airflow_provider_datalake.inference.structure import Assessment, assess
from airflow_provider_datalake.inference.types import (
    FILE_SHARE,
    Context,
    FieldGuess,
    file_locale,
    infer_field,
)

#: What the campus topics mean when they have three parts: building/room/kind.
MQTT_TOPIC_PARTS = ("building", "room", "kind")
#: Lineage columns of the gold tables and InfluxDB keys start with '_': fields never do.
_RESERVED = {"_raw_object_id", "_source_row", "_loaded_at"}
DEFAULT_STORES = ("postgres", "influxdb")


def safe_identifier(text: str, prefix: str = "f") -> str:
    """'Variation %' -> 'variation_pct', 'Opérateur' -> 'operateur', 'subID' -> 'sub_id', '1' -> 'f_1'."""
    text = text.replace("%", " pct ").replace("#", " num ")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"([a-z0-9]{2,})([A-Z])", r"\1_\2", text)  # measuredAt, subID; not kWh
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    text = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if not text:
        text = prefix
    if text[0].isdigit():
        text = f"{prefix}_{text}"
    text = text[:63].rstrip("_") or prefix
    assert is_identifier(text), text
    return text


#: Numbering at the end of a file name: numbers set off by a separator ('_0001', '-12', '.2', '_2024-03'),
#: or a copy number ' (3)'. Digits glued to a word ('report2024', 'd248b5d5') are part of the name.
_NUMBERING = re.compile(r"(?:[_\-. ]+\d+|\s*\(\d+\))+$")


def format_name(filename: str | None, fallback: str = "inferred") -> str:
    """A format name from a file name: 'lab_export_fr_0001.csv' -> 'lab_export_fr' (numbering and dates
    at the end are what differs between files of one format)."""
    if not filename:
        return safe_identifier(fallback)
    stem = re.split(r"[\\/]", filename)[-1]
    stem = re.sub(r"(\.(csv|tsv|txt|json|jsonl|ndjson|gz|dat))+$", "", stem, flags=re.I)
    if re.fullmatch(r"[\d_\-. ()]*", stem):  # nothing but numbering ('2021.csv')
        stem = ""
    stem = _NUMBERING.sub("", stem)
    return safe_identifier(stem or fallback, prefix="fmt")


def _unique_names(names: Iterable[str]) -> list[str]:
    out: list[str] = []
    taken: set[str] = set(_RESERVED)
    for name in names:
        candidate, n = name, 1
        while candidate in taken:
            n += 1
            candidate = f"{name[:58]}_{n}"
        taken.add(candidate)
        out.append(candidate)
    return out


# ---------------------------------------------------------------------------------------------- result


@dataclass
class Inference:
    """A proposed descriptor and what it was built from."""

    descriptor: Descriptor
    table: Table
    encoding: Encoding
    guesses: dict[str, FieldGuess]  # by field name
    assessment: Assessment  # a table or opaque content, and the confidence

    def yaml(self) -> str:
        return to_yaml(self.descriptor)


# ---------------------------------------------------------------------------------------------- fields


def _flatten(table: Table, depth: int = 3) -> tuple[list[str], list[dict[str, Any]]]:
    """JSON objects nested in records become dotted sources ('loc.lat'), as `json_lookup` walks them;
    lists stay one `json` field."""
    columns = list(table.columns)
    records = table.records
    for _ in range(depth):
        expanded: list[str] = []
        changed = False
        for column in columns:
            values = [_get(r, column) for r in records]
            present = [v for v in values if v is not None]
            if present and all(isinstance(v, dict) for v in present) and all(present):
                keys: dict[str, None] = {}
                for v in present:
                    for k in v:
                        keys.setdefault(str(k), None)
                if all("." not in k for k in keys):
                    expanded += [f"{column}.{k}" for k in keys]
                    changed = True
                    continue
            expanded.append(column)
        columns = expanded
        if not changed:
            break
    return columns, records


def _get(record: dict[str, Any], source: str) -> Any:
    if source in record:
        return record[source]
    node: Any = record
    for part in source.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


Typed = tuple[str, str, FieldGuess, list[dict[str, Any]]]


def _guesses(table: Table) -> tuple[list[Typed], Context, list[str]]:
    """(field name, source, guess, extra converters) per field, the number context used, and the null
    markers the fields found (the parser's, for the whole file)."""
    columns, records = _flatten(table) if table.shape != "csv" else (table.columns, table.records)
    raw = {c: [_get(r, c) if table.shape != "csv" else r.get(c) for r in records] for c in columns}
    if table.shape == "csv":
        prefer_comma = table.parser.get("delimiter") in (";", "\t")
        ctx = Context(file_locale(raw, table.nulls, prefer_comma), csv=True)
    else:
        ctx = Context(markers=table.shape != "neocampus_mqtt")  # the MQTT parser has no null markers
    fields: list[Typed] = []
    if table.shape == "neocampus_mqtt" and table.topic_parts:
        parts = (
            MQTT_TOPIC_PARTS
            if table.topic_parts == 3
            else [f"topic_{i + 1}" for i in range(table.topic_parts)]
        )
        for index, part in enumerate(parts):
            values = [str(r["topic"]).split("/")[index] for r in records]
            guess = infer_field("topic", values, Context(markers=False), share=0)
            guess.type, guess.converters, guess.detected = FieldType.STRING, [], f"part {index} of the topic"
            fields.append((part, "topic", guess, [{"kind": "split", "sep": "/", "index": index}]))
    for column in columns:
        guess = infer_field(column, raw[column], ctx, table.nulls)
        if not column and not guess.count:
            continue  # the empty column a trailing delimiter makes
        fields.append((safe_identifier(column, "col" if column.isdigit() else "f"), column, guess, []))
    # Outliers cost quarantined rows: over the file they stay within FILE_SHARE of the sampled records,
    # else the fields with the most go back to a type that reads every value.
    budget = int(FILE_SHARE * len(records))
    while len(rows := frozenset().union(*(g.outlier_rows for _, _, g, _ in fields))) > budget and rows:
        index = max(range(len(fields)), key=lambda i: fields[i][2].outliers)
        name, column, _, extra = fields[index]
        fields[index] = (name, column, infer_field(column, raw[column], ctx, table.nulls, share=0), extra)
    # Null markers are the parser's, so text fields holding one read it as null too: count them so.
    markers = list(dict.fromkeys(m for _, _, g, _ in fields for m in g.markers))
    if markers:
        nulls = table.nulls | frozenset(markers)
        for index, (name, column, guess, extra) in enumerate(fields):
            if (
                guess.type in (FieldType.STRING, FieldType.JSON)
                and not extra
                and any(v in nulls for v in raw[column] if isinstance(v, str))
            ):
                fields[index] = (name, column, infer_field(column, raw[column], ctx, nulls, share=0), extra)
    return fields, ctx, markers


# ---------------------------------------------------------------------------------------------- targets


def _time_field(fields: Sequence[tuple[str, FieldGuess]]) -> str | None:
    stamps = [(n, g) for n, g in fields if g.type is FieldType.TIMESTAMP]
    if not stamps:
        return None
    return min(stamps, key=lambda ng: (ng[1].nulls > 0, not looks_like_time(ng[0]), ng[1].nulls))[0]


def _tags(fields: Sequence[tuple[str, FieldGuess]], rows: int) -> list[str]:
    """Text fields with few distinct values (a building, a sensor kind, a unit): InfluxDB indexes tags."""
    limit = min(100, max(3, int(rows * 0.3)))
    return [
        n
        for n, g in fields
        if g.type in (FieldType.STRING, FieldType.BOOL) and 0 < g.distinct <= limit and g.count > 0
    ]


def _candidate_keys(fields: Sequence[tuple[str, FieldGuess]], rows: list[tuple[Any, ...]]) -> list[list[str]]:
    """Single fields unique in the sample, else pairs (a sensor and a time, say): at most five."""
    if len(rows) < 2:
        return []
    singles = [[n] for n, g in fields if g.unique and g.count == len(rows)]
    if singles:
        return singles[:5]
    names = [n for n, g in fields if g.nulls == 0 and g.type is not FieldType.JSON][:10]
    index = {n: i for i, (n, _) in enumerate(fields)}
    pairs = []
    for a, b in itertools.combinations(names, 2):
        seen = {(r[index[a]], r[index[b]]) for r in rows}
        if len(seen) == len(rows):
            pairs.append([a, b])
            if len(pairs) == 5:
                break
    return pairs


def _targets(
    name: str, named: list[tuple[str, FieldGuess]], time_field: str | None, rows: int, stores: Sequence[str]
) -> tuple[list[dict[str, Any]], list[str]]:
    targets: list[dict[str, Any]] = [{"store": "postgres", "table": name, "mode": "replace_object"}]
    notes: list[str] = []
    if "influxdb" not in stores:
        return targets, notes
    tags = _tags(named, rows)
    measures = [
        n
        for n, g in named
        if g.numeric and n not in tags and not looks_like_id(n) and not n.endswith("_index")
    ]
    if time_field and measures and tags:
        targets.append(
            {"store": "influxdb", "measurement": name, "tags": tags, "fields": measures, "time": time_field}
        )
    else:
        missing = [
            what
            for what, ok in (
                ("time field", time_field),
                ("numeric measures", measures),
                ("tag fields", tags),
            )
            if not ok
        ]
        notes.append(f"no InfluxDB target: the sample has no {', no '.join(missing)}")
    return targets, notes


# ---------------------------------------------------------------------------------------------- propose


def propose(
    table: Table,
    encoding: Encoding,
    sample: Sample,
    *,
    name: str,
    source: str | None = None,
    stores: Sequence[str] = DEFAULT_STORES,
    now: dt.datetime | None = None,
) -> Inference:
    """The descriptor for these sniffed records (validated by the model, so always loadable)."""
    name = safe_identifier(name, prefix="fmt")
    typed, ctx, markers = _guesses(table)
    names = _unique_names(field_name for field_name, *_ in typed)
    guesses = {n: g for n, (_, _, g, _) in zip(names, typed, strict=True)}
    named = list(guesses.items())
    time_field = _time_field(named)
    fields = []
    for field_name, (_, source_key, guess, extra) in zip(names, typed, strict=True):
        spec: dict[str, Any] = {"name": field_name, "type": guess.type.value}
        if source_key != field_name:
            spec["source"] = source_key
        if field_name == time_field and guess.nulls == 0:
            spec["required"] = True
        converters = extra + guess.converters
        if converters:
            spec["converters"] = converters
        spec["description"] = guess.detected
        fields.append(spec)
    parser = dict(table.parser)
    if parser["kind"] == "csv":
        parser["decimal"], thousands = ctx.decimal, ctx.thousands
        if thousands is not None:
            parser["thousands"] = thousands
    notes: list[str] = []
    if markers:
        base = CsvParser(kind="csv").null_values if parser["kind"] == "csv" else []
        parser["null_values"] = [*base, *(m for m in markers if m not in base)]
        notes.append(
            f"null markers {', '.join(map(repr, markers))} added to the parser: read as null in every field"
        )
    outliers = frozenset().union(*(g.outlier_rows for g in guesses.values()))
    if outliers:
        notes.append(
            f"{len(outliers)} of {len(table.records)} sampled records hold a value their field's type cannot "
            f"read ({', '.join(n for n, g in named if g.outliers)}): the load quarantines such rows, with "
            "the reason"
        )
    targets, target_notes = _targets(name, named, time_field, len(table.records), stores)
    rows = [
        tuple(
            _row_value(table, r, guesses[n], extra) for n, (_, _, _, extra) in zip(names, typed, strict=True)
        )
        for r in table.records
    ]
    assessment = assess(table, guesses)
    opaque_note = [f"not a table: {assessment.reason}"] if assessment.opaque else []
    evidence: dict[str, Any] = {
        "source": source,
        "inferred_at": (now or dt.datetime.now(dt.UTC)).replace(microsecond=0).isoformat(),
        "sample_bytes": len(sample.data),
        "sample_records": len(table.records),
        "complete": sample.complete,
        "encoding": encoding.name + (" (BOM)" if encoding.bom else ""),
        "shape": table.shape,
        "confidence": assessment.confidence,
        "time_field": time_field,
        "candidate_keys": _candidate_keys(named, rows),
        "fields": {
            n: {
                "detected": g.detected,
                "confidence": g.confidence,
                "nulls": g.nulls,
                "distinct": g.distinct,
                "unique": g.unique,
                "examples": g.examples,
            }
            for n, g in named
        },
        "notes": [*table.notes, *notes, *target_notes, *opaque_note],
    }
    what = f"{table.shape}, {len(table.records)} records sampled"
    data = {
        "name": name,
        "description": f"Inferred from {source or 'a sample'} ({what}); review the types before use",
        "parser": parser,
        "fields": fields,
        "targets": targets,
        "evidence": evidence,
    }
    descriptor = Descriptor.model_validate(data)
    return Inference(descriptor, table, encoding, guesses, assessment)


def _row_value(table: Table, record: dict[str, Any], guess: FieldGuess, extra: list[dict[str, Any]]) -> Any:
    value = record.get(guess.source) if table.shape == "csv" else _get(record, guess.source)
    if extra and isinstance(value, str):  # MQTT topic parts
        return value.split("/")[extra[0]["index"]]
    return repr(value) if isinstance(value, dict | list) else value


# ---------------------------------------------------------------------------------------------- YAML


def _converter_yaml(conv: Any) -> Any:
    """A converter in the short form people write: `- percent: {decimal: ','}` or `- lower`."""
    params = conv.model_dump(mode="json", exclude_defaults=True)
    params.pop("kind", None)
    return {conv.kind: params} if params else conv.kind


def to_yaml(descriptor: Descriptor, header: str | None = None) -> str:
    """Readable YAML (defaults left out, converters in short form) that loads back to the same model."""
    data: dict[str, Any] = {"name": descriptor.name}
    if descriptor.version != 1:
        data["version"] = descriptor.version
    if descriptor.description:
        data["description"] = descriptor.description
    if descriptor.owner:
        data["owner"] = descriptor.owner
    match = descriptor.match.model_dump(mode="json", exclude_defaults=True)
    if match:
        data["match"] = match
    parser = descriptor.parser.model_dump(mode="json", by_alias=True)
    nulls = type(descriptor.parser).model_fields.get("null_values")
    if nulls is not None and parser["null_values"] == nulls.get_default(call_default_factory=True):
        del parser["null_values"]
    data["parser"] = {k: v for k, v in parser.items() if v is not None}
    fields = []
    for f in descriptor.fields:
        spec: dict[str, Any] = {"name": f.name}
        if f.source is not None:
            spec["source"] = f.source
        spec["type"] = f.type.value
        if f.required:
            spec["required"] = True
        if f.default is not None:
            spec["default"] = f.default
        if f.converters:
            spec["converters"] = [_converter_yaml(c) for c in f.converters]
        if f.expression:
            spec["expression"] = f.expression
        if f.description:
            spec["description"] = f.description
        fields.append(spec)
    data["fields"] = fields
    targets = []
    for t in descriptor.targets:
        dumped = t.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        targets.append({"store": t.store, **{k: v for k, v in dumped.items() if k != "store"}})
    data["targets"] = targets
    quarantine = descriptor.quarantine.model_dump(mode="json", exclude_defaults=True)
    if quarantine:
        data["quarantine"] = quarantine
    if descriptor.evidence is not None:
        data["evidence"] = descriptor.evidence.model_dump(mode="json", exclude_none=True)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)
    return (header.rstrip("\n") + "\n" + text) if header else text
