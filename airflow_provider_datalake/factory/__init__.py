"""The DAG factory: format descriptors -> one DAG per format, `datalake__<format>`."""

from airflow_provider_datalake.factory.dags import FormatNotFound, build_dag, dag_for
from airflow_provider_datalake.factory.render import (
    install_dags_folder,
    render_format_files,
    sync_dags_folder,
)

__all__ = [
    "FormatNotFound",
    "build_dag",
    "dag_for",
    "install_dags_folder",
    "render_format_files",
    "sync_dags_folder",
]
