"""Rows -> InfluxDB line protocol (no server): templates, escaping, types, precision, refused rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from airflow_provider_datalake.descriptors.model import InfluxTarget
from airflow_provider_datalake.gold.common import Rejects
from airflow_provider_datalake.gold.influxdb import InfluxLoader
from tests.gold.conftest import Rejected, fields_of, make_batch

FIELDS = fields_of(
    building="string",
    room="string",
    kind="string",
    unit="string",
    value="float",
    n="int",
    ok="bool",
    time="timestamp",
)
NAMES = [f.name for f in FIELDS]
T = dt.datetime(2021, 7, 22, 11, 11, 22, 123456, tzinfo=dt.UTC)


def loader(**kw: Any) -> InfluxLoader:
    spec = {
        "measurement": "{{ kind }}",
        "tags": ["building", "room"],
        "fields": [{"field": "value", "key": "{{ 'value' if kind != 'energy' else unit }}"}, "n", "ok"],
        "time": "time",
        **kw,
    }
    return InfluxLoader(None, InfluxTarget.model_validate(spec), FIELDS)  # type: ignore[arg-type]


def lines(load: InfluxLoader, rows: list[tuple[Any, ...]], rejected: Rejected | None = None) -> list[str]:
    return load.lines(make_batch(NAMES, rows), "obj-1", Rejects(rejected, NAMES))


def test_one_point_per_row_measurement_per_kind_field_per_unit() -> None:
    out = lines(
        loader(),
        [
            ("u4", "302", "humidity", "%r.H.", 35.0, 104, True, T),
            ("u4", "302", "energy", "Ea+", 1.5, 7, False, T),
        ],
    )
    assert out == [
        'humidity,building=u4,room=302 value=35.0,n=104i,ok=true,raw_object_id="obj-1",source_row=1i '
        "1626952282123",
        'energy,building=u4,room=302 Ea+=1.5,n=7i,ok=false,raw_object_id="obj-1",source_row=2i 1626952282123',
    ]


def test_escaping_of_tags_field_keys_and_strings() -> None:
    load = loader(fields=[{"field": "value", "key": "{{ unit }}"}, "kind"], measurement="m")
    (line,) = lines(load, [("a b,c=d\\", "r\n1", 'k"\\', "m3/hr x=y,z", 2.0, None, None, T)])
    assert line == (
        'm,building=a\\ b\\,c\\=d\\ ,room=r\\n1 m3/hr\\ x\\=y\\,z=2.0,kind="k\\"\\\\",raw_object_id="obj-1",'
        "source_row=1i 1626952282123"
    )


@pytest.mark.parametrize(
    ("precision", "stamp"),
    [("s", 1626952282), ("ms", 1626952282123), ("us", 1626952282123456), ("ns", 1626952282123456000)],
)
def test_precision(precision: str, stamp: int) -> None:
    (line,) = lines(loader(precision=precision), [("u4", "1", "co2", "ppm", 400.0, None, None, T)])
    assert line.endswith(f" {stamp}")


def test_null_tags_are_left_out_and_null_fields_skipped() -> None:
    (line,) = lines(loader(), [(None, "", "co2", "ppm", 400.0, None, None, T)])
    assert line.startswith("co2 value=400.0,raw_object_id=")


def test_rows_influx_cannot_take_are_rejected_with_reasons() -> None:
    rejected = Rejected()
    out = lines(
        loader(),
        [
            ("u4", "1", "co2", "ppm", 400.0, None, None, None),  # no time
            ("u4", "1", "co2", "ppm", None, None, None, T),  # no field at all
            ("u4", "1", "Bad Kind", "ppm", 1.0, None, None, T),  # measurement not an identifier
            ("u4", "1", "co2", "ppm", float("nan"), None, None, T),  # NaN
            ("u4", "1", "co2", "ppm", 1.0, 2**64, None, T),  # beyond int64
            ("u4", "1", "energy", None, 1.0, None, None, T),  # energy unit missing: empty field key
            ("u4", "1", "co2", "ppm", 1.0, None, None, T),  # fine
        ],
        rejected,
    )
    assert len(out) == 1 and out[0].startswith("co2,")
    assert [(n, f) for n, f, _ in rejected] == [
        (1, "time"),
        (2, None),
        (3, None),
        (4, "value"),
        (5, "n"),
        (6, "value"),
    ]
    assert "no time" in rejected[0][2] and "not a safe identifier" in rejected[2][2]
    assert "finite" in rejected[3][2] and "64-bit" in rejected[4][2] and "reserved" in rejected[5][2]


def test_descriptor_mistakes_are_refused_before_any_write() -> None:
    with pytest.raises(ValueError, match="must be a timestamp"):
        loader(time="kind")
    with pytest.raises(ValueError, match="reserved keys"):
        loader(fields=[{"field": "value", "key": "raw_object_id"}])
