"""``datalake_catalog``: a Swift proxy middleware that catalogues every object written into the raw zone,
whoever writes it — `swift upload`, rclone, curl, or an S3 client through Swift's ``s3api``.

An object PUT into a watched container goes through the same two-phase write as ``insert_datalake()``: a
pending record with a lease is written *before* the request goes down the pipeline; the body's SHA-256 and
size are counted as it streams through; after Swift's 2xx the record is committed with them, the ETag, the
content type and the ``X-Object-Meta-*`` headers (as ``other_data``); on any failure it is removed. A
large object's manifest (SLO, which S3 multipart uploads complete into, or DLO) is answered as soon as Swift
has stored it; its content is then read back through its segments and hashed, and its record committed
(pending, so invisible to readers, until then). Segments themselves are never catalogued. The stored
object carries its record's id (``X-Object-Meta-Record-Id``). A DELETE finds the record by it and marks it
deleted (refused while a run processes the object; a pending write's own rollback goes through untouched).

The format is the ``X-Object-Meta-Datalake-Format`` header (S3: ``x-amz-meta-datalake-format``); without
one the object is committed unformatted and the unknown-formats DAG matches or infers it. Account and
container come from the request's path, which Swift's auth authorizes; no header sets any other field.

Fail closed by default: when the catalog cannot be reached the PUT is refused with 503 and nothing is
stored. With ``fail_open = true`` it goes through uncatalogued, for ``datalake reconcile --adopt``.

Paste configuration (``[filter:datalake_catalog]``, ``use = egg:datalake-catalog#datalake_catalog``), placed
after auth and after ``copy``, ``slo`` and ``dlo``:

- ``catalog_uri``: the catalog's MongoDB URI; ``catalog_database`` (default ``datalake``);
- ``watch``: comma-separated ``account/container`` patterns (shell-style, default ``*/*``), less
  ``exclude`` (the same form; the lake's own ``*/datalake-quarantine`` by default); containers named
  ``*_segments`` or ``*+segments`` (where large objects' segments go) are never watched;
- ``fail_open`` (default false); ``lease_seconds``: how long a pending record holds (default 86400: the
  upload of a large object may take hours); ``read_back_lease_seconds`` (default 300): the lease of a large
  object's record once Swift has stored it, renewed while its content is read back, so a proxy that stops
  during the read-back leaves it to reconcile within minutes, not a day.

pymongo only: Swift's proxy installs this distribution without Airflow.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import json
import logging
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from datalake_catalog.catalog import MIDDLEWARE_INGEST, Status, new_record
from datalake_catalog.catalog_server import RemoteCatalog, pause, spawn
from datalake_catalog.errors import InvalidTransition

log = logging.getLogger("datalake_catalog")

FORMAT_META = "datalake-format"
#: the record's id, stored on the object: a DELETE finds the record by it (MongoDB's ``_id``), the one
#: lookup every catalog server serves from an index
RECORD_META = "record-id"
SEGMENT_SUFFIXES = ("_segments", "+segments")
#: marks the middleware's own subrequests (reading a manifest's segments back)
SOURCE = "DLC"
TRUE = ("true", "1", "yes", "on")

StartResponse = Callable[..., Any]


def wsgi_to_str(value: str) -> str:
    """A WSGI string (the request's bytes seen as Latin-1) as the text it is (UTF-8)."""
    return value.encode("latin-1").decode("utf-8", "surrogateescape")


def str_to_wsgi(value: str) -> str:
    return value.encode("utf-8", "surrogateescape").decode("latin-1")


def parse_path(path: str) -> tuple[str, str, str] | None:
    """(account, container, object) of an object request's ``PATH_INFO``, ``/v1/<account>/<container>/<obj>``
    (a WSGI string: already unquoted)."""
    parts = path.split("/", 4)
    if len(parts) < 5 or parts[0] != "" or not parts[1] or not all(parts[2:]):
        return None
    return wsgi_to_str(parts[2]), wsgi_to_str(parts[3]), wsgi_to_str(parts[4])


def watched(patterns: list[str], excluded: list[str], account: str, container: str) -> bool:
    if container.endswith(SEGMENT_SUFFIXES):
        return False
    where = f"{account}/{container}"
    return any(fnmatch.fnmatchcase(where, p) for p in patterns) and not any(
        fnmatch.fnmatchcase(where, p) for p in excluded
    )


def object_metadata(env: dict[str, Any]) -> tuple[str | None, dict[str, str]]:
    """(format, other metadata) from the request's ``X-Object-Meta-*`` headers; keys lower-cased, with
    the characters a catalog key cannot hold replaced."""
    fmt = None
    other: dict[str, str] = {}
    for key, value in env.items():
        if not key.startswith("HTTP_X_OBJECT_META_"):
            continue
        name = key[len("HTTP_X_OBJECT_META_") :].lower().replace("_", "-")
        if name == FORMAT_META:
            fmt = value.strip() or None
            continue
        if name == RECORD_META:
            continue  # the middleware sets it, whatever the client sent
        other[name.replace(".", "_").replace("$", "_")] = value
    return fmt, other


def run_app(app: Any, env: dict[str, Any], sink: Callable[[bytes], Any]) -> tuple[str, list[tuple[str, str]]]:
    """Call a WSGI ``app``, each chunk of its answer handed to ``sink``, the answer closed after; its
    (status, headers)."""
    captured: dict[str, Any] = {"status": "", "headers": []}

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], Any]:
        captured["status"], captured["headers"] = status, headers
        return lambda data: None

    result = app(env, start)
    try:
        for chunk in result:
            sink(chunk)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return captured["status"], captured["headers"]


