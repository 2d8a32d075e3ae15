"""Gold zone, Neo4j: each row merges the nodes the descriptor declares and the relationships between them.

``ensure_table`` creates one uniqueness constraint per node label on its key properties (which is also the
index MERGE and MATCH use). A batch of rows is one write transaction: one ``UNWIND $rows MERGE`` statement
per node label, then one per relationship type (``MATCH`` both ends by key, ``MERGE`` the relationship).
Rows are de-duplicated per node key and relationship within the batch first (the last row wins), so a
building seen in 10,000 readings is merged once per batch. MERGE makes re-running an object harmless: the
same nodes and relationships, their properties rewritten.

Labels, relationship types and property names come from the descriptor, are validated as identifiers by
its model and backticked here; every value is a query parameter, never text of the query.

Lineage: nodes and relationships carry ``_raw_object_id``, ``_source_row`` and ``_loaded_at`` of the last
row that wrote them (a Building is shared by many files: it records the latest). A batch is a transaction,
an object is not (one transaction for millions of rows would hold them all in the server's memory): a
failed load leaves whole batches, which the next run of the object merges again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_datalake.descriptors.model import FieldSpec, FieldType, GraphNode, Neo4jTarget
from airflow_provider_datalake.gold.common import (
    LOADED_AT,
    RAW_OBJECT_ID,
    SOURCE_ROW,
    BatchLike,
    GoldLoadError,
    LoadResult,
    Reject,
    Rejects,
    check_batch,
    check_fields,
    frozen_heap,
)

if TYPE_CHECKING:
    from airflow.providers.neo4j.hooks.neo4j import Neo4jHook

log = logging.getLogger(__name__)

INT64 = (-(2**63), 2**63)


def make_loader(target: Neo4jTarget, fields: list[FieldSpec]) -> Neo4jLoader:
    """The loader on the official Neo4jHook of the target's connection."""
    # Imported here: the Airflow provider is loaded only when a run builds a loader.
    from airflow.providers.neo4j.hooks.neo4j import Neo4jHook

    return Neo4jLoader(Neo4jHook(conn_id=target.conn_id), target, fields)


def q(name: str) -> str:
    """Backtick a validated identifier (labels, types, property names: the model allows no backtick)."""
    if "`" in name:
        raise ValueError(f"identifier {name!r} contains a backtick")
    return f"`{name}`"


def constraint_name(label: str) -> str:
    return f"datalake_{label}_key"


@dataclass
class _Node:
    spec: GraphNode
    keys: list[int]  # column indexes
    props: list[tuple[str, int]]
    query: str


