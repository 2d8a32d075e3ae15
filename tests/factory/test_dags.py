"""The DAG factory: one DAG per format, built from the local cache only; one bad descriptor hides no other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_datalake.descriptors.model import Descriptor
from airflow_provider_datalake.factory import (
    FormatNotFound,
    build_dag,
    dag_for,
    install_dags_folder,
    render_format_files,
)
from airflow_provider_datalake.format_cache import CACHE_NAME

GOOD = """
name: {name}
version: 3
description: readings of {name}
owner: neocampus
parser: {{kind: neocampus_mqtt}}
fields:
  - {{name: building, source: topic, converters: [{{split: {{sep: /, index: 0}}}}]}}
  - {{name: value, type: float}}
  - {{name: time, type: timestamp, required: true}}
targets:
  - {{store: postgres, table: {name}_rows, keys: [building, time], mode: merge}}
  - {{store: postgres, table: {name}_copy}}
"""

BAD = """
name: broken
parser: {kind: csv, delimiter: ";;"}
fields: [{name: a}]
targets: [{store: postgres, table: "x; drop table y"}]
"""


def _cache(folder: Path, entries: dict[str, str]) -> Path:
    path = folder / CACHE_NAME
    path.write_text(
        json.dumps(
            {
                "synced_at": "2026-11-28T00:00:00Z",
                "descriptors": {name: {"version": 1, "yaml": text} for name, text in entries.items()},
            }
        )
    )
    return path


def test_dag_shape_from_a_descriptor() -> None:
    import yaml

    desc = Descriptor.model_validate(yaml.safe_load(GOOD.format(name="neocampus_mqtt")))
    dag = dag_for(desc)
    assert dag.dag_id == "datalake__neocampus_mqtt"
    assert {"datalake", "format:neocampus_mqtt", "postgres"} <= set(dag.tags)
    assert set(dag.task_ids) == {
        "claim",
        "load__postgres_neocampus_mqtt_rows",
        "load__postgres_neocampus_mqtt_copy",
        "finish",
        "queue_next",
    }
    assert dag.get_task("finish").trigger_rule == "all_done"
    assert dag.get_task("claim").limit == 100  # the descriptor's processing.batch, by default
    # the next run is queued through the format's own asset, and nothing waits for it
    queue_next = dag.get_task("queue_next")
    assert [a.uri for a in queue_next.outlets] == ["datalake://raw/neocampus_mqtt"]
    assert queue_next.upstream_task_ids == {"claim"} and not queue_next.downstream_task_ids
    assert set(dag.get_task("claim").downstream_task_ids) >= {"load__postgres_neocampus_mqtt_rows", "finish"}
    (asset,) = (
        dag.timetable.asset_condition.iter_assets().values()
        if hasattr(dag.timetable.asset_condition, "iter_assets")
        else [None]
    )
    assert asset is None or asset.uri == "datalake://raw/neocampus_mqtt"
    assert "neocampus_mqtt_rows" in dag.doc_md


def test_build_dag_reads_only_the_cache(tmp_path: Path) -> None:
    cache = _cache(tmp_path, {"fmt_a": GOOD.format(name="fmt_a")})
    assert build_dag("fmt_a", cache_path=cache).dag_id == "datalake__fmt_a"
    with pytest.raises(FormatNotFound, match="formats sync"):
        build_dag("fmt_missing", cache_path=cache)
    with pytest.raises(FormatNotFound, match="no descriptor cache"):
        build_dag("fmt_a", cache_path=tmp_path / "nope.json")


def test_render_writes_one_file_per_format_and_removes_only_its_own(tmp_path: Path) -> None:
    _cache(tmp_path, {"fmt_a": GOOD.format(name="fmt_a"), "fmt_b": GOOD.format(name="fmt_b")})
    mine = tmp_path / "datalake__handwritten.py"
    mine.write_text("# a user's own file that happens to share our prefix\n")
    result = render_format_files(tmp_path)
    assert sorted(result["written"]) == ["fmt_a", "fmt_b"]
    assert render_format_files(tmp_path)["written"] == []  # unchanged text: not rewritten
    _cache(tmp_path, {"fmt_a": GOOD.format(name="fmt_a")})
    assert render_format_files(tmp_path)["removed"] == ["fmt_b"]
    assert mine.exists()
    assert not (tmp_path / "datalake__fmt_b.py").exists()


def test_dagbag_one_bad_descriptor_is_one_import_error(tmp_path: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag

    entries = {f"fmt_{i}": GOOD.format(name=f"fmt_{i}") for i in range(5)}
    entries["broken"] = BAD
    _cache(tmp_path, entries)
    render_format_files(tmp_path)
    bag = DagBag(dag_folder=str(tmp_path))
    assert sorted(bag.dag_ids) == sorted(f"datalake__fmt_{i}" for i in range(5))
    assert list(bag.import_errors) == [str(tmp_path / "datalake__broken.py")]
    message = next(iter(bag.import_errors.values()))
    assert "broken@v1:3: parser.delimiter" in message  # the descriptor, its line and its field
    assert "targets[0].table" in message and "parser.delimiter" in message


def test_install_writes_the_sync_entry_file(tmp_path: Path) -> None:
    path = install_dags_folder(tmp_path / "dags", ttl=15, mongo_conn_id="mongo_default")
    text = path.read_text()
    assert "sync_dags_folder" in text and "ttl=15" in text
    compile(text, str(path), "exec")


def _bag(folder: Path):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(folder))


def test_single_layout_one_file_for_the_valid_formats_one_error_file_per_invalid(tmp_path: Path) -> None:
    from airflow_provider_datalake.factory.render import SINGLE_FILE, set_layout
    from tests.factory.conftest import write_synced_cache

    entries = {f"fmt_{i}": GOOD.format(name=f"fmt_{i}") for i in range(5)}
    write_synced_cache(tmp_path, {**entries, "broken": BAD})
    install_dags_folder(tmp_path, layout="single")
    render_format_files(tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.py")) == sorted(
        ["datalake__broken.py", SINGLE_FILE, "datalake_sync.py", "datalake_unknown_formats.py"]
    )
    bag = _bag(tmp_path)
    format_dags = sorted(d for d in bag.dag_ids if d.startswith("datalake__"))
    assert format_dags == sorted(f"datalake__{name}" for name in entries)
    assert {bag.dags[d].fileloc for d in format_dags} == {str(tmp_path / SINGLE_FILE)}
    errors = {Path(k).name: v for k, v in bag.import_errors.items() if "datalake__" in k or SINGLE_FILE in k}
    assert list(errors) == ["datalake__broken.py"]
    assert "parser.delimiter" in errors["datalake__broken.py"]

    # and back: one file per format again, the one-file entry gone
    set_layout(tmp_path, "per-format")
    render_format_files(tmp_path)
    assert not (tmp_path / SINGLE_FILE).exists()
    assert len(list(tmp_path.glob("datalake__*.py"))) == 6
    assert sorted(d for d in _bag(tmp_path).dag_ids if d.startswith("datalake__")) == format_dags


def test_single_layout_builds_only_the_dag_a_task_runs_in(tmp_path: Path, monkeypatch) -> None:
    from airflow_provider_datalake.factory import build_dags
    from tests.factory.conftest import write_synced_cache

    cache = write_synced_cache(tmp_path, {f"fmt_{i}": GOOD.format(name=f"fmt_{i}") for i in range(3)})
    assert sorted(build_dags(cache_path=cache)) == ["datalake__fmt_0", "datalake__fmt_1", "datalake__fmt_2"]
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "datalake__fmt_1")
    assert list(build_dags(cache_path=cache)) == ["datalake__fmt_1"]


def test_single_layout_validates_entries_without_spec_nor_file_of_their_own(tmp_path: Path) -> None:
    """A cache written before specs existed (or by another package version): the one file still builds
    the valid formats, validating them, and leaves out the invalid one rather than failing them all."""
    from airflow_provider_datalake.factory import build_dags

    cache = _cache(tmp_path, {"fmt_a": GOOD.format(name="fmt_a"), "broken": BAD})
    assert list(build_dags(cache_path=cache)) == ["datalake__fmt_a"]
    assert build_dags(cache_path=tmp_path / "missing.json") == {}