class Missing(OSError):
    """A subrequest's object or container is not there (404)."""


class HashingInput:
    """The request body as it streams down the pipeline: counts and hashes it; keeps it whole only when
    asked to (a manifest, which is small)."""

    def __init__(self, wrapped: Any, keep: bool) -> None:
        self.wrapped = wrapped
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.kept: bytearray | None = bytearray() if keep else None

    def _seen(self, data: bytes) -> bytes:
        self.sha256.update(data)
        self.size += len(data)
        if self.kept is not None:
            self.kept += data
        return data

    def read(self, *args: Any) -> bytes:
        return self._seen(self.wrapped.read(*args))

    def readline(self, *args: Any) -> bytes:
        return self._seen(self.wrapped.readline(*args))

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.wrapped:
            yield self._seen(chunk)


class LeaseLost(Exception):
    """The record is no longer pending: reconcile took it (its lease ran out) or it was removed."""


class ReadBackLease:
    """A large object's pending record while its content is read back: held for ``length`` from now, and
    renewed every third of that as the content streams, so only a read-back that stopped lets it run out."""

    def __init__(self, catalog: Callable[[], RemoteCatalog], record_id: str, length: dt.timedelta) -> None:
        self.catalog, self.record_id, self.length = catalog, record_id, length
        self.last = 0.0

    def renew(self) -> None:
        """Hold the record for ``length`` from now; LeaseLost when it is no longer pending."""
        until = dt.datetime.now(dt.UTC) + self.length
        if not self.catalog().renew_lease(self.record_id, until):
            raise LeaseLost(self.record_id)
        self.last = time.monotonic()

    def hashing(self, digest: Any) -> Callable[[bytes], None]:
        """A sink for the content: hashed, and the lease renewed when a third of it has gone by."""
        every = self.length.total_seconds() / 3

        def sink(chunk: bytes) -> None:
            digest.update(chunk)
            if time.monotonic() - self.last >= every:
                self.renew()

        return sink


