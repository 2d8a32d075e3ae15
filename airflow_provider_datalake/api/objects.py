"""``/api/v1/objects``: the raw zone's catalog — list and filter, one record, its bytes, its bad rows,
reprocess; and upload, through the same atomic ``insert_datalake()`` as every other producer."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import anyio.from_thread
from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from airflow_provider_datalake.api import lake
from airflow_provider_datalake.api.security import Reader, Writer, user_name

router = APIRouter(prefix="/objects", tags=["objects"])

STATUSES = ("pending", "reconciling", "committed", "processing", "processed", "failed", "deleted")
MAX_PAGE = 500


class ObjectPage(BaseModel):
    """One page of records, newest first; ``next_after`` is the ``after`` of the next page (None: the
    last page)."""

    objects: list[dict[str, Any]]
    next_after: str | None = None


class ObjectDetail(BaseModel):
    record: dict[str, Any]
    timeline: list[dict[str, Any]]
    outcomes: dict[str, dict[str, Any]] = Field(description="each target's latest outcome")
    lineage: list[dict[str, Any]] = Field(description="the gold targets of the object's format")
    dag_id: str | None


class QuarantineTarget(BaseModel):
    target: str
    ok: bool
    rows_quarantined: int
    quarantine: str | None
    rows: list[dict[str, Any]]
    more: bool


class Reprocess(BaseModel):
    target: str | None = Field(None, description="only this target (default: every target)")


def list_query(
    *,
    container: str | None,
    application: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    name: str | None,
    run_id: str | None,
) -> dict[str, Any]:
    """The catalog filter for a listing's parameters (values are data: a name search is a literal)."""
    query: dict[str, Any] = {}
    if container:
        query["swift_container"] = container
    if application:
        query["application"] = application
    if since or until:
        query["creation_date"] = {
            **({"$gte": since} if since else {}),
            **({"$lt": until} if until else {}),
        }
    if name:
        query["original_object_name"] = {"$regex": re.escape(name), "$options": "i"}
    if run_id:
        query["$or"] = [
            {"processing_run": run_id},
            {"successful_operations.run_id": run_id},
            {"failed_operations.run_id": run_id},
        ]
    return query


@router.get("", response_model=ObjectPage, summary="List raw objects, newest first, a page at a time")
def list_objects(
    _: Reader,
    status_: Annotated[list[str] | None, Query(alias="status", description="any of these states")] = None,
    format: Annotated[str | None, Query(description="a format; '-' for objects without one")] = None,
    container: str | None = None,
    application: str | None = None,
    since: Annotated[dt.datetime | None, Query(description="created at or after (ISO 8601)")] = None,
    until: Annotated[dt.datetime | None, Query(description="created before (ISO 8601)")] = None,
    q: Annotated[str | None, Query(max_length=200, description="part of the original file name")] = None,
    run_id: Annotated[str | None, Query(description="objects a DAG run claimed or loaded")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    after: Annotated[str | None, Query(description="the last id of the previous page")] = None,
) -> ObjectPage:
    from airflow_provider_datalake.hooks.catalog import CatalogError

    for state in status_ or []:
        if state not in STATUSES:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, f"unknown status {state!r}")
    query = list_query(
        container=container, application=application, since=since, until=until, name=q, run_id=run_id
    )
    fmt = format
    if fmt == "-":
        fmt, query["format"] = None, None
    try:
        found = list(
            lake.catalog().find(
                status=status_ or None,
                fmt=fmt,
                query=query,
                limit=limit,
                newest_first=True,
                after=after or None,
            )
        )
    except CatalogError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return ObjectPage(
        objects=[lake.plain(rec) for rec in found],
        next_after=found[-1]["_id"] if len(found) == limit else None,
    )


def _record(record_id: str) -> dict[str, Any]:
    rec = lake.catalog().get(record_id)
    if rec is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such raw object")
    return rec


