"""The metadata catalog: raw-object records and their state machine, in MongoDB (or FerretDB).

This module needs pymongo only (no Airflow): Swift's proxy imports it for the catalogue middleware.

Neither FerretDB v1 nor a Swift/MongoDB pair has transactions, so every state change is one
``find_one_and_update`` guarded by the expected state: whoever wins that update owns the next step.
Uniqueness (object id, and content for dedupe) rests on unique indexes, which both servers enforce.

On MongoDB that guarded update is atomic. FerretDB v1 is not: it reads the matching document, then
rewrites it by ``_id`` without checking the filter again (FerretDB issue #3040), so several racing claims
can all "win". Where the server is FerretDB, every write to a record is
therefore made under a short per-record lock taken by inserting ``{_id: record_id}`` into
``record_locks`` — a unique-key insert, which FerretDB does enforce atomically. The lock expires
(``LOCK_TTL``) so a writer killed inside its few-millisecond critical section cannot wedge a record.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from enum import StrEnum
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, MongoClient, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, OperationFailure

from datalake_catalog.errors import (
    CatalogError,
    DuplicateContent,
    InvalidTransition,
)

RAW_OBJECTS = "raw_objects"
RECORD_LOCKS = "record_locks"
#: One document per Swift container that holds raw objects (``_id``: its name), so that reconcile knows
#: which containers to check without reading every record.
RAW_CONTAINERS = "raw_containers"
#: In RAW_CONTAINERS: present once the containers of records older than the list have been added to it.
CONTAINERS_COMPLETE = {"_id": "", "complete": True}
DEFAULT_DATABASE = "datalake"
LOCK_TTL = dt.timedelta(seconds=30)


class Status(StrEnum):
    PENDING = "pending"
    RECONCILING = "reconciling"
    COMMITTED = "committed"
    PROCESSING = "processing"
    PROCESSED = "processed"
    FAILED = "failed"
    DELETED = "deleted"


# Which states a record may move to; `reconciling` is the reconciler's claim on an expired pending record.
TRANSITIONS: dict[Status, set[Status]] = {
    Status.PENDING: {Status.COMMITTED, Status.RECONCILING},
    Status.RECONCILING: {Status.COMMITTED, Status.RECONCILING},
    Status.COMMITTED: {Status.PROCESSING, Status.DELETED},
    Status.PROCESSING: {Status.PROCESSED, Status.FAILED, Status.COMMITTED},
    Status.PROCESSED: {Status.PROCESSING, Status.COMMITTED, Status.DELETED},  # -> committed: reprocess
    Status.FAILED: {Status.PROCESSING, Status.COMMITTED, Status.DELETED},
    Status.DELETED: set(),
}

#: States a reader may see: the object is in Swift, verified.
VISIBLE = (Status.COMMITTED, Status.PROCESSING, Status.PROCESSED, Status.FAILED)


#: Every index the catalog's own queries need, each with what uses it. They are created at a hook's first
#: use and by `datalake catalog init`; tests/hooks/test_catalog_plans.py explains every query the package
#: sends and fails on one that scans the collection.
INDEXES = (
    # insert_datalake's dedupe: one record per (format, content)
    IndexModel([("dedupe_key", ASCENDING)], unique=True, name="dedupe_key_unique"),
    # one record per Swift object; reconcile's look-ups and a container's records
    IndexModel(
        [("swift_container", ASCENDING), ("swift_object_id", ASCENDING)], unique=True, name="object_unique"
    ),
    # the trigger poll and claim candidates (committed, by format, oldest first); listings of a format;
    # reprocess; per-format health and counts
    IndexModel(
        [("status", ASCENDING), ("format", ASCENDING), ("creation_date", ASCENDING), ("_id", ASCENDING)],
        name="status_format_created",
    ),
    # listings of every format, newest first
    IndexModel(
        [("status", ASCENDING), ("creation_date", ASCENDING), ("_id", ASCENDING)], name="status_created"
    ),
    # expired leases: reconcile's pending records, the recovery sweep's processing ones, health
    IndexModel([("status", ASCENDING), ("lease_until", ASCENDING)], name="status_lease"),
)
#: Indexes no query uses: `ensure_indexes` drops them from a catalog that has them.
RETIRED_INDEXES = ("status_format", "sha256_format")
#: (connection, database, container) this process has listed in RAW_CONTAINERS.
_NOTED_CONTAINERS: set[tuple[str, str, str]] = set()
#: The most a count goes to before it is shown as "more than": counting is bounded like listing.
COUNT_CAP = 10_000


def utcnow() -> dt.datetime:
    # Millisecond precision: what BSON dates keep, so a value written equals the value read back.
    now = dt.datetime.now(dt.UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _step(status: Status, at: dt.datetime, run: str | None = None) -> dict[str, Any]:
    """One entry of a record's ``history``: the states it went through, when, and for which run."""
    return {"status": status.value, "at": at, **({"run": run} if run else {})}


