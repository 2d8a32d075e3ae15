"""Airflow (devstack/services/airflow.py): the provider loaded, every component healthy, and the env file
that its processes and the tests share."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import conn_json

pytestmark = pytest.mark.stack


def test_airflow_shows_the_provider_and_plugin() -> None:
    env = os.environ.copy()
    airflow = str(Path(sys.executable).parent / "airflow")
    out = subprocess.run(
        [airflow, "providers", "list", "-o", "json"], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    names = [p["package_name"] for p in json.loads(out.stdout)]
    assert names.count("airflow-provider-datalake") == 1
    out = subprocess.run([airflow, "plugins", "-o", "json"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "datalake" in [p["name"] for p in json.loads(out.stdout)]


def test_airflow_components_healthy() -> None:
    base = os.environ.get("AIRFLOW__API__BASE_URL")
    assert base, "AIRFLOW__API__BASE_URL missing from the env file: run `make stack-up`"
    try:
        with urllib.request.urlopen(f"{base}/api/v2/monitor/health", timeout=5) as resp:  # noqa: S310
            health = json.loads(resp.read())
    except OSError as exc:
        pytest.fail(f"Airflow API server is down at {base} ({exc}): start it with `make stack-up`")
    for component in ("metadatabase", "scheduler", "triggerer", "dag_processor"):
        assert health[component]["status"] == "healthy", health


def test_env_file_connections_are_airflow_json() -> None:
    for conn_id, conn_type in (
        ("swift_default", "swift"),
        ("mongo_default", "mongo"),
        ("mongo_gold", "mongo"),
        ("postgres_default", "postgres"),
        ("influxdb_default", "influxdb"),
        ("neo4j_default", "neo4j"),
    ):
        conn = conn_json(conn_id)
        assert conn["conn_type"] == conn_type
        assert conn["host"] == "127.0.0.1"
    gold, raw = conn_json("mongo_gold"), conn_json("mongo_default")
    assert (gold["port"], gold["schema"]) == (raw["port"], "datalake_gold")
    assert os.environ["DATALAKE_INFLUX_BUCKET"] == "datalake/autogen"
