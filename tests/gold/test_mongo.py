"""MongoLoader against the stack's real MongoDB-wire server: modes, re-runs, lineage, indexes, bad rows,
and the store going away mid-run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest
from airflow.providers.mongo.hooks.mongo import MongoHook
from pymongo.monitoring import CommandFailedEvent, CommandListener, CommandStartedEvent, CommandSucceededEvent

from airflow_provider_datalake.descriptors.model import MongoTarget
from airflow_provider_datalake.gold.common import GoldLoadError
from airflow_provider_datalake.gold.mongo import MongoLoader
from tests.gold.conftest import Rejected, batches_of, fields_of, stop_after

pytestmark = pytest.mark.stack

UTC = dt.UTC
FIELDS = fields_of(sensor="string", seq="int", value="float", at="timestamp", day="date", extra="json")
NAMES = [f.name for f in FIELDS]
T0 = dt.datetime(2021, 7, 22, 11, 11, 22, tzinfo=UTC)


def rows(n: int, *, sensors: int = 3, offset: float = 0.0) -> list[tuple[Any, ...]]:
    return [
        (
            f"u4/30{i % sensors}/temperature",
            i,
            20.0 + i / 10 + offset,
            T0 + dt.timedelta(minutes=i),
            dt.date(2021, 7, 22),
            {"raw": [i, "x"], "é": None},
        )
        for i in range(n)
    ]


def loader(gold: dict, mode: str = "replace_object", keys: Sequence[str] = (), **kw: Any) -> MongoLoader:
    target = MongoTarget(
        conn_id=gold["conn_id"],
        database=gold["database"],
        collection="readings",
        mode=mode,
        keys=list(keys),
        **kw,
    )
    return MongoLoader(MongoHook(mongo_conn_id=gold["conn_id"]), target, FIELDS)


def docs(gold: dict, **query: Any) -> list[dict[str, Any]]:
    coll = MongoHook(mongo_conn_id=gold["conn_id"]).get_conn()[gold["database"]]["readings"]
    return sorted(coll.find(query), key=lambda d: (d["_raw_object_id"], d["_source_row"]))


def test_replace_object_loads_documents_with_lineage_and_rerun_keeps_counts(gold_mongo: dict) -> None:
    load = loader(gold_mongo)
    load.ensure_table()
    load.ensure_table()  # idempotent
    result = load.load("obj-1", batches_of(NAMES, rows(7), size=3))
    assert (result.rows_in, result.rows_written, result.mode) == (7, 7, "replace_object")
    assert result.table == f"{gold_mongo['database']}.readings"
    before = docs(gold_mongo)
    assert len(before) == 7
    first = before[0]
    assert first["sensor"] == "u4/300/temperature" and first["seq"] == 0 and first["value"] == 20.0
    assert first["at"] == T0.replace(tzinfo=None)  # BSON dates are UTC
    assert first["day"] == dt.datetime(2021, 7, 22)  # no date-only type in BSON: midnight UTC
    assert first["extra"] == {"raw": [0, "x"], "é": None}
    assert (first["_raw_object_id"], first["_source_row"]) == ("obj-1", 1)
    assert isinstance(first["_loaded_at"], dt.datetime)

    # Re-run the same object (a fixed value): same count, the new values.
    again = load.load("obj-1", batches_of(NAMES, rows(7, offset=1.0), size=4))
    assert again.rows_written == 7
    after = docs(gold_mongo)
    assert len(after) == 7 and after[0]["value"] == 21.0
    # Another object is added beside it, and replacing it leaves obj-1 alone.
    load.load("obj-2", batches_of(NAMES, rows(2)))
    load.load("obj-2", batches_of(NAMES, rows(1)))
    assert (load.count_object_rows("obj-1"), load.count_object_rows("obj-2")) == (7, 1)


class Deletes(CommandListener):
    """A pymongo command listener: the filters of every delete a client sent."""

    def __init__(self) -> None:
        self.filters: list[dict[str, Any]] = []

    def started(self, event: CommandStartedEvent) -> None:
        if event.command_name == "delete":
            self.filters += [d["q"] for d in event.command["deletes"]]

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass


def flaky_loader(gold: dict, tcp_proxy: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[MongoLoader, Any]:
    """A replace_object loader whose connection goes through a TCP proxy a test can stop: (loader, proxy)."""
    import json

    conn = gold["conn"]
    proxy = tcp_proxy(conn["host"], conn["port"])
    extra = {**conn.get("extra", {}), "serverSelectionTimeoutMS": 1500, "connectTimeoutMS": 1000}
    monkeypatch.setenv(
        "AIRFLOW_CONN_MONGO_FLAKY",
        json.dumps({**conn, "port": proxy.port, "schema": gold["database"], "extra": extra}),
    )
    return loader({**gold, "conn_id": "mongo_flaky"}), proxy


def watched_loader(gold: dict, deletes: Deletes) -> MongoLoader:
    """A replace_object loader whose client reports the deletes it sends to the real server."""
    from pymongo import MongoClient

    load = loader(gold)
    load.hook.client = MongoClient(load.hook.uri, event_listeners=[deletes])
    return load


def test_a_first_load_sends_no_delete_and_a_rerun_replaces(gold_mongo: dict) -> None:
    """The ledger knows the collection from its creation: an object's first load only inserts (FerretDB
    would read the whole collection for the delete); its next load deletes what the first wrote."""
    from airflow_provider_datalake.gold.mongo import LEDGER

    deletes = Deletes()
    load = watched_loader(gold_mongo, deletes)
    load.ensure_table()
    load.load("obj-1", batches_of(NAMES, rows(5)))
    load.load("obj-2", batches_of(NAMES, rows(2)))
    assert deletes.filters == []
    load.load("obj-1", batches_of(NAMES, rows(3)))
    # By `_id`, rows 0 to the highest the first load wrote: what FerretDB finds without a scan.
    assert deletes.filters == [{"_id": f"obj-1:{n}"} for n in range(6)]
    assert (load.count_object_rows("obj-1"), load.count_object_rows("obj-2")) == (3, 2)
    assert docs(gold_mongo, _raw_object_id="obj-1")[0]["_id"] == "obj-1:1"
    ledger = MongoHook(mongo_conn_id=gold_mongo["conn_id"]).get_conn()[gold_mongo["database"]][LEDGER]
    assert sorted(d["_id"] for d in ledger.find()) == ["readings/", "readings/obj-1", "readings/obj-2"]
    # the highest row any load wrote: a reload never lowers it
    assert ledger.find_one({"_id": "readings/obj-1"})["last_row"] == 5


def test_a_load_that_dies_leaves_a_ledger_entry_covering_what_it_wrote(
    gold_mongo: dict, tcp_proxy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The highest row is raised before each batch is written: the reload after a load that died between
    batches deletes every document the dead one wrote, by `_id`, and keeps none of its rows."""
    from airflow_provider_datalake.gold.mongo import LEDGER

    dying, proxy = flaky_loader(gold_mongo, tcp_proxy, monkeypatch)
    dying.ensure_table()
    with pytest.raises(GoldLoadError):
        dying.load("obj-1", stop_after(batches_of(NAMES, rows(30), size=5), 3, proxy.stop))
    ledger = MongoHook(mongo_conn_id=gold_mongo["conn_id"]).get_conn()[gold_mongo["database"]][LEDGER]
    written = loader(gold_mongo).count_object_rows("obj-1")
    assert written > 0 and ledger.find_one({"_id": "readings/obj-1"})["last_row"] >= written
    deletes = Deletes()
    again = watched_loader(gold_mongo, deletes)
    assert again.load("obj-1", batches_of(NAMES, rows(4, offset=1.0))).rows_written == 4
    assert all(set(f) == {"_id"} for f in deletes.filters)
    assert [d["value"] for d in docs(gold_mongo)] == [21.0, 21.1, 21.2, 21.3]


