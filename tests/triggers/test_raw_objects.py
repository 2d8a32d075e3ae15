"""CommittedObjectsTrigger against the real catalog: announces committed objects, once each, in time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Iterator

import pytest

from airflow_provider_datalake.hooks.catalog import CatalogHook, Status, utcnow
from airflow_provider_datalake.triggers.raw_objects import CommittedObjectsTrigger

pytestmark = pytest.mark.stack


@pytest.fixture
def catalog(mongo_conn: dict, monkeypatch: pytest.MonkeyPatch) -> Iterator[CatalogHook]:
    database = f"test_trig_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("AIRFLOW_CONN_MONGO_TRIG", json.dumps({**mongo_conn, "schema": database}))
    hook = CatalogHook("mongo_trig")
    yield hook
    hook.get_conn().drop_database(database)


def _record(catalog: CatalogHook, fmt: str, status: Status) -> str:
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