@router.get("/{record_id}", response_model=ObjectDetail, summary="One raw object: record, timeline, outcomes")
def get_object(record_id: str, _: Reader) -> ObjectDetail:
    from airflow_provider_datalake.processing import latest_outcomes

    rec = _record(record_id)
    return ObjectDetail(
        record=lake.plain(rec),
        timeline=lake.plain(lake.timeline(rec)),
        outcomes=lake.plain(latest_outcomes(rec)),
        lineage=lake.lineage(rec.get("format")),
        dag_id=lake.dag_id(rec.get("format")),
    )


def _download_name(rec: dict[str, Any]) -> str:
    """The file name offered for a download: the last part of the original name, with no control
    character; the record id when there is none."""
    raw = str(rec.get("original_object_name") or rec["_id"])
    name = re.sub(r"[\x00-\x1f\x7f]", "_", raw.replace("\\", "/").rsplit("/", 1)[-1])
    return name if name not in ("", ".", "..") else rec["_id"]


class ChangedObject(RuntimeError):
    """The bytes read back from Swift are not the ones the record describes."""


def _checked_stream(rec: dict[str, Any]) -> Iterator[bytes]:
    """The object's bytes from Swift, checked against the record's size and sha256 as they stream; on a
    mismatch the response is cut off before its end, so no client takes it for the object."""
    swift = lake.swift()
    digest, size = hashlib.sha256(), 0
    for chunk in swift.iter_object(rec["swift_container"], rec["swift_object_id"]):
        digest.update(chunk)
        size += len(chunk)
        yield chunk
    if rec.get("size") is not None and size != rec["size"]:
        raise ChangedObject(f"{size} bytes read, the record says {rec['size']}")
    if rec.get("sha256") and digest.hexdigest() != rec["sha256"]:
        raise ChangedObject("the bytes read do not have the record's sha256")


@router.get(
    "/{record_id}/content",
    summary="The object's bytes, as stored in Swift, checked against the record",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def get_content(record_id: str, _: Reader) -> StreamingResponse:
    from airflow_provider_datalake.hooks.catalog import VISIBLE

    rec = _record(record_id)
    if rec.get("status") not in {s.value for s in VISIBLE}:
        raise HTTPException(status.HTTP_409_CONFLICT, f"the object is {rec.get('status')}: not readable")
    name = _download_name(rec)
    headers = {
        # Served as a download of opaque bytes: a stored HTML or SVG file never runs in the lake's origin.
        "Content-Disposition": f"attachment; filename*=UTF-8''{urllib.parse.quote(name, safe='')}",
        "X-Content-Type-Options": "nosniff",
    }
    if rec.get("size") is not None:
        headers["Content-Length"] = str(rec["size"])
    if rec.get("sha256"):
        headers["X-Datalake-Sha256"] = rec["sha256"]
    return StreamingResponse(_checked_stream(rec), media_type="application/octet-stream", headers=headers)


@router.get(
    "/{record_id}/quarantine",
    response_model=list[QuarantineTarget],
    summary="The object's bad rows per target (latest load), with their reasons",
)
def get_quarantine(
    record_id: str,
    _: Reader,
    target: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[QuarantineTarget]:
    from airflow_provider_datalake.processing import LongLine, latest_outcomes, quarantined_rows

    rec = _record(record_id)
    found = []
    swift = None
    for name, op in sorted(latest_outcomes(rec, target).items()):
        rows: list[dict[str, Any]] = []
        more = False
        link = op.get("quarantine")
        if link:
            swift = swift or lake.swift()
            for bad in quarantined_rows(swift, link):
                if len(rows) >= limit:
                    more = True
                    break
                rows.append({"long_line": bad.size} if isinstance(bad, LongLine) else lake.plain(bad))
        found.append(
            QuarantineTarget(
                target=name,
                ok=bool(op.get("ok")),
                rows_quarantined=int(op.get("rows_quarantined") or 0),
                quarantine=link,
                rows=rows,
                more=more,
            )
        )
    return found


@router.post(
    "/{record_id}/reprocess",
    summary="Put a processed or failed object back to committed: its format's DAG loads it again",
)
def reprocess(record_id: str, _: Writer, body: Reprocess | None = None) -> dict[str, Any]:
    from airflow_provider_datalake.processing import reprocess as put_back

    rec = _record(record_id)
    targets = [body.target] if body and body.target else []
    if targets and targets[0] not in {t["target"] for t in lake.lineage(rec.get("format"))}:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, f"the format has no target {targets[0]!r}")
    if not put_back(lake.catalog(), ids=[record_id], targets=targets):
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"the object is {rec.get('status')}: only processed or failed ones"
        )
    return {"reprocessed": record_id, "targets": targets or None}