def test_an_older_entry_without_its_highest_row_is_deleted_from_by_lineage_once(gold_mongo: dict) -> None:
    """An entry an older release wrote has no highest row: that reload deletes by `_raw_object_id` (its
    documents may have any `_id`), and records the highest row for the next one."""
    from airflow_provider_datalake.gold.mongo import LEDGER

    db = MongoHook(mongo_conn_id=gold_mongo["conn_id"]).get_conn()[gold_mongo["database"]]
    first = loader(gold_mongo)
    first.ensure_table()
    db["readings"].insert_many([{"_raw_object_id": "old", "_source_row": i} for i in (1, 2, 3)])
    db[LEDGER].insert_one({"_id": "readings/old", "collection": "readings", "raw_object_id": "old"})
    deletes = Deletes()
    load = watched_loader(gold_mongo, deletes)
    load.load("old", batches_of(NAMES, rows(2)))
    assert deletes.filters == [{"_raw_object_id": "old"}] and load.count_object_rows("old") == 2
    assert db[LEDGER].find_one({"_id": "readings/old"})["last_row"] == 2
    load.load("old", batches_of(NAMES, rows(1)))
    assert deletes.filters[1:] == [{"_id": f"old:{n}"} for n in range(3)]
    assert load.count_object_rows("old") == 1


