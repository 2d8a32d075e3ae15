"""Format descriptors in the catalog (versioned, never overwritten) and the local cache DAG parsing reads.

Store: collection ``formats`` of the catalog database, one document per (name, version). A push always
writes version = last + 1; the unique index on (name, version) is what makes concurrent pushes safe (a
loser of the race gets a duplicate-key error, re-reads the last version and tries again), because neither
FerretDB nor a plain MongoDB collection gives us a transaction here.

Cache: Airflow parses DAG files often and must not hit the database each time, so ``sync_cache`` copies
the latest active descriptors into one JSON file at most once per ``ttl`` (atomically: readers see the old
file or the new one, never half of one), and ``read_cache`` turns that file into descriptors with no
network at all. A database outage leaves the last good file in place: no DAG disappears because MongoDB
is down, and one invalid descriptor is an error for that name only.

This module imports neither Airflow nor pymongo at import time: DAG files import ``read_cache``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import random
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

from airflow_provider_datalake.descriptors.active import ACTIVE, FORMATS, latest_active, version_id
from airflow_provider_datalake.descriptors.loader import (
    DescriptorError,
    Problem,
    parse_descriptor,
    plain_data,
    validate_data,
)
from airflow_provider_datalake.descriptors.model import Descriptor, is_identifier
from airflow_provider_datalake.format_cache import CacheError, DagSpec, cache_entries, text_sha256

if TYPE_CHECKING:
    from pymongo.collection import Collection

    from datalake_catalog.catalog import Catalog

__all__ = [
    "ACTIVE",
    "CACHE_FORMAT",
    "FORMATS",
    "CacheError",
    "CacheState",
    "FormatStore",
    "FormatVersion",
    "default_cache_path",
    "read_cache",
    "sync_cache",
]

log = logging.getLogger(__name__)

INACTIVE = "inactive"
#: Inferred descriptors wait as drafts until approved (or activated by an `auto` policy); rejected ones stay.
DRAFT, REJECTED = "draft", "rejected"
#: Bumped if the cache file's layout changes incompatibly.
CACHE_FORMAT = 1


def _utcnow() -> dt.datetime:
    now = dt.datetime.now(dt.UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)  # what BSON keeps


def descriptor_yaml(descriptor: Descriptor) -> str:
    """YAML for a descriptor built in Python (no source text): every field, so it reloads identically."""
    data = descriptor.model_dump(mode="json", by_alias=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)


@dataclass(frozen=True, slots=True)
class FormatVersion:
    """One stored version of a descriptor, as pushed (``yaml`` is the author's text, comments included)."""

    name: str
    version: int
    status: str
    yaml: str
    sha256: str
    created_at: dt.datetime | None
    author: str | None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> FormatVersion:
        return cls(
            name=doc["name"],
            version=int(doc["version"]),
            status=doc.get("status", ACTIVE),
            yaml=doc.get("yaml", ""),
            sha256=doc.get("sha256", ""),
            created_at=doc.get("created_at"),
            author=doc.get("author"),
        )

    def descriptor(self) -> Descriptor:
        """The validated descriptor, carrying the store's version (not the `version:` written in the YAML)."""
        desc = parse_descriptor(self.yaml, source_name=version_id(self.name, self.version))
        return desc.model_copy(update={"version": self.version})

    def metadata(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "status": self.status,
            "sha256": self.sha256,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "author": self.author,
        }


class FormatStore:
    """Versioned descriptors in the catalog database (``formats`` collection), through the catalog."""

    def __init__(self, catalog: Catalog, *, collection: str = FORMATS, max_attempts: int = 200) -> None:
        self.catalog = catalog
        self.collection_name = collection
        self.max_attempts = max_attempts
        self._indexed = False

    @property
    def collection(self) -> Collection[dict[str, Any]]:
        coll = self.catalog.db[self.collection_name]
        if not self._indexed:
            self.ensure_indexes()
        return coll

    def ensure_indexes(self) -> None:
        """Idempotent. The unique (name, version) index is what serialises concurrent pushes."""
        coll = self.catalog.db[self.collection_name]
        coll.create_index([("name", 1), ("version", 1)], unique=True, name="name_version_unique")
        coll.create_index([("status", 1), ("name", 1)], name="status_name")
        self._indexed = True

    # -- writing ----------------------------------------------------------------------------------------

    def push(
        self,
        descriptor: Descriptor,
        *,
        source_text: str | None = None,
        author: str | None = None,
        status: str = ACTIVE,
        extra: dict[str, Any] | None = None,
    ) -> int:
        """Store a new version (last + 1, whatever the YAML's `version:` says) and return its number.

        ``source_text`` is kept as the version's YAML (comments and all); it must describe the same
        descriptor. Without it, YAML is generated from the model.
        """
        from pymongo.errors import DuplicateKeyError, OperationFailure

        from datalake_catalog.catalog import is_duplicate_key

        if source_text is None:
            source_text = descriptor_yaml(descriptor)
        else:
            parsed = parse_descriptor(source_text, source_name=f"{descriptor.name} (source_text)")
            if parsed.model_copy(update={"version": descriptor.version}) != descriptor:
                raise ValueError(f"source_text does not describe the descriptor {descriptor.name!r} pushed")
        sha256 = text_sha256(source_text)
        coll = self.collection
        for attempt in range(self.max_attempts):
            last = coll.find_one({"name": descriptor.name}, {"version": 1}, sort=[("version", -1)])
            version = int(last["version"]) + 1 if last else 1
            doc = {
                "_id": version_id(descriptor.name, version),
                "name": descriptor.name,
                "version": version,
                "status": status,
                "yaml": source_text,
                "sha256": sha256,
                "created_at": _utcnow(),
                "author": author,
                "description": descriptor.description,
                **(extra or {}),
            }
            try:
                coll.insert_one(doc)
            except (DuplicateKeyError, OperationFailure) as exc:
                if not is_duplicate_key(exc):
                    raise
                # Another writer took this version: back off a little (jittered) and read again.
                time.sleep(random.uniform(0, min(0.002 * 2**attempt, 0.1)))  # noqa: S311 - jitter
                continue
            log.info("pushed format %s version %d", descriptor.name, version)
            return version
        raise RuntimeError(
            f"could not push {descriptor.name!r}: {self.max_attempts} concurrent attempts lost"
        )

    def set_status(
        self, name: str, version: int, status: str, *, expected: str | None = None, **fields: Any
    ) -> bool:
        """One version's status (draft -> active on approval, draft -> rejected); False if it was not in
        ``expected``. Other fields (who, when, why) are set beside it."""
        query: dict[str, Any] = {"name": name, "version": int(version)}
        if expected is not None:
            query["status"] = expected
        res = self.collection.update_one(query, {"$set": {"status": status, **fields}})
        return res.modified_count == 1

    def with_status(self, status: str, name: str | None = None) -> list[FormatVersion]:
        """Every version in this status (e.g. the drafts waiting for review), by name then version."""
        query: dict[str, Any] = {"status": status}
        if name is not None:
            query["name"] = name
        return [
            FormatVersion.from_doc(d) for d in self.collection.find(query).sort([("name", 1), ("version", 1)])
        ]

    def deactivate(self, name: str) -> int:
        """Retire a format: every version becomes inactive (kept for history); returns how many changed.

        A later push makes the format active again, as a new version.
        """
        res = self.collection.update_many(
            {"name": name, "status": ACTIVE}, {"$set": {"status": INACTIVE, "deactivated_at": _utcnow()}}
        )
        return res.modified_count

    # -- reading ----------------------------------------------------------------------------------------

    def get_version(self, name: str, version: int | None = None) -> FormatVersion | None:
        """A given version (whatever its status), or by default the latest active one."""
        if version is not None:
            doc = self.collection.find_one({"name": name, "version": int(version)})
        else:
            doc = self.collection.find_one({"name": name, "status": ACTIVE}, sort=[("version", -1)])
        return FormatVersion.from_doc(doc) if doc else None

    def get(self, name: str, version: int | None = None) -> Descriptor | None:
        """The descriptor (latest active version by default); raises DescriptorError if it no longer
        validates (e.g. after a model change)."""
        found = self.get_version(name, version)
        return found.descriptor() if found else None

    def history(self, name: str) -> list[FormatVersion]:
        """Every version of a format, oldest first, active or not."""
        return [FormatVersion.from_doc(d) for d in self.collection.find({"name": name}).sort("version", 1)]

    def latest(self) -> list[FormatVersion]:
        """The latest version of each active format, by name (raw: not validated)."""
        return [FormatVersion.from_doc(d) for d in latest_active(self.collection)]

    def list_active(self) -> list[Descriptor]:
        """The latest version of each active format; one that no longer validates is logged and skipped."""
        out: list[Descriptor] = []
        for found in self.latest():
            try:
                out.append(found.descriptor())
            except DescriptorError as exc:
                log.error("stored format %s v%d is invalid:\n%s", found.name, found.version, exc)
        return out

    def export(self, directory: str | os.PathLike[str]) -> list[Path]:
        """Write each active format's latest YAML, as pushed, to ``<directory>/<name>.yaml``."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for found in self.latest():
            if not is_identifier(found.name):  # never let a stored name shape a path
                log.error("skipping stored format with unsafe name %r", found.name)
                continue
            path = folder / f"{found.name}.yaml"
            path.write_text(found.yaml, encoding="utf-8")
            written.append(path)
        return written


# ------------------------------------------------------------------------------------------------- cache


@dataclass(frozen=True, slots=True)
class CacheState:
    """What ``sync_cache`` did. ``status``: ``synced`` (file rewritten), ``fresh`` (younger than ttl, left
    alone) or ``unreachable`` (catalog down or refusing: the old file, if any, is kept)."""

    path: Path
    status: Literal["synced", "fresh", "unreachable"]
    synced_at: dt.datetime | None  # when the file now on disk was written; None if there is none
    count: int | None = None  # descriptors written (synced only: a fresh file is not read)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "unreachable"

    @property
    def has_cache(self) -> bool:
        return self.synced_at is not None


def default_cache_path() -> Path:
    """``$DATALAKE_FORMATS_CACHE``, else ``$AIRFLOW_HOME/datalake/formats.json`` (Airflow's default home)."""
    if explicit := os.environ.get("DATALAKE_FORMATS_CACHE"):
        return Path(explicit)
    home = os.environ.get("AIRFLOW_HOME") or os.path.join(os.path.expanduser("~"), "airflow")
    return Path(home) / "datalake" / "formats.json"


def _mtime(path: Path) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    except FileNotFoundError:
        return None


def _write_atomic(path: Path, payload: dict[str, Any]) -> None:
    """tmp file in the same folder + fsync + os.replace: a reader sees the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, ensure_ascii=False, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the dag-processor may run as another user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _cache_record(found: FormatVersion) -> dict[str, Any]:
    """``version`` and ``yaml`` (the truth), plus ``data``: the YAML pre-parsed, when JSON holds it exactly,
    tied to the text by ``sha256``, so that reading 1,000 descriptors needs no YAML parsing; and, for a
    valid descriptor, ``dag``: what its DAG file needs at parse time (`format_cache`), so that parsing
    needs no validation either."""
    record: dict[str, Any] = {"version": found.version, "yaml": found.yaml}
    data = plain_data(found.yaml)
    if data is not None:
        record["sha256"] = text_sha256(found.yaml)
        record["data"] = data
    desc, error = _cache_entry(found.name, record)
    if desc is not None and error is None:
        record["dag"] = DagSpec.from_descriptor(desc).to_cache(found.yaml)
    return record


def sync_cache(
    store: FormatStore, path: str | os.PathLike[str], *, ttl: float, force: bool = False
) -> CacheState:
    """Copy the latest active descriptors into ``path`` if it is older than ``ttl`` seconds (or ``force``).

    Never raises for a database problem: the state says ``unreachable`` and the previous file stays, so
    DAGs built from it survive the outage. Invalid descriptors are copied too: ``read_cache`` reports them
    one by one, where the DAG's author will look.
    """
    from pymongo.errors import PyMongoError

    path = Path(path)
    on_disk = _mtime(path)
    if not force and on_disk is not None and time.time() - on_disk.timestamp() < ttl:
        return CacheState(path, "fresh", on_disk)
    try:
        versions = store.latest()
    except PyMongoError as exc:
        log.warning("format cache %s not refreshed, catalog unavailable (%s); keeping the old one", path, exc)
        return CacheState(path, "unreachable", on_disk, error=f"{type(exc).__name__}: {exc}")
    now = _utcnow()
    payload = {
        "format": CACHE_FORMAT,
        "synced_at": now.isoformat(),
        "descriptors": {v.name: _cache_record(v) for v in versions},
    }
    _write_atomic(path, payload)
    return CacheState(path, "synced", now, count=len(versions))


# Parsed cache files by path, reused while the file is unchanged (stat identity): a dags folder with one
# file per format reads the same cache once per process, not once per DAG file.
_parsed: dict[
    str, tuple[tuple[int, int, int], dict[str, tuple[Descriptor | None, DescriptorError | None]]]
] = {}
_parsed_lock = threading.Lock()


def _cache_entry(name: str, entry: Any) -> tuple[Descriptor | None, DescriptorError | None]:
    if not (
        isinstance(entry, dict)
        and isinstance(entry.get("yaml"), str)
        and isinstance(entry.get("version"), int)
    ):
        problem = Problem(
            f"{name} (cache)", None, "", "malformed cache entry: expected {version: int, yaml: str}"
        )
        return None, DescriptorError([problem], name=name)
    source = version_id(name, entry["version"])
    try:
        if "data" in entry and entry.get("sha256") == text_sha256(entry["yaml"]):
            desc = validate_data(entry["data"], entry["yaml"], source_name=source)
        else:  # no pre-parsed copy (or one that does not belong to this text): the YAML decides
            desc = parse_descriptor(entry["yaml"], source_name=source)
    except DescriptorError as exc:
        exc.name = name
        return None, exc
    if desc.name != name:
        problem = Problem(source, None, "name", f"cached under {name!r} but names itself {desc.name!r}")
        return None, DescriptorError([problem], name=name)
    return desc.model_copy(update={"version": entry["version"]}), None


def read_cache(path: str | os.PathLike[str]) -> dict[str, tuple[Descriptor | None, DescriptorError | None]]:
    """Every cached format by name: (descriptor, None) or (None, its error). No network, no database.

    A missing file gives ``{}`` (nothing synced yet); a file that is not a cache raises CacheError. Each
    descriptor is validated on its own, so one invalid descriptor never hides the others. Results are
    reused while the file is unchanged.
    """
    path = Path(path)
    try:
        st = path.stat()
        entries = cache_entries(path)  # the JSON, read once per file version (and CacheError if not one)
    except FileNotFoundError:
        return {}
    key, stamp = os.path.abspath(path), (st.st_mtime_ns, st.st_size, st.st_ino)
    with _parsed_lock:
        hit = _parsed.get(key)
    if hit is not None and hit[0] == stamp:
        return dict(hit[1])
    result = {str(name): _cache_entry(str(name), entry) for name, entry in entries.items()}
    with _parsed_lock:
        _parsed[key] = (stamp, result)
    return dict(result)


def read_cache_entry(
    path: str | os.PathLike[str], name: str
) -> tuple[Descriptor | None, DescriptorError | None]:
    """One format from the cache, validating only that one: what each per-format DAG file needs.

    The dag-processor parses every DAG file in its own process, so validating all N descriptors for each
    of N files would cost N^2; this costs one JSON read (memoised per file version) and one validation.
    Raises KeyError when the format is not in the cache, FileNotFoundError when there is no cache.
    """
    return _cache_entry(name, cache_entries(path)[name])
