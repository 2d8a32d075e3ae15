"""Seeded, streaming generator of neOCampus-shaped raw data.

A user's clone has no copy of the campus samples, so the demo, the tests and the benchmarks build their
input here instead: MQTT broker dumps, their JSON-lines form, exports from the older sensor database, lab CSV
exports in French and English locales, opaque binary blobs and a tiny PNG "image".

Two promises hold everywhere, because tests and benchmarks rely on them:

* the same seed gives the same output, byte for byte (only ``random.Random(seed)``; no wall clock, no locale,
  no hash randomisation), and different seeds give different output;
* memory does not grow with output size: every generator yields one record at a time and every writer streams
  through a small fixed buffer, so a 1 GiB file costs the same memory as a 1 kB one.

`catalog_records` makes catalog records of the shape `insert_datalake` and the loads write, for measuring
and testing the catalog at campus scale without storing a million files.

Standard library only, so that this module imports anywhere (even where Airflow is not installed).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import random
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "ELECTRICAL_UNITS",
    "HEATING_UNITS",
    "LAB_CSV_LOCALES",
    "MQTT_KINDS",
    "CsvLocale",
    "catalog_records",
    "mqtt_messages",
    "sensor_readings",
    "write_blob",
    "write_lab_csv",
    "write_mqtt_dump",
    "write_mqtt_jsonl",
    "write_sample_set",
    "write_sensor_readings_json",
]

#: A file path, or an already open binary stream (left open: the caller owns it).
Target = str | os.PathLike[str] | BinaryIO

#: Unit sets of the two kinds of energy meter seen on the campus broker (``value`` is zipped with these).
ELECTRICAL_UNITS: tuple[str, ...] = ("Wh", "Ea+", "V", "A", "W", "VAR", "VA", "cosPhi")
HEATING_UNITS: tuple[str, ...] = ("m3/hr", "kW", "kWh", "hot_degresC", "cold_degresC", "diff_degresC")

#: Scalar kinds and their ``value_units`` string; ``energy`` carries a list of units instead.
SCALAR_UNITS: dict[str, str] = {
    "humidity": "%r.H.",
    "luminosity": "lux",
    "temperature": "celsius",
    "co2": "ppm",
    "presence": "boolean",
}
MQTT_KINDS: tuple[str, ...] = ("energy", *SCALAR_UNITS)

BUILDINGS: tuple[str, ...] = ("u4", "u3", "u2", "u1", "u5", "u6")
ROOMS: tuple[str, ...] = tuple(str(n) for n in range(300, 311))

# Defaults are the first timestamps of the shared samples, so default output looks like them.
MQTT_START = datetime(2021, 7, 22, 11, 1, 22)
SENSOR_READING_START = datetime(2019, 6, 12, 0, 0, 18, 388374)
LAB_START = datetime(2019, 3, 16, 8, 0, 0)

_EPOCH = datetime(1970, 1, 1)
_SENSOR_POOL = 40  # distinct sensors per stream: enough variety, constant memory
_FLUSH_AT = 1 << 16  # writers hand the target ~64 KiB at a time: few calls, little memory
_BLOB_BLOCK = 1 << 16  # write_blob's bytes do not depend on the caller's chunk size
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# --------------------------------------------------------------------------------------------------- helpers
def _naive_utc(value: datetime | None, default: datetime) -> datetime:
    """Naive UTC datetime: aware values are converted, naive ones are taken as UTC already."""
    if value is None:
        return default
    if value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _check_count(count: int) -> None:
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")


class _Sink:
    """Buffers small writes into large ones and counts the bytes, so writers stay simple and fast."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._parts: list[bytes] = []
        self._pending = 0
        self.written = 0

    def write(self, data: bytes) -> None:
        self._parts.append(data)
        self._pending += len(data)
        self.written += len(data)
        if self._pending >= _FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        if self._parts:
            self._out.write(b"".join(self._parts))
            self._parts.clear()
            self._pending = 0


@contextmanager
def _open_binary(target: Target) -> Iterator[BinaryIO]:
    """Open a path for writing (and close it), or lend a caller's stream (flushed, left open)."""
    if isinstance(target, str | os.PathLike):
        with open(target, "wb") as out:
            yield out
    else:
        yield target
        target.flush()


