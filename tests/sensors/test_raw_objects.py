"""NewRawObjectSensor: returns at once when objects wait, else defers to the trigger (no worker slot)."""

from __future__ import annotations

import json
import uuid

import pytest
from airflow.exceptions import TaskDeferred

from airflow_provider_datalake.hooks.catalog import CatalogHook, utcnow
from airflow_provider_datalake.sensors.raw_objects import NewRawObjectSensor
from airflow_provider_datalake.triggers.raw_objects import CommittedObjectsTrigger

pytestmark = pytest.mark.stack


def test_defers_then_completes_with_the_ids(mongo_conn: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    database = f"test_sens_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("AIRFLOW_CONN_MONGO_SENS", json.dumps({**mongo_conn, "schema": database}))
    catalog = CatalogHook("mongo_sens")
    try:
        sensor = NewRawObjectSensor(task_id="wait", format="fmt_s", mongo_conn_id="mongo_sens")
        with pytest.raises(TaskDeferred) as deferred:
            sensor.execute(context={})
        trigger = deferred.value.trigger
        assert isinstance(trigger, CommittedObjectsTrigger)
        assert trigger.once and trigger.format == "fmt_s"
        assert deferred.value.method_name == "execute_complete"

        rid = uuid.uuid4().hex
        catalog.raw_objects.insert_one(
            {
                "_id": rid,
                "format": "fmt_s",
                "status": "committed",
                "dedupe_key": rid,
                "creation_date": utcnow(),
            }
        )
        assert sensor.execute(context={}) == [rid]  # objects already there: no deferral
        event = {"format": "fmt_s", "object_ids": [rid], "count": 1}
        assert sensor.execute_complete(context={}, event=event) == [rid]
        assert NewRawObjectSensor(
            task_id="poke", format="fmt_s", mongo_conn_id="mongo_sens", deferrable=False
        ).poke(context={})
    finally:
        catalog.get_conn().drop_database(database)
