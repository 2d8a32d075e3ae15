"""Gold zone, MongoDB: one document per row in a collection of the gold database (never the catalog's).

Streams batches into bulk writes (memory stays flat) and is idempotent per raw object:

- ``replace_object``: documents get ``_id = "<raw object id>:<source row>"``. A load deletes this
  object's earlier documents (if it was loaded before), then inserts its rows (unordered bulk writes).
  Which objects were loaded before, and up to which source row, the database's ledger
  (``_datalake_objects``) tells, for the collections it tracks since they were created. An object's
  entry is written before any of its documents, and its highest row is raised before each batch is
  written, so a load that dies leaves an entry that covers what it wrote. A first load, the usual case,
  then sends no delete; a reload deletes by ``_id``, one row at a time in bulk writes, so it costs the
  object's rows and never a read of the whole collection (what a delete by the lineage field is on a
  server that cannot use the lineage index for it, FerretDB 1). A collection the ledger does not track
  (made by an older release, or the ledger dropped), or an entry without its highest row (an older
  release's), is deleted from by ``_raw_object_id``;
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

from pymongo import ASCENDING, DeleteOne, InsertOne, UpdateOne
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
#: the ledger entry's field: the highest source row any load of the object may have written
LAST_ROW = "last_row"
#: deletes of a reload sent per bulk write (memory stays flat for an object of any size)
DELETE_CHUNK = 5000


def row_id(raw_object_id: str, row: int) -> str:
    """The ``_id`` of the document a raw object's source row becomes (``replace_object``, ``append``)."""
    return f"{raw_object_id}:{row}"


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
        entry: dict[str, Any] = {
            "_id": self._ledger_id(raw_object_id),
            "collection": self.target.collection,
            "raw_object_id": raw_object_id or None,
            "at": dt.datetime.now(dt.UTC),
        }
        if raw_object_id:
            entry[LAST_ROW] = 0
        try:
            coll.database[LEDGER].insert_one(entry)
        except OperationFailure as exc:
            if is_duplicate_key(exc):
                return False
            raise
        return True

    def _earlier_rows(self, coll: Collection[dict[str, Any]], raw_object_id: str) -> int | None:
        """Up to which source row earlier loads may have written this object's documents: 0 when it has
        none (a first load, whose ledger entry is now written, before any of its documents), None when
        the ledger cannot tell (an untracked collection, or an entry of an older release)."""
        ledger = coll.database[LEDGER]
        if not self._tracked:
            marker = ledger.find_one({"_id": self._ledger_id(TRACKED)}, {"_id": 1})
            self._tracked = marker is not None
        if not self._tracked:
            return None
        if self._ledger_add(coll, raw_object_id):
            return 0
        entry = ledger.find_one({"_id": self._ledger_id(raw_object_id)}, {LAST_ROW: 1}) or {}
        last = entry.get(LAST_ROW)
        return int(last) if isinstance(last, int) else None

    def _raise_last_row(self, coll: Collection[dict[str, Any]], raw_object_id: str, row: int) -> None:
        """Record, before a batch is written, the highest source row it holds."""
        coll.database[LEDGER].update_one({"_id": self._ledger_id(raw_object_id)}, {"$max": {LAST_ROW: row}})

    def _delete_earlier(self, coll: Collection[dict[str, Any]], raw_object_id: str, last_row: int) -> int:
        """Delete the object's documents by ``_id``, rows 0 to ``last_row``, in bounded bulk writes."""
        gone = 0
        for start in range(0, last_row + 1, DELETE_CHUNK):
            stop = min(start + DELETE_CHUNK, last_row + 1)
            ops = [DeleteOne({"_id": row_id(raw_object_id, n)}) for n in range(start, stop)]
            gone += coll.bulk_write(ops, ordered=False).deleted_count
        return gone

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
                # Where the ledger keeps the object's highest row, each batch raises it before it is written.
                ledgered = False
                if mode == "replace_object":
                    last_row = self._earlier_rows(coll, raw_object_id)
                    ledgered = self._tracked  # an older release's entry gets its highest row from now on
                    if last_row != 0:
                        gone = (
                            coll.delete_many({RAW_OBJECT_ID: raw_object_id}).deleted_count
                            if last_row is None
                            else self._delete_earlier(coll, raw_object_id, last_row)
                        )
                        log.info("%s: deleted %d documents of %s", self.where, gone, raw_object_id)
                highest = 0
                for batch in batches:
                    check_batch(batch, self.names)
                    rows_in += len(batch.rows)
                    if ledgered and batch.row_numbers and (top := max(batch.row_numbers)) > highest:
                        highest = top
                        self._raise_last_row(coll, raw_object_id, highest)
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
        row_ids = self.target.mode != "merge"  # merge: a document is its key's, not a row's
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
            if row_ids:
                doc["_id"] = row_id(raw_object_id, number)
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