@contextmanager
def _open_sink(target: Target) -> Iterator[_Sink]:
    """A buffering, byte-counting sink over ``target``; flushed before the target is closed."""
    with _open_binary(target) as out:
        sink = _Sink(out)
        yield sink
        sink.flush()


# ------------------------------------------------------------------------------------------------------ MQTT
@dataclass(slots=True)
class _Sensor:
    """One sensor of the pool; ``state`` carries its random walk / counters between messages."""

    building: str
    room: str
    kind: str
    sub_id: str
    unit_id: str
    input: int
    heating: bool = False
    state: list[float] = field(default_factory=list)


def _sensor_pool(rng: random.Random, size: int = _SENSOR_POOL) -> list[_Sensor]:
    """A fixed pool of sensors, every kind at least once, so values evolve per sensor like real series."""
    kinds = list(MQTT_KINDS) + [rng.choice(MQTT_KINDS) for _ in range(size - len(MQTT_KINDS))]
    inputs = rng.sample(range(1, 256), size)
    pool = []
    for kind, input_ in zip(kinds, inputs, strict=True):
        sensor = _Sensor(rng.choice(BUILDINGS), rng.choice(ROOMS), kind, "", "inside", input_)
        if kind == "energy":
            sensor.unit_id = "modbus_rs485"
            sensor.heating = rng.random() < 0.25
            if sensor.heating:
                sensor.sub_id = "heaters"
                sensor.state = [round(rng.uniform(1_000, 50_000), 2)]  # kWh counter
            else:
                sensor.sub_id = rng.choice(("lighting", "sockets", "hvac"))
                wh = float(rng.randint(100_000, 5_000_000))
                sensor.state = [wh, wh - rng.randint(0, 10)]  # Wh and Ea+ counters
        else:
            sensor.sub_id = f"ilot{rng.randint(1, 4)}"
            if kind in ("luminosity", "temperature") and rng.random() < 0.2:
                sensor.unit_id = "outside"
            sensor.state = [_scalar_start(kind, rng)]
        pool.append(sensor)
    return pool


_SCALAR_RANGES: dict[str, tuple[float, float, float]] = {
    # kind: (low, high, largest step of the random walk)
    "humidity": (20, 80, 2),
    "luminosity": (0, 1500, 120),
    "temperature": (15.0, 30.0, 0.4),
    "co2": (380, 2500, 60),
}


def _scalar_start(kind: str, rng: random.Random) -> float:
    if kind == "presence":
        return float(rng.randint(0, 1))
    low, high, _ = _SCALAR_RANGES[kind]
    return rng.uniform(low, high)


def _scalar_value(sensor: _Sensor, rng: random.Random) -> int | float:
    """Next value of a bounded random walk; ints where the campus sends ints (as in the sample)."""
    if sensor.kind == "presence":
        if rng.random() < 0.1:
            sensor.state[0] = 1.0 - sensor.state[0]
        return int(sensor.state[0])
    low, high, step = _SCALAR_RANGES[sensor.kind]
    current = min(high, max(low, sensor.state[0] + rng.uniform(-step, step)))
    sensor.state[0] = current
    if sensor.kind == "temperature":
        return round(current, 1)
    return round(current)


def _electrical_value(sensor: _Sensor, rng: random.Random) -> list[float]:
    """Wh/Ea+ counters only grow; a meter with no load reports zeros, as the sample's lighting meters do."""
    voltage = round(rng.uniform(228.0, 242.0), 2)
    if rng.random() < 0.35:
        amps = watts = var = va = cos_phi = 0.0
    else:
        amps = round(rng.uniform(0.2, 30.0), 2)
        cos_phi = round(rng.uniform(0.8, 0.99), 2)
        va = round(voltage * amps, 2)
        watts = round(va * cos_phi, 2)
        var = round(math.sqrt(max(va * va - watts * watts, 0.0)), 2)
        sensor.state[0] += float(rng.randint(1, 60))
        sensor.state[1] = sensor.state[0] - float(rng.randint(0, 10))
    return [sensor.state[0], sensor.state[1], voltage, amps, watts, var, va, cos_phi]