# --------------------------------------------------------------------------- upload


class TooLarge(Exception):
    pass


class _Body(io.RawIOBase):
    """The request's body as a blocking binary stream, for ``insert_datalake()`` in a worker thread: each
    read waits for the next chunk the client sends, so no more than a chunk is ever held."""

    def __init__(self, chunks: AsyncIterator[bytes], limit: int) -> None:
        self._next = chunks.__anext__
        self._chunk = memoryview(b"")
        self.limit = limit
        self.total = 0

    async def _pull(self) -> bytes:
        return await self._next()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._chunk:
            try:
                data: bytes = anyio.from_thread.run(self._pull)
            except StopAsyncIteration:
                return 0
            self.total += len(data)
            if self.total > self.limit:
                raise TooLarge
            self._chunk = memoryview(data)
        n = min(len(buffer), len(self._chunk))
        buffer[:n] = self._chunk[:n]
        self._chunk = self._chunk[n:]
        return n


def _too_large(limit: int) -> HTTPException:
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE,
        f"the upload is over the limit of {limit} bytes: nothing stored",
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Store a file in the raw zone (the request body, streamed) and return its committed record",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
    responses={200: {"description": "the same content was already stored: its record"}, 413: {}},
)
async def upload(
    request: Request,
    user: Writer,
    name: Annotated[str, Query(min_length=1, max_length=1024, description="the file's original name")],
    format: str | None = None,
    container: str | None = None,
    application: str | None = None,
    metadata: Annotated[str | None, Query(description="a JSON object kept with the record")] = None,
    dedupe: bool = True,
) -> Any:
    from fastapi.responses import JSONResponse

    from airflow_provider_datalake.ingest.errors import InsertError
    from airflow_provider_datalake.ingest.insert import insert_datalake

    limit = lake.upload_max_bytes()
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    try:
        other = json.loads(metadata) if metadata else {}
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, f"metadata is not JSON: {exc}") from exc
    if not isinstance(other, dict):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "metadata must be a JSON object")
    content_type = request.headers.get("content-type")
    if content_type in (None, "", "application/x-www-form-urlencoded"):
        content_type = None  # a browser's default says nothing of the file: guessed from its name
    body = _Body(request.stream(), limit)
    started = lake_now()

    def store() -> dict[str, Any]:
        return insert_datalake(
            io.BufferedReader(body, 1 << 20),
            format=format,
            container=container,
            application=application,
            content_type=content_type,
            other_data={**other, **({"uploaded_by": by} if (by := user_name(user)) else {})},
            original_name=name,
            dedupe=dedupe,
            swift=lake.swift(),
            catalog=lake.catalog(),
        )

    try:
        rec = await run_in_threadpool(store)
    except Exception as exc:
        # insert_datalake() has rolled back: nothing of this upload is stored, whatever stopped it.
        if body.total > limit:
            raise _too_large(limit) from None
        if _client_left(exc):  # nobody to answer; said in the access log as a 400
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "the client hung up: nothing stored") from exc
        if isinstance(exc, ValueError):  # bad input: an empty body, an unknown format, bad metadata keys
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, str(exc)) from exc
        if isinstance(exc, InsertError):  # a store refused or could not be reached
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
        raise
    duplicate = rec.get("creation_date") is not None and _aware(rec["creation_date"]) < started
    return JSONResponse(
        {"duplicate": duplicate, "record": lake.plain(rec)},
        status_code=status.HTTP_200_OK if duplicate else status.HTTP_201_CREATED,
    )


def _client_left(exc: BaseException | None) -> bool:
    from starlette.requests import ClientDisconnect

    while exc is not None:
        if isinstance(exc, ClientDisconnect):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def lake_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
