"""DAG factory benchmarks: parse time of 1,000 formats, and commit-to-run latency under the real Airflow.

``python -m bench.factory_bench [--parse-only] [--n-formats 1000] [--inserts 20]``

1. Parse: 1,000 descriptors in a cache, 1,000 generated DAG files, loaded by Airflow's own DagBag (what
   the dag-processor does). Baseline in the same run: the same 1,000 files each building an equivalent
   DAG by hand-written code (no factory, no cache), so the ratio is the factory's own cost.
2. Latency: with the stack's Airflow running, ``--inserts`` sequential `insert_datalake` calls of a
   campus MQTT dump; for each, seconds from commit to the asset-triggered run being created (queued) and
   to the rows being visible in PostgreSQL. p50 / p95 printed (goal: run queued p50 <= 5 s).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

DESCRIPTOR = """
name: {name}
description: synthetic format {i}
parser: {{kind: csv, delimiter: ";", decimal: ","}}
fields:
  - {{name: sensor, required: true}}
  - {{name: value, type: float}}
  - {{name: measured_at, type: timestamp, required: true}}
targets:
  - {{store: postgres, table: t_{i}, keys: [sensor, measured_at], mode: merge}}
"""

HANDWRITTEN = """
from airflow.sdk import DAG, Asset, task

with DAG(dag_id="hand__{i}", schedule=[Asset(name="hand_{i}", uri="hand://raw/{i}")], catchup=False,
         tags=["hand"]) as dag:
    @task(task_id="claim")
    def claim():
        return []

    @task(task_id="load__postgres_t_{i}")
    def load(record_id):
        return record_id

    @task(task_id="finish", trigger_rule="all_done")
    def finish(ids):
        return ids

    ids = claim()
    load.expand(record_id=ids) >> finish(ids)