class CatalogMiddleware:
    def __init__(self, app: Any, conf: dict[str, str]) -> None:
        self.app = app
        self.uri = conf.get("catalog_uri", "mongodb://127.0.0.1:27017/")
        self.database = conf.get("catalog_database", "datalake")
        self.watch = [p.strip() for p in conf.get("watch", "*/*").split(",") if p.strip()]
        self.exclude = [
            p.strip() for p in conf.get("exclude", "*/datalake-quarantine").split(",") if p.strip()
        ]
        self.claim_wait = float(conf.get("claim_wait_seconds", "10"))
        self.fail_open = conf.get("fail_open", "false").strip().lower() in TRUE
        self.lease = dt.timedelta(seconds=int(conf.get("lease_seconds", "86400")))
        self.read_back_lease = dt.timedelta(seconds=int(conf.get("read_back_lease_seconds", "300")))
        self._catalog: RemoteCatalog | None = None
        self._lock = threading.Lock()

    # -- the catalog ----------------------------------------------------------------------------------

    def catalog(self) -> RemoteCatalog:
        """The catalog, through a helper process (`catalog_server`): pymongo would stall the proxy's
        eventlet hub."""
        with self._lock:
            if self._catalog is None:
                self._catalog = RemoteCatalog(self.uri, self.database)
            return self._catalog

    # -- WSGI -----------------------------------------------------------------------------------------

    def __call__(self, env: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = env.get("REQUEST_METHOD")
        where = parse_path(env.get("PATH_INFO", ""))
        if method not in ("PUT", "DELETE") or where is None or env.get("swift.source") == SOURCE:
            return self.app(env, start_response)  # type: ignore[no-any-return]
        account, container, name = where
        if not watched(self.watch, self.exclude, account, container):
            return self.app(env, start_response)  # type: ignore[no-any-return]
        if method == "DELETE":
            return self._delete(env, start_response, container, name)
        return self._put(env, start_response, account, container, name)

    def _reply(self, start_response: StartResponse, status: str, text: str) -> list[bytes]:
        body = (text + "\n").encode()
        start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    def _down(self, env: dict[str, Any]) -> tuple[str, list[tuple[str, str]], list[bytes]]:
        """The request through the rest of the pipeline: (status, headers, body). A PUT's answer is short,
        and it is held until the record says what happened."""
        body: list[bytes] = []
        status, headers = run_app(self.app, env, lambda chunk: body.append(bytes(chunk)))
        if not status:
            raise RuntimeError("the proxy answered without a status")
        return status, headers, body

    def _claimed(self, record_id: str, container: str, name: str) -> bool:
        """Whether a writer's own pending record names this object. The writer's record is written while
        its request starts (its body waits for it), so it may land a moment after the headers: wait for it
        up to ``claim_wait_seconds``."""
        deadline = time.monotonic() + self.claim_wait
        delay = 0.005
        while True:
            rec = self.catalog().find_one({"_id": record_id})
            if rec is not None:
                return bool(
                    rec.get("status") in (Status.PENDING.value, Status.RECONCILING.value)
                    and rec.get("swift_container") == container
                    and rec.get("swift_object_id") == name
                )
            if time.monotonic() > deadline:
                return False
            pause(delay)
            delay = min(delay * 2, 0.2)

    def _put(
        self, env: dict[str, Any], start_response: StartResponse, account: str, container: str, name: str
    ) -> Iterable[bytes]:
        # The object's Swift timestamp is the moment the PUT arrived, not the moment it leaves the
        # middleware: a writer that gives up while its PUT waits here deletes the object with a later
        # timestamp, and the delete must win over the PUT that then goes on (Swift keeps the newest).
        env.setdefault("HTTP_X_TIMESTAMP", f"{time.time():016.5f}")
        own = env.get("HTTP_X_OBJECT_META_RECORD_ID")
        if own:
            try:
                if self._claimed(own.strip(), container, name):
                    return self.app(env, start_response)  # type: ignore[no-any-return]
            except Exception as exc:
                log.error("datalake_catalog: catalog unreachable, %s/%s: %s", container, name, exc)
                if not self.fail_open:
                    return self._reply(
                        start_response,
                        "503 Service Unavailable",
                        "the data lake's catalog is unreachable: nothing stored",
                    )
                return self.app(env, start_response)  # type: ignore[no-any-return]
        slo = env.get("HTTP_X_STATIC_LARGE_OBJECT", "").lower() in TRUE
        dlo = bool(env.get("HTTP_X_OBJECT_MANIFEST"))
        fmt, other = object_metadata(env)
        # TempAuth's REMOTE_USER is "account,account:user,..."; keystoneauth's is a tuple: no user name then.
        remote = env.get("REMOTE_USER")
        user = remote.split(",") if isinstance(remote, str) else [""]
        record = new_record(
            record_id=uuid.uuid4().hex,
            fmt=fmt,
            container=container,
            object_name=name,
            content_type=env.get("CONTENT_TYPE") or None,
            original_name=name,
            swift_user=user[1] if len(user) > 1 else (user[0] or None),
            swift_account=account,
            size=None,
            sha256=None,
            dedupe=False,
            key=None,
            lease=self.lease,
            fields={
                "other_data": other,
                "application": "swift",
                "data_processing": "default",
                "processed_data_area_service": [],
                "ingest": MIDDLEWARE_INGEST,
            },
        )
        try:
            self.catalog().insert_pending(record)
        except Exception as exc:
            from datalake_catalog.errors import DuplicateContent

            if (
                isinstance(exc, DuplicateContent)
                or "object_unique" in str(exc)
                or "duplicate" in str(exc).lower()
            ):
                return self._reply(
                    start_response,
                    "409 Conflict",
                    f"{container}/{name} is already in the data lake's catalog: the raw zone keeps every"
                    " file, write it under a new name",
                )
            log.error("datalake_catalog: catalog unreachable, %s/%s: %s", container, name, exc)
            if self.fail_open:
                return self.app(env, start_response)  # type: ignore[no-any-return]
            return self._reply(
                start_response,
                "503 Service Unavailable",
                "the data lake's catalog is unreachable: nothing stored",
            )
        body = HashingInput(env["wsgi.input"], keep=slo)
        env["wsgi.input"] = body
        env["HTTP_X_OBJECT_META_RECORD_ID"] = record["_id"]
        try:
            status, headers, out = self._down(env)
        except BaseException:
            self._roll_back(record["_id"])
            raise
        if not status.startswith("2"):
            self._roll_back(record["_id"])
            start_response(status, headers)
            return out
        etag = dict((k.lower(), v) for k, v in headers).get("etag", "").strip('"') or None
        if slo or dlo:
            # Its content is in the segments: read back after the answer, the record pending until then.
            manifest = bytes(body.kept or b"") if slo else env["HTTP_X_OBJECT_MANIFEST"]
            spawn(self._commit_large, env, account, record, "slo" if slo else "dlo", manifest, etag)
        else:
            self._commit(record, body.size, body.sha256.hexdigest(), etag, None)
        start_response(status, headers)
        return out

    def _commit(
        self, record: dict[str, Any], size: int, sha256: str, etag: str | None, segments: str | None
    ) -> bool:
        """Phase 2. Within its lease the record is this request's alone (reconcile waits for the lease): the
        commit is a write of the whole record by its id, as insert_datalake() commits. On failure the
        object is stored all the same: its pending record stays, and reconcile commits it after its lease."""
        try:
            done = self.catalog().replace_exclusive(
                {
                    **record,
                    "status": Status.COMMITTED.value,
                    "size": size,
                    "sha256": sha256,
                    "etag": etag,
                    "segments": segments,
                    "lease_until": None,
                },
                Status.PENDING,
            )
            if not done:
                raise RuntimeError(f"record {record['_id']} was no longer pending at its commit")
        except Exception as exc:
            log.error(
                "datalake_catalog: %s/%s stored, commit failed (reconcile settles it): %s",
                record["swift_container"],
                record["swift_object_id"],
                exc,
            )
            return False
        return True

    def _commit_large(
        self,
        env: dict[str, Any],
        account: str,
        record: dict[str, Any],
        kind: str,
        manifest: Any,
        etag: str | None,
    ) -> None:
        """Read a large object back through its segments (SLO or DLO manifest), then commit its record with
        the content's size and SHA-256. It runs after the client has Swift's answer: reading the content
        again costs as much as writing it did, and the writer need not wait for it. Until then the record
        is pending (no reader sees the object); a read that keeps failing leaves it to reconcile after its
        lease, and an object deleted meanwhile takes its record with it."""
        name = record["swift_object_id"]
        where = str_to_wsgi(f"/v1/{account}/{record['swift_container']}/{name}")
        keep = ReadBackLease(self.catalog, record["_id"], self.read_back_lease)
        for attempt in range(3):
            try:
                keep.renew()
                if kind == "slo":
                    size, sha256 = self._read_slo(env, account, manifest, keep)
                else:
                    size, sha256 = self._read_dlo(env, account, manifest, keep)
            except LeaseLost:
                log.error("datalake_catalog: %s no longer pending: reconcile settled it", name)
                return
            except Exception as exc:
                if isinstance(exc, Missing) and self._gone(env, where):
                    self._roll_back(record["_id"])  # deleted meanwhile: nothing to catalogue
                    return
                log.error("datalake_catalog: reading %s back failed (try %d): %s", name, attempt + 1, exc)
                pause(2**attempt)
                continue
            if self._commit(record, size, sha256, etag, kind) and self._gone(env, where):
                # A DELETE that came while the record was pending went through untouched: the object it
                # removed must not stay catalogued. (One that comes after the commit marks it itself.)
                self._mark_deleted(record["_id"], record["swift_container"], name)
            return
        log.error("datalake_catalog: %s left pending: reconcile settles it after its lease", name)

    def _gone(self, env: dict[str, Any], path: str) -> bool:
        try:
            self._subrequest(env, path, lambda data: None, query="multipart-manifest=get", newest=True)
        except Missing:
            return True
        except OSError:
            return False
        return False

    def _roll_back(self, record_id: str) -> None:
        try:
            self.catalog().delete_record(record_id, Status.PENDING)
        except Exception as exc:  # the lease runs out and reconcile removes it
            log.error("datalake_catalog: rollback of %s failed: %s", record_id, exc)

    def _delete(
        self, env: dict[str, Any], start_response: StartResponse, container: str, name: str
    ) -> Iterable[bytes]:
        try:
            rec = self._record_of(env, container, name)
        except Exception as exc:
            if self.fail_open:
                return self.app(env, start_response)  # type: ignore[no-any-return]
            log.error("datalake_catalog: catalog unreachable on DELETE %s/%s: %s", container, name, exc)
            return self._reply(
                start_response, "503 Service Unavailable", "the data lake's catalog is unreachable"
            )
        if rec is not None and rec.get("status") == Status.PROCESSING.value:
            return self._reply(
                start_response,
                "409 Conflict",
                f"{container}/{name} is being processed in the data lake: delete it once that is over",
            )
        # A pending (or reconciling) record is a write still in flight: whoever holds it is rolling it back
        # (an insert's rollback, reconcile), and the record is theirs to remove. Unless it committed
        # meanwhile (a large object read back after its answer): once the object is deleted, a record found
        # committed is marked deleted. (A commit that comes later sees the object gone and marks it itself:
        # `_commit_large`.)
        in_flight = rec is not None and rec.get("status") in (Status.PENDING.value, Status.RECONCILING.value)
        status, headers, out = self._down(env)
        if (
            rec is not None
            and (status.startswith("2") or status.startswith("404"))
            and (not in_flight or self._committed(rec["_id"], container, name))
        ):
            self._mark_deleted(rec["_id"], container, name)
        start_response(status, headers)
        return out

    def _record_of(self, env: dict[str, Any], container: str, name: str) -> dict[str, Any] | None:
        """The record of the object a DELETE names. By the record id the object carries (written by the
        middleware or ``insert_datalake()``), checked against the name: a query by ``_id`` stays constant
        however large the catalog, where one by container and name reads the whole collection on a
        server that indexes nothing else (FerretDB's SQLite backend). By name for an object without it
        (written while the middleware was off, or its metadata replaced by a POST) or already gone."""
        headers = self._head(env, env["PATH_INFO"])
        record_id = (headers or {}).get("x-object-meta-record-id", "").strip()
        if record_id:
            rec: dict[str, Any] | None = self.catalog().find_one({"_id": record_id})
            if rec is not None and (rec.get("swift_container"), rec.get("swift_object_id")) == (
                container,
                name,
            ):
                return rec
        found: dict[str, Any] | None = self.catalog().find_one(
            {"swift_container": container, "swift_object_id": name}
        )
        return found

    def _committed(self, record_id: str, container: str, name: str) -> bool:
        try:
            now = self.catalog().find_one({"_id": record_id}, {"status": 1})
        except Exception as exc:
            log.error("datalake_catalog: %s/%s deleted, record not read again: %s", container, name, exc)
            return False
        return now is not None and now.get("status") == Status.COMMITTED.value

    def _mark_deleted(self, record_id: str, container: str, name: str) -> None:
        try:
            self.catalog().transition(
                record_id,
                [Status.COMMITTED, Status.PROCESSED, Status.FAILED],
                Status.DELETED,
                # The name is free again for a new object: the record keeps it as deleted_object_id.
                set_fields={"deleted_object_id": name, "swift_object_id": f".deleted/{record_id}/{name}"},
            )
        except (InvalidTransition, Exception) as exc:
            log.error(
                "datalake_catalog: %s/%s deleted, record %s not marked: %s", container, name, record_id, exc
            )

    # -- reading a large object back --------------------------------------------------------------------

    def _subrequest(
        self,
        env: dict[str, Any],
        path: str,
        sink: Callable[[bytes], Any],
        *,
        query: str = "",
        byte_range: str | None = None,
        newest: bool = False,
    ) -> int:
        """GET ``path`` through the rest of the pipeline as the request's own (pre-authorised) subrequest,
        each chunk handed to ``sink`` as it comes; the bytes read. Raises Missing on 404, OSError on any
        other answer but 2xx."""
        from swift.common.wsgi import make_pre_authed_env

        sub = make_pre_authed_env(env, "GET", path, swift_source=SOURCE, query_string=query)
        if newest:  # a listing or manifest just written: ask every replica
            sub["HTTP_X_NEWEST"] = "true"
        if byte_range:
            sub["HTTP_RANGE"] = f"bytes={byte_range}"
        size = 0

        def counted(chunk: bytes) -> None:
            nonlocal size
            sink(chunk)
            size += len(chunk)

        status, _ = run_app(self.app, sub, counted)
        if status.startswith("404"):
            raise Missing(f"{wsgi_to_str(path)}: {status}")
        if not status.startswith("2"):
            raise OSError(f"{wsgi_to_str(path)}: {status}")
        return size

    def _head(self, env: dict[str, Any], path: str) -> dict[str, str] | None:
        """An object's headers (lower-cased names) through the rest of the pipeline, as a pre-authorised
        subrequest; None when it is not there, or the answer is not a 2xx."""
        from swift.common.wsgi import make_pre_authed_env

        # (a manifest's own metadata, not its segments')
        sub = make_pre_authed_env(
            env, "HEAD", path, swift_source=SOURCE, query_string="multipart-manifest=get"
        )
        status, headers = run_app(self.app, sub, lambda chunk: None)
        if not status.startswith("2"):
            return None
        return {k.lower(): v for k, v in headers}

    def _listing(self, env: dict[str, Any], path: str, query: str) -> bytes:
        chunks: list[bytes] = []
        self._subrequest(env, path, chunks.append, query=query, newest=True)
        return b"".join(chunks)

    def _read_slo(
        self, env: dict[str, Any], account: str, manifest: bytes, keep: ReadBackLease
    ) -> tuple[int, str]:
        """Size and SHA-256 of a static large object: its segments read in order (nested manifests too)."""
        digest = hashlib.sha256()
        return self._slo_into(env, account, manifest, keep.hashing(digest)), digest.hexdigest()

    def _slo_into(
        self, env: dict[str, Any], account: str, manifest: bytes, sink: Callable[[bytes], Any]
    ) -> int:
        size = 0
        for seg in json.loads(manifest):
            path = str_to_wsgi(f"/v1/{account}{seg['name']}")
            if seg.get("sub_slo"):
                size += self._slo_into(env, account, self._listing(env, path, "multipart-manifest=get"), sink)
            else:
                size += self._subrequest(env, path, sink, byte_range=seg.get("range"))
        return size

    def _read_dlo(
        self, env: dict[str, Any], account: str, manifest: str, keep: ReadBackLease
    ) -> tuple[int, str]:
        """Size and SHA-256 of a dynamic large object: every object under its prefix, in name order."""
        container, _, prefix = urllib.parse.unquote(wsgi_to_str(manifest)).partition("/")
        digest = hashlib.sha256()
        sink = keep.hashing(digest)
        size = 0
        marker = ""
        while True:
            query = urllib.parse.urlencode({"format": "json", "prefix": prefix, "marker": marker})
            listing = self._listing(env, str_to_wsgi(f"/v1/{account}/{container}"), query)
            names = [item["name"] for item in json.loads(listing or b"[]")]
            if not names:
                break
            for obj in names:
                size += self._subrequest(env, str_to_wsgi(f"/v1/{account}/{container}/{obj}"), sink)
            marker = names[-1]
        return size, digest.hexdigest()


def filter_factory(global_conf: dict[str, str], **local_conf: str) -> Callable[[Any], CatalogMiddleware]:
    """Paste's entry point (``paste.filter_factory``)."""
    conf = {**global_conf, **local_conf}

    def make(app: Any) -> CatalogMiddleware:
        return CatalogMiddleware(app, conf)

    return make
