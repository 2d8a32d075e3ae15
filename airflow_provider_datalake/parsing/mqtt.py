"""neOCampus broker dumps: one message per row, except energy meters, whose `value` array is zipped with the
`value_units` array into one row per unit (each carrying `value`, `unit` and its 0-based `unit_index`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from airflow_provider_datalake.descriptors.model import MqttParser
from airflow_provider_datalake.parsing.json_reader import Item, read_json, read_jsonl
from airflow_provider_datalake.parsing.records import Unusable


def _length(units: Any) -> str:
    return f"{len(units)} elements" if isinstance(units, list) else "no array"


def read_mqtt(spec: MqttParser, chunks: Iterable[bytes]) -> Iterator[Item]:
    """Messages in, rows out; a message whose arrays do not pair up is one quarantined record."""
    if spec.lines:
        messages = read_jsonl(chunks, spec.encoding)
    else:
        messages = read_json(chunks, spec.encoding, spec.records_path)
    for message, source in messages:
        if isinstance(message, Unusable):
            yield message, source
            continue
        value = message.get("value")
        units = message.get("value_units")
        if isinstance(value, list):
            if not isinstance(units, list) or len(units) != len(value):
                reason = f"value has {len(value)} elements but value_units has {_length(units)}"
                yield Unusable(reason), source
                continue
            for index, (element, unit) in enumerate(zip(value, units, strict=True)):
                row = message.copy()
                row["value"] = element
                row["unit"] = unit
                row["unit_index"] = index
                yield row, source
        else:
            row = message.copy()
            row["unit"] = units
            row["unit_index"] = 0
            yield row, source
