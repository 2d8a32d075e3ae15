"""One draft per shape, not per file; text that is no table makes no draft (on the stack)."""

from __future__ import annotations

import base64
import random
import uuid
from pathlib import Path

import pytest

from airflow_provider_datalake.descriptors.store import FormatStore
from airflow_provider_datalake.hooks.catalog import CatalogHook
from airflow_provider_datalake.hooks.connect import swift_for
from airflow_provider_datalake.hooks.swift import SwiftHook
from airflow_provider_datalake.inference.corpus import json_lines, mqtt_lines
from airflow_provider_datalake.inference.drafts import AUTO, Drafts, PolicyStore, infer_unformatted
from airflow_provider_datalake.inference.structure import Thresholds
from tests.conftest import insert_into

pytestmark = pytest.mark.stack


def _scrambled(rng: random.Random, ext: str) -> str:
    return "".join(rng.choice("abcdefghjkmnpqrstuvwxyz0123456789") for _ in range(9)) + ext


def _insert(lake: dict, tmp_path: Path, data: bytes, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return insert_into(lake, path)["_id"]


def _run(lake: dict, **kw: object) -> list[dict]:
    outcomes = infer_unformatted(
        f"run_{uuid.uuid4().hex[:6]}",
        catalog=CatalogHook(lake["mongo_conn_id"]),
        swift=SwiftHook(lake["swift_conn_id"]),
        stores=["postgres"],
        **kw,  # type: ignore[arg-type]
    )
    return [o.as_dict() for o in outcomes]


def test_objects_of_one_shape_share_one_draft_and_opaque_text_makes_none(lake: dict, tmp_path: Path) -> None:
    rng = random.Random(5)
    catalog = CatalogHook(lake["mongo_conn_id"])
    jsonl = [_insert(lake, tmp_path, json_lines(rng, 30 + i).data, _scrambled(rng, ".log")) for i in range(6)]
    mqtt = [_insert(lake, tmp_path, mqtt_lines(rng, 20 + i).data, _scrambled(rng, ".txt")) for i in range(5)]
    opaque = [
        _insert(lake, tmp_path, b"".join(base64.b64encode(rng.randbytes(900)) + b"\n" for _ in range(20)), n)
        for n in ("f1.txt", "f17.txt", "f100.txt")
    ]
    outs = {o["record_id"]: o for o in _run(lake, limit=4, workers=3)}  # several batches, in parallel
    assert len(outs) == 14
    drafts = Drafts(FormatStore(catalog))
    listed = drafts.list()
    assert len(listed) == 2  # one draft per shape, whatever the file names
    by_objects = {frozenset(d["objects"]): d for d in listed}
    assert set(by_objects) == {frozenset(jsonl), frozenset(mqtt)}
    for draft in listed:
        assert draft["waiting"] == len(draft["objects"]) and draft["confidence"] >= 0.9
        assert draft["shape"].startswith(("jsonl", "neocampus_mqtt"))
    for rid in opaque:
        assert outs[rid]["action"] == "opaque" and "column name" in outs[rid]["detail"]
        kept = catalog.get(rid)
        assert kept["status"] == "committed" and kept["inference"]["state"] == "opaque"
        assert kept["format"] is None

    # approve and reject act on every object grouped under the draft
    mqtt_draft = by_objects[frozenset(mqtt)]
    version, released = drafts.approve(mqtt_draft["name"])
    assert version == mqtt_draft["version"]
    assert sorted(released) == sorted(mqtt)
    assert {catalog.get(r)["format"] for r in mqtt} == {mqtt_draft["name"]}
    jsonl_draft = by_objects[frozenset(jsonl)]
    drafts.reject(jsonl_draft["name"], reason="not ours")
    assert {catalog.get(r)["inference"]["state"] for r in jsonl} == {"rejected"}

    # a later file of the approved shape goes straight to it, whatever its name
    later = _insert(lake, tmp_path, mqtt_lines(rng, 25).data, "zz_other.json")
    (out,) = _run(lake)
    assert out["action"] == "routed" and out["format"] == mqtt_draft["name"]
    assert catalog.get(later)["format"] == mqtt_draft["name"]


def test_a_draft_needs_enough_records_but_a_small_file_joins_its_shape(lake: dict, tmp_path: Path) -> None:
    catalog = CatalogHook(lake["mongo_conn_id"])
    PolicyStore(catalog).set(AUTO, container=lake["container"])
    rows = "".join(f"2021-05-0{i % 9 + 1}T10:00:00Z,r{i % 3},{i}.5\n" for i in range(3))
    small = _insert(lake, tmp_path, ("time,room,temp\n" + rows).encode(), "tiny.csv")
    (out,) = _run(lake)
    assert out["action"] == "opaque" and "a new format needs at least 5" in out["detail"]
    assert Drafts(FormatStore(catalog)).list() == [] and FormatStore(catalog).list_active() == []
    big_rows = "".join(f"2021-05-0{i % 9 + 1}T10:00:00Z,r{i % 3},{i}.5\n" for i in range(40))
    big = _insert(lake, tmp_path, ("time,room,temp\n" + big_rows).encode(), "q7.csv")
    other_small = _insert(lake, tmp_path, ("time,room,temp\n" + rows.replace("r1", "r9")).encode(), "b.csv")
    outs = {o["record_id"]: o for o in _run(lake, thresholds=Thresholds(min_records=5))}
    assert outs[big]["action"] == "activated"
    assert outs[other_small]["action"] == "routed"  # too small to found a format, enough to join one
    assert catalog.get(other_small)["format"] == catalog.get(big)["format"] == "q7"
    assert catalog.get(small)["inference"]["state"] == "opaque"  # decided before: left as it is


def test_the_pool_reads_with_a_client_made_from_the_environment(lake: dict, tmp_path: Path) -> None:
    # The pool gives each worker its own Swift client; one built from an environment connection (no Airflow)
    # must hand its connection on, as SwiftHook's reads it again from Airflow.
    rng = random.Random(8)
    ids = [_insert(lake, tmp_path, json_lines(rng, 30 + i).data, _scrambled(rng, ".log")) for i in range(4)]
    outcomes = infer_unformatted(
        f"run_{uuid.uuid4().hex[:6]}",
        catalog=CatalogHook(lake["mongo_conn_id"]),
        swift=swift_for(lake["swift_conn_id"]),
        stores=["postgres"],
        workers=2,
    )
    assert sorted(o.record_id for o in outcomes) == sorted(ids)
    assert {o.action for o in outcomes} == {"review"}, [o.as_dict() for o in outcomes]
