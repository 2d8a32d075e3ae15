"""Event trigger: committed raw objects of one format appeared in the catalog.

It runs in Airflow's triggerer (an AssetWatcher on each format's Asset, or a deferred
`NewRawObjectSensor`), so waiting holds no worker slot. The catalog query runs in a thread: pymongo is
synchronous and the triggerer's event loop must never block.

One query serves every trigger of a triggerer that watches the same catalog at the same pace: triggers
register with a `_SharedPoll` per (event loop, connection, database, poll interval, extra query), which
asks for the union of their formats (``format: {$in: [...]}``) once per interval and hands each trigger
its own ids. A deployment watches one asset per format: without sharing, each would send its own query
every interval, and a catalog whose backend scans the collection for any filter but ``_id`` (FerretDB on
SQLite) would be busy while the lake is at rest. The queries themselves are `ingest.committed`'s.

The shared poll also runs the recovery sweep (`processing.recover_expired`) every ``SWEEP_EVERY`` seconds,
before its query: objects whose processing lease ran out (their run died) are committed again, and so
announced in the same answer. It lives here because the triggerer is the one Airflow process that always
runs while the lake waits for data, whatever the executor does.

Lost or doubled objects are prevented downstream, not here: a DAG run *claims* objects with one guarded
update each (committed -> processing), so two runs never take the same object, and an object announced
twice is simply claimed once. The trigger only has to make sure nothing stays committed unannounced: it
announces new ids at once and re-announces ids still committed after ``reannounce_after`` seconds (a run
that never started, a triggerer restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import weakref
from collections.abc import AsyncIterator, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

if TYPE_CHECKING:  # pymongo and MongoHook only where the trigger runs, not in every DAG file's parse
    from airflow_provider_datalake.hooks.catalog import CatalogHook

#: seconds between two recovery sweeps of one shared poll
SWEEP_EVERY = 30.0
log = logging.getLogger(__name__)


def _head(ids: list[str], limit: int) -> list[str]:
    return ids[:limit] if limit else ids  # limit 0: no limit, as for a pymongo cursor


def _wider(a: int, b: int) -> int:
    return 0 if 0 in (a, b) else max(a, b)


@dataclass(eq=False)
class _Subscription:
    """One trigger's place in a shared poll: what it wants, and the latest answer (ids or the error)."""

    format: str | None
    limit: int
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    result: list[str] | Exception | None = None

    def deliver(self, result: list[str] | Exception) -> None:
        # The latest snapshot replaces an unread one: every answer is the whole committed set.
        self.result = result
        self.ready.set()


