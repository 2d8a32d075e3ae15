"""Under the stack's real Airflow (api-server, scheduler, dag-processor, triggerer): insert_datalake alone
causes the run, and the rows appear in PostgreSQL. Nothing here triggers a DAG by hand."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from airflow_provider_datalake import insert_datalake
from airflow_provider_datalake.descriptors.model import Descriptor
from airflow_provider_datalake.hooks.catalog import CatalogHook
from airflow_provider_datalake.samples import write_mqtt_dump
from tests.conftest import REPO, pg_connect
from tests.factory.conftest import api, format_under_airflow, mqtt_rows, wait_for

pytestmark = pytest.mark.stack


@contextmanager
def mqtt_format(postgres_conn: dict, prefix: str, **settings: Any) -> Iterator[tuple[Descriptor, Any, str]]:
    """A new campus MQTT format (``<prefix>_<tag>``, top-level ``settings`` added), loading into PostgreSQL
    alone (the other stores: tests/gold/test_fanout.py) in its own schema: (descriptor, connection,
    schema). The schema goes afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    raw = yaml.safe_load((REPO / "examples" / "neocampus_mqtt.yaml").read_text())
    raw["name"] = schema
    raw["targets"] = raw["targets"][:1]
    raw["targets"][0]["schema"] = schema
    desc = Descriptor.model_validate({**raw, **settings})
    pg = pg_connect(postgres_conn)
    try:
        yield desc, pg, schema
    finally:
        pg.execute(psycopg.sql.SQL("drop schema if exists {} cascade").format(psycopg.sql.Identifier(schema)))
        pg.close()


@pytest.fixture(params=["per-format", "single"])
def live_format(request: pytest.FixtureRequest, postgres_conn: dict) -> Iterator[dict]:
    """A new format under the running Airflow, in either layout of the dags folder (in `single`, its
    tasks run from the one file, which a task's process builds only its own DAG from)."""
    with (
        mqtt_format(postgres_conn, "live") as (desc, pg, schema),
        format_under_airflow(desc, layout=request.param),
    ):
        yield {"desc": desc, "pg": pg, "schema": schema, "layout": request.param}


def _count(live: dict) -> int:
    try:
        q = psycopg.sql.SQL("select count(*) from {}.mqtt_readings").format(
            psycopg.sql.Identifier(live["schema"])
        )
        return live["pg"].execute(q).fetchone()[0]
    except psycopg.errors.UndefinedTable:
        return 0


def test_insert_alone_starts_the_run_and_rows_appear(live_format: dict, tmp_path: Path) -> None:
    fmt = live_format["desc"].name
    dag_id = f"datalake__{fmt}"
    wait_for(
        f"the dag-processor to parse {dag_id}", lambda: api(f"dags/{dag_id}").get("is_paused") is False, 90
    )
    expected_file = "datalake_formats.py" if live_format["layout"] == "single" else f"{dag_id}.py"
    wait_for(
        f"{dag_id} to come from {expected_file}",
        lambda: api(f"dags/{dag_id}/details").get("fileloc", "").endswith(expected_file),
        90,
    )
    time.sleep(5)  # the triggerer picks the new asset watcher up on its next loop

    path = tmp_path / "mqtt_dump_live.json"
    write_mqtt_dump(path, 120, seed=33)
    expected = mqtt_rows(120, seed=33)
    rec = insert_datalake(path, format=fmt)
    wait_for("the rows in PostgreSQL", lambda: _count(live_format) == expected, 180)
    runs = api(f"dags/{dag_id}/dagRuns")["dag_runs"]
    assert runs and all(r["run_type"] == "asset_triggered" for r in runs)
    wait_for("the object to be processed", lambda: CatalogHook().get(rec["_id"])["status"] == "processed", 60)


def test_a_backlog_past_one_batch_drains_run_after_run(postgres_conn: dict, tmp_path: Path) -> None:
    """Five objects of a format whose runs take two each: the runs that could not take them all queue the
    next run themselves (``queue_next``'s event on the format's asset), so the objects past the first
    batches do not wait for the trigger to announce them again (300 s), and the chain ends with the
    backlog."""
    with (
        mqtt_format(postgres_conn, "backlog", processing={"batch": 2}) as (desc, _, _),
        format_under_airflow(desc) as dag_id,
    ):
        ids = []
        for seed in range(5):
            path = tmp_path / f"mqtt_{seed}.json"
            write_mqtt_dump(path, 10, seed=seed)
            ids.append(insert_datalake(path, format=desc.name)["_id"])
        catalog = CatalogHook()
        wait_for(
            "all five objects processed",
            lambda: all(catalog.get(i)["status"] == "processed" for i in ids),
            240,
        )
        wait_for(
            "every run to end",
            lambda: all(
                r["state"] in ("success", "failed") for r in api(f"dags/{dag_id}/dagRuns")["dag_runs"]
            ),
            120,
        )
        runs = api(f"dags/{dag_id}/dagRuns")["dag_runs"]
        assert all(r["state"] == "success" for r in runs), runs
        assert 3 <= len(runs) <= 5, [r["dag_run_id"] for r in runs]
        sources = [
            (event["source_dag_id"], event["source_task_id"])
            for r in runs
            for event in api(f"dags/{dag_id}/dagRuns/{r['dag_run_id']}/upstreamAssetEvents")["asset_events"]
        ]
        assert (dag_id, "queue_next") in sources, sources
        # the run that took the last objects found nothing left, and queued nothing more
        states = [
            api(f"dags/{dag_id}/dagRuns/{r['dag_run_id']}/taskInstances/queue_next")["state"] for r in runs
        ]
        assert "skipped" in states, states
