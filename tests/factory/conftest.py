"""The factory's end-to-end tests use the raw zone's isolated `lake` (own catalog database and container)."""

from tests.ingest.conftest import lake

__all__ = ["lake"]


def run_dag(dag, tmp_path):
    """`dag.test()` for a DAG built in memory: Airflow 3.3 only tests DAGs already serialized in its
    database, so register this one first (as the dag-processor would after parsing its file)."""
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    empty = tmp_path / "empty_dags"
    empty.mkdir(exist_ok=True)
    bag = DagBag(dag_folder=str(empty))
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)
    return dag.test()
