"""The soak (``make soak``; not in CI): many objects of mixed formats through the stack's real Airflow.

``python -m bench.soak [--objects 10000] [--writers 8] [--restart postgres]`` inserts ``--objects`` small
files of two campus formats from ``--writers`` concurrent processes, with ``--bad-share`` of their rows bad,
and restarts one store (``--restart``) once half of them are in. Then it waits until every object is
``processed`` or ``failed``, reprocesses the failed ones once (a restarted store fails the loads that met it:
loads are not retried on a store error) and reports:

* objects per second in (inserts) and out (processed), and insert-to-processed latency p50 / p95;
* the memory (RSS) of each Airflow process tree at the start and at the end;
* backpressure: the most objects one run claimed, the most task instances of the soak running or queued at
  once, against Airflow's parallelism;
* counts: Swift's objects, the catalog's records, the rows in PostgreSQL and MongoDB, and the rows the catalog
  says each target loaded and quarantined, each against what the soak wrote. It exits 1 when one differs.

The formats: ``soak_mqtt_<tag>`` (the campus MQTT dump, into PostgreSQL, InfluxDB, MongoDB and Neo4j) and
``soak_readings_<tag>`` (the older sensor database's JSON exports, into PostgreSQL). Everything the soak made
is removed at the end (raw objects, records, gold tables) unless ``--keep``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pymongo
import yaml

from airflow_provider_datalake import insert_datalake
from airflow_provider_datalake.airflow_rest import AirflowRest
from airflow_provider_datalake.descriptors.model import Descriptor
from airflow_provider_datalake.descriptors.store import FormatStore
from airflow_provider_datalake.factory import install_dags_folder, sync_dags_folder
from airflow_provider_datalake.hooks.catalog import CatalogHook
from airflow_provider_datalake.hooks.swift import SwiftHook
from airflow_provider_datalake.processing import reprocess
from airflow_provider_datalake.samples import mqtt_messages, sensor_readings
from bench.common import campus_mqtt_under, conn_json

REPO = Path(__file__).resolve().parent.parent
STACK_PY = REPO / "devstack" / "stack.py"
RESULTS = REPO / "bench" / "results" / "soak.json"
MQTT_START = dt.datetime(2024, 1, 1)
CLAIM_LIMIT = 100  # the descriptors' processing.batch, by default
COUNT_TIMEOUT_S = 1800


# --------------------------------------------------------------------------- the stack


def stack(*args: str) -> None:
    proc = subprocess.run([sys.executable, str(STACK_PY), *args], capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise SystemExit(f"devstack/stack.py {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")


def stack_dir() -> Path:
    return Path(os.environ.get("DATALAKE_STACK_DIR") or REPO / ".stack")


def api(path: str) -> dict[str, Any]:
    answer: dict[str, Any] = AirflowRest.from_env("viewer").get_json(f"/api/v2/{path}") or {}
    return answer


def airflow_db() -> psycopg.Connection:
    url = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("postgresql+psycopg2://", "postgresql://")
    return psycopg.connect(url, autocommit=True)


def gold_pg() -> psycopg.Connection:
    conn = conn_json("postgres_default")
    return psycopg.connect(
        host=conn["host"],
        port=conn["port"],
        user=conn["login"],
        password=conn["password"],
        dbname=conn.get("schema") or "datalake",
        autocommit=True,
    )


def process_tree_rss() -> dict[str, int]:
    """RSS in bytes of each Airflow service of the stack, its children (task processes) included."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            status = (entry / "status").read_text()
        except OSError:
            continue
        pid = int(entry.name)
        children.setdefault(int(stat[1]), []).append(pid)
        kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        rss[pid] = kb * 1024
    out: dict[str, int] = {}
    for pidfile in sorted((stack_dir() / "run").glob("*.pid")):
        name = pidfile.stem
        if not (name.startswith("airflow") or name.startswith("celery")):
            continue
        todo, total = [int(pidfile.read_text().split()[0])], 0
        while todo:
            pid = todo.pop()
            total += rss.get(pid, 0)
            todo.extend(children.get(pid, []))
        out[name] = total
    return out


# --------------------------------------------------------------------------- the formats


