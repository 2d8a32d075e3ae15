"""`Neo4jGoldOperator`: load one raw object into one Neo4j target of a descriptor, for users who compose
their own DAGs. Thin on purpose: the writes live in `gold.neo4j`, the connection in the official hook."""

from __future__ import annotations

from airflow_provider_datalake.operators.gold import GoldOperatorBase


class Neo4jGoldOperator(GoldOperatorBase):
    """Ensure the Neo4j schema of the target, then load the raw object's batches (idempotent).

    :param target: the target's name (``neo4j_<graph>``);
        see ``GoldOperatorBase`` for the other parameters
    """

    store = "neo4j"
    ui_color = "#018BFF"
