"""CommittedObjectsTrigger against the real catalog: announces committed objects, once each, in time."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import monitoring

from airflow_provider_datalake.hooks.catalog import CatalogHook, Status, utcnow
from airflow_provider_datalake.ingest.committed import committed_ids, committed_ids_by_format
from airflow_provider_datalake.triggers import raw_objects
from airflow_provider_datalake.triggers.raw_objects import CommittedObjectsTrigger

pytestmark = pytest.mark.stack


@pytest.fixture
def catalog(mongo_conn: dict, monkeypatch: pytest.MonkeyPatch) -> Iterator[CatalogHook]:
    database = f"test_trig_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("AIRFLOW_CONN_MONGO_TRIG", json.dumps({**mongo_conn, "schema": database}))
    hook = CatalogHook("mongo_trig")
    yield hook
    hook.get_conn().drop_database(database)


def _record(catalog: CatalogHook, fmt: str | None, status: Status, **extra: Any) -> str:
    rid = uuid.uuid4().hex
    catalog.raw_objects.insert_one(
        {
            "_id": rid,
            "format": fmt,
            "status": status.value,
            "dedupe_key": f"unique:{rid}",
            "swift_container": "c",
            "swift_object_id": rid,
            "creation_date": utcnow(),
            **extra,
        }
    )
    return rid


async def _events(trigger: CommittedObjectsTrigger, n: int, timeout: float) -> list[dict]:
    out: list[dict] = []

    async def collect() -> None:
        async for event in trigger.run():
            out.append(event.payload)
            if len(out) >= n:
                return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(collect(), timeout)
    return out


def test_serialize_round_trip() -> None:
    trigger = CommittedObjectsTrigger(format="neocampus_mqtt", poll_interval=1.5)
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_datalake.triggers.raw_objects.CommittedObjectsTrigger"
    assert CommittedObjectsTrigger(**kwargs).serialize() == (path, kwargs)


def test_announces_committed_objects_of_its_format_only(catalog: CatalogHook) -> None:
    wanted = {_record(catalog, "fmt_a", Status.COMMITTED) for _ in range(3)}
    _record(catalog, "fmt_b", Status.COMMITTED)
    _record(catalog, "fmt_a", Status.PENDING)  # not visible: never announced
    trigger = CommittedObjectsTrigger(format="fmt_a", mongo_conn_id="mongo_trig", poll_interval=0.2)
    events = asyncio.run(_events(trigger, 1, timeout=10))
    assert len(events) == 1
    assert set(events[0]["object_ids"]) == wanted
    assert events[0]["count"] == 3


def test_no_second_announcement_until_reannounce_delay(catalog: CatalogHook) -> None:
    _record(catalog, "fmt_a", Status.COMMITTED)
    trigger = CommittedObjectsTrigger(format="fmt_a", mongo_conn_id="mongo_trig", poll_interval=0.1)
    assert len(asyncio.run(_events(trigger, 2, timeout=2))) == 1  # still committed, but already announced
    quick = CommittedObjectsTrigger(
        format="fmt_a", mongo_conn_id="mongo_trig", poll_interval=0.1, reannounce_after=0.5
    )
    assert len(asyncio.run(_events(quick, 2, timeout=5))) == 2  # a run that never came: announced again


def test_new_arrivals_are_announced_while_running(catalog: CatalogHook) -> None:
    first = _record(catalog, "fmt_a", Status.COMMITTED)
    trigger = CommittedObjectsTrigger(format="fmt_a", mongo_conn_id="mongo_trig", poll_interval=0.1)

    async def scenario() -> list[dict]:
        out: list[dict] = []
        gen = trigger.run()
        out.append((await anext(gen)).payload)
        catalog.raw_objects.update_one({"_id": first}, {"$set": {"status": Status.PROCESSING.value}})
        second = await asyncio.to_thread(_record, catalog, "fmt_a", Status.COMMITTED)
        out.append((await asyncio.wait_for(anext(gen), 5)).payload)
        await gen.aclose()
        out.append({"second": second})
        return out

    first_event, second_event, ids = asyncio.run(scenario())
    assert first_event["object_ids"] == [first]
    assert second_event["object_ids"] == [ids["second"]]


def test_catalog_outage_does_not_kill_the_trigger(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_MONGO_DEAD",
        json.dumps(
            {"conn_type": "mongo", "host": "127.0.0.1", "port": 1, "extra": {"serverSelectionTimeoutMS": 200}}
        ),
    )
    trigger = CommittedObjectsTrigger(format="fmt_a", mongo_conn_id="mongo_dead", poll_interval=0.1)
    assert asyncio.run(_events(trigger, 1, timeout=2)) == []  # keeps polling, yields nothing, raises nothing


# -- one shared poll per loop ---------------------------------------------------------------------------


class _Finds(monitoring.CommandListener):
    """The `find` commands pymongo sends to one database's raw_objects (from clients made after register)."""

    def __init__(self) -> None:
        self.database: str | None = None
        self.filters: list[dict] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if (
            event.command_name == "find"
            and event.database_name == self.database
            and event.command.get("find") == "raw_objects"
        ):
            self.filters.append(dict(event.command.get("filter", {})))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


