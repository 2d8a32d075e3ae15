"""PostgresGoldOperator: called the way a task runs it (``execute(context)``), against the real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from airflow_provider_datalake.descriptors.model import Descriptor
from airflow_provider_datalake.gold.common import GoldLoadError
from airflow_provider_datalake.hooks.catalog import CatalogHook
from airflow_provider_datalake.hooks.swift import SwiftHook
from airflow_provider_datalake.operators.postgres import PostgresGoldOperator
from tests.gold.conftest import CONN_ID, Pg, batches_of

pytestmark = pytest.mark.stack

COLUMNS = ["room", "at", "value", "meta"]
ROWS = [
    ("u4-302", dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC), 21.5, {"unit": "°C"}),
    ("u4-302", dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC), 22.0, None),
    ("u4-101", dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC), 19.25, {"unit": "°C", "ok": True}),
]


def descriptor(schema: str, mode: str = "merge") -> dict[str, Any]:
    return {
        "name": "room_temperature",
        "version": 2,
        "parser": {"kind": "csv"},
        "fields": [
            {"name": "room", "type": "string", "required": True},
            {"name": "at", "type": "timestamp"},
            {"name": "value", "type": "float"},
            {"name": "meta", "type": "json"},
        ],
        "targets": [
            {
                "store": "postgres",
                "conn_id": CONN_ID,
                "schema": schema,
                "table": "room_temperature",
                "mode": mode,
                "keys": ["room", "at"] if mode == "merge" else [],
            }
        ],
    }


def test_execute_loads_and_returns_an_xcom_able_result(pg: Pg) -> None:
    op = PostgresGoldOperator(
        task_id="gold_pg",
        descriptor=descriptor(pg.schema),
        target="postgres_room_temperature",
        raw_object_id="obj-42",
        batches_callable=lambda: batches_of(COLUMNS, ROWS, size=2),
    )
    result = op.execute(context={})
    assert result == {
        "rows_written": 3,
        "rows_in": 3,
        "mode": "merge",
        "table": f"{pg.schema}.room_temperature",
        "rows_quarantined": 0,
        "quarantine": None,
    }
    assert pg.rows("room_temperature", [*COLUMNS, "_raw_object_id"], order=["_source_row"]) == [
        (*row, "obj-42") for row in ROWS
    ]
    assert op.execute(context={})["rows_written"] == 0  # a retry of the task changes nothing
    assert pg.count("room_temperature") == 3


def test_descriptor_object_and_table_name_are_accepted(pg: Pg) -> None:
    op = PostgresGoldOperator(
        task_id="gold_pg",
        descriptor=Descriptor.model_validate(descriptor(pg.schema, mode="replace_object")),
        target="room_temperature",
        raw_object_id="obj-1",
        batches_callable=lambda: batches_of(COLUMNS, ROWS[:1]),
    )
    assert op.execute(context={})["rows_written"] == 1


def test_failed_load_fails_the_task_and_writes_nothing(pg: Pg) -> None:
    bad = [*ROWS[:2], ("u4-101", "not a timestamp", 1.0, None)]
    op = PostgresGoldOperator(
        task_id="gold_pg",
        descriptor=descriptor(pg.schema),
        target="postgres_room_temperature",
        raw_object_id="obj-1",
        batches_callable=lambda: batches_of(COLUMNS, bad, size=1),
    )
    with pytest.raises(GoldLoadError, match="source row 3, column at"):
        op.execute(context={})
    assert pg.count("room_temperature") == 0  # the table was ensured, the object rolled back


def test_unknown_target_fails_when_the_dag_is_parsed() -> None:
    with pytest.raises(ValueError, match="no postgres target 'nope' \\(known: postgres_room_temperature\\)"):
        PostgresGoldOperator(task_id="t", descriptor=descriptor("public"), target="nope", raw_object_id="x")


def test_raw_object_id_is_templated() -> None:
    assert PostgresGoldOperator.template_fields == ("raw_object_id",)
    op = PostgresGoldOperator(
        task_id="t",
        descriptor=descriptor("public"),
        target="room_temperature",
        raw_object_id="{{ params.object }}",
    )
    op.render_template_fields({"params": {"object": "obj-7"}})
    assert op.raw_object_id == "obj-7"


# --------------------------------------------------------------------------- default source: the lake itself


def _lake_descriptor(schema: str, max_ratio: float) -> dict[str, Any]:
    desc = descriptor(schema, mode="replace_object")
    desc["fields"] = [f for f in desc["fields"] if f["name"] != "meta"]
    desc["quarantine"] = {"max_ratio": max_ratio}
    return desc


def test_without_batches_callable_the_object_is_read_from_the_lake(pg: Pg, lake: dict[str, str]) -> None:
    from airflow_provider_datalake import insert_datalake

    lines = ["room,at,value"] + [f"u4-{i},2025-03-01T08:{i:02d}:00Z,{20 + i / 4}" for i in range(10)]
    lines.insert(5, "u4-bad,2025-03-01T09:00:00Z,not-a-number")  # 1 bad row of 11: under 10%
    record = insert_datalake(
        ("\n".join(lines) + "\n").encode(),
        format="room_temperature",
        container=lake["container"],
        content_type="text/csv",
        swift_conn_id=lake["swift_conn_id"],
        mongo_conn_id=lake["mongo_conn_id"],
    )

    def operator(max_ratio: float) -> PostgresGoldOperator:
        return PostgresGoldOperator(
            task_id="gold_pg",
            descriptor=_lake_descriptor(pg.schema, max_ratio),
            target="room_temperature",
            raw_object_id=record["_id"],
            swift_conn_id=lake["swift_conn_id"],
            mongo_conn_id=lake["mongo_conn_id"],
        )

    result = operator(0.1).execute(context={"run_id": "r1"})
    assert (result["rows_written"], result["rows_quarantined"]) == (10, 1)
    container, _, name = result["quarantine"].partition("/")
    [bad] = [
        json.loads(line)
        for line in b"".join(SwiftHook(lake["swift_conn_id"]).iter_object(container, name)).splitlines()
    ]
    assert (bad["row_number"], bad["field"], bad["value"]) == (5, "value", "not-a-number")
    after = CatalogHook(lake["mongo_conn_id"]).get(record["_id"])
    assert after is not None and [o["rows_loaded"] for o in after["successful_operations"]] == [10]
    rows = pg.rows("room_temperature", ["room", "value", "_source_row"], order=["_source_row"])
    assert rows[3:5] == [("u4-3", 20.75, 4), ("u4-4", 21.0, 6)]  # row 5 was the bad one
    with pytest.raises(ValueError, match="1 of 11 rows are bad"):
        operator(0.05).execute(context={})  # over the ratio: the re-load rolls back, the first load stays
    assert pg.count("room_temperature") == 10
    after = CatalogHook(lake["mongo_conn_id"]).get(record["_id"])
    assert after is not None and "1 of 11 rows are bad" in after["failed_operations"][0]["error"]
