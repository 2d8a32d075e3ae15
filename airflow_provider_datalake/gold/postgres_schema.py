"""Gold zone, PostgreSQL: the table of a target - column types, lineage columns, the ledger - and the DDL
that creates it or makes it fit a newer descriptor.

The schema only ever grows: new fields become new nullable columns; a changed type is an error, never a
silent retype or drop. Every row carries its lineage (``_raw_object_id``, ``_source_row``, ``_loaded_at``);
a BRIN bloom index on ``_raw_object_id`` finds an object's rows for a re-run. The schema's ledger
(``_datalake_objects``) records which raw objects each of its tables holds, so a first load - the usual
case - looks nothing up in the table. A table with another index led by ``_raw_object_id`` (a unique
btree on (object, row)) is a gold table too: that index answers the same lookups.

Identifiers come from the descriptor (validated by its model) and are quoted here with ``psycopg.sql``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from airflow_provider_datalake.descriptors.model import FieldSpec, FieldType, PostgresTarget
from airflow_provider_datalake.gold.common import LOADED_AT, RAW_OBJECT_ID, SOURCE_ROW, GoldSchemaError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PgType:
    ddl: str  # as written in CREATE TABLE
    catalog: str  # as format_type() reports it, to compare with an existing column
    copy: str  # binary COPY type name for psycopg's set_types


PG_TYPES: dict[FieldType, PgType] = {
    FieldType.STRING: PgType("text", "text", "text"),
    FieldType.INT: PgType("bigint", "bigint", "int8"),
    FieldType.FLOAT: PgType("double precision", "double precision", "float8"),
    FieldType.BOOL: PgType("boolean", "boolean", "bool"),
    FieldType.TIMESTAMP: PgType("timestamptz", "timestamp with time zone", "timestamptz"),
    FieldType.DATE: PgType("date", "date", "date"),
    FieldType.JSON: PgType("jsonb", "jsonb", "jsonb"),
}

#: lineage column -> (DDL, format_type() name)
LINEAGE_COLUMNS: dict[str, tuple[str, str]] = {
    RAW_OBJECT_ID: ("text NOT NULL", "text"),
    SOURCE_ROW: ("integer NOT NULL", "integer"),
    LOADED_AT: ("timestamptz NOT NULL DEFAULT now()", "timestamp with time zone"),
}
#: the temp table a load copies into before it merges or appends
STAGE = "_datalake_stage"
#: per schema: which raw objects were loaded into which of its tables ('' = the table is tracked here)
LEDGER = "_datalake_objects"
TRACKED = ""
MAX_IDENTIFIER = 63


@dataclass
class _Plan:
    """The DDL still missing; empty when the table already fits the descriptor."""

    create_schema: bool = False
    create_table: bool = False
    add_columns: list[FieldSpec] = field(default_factory=list)
    indexes: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    lineage_index: str | None = None

    def __bool__(self) -> bool:
        return (
            self.create_schema
            or self.create_table
            or bool(self.add_columns)
            or bool(self.indexes)
            or bool(self.lineage_index)
        )


def lock_key(*parts: str) -> int:
    """A signed 64-bit advisory-lock key; stable across processes (unlike hash()), namespaced to us."""
    digest = hashlib.blake2b("\x1f".join(("airflow_provider_datalake", *parts)).encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def index_name(table: str, suffix: str) -> str:
    """``<table>_<suffix>`` within 63 bytes; a long table name is shortened with a hash so names stay unique
    (PostgreSQL would truncate silently and could even collide with the table's own name)."""
    name = f"{table}_{suffix}"
    if len(name) <= MAX_IDENTIFIER:
        return name
    tag = hashlib.blake2b(table.encode(), digest_size=4).hexdigest()
    return f"{table[: MAX_IDENTIFIER - len(suffix) - len(tag) - 2]}_{tag}_{suffix}"


class GoldTable:
    """One target's table: its names, and the DDL that makes it hold the descriptor's fields."""

    def __init__(self, target: PostgresTarget, fields: Sequence[FieldSpec]) -> None:
        self.target = target
        self.fields = list(fields)
        self.names = [f.name for f in self.fields]
        self.schema, self.table = target.schema_, target.table
        self.qualified = f"{self.schema}.{self.table}"
        self.ident = sql.Identifier(self.schema, self.table)

    def create_stage(self, cur: psycopg.Cursor[Any]) -> None:
        """Temp table: no WAL, dropped at commit. Merge keys are NOT NULL here: a null key identifies no row
        (and would insert a new row at every re-run), so COPY rejects it and the object rolls back."""
        keys = set(self.target.keys) if self.target.mode == "merge" else set()
        cols = [
            sql.SQL("{} {}{}").format(
                sql.Identifier(f.name),
                sql.SQL(PG_TYPES[f.type].ddl),
                sql.SQL(" NOT NULL" if f.name in keys else ""),
            )
            for f in self.fields
        ]
        cols.append(sql.SQL("{} integer NOT NULL").format(sql.Identifier(SOURCE_ROW)))
        cur.execute(
            sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(
                sql.Identifier(STAGE), sql.SQL(", ").join(cols)
            )
        )

    def ensure(self, cur: psycopg.Cursor[Any]) -> None:
        """Create or evolve the table so it holds the descriptor's fields; idempotent and safe in parallel.

        The catalog is read first without any lock, so a table that already fits costs one round trip and
        never waits behind running loads (``CREATE INDEX IF NOT EXISTS`` alone would take a SHARE lock).
        Otherwise the DDL runs under an advisory lock on the table's name, after planning again: a parallel
        task may have done it meanwhile. A type conflict raises before any DDL, so nothing changes.
        """
        plan = self._plan(cur)
        if not plan:
            return
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key("ddl", self.qualified)])
        plan = self._plan(cur)
        self._apply(cur, plan)

    def _plan(self, cur: psycopg.Cursor[Any]) -> _Plan:
        cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [self.schema])
        if cur.fetchone() is None:
            return _Plan(
                create_schema=True,
                create_table=True,
                indexes=self._wanted_indexes(),
                lineage_index=self._lineage_index,
            )
        cur.execute(
            "SELECT c.oid, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relname = %s",
            [self.schema, self.table],
        )
        found = cur.fetchone()
        if found is None:
            return _Plan(create_table=True, indexes=self._wanted_indexes(), lineage_index=self._lineage_index)
        oid, relkind = found
        if relkind not in ("r", "p"):
            raise GoldSchemaError(f"{self.qualified} exists but is not a table (relkind {relkind!r})")
        cur.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
            " WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped",
            [oid],
        )
        existing: dict[str, str] = dict(cur.fetchall())
        problems = [
            f"lineage column {name} is missing"
            if name not in existing
            else f"lineage column {name} is {existing[name]}, expected {typ}"
            for name, (_, typ) in LINEAGE_COLUMNS.items()
            if existing.get(name) != typ
        ]
        if problems:
            raise GoldSchemaError(
                f"table {self.qualified} is not a data lake gold table: {'; '.join(problems)}. "
                "Load into another table, or migrate it by hand"
            )
        for f in self.fields:
            have, want = existing.get(f.name), PG_TYPES[f.type].catalog
            if have is not None and have != want:
                raise GoldSchemaError(
                    f"table {self.qualified}, column {f.name}: the table has type {have} but the "
                    f"descriptor's field is {f.type.value} ({want}). Types are never changed automatically: "
                    "migrate the column by hand, or load the new type into a new field or table"
                )
        plan = _Plan(add_columns=[f for f in self.fields if f.name not in existing])
        cur.execute(
            "SELECT 1 FROM pg_index x"
            " JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]"
            " WHERE x.indrelid = %s AND x.indisvalid AND x.indpred IS NULL AND a.attname = %s",
            [oid, RAW_OBJECT_ID],
        )
        if cur.fetchone() is None:  # any valid index led by _raw_object_id will do (a unique btree too)
            plan.lineage_index = self._lineage_index
        cur.execute(
            "SELECT i.relname, array(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY k(num, ord)"
            "  JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.num ORDER BY k.ord)"
            " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
            " WHERE x.indrelid = %s AND x.indisunique AND x.indisvalid AND x.indpred IS NULL"
            "  AND x.indexprs IS NULL",
            [oid],
        )
        unique = {name: tuple(cols) for name, cols in cur.fetchall()}
        covered = {frozenset(cols) for cols in unique.values()}
        for name, cols in self._wanted_indexes():
            if name in unique and frozenset(unique[name]) != frozenset(cols):
                raise GoldSchemaError(
                    f"table {self.qualified}: unique index {name} is on ({', '.join(unique[name])}) but the "
                    f"descriptor's merge keys are ({', '.join(cols)}). Changing keys needs a manual migration"
                )
            if frozenset(cols) not in covered:  # ON CONFLICT matches a unique index by its column set
                plan.indexes.append((name, cols))
        return plan

    @property
    def _lineage_index(self) -> str:
        return index_name(self.table, "lineage")

    def _wanted_indexes(self) -> list[tuple[str, tuple[str, ...]]]:
        """Unique indexes; the lineage index is not one (see `_apply`)."""
        if self.target.mode == "merge":
            return [(index_name(self.table, "merge_key"), tuple(self.target.keys))]
        return []

    def _column_defs(self, fields: Iterable[FieldSpec]) -> list[sql.Composable]:
        return [
            sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL(PG_TYPES[f.type].ddl)) for f in fields
        ]

    def _apply(self, cur: psycopg.Cursor[Any], plan: _Plan) -> None:
        if plan.create_schema:
            cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
        if plan.create_table:
            lineage = [
                sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(d))
                for n, (d, _) in LINEAGE_COLUMNS.items()
            ]
            cur.execute(
                sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
                    self.ident, sql.SQL(", ").join([*self._column_defs(self.fields), *lineage])
                )
            )
            log.info("created table %s", self.qualified)
            # A table created here has its loads recorded in the schema's ledger, so a first load (the
            # usual case) needs no lookup in the table itself. A table the ledger does not track is looked
            # up through its lineage index instead.
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key("ddl", self.schema, LEDGER)])
            ledger = sql.Identifier(self.schema, LEDGER)
            cur.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (table_name text NOT NULL, raw_object_id text NOT NULL,"
                    " PRIMARY KEY (table_name, raw_object_id))"
                ).format(ledger)
            )
            cur.execute(
                sql.SQL("INSERT INTO {} VALUES (%s, %s) ON CONFLICT DO NOTHING").format(ledger),
                [self.table, TRACKED],
            )
        if plan.add_columns:
            cur.execute(
                sql.SQL("ALTER TABLE {} {}").format(
                    self.ident,
                    sql.SQL(", ").join(
                        sql.SQL("ADD COLUMN IF NOT EXISTS {}").format(d)
                        for d in self._column_defs(plan.add_columns)
                    ),
                )
            )
            log.info("table %s: added columns %s", self.qualified, [f.name for f in plan.add_columns])
        if plan.lineage_index:
            # BRIN, not a btree: COPY fills new pages, which a BRIN index does not even touch until they are
            # summarised (autosummarize), where a unique (object, row) btree costs an index insert per row.
            # Bloom, not minmax: object ids are random, so a page range of several small objects would
            # span most ids. It finds an object's rows for replace_object's DELETE and re-runs; the loads
            # themselves are idempotent through the per-object lock, the ledger and the modes' SQL.
            cur.execute(
                sql.SQL(
                    "CREATE INDEX IF NOT EXISTS {} ON {} USING brin ({} text_bloom_ops)"
                    " WITH (autosummarize = on)"
                ).format(sql.Identifier(plan.lineage_index), self.ident, sql.Identifier(RAW_OBJECT_ID))
            )
        for name, cols in plan.indexes:
            try:
                cur.execute(
                    sql.SQL("CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} ({})").format(
                        sql.Identifier(name), self.ident, sql.SQL(", ").join(map(sql.Identifier, cols))
                    )
                )
            except psycopg.errors.UniqueViolation as exc:
                raise GoldSchemaError(
                    f"table {self.qualified}: cannot add unique index on ({', '.join(cols)}), "
                    f"the table already holds duplicates of it: {exc.diag.message_detail or exc}"
                ) from exc
