"""Helpers for the factory's tests (the end-to-end ones use the isolated `lake` of tests/conftest.py)."""

import json
from pathlib import Path


def write_synced_cache(folder: Path, entries: dict[str, str], version: int = 2) -> Path:
    """A descriptor cache as `datalake formats sync` writes it (valid entries carry their DAG spec)."""
    from airflow_provider_datalake.descriptors.store import FormatVersion, _cache_record
    from airflow_provider_datalake.factory.dags import CACHE_NAME

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
