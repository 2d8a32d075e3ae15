"""Lineage in Airflow's asset graph: raw format asset -> format DAG -> the gold assets its load tasks write.

Checked on what the dag-processor records of a DAG (its serialized form), built without any server."""

from __future__ import annotations

from pathlib import Path

import yaml
from airflow.dag_processing.collection import _get_dag_assets
from airflow.serialization.definitions.assets import SerializedAsset
from airflow.serialization.serialized_objects import LazyDeserializedDAG

from airflow_provider_datalake.descriptors.loader import parse_descriptor
from airflow_provider_datalake.descriptors.model import Descriptor
from airflow_provider_datalake.factory import build_dag, dag_for
from airflow_provider_datalake.factory.dags import unknown_formats_dag
from tests.descriptors.test_target_assets import CUSTOM, EXAMPLES
from tests.factory.conftest import write_synced_cache


def _recorded(dag) -> tuple[set[str], dict[str, set[str]]]:
    """(URIs the DAG is scheduled on, task id -> outlet URIs), as the dag-processor stores them."""
    lazy = LazyDeserializedDAG.from_dag(dag)
    schedule = {asset.uri for _, asset in lazy.timetable.asset_condition.iter_assets()}
    outlets: dict[str, set[str]] = {}
    for task_id, asset in _get_dag_assets(lazy, SerializedAsset, inlets=False, outlets=True):
        outlets.setdefault(task_id, set()).add(asset.uri)
    return schedule, outlets


def test_load_tasks_declare_the_gold_assets_of_their_target() -> None:
    desc = parse_descriptor(CUSTOM)
    dag = dag_for(desc)
    assert set(dag.task_ids) == {"claim", "finish", "queue_next", *(f"load__{t.name}" for t in desc.targets)}
    schedule, outlets = _recorded(dag)
    assert schedule == {"datalake://raw/readings"}
    assert outlets == {
        "queue_next": {"datalake://raw/readings"},  # the next run of a backlog
        **{f"load__{t.name}": {a.uri for a in t.assets()} for t in desc.targets},
    }
    (table,) = dag.get_task("load__postgres_readings").outlets
    assert table.name == "postgres:gold.readings@pg.prod"
    assert table.group == "datalake"
    assert table.extra == {"zone": "gold", "store": "postgres", "kind": "table"}
    graph = dag.get_task("load__neo4j_graph").outlets
    assert [a.extra["kind"] for a in graph] == ["node", "node", "relationship"]


def test_the_dag_from_the_cache_declares_the_same_outlets(tmp_path: Path) -> None:
    text = (EXAMPLES / "neocampus_mqtt.yaml").read_text()
    cache = write_synced_cache(tmp_path, {"neocampus_mqtt": text})
    from_spec = build_dag("neocampus_mqtt", cache_path=cache)
    from_desc = dag_for(Descriptor.model_validate(yaml.safe_load(text)))
    assert _recorded(from_spec) == _recorded(from_desc)
    for task_id in from_spec.task_ids:
        assert from_spec.get_task(task_id).outlets == from_desc.get_task(task_id).outlets


def test_no_dag_of_ours_is_scheduled_on_what_a_load_writes() -> None:
    """A load's success emits events on its outlets: none of them may start a format DAG (each is scheduled
    on its own raw asset only) nor the unknown-formats DAG. The one task whose outlet is a raw asset,
    ``queue_next``, writes its own DAG's: it starts the next run of that DAG and nothing else."""
    dags = [
        dag_for(parse_descriptor(CUSTOM)),
        dag_for(Descriptor.model_validate(yaml.safe_load((EXAMPLES / "neocampus_mqtt.yaml").read_text()))),
        unknown_formats_dag(),
    ]
    schedules = [_recorded(dag)[0] for dag in dags]
    for dag, schedule in zip(dags[:2], schedules, strict=False):
        assert _recorded(dag)[1]["queue_next"] == schedule
    written = {
        uri
        for dag in dags
        for task_id, uris in _recorded(dag)[1].items()
        if task_id != "queue_next"
        for uri in uris
    }
    assert written and all(uri.startswith("datalake://gold/") for uri in written)
    assert [len(s) for s in schedules] == [1, 1, 1]
    assert all(uri.startswith("datalake://raw/") for s in schedules for uri in s)
    assert not written & set().union(*schedules)
