"""InfluxDB (devstack/services/influxdb.py): the official hook writes and reads by Flux; auth is on."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

from tests.conftest import require_port

pytestmark = pytest.mark.stack


def _influxql(conn: dict, statement: str, database: str) -> dict:
    """One InfluxQL statement through /query with the connection's token (1.8.3 has no /api/v2/delete)."""
    req = urllib.request.Request(  # noqa: S310 (loopback)
        f"{conn['schema']}://{conn['host']}:{conn['port']}/query?db={database}",
        data=urllib.parse.urlencode({"q": statement}).encode(),
        headers={"Authorization": f"Token {conn['extra']['token']}"},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310
        return json.loads(resp.read())["results"][0]


def test_influxdb_write_and_flux_read_through_the_airflow_hook() -> None:
    """The official InfluxDBHook speaks InfluxDB 1.8's v2 API: a point in, the same point out by Flux."""
    from airflow.providers.influxdb.hooks.influxdb import InfluxDBHook

    conn = require_port("InfluxDB", "influxdb_default")
    bucket = os.environ["DATALAKE_INFLUX_BUCKET"]
    measurement = f"stack_test_{uuid.uuid4().hex[:8]}"
    hook = InfluxDBHook(conn_id="influxdb_default")
    try:
        hook.write(bucket, measurement, "sensor", "u4/302/humidity", "value", 36.5, synchronous=True)
        flux = (
            f'from(bucket: "{bucket}") |> range(start: -1h)'
            f' |> filter(fn: (r) => r._measurement == "{measurement}")'
        )
        records = [record for table in hook.query(flux) for record in table.records]
        rows = [(r.values["sensor"], r.get_field(), r.get_value()) for r in records]
        assert rows == [("u4/302/humidity", "value", 36.5)]
    finally:
        assert "error" not in _influxql(conn, f'DROP MEASUREMENT "{measurement}"', bucket.split("/")[0])
        hook.get_conn().close()


def test_influxdb_rejects_a_wrong_token() -> None:
    conn = require_port("InfluxDB", "influxdb_default")
    with pytest.raises(urllib.error.HTTPError) as err:
        _influxql({**conn, "extra": {"token": "admin:wrong"}}, "SHOW DATABASES", "datalake")
    assert err.value.code == 401
