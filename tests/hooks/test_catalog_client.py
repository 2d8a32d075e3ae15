"""The catalog without Airflow makes its pymongo client as Airflow's MongoHook does; no server needed."""

from __future__ import annotations

import json

import pytest

from airflow_provider_datalake.hooks.catalog_client import CatalogClient, client_arguments
from airflow_provider_datalake.hooks.connection import parse_connection

CONNECTIONS = {
    "plain": {"conn_type": "mongo", "host": "127.0.0.1", "port": 27018, "schema": "datalake"},
    "stack": {
        "conn_type": "mongo",
        "host": "127.0.0.1",
        "port": 27018,
        "schema": "datalake",
        "extra": {"srv": False, "ssl": False, "serverSelectionTimeoutMS": 5000},
    },
    "credentials to quote": {
        "conn_type": "mongo",
        "host": "db.example",
        "login": "us@er",
        "password": "p@ss:w/rd %",
    },
    "login without password": {"conn_type": "mongo", "host": "db.example", "login": "alone"},
    "srv": {"conn_type": "mongo", "host": "cluster.example", "extra": {"srv": True, "replicaSet": "rs"}},
    "tls, certificates checked": {"conn_type": "mongo", "host": "h", "extra": {"ssl": True}},
    "tls, any certificate": {
        "conn_type": "mongo",
        "host": "h",
        "extra": {"tls": "true", "allow_insecure": True},
    },
    "ssl, any certificate": {
        "conn_type": "mongo",
        "host": "h",
        "extra": {"ssl": "True", "allow_insecure": "true"},
    },
    "insecure without tls": {"conn_type": "mongo", "host": "h", "extra": {"allow_insecure": True}},
}


@pytest.mark.parametrize("case", list(CONNECTIONS))
def test_same_client_as_mongohook(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.providers.mongo.hooks.mongo import MongoHook

    value = json.dumps(CONNECTIONS[case])
    monkeypatch.setenv("AIRFLOW_CONN_MONGO_CASE", value)
    hook = MongoHook("mongo_case")
    theirs = dict(hook.extras, **({"tlsAllowInvalidCertificates": True} if hook.allow_insecure else {}))
    assert client_arguments(parse_connection("mongo_case", value)) == (hook.uri, theirs)


def test_the_client_is_made_once_at_first_use_and_closed() -> None:
    conn = parse_connection("c", '{"conn_type": "mongo", "host": "127.0.0.1", "port": 1, "schema": "db"}')
    catalog = CatalogClient(conn)
    assert catalog._client is None and (catalog.database, catalog.mongo_conn_id) == ("db", "c")
    client = catalog.pymongo_client
    assert catalog.pymongo_client is client and catalog.db.name == "db"
    catalog.close()
    assert catalog._client is None