_LISTENER = _Finds()
monitoring.register(_LISTENER)  # global in pymongo: only clients created from here on report to it


@pytest.fixture
def finds(catalog: CatalogHook) -> Iterator[_Finds]:
    _LISTENER.database, _LISTENER.filters = catalog.database, []
    yield _LISTENER
    _LISTENER.database = None


class _Log:
    """Stands in for a trigger's logger to see what it reports (``-p no:logging`` leaves no caplog)."""

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, msg: str, *args: Any) -> None:
        self.warnings.append(msg % args)

    def info(self, msg: str, *args: Any) -> None:
        pass


def _trigger(fmt: str | None, conn_id: str = "mongo_trig", **kw: Any) -> CommittedObjectsTrigger:
    trigger = CommittedObjectsTrigger(format=fmt, mongo_conn_id=conn_id, **kw)
    trigger._log = _Log()  # type: ignore[assignment]
    return trigger


async def _consume(trigger: CommittedObjectsTrigger, out: list[dict]) -> None:
    async for event in trigger.run():
        out.append(event.payload)


def _ids(events: list[dict]) -> list[str]:
    return [i for event in events for i in event["object_ids"]]


def test_one_query_answers_several_formats_each_its_own(catalog: CatalogHook, finds: _Finds) -> None:
    mine = {fmt: {_record(catalog, fmt, Status.COMMITTED) for _ in range(2)} for fmt in ("fmt_a", "fmt_b")}
    _record(catalog, "fmt_z", Status.COMMITTED)  # nobody watches it
    _record(catalog, "fmt_c", Status.PENDING)
    triggers = {fmt: _trigger(fmt, poll_interval=0.5) for fmt in ("fmt_a", "fmt_b", "fmt_c")}
    small = _trigger("fmt_a", poll_interval=0.5, limit=1)  # same format, its own limit

    async def scenario() -> tuple[dict[str, list[dict]], list[dict], float]:
        out: dict[str, list[dict]] = {fmt: [] for fmt in triggers}
        small_out: list[dict] = []
        tasks = [asyncio.create_task(_consume(t, out[fmt])) for fmt, t in triggers.items()]
        tasks.append(asyncio.create_task(_consume(small, small_out)))
        await asyncio.sleep(0.3)
        finds.filters.clear()  # from here on: steady polling
        start = time.monotonic()
        await asyncio.sleep(3.0)
        elapsed = time.monotonic() - start
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return out, small_out, elapsed

    out, small_out, elapsed = asyncio.run(scenario())
    assert {fmt: set(_ids(events)) for fmt, events in out.items()} == {**mine, "fmt_c": set()}
    assert [len(events) for events in out.values()] == [1, 1, 0]  # announced once each, no repeats
    assert small_out == [{"format": "fmt_a", "object_ids": out["fmt_a"][0]["object_ids"][:1], "count": 1}]
    # Four triggers, one query per interval (today's design: four each interval, 24 in 3 s).
    assert 3 <= len(finds.filters) <= elapsed / 0.5 + 1
    assert all(set(f["format"]["$in"]) == {"fmt_a", "fmt_b", "fmt_c"} for f in finds.filters)


