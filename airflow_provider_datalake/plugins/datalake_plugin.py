"""The Airflow plugin of the data lake (entry point `airflow.plugins`).

It grows the catalog/lineage view and the ingest endpoint; for now it only registers the provider's
presence with Airflow's plugin manager so `airflow plugins` shows it.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin


class DatalakePlugin(AirflowPlugin):
    name = "datalake"