def _heating_value(sensor: _Sensor, rng: random.Random) -> list[float]:
    """Flow, power, kWh counter and the hot/cold/difference temperatures of a heating meter."""
    hot = round(rng.uniform(25.0, 70.0), 2)
    if rng.random() < 0.4:
        flow = power = 0.0
        cold = round(hot - rng.uniform(0.0, 1.0), 2)
    else:
        flow = round(rng.uniform(0.1, 3.0), 2)
        cold = round(hot - rng.uniform(2.0, 15.0), 2)
        power = round(flow * (hot - cold) * 1.16, 2)
        sensor.state[0] = round(sensor.state[0] + power / 60, 2)
    return [flow, power, sensor.state[0], hot, cold, round(hot - cold, 2)]


def mqtt_messages(count: int, seed: int = 0, start: datetime | None = None) -> Iterator[dict]:
    """Yield ``count`` campus MQTT messages shaped exactly like ``mqtt_sample.json``.

    Keys in the broker's order: ``topic`` (``building/room/kind``), ``value`` (a number, or for energy
    meters a list zipped with the ``value_units`` list), ``value_units``, ``input``, ``subID``, ``unitID`` and
    ``time`` (ISO 8601 UTC, milliseconds, ``Z``, strictly increasing from ``start``). Energy counters grow per
    meter, scalar values follow a bounded walk per sensor, so the series look real to time-series stores.
    """
    _check_count(count)
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    pool = _sensor_pool(rng)
    clock = _naive_utc(start, MQTT_START)
    clock = clock.replace(microsecond=clock.microsecond // 1000 * 1000)
    for _ in range(count):
        sensor = rng.choice(pool)
        units: str | list[str]
        value: int | float | list[float]
        if sensor.kind == "energy" and sensor.heating:
            value, units = _heating_value(sensor, rng), list(HEATING_UNITS)
        elif sensor.kind == "energy":
            value, units = _electrical_value(sensor, rng), list(ELECTRICAL_UNITS)
        else:
            value, units = _scalar_value(sensor, rng), SCALAR_UNITS[sensor.kind]
        yield {
            "topic": f"{sensor.building}/{sensor.room}/{sensor.kind}",
            "value": value,
            "value_units": units,
            "input": sensor.input,
            "subID": sensor.sub_id,
            "unitID": sensor.unit_id,
            "time": clock.isoformat(timespec="milliseconds") + "Z",
        }
        clock += timedelta(milliseconds=rng.randint(1, 30_000))


def _broker_line(message: dict) -> bytes:
    """One message as the broker dump spells it: ``{"topic":"u4/302/humidity","value": 35, ...}``."""
    rest = dict(message)
    topic = rest.pop("topic")
    return f'{{"topic":{json.dumps(topic)},{json.dumps(rest)[1:]}'.encode()


def write_mqtt_dump(
    path_or_binary_stream: Target, count: int, seed: int = 0, start: datetime | None = None
) -> int:
    """Write a broker dump: a JSON array, one message per line led by ``,`` as in the sample; return bytes.

    The array is written incrementally, so any ``count`` fits in constant memory; the output is valid JSON
    for every count (``[]`` when empty).
    """
    with _open_sink(path_or_binary_stream) as sink:
        lead = b"["
        for message in mqtt_messages(count, seed, start):
            sink.write(lead + _broker_line(message))
            lead = b"\n,"
        sink.write(b"[]\n" if lead == b"[" else b"]\n")
    return sink.written


def write_mqtt_jsonl(
    path_or_binary_stream: Target, count: int, seed: int = 0, start: datetime | None = None
) -> int:
    """Write the same messages as JSON lines (one object per line), the form streaming consumers prefer."""
    with _open_sink(path_or_binary_stream) as sink:
        for message in mqtt_messages(count, seed, start):
            sink.write(json.dumps(message).encode() + b"\n")
    return sink.written


# -------------------------------------------------------------------------------------------- sensor readings
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
    _check_count(count)
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    sensors = []
    for sensor_id in range(1, _SENSOR_POOL + 1):
        unit, low, high = rng.choice(_READING_UNITS)
        sensors.append((sensor_id, rng.randint(1, 60), unit, low, high))
    process = rng.randbytes(5).hex()
    counter = rng.randrange(1 << 24)
    clock = _naive_utc(start, SENSOR_READING_START)
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
    with _open_sink(path_or_binary_stream) as sink:
        sink.write(b"[")
        for index, reading in enumerate(sensor_readings(count, seed, start)):
            sink.write(b",\n" if index else b"\n")
            sink.write(_pretty_flat(reading))
        sink.write(b"\n]\n" if count else b"]\n")
    return sink.written


# ---------------------------------------------------------------------------------------------------- lab CSV
@dataclass(frozen=True, slots=True)
class CsvLocale:
    """How a lab CSV export is spelled, so tests and format descriptors can declare the same dialect."""

    delimiter: str
    decimal: str
    thousands: str | None
    line_terminator: str
    preamble_lines: int
    header: tuple[str, ...]


LAB_CSV_LOCALES: dict[str, CsvLocale] = {
    # French Excel: ';' between fields, ',' for decimals, no grouping, CRLF line ends.
    "fr": CsvLocale(
        delimiter=";",
        decimal=",",
        thousands=None,
        line_terminator="\r\n",
        preamble_lines=2,
        header=(
            "Date",
            "Horodatage",
            "Description",
            "Capteur",
            "Valeur",
            "Volume",
            "Variation %",
            "Opérateur",
        ),
    ),
    # English tools: ',' between fields, '.' for decimals, ',' grouping (``4,090.8``), LF line ends.
    "en": CsvLocale(
        delimiter=",",
        decimal=".",
        thousands=",",
        line_terminator="\n",
        preamble_lines=2,
        header=("Date", "Timestamp", "Description", "Sensor", "Value", "Volume", "Change %", "Operator"),
    ),
}

_OPERATORS = ("M. Dupont", "C. Martin", "J. Lefèvre", "A. Nguyen", "S. Garcia")


def _csv_field(text: str, delimiter: str, always: bool = False) -> str:
    """Quote like Excel does: only when needed (or ``always``), doubling inner quotes."""
    if always or delimiter in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _number(value: float, decimals: int, spec: CsvLocale, grouping: bool = True) -> str:
    """Format for the locale: ``4,090.8`` (en) or ``4090,8`` (fr); never ``str(float)`` or the C locale."""
    text = f"{value:,.{decimals}f}" if grouping and spec.thousands == "," else f"{value:.{decimals}f}"
    if spec.decimal == ",":
        text = text.replace(".", ",")
    return text


def _suffixed(value: float, spec: CsvLocale) -> str:
    """Volumes as finance-style exports show them: ``14.13K``, ``2.31M``."""
    for factor, suffix in ((1e6, "M"), (1e3, "K")):
        if value >= factor:
            return _number(value / factor, 2, spec, grouping=False) + suffix
    return _number(value, 0, spec)


def _description(rng: random.Random, locale: str, room: str, desk: int) -> str:
    """The free-text column: sometimes holds the delimiter, sometimes quotes, always quoted in the file."""
    roll = rng.random()
    if locale == "fr":
        if roll < 0.3:
            return f"Salle {room}; îlot {desk}"
        if roll < 0.4:
            return f'Capteur "CO2" salle {room}'
        return f"Salle {room} - îlot {desk}"
    if roll < 0.3:
        return f"Room {room}, desk {desk}"
    if roll < 0.4:
        return f'Sensor "CO2" room {room}'
    return f"Room {room} - desk {desk}"


def write_lab_csv(
    path: Target, rows: int, seed: int = 0, locale: str = "fr", start: datetime | None = None
) -> int:
    """Write a lab CSV export with the traps real exports have; return bytes written.

    A 2-line preamble precedes the header; numbers follow ``LAB_CSV_LOCALES[locale]`` (``4090,8`` vs
    ``4,090.8``); the quoted ``Description`` column sometimes contains the delimiter or quotes; ``Volume`` is
    suffixed (``14.13K``), ``Variation %`` is a percentage (``2.19%``), ``Date`` reads ``Mar 16, 2019`` while
    ``Horodatage`` is ISO 8601, and a few cells are empty. UTF-8, no BOM.
    """
    _check_count(rows)
    if locale not in LAB_CSV_LOCALES:
        raise ValueError(f"locale must be one of {sorted(LAB_CSV_LOCALES)}, got {locale!r}")
    spec = LAB_CSV_LOCALES[locale]
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    clock = _naive_utc(start, LAB_START).replace(microsecond=0)
    end = spec.line_terminator
    if locale == "fr":
        preamble = [
            "Laboratoire LAPLACE - export des mesures",
            f"Exporté le {clock:%d/%m/%Y} ; site Rangueil ; neOCampus-lab v2.3",
        ]
    else:
        preamble = [
            "LAPLACE laboratory - measurement export",
            f"Exported on {clock:%Y-%m-%d}, site Rangueil, neOCampus-lab v2.3",
        ]
    with _open_sink(path) as sink:
        sink.write("".join(line + end for line in preamble).encode())
        header = spec.delimiter.join(_csv_field(name, spec.delimiter) for name in spec.header)
        sink.write((header + end).encode())
        level = rng.uniform(500.0, 5000.0)
        for _ in range(rows):
            previous = level
            level = max(1.0, level * (1 + rng.uniform(-0.04, 0.04)))
            room, desk = rng.choice(ROOMS), rng.randint(1, 4)
            cells = [
                f"{_MONTHS[clock.month - 1]} {clock.day:02d}, {clock.year}",
                clock.isoformat() + "Z",
                _description(rng, locale, room, desk),
                str(rng.randint(1, 40)),
                "" if rng.random() < 0.03 else _number(round(level, 1), 1, spec),
                "" if rng.random() < 0.03 else _suffixed(10 ** rng.uniform(2.3, 6.5), spec),
                _number((level - previous) / previous * 100, 2, spec) + "%",
                "" if rng.random() < 0.1 else rng.choice(_OPERATORS),
            ]
            line = spec.delimiter.join(
                _csv_field(cell, spec.delimiter, always=index == 2) for index, cell in enumerate(cells)
            )
            sink.write((line + end).encode())
            clock += timedelta(seconds=rng.randint(60, 6 * 3600))
    return sink.written


# ------------------------------------------------------------------------------------------------- binaries
def write_blob(path_or_stream: Target, size: int, seed: int = 0, chunk: int = 1 << 20) -> str:
    """Write exactly ``size`` pseudo-random bytes in ``chunk``-sized writes; return their sha256 hex.

    For large-file tests and benchmarks (200 MB, 1 GiB) without keeping anything in memory. The bytes depend
    only on ``seed`` (not on ``chunk``), and a shorter blob is a prefix of a longer one with the same seed.
    """
    if size < 0 or chunk <= 0:
        raise ValueError(f"size must be >= 0 and chunk > 0, got size={size}, chunk={chunk}")
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    digest = hashlib.sha256()
    carry = b""  # drawn but not yet written (less than one block)
    remaining = size
    with _open_binary(path_or_stream) as out:
        while remaining:
            want = min(chunk, remaining)
            parts, have = [carry], len(carry)
            while have < want:
                # Always draw whole blocks, so the bytes depend neither on size nor on chunk.
                parts.append(rng.randbytes(_BLOB_BLOCK))
                have += _BLOB_BLOCK
            data = memoryview(b"".join(parts))
            parts.clear()
            digest.update(data[:want])
            out.write(data[:want])
            carry = bytes(data[want:])  # copy the small tail so the big buffer can go
            del data
            remaining -= want
    return digest.hexdigest()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def _png_bytes(width: int, height: int, seed: int = 0) -> bytes:
    """A tiny valid RGB PNG (a seeded gradient with noise): a real image for the raw zone, built by hand."""
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    tint = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    raw = io.BytesIO()
    for y in range(height):
        raw.write(b"\x00")  # filter type: none
        for x in range(width):
            noise = rng.randrange(32)
            raw.write(
                bytes(
                    (
                        (tint[0] + x * 255 // max(width - 1, 1) + noise) % 256,
                        (tint[1] + y * 255 // max(height - 1, 1) + noise) % 256,
                        (tint[2] + noise) % 256,
                    )
                )
            )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw.getvalue(), 9))
        + _png_chunk(b"IEND", b"")
    )


