"""Fixtures of the descriptor tests: the shipped examples, and a fresh catalog database for store tests."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

EXAMPLES = REPO / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


@pytest.fixture
def mongo_test(mongo_conn: dict, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Connection id `mongo_fmt_test` on a fresh database of the stack's FerretDB, dropped afterwards."""
    from airflow_provider_datalake.hooks.catalog import CatalogHook

    database = f"test_formats_{uuid.uuid4().hex[:10]}"
    conn = {**mongo_conn, "schema": database, "extra": {**mongo_conn.get("extra", {})}}
    monkeypatch.setenv("AIRFLOW_CONN_MONGO_FMT_TEST", json.dumps(conn))
    yield "mongo_fmt_test"
    CatalogHook("mongo_fmt_test").get_conn().drop_database(database)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mongo_down(monkeypatch: pytest.MonkeyPatch) -> str:
    """Connection id `mongo_down`: a MongoDB connection to a closed port that gives up after 200 ms."""
    conn = {
        "conn_type": "mongo",
        "host": "127.0.0.1",
        "port": closed_port(),
        "schema": "datalake",
        "extra": {"serverSelectionTimeoutMS": 200, "connectTimeoutMS": 200},
    }
    monkeypatch.setenv("AIRFLOW_CONN_MONGO_DOWN", json.dumps(conn))
    return "mongo_down"


def example_text(name: str) -> str:
    return (EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path
