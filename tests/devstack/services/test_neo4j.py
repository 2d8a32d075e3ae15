"""Neo4j (devstack/services/neo4j.py): Cypher through the official hook; auth is on."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import require_port

pytestmark = pytest.mark.stack


def test_neo4j_cypher_through_the_airflow_hook() -> None:
    from airflow.providers.neo4j.hooks.neo4j import Neo4jHook

    require_port("Neo4j (Bolt)", "neo4j_default")
    hook = Neo4jHook(conn_id="neo4j_default")
    run_id = uuid.uuid4().hex
    try:
        assert hook.run("RETURN 1 AS one") == [{"one": 1}]
        create = "CREATE (:StackTest {run: $run})-[:IN]->(:StackTest {run: $run, room: 'u4/302'})"
        hook.run(create, {"run": run_id})
        got = hook.run("MATCH (:StackTest {run: $run})-[:IN]->(b) RETURN b.room AS room", {"run": run_id})
        assert got == [{"room": "u4/302"}]
    finally:
        hook.run("MATCH (n:StackTest {run: $run}) DETACH DELETE n", {"run": run_id})
        hook.get_conn().close()


def test_neo4j_rejects_a_wrong_password() -> None:
    import neo4j

    conn = require_port("Neo4j (Bolt)", "neo4j_default")
    url = f"bolt://{conn['host']}:{conn['port']}"
    with (
        neo4j.GraphDatabase.driver(url, auth=("neo4j", "not-it")) as drv,
        pytest.raises(neo4j.exceptions.AuthError),
    ):
        drv.verify_connectivity()
