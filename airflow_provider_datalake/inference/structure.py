"""Is this sample a table at all, how sure are we, and what is its shape?

Inference reads any text as records of some parser: a file of base64 lines is "a CSV of one column named
after its first line". `assess` says when that reading is not a format: content without a consistent record
structure (free text, base64, logs without a delimiter, lines of changing width, JSON whose records share no
field) is *opaque*, with the reason; and a sample too small or too uncertain to found a format on does not
make a draft either (`Thresholds`). The overall confidence is the share of the sample read as regular records
times the mean confidence of the fields' types.

`shape_key` and `shape_summary` describe a descriptor's shape (parser kind and options, field sources and
types) so that objects of one shape are grouped under one draft whatever their file names.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from airflow_provider_datalake.descriptors.model import Descriptor, FieldType
from airflow_provider_datalake.inference.sniff import Table
from airflow_provider_datalake.inference.types import FieldGuess

#: Records a sample must hold to found a new format (a draft): fewer say too little about the types.
MIN_RECORDS = 5
#: The confidence under which no draft is made (see `assess`).
MIN_CONFIDENCE = 0.5
#: The share of a CSV sample's lines that must be records of one width for it to be a table.
MIN_REGULARITY = 0.8
#: A header cell longer than this is a line of data, not a column name.
MAX_HEADER = 128
#: JSON records are a table when some field is in at least this share of them.
MIN_KEY_PRESENCE = 0.5


@dataclass(frozen=True)
class Thresholds:
    """What a draft needs: at least ``min_records`` sampled records and a confidence of ``min_confidence``."""

    min_records: int = MIN_RECORDS
    min_confidence: float = MIN_CONFIDENCE

    def __post_init__(self) -> None:
        if self.min_records < 1:
            raise ValueError(f"min_records must be at least 1, got {self.min_records}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be between 0 and 1, got {self.min_confidence}")


@dataclass(frozen=True)
class Assessment:
    """``opaque``: the content has no record structure (``reason`` says why); ``confidence`` in [0, 1]."""

    opaque: bool
    confidence: float
    records: int
    reason: str = ""

    def draft_refusal(self, thresholds: Thresholds) -> str | None:
        """Why no draft may be founded on this sample (None: it may)."""
        if self.opaque:
            return self.reason
        if self.records < thresholds.min_records:
            need = thresholds.min_records
            return f"{self.records} record(s) in the sample; a new format needs at least {need}"
        if self.confidence < thresholds.min_confidence:
            return f"confidence {self.confidence:.2f} is below the floor {thresholds.min_confidence:.2f}"
        return None


def _key_presence(table: Table) -> float:
    """The share of records holding the most common field (1.0: some field is in every record)."""
    if not table.records:
        return 0.0
    counts: Counter[str] = Counter(k for r in table.records for k in r)
    return counts.most_common(1)[0][1] / len(table.records) if counts else 0.0


def _structure(table: Table, guesses: Mapping[str, FieldGuess]) -> tuple[float, str]:
    """(regularity in [0, 1], the reason it is not a table or '')."""
    if table.shape != "csv":
        presence = _key_presence(table)
        if presence < MIN_KEY_PRESENCE:
            return presence, f"JSON records share no field (the most common is in {presence:.0%} of them)"
        return presence, ""
    regularity = table.regularity
    delimiter = table.parser.get("delimiter", ",")
    if regularity < MIN_REGULARITY:
        return regularity, (
            f"no consistent record structure: {regularity:.0%} of the sampled lines split into the same "
            f"number of fields (delimiter {delimiter!r})"
        )
    long = max((len(c) for c in table.columns), default=0) if table.parser.get("header") else 0
    if long > MAX_HEADER:
        return regularity, f"a header cell of {long:,} characters is a line of data, not a column name"
    texts = [g for g in guesses.values() if g.type in (FieldType.STRING, FieldType.JSON)]
    if len(guesses) == 1 and texts:
        return regularity, "one text value per line: no delimiter splits the lines into fields (free text)"
    return regularity, ""


def assess(table: Table, guesses: Mapping[str, FieldGuess]) -> Assessment:
    """Whether the sampled records form a table, and the confidence of the inferred descriptor."""
    records = len(table.records)
    if not records:
        return Assessment(True, 0.0, 0, "no records in the sample")
    regularity, reason = _structure(table, guesses)
    present = [g.confidence for g in guesses.values() if g.count]
    typing = sum(present) / len(present) if present else 0.0
    confidence = 0.0 if reason else round(regularity * typing, 2)
    return Assessment(bool(reason), confidence, records, reason)


# ---------------------------------------------------------------------------------------------- shapes


def _parser_options(descriptor: Descriptor) -> dict[str, object]:
    """The parser's kind and options that decide the records (the encoding and null markers do not)."""
    return descriptor.parser.model_dump(mode="json", by_alias=True, exclude={"encoding", "null_values"})


def shape_key(descriptor: Descriptor) -> str:
    """Equal for descriptors with the same parser options and the same field sources (a field's type is
    checked afterwards by reading the sample: an int column fits a float field)."""
    fields = sorted(
        json.dumps(
            [f.source_key, [c.model_dump(mode="json") for c in f.converters if c.kind == "split"]],
            sort_keys=True,
        )
        for f in descriptor.fields
    )
    text = json.dumps([_parser_options(descriptor), fields], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def shape_summary(descriptor: Descriptor, limit: int = 8) -> str:
    """'csv (',', header) · 3 fields: time timestamp, room string, temp float'."""
    options = _parser_options(descriptor)
    kind = options.pop("kind")
    shown = {k: v for k, v in options.items() if v not in (None, False, [], {}) and k != "header"}
    if options.get("header"):
        shown["header"] = True
    opts = ", ".join(f"{k}={v!r}" if not isinstance(v, bool) else k for k, v in shown.items())
    fields = [f"{f.name} {f.type.value}" for f in descriptor.fields]
    more = f", +{len(fields) - limit} more" if len(fields) > limit else ""
    head = f"{kind} ({opts})" if opts else str(kind)
    return f"{head} · {len(fields)} field(s): {', '.join(fields[:limit])}{more}"
