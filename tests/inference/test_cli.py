"""`datalake formats infer | drafts | approve | reject | policy | show` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from airflow_provider_datalake.cli import cli
from airflow_provider_datalake.descriptors.loader import load_descriptor
from airflow_provider_datalake.descriptors.store import FormatStore
from airflow_provider_datalake.hooks.catalog import CatalogHook
from airflow_provider_datalake.inference import infer_sample
from airflow_provider_datalake.inference.drafts import Drafts
from airflow_provider_datalake.inference.sniff import Sample

CSV = "Date;Valeur;Taux;Site\nMar 16, 2019;4 090,8;2,19%;Rangueil\nMar 17, 2019;12,5;-0,5%;Purpan\n"


def run(*args: str, code: int = 0):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def test_infer_prints_a_valid_descriptor(tmp_path: Path) -> None:
    path = tmp_path / "export_0001.csv"
    path.write_text(CSV, encoding="utf-8")
    result = run("formats", "infer", str(path))
    data = yaml.safe_load(result.stdout)
    assert data["name"] == "export"
    assert data["parser"] == {
        "kind": "csv",
        "delimiter": ";",
        "quotechar": '"',
        "encoding": "utf-8",
        "header": True,
        "skip_rows": 0,
        "decimal": ",",
        "thousands": " ",
    }
    fields = {f["name"]: f for f in data["fields"]}
    assert fields["date"]["type"] == "date" and fields["date"]["converters"] == [
        {"timestamp_format": {"format": "%b %d, %Y"}}
    ]
    assert fields["taux"]["converters"] == [{"percent": {"decimal": ","}}]
    assert data["evidence"]["fields"]["valeur"]["examples"] == ["4 090,8", "12,5"]
    assert "export: csv, 4 fields" in result.stderr

    out = tmp_path / "export.yaml"
    run("formats", "infer", str(path), "--name", "Mes Mesures", "-o", str(out), "--store", "postgres")
    desc = load_descriptor(out)
    assert desc.name == "mes_mesures" and [t.store for t in desc.targets] == ["postgres"]
    run("formats", "validate", str(out))


def test_infer_refuses_binary(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(bytes(range(256)) * 10)
    assert "cannot infer a format: binary" in run("formats", "infer", str(path), code=1).stderr


@pytest.mark.stack
def test_drafts_approve_reject_policy_and_show(lake: dict) -> None:
    conn = lake["mongo_conn_id"]
    catalog = CatalogHook(conn)
    drafts = Drafts(FormatStore(catalog))
    desc = infer_sample(Sample(CSV.encode(), True), name="export").descriptor
    drafts.push_draft(desc, reason="new format", source="export_0001.csv")
    drafts.push_draft(desc, reason="adds nothing", source="export_0002.csv")
    base = ["--mongo-conn-id", conn, "formats"]
    listed = run(*base, "drafts").stdout
    assert "export v1" in listed and "export v2" in listed and "new format" in listed
    assert "shape: csv (" in listed and "confidence: " in listed
    assert [json.loads(line)["version"] for line in run(*base, "drafts", "--json").stdout.splitlines()] == [
        1,
        2,
    ]

    shown = run(*base, "show", "export", "--version", "2").stdout
    assert "# status: draft" in shown and "# evidence: csv from -, 2 records in" in shown
    assert "#   taux" in shown and "percentage (',' decimal)" in shown and "e.g. '2,19%'" in shown
    assert "evidence:" in shown  # and the full record in the YAML

    assert "export version 1 rejected" in run(*base, "reject", "export", "--version", "1").stdout
    assert "export version 2 active; 0 waiting object(s) released" in run(*base, "approve", "export").stdout
    assert run(*base, "drafts").stdout.strip() == "no drafts"
    assert "no draft of 'export'" in run(*base, "approve", "export", code=1).stderr

    assert "container raw: auto" in run(*base, "policy", "set", "auto", "--container", "raw").stdout
    run(*base, "policy", "set", "review", "--application", "bridge")
    assert run(*base, "policy", "list").stdout.splitlines() == [
        "application bridge: review",
        "container raw: auto",
    ]
    assert run(*base, "policy", "set", "auto", code=2).exit_code == 2