class Neo4jLoader:
    """Merges parsed batches of raw objects into one property graph."""

    def __init__(self, hook: Neo4jHook, target: Neo4jTarget, fields: Sequence[FieldSpec]) -> None:
        self.names = check_fields(fields, "neo4j")
        index = {n: i for i, n in enumerate(self.names)}
        refs = {name for _, name in target.field_refs()}
        missing = sorted(refs - set(index))
        if missing:
            raise ValueError(f"target {target.name}: {missing} are not fields of the descriptor")
        self.hook = hook
        self.target = target
        self.fields = list(fields)
        self.json_cols = {i for i, f in enumerate(fields) if f.type is FieldType.JSON}
        self.int_cols = {i for i, f in enumerate(fields) if f.type is FieldType.INT}
        lineage = f"{q(RAW_OBJECT_ID)}: $object, {q(SOURCE_ROW)}: r.row, {q(LOADED_AT)}: $loaded_at"
        self.nodes: dict[str, _Node] = {}
        for node in target.nodes:
            match = ", ".join(f"{q(k)}: r.k.{q(k)}" for k in node.keys)
            self.nodes[node.label] = _Node(
                node,
                [index[k] for k in node.keys],
                [(p, index[p]) for p in node.properties],
                f"UNWIND $rows AS r MERGE (n:{q(node.label)} {{{match}}}) SET n += r.p, n += {{{lineage}}}",
            )
        self.rels = []
        for rel in target.relationships:
            a, b = self.nodes[rel.from_].spec, self.nodes[rel.to].spec
            match_a = ", ".join(f"{q(k)}: r.a.{q(k)}" for k in a.keys)
            match_b = ", ".join(f"{q(k)}: r.b.{q(k)}" for k in b.keys)
            query = (
                f"UNWIND $rows AS r MATCH (a:{q(a.label)} {{{match_a}}}) "
                f"MATCH (b:{q(b.label)} {{{match_b}}}) "
                f"MERGE (a)-[e:{q(rel.type)}]->(b) SET e += r.p, e += {{{lineage}}}"
            )
            self.rels.append((rel, [(p, index[p]) for p in rel.properties], query))

    @property
    def where(self) -> str:
        return f"neo4j:{self.target.database or '(default)'}/{self.target.graph}"

    def _session(self) -> Any:
        driver = self.hook.get_conn()
        database = self.target.database or (self.hook.connection.schema if self.hook.connection else None)
        return driver.session(database=database) if database else driver.session()

    # ------------------------------------------------------------------ schema

    def ensure_table(self) -> None:
        """A uniqueness constraint per node label on its keys (idempotent). One of the same name on other
        properties is an error: keys are never changed behind the graph's back."""
        try:
            with self._session() as session:
                existing = {
                    rec["name"]: (rec["labelsOrTypes"], rec["properties"])
                    for rec in session.run("SHOW CONSTRAINTS YIELD name, labelsOrTypes, properties")
                }
                for label, node in self.nodes.items():
                    name = constraint_name(label)
                    keys = list(node.spec.keys)
                    if name in existing:
                        labels, props = existing[name]
                        if list(labels) != [label] or list(props) != keys:
                            raise GoldLoadError(
                                f"constraint {name} is on {labels} {props}, the descriptor's keys of {label} "
                                f"are {keys}: drop the constraint by hand to change a node's key"
                            )
                        continue
                    props = ", ".join(f"n.{q(k)}" for k in keys)
                    session.run(
                        f"CREATE CONSTRAINT {q(name)} IF NOT EXISTS "
                        f"FOR (n:{q(label)}) REQUIRE ({props}) IS UNIQUE"
                    ).consume()
                    log.info("neo4j: constraint %s on %s%s", name, label, keys)
        except GoldLoadError:
            raise
        except Exception as exc:
            raise GoldLoadError(f"{self.where}: cannot create the key constraints: {exc}") from exc

    # ------------------------------------------------------------------ load

    def _value(self, row: tuple[Any, ...], i: int) -> Any:
        value = row[i]
        if value is None:
            return None
        if i in self.json_cols:
            return json.dumps(value, default=str)  # a property holds no map: the JSON text
        if i in self.int_cols and not INT64[0] <= value < INT64[1]:
            raise ValueError(f"integer out of Neo4j's 64-bit range in {self.names[i]}")
        return value

    def _params(
        self, batch: BatchLike, rejects: Rejects
    ) -> tuple[dict[str, list[dict[str, Any]]], list[list[dict[str, Any]]], int]:
        """Per label and per relationship type, the batch's distinct parameter rows (last row wins)."""
        nodes: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {label: {} for label in self.nodes}
        rels: list[dict[tuple[Any, ...], dict[str, Any]]] = [{} for _ in self.rels]
        good = 0
        for row, number in zip(batch.rows, batch.row_numbers, strict=True):
            keys: dict[str, tuple[Any, ...]] = {}
            try:
                for label, node in self.nodes.items():
                    key = tuple(self._value(row, i) for i in node.keys)
                    if any(v is None for v in key):
                        null = next(k for k, v in zip(node.spec.keys, key, strict=True) if v is None)
                        raise _Refused(null, f"key {null} of node {label} is null: MERGE needs every key")
                    keys[label] = key
                node_props = {
                    label: {p: self._value(row, i) for p, i in node.props}
                    for label, node in self.nodes.items()
                }
                rel_props = [{p: self._value(row, i) for p, i in props} for _, props, _ in self.rels]
            except _Refused as exc:
                rejects(number, row, exc.field, str(exc))
                continue
            except ValueError as exc:
                rejects(number, row, None, str(exc))
                continue
            good += 1
            for label, node in self.nodes.items():
                key = keys[label]
                nodes[label][key] = {
                    "k": dict(zip(node.spec.keys, key, strict=True)),
                    "p": node_props[label],
                    "row": number,
                }
            for j, (rel, _, _) in enumerate(self.rels):
                a, b = keys[rel.from_], keys[rel.to]
                rels[j][(a, b)] = {
                    "a": nodes[rel.from_][a]["k"],
                    "b": nodes[rel.to][b]["k"],
                    "p": rel_props[j],
                    "row": number,
                }
        return {label: list(d.values()) for label, d in nodes.items()}, [list(d.values()) for d in rels], good

    def load(
        self, raw_object_id: str, batches: Iterable[BatchLike], reject: Reject | None = None
    ) -> LoadResult:
        """Merge one raw object's rows into the graph, one transaction per batch."""
        rejects = Rejects(reject, self.names)
        loaded_at = dt.datetime.now(dt.UTC)
        rows_in = merged = 0
        self.counters = {"nodes_created": 0, "relationships_created": 0, "properties_set": 0}
        try:
            with frozen_heap(), self._session() as session:
                for batch in batches:
                    check_batch(batch, self.names)
                    rows_in += len(batch.rows)
                    node_rows, rel_rows, good = self._params(batch, rejects)
                    if not good:
                        continue
                    # An explicit transaction, not execute_write: its retries would wait ~30 s on a stopped
                    # server; the next run of the object is the retry.
                    with session.begin_transaction() as tx:
                        params = {"object": raw_object_id, "loaded_at": loaded_at}
                        for label, node in self.nodes.items():
                            self._count(tx.run(node.query, rows=node_rows[label], **params).consume())
                        for (_, _, query), rows in zip(self.rels, rel_rows, strict=True):
                            if rows:
                                self._count(tx.run(query, rows=rows, **params).consume())
                        tx.commit()
                    merged += good
        except GoldLoadError:
            raise
        except Exception as exc:
            raise GoldLoadError(
                f"loading raw object {raw_object_id} into {self.where} failed after {merged} rows: "
                f"{type(exc).__name__}: {exc}. Run the object again: the load is idempotent"
            ) from exc
        return LoadResult(merged, rows_in, "merge", self.where, rows_rejected=rejects.count)

    def _count(self, summary: Any) -> None:
        counters = summary.counters
        for name in self.counters:
            self.counters[name] += getattr(counters, name)


class _Refused(ValueError):
    def __init__(self, field: str, why: str) -> None:
        super().__init__(why)
        self.field = field
