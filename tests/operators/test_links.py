"""The load task's "Data lake objects" link: the plugin's page of the objects its run loaded, under Airflow's
base URL, made alike by the worker (the operator) and the API server (the serialized task)."""

from __future__ import annotations

import pytest
from airflow.serialization.serialized_objects import DagSerialization

from airflow_provider_datalake.descriptors.loader import parse_descriptor
from airflow_provider_datalake.factory import dag_for
from airflow_provider_datalake.operators.formats import DataLakeObjectsLink, LoadRawObjectOperator
from tests.factory.test_dags import GOOD

RUN_ID = "asset_triggered__2026-11-28T10:00:00+00:00"


class _Key:
    """What get_link reads of a task instance key."""

    def __init__(self, dag_id: str, run_id: str = RUN_ID) -> None:
        self.dag_id, self.task_id, self.run_id, self.map_index, self.try_number = (
            dag_id,
            "load__t",
            run_id,
            0,
            1,
        )


@pytest.fixture
def base_url(monkeypatch: pytest.MonkeyPatch) -> str:
    url = "https://airflow.example.org/lake/"
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", url)
    return url


def test_the_link_names_the_run_and_the_format_url_encoded(base_url: str) -> None:
    op = LoadRawObjectOperator(task_id="load", format="fmt a&b", target="t", cache_path="/c", record_id="r")
    assert [link.name for link in op.operator_extra_links] == ["Data lake objects"]
    url = DataLakeObjectsLink().get_link(op, ti_key=_Key("my_dag"))
    assert url == (
        "https://airflow.example.org/lake/datalake/ui/objects"
        "?run_id=asset_triggered__2026-11-28T10%3A00%3A00%2B00%3A00&format=fmt+a%26b"
    )


def test_without_a_base_url_the_link_is_relative(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "")
    op = LoadRawObjectOperator(task_id="load", format="fmt_a", target="t", cache_path="/c", record_id="r")
    url = DataLakeObjectsLink().get_link(op, ti_key=_Key("my_dag", "manual__1"))
    assert url == "/datalake/ui/objects?run_id=manual__1&format=fmt_a"


def test_the_api_server_makes_the_same_link_from_the_serialized_task(base_url: str) -> None:
    """Registered through the plugin, the link is made in the API server from the serialized (mapped) task,
    which has no operator attributes: the format comes from its mapped arguments, else the DAG id."""
    dag = dag_for(parse_descriptor(GOOD.format(name="fmt_a")))
    task = DagSerialization.from_dict(DagSerialization.to_dict(dag)).get_task("load__postgres_fmt_a_rows")
    key = _Key(dag.dag_id)
    link = DataLakeObjectsLink()
    expected = (
        f"{base_url.rstrip('/')}/datalake/ui/objects?run_id={RUN_ID.replace(':', '%3A').replace('+', '%2B')}"
    )
    assert link.get_link(task, ti_key=key) == f"{expected}&format=fmt_a"

    class Bare:  # an unmapped serialized task keeps no `format`
        pass

    assert link.get_link(Bare(), ti_key=key) == f"{expected}&format=fmt_a"  # from datalake__fmt_a
    assert link.get_link(Bare(), ti_key=_Key("users_dag")) == expected  # no format: every object of the run


def test_the_plugin_may_register_it_for_the_load_operator() -> None:
    assert DataLakeObjectsLink.operators == [LoadRawObjectOperator]
    assert DataLakeObjectsLink().xcom_key == "_link_DataLakeObjectsLink"
