"""Neo4jLoader against the stack's real Neo4j: nodes and relationships merged by key, uniqueness
constraints, re-runs that create nothing, bad rows, values as parameters, the server going away."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from airflow.providers.neo4j.hooks.neo4j import Neo4jHook

from airflow_provider_datalake.descriptors.model import Neo4jTarget
from airflow_provider_datalake.gold.common import GoldLoadError
from airflow_provider_datalake.gold.neo4j import Neo4jLoader
from tests.gold.conftest import Graph, Rejected, batches_of, fields_of, stop_after

pytestmark = pytest.mark.stack

FIELDS = fields_of(
    building="string", room="string", kind="string", input="int", value="float", time="timestamp"
)
NAMES = [f.name for f in FIELDS]
T0 = dt.datetime(2021, 7, 22, 11, 11, 22, tzinfo=dt.UTC)


def loader(graph: Graph, conn_id: str | None = None, batch_size: int = 40) -> Neo4jLoader:
    b, r, s = graph.label("Building"), graph.label("Room"), graph.label("Sensor")
    target = Neo4jTarget.model_validate(
        {
            "conn_id": conn_id or graph.conn_id,
            "graph": "campus",
            "batch_size": batch_size,
            "nodes": [
                {"label": b, "keys": ["building"]},
                {"label": r, "keys": ["building", "room"]},
                {"label": s, "keys": ["building", "room", "kind"], "properties": ["input", "value", "time"]},
            ],
            "relationships": [
                {"type": f"HAS_ROOM_{graph.tag}", "from": b, "to": r},
                {"type": f"HAS_SENSOR_{graph.tag}", "from": r, "to": s, "properties": ["time"]},
            ],
        }
    )
    return Neo4jLoader(Neo4jHook(conn_id=target.conn_id), target, FIELDS)


def readings(n: int, offset: float = 0.0) -> list[tuple[Any, ...]]:
    """n readings over 2 buildings x 3 rooms x 2 kinds = 12 sensors."""
    kinds = ("temperature", "co2")
    return [
        (
            f"u{i % 2 + 3}",
            f"30{i % 3}",
            kinds[(i // 6) % 2],
            i,
            20.0 + i + offset,
            T0 + dt.timedelta(minutes=i),
        )
        for i in range(n)
    ]


def shape(graph: Graph) -> tuple[int, int, int, int, int]:
    return (
        graph.count("Building"),
        graph.count("Room"),
        graph.count("Sensor"),
        graph.rels("HAS_ROOM"),
        graph.rels("HAS_SENSOR"),
    )


def test_graph_is_merged_by_key_and_a_rerun_creates_nothing(gold_graph: Graph) -> None:
    load = loader(gold_graph)
    load.ensure_table()
    load.ensure_table()  # idempotent
    result = load.load("obj-1", batches_of(NAMES, readings(300), size=70))
    assert (result.rows_in, result.rows_written, result.mode) == (300, 300, "merge")
    assert shape(gold_graph) == (2, 6, 12, 6, 12)
    assert load.counters["nodes_created"] == 20 and load.counters["relationships_created"] == 18

    again = loader(gold_graph)
    again.load("obj-1", batches_of(NAMES, readings(300, offset=1.0), size=70))
    assert shape(gold_graph) == (2, 6, 12, 6, 12)
    assert again.counters["nodes_created"] == 0 and again.counters["relationships_created"] == 0
    (sensor,) = gold_graph.run(
        f"MATCH (s:`{gold_graph.label('Sensor')}` {{building: 'u3', room: '300', kind: 'temperature'}}) "
        "RETURN s"
    )
    props = sensor["s"]
    # the last row of that sensor wins; lineage of the last writer
    assert props["input"] == 288 and props["value"] == 309.0 and props["_raw_object_id"] == "obj-1"
    assert props["_source_row"] == 289


def test_key_constraints_exist_and_a_changed_key_is_refused(gold_graph: Graph) -> None:
    loader(gold_graph).ensure_table()
    names = {
        r["name"]: r for r in gold_graph.run("SHOW CONSTRAINTS YIELD name, type, labelsOrTypes, properties")
    }
    room = names[f"datalake_{gold_graph.label('Room')}_key"]
    assert room["type"] == "UNIQUENESS" and room["properties"] == ["building", "room"]
    gold_graph.run(f"DROP CONSTRAINT `datalake_{gold_graph.label('Building')}_key`")
    gold_graph.run(
        f"CREATE CONSTRAINT `datalake_{gold_graph.label('Building')}_key` "
        f"FOR (n:`{gold_graph.label('Building')}`) REQUIRE (n.`room`) IS UNIQUE"
    )
    with pytest.raises(GoldLoadError, match="drop the constraint by hand"):
        loader(gold_graph).ensure_table()


def test_rows_with_a_null_key_are_rejected_and_values_are_parameters(gold_graph: Graph) -> None:
    data = readings(12)
    data[2] = (None, *data[2][1:])
    data[7] = ("u9", "'}) DETACH DELETE n //`", "co2", 1, 1.0, T0)  # stored as text, never run
    rejected = Rejected()
    load = loader(gold_graph)
    load.ensure_table()
    result = load.load("obj-b", batches_of(NAMES, data, size=5), reject=rejected)
    assert rejected == [
        (
            3,
            "building",
            "key building of node " + gold_graph.label("Building") + " is null: MERGE needs every key",
        )
    ]
    assert (result.rows_written, result.rows_rejected) == (11, 1)
    rooms = gold_graph.run(f"MATCH (r:`{gold_graph.label('Room')}` {{building: 'u9'}}) RETURN r.room AS room")
    assert rooms == [{"room": "'}) DETACH DELETE n //`"}]
    assert gold_graph.count("Sensor") > 0


def test_server_gone_mid_run_fails_clearly_and_a_rerun_heals(
    gold_graph: Graph, tcp_proxy: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = gold_graph.conn
    proxy = tcp_proxy(conn["host"], conn["port"])
    monkeypatch.setenv("AIRFLOW_CONN_NEO4J_FLAKY", json.dumps({**conn, "port": proxy.port}))
    load = loader(gold_graph, conn_id="neo4j_flaky")
    load.ensure_table()
    with pytest.raises(GoldLoadError, match=r"obj-f into neo4j:.*/campus failed after \d+ rows"):
        load.load("obj-f", stop_after(batches_of(NAMES, readings(300), size=30), 3, proxy.stop))
    assert 0 < gold_graph.count("Sensor") <= 12
    loader(gold_graph).load("obj-f", batches_of(NAMES, readings(300), size=30))
    assert shape(gold_graph) == (2, 6, 12, 6, 12)