def test_a_collection_the_ledger_does_not_track_is_always_deleted_from(gold_mongo: dict) -> None:
    """A collection that had documents before the ledger (an older release), or whose ledger was
    dropped: every load deletes the object's earlier documents, as before the ledger."""
    from airflow_provider_datalake.gold.mongo import LEDGER

    db = MongoHook(mongo_conn_id=gold_mongo["conn_id"]).get_conn()[gold_mongo["database"]]
    db["readings"].insert_many([{"_raw_object_id": "old", "_source_row": i} for i in (1, 2)])
    deletes = Deletes()
    load = watched_loader(gold_mongo, deletes)
    load.ensure_table()
    load.load("old", batches_of(NAMES, rows(1)))
    assert deletes.filters == [{"_raw_object_id": "old"}] and load.count_object_rows("old") == 1
    assert db[LEDGER].count_documents({}) == 0

    db.drop_collection("readings")  # a new collection: tracked from its creation...
    fresh = watched_loader(gold_mongo, deletes)
    fresh.ensure_table()
    fresh.load("obj-1", batches_of(NAMES, rows(4)))
    assert len(deletes.filters) == 1
    db.drop_collection(LEDGER)  # ...until its ledger is dropped: then the object's documents may be there
    again = watched_loader(gold_mongo, deletes)
    again.ensure_table()
    again.load("obj-1", batches_of(NAMES, rows(4)))
    assert len(deletes.filters) == 2 and again.count_object_rows("obj-1") == 4


def test_merge_upserts_on_the_key_last_row_wins_and_rerun_writes_nothing(gold_mongo: dict) -> None:
    load = loader(gold_mongo, "merge", keys=["sensor"])
    load.ensure_table()
    data = rows(9, sensors=3)  # three sensors, three rows each: the last one of each wins
    result = load.load("obj-1", batches_of(NAMES, data, size=4))
    assert result.rows_in == 9
    stored = {d["sensor"]: d for d in docs(gold_mongo)}
    assert len(stored) == 3
    assert {s: d["seq"] for s, d in stored.items()} == {
        "u4/300/temperature": 6,
        "u4/301/temperature": 7,
        "u4/302/temperature": 8,
    }
    assert stored["u4/302/temperature"]["_source_row"] == 9
    loaded_at = {s: d["_loaded_at"] for s, d in stored.items()}

    state = docs(gold_mongo)
    rerun = load.load("obj-1", batches_of(NAMES, data, size=4))
    # A key repeated across batches is written once per batch (the last row of each batch), so the
    # re-run passes through earlier rows' values, and ends where the first run ended.
    assert rerun.rows_written > 0 and docs(gold_mongo) == state
    rerun = load.load("obj-1", batches_of(NAMES, data, size=9))
    assert rerun.rows_written == 0  # one batch: only each key's last row is written, unchanged
    assert {d["sensor"]: d["_loaded_at"] for d in docs(gold_mongo)} == loaded_at

    changed = load.load("obj-2", batches_of(NAMES, rows(3, sensors=3, offset=5.0)))
    assert changed.rows_written == 3
    assert {d["_raw_object_id"] for d in docs(gold_mongo)} == {"obj-2"}
    index = MongoHook(mongo_conn_id=gold_mongo["conn_id"]).get_conn()[gold_mongo["database"]]["readings"]
    info = index.index_information()
    assert info["datalake_merge_key"]["unique"] and [k for k, _ in info["datalake_merge_key"]["key"]] == [
        "sensor"
    ]


