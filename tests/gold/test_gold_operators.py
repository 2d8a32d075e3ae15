"""InfluxGoldOperator, MongoGoldOperator, Neo4jGoldOperator (shared body ``operators.gold``): called the way a
task runs them (``execute(context)``), on an object committed to the stack's real lake (Swift + catalog),
loading the stack's real InfluxDB, MongoDB-wire server and Neo4j.

Each store gets the same small CSV object: five good rows, one row the parser rejects (a value that is not
a float) and one row the store refuses (no room, no time: no tag/time for InfluxDB, a null merge key for
MongoDB, a null node key for Neo4j).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from airflow.providers.mongo.hooks.mongo import MongoHook

from airflow_provider_datalake.hooks.catalog import CatalogHook
from airflow_provider_datalake.hooks.swift import SwiftHook
from airflow_provider_datalake.operators.gold import GoldOperatorBase
from airflow_provider_datalake.operators.influxdb import InfluxGoldOperator
from airflow_provider_datalake.operators.mongo import MongoGoldOperator
from airflow_provider_datalake.operators.neo4j import Neo4jGoldOperator
from airflow_provider_datalake.processing import QUARANTINE_CONTAINER
from tests.conftest import insert_into
from tests.gold.conftest import Graph, Influx

pytestmark = pytest.mark.stack

T0 = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
GOOD = [(f"r{i}", T0 + dt.timedelta(minutes=i), 20.0 + i / 2) for i in range(5)]
PARSER_BAD = "r9,2025-03-01T09:00:00Z,not-a-number"  # rejected by the parser
STORE_REFUSED = ",,22.5"  # parses (nullable fields), but no store can key it


def csv_lines(rows: list[tuple[str, dt.datetime, float]], *extra: tuple[int, str]) -> bytes:
    """The CSV of ``rows``; each ``(index, line)`` of ``extra`` is inserted at that index of the data."""
    lines = [f"{room},{at.isoformat().replace('+00:00', 'Z')},{value}" for room, at, value in rows]
    for index, line in extra:
        lines.insert(index, line)
    return ("\n".join(["room,at,value", *lines]) + "\n").encode()


CLEAN = csv_lines(GOOD)  # 5 rows
DIRTY = csv_lines(GOOD, (2, PARSER_BAD), (4, STORE_REFUSED))  # 7 rows: 5 good, 1 parser-bad, 1 refused


@dataclass
class Store:
    """One gold store as these tests see it: its operator, its target (pointing at the test's own
    database/bucket/labels) and how many rows of the object it holds."""

    operator: type[GoldOperatorBase]
    target_name: str
    target: dict[str, Any]
    table: str
    mode: str
    count: Callable[[], int]


def influx_store(request: pytest.FixtureRequest) -> Store:
    influx: Influx = request.getfixturevalue("gold_influx")
    return Store(
        InfluxGoldOperator,
        "influxdb_room_temperature",
        {
            "store": "influxdb",
            "conn_id": influx.conn_id,
            "bucket": influx.bucket,
            "measurement": "room_temperature",
            "tags": ["room"],
            "fields": ["value"],
            "time": "at",
        },
        f"{influx.bucket}/room_temperature",
        "overwrite",
        lambda: influx.points("room_temperature"),
    )


def mongo_store(request: pytest.FixtureRequest) -> Store:
    gold: dict = request.getfixturevalue("gold_mongo")

    def count() -> int:
        hook = MongoHook(mongo_conn_id=gold["conn_id"])
        return hook.get_conn()[gold["database"]]["room_temperature"].count_documents({})

    return Store(
        MongoGoldOperator,
        "mongodb_room_temperature",
        {
            "store": "mongodb",
            "conn_id": gold["conn_id"],
            "database": gold["database"],
            "collection": "room_temperature",
            "mode": "merge",
            "keys": ["room"],
        },
        f"{gold['database']}.room_temperature",
        "merge",
        count,
    )


def neo4j_store(request: pytest.FixtureRequest) -> Store:
    graph: Graph = request.getfixturevalue("gold_graph")
    return Store(
        Neo4jGoldOperator,
        "neo4j_campus",
        {
            "store": "neo4j",
            "conn_id": graph.conn_id,
            "graph": "campus",
            "nodes": [{"label": graph.label("Room"), "keys": ["room"], "properties": ["at", "value"]}],
        },
        "neo4j:(default)/campus",
        "merge",
        lambda: graph.count("Room"),
    )


STORES = {"influxdb": influx_store, "mongodb": mongo_store, "neo4j": neo4j_store}


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest) -> Store:
    """The store's fixture fails the test (never skips) when its server is down."""
    return STORES[request.param](request)


def descriptor(store: Store, max_ratio: float = 0.1) -> dict[str, Any]:
    return {
        "name": "room_temperature",
        "version": 1,
        "parser": {"kind": "csv"},
        "fields": [
            {"name": "room", "type": "string"},
            {"name": "at", "type": "timestamp"},
            {"name": "value", "type": "float"},
        ],
        "targets": [store.target],
        "quarantine": {"max_ratio": max_ratio},
    }


def commit(lake: dict, data: bytes) -> dict[str, Any]:
    """Insert ``data`` into the test's raw zone; the committed catalog record."""
    return insert_into(lake, data, format="room_temperature", content_type="text/csv")


def operator(store: Store, lake: dict, record: dict, max_ratio: float = 0.1) -> GoldOperatorBase:
    return store.operator(
        task_id=f"gold_{store.target_name}",
        descriptor=descriptor(store, max_ratio),
        target=store.target_name,
        raw_object_id=record["_id"],
        swift_conn_id=lake["swift_conn_id"],
        mongo_conn_id=lake["mongo_conn_id"],
    )


