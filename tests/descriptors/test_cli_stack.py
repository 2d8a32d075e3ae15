"""`datalake formats push/list/show/export/sync` against the stack's FerretDB (a fresh database)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from airflow_provider_datalake.cli import cli
from tests.descriptors.conftest import EXAMPLE_FILES, EXAMPLES, example_text

pytestmark = pytest.mark.stack


def run(conn_id: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--mongo-conn-id", conn_id, "formats", *args], catch_exceptions=False)


def test_push_list_show_export_sync(mongo_test: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = run(mongo_test, "push", str(EXAMPLES), "--author", "ci")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"{p.stem} version 1" for p in EXAMPLE_FILES]

    result = run(mongo_test, "push", str(EXAMPLES / "lab_csv_fr.yaml"))
    assert result.stdout.strip() == "lab_csv_fr version 2"
    result = run(mongo_test, "push", "--if-changed", str(EXAMPLES / "lab_csv_fr.yaml"))
    assert result.stdout.strip() == "lab_csv_fr unchanged (version 2)"

    result = run(mongo_test, "list")
    assert result.exit_code == 0
    for path in EXAMPLE_FILES:
        assert path.stem in result.stdout
    rows = [json.loads(line) for line in run(mongo_test, "list", "--json").stdout.splitlines()]
    assert {r["name"]: r["version"] for r in rows} == {**{p.stem: 1 for p in EXAMPLE_FILES}, "lab_csv_fr": 2}
    assert all(r["valid"] for r in rows)
    assert next(r for r in rows if r["name"] == "neocampus_mqtt")["targets"] == [
        "postgres_mqtt_readings",
        "influxdb_kind",
        "mongodb_mqtt_messages",
        "neo4j_campus",
    ]

    result = run(mongo_test, "show", "lab_csv_fr")
    assert result.exit_code == 0
    head, _, body = result.stdout.partition("# author: ")
    assert "# name: lab_csv_fr\n# version: 2\n# status: active\n" in head
    assert body.split("\n", 1)[1] == example_text("lab_csv_fr")
    shown = json.loads(run(mongo_test, "show", "lab_csv_en", "--version", "1", "--json").stdout)
    assert (shown["version"], shown["author"], shown["yaml"]) == (1, "ci", example_text("lab_csv_en"))
    missing = run(mongo_test, "show", "lab_csv_en", "--version", "5")
    assert missing.exit_code == 1 and "no version 5 of 'lab_csv_en'" in missing.stderr

    out = tmp_path / "exported"
    result = run(mongo_test, "export", str(out))
    assert result.exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in EXAMPLE_FILES)

    cache = tmp_path / "cache" / "formats.json"
    monkeypatch.setenv("DATALAKE_FORMATS_CACHE", str(cache))
    result = run(mongo_test, "sync")
    assert (
        result.exit_code == 0
        and result.stdout.strip() == f"synced {len(EXAMPLE_FILES)} format(s) into {cache}"
    )
    assert json.loads(cache.read_text())["descriptors"]["lab_csv_fr"]["version"] == 2
    result = run(mongo_test, "sync", "--ttl", "600")
    assert result.exit_code == 0 and "is fresh" in result.stdout
    assert run(mongo_test, "sync", "--ttl", "600", "--force").stdout.startswith("synced")
