"""The Airflow plugin of the data lake (entry point `airflow.plugins`).

It registers the provider with Airflow's plugin manager, so that `airflow plugins` shows it; the catalog
view and the upload endpoint belong here, as surfaces over the package (nothing below imports this).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin


class DatalakePlugin(AirflowPlugin):
    name = "datalake"
