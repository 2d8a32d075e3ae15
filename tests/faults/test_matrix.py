"""The fault matrix (`make faults`): runs of the campus MQTT format under the stack's real Airflow, and in the
middle of them one fault each — a process SIGKILLed, or a server restarted. After each, within the bound,
every object is `processed` or `failed` with a reason; a `reprocess` of the failed ones brings all to
`processed`; the gold stores hold every row exactly once.

Run on whichever executor the stack runs (`DATALAKE_EXECUTOR=celery make faults` for Celery). `make test`
leaves these out (marker `faults`); CI runs the seeded subset `DATALAKE_FAULTS` names.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from airflow_provider_datalake import insert_datalake
from airflow_provider_datalake.descriptors.model import Descriptor
from airflow_provider_datalake.hooks.catalog import CatalogHook
from airflow_provider_datalake.processing import reprocess
from airflow_provider_datalake.samples import write_mqtt_dump
from airflow_provider_datalake.samples.mqtt import MQTT_START
from bench.common import campus_mqtt_under
from tests.conftest import REPO, STACK_DIR, pg_connect
from tests.factory.conftest import format_under_airflow, mqtt_rows, wait_for
from tests.factory.test_live_recovery import _running_load_processes

pytestmark = [pytest.mark.stack, pytest.mark.faults]

STACK_PY = REPO / "devstack" / "stack.py"
FILES, MESSAGES = 3, 4_000
BOUND = 300  # seconds for every object to settle after a fault


def _stack(*args: str) -> None:
    proc = subprocess.run([sys.executable, str(STACK_PY), *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _kill(service: str) -> None:
    """SIGKILL a stack service's whole process group (what an OOM kill or a lost node does), then start it
    again as a supervisor (systemd, Kubernetes) would."""
    pid = int((STACK_DIR / "run" / f"{service}.pid").read_text().split()[0])
    os.killpg(pid, signal.SIGKILL)
    time.sleep(2)
    _stack("up")


def _restart(service: str) -> Callable[[], None]:
    def fault() -> None:
        _stack("down", service)
        time.sleep(3)  # the runs meet the server gone
        _stack("up")

    return fault


FAULTS: dict[str, Callable[[], None] | None] = {
    "task-process": None,  # needs the format's DAG id: done in the test
    "scheduler": lambda: _kill("airflow-scheduler"),
    "triggerer": lambda: _kill("airflow-triggerer"),
    "dag-processor": lambda: _kill("airflow-dag-processor"),
    "celery-worker": lambda: _kill("celery-worker-1"),
    "ferretdb": _restart("ferretdb"),
    "postgres": _restart("postgres"),
    "swift": _restart("swift-proxy"),
    "influxdb": _restart("influxdb"),
    "neo4j": _restart("neo4j"),
}


def _executor() -> str:
    recorded = STACK_DIR / "executor"
    return recorded.read_text().strip() if recorded.exists() else "local"


# Every fault that applies to the stack's executor, or those DATALAKE_FAULTS names.
DEFAULT = [name for name in FAULTS if name != "celery-worker" or _executor() == "celery"]
SELECTED = [name for name in os.environ.get("DATALAKE_FAULTS", ",".join(DEFAULT)).split(",") if name]


@pytest.fixture
def campus(postgres_conn: dict) -> Iterator[dict[str, Any]]:
    """The campus MQTT format with its four targets, under names of this test's own."""
    tag = uuid.uuid4().hex[:8]
    raw = campus_mqtt_under(
        yaml.safe_load((REPO / "examples" / "neocampus_mqtt.yaml").read_text()), "faults", tag
    )
    raw["processing"] = {"lease_seconds": 20, "max_attempts": 3}
    pg = raw["targets"][0]
    desc = Descriptor.model_validate(raw)
    with format_under_airflow(desc) as dag_id:
        yield {"desc": desc, "tag": tag, "dag_id": dag_id, "postgres_conn": postgres_conn}
        _stack("up")  # whatever the fault stopped
    with pg_connect(postgres_conn) as conn:
        drop = psycopg.sql.SQL("drop schema if exists {} cascade")
        conn.execute(drop.format(psycopg.sql.Identifier(pg["schema"])))


