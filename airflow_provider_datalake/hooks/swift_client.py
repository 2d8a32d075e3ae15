"""OpenStack Swift, the raw zone of the data lake: the client core, without Airflow.

Raw files are kept forever, so an upload counts only once Swift's ETag and size match what was sent, and a
failed upload leaves nothing behind. Files of any size stream through in one pass that also computes md5 and
sha256 (the catalog's fingerprints); large ones become Static Large Objects (SLO). How a source is read and
cut into PUT bodies is in `swift_upload`; the exceptions, typed by what went wrong, are in `errors`. A large
object read from a file or bytes has its segments sent several at once (``segment_threads``), as
swiftclient's own uploader does, with memory still bounded by a chunk per thread.

`SwiftClient` works on a connection's fields (host, port, login, password, extra) however they were read:
from ``AIRFLOW_CONN_*`` by `connection` without Airflow, or by Airflow for `swift.SwiftHook`, the Airflow
hook, which is this class on an Airflow connection.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import closing, contextmanager
from functools import cached_property, partial
from pathlib import Path
from typing import IO, Any, BinaryIO, Self
from urllib.parse import urlsplit

import requests
import swiftclient
from keystoneauth1 import exceptions as ks_exc

from airflow_provider_datalake.hooks.connection import ConnectionFields
from airflow_provider_datalake.hooks.errors import (
    ConnectionNotDefined,
    SwiftAuthRefused,
    SwiftError,
    SwiftIntegrityError,
    SwiftNotFound,
    SwiftUnreachable,
    UploadAborted,
    os_reason,
)
from airflow_provider_datalake.hooks.swift_upload import (
    CHUNK,
    MIB,
    SPOOL_RAM,
    Piece,
    PutResult,
    Span,
    Upload,
    cut_pieces,
    open_source,
    positional_reader,
    remaining_bytes,
    target_of,
)
from airflow_provider_datalake.interrupts import failpoint, interrupts_held

__all__ = [
    "PutResult",
    "SwiftAuthRefused",
    "SwiftClient",
    "SwiftError",
    "SwiftIntegrityError",
    "SwiftNotFound",
    "SwiftUnreachable",
    "UploadAborted",
]

_MAX_SEGMENTS = 1000  # Swift's default slo max_manifest_segments
READ_AHEAD = 2  # segments hashed ahead of those stored, per segment thread (`_put_slo_parallel`)
HEARTBEAT = 0.25  # seconds between progress calls while segments are being stored
_LIST_PAGE = 10_000  # Swift's default container_listing_limit
_DEFAULT_SEGMENT_THREADS = 10  # as swiftclient's SwiftService
_MAX_SEGMENT_THREADS = 64
_RETRIES = 2  # small, so that a dead server fails within seconds
_TIMEOUT = 60.0  # seconds of silence before a request is given up
_META_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*\Z")

_log = logging.getLogger(__name__)

# swiftclient logs every failed request at INFO with a curl line holding the start of the auth token, and
# expected 404s (object_exists) flood task logs: quiet it unless someone set its level on purpose.
if logging.getLogger("swiftclient").level == logging.NOTSET:
    logging.getLogger("swiftclient").setLevel(logging.WARNING)


def _auth_url(host: str | None, port: int | None, path: str, https: bool) -> str:
    """Build the auth URL; a host given as a full URL keeps its scheme and prefix (Keystone gets ``/v3``)."""
    if not host:
        raise SwiftError("the Swift connection has no host")
    parts = urlsplit(host if "://" in host else f"{'https' if https else 'http'}://{host}")
    netloc = parts.netloc if parts.port or not port else f"{parts.netloc}:{port}"
    base = parts.path.rstrip("/")
    base = base + "/v3" if path == "/v3" and base and not base.endswith("/v3") else base or path
    return f"{parts.scheme}://{netloc}{base}"


class _Connection(swiftclient.Connection):
    """swiftclient's Connection, whose HTTP session reads the environment once per storage URL.

    requests re-reads the proxy variables (and scans all of ``os.environ``) on every request unless told
    not to, a cost small uploads feel. The proxy (``no_proxy`` honoured) and CA bundle the environment
    gives are resolved here, when the connection to that URL is made, and kept for its life; a reconnect
    reads them again.
    """

    def http_connection(self, url: str | None = None) -> tuple[Any, Any]:
        parsed, conn = super().http_connection(url)
        session = conn.request_session
        session.proxies = requests.utils.get_environ_proxies(conn.url)
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle and conn.requests_args.get("verify") is True:
            conn.requests_args["verify"] = bundle
        session.trust_env = False
        return parsed, conn


class SwiftClient:
    """One Swift account: verified streaming uploads (plain or SLO), streaming reads, paged listings. Auth
    is TempAuth v1 or Keystone v3 (extra ``auth_version``). Like swiftclient, not thread-safe."""

    def __init__(
        self,
        swift_conn_id: str,
        connection: ConnectionFields | None = None,
        *,
        slo_threshold: int | None = None,
        segment_size: int | None = None,
        segment_threads: int | None = None,
    ) -> None:
        """``connection`` holds the fields of connection ``swift_conn_id`` (a subclass that reads them
        elsewhere, as `SwiftHook` from Airflow, passes None). Sizes in bytes; None takes
        ``slo_threshold_mb`` (256) / ``segment_size_mb`` (100) from the connection's extra, and
        ``segment_threads`` (segments of one large object sent at once, 10) too. Nothing is contacted
        here, because hooks get built at DAG parse time."""
        if (slo_threshold or 0) < 0 or (segment_size is not None and segment_size < 1):
            raise ValueError(f"need slo_threshold >= 0, segment_size >= 1: {slo_threshold}, {segment_size}")
        if segment_threads is not None and not 1 <= segment_threads <= _MAX_SEGMENT_THREADS:
            raise ValueError(f"segment_threads must be 1 to {_MAX_SEGMENT_THREADS}, not {segment_threads}")
        self.swift_conn_id = swift_conn_id
        self._slo_threshold, self._segment_size = slo_threshold, segment_size
        self._segment_threads = segment_threads
        # Clients of finished segment PUTs, kept for the next large object (their connections stay open).
        self._segment_clients: list[swiftclient.Connection] = []
        self._client: swiftclient.Connection | None = None
        self._authurl = ""
        if connection is not None:
            self.__dict__["_connection"] = connection

    @property
    def log(self) -> Any:
        """Where the client's warnings go (`SwiftHook`: Airflow's hook logger)."""
        return _log

    def _read_connection(self) -> ConnectionFields:
        """The connection's fields, read at first use: a client built without them has none to read."""
        raise ConnectionNotDefined(self.swift_conn_id)

    def clone(self) -> Self:
        """Another client on the same connection with its own swiftclient connection, for another thread
        (one is not thread-safe). It shares the connection's settings, the containers known to exist and,
        once this one has authenticated, its token, so a pool of threads authenticates once, not once per
        thread."""
        twin = type(self)(
            self.swift_conn_id,
            slo_threshold=self._slo_threshold,
            segment_size=self._segment_size,
            segment_threads=self._segment_threads,
        )
        if "_connection" in self.__dict__:
            twin.__dict__["_connection"] = self.__dict__["_connection"]
        twin.__dict__["_containers"] = self.__dict__.setdefault("_containers", set())
        if self._client is not None and self._client.url and self._client.token:
            client = twin.get_conn()
            client.url, client.token = self._client.url, self._client.token
        return twin

    @cached_property
    def _connection(self) -> ConnectionFields:
        return self._read_connection()

    @property
    def user(self) -> str:
        """The login, recorded in the catalog's ``swift_user`` field."""
        return self._connection.login or ""

    @property
    def account(self) -> str:
        """The storage account this connection reaches (``AUTH_...``, the last part of its storage URL).

        Recorded in the catalog (``swift_account``): two connections (TempAuth, Keystone) may reach different
        accounts, whose containers share names but not objects. Authenticates once if not done yet.
        """
        client = self.get_conn()
        if not client.url:
            with self._mapped("authentication for"):
                client.get_auth()
        return str(urlsplit(client.url).path).rstrip("/").rsplit("/", 1)[-1]

    def _sizes(self) -> tuple[int, int]:
        extra = self._connection.extra_dejson
        mib = {k: int(extra[k]) * MIB for k in ("slo_threshold_mb", "segment_size_mb") if extra.get(k)}
        threshold = self._slo_threshold
        threshold = mib.get("slo_threshold_mb", 256 * MIB) if threshold is None else threshold
        return max(threshold, 0), max(self._segment_size or mib.get("segment_size_mb", 100 * MIB), 1)

    def segment_threads(self) -> int:
        """Segments of one large object sent at once: the client's, else the connection's extra
        ``segment_threads``, else 10. Memory grows with it by a chunk per thread, not by a segment."""
        if self._segment_threads is not None:
            return self._segment_threads
        raw = self._connection.extra_dejson.get("segment_threads")
        try:
            threads = _DEFAULT_SEGMENT_THREADS if raw in (None, "") else int(raw)
        except (TypeError, ValueError):
            threads = 0
        if not 1 <= threads <= _MAX_SEGMENT_THREADS:
            where = f"connection {self.swift_conn_id!r}: extra segment_threads"
            raise SwiftError(f"{where} must be an integer from 1 to {_MAX_SEGMENT_THREADS}, not {raw!r}")
        return threads

    def get_conn(self) -> swiftclient.Connection:
        """The cached client; it authenticates on its first request, so building it stays offline. A bare
        host gets https when the port is 443 or ``insecure`` is set; give a full URL as host to choose."""
        if self._client is not None:
            return self._client
        conn, extra = self._connection, self._connection.extra_dejson
        version = str(extra.get("auth_version") or "1.0").strip().lower().removeprefix("v")
        insecure = str(extra.get("insecure", False)).strip().lower() in ("1", "true", "yes", "on")
        common: dict[str, Any] = {"retries": _RETRIES, "starting_backoff": 0.5, "max_backoff": 4}
        common.update(insecure=insecure, timeout=_TIMEOUT)
        https = insecure or conn.port == 443
        if version in ("1", "1.0"):
            self._authurl = _auth_url(conn.host, conn.port, "/auth/v1.0", https)
            common.update(authurl=self._authurl, user=conn.login, key=conn.password, auth_version="1.0")
        elif version in ("3", "3.0"):
            if not extra.get("project_name"):
                raise SwiftError(f"connection {self.swift_conn_id!r}: Keystone v3 needs extra project_name")
            # here: only a Keystone connection needs these (a TempAuth one starts faster without them)
            from keystoneauth1 import session as ks_session
            from keystoneauth1.identity import v3 as ks_v3

            self._authurl = _auth_url(conn.host, conn.port, "/v3", https)
            names: dict[str, Any] = {
                key: extra.get(key) or "Default" for key in ("project_domain_name", "user_domain_name")
            }
            names.update(username=conn.login, password=conn.password, project_name=extra["project_name"])
            auth = ks_v3.Password(self._authurl, **names)
            session = ks_session.Session(auth=auth, verify=not insecure, timeout=_TIMEOUT)
            options = {"service_type": "object-store", "endpoint_type": extra.get("interface") or "public"}
            options["region_name"] = extra.get("region_name") or None
            common.update(session=session, os_options=options)
        else:
            raise SwiftError(f"connection {self.swift_conn_id!r}: auth_version {version!r} is not 1.0 or 3")
        self._client = _Connection(**common)
        return self._client

    @contextmanager
    def _mapped(self, what: str, container: str | None = None, obj: str | None = None) -> Iterator[None]:
        """Turn swiftclient/keystoneauth/requests errors into the typed SwiftError subclasses (unreachable,
        refused, not found), each naming the target."""
        target = target_of(container, obj)
        try:
            yield
        except swiftclient.ClientException as err:
            status = err.http_status
            if status in (401, 403) or (err.msg or "").startswith("Auth"):
                refused = f"Swift refused user {self.user!r} at {self._authurl} ({what} {target})"
                raise SwiftAuthRefused(f"{refused}: HTTP {status} {err.http_reason}".rstrip()) from err
            if status == 404:
                raise SwiftNotFound(f"{what} {target}: not found in Swift", container or "", obj) from err
            raise SwiftError(f"{what} {target} failed: {err}") from err
        except (ks_exc.ConnectionError, requests.RequestException, OSError) as err:
            where = f"Swift unreachable at {self._authurl}: {what} {target}"
            reason = os_reason(err)
            brief = f"{where}: {reason}" if reason else where
            raise SwiftUnreachable(f"{where}: {err}", brief) from err
        except (ks_exc.EndpointNotFound, ks_exc.EmptyCatalog) as err:  # the user was accepted, not the place
            found = f"Keystone at {self._authurl} gives user {self.user!r} no Swift endpoint"
            hint = "check the connection's region_name and interface"
            raise SwiftError(f"{found} ({what} {target}): {err}; {hint}") from err
        except ks_exc.ClientException as err:  # anything else keystoneauth raises is about auth or catalog
            refused = f"Keystone refused user {self.user!r} at {self._authurl} ({what} {target})"
            raise SwiftAuthRefused(f"{refused}: {type(err).__name__}: {err}") from err

    def test_connection(self) -> tuple[bool, str]:
        """HEAD the account: proves the URL, the credentials and the storage endpoint in one request."""
        try:
            client = self.get_conn()
            with self._mapped("HEAD of"):
                count = client.head_account().get("x-account-container-count", "?")
        except Exception as err:
            return False, str(err)
        return True, f"Connected to Swift at {self._authurl} as {self.user!r} ({count} containers)"

    def ensure_container(self, container: str) -> None:
        """Create the container if needed; PUT is idempotent in Swift, so no HEAD first. Remembered per
        hook, so a stream of small inserts pays for it once."""
        known: set[str] = self.__dict__.setdefault("_containers", set())
        if container in known:
            return
        client = self.get_conn()
        with self._mapped("creation of", container):
            client.put_container(container)
        known.add(container)

    def put_object(
        self,
        container: str,
        name: str,
        source: str | os.PathLike[str] | bytes | BinaryIO,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
        size: int | None = None,
        sha256: str | None = None,
        progress: Callable[[int], None] | None = None,
        before_body: Callable[[], None] | None = None,
        read_all: Callable[[str], None] | None = None,
    ) -> PutResult:
        """Stream ``source`` into ``container/name`` once, verify what Swift stored, return the fingerprints.

        ``read_all`` is called once, in this thread, with the source's SHA-256 as soon as the source has
        been read through: for segments sent in parallel, that is while Swift still stores some of them (a
        caller that learns from it that the upload is not wanted raises, and the upload is rolled back);
        otherwise at the end. ``progress`` gets the bytes sent, in this thread, each byte once; a call
        with 0 is a heartbeat while the upload goes on.

        ``before_body`` runs once, in this thread, after the request has started and before the first byte
        of data is sent: Swift prepares the upload (auth, container, object servers) meanwhile, so a write
        the object must not exist without (insert_datalake's pending record) costs no extra time. If it
        raises, the request ends without its body and nothing is stored (`UploadAborted`).

        Up to the SLO threshold the object is one PUT; above it, or when a stream of unknown size outgrows its
        first segment, it is an SLO with segments ``<name>/<index:08d>`` in ``<container>_segments`` (names
        are meant to be unique). A source read at an offset (a file, bytes) sends ``segment_threads()``
        segments at once (`_put_slo_parallel`); any other stream sends them one after another. ``size`` is a
        hint, also checked. Metadata keys: letters, digits, ``-``; they come back lower-cased, with
        ``sha256`` added. On failure the uploaded parts are deleted first.

        A plain upload is one request when ``sha256`` is given (the caller hashed already): the metadata
        rides on the PUT and the returned ETag (Swift's MD5 of what it stored, compared with the MD5 of what
        was sent) is the verification; otherwise a POST stamps the SHA-256 once it is known.
        """
        for key in metadata or {}:
            if not _META_KEY.match(key):
                raise ValueError(f"metadata key {key!r}: use letters, digits and '-' (Swift drops others)")
        headers = {f"X-Object-Meta-{key}": str(value) for key, value in (metadata or {}).items()}
        threshold, segment = self._sizes()
        target = target_of(container, name)
        up = Upload(self.get_conn(), container, name, progress, before_body)
        try:
            with open_source(source) as stream:
                remaining = remaining_bytes(stream)
                known = size if size is not None else remaining
                if known is not None and known > segment * _MAX_SEGMENTS:
                    segment = -(-known // _MAX_SEGMENTS)  # larger segments rather than too many
                limit = None if known is not None and known <= threshold else segment
                read_at = positional_reader(stream) if limit is not None and remaining is not None else None
                threads = self.segment_threads() if read_at is not None else 1
                if read_at is not None and threads > 1:
                    self.log.info(
                        "Uploading %s as an SLO of %d-byte segments, %d at once", target, segment, threads
                    )
                    etag, segments = self._put_slo_parallel(
                        up, stream, read_at, segment, threads, content_type, headers, read_all
                    )
                    read_all = None
                else:
                    with closing(cut_pieces(up, stream, remaining is not None, limit)) as pieces:
                        first = next(pieces)
                        measured = known if known is not None else remaining_bytes(first.stream) or 0
                        if first.last and measured <= threshold:
                            put_headers = {**headers, "X-Object-Meta-Sha256": sha256} if sha256 else headers
                            etag = self._put_piece(
                                up, container, name, first, content_type, put_headers, length=remaining
                            )
                            segments = 0
                        else:
                            self.log.info("Uploading %s as an SLO of %d-byte segments", target, segment)
                            chained = itertools.chain([first], pieces)
                            etag, segments = self._put_slo(up, chained, content_type, headers)
            up.open_body()  # at the latest now (a body Swift never asked for, such as an empty one)
            if read_all is not None:
                read_all(up.sha256.hexdigest())
            if size is not None and size != up.size:
                raise SwiftIntegrityError(f"{target}: announced {size} bytes, the source gave {up.size}")
            if sha256 is not None and sha256 != up.sha256.hexdigest():
                raise SwiftIntegrityError(
                    f"{target}: the source changed while read (SHA-256 differs); deleted it"
                )
            if not segments and sha256 is None:  # known only now; POST replaces metadata, keeps Content-Type
                with self._mapped("metadata POST of", container, name):
                    stamp = {"X-Object-Meta-Sha256": up.sha256.hexdigest()}
                    up.client.post_object(container, name, {**headers, **stamp})
            if segments:  # an SLO's size is the sum of its segments: check what the manifest adds up to
                with self._mapped("verification HEAD of", container, name):
                    head = up.client.head_object(container, name)
                stored = int(head.get("content-length", -1)), head.get("etag", "").strip('"')
                if stored != (up.size, etag):
                    sent = f"{target}: sent {up.size} bytes with etag {etag!r}"
                    raise SwiftIntegrityError(
                        f"{sent}, Swift holds {stored[0]} with {stored[1]!r}; deleted it"
                    )
        except BaseException as err:
            self._discard(up)
            if isinstance(err, SwiftError) or not isinstance(err, Exception):
                raise
            raise SwiftError(f"upload of {target} failed: {err}") from err
        md5 = None if segments else etag
        return PutResult(container, name, up.size, md5, up.sha256.hexdigest(), etag, segments)

    def _put_piece(
        self,
        up: Upload,
        container: str,
        obj: str,
        piece: Piece,
        ctype: str | None,
        headers: dict[str, str] | None = None,
        length: int | None = None,
    ) -> str:
        """One PUT, checked against the md5 of what was sent. Chunked unless ``length`` is given for a small
        in-memory body (a file shorter than announced could otherwise hold the request open)."""
        length = (
            length
            if length is not None and length <= SPOOL_RAM and isinstance(piece.stream, io.BytesIO)
            else None
        )
        with self._mapped("upload of", container, obj):
            etag = up.client.put_object(
                container,
                obj,
                piece,
                chunk_size=CHUNK,
                content_type=ctype,
                headers=headers,
                content_length=length,
            )
        up.done.append((container, obj))  # only after success: a failed PUT leaves an older object intact
        if etag != piece.md5.hexdigest():
            raise SwiftIntegrityError(f"upload of {target_of(container, obj)}: etag {etag!r} != md5 sent")
        return str(etag)

    def _put_slo(
        self, up: Upload, pieces: Iterator[Piece], content_type: str | None, headers: dict[str, str]
    ) -> tuple[str, int]:
        """Upload verified segments, then the manifest; returns (SLO etag = md5 of segment etags, count)."""
        segments = f"{up.container}_segments"
        self.ensure_container(segments)
        manifest: list[dict[str, Any]] = []
        for index, piece in enumerate(pieces):
            if index == _MAX_SEGMENTS:
                too_many = f"> {_MAX_SEGMENTS} segments; pass size="
                raise SwiftError(f"{target_of(up.container, up.name)}: {too_many}")
            path = f"{up.name}/{index:08d}"
            up.segment = (segments, path)
            etag = self._put_piece(up, segments, path, piece, None)
            up.segment = None
            manifest.append({"path": f"/{segments}/{path}", "etag": etag, "size_bytes": piece.count})
        return self._put_manifest(up, manifest, content_type, headers)

    def _put_manifest(
        self, up: Upload, manifest: list[dict[str, Any]], content_type: str | None, headers: dict[str, str]
    ) -> tuple[str, int]:
        """The SLO manifest over verified segments; returns (SLO etag = md5 of segment etags, count)."""
        etags = "".join(entry["etag"] for entry in manifest).encode()
        slo_etag = hashlib.md5(etags, usedforsecurity=False).hexdigest()
        headers = {**headers, "X-Object-Meta-Sha256": up.sha256.hexdigest()}
        args = {"etag": slo_etag, "content_type": content_type, "query_string": "multipart-manifest=put"}
        with self._mapped("upload of SLO manifest", up.container, up.name):  # Swift checks the etag too
            up.client.put_object(up.container, up.name, json.dumps(manifest), headers=headers, **args)
        up.done.append((up.container, up.name))
        return slo_etag, len(manifest)

    def _put_slo_parallel(
        self,
        up: Upload,
        stream: IO[bytes],
        read_at: Callable[[int, int], bytes],
        segment: int,
        threads: int,
        content_type: str | None,
        headers: dict[str, str],
        read_all: Callable[[str], None] | None = None,
    ) -> tuple[str, int]:
        """An SLO whose segments go up ``threads`` at once, each PUT on a client of its own (one is not
        thread-safe); returns what `_put_slo` does.

        This thread reads the source once, in order, feeding sha256 and the size, and takes each segment's
        MD5. The segment's PUT, in a segment thread, reads the same bytes again at their offset (`Span`) and
        sends that MD5 as its ETag, so Swift refuses a segment whose bytes are not the ones hashed (a file
        changed under the upload). Hashing holds no data, so it reads ahead of the segments being stored
        (up to ``READ_AHEAD`` times ``threads`` segments): a file of that many segments is fingerprinted
        early, and ``read_all`` gets its SHA-256 while its segments go up, not after. Memory stays at a
        chunk per segment thread whatever the size. ``progress`` gets the bytes the segment threads have
        sent, relayed in this thread as it reads and while it waits. Any failure here (a segment refused,
        a callback raising, Ctrl-C) stops the segments in flight and waits for their threads, so that the
        rollback (`_discard`) knows every segment that is stored or was cut short.
        """
        container = f"{up.container}_segments"
        self.ensure_container(container)
        abort = threading.Event()
        idle = self._segment_clients

        def put(index: int, offset: int, length: int, md5: str) -> str:
            path = f"{up.name}/{index:08d}"
            with up.lock:
                if abort.is_set():  # queued when the upload failed: never started, nothing to undo
                    raise SwiftError(f"upload of {target_of(container, path)} not started: upload stopped")
                up.in_flight.add((container, path))
            client = idle.pop() if idle else self.clone().get_conn()
            with self._mapped("upload of", container, path):
                etag = client.put_object(
                    container,
                    path,
                    Span(read_at, offset, length, abort, count_sent),
                    content_length=length,
                    etag=md5,
                    chunk_size=CHUNK,
                )
            idle.append(client)  # only after a success: a client cut short mid-request is dropped
            with up.lock:  # done before no longer in flight: the rollback never misses it in between
                up.done.append((container, path))
                up.in_flight.discard((container, path))
            if etag != md5:
                raise SwiftIntegrityError(
                    f"upload of {target_of(container, path)}: etag {etag!r} != md5 read"
                )
            return str(etag)

        sizes: list[int] = []
        futures: list[Future[str]] = []
        pending: set[Future[str]] = set()
        sent = [0, 0]  # bytes the segment threads have sent, and those reported to ``progress``

        def count_sent(n: int) -> None:
            with up.lock:
                sent[0] += n

        def report() -> None:
            """Hand ``progress`` what was sent since the last call (0: a heartbeat), in this thread."""
            with up.lock:
                new, sent[1] = sent[0] - sent[1], sent[0]
            if up.progress is not None:
                up.progress(new)

        offset = stream.tell()
        pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="datalake-segment")
        try:
            up.open_body()  # before the first byte is read
            while True:
                md5, length = hashlib.md5(usedforsecurity=False), 0
                while length < segment and (data := stream.read(min(CHUNK, segment - length))):
                    md5.update(data)
                    up.sha256.update(data)
                    up.size += len(data)
                    length += len(data)
                    report()
                if length == 0 and futures:
                    break
                if len(futures) == _MAX_SEGMENTS:
                    raise SwiftError(
                        f"{target_of(up.container, up.name)}: > {_MAX_SEGMENTS} segments; pass size="
                    )
                pending = _await_segments_in_flight(pending, READ_AHEAD * threads - 1, report)
                future = pool.submit(put, len(futures), offset, length, md5.hexdigest())
                futures.append(future)
                pending.add(future)
                sizes.append(length)
                offset += length
                if length < segment:
                    break
            if read_all is not None:
                read_all(up.sha256.hexdigest())
            _await_segments_in_flight(pending, 0, report)
            report()
        except BaseException:
            abort.set()
            with interrupts_held():  # the rollback must know every segment that may exist
                pool.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            pool.shutdown(wait=True)
        manifest = [
            {"path": f"/{container}/{up.name}/{index:08d}", "etag": future.result(), "size_bytes": size}
            for index, (future, size) in enumerate(zip(futures, sizes, strict=True))
        ]
        return self._put_manifest(up, manifest, content_type, headers)

    def _discard(self, up: Upload) -> None:
        """Best-effort rollback, manifest first; what cannot be deleted is logged for the reconciler.

        A segment whose PUT was cut short (an interrupt while Swift was still storing it) is deleted too,
        even though nothing is there yet: the DELETE's newer timestamp wins over that PUT when it lands.
        """
        with up.lock:
            parts = list(reversed(up.done)) + ([up.segment] if up.segment else []) + sorted(up.in_flight)
        with interrupts_held():  # a second Ctrl-C waits: a cut rollback would leave segments behind
            failpoint("discard")
            for container, obj in parts:
                try:
                    up.client.delete_object(container, obj)
                except Exception as err:
                    if getattr(err, "http_status", None) != 404:
                        self.log.warning("Rollback could not delete %s: %s", target_of(container, obj), err)

    def head_object(self, container: str, name: str) -> dict[str, str]:
        """The object's headers with lower-case names; SwiftNotFound when it is absent."""
        client = self.get_conn()
        with self._mapped("HEAD of", container, name):
            return {key.lower(): value for key, value in client.head_object(container, name).items()}

    def object_exists(self, container: str, name: str) -> bool:
        try:
            return bool(self.head_object(container, name))
        except SwiftNotFound:
            return False

    def _get(self, container: str, name: str, chunk_size: int) -> tuple[dict[str, str], Iterator[bytes]]:
        """Start a streaming GET now (so a missing object raises here) and map errors while it is read."""
        client = self.get_conn()
        with self._mapped("download of", container, name):
            headers, body = client.get_object(container, name, resp_chunk_size=chunk_size)

        def chunks() -> Iterator[bytes]:
            with closing(body), self._mapped("download of", container, name):
                yield from body

        return headers, chunks()

    def iter_object(self, container: str, name: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Stream the object's bytes (an SLO comes back whole); memory stays at one chunk."""
        return self._get(container, name, chunk_size)[1]

    def download_object(self, container: str, name: str, path: str | os.PathLike[str]) -> int:
        """Stream the object into ``path`` and return the bytes written; the length, and the md5 of a plain
        object, are checked, and a failed download removes its partial file."""
        headers, chunks = self._get(container, name, CHUNK)
        md5, written, etag = hashlib.md5(usedforsecurity=False), 0, headers.get("etag", "")
        try:
            with open(path, "wb") as out, closing(chunks):  # type: ignore[type-var]
                for chunk in chunks:
                    written += out.write(chunk)
                    md5.update(chunk)
            plain = not etag.startswith('"') and "x-object-manifest" not in headers
            if written != int(headers.get("content-length", written)) or (plain and etag != md5.hexdigest()):
                raise SwiftError(f"download of {target_of(container, name)} is incomplete or corrupt")
        except BaseException:
            Path(path).unlink(missing_ok=True)
            raise
        return written

    def delete_object(self, container: str, name: str, *, missing_ok: bool = True) -> bool:
        """Delete the object (an SLO manifest with its segments); False when it was already absent.

        An absent object is still sent a DELETE. An upload whose client gave up (Ctrl-C, a timeout) while
        Swift was storing it lands after our HEAD; the tombstone this DELETE leaves is newer, so Swift drops
        that late upload instead of keeping an object its caller believes deleted.
        """
        client = self.get_conn()
        try:
            slo = self.head_object(container, name).get("x-static-large-object", "").lower() == "true"
        except SwiftNotFound:
            try:
                with self._mapped("delete of", container, name):
                    client.delete_object(container, name)
            except SwiftNotFound:
                pass
            if missing_ok:
                return False
            raise
        query = "multipart-manifest=delete" if slo else None  # the SLO middleware deletes segments too
        try:
            with self._mapped("delete of", container, name):
                client.delete_object(container, name, query_string=query)
        except SwiftNotFound:
            if missing_ok:
                return False
            raise
        return True

    def _paged(
        self, container: str | None, list_call: Callable[..., Any], marker: str | None, limit: int | None
    ) -> Iterator[dict[str, Any]]:
        """Fetch the first page now (so errors raise at call time), the next ones by marker on demand."""

        def fetch(after: str | None, count: int) -> list[dict[str, Any]]:
            with self._mapped("listing of", container):
                page: list[dict[str, Any]] = list_call(marker=after, limit=count)[1]
                return page

        def rest(items: list[dict[str, Any]], want: int, left: int | None) -> Iterator[dict[str, Any]]:
            while True:
                yield from items
                left = None if left is None else left - len(items)
                if len(items) < want or left == 0:
                    return
                want = _LIST_PAGE if left is None else min(_LIST_PAGE, left)
                items = fetch(items[-1]["name"], want)

        want = _LIST_PAGE if limit is None else min(_LIST_PAGE, limit)
        return rest(fetch(marker, want) if want > 0 else [], want, limit)

    def list_objects(
        self,
        container: str,
        *,
        prefix: str | None = None,
        marker: str | None = None,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Objects after ``marker`` in name order, at most ``limit`` (all when None), fetched page by page;
        to resume later, pass the last name seen as the next ``marker``."""
        list_call = partial(self.get_conn().get_container, container, prefix=prefix)
        return self._paged(container, list_call, marker, limit)

    def list_containers(self, prefix: str | None = None) -> Iterator[dict[str, Any]]:
        """Containers of the account (name, count, bytes, last_modified), fetched page by page."""
        return self._paged(None, partial(self.get_conn().get_account, prefix=prefix), None, None)


def _await_segments_in_flight(
    pending: set[Future[str]], most: int, report: Callable[[], None]
) -> set[Future[str]]:
    """Wait while more than ``most`` of the segment PUTs in ``pending`` are still queued or running (Swift
    is still storing them); return those that are. ``report`` is called at least every `HEARTBEAT`
    seconds of waiting. The first that failed raises here, at once, not at the end.

    A Ctrl-C that lands while this waits lands while Swift stores segments: the fault tests recognise this
    frame by its name in the traceback.
    """
    while True:
        for future in [f for f in pending if f.done()]:
            pending.discard(future)
            future.result()  # raises the segment's failure
        if len(pending) <= most:
            return pending
        # Ctrl-C is taken between two waits, here, never inside one: a KeyboardInterrupt raised while `wait`
        # takes the futures' locks can leave one taken, and its segment thread then never ends.
        with interrupts_held():
            wait(pending, timeout=HEARTBEAT, return_when=FIRST_COMPLETED)
        report()
