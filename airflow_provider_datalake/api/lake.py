"""What the API's endpoints share: the stores they reach, the plugin's settings, records made presentable.

Settings are Airflow configuration (``[datalake]`` in airflow.cfg or ``AIRFLOW__DATALAKE__*``):
``catalog_conn_id`` (default ``mongo_default``), ``swift_conn_id`` (``swift_default``) and
``upload_max_bytes`` (the largest upload the API takes, default 5 GiB).
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_datalake.descriptors.store import FormatStore
    from airflow_provider_datalake.hooks.catalog import CatalogHook
    from airflow_provider_datalake.hooks.swift import SwiftHook

DEFAULT_UPLOAD_MAX = 5 * 1024**3
_lock = threading.Lock()
_catalogs: dict[str, CatalogHook] = {}


def setting(key: str, default: str) -> str:
    from airflow.configuration import conf

    return str(conf.get("datalake", key, fallback=default))


def upload_max_bytes() -> int:
    return int(setting("upload_max_bytes", str(DEFAULT_UPLOAD_MAX)))


def catalog() -> CatalogHook:
    """The catalog, one client per API-server process (pymongo's client is thread-safe and pools)."""
    from airflow_provider_datalake.hooks.catalog import CatalogHook

    conn_id = setting("catalog_conn_id", "mongo_default")
    with _lock:
        if conn_id not in _catalogs:
            _catalogs[conn_id] = CatalogHook(conn_id)
        return _catalogs[conn_id]


def swift() -> SwiftHook:
    """A Swift client for one request (swiftclient's connection is not thread-safe)."""
    from airflow_provider_datalake.hooks.swift import SwiftHook

    return SwiftHook(setting("swift_conn_id", "swift_default"))


def formats() -> FormatStore:
    from airflow_provider_datalake.descriptors.store import FormatStore

    return FormatStore(catalog())


def plain(value: Any) -> Any:
    """A catalog value as JSON: dates in ISO 8601 (UTC), everything else as it is stored."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return value


def dag_id(fmt: str | None) -> str | None:
    """The DAG the factory builds for a format."""
    return f"datalake__{fmt}" if fmt else None


def timeline(rec: dict[str, Any]) -> list[dict[str, Any]]:
    """What happened to a record, oldest first: its states (``history``; a record older than it starts at
    its creation) and each load's outcome per target."""
    steps: list[dict[str, Any]] = [
        {"at": step.get("at"), "event": step.get("status"), "run": step.get("run")}
        for step in rec.get("history") or [{"status": "created", "at": rec.get("creation_date")}]
    ]
    for ok, key in ((True, "successful_operations"), (False, "failed_operations")):
        for op in rec.get(key, []):
            steps.append(
                {
                    "at": op.get("finished") or op.get("started"),
                    "event": f"{op.get('target')}: {'loaded' if ok else 'failed'}",
                    "run": op.get("run_id"),
                    "detail": op.get("error") if not ok else _rows(op),
                }
            )
    steps.sort(key=lambda s: plain(s["at"]) or "")
    return steps


def _rows(op: dict[str, Any]) -> str:
    return f"{op.get('rows_loaded', 0)} rows loaded, {op.get('rows_quarantined', 0)} quarantined"


def gold_location(target: Any) -> str:
    """Where a target writes, as its store names it (a schema's table, a bucket's measurement, ...)."""
    store = target.store
    if store == "postgres":
        return f"{target.schema_}.{target.table}"
    if store == "influxdb":
        return f"{target.bucket or '(connection bucket)'}/{target.measurement}"
    if store == "mongodb":
        return f"{target.database}.{target.collection}"
    if store == "neo4j":
        labels = [n.label for n in target.nodes] + [f"[:{r.type}]" for r in target.relationships]
        return f"{target.database or '(default database)'}: {', '.join(labels)}"
    return str(getattr(target, "name", store))


def lineage(fmt: str | None) -> list[dict[str, Any]]:
    """The gold targets a format's objects are loaded into (its active descriptor's), for an object page."""
    if not fmt:
        return []
    from airflow_provider_datalake.descriptors.loader import DescriptorError

    try:
        desc = formats().get(fmt)
    except DescriptorError:
        return []
    if desc is None:
        return []
    return [
        {"target": t.name, "store": t.store, "conn_id": t.conn_id, "location": gold_location(t)}
        for t in desc.targets
    ]