# ------------------------------------------------------------------------------------------------------ demo
def write_sample_set(directory: str | os.PathLike[str], seed: int = 0, scale: int = 1) -> list[Path]:
    """Write the demo's small mixed set (one file per known format plus an image); return the paths.

    Each file gets its own derived seed, so the set holds different data in each format; ``scale``
    multiplies the record counts (the image stays tiny).
    """
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    base = seed * 16
    paths = [
        folder / "mqtt_dump_0001.json",
        folder / "mqtt_stream_0001.jsonl",
        folder / "sensor_readings_0001.json",
        folder / "lab_export_fr_0001.csv",
        folder / "lab_export_en_0001.csv",
        folder / "campus_photo_0001.png",
    ]
    write_mqtt_dump(paths[0], 500 * scale, base + 1)
    write_mqtt_jsonl(paths[1], 500 * scale, base + 2)
    write_sensor_readings_json(paths[2], 200 * scale, base + 3)
    write_lab_csv(paths[3], 100 * scale, base + 4, locale="fr")
    write_lab_csv(paths[4], 100 * scale, base + 5, locale="en")
    paths[5].write_bytes(_png_bytes(32, 24, base + 6))
    return paths


# --------------------------------------------------------------------------- catalog records

#: The share of each state in a catalog that has run for a while: almost everything processed.
CATALOG_STATES = (("processed", 0.985), ("failed", 0.012), ("committed", 0.002), ("processing", 0.001))


