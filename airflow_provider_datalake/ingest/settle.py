"""Settling one pending record whose lease ran out, and deleting an object with its segments.

Both the reconciler (every expired record it finds) and an insert (a dead writer's record holding the same
content) settle records, and both an insert's rollback and a settled record delete objects: these pieces
sit below both. A record is claimed first (one guarded update, so two settlers never both act), then
rolled forward when its object is in Swift, complete and matching the record (size, SHA-256 and record id
from the object's metadata), else rolled back: the object (and any SLO segments) deleted first, then the
record. A record of the Swift middleware names an object that any client wrote and was told was stored:
when that object is there it is complete (Swift shows none before its PUT ends), so it is read back for its
size and SHA-256 and rolled forward, never deleted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_datalake.hooks.errors import DuplicateContent, SwiftError, SwiftNotFound
from airflow_provider_datalake.hooks.swift_client import SwiftClient
from datalake_catalog.catalog import MIDDLEWARE_INGEST, Catalog, Status, dedupe_key, utcnow

log = logging.getLogger(__name__)

CLAIM = dt.timedelta(minutes=5)  # how long a reconciler owns a record it is settling


@dataclass
class ReconcileReport:
    rolled_forward: list[str] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)
    orphans: list[tuple[str, str]] = field(default_factory=list)
    orphans_removed: list[tuple[str, str]] = field(default_factory=list)
    missing_objects: list[str] = field(default_factory=list)
    other_accounts: list[str] = field(default_factory=list)
    #: (container, object, record id) of orphans given a committed record (``adopt``)
    adopted: list[tuple[str, str, str]] = field(default_factory=list)
    #: (record id, why) of stored objects whose content could not be read back to commit their record (a
    #: large object with a segment gone): left to the next reconcile once the claim runs out
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    #: (container, object, why) of orphans that ``--adopt`` could not read back whole: no record made,
    #: they stay orphans (and in ``orphans``) for the next reconcile
    not_adopted: list[tuple[str, str, str]] = field(default_factory=list)
    dry_run: bool = False

    @property
    def clean(self) -> bool:
        return (
            not (self.orphans and not self.orphans_removed)
            and not self.missing_objects
            and not self.unreadable
            and not self.not_adopted
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "rolled_forward": self.rolled_forward,
            "rolled_back": self.rolled_back,
            "orphans": [f"{c}/{o}" for c, o in self.orphans],
            "orphans_removed": [f"{c}/{o}" for c, o in self.orphans_removed],
            "missing_objects": self.missing_objects,
            "other_accounts": self.other_accounts,
            "adopted": [f"{c}/{o}" for c, o, _ in self.adopted],
            "unreadable": [{"record": rid, "why": why} for rid, why in self.unreadable],
            "not_adopted": [{"object": f"{c}/{o}", "why": why} for c, o, why in self.not_adopted],
            "dry_run": self.dry_run,
        }


def segments_container(container: str) -> str:
    return f"{container}_segments"


def delete_with_segments(swift: SwiftClient, container: str, name: str) -> None:
    """Delete an object and any segments a crashed SLO upload left without a manifest."""
    swift.delete_object(container, name, missing_ok=True)
    try:
        for seg in list(swift.list_objects(segments_container(container), prefix=f"{name}/")):
            swift.delete_object(segments_container(container), seg["name"], missing_ok=True)
    except SwiftNotFound:
        pass


def _segment_count(swift: SwiftClient, rec: dict[str, Any]) -> int:
    prefix = f"{rec['swift_object_id']}/"
    return sum(1 for _ in swift.list_objects(segments_container(rec["swift_container"]), prefix=prefix))


def _object_matches(swift: SwiftClient, rec: dict[str, Any]) -> dict[str, str] | None:
    """The object's headers when it is the complete upload of this record, else None."""
    try:
        headers = swift.head_object(rec["swift_container"], rec["swift_object_id"])
    except SwiftNotFound:
        return None
    size = int(headers.get("content-length", -1))
    sha = headers.get("x-object-meta-sha256")
    if headers.get("x-object-meta-record-id") not in (None, rec["_id"]):
        return None
    if rec.get("size") is not None and size != rec["size"]:
        return None
    if rec.get("sha256") and sha and sha != rec["sha256"]:
        return None
    if not sha and not rec.get("sha256") and rec.get("ingest") != MIDDLEWARE_INGEST:
        return None  # a stream's upload is complete only once the hook stamped its SHA-256
    return headers


def read_content(
    swift: SwiftClient,
    container: str,
    name: str,
    expected_size: int | None = None,
    *,
    each_chunk: Callable[[], None] | None = None,
) -> tuple[int, str]:
    """Size and SHA-256 of an object's content, streamed (a large object's through its segments);
    ``each_chunk`` is called after every chunk (to keep a claim while a large object is read).

    SwiftError when ``expected_size`` (the object's ``Content-Length``) is given and the bytes read differ:
    Swift ends a large object's GET early, without an error, when one of its segments is gone, and the
    digest of part of the content must never be recorded as the object's."""
    digest, size = hashlib.sha256(), 0
    for chunk in swift.iter_object(container, name):
        digest.update(chunk)
        size += len(chunk)
        if each_chunk is not None:
            each_chunk()
    if expected_size is not None and size != expected_size:
        raise SwiftError(f"{container}/{name}: read {size} of {expected_size} bytes (a segment missing?)")
    return size, digest.hexdigest()


def content_length(headers: dict[str, str]) -> int | None:
    """An object's size as its HEAD gives it (lower-cased header names), if it does."""
    value = headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


