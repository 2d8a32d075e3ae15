"""The committed raw objects: what ingest hands on, oldest first, for the runs to claim.

The event triggers announce them, the deferrable sensor waits for them, and a run's claim takes its
candidates from the same query (same filter, order and limit), so what is announced is what can be
claimed. Blocking pymongo calls: the triggers run them in a thread.
"""

from __future__ import annotations

from typing import Any

from datalake_catalog.catalog import Catalog, Status

_ORDER = [("creation_date", 1), ("_id", 1)]


def committed_filter(fmt: str | None, query: dict[str, Any] | None = None) -> dict[str, Any]:
    """The catalog filter for committed objects of one format; ``query`` may narrow (or override) it."""
    return {"status": Status.COMMITTED.value, "format": fmt, **(query or {})}


def committed_ids(
    catalog: Catalog, fmt: str | None, limit: int, query: dict[str, Any] | None = None
) -> list[str]:
    """Ids of committed objects of this format (None: no format yet), oldest first (blocking; call from a
    thread); ``query`` narrows them (the unknown-formats DAG skips objects already being inferred)."""
    cursor = catalog.raw_objects.find(committed_filter(fmt, query), {"_id": 1}).sort(_ORDER).limit(limit)
    return [doc["_id"] for doc in cursor]


def committed_ids_by_format(
    catalog: Catalog, limits: dict[str | None, int], query: dict[str, Any] | None = None
) -> dict[str | None, list[str]]:
    """`committed_ids` for several formats in one query where it can (blocking; call from a thread).

    Each format gets exactly what `committed_ids` would return: its oldest ``limits[fmt]`` ids. The union
    is read oldest first with the largest limit; a prefix of that order holds the oldest ids of every
    format in it, so only a format the prefix may have cut short (the result filled the limit, that
    format did not) is asked again on its own: one query when nothing is backed up.
    """
    if len(limits) == 1 or (query and "format" in query):  # one format, or a query that sets its own
        return {fmt: committed_ids(catalog, fmt, limit, query) for fmt, limit in limits.items()}
    cap = 0 if 0 in limits.values() else max(limits.values())
    flt = {**committed_filter(None, query), "format": {"$in": list(limits)}}
    docs = list(catalog.raw_objects.find(flt, {"_id": 1, "format": 1}).sort(_ORDER).limit(cap))
    found: dict[str | None, list[str]] = {fmt: [] for fmt in limits}
    for doc in docs:
        ids = found.get(doc.get("format"))
        if ids is not None:
            ids.append(doc["_id"])
    if cap and len(docs) >= cap:
        for fmt, limit in limits.items():
            if len(found[fmt]) < limit:
                found[fmt] = committed_ids(catalog, fmt, limit, query)
    # a limit of 0 means no limit, as for a pymongo cursor
    return {fmt: ids[: limits[fmt]] if limits[fmt] else ids for fmt, ids in found.items()}
