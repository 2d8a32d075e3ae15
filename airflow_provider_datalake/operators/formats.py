"""The steps of a format's run as operators: claim -> load (one per target, mapped) -> finish, and
queue_next beside the loads.

The generated DAGs are built from these, and users composing their own DAGs may use them too. A load task
links to the data lake's page of the objects its run loaded (`DataLakeObjectsLink`). Plain
operator classes, not ``@task`` functions: building a TaskFlow task inspects its function's signature each
time, a large share of a DAG's build time when a dag-processor builds hundreds of them.

Every DAG file's parse imports this module, so at module level it imports only the Task SDK and the format
cache; the catalog, Swift, `processing` and the descriptor model are imported when a task runs (each such
import says so).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

from airflow.sdk import BaseOperator, BaseOperatorLink

from airflow_provider_datalake.format_cache import FormatNotFound

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.sdk.types import TaskInstanceKey

    from airflow_provider_datalake.descriptors.model import Descriptor
    from airflow_provider_datalake.hooks.catalog import CatalogHook


#: A format's generated DAG is ``datalake__<format>``.
FORMAT_DAG_PREFIX = "datalake__"
#: The claim's XCom saying it found a full batch of candidates, so more objects may wait.
BACKLOG_KEY = "backlog"
#: The plugin's page listing a run's objects, under Airflow's base URL.
OBJECTS_PAGE = "/datalake/ui/objects"


def _catalog(mongo_conn_id: str, database: str | None) -> CatalogHook:
    # deferred: pymongo only where a task runs, never in a DAG file's parse
    from airflow_provider_datalake.hooks.catalog import CatalogHook

    return CatalogHook(mongo_conn_id, database=database)


def _flat(ids: Any) -> list[str]:
    """The claim's ids, or its lists of ids (one per load task) when it shared them out."""
    return [rid for item in ids or [] for rid in (item if isinstance(item, list) else [item])]


def descriptor_from_cache(name: str, cache_path: str | os.PathLike[str]) -> Descriptor:
    """Validate only this format's descriptor from the format cache: a bad one raises here, for its own
    DAG file or task alone. FormatNotFound when the cache or the format is not there."""
    # deferred: the descriptor model (pydantic) only for an entry without a DAG spec, or in a task
    from airflow_provider_datalake.descriptors.store import read_cache_entry

    try:
        desc, error = read_cache_entry(cache_path, name)
    except FileNotFoundError:
        raise FormatNotFound(f"no descriptor cache at {cache_path}: run `datalake formats sync`") from None
    except KeyError:
        raise FormatNotFound(
            f"format {name!r} is not in {cache_path} (deactivated?): run `datalake formats sync`"
        ) from None
    if error is not None:
        raise error
    assert desc is not None
    return desc


class ClaimRawObjectsOperator(BaseOperator):
    """Take up to ``limit`` committed objects of ``format`` for this run (atomic per object: two runs never
    take the same one), each with a processing lease of ``lease_seconds`` and ``max_attempts`` (the
    descriptor's ``processing`` settings). Returns their ids, for the load tasks to map over; with
    ``per_task``, the ids in lists of at most that many, one list per load task."""

    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        format: str,
        mongo_conn_id: str = "mongo_default",
        database: str | None = None,
        limit: int = 100,
        lease_seconds: float = 300.0,
        max_attempts: int = 3,
        per_task: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if per_task is not None and per_task < 1:
            raise ValueError(f"per_task must be at least 1, got {per_task}")
        self.format = format
        self.mongo_conn_id = mongo_conn_id
        self.database = database
        self.limit = limit
        self.per_task = per_task
        self.lease_seconds = lease_seconds
        self.max_attempts = max_attempts

    def execute(self, context: Context) -> list[str] | list[list[str]]:
        # deferred: processing (pymongo, swiftclient) only where a task runs
        from airflow_provider_datalake.ingest.committed import committed_ids
        from airflow_provider_datalake.processing import claim_objects

        catalog = _catalog(self.mongo_conn_id, self.database)
        candidates = committed_ids(catalog, self.format, self.limit)
        # A full batch of candidates: more may wait behind it (`QueueNextRunOperator` reads this).
        context["ti"].xcom_push(key=BACKLOG_KEY, value=bool(self.limit) and len(candidates) >= self.limit)
        ids = claim_objects(
            self.format,
            context["run_id"],
            catalog=catalog,
            limit=self.limit,
            ids=candidates,
            lease=dt.timedelta(seconds=self.lease_seconds),
            max_attempts=self.max_attempts,
        )
        if self.per_task is None:
            return ids
        return [ids[start : start + self.per_task] for start in range(0, len(ids), self.per_task)]


