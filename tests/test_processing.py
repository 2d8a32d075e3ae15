"""A run's claim, finish and the recovery sweep against the real catalog: an object is `processed` only with a
success from every target it was due to load, and no object stays `processing` once its run has died."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

import pytest

from airflow_provider_datalake.hooks.catalog import CatalogHook, Status, utcnow
from airflow_provider_datalake.inference.drafts import release_expired
from airflow_provider_datalake.processing import (
    NO_OUTCOME,
    ONLY_TARGETS,
    LeaseKeeper,
    claim_objects,
    finish_objects,
    recover_expired,
    reprocess,
)

pytestmark = pytest.mark.stack

FMT = "fmt_proc"
TARGETS = ["pg", "influx"]


@pytest.fixture
def catalog(lake: dict) -> CatalogHook:
    return CatalogHook(lake["mongo_conn_id"])


def _committed(catalog: CatalogHook, n: int = 1, fmt: str | None = FMT) -> list[str]:
    ids = []
    for _ in range(n):
        rid = uuid.uuid4().hex
        catalog.raw_objects.insert_one(
            {
                "_id": rid,
                "format": fmt,
                "status": Status.COMMITTED.value,
                "dedupe_key": f"unique:{rid}",
                "swift_container": "c",
                "swift_object_id": rid,
                "creation_date": utcnow(),
            }
        )
        ids.append(rid)
    return ids


def _succeed(catalog: CatalogHook, rid: str, run: str, target: str) -> None:
    catalog.add_outcome(rid, {"target": target, "run_id": run, "rows_loaded": 1}, ok=True, store="postgres")


def _fail(catalog: CatalogHook, rid: str, run: str, target: str) -> None:
    catalog.add_outcome(rid, {"target": target, "run_id": run, "error": "ValueError: bad"}, ok=False)


def _errors(rec: dict[str, Any], run: str) -> list[tuple[Any, str]]:
    return [(op.get("target"), op["error"]) for op in rec.get("failed_operations", []) if op["run_id"] == run]


def test_claim_gives_a_lease_and_counts_the_attempt(catalog: CatalogHook) -> None:
    (rid,) = _committed(catalog)
    before = utcnow()
    assert claim_objects(FMT, "run1", catalog=catalog, lease=dt.timedelta(seconds=90), max_attempts=5) == [
        rid
    ]
    rec = catalog.get(rid)
    assert rec["status"] == "processing" and rec["processing_run"] == "run1"
    lease = rec["lease_until"].replace(tzinfo=dt.UTC)
    assert before + dt.timedelta(seconds=89) <= lease <= utcnow() + dt.timedelta(seconds=90)
    assert (rec["processing_attempts"], rec["max_attempts"], rec["lease_seconds"]) == (1, 5, 90)


def test_processed_only_when_every_due_target_succeeded(catalog: CatalogHook) -> None:
    done, one_failed = _committed(catalog, 2)
    claim_objects(FMT, "run1", catalog=catalog)
    for target in TARGETS:
        _succeed(catalog, done, "run1", target)
    _succeed(catalog, one_failed, "run1", "pg")
    _fail(catalog, one_failed, "run1", "influx")
    states = finish_objects([done, one_failed], "run1", catalog=catalog, targets=TARGETS)
    assert states == {done: "processed", one_failed: "failed"}
    assert "lease_until" not in catalog.get(done)


def test_a_target_without_outcome_is_a_failure_and_the_object_is_tried_again(catalog: CatalogHook) -> None:
    """The load task was killed: it recorded nothing. Not processed; another run takes the object."""
    (rid,) = _committed(catalog)
    claim_objects(FMT, "run1", catalog=catalog, max_attempts=2)
    _succeed(catalog, rid, "run1", "pg")  # influx's task died before recording anything
    assert finish_objects([rid], "run1", catalog=catalog, targets=TARGETS) == {rid: "committed"}
    rec = catalog.get(rid)
    assert _errors(rec, "run1") == [("influx", NO_OUTCOME)]
    assert "processing_run" not in rec and "lease_until" not in rec

    # The second and last attempt (the claim records the descriptor's limit each time): killed again.
    assert claim_objects(FMT, "run2", catalog=catalog, max_attempts=2) == [rid]
    assert finish_objects([rid], "run2", catalog=catalog, targets=TARGETS) == {rid: "failed"}
    assert sorted(_errors(catalog.get(rid), "run2")) == [("influx", NO_OUTCOME), ("pg", NO_OUTCOME)]


def test_a_recorded_failure_is_not_retried_even_with_a_target_missing(catalog: CatalogHook) -> None:
    (rid,) = _committed(catalog)
    claim_objects(FMT, "run1", catalog=catalog)
    _fail(catalog, rid, "run1", "pg")
    assert finish_objects([rid], "run1", catalog=catalog, targets=TARGETS) == {rid: "failed"}


def test_finish_counts_only_the_targets_a_reprocess_named(catalog: CatalogHook) -> None:
    (rid,) = _committed(catalog)
    claim_objects(FMT, "run1", catalog=catalog)
    for target in TARGETS:
        _succeed(catalog, rid, "run1", target)
    finish_objects([rid], "run1", catalog=catalog, targets=TARGETS)
    assert reprocess(catalog, ids=[rid], targets=["influx"]) == [rid]
    assert catalog.get(rid)["processing_attempts"] == 0  # a reprocess starts the count again
    claim_objects(FMT, "run2", catalog=catalog)
    assert catalog.get(rid)[ONLY_TARGETS] == ["influx"]
    _succeed(catalog, rid, "run2", "influx")  # pg is skipped by its task: no outcome expected
    assert finish_objects([rid], "run2", catalog=catalog, targets=TARGETS) == {rid: "processed"}


def test_finish_ignores_objects_another_run_owns(catalog: CatalogHook) -> None:
    (rid,) = _committed(catalog)
    claim_objects(FMT, "run1", catalog=catalog)
    assert finish_objects([rid], "run-other", catalog=catalog, targets=TARGETS) == {}
    assert catalog.get(rid)["status"] == "processing"


def test_recovery_sweep_brings_back_objects_of_a_dead_run(catalog: CatalogHook) -> None:
    live, dead, last = _committed(catalog, 3)
    claim_objects(FMT, "run-live", catalog=catalog, ids=[live], lease=dt.timedelta(minutes=5))
    claim_objects(FMT, "run-dead", catalog=catalog, ids=[dead], lease=dt.timedelta(seconds=1))
    claim_objects(FMT, "run-last", catalog=catalog, ids=[last], lease=dt.timedelta(seconds=1), max_attempts=1)
    later = utcnow() + dt.timedelta(seconds=2)
    assert recover_expired(catalog, now=later) == {dead: "committed", last: "failed"}
    assert catalog.get(live)["status"] == "processing"  # its lease still runs
    rec = catalog.get(dead)
    assert "processing_run" not in rec and "lease_until" not in rec
    [(target, why)] = _errors(rec, "run-dead")
    assert target is None and "lease expired" in why and "run-dead" in why
    [(_, why)] = _errors(catalog.get(last), "run-last")
    assert "gave up" in why
    assert recover_expired(catalog, now=later) == {}  # nothing twice
    # The run that lost the object finishes late: it no longer owns it, nothing changes.
    assert finish_objects([dead], "run-dead", catalog=catalog, targets=TARGETS) == {}
    assert claim_objects(FMT, "run-next", catalog=catalog) == [dead]


def test_a_working_load_keeps_its_lease(catalog: CatalogHook) -> None:
    (rid,) = _committed(catalog)
    claim_objects(FMT, "run1", catalog=catalog, lease=dt.timedelta(seconds=0.6))
    with LeaseKeeper(catalog, catalog.get(rid), "run1"):
        time.sleep(1.5)  # longer than the lease: only the renewals keep it
        assert recover_expired(catalog) == {}
        assert catalog.get(rid)["lease_until"].replace(tzinfo=dt.UTC) > utcnow()
    time.sleep(0.8)  # the load stopped: its lease runs out
    assert recover_expired(catalog) == {rid: "committed"}


def test_a_task_loading_several_objects_keeps_the_lease_of_each(catalog: CatalogHook) -> None:
    ids = _committed(catalog, 3)
    claim_objects(FMT, "run1", catalog=catalog, lease=dt.timedelta(seconds=0.6))
    with LeaseKeeper(catalog, [catalog.get(rid) for rid in ids], "run1"):
        time.sleep(1.5)  # the last ones wait their turn: their leases are kept all the same
        assert recover_expired(catalog) == {}
    time.sleep(0.8)
    assert recover_expired(catalog) == dict.fromkeys(ids, "committed")


def test_a_working_task_keeps_the_leases_of_its_whole_run(catalog: CatalogHook) -> None:
    mine, waiting, other_run = _committed(catalog, 3)
    claim_objects(FMT, "run1", catalog=catalog, ids=[mine, waiting], lease=dt.timedelta(seconds=0.6))
    claim_objects(FMT, "run2", catalog=catalog, ids=[other_run], lease=dt.timedelta(seconds=0.6))
    # `waiting`'s own task has no slot yet; a task of its run works on `mine`; another run's id is given by
    # mistake: only objects this run claimed are renewed.
    with LeaseKeeper(catalog, catalog.get(mine), "run1", also=[mine, waiting, other_run]):
        time.sleep(1.5)
        assert recover_expired(catalog) == {other_run: "committed"}
    time.sleep(0.8)  # the run stopped working: its leases run out
    assert recover_expired(catalog) == {mine: "committed", waiting: "committed"}


def test_an_inference_claim_that_ran_out_is_released_then_failed(catalog: CatalogHook) -> None:
    (rid,) = _committed(catalog, fmt=None)
    past = utcnow() - dt.timedelta(seconds=1)

    def claim(run: str) -> None:
        catalog.raw_objects.update_one(
            {"_id": rid}, {"$set": {"inference": {"state": "inferring", "run_id": run, "until": past}}}
        )

    claim("inf1")
    assert release_expired(catalog, max_attempts=2) == {rid: "committed"}
    assert "inference" not in catalog.get(rid)  # unclaimed again: the unknown-formats trigger sees it
    claim("inf2")
    assert release_expired(catalog, max_attempts=2) == {rid: "inference failed"}
    inference = catalog.get(rid)["inference"]
    assert inference["state"] == "failed" and "expired 2 times" in inference["reason"]
