"""Unit tests of the seeded sample generator: shapes, determinism, parseability and flat memory."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import struct
import tracemalloc
import zlib
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path

import pytest

from airflow_provider_datalake.samples import (
    ELECTRICAL_UNITS,
    HEATING_UNITS,
    LAB_CSV_LOCALES,
    mqtt_messages,
    sensor_readings,
    write_blob,
    write_lab_csv,
    write_mqtt_dump,
    write_mqtt_jsonl,
    write_sample_set,
    write_sensor_readings_json,
)

# Key sets of ../shared/data/neocampus/*.json, hard-coded on purpose: a clone has no ../shared.
MQTT_KEYS = ["topic", "value", "value_units", "input", "subID", "unitID", "time"]
READING_KEYS = ["_id", "idcapteur", "idpiece", "value", "datemesure", "mesurevaleur"]
KINDS = {"energy", "humidity", "luminosity", "temperature", "co2", "presence"}
SCALAR_UNITS = {"humidity": "%r.H.", "luminosity": "lux", "temperature": "celsius", "co2": "ppm"}
MQTT_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
READING_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")
OBJECT_ID = re.compile(r'^ObjectId\("([0-9a-f]{24})"\)$')


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _dump(writer, *args, **kwargs) -> bytes:
    out = io.BytesIO()
    written = writer(out, *args, **kwargs)
    assert written == len(out.getvalue())
    return out.getvalue()


# ------------------------------------------------------------------------------------------------ determinism
@pytest.mark.parametrize(
    "writer",
    [write_mqtt_dump, write_mqtt_jsonl, write_sensor_readings_json, write_lab_csv],
    ids=lambda w: w.__name__,
)
def test_same_seed_same_bytes_and_seeds_differ(writer):
    assert _dump(writer, 300, seed=11) == _dump(writer, 300, seed=11)
    assert _dump(writer, 300, seed=11) != _dump(writer, 300, seed=12)


def test_generators_are_deterministic():
    assert list(mqtt_messages(200, seed=3)) == list(mqtt_messages(200, seed=3))
    assert list(sensor_readings(200, seed=3)) == list(sensor_readings(200, seed=3))
    assert list(mqtt_messages(200, seed=3)) != list(mqtt_messages(200, seed=4))


def test_negative_count_is_refused():
    with pytest.raises(ValueError):
        list(mqtt_messages(-1))
    with pytest.raises(ValueError):
        write_lab_csv(io.BytesIO(), 3, locale="de")


# ------------------------------------------------------------------------------------------------------- MQTT
def test_mqtt_message_shape():
    messages = list(mqtt_messages(3000, seed=1))
    assert len(messages) == 3000
    kinds, unit_sets = set(), set()
    for message in messages:
        assert list(message) == MQTT_KEYS
        building, room, kind = message["topic"].split("/")
        assert re.fullmatch(r"u\d", building)
        assert 300 <= int(room) <= 310
        assert kind in KINDS
        kinds.add(kind)
        assert isinstance(message["input"], int)
        assert isinstance(message["subID"], str) and message["subID"]
        assert isinstance(message["unitID"], str) and message["unitID"]
        if kind == "energy":
            assert isinstance(message["value"], list)
            assert len(message["value"]) == len(message["value_units"])
            assert all(isinstance(v, float) for v in message["value"])
            assert message["unitID"] == "modbus_rs485"
            unit_sets.add(tuple(message["value_units"]))
        else:
            assert _number(message["value"])
            assert isinstance(message["value_units"], str)
            if kind in SCALAR_UNITS:
                assert message["value_units"] == SCALAR_UNITS[kind]
    assert kinds == KINDS
    assert unit_sets == {ELECTRICAL_UNITS, HEATING_UNITS}


def test_energy_counters_never_decrease():
    last: dict[tuple, float] = {}
    for message in mqtt_messages(5000, seed=2):
        if message["topic"].endswith("/energy"):
            key = (message["topic"], message["input"])
            counter = message["value"][
                message["value_units"].index("kWh" if "kWh" in message["value_units"] else "Wh")
            ]
            assert counter >= last.get(key, 0.0)
            last[key] = counter


def test_mqtt_times_parse_and_strictly_increase():
    times = [m["time"] for m in mqtt_messages(2000, seed=5)]
    assert times[0] == "2021-07-22T11:01:22.000Z"  # the shared sample's first time
    assert all(MQTT_TIME.match(t) for t in times)
    parsed = [datetime.fromisoformat(t) for t in times]
    assert all(p.tzinfo is not None and p.utcoffset() == timedelta(0) for p in parsed)
    assert all(a < b for a, b in pairwise(parsed))


def test_mqtt_start_is_converted_to_utc():
    paris = timezone(timedelta(hours=2))
    first = next(mqtt_messages(1, start=datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=paris)))
    assert first["time"] == "2024-05-01T10:00:00.123Z"
    naive = next(mqtt_messages(1, start=datetime(2024, 5, 1, 12, 0)))
    assert naive["time"] == "2024-05-01T12:00:00.000Z"


def test_mqtt_dump_is_valid_json_in_broker_layout(tmp_path: Path):
    path = tmp_path / "dump.json"
    written = write_mqtt_dump(path, 500, seed=9)
    raw = path.read_bytes()
    assert written == len(raw) == path.stat().st_size
    assert json.loads(raw) == list(mqtt_messages(500, seed=9))
    lines = raw.decode().splitlines()
    assert len(lines) == 500
    assert lines[0].startswith('[{"topic":"')
    assert all(line.startswith(',{"topic":"') for line in lines[1:])
    assert raw.endswith(b"}]\n")
    assert json.loads(_dump(write_mqtt_dump, 0)) == []


def test_mqtt_jsonl_one_message_per_line():
    raw = _dump(write_mqtt_jsonl, 400, seed=4)
    lines = raw.decode().splitlines()
    assert [json.loads(line) for line in lines] == list(mqtt_messages(400, seed=4))


# -------------------------------------------------------------------------------------------- sensor readings
def test_sensor_reading_shape():
    readings = list(sensor_readings(1000, seed=1))
    previous = None
    for reading in readings:
        assert list(reading) == READING_KEYS
        match = OBJECT_ID.match(reading["_id"])
        assert match
        for key in ("idcapteur", "idpiece", "value"):
            assert isinstance(reading[key], int) and not isinstance(reading[key], bool)
        assert isinstance(reading["mesurevaleur"], str)
        assert READING_TIME.match(reading["datemesure"])
        when = datetime.fromisoformat(reading["datemesure"])
        assert when.tzinfo is None
        # The ObjectId starts with the reading's epoch seconds, as MongoDB's do.
        assert int(match.group(1)[:8], 16) == int(when.replace(tzinfo=UTC).timestamp())
        assert previous is None or when > previous
        previous = when
    assert readings[0]["datemesure"] == "2019-06-12T00:00:18.388374"
    assert len({r["_id"] for r in readings}) == len(readings)


def test_sensor_readings_json_is_a_valid_array():
    raw = _dump(write_sensor_readings_json, 250, seed=8)
    assert json.loads(raw) == list(sensor_readings(250, seed=8))
    assert raw.count(b"\n") > 250  # pretty-printed: records span several lines
    assert json.loads(_dump(write_sensor_readings_json, 0)) == []


# ---------------------------------------------------------------------------------------------------- lab CSV
def _to_float(text: str, locale: str) -> float:
    spec = LAB_CSV_LOCALES[locale]
    if spec.thousands:
        text = text.replace(spec.thousands, "")
    return float(text.replace(spec.decimal, "."))


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_lab_csv_parses_back(tmp_path: Path, locale: str):
    spec = LAB_CSV_LOCALES[locale]
    path = tmp_path / f"lab_{locale}.csv"
    written = write_lab_csv(path, 400, seed=3, locale=locale)
    assert written == path.stat().st_size
    with path.open(encoding="utf-8", newline="") as handle:
        preamble = [handle.readline() for _ in range(spec.preamble_lines)]
        rows = list(csv.reader(handle, delimiter=spec.delimiter))
    assert all(line.strip() and line.endswith(spec.line_terminator) for line in preamble)
    assert tuple(rows[0]) == spec.header
    data = rows[1:]
    assert len(data) == 400
    assert all(len(row) == len(spec.header) for row in data)

    dates, stamps, texts, sensors, values, volumes, changes, operators = zip(*data, strict=True)
    assert all(re.fullmatch(r"[A-Z][a-z]{2} \d{2}, \d{4}", d) for d in dates)
    parsed = [datetime.fromisoformat(s) for s in stamps]
    assert all(a < b for a, b in pairwise(parsed))
    assert all(
        datetime.strptime(d, "%b %d, %Y").date() == p.date() for d, p in zip(dates, parsed, strict=True)
    )
    assert any(spec.delimiter in t for t in texts)
    assert any('"' in t for t in texts)
    assert all(s.isdigit() for s in sensors)
    assert all(_to_float(c.removesuffix("%"), locale) is not None for c in changes)
    assert any(c.startswith("-") for c in changes)
    assert all(re.fullmatch(r"\d+([.,]\d\d[KM])?", v) for v in volumes if v)
    assert any(v.endswith("K") for v in volumes) and any(v.endswith("M") for v in volumes)
    assert all(_to_float(v, locale) > 0 for v in values if v)
    assert "" in values and "" in operators
    if locale == "en":
        assert any("," in v for v in values if v)  # thousands separators like 4,090.8
    else:
        assert all("," in v and "." not in v for v in values if v)


def test_lab_csv_text_column_is_always_quoted():
    raw = _dump(write_lab_csv, 50, seed=1, locale="fr").decode()
    for line in raw.splitlines()[3:]:
        assert line.split(";")[2].startswith('"')


# ------------------------------------------------------------------------------------------------ binaries
class _Recorder(io.BytesIO):
    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def write(self, data) -> int:
        self.sizes.append(len(data))
        return super().write(data)


def test_write_blob_exact_size_and_sha256(tmp_path: Path):
    path = tmp_path / "blob.bin"
    size = 3 * (1 << 20) + 17
    digest = write_blob(path, size, seed=5)
    assert path.stat().st_size == size
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()

    stream = _Recorder()
    assert write_blob(stream, size, seed=5, chunk=100_000) == digest  # bytes do not depend on chunk
    assert max(stream.sizes) <= 100_000 and sum(stream.sizes) == size
    assert stream.getvalue()[:1000] == _recorded_blob(1000, 5)  # a shorter blob is a prefix
    assert write_blob(io.BytesIO(), size, seed=6) != digest
    assert write_blob(io.BytesIO(), 0) == hashlib.sha256(b"").hexdigest()


def _recorded_blob(size: int, seed: int) -> bytes:
    out = io.BytesIO()
    write_blob(out, size, seed=seed)
    return out.getvalue()


def test_sample_set(tmp_path: Path):
    paths = write_sample_set(tmp_path / "a", seed=2)
    assert [p.name for p in paths] == [
        "mqtt_dump_0001.json",
        "mqtt_stream_0001.jsonl",
        "sensor_readings_0001.json",
        "lab_export_fr_0001.csv",
        "lab_export_en_0001.csv",
        "campus_photo_0001.png",
    ]
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)
    json.loads(paths[0].read_bytes())
    json.loads(paths[2].read_bytes())

    png = paths[5].read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    offset, kinds = 8, []
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind, body = png[offset + 4 : offset + 8], png[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", png[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + body)
        kinds.append(kind)
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        if kind == b"IDAT":
            assert len(zlib.decompress(body)) == height * (1 + 3 * width)
        offset += 12 + length
    assert kinds == [b"IHDR", b"IDAT", b"IEND"]

    again = write_sample_set(tmp_path / "b", seed=2)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in paths]
    other = write_sample_set(tmp_path / "c", seed=3)
    assert all(p.read_bytes() != q.read_bytes() for p, q in zip(other, paths, strict=True))


# -------------------------------------------------------------------------------------------------- memory
# tracemalloc slows allocation-heavy code a lot, so sizes are modest; they are chosen so that the large output
# is well over the bound: a writer that kept its output (or grew with it) would fail, a streaming one is flat.
MEMORY_BOUND = 1 << 20


def _peak(function, *args, **kwargs) -> int:
    tracemalloc.start()
    try:
        function(*args, **kwargs)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("writer", "small", "large"),
    [
        (write_mqtt_dump, 2_000, 20_000),
        (write_sensor_readings_json, 1_000, 10_000),
        (write_lab_csv, 1_500, 15_000),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_writer_memory_stays_flat(tmp_path: Path, writer, small: int, large: int):
    small_peak = _peak(writer, tmp_path / "small", small)
    large_peak = _peak(writer, tmp_path / "large", large)
    assert (tmp_path / "large").stat().st_size > 1.2 * MEMORY_BOUND
    assert large_peak < MEMORY_BOUND
    assert large_peak < 1.5 * small_peak + (64 << 10)  # ten times the output, not ten times the memory


def test_blob_memory_is_about_one_chunk(tmp_path: Path):
    assert _peak(write_blob, tmp_path / "blob.bin", 32 << 20, chunk=1 << 20) < 3 << 20
    assert _peak(write_blob, tmp_path / "blob.bin", 32 << 20, chunk=64 << 10) < MEMORY_BOUND
