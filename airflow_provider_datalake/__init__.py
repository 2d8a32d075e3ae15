"""airflow-provider-datalake: Airflow as a data lake (raw zone in Swift, catalog in MongoDB, gold stores).

The public entry points are imported lazily so that `import airflow_provider_datalake` (done by Airflow's
provider manager at start-up) stays cheap and pulls in no store client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["__version__", "insert_datalake", "reconcile"]

if TYPE_CHECKING:
    from airflow_provider_datalake.ingest import insert_datalake, reconcile


def __getattr__(name: str) -> Any:
    if name in ("insert_datalake", "reconcile"):
        from airflow_provider_datalake import ingest

        return getattr(ingest, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
