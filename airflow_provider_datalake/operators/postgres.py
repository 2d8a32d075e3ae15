"""`PostgresGoldOperator`: load one raw object into one PostgreSQL target of a descriptor, for users who
compose their own DAGs. Thin on purpose: the table's DDL and the atomic, idempotent write live in
`gold.postgres.PostgresLoader`; quarantine and outcome in `processing.load_into_target`.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_datalake.operators.gold import GoldOperatorBase


class PostgresGoldOperator(GoldOperatorBase):
    """Ensure the target table, then load the raw object's batches into it in one transaction (over the
    quarantine ratio it rolls back and fails).

    :param target: the target's name (``postgres_<table>``) or its table name;
        see ``GoldOperatorBase`` for the other parameters
    """

    store = "postgres"
    ui_color = "#336791"

    def _names(self, target: Any) -> tuple[str, ...]:
        return (target.name, target.table)
