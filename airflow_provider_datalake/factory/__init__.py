"""The DAG factory: format descriptors -> one DAG per format, `datalake__<format>`.

Names are imported lazily: a generated DAG file imports `build_dag` in a fresh dag-processor process,
which must not pay for the renderer (Jinja) or the descriptor model it does not use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_datalake.factory.dags import FormatNotFound, build_dag, build_dags, dag_for
    from airflow_provider_datalake.factory.render import (
        install_dags_folder,
        render_format_files,
        sync_dags_folder,
    )

_WHERE = {
    "FormatNotFound": "dags",
    "build_dag": "dags",
    "build_dags": "dags",
    "dag_for": "dags",
    "install_dags_folder": "render",
    "render_format_files": "render",
    "sync_dags_folder": "render",
}

__all__ = [
    "FormatNotFound",
    "build_dag",
    "build_dags",
    "dag_for",
    "install_dags_folder",
    "render_format_files",
    "sync_dags_folder",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
