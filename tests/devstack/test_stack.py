"""The local stack: every server answers real requests, and stack-down stops only what it started."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pymongo
import pytest
import swiftclient

from airflow_provider_datalake.samples import write_blob
from tests.conftest import REPO, conn_json, require_port

pytestmark = pytest.mark.stack

STACK_PY = REPO / "devstack" / "stack.py"


def swift_client(conn: dict) -> swiftclient.Connection:
    return swiftclient.Connection(
        authurl=f"http://{conn['host']}:{conn['port']}/auth/v1.0",
        user=conn["login"],
        key=conn["password"],
        retries=0,
    )


def test_swift_round_trip_50mb(swift_conn: dict, tmp_path: Path) -> None:
    src = tmp_path / "blob.bin"
    digest = write_blob(src, 50 * 1024 * 1024, seed=7)
    client = swift_client(swift_conn)
    container = f"stack-test-{uuid.uuid4().hex[:8]}"
    client.put_container(container)
    try:
        with open(src, "rb") as fh:
            etag = client.put_object(container, "blob.bin", fh, content_length=src.stat().st_size)
        assert etag == hashlib.md5(src.read_bytes(), usedforsecurity=False).hexdigest()
        headers, body = client.get_object(container, "blob.bin", resp_chunk_size=1 << 20)
        got = hashlib.sha256()
        for chunk in body:
            got.update(chunk)
        assert got.hexdigest() == digest
        assert int(headers["content-length"]) == 50 * 1024 * 1024
    finally:
        client.delete_object(container, "blob.bin")
        client.delete_container(container)


def test_swift_has_large_object_middleware(swift_conn: dict) -> None:
    caps = swift_client(swift_conn).get_capabilities()
    assert "slo" in caps
    assert "tempauth" in caps


def test_swift_rejects_wrong_key(swift_conn: dict) -> None:
    bad = swift_client({**swift_conn, "password": "wrong"})
    with pytest.raises(swiftclient.ClientException) as err:
        bad.head_account()
    assert err.value.http_status == 401


def test_ferretdb_insert_and_find(mongo_conn: dict) -> None:
    client = pymongo.MongoClient(
        mongo_conn["host"], int(mongo_conn["port"]), serverSelectionTimeoutMS=3000, socketTimeoutMS=10000
    )
    coll = client["stack_test"][f"c{uuid.uuid4().hex[:8]}"]
    try:
        coll.insert_many([{"sensor": "u4/302/humidity", "value": v} for v in (35, 36, 37)])
        found = coll.find_one_and_update({"value": 36}, {"$set": {"seen": True}}, return_document=True)
        assert found["seen"] is True
        assert coll.count_documents({"value": {"$gte": 36}}) == 2
    finally:
        coll.drop()
        client.close()


def test_ferretdb_looks_up_id_through_an_index_on_new_collections(mongo_conn: dict) -> None:
    """Our FerretDB main adds the index on the expression its SQLite backend filters ``_id`` by (the
    backend's own ``_id`` index is on another spelling, which SQLite's planner never matches)."""
    client = pymongo.MongoClient(
        mongo_conn["host"], int(mongo_conn["port"]), serverSelectionTimeoutMS=3000, socketTimeoutMS=10000
    )
    database, name = f"stack_idx_{uuid.uuid4().hex[:8]}", "records"
    try:
        client[database][name].insert_one({"_id": "a", "value": 1})
        path = REPO / ".stack" / "ferretdb" / f"{database}.sqlite"
        plan: list[str] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                [table] = db.execute("SELECT table_name FROM _ferretdb_collections WHERE name = ?", (name,))
                query = f"EXPLAIN QUERY PLAN SELECT * FROM \"{table[0]}\" WHERE _ferretdb_sjson->'$._id' = ?"  # noqa: S608 (FerretDB's table)
                plan = [row[-1] for row in db.execute(query, ('"a"',))]
            if any("USING INDEX" in step for step in plan):
                break
            time.sleep(0.2)
        assert any(f"USING INDEX {table[0]}__id_lookup" in step for step in plan), plan
        assert client[database][name].find_one({"_id": "a"}) == {"_id": "a", "value": 1}
    finally:
        client.drop_database(database)
        client.close()


def test_postgres_accepts_the_datalake_role(postgres_conn: dict) -> None:
    with psycopg.connect(
        host=postgres_conn["host"],
        port=postgres_conn["port"],
        user=postgres_conn["login"],
        password=postgres_conn["password"],
        dbname=postgres_conn["schema"],
        connect_timeout=5,
    ) as conn:
        assert conn.execute("select current_user, current_database()").fetchone() == ("datalake", "datalake")


def test_airflow_shows_the_provider_and_plugin() -> None:
    env = os.environ.copy()
    airflow = str(Path(sys.executable).parent / "airflow")
    out = subprocess.run(
        [airflow, "providers", "list", "-o", "json"], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    names = [p["package_name"] for p in json.loads(out.stdout)]
    assert names.count("airflow-provider-datalake") == 1
    out = subprocess.run([airflow, "plugins", "-o", "json"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "datalake" in [p["name"] for p in json.loads(out.stdout)]


def test_airflow_components_healthy() -> None:
    base = os.environ.get("AIRFLOW__API__BASE_URL")
    assert base, "AIRFLOW__API__BASE_URL missing from the env file: run `make stack-up`"
    try:
        with urllib.request.urlopen(f"{base}/api/v2/monitor/health", timeout=5) as resp:  # noqa: S310
            health = json.loads(resp.read())
    except OSError as exc:
        pytest.fail(f"Airflow API server is down at {base} ({exc}): start it with `make stack-up`")
    for component in ("metadatabase", "scheduler", "triggerer", "dag_processor"):
        assert health[component]["status"] == "healthy", health


def test_env_file_connections_are_airflow_json() -> None:
    for conn_id, conn_type in (
        ("swift_default", "swift"),
        ("mongo_default", "mongo"),
        ("mongo_gold", "mongo"),
        ("postgres_default", "postgres"),
        ("influxdb_default", "influxdb"),
        ("neo4j_default", "neo4j"),
    ):
        conn = conn_json(conn_id)
        assert conn["conn_type"] == conn_type
        assert conn["host"] == "127.0.0.1"
    gold, raw = conn_json("mongo_gold"), conn_json("mongo_default")
    assert (gold["port"], gold["schema"]) == (raw["port"], "datalake_gold")
    assert os.environ["DATALAKE_INFLUX_BUCKET"] == "datalake/autogen"


def _influxql(conn: dict, statement: str, database: str) -> dict:
    """One InfluxQL statement through /query with the connection's token (1.8.3 has no /api/v2/delete)."""
    req = urllib.request.Request(  # noqa: S310 (loopback)
        f"{conn['schema']}://{conn['host']}:{conn['port']}/query?db={database}",
        data=urllib.parse.urlencode({"q": statement}).encode(),
        headers={"Authorization": f"Token {conn['extra']['token']}"},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310
        return json.loads(resp.read())["results"][0]


def test_influxdb_write_and_flux_read_through_the_airflow_hook() -> None:
    """The official InfluxDBHook speaks InfluxDB 1.8's v2 API: a point in, the same point out by Flux."""
    from airflow.providers.influxdb.hooks.influxdb import InfluxDBHook

    conn = require_port("InfluxDB", "influxdb_default")
    bucket = os.environ["DATALAKE_INFLUX_BUCKET"]
    measurement = f"stack_test_{uuid.uuid4().hex[:8]}"
    hook = InfluxDBHook(conn_id="influxdb_default")
    try:
        hook.write(bucket, measurement, "sensor", "u4/302/humidity", "value", 36.5, synchronous=True)
        flux = (
            f'from(bucket: "{bucket}") |> range(start: -1h)'
            f' |> filter(fn: (r) => r._measurement == "{measurement}")'
        )
        records = [record for table in hook.query(flux) for record in table.records]
        rows = [(r.values["sensor"], r.get_field(), r.get_value()) for r in records]
        assert rows == [("u4/302/humidity", "value", 36.5)]
    finally:
        assert "error" not in _influxql(conn, f'DROP MEASUREMENT "{measurement}"', bucket.split("/")[0])
        hook.get_conn().close()


def test_influxdb_rejects_a_wrong_token() -> None:
    conn = require_port("InfluxDB", "influxdb_default")
    with pytest.raises(urllib.error.HTTPError) as err:
        _influxql({**conn, "extra": {"token": "admin:wrong"}}, "SHOW DATABASES", "datalake")
    assert err.value.code == 401


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


def test_mongo_gold_is_its_own_database_on_the_same_server() -> None:
    from airflow.providers.mongo.hooks.mongo import MongoHook

    require_port("MongoDB-wire server (FerretDB)", "mongo_gold")
    hook = MongoHook(mongo_conn_id="mongo_gold")
    collection = f"stack_test_{uuid.uuid4().hex[:8]}"
    try:
        hook.insert_one(collection, {"building": "u4", "value": 36.5})
        assert hook.find(collection, {"building": "u4"}, find_one=True)["value"] == 36.5
        assert collection in hook.get_conn()["datalake_gold"].list_collection_names()
    finally:
        hook.get_conn()["datalake_gold"].drop_collection(collection)
        hook.close()


def _stack(args: list[str], stack_dir: Path, offset: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATALAKE_STACK_DIR": str(stack_dir), "DATALAKE_PORT_OFFSET": str(offset)}
    return subprocess.run(
        [sys.executable, str(STACK_PY), *args], env=env, capture_output=True, text=True, timeout=300
    )


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def open_stack_dir() -> Iterator[Path]:
    """A stack folder the cluster's OS user can reach (pytest's tmp_path sits under a 0700 folder of root's;
    as root, the stack runs PostgreSQL as ``postgres``)."""
    path = Path(tempfile.mkdtemp(prefix="datalake-stack-"))
    path.chmod(0o755)
    yield path / "stack"
    shutil.rmtree(path, ignore_errors=True)


def test_second_stack_up_is_idempotent_and_down_stops_only_its_own(open_stack_dir: Path) -> None:
    """A throw-away stack (its own folder and ports) proves up twice, status, and down by PID.

    InfluxDB and Neo4j set up their admin user from the new stack's own secrets at first start: `up`
    succeeds only once an authenticated query answers on each.
    """
    stack_dir = open_stack_dir
    offset = 700
    names = ["memcached", "ferretdb", "influxdb", "neo4j"]
    expected = set(names)
    first = _stack(["up", *names], stack_dir, offset)
    assert first.returncode == 0, first.stdout + first.stderr
    pids = {p.stem: int(p.read_text().split()[0]) for p in (stack_dir / "run").glob("*.pid")}
    try:
        assert set(pids) == expected
        env = (stack_dir / "env").read_text()
        assert f'"port":{18086 + offset}' in env and f'"port":{17687 + offset}' in env
        started = time.monotonic()
        again = _stack(["up", *names], stack_dir, offset)
        assert again.returncode == 0, again.stderr
        assert time.monotonic() - started < 15  # nothing to start: readiness checks only
        assert {p.stem: int(p.read_text().split()[0]) for p in (stack_dir / "run").glob("*.pid")} == pids
        status = _stack(["status", *expected], stack_dir, offset)
        assert status.returncode == 0, status.stdout
        assert status.stdout.count("healthy") == len(expected)
    finally:
        down = _stack(["down", *expected], stack_dir, offset)
    assert down.returncode == 0, down.stderr
    assert not any(_alive(pid) for pid in pids.values())
    # The main stack's servers were not touched.
    main = subprocess.run([sys.executable, str(STACK_PY), "status", *names], capture_output=True, text=True)
    assert main.returncode == 0, main.stdout
