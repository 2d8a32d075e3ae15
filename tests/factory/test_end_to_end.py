"""End to end on the real stack: insert_datalake -> the generated DAG (dag.test()) -> rows in PostgreSQL.

Each test has its own catalog database, Swift container and PostgreSQL schema, and the campus MQTT
example descriptor pointed at that schema.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml

from airflow_provider_datalake import insert_datalake
from airflow_provider_datalake.descriptors.loader import load_descriptor
from airflow_provider_datalake.descriptors.model import Descriptor
from airflow_provider_datalake.factory import dag_for
from airflow_provider_datalake.hooks.catalog import CatalogHook
from airflow_provider_datalake.hooks.swift import SwiftHook
from airflow_provider_datalake.processing import reprocess
from airflow_provider_datalake.samples import mqtt_messages, write_mqtt_dump
from tests.conftest import REPO, pg_connect
from tests.factory.conftest import mqtt_rows, run_dag

pytestmark = pytest.mark.stack


@pytest.fixture
def e2e(lake: dict, postgres_conn: dict, tmp_path: Path) -> Iterator[dict]:
    schema = f"test_{uuid.uuid4().hex[:10]}"
    raw = yaml.safe_load((REPO / "examples" / "neocampus_mqtt.yaml").read_text())
    raw["targets"] = raw["targets"][:1]  # PostgreSQL only here; tests/gold/test_fanout.py runs all four
    raw["targets"][0]["schema"] = schema
    raw["name"] = f"mqtt_{schema}"  # its own format, DAG and asset: nothing shared with a running Airflow
    desc = Descriptor.model_validate(raw)
    pg = pg_connect(postgres_conn)
    yield {**lake, "desc": desc, "schema": schema, "pg": pg, "tmp": tmp_path}
    pg.execute(psycopg.sql.SQL("drop schema if exists {} cascade").format(psycopg.sql.Identifier(schema)))
    pg.close()


def _dag(e2e: dict, desc: Descriptor | None = None):
    return dag_for(
        desc or e2e["desc"], mongo_conn_id=e2e["mongo_conn_id"], swift_conn_id=e2e["swift_conn_id"]
    )


def _insert(e2e: dict, path: Path) -> dict:
    return insert_datalake(
        path,
        format=e2e["desc"].name,
        container=e2e["container"],
        swift_conn_id=e2e["swift_conn_id"],
        mongo_conn_id=e2e["mongo_conn_id"],
    )


def _rows(e2e: dict, where: str = "") -> list[tuple]:
    query = psycopg.sql.SQL("select _raw_object_id, count(*) from {}.mqtt_readings {} group by 1").format(
        psycopg.sql.Identifier(e2e["schema"]), psycopg.sql.SQL(where)
    )
    return e2e["pg"].execute(query).fetchall()


def test_campus_mqtt_to_postgres_with_lineage_and_idempotent_rerun(e2e: dict, tmp_path: Path) -> None:
    path = tmp_path / "mqtt_dump_0001.json"
    write_mqtt_dump(path, 300, seed=21)
    rec = _insert(e2e, path)
    run = run_dag(_dag(e2e), e2e["tmp"])
    assert run.state == "success"
    assert _rows(e2e) == [(rec["_id"], mqtt_rows(300, 21))]

    catalog = CatalogHook(e2e["mongo_conn_id"])
    done = catalog.get(rec["_id"])
    assert done["status"] == "processed"
    (outcome,) = done["successful_operations"]
    assert outcome["target"] == "postgres_mqtt_readings"
    assert outcome["rows_loaded"] == mqtt_rows(300, 21) and outcome["rows_quarantined"] == 0
    assert "postgres" in done["processed_data_area_service"]

    # Re-run: reprocess puts it back, the DAG loads it again, and the counts do not move.
    assert reprocess(catalog, ids=[rec["_id"]]) == [rec["_id"]]
    assert run_dag(_dag(e2e), e2e["tmp"]).state == "success"
    assert _rows(e2e) == [(rec["_id"], mqtt_rows(300, 21))]
    assert catalog.get(rec["_id"])["status"] == "processed"


def test_several_objects_in_one_run_and_nothing_left_committed(e2e: dict, tmp_path: Path) -> None:
    ids = []
    for seed in (1, 2, 3):
        path = tmp_path / f"dump{seed}.json"
        write_mqtt_dump(path, 40, seed=seed)
        ids.append(_insert(e2e, path)["_id"])
    assert run_dag(_dag(e2e), e2e["tmp"]).state == "success"
    counts = dict(_rows(e2e))
    assert set(counts) == set(ids)
    catalog = CatalogHook(e2e["mongo_conn_id"])
    assert {catalog.get(i)["status"] for i in ids} == {"processed"}
    # A second run finds nothing to claim: no object is processed twice.
    assert run_dag(_dag(e2e), e2e["tmp"]).state == "success"
    assert dict(_rows(e2e)) == counts


def test_a_run_that_finds_a_full_batch_queues_the_next_and_the_last_does_not(
    e2e: dict, tmp_path: Path
) -> None:
    """Three objects, runs of two: the first run's claim finds a full batch, so its ``queue_next`` succeeds
    (an event on the format's asset: the next run); the second takes the last object and skips it."""
    ids = []
    for seed in (4, 5, 6):
        path = tmp_path / f"dump{seed}.json"
        write_mqtt_dump(path, 10, seed=seed)
        ids.append(_insert(e2e, path)["_id"])
    dag = dag_for(
        e2e["desc"], mongo_conn_id=e2e["mongo_conn_id"], swift_conn_id=e2e["swift_conn_id"], claim_limit=2
    )
    catalog = CatalogHook(e2e["mongo_conn_id"])
    first = run_dag(dag, e2e["tmp"])
    assert first.state == "success" and first.get_task_instance("queue_next").state == "success"
    assert sorted(catalog.get(i)["status"] for i in ids) == ["committed", "processed", "processed"]
    second = run_dag(dag, e2e["tmp"])
    assert second.state == "success" and second.get_task_instance("queue_next").state == "skipped"
    assert {catalog.get(i)["status"] for i in ids} == {"processed"}


def _dump_with_bad_messages(path: Path) -> int:
    messages = list(mqtt_messages(50, seed=9))
    messages[3]["time"] = "not a time"
    messages[7]["value"] = [
        1.0,
        2.0,
    ]  # value/value_units lengths differ for energy, or a list for a scalar kind
    messages[7]["value_units"] = ["Wh"]
    del messages[11]["topic"]
    path.write_text(json.dumps(messages))
    return 3


def test_bad_rows_are_quarantined_with_reasons_and_linked(e2e: dict, tmp_path: Path) -> None:
    path = tmp_path / "dump.json"
    _dump_with_bad_messages(path)
    rec = _insert(e2e, path)
    assert run_dag(_dag(e2e), e2e["tmp"]).state == "success"
    done = CatalogHook(e2e["mongo_conn_id"]).get(rec["_id"])
    (outcome,) = done["successful_operations"]
    assert outcome["rows_quarantined"] >= 3
    container, _, name = outcome["quarantine"].partition("/")
    lines = b"".join(SwiftHook(e2e["swift_conn_id"]).iter_object(container, name)).decode().splitlines()
    bad = [json.loads(line) for line in lines]
    assert len(bad) == outcome["rows_quarantined"]
    assert {"row_number", "field", "value", "error", "record"} <= set(bad[0])
    assert any(b["field"] == "time" for b in bad)
    assert _rows(e2e)[0][1] == outcome["rows_loaded"]
    SwiftHook(e2e["swift_conn_id"]).delete_object(container, name)


def test_over_the_quarantine_ratio_the_load_fails_and_says_why(e2e: dict, tmp_path: Path) -> None:
    strict = e2e["desc"].model_copy(
        update={"quarantine": e2e["desc"].quarantine.model_copy(update={"max_ratio": 0.0})}
    )
    path = tmp_path / "dump.json"
    _dump_with_bad_messages(path)
    rec = _insert(e2e, path)
    run = run_dag(_dag(e2e, strict), e2e["tmp"])
    assert run.state == "failed"
    done = CatalogHook(e2e["mongo_conn_id"]).get(rec["_id"])
    assert done["status"] == "failed"
    (failure,) = done["failed_operations"]
    assert "QuarantineExceeded" in failure["error"] and "allowed" in failure["error"]
    assert failure["quarantine"]  # the reasons are kept even though nothing was loaded
    assert _rows(e2e) == []  # rolled back: not a single row of this object
    container, _, name = failure["quarantine"].partition("/")
    SwiftHook(e2e["swift_conn_id"]).delete_object(container, name)


def test_the_example_descriptor_file_loads(e2e: dict) -> None:
    assert load_descriptor(REPO / "examples" / "neocampus_mqtt.yaml").name == "neocampus_mqtt"


def test_one_load_task_takes_several_objects_and_one_bad_object_spares_the_others(
    e2e: dict, tmp_path: Path
) -> None:
    strict = e2e["desc"].model_copy(
        update={"quarantine": e2e["desc"].quarantine.model_copy(update={"max_ratio": 0.0})}
    )
    ids = []
    for n in range(7):
        path = tmp_path / f"dump{n}.json"
        if n == 1:
            _dump_with_bad_messages(path)  # over the ratio: this object fails
        else:
            write_mqtt_dump(path, 30, seed=100 + n)
        ids.append(_insert(e2e, path)["_id"])
    dag = dag_for(
        strict, mongo_conn_id=e2e["mongo_conn_id"], swift_conn_id=e2e["swift_conn_id"], objects_per_task=3
    )
    run = run_dag(dag, e2e["tmp"])
    assert run.state == "failed"  # red: one object failed
    loads = [ti for ti in run.get_task_instances() if ti.task_id.startswith("load__")]
    assert sorted(ti.map_index for ti in loads) == [0, 1, 2]  # 7 objects, 3 per task
    catalog = CatalogHook(e2e["mongo_conn_id"])
    states = {rid: catalog.get(rid)["status"] for rid in ids}
    bad = ids[1]
    assert states.pop(bad) == "failed"
    assert set(states.values()) == {"processed"}  # the bad one's task-mates loaded all the same
    assert set(dict(_rows(e2e))) == set(states)
    (failure,) = catalog.get(bad)["failed_operations"]
    assert "QuarantineExceeded" in failure["error"]
    container, _, name = failure["quarantine"].partition("/")
    SwiftHook(e2e["swift_conn_id"]).delete_object(container, name)