def test_append_rerun_adds_nothing(gold_mongo: dict) -> None:
    load = loader(gold_mongo, "append")
    load.ensure_table()
    assert load.load("obj-1", batches_of(NAMES, rows(5), size=2)).rows_written == 5
    assert load.load("obj-1", batches_of(NAMES, rows(5), size=2)).rows_written == 0
    assert load.load("obj-2", batches_of(NAMES, rows(5), size=5)).rows_written == 5
    stored = docs(gold_mongo)
    assert len(stored) == 10 and stored[0]["_id"] == "obj-1:1"


def test_rows_the_store_cannot_take_are_rejected_the_rest_loaded(gold_mongo: dict) -> None:
    load = loader(gold_mongo, "merge", keys=["sensor", "seq"])
    load.ensure_table()
    data = rows(6)
    data[1] = (None, *data[1][1:])  # null merge key
    data[4] = (data[4][0], 2**70, *data[4][2:])  # beyond BSON's int64 (an int field can hold it in Python)
    rejected = Rejected()
    result = load.load("obj-1", batches_of(NAMES, data, size=3), reject=rejected)
    assert sorted(rejected) == [
        (2, "sensor", "merge key sensor is null: it identifies no document"),
        (5, "seq", "integer out of MongoDB's 64-bit range"),
    ]
    assert result.rows_rejected == 2 and result.rows_in == 6
    assert sorted(d["_source_row"] for d in docs(gold_mongo)) == [1, 3, 4, 6]


def test_declared_indexes_are_created_and_a_conflict_is_reported(gold_mongo: dict) -> None:
    load = loader(
        gold_mongo,
        indexes=[{"fields": ["sensor", "at"]}, {"fields": ["seq"], "unique": True, "name": "by_seq"}],
    )
    load.ensure_table()
    coll = MongoHook(mongo_conn_id=gold_mongo["conn_id"]).get_conn()[gold_mongo["database"]]["readings"]
    info = coll.index_information()
    assert [k for k, _ in info["datalake_sensor_at"]["key"]] == ["sensor", "at"]
    assert info["by_seq"]["unique"] is True
    assert [k for k, _ in info["datalake_lineage"]["key"]] == ["_raw_object_id", "_source_row"]
    other = loader(gold_mongo, indexes=[{"fields": ["value"], "name": "by_seq"}])
    with pytest.raises(GoldLoadError, match=r"index by_seq is on \['seq'\].*drop it by hand"):
        other.ensure_table()


def test_loader_streams_batches_without_reading_ahead(gold_mongo: dict) -> None:
    load = loader(gold_mongo)
    load.ensure_table()
    seen: list[int] = []

    def batches():
        for index, batch in enumerate(batches_of(NAMES, rows(20), size=5)):
            if index:  # the previous batch is already in the store when the next one is asked for
                assert load.count_object_rows("obj-s") == index * 5
            seen.append(index)
            yield batch

    assert load.load("obj-s", batches()).rows_written == 20 and seen == [0, 1, 2, 3]


def test_store_gone_mid_run_fails_with_a_clear_error_and_rerun_heals(
    gold_mongo: dict, tcp_proxy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    load, proxy = flaky_loader(gold_mongo, tcp_proxy, monkeypatch)
    load.ensure_table()
    with pytest.raises(GoldLoadError, match=r"obj-1 into test_gold_\w+\.readings \(replace_object\) failed"):
        load.load("obj-1", stop_after(batches_of(NAMES, rows(30), size=5), 2, proxy.stop))
    partial = loader(gold_mongo).count_object_rows("obj-1")
    assert 0 < partial < 30  # no transaction across batches: part of it is there...
    healed = loader(gold_mongo).load("obj-1", batches_of(NAMES, rows(30), size=5))
    assert (
        healed.rows_written == 30 and loader(gold_mongo).count_object_rows("obj-1") == 30
    )  # ...until re-run
