"""`NewRawObjectSensor`: wait for committed raw objects of a format, for users who compose their own DAGs.

Deferrable by default: the wait happens in the triggerer (the same trigger the format DAGs' asset watchers
use), so no worker slot is held. Returns the object ids; claim them before processing (see `gold.run`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseSensorOperator

from airflow_provider_datalake.hooks.catalog import CatalogHook
from airflow_provider_datalake.ingest.committed import committed_ids
from airflow_provider_datalake.triggers.raw_objects import CommittedObjectsTrigger


class NewRawObjectSensor(BaseSensorOperator):
    template_fields: Sequence[str] = ("format",)

    def __init__(
        self,
        *,
        format: str,  # the catalog's own word
        mongo_conn_id: str = "mongo_default",
        database: str | None = None,
        deferrable: bool = True,
        poll_interval: float = 5.0,
        limit: int = 1000,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poll_interval, **kwargs)
        self.format = format
        self.mongo_conn_id = mongo_conn_id
        self.database = database
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.limit = limit

    def poke(self, context: Any) -> bool | Any:
        ids = committed_ids(CatalogHook(self.mongo_conn_id, self.database), self.format, self.limit)
        if ids:
            from airflow.sdk import PokeReturnValue

            return PokeReturnValue(is_done=True, xcom_value=ids)
        return False

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
        ids = committed_ids(CatalogHook(self.mongo_conn_id, self.database), self.format, self.limit)
        if ids:
            return ids
        self.defer(
            trigger=CommittedObjectsTrigger(
                format=self.format,
                mongo_conn_id=self.mongo_conn_id,
                database=self.database,
                poll_interval=self.poll_interval,
                limit=self.limit,
                once=True,
            ),
            method_name="execute_complete",
            timeout=self.execution_timeout,
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> list[str]:
        self.log.info("%d committed object(s) of format %s", event["count"], event["format"])
        return list(event["object_ids"])
