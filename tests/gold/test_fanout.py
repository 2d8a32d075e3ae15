"""End to end to all four gold stores through the generated DAG (dag.test()): the campus MQTT example loads
PostgreSQL, InfluxDB, MongoDB and Neo4j; a store dying mid-load fails that target alone, recorded in the
catalog, and `datalake reprocess ID --target T` re-runs just that one."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from click.testing import CliRunner

from airflow_provider_datalake import insert_datalake
from airflow_provider_datalake.cli import cli
from airflow_provider_datalake.descriptors.model import Descriptor
from airflow_provider_datalake.factory import dag_for
from airflow_provider_datalake.hooks.catalog import CatalogHook
from airflow_provider_datalake.processing import ONLY_TARGETS
from airflow_provider_datalake.samples import mqtt_messages, write_mqtt_dump
from tests.conftest import REPO, pg_connect
from tests.factory.conftest import run_dag
from tests.gold.conftest import Graph, Influx

pytestmark = pytest.mark.stack

TARGETS = ["postgres_mqtt_readings", "influxdb_kind", "mongodb_mqtt_messages", "neo4j_campus"]


@pytest.fixture
def campus(
    lake: dict,
    postgres_conn: dict,
    gold_mongo: dict,
    gold_influx: Influx,
    gold_graph: Graph,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[dict[str, Any]]:
    """The shipped example, every target pointed at this test's own schema, database, bucket and labels."""
    tag = uuid.uuid4().hex[:10]
    schema = f"test_{tag}"
    raw = yaml.safe_load((REPO / "examples" / "neocampus_mqtt.yaml").read_text())
    raw["name"] = f"mqtt_{tag}"
    pg, influx, mongo, neo = raw["targets"]
    assert [pg["store"], influx["store"], mongo["store"], neo["store"]] == [
        "postgres",
        "influxdb",
        "mongodb",
        "neo4j",
    ]
    pg["schema"] = schema
    influx.update(conn_id="influx_e2e", bucket=gold_influx.bucket, batch_size=100)
    monkeypatch.setenv("AIRFLOW_CONN_INFLUX_E2E", json.dumps(gold_influx.conn))
    mongo.update(conn_id=gold_mongo["conn_id"], database=gold_mongo["database"])
    for node in neo["nodes"]:
        node["label"] = gold_graph.label(node["label"])
    for rel in neo["relationships"]:
        rel.update(
            {k: gold_graph.label(rel[k]) for k in ("from", "to")}, type=f"{rel['type']}_{gold_graph.tag}"
        )
    desc = Descriptor.model_validate(raw)
    assert [t.name for t in desc.targets] == TARGETS
    conn = pg_connect(postgres_conn)
    yield {
        **lake,
        "desc": desc,
        "schema": schema,
        "pg": conn,
        "influx": gold_influx,
        "mongo": gold_mongo,
        "graph": gold_graph,
        "tmp": tmp_path,
    }
    conn.execute(psycopg.sql.SQL("drop schema if exists {} cascade").format(psycopg.sql.Identifier(schema)))
    conn.close()


def _insert(campus: dict, path: Path) -> dict:
    return insert_datalake(
        path,
        format=campus["desc"].name,
        container=campus["container"],
        swift_conn_id=campus["swift_conn_id"],
        mongo_conn_id=campus["mongo_conn_id"],
    )


def _run(campus: dict) -> Any:
    dag = dag_for(
        campus["desc"], mongo_conn_id=campus["mongo_conn_id"], swift_conn_id=campus["swift_conn_id"]
    )
    return run_dag(dag, campus["tmp"])


def expected(count: int, seed: int) -> dict[str, int]:
    """What each store must hold for the generated messages (computed from the messages themselves)."""
    rows, points, buildings, rooms, sensors = set(), set(), set(), set(), set()
    for m in mqtt_messages(count, seed=seed):
        b, r, k = m["topic"].split("/")
        units = m["value_units"] if isinstance(m["value"], list) else [m["value_units"]]
        rows |= {(b, r, k, m["subID"], m["unitID"], m["time"], u) for u in units}
        points.add((k, b, r, m["subID"], m["unitID"], m["time"]))
        buildings.add(b)
        rooms.add((b, r))
        sensors.add((b, r, k, m["subID"], m["unitID"]))
    return {
        "postgres": len(rows),
        "influxdb": len(points),
        "mongodb": len(rows),
        "Building": len(buildings),
        "Room": len(rooms),
        "Sensor": len(sensors),
    }


def held(campus: dict) -> dict[str, int]:
    from airflow.providers.mongo.hooks.mongo import MongoHook

    pg = campus["pg"].execute(
        psycopg.sql.SQL("select count(*) from {}.mqtt_readings").format(
            psycopg.sql.Identifier(campus["schema"])
        )
    )
    mongo = MongoHook(mongo_conn_id=campus["mongo"]["conn_id"]).get_conn()[campus["mongo"]["database"]]
    graph: Graph = campus["graph"]
    return {
        "postgres": pg.fetchone()[0],
        "influxdb": campus["influx"].points(),
        "mongodb": mongo["mqtt_messages"].count_documents({}),
        "Building": graph.count("Building"),
        "Room": graph.count("Room"),
        "Sensor": graph.count("Sensor"),
    }