def soak_formats(tag: str) -> dict[str, Descriptor]:
    mqtt = campus_mqtt_under(
        yaml.safe_load((REPO / "examples" / "neocampus_mqtt.yaml").read_text()), "soak", tag
    )
    mqtt["name"] = f"soak_mqtt_{tag}"
    readings = yaml.safe_load((REPO / "examples" / "sensor_readings.yaml").read_text())
    readings["name"], readings["match"] = f"soak_readings_{tag}", {}
    readings["targets"][0]["schema"] = f"soak_{tag}"
    for raw in (mqtt, readings):
        # 2% of the rows are bad on average, but a 40-row file may draw five: no file fails for its share.
        raw["quarantine"] = {"max_ratio": 0.5}
    return {"mqtt": Descriptor.model_validate(mqtt), "readings": Descriptor.model_validate(readings)}


def install(formats: dict[str, Descriptor]) -> None:
    dags = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    store = FormatStore(CatalogHook())
    for desc in formats.values():
        store.push(desc, author="soak")
    install_dags_folder(dags, layout="per-format")
    sync_dags_folder(dags, force=True)
    deadline = time.monotonic() + 180
    for desc in formats.values():
        while api(f"dags/datalake__{desc.name}").get("is_paused") is not False:
            if time.monotonic() > deadline:
                raise SystemExit(f"the dag-processor did not parse datalake__{desc.name} in 180 s")
            time.sleep(1)
    time.sleep(5)  # the triggerer picks the new asset watchers up on its next loop


def retire(formats: dict[str, Descriptor]) -> None:
    dags = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    store = FormatStore(CatalogHook())
    for desc in formats.values():
        store.deactivate(desc.name)
    sync_dags_folder(dags, force=True)


# --------------------------------------------------------------------------- the files


def write_file(folder: Path, kind: str, n: int, rows: int, bad_share: float, seed: int) -> dict[str, Any]:
    """One file of ``kind`` with about ``rows`` rows, ``bad_share`` of them bad; returns what the gold zone
    must hold of it."""
    rng = random.Random(seed)
    if kind == "readings":
        records, bad = list(sensor_readings(rows, seed=seed)), 0
        for record in records:
            if rng.random() < bad_share:
                record["idcapteur"], bad = "n/a", bad + 1  # sensor_id is a required int: quarantined
        path = folder / f"soak_readings_{n:05d}.json"
        path.write_text(json.dumps(records))
        return {"path": path, "kind": kind, "good": rows - bad, "bad": bad}
    # One row per message and unit; a message with a broken time is bad in each of its rows. Each file
    # starts on its own day, so merge keys never collide across files.
    start = MQTT_START + dt.timedelta(days=n)
    lines, good, bad = [], 0, 0
    for message in mqtt_messages(rows, seed=seed, start=start):
        units = len(message["value"]) if isinstance(message["value"], list) else 1
        if rng.random() < bad_share:
            message["time"], bad = "not a time", bad + units
        else:
            good += units
        lines.append(json.dumps(message))
    path = folder / f"soak_mqtt_{n:05d}.json"
    path.write_text("[" + "\n,".join(lines) + "]\n")
    return {"path": path, "kind": kind, "good": good, "bad": bad}


def insert_one(path: str, fmt: str) -> tuple[str, float]:
    started = time.monotonic()
    rid = insert_datalake(path, format=fmt)["_id"]
    return rid, time.monotonic() - started


# --------------------------------------------------------------------------- watching


class Watcher(threading.Thread):
    """Samples, every 2 s, the soak DAGs' task instances running or queued and their runs' claims."""

    def __init__(self, dag_ids: list[str]) -> None:
        super().__init__(daemon=True)
        self.dag_ids, self.stop = dag_ids, threading.Event()
        self.most_busy = 0  # task instances of the soak running or queued at once
        self.most_running = 0
        self.most_running_per_dag: dict[str, int] = {}
        self.errors = 0

    def run(self) -> None:
        while not self.stop.wait(2):
            try:
                with airflow_db() as db:
                    row = db.execute(
                        "select count(*) filter (where state = 'running'), count(*) from task_instance "
                        "where dag_id = any(%s) and state in ('running', 'queued', 'scheduled')",
                        (self.dag_ids,),
                    ).fetchone()
                    per_dag = db.execute(
                        "select dag_id, count(*) from task_instance "
                        "where dag_id = any(%s) and state = 'running' group by dag_id",
                        (self.dag_ids,),
                    ).fetchall()
            except psycopg.Error:
                self.errors += 1  # PostgreSQL restarting
                continue
            assert row is not None
            self.most_running = max(self.most_running, row[0])
            self.most_busy = max(self.most_busy, row[1])
            for dag_id, n in per_dag:
                self.most_running_per_dag[dag_id] = max(self.most_running_per_dag.get(dag_id, 0), n)


