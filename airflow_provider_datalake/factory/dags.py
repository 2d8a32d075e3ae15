"""Build one format's DAG from its descriptor. Knows no store: targets are names handed to `processing`.

Run shape: ``claim`` (committed -> processing, atomic per object) -> ``load__<target>`` for each target,
mapped over the claimed objects, all targets in parallel -> ``finish`` (processed | failed per object).
Beside the loads, ``queue_next`` queues the next run when the claim found a full batch of candidates (a
claim takes at most the descriptor's ``processing.batch``), so a backlog drains run after run.
The DAG is scheduled on the format's Asset, whose AssetWatcher runs `CommittedObjectsTrigger` in the
triggerer: a committed raw object of the format starts a run without any worker waiting.

Lineage: each load task declares the gold assets its target writes as its outlets (``datalake://gold/...``,
see `asset_uris`), so Airflow's asset graph reads raw format -> DAG -> gold tables. A load task's success
emits events on those assets; no DAG of ours is scheduled on a gold asset, so they start nothing.

Generated DAG files import this module in a fresh dag-processor process: what it imports at module level is
what every parse pays for (the Task SDK, the operators, the trigger and the format cache); the descriptor
model comes only with a descriptor that has no DAG spec, and the catalog and Swift only when a task runs.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import DAG, Asset, AssetWatcher, BaseHook, get_current_context, get_parsing_context, task

from airflow_provider_datalake.asset_uris import raw_uri, unformatted_uri
from airflow_provider_datalake.format_cache import DagSpec, FormatNotFound, cache_entries
from airflow_provider_datalake.operators.formats import (
    FORMAT_DAG_PREFIX,
    ClaimRawObjectsOperator,
    FinishRawObjectsOperator,
    LoadRawObjectOperator,
    QueueNextRunOperator,
    descriptor_from_cache,
)
from airflow_provider_datalake.triggers.raw_objects import CommittedObjectsTrigger

if TYPE_CHECKING:
    from airflow_provider_datalake.descriptors.model import Descriptor

__all__ = [
    "FormatNotFound",
    "build_dag",
    "build_dags",
    "dag_for",
    "dag_from_spec",
    "gold_assets",
    "unknown_formats_dag",
]

log = logging.getLogger(__name__)

#: Claimed objects per load task. Each task instance costs Airflow a slot's start-up (a process, the
#: task's context, its heartbeats) of about two seconds; small campus files load in a fraction of that, so
#: a run of 100 objects is 10 tasks per target instead of 100. A killed task leaves at most this many
#: objects without an outcome, which `finish` sends to the next run.
OBJECTS_PER_TASK = 10
#: Runs of one format at once. Each claims up to its batch of objects ahead of the slots that will load
#: them; two keep the slots busy while the second run's objects wait one run's work at most, well within a
#: lease, where more runs only claimed more objects to wait.
MAX_ACTIVE_RUNS = 2


def build_dag(
    name: str,
    *,
    cache_path: str | os.PathLike[str],
    mongo_conn_id: str = "mongo_default",
    swift_conn_id: str = "swift_default",
) -> Any:
    """What a generated DAG file calls: the format's DAG from the local cache (no network).

    A descriptor validated by `datalake formats sync` comes with its DAG spec, and the DAG is built from
    that alone; the load tasks read the full descriptor from the same cache when they run. Any other entry
    is validated here, so an invalid descriptor raises its own error, naming its file, line and field.
    """
    path = Path(cache_path)
    try:
        spec = DagSpec.from_cache(cache_entries(path).get(name), name)
    except (FileNotFoundError, ValueError):
        spec = None  # let the validating path say what is wrong
    if spec is not None:
        return dag_from_spec(spec, cache_path=path, mongo_conn_id=mongo_conn_id, swift_conn_id=swift_conn_id)
    return dag_for(
        descriptor_from_cache(name, path),
        mongo_conn_id=mongo_conn_id,
        swift_conn_id=swift_conn_id,
        cache_path=path,
    )


def build_dags(
    *,
    cache_path: str | os.PathLike[str],
    mongo_conn_id: str = "mongo_default",
    swift_conn_id: str = "swift_default",
) -> dict[str, Any]:
    """Every format's DAG, by module-level name: what the one file of the ``single`` layout calls.

    Formats with a DAG spec are built from it. A format without one is left to its own
    ``datalake__<format>.py`` (the renderer writes one for each: an invalid descriptor is then an import
    error on that file alone); if that file is not there yet (the package was upgraded since the last
    sync), the descriptor is validated here, and an invalid one is logged and skipped. A task's process
    builds only its own DAG (Airflow's parsing context).
    """
    path = Path(cache_path)
    try:
        entries = cache_entries(path)
    except FileNotFoundError:
        return {}
    wanted = get_parsing_context().dag_id
    conns: dict[str, Any] = {"mongo_conn_id": mongo_conn_id, "swift_conn_id": swift_conn_id}
    dags: dict[str, Any] = {}
    for name, entry in entries.items():
        dag_id = f"{FORMAT_DAG_PREFIX}{name}"
        if wanted and wanted != dag_id:
            continue
        spec = DagSpec.from_cache(entry, name)
        if spec is not None:
            dag = dag_from_spec(spec, cache_path=path, **conns)
        elif (path.parent / f"{dag_id}.py").exists():
            continue
        else:
            try:
                dag = build_dag(name, cache_path=path, **conns)
            except (ValueError, LookupError) as exc:  # DescriptorError is a ValueError
                log.error("format %s has no DAG: %s", name, exc)
                continue
        dags[dag_id] = dag
    return dags


def dag_for(
    desc: Descriptor,
    *,
    mongo_conn_id: str = "mongo_default",
    swift_conn_id: str = "swift_default",
    database: str | None = None,
    claim_limit: int | None = None,
    objects_per_task: int = OBJECTS_PER_TASK,
    poll_interval: float = 2.0,
    cache_path: str | os.PathLike[str] | None = None,
) -> Any:
    """The format's DAG from a descriptor object. With ``cache_path``, the load tasks re-read the
    descriptor from the cache when they run (as generated DAGs do); without, they use this one.
    ``claim_limit``: objects one run claims at most (default: the descriptor's ``processing.batch``)."""
    return dag_from_spec(
        DagSpec.from_descriptor(desc),
        descriptor=None if cache_path is not None else desc,
        cache_path=cache_path,
        mongo_conn_id=mongo_conn_id,
        swift_conn_id=swift_conn_id,
        database=database,
        claim_limit=claim_limit,
        objects_per_task=objects_per_task,
        poll_interval=poll_interval,
    )


def dag_from_spec(
    spec: DagSpec,
    *,
    descriptor: Descriptor | None = None,
    cache_path: str | os.PathLike[str] | None = None,
    mongo_conn_id: str = "mongo_default",
    swift_conn_id: str = "swift_default",
    database: str | None = None,
    claim_limit: int | None = None,
    objects_per_task: int = OBJECTS_PER_TASK,
    poll_interval: float = 2.0,
) -> Any:
    fmt = spec.name
    asset = Asset(
        name=f"datalake_raw__{fmt}",
        uri=raw_uri(fmt),
        group="datalake",
        watchers=[
            AssetWatcher(
                name=f"datalake_watch__{fmt}",
                trigger=CommittedObjectsTrigger(
                    format=fmt, mongo_conn_id=mongo_conn_id, database=database, poll_interval=poll_interval
                ),
            )
        ],
    )
    conns: dict[str, Any] = {"mongo_conn_id": mongo_conn_id, "database": database}
    # A mapped task's arguments are stored in the serialized DAG: plain data only (a descriptor object
    # would be stored as its repr).
    given = None if descriptor is None else descriptor.model_dump(mode="json", by_alias=True)
    cache = None if cache_path is None else os.fspath(cache_path)
    outlets = gold_assets(spec)
    with DAG(
        dag_id=f"{FORMAT_DAG_PREFIX}{fmt}",
        # The asset itself, not a one-item list: Airflow hashes a DAG's schedule each time tasks are
        # linked, and a list's hash serialises every asset in it.
        schedule=asset,
        catchup=False,
        max_active_runs=MAX_ACTIVE_RUNS,
        tags=["datalake", f"format:{fmt}", *spec.stores],
        doc_md=spec.doc_md,
        description=(spec.description or f"raw objects of format {fmt} into the gold zone")[:200],
        default_args={"owner": spec.owner or "datalake", "retries": 0},
    ) as dag:
        claim = ClaimRawObjectsOperator(
            task_id="claim",
            format=fmt,
            limit=spec.batch if claim_limit is None else claim_limit,
            lease_seconds=spec.lease_seconds,
            max_attempts=spec.max_attempts,
            per_task=objects_per_task,
            **conns,
        )
        # Objects past this claim's batch get the next run at once, not at their next announcement.
        claim >> QueueNextRunOperator(task_id="queue_next", format=fmt, outlets=[asset])
        finish = FinishRawObjectsOperator(
            task_id="finish", format=fmt, record_ids=claim.output, targets=spec.targets, **conns
        )
        for target in spec.targets:
            load = LoadRawObjectOperator.partial(
                task_id=f"load__{target}",
                format=fmt,
                target=target,
                descriptor=given,
                cache_path=cache,
                swift_conn_id=swift_conn_id,
                run_record_ids=claim.output,  # its tasks keep the whole run's leases while they work
                outlets=outlets.get(target, []),
                **conns,
            ).expand(record_ids=claim.output)
            load >> finish
    return dag


def gold_assets(spec: DagSpec) -> dict[str, list[Asset]]:
    """The Assets each target of the spec writes, by target name: the load tasks' outlets.

    Group ``datalake`` as the raw assets; ``extra`` says the zone, the store and the kind of thing (table,
    measurement, bucket, collection, node, relationship). Everything is derived from the URI, so every DAG
    declaring one asset declares it alike.
    """
    assets: dict[str, list[Asset]] = {}
    for gold in spec.outlets:
        assets.setdefault(gold.target, []).append(
            Asset(
                name=gold.name,
                uri=gold.uri,
                group="datalake",
                extra={"zone": "gold", "store": gold.store, "kind": gold.kind},
            )
        )
    return assets


UNKNOWN_FORMATS_DAG_ID = "datalake_unknown_formats"


def unknown_formats_dag(
    *,
    dags_folder: str | os.PathLike[str] | None = None,
    mongo_conn_id: str = "mongo_default",
    swift_conn_id: str = "swift_default",
    database: str | None = None,
    schema: str | None = None,
    stores: tuple[str, ...] | None = None,
    poll_interval: float = 5.0,
    limit: int | None = None,
    workers: int | None = None,
    min_records: int | None = None,
    min_confidence: float | None = None,
    dag_id: str = UNKNOWN_FORMATS_DAG_ID,
) -> Any:
    """The DAG for committed objects no descriptor matched: infer a draft descriptor from each (see
    `inference.drafts`); under an `auto` policy the draft is activated and, when ``dags_folder`` is given,
    the factory's files are synced at once so the new format's DAG appears and takes the objects.

    Event-driven like the format DAGs: an AssetWatcher runs `CommittedObjectsTrigger` for objects without
    format that no run has claimed yet. ``stores``: the targets proposed (default: PostgreSQL, plus
    InfluxDB when the connection `influxdb_default` exists, so an auto-activated format never names a
    store this deployment lacks).

    One run takes the objects in batches of ``limit``, reads and infers each batch in a pool of ``workers``
    threads (one sample read per object) and groups each object with the draft of its shape; content
    that is no table is marked opaque. A draft needs ``min_records`` sampled records and a confidence of
    ``min_confidence``. Each setting left None is read when the task runs from Airflow's ``[datalake]``
    section (``inference_batch``, ``inference_workers``, ``inference_min_records``,
    ``inference_min_confidence``), else the defaults of `inference.drafts` and `inference.structure`.
    """
    asset = Asset(
        name=f"{dag_id}__raw",
        uri=unformatted_uri(dag_id),
        group="datalake",
        watchers=[
            AssetWatcher(
                name=f"{dag_id}__watch",
                trigger=CommittedObjectsTrigger(
                    format=None,
                    mongo_conn_id=mongo_conn_id,
                    database=database,
                    poll_interval=poll_interval,
                    query={"inference": {"$exists": False}},
                ),
            )
        ],
    )
    folder = str(dags_folder) if dags_folder is not None else None

    with DAG(
        dag_id=dag_id,
        schedule=[asset],
        catchup=False,
        max_active_runs=1,
        tags=["datalake", "inference"],
        doc_md=(
            "# Formats nobody described\n\nCommitted raw objects that no descriptor matched: a draft "
            "descriptor is inferred from the first bytes of each and stored in the catalog. Policy per "
            "container or application: `review` (default; `datalake formats drafts|approve|reject`) or "
            "`auto` (activated at once; its DAG processes the objects). Objects stay committed meanwhile."
        ),
        description="infer draft descriptors for raw objects of unknown formats",
        default_args={"owner": "datalake", "retries": 0},
    ) as dag:

        @task(task_id="infer")
        def infer() -> list[dict[str, Any]]:
            # deferred: the DAG file's parse loads neither Jinja, the catalog, Swift nor the inference
            from airflow_provider_datalake.factory.render import sync_dags_folder
            from airflow_provider_datalake.hooks.catalog import CatalogHook
            from airflow_provider_datalake.hooks.swift import SwiftHook
            from airflow_provider_datalake.inference import drafts, structure

            run_id = get_current_context()["run_id"]
            thresholds = structure.Thresholds(
                min_records=_setting(min_records, "inference_min_records", structure.MIN_RECORDS, int),
                min_confidence=_setting(
                    min_confidence, "inference_min_confidence", structure.MIN_CONFIDENCE, float
                ),
            )
            outcomes = drafts.infer_unformatted(
                run_id,
                catalog=CatalogHook(mongo_conn_id, database=database),
                swift=SwiftHook(swift_conn_id),
                stores=stores or _available_stores(),
                schema=schema,
                limit=_setting(limit, "inference_batch", drafts.BATCH, int),
                workers=_setting(workers, "inference_workers", drafts.WORKERS, int),
                thresholds=thresholds,
            )
            if folder and any(o.action == "activated" for o in outcomes):
                sync_dags_folder(folder, mongo_conn_id=mongo_conn_id, force=True)
            failed = [o.record_id for o in outcomes if o.action == "failed"]
            if failed:
                raise RuntimeError(f"inference failed for {len(failed)} object(s): {', '.join(failed)}")
            return [o.as_dict() for o in outcomes]

        infer()
    return dag


def _setting(given: Any, key: str, default: Any, kind: Any) -> Any:
    """A DAG argument, else ``[datalake] key`` from Airflow's configuration, else the default."""
    if given is not None:
        return kind(given)
    from airflow.configuration import conf

    value = conf.get("datalake", key, fallback=None)
    return default if value in (None, "") else kind(value)


def _available_stores() -> tuple[str, ...]:
    """PostgreSQL always; InfluxDB only where its connection is configured."""
    try:
        BaseHook.get_connection("influxdb_default")
    except Exception:
        return ("postgres",)
    return ("postgres", "influxdb")
