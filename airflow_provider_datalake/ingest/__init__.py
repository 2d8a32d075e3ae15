"""The raw zone's way in: the atomic two-phase insert and the reconciler that settles crashes.

`insert` runs the protocol, `many` runs many of them at once; `source` opens what is stored, `rules`
checks its names, `errors` holds what it raises; `settle` settles one expired pending record (for the insert
and the reconciler alike); `reconcile` sweeps the whole lake; `committed` reads the committed objects that
ingest hands on to the runs.
"""

from airflow_provider_datalake.ingest.errors import EmptySourceError, InsertError, SourceError
from airflow_provider_datalake.ingest.insert import insert_datalake
from airflow_provider_datalake.ingest.many import BatchInterrupted, NotStarted, insert_many
from airflow_provider_datalake.ingest.reconcile import reconcile
from airflow_provider_datalake.ingest.rules import DEFAULT_CONTAINER
from airflow_provider_datalake.ingest.settle import ReconcileReport

__all__ = [
    "DEFAULT_CONTAINER",
    "BatchInterrupted",
    "EmptySourceError",
    "InsertError",
    "NotStarted",
    "ReconcileReport",
    "SourceError",
    "insert_datalake",
    "insert_many",
    "reconcile",
]