def settle(catalog: CatalogHook, fmts: list[str], total: int, timeout: float) -> dict[str, int]:
    """Wait until every object of the soak is processed or failed, starting again any stack process that
    exited (as a deployment's supervisor would); returns the counts by status."""
    deadline, supervised = time.monotonic() + timeout, time.monotonic()
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        try:
            counts = {}
            for fmt in fmts:
                for status, n in catalog.status_counts(fmt).get(fmt, {}).items():
                    counts[status] = counts.get(status, 0) + n
        except Exception as exc:  # the catalog's server may be the one restarted
            print(f"  catalog unreachable: {exc}", flush=True)
            time.sleep(5)
            continue
        if counts.get("processed", 0) + counts.get("failed", 0) >= total:
            return counts
        if time.monotonic() - supervised > 30:
            stack("up")
            supervised = time.monotonic()
            print(f"  {dt.datetime.now():%H:%M:%S} {counts}", flush=True)
        time.sleep(3)
    raise SystemExit(f"not settled after {timeout:.0f} s: {counts}")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--rows", type=int, default=40, help="rows (messages, readings) per file (40)")
    parser.add_argument("--bad-share", type=float, default=0.02)
    parser.add_argument("--restart", default="postgres", help="the store restarted halfway ('' for none)")
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="seconds to settle")
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--keep", action="store_true", help="keep what the soak made")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    conn_json("swift_default")  # the stack's env is loaded

    tag = uuid.uuid4().hex[:8]
    formats = soak_formats(tag)
    fmts = [d.name for d in formats.values()]
    dag_ids = [f"datalake__{f}" for f in fmts]
    catalog, swift = CatalogHook(), SwiftHook()
    rng = random.Random(args.seed)
    report: dict[str, Any] = {"objects": args.objects, "writers": args.writers, "rows": args.rows, "tag": tag}
    print(f"soak {tag}: {args.objects} objects of {fmts}, {args.writers} writers", flush=True)

    with tempfile.TemporaryDirectory(prefix="datalake-soak-") as tmp:
        folder = Path(tmp)
        t0 = time.monotonic()
        plan = [
            write_file(
                folder, ("mqtt", "readings")[n % 2], n, args.rows, args.bad_share, rng.randrange(1 << 30)
            )
            for n in range(args.objects)
        ]
        print(f"  {args.objects} files written in {time.monotonic() - t0:.0f} s", flush=True)
        install(formats)
        report["rss_start"] = process_tree_rss()
        watcher = Watcher(dag_ids)
        watcher.start()

        restarted: dict[str, Any] = {}
        ids: dict[str, dict[str, Any]] = {}
        insert_times: list[float] = []
        started = time.monotonic()
        with cf.ProcessPoolExecutor(args.writers) as pool:
            futures = {
                pool.submit(insert_one, str(item["path"]), formats[item["kind"]].name): item for item in plan
            }
            restart_thread = None
            for done, future in enumerate(cf.as_completed(futures), 1):
                rid, seconds = future.result()
                ids[rid] = futures[future]
                insert_times.append(seconds)
                if args.restart and done == len(plan) // 2 and restart_thread is None:

                    def restart() -> None:
                        down = time.monotonic()
                        stack("down", args.restart)
                        time.sleep(5)
                        stack("up")
                        restarted.update(
                            store=args.restart,
                            at_s=round(down - started),
                            down_s=round(time.monotonic() - down),
                        )

                    restart_thread = threading.Thread(target=restart)
                    restart_thread.start()
        inserted_in = time.monotonic() - started
        if restart_thread is not None:
            restart_thread.join()
        print(f"  inserted in {inserted_in:.0f} s; restarted {restarted or 'nothing'}", flush=True)

        counts = settle(catalog, fmts, len(ids), args.timeout)
        first_pass_in = time.monotonic() - started
        failed = [rid for rid in ids if catalog.get(rid)["status"] == "failed"]
        if failed:
            print(f"  {len(failed)} failed: reprocessing them once", flush=True)
            reprocess(catalog, ids=failed)
            counts = settle(catalog, fmts, len(ids), args.timeout)
        settled_in = time.monotonic() - started
        watcher.stop.set()
        time.sleep(5)  # the last task processes exit
        report["rss_end"] = process_tree_rss()

        report.update(
            inserted_s=round(inserted_in, 1),
            objects_in_per_s=round(len(ids) / inserted_in, 1),
            first_pass_s=round(first_pass_in, 1),
            settled_s=round(settled_in, 1),
            objects_out_per_s=round(len(ids) / first_pass_in, 2),
            insert_p50_s=round(percentile(insert_times, 0.5), 3),
            insert_p95_s=round(percentile(insert_times, 0.95), 3),
            restarted=restarted,
            failed_then_reprocessed=len(failed),
            statuses=counts,
        )
        # The timings and memory are kept should the counts fail: the check reads every store.
        save(report, args.out)
        report.update(check(catalog, swift, formats, ids, tag, watcher))
        if not args.keep:
            cleanup(catalog, swift, formats, ids, tag)

    print_report(report)
    save(report, args.out)
    return 0 if not report["mismatches"] else 1


