"""`insert_datalake()`: one file into Swift and the catalog, atomically as every reader sees it.

Swift and MongoDB share no transaction, so the pair is made atomic by a protocol (see ARCHITECTURE.md):

1. the catalog record is written ``pending`` with a lease, before any byte reaches Swift;
2. the bytes stream to Swift under a generated name and are verified (size, MD5 ETag, SHA-256);

(1 and 2 overlap in time, never in order: the record is written in a thread while the PUT request starts,
and the object's first byte leaves only once that write is acknowledged, so Swift's own preparation of the
upload hides the record write; an object can still never exist without its record. With dedupe the record
carries its content's key from the start, except a large file's, which claims its key during the upload,
once the upload has read it through: `FINGERPRINT_ALONGSIDE`.)
3. the record flips to ``committed`` in one guarded update: from then on readers and triggers see it.

A failure rolls back what was done (the object first, then the record), so a crash at any instant leaves at
worst a pending record past its lease, maybe with an object: `reconcile()` settles those. An object is only
ever deleted while its record is provably not committed. Ctrl-C is a failure like any other; since it can
land while Swift is still storing the last bytes, the rollback's DELETE is sent even when the object is not
there yet, and its newer timestamp wins over the upload that lands after it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from pymongo.errors import PyMongoError

from airflow_provider_datalake.hooks.connect import catalog_for, swift_for
from airflow_provider_datalake.hooks.errors import DuplicateContent, SwiftError, UploadAborted
from airflow_provider_datalake.hooks.swift_client import SwiftClient
from airflow_provider_datalake.ingest.errors import Cancelled, EmptySourceError, InsertError
from airflow_provider_datalake.ingest.rules import (
    DEFAULT_CONTAINER,
    check_container,
    check_format,
    check_keys,
)
from airflow_provider_datalake.ingest.settle import delete_with_segments, settle_record
from airflow_provider_datalake.ingest.source import Prepared, Source, prepare
from airflow_provider_datalake.interrupts import failpoint, interrupts_held
from datalake_catalog.catalog import VISIBLE, Catalog, Status, dedupe_key, new_record, utcnow

log = logging.getLogger(__name__)

DEFAULT_LEASE = dt.timedelta(minutes=10)
LEASE_RENEW_EVERY = 30.0  # seconds between lease renewals during a long upload
LEASE_MARGIN = dt.timedelta(seconds=30)  # clock skew allowed between a writer and a reconciler
MAX_JOBS = 64  # the most inserts `insert_many` runs at once, and so the pending writes made at once
#: A file at least this large is fingerprinted (its SHA-256, for dedupe) by its upload's own read, not
#: by a read before it, which would hold the upload back: its record claims its content once the upload
#: has read it through, while its segments still go up (the hook's ``read_all``).
FINGERPRINT_ALONGSIDE = 256 << 20


class _AlreadyStored(Exception):
    """The pending write found this content already in the catalog: stop the upload, return that record."""

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__(f"content already stored as {record.get('_id')}")
        self.record = record


_pool: tuple[int, ThreadPoolExecutor] | None = None
_pool_lock = threading.Lock()


def _pending_writer() -> ThreadPoolExecutor:
    """The threads that write pending records, per process: a forked child (Airflow forks its tasks) must
    not inherit a pool whose threads stayed in the parent."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            # as many as inserts may run at once (`insert_many`), so that no insert's record waits for
            # another's; threads are only started as needed
            pool = ThreadPoolExecutor(max_workers=MAX_JOBS, thread_name_prefix="datalake-pending")
            _pool = (os.getpid(), pool)
        return _pool[1]


def _object_name(fmt: str | None, record_id: str, now: dt.datetime) -> str:
    """Generated, never the user's file name, so no path trick reaches Swift; dated prefixes list cheaply."""
    return f"{fmt or 'unformatted'}/{now:%Y/%m/%d}/{record_id}"


