"""`InfluxGoldOperator`: load one raw object into one InfluxDB target of a descriptor, for users who compose
their own DAGs. Thin on purpose: the writes live in `gold.influxdb`, the connection in the official hook."""

from __future__ import annotations

from airflow_provider_datalake.operators.gold import GoldOperatorBase


class InfluxGoldOperator(GoldOperatorBase):
    """Ensure the InfluxDB schema of the target, then load the raw object's batches (idempotent).

    :param target: the target's name (``influxdb_<measurement>``);
        see ``GoldOperatorBase`` for the other parameters
    """

    store = "influxdb"
    ui_color = "#22ADF6"
