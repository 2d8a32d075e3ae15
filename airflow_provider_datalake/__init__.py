"""airflow-provider-datalake: Airflow as a data lake (raw zone in Swift, catalog in MongoDB, gold stores).

The public entry points are imported lazily so that `import airflow_provider_datalake` (done by Airflow's
provider manager at start-up) stays cheap and pulls in no store client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_datalake.version import __version__

__all__ = ["__version__", "insert_datalake", "insert_many", "reconcile"]

if TYPE_CHECKING:
    from airflow_provider_datalake.ingest import insert_datalake, reconcile
    from airflow_provider_datalake.ingest.many import insert_many


def __getattr__(name: str) -> Any:
    if name in ("insert_datalake", "insert_many", "reconcile"):
        # deferred: `import airflow_provider_datalake` (the provider manager) loads no store client
        from airflow_provider_datalake import ingest

        return getattr(ingest, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
