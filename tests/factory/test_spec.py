"""The DAG spec a synced cache carries: DAG files built from it alone, trusted only for its own YAML."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from airflow_provider_datalake.descriptors.loader import DescriptorError, parse_descriptor
from airflow_provider_datalake.factory import build_dag, dag_for, render_format_files
from airflow_provider_datalake.format_cache import SPEC_VERSION, DagSpec
from tests.factory.conftest import write_synced_cache
from tests.factory.test_dags import BAD, GOOD


def test_sync_stores_a_spec_for_valid_descriptors_only(tmp_path: Path) -> None:
    cache = write_synced_cache(tmp_path, {"fmt_a": GOOD.format(name="fmt_a"), "broken": BAD})
    entries = json.loads(cache.read_text())["descriptors"]
    assert "dag" not in entries["broken"]
    spec = DagSpec.from_cache(entries["fmt_a"], "fmt_a")
    assert spec is not None
    assert spec.name == "fmt_a" and spec.version == 2
    assert spec.targets == ("postgres_fmt_a_rows", "postgres_fmt_a_copy")
    assert spec.stores == ("postgres",) and spec.owner == "neocampus"


@pytest.mark.parametrize(
    ("what", "change"),
    [
        ("yaml edited after sync", lambda e: e.update(yaml=e["yaml"] + "\n# edited\n")),
        ("another package version", lambda e: e["dag"].update(package="0.0.0-other")),
        ("another spec layout", lambda e: e["dag"].update(spec=SPEC_VERSION + 1)),
        ("another descriptor version", lambda e: e.update(version=3)),
        ("a field missing", lambda e: e["dag"].pop("targets")),
        ("a field of the wrong shape", lambda e: e["dag"].update(version="two")),
        ("no targets", lambda e: e["dag"].update(targets=[])),
        ("no outlets (an older layout)", lambda e: e["dag"].pop("outlets")),
        ("an outlet of the wrong shape", lambda e: e["dag"].update(outlets=[{"uri": "datalake://raw/x"}])),
        ("not a mapping", lambda e: e.update(dag=["x"])),
        ("another format's spec", lambda e: e["dag"].update(name="fmt_b")),
    ],
)
def test_a_spec_is_trusted_only_for_its_own_text_and_code(tmp_path: Path, what: str, change) -> None:
    cache = write_synced_cache(tmp_path, {"fmt_a": GOOD.format(name="fmt_a")})
    entry = json.loads(cache.read_text())["descriptors"]["fmt_a"]
    change(entry)
    assert DagSpec.from_cache(entry, "fmt_a") is None, what


def test_the_dag_from_the_spec_is_the_dag_from_the_descriptor(tmp_path: Path) -> None:
    text = GOOD.format(name="fmt_a")
    cache = write_synced_cache(tmp_path, {"fmt_a": text})
    from_spec = build_dag("fmt_a", cache_path=cache)
    desc = parse_descriptor(text).model_copy(update={"version": 2})
    from_desc = dag_for(desc, cache_path=cache)
    for attr in ("dag_id", "task_ids", "tags", "doc_md", "description", "max_active_runs", "default_args"):
        assert getattr(from_spec, attr) == getattr(from_desc, attr), attr
    load = from_spec.get_task("load__postgres_fmt_a_rows")
    assert load.partial_kwargs["cache_path"] == str(cache)
    assert load.partial_kwargs["descriptor"] is None  # read from the cache when the task runs
    given = dag_for(desc).get_task("load__postgres_fmt_a_rows").partial_kwargs["descriptor"]
    assert given == desc.model_dump(mode="json", by_alias=True)  # plain data in the serialized DAG
    assert from_spec.get_task("finish").trigger_rule == "all_done"


def test_a_spec_that_does_not_match_its_text_falls_back_to_validation(tmp_path: Path) -> None:
    """A spec copied onto a broken descriptor does not hide it: the DAG file still fails, naming it."""
    cache = write_synced_cache(tmp_path, {"broken": BAD, "fmt_a": GOOD.format(name="fmt_a")})
    payload = json.loads(cache.read_text())
    payload["descriptors"]["broken"]["dag"] = {
        **payload["descriptors"]["fmt_a"]["dag"],
        "name": "broken",
    }
    cache.write_text(json.dumps(payload))
    with pytest.raises(DescriptorError, match=r"parser\.delimiter"):
        build_dag("broken", cache_path=cache)


def test_generated_dag_files_import_no_descriptor_model(tmp_path: Path) -> None:
    """What a dag-processor process pays per file: the Task SDK and our small modules, not pydantic."""
    write_synced_cache(tmp_path, {"fmt_a": GOOD.format(name="fmt_a")})
    render_format_files(tmp_path)
    probe = textwrap.dedent(
        f"""
        import runpy, sys
        ns = runpy.run_path({str(tmp_path / "datalake__fmt_a.py")!r})
        assert ns["dag"].dag_id == "datalake__fmt_a"
        heavy = sorted(m for m in sys.modules if m.startswith((
            "airflow_provider_datalake.descriptors", "airflow_provider_datalake.parsing",
            "airflow_provider_datalake.hooks", "pymongo", "swiftclient",
        )))
        print(heavy)
        """
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