def test_unformatted_query_variant_keeps_its_own_filter(catalog: CatalogHook, finds: _Finds) -> None:
    fresh = _record(catalog, None, Status.COMMITTED)
    _record(catalog, None, Status.COMMITTED, inference={"state": "running"})  # being inferred: skipped
    formatted = _record(catalog, "fmt_a", Status.COMMITTED)
    unknown = _trigger(None, poll_interval=0.2, query={"inference": {"$exists": False}})
    plain = _trigger("fmt_a", poll_interval=0.2)

    async def scenario() -> tuple[list[dict], list[dict]]:
        a: list[dict] = []
        b: list[dict] = []
        tasks = [asyncio.create_task(_consume(unknown, a)), asyncio.create_task(_consume(plain, b))]
        await asyncio.sleep(1.0)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return a, b

    a, b = asyncio.run(scenario())
    assert a == [{"format": None, "object_ids": [fresh], "count": 1}]
    assert b == [{"format": "fmt_a", "object_ids": [formatted], "count": 1}]
    assert {"status": "committed", "format": None, "inference": {"$exists": False}} in finds.filters


def test_objects_arriving_together_are_announced_once_each(catalog: CatalogHook) -> None:
    formats = ("fmt_a", "fmt_b", "fmt_c")
    triggers = [_trigger(fmt, poll_interval=0.1) for fmt in formats]

    async def scenario() -> tuple[list[list[dict]], dict[str, set[str]]]:
        outs: list[list[dict]] = [[] for _ in triggers]
        tasks = [asyncio.create_task(_consume(t, o)) for t, o in zip(triggers, outs, strict=True)]
        await asyncio.sleep(0.3)
        sent: dict[str, set[str]] = {fmt: set() for fmt in formats}
        for burst in range(5):  # bursts of 3 per format, written while the poll runs
            for fmt in formats:
                for _ in range(3):
                    sent[fmt].add(await asyncio.to_thread(_record, catalog, fmt, Status.COMMITTED))
            await asyncio.sleep(0.05 * burst)
        await asyncio.sleep(1.0)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return outs, sent

    outs, sent = asyncio.run(scenario())
    for fmt, events in zip(formats, outs, strict=True):
        ids = _ids(events)
        assert len(ids) == len(set(ids)), f"{fmt}: announced twice"
        assert set(ids) == sent[fmt], f"{fmt}: lost or foreign ids"


def test_leaving_triggers_unregister_and_the_poll_ends(catalog: CatalogHook, finds: _Finds) -> None:
    for fmt in ("fmt_a", "fmt_b", "fmt_c"):
        _record(catalog, fmt, Status.COMMITTED)
    triggers = {fmt: _trigger(fmt, poll_interval=0.2) for fmt in ("fmt_a", "fmt_b", "fmt_c")}

    async def scenario() -> dict[str, Any]:
        outs: dict[str, list[dict]] = {fmt: [] for fmt in triggers}
        tasks = {fmt: asyncio.create_task(_consume(t, outs[fmt])) for fmt, t in triggers.items()}
        await asyncio.sleep(0.5)
        tasks.pop("fmt_c").cancel()  # a trigger cancelled by the triggerer
        await asyncio.sleep(0.1)
        finds.filters.clear()
        await asyncio.sleep(0.6)
        after_cancel = [set(f["format"]["$in"]) for f in finds.filters]
        once = _trigger("fmt_b", poll_interval=0.2, once=True)  # joins, fires, leaves
        first = await asyncio.wait_for(anext(once.run()), 5)
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        await asyncio.sleep(0.3)
        polls = dict(raw_objects._POLLS.get(asyncio.get_running_loop(), {}))
        finds.filters.clear()
        await asyncio.sleep(0.6)
        return {"after_cancel": after_cancel, "first": first.payload, "polls": polls, "late": finds.filters}

    res = asyncio.run(scenario())
    assert res["after_cancel"] and all(s == {"fmt_a", "fmt_b"} for s in res["after_cancel"])
    assert res["first"]["format"] == "fmt_b" and res["first"]["count"] == 1
    assert res["polls"] == {}  # nobody left: the poll ended
    assert res["late"] == []  # and stopped querying