def save(report: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))


def check(
    catalog: CatalogHook,
    swift: SwiftHook,
    formats: dict[str, Descriptor],
    ids: dict[str, dict[str, Any]],
    tag: str,
    watcher: Watcher,
) -> dict[str, Any]:
    """Every count, from each store, against what the soak wrote; latency and claims from the catalog."""
    want = {kind: {"objects": 0, "good": 0, "bad": 0} for kind in formats}
    for item in ids.values():
        for key, n in (("objects", 1), ("good", item["good"]), ("bad", item["bad"])):
            want[item["kind"]][key] += n
    found: dict[str, Any] = {}
    latencies: list[float] = []
    loaded: dict[str, int] = {}
    quarantined: dict[str, int] = {}
    claims: dict[str, int] = {}
    for rid in ids:
        rec = catalog.get(rid)
        last = {op["target"]: op for op in rec.get("successful_operations", [])}
        for target, op in last.items():
            key = f"{ids[rid]['kind']}:{target}"
            # Accepted rows: a merge target reloaded after a failure writes none it already holds, so
            # rows_loaded (rows written) would undercount.
            bad = int(op.get("rows_quarantined", 0))
            loaded[key] = loaded.get(key, 0) + int(op.get("rows_in", 0)) - bad
            quarantined[key] = quarantined.get(key, 0) + bad
        if last:
            done = max(op["finished"] for op in last.values())
            latencies.append((done - rec["creation_date"]).total_seconds())
        claims[rec.get("processing_run", "")] = claims.get(rec.get("processing_run", ""), 0) + 1
    for kind, desc in formats.items():
        found[f"catalog:{kind}"] = sum(
            n for n in catalog.status_counts(desc.name).get(desc.name, {}).values()
        )
        container_objects = 0
        for container in {catalog.get(rid)["swift_container"] for rid in list(ids)[:50]}:
            container_objects += sum(1 for _ in swift.list_objects(container, prefix=f"{desc.name}/"))
        found[f"swift:{kind}"] = container_objects
    with gold_pg() as pg:
        for kind, table in (("mqtt", "mqtt_readings"), ("readings", "sensor_readings")):
            ident = psycopg.sql.Identifier(f"soak_{tag}", table)
            row = pg.execute(psycopg.sql.SQL("select count(*) from {}").format(ident)).fetchone()
            found[f"postgres:{kind}"] = row[0] if row else 0
    gold = CatalogHook("mongo_gold")
    # An exact count reads every document on FerretDB 1: minutes at the soak's size, past the connection's
    # socket timeout, which a deadline of its own replaces.
    with pymongo.timeout(COUNT_TIMEOUT_S):
        found["mongodb:mqtt"] = gold.get_conn()[gold.database][f"soak_{tag}"].count_documents({})

    expected: dict[str, int] = {}
    for kind in formats:
        expected[f"catalog:{kind}"] = expected[f"swift:{kind}"] = want[kind]["objects"]
        expected[f"postgres:{kind}"] = want[kind]["good"]
    expected["mongodb:mqtt"] = want["mqtt"]["good"]
    for key in loaded:
        kind = key.split(":")[0]
        found[f"accepted {key}"], expected[f"accepted {key}"] = loaded[key], want[kind]["good"]
        found[f"quarantined {key}"], expected[f"quarantined {key}"] = quarantined[key], want[kind]["bad"]
    mismatches = {k: (found.get(k), v) for k, v in expected.items() if found.get(k) != v}

    with airflow_db() as db:
        row = db.execute(
            "select coalesce(max(n), 0) from (select max(map_index) + 1 as n from task_instance "
            "where dag_id = any(%s) group by dag_id, run_id, task_id) mapped",
            ([f"datalake__{d.name}" for d in formats.values()],),
        ).fetchone()
    parallelism = os.environ.get("AIRFLOW__CORE__PARALLELISM", "?")
    claims.pop("", None)
    return {
        "counts": {k: {"found": found.get(k), "expected": v} for k, v in expected.items()},
        "mismatches": mismatches,
        "latency_p50_s": round(percentile(latencies, 0.5), 1),
        "latency_p95_s": round(percentile(latencies, 0.95), 1),
        "most_objects_per_run": max(claims.values(), default=0),
        "most_load_tasks_per_run_and_target": row[0] if row else 0,
        "claim_limit": CLAIM_LIMIT,
        "most_task_instances_busy": watcher.most_busy,
        "most_task_instances_running": watcher.most_running,
        "most_running_per_format": watcher.most_running_per_dag,
        "parallelism": parallelism,
    }


