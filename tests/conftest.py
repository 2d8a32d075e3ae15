"""Shared test set-up: the stack's env file is the one source of ports and credentials.

Tests that talk to a store use the real servers of `make stack-up`. When one is down the test fails and
says which server and how to start it; nothing is skipped.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
STACK_DIR = Path(os.environ.get("DATALAKE_STACK_DIR", REPO / ".stack"))


def load_stack_env(path: Path) -> dict[str, str]:
    """Parse the `export KEY='value'` lines that devstack/stack.py writes."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            key, _, raw = line[len("export ") :].partition("=")
            values[key] = shlex.split(raw)[0] if raw else ""
    return values


def sigint_as_at_a_terminal() -> None:
    """``preexec_fn`` of a child that a test will Ctrl-C: SIGINT back to its default before the exec.

    A non-interactive shell starts its background jobs with SIGINT ignored, and a child inherits that:
    Python then never raises KeyboardInterrupt, and the test would depend on how it was launched.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def pytest_configure(config: pytest.Config) -> None:
    env_file = STACK_DIR / "env"
    if env_file.exists():
        for key, value in load_stack_env(env_file).items():
            os.environ.setdefault(key, value)


def conn_json(conn_id: str) -> dict:
    """A connection of the stack, as Airflow reads it from AIRFLOW_CONN_<ID>."""
    raw = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if not raw:
        pytest.fail(f"AIRFLOW_CONN_{conn_id.upper()} is not set: run `make stack-up` (it writes .stack/env)")
    return json.loads(raw)


def require_port(service: str, conn_id: str) -> dict:
    conn = conn_json(conn_id)
    with socket.socket() as s:
        s.settimeout(2)
        if s.connect_ex((conn["host"], int(conn["port"]))) != 0:
            pytest.fail(f"{service} is down at {conn['host']}:{conn['port']}: start it with `make stack-up`")
    return conn


@pytest.fixture(scope="session")
def swift_conn() -> dict:
    return require_port("Swift proxy", "swift_default")


@pytest.fixture(scope="session")
def swift_keystone_conn() -> dict:
    return require_port("Keystone (for the Swift proxy behind Keystone v3)", "swift_keystone")


@pytest.fixture(scope="session")
def mongo_conn() -> dict:
    return require_port("MongoDB-wire server (FerretDB)", "mongo_default")


@pytest.fixture(scope="session")
def postgres_conn() -> dict:
    return require_port("PostgreSQL", "postgres_default")


@pytest.fixture
def lake(swift_conn: dict, mongo_conn: dict, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    """Isolated raw zone for any test on the stack: connection ids `swift_test` / `mongo_test` (env), a fresh
    container and catalog database, removed afterwards.

    Small SLO sizes (1 MiB threshold and segments) make large-object paths cheap to exercise.
    """
    tag = uuid.uuid4().hex[:10]
    database, container = f"test_{tag}", f"test-raw-{tag}"
    swift = {
        **swift_conn,
        "extra": {**swift_conn.get("extra", {}), "slo_threshold_mb": 1, "segment_size_mb": 1},
    }
    mongo = {**mongo_conn, "schema": database, "extra": {**mongo_conn.get("extra", {})}}
    monkeypatch.setenv("AIRFLOW_CONN_SWIFT_TEST", json.dumps(swift))
    monkeypatch.setenv("AIRFLOW_CONN_MONGO_TEST", json.dumps(mongo))
    env = {
        "swift_conn_id": "swift_test",
        "mongo_conn_id": "mongo_test",
        "container": container,
        "database": database,
        "env": {**os.environ},
    }
    yield env
    from airflow_provider_datalake.hooks.catalog import CatalogHook
    from airflow_provider_datalake.hooks.swift import SwiftHook, SwiftNotFound

    catalog = CatalogHook("mongo_test")
    catalog.get_conn().drop_database(database)
    swift_hook = SwiftHook("swift_test")
    for name in (container, f"{container}_segments"):
        try:
            for obj in list(swift_hook.list_objects(name)):
                swift_hook.delete_object(name, obj["name"], missing_ok=True)
            swift_hook.get_conn().delete_container(name)
        except SwiftNotFound:
            pass


def pg_connect(conn: dict) -> Any:
    """An autocommit psycopg connection to the stack's PostgreSQL from its Airflow connection fields."""
    import psycopg

    return psycopg.connect(
        host=conn["host"],
        port=conn["port"],
        user=conn["login"],
        password=conn["password"],
        dbname=conn["schema"],
        autocommit=True,
    )


def insert_into(lake: dict, source: Any, **kw: Any) -> dict:
    """``insert_datalake`` into the isolated ``lake`` (its container and connections); the record."""
    from airflow_provider_datalake import insert_datalake

    return insert_datalake(
        source,
        container=lake["container"],
        swift_conn_id=lake["swift_conn_id"],
        mongo_conn_id=lake["mongo_conn_id"],
        **kw,
    )
