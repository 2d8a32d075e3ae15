"""The Airflow plugin of the data lake (entry point ``airflow.plugins``): the lake inside Airflow's UI.

- ``fastapi_apps``: the REST API and the pages (`airflow_provider_datalake.api`), served by Airflow's API
  server under ``/datalake`` and guarded by its auth manager;
- ``external_views``: a **Data lake** entry in the nav (the catalog browser, objects, formats, upload), a
  tab on every DAG (a format's DAG: its descriptor and recent objects) and on every task instance (the
  objects its run loaded, and this task's outcome for each);
- ``react_apps``: a widget on Airflow's dashboard (counts by status, waiting, failures and quarantine).

The FastAPI app is imported lazily by Airflow's API server only; other processes that load plugins (the
scheduler, workers) never import FastAPI code.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_datalake.operators.formats import DataLakeObjectsLink

PREFIX = "/datalake"


def _app() -> Any:
    from airflow_provider_datalake.api.app import app

    return app


class _LazyApp:
    """Builds the FastAPI app when the API server first mounts it (an ASGI app is a callable)."""

    _app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            self._app = _app()
        await self._app(scope, receive, send)


class DatalakePlugin(AirflowPlugin):
    # Airflow's plugin manager reads these class attributes (mutable lists, as AirflowPlugin declares them).
    name = "datalake"
    fastapi_apps = [  # noqa: RUF012
        {"app": _LazyApp(), "url_prefix": PREFIX, "name": "Data lake"}
    ]
    external_views = [  # noqa: RUF012
        {
            "name": "Data lake",
            "href": f"{PREFIX}/ui/",
            "url_route": "datalake",
            "destination": "nav",
            "icon": f"{PREFIX}/static/lake.svg",
        },
        {
            "name": "Data lake",
            "href": f"{PREFIX}/ui/dag/{{DAG_ID}}",
            "url_route": "datalake-dag",
            "destination": "dag",
        },
        {
            "name": "Data lake",
            "href": f"{PREFIX}/ui/task/{{DAG_ID}}/{{RUN_ID}}/{{TASK_ID}}",
            "url_route": "datalake-task",
            "destination": "task_instance",
        },
    ]
    # The API server builds the load tasks' link to the objects of their run (also for unfinished ones).
    operator_extra_links = [DataLakeObjectsLink()]  # noqa: RUF012
    react_apps = [  # noqa: RUF012
        {
            "name": "Data lake summary",
            "bundle_url": f"{PREFIX}/static/widget.js",
            "url_route": "datalake-summary",
            "destination": "dashboard",
        }
    ]
