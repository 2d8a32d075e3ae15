"""The shared body of the InfluxDB, MongoDB and Neo4j gold operators: pick the target, build its loader
(``gold.<store>.make_loader``, on the official hook), ensure its schema, load one raw object's batches.

The generated format DAGs do not use these (they call ``processing.load_object``, which also claims the
object, quarantines bad rows in Swift and records the outcome in the catalog); they are for users who
compose their own DAGs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from importlib import import_module
from typing import Any, ClassVar

from airflow.sdk import BaseOperator

from airflow_provider_datalake.descriptors.model import Descriptor


class GoldOperatorBase(BaseOperator):
    """Load one raw object into one target of a descriptor (subclasses fix the store).

    :param descriptor: the format descriptor (a ``Descriptor`` or its dict, validated when the DAG is parsed)
    :param target: the target's name (e.g. ``mongodb_<collection>``)
    :param raw_object_id: the raw object's catalog id (templated); what is loaded carries it as lineage
    :param batches_callable: returns the object's parsed batches; by default the object is read from the lake
        (catalog record -> Swift stream -> ``parsing.parse``)
    :return: the ``LoadResult`` as a dict (rows_written, rows_in, mode, table, rows_rejected)
    """

    store: ClassVar[str]
    template_fields: Sequence[str] = ("raw_object_id",)

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
        self.target = self._pick_target(target)
        self.raw_object_id = raw_object_id
        self.batches_callable = batches_callable
        self.swift_conn_id = swift_conn_id
        self.mongo_conn_id = mongo_conn_id
        self._parser_bad = 0
        self._parser_rows = 0

    def _pick_target(self, name: str) -> Any:
        mine = [t for t in self.descriptor.targets if t.store == self.store]
        for target in mine:
            if target.name == name:
                return target
        known = ", ".join(t.name for t in mine) or "none"
        raise ValueError(
            f"descriptor {self.descriptor.name} has no {self.store} target {name!r} (known: {known})"
        )

    def execute(self, context: Any) -> dict[str, Any]:
        module = {"influxdb": "influxdb", "mongodb": "mongo", "neo4j": "neo4j"}[self.store]
        loader = import_module(f"airflow_provider_datalake.gold.{module}").make_loader(
            self.target, self.descriptor.fields
        )
        loader.ensure_table()
        batches = self.batches_callable() if self.batches_callable is not None else self._lake_batches()
        result = loader.load(self.raw_object_id, batches)
        self.log.info(
            "raw object %s -> %s (%s): %d rows in, %d written, %d refused by the store",
            self.raw_object_id,
            result.table,
            result.mode,
            result.rows_in,
            result.rows_written,
            result.rows_rejected,
        )
        bad = self._parser_bad + result.rows_rejected
        total = self._parser_bad + result.rows_in
        if total and bad / total > self.descriptor.quarantine.max_ratio:
            raise ValueError(
                f"raw object {self.raw_object_id}: {bad} of {total} rows are bad, over the descriptor's "
                f"quarantine ratio {self.descriptor.quarantine.max_ratio:.1%} (run the format DAG to keep "
                "them in the quarantine)"
            )
        return dataclasses.asdict(result)

    def _lake_batches(self) -> Iterator[Any]:
        """Stream the raw object from Swift and parse it; parser rejects only count against the ratio."""
        from airflow_provider_datalake.hooks.catalog import CatalogHook
        from airflow_provider_datalake.hooks.swift import SwiftHook
        from airflow_provider_datalake.parsing import parse

        record = CatalogHook(self.mongo_conn_id).get(self.raw_object_id)
        if record is None:
            raise ValueError(f"raw object {self.raw_object_id} is not in the catalog ({self.mongo_conn_id})")
        chunks = SwiftHook(self.swift_conn_id).iter_object(
            record["swift_container"], record["swift_object_id"]
        )
        for batch in parse(self.descriptor, chunks):
            self._parser_bad += len(batch.bad)
            yield batch
        if self._parser_bad:
            self.log.warning(
                "raw object %s: %d rows rejected by the parser", self.raw_object_id, self._parser_bad
            )
