"""Event trigger: committed raw objects of one format appeared in the catalog.

It runs in Airflow's triggerer (an AssetWatcher on each format's Asset, or a deferred
`NewRawObjectSensor`), so waiting holds no worker slot. The catalog query runs in a thread: pymongo is
synchronous and the triggerer's event loop must never block.

Lost or doubled objects are prevented downstream, not here: a DAG run *claims* objects with one guarded
update each (committed -> processing), so two runs never take the same object, and an object announced
twice is simply claimed once. The trigger only has to make sure nothing stays committed unannounced: it
announces new ids at once and re-announces ids still committed after ``reannounce_after`` seconds (a run
that never started, a triggerer restart).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

if TYPE_CHECKING:  # pymongo and MongoHook only where the trigger runs, not in every DAG file's parse
    from airflow_provider_datalake.hooks.catalog import CatalogHook


def committed_ids(
    catalog: CatalogHook, fmt: str | None, limit: int, query: dict[str, Any] | None = None
) -> list[str]:
    """Ids of committed objects of this format (None: no format yet), oldest first (blocking; call from a
    thread); ``query`` narrows them (the unknown-formats DAG skips objects already being inferred)."""
    from airflow_provider_datalake.hooks.catalog import Status

    cursor = (
        catalog.raw_objects.find(
            {"status": Status.COMMITTED.value, "format": fmt, **(query or {})}, {"_id": 1}
        )
        .sort([("creation_date", 1), ("_id", 1)])
        .limit(limit)
    )
    return [doc["_id"] for doc in cursor]


class CommittedObjectsTrigger(BaseEventTrigger):
    """Fires ``TriggerEvent({"format", "object_ids", "count"})`` while committed objects of a format exist."""

    def __init__(
        self,
        format: str | None,  # the catalog's own word; None: objects no descriptor matched
        mongo_conn_id: str = "mongo_default",
        database: str | None = None,
        poll_interval: float = 2.0,
        reannounce_after: float = 300.0,
        limit: int = 1000,
        once: bool = False,
        query: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.format = format
        self.mongo_conn_id = mongo_conn_id
        self.database = database
        self.poll_interval = poll_interval
        self.reannounce_after = reannounce_after
        self.limit = limit
        self.once = once
        self.query = query

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "format": self.format,
                "mongo_conn_id": self.mongo_conn_id,
                "database": self.database,
                "poll_interval": self.poll_interval,
                "reannounce_after": self.reannounce_after,
                "limit": self.limit,
                "once": self.once,
                # Only when set: a triggerer still running the previous release inflates the others.
                **({"query": self.query} if self.query else {}),
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        announced: dict[str, float] = {}
        from airflow_provider_datalake.hooks.catalog import CatalogHook

        catalog: CatalogHook | None = None
        while True:
            try:
                if catalog is None:
                    catalog = await asyncio.to_thread(CatalogHook, self.mongo_conn_id, self.database)
                ids = await asyncio.to_thread(committed_ids, catalog, self.format, self.limit, self.query)
            except Exception as exc:  # a catalog outage must not kill the watcher: retry next poll
                self.log.warning("catalog query for format %s failed: %s", self.format, exc)
                await asyncio.sleep(self.poll_interval)
                continue
            now = time.monotonic()
            current = set(ids)
            announced = {i: t for i, t in announced.items() if i in current}
            due = [i for i in ids if now - announced.get(i, -1e18) >= self.reannounce_after]
            if due:
                for i in due:
                    announced[i] = now
                self.log.info("%d committed object(s) of format %s", len(due), self.format)
                yield TriggerEvent({"format": self.format, "object_ids": due, "count": len(due)})
                if self.once:
                    return
            await asyncio.sleep(self.poll_interval)