def test_campus_mqtt_loads_all_four_stores_and_a_rerun_keeps_every_count(
    campus: dict, tmp_path: Path
) -> None:
    path = tmp_path / "mqtt_dump_0001.json"
    write_mqtt_dump(path, 400, seed=31)
    rec = _insert(campus, path)
    assert _run(campus).state == "success"
    want = expected(400, 31)
    assert held(campus) == want

    catalog = CatalogHook(campus["mongo_conn_id"])
    done = catalog.get(rec["_id"])
    assert done["status"] == "processed" and not done.get("failed_operations")
    ops = {op["target"]: op for op in done["successful_operations"]}
    assert sorted(ops) == sorted(TARGETS)  # the four parallel outcomes, none lost
    assert set(done["processed_data_area_service"]) == {"postgres", "influxdb", "mongodb", "neo4j"}
    assert all(op["rows_quarantined"] == 0 for op in ops.values())
    # lineage back to the raw object in every store
    graph: Graph = campus["graph"]
    (room,) = graph.run(f"MATCH (r:`{graph.label('Room')}`) RETURN r._raw_object_id AS id LIMIT 1")
    assert room["id"] == rec["_id"]
    ids = campus["influx"].query('SELECT distinct("raw_object_id") FROM "energy"')[0]["rows"]
    assert [r["distinct"] for r in ids] == [rec["_id"]]

    # Re-run the whole object: every store holds the same counts.
    result = CliRunner().invoke(cli, ["--mongo-conn-id", campus["mongo_conn_id"], "reprocess", rec["_id"]])
    assert result.exit_code == 0, result.output
    assert _run(campus).state == "success"
    assert held(campus) == want
    assert catalog.get(rec["_id"])["status"] == "processed"


def test_a_store_dying_mid_load_fails_only_its_target_and_reprocess_target_reruns_just_it(
    campus: dict, tmp_path: Path, tcp_proxy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    influx: Influx = campus["influx"]
    proxy = tcp_proxy(influx.conn["host"], influx.conn["port"], stop_after_bytes=40_000)
    extra = {**influx.conn.get("extra", {}), "timeout": 3000}
    monkeypatch.setenv(
        "AIRFLOW_CONN_INFLUX_E2E", json.dumps({**influx.conn, "port": proxy.port, "extra": extra})
    )
    path = tmp_path / "mqtt_dump_0002.json"
    write_mqtt_dump(path, 600, seed=32)
    rec = _insert(campus, path)

    assert _run(campus).state == "failed"  # the run says an object failed...
    want = expected(600, 32)
    got = held(campus)
    assert 0 < got.pop("influxdb") < want.pop("influxdb")  # ...InfluxDB died part-way...
    assert got == want  # ...and the three other stores are fully loaded
    catalog = CatalogHook(campus["mongo_conn_id"])
    failed = catalog.get(rec["_id"])
    assert failed["status"] == "failed"
    (failure,) = failed["failed_operations"]
    assert failure["target"] == "influxdb_kind" and "GoldLoadError" in failure["error"]
    assert "Run the object again" in failure["error"]
    assert sorted(op["target"] for op in failed["successful_operations"]) == sorted(
        set(TARGETS) - {"influxdb_kind"}
    )

    # The store is back; re-run that target alone.
    monkeypatch.setenv("AIRFLOW_CONN_INFLUX_E2E", json.dumps(influx.conn))
    runner = CliRunner()
    args = ["--mongo-conn-id", campus["mongo_conn_id"], "reprocess", rec["_id"], "--target", "influxdb_kind"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert catalog.get(rec["_id"])[ONLY_TARGETS] == ["influxdb_kind"]
    assert _run(campus).state == "success"
    healed = catalog.get(rec["_id"])
    assert healed["status"] == "processed" and ONLY_TARGETS not in healed
    assert held(campus) == expected(600, 32)
    # only InfluxDB was loaded again: one more outcome, for it alone
    assert [op["target"] for op in healed["successful_operations"]].count("influxdb_kind") == 1
    assert len(healed["successful_operations"]) == len(failed["successful_operations"]) + 1


def test_reprocess_target_must_be_a_target_of_the_format(campus: dict, tmp_path: Path) -> None:
    from airflow_provider_datalake.descriptors.store import FormatStore

    FormatStore(CatalogHook(campus["mongo_conn_id"])).push(campus["desc"], author="tests")
    path = tmp_path / "mqtt_dump_0003.json"
    write_mqtt_dump(path, 5, seed=33)
    rec = _insert(campus, path)
    args = ["--mongo-conn-id", campus["mongo_conn_id"], "reprocess", rec["_id"], "--target", "influxdb_kinds"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert "influxdb_kinds not a target of format" in result.output and "influxdb_kind" in result.output
