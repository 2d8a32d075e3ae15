"""Helpers for the factory's tests (the end-to-end ones use the isolated `lake` of tests/conftest.py), and for
the tests under the stack's running Airflow: its REST API, waiting, a format installed under it."""

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_datalake.airflow_rest import AirflowRest, AirflowRestError


def write_synced_cache(folder: Path, entries: dict[str, str], version: int = 2) -> Path:
    """A descriptor cache as `datalake formats sync` writes it (valid entries carry their DAG spec)."""
    from airflow_provider_datalake.descriptors.store import FormatVersion, _cache_record
    from airflow_provider_datalake.format_cache import CACHE_NAME

    path = folder / CACHE_NAME
    records = {
        name: _cache_record(FormatVersion(name, version, "active", text, "", None, "test"))
        for name, text in entries.items()
    }
    path.write_text(json.dumps({"format": 1, "descriptors": records}))
    return path


def run_dag(dag, tmp_path):
    """`dag.test()` for a DAG built in memory: Airflow 3.3 only tests DAGs already serialized in its
    database, so register this one first (as the dag-processor would after parsing its file).

    The stack's own scheduler shares that database: the DAG is registered paused, so the scheduler leaves
    the test's run to `dag.test()` (two schedulers driving one run deadlock in PostgreSQL)."""
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import update

    empty = tmp_path / "empty_dags"
    empty.mkdir(exist_ok=True)
    bag = DagBag(dag_folder=str(empty))
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)
    with create_session() as session:
        session.execute(update(DagModel).where(DagModel.dag_id == dag.dag_id).values(is_paused=True))
    return dag.test()


_REST = (
    AirflowRest.from_env("viewer")
    if os.environ.get("AIRFLOW__API__BASE_URL")
    else AirflowRest("http://unset")
)


def api(path: str) -> dict:
    """GET the stack's Airflow REST API (``/api/v2/<path>``); {} for a 404."""
    assert os.environ.get("AIRFLOW__API__BASE_URL"), "AIRFLOW__API__BASE_URL missing: run `make stack-up`"
    try:
        return _REST.get_json(f"/api/v2/{path}") or {}
    except AirflowRestError as exc:
        if exc.status:
            raise
        pytest.fail(f"{exc}: start it with `make stack-up`")


def wait_for(what: str, check: Callable[[], Any], timeout: float) -> float:
    """Seconds until ``check()`` holds; the test fails, naming ``what``, after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


@contextmanager
def format_under_airflow(desc: Any, *, layout: str = "per-format") -> Iterator[str]:
    """``desc`` pushed to the stack's catalog and its DAG in the running Airflow's dags folder (``layout``),
    parsed and watched by the triggerer; retired afterwards, the folder back to the stack's own layout.
    Yields the DAG id."""
    from airflow_provider_datalake.descriptors.store import FormatStore
    from airflow_provider_datalake.factory import install_dags_folder, sync_dags_folder
    from airflow_provider_datalake.hooks.catalog import CatalogHook

    dags = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    store = FormatStore(CatalogHook())
    store.push(desc, author="tests")
    install_dags_folder(dags, layout=layout)
    sync_dags_folder(dags, force=True)
    dag_id = f"datalake__{desc.name}"
    try:
        wait_for(
            f"the dag-processor to parse {dag_id}",
            lambda: api(f"dags/{dag_id}").get("is_paused") is False,
            120,
        )
        time.sleep(5)  # the triggerer picks the new asset watcher up on its next loop
        yield dag_id
    finally:
        store.deactivate(desc.name)
        install_dags_folder(dags, layout="per-format")  # the stack's own layout
        sync_dags_folder(dags, force=True)  # its DAG file goes away


def mqtt_rows(count: int, seed: int) -> int:
    """Rows the campus MQTT format makes of ``mqtt_messages(count, seed)``: one per message and unit."""
    from airflow_provider_datalake.samples import mqtt_messages

    return sum(
        len(m["value"]) if isinstance(m["value"], list) else 1 for m in mqtt_messages(count, seed=seed)
    )