def test_cleanup_leaves_the_poll_without_closing_run(catalog: CatalogHook) -> None:
    _record(catalog, "fmt_a", Status.COMMITTED)
    trigger = _trigger("fmt_a", poll_interval=0.1)

    async def scenario() -> tuple[int, int]:
        gen = trigger.run()
        await asyncio.wait_for(anext(gen), 5)  # suspended at its yield, as a triggerer may leave it
        poll = raw_objects._POLLS[asyncio.get_running_loop()][raw_objects._poll_key(trigger)]
        before = len(poll.members)
        await trigger.cleanup()
        after = len(poll.members)
        await gen.aclose()
        return before, after

    assert asyncio.run(scenario()) == (1, 0)


def test_backlog_of_one_format_does_not_hide_another(catalog: CatalogHook) -> None:
    # Each record a millisecond apart: records made in one millisecond tie on creation_date (BSON keeps
    # milliseconds), and the tie-break on their random ids would make "the oldest three" a draw.
    start = utcnow()
    at = [start + dt.timedelta(milliseconds=i) for i in range(6)]
    old = [_record(catalog, "fmt_a", Status.COMMITTED, creation_date=at[i]) for i in range(5)]
    newer = _record(catalog, "fmt_b", Status.COMMITTED, creation_date=at[5])
    limits: dict[str | None, int] = {"fmt_a": 3, "fmt_b": 3, None: 2}
    got = committed_ids_by_format(catalog, limits)
    assert got == {fmt: committed_ids(catalog, fmt, limit) for fmt, limit in limits.items()}
    assert got == {"fmt_a": old[:3], "fmt_b": [newer], None: []}
    unlimited: dict[str | None, int] = {"fmt_a": 0, "fmt_b": 1}  # 0: no limit, as for committed_ids
    assert committed_ids_by_format(catalog, unlimited) == {"fmt_a": old, "fmt_b": [newer]}
    assert committed_ids(catalog, "fmt_a", 0) == old


class _Relay:
    """A TCP relay to the real FerretDB that can be cut: an outage as a client sees it, server untouched."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.up = False
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                b.sendall(data)
        for s in (a, b):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.up = False
        for s in self.open:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        self.open = []

    def close(self) -> None:
        self.cut()
        self.server.close()


def test_outage_reaches_every_trigger_and_they_recover(
    catalog: CatalogHook, mongo_conn: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = _Relay(mongo_conn["host"], int(mongo_conn["port"]))
    extra = {**mongo_conn.get("extra", {}), "serverSelectionTimeoutMS": 300}
    conn = {**mongo_conn, "port": relay.port, "schema": catalog.database, "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_MONGO_RELAY", json.dumps(conn))
    mine = {fmt: _record(catalog, fmt, Status.COMMITTED) for fmt in ("fmt_a", "fmt_b", "fmt_c")}
    triggers = {fmt: _trigger(fmt, "mongo_relay", poll_interval=0.2) for fmt in mine}

    async def scenario() -> tuple[dict[str, list[dict]], dict[str, list[dict]]]:
        outs: dict[str, list[dict]] = {fmt: [] for fmt in triggers}
        tasks = [asyncio.create_task(_consume(t, outs[fmt])) for fmt, t in triggers.items()]
        await asyncio.sleep(1.5)  # catalog unreachable
        during = {fmt: list(o) for fmt, o in outs.items()}
        relay.up = True
        deadline = time.monotonic() + 10
        while not all(outs.values()) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return during, outs

    try:
        during, after = asyncio.run(scenario())
    finally:
        relay.close()
    assert during == {fmt: [] for fmt in mine}
    for fmt, trigger in triggers.items():
        warnings = trigger._log.warnings  # type: ignore[attr-defined]
        assert warnings and all(w.startswith(f"catalog query for format {fmt} failed") for w in warnings)
        assert after[fmt] == [{"format": fmt, "object_ids": [mine[fmt]], "count": 1}]
