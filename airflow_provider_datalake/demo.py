"""The demo's steps that are not printing: the format each generated sample is given, waiting for Airflow
to register the DAGs, waiting for the objects to be processed, and what each gold store holds after.

`datalake demo` prints them; a test or a notebook can drive the same steps.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_datalake.airflow_rest import AirflowRest, AirflowRestError

if TYPE_CHECKING:
    from datalake_catalog.catalog import Catalog


def sample_format(path: Path) -> str:
    """The format name the demo gives each generated sample (descriptors key on it)."""
    stem = path.stem.rsplit("_", 1)[0]
    return {
        "mqtt_dump": "neocampus_mqtt",
        "mqtt_stream": "neocampus_mqtt_jsonl",
        "sensor_readings": "sensor_readings",
        "lab_export_fr": "lab_csv_fr",
        "lab_export_en": "lab_csv_en",
        "campus_photo": "image",
    }.get(stem, stem)


def wait_for_dags(names: list[str], timeout: float) -> set[str]:
    """Until the dag-processor has registered every format's DAG, unpaused (it scans the folder every few
    seconds), through the stack's API (``AIRFLOW__API__BASE_URL``; without it, nothing is waited for).
    Returns the formats whose DAG was not registered in time."""
    if not os.environ.get("AIRFLOW__API__BASE_URL"):
        return set()
    rest = AirflowRest.from_env("viewer")
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending and time.monotonic() < deadline:
        for name in list(pending):
            try:
                if (rest.get_json(f"/api/v2/dags/datalake__{name}") or {}).get("is_paused") is False:
                    pending.discard(name)
            except AirflowRestError:
                pass
        time.sleep(1)
    time.sleep(5)  # the triggerer starts the new asset watchers on its next loop
    return pending


def wait_for_outcomes(catalog: Catalog, record_ids: list[str], timeout: float) -> None:
    """Until every record is processed or failed, or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = [catalog.get(rid)["status"] for rid in record_ids]  # type: ignore[index]
        if all(state in ("processed", "failed") for state in states):
            return
        time.sleep(2)


def last_run_outcomes(rec: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(successful, failed) outcomes of the record's last run: every target of it."""
    ok: list[dict[str, Any]] = rec.get("successful_operations", [])
    bad: list[dict[str, Any]] = rec.get("failed_operations", [])
    none: dict[str, Any] = {}
    last_run = max(ok + bad, key=lambda op: str(op.get("finished", "")), default=none).get("run_id")
    return [o for o in ok if o.get("run_id") == last_run], [o for o in bad if o.get("run_id") == last_run]


def postgres_counts(descriptors: list[Any]) -> Iterator[tuple[str, str, int, int]]:
    """(schema, table, rows, raw objects) for every PostgreSQL target, one table at a time; 0, 0 for a
    table that cannot be read (not created yet)."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook
    from psycopg import sql

    tables = sorted(
        {(t.conn_id, t.schema_, t.table) for d in descriptors for t in d.targets if t.store == "postgres"}
    )
    for conn_id, schema, table in tables:
        with PostgresHook(postgres_conn_id=conn_id).get_conn() as conn:
            query = sql.SQL("select count(*), count(distinct _raw_object_id) from {}.{}").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            try:
                rows, objects = conn.execute(query).fetchone()
            except Exception:
                rows, objects = 0, 0
        yield schema, table, rows, objects


def store_summary(target: Any) -> str:
    """What an InfluxDB, MongoDB or Neo4j target holds, in one line."""
    if target.store == "mongodb":
        from airflow.providers.mongo.hooks.mongo import MongoHook

        coll = MongoHook(mongo_conn_id=target.conn_id).get_conn()[target.database][target.collection]
        objects = len(coll.distinct("_raw_object_id"))
        where = f"{target.database}.{target.collection}"
        return f"{coll.count_documents({})} documents in {where} from {objects} raw objects"
    if target.store == "neo4j":
        from airflow.providers.neo4j.hooks.neo4j import Neo4jHook

        hook = Neo4jHook(conn_id=target.conn_id)
        counts = [
            f"{hook.run(f'MATCH (n:`{n.label}`) RETURN count(n) AS c')[0]['c']} {n.label}"
            for n in target.nodes
        ]
        counts += [
            f"{hook.run(f'MATCH ()-[e:`{r.type}`]->() RETURN count(e) AS c')[0]['c']} {r.type}"
            for r in target.relationships
        ]
        return ", ".join(counts)
    if target.store == "influxdb":
        from airflow.providers.influxdb.hooks.influxdb import InfluxDBHook

        from airflow_provider_datalake.gold.influxdb import DEFAULT_BUCKET

        influx = InfluxDBHook(conn_id=target.conn_id)
        client = influx.get_conn()
        bucket = target.bucket or (influx.extras or {}).get("bucket") or DEFAULT_BUCKET
        flux = (
            f'from(bucket: "{bucket}") |> range(start: 0) |> filter(fn: (r) => r._field == "raw_object_id") '
            '|> group(columns: ["_measurement"]) |> count()'
        )
        per = {
            rec.values["_measurement"]: rec.get_value()
            for table in client.query_api().query(flux)
            for rec in table
        }
        total = sum(per.values())
        detail = ", ".join(f"{m} {n}" for m, n in sorted(per.items()))
        return f"{total} points in {bucket} ({detail})"
    return "-"
