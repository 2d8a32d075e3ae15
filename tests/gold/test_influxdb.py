"""InfluxLoader against the stack's real InfluxDB (1.8, v2 write API): points, overwrite on re-run (counted
before and after), one field per unit, bad rows, and the server going away mid-run."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from airflow.providers.influxdb.hooks.influxdb import InfluxDBHook

from airflow_provider_datalake.descriptors.model import InfluxTarget
from airflow_provider_datalake.gold.common import GoldLoadError
from airflow_provider_datalake.gold.influxdb import InfluxLoader
from tests.gold.conftest import Influx, Rejected, batches_of, fields_of, stop_after

pytestmark = pytest.mark.stack

FIELDS = fields_of(
    building="string",
    room="string",
    kind="string",
    unit="string",
    value="float",
    input="int",
    time="timestamp",
)
NAMES = [f.name for f in FIELDS]
T0 = dt.datetime(2021, 7, 22, 11, 11, 22, tzinfo=dt.UTC)
SPEC = {
    "measurement": "{{ kind }}",
    "tags": ["building", "room"],
    "fields": [{"field": "value", "key": "{{ unit if kind == 'energy' else 'value' }}"}, "input"],
    "time": "time",
}


def loader(influx: Influx, conn_id: str | None = None, **kw: Any) -> InfluxLoader:
    target = InfluxTarget.model_validate(
        {**SPEC, "conn_id": conn_id or influx.conn_id, "bucket": influx.bucket, "batch_size": 50, **kw}
    )
    return InfluxLoader(InfluxDBHook(conn_id=target.conn_id), target, FIELDS)


def readings(n: int, offset: float = 0.0) -> list[tuple[Any, ...]]:
    """n scalar readings (3 rooms x 2 kinds) + for each minute an energy message as two unit rows."""
    out: list[tuple[Any, ...]] = []
    for i in range(n):
        at = T0 + dt.timedelta(minutes=i // 6)
        kind = ("temperature", "humidity")[i % 2]
        out.append(("u4", f"30{i % 3}", kind, "x", 20.0 + i + offset, i, at))
    return out


def energy(minutes: int) -> list[tuple[Any, ...]]:
    rows = []
    for m in range(minutes):
        at = T0 + dt.timedelta(minutes=m)
        rows += [
            ("u4", "302", "energy", "Wh", 1000.0 + m, 7, at),
            ("u4", "302", "energy", "Ea+", 99.5, 7, at),
        ]
    return rows


def test_points_are_written_and_a_rerun_overwrites_them(gold_influx: Influx) -> None:
    load = loader(gold_influx)
    load.ensure_table()
    result = load.load("obj-1", batches_of(NAMES, readings(600), size=70))
    assert (result.rows_in, result.rows_written, result.rows_rejected) == (600, 600, 0)
    before = gold_influx.points()
    assert before == 600
    measurements = gold_influx.query("SHOW MEASUREMENTS")[0]["rows"]
    assert sorted(r["name"] for r in measurements) == ["humidity", "temperature"]  # one per kind

    again = loader(gold_influx).load("obj-1", batches_of(NAMES, readings(600, offset=0.5), size=33))
    assert again.rows_written == 600
    assert gold_influx.points() == before  # same tags + time: overwritten, not added
    rows = gold_influx.query('SELECT "value", "raw_object_id", "source_row" FROM "temperature" LIMIT 1')[0][
        "rows"
    ]
    assert rows[0]["value"] == 20.5 and rows[0]["raw_object_id"] == "obj-1" and rows[0]["source_row"] == 1
    tags = gold_influx.query('SHOW TAG VALUES FROM "humidity" WITH KEY = "room"')[0]["rows"]
    assert sorted(r["value"] for r in tags) == ["300", "301", "302"]
    # lineage is a field, not a tag: loading another object adds no series
    assert "raw_object_id" not in json.dumps(gold_influx.query('SHOW TAG KEYS FROM "humidity"'))


def test_energy_units_become_fields_of_one_point(gold_influx: Influx) -> None:
    loader(gold_influx).load("obj-e", batches_of(NAMES, energy(5), size=3))
    (series,) = gold_influx.query('SELECT * FROM "energy"')
    assert len(series["rows"]) == 5  # 10 rows, 5 points
    first = series["rows"][0]
    assert (first["Wh"], first["Ea+"], first["input"], first["building"]) == (1000.0, 99.5, 7, "u4")


def test_rows_influx_cannot_take_are_rejected_the_rest_written(gold_influx: Influx) -> None:
    data = readings(12)
    data[3] = (*data[3][:6], None)  # no time
    data[5] = ("u4", "301", "bad kind!", "x", 1.0, 1, T0)  # measurement not an identifier
    rejected = Rejected()
    result = loader(gold_influx).load("obj-b", batches_of(NAMES, data, size=5), reject=rejected)
    assert [(n, f) for n, f, _ in rejected] == [(4, "time"), (6, None)]
    assert (result.rows_written, result.rows_rejected) == (10, 2)
    assert gold_influx.points() == 10


def test_server_gone_mid_run_fails_clearly_and_a_rerun_heals(
    gold_influx: Influx, tcp_proxy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = gold_influx.conn
    proxy = tcp_proxy(conn["host"], conn["port"])
    flaky = {**conn, "port": proxy.port, "extra": {**conn.get("extra", {}), "timeout": 3000}}
    monkeypatch.setenv("AIRFLOW_CONN_INFLUX_FLAKY", json.dumps(flaky))
    load = loader(gold_influx, conn_id="influx_flaky")
    load.ensure_table()
    with pytest.raises(
        GoldLoadError, match=r"obj-f into test_\w+/autogen/\{\{ kind \}\} failed after \d+ points"
    ):
        load.load("obj-f", stop_after(batches_of(NAMES, readings(600), size=50), 4, proxy.stop))
    assert 0 < gold_influx.points() < 600
    loader(gold_influx).load("obj-f", batches_of(NAMES, readings(600), size=50))
    assert gold_influx.points() == 600


def test_server_down_is_reported_before_loading(gold_influx: Influx, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.descriptors.conftest import closed_port

    monkeypatch.setenv("AIRFLOW_CONN_INFLUX_DOWN", json.dumps({**gold_influx.conn, "port": closed_port()}))
    with pytest.raises(GoldLoadError, match="InfluxDB \\(influx_down\\) unreachable"):
        loader(gold_influx, conn_id="influx_down").ensure_table()
