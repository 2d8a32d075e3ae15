"""End to end with `auto`, through Airflow (dag.test): a file of a never-seen format is inserted without a
format -> the unknown-formats DAG infers and activates its descriptor and syncs the DAG files -> the new
format's generated DAG loads it -> rows in PostgreSQL. No YAML is written by hand."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from airflow_provider_datalake import insert_datalake
from airflow_provider_datalake.descriptors.store import FormatStore
from airflow_provider_datalake.factory import build_dag
from airflow_provider_datalake.factory.dags import unknown_formats_dag
from airflow_provider_datalake.format_cache import CACHE_NAME
from airflow_provider_datalake.hooks.catalog import CatalogHook
from airflow_provider_datalake.inference.corpus import csv_fr_latin1
from airflow_provider_datalake.inference.drafts import AUTO, PolicyStore
from tests.conftest import pg_connect
from tests.factory.conftest import run_dag

pytestmark = pytest.mark.stack


@pytest.fixture
def pg(postgres_conn: dict) -> Iterator[tuple[psycopg.Connection, str]]:
    schema = f"test_inf_{uuid.uuid4().hex[:8]}"
    conn = pg_connect(postgres_conn)
    yield conn, schema
    conn.execute(psycopg.sql.SQL("drop schema if exists {} cascade").format(psycopg.sql.Identifier(schema)))
    conn.close()


def test_a_never_seen_format_lands_in_postgres_with_auto(lake: dict, pg, tmp_path: Path) -> None:
    import random

    conn, schema = pg
    tag = uuid.uuid4().hex[:8] + "x"  # an all-digit tag after '_' would be taken for file numbering
    item = csv_fr_latin1(random.Random(7), 500)  # Latin-1, ';', '1 234,5', preamble, day-first dates
    path = tmp_path / f"meteo_{tag}_2020-02-01.csv"
    path.write_bytes(item.data)
    catalog = CatalogHook(lake["mongo_conn_id"])
    PolicyStore(catalog).set(AUTO, container=lake["container"])
    rec = insert_datalake(
        path,
        container=lake["container"],
        swift_conn_id=lake["swift_conn_id"],
        mongo_conn_id=lake["mongo_conn_id"],
    )
    assert rec["format"] is None

    dags = tmp_path / "dags"
    dags.mkdir()
    infer_dag = unknown_formats_dag(
        dags_folder=dags,
        mongo_conn_id=lake["mongo_conn_id"],
        swift_conn_id=lake["swift_conn_id"],
        schema=schema,
        stores=("postgres",),
        dag_id=f"test_unknown_{tag}",
    )
    assert run_dag(infer_dag, tmp_path).state == "success"
    name = f"meteo_{tag}"
    assert catalog.get(rec["_id"])["format"] == name
    assert (dags / f"datalake__{name}.py").exists()  # synced by the task: its DAG appears

    # The generated DAG, built exactly as its file builds it: from the local cache only.
    fmt_dag = build_dag(
        name,
        cache_path=dags / CACHE_NAME,
        mongo_conn_id=lake["mongo_conn_id"],
        swift_conn_id=lake["swift_conn_id"],
    )
    assert run_dag(fmt_dag, tmp_path).state == "success"
    done = catalog.get(rec["_id"])
    assert done["status"] == "processed"
    (outcome,) = done["successful_operations"]
    assert (outcome["rows_loaded"], outcome["rows_quarantined"]) == (500, 0)
    rows = conn.execute(
        psycopg.sql.SQL(
            "select station, date_releve, temperature, debit from {}.{} order by _source_row"
        ).format(psycopg.sql.Identifier(schema), psycopg.sql.Identifier(name))
    ).fetchall()
    assert len(rows) == 500 and isinstance(rows[0][2], float) and rows[0][1].year >= 2019
    desc = FormatStore(catalog).get(name)
    assert desc.evidence is not None and desc.evidence.shape == "csv"  # it carries its evidence
