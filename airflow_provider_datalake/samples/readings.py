"""Readings of the older sensor database, as its ``mongoexport --jsonArray --pretty`` export spells them."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import datetime, timedelta

from airflow_provider_datalake.samples.common import SENSOR_POOL, Target, check_count, naive_utc, open_sink

# The first timestamp of the shared sample, so default output looks like it.
SENSOR_READING_START = datetime(2019, 6, 12, 0, 0, 18, 388374)
_EPOCH = datetime(1970, 1, 1)

_READING_UNITS: tuple[tuple[str, int, int], ...] = (
    # mesurevaleur, low, high (the old database stored integers)
    ("celsius", 14, 30),
    ("%r.H.", 20, 80),
    ("lux", 0, 1500),
    ("ppm", 380, 2500),
)


def sensor_readings(count: int, seed: int = 0, start: datetime | None = None) -> Iterator[dict]:
    """Yield readings shaped like ``sensor_reading.json``, the export of the older sensor database.

    ``_id`` is the exported string ``ObjectId("<24 hex>")`` built like MongoDB builds one (4-byte timestamp
    of the reading, 5 random bytes, 3-byte counter), ``datemesure`` has no zone and always 6 microsecond
    digits, times increase; each ``idcapteur`` keeps its room (``idpiece``) and unit (``mesurevaleur``).
    """
    check_count(count)
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    sensors = []
    for sensor_id in range(1, SENSOR_POOL + 1):
        unit, low, high = rng.choice(_READING_UNITS)
        sensors.append((sensor_id, rng.randint(1, 60), unit, low, high))
    process = rng.randbytes(5).hex()
    counter = rng.randrange(1 << 24)
    clock = naive_utc(start, SENSOR_READING_START)
    for _ in range(count):
        sensor_id, room_id, unit, low, high = rng.choice(sensors)
        seconds = int((clock - _EPOCH).total_seconds())
        yield {
            "_id": f'ObjectId("{seconds:08x}{process}{counter:06x}")',
            "idcapteur": sensor_id,
            "idpiece": room_id,
            "value": rng.randint(low, high),
            "datemesure": clock.strftime("%Y-%m-%dT%H:%M:%S.%f"),
            "mesurevaleur": unit,
        }
        counter = (counter + 1) % (1 << 24)
        clock += timedelta(microseconds=rng.randint(1, 120_000_000))


def _pretty_flat(record: dict) -> bytes:
    """``json.dumps(record, indent=2)`` for a flat record, without the pure-Python encoder that ``indent``
    selects: its closures form reference cycles, so memory would climb until the cycle collector ran."""
    fields = ",\n".join(f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in record.items())
    return f"{{\n{fields}\n}}".encode()


def write_sensor_readings_json(
    path_or_binary_stream: Target, count: int, seed: int = 0, start: datetime | None = None
) -> int:
    """Write readings as a pretty-printed JSON array (as ``mongoexport --jsonArray --pretty`` does).

    Objects span several lines on purpose: parsers must not assume one record per line. Returns bytes.
    """
    with open_sink(path_or_binary_stream) as sink:
        sink.write(b"[")
        for index, reading in enumerate(sensor_readings(count, seed, start)):
            sink.write(b",\n" if index else b"\n")
            sink.write(_pretty_flat(reading))
        sink.write(b"\n]\n" if count else b"]\n")
    return sink.written