"""


def _dagbag_seconds(folder: Path) -> tuple[float, int, int]:
    from airflow.dag_processing.dagbag import DagBag

    start = time.perf_counter()
    bag = DagBag(dag_folder=str(folder))
    return time.perf_counter() - start, len(bag.dag_ids), len(bag.import_errors)


def bench_parse(n: int) -> dict[str, Any]:
    from airflow_provider_datalake.descriptors.loader import parse_descriptor
    from airflow_provider_datalake.factory import render_format_files
    from airflow_provider_datalake.factory.dags import CACHE_NAME

    with tempfile.TemporaryDirectory() as tmp:
        ours, hand = Path(tmp) / "ours", Path(tmp) / "hand"
        ours.mkdir()
        hand.mkdir()
        entries = {}
        for i in range(n):
            text = DESCRIPTOR.format(name=f"fmt_{i:04d}", i=i)
            parse_descriptor(text)  # each one is valid
            entries[f"fmt_{i:04d}"] = {"version": 1, "yaml": text}
            (hand / f"hand_{i:04d}.py").write_text(HANDWRITTEN.format(i=i))
        (ours / CACHE_NAME).write_text(json.dumps({"descriptors": entries}))
        render_format_files(ours)
        from airflow_provider_datalake.factory.dags import descriptor_from_cache

        start = time.perf_counter()
        for name in entries:
            descriptor_from_cache(name, ours / CACHE_NAME)
        descriptors_s = time.perf_counter() - start
        base_s, base_dags, base_err = _dagbag_seconds(hand)
        ours_s, ours_dags, ours_err = _dagbag_seconds(ours)
    return {
        "formats": n,
        "descriptor_seconds": round(descriptors_s, 3),
        "ours_seconds": round(ours_s, 3),
        "ours_dags": ours_dags,
        "ours_import_errors": ours_err,
        "handwritten_seconds": round(base_s, 3),
        "handwritten_dags": base_dags,
        "handwritten_import_errors": base_err,
        "ratio": round(base_s / ours_s, 3),
    }


def _api(path: str) -> dict:
    base = os.environ["AIRFLOW__API__BASE_URL"]
    with urllib.request.urlopen(f"{base}/api/v2/{path}", timeout=5) as resp:  # noqa: S310 (loopback)
        return json.loads(resp.read())


def _wait(check: Any, timeout: float, poll: float = 0.1) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(poll)
    raise TimeoutError(f"not done after {timeout}s")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_latency(inserts: int) -> dict[str, Any]:
    import psycopg
    import yaml

    from airflow_provider_datalake import insert_datalake
    from airflow_provider_datalake.descriptors.model import Descriptor
    from airflow_provider_datalake.descriptors.store import FormatStore
    from airflow_provider_datalake.factory import install_dags_folder, sync_dags_folder
    from airflow_provider_datalake.hooks.catalog import CatalogHook
    from airflow_provider_datalake.samples import write_mqtt_dump

    repo = Path(__file__).resolve().parent.parent
    tag = uuid.uuid4().hex[:8]
    raw = yaml.safe_load((repo / "examples" / "neocampus_mqtt.yaml").read_text())
    raw["name"], raw["targets"][0]["schema"] = f"bench_{tag}", f"bench_{tag}"
    desc = Descriptor.model_validate(raw)
    dags = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    store = FormatStore(CatalogHook())
    store.push(desc, author="bench")
    install_dags_folder(dags)
    sync_dags_folder(dags, force=True)
    dag_id = f"datalake__{desc.name}"
    pg_conn = json.loads(os.environ["AIRFLOW_CONN_POSTGRES_DEFAULT"])
    pg = psycopg.connect(
        host=pg_conn["host"],
        port=pg_conn["port"],
        user=pg_conn["login"],
        password=pg_conn["password"],
        dbname=pg_conn["schema"],
        autocommit=True,
    )
    queued, visible = [], []
    try:
        _wait(lambda: _dag_exists(dag_id), 120, poll=1)
        time.sleep(5)  # let the triggerer start the new watcher
        table = psycopg.sql.SQL("{}.mqtt_readings").format(psycopg.sql.Identifier(desc.targets[0].schema_))
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(inserts):
                path = Path(tmp) / f"dump_{i}.json"
                write_mqtt_dump(path, 50, seed=1000 + i)
                runs_before = _runs(dag_id)
                rec = insert_datalake(path, format=desc.name)
                t0 = time.monotonic()
                queued.append(_wait(lambda b=runs_before: _runs(dag_id) > b, 120))
                visible.append(_elapsed_until(t0, lambda r=rec: _rows(pg, table, r), 180))
                print(
                    f"  insert {i + 1}/{inserts}: queued {queued[-1]:.1f}s, rows {visible[-1]:.1f}s",
                    file=sys.stderr,
                )
    finally:
        store.deactivate(desc.name)
        sync_dags_folder(dags, force=True)
        pg.execute(
            psycopg.sql.SQL("drop schema if exists {} cascade").format(psycopg.sql.Identifier(f"bench_{tag}"))
        )
        pg.close()
    return {
        "inserts": inserts,
        "queued_p50": round(statistics.median(queued), 2),
        "queued_p95": round(_pct(queued, 0.95), 2),
        "visible_p50": round(statistics.median(visible), 2),
        "visible_p95": round(_pct(visible, 0.95), 2),
    }


def _elapsed_until(t0: float, check: Any, timeout: float) -> float:
    _wait(check, timeout)
    return time.monotonic() - t0


def _dag_exists(dag_id: str) -> bool:
    try:
        return _api(f"dags/{dag_id}").get("is_paused") is False
    except OSError:
        return False


def _runs(dag_id: str) -> int:
    return int(_api(f"dags/{dag_id}/dagRuns?limit=1").get("total_entries", 0))


def _rows(pg: Any, table: Any, rec: dict) -> bool:
    import psycopg

    try:
        q = psycopg.sql.SQL("select 1 from {} where _raw_object_id = %s limit 1").format(table)
        return pg.execute(q, (rec["_id"],)).fetchone() is not None
    except psycopg.errors.UndefinedTable:
        return False


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.factory_bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--n-formats", type=int, default=1000)
    parser.add_argument("--inserts", type=int, default=20)
    parser.add_argument("--parse-only", action="store_true")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"parse": bench_parse(args.n_formats)}
    p = results["parse"]
    print(
        f"descriptors from the cache, {p['formats']} formats: {p['descriptor_seconds']:.2f}s "
        "(goal about 1 s)\n"
        f"DagBag of the {p['formats']} generated files {p['ours_seconds']:.2f}s ({p['ours_dags']} DAGs, "
        f"{p['ours_import_errors']} errors) vs {p['handwritten_seconds']:.2f}s for equivalent hand-written "
        f"DAG files: ratio {p['ratio']:.2f}x"
    )
    if not args.parse_only:
        results["latency"] = lat = bench_latency(args.inserts)
        print(
            f"commit -> run queued   p50 {lat['queued_p50']:.1f}s  p95 {lat['queued_p95']:.1f}s "
            "(goal p50 <= 5 s)\n"
            f"commit -> rows visible p50 {lat['visible_p50']:.1f}s  p95 {lat['visible_p95']:.1f}s"
        )
    out = Path(__file__).resolve().parent / "results" / "factory.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
