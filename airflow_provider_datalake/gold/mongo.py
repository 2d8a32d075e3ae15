"""Gold zone, MongoDB: one document per row in a collection of the gold database (never the catalog's).

Streams batches into bulk writes (memory stays flat) and is idempotent per raw object:

- ``replace_object``: delete this object's documents (if it was loaded before), then ``insert_many``
  (unordered) of its rows. Which objects were loaded before, the database's ledger (``_datalake_objects``)
  tells, for the collections it tracks since they were created: a first load, the usual case, then sends
  no delete, which a server that cannot use the lineage index for it (FerretDB 1) pays with a read of the
  whole collection. An object's entry is written before any of its documents, so a load that dies leaves
  it, and the next load deletes what it wrote. A collection the ledger does not track (made by an older
  release, or the ledger dropped) is always deleted from, as before;
- ``merge``: bulk ``UpdateOne(upsert=True)`` on the key, backed by a unique index (the last row of a key
  wins, within a batch and across batches); ``_loaded_at`` is only set on insert, so a re-run with the
  same data modifies nothing;
- ``append``: documents get ``_id = "<raw object id>:<source row>"``; a re-run's duplicates are ignored.

Every document carries its lineage (``_raw_object_id``, ``_source_row``, ``_loaded_at``), indexed.
Rows the server refuses one by one (a write error on that document) and rows whose merge key is null are
rejected into the quarantine; any other failure fails the load. There is no transaction across batches
(FerretDB has none): a failed load is made whole by running the object again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pymongo import ASCENDING, InsertOne, UpdateOne
from pymongo.errors import BulkWriteError, OperationFailure, PyMongoError

from airflow_provider_datalake.descriptors.model import FieldSpec, FieldType, MongoTarget
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
from datalake_catalog.catalog import is_duplicate_key

if TYPE_CHECKING:
    from airflow.providers.mongo.hooks.mongo import MongoHook
    from pymongo.collection import Collection

log = logging.getLogger(__name__)

DUPLICATE_KEY = 11000
#: per database: which raw objects were loaded into which of its collections ("<collection>/<raw object id>";
#: "<collection>/" = the collection is tracked here, since it was created)
LEDGER = "_datalake_objects"
TRACKED = ""
LINEAGE_INDEX = "datalake_lineage"
MERGE_INDEX = "datalake_merge_key"
INT64 = (-(2**63), 2**63)


def make_loader(target: MongoTarget, fields: list[FieldSpec]) -> MongoLoader:
    """The loader on the official MongoHook of the target's connection."""
    # Imported here: the Airflow provider is loaded only when a run builds a loader.
    from airflow.providers.mongo.hooks.mongo import MongoHook

    return MongoLoader(MongoHook(mongo_conn_id=target.conn_id), target, fields)