def test_execute_loads_the_committed_object_and_a_rerun_keeps_the_counts(store: Store, lake: dict) -> None:
    record = commit(lake, CLEAN)
    op = operator(store, lake, record)
    result = op.execute(context={})
    assert result == {
        "rows_written": 5,
        "rows_in": 5,
        "mode": store.mode,
        "table": store.table,
        "rows_rejected": 0,
        "rows_quarantined": 0,
        "quarantine": None,
    }
    assert store.count() == 5

    assert op.execute(context={})["rows_in"] == 5  # a retry of the task in the same process...
    assert operator(store, lake, record).execute(context={})["rows_in"] == 5  # ...or a fresh one
    assert store.count() == 5  # ...adds nothing


def quarantined(lake: dict, result_or_outcome: dict) -> list[dict[str, Any]]:
    """The bad rows kept in Swift for this load, as the JSON lines the quarantine object holds."""
    container, _, name = result_or_outcome["quarantine"].partition("/")
    assert container == QUARANTINE_CONTAINER
    body = b"".join(SwiftHook(lake["swift_conn_id"]).iter_object(container, name))
    return [json.loads(line) for line in body.splitlines()]


def test_bad_rows_are_quarantined_with_reasons_and_the_outcome_recorded(store: Store, lake: dict) -> None:
    record = commit(lake, DIRTY)
    result = operator(store, lake, record, max_ratio=0.3).execute(context={"run_id": "r1"})  # 2 of 7: 28.6%
    assert (result["rows_in"], result["rows_written"], result["rows_rejected"]) == (6, 5, 1)
    assert result["rows_quarantined"] == 2 and store.count() == 5
    bad = quarantined(lake, result)
    assert [b["row_number"] for b in bad] == [3, 5]  # the parser's reject, then the store's
    assert bad[0]["field"] == "value" and bad[0]["value"] == "not-a-number" and bad[0]["error"]
    assert bad[1]["error"]

    after = CatalogHook(lake["mongo_conn_id"]).get(record["_id"])
    assert after is not None and after["failed_operations"] == []
    [outcome] = after["successful_operations"]
    assert outcome["target"] == store.target_name and outcome["run_id"] == "r1"
    assert (outcome["rows_loaded"], outcome["rows_quarantined"]) == (5, 2)
    assert outcome["quarantine"] == result["quarantine"]
    assert after["status"] == "committed"  # claiming and finishing belong to the run that owns the object

    again = operator(store, lake, record, max_ratio=0.3).execute(context={"run_id": "r2"})  # idempotent
    assert (again["rows_in"], again["rows_quarantined"]) == (6, 2) and store.count() == 5


def test_over_the_ratio_the_task_fails_and_the_failure_is_recorded(store: Store, lake: dict) -> None:
    record = commit(lake, DIRTY)
    with pytest.raises(Exception, match=r"2 of 7 rows are bad \(28\.6% > 25\.0% allowed\)"):
        operator(store, lake, record, max_ratio=0.25).execute(context={"run_id": "r1"})
    # No transaction across batches in these stores (gold/common.py): the ratio is known at the end of the
    # stream, so batches already sent stay (InfluxDB still held its last batch here: none sent); either way
    # only good rows, and a re-run converges to the same state.
    assert store.count() in (0, 5)
    after = CatalogHook(lake["mongo_conn_id"]).get(record["_id"])
    assert after is not None and after["successful_operations"] == []
    [failed] = after["failed_operations"]
    assert "28.6% > 25.0% allowed" in failed["error"] and failed["rows_quarantined"] == 2
    assert len(quarantined(lake, failed)) == 2  # the reasons are kept even when the load fails


def test_a_second_execute_of_the_same_instance_counts_parser_rejects_once(store: Store, lake: dict) -> None:
    record = commit(lake, DIRTY)
    op = operator(store, lake, record, max_ratio=0.3)
    first = op.execute(context={})
    second = op.execute(context={})  # (rows_written may differ: a merge counts changed documents only)
    counts = ("rows_in", "rows_rejected", "rows_quarantined", "mode", "table")
    assert [second[k] for k in counts] == [first[k] for k in counts] and store.count() == 5


def test_target_is_picked_by_name_among_the_store_s_own_targets(store: Store) -> None:
    desc = descriptor(store)
    with pytest.raises(
        ValueError, match=rf"no {store.target['store']} target 'nope' \(known: {store.target_name}\)"
    ):
        store.operator(task_id="t", descriptor=desc, target="nope", raw_object_id="x")
    others = [
        s for s in (InfluxGoldOperator, MongoGoldOperator, Neo4jGoldOperator) if s is not store.operator
    ]
    for other in others:  # another store's operator does not take this target
        with pytest.raises(ValueError, match=r"\(known: none\)"):
            other(task_id="t", descriptor=desc, target=store.target_name, raw_object_id="x")
    op = store.operator(
        task_id="t", descriptor=desc, target=store.target_name, raw_object_id="{{ params.o }}"
    )
    op.render_template_fields({"params": {"o": "obj-7"}})
    assert op.raw_object_id == "obj-7" and op.target.name == store.target_name


def test_an_object_missing_from_the_catalog_fails_clearly(store: Store, lake: dict) -> None:
    op = operator(store, lake, {"_id": "no-such-object"})
    with pytest.raises(ValueError, match=r"raw object no-such-object is not in the catalog \(mongo_test\)"):
        op.execute(context={})
    assert store.count() == 0