class _LeaseKeeper:
    """Progress callback that renews the pending record's lease while bytes flow."""

    def __init__(
        self,
        catalog: Catalog,
        record_id: str,
        lease: dt.timedelta,
        user: Callable[[int], None] | None,
        size: int | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.catalog, self.record_id, self.lease, self.user = catalog, record_id, lease, user
        self.cancel = cancel
        self.last = time.monotonic()
        self.sent, self.size = 0, size

    def __call__(self, n: int) -> None:
        _check(self.cancel)
        if self.sent == 0 and n:
            failpoint("during_upload")
        self.sent += n
        if self.sent == self.size:
            failpoint("body_read")  # the last bytes are read; Swift is about to store them
        if self.user:
            self.user(n)
        if time.monotonic() - self.last > LEASE_RENEW_EVERY:
            self.last = time.monotonic()
            if not self.catalog.renew_lease(self.record_id, utcnow() + self.lease):
                raise InsertError(f"record {self.record_id}: lease lost during upload (taken by reconcile)")


def _duplicate_in(exc: BaseException) -> DuplicateContent | None:
    """The DuplicateContent behind a failed upload (raised between two chunks, wrapped by the hook)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, DuplicateContent):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled("insert cancelled")


def _wait_for_settled(
    catalog: Catalog,
    swift: SwiftClient,
    key: str,
    timeout: float,
    cancel: threading.Event | None = None,
) -> dict[str, Any] | None:
    """Another writer holds this content: wait until its record is visible (return it) or gone (None)."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        _check(cancel)
        rec = catalog.find_by_dedupe_key(key)
        if rec is None or rec["status"] in VISIBLE:
            return rec
        lease = rec.get("lease_until")
        if lease is not None and lease.replace(tzinfo=dt.UTC) < utcnow():
            settle_record(rec, catalog=catalog, swift=swift)
            continue
        if time.monotonic() > deadline:
            raise InsertError(
                f"content {key} is being inserted by another writer (record {rec['_id']}); retry later"
            )
        if cancel is not None:
            cancel.wait(delay)
        else:
            time.sleep(delay)
        delay = min(delay * 2, 1.0)


def insert_datalake(
    source: Source,
    *,
    format: str | None = None,
    application: str | None = None,
    container: str | None = None,
    content_type: str | None = None,
    processed_data_area_service: list[str] | None = None,
    other_data: dict[str, Any] | None = None,
    dedupe: bool = True,
    original_name: str | None = None,
    data_processing: str = "default",
    swift_conn_id: str = "swift_default",
    mongo_conn_id: str = "mongo_default",
    lease: dt.timedelta = DEFAULT_LEASE,
    progress: Callable[[int], None] | None = None,
    swift: SwiftClient | None = None,
    catalog: Catalog | None = None,
    match_formats: bool = True,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Store one file in the raw zone and describe it in the catalog; return the committed record.

    ``source`` is a path, bytes or a binary stream (read once, streamed). With ``dedupe`` the same content
    for the same format returns the record already there instead of storing a second copy. Without
    ``format``, the active descriptors' ``match`` rules (container, content type, file-name globs,
    application) choose one when exactly one matches.

    Without ``swift`` / ``catalog``, they are made for connections ``swift_conn_id`` / ``mongo_conn_id``:
    from ``AIRFLOW_CONN_<ID>`` when the environment gives it, without importing Airflow, else through
    Airflow (`hooks.connect`).

    ``cancel``, set from another thread, stops the insert as a Ctrl-C would (`Cancelled`, a
    KeyboardInterrupt): rolled back unless already committed. `insert_many` uses it, since only the main
    thread receives the Ctrl-C while the inserts run in workers.
    """
    if format is not None:
        check_format(format)
    swift = swift or swift_for(swift_conn_id)
    catalog = catalog or catalog_for(mongo_conn_id)
    container = DEFAULT_CONTAINER if container is None else container
    check_container(container)
    check_keys(other_data or {})
    prepared = prepare(
        source, content_type, original_name, hash_first=dedupe, alongside=FINGERPRINT_ALONGSIDE
    )
    try:
        if format is None and match_formats:
            format = _recognise(catalog, container, prepared, application)
        return _insert(
            prepared,
            swift=swift,
            catalog=catalog,
            fmt=format,
            container=container,
            dedupe=dedupe,
            lease=lease,
            progress=progress,
            cancel=cancel,
            fields={
                "application": application,
                "data_processing": data_processing,
                "processed_data_area_service": list(processed_data_area_service or []),
                "other_data": dict(other_data or {}),
            },
        )
    finally:
        prepared.close()


def _insert(
    prepared: Prepared,
    *,
    swift: SwiftClient,
    catalog: Catalog,
    fmt: str | None,
    container: str,
    dedupe: bool,
    lease: dt.timedelta,
    progress: Callable[[int], None] | None,
    fields: dict[str, Any],
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    _check(cancel)  # not started: nothing to undo
    try:
        account = swift.account  # authenticates the first time: wrong credentials stop here
    except SwiftError as exc:
        what = prepared.original_name or "stream"
        raise InsertError(f"insert of {what} failed, nothing was stored: {exc}") from exc
    key = dedupe_key(fmt, prepared.sha256) if dedupe and prepared.sha256 else None
    record_id = uuid.uuid4().hex
    now = utcnow()
    name = _object_name(fmt, record_id, now)
    record = new_record(
        record_id=record_id,
        fmt=fmt,
        container=container,
        object_name=name,
        content_type=prepared.content_type,
        original_name=prepared.original_name,
        swift_user=swift.user,
        swift_account=account,
        size=prepared.size,
        sha256=prepared.sha256,
        dedupe=dedupe,
        key=key,
        lease=lease,
        now=now,
        fields=fields,
    )
    # Phases 1 and 2 -------------------------------------------------------------------------------
    # The pending record is written in a thread while the PUT request starts; the object's first byte
    # waits for that write to be acknowledged (see the module docstring).
    claim: Future[dict[str, Any] | None] | None = None

    def content_claimed(sha256: str) -> None:
        """The upload has read the whole source (a large file: while its segments still go up): a record
        written without its dedupe key claims its content now; DuplicateContent, which stops the upload,
        when another record holds it."""
        nonlocal key
        if dedupe and key is None:
            claimed = dedupe_key(fmt, sha256)
            catalog.claim_content(record_id, claimed, sha256)
            key = claimed

    def record_written() -> None:
        failpoint("before_body")  # the PUT is under way; the pending record may not be written yet
        assert claim is not None
        existing = _outcome(claim, cancel)
        if existing is not None:
            raise _AlreadyStored(existing)
        failpoint("after_pending")
        _check(cancel)

    upload_started = False
    try:
        # An interrupt between handing the record to the writer and knowing its Future would leave a
        # pending record nobody rolls back: it is held until `claim` is set, then raised in this block.
        with interrupts_held():
            claim = _pending_writer().submit(_claim, catalog, swift, record, key, lease, cancel)
        swift.ensure_container(container)
        upload_started = True
        result = swift.put_object(
            container,
            name,
            prepared.stream,
            content_type=prepared.content_type,
            metadata={"record-id": record_id, "format": fmt or ""},
            size=prepared.size,
            sha256=prepared.sha256,
            progress=_LeaseKeeper(catalog, record_id, lease, progress, prepared.size, cancel),
            before_body=record_written,
            read_all=content_claimed,
        )
        if result.size == 0:
            raise EmptySourceError("empty stream (nothing to store)")
        if prepared.size is not None and result.size != prepared.size:
            raise InsertError(
                f"{prepared.original_name}: size changed during upload ({prepared.size} -> {result.size})"
            )
        if prepared.sha256 is not None and result.sha256 != prepared.sha256:
            raise InsertError(f"{prepared.original_name}: content changed during upload (SHA-256 differs)")
        failpoint("after_upload")
        _check(cancel)  # the last moment a cancel rolls back; from the commit on, the insert stands
    except BaseException as exc:
        with interrupts_held():  # a second Ctrl-C waits for the rollback, so "rolled back" stays true
            failpoint("rollback")
            if claim is None:  # interrupted before the record was handed to the writer: nothing stored
                raise
            # What there is to undo depends on the pending write: wait for its outcome first.
            try:
                existing = claim.result()
            except Cancelled:  # it stopped waiting for another writer's record: none of ours, no object
                raise
            except PyMongoError as claim_error:  # no record, so the upload never got its body: no object
                why = f"catalog (MongoDB) unreachable, nothing was stored: {claim_error}"
                raise InsertError(why) from exc
            if existing is not None:  # the same content is already stored: the upload was stopped
                if not isinstance(exc, Exception):  # Ctrl-C or exit: the caller asked to stop, not to wait
                    raise
                return existing
            _roll_back(swift, catalog, record, object_may_exist=upload_started)
            held = _duplicate_in(exc)
            if held is not None:  # the fingerprint found this content stored already: return that record
                settled = _wait_for_settled(catalog, swift, held.dedupe_key, lease.total_seconds(), cancel)
                if settled is not None:
                    log.info("content already in the catalog as %s: not stored twice", settled["_id"])
                    return settled
                raise InsertError(f"content {held.dedupe_key} vanished while deduplicating; retry") from exc
        if isinstance(exc, InsertError | KeyboardInterrupt):
            raise
        cause = exc.__cause__ if isinstance(exc, UploadAborted) and exc.__cause__ else exc
        raise InsertError(
            f"insert of {prepared.original_name or 'stream'} failed and was rolled back: {cause}"
        ) from exc

    # Phase 3 ----------------------------------------------------------------------------------------
    commit = {
        "size": result.size,
        "sha256": result.sha256,
        "md5": result.md5,
        "etag": result.etag,
        "segments": result.segments,
        "lease_until": None,
    }
    if dedupe:  # claimed already (the same value), or only now (a stream: it may collide, see below)
        commit["dedupe_key"] = key or dedupe_key(fmt, result.sha256)
    # Inside our own lease nobody else may touch the record (reconcile waits for it to expire), so the
    # commit needs no lock; near the end of the lease it takes one like any other writer.
    exclusive = utcnow() < record["lease_until"] - LEASE_MARGIN
    try:
        if exclusive:
            done = catalog.replace_exclusive(
                {**record, **commit, "status": Status.COMMITTED.value}, Status.PENDING
            )
        else:
            done = catalog.transition(record_id, Status.PENDING, Status.COMMITTED, set_fields=commit)
    except DuplicateContent as dup:
        # Same content arrived by another writer while this stream uploaded: keep theirs, drop ours.
        _roll_back(swift, catalog, record, object_may_exist=True)
        settled = _wait_for_settled(catalog, swift, dup.dedupe_key, lease.total_seconds(), cancel)
        if settled is None:
            raise InsertError(f"content {dup.dedupe_key} vanished while deduplicating; retry") from dup
        return settled
    except Exception as exc:
        # The commit may or may not have landed: never delete the object blind. If the record is still
        # pending, reconcile() rolls it forward (the object is verified) once the lease has passed.
        state = _read_state(catalog, record_id)
        if state == Status.COMMITTED.value:
            return catalog.get(record_id) or record
        raise InsertError(
            f"catalog unreachable when committing record {record_id} ({exc}); the object is stored and "
            f"verified, `datalake reconcile` will commit it after its lease"
        ) from exc
    if done is None:
        # Our lease ran out and reconcile() took the record; it commits verified objects, so look.
        current = catalog.get(record_id)
        if current is not None and current["status"] in VISIBLE:
            return current
        raise InsertError(f"record {record_id}: lease lost before commit and the insert was rolled back")
    failpoint("after_commit")
    return done


_ACTIVE: dict[str, tuple[float, list[tuple[dict[str, Any], Any]]]] = {}
_VALIDATED: dict[tuple[str, str], Any] = {}  # (version id, YAML sha256) -> its Descriptor, or None: invalid
ACTIVE_TTL = 60.0  # seconds a process reuses the active formats' rules for matching


def _recognise(catalog: Catalog, container: str, prepared: Prepared, application: str | None) -> str | None:
    """The one active format whose `match` rules this object meets, else None.

    The rules are read from the stored YAML and tried first; only the formats whose rules hold are
    validated (the descriptor model, pydantic), so an insert that no rule concerns starts without it."""
    from airflow_provider_datalake.descriptors.active import FORMATS, latest_active
    from airflow_provider_datalake.descriptors.matching import holds, rules_of

    key = f"{catalog.name}/{catalog.database}"
    cached = _ACTIVE.get(key)
    if cached is None or time.monotonic() - cached[0] > ACTIVE_TTL:
        try:
            docs = latest_active(catalog.db[FORMATS])
        except PyMongoError as exc:
            raise InsertError(f"catalog (MongoDB) unreachable, nothing was stored: {exc}") from exc
        cached = (time.monotonic(), [(doc, rules_of(str(doc.get("yaml", "")))) for doc in docs])
        _ACTIVE[key] = cached
    ctype, filename = prepared.content_type, prepared.original_name
    hits = [doc for doc, rules in cached[1] if holds(rules, container, ctype, filename, application)]
    if not hits:
        return None
    from airflow_provider_datalake.descriptors.matching import match_format

    valid = [d for d in map(_validated, hits) if d is not None]
    return match_format(
        valid, container=container, content_type=ctype, filename=filename, application=application
    )


def _validated(doc: dict[str, Any]) -> Any:
    """The descriptor of a stored version, validated once per process; None (logged) when invalid."""
    from airflow_provider_datalake.descriptors.loader import DescriptorError
    from airflow_provider_datalake.descriptors.store import FormatVersion

    found = FormatVersion.from_doc(doc)
    key = (str(doc["_id"]), found.sha256)
    if key not in _VALIDATED:
        try:
            _VALIDATED[key] = found.descriptor()
        except DescriptorError as exc:
            log.error("stored format %s v%d is invalid:\n%s", found.name, found.version, exc)
            _VALIDATED[key] = None
    return _VALIDATED[key]


def _outcome(claim: Future[dict[str, Any] | None], cancel: threading.Event | None) -> dict[str, Any] | None:
    """The pending write's outcome; with ``cancel``, waited for in short steps so that a cancel is seen."""
    while True:
        try:
            return claim.result(timeout=None if cancel is None else 0.1)
        except TimeoutError:
            _check(cancel)


def _claim(
    catalog: Catalog,
    swift: SwiftClient,
    record: dict[str, Any],
    key: str | None,
    lease: dt.timedelta,
    cancel: threading.Event | None = None,
) -> dict[str, Any] | None:
    """Write the pending record, or return the visible record that already holds this content.

    No lookup first: the unique index on the dedupe key answers in the same round trip as the insert.
    """
    while True:
        try:
            catalog.insert_pending(record)
            return None
        except DuplicateContent:
            assert key is not None  # only a real content key can collide
        settled = _wait_for_settled(catalog, swift, key, lease.total_seconds(), cancel)
        if settled is not None:
            log.info("content already in the catalog as %s: not stored twice", settled["_id"])
            return settled
        # the other writer rolled back: try again


def _read_state(catalog: Catalog, record_id: str) -> str | None:
    try:
        rec = catalog.get(record_id)
    except Exception:
        return None
    return rec["status"] if rec else None


def _roll_back(
    swift: SwiftClient, catalog: Catalog, record: dict[str, Any], *, object_may_exist: bool
) -> None:
    """Undo a failed insert: object first, then the record, so no object is ever left without its record."""
    with interrupts_held():
        if object_may_exist:
            try:
                delete_with_segments(swift, record["swift_container"], record["swift_object_id"])
            except SwiftError as exc:
                name = record["swift_object_id"]
                log.warning("rollback: could not delete %s (%s); reconcile will", name, exc)
                return  # keep the record: it is what lets reconcile find the object
        try:
            catalog.delete_record(record["_id"], Status.PENDING)
        except Exception as exc:
            log.warning("rollback: could not delete record %s (%s); reconcile will", record["_id"], exc)