def segment_kind(headers: dict[str, str]) -> str | None:
    """``segments`` of a record the middleware (or an adoption) writes: "slo", "dlo" or None."""
    if "x-static-large-object" in headers:
        return "slo"
    return "dlo" if "x-object-manifest" in headers else None


class ClaimLost(Exception):
    """Another reconciler holds the record now: this one's claim ran out while it worked."""


class _Claim:
    """A reconciler's claim on one record: its lease renewed every third of ``length`` while the record is
    worked on, so only a reconciler that stopped lets it run out; the token tells this claim from the one
    another reconciler may take after that."""

    def __init__(self, catalog: Catalog, record_id: str, length: dt.timedelta) -> None:
        self.catalog, self.record_id, self.length = catalog, record_id, length
        self.token = uuid.uuid4().hex
        self.last = time.monotonic()

    def keep(self) -> None:
        """Renew the lease when a third of it has gone by; ClaimLost when the record is no longer ours."""
        if time.monotonic() - self.last < self.length.total_seconds() / 3:
            return
        if not self.catalog.renew_lease(
            self.record_id,
            utcnow() + self.length,
            Status.RECONCILING,
            extra_filter={"reconciler": self.token},
        ):
            raise ClaimLost(self.record_id)
        self.last = time.monotonic()


def _read_back(
    swift: SwiftClient, rec: dict[str, Any], headers: dict[str, str], claim: _Claim
) -> dict[str, Any]:
    """The commit of a middleware record whose writer did not commit it: its object's content read back,
    the claim kept meanwhile. SwiftError when the content is not as long as the object says
    (`read_content`), ClaimLost when the claim was lost."""
    size, sha256 = read_content(
        swift, rec["swift_container"], rec["swift_object_id"], content_length(headers), each_chunk=claim.keep
    )
    return {
        "size": size,
        "sha256": sha256,
        "etag": headers.get("etag", "").strip('"') or None,
        "segments": segment_kind(headers),
        "lease_until": None,
        "reconciled": True,
    }


def settle_record(
    rec: dict[str, Any],
    *,
    catalog: Catalog,
    swift: SwiftClient,
    report: ReconcileReport | None = None,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    claim: dt.timedelta = CLAIM,
) -> str | None:
    """Settle one expired pending record: 'forward', 'back', or None when someone else owns it or its
    content cannot be read back (``report.unreadable``). The record is this settler's for ``claim``,
    renewed while a large object's content is read back."""
    report = report or ReconcileReport()
    now = now or utcnow()
    if dry_run:
        verdict = "forward" if _object_matches(swift, rec) else "back"
        (report.rolled_forward if verdict == "forward" else report.rolled_back).append(rec["_id"])
        return verdict
    held = _Claim(catalog, rec["_id"], claim)
    claimed = catalog.transition(
        rec["_id"],
        (Status.PENDING, Status.RECONCILING),
        Status.RECONCILING,
        set_fields={"lease_until": now + claim, "reconciler": held.token},
        extra_filter={"lease_until": {"$lt": now}},
    )
    if claimed is None:
        return None
    headers = _object_matches(swift, claimed)
    if headers is not None and claimed.get("ingest") == MIDDLEWARE_INGEST:
        try:
            read_back = _read_back(swift, claimed, headers, held)
        except SwiftError as exc:
            # Its client was told the object is stored: never rolled back. Claimed until the claim runs
            # out, when the next reconcile tries again; the report names it meanwhile.
            report.unreadable.append((claimed["_id"], str(exc)))
            log.error("reconcile: %s not committed, its content cannot be read: %s", claimed["_id"], exc)
            return None
        except ClaimLost:
            log.warning("reconcile: %s taken by another reconciler while it was read back", claimed["_id"])
            return None
        done = catalog.transition(
            claimed["_id"],
            Status.RECONCILING,
            Status.COMMITTED,
            set_fields=read_back,
            unset_fields=("reconciler",),
            extra_filter={"reconciler": held.token},
        )
        if done is None:
            log.warning("reconcile: %s taken by another reconciler before its commit", claimed["_id"])
            return None
        report.rolled_forward.append(claimed["_id"])
        log.info("reconcile: committed %s (the middleware's object, read back)", claimed["_id"])
        return "forward"
    if headers is not None:
        sha = claimed.get("sha256") or headers["x-object-meta-sha256"]
        etag = headers.get("etag", "").strip('"')
        slo = bool(headers.get("x-static-large-object"))
        commit: dict[str, Any] = {
            "size": int(headers["content-length"]),
            "sha256": sha,
            "md5": None if slo else etag,  # as insert_datalake records it (see PutResult)
            "etag": etag,
            "segments": _segment_count(swift, claimed) if slo else 0,
            "lease_until": None,
            "reconciled": True,
        }
        if claimed.get("dedupe") and str(claimed.get("dedupe_key", "")).startswith("unique:"):
            commit["dedupe_key"] = dedupe_key(claimed.get("format"), sha)
        try:
            catalog.transition(claimed["_id"], Status.RECONCILING, Status.COMMITTED, set_fields=commit)
            report.rolled_forward.append(claimed["_id"])
            log.info("reconcile: committed %s (object verified in Swift)", claimed["_id"])
            return "forward"
        except DuplicateContent:
            pass  # the same content was committed meanwhile by another record: this copy goes
    delete_with_segments(swift, claimed["swift_container"], claimed["swift_object_id"])
    catalog.delete_record(claimed["_id"], Status.RECONCILING)
    report.rolled_back.append(claimed["_id"])
    log.info("reconcile: rolled back %s", claimed["_id"])
    return "back"
