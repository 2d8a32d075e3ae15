"""Fixtures for the PostgreSQL gold-zone tests: the stack's real PostgreSQL, one fresh schema per test.

Batches are built with the parsing stage's ``Batch`` when that package provides it, else with a local
dataclass of the same shape (the loader only reads ``columns``, ``rows`` and ``row_numbers``).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from psycopg import sql

from airflow_provider_datalake.descriptors.model import FieldSpec, PostgresTarget
from airflow_provider_datalake.gold.postgres import PostgresLoader

try:
    from airflow_provider_datalake.parsing import Batch
except ImportError:  # the parsing stage is written in parallel; same shape

    @dataclass
    class Batch:  # type: ignore[no-redef]
        columns: list[str]
        rows: list[tuple[Any, ...]]
        row_numbers: list[int]
        bad: list[Any] = field(default_factory=list)


CONN_ID = "postgres_default"


def make_batch(columns: Sequence[str], rows: Sequence[tuple[Any, ...]], first: int = 1) -> Batch:
    """Rows numbered first, first + 1, ... (the parser's 1-based output numbering)."""
    return Batch(
        columns=list(columns), rows=list(rows), row_numbers=list(range(first, first + len(rows))), bad=[]
    )


def batches_of(columns: Sequence[str], rows: Sequence[tuple[Any, ...]], size: int = 2) -> Iterator[Batch]:
    """Split rows into several batches, as the parser would."""
    for start in range(0, len(rows), size):
        yield make_batch(columns, rows[start : start + size], first=start + 1)


def fields_of(**types: str) -> list[FieldSpec]:
    return [FieldSpec(name=name, type=typ) for name, typ in types.items()]


@pytest.fixture
def hook(postgres_conn: dict) -> Any:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    return PostgresHook(postgres_conn_id=CONN_ID)


@dataclass
class Pg:
    """A fresh schema, and what the tests need around it."""

    hook: Any
    schema: str

    def loader(
        self, table: str, fields: list[FieldSpec], mode: str = "replace_object", keys: Sequence[str] = ()
    ) -> PostgresLoader:
        target = PostgresTarget(conn_id=CONN_ID, schema=self.schema, table=table, mode=mode, keys=list(keys))
        return PostgresLoader(self.hook, target, fields)

    def query(self, query: sql.Composable | str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.hook.get_conn() as conn, conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else []

    def rows(
        self, table: str, columns: Sequence[str], order: Sequence[str] = ("_raw_object_id", "_source_row")
    ) -> list[tuple[Any, ...]]:
        return self.query(
            sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.Identifier(self.schema, table),
                sql.SQL(", ").join(map(sql.Identifier, order)),
            )
        )

    def count(self, table: str) -> int:
        return self.query(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(self.schema, table)))[0][0]

    def columns(self, table: str) -> dict[str, str]:
        return dict(
            self.query(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = %s AND table_name = %s",
                [self.schema, table],
            )
        )

    def indexes(self, table: str) -> dict[str, str]:
        return dict(
            self.query(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s",
                [self.schema, table],
            )
        )


@pytest.fixture
def pg(hook: Any) -> Iterator[Pg]:
    schema = f"test_{uuid.uuid4().hex[:12]}"
    yield Pg(hook, schema)
    with hook.get_conn() as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


LoaderFactory = Callable[..., PostgresLoader]


# --------------------------------------------------------------------------- InfluxDB, MongoDB, Neo4j


class Rejected(list):
    """The ``reject`` callback of the non-PostgreSQL loaders: collects (row_number, field, error)."""

    def __call__(self, row_number: int, field: str | None, value: Any, error: str, record: Any) -> None:
        assert record is not None  # the quarantine keeps the whole row
        self.append((row_number, field, error))


def stack_conn(conn_id: str, fallback: str, service: str) -> dict:
    """The stack's connection ``conn_id``; the gold MongoDB lives on the catalog's server, so ``mongo_gold``
    falls back to ``mongo_default`` when an older stack env lacks it. A down server fails the test."""
    from tests.conftest import require_port

    if os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}") or fallback == conn_id:
        return require_port(service, conn_id)
    return require_port(service, fallback)


@pytest.fixture
def gold_mongo(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    """Connection id ``mongo_gold_test`` and a fresh gold database (dropped afterwards)."""
    from airflow.providers.mongo.hooks.mongo import MongoHook

    conn = stack_conn("mongo_gold", "mongo_default", "MongoDB-wire server (FerretDB, the gold database)")
    database = f"test_gold_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("AIRFLOW_CONN_MONGO_GOLD_TEST", json.dumps({**conn, "schema": database}))
    yield {"conn_id": "mongo_gold_test", "database": database, "conn": conn}
    MongoHook(mongo_conn_id="mongo_gold_test").get_conn().drop_database(database)


class TcpProxy:
    """A loopback TCP relay to a real server, which a test closes to stop "the store" mid-run, without
    stopping the server itself (FerretDB also holds the catalog, which must outlive the store's failure)."""

    def __init__(self, host: str, port: int, stop_after_bytes: int | None = None) -> None:
        self.target = (host, int(port))
        self.budget = stop_after_bytes  # the store dies once this much was sent to it (mid-load)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                if self.stopped.is_set():
                    client.close()
                    upstream.close()
                    return
                self.sockets += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, upstream: bool) -> None:
        try:
            while data := src.recv(1 << 16):
                if upstream and self.budget is not None:
                    with self.lock:
                        self.budget -= len(data)
                        over = self.budget < 0
                    if over:
                        threading.Thread(target=self.stop, daemon=True).start()
                        return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        """The store goes away: no new connection, every open one cut."""
        self.stopped.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        with self.lock:
            for s in self.sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()


