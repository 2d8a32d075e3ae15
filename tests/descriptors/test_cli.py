"""`datalake formats` commands that need no server (validate, schema, and the refusals before any I/O)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from click.testing import CliRunner

from airflow_provider_datalake.cli import cli
from airflow_provider_datalake.descriptors.schema import SCHEMA_PATH
from tests.descriptors.conftest import EXAMPLE_FILES, EXAMPLES, write
from tests.descriptors.test_loader import BAD


def run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_validate_examples() -> None:
    result = run("formats", "validate", *map(str, EXAMPLE_FILES))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"ok: {p} ({p.stem})" for p in EXAMPLE_FILES]
    assert f"{len(EXAMPLE_FILES)} valid, 0 invalid" in result.stderr


def test_validate_a_directory_with_a_bad_file(tmp_path: Path) -> None:
    for path in EXAMPLE_FILES:
        write(tmp_path, path.name, path.read_text())
    bad = write(tmp_path, "bad.yaml", BAD["sql_in_table_name"][0])
    result = run("formats", "validate", str(tmp_path))
    assert result.exit_code == 1
    assert f"{bad}:11: targets[0].table: String should match pattern" in result.stdout
    assert f"ok: {tmp_path / 'lab_csv_fr.yaml'} (lab_csv_fr)" in result.stdout
    assert f"{len(EXAMPLE_FILES)} valid, 1 invalid" in result.stderr


def test_validate_needs_files(tmp_path: Path) -> None:
    result = run("formats", "validate", str(tmp_path))
    assert result.exit_code == 1 and "no descriptor files found" in result.stderr


def test_schema_prints_the_shipped_file() -> None:
    result = run("formats", "schema")
    assert result.exit_code == 0
    assert result.stdout == SCHEMA_PATH.read_text()
    assert json.loads(result.stdout)["$id"].startswith("urn:airflow-provider-datalake")


def test_push_refuses_everything_when_one_file_is_invalid(tmp_path: Path, mongo_down: str) -> None:
    bad = write(tmp_path, "bad.yaml", BAD["merge_without_keys"][0])
    # A closed port as the catalog: had the command tried to push anything it would fail differently.
    result = run("--mongo-conn-id", mongo_down, "formats", "push", str(EXAMPLES), str(bad))
    assert result.exit_code == 1
    assert f"{bad}:12: targets[0].mode: mode merge needs `keys`" in result.stdout
    assert "nothing pushed" in result.stderr


def test_sync_with_the_catalog_down_keeps_the_cache(tmp_path: Path, mongo_down: str) -> None:
    cache = tmp_path / "formats.json"
    cache.write_text('{"synced_at": "earlier", "descriptors": {}}')
    old = time.time() - 3600
    os.utime(cache, (old, old))
    result = run("--mongo-conn-id", mongo_down, "formats", "sync", "--cache", str(cache))
    assert result.exit_code == 1
    assert "catalog unreachable" in result.stderr and f"kept {cache}" in result.stderr
    assert cache.read_text() == '{"synced_at": "earlier", "descriptors": {}}'
