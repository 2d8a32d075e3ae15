"""The shared body of the gold operators (PostgreSQL, InfluxDB, MongoDB, Neo4j), for users who compose their
own DAGs: pick the descriptor's target, then load one raw object into it through the same path as the
generated format DAGs (``processing.load_into_target``): bad rows are quarantined in Swift with their
reasons and the outcome is appended to the record's ``successful_operations`` / ``failed_operations``.

Unlike the format DAG, the operator does not claim the object or move its status: that belongs to the run
that owns the object (a format DAG, or the user's own sensor/claim steps).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from airflow.sdk import BaseOperator

from airflow_provider_datalake.descriptors.model import Descriptor


class GoldOperatorBase(BaseOperator):
    """Load one raw object into one target of a descriptor (subclasses fix the store).

    :param descriptor: the format descriptor (a ``Descriptor`` or its dict, validated when the DAG is parsed)
    :param target: the target's name (e.g. ``mongodb_<collection>``)
    :param raw_object_id: the raw object's catalog id (templated); what is loaded carries it as lineage
    :param batches_callable: returns the object's parsed batches; by default the object is read from the lake
        (catalog record -> Swift stream -> ``parsing.parse``). Either way bad rows go to the quarantine, and
        the outcome is recorded when the object is in the catalog.
    :return: the ``LoadResult`` as a dict (rows_written, rows_in, mode, table, ...) plus
        ``rows_quarantined`` and ``quarantine`` (the Swift object holding the bad rows, or None)
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

    def _names(self, target: Any) -> tuple[str, ...]:
        """What a user may call the target by."""
        return (target.name,)

    def _pick_target(self, name: str) -> Any:
        mine = [t for t in self.descriptor.targets if t.store == self.store]
        for target in mine:
            if name in self._names(target):
                return target
        known = ", ".join(t.name for t in mine) or "none"
        raise ValueError(
            f"descriptor {self.descriptor.name} has no {self.store} target {name!r} (known: {known})"
        )

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_provider_datalake.hooks.catalog import CatalogHook
        from airflow_provider_datalake.hooks.swift import SwiftHook
        from airflow_provider_datalake.processing import load_into_target

        hook = CatalogHook(self.mongo_conn_id)
        catalog: CatalogHook | None = hook
        rec = hook.get(self.raw_object_id)
        if rec is None:
            if self.batches_callable is None:  # checked before any schema is touched
                raise ValueError(
                    f"raw object {self.raw_object_id} is not in the catalog ({self.mongo_conn_id})"
                )
            self.log.warning("raw object %s is not in the catalog: no outcome recorded", self.raw_object_id)
            rec, catalog = {"_id": self.raw_object_id}, None
        run_id = (context or {}).get("run_id") or f"{self.task_id}__manual"
        outcome, result = load_into_target(
            self.descriptor,
            self.target,
            rec,
            str(run_id),
            catalog=catalog,
            swift=SwiftHook(self.swift_conn_id),
            batches=self.batches_callable() if self.batches_callable is not None else None,
        )
        self.log.info(
            "raw object %s -> %s (%s): %d rows in, %d written, %d quarantined%s",
            self.raw_object_id,
            result.table,
            result.mode,
            outcome["rows_in"],
            result.rows_written,
            outcome["rows_quarantined"],
            f" ({outcome['quarantine']})" if outcome.get("quarantine") else "",
        )
        return {
            **result.as_dict(),
            "rows_quarantined": outcome["rows_quarantined"],
            "quarantine": outcome.get("quarantine"),
        }