@pytest.fixture
def tcp_proxy() -> Iterator[Callable[..., TcpProxy]]:
    proxies: list[TcpProxy] = []

    def start(host: str, port: int, stop_after_bytes: int | None = None) -> TcpProxy:
        proxies.append(TcpProxy(host, port, stop_after_bytes))
        return proxies[-1]

    yield start
    for proxy in proxies:
        proxy.stop()


def stop_after(batches: Iterable[Any], count: int, stop: Callable[[], None]) -> Iterator[Any]:
    """Yield batches, calling ``stop()`` (the store goes away) once ``count`` of them were consumed."""
    for index, batch in enumerate(batches):
        if index == count:
            stop()
        yield batch


def influxql(conn: dict, query: str, database: str | None = None) -> list[dict[str, Any]]:
    """InfluxQL over the 1.x HTTP API (counts and clean-up; the loader writes through the v2 API). The
    v2-compatibility token of InfluxDB 1.8 is "user:password"."""
    import base64
    import urllib.parse
    import urllib.request

    user, _, password = str((conn.get("extra") or {}).get("token", "")).partition(":")
    params = {"q": query, **({"db": database} if database else {})}
    url = f"{conn.get('schema') or 'http'}://{conn['host']}:{conn['port']}/query"
    body = urllib.parse.urlencode(params).encode()
    request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 (http to the stack)
    request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 (the stack's own server)
        body = json.loads(resp.read())
    result = body["results"][0]
    if "error" in result:
        raise RuntimeError(f"InfluxQL {query!r}: {result['error']}")
    return [
        {
            "name": s.get("name"),
            "tags": s.get("tags"),
            "rows": [dict(zip(s["columns"], v, strict=True)) for v in s["values"]],
        }
        for s in result.get("series", [])
    ]


@dataclass
class Influx:
    conn_id: str
    conn: dict
    database: str

    @property
    def bucket(self) -> str:
        return f"{self.database}/autogen"

    def query(self, q: str) -> list[dict[str, Any]]:
        return influxql(self.conn, q, self.database)

    def points(self, measurement: str | None = None) -> int:
        """Points (distinct measurement + tags + time) in the test database, or in one measurement."""
        where = f'"{measurement}"' if measurement else "/.*/"
        total = 0
        for series in self.query(f'SELECT count("raw_object_id") FROM {where}'):  # noqa: S608 (tests)
            total += sum(r["count"] for r in series["rows"])
        return total


@pytest.fixture
def gold_influx() -> Iterator[Influx]:
    """A fresh InfluxDB database (bucket ``<db>/autogen``) on the stack's server, dropped afterwards."""
    conn = stack_conn("influxdb_default", "influxdb_default", "InfluxDB")
    database = f"test_{uuid.uuid4().hex[:10]}"
    influxql(conn, f'CREATE DATABASE "{database}"')
    yield Influx("influxdb_default", conn, database)
    influxql(conn, f'DROP DATABASE "{database}"')


@dataclass
class Graph:
    conn_id: str
    conn: dict
    tag: str

    def label(self, name: str) -> str:
        return f"{name}_{self.tag}"

    def run(self, query: str, **params: Any) -> list[dict[str, Any]]:
        from airflow.providers.neo4j.hooks.neo4j import Neo4jHook

        return Neo4jHook(conn_id=self.conn_id).run(query, params)

    def count(self, label: str) -> int:
        return self.run(f"MATCH (n:`{self.label(label)}`) RETURN count(n) AS c")[0]["c"]

    def rels(self, rel_type: str) -> int:
        return self.run(f"MATCH ()-[e:`{rel_type}_{self.tag}`]->() RETURN count(e) AS c")[0]["c"]


@pytest.fixture
def gold_graph() -> Iterator[Graph]:
    """Neo4j Community has one database: each test's labels and types carry its own suffix, and its
    nodes and constraints are removed afterwards."""
    conn = stack_conn("neo4j_default", "neo4j_default", "Neo4j (Bolt)")
    graph = Graph("neo4j_default", conn, uuid.uuid4().hex[:8])
    yield graph
    for rec in graph.run("SHOW CONSTRAINTS YIELD name"):
        if rec["name"].endswith(f"_{graph.tag}_key"):
            graph.run(f"DROP CONSTRAINT `{rec['name']}` IF EXISTS")
    graph.run(
        "MATCH (n) WHERE any(l IN labels(n) WHERE l ENDS WITH $suffix) DETACH DELETE n",
        suffix=f"_{graph.tag}",
    )
