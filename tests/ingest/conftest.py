"""Fixtures for the raw-zone tests: each test gets its own catalog database and Swift container."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator

import pytest

from airflow_provider_datalake.hooks.catalog import CatalogHook
from airflow_provider_datalake.hooks.swift import SwiftHook, SwiftNotFound


@pytest.fixture
def lake(swift_conn: dict, mongo_conn: dict, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    """Isolated raw zone: connection ids `swift_test` / `mongo_test` (env), a fresh container and database.

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


def swift_names(lake: dict) -> set[str]:
    """Every object name in the test's raw container (not the segments)."""
    try:
        return {o["name"] for o in SwiftHook(lake["swift_conn_id"]).list_objects(lake["container"])}
    except SwiftNotFound:
        return set()


def segment_names(lake: dict) -> set[str]:
    try:
        return {
            o["name"] for o in SwiftHook(lake["swift_conn_id"]).list_objects(f"{lake['container']}_segments")
        }
    except SwiftNotFound:
        return set()


def all_records(lake: dict) -> list[dict]:
    return list(CatalogHook(lake["mongo_conn_id"]).raw_objects.find({}))


def assert_consistent(lake: dict) -> list[dict]:
    """Swift and the catalog agree: no orphan object, no segment without a manifest, no pending record."""
    records = all_records(lake)
    assert [r for r in records if r["status"] not in ("committed",)] == []
    assert swift_names(lake) == {r["swift_object_id"] for r in records}
    parents = {name.rsplit("/", 1)[0] for name in segment_names(lake)}
    assert parents <= {r["swift_object_id"] for r in records if r.get("segments")}
    return records
