"""Which connections the Airflow-free clients serve and which are left to Airflow; no server is contacted.

The tests that prove a whole insert or command runs without importing Airflow, on the stack, are in
tests/ingest/test_insert.py and tests/cli/test_commands.py.
"""

from __future__ import annotations

import json

import pytest

from airflow_provider_datalake.hooks.catalog_client import CatalogClient
from airflow_provider_datalake.hooks.connect import (
    AIRFLOW,
    catalog_for,
    locate_catalog,
    locate_swift,
    open_catalog,
    open_swift,
    swift_for,
)
from airflow_provider_datalake.hooks.errors import ConnectionNotDefined
from airflow_provider_datalake.hooks.swift_client import SwiftClient

SWIFT = {"conn_type": "swift", "host": "127.0.0.1", "port": 1, "login": "a:b", "password": "pw-never-shown"}
MONGO = {"conn_type": "mongo", "host": "127.0.0.1", "port": 1, "schema": "lake_db", "extra": {"srv": False}}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("AIRFLOW_CONN_SWIFT_X", json.dumps(SWIFT))
    monkeypatch.setenv(
        "AIRFLOW_CONN_MONGO_X", "mongo://u:p%40w@127.0.0.1:1/lake_db?serverSelectionTimeoutMS=300"
    )
    monkeypatch.delenv("AIRFLOW_CONN_NOSUCH", raising=False)
    return monkeypatch


def test_a_connection_in_the_environment_is_served_without_airflow(env: pytest.MonkeyPatch) -> None:
    source = locate_swift("swift_x")
    assert source.describe() == "environment (AIRFLOW_CONN_SWIFT_X)"
    swift = open_swift(source)
    assert type(swift) is SwiftClient  # not the Airflow hook
    assert (swift.swift_conn_id, swift.user) == ("swift_x", "a:b")
    assert type(swift.clone()) is SwiftClient and swift.clone().user == "a:b"
    catalog = catalog_for("mongo_x")
    assert type(catalog) is CatalogClient
    assert (catalog.name, catalog.database) == ("mongo_x", "lake_db")
    assert catalog_for("mongo_x", database="other").database == "other"
    assert "pw-never-shown" not in repr(source) + source.describe()


@pytest.mark.parametrize(
    ("conn_id", "value", "note"),
    [
        ("nosuch", None, None),
        ("swift_x", '{"port": "x"}', "AIRFLOW_CONN_SWIFT_X: port is not an integer: left to Airflow"),
        ("team___x", json.dumps(SWIFT), None),  # a team's namespace in Airflow's multi-team mode
    ],
)
def test_what_the_environment_does_not_give_is_left_to_airflow(
    env: pytest.MonkeyPatch, conn_id: str, value: str | None, note: str | None
) -> None:
    if value is not None:
        env.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", value)
    source = locate_swift(conn_id)
    assert source.connection is None and source.note == note
    assert source.describe() == (f"{AIRFLOW}; {note}" if note else AIRFLOW)


@pytest.mark.parametrize(
    ("changes", "note"),
    [
        ({"conn_type": "swift"}, "conn_type 'swift' is not 'mongo'"),
        ({"extra": {"srv": True}}, "an SRV connection has no port"),
    ],
)
def test_a_catalog_connection_mongohook_refuses_is_left_to_it(
    env: pytest.MonkeyPatch, changes: dict, note: str
) -> None:
    env.setenv("AIRFLOW_CONN_MONGO_ODD", json.dumps({**MONGO, **changes}))
    assert locate_catalog("mongo_odd").note == f"AIRFLOW_CONN_MONGO_ODD: {note}: left to Airflow"
    assert locate_catalog("mongo_x").connection is not None


def test_a_connection_airflow_does_not_know_is_not_defined_both_ways(env: pytest.MonkeyPatch) -> None:
    """Left to Airflow, an unknown id raises what the package's callers catch and what Airflow's do."""
    from airflow.sdk.exceptions import AirflowNotFoundException

    with pytest.raises(ConnectionNotDefined) as err:
        catalog_for("nosuch")
    assert isinstance(err.value, AirflowNotFoundException) and err.value.conn_id == "nosuch"
    hook = swift_for("nosuch")  # the hook reads its connection at first use
    with pytest.raises(ConnectionNotDefined) as err:
        _ = hook.user
    assert isinstance(err.value, AirflowNotFoundException)
    with pytest.raises(ConnectionNotDefined):  # a client built without a connection has none to read
        _ = SwiftClient("bare").user
    assert type(open_catalog(locate_catalog("mongo_x"))) is CatalogClient
