"""The plugin's FastAPI application, mounted by Airflow's API server under ``/datalake``:

- ``/datalake/api/v1/...``: the REST API (OpenAPI at ``/datalake/openapi.json``, docs at ``/datalake/docs``);
- ``/datalake/ui/...``: the Data lake pages that Airflow's UI shows in its nav, on DAGs and task instances;
- ``/datalake/static/...``: their stylesheet and scripts, and the dashboard widget's bundle.

Every API route and page asks Airflow's auth manager (`security`); static files are public.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from airflow_provider_datalake.api import formats, health, objects, pages
from airflow_provider_datalake.version import __version__

API_PREFIX = "/api/v1"
STATIC = Path(__file__).parent / "static"


def create_app() -> FastAPI:
    app = FastAPI(
        title="Data lake",
        version=__version__,
        description=(
            "The data lake of airflow-provider-datalake inside Airflow: the raw zone's catalog, uploads, "
            "format descriptors and drafts, health. Authenticate as for Airflow's own API: a JWT from "
            "`POST /auth/token` in the `Authorization: Bearer` header, or the UI's session."
        ),
    )
    for router in (objects.router, formats.router, health.router):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(pages.router, prefix="/ui")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith(f"{request.scope.get('root_path', '')}/ui"):
            return pages.error_page(request, exc)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if response.headers.get("content-type", "").startswith("text/html"):
            # Data never runs as code: scripts and styles only from the plugin's own files; framed by
            # Airflow's UI (same origin) and nobody else.
            response.headers["Content-Security-Policy"] = (
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
            )
        return response

    return app


app = create_app()
