"""FormatStore on the stack's real FerretDB (a fresh database per test), and the cache synced from it."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from airflow_provider_datalake.descriptors.loader import load_descriptor, parse_descriptor
from airflow_provider_datalake.descriptors.store import FormatStore, read_cache, sync_cache
from airflow_provider_datalake.hooks.catalog import CatalogHook
from tests.descriptors.conftest import EXAMPLE_FILES, example_text

pytestmark = pytest.mark.stack


@pytest.fixture
def store(mongo_test: str) -> FormatStore:
    return FormatStore(CatalogHook(mongo_test))


def push_text(store: FormatStore, text: str, author: str | None = "tester") -> int:
    return store.push(parse_descriptor(text), source_text=text, author=author)


def test_every_push_is_a_new_version_whatever_the_yaml_says(store: FormatStore) -> None:
    text = example_text("sensor_readings")
    assert push_text(store, text) == 1
    assert push_text(store, text) == 2
    bumped = text.replace("version: 1", "version: 7").replace(
        "description: readings", "description: Readings"
    )
    assert push_text(store, bumped, author="other") == 3
    desc = store.get("sensor_readings")
    assert desc is not None and desc.version == 3 and desc.description.startswith("Readings")
    first = store.get("sensor_readings", 1)
    assert first is not None and first.version == 1 and first.description.startswith("readings")
    history = store.history("sensor_readings")
    assert [(v.version, v.author, v.status) for v in history] == [
        (1, "tester", "active"),
        (2, "tester", "active"),
        (3, "other", "active"),
    ]
    assert history[0].yaml == text and history[2].yaml == bumped  # the author's text, comments included
    assert history[0].sha256 == history[1].sha256 != history[2].sha256
    assert history[0].created_at is not None and history[0].created_at <= history[2].created_at
    assert store.get("nope") is None and store.get("sensor_readings", 99) is None


def test_unique_index_on_name_and_version(store: FormatStore) -> None:
    push_text(store, example_text("lab_csv_fr"))
    info = store.collection.index_information()
    assert info["name_version_unique"]["key"] == [("name", 1), ("version", 1)]
    assert info["name_version_unique"]["unique"] is True


def test_list_active_export_and_deactivate(store: FormatStore, tmp_path: Path) -> None:
    for path in EXAMPLE_FILES:
        push_text(store, path.read_text())
    push_text(store, example_text("lab_csv_en"))  # lab_csv_en now at version 2
    active = {d.name: d.version for d in store.list_active()}
    assert active == {**{p.stem: 1 for p in EXAMPLE_FILES}, "lab_csv_en": 2}
    written = store.export(tmp_path / "out")
    assert sorted(p.name for p in written) == sorted(p.name for p in EXAMPLE_FILES)
    for path in written:
        assert path.read_text() == example_text(path.stem)  # byte for byte what was pushed
    assert store.deactivate("lab_csv_en") == 2
    assert store.get("lab_csv_en") is None
    assert "lab_csv_en" not in {d.name for d in store.list_active()}
    assert [v.status for v in store.history("lab_csv_en")] == ["inactive", "inactive"]
    again = store.get("lab_csv_en", 2)
    assert again is not None  # an explicit version is still readable
    assert push_text(store, example_text("lab_csv_en")) == 3  # pushing again reactivates, as a new version
    assert {d.name: d.version for d in store.list_active()}["lab_csv_en"] == 3


def test_push_without_source_text_stores_yaml_that_reloads_identically(store: FormatStore) -> None:
    for path in EXAMPLE_FILES:
        desc = load_descriptor(path)
        version = store.push(desc, author=None)
        stored = store.get_version(desc.name, version)
        assert stored is not None and stored.author is None
        assert parse_descriptor(stored.yaml) == desc


def test_push_refuses_source_text_of_another_descriptor(store: FormatStore) -> None:
    desc = load_descriptor(EXAMPLE_FILES[0])
    with pytest.raises(ValueError, match="does not describe"):
        store.push(desc, source_text=example_text("sensor_readings"))
    assert store.history(desc.name) == []


def test_concurrent_pushes_give_versions_without_gaps_or_duplicates(mongo_test: str) -> None:
    text = example_text("neocampus_mqtt")
    desc = parse_descriptor(text)
    writers, pushes = 8, 5
    barrier = threading.Barrier(writers)

    def writer(n: int) -> list[int]:
        own = FormatStore(CatalogHook(mongo_test))  # each writer its own client, like separate processes
        own.ensure_indexes()
        barrier.wait()
        return [own.push(desc, source_text=text, author=f"w{n}") for _ in range(pushes)]

    with ThreadPoolExecutor(writers) as pool:
        results = list(pool.map(writer, range(writers)))
    got = sorted(v for chunk in results for v in chunk)
    assert got == list(range(1, writers * pushes + 1))
    history = FormatStore(CatalogHook(mongo_test)).history("neocampus_mqtt")
    assert [v.version for v in history] == got
    for n, chunk in enumerate(results):  # each writer's own versions are the ones stored under its name
        assert chunk == sorted(chunk)
        assert {v.version for v in history if v.author == f"w{n}"} == set(chunk)


def test_sync_cache_from_the_store_then_read_it(store: FormatStore, tmp_path: Path, mongo_down: str) -> None:
    for path in EXAMPLE_FILES:
        push_text(store, path.read_text())
    push_text(store, example_text("sensor_readings"))
    cache = tmp_path / "formats.json"
    state = sync_cache(store, cache, ttl=300)
    assert (state.status, state.count) == ("synced", len(EXAMPLE_FILES))
    payload = json.loads(cache.read_text())
    assert payload["descriptors"]["sensor_readings"]["version"] == 2
    assert payload["descriptors"]["sensor_readings"]["yaml"] == example_text("sensor_readings")
    cached = read_cache(cache)
    assert {n: d.version for n, (d, e) in cached.items() if d} == {
        **{p.stem: 1 for p in EXAMPLE_FILES},
        "sensor_readings": 2,
    }
    assert sync_cache(store, cache, ttl=300).status == "fresh"

    store.deactivate("lab_csv_fr")
    assert sync_cache(store, cache, ttl=300, force=True).count == len(EXAMPLE_FILES) - 1
    assert "lab_csv_fr" not in read_cache(cache)

    before = cache.read_bytes()
    down = sync_cache(FormatStore(CatalogHook(mongo_down)), cache, ttl=0, force=True)
    assert down.status == "unreachable" and cache.read_bytes() == before
    assert len(read_cache(cache)) == len(EXAMPLE_FILES) - 1  # the DAGs stay
