"""Gold zone, PostgreSQL: atomic, idempotent loads of raw objects into typed tables.

One raw object is loaded into one table in ONE transaction, streamed with binary ``COPY``
(`gold.postgres_copy`); the table is created and evolved with the descriptor by `gold.postgres_schema`.
Loads of one object into one table are serialised by an advisory lock, and the schema's ledger tells
whether the object was loaded before. Per the target's mode:

- ``replace_object``: delete this object's rows (if it was loaded before), COPY straight into the table;
- ``merge``: COPY into a temp staging table, then upsert on the key (the last row of the file wins);
- ``append``: the first load of an object is copied straight in; a re-run COPYs into staging, then inserts
  the source rows the table does not hold yet.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from airflow_provider_datalake.descriptors.model import FieldSpec, PostgresTarget
from airflow_provider_datalake.gold.common import (
    LOADED_AT,
    RAW_OBJECT_ID,
    SOURCE_ROW,
    BatchLike,
    GoldLoadError,
    LoadResult,
    Reject,
    frozen_heap,
)
from airflow_provider_datalake.gold.postgres_copy import copy_batches
from airflow_provider_datalake.gold.postgres_schema import (
    LEDGER,
    LINEAGE_COLUMNS,
    STAGE,
    TRACKED,
    GoldTable,
    lock_key,
)

if TYPE_CHECKING:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

log = logging.getLogger(__name__)


def make_loader(target: PostgresTarget, fields: list[FieldSpec]) -> PostgresLoader:
    """The loader on the official PostgresHook of the target's connection."""
    # Imported here: the Airflow provider is loaded only when a run builds a loader.
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    return PostgresLoader(PostgresHook(postgres_conn_id=target.conn_id), target, fields)


