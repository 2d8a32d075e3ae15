"""`reconcile()`: settle what crashed inserts left, so Swift and the catalog agree again.

- A pending record whose lease ran out is settled (`settle.settle_record`): claimed, then rolled forward
  when its object is in Swift, complete and matching the record, else rolled back.
- Swift objects that no record names are orphans: reported, and removed only when asked, or adopted:
  given a committed record (read back whole for its SHA-256), as the Swift middleware would have made
  had it been in the proxy's pipeline (objects written while it was off, or by a proxy set to fail open).
- Committed records whose object is gone are reported (that would be data loss, never silently fixed).
- Records of another Swift account than the connection's are left alone and counted: their objects are
  out of this connection's sight, so they would look missing, and their pending records would be rolled back.

Safe at any time and concurrently with inserts: an insert's record exists before its first byte is sent and
is removed only after its object, so a live insert never looks orphaned, and live leases are never touched.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from typing import Any

from airflow_provider_datalake.hooks.connect import catalog_for, swift_for
from airflow_provider_datalake.hooks.errors import SwiftError, SwiftNotFound
from airflow_provider_datalake.hooks.swift_client import SwiftClient
from airflow_provider_datalake.ingest.rules import DEFAULT_CONTAINER
from airflow_provider_datalake.ingest.settle import (
    ReconcileReport,
    content_length,
    read_content,
    segment_kind,
    segments_container,
    settle_record,
)
from datalake_catalog.catalog import VISIBLE, Catalog, Status, new_record
from datalake_catalog.swift_middleware import FORMAT_META

log = logging.getLogger(__name__)

LIST_PAGE = 1000
_RECORD_ID = re.compile(r"[0-9a-f]{32}")


def in_account(rec: dict[str, Any], swift: SwiftClient) -> bool:
    """Whether the record's object lives in the account this connection reaches. Records from before
    ``swift_account`` was kept are told by their ``swift_user``. Another account's object is invisible
    here: it must be neither rolled back nor reported missing through this connection."""
    if rec.get("swift_account"):
        return bool(rec["swift_account"] == swift.account)
    return rec.get("swift_user") in (None, swift.user)


def _containers(catalog: Catalog, explicit: list[str] | None) -> list[str]:
    """The containers to check: those named, else the default one plus every one the catalog mentions."""
    if explicit:
        return sorted(set(explicit))
    names = {DEFAULT_CONTAINER}
    names.update(catalog.containers())
    return sorted(names)


def _find_orphans(
    swift: SwiftClient, catalog: Catalog, container: str, report: ReconcileReport, remove: bool
) -> set[str]:
    """Objects (and SLO segments) of this container that no record names. Returns the names listed."""
    listed: set[str] = set()
    for target, parent_of in (
        (container, lambda n: n),
        (segments_container(container), lambda n: n.rsplit("/", 1)[0]),
    ):
        try:
            page: list[str] = []
            for obj in swift.list_objects(target):
                page.append(obj["name"])
                if len(page) >= LIST_PAGE:
                    _check_page(swift, catalog, container, target, page, parent_of, report, remove, listed)
                    page = []
            _check_page(swift, catalog, container, target, page, parent_of, report, remove, listed)
        except SwiftNotFound:
            continue
    return listed


def _adopt_orphans(
    swift: SwiftClient, catalog: Catalog, container: str, report: ReconcileReport, dry_run: bool
) -> None:
    """The orphans of ``container`` become committed records; their segments are no orphans then."""
    adopted: set[str] = set()
    for c, name in report.orphans:
        if c != container:
            continue
        try:
            record_id = "(dry run)" if dry_run else adopt(swift, catalog, container, name)
        except SwiftError as exc:  # this one stays an orphan; the others are adopted all the same
            report.not_adopted.append((container, name, str(exc)))
            log.error("reconcile: %s/%s not adopted, its content cannot be read: %s", container, name, exc)
            continue
        report.adopted.append((container, name, record_id))
        adopted.add(name)
    segments = segments_container(container)
    report.orphans = [
        (c, n)
        for c, n in report.orphans
        if not (c == container and n in adopted) and not (c == segments and n.rsplit("/", 1)[0] in adopted)
    ]


def _record_id(name: str) -> str | None:
    """The record id an object name carries: insert_datalake names objects ``<format>/<date>/<record id>``."""
    last = name.rsplit("/", 1)[-1]
    return last if _RECORD_ID.fullmatch(last) else None


def _known(catalog: Catalog, container: str, names: set[str], *, by_name: bool = True) -> set[str]:
    """Which of these object names a record of this container names.

    Names of ours are looked up by their record id (constant time, however large the catalog); the others,
    and ids with no such record, by one query on the names, which reads the whole collection on FerretDB.
    """
    ids = {name: rid for name in names if (rid := _record_id(name))}
    where = catalog.locate(ids.values())
    known = {name for name, rid in ids.items() if where.get(rid) == (container, name)}
    rest = sorted(names - known)
    if rest and by_name:
        known |= catalog.known_objects(container, rest)
    return known


def _check_page(
    swift: SwiftClient,
    catalog: Catalog,
    container: str,
    target: str,
    names: list[str],
    parent_of: Any,
    report: ReconcileReport,
    remove: bool,
    listed: set[str],
) -> None:
    if target == container:
        listed.update(names)
    parents = {n: parent_of(n) for n in names}
    known = _known(catalog, container, set(parents.values()))
    for name, parent in parents.items():
        if parent in known:
            continue
        # Listed, then found recordless: make sure it is still there (a rollback may have just removed it).
        if not swift.object_exists(target, name) or _known(catalog, container, {parent}, by_name=False):
            continue
        report.orphans.append((target, name))
        if remove:
            swift.delete_object(target, name, missing_ok=True)
            report.orphans_removed.append((target, name))


def adopt(swift: SwiftClient, catalog: Catalog, container: str, name: str) -> str:
    """Give an orphan object a committed record, as the Swift middleware makes: its bytes read back for
    the size and SHA-256, its content type and ``X-Object-Meta-*`` kept. Returns the record id. SwiftError
    (and no record) when the content read is not as long as the object says (a large object missing a
    segment)."""
    head = swift.head_object(container, name)
    size, sha256 = read_content(swift, container, name, content_length(head))
    meta = {k[len("x-object-meta-") :]: v for k, v in head.items() if k.startswith("x-object-meta-")}
    fmt = meta.pop(FORMAT_META, None) or None
    record = new_record(
        record_id=uuid.uuid4().hex,
        fmt=fmt,
        container=container,
        object_name=name,
        content_type=head.get("content-type"),
        original_name=name,
        swift_user=swift.user,
        swift_account=swift.account,
        size=None,
        sha256=None,
        dedupe=False,
        key=None,
        lease=dt.timedelta(minutes=5),
        fields={
            "other_data": {k.replace(".", "_").replace("$", "_"): v for k, v in meta.items()},
            "application": "swift",
            "data_processing": "default",
            "processed_data_area_service": [],
            "ingest": "reconcile-adopt",
        },
    )
    catalog.insert_pending(record)
    catalog.transition(
        record["_id"],
        Status.PENDING,
        Status.COMMITTED,
        set_fields={
            "size": size,
            "sha256": sha256,
            "etag": head.get("etag", "").strip('"') or None,
            "segments": segment_kind(head),
            "lease_until": None,
        },
    )
    return str(record["_id"])


def reconcile(
    *,
    dry_run: bool = False,
    remove_orphans: bool = False,
    adopt_orphans: bool = False,
    check_objects: bool = True,
    containers: list[str] | None = None,
    swift_conn_id: str = "swift_default",
    mongo_conn_id: str = "mongo_default",
    swift: SwiftClient | None = None,
    catalog: Catalog | None = None,
    now: dt.datetime | None = None,
) -> ReconcileReport:
    """Settle expired pending records, then report orphan objects: with ``adopt_orphans`` give each a
    committed record (its segments go with it), else with ``remove_orphans`` delete them."""
    if adopt_orphans and remove_orphans:
        raise ValueError("adopt or remove the orphans, not both")
    swift = swift or swift_for(swift_conn_id)
    catalog = catalog or catalog_for(mongo_conn_id)
    report = ReconcileReport(dry_run=dry_run)
    for rec in list(catalog.expired_pending(now)):
        if not in_account(rec, swift):
            report.other_accounts.append(rec["_id"])
            continue
        settle_record(rec, catalog=catalog, swift=swift, report=report, dry_run=dry_run, now=now)
    for container in _containers(catalog, containers):
        listed = _find_orphans(swift, catalog, container, report, remove_orphans and not dry_run)
        if adopt_orphans:
            _adopt_orphans(swift, catalog, container, report, dry_run)
        if check_objects:
            visible = catalog.raw_objects.find(
                {"swift_container": container, "status": {"$in": [s.value for s in VISIBLE]}},
                {"swift_object_id": 1, "swift_account": 1, "swift_user": 1},
            )
            for rec in visible:
                if not in_account(rec, swift):
                    report.other_accounts.append(rec["_id"])
                elif rec["swift_object_id"] not in listed and not swift.object_exists(
                    container, rec["swift_object_id"]
                ):
                    report.missing_objects.append(rec["_id"])
    return report