class MongoLoader:
    """Loads parsed batches of raw objects into one collection of the gold database."""

    def __init__(self, hook: MongoHook, target: MongoTarget, fields: Sequence[FieldSpec]) -> None:
        self.names = check_fields(fields, "mongodb")
        missing = [k for k in target.keys if k not in self.names]
        if missing:
            raise ValueError(f"target {target.name}: keys {missing} are not fields of the descriptor")
        self.hook = hook
        self.target = target
        self.fields = list(fields)
        self.where = f"{target.database}.{target.collection}"
        self.key_indexes = [self.names.index(k) for k in target.keys]
        # Columns whose Python value BSON cannot hold as is.
        self.dates = [i for i, f in enumerate(self.fields) if f.type is FieldType.DATE]
        self.ints = [i for i, f in enumerate(self.fields) if f.type is FieldType.INT]
        self._tracked = False  # the ledger tracks the collection (once seen, it stays so)

    def collection(self) -> Collection[dict[str, Any]]:
        return self.hook.get_conn()[self.target.database][self.target.collection]

    # ------------------------------------------------------------------ indexes

    def ensure_table(self) -> None:
        """Create the lineage, merge-key and declared indexes (idempotent; an index of the same name but
        other keys is an error, never silently dropped)."""
        coll = self.collection()
        wanted: list[tuple[str, list[str], bool]] = [(LINEAGE_INDEX, [RAW_OBJECT_ID, SOURCE_ROW], False)]
        if self.target.mode == "merge":
            wanted.append((MERGE_INDEX, list(self.target.keys), True))
        wanted += [(i.index_name, list(i.fields), i.unique) for i in self.target.indexes]
        existing = coll.index_information()
        new = not existing  # a collection that exists has its `_id` index at least
        for name, keys, unique in wanted:
            have = existing.get(name)
            if have is not None:
                have_keys = [k for k, _ in have["key"]]
                if have_keys != keys or bool(have.get("unique")) != unique:
                    raise GoldLoadError(
                        f"{self.where}: index {name} is on {have_keys} (unique={bool(have.get('unique'))}) "
                        f"but the descriptor wants {keys} (unique={unique}); drop it by hand to change it"
                    )
                continue
            try:
                coll.create_index([(k, ASCENDING) for k in keys], name=name, unique=unique)
            except OperationFailure as exc:
                raise GoldLoadError(f"{self.where}: cannot create index {name} on {keys}: {exc}") from exc
            log.info("%s: created index %s on %s", self.where, name, keys)
        if new:  # no document yet: the ledger knows every object loaded into it from now on
            self._ledger_add(coll, TRACKED)

    def _ledger_id(self, raw_object_id: str) -> str:
        return f"{self.target.collection}/{raw_object_id}"

    def _ledger_add(self, coll: Collection[dict[str, Any]], raw_object_id: str) -> bool:
        """Add an entry to the ledger; False when it was there already."""
        entry = {
            "_id": self._ledger_id(raw_object_id),
            "collection": self.target.collection,
            "raw_object_id": raw_object_id or None,
            "at": dt.datetime.now(dt.UTC),
        }
        try:
            coll.database[LEDGER].insert_one(entry)
        except OperationFailure as exc:
            if is_duplicate_key(exc):
                return False
            raise
        return True

    def _first_load(self, coll: Collection[dict[str, Any]], raw_object_id: str) -> bool:
        """Whether the collection cannot hold documents of this object: the ledger tracks the collection
        and had no entry for the object, which it has now (before any of its documents is written)."""
        if not self._tracked:
            marker = coll.database[LEDGER].find_one({"_id": self._ledger_id(TRACKED)}, {"_id": 1})
            self._tracked = marker is not None
        return self._tracked and self._ledger_add(coll, raw_object_id)

    # ------------------------------------------------------------------ load

    def load(
        self, raw_object_id: str, batches: Iterable[BatchLike], reject: Reject | None = None
    ) -> LoadResult:
        """Write one raw object's rows as documents; re-running it gives the same collection."""
        mode = self.target.mode
        rejects = Rejects(reject, self.names)
        coll = self.collection()
        loaded_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
        rows_in = written = 0
        try:
            with frozen_heap():
                if mode == "replace_object" and not self._first_load(coll, raw_object_id):
                    gone = coll.delete_many({RAW_OBJECT_ID: raw_object_id}).deleted_count
                    log.info("%s: deleted %d documents of %s", self.where, gone, raw_object_id)
                for batch in batches:
                    check_batch(batch, self.names)
                    rows_in += len(batch.rows)
                    if mode == "merge":
                        written += self._merge(coll, batch, raw_object_id, loaded_at, rejects)
                    else:
                        written += self._insert(coll, batch, raw_object_id, loaded_at, rejects)
        except PyMongoError as exc:
            raise GoldLoadError(
                f"loading raw object {raw_object_id} into {self.where} ({mode}) failed after {written} "
                f"documents: {type(exc).__name__}: {exc}. Run the object again: the load is idempotent"
            ) from exc
        return LoadResult(written, rows_in, mode, self.where, rows_rejected=rejects.count)

    def _documents(
        self, batch: BatchLike, raw_object_id: str, loaded_at: dt.datetime, rejects: Rejects
    ) -> tuple[list[dict[str, Any]], list[int], list[tuple[Any, ...]]]:
        """(documents, their row numbers, their rows); rows BSON cannot hold are rejected here."""
        names, dates, ints = self.names, self.dates, self.ints
        docs, numbers, rows = [], [], []
        append_ids = self.target.mode == "append"
        for row, number in zip(batch.rows, batch.row_numbers, strict=True):
            if ints:
                bad = next(
                    (i for i in ints if row[i] is not None and not INT64[0] <= row[i] < INT64[1]), None
                )
                if bad is not None:
                    rejects(number, row, names[bad], "integer out of MongoDB's 64-bit range")
                    continue
            doc = dict(zip(names, row, strict=True))
            for i in dates:
                value = row[i]
                if value is not None:  # BSON has no date without time: midnight UTC
                    doc[names[i]] = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
            doc[RAW_OBJECT_ID] = raw_object_id
            doc[SOURCE_ROW] = number
            doc[LOADED_AT] = loaded_at
            if append_ids:
                doc["_id"] = f"{raw_object_id}:{number}"
            docs.append(doc)
            numbers.append(number)
            rows.append(row)
        return docs, numbers, rows

    def _insert(
        self,
        coll: Collection[dict[str, Any]],
        batch: BatchLike,
        raw_object_id: str,
        loaded_at: dt.datetime,
        rejects: Rejects,
    ) -> int:
        docs, numbers, rows = self._documents(batch, raw_object_id, loaded_at, rejects)
        if not docs:
            return 0
        try:
            # bulk_write rather than insert_many: the same batches, without the client setting `_id` on
            # our dicts first (that is for callers who read it back; nothing here does).
            return coll.bulk_write([InsertOne(d) for d in docs], ordered=False).inserted_count
        except BulkWriteError as exc:
            return self._write_errors(exc, numbers, rows, rejects, duplicates_ok=True)

    def _merge(
        self,
        coll: Collection[dict[str, Any]],
        batch: BatchLike,
        raw_object_id: str,
        loaded_at: dt.datetime,
        rejects: Rejects,
    ) -> int:
        docs, numbers, rows = self._documents(batch, raw_object_id, loaded_at, rejects)
        keys = self.target.keys
        last: dict[tuple[Any, ...], int] = {}  # key -> position of its last row in this batch
        for pos, doc in enumerate(docs):
            key = tuple(doc[k] for k in keys)
            if any(v is None for v in key):
                null = next(k for k in keys if doc[k] is None)
                rejects(numbers[pos], rows[pos], null, f"merge key {null} is null: it identifies no document")
                continue
            try:
                last[key] = pos
            except TypeError:  # a json key value (dict/list) is not hashable: keep it, unordered
                last[(pos,)] = pos
        positions = sorted(last.values())
        if not positions:
            return 0
        ops = []
        for pos in positions:
            doc = docs[pos]
            stamp = doc.pop(LOADED_AT)
            ops.append(
                UpdateOne(
                    {k: doc[k] for k in keys}, {"$set": doc, "$setOnInsert": {LOADED_AT: stamp}}, upsert=True
                )
            )
        try:
            result = coll.bulk_write(ops, ordered=False)
        except BulkWriteError as exc:
            return self._write_errors(
                exc, [numbers[p] for p in positions], [rows[p] for p in positions], rejects
            )
        return result.upserted_count + result.modified_count

    def _write_errors(
        self,
        exc: BulkWriteError,
        numbers: list[int],
        rows: list[tuple[Any, ...]],
        rejects: Rejects,
        *,
        duplicates_ok: bool = False,
    ) -> int:
        """An unordered bulk write went on past its failed documents: reject those, count the rest.

        In append mode a duplicate ``_id`` is a row this object already wrote (a re-run): not an error.
        """
        details = exc.details
        if details.get("writeConcernErrors"):
            raise exc
        for err in details.get("writeErrors", []):
            index = err["index"]
            if duplicates_ok and err.get("code") == DUPLICATE_KEY and self.target.mode == "append":
                continue
            if err.get("code") == DUPLICATE_KEY:
                raise exc  # a declared unique index refused it: a descriptor matter, not a bad row
            rejects(numbers[index], rows[index], None, f"MongoDB refused the document: {err.get('errmsg')}")
        return (
            int(details.get("nInserted", 0))
            + int(details.get("nUpserted", 0))
            + int(details.get("nModified", 0))
        )

    def count_object_rows(self, raw_object_id: str) -> int:
        """Documents of this raw object in the collection."""
        return self.collection().count_documents({RAW_OBJECT_ID: raw_object_id})