def cleanup(
    catalog: CatalogHook,
    swift: SwiftHook,
    formats: dict[str, Descriptor],
    ids: dict[str, dict[str, Any]],
    tag: str,
) -> None:
    """The soak's raw objects, records, formats and gold data go; the stack is as it was."""
    retire(formats)
    for rid in ids:
        rec = catalog.get(rid)
        swift.delete_object(rec["swift_container"], rec["swift_object_id"])
    catalog.raw_objects.delete_many({"_id": {"$in": list(ids)}})
    with gold_pg() as pg:
        pg.execute(
            psycopg.sql.SQL("drop schema if exists {} cascade").format(psycopg.sql.Identifier(f"soak_{tag}"))
        )
    gold = CatalogHook("mongo_gold")
    gold.get_conn()[gold.database].drop_collection(f"soak_{tag}")


def print_report(report: dict[str, Any]) -> None:
    print("\n=== soak report")
    print(
        f"objects: {report['objects']} from {report['writers']} writers, {report['rows']} rows each; "
        f"store restarted: {report['restarted'] or 'none'}"
    )
    print(
        f"in:  {report['objects_in_per_s']} objects/s (inserts took {report['inserted_s']} s; "
        f"one insert p50 {report['insert_p50_s']} s, p95 {report['insert_p95_s']} s)"
    )
    r = report
    print(
        f"out: {r['objects_out_per_s']} objects/s (all settled {r['first_pass_s']} s after the first "
        f"insert); insert-to-processed p50 {r['latency_p50_s']} s, p95 {r['latency_p95_s']} s"
    )
    print(f"failed by the restart, then reprocessed: {report['failed_then_reprocessed']}")
    print(
        f"backpressure: at most {r['most_objects_per_run']} objects finished in one run (claim limit "
        f"{r['claim_limit']}), in at most {r['most_load_tasks_per_run_and_target']} load tasks per target; "
        f"at most {r['most_task_instances_running']} task instances running (parallelism "
        f"{r['parallelism']}), {r['most_task_instances_busy']} running or queued; per format at most "
        f"{r['most_running_per_format']}"
    )
    print("memory (RSS, MB)        start      end")
    for name in sorted(report["rss_start"]):
        start, end = report["rss_start"][name], report["rss_end"].get(name, 0)
        print(f"  {name:<22} {start / 1e6:7.0f}  {end / 1e6:7.0f}")
    print("counts                               found   expected")
    for key, pair in report["counts"].items():
        mark = "" if pair["found"] == pair["expected"] else "   <-- MISMATCH"
        print(f"  {key:<34} {pair['found']!s:>7} {pair['expected']:>10}{mark}")
    print("all counts agree" if not report["mismatches"] else f"MISMATCHES: {report['mismatches']}")


if __name__ == "__main__":
    sys.exit(main())
