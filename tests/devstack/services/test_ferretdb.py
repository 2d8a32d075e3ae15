"""FerretDB (devstack/services/ferretdb.py): the catalog's server and the gold zone's documents."""

from __future__ import annotations

import sqlite3
import time
import uuid

import pymongo
import pytest

from tests.conftest import REPO, require_port

pytestmark = pytest.mark.stack


def test_ferretdb_insert_and_find(mongo_conn: dict) -> None:
    client = pymongo.MongoClient(
        mongo_conn["host"], int(mongo_conn["port"]), serverSelectionTimeoutMS=3000, socketTimeoutMS=10000
    )
    coll = client["stack_test"][f"c{uuid.uuid4().hex[:8]}"]
    try:
        coll.insert_many([{"sensor": "u4/302/humidity", "value": v} for v in (35, 36, 37)])
        found = coll.find_one_and_update({"value": 36}, {"$set": {"seen": True}}, return_document=True)
        assert found["seen"] is True
        assert coll.count_documents({"value": {"$gte": 36}}) == 2
    finally:
        coll.drop()
        client.close()


def test_ferretdb_looks_up_id_through_an_index_on_new_collections(mongo_conn: dict) -> None:
    """Our FerretDB main adds the index on the expression its SQLite backend filters ``_id`` by (the
    backend's own ``_id`` index is on another spelling, which SQLite's planner never matches)."""
    client = pymongo.MongoClient(
        mongo_conn["host"], int(mongo_conn["port"]), serverSelectionTimeoutMS=3000, socketTimeoutMS=10000
    )
    database, name = f"stack_idx_{uuid.uuid4().hex[:8]}", "records"
    try:
        client[database][name].insert_one({"_id": "a", "value": 1})
        path = REPO / ".stack" / "ferretdb" / f"{database}.sqlite"
        plan: list[str] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                [table] = db.execute("SELECT table_name FROM _ferretdb_collections WHERE name = ?", (name,))
                query = f"EXPLAIN QUERY PLAN SELECT * FROM \"{table[0]}\" WHERE _ferretdb_sjson->'$._id' = ?"  # noqa: S608 (FerretDB's table)
                plan = [row[-1] for row in db.execute(query, ('"a"',))]
            if any("USING INDEX" in step for step in plan):
                break
            time.sleep(0.2)
        assert any(f"USING INDEX {table[0]}__id_lookup" in step for step in plan), plan
        assert client[database][name].find_one({"_id": "a"}) == {"_id": "a", "value": 1}
    finally:
        client.drop_database(database)
        client.close()


def test_mongo_gold_is_its_own_database_on_the_same_server() -> None:
    from airflow.providers.mongo.hooks.mongo import MongoHook

    require_port("MongoDB-wire server (FerretDB)", "mongo_gold")
    hook = MongoHook(mongo_conn_id="mongo_gold")
    collection = f"stack_test_{uuid.uuid4().hex[:8]}"
    try:
        hook.insert_one(collection, {"building": "u4", "value": 36.5})
        assert hook.find(collection, {"building": "u4"}, find_one=True)["value"] == 36.5
        assert collection in hook.get_conn()["datalake_gold"].list_collection_names()
    finally:
        hook.get_conn()["datalake_gold"].drop_collection(collection)
        hook.close()
