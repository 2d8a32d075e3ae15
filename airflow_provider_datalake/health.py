"""Is the lake moving? What `datalake health` reports, read from the catalog and Airflow's metadata database.

The promise is that every committed object reaches `processed` or `failed` within a known time, whatever
dies. This module says where that is not so, from outside Airflow's own view, so that an operator sees it
even when Airflow is wedged (an executor whose workers were killed shows its tasks `queued` for ever):

- objects committed, or processing, for longer than the bound; processing objects whose lease ran out
  (the recovery sweep has not run: no triggerer?); pending records past their lease (`datalake reconcile`);
- whether Airflow's executor started any task during the bound while tasks waited queued, and whether the
  scheduler and the triggerer (which runs the recovery sweep) are alive.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from datalake_catalog.catalog import COUNT_CAP, Catalog, Status, utcnow

DEFAULT_BOUND = dt.timedelta(minutes=15)


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    count: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class Health:
    bound_seconds: float
    checks: list[Check]
    recovered: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **asdict(self)}


def _objects(catalog: Catalog, name: str, query: dict[str, Any], what: str, limit: int = 5) -> Check:
    ids = [doc["_id"] for doc in catalog.raw_objects.find(query, {"_id": 1}).limit(limit)]
    count = catalog.count(**query) if len(ids) == limit else len(ids)
    shown = f"{count}+" if count >= COUNT_CAP else str(count)
    detail = f"{shown} {what}" if count else f"none {what}"
    return Check(name, count == 0, detail, count, ids)


def catalog_checks(catalog: Catalog, bound: dt.timedelta, now: dt.datetime) -> list[Check]:
    """Objects of an active format waiting for a run, or processing, past the bound; expired leases. (An
    object of a format nobody described waits for a descriptor or a steward, not for Airflow.)"""
    from airflow_provider_datalake.descriptors.store import ACTIVE, FormatStore

    before = now - bound
    minutes = f"{bound.total_seconds() / 60:g} min"
    active = FormatStore(catalog).collection.distinct("name", {"status": ACTIVE})
    return [
        _objects(
            catalog,
            "committed_too_long",
            {"status": Status.COMMITTED.value, "format": {"$in": active}, "last_modified": {"$lt": before}},
            f"object(s) of an active format committed for over {minutes}, not taken by a run",
        ),
        _objects(
            catalog,
            "processing_too_long",
            {"status": Status.PROCESSING.value, "processing_started": {"$lt": before}},
            f"object(s) processing for over {minutes}",
        ),
        _objects(
            catalog,
            "processing_lease_expired",
            {"status": Status.PROCESSING.value, "lease_until": {"$lt": now}},
            "processing object(s) whose lease ran out, not yet recovered (is the triggerer running?)",
        ),
        _objects(
            catalog,
            "pending_lease_expired",
            {
                "status": {"$in": [Status.PENDING.value, Status.RECONCILING.value]},
                "lease_until": {"$lt": now},
            },
            "pending insert(s) past their lease: run `datalake reconcile`",
        ),
    ]


def airflow_checks(bound: dt.timedelta, now: dt.datetime) -> list[Check]:
    """From Airflow's metadata database: tasks queued past the bound while the executor started none, and
    the scheduler's and triggerer's heartbeats. One failed check when the database cannot be read."""
    try:
        from airflow.jobs.job import Job
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session
        from airflow.utils.state import TaskInstanceState
        from sqlalchemy import func, select

        before = now - bound
        with create_session() as session:
            started = session.scalar(select(func.max(TaskInstance.start_date)))
            queued = session.scalar(
                select(func.count())
                .select_from(TaskInstance)
                .where(TaskInstance.state == TaskInstanceState.QUEUED, TaskInstance.queued_dttm < before)
            )
            beats = {
                job_type: session.scalar(
                    select(func.max(Job.latest_heartbeat)).where(
                        Job.job_type == job_type, Job.state == "running"
                    )
                )
                for job_type in ("SchedulerJob", "TriggererJob")
            }
    except Exception as exc:  # no metadata database here (a producer's machine): say so, do not guess
        return [
            Check("airflow", False, f"Airflow's metadata database could not be read: {exc}".splitlines()[0])
        ]

    def aware(value: dt.datetime | None) -> dt.datetime | None:
        return None if value is None else value if value.tzinfo else value.replace(tzinfo=dt.UTC)

    last_start = aware(started)
    idle = last_start is None or last_start < before
    seen = f"{last_start:%Y-%m-%d %H:%M:%S} UTC" if last_start else "never"
    wedged = bool(queued) and idle
    detail = f"{queued} task(s) queued for over {bound.total_seconds() / 60:g} min; last task start {seen}"
    if wedged:
        detail += (
            ": the executor takes no task (restart the scheduler; on LocalExecutor a killed worker stops"
            " it, see docs/operations.md)"
        )
    checks = [Check("executor", not wedged, detail, int(queued or 0))]
    for job_type, what in (("SchedulerJob", "scheduler"), ("TriggererJob", "triggerer")):
        beat = aware(beats[job_type])
        alive = beat is not None and now - beat < dt.timedelta(minutes=2)
        seen = f"{beat:%Y-%m-%d %H:%M:%S} UTC" if beat else "never"
        checks.append(
            Check(what, alive, f"last heartbeat {seen}" + ("" if alive else f": the {what} is down"))
        )
    return checks


def check_health(
    catalog: Catalog,
    *,
    bound: dt.timedelta = DEFAULT_BOUND,
    recover: bool = False,
    airflow: bool = True,
    now: dt.datetime | None = None,
) -> Health:
    """Every check, after the recovery sweep when ``recover`` (what the triggerer would have done)."""
    from airflow_provider_datalake.processing import recover_expired

    now = now or utcnow()
    recovered = recover_expired(catalog, now=now) if recover else {}
    checks = catalog_checks(catalog, bound, now)
    if airflow:
        checks += airflow_checks(bound, now)
    return Health(bound.total_seconds(), checks, recovered)


# --------------------------------------------------------------------------- the stores


def _ping(store: str, conn_id: str) -> None:
    """One cheap authenticated request to a store through its Airflow hook; raises when it fails."""
    if store == "postgres":
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        PostgresHook(postgres_conn_id=conn_id).get_first("SELECT 1")
    elif store == "mongodb":
        from airflow.providers.mongo.hooks.mongo import MongoHook

        MongoHook(mongo_conn_id=conn_id).get_conn().admin.command("ping")
    elif store == "influxdb":
        from airflow.providers.influxdb.hooks.influxdb import InfluxDBHook

        if not InfluxDBHook(conn_id=conn_id).get_conn().ping():
            raise ConnectionError("no answer to ping")
    elif store == "neo4j":
        from airflow.providers.neo4j.hooks.neo4j import Neo4jHook

        Neo4jHook(conn_id=conn_id).run("RETURN 1")
    else:
        raise ValueError(f"unknown store {store!r}")


def store_checks(
    catalog: Catalog, swift: Any, gold: set[tuple[str, str]], timeout: float = 10.0
) -> list[Check]:
    """Is each store reachable: the raw zone (Swift), the catalog, and every gold store (store, conn_id)
    that an active format loads into. The gold stores are asked in parallel, each at most ``timeout``."""
    from concurrent.futures import ThreadPoolExecutor, wait

    checks = []
    try:
        catalog.raw_objects.database.command("ping")
        checks.append(Check("store:catalog", True, f"catalog reachable ({catalog.name})"))
    except Exception as exc:
        checks.append(Check("store:catalog", False, f"catalog unreachable: {exc}".splitlines()[0]))
    ok, detail = swift.test_connection()
    checks.append(Check("store:swift", bool(ok), f"Swift: {detail}"))
    pool = ThreadPoolExecutor(max_workers=max(1, min(8, len(gold))))
    futures = {pool.submit(_ping, store, conn_id): (store, conn_id) for store, conn_id in sorted(gold)}
    wait(futures, timeout=timeout)
    for future, (store, conn_id) in futures.items():
        name = f"store:{store}:{conn_id}"
        if not future.done():
            checks.append(Check(name, False, f"{store} ({conn_id}): no answer in {timeout:g} s"))
        elif (error := future.exception()) is not None:
            checks.append(Check(name, False, f"{store} ({conn_id}): {error}".splitlines()[0]))
        else:
            checks.append(Check(name, True, f"{store} ({conn_id}) reachable"))
    pool.shutdown(wait=False, cancel_futures=True)
    return checks
