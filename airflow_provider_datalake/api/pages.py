"""The Data lake pages: HTML rendered on the server from the same functions as the REST API, shown by
Airflow's UI in frames (its nav entry, a tab on each DAG and task instance).

Templates run in Jinja's sandbox with autoescaping: every name, value and descriptor text is data, never
markup. The pages' few actions (upload, reprocess, approve, reject, validate, push) are fetch calls to the
API from the plugin's script, with the header that marks a write as the page's own (`security`).
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from jinja2 import FileSystemLoader, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from airflow_provider_datalake.api import formats, lake, objects
from airflow_provider_datalake.api.security import Reader, _allowed

router = APIRouter(include_in_schema=False)
STATUS_CHOICES = ("committed", "processing", "processed", "failed", "pending", "reconciling", "deleted")

_env = SandboxedEnvironment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _when(value: Any) -> str:
    """An ISO date as the pages show it: UTC, to the second."""
    if not value:
        return "-"
    text = str(value)
    return text[:19].replace("T", " ") + (" UTC" if len(text) >= 19 else "")


def _size(value: Any) -> str:
    if not isinstance(value, int):
        return "-"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(value)


_env.filters["when"] = _when
_env.filters["size"] = _size
_env.filters["urlquote"] = lambda v: urllib.parse.quote(str(v), safe="")


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    user = context.pop("user", None)
    html = _env.get_template(template).render(
        root=root,
        api=f"{root}/api/v1",
        can_write=user is not None and _allowed(user, "POST"),
        **context,
    )
    return HTMLResponse(html, status_code=status_code)


def error_page(request: Request, exc: HTTPException) -> HTMLResponse:
    return render(
        request, "error.html", status_code=exc.status_code, status=exc.status_code, detail=exc.detail
    )


def _query_without(request: Request, key: str) -> str:
    """The page's query string less one parameter (the next page's link keeps the filters)."""
    return urllib.parse.urlencode([(k, v) for k, v in request.query_params.multi_items() if k != key and v])


@router.get("/", response_class=HTMLResponse)
@router.get("/objects", response_class=HTMLResponse)  # where a load task's extra link points
def catalog_page(
    request: Request,
    user: Reader,
    status: Annotated[list[str] | None, Query()] = None,
    format: str | None = None,
    container: str | None = None,
    application: str | None = None,
    q: str | None = None,
    since: str | None = None,
    until: str | None = None,
    run_id: str | None = None,
    after: str | None = None,
) -> HTMLResponse:
    wanted = [s for s in status or [] if s]
    page = objects.list_objects(
        user,
        status_=wanted or None,
        format=format or None,
        container=container or None,
        application=application or None,
        since=_date(since),
        until=_date(until),
        q=q or None,
        run_id=run_id or None,
        after=after or None,
    )
    names = sorted(f.name for f in lake.formats().latest())
    return render(
        request,
        "catalog.html",
        user=user,
        page=page,
        formats=names,
        statuses=STATUS_CHOICES,
        f={
            "status": wanted,
            "format": format or "",
            "container": container or "",
            "application": application or "",
            "q": q or "",
            "since": since or "",
            "until": until or "",
            "run_id": run_id or "",
        },
        next_query=_query_without(request, "after"),
    )


def _date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise HTTPException(422, f"not a date: {value!r} (expected YYYY-MM-DD or ISO 8601)") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@router.get("/objects/{record_id}", response_class=HTMLResponse)
def object_page(request: Request, record_id: str, user: Reader) -> HTMLResponse:
    detail = objects.get_object(record_id, user)
    quarantine = objects.get_quarantine(record_id, user, limit=100)
    return render(request, "object.html", user=user, d=detail, quarantine=quarantine)


@router.get("/formats", response_class=HTMLResponse)
def formats_page(request: Request, user: Reader) -> HTMLResponse:
    return render(
        request,
        "formats.html",
        user=user,
        formats=formats.list_formats(user),
        drafts=formats.list_drafts(user),
    )


@router.get("/formats/{name}", response_class=HTMLResponse)
def format_page(
    request: Request, name: str, user: Reader, version: Annotated[int | None, Query(ge=1)] = None
) -> HTMLResponse:
    return render(request, "format.html", user=user, fmt=formats.get_format(name, user, version))


@router.get("/upload", response_class=HTMLResponse)
def upload_page(request: Request, user: Reader) -> HTMLResponse:
    names = sorted(f.name for f in lake.formats().latest())
    return render(request, "upload.html", user=user, formats=names, limit=lake.upload_max_bytes())


@router.get("/dag/{dag_id}", response_class=HTMLResponse)
def dag_tab(request: Request, dag_id: str, user: Reader) -> HTMLResponse:
    """A DAG's Data lake tab: for a format's DAG, its descriptor and recent objects."""
    fmt = dag_id.removeprefix("datalake__") if dag_id.startswith("datalake__") else None
    found = None
    if fmt:
        try:
            found = formats.get_format(fmt, user)
        except HTTPException:
            found = None
    recent = objects.list_objects(user, format=fmt, limit=20) if found else None
    return render(request, "dag.html", user=user, dag_id=dag_id, fmt=found, recent=recent)


@router.get("/task/{dag_id}/{run_id}/{task_id}", response_class=HTMLResponse)
def task_tab(request: Request, dag_id: str, run_id: str, task_id: str, user: Reader) -> HTMLResponse:
    """A task instance's Data lake tab: the objects its run loaded, and this task's outcome for each."""
    fmt = dag_id.removeprefix("datalake__") if dag_id.startswith("datalake__") else None
    rows = []
    if fmt:
        from airflow_provider_datalake.processing import latest_outcomes

        page = objects.list_objects(user, format=fmt, run_id=run_id, limit=200, status_=list(STATUS_CHOICES))
        target = _task_target(fmt, task_id)
        for rec in page.objects:
            outcome = None
            if target:
                mine = [op for op in _run_ops(rec, run_id) if op.get("target") == target]
                outcome = mine[-1] if mine else None
            rows.append({"rec": rec, "outcome": outcome, "latest": latest_outcomes(rec)})
        return render(
            request,
            "task.html",
            user=user,
            dag_id=dag_id,
            run_id=run_id,
            task_id=task_id,
            fmt=fmt,
            target=target,
            rows=rows,
        )
    return render(
        request,
        "task.html",
        user=user,
        dag_id=dag_id,
        run_id=run_id,
        task_id=task_id,
        fmt=None,
        target=None,
        rows=[],
    )


def _run_ops(rec: dict[str, Any], run_id: str) -> list[dict[str, Any]]:
    ops = [{**op, "ok": True} for op in rec.get("successful_operations", [])]
    ops += [{**op, "ok": False} for op in rec.get("failed_operations", [])]
    return sorted((op for op in ops if op.get("run_id") == run_id), key=lambda op: str(op.get("finished")))


def _task_target(fmt: str, task_id: str) -> str | None:
    """The target a load task of the format's DAG loads (None for its other tasks)."""
    for t in lake.lineage(fmt):
        if task_id.endswith(f"load__{t['target']}") or task_id == t["target"]:
            return str(t["target"])
    return None
