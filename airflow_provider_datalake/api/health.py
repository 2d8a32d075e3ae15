"""``/api/v1/health``, ``/api/v1/summary``, ``/api/v1/reconcile``: is the lake moving, and how well.

The health report is `datalake health`'s checks plus each store's reachability, counts by status per
format, the oldest object still waiting and the quarantine ratio per format over the last day. The summary
is the dashboard's: a few bounded counts, cheap enough to poll.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query

from airflow_provider_datalake.api import lake
from airflow_provider_datalake.api.security import Reader, Writer

router = APIRouter(tags=["health"])

#: the most records of the last day read to compute quarantine ratios (the rest are left out, and said so)
RECENT_CAP = 5_000


def _since(hours: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)


def recent_quality(since: dt.datetime, cap: int = RECENT_CAP) -> dict[str, Any]:
    """Per format, over the outcomes finished since ``since``: rows in, rows quarantined, failed loads.
    Reads at most ``cap`` records changed since then (``complete`` says whether that was all of them)."""
    per: dict[str, dict[str, float]] = {}
    seen = 0
    fields = {"format": 1, "successful_operations": 1, "failed_operations": 1}
    for rec in lake.catalog().raw_objects.find({"last_modified": {"$gte": since}}, fields).limit(cap):
        seen += 1
        row = per.setdefault(
            rec.get("format") or "-", {"rows_in": 0, "rows_quarantined": 0, "failed_loads": 0}
        )
        for ok, key in ((True, "successful_operations"), (False, "failed_operations")):
            for op in rec.get(key, []):
                finished = op.get("finished")
                if finished is None or lake.plain(finished) < lake.plain(since):
                    continue
                row["rows_in"] += int(op.get("rows_in") or 0)
                row["rows_quarantined"] += int(op.get("rows_quarantined") or 0)
                row["failed_loads"] += 0 if ok else 1
    for row in per.values():
        row["quarantine_ratio"] = (
            round(row["rows_quarantined"] / row["rows_in"], 6) if row["rows_in"] else 0.0
        )
    return {"since": lake.plain(since), "records_read": seen, "complete": seen < cap, "formats": per}


def _oldest_waiting() -> dict[str, Any] | None:
    from airflow_provider_datalake.hooks.catalog import Status

    for rec in lake.catalog().find(status=Status.COMMITTED, limit=1):
        return {
            "id": rec["_id"],
            "format": rec.get("format"),
            "since": lake.plain(rec.get("last_modified") or rec.get("creation_date")),
        }
    return None


@router.get("/health", summary="Every store reachable? Objects moving? Counts, waits and quarantine ratios")
def health(_: Reader) -> dict[str, Any]:
    from airflow_provider_datalake.health import check_health, store_checks

    catalog = lake.catalog()
    gold: set[tuple[str, str]] = set()
    for found in lake.formats().latest():
        try:
            gold |= {(t.store, t.conn_id) for t in found.descriptor().targets}
        except ValueError:  # an invalid stored version: the formats page shows why
            continue
    report = check_health(catalog)
    checks = store_checks(catalog, lake.swift(), gold) + report.checks
    counts = catalog.status_counts()
    return {
        "ok": all(c.ok for c in checks),
        "checks": [c.__dict__ for c in checks],
        "counts": {fmt or "-": by for fmt, by in sorted(counts.items(), key=lambda kv: kv[0] or "")},
        "oldest_waiting": _oldest_waiting(),
        "quality_24h": recent_quality(_since(24)),
    }


@router.get("/summary", summary="The dashboard's numbers: by status, waiting, failures and quarantine (24 h)")
def summary(_: Reader) -> dict[str, Any]:
    from airflow_provider_datalake.hooks.catalog import COUNT_CAP, Status

    catalog = lake.catalog()
    by_status: dict[str, int] = {}
    for by in catalog.status_counts().values():
        for state, n in by.items():
            by_status[state] = by_status.get(state, 0) + n
    since = _since(24)
    failed = catalog.count(status=Status.FAILED.value, last_modified={"$gte": since})
    quality = recent_quality(since)
    quarantined = sum(row["rows_quarantined"] for row in quality["formats"].values())
    rows_in = sum(row["rows_in"] for row in quality["formats"].values())
    return {
        "by_status": by_status,
        "waiting": by_status.get(Status.COMMITTED.value, 0),
        "oldest_waiting": _oldest_waiting(),
        "failed_24h": failed,
        "failed_24h_capped": failed >= COUNT_CAP,
        "rows_quarantined_24h": quarantined,
        "rows_in_24h": rows_in,
        "quality_complete": quality["complete"],
    }


@router.post("/reconcile", summary="Settle interrupted inserts and find orphans (a dry run by default)")
def reconcile(_: Writer, dry_run: Annotated[bool, Query()] = True) -> dict[str, Any]:
    from airflow_provider_datalake.ingest.reconcile import reconcile as run

    report = run(dry_run=dry_run, swift=lake.swift(), catalog=lake.catalog())
    return {**report.as_dict(), "clean": report.clean}