class _SharedPoll:
    """One catalog query per interval for every trigger of a loop with the same key; ends with the last."""

    def __init__(
        self,
        key: Hashable,
        mongo_conn_id: str,
        database: str | None,
        interval: float,
        query: dict[str, Any] | None,
    ) -> None:
        self.key = key
        self.mongo_conn_id = mongo_conn_id
        self.database = database
        self.interval = interval
        self.query = query
        self.members: dict[_Subscription, None] = {}  # insertion-ordered set
        self.wake = asyncio.Event()
        self.catalog: CatalogHook | None = None
        self.swept = -SWEEP_EVERY  # monotonic time of the last recovery sweep: the first poll sweeps
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"datalake-poll-{key}")

    def add(self, sub: _Subscription) -> None:
        self.members[sub] = None
        self.wake.set()  # a newcomer is answered now, not an interval later

    def remove(self, sub: _Subscription) -> None:
        self.members.pop(sub, None)
        if not self.members:
            self.wake.set()  # let the loop see it is empty and end

    def _fetch(self, limits: dict[str | None, int]) -> dict[str | None, list[str]]:
        # deferred: pymongo only in the triggerer, never in a DAG file's parse
        from airflow_provider_datalake.hooks.catalog import CatalogHook
        from airflow_provider_datalake.ingest.committed import committed_ids_by_format

        if self.catalog is None:
            self.catalog = CatalogHook(self.mongo_conn_id, self.database)
        if time.monotonic() - self.swept >= SWEEP_EVERY:
            self.swept = time.monotonic()
            self._sweep(self.catalog)
        return committed_ids_by_format(self.catalog, limits, self.query)

    @staticmethod
    def _sweep(catalog: CatalogHook) -> None:
        # deferred: processing (pymongo, swiftclient) only in the triggerer, never in a DAG file's parse
        from airflow_provider_datalake.processing import recover_expired

        try:
            recovered = recover_expired(catalog)
        except Exception as exc:  # the poll's own query reports an outage; the sweep tries again later
            log.warning("recovery sweep failed: %s", exc)
            return
        if recovered:
            log.warning("recovered %d object(s) whose run died: %s", len(recovered), recovered)

    async def _run(self) -> None:
        try:
            while self.members:
                self.wake.clear()
                members = list(self.members)
                limits: dict[str | None, int] = {}
                for sub in members:
                    limits[sub.format] = _wider(limits.get(sub.format, sub.limit), sub.limit)
                try:
                    found: dict[str | None, list[str]] | Exception = await asyncio.to_thread(
                        self._fetch, limits
                    )
                except Exception as exc:  # every waiting trigger sees the failure, as if it had queried
                    found = exc
                for sub in members:
                    if sub in self.members:
                        sub.deliver(
                            found if isinstance(found, Exception) else _head(found[sub.format], sub.limit)
                        )
                if self.members and not self.wake.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.wake.wait(), self.interval)
        finally:
            polls = _POLLS.get(asyncio.get_running_loop(), {})
            if polls.get(self.key) is self:
                del polls[self.key]
            for sub in self.members:  # ended early (cancelled): waiting triggers start a new poll
                sub.deliver(RuntimeError("shared catalog poll stopped"))


_POLLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, _SharedPoll]] = (
    weakref.WeakKeyDictionary()
)


def _poll_key(trigger: CommittedObjectsTrigger) -> Hashable:
    query = json.dumps(trigger.query, sort_keys=True, default=str) if trigger.query else ""
    # A query that sets "format" itself cannot share an $in with other formats: its own poll per format.
    own_format = trigger.format if trigger.query and "format" in trigger.query else None
    return (trigger.mongo_conn_id, trigger.database, trigger.poll_interval, query, own_format)


def _join(trigger: CommittedObjectsTrigger, sub: _Subscription) -> _SharedPoll:
    """The live poll for this trigger's key in the running loop (started if none), with ``sub`` in it."""
    polls = _POLLS.setdefault(asyncio.get_running_loop(), {})
    key = _poll_key(trigger)
    poll = polls.get(key)
    if poll is None or poll.task.done():
        poll = polls[key] = _SharedPoll(
            key, trigger.mongo_conn_id, trigger.database, trigger.poll_interval, trigger.query
        )
    if sub not in poll.members:
        poll.add(sub)
    return poll


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
        self._shared: tuple[_SharedPoll, _Subscription] | None = None  # while run() is in a shared poll

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
        sub = _Subscription(self.format, self.limit)
        try:
            while True:
                self._shared = (_join(self, sub), sub)  # each round: a poll that died is replaced
                await sub.ready.wait()
                sub.ready.clear()
                ids = sub.result
                if isinstance(ids, Exception):  # a catalog outage must not kill the watcher: retry next poll
                    self.log.warning("catalog query for format %s failed: %s", self.format, ids)
                    continue
                now = time.monotonic()
                current = set(ids or ())
                announced = {i: t for i, t in announced.items() if i in current}
                due = [i for i in ids or () if now - announced.get(i, -1e18) >= self.reannounce_after]
                if due:
                    for i in due:
                        announced[i] = now
                    self.log.info("%d committed object(s) of format %s", len(due), self.format)
                    yield TriggerEvent({"format": self.format, "object_ids": due, "count": len(due)})
                    if self.once:
                        return
        finally:
            self._leave()

    async def cleanup(self) -> None:
        # The triggerer may stop consuming run() without closing it at once: leave the shared poll now.
        self._leave()
        await super().cleanup()

    def _leave(self) -> None:
        if (shared := self._shared) is not None:
            poll, sub = shared
            poll.remove(sub)
            self._shared = None