class PostgresLoader:
    """Loads parsed batches of raw objects into one PostgreSQL table of the gold zone."""

    def __init__(self, hook: PostgresHook, target: PostgresTarget, fields: Sequence[FieldSpec]) -> None:
        names = [f.name for f in fields]
        if not names:
            raise ValueError("a gold table needs at least one field")
        clash = sorted(set(names) & set(LINEAGE_COLUMNS))
        if clash:
            raise ValueError(f"field names {clash} are reserved for the lineage columns of the gold table")
        missing = [k for k in target.keys if k not in names]
        if missing:
            raise ValueError(f"target {target.name}: keys {missing} are not fields of the descriptor")
        self.hook = hook
        self.target = target
        self.gold = GoldTable(target, fields)
        self.fields = self.gold.fields
        self.names = self.gold.names
        self.schema, self.table = self.gold.schema, self.gold.table
        self.qualified = self.gold.qualified
        self.ident = self.gold.ident

    # ------------------------------------------------------------------ connection

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor[Any]]:
        """One connection, one transaction (committed on success, rolled back on any exception), closed."""
        conn = self.hook.get_conn()
        if not isinstance(conn, psycopg.Connection):
            conn.close()
            raise TypeError(
                "PostgresLoader needs psycopg 3 connections; the PostgresHook uses psycopg2 here "
                "(it picks psycopg 3 when `psycopg` and SQLAlchemy >= 2 are installed)"
            )
        try:
            conn.autocommit = True  # so transaction() below is the real BEGIN/COMMIT, not a savepoint
            # tuples whatever cursor the connection's extras ask for (dictcursor...): this code unpacks rows
            with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
                yield cur
        finally:
            conn.close()

    # ------------------------------------------------------------------ DDL

    def ensure_table(self) -> None:
        """Create or evolve the table so it holds the descriptor's fields (`GoldTable.ensure`)."""
        with self._transaction() as cur:
            self.gold.ensure(cur)

    # ------------------------------------------------------------------ load

    def load(
        self, raw_object_id: str, batches: Iterable[BatchLike], reject: Reject | None = None
    ) -> LoadResult:
        """Write one raw object's rows, all or nothing; re-running it gives the same table.

        Loads of the same object into the same table are serialised by an advisory lock, so a retry racing
        a zombie attempt waits for it instead of failing on the lineage index. ``reject`` is never called:
        a value PostgreSQL cannot take fails the whole object, with its source row named.
        """
        mode = self.target.mode
        try:
            with frozen_heap(), self._transaction() as cur:
                cur.execute(
                    "SELECT pg_advisory_xact_lock(%s)", [lock_key("load", self.qualified, raw_object_id)]
                )
                tracked, present = self._presence(cur, raw_object_id)
                if mode == "replace_object":
                    if present:
                        cur.execute(
                            sql.SQL("DELETE FROM {} WHERE {} = %s").format(
                                self.ident, sql.Identifier(RAW_OBJECT_ID)
                            ),
                            [raw_object_id],
                        )
                        log.info("%s: deleted %d rows of %s", self.qualified, cur.rowcount, raw_object_id)
                    rows_in = written = copy_batches(
                        cur, self.gold, self.ident, batches, raw_object_id, lineage=True
                    )
                elif mode == "append" and not present:
                    # First load of this object (checked under its lock): nothing can conflict, so COPY
                    # straight in, sparing the staging table and its INSERT.
                    rows_in = written = copy_batches(
                        cur, self.gold, self.ident, batches, raw_object_id, lineage=True
                    )
                else:
                    self.gold.create_stage(cur)
                    rows_in = copy_batches(
                        cur, self.gold, sql.Identifier(STAGE), batches, raw_object_id, lineage=False
                    )
                    written = (
                        self._merge(cur, raw_object_id, present)
                        if mode == "merge"
                        else self._append(cur, raw_object_id)
                    )
                if tracked and not present:
                    cur.execute(
                        sql.SQL("INSERT INTO {} VALUES (%s, %s) ON CONFLICT DO NOTHING").format(
                            sql.Identifier(self.schema, LEDGER)
                        ),
                        [self.table, raw_object_id],
                    )
        except psycopg.Error as exc:
            why = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, psycopg.errors.NotNullViolation) and exc.diag.table_name == STAGE:
                why = (
                    f"merge key column {exc.diag.column_name} is null, and a null key identifies no row "
                    f"({exc.diag.message_detail} - its last value is the source row number)"
                )
            elif isinstance(exc, psycopg.errors.UndefinedTable | psycopg.errors.UndefinedColumn):
                why += " (run ensure_table() with this descriptor version first)"
            raise GoldLoadError(
                f"loading raw object {raw_object_id} into {self.qualified} ({mode}) failed and was rolled "
                f"back: {why}"
            ) from exc
        return LoadResult(rows_written=written, rows_in=rows_in, mode=mode, table=self.qualified)

    def count_object_rows(self, raw_object_id: str) -> int:
        """Rows of this raw object in the table (0 when the table does not exist yet)."""
        with self._transaction() as cur:
            cur.execute("SELECT to_regclass(%s)", [self.ident.as_string(cur)])
            row = cur.fetchone()
            if row is None or row[0] is None:
                return 0
            cur.execute(
                sql.SQL("SELECT count(*) FROM {} WHERE {} = %s").format(
                    self.ident, sql.Identifier(RAW_OBJECT_ID)
                ),
                [raw_object_id],
            )
            count = cur.fetchone()
            return int(count[0]) if count else 0

    def _merge(self, cur: psycopg.Cursor[Any], raw_object_id: str, present: bool) -> int:
        keys = [sql.Identifier(k) for k in self.target.keys]
        key_list = sql.SQL(", ").join(keys)
        if present:
            # A re-run whose row n now has another key (e.g. a new descriptor version): the row this object
            # wrote before under that lineage is stale, and would break the lineage index.
            cur.execute(
                sql.SQL(
                    "DELETE FROM {t} t USING {s} s WHERE t.{obj} = %s AND t.{row} = s.{row} "
                    "AND ({tk}) IS DISTINCT FROM ({sk})"
                ).format(
                    t=self.ident,
                    s=sql.Identifier(STAGE),
                    obj=sql.Identifier(RAW_OBJECT_ID),
                    row=sql.Identifier(SOURCE_ROW),
                    tk=sql.SQL(", ").join(sql.SQL("t.{}").format(k) for k in keys),
                    sk=sql.SQL(", ").join(sql.SQL("s.{}").format(k) for k in keys),
                ),
                [raw_object_id],
            )
        data = [sql.Identifier(n) for n in self.names]
        updated = [sql.Identifier(n) for n in self.names if n not in self.target.keys]
        updated += [sql.Identifier(RAW_OBJECT_ID), sql.Identifier(SOURCE_ROW)]
        cur.execute(
            sql.SQL(
                "INSERT INTO {t} AS t ({cols}, {obj}, {row}) "
                "SELECT DISTINCT ON ({keys}) {cols}, %s::text, {row} FROM {s} ORDER BY {keys}, {row} DESC "
                "ON CONFLICT ({keys}) DO UPDATE SET {sets}, {loaded} = now() "
                "WHERE ({old}) IS DISTINCT FROM ({new})"
            ).format(
                t=self.ident,
                s=sql.Identifier(STAGE),
                cols=sql.SQL(", ").join(data),
                obj=sql.Identifier(RAW_OBJECT_ID),
                row=sql.Identifier(SOURCE_ROW),
                keys=key_list,
                loaded=sql.Identifier(LOADED_AT),
                sets=sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=c) for c in updated),
                old=sql.SQL(", ").join(sql.SQL("t.{}").format(c) for c in updated),
                new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(c) for c in updated),
            ),
            [raw_object_id],
        )
        return cur.rowcount

    def _append(self, cur: psycopg.Cursor[Any], raw_object_id: str) -> int:
        cols = sql.SQL(", ").join(sql.Identifier(n) for n in self.names)
        cur.execute(
            sql.SQL(
                "INSERT INTO {t} ({cols}, {obj}, {row}) SELECT {cols}, %s::text, {row} FROM {s} s "
                "WHERE NOT EXISTS (SELECT FROM {t} x WHERE x.{obj} = %s AND x.{row} = s.{row})"
            ).format(
                t=self.ident,
                s=sql.Identifier(STAGE),
                cols=cols,
                obj=sql.Identifier(RAW_OBJECT_ID),
                row=sql.Identifier(SOURCE_ROW),
            ),
            [raw_object_id, raw_object_id],
        )
        return cur.rowcount

    def _presence(self, cur: psycopg.Cursor[Any], raw_object_id: str) -> tuple[bool, bool]:
        """(is the table tracked by the ledger, may the object have rows in it) - under the object's lock."""
        cur.execute("SELECT to_regclass(%s)", [sql.Identifier(self.schema, LEDGER).as_string(cur)])
        found = cur.fetchone()
        if found and found[0] is not None:
            cur.execute(
                sql.SQL(
                    "SELECT raw_object_id FROM {} WHERE table_name = %s AND raw_object_id IN (%s, %s)"
                ).format(sql.Identifier(self.schema, LEDGER)),
                [self.table, TRACKED, raw_object_id],
            )
            ids = {row[0] for row in cur.fetchall()}
            if TRACKED in ids:
                return True, raw_object_id in ids
        return False, self._object_present(cur, raw_object_id)

    def _object_present(self, cur: psycopg.Cursor[Any], raw_object_id: str) -> bool:
        cur.execute(
            sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE {} = %s)").format(
                self.ident, sql.Identifier(RAW_OBJECT_ID)
            ),
            [raw_object_id],
        )
        found = cur.fetchone()
        return bool(found and found[0])