def is_duplicate_key(exc: Exception) -> bool:
    """MongoDB says E11000; FerretDB's findAndModify/update report the backend's own unique violation as an
    InternalError (PostgreSQL: SQLSTATE 23505; SQLite: "UNIQUE constraint failed")."""
    if isinstance(exc, DuplicateKeyError):
        return True
    text = str(exc.details or exc) if isinstance(exc, OperationFailure) else ""
    return isinstance(exc, OperationFailure) and (
        exc.code == 11000 or "SQLSTATE 23505" in text or "UNIQUE constraint failed" in text
    )


def dedupe_key(fmt: str | None, sha256: str) -> str:
    return f"{fmt or '-'}:{sha256}"


_MISSING = object()


def _field(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _comparable(value: Any) -> Any:
    # pymongo hands back naive UTC datetimes unless the client is tz-aware; the lake writes aware ones
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _equal(value: Any, wanted: Any) -> bool:
    if wanted is None:  # MongoDB: null matches a missing field too
        return value is _MISSING or value is None
    if value is _MISSING:
        return False
    if isinstance(value, list) and not isinstance(wanted, list):
        return any(_equal(v, wanted) for v in value)
    return bool(_comparable(value) == _comparable(wanted))


def _ordered(op: str, value: Any, bound: Any) -> bool:
    if value is _MISSING or value is None:
        return False
    try:
        a, b = _comparable(value), _comparable(bound)
        return bool(a < b if op == "$lt" else a <= b if op == "$lte" else a > b if op == "$gt" else a >= b)
    except TypeError:  # MongoDB compares within one type only
        return False


def matches(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    """Whether a record matches a guard, as MongoDB would decide it for the subset the lake's guards use:
    equality on dotted paths (``None``: missing or null) and ``$in``, ``$nin``, ``$ne``, ``$exists``,
    ``$lt``, ``$lte``, ``$gt``, ``$gte``. Raises ValueError for anything else, rather than guess."""
    for path, cond in query.items():
        value = _field(doc, path)
        if not (isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond)):
            if not _equal(value, cond):
                return False
            continue
        for op, arg in cond.items():
            if op == "$exists":
                ok = (value is not _MISSING) == bool(arg)
            elif op == "$in":
                ok = any(_equal(value, a) for a in arg)
            elif op == "$nin":
                ok = not any(_equal(value, a) for a in arg)
            elif op == "$ne":
                ok = not _equal(value, arg)
            elif op in ("$lt", "$lte", "$gt", "$gte"):
                ok = _ordered(op, value, arg)
            else:
                raise ValueError(f"guard operator {op} is not supported")
            if not ok:
                return False
    return True


class Catalog:
    """Raw-object records in one database of a MongoDB-wire server, through a pymongo client.

    Everything the lake does to a record goes through here: the Airflow hook (`CatalogHook`) and the Swift
    proxy's middleware share it, so both write the same records with the same guarded steps.
    """

    def __init__(self, client: Any, database: str, *, name: str | None = None) -> None:
        self._client = client
        self.database = database
        #: names this catalog in per-process caches (the hook: its connection id)
        self.name = name or database
        self._indexed = False
        self._native_atomic: bool | None = None

    @property
    def pymongo_client(self) -> MongoClient[dict[str, Any]]:
        """The pymongo client (thread-safe, pooled)."""
        client: MongoClient[dict[str, Any]] = self._client
        return client

    # -- plumbing -------------------------------------------------------------------------------------

    @property
    def db(self) -> Database[dict[str, Any]]:
        return self.pymongo_client[self.database]

    @property
    def raw_objects(self) -> Collection[dict[str, Any]]:
        coll = self.db[RAW_OBJECTS]
        if not self._indexed:
            self.ensure_indexes()
        return coll

    def ensure_indexes(self) -> None:
        """Create every index in `INDEXES` (idempotent: an index that exists with the same spec is a no-op)
        and drop the retired ones, so a catalog made by an older release carries no index nobody uses."""
        coll = self.db[RAW_OBJECTS]
        for model in INDEXES:  # one per command: FerretDB 1 panics on a createIndexes of several that exist
            coll.create_indexes([model])
        existing = set(coll.index_information())
        for name in RETIRED_INDEXES:
            if name in existing:
                coll.drop_index(name)
        self._indexed = True

    @property
    def native_atomic(self) -> bool:
        """True on MongoDB (guarded updates are atomic), False on FerretDB (they are not: lock instead)."""
        if self._native_atomic is None:
            info = self.pymongo_client.admin.command("buildInfo")
            self._native_atomic = not any(k.lower().startswith("ferretdb") for k in info)
        return self._native_atomic

    @contextmanager
    def record_lock(self, record_id: str, timeout: float = 30.0) -> Iterator[None]:
        """Exclusive right to write one record (a no-op where the server's guarded updates are atomic)."""
        if self.native_atomic:
            yield
            return
        locks = self.db[RECORD_LOCKS]
        token = uuid.uuid4().hex
        deadline = time.monotonic() + timeout
        delay = 0.002
        while True:
            try:
                locks.insert_one({"_id": record_id, "token": token, "expires_at": utcnow() + LOCK_TTL})
                break
            except (DuplicateKeyError, OperationFailure) as exc:
                if not is_duplicate_key(exc):
                    raise
            held = locks.find_one({"_id": record_id})
            if held is not None and held["expires_at"].replace(tzinfo=dt.UTC) < utcnow():
                locks.delete_one({"_id": record_id, "token": held["token"]})  # its writer died: take over
                continue
            if time.monotonic() > deadline:
                raise CatalogError(f"record {record_id} stayed locked by another writer for {timeout:.0f}s")
            time.sleep(delay * (1 + random.random()))  # noqa: S311 (jitter, not security)
            delay = min(delay * 2, 0.1)
        try:
            yield
        finally:
            locks.delete_one({"_id": record_id, "token": token})

    # -- records --------------------------------------------------------------------------------------

    def note_container(self, container: str) -> None:
        """Add a container to `RAW_CONTAINERS`: an idempotent upsert by name, sent once per process and
        catalog (a name, once listed, stays listed), so a loop of inserts pays it once."""
        key = (self.name, self.database, container)
        if key in _NOTED_CONTAINERS:
            return
        try:
            self.db[RAW_CONTAINERS].update_one(
                {"_id": container}, {"$setOnInsert": {"first_seen": utcnow()}}, upsert=True
            )
        except (DuplicateKeyError, OperationFailure) as exc:
            if not is_duplicate_key(exc):  # else a concurrent upsert of the same name won: it is there
                raise
        _NOTED_CONTAINERS.add(key)

    def containers(self) -> list[str]:
        """Every container that holds raw objects. A catalog written before the list was kept is read once,
        in full, to make it (`backfill_containers`)."""
        coll = self.db[RAW_CONTAINERS]
        if coll.find_one({"_id": CONTAINERS_COMPLETE["_id"]}) is None:
            self.backfill_containers()
        return sorted(doc["_id"] for doc in coll.find({"_id": {"$ne": CONTAINERS_COMPLETE["_id"]}}))

    def backfill_containers(self) -> None:
        """Add the container of every record to `RAW_CONTAINERS` (one pass over the catalog's index of
        objects), then mark the list complete."""
        for name in self.raw_objects.distinct("swift_container"):
            if name:
                self.note_container(name)
        self.db[RAW_CONTAINERS].replace_one(
            {"_id": CONTAINERS_COMPLETE["_id"]}, CONTAINERS_COMPLETE, upsert=True
        )

    def insert_pending(self, record: dict[str, Any]) -> dict[str, Any]:
        """Phase 1: the record exists (status pending, with a lease) before any byte reaches Swift. Its
        container is listed first, so reconcile never misses a container that has a record."""
        if record.get("swift_container"):
            self.note_container(record["swift_container"])
        record = {**record, "status": Status.PENDING.value}
        record.setdefault("history", [_step(Status.PENDING, record.get("creation_date") or utcnow())])
        try:
            self.raw_objects.insert_one(record)
        except (DuplicateKeyError, OperationFailure) as exc:
            if not is_duplicate_key(exc):
                raise
            key = record.get("dedupe_key", "")
            raise DuplicateContent(key, self.find_by_dedupe_key(key)) from exc
        return record

    def get(self, record_id: str) -> dict[str, Any] | None:
        return self.raw_objects.find_one({"_id": record_id})

    def find_by_dedupe_key(self, key: str) -> dict[str, Any] | None:
        """The record holding this dedupe key, if any. Without ``limit``: the key is unique, and a limit of
        one leads PostgreSQL-based servers (FerretDB 2) to walk the collection in ``_id`` order hoping for
        an early match, which for new content (no match) reads every record."""
        return next(iter(self.raw_objects.find({"dedupe_key": key})), None)

    def transition(
        self,
        record_id: str,
        expected: Status | Iterable[Status],
        new: Status,
        *,
        set_fields: dict[str, Any] | None = None,
        unset_fields: Iterable[str] = (),
        extra_filter: dict[str, Any] | None = None,
        push: dict[str, Any] | None = None,
        inc: dict[str, int] | None = None,
    ) -> dict[str, Any] | None:
        """Move one record from an expected state to ``new`` atomically; None if it was not in that state.

        Raises DuplicateContent when the update would give the record a dedupe key another record holds.
        """
        expected_set = {expected} if isinstance(expected, Status) else set(expected)
        for state in expected_set:
            if new not in TRANSITIONS[state]:
                raise InvalidTransition(f"record {record_id}: {state.value} -> {new.value} is not allowed")
        now = utcnow()
        update: dict[str, Any] = {
            "$set": {**(set_fields or {}), "status": new.value, "last_modified": now},
            "$push": {**(push or {}), "history": _step(new, now, (set_fields or {}).get("processing_run"))},
        }
        if unset := list(unset_fields):
            update["$unset"] = dict.fromkeys(unset, "")
        if inc:
            update["$inc"] = inc
        guard = {"status": {"$in": [s.value for s in expected_set]}, **(extra_filter or {})}
        try:
            return self.update_guarded(record_id, guard, update)
        except (DuplicateKeyError, OperationFailure) as exc:
            if not is_duplicate_key(exc):
                raise
            key = (set_fields or {}).get("dedupe_key", "")
            raise DuplicateContent(key, self.find_by_dedupe_key(key)) from exc

    def update_guarded(
        self, record_id: str, guard: dict[str, Any], update: dict[str, Any], *, locked: bool = False
    ) -> dict[str, Any] | None:
        """Apply ``update`` to one record if it matches ``guard``; the record after, or None.

        On MongoDB one guarded ``find_one_and_update``. On FerretDB, under the record's lock (taken here
        unless the caller holds it: ``locked``), a read by ``_id``, the guard checked here (`matches`), then
        a write by ``_id``: FerretDB's guarded update is a read then a write anyway (not atomic, see the
        module's note), and it pushes down a filter that is ``_id`` alone only, decoding every record of the
        collection for any other — one guarded write per object cost a scan of the whole catalog.
        """
        if self.native_atomic:
            return self.raw_objects.find_one_and_update(
                {"_id": record_id, **guard}, update, return_document=ReturnDocument.AFTER
            )
        if not locked:
            with self.record_lock(record_id):
                return self.update_guarded(record_id, guard, update, locked=True)
        doc = self.raw_objects.find_one({"_id": record_id})
        if doc is None or not matches(doc, guard):
            return None
        return self.raw_objects.find_one_and_update(
            {"_id": record_id}, update, return_document=ReturnDocument.AFTER
        )

    def replace_exclusive(self, record: dict[str, Any], expected: Status) -> dict[str, Any] | None:
        """Write a whole new version of a record its caller alone is writing (a writer in its own lease).

        Same outcome as a guarded ``transition``, but a ``replace_one`` of the document the caller already
        holds. On FerretDB the filter is ``_id`` alone: its guarded updates are a read then a write, not
        atomic (FerretDB#3040), so a state guard there would only cost a filter (its SQLite backend pushes
        a filter down to SQL only when it is ``{_id: <str>}`` alone, and decodes every document for any
        other), and inside the caller's own lease no other writer may touch the record anyway. On MongoDB
        the state guard is kept (it is atomic there and costs nothing). None when the record was no longer
        in ``expected``.
        """
        now = utcnow()
        new = {**record, "last_modified": now}
        if record.get("status") != expected.value:
            before = record.get("history") or [_step(expected, record.get("creation_date") or now)]
            new["history"] = [*before, _step(Status(record["status"]), now)]
        guard = (
            {"_id": record["_id"], "status": expected.value} if self.native_atomic else {"_id": record["_id"]}
        )
        try:
            res = self.raw_objects.replace_one(guard, new)
        except (DuplicateKeyError, OperationFailure) as exc:
            if not is_duplicate_key(exc):
                raise
            key = new.get("dedupe_key", "")
            raise DuplicateContent(key, self.find_by_dedupe_key(key)) from exc
        return new if res.matched_count == 1 else None

    def claim_content(self, record_id: str, key: str, sha256: str) -> None:
        """Give a pending record written before its content's fingerprint was known its dedupe key and
        SHA-256. Its caller writes it inside its own lease, as `replace_exclusive` does. `DuplicateContent`
        when another record holds that content (the unique index decides, as for `insert_pending`)."""
        guard = (
            {"_id": record_id, "status": Status.PENDING.value} if self.native_atomic else {"_id": record_id}
        )
        try:
            self.raw_objects.update_one(guard, {"$set": {"dedupe_key": key, "sha256": sha256}})
        except (DuplicateKeyError, OperationFailure) as exc:
            if not is_duplicate_key(exc):
                raise
            raise DuplicateContent(key, self.find_by_dedupe_key(key)) from exc

    def renew_lease(
        self,
        record_id: str,
        until: dt.datetime,
        status: Status = Status.PENDING,
        extra_filter: dict[str, Any] | None = None,
    ) -> bool:
        """Push a record's lease to ``until`` while it is still in ``status`` (and matches ``extra_filter``):
        a long upload keeps its pending record from the reconciler, a load its processing record from the
        recovery sweep. False when the record is no longer the caller's."""
        guard = {"status": status.value, **(extra_filter or {})}
        return self.update_guarded(record_id, guard, {"$set": {"lease_until": until}}) is not None

    def add_outcome(
        self, record_id: str, outcome: dict[str, Any], *, ok: bool, store: str | None = None
    ) -> None:
        """Append one target's outcome to successful_operations / failed_operations (history is kept)."""
        update: dict[str, Any] = {"$push": {"successful_operations" if ok else "failed_operations": outcome}}
        if ok and store:
            update["$addToSet"] = {"processed_data_area_service": store}
        with self.record_lock(record_id):
            self.raw_objects.update_one({"_id": record_id}, update)

    def delete_record(self, record_id: str, expected: Status | Iterable[Status]) -> bool:
        """Roll back: remove a record that never became visible (pending or reconciling only)."""
        states = [expected.value] if isinstance(expected, Status) else [s.value for s in expected]
        if not set(states) <= {Status.PENDING.value, Status.RECONCILING.value}:
            raise InvalidTransition(f"record {record_id}: only pending or reconciling records are deleted")
        if self.native_atomic:
            return (
                self.raw_objects.delete_one({"_id": record_id, "status": {"$in": states}}).deleted_count == 1
            )
        with self.record_lock(record_id):  # a read and a delete by _id: see update_guarded
            doc = self.raw_objects.find_one({"_id": record_id}, {"status": 1})
            if doc is None or doc.get("status") not in states:
                return False
            return self.raw_objects.delete_one({"_id": record_id}).deleted_count == 1

    def find(
        self,
        *,
        status: Status | str | Iterable[Status | str] | None = None,
        fmt: str | None = None,
        limit: int = 0,
        query: dict[str, Any] | None = None,
        newest_first: bool = False,
        after: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Records, oldest first (newest first: what a person listing them wants to see). Without ``status``
        only reader-visible ones (never pending).

        ``after`` is a record id: the listing goes on after that record, in the same order. Paging by key
        reads one page whatever its depth, where ``skip`` would read every record before it.
        """
        if status is None:
            statuses = [s.value for s in VISIBLE]
        elif isinstance(status, str):
            statuses = [str(status)]
        else:
            statuses = [str(s) for s in status]
        q: dict[str, Any] = {"status": {"$in": statuses}, **(query or {})}
        if fmt is not None:
            q["format"] = fmt
        if after is not None:
            q = {"$and": [q, *self._after(after, newest_first)]}
        order = DESCENDING if newest_first else ASCENDING
        yield from self.raw_objects.find(q).sort([("creation_date", order), ("_id", order)]).limit(limit)

    def _after(self, record_id: str, newest_first: bool) -> list[dict[str, Any]]:
        """The conditions for "after this record" in (creation_date, _id) order: a range on the date (which
        bounds the index scan), less the records of that very date up to and including this one."""
        mark = self.raw_objects.find_one({"_id": record_id}, {"creation_date": 1})
        if mark is None or mark.get("creation_date") is None:
            raise CatalogError(f"no record {record_id} to list after")
        date = mark["creation_date"]
        if newest_first:
            return [
                {"creation_date": {"$lte": date}},
                {"$nor": [{"creation_date": date, "_id": {"$gte": record_id}}]},
            ]
        return [
            {"creation_date": {"$gte": date}},
            {"$nor": [{"creation_date": date, "_id": {"$lte": record_id}}]},
        ]

    def expired_pending(self, now: dt.datetime | None = None) -> Iterator[dict[str, Any]]:
        """Pending or reconciling records whose lease ran out: what a crash left behind."""
        q = {
            "status": {"$in": [Status.PENDING.value, Status.RECONCILING.value]},
            "lease_until": {"$lt": now or utcnow()},
        }
        yield from self.raw_objects.find(q)

    def locate(self, record_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """Where the objects of these records are: ``{id: (container, name)}`` for the ids that have one.

        One lookup by ``_id`` per record, four at a time. FerretDB hands a plain ``_id`` equality to its SQL
        backend, while ``$in`` or a filter on any other field decodes the whole collection: only this stays
        fast as the catalog grows.
        """
        ids = list(dict.fromkeys(record_ids))
        if not ids:
            return {}
        coll = self.raw_objects
        fields = {"swift_container": 1, "swift_object_id": 1}

        def one(record_id: str) -> dict[str, Any] | None:
            return coll.find_one({"_id": record_id}, fields)

        with ThreadPoolExecutor(max_workers=min(4, len(ids))) as pool:
            found = [doc for doc in pool.map(one, ids) if doc is not None]
        return {
            doc["_id"]: (doc["swift_container"], doc["swift_object_id"])
            for doc in found
            if doc.get("swift_container") and doc.get("swift_object_id")
        }

    def known_objects(self, container: str, names: list[str]) -> set[str]:
        """Which of these Swift object names have a record (any state)."""
        if not names:
            return set()
        cursor = self.raw_objects.find(
            {"swift_container": container, "swift_object_id": {"$in": names}}, {"swift_object_id": 1}
        )
        return {doc["swift_object_id"] for doc in cursor}

    def status_counts(self, fmt: str | None = None) -> dict[str | None, dict[str, int]]:
        """How many records each format has in each state (``{format: {status: n}}``; ``None``: records
        without a format), for every format or one."""
        match: dict[str, Any] = {"status": {"$in": [s.value for s in Status]}}
        if fmt is not None:
            match["format"] = fmt
        pipeline = [
            {"$match": match},
            {"$group": {"_id": {"format": "$format", "status": "$status"}, "n": {"$sum": 1}}},
        ]
        counts: dict[str | None, dict[str, int]] = {}
        for row in self.raw_objects.aggregate(pipeline):
            counts.setdefault(row["_id"].get("format"), {})[row["_id"]["status"]] = int(row["n"])
        return counts

    def count(self, cap: int | None = COUNT_CAP, **filters: Any) -> int:
        """How many records match, counting no further than ``cap`` (None: all): a bounded count reads at
        most ``cap`` index entries however large the catalog."""
        if cap:
            return self.raw_objects.count_documents(filters, limit=cap)
        return self.raw_objects.count_documents(filters)


#: ``ingest`` of the records the Swift middleware writes: their object, once in Swift, is the whole upload
#: (Swift shows an object only when its PUT completed), though it carries no SHA-256 of its own
MIDDLEWARE_INGEST = "swift-middleware"

# --------------------------------------------------------------------------- a new record


def new_record(
    *,
    record_id: str,
    fmt: str | None,
    container: str,
    object_name: str,
    content_type: str | None,
    original_name: str | None,
    swift_user: str | None,
    swift_account: str | None,
    size: int | None,
    sha256: str | None,
    dedupe: bool,
    key: str | None,
    lease: dt.timedelta,
    now: dt.datetime | None = None,
    fields: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A raw object's record as the two-phase write puts it in the catalog before the first byte reaches
    Swift (then `Catalog.insert_pending`): every writer of the raw zone — ``insert_datalake()`` and the
    Swift proxy's middleware — makes its records here, so they have one shape."""
    now = now or utcnow()
    return {
        "_id": record_id,
        "format": fmt,
        "content_type": content_type,
        "original_object_name": original_name,
        "swift_user": swift_user,
        "swift_account": swift_account,
        "swift_container": container,
        "swift_object_id": object_name,
        "sha256": sha256,
        "size": size,
        "dedupe": dedupe,
        "dedupe_key": key or f"unique:{record_id}",
        "creation_date": now,
        "last_modified": now,
        "lease_until": now + lease,
        "successful_operations": [],
        "failed_operations": [],
        **(fields or {}),
    }
