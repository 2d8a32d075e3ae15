"""`PostgresGoldOperator`: load one raw object into one PostgreSQL target of a descriptor, for users who
compose their own DAGs (the generated format DAGs call the loader through `processing.load_object`, which
also claims the object, quarantines bad rows and records the outcome in the catalog).

Thin on purpose: the table's DDL and the atomic, idempotent write live in `gold.postgres.PostgresLoader`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from airflow.sdk import BaseOperator

from airflow_provider_datalake.descriptors.model import Descriptor, PostgresTarget


class PostgresGoldOperator(BaseOperator):
    """Ensure the target table, then load the raw object's batches into it in one transaction.

    :param descriptor: the format descriptor (a ``Descriptor`` or its dict, validated when the DAG is parsed)
    :param target: the target's name (``postgres_<table>``) or its table name
    :param raw_object_id: the raw object's catalog id (templated); its rows carry it as lineage
    :param batches_callable: returns the object's parsed batches; by default the object is read from the lake
        (catalog record -> Swift stream -> ``parsing.parse``), and rows the parser rejects only count
        against the descriptor's quarantine ratio (they are not stored: use the format DAG for that)
    :return: the ``LoadResult`` as a dict (rows_written, rows_in, mode, table)
    """

    template_fields: Sequence[str] = ("raw_object_id",)
    ui_color = "#336791"

    def __init__(
        self,
        *,
        descriptor: Descriptor | Mapping[str, Any],
        target: str,
        raw_object_id: str,
        batches_callable: Callable[[], Iterable[Any]] | None = None,
        swift_conn_id: str = "swift_default",
        mongo_conn_id: str = "mongo_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.descriptor = (
            descriptor if isinstance(descriptor, Descriptor) else Descriptor.model_validate(dict(descriptor))
        )
        self.target = self._pick_target(self.descriptor, target)
        self.raw_object_id = raw_object_id
        self.batches_callable = batches_callable
        self.swift_conn_id = swift_conn_id
        self.mongo_conn_id = mongo_conn_id

    @staticmethod
    def _pick_target(descriptor: Descriptor, name: str) -> PostgresTarget:
        for target in descriptor.targets:
            if isinstance(target, PostgresTarget) and name in (target.name, target.table):
                return target
        known = ", ".join(t.name for t in descriptor.targets if isinstance(t, PostgresTarget)) or "none"
        raise ValueError(f"descriptor {descriptor.name} has no postgres target {name!r} (known: {known})")

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        from airflow_provider_datalake.gold.postgres import PostgresLoader

        loader = PostgresLoader(
            PostgresHook(postgres_conn_id=self.target.conn_id), self.target, self.descriptor.fields
        )
        loader.ensure_table()
        batches = self.batches_callable() if self.batches_callable is not None else self._lake_batches()
        result = loader.load(self.raw_object_id, batches)
        self.log.info(
            "raw object %s -> %s (%s): %d rows in, %d written",
            self.raw_object_id,
            result.table,
            result.mode,
            result.rows_in,
            result.rows_written,
        )
        return dataclasses.asdict(result)

    def _lake_batches(self) -> Iterator[Any]:
        """Stream the raw object from Swift and parse it; over the quarantine ratio, raise inside the load
        (so its transaction rolls back)."""
        from airflow_provider_datalake.hooks.catalog import CatalogHook
        from airflow_provider_datalake.hooks.swift import SwiftHook
        from airflow_provider_datalake.parsing import parse

        record = CatalogHook(self.mongo_conn_id).get(self.raw_object_id)
        if record is None:
            raise ValueError(f"raw object {self.raw_object_id} is not in the catalog ({self.mongo_conn_id})")
        chunks = SwiftHook(self.swift_conn_id).iter_object(
            record["swift_container"], record["swift_object_id"]
        )
        good = bad = 0
        for batch in parse(self.descriptor, chunks):
            good += len(batch.rows)
            bad += len(batch.bad)
            yield batch
        if bad:
            self.log.warning(
                "raw object %s: %d of %d rows rejected by the parser", self.raw_object_id, bad, good + bad
            )
            if bad / (good + bad) > self.descriptor.quarantine.max_ratio:
                raise ValueError(
                    f"raw object {self.raw_object_id}: {bad} of {good + bad} rows are bad, over the "
                    f"descriptor's quarantine ratio {self.descriptor.quarantine.max_ratio:.1%}"
                )