def catalog_records(
    count: int,
    seed: int = 0,
    *,
    formats: int = 25,
    start: datetime | None = None,
    every: timedelta = timedelta(seconds=30),
    container: str = "raw",
) -> Iterator[dict]:
    """Catalog records as a lake that ran for a while holds them: ``formats`` formats (``format_00``...),
    one record every ``every`` from ``start`` on (oldest first), in the states of `CATALOG_STATES`, with
    the fields and outcomes the real insert and loads write. The committed ones have no format: at rest,
    every object of a described format has been taken, and what waits is waiting for a descriptor.
    Ids are deterministic hex strings, so the same seed gives the same catalog."""
    _check_count(count)
    rng = random.Random(seed)  # noqa: S311 (seeded test data, not security)
    begin = _naive_utc(start, datetime(2025, 1, 1))
    states = [name for name, _ in CATALOG_STATES]
    weights = [share for _, share in CATALOG_STATES]
    for n in range(count):
        created = begin + every * n
        state = rng.choices(states, weights)[0]
        # At rest, what stays committed is what waits for a format (a descriptor, or a steward's review).
        fmt = f"format_{rng.randrange(formats):02d}" if state != "committed" else None
        rid = hashlib.sha256(f"{seed}:{n}".encode()).hexdigest()[:32]
        sha = hashlib.sha256(f"{seed}:{n}:content".encode()).hexdigest()
        size = int(rng.lognormvariate(9, 1.5)) + 1
        record = {
            "_id": rid,
            "format": fmt,
            "content_type": "application/x-ndjson",
            "original_object_name": f"gateway-{rng.randrange(40):02d}/{created:%Y%m%dT%H%M%S}.jsonl",
            "swift_user": "datalake",
            "swift_account": "AUTH_datalake",
            "swift_container": container,
            "swift_object_id": f"{fmt or '_unformatted'}/{created:%Y/%m/%d}/{rid}",
            "sha256": sha,
            "size": size,
            "md5": hashlib.md5(sha.encode(), usedforsecurity=False).hexdigest(),
            "etag": None,
            "segments": 0,
            "dedupe": True,
            "dedupe_key": f"{fmt or '-'}:{sha}",
            "application": f"gateway-{rng.randrange(40):02d}",
            "creation_date": created,
            "last_modified": created + timedelta(seconds=rng.randrange(1, 120)),
            "lease_until": None,
            "status": state,
            "successful_operations": [],
            "failed_operations": [],
        }
        if state in ("processed", "failed"):
            outcome = {"target": "postgres", "run_id": f"raw__{created:%Y%m%dT%H%M%S}", "finished": created}
            if state == "processed":
                record["successful_operations"] = [{**outcome, "rows": rng.randrange(1, 5000), "bad_rows": 0}]
                record["processed_data_area_service"] = ["postgres"]
            else:
                record["failed_operations"] = [{**outcome, "error": "too many bad rows: 61 of 100 (max 5%)"}]
        elif state == "processing":
            record.update(
                processing_run=f"raw__{created:%Y%m%dT%H%M%S}",
                processing_started=created,
                processing_attempts=1,
                max_attempts=3,
                lease_seconds=300.0,
                lease_until=created + timedelta(seconds=300),
            )
        yield record