def _settle(ids: list[str], timeout: float) -> dict[str, str]:
    """Wait for every object to be processed or failed. Meanwhile, like a deployment's process supervisor
    (systemd, Kubernetes, compose's `restart: unless-stopped`), start again any stack process that exited:
    Airflow's components exit when their metadata database goes away, some only after their retries."""
    catalog = CatalogHook()
    states: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    supervised = time.monotonic()
    while time.monotonic() < deadline:
        try:
            states = {rid: catalog.get(rid)["status"] for rid in ids}
        except Exception as exc:  # the catalog itself may be the server that was restarted
            states = {"catalog": f"unreachable: {exc}"}
        if all(state in ("processed", "failed") for state in states.values()):
            return states
        if time.monotonic() - supervised > 15:
            _stack("up")
            supervised = time.monotonic()
        time.sleep(1)
    pytest.fail(f"objects not settled after {timeout:.0f}s: {states}")


def _pg_rows(campus: dict) -> int:
    table = psycopg.sql.Identifier(f"faults_{campus['tag']}", "mqtt_readings")
    with pg_connect(campus["postgres_conn"]) as conn:  # a new connection: PostgreSQL may have restarted
        return conn.execute(psycopg.sql.SQL("select count(*) from {}").format(table)).fetchone()[0]


def _mongo_docs(campus: dict) -> int:
    gold = CatalogHook("mongo_gold")
    return gold.get_conn()[gold.database][f"faults_{campus['tag']}"].count_documents({})


@pytest.mark.parametrize("fault", SELECTED)
def test_a_fault_in_the_middle_of_the_runs(campus: dict, tmp_path: Path, fault: str) -> None:
    if fault == "celery-worker" and _executor() != "celery":
        pytest.fail("the celery-worker fault needs the stack on Celery: DATALAKE_EXECUTOR=celery make faults")
    rng = random.Random(f"{fault}-{campus['tag']}")
    catalog = CatalogHook()
    ids, expected = [], 0
    for n in range(FILES):
        path = tmp_path / f"mqtt_dump_{n}.json"
        seed = rng.randrange(10_000)
        # Each file on its own day: the PostgreSQL target merges on a key that holds the time, and files
        # starting at the same instant can share a key (then one row stands for two, and the count differs).
        write_mqtt_dump(path, MESSAGES, seed=seed, start=MQTT_START + dt.timedelta(days=n))
        expected += mqtt_rows(MESSAGES, seed)
        ids.append(insert_datalake(path, format=campus["desc"].name)["_id"])

    wait_for("a load task to run", lambda: bool(_running_load_processes(campus["dag_id"])), 180)
    time.sleep(rng.uniform(0.0, 2.0))
    started = time.monotonic()
    if fault == "task-process":
        for proc in _running_load_processes(campus["dag_id"]):
            proc.send_signal(signal.SIGKILL)
    else:
        FAULTS[fault]()

    states = _settle(ids, BOUND)
    settled_in = time.monotonic() - started
    for rid, state in states.items():
        if state == "failed":  # a failed object says why
            rec = catalog.get(rid)
            assert rec.get("failed_operations"), f"{rid} failed without a reason"
    failed = [rid for rid, state in states.items() if state == "failed"]
    if failed:
        assert sorted(reprocess(catalog, ids=failed)) == sorted(failed)
        states = _settle(ids, BOUND)
    assert set(states.values()) == {"processed"}, states
    assert _pg_rows(campus) == expected
    assert _mongo_docs(campus) == expected
    for rid in ids:  # every target's last success for each object loaded all its rows
        rec = catalog.get(rid)
        last = {op["target"]: op for op in rec["successful_operations"]}
        assert len(last) == 4, sorted(last)
        assert len({op["rows_in"] for op in last.values()}) == 1, last
    print(  # the matrix report: one line per fault (make faults shows them with -s)
        f"FAULT {fault} on {_executor()}: settled in {settled_in:.0f}s, {len(failed)} failed then "
        f"reprocessed, {expected} rows in PostgreSQL and MongoDB at {dt.datetime.now(dt.UTC):%H:%M:%S}"
    )
