"""Under the stack's real Airflow: a load killed mid-run is never recorded as `processed`, and an object whose
run died entirely comes back through its lease. Processes are SIGKILLed at random moments, as an OOM kill or
a lost node would; every object then ends `processed` with exactly its rows, no duplicates."""

from __future__ import annotations

import contextlib
import random
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest
import yaml

from airflow_provider_datalake import insert_datalake
from airflow_provider_datalake.descriptors.model import Descriptor
from airflow_provider_datalake.hooks.catalog import CatalogHook
from airflow_provider_datalake.processing import NO_OUTCOME
from airflow_provider_datalake.samples import write_mqtt_dump
from tests.conftest import REPO, pg_connect
from tests.factory.conftest import api, format_under_airflow, mqtt_rows, wait_for
from tests.factory.test_live_airflow import _count

pytestmark = pytest.mark.stack

MESSAGES = 60_000  # a load of a few seconds: long enough to be killed in the middle


@pytest.fixture
def recovering_format(postgres_conn: dict) -> Iterator[dict]:
    """A PostgreSQL-only format under the running Airflow, with a short processing lease (10 s)."""
    tag = uuid.uuid4().hex[:8]
    raw = yaml.safe_load((REPO / "examples" / "neocampus_mqtt.yaml").read_text())
    raw["name"] = f"recover_{tag}"
    raw["targets"] = raw["targets"][:1]
    raw["targets"][0]["schema"] = f"recover_{tag}"
    raw["processing"] = {"lease_seconds": 10, "max_attempts": 3}
    desc = Descriptor.model_validate(raw)
    pg = pg_connect(postgres_conn)
    with format_under_airflow(desc) as dag_id:
        yield {"desc": desc, "pg": pg, "schema": f"recover_{tag}", "dag_id": dag_id}
    pg.execute(
        psycopg.sql.SQL("drop schema if exists {} cascade").format(psycopg.sql.Identifier(f"recover_{tag}"))
    )
    pg.close()


def _running_load_processes(dag_id: str) -> list[psutil.Process]:
    """The task processes of ``dag_id``'s running load tasks: Airflow titles each `airflow worker -- <TI id>`
    (its supervisor, a LocalExecutor worker or a Celery worker's child, names the same id after a colon)."""
    tis = api(f"dags/{dag_id}/dagRuns/~/taskInstances?state=running").get("task_instances", [])
    ids = {ti["id"] for ti in tis if ti["task_id"].startswith("load__")}
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        title = " ".join(proc.info["cmdline"] or ()).strip()  # a title set over argv may keep padding
        if title.startswith("airflow worker -- ") and title.removeprefix("airflow worker -- ").strip() in ids:
            found.append(proc)
    return found


def _hit_load(
    dag_id: str, rng: random.Random, sig: signal.Signals, timeout: float = 120
) -> list[psutil.Process]:
    """Wait for the load task, then send ``sig`` to its task process a random moment into the load."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        victims = _running_load_processes(dag_id)
        if victims:
            time.sleep(rng.uniform(0.2, 2.0))
            try:
                for proc in victims:
                    proc.send_signal(sig)
            except psutil.NoSuchProcess:
                continue  # it ended before the moment drawn: wait for it on the next attempt
            return victims
        time.sleep(0.2)
    pytest.fail(f"no load task of {dag_id} ran within {timeout:.0f}s")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSTOP], ids=["killed", "frozen"])
def test_a_load_that_dies_is_never_processed_and_the_object_comes_back(
    recovering_format: dict, tmp_path: Path, sig: signal.Signals
) -> None:
    """Killed (an OOM kill): the run's finish finds no outcome for the target, puts the object back for
    another run and fails, so the run shows red. Frozen (a hung process, its supervisor still heartbeating:
    Airflow sees a running task): nothing renews the lease, and the triggerer's recovery sweep puts the
    object back while Airflow still shows the task running; the hung process is then ended (it holds its
    open transaction's locks in PostgreSQL, which no lease can take back). Either way the next run loads it,
    every row exactly once."""
    seed = 40 + (sig == signal.SIGSTOP)
    rng = random.Random(seed)
    path = tmp_path / "mqtt_dump_recover.json"
    write_mqtt_dump(path, MESSAGES, seed=seed)
    rec = insert_datalake(path, format=recovering_format["desc"].name)
    victims = _hit_load(recovering_format["dag_id"], rng, sig)

    catalog = CatalogHook()
    seen: list[str] = []
    first_run = catalog.get(rec["_id"])["processing_run"]
    if sig == signal.SIGSTOP:
        wait_for(
            "the recovery sweep to take the object from the hung run",
            lambda: catalog.get(rec["_id"]).get("processing_run") != first_run,
            120,
        )
        assert all(proc.status() == psutil.STATUS_STOPPED for proc in victims)  # recovered while still hung
        assert any(
            "lease expired" in op["error"] and op["run_id"] == first_run
            for op in catalog.get(rec["_id"])["failed_operations"]
        )
        for proc in victims:
            proc.send_signal(signal.SIGKILL)

    def settled() -> bool:
        status = catalog.get(rec["_id"])["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        return status in ("processed", "failed")

    try:
        wait_for(f"the object to settle after {sig.name} of its load", settled, 240)
    finally:
        for proc in victims:  # a frozen task is ended now: its run is the lost one
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(signal.SIGKILL)
    final = catalog.get(rec["_id"])
    assert final["status"] == "processed", (seen, final.get("failed_operations"))
    assert final["processing_attempts"] >= 2, "a second run took it"
    errors = [op["error"] for op in final.get("failed_operations", [])]
    expected = NO_OUTCOME if sig == signal.SIGKILL else "lease expired"
    assert any(expected in e for e in errors), errors
    assert _count(recovering_format) == mqtt_rows(MESSAGES, seed)  # every row once: the loads are idempotent

    def states() -> set[str]:
        return {r["state"] for r in api(f"dags/{recovering_format['dag_id']}/dagRuns")["dag_runs"]}

    wait_for("the run that loaded it to succeed", lambda: "success" in states(), 60)
    if sig == signal.SIGKILL:  # the run that lost its load shows red, not green
        wait_for("the run that lost its load to fail", lambda: "failed" in states(), 60)
