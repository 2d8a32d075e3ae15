"""`MongoGoldOperator`: load one raw object into one MongoDB target of a descriptor, for users who compose
their own DAGs. Thin on purpose: the writes live in `gold.mongo`, the connection in the official hook."""

from __future__ import annotations

from airflow_provider_datalake.operators.gold import GoldOperatorBase


class MongoGoldOperator(GoldOperatorBase):
    """Ensure the MongoDB schema of the target, then load the raw object's batches (idempotent).

    :param target: the target's name (``mongodb_<collection>``);
        see ``GoldOperatorBase`` for the other parameters
    """

    store = "mongodb"
    ui_color = "#4DB33D"
