"""`datalake health` against the real catalog and the stack's Airflow: what is stuck past its bound is
reported (exit 1), the recovery sweep clears expired leases, and a live Airflow shows its scheduler and
triggerer alive."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import pytest
from click.testing import CliRunner

from airflow_provider_datalake.cli import cli
from airflow_provider_datalake.descriptors.model import Descriptor
from airflow_provider_datalake.descriptors.store import FormatStore
from airflow_provider_datalake.health import check_health
from airflow_provider_datalake.hooks.catalog import CatalogHook, Status, utcnow
from airflow_provider_datalake.processing import claim_objects

pytestmark = pytest.mark.stack

FMT = "fmt_health"


@pytest.fixture
def catalog(lake: dict) -> CatalogHook:
    """The lake's catalog, with format FMT active (objects of a format nobody described are not stuck)."""
    hook = CatalogHook(lake["mongo_conn_id"])
    desc = {
        "name": FMT,
        "parser": {"kind": "csv"},
        "fields": [{"name": "a"}],
        "targets": [{"store": "postgres", "table": "t_health"}],
    }
    FormatStore(hook).push(Descriptor.model_validate(desc), author="tests")
    return hook


def _record(catalog: CatalogHook, status: Status, age: dt.timedelta, **extra: object) -> str:
    rid = uuid.uuid4().hex
    when = utcnow() - age
    catalog.raw_objects.insert_one(
        {
            "_id": rid,
            "format": FMT,
            "status": status.value,
            "dedupe_key": f"unique:{rid}",
            "swift_container": "c",
            "swift_object_id": rid,
            "creation_date": when,
            "last_modified": when,
            **extra,
        }
    )
    return rid


def _by_name(report) -> dict:
    return {check.name: check for check in report.checks}


def test_a_quiet_lake_is_healthy_and_airflow_is_alive(catalog: CatalogHook) -> None:
    _record(catalog, Status.COMMITTED, dt.timedelta(minutes=1))  # young: within the bound
    report = check_health(catalog, bound=dt.timedelta(minutes=15))
    checks = _by_name(report)
    assert report.ok, [(c.name, c.detail) for c in report.checks]
    assert checks["scheduler"].ok and checks["triggerer"].ok and checks["executor"].ok


def test_stuck_objects_are_reported_and_the_sweep_recovers_expired_leases(
    lake: dict, catalog: CatalogHook
) -> None:
    waiting = _record(catalog, Status.COMMITTED, dt.timedelta(hours=1))
    _record(catalog, Status.COMMITTED, dt.timedelta(hours=1), format="nobody_described")  # not stuck
    stuck = _record(catalog, Status.COMMITTED, dt.timedelta(hours=2))
    claim_objects(FMT, "run-dead", catalog=catalog, ids=[stuck], lease=dt.timedelta(seconds=1))
    catalog.raw_objects.update_one(
        {"_id": stuck}, {"$set": {"processing_started": utcnow() - dt.timedelta(hours=1)}}
    )
    later = utcnow() + dt.timedelta(seconds=2)
    report = check_health(catalog, bound=dt.timedelta(minutes=15), airflow=False, now=later)
    checks = _by_name(report)
    assert not report.ok
    assert checks["committed_too_long"].examples == [waiting]
    assert checks["processing_too_long"].examples == [stuck]
    assert checks["processing_lease_expired"].count == 1

    time.sleep(1.1)  # the 1 s lease really runs out before the command's own sweep
    result = CliRunner().invoke(
        cli,
        ["--mongo-conn-id", lake["mongo_conn_id"], "health", "--no-airflow", "--recover", "--json"],
    )
    assert result.exit_code == 1, result.output  # `waiting` is still past the bound
    body = json.loads(result.stdout)
    assert body["recovered"] == {stuck: "committed"}
    checks = {c["name"]: c for c in body["checks"]}
    assert checks["processing_lease_expired"]["ok"] and checks["processing_too_long"]["ok"]
    # The recovered one is committed again, as of now: only `waiting` is past the bound.
    assert checks["committed_too_long"]["examples"] == [waiting]
    assert catalog.get(stuck)["status"] == "committed"

    text = CliRunner().invoke(cli, ["--mongo-conn-id", lake["mongo_conn_id"], "health", "--no-airflow"])
    assert text.exit_code == 1 and "FAIL committed_too_long: 1 object(s)" in text.stdout, text.output


def test_objects_list_shows_the_lease_of_processing_objects(lake: dict, catalog: CatalogHook) -> None:
    rid = _record(catalog, Status.COMMITTED, dt.timedelta(minutes=1))
    claim_objects(FMT, "run1", catalog=catalog, ids=[rid], max_attempts=4)
    args = ["--mongo-conn-id", lake["mongo_conn_id"], "objects", "list", "--status", "processing"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert rid in result.stdout and "lease until (UTC)" in result.stdout and "try 1/4" in result.stdout
