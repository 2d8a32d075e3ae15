"""Small builders shared by the parsing tests: inline descriptors, sample bytes, and a collector."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_datalake.descriptors.model import Descriptor
from airflow_provider_datalake.parsing import BadRow, Batch, parse
from airflow_provider_datalake.samples import LAB_CSV_LOCALES

TARGETS = [{"store": "postgres", "table": "t"}]


def descriptor(parser: dict[str, Any], fields: list[dict[str, Any]], name: str = "test") -> Descriptor:
    return Descriptor.model_validate({"name": name, "parser": parser, "fields": fields, "targets": TARGETS})


def sample(writer: Callable[..., Any], *args: Any, **kwargs: Any) -> bytes:
    """Bytes of one `samples.write_*` writer, written to memory."""
    out = io.BytesIO()
    writer(out, *args, **kwargs)
    return out.getvalue()


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@dataclass
class Parsed:
    batches: list[Batch]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)

    def dicts(self) -> list[dict[str, Any]]:
        columns = self.batches[0].columns if self.batches else []
        return [dict(zip(columns, row, strict=True)) for row in self.rows]


def run(desc: Descriptor, data: bytes | list[bytes], *, batch_size: int = 10_000, chunk: int = 0) -> Parsed:
    """Parse everything and gather the batches' contents (checking each batch's own invariants)."""
    if isinstance(data, list):
        chunks: Any = data
    else:
        chunks = chunked(data, chunk) if chunk else [data]
    parsed = Parsed(list(parse(desc, chunks, batch_size=batch_size)))
    for batch in parsed.batches:
        assert batch.columns == [f.name for f in desc.fields]
        assert len(batch.rows) == len(batch.row_numbers)
        assert 0 < len(batch.rows) + len(batch.bad) <= batch_size
        parsed.rows.extend(batch.rows)
        parsed.numbers.extend(batch.row_numbers)
        parsed.bad.extend(batch.bad)
    everything = sorted(parsed.numbers + [b.row_number for b in parsed.bad])
    assert everything == list(range(1, len(everything) + 1)), "good and bad rows share one 1..n numbering"
    return parsed


def lab_descriptor(locale: str) -> Descriptor:
    """The lab CSV export of `samples.write_lab_csv`, typed column by column."""
    spec = LAB_CSV_LOCALES[locale]
    h = spec.header
    parser = {
        "kind": "csv",
        "delimiter": spec.delimiter,
        "skip_rows": spec.preamble_lines,
        "decimal": spec.decimal,
        "thousands": spec.thousands,
    }
    d = spec.decimal
    fields = [
        {
            "name": "day",
            "type": "date",
            "source": h[0],
            "converters": [{"timestamp_format": {"format": "%b %d, %Y", "timezone": "Europe/Paris"}}],
        },
        {"name": "at", "type": "timestamp", "source": h[1], "required": True},
        {"name": "description", "source": h[2]},
        {"name": "sensor", "type": "int", "source": h[3], "required": True},
        {"name": "value", "type": "float", "source": h[4]},
        {"name": "volume", "type": "int", "source": h[5], "converters": [{"suffix_number": {"decimal": d}}]},
        {"name": "change", "type": "float", "source": h[6], "converters": [{"percent": {"decimal": d}}]},
        {"name": "operator", "source": h[7]},
    ]
    return descriptor(parser, fields, name=f"lab_{locale}")


def mqtt_descriptor(**parser: Any) -> Descriptor:
    """neOCampus broker messages: topic parts, one value per unit, the time."""
    fields = [
        {"name": "building", "source": "topic", "converters": [{"split": {"sep": "/", "index": 0}}]},
        {"name": "room", "source": "topic", "converters": [{"split": {"sep": "/", "index": 1}}]},
        {"name": "kind", "source": "topic", "converters": [{"split": {"sep": "/", "index": -1}}]},
        {"name": "value", "type": "float", "required": True},
        {"name": "unit"},
        {"name": "unit_index", "type": "int"},
        {"name": "input", "type": "int"},
        {"name": "sub_id", "source": "subID"},
        {"name": "unit_id", "source": "unitID"},
        {"name": "time", "type": "timestamp", "required": True},
    ]
    return descriptor({"kind": "neocampus_mqtt", **parser}, fields, name="mqtt")


def readings_descriptor(**parser: Any) -> Descriptor:
    """The older sensor database export (`sensor_reading.json`)."""
    fields = [
        {
            "name": "id",
            "source": "_id",
            "converters": [{"regex": {"pattern": r'ObjectId\("([0-9a-f]{24})"\)'}}],
        },
        {"name": "sensor", "source": "idcapteur", "type": "int", "required": True},
        {"name": "room", "source": "idpiece", "type": "int"},
        {"name": "value", "type": "float", "required": True},
        {"name": "measured_at", "source": "datemesure", "type": "timestamp", "required": True},
        {"name": "unit", "source": "mesurevaleur"},
    ]
    return descriptor({"kind": "json", **parser}, fields, name="readings")
