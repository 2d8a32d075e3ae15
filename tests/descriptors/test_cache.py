"""The local descriptor cache DAG parsing reads: no server needed (a fake store, or a closed port)."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from airflow_provider_datalake.descriptors.loader import DescriptorError
from airflow_provider_datalake.descriptors.store import (
    CacheError,
    FormatStore,
    FormatVersion,
    default_cache_path,
    read_cache,
    sync_cache,
)
from tests.descriptors.conftest import EXAMPLE_FILES, example_text


def version(name: str, number: int, text: str) -> FormatVersion:
    return FormatVersion(name, number, "active", text, "", None, "test")


class FakeStore:
    """Only what sync_cache uses: `latest()`; counts calls so tests can see the database was not asked."""

    def __init__(self, versions: list[FormatVersion]) -> None:
        self.versions = versions
        self.calls = 0

    def latest(self) -> list[FormatVersion]:
        self.calls += 1
        return self.versions


def example_versions() -> list[FormatVersion]:
    return [version(p.stem, 3, p.read_text()) for p in EXAMPLE_FILES]


def renamed(text: str, name: str) -> str:
    return re.sub(r"^name: .*$", f"name: {name}", text, count=1, flags=re.MULTILINE)


def test_sync_writes_the_documented_layout_atomically(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "formats.json"
    state = sync_cache(FakeStore(example_versions()), path, ttl=60)  # type: ignore[arg-type]
    assert (state.status, state.count, state.ok) == ("synced", len(EXAMPLE_FILES), True)
    payload = json.loads(path.read_text())
    assert set(payload) >= {"synced_at", "descriptors"}
    assert payload["descriptors"]["lab_csv_fr"]["version"] == 3
    assert payload["descriptors"]["lab_csv_fr"]["yaml"] == example_text("lab_csv_fr")
    assert [p.name for p in path.parent.iterdir()] == ["formats.json"]  # no temporary file left behind
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_sync_skips_a_fresh_file_without_asking_the_store(tmp_path: Path) -> None:
    path = tmp_path / "formats.json"
    store = FakeStore(example_versions())
    sync_cache(store, path, ttl=60)  # type: ignore[arg-type]
    before = path.read_bytes()
    state = sync_cache(store, path, ttl=60)  # type: ignore[arg-type]
    assert (state.status, store.calls, path.read_bytes()) == ("fresh", 1, before)
    assert sync_cache(store, path, ttl=60, force=True).status == "synced"  # type: ignore[arg-type]
    old = time.time() - 120
    os.utime(path, (old, old))
    assert sync_cache(store, path, ttl=60).status == "synced"  # type: ignore[arg-type]
    assert store.calls == 3


def test_unreachable_catalog_keeps_the_old_cache(tmp_path: Path, mongo_down: str) -> None:
    from airflow_provider_datalake.hooks.catalog import CatalogHook

    path = tmp_path / "formats.json"
    sync_cache(FakeStore(example_versions()), path, ttl=0)  # type: ignore[arg-type]
    old = time.time() - 3600
    os.utime(path, (old, old))
    before = path.read_bytes()
    started = time.monotonic()
    state = sync_cache(FormatStore(CatalogHook(mongo_down)), path, ttl=60)
    assert time.monotonic() - started < 10
    assert (state.status, state.ok, state.has_cache) == ("unreachable", False, True)
    assert "ServerSelectionTimeoutError" in (state.error or "")
    assert path.read_bytes() == before and path.stat().st_mtime == pytest.approx(old)
    cached = read_cache(path)
    assert sorted(cached) == sorted(p.stem for p in EXAMPLE_FILES)
    assert all(desc is not None for desc, _ in cached.values())


def test_unreachable_catalog_without_a_cache_creates_nothing(tmp_path: Path, mongo_down: str) -> None:
    from airflow_provider_datalake.hooks.catalog import CatalogHook

    path = tmp_path / "formats.json"
    state = sync_cache(FormatStore(CatalogHook(mongo_down)), path, ttl=0, force=True)
    assert (state.status, state.has_cache, path.exists()) == ("unreachable", False, False)
    assert read_cache(path) == {}


def test_one_invalid_descriptor_is_an_error_for_its_name_only(tmp_path: Path) -> None:
    good = example_text("sensor_readings")
    bad = renamed(good, "broken").replace("table: sensor_readings", "table: readings; drop table x")
    path = tmp_path / "formats.json"
    versions = [version("sensor_readings", 4, good), version("broken", 2, bad)]
    sync_cache(FakeStore(versions), path, ttl=0)  # type: ignore[arg-type]
    payload = json.loads(path.read_text())
    payload["descriptors"]["malformed"] = {"version": "x"}
    payload["descriptors"]["impostor"] = {"version": 1, "yaml": good}  # names itself sensor_readings
    path.write_text(json.dumps(payload))
    cached = read_cache(path)
    desc, err = cached["sensor_readings"]
    assert err is None and desc is not None and desc.version == 4  # the store's version, not the YAML's
    desc, err = cached["broken"]
    assert desc is None and isinstance(err, DescriptorError) and err.name == "broken"
    table_line = bad.splitlines().index("    table: readings; drop table x") + 1
    assert str(err).startswith(f"broken@v2:{table_line}: targets[0].table: ")
    assert cached["malformed"][0] is None and "malformed cache entry" in str(cached["malformed"][1])
    assert "names itself 'sensor_readings'" in str(cached["impostor"][1])


def test_the_yaml_text_decides_when_the_preparsed_copy_does_not_match_it(tmp_path: Path) -> None:
    path = tmp_path / "formats.json"
    sync_cache(FakeStore([version("sensor_readings", 1, example_text("sensor_readings"))]), path, ttl=0)  # type: ignore[arg-type]
    payload = json.loads(path.read_text())
    entry = payload["descriptors"]["sensor_readings"]
    assert "data" in entry and "sha256" in entry
    entry["data"]["description"] = "tampered"
    entry["sha256"] = "0" * 64
    path.write_text(json.dumps(payload))
    desc, _ = read_cache(path)["sensor_readings"]
    assert desc is not None and desc.description == "readings exported from the older sensor database"


def test_yaml_only_cache_entries_are_read(tmp_path: Path) -> None:
    """The layout other tools may write: just version and yaml."""
    path = tmp_path / "formats.json"
    text = example_text("lab_csv_en")
    path.write_text(
        json.dumps({"synced_at": "x", "descriptors": {"lab_csv_en": {"version": 9, "yaml": text}}})
    )
    desc, err = read_cache(path)["lab_csv_en"]
    assert err is None and desc is not None and desc.version == 9


def test_not_a_cache_raises(tmp_path: Path) -> None:
    path = tmp_path / "formats.json"
    path.write_text("{not json")
    with pytest.raises(CacheError, match="invalid JSON"):
        read_cache(path)
    path.write_text("[]")
    with pytest.raises(CacheError, match="no `descriptors` mapping"):
        read_cache(path)


def test_read_cache_reuses_its_result_while_the_file_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "formats.json"
    store = FakeStore(example_versions())
    sync_cache(store, path, ttl=0)  # type: ignore[arg-type]
    first, second = read_cache(path), read_cache(path)
    assert first is not second and all(first[n][0] is second[n][0] for n in first)
    store.versions = store.versions[:1]
    sync_cache(store, path, ttl=0, force=True)  # type: ignore[arg-type]
    assert len(read_cache(path)) == 1


def test_read_cache_of_a_thousand_descriptors(tmp_path: Path) -> None:
    texts = [p.read_text() for p in EXAMPLE_FILES]
    versions = [
        version(f"fmt_{i:04d}", 1, renamed(texts[i % len(texts)], f"fmt_{i:04d}")) for i in range(1000)
    ]
    path = tmp_path / "formats.json"
    sync_cache(FakeStore(versions), path, ttl=0)  # type: ignore[arg-type]
    started = time.perf_counter()
    cached = read_cache(path)
    cold = time.perf_counter() - started
    started = time.perf_counter()
    read_cache(path)
    warm = time.perf_counter() - started
    payload = json.loads(path.read_text())
    for entry in payload["descriptors"].values():
        del entry["data"], entry["sha256"]
    yaml_only = tmp_path / "yaml_only.json"
    yaml_only.write_text(json.dumps(payload))
    started = time.perf_counter()
    read_cache(yaml_only)
    from_yaml = time.perf_counter() - started
    print(
        f"\nread_cache, 1,000 descriptors: cold {cold * 1000:.0f} ms, unchanged file {warm * 1000:.2f} ms, "
        f"YAML-only entries {from_yaml * 1000:.0f} ms"
    )
    assert len(cached) == 1000 and all(err is None for _, err in cached.values())


def test_default_cache_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATALAKE_FORMATS_CACHE", str(tmp_path / "x.json"))
    assert default_cache_path() == tmp_path / "x.json"
    monkeypatch.delenv("DATALAKE_FORMATS_CACHE")
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    assert default_cache_path() == tmp_path / "datalake" / "formats.json"


def test_generated_yaml_reloads_to_the_same_descriptor() -> None:
    """What push stores when given no source text."""
    from airflow_provider_datalake.descriptors.loader import load_descriptor, parse_descriptor
    from airflow_provider_datalake.descriptors.store import descriptor_yaml

    for path in EXAMPLE_FILES:
        desc = load_descriptor(path)
        assert parse_descriptor(descriptor_yaml(desc)) == desc