class QueueNextRunOperator(BaseOperator):
    """Queue the format's next run while committed objects wait: a claim takes a bounded batch, and the
    objects past it were announced already, so without this they would wait for the trigger's next
    announcement. Give it the format's raw Asset as its only outlet: its success is an event on that
    Asset, which queues one more run of the DAG (Airflow merges queued events into one run, started when
    a run slot is free). Skipped, so no event, unless the claim (``claim_task_id``) found a full batch of
    candidates: objects committed later are announced by the trigger as new."""

    ui_color = "#eef8ee"

    def __init__(self, *, format: str, claim_task_id: str = "claim", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.format = format
        self.claim_task_id = claim_task_id

    def execute(self, context: Context) -> bool:
        # deferred: only where a task runs
        from airflow.sdk.exceptions import AirflowSkipException

        if not context["ti"].xcom_pull(task_ids=self.claim_task_id, key=BACKLOG_KEY):
            raise AirflowSkipException(f"the claim took every committed object of format {self.format}")
        return True


class DataLakeObjectsLink(BaseOperatorLink):
    """The "Data lake objects" link of a load task: the plugin's page of the objects its run loaded, with
    their outcomes, at ``{[api] base_url}/datalake/ui/objects?run_id=...&format=...``.

    Airflow calls `get_link` in the worker when the task ends and keeps the URL in an XCom, which the UI
    shows. Registered through the plugin as well, the API server calls it itself for the classes in
    ``operators``, with the serialized task: there the format comes from a mapped task's arguments or the
    DAG id. A link without format still lists the run's objects.
    """

    name = "Data lake objects"
    operators: ClassVar[list[type[BaseOperator]]] = []  # LoadRawObjectOperator, set below it

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        # deferred: the configuration only where a link is made, never in a DAG file's parse
        from airflow.sdk import conf

        base = str(conf.get("api", "base_url", fallback="") or "").rstrip("/")
        query = {"run_id": ti_key.run_id}
        fmt = _format_of(operator, ti_key.dag_id)
        if fmt:
            query["format"] = fmt
        return f"{base}{OBJECTS_PAGE}?{urlencode(query)}"


def _format_of(operator: Any, dag_id: str) -> str | None:
    """The load task's format: its own attribute (in the worker), its mapped arguments (a serialized mapped
    task, in the API server), else the generated DAG's id."""
    fmt = getattr(operator, "format", None)
    if not isinstance(fmt, str):
        partial = getattr(operator, "partial_kwargs", None)
        fmt = partial.get("format") if isinstance(partial, dict) else None
    if not isinstance(fmt, str) and dag_id.startswith(FORMAT_DAG_PREFIX):
        fmt = dag_id.removeprefix(FORMAT_DAG_PREFIX)
    return fmt or None


class LoadRawObjectOperator(BaseOperator):
    """Load one claimed object (``record_id``), or several one after the other (``record_ids``), into one
    target of its format, and record each outcome in the catalog. With several, every one is tried and the
    task fails at the end if any did not load.

    The descriptor is the one given (an object, or its JSON data: what a mapped task's arguments can
    hold), else the format's entry in the descriptor cache at ``cache_path``, read when the task runs
    (what generated DAGs do: their files never load the descriptor model).
    """

    template_fields: Sequence[str] = ("record_id", "record_ids", "run_record_ids")
    ui_color = "#e8fdf0"
    operator_extra_links = (DataLakeObjectsLink(),)

    def __init__(
        self,
        *,
        format: str,
        target: str,
        record_id: str | None = None,
        record_ids: list[str] | None = None,
        run_record_ids: list[str] | list[list[str]] | Any = None,
        descriptor: Descriptor | dict[str, Any] | None = None,
        cache_path: str | os.PathLike[str] | None = None,
        mongo_conn_id: str = "mongo_default",
        swift_conn_id: str = "swift_default",
        database: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if descriptor is None and cache_path is None:
            raise ValueError("LoadRawObjectOperator needs a descriptor or the cache_path to read it from")
        if (record_id is None) == (record_ids is None):
            raise ValueError("LoadRawObjectOperator takes record_id or record_ids (one of the two)")
        self.format = format
        self.target = target
        self.record_id = record_id
        self.record_ids = record_ids
        self.run_record_ids = run_record_ids
        self.descriptor = descriptor
        self.cache_path = None if cache_path is None else os.fspath(cache_path)
        self.mongo_conn_id = mongo_conn_id
        self.swift_conn_id = swift_conn_id
        self.database = database

    def resolve_descriptor(self) -> Descriptor:
        if isinstance(self.descriptor, dict):
            # deferred: the descriptor model (pydantic) only where a task runs
            from airflow_provider_datalake.descriptors.model import Descriptor

            return Descriptor.model_validate(self.descriptor)
        if self.descriptor is not None:
            return self.descriptor
        assert self.cache_path is not None
        return descriptor_from_cache(self.format, Path(self.cache_path))

    def execute(self, context: Context) -> dict[str, Any] | list[dict[str, Any]]:
        # deferred: Swift and processing only where a task runs
        from airflow_provider_datalake.hooks.swift import SwiftHook
        from airflow_provider_datalake.processing import load_object, load_objects

        catalog, swift = _catalog(self.mongo_conn_id, self.database), SwiftHook(self.swift_conn_id)
        desc, run_id = self.resolve_descriptor(), context["run_id"]
        if self.record_ids is not None:
            return load_objects(
                desc,
                list(self.record_ids),
                self.target,
                run_id,
                catalog=catalog,
                swift=swift,
                run_record_ids=_flat(self.run_record_ids),
            )
        assert self.record_id is not None
        return load_object(desc, self.record_id, self.target, run_id, catalog=catalog, swift=swift)


# Airflow's plugin manager gives a plugin's link to the tasks of these classes.
DataLakeObjectsLink.operators = [LoadRawObjectOperator]


class FinishRawObjectsOperator(BaseOperator):
    """processing -> processed only when every one of ``targets`` recorded a success for the object in this
    run; else failed (or committed again, for a load that ended without an outcome), and the task fails,
    naming the objects, so the run shows red. Runs whatever the loads did (trigger rule ``all_done``)."""

    template_fields: Sequence[str] = ("record_ids",)
    ui_color = "#fdf6e8"

    def __init__(
        self,
        *,
        format: str,
        record_ids: list[str] | Any,
        targets: Sequence[str] | None = None,
        mongo_conn_id: str = "mongo_default",
        database: str | None = None,
        trigger_rule: str = "all_done",
        **kwargs: Any,
    ) -> None:
        super().__init__(trigger_rule=trigger_rule, **kwargs)
        self.format = format
        self.record_ids = record_ids
        self.targets = None if targets is None else list(targets)
        self.mongo_conn_id = mongo_conn_id
        self.database = database

    def execute(self, context: Context) -> dict[str, str]:
        # deferred: processing only where a task runs
        from airflow_provider_datalake.processing import finish_objects

        ids = _flat(self.record_ids)
        catalog = _catalog(self.mongo_conn_id, self.database)
        states = finish_objects(ids, context["run_id"], catalog=catalog, targets=self.targets)
        failed = sorted(rid for rid, state in states.items() if state == "failed")
        again = sorted(rid for rid, state in states.items() if state == "committed")
        if failed or again:
            raise RuntimeError(
                f"format {self.format}: {len(failed)} object(s) failed"
                + (f" ({', '.join(failed)})" if failed else "")
                + f", {len(again)} put back for another run: a load ended without an outcome"
                + (f" ({', '.join(again)})" if again else "")
            )
        return states
