"""Drafts, policy and versions that only add fields: pure comparisons, then the catalog on the stack."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from airflow_provider_datalake.descriptors.model import Descriptor
from airflow_provider_datalake.descriptors.store import FormatStore
from airflow_provider_datalake.hooks.catalog import CatalogHook
from airflow_provider_datalake.hooks.swift import SwiftHook
from airflow_provider_datalake.inference import infer_sample
from airflow_provider_datalake.inference.drafts import (
    AUTO,
    Drafts,
    PolicyStore,
    claim_unformatted,
    infer_unformatted,
)
from airflow_provider_datalake.inference.evolution import evolve
from airflow_provider_datalake.inference.sniff import Sample
from tests.conftest import insert_into


def _lines(day: int, rows: int, last: list[str], head: str = "time,room,temp") -> bytes:
    """A header and ``rows`` lines (a draft needs at least five records), the last cells from ``last``."""
    body = "".join(
        f"2020-01-{day:02d}T{i:02d}:00:00Z,{'ab'[i % 2]},{last[i % len(last)]}\n" for i in range(rows)
    )
    return f"{head}\n{body}".encode()


V1 = _lines(1, 6, ["1.5", "2.5"])
V2 = _lines(2, 6, ["1.5,40", "2.5,41"], head="time,room,temp,humidity")
CONFLICT = _lines(3, 6, ["warm", "cold"])


def _desc(data: bytes) -> Descriptor:
    return infer_sample(Sample(data, True), name="rooms", stores=["postgres"]).descriptor


def test_same_additive_conflict() -> None:
    known = _desc(V1)
    assert evolve(known, _desc(V1), Sample(V1, True)).kind == "same"
    more = evolve(known, _desc(V2), Sample(V2, True))
    assert more.kind == "additive" and more.added == ["humidity"]
    assert [f.name for f in more.descriptor.fields] == ["time", "room", "temp", "humidity"]
    assert more.descriptor.fields[:3] == known.fields  # never dropped, never retyped
    clash = evolve(known, _desc(CONFLICT), Sample(CONFLICT, True))
    assert clash.kind == "conflict" and clash.conflicts == ["temp"]
    assert clash.descriptor.field("temp").type.value == "string"  # the proposal, for review
    fewer = b"time,temp\n2020-01-04T00:00:00Z,3.5\n"  # a column missing: stays, as nulls
    assert evolve(known, _desc(fewer), Sample(fewer, True)).kind == "same"
    other = b"time;room;temp\n2020-01-01T00:00:00Z;a;1,5\n"
    assert evolve(known, _desc(other), Sample(other, True)).kind == "conflict"  # another dialect


def _rooms(n: int, temps: dict[int, str] | None = None) -> bytes:
    temps = temps or {}
    body = "".join(
        f"2020-01-01T{i // 60:02d}:{i % 60:02d}:00Z,{'ab'[i % 2]},{temps.get(i, f'{i}.5')}\n"
        for i in range(n)
    )
    return ("time,room,temp\n" + body).encode()


def test_outliers_fit_the_known_version_and_null_markers_are_added() -> None:
    known = _desc(_rooms(200))
    stray = _rooms(200, {7: "warm"})  # one outlier: the rows are quarantined, as in a first file
    assert _desc(stray).field("temp").type.value == "float"
    assert evolve(known, _desc(stray), Sample(stray, True)).kind == "same"
    tokens = _rooms(200, {3: "n/a", 9: "n/a"})  # a new null marker: a version that reads it
    more = evolve(known, _desc(tokens), Sample(tokens, True))
    assert more.kind == "additive" and more.added == [] and more.markers == ["n/a"]
    assert more.descriptor.parser.null_values[-1] == "n/a" and more.descriptor.fields == known.fields
    assert evolve(more.descriptor, _desc(tokens), Sample(tokens, True)).kind == "same"
    many = _rooms(200, {i: "warm" for i in range(0, 200, 2)})  # not outliers: a conflict, for review
    assert evolve(known, _desc(many), Sample(many, True)).kind == "conflict"


# ---------------------------------------------------------------------------------------- on the stack


def _run(lake: dict) -> list[dict]:
    catalog = CatalogHook(lake["mongo_conn_id"])
    outcomes = infer_unformatted(
        f"run_{uuid.uuid4().hex[:6]}",
        catalog=catalog,
        swift=SwiftHook(lake["swift_conn_id"]),
        stores=["postgres"],
    )
    return [o.as_dict() for o in outcomes]


@pytest.mark.stack
def test_policy_precedence(lake: dict) -> None:
    policies = PolicyStore(CatalogHook(lake["mongo_conn_id"]))
    assert policies.mode_for(container="c", application="a") == "review"
    policies.set(AUTO, container="c")
    assert policies.mode_for(container="c", application="a") == "auto"
    policies.set("review", application="a")
    assert policies.mode_for(container="c", application="a") == "review"  # the application wins
    assert policies.mode_for(container="c", application=None) == "auto"
    with pytest.raises(ValueError, match="one of them"):
        policies.set(AUTO, container="c", application="a")
    with pytest.raises(ValueError, match="review, auto"):
        policies.set("yes", container="c")


@pytest.mark.stack
def test_review_then_additive_version_then_approve_releases_everything(lake: dict, tmp_path: Path) -> None:
    catalog = CatalogHook(lake["mongo_conn_id"])
    first = tmp_path / "rooms_0001.csv"
    first.write_bytes(V1)
    rec1 = insert_into(lake, first)
    assert rec1["format"] is None
    (out,) = _run(lake)
    assert out["action"] == "review" and out["format"] == "rooms" and out["version"] == 1
    assert catalog.get(rec1["_id"])["status"] == "committed"  # nothing lost, nothing processed
    assert catalog.get(rec1["_id"])["inference"]["state"] == "waiting"
    assert _run(lake) == []  # claimed once: a second run has nothing to do

    second = tmp_path / "rooms_0002.csv"
    second.write_bytes(V2)
    rec2 = insert_into(lake, second)
    (out,) = _run(lake)
    assert out["action"] == "review" and out["version"] == 2 and "adds humidity" in out["detail"]

    drafts = Drafts(FormatStore(catalog))
    listed = drafts.list()
    assert [(d["name"], d["version"], d["waiting"]) for d in listed] == [("rooms", 1, 1), ("rooms", 2, 1)]
    version, released = drafts.approve("rooms")
    assert version == 2 and sorted(released) == sorted([rec1["_id"], rec2["_id"]])
    assert {catalog.get(r)["format"] for r in released} == {"rooms"}
    store = FormatStore(catalog)
    assert [v.status for v in store.history("rooms")] == ["rejected", "active"]  # v1 folded into v2
    assert [f.name for f in store.get("rooms").fields] == ["time", "room", "temp", "humidity"]

    # A later file of the known shape goes straight to the format; a conflicting one waits for review.
    third = tmp_path / "rooms_0003.csv"
    third.write_bytes(V1.replace(b"2020-01-01", b"2020-02-01"))
    rec3 = insert_into(lake, third)
    fourth = tmp_path / "rooms_0004.csv"
    fourth.write_bytes(CONFLICT)
    rec4 = insert_into(lake, fourth)
    PolicyStore(catalog).set(AUTO, container=lake["container"])
    outs = {o["record_id"]: o for o in _run(lake)}
    assert outs[rec3["_id"]]["action"] == "routed" and catalog.get(rec3["_id"])["format"] == "rooms"
    assert outs[rec4["_id"]]["action"] == "review" and "conflict" in outs[rec4["_id"]]["detail"]
    assert catalog.get(rec4["_id"])["format"] is None
    assert drafts.reject("rooms") == 3
    assert catalog.get(rec4["_id"])["inference"]["state"] == "rejected"
    assert store.get("rooms").version == 2


@pytest.mark.stack
def test_auto_activates_and_binaries_are_opaque(lake: dict, tmp_path: Path) -> None:
    catalog = CatalogHook(lake["mongo_conn_id"])
    PolicyStore(catalog).set(AUTO, application="weather-bot")
    path = tmp_path / "weather.csv"
    path.write_bytes(V1)
    rec = insert_into(lake, path, application="weather-bot")
    image = tmp_path / "photo.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    img = insert_into(lake, image)
    outs = {o["record_id"]: o for o in _run(lake)}
    assert outs[rec["_id"]]["action"] == "activated" and outs[rec["_id"]]["released"] == [rec["_id"]]
    assert catalog.get(rec["_id"])["format"] == "weather"
    assert FormatStore(catalog).get("weather") is not None
    assert outs[img["_id"]]["action"] == "opaque" and "binary" in outs[img["_id"]]["detail"]
    kept = catalog.get(img["_id"])
    assert kept["inference"]["state"] == "opaque" and kept["status"] == "committed"
    assert claim_unformatted(catalog, "again") == []


@pytest.mark.stack
def test_a_formatted_object_dedupes_later_copies_under_its_format(lake: dict, tmp_path: Path) -> None:
    catalog = CatalogHook(lake["mongo_conn_id"])
    PolicyStore(catalog).set(AUTO, container=lake["container"])
    path = tmp_path / "rooms_0001.csv"
    path.write_bytes(V1)
    first = insert_into(lake, path)
    assert first["dedupe_key"].startswith("-:")  # no format yet
    (out,) = _run(lake)
    assert out["action"] == "activated"
    formatted = catalog.get(first["_id"])
    assert formatted["format"] == "rooms" and formatted["dedupe_key"] == f"rooms:{first['sha256']}"
    again = insert_into(lake, path, format="rooms")  # the same bytes, now named: no second copy
    assert again["_id"] == first["_id"]


@pytest.mark.stack
def test_objects_matching_a_descriptor_are_not_touched(lake: dict, tmp_path: Path) -> None:
    catalog = CatalogHook(lake["mongo_conn_id"])
    known = _desc(V1).model_copy(update={"name": "known_rooms"})
    known = Descriptor.model_validate(
        {**known.model_dump(by_alias=True), "match": {"filenames": ["known_*.csv"]}}
    )
    FormatStore(catalog).push(known)
    path = tmp_path / "known_0001.csv"
    path.write_bytes(V1)
    rec = insert_into(lake, path)
    assert rec["format"] == "known_rooms"  # matched at insert
    assert _run(lake) == []
    assert "inference" not in catalog.get(rec["_id"])
    # A human format's name is never versioned by inference.
    other = tmp_path / "known_rooms.txt"  # same name, but not matched by the glob
    other.write_bytes(V2)
    insert_into(lake, other)
    (out,) = _run(lake)
    assert out["format"] == "known_rooms_inferred"
    assert [v.version for v in FormatStore(catalog).history("known_rooms")] == [1]


def test_the_unknown_formats_dag_and_its_file(tmp_path: Path) -> None:
    from airflow_provider_datalake.factory import install_dags_folder
    from airflow_provider_datalake.factory.dags import unknown_formats_dag
    from airflow_provider_datalake.triggers.raw_objects import CommittedObjectsTrigger

    dag = unknown_formats_dag(stores=("postgres",))
    assert dag.dag_id == "datalake_unknown_formats" and dag.task_ids == ["infer"]
    (asset,) = dag.timetable.asset_condition.objects
    (watcher,) = asset.watchers
    path, kwargs = watcher.trigger.serialize()
    assert kwargs["format"] is None and kwargs["query"] == {"inference": {"$exists": False}}
    assert CommittedObjectsTrigger(**kwargs).serialize() == (path, kwargs)
    install_dags_folder(tmp_path)
    text = (tmp_path / "datalake_unknown_formats.py").read_text()
    assert "unknown_formats_dag" in text and "dag" in text
    compile(text, "datalake_unknown_formats.py", "exec")
