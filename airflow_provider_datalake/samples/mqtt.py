"""Campus MQTT messages, as the broker sends them: a JSON-array dump and its JSON-lines form."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from airflow_provider_datalake.samples.common import (
    BUILDINGS,
    ROOMS,
    SENSOR_POOL,
    Target,
    check_count,
    naive_utc,
    open_sink,
)

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

# The first timestamp of the shared sample, so default output looks like it.
MQTT_START = datetime(2021, 7, 22, 11, 1, 22)


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


def _sensor_pool(rng: random.Random, size: int = SENSOR_POOL) -> list[_Sensor]:
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
    check_count(count)
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    pool = _sensor_pool(rng)
    clock = naive_utc(start, MQTT_START)
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
    with open_sink(path_or_binary_stream) as sink:
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
    with open_sink(path_or_binary_stream) as sink:
        for message in mqtt_messages(count, seed, start):
            sink.write(json.dumps(message).encode() + b"\n")
    return sink.written
