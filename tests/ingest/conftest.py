"""Helpers for the raw-zone tests (the isolated `lake` fixture itself is in tests/conftest.py)."""

from __future__ import annotations

from airflow_provider_datalake.hooks.catalog import CatalogHook
from airflow_provider_datalake.hooks.swift import SwiftHook, SwiftNotFound


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
