"""The raw zone's way in: the atomic two-phase insert and the reconciler that settles crashes."""

from airflow_provider_datalake.ingest.insert import (
    DEFAULT_CONTAINER,
    EmptySourceError,
    InsertError,
    SourceError,
    insert_datalake,
)
from airflow_provider_datalake.ingest.reconcile import ReconcileReport, reconcile

__all__ = [
    "DEFAULT_CONTAINER",
    "EmptySourceError",
    "InsertError",
    "ReconcileReport",
    "SourceError",
    "insert_datalake",
    "reconcile",
]
