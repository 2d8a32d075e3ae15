"""Fixtures for the PostgreSQL gold-zone tests: the stack's real PostgreSQL, one fresh schema per test.

Batches are built with the parsing stage's ``Batch`` when that package provides it, else with a local
dataclass of the same shape (the loader only reads ``columns``, ``rows`` and ``row_numbers``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
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
