"""Unknown formats at campus scale: 1,000 files of 3 shapes with scrambled names and 100 opaque text files.

Run with ``make bench`` or, with the stack's env loaded, ``.venv/bin/python -m bench.unknown_bench
[--structured 1000] [--opaque 100] [--baseline]``. Each phase uses its own catalog database, container and
PostgreSQL schema on the stack, removed afterwards.

While the files are inserted (one writer, as a producer would), a second thread plays the unknown-formats
DAG: it calls `infer_unformatted` (the DAG task's function, same batch and pool) again as soon as a call
ends, as the event trigger would start the next run. Figures: drafts made, objects marked opaque, drafts
founded on an opaque object (must be 0), insert -> decided latency (p50, p95: the record's creation date to
its inference mark) and the time from the last insert to the last decision. Phase ``review`` measures
the grouping; phase ``auto`` then loads every structured object into PostgreSQL through `processing` (what
the formats' DAGs run) and counts quarantined rows. ``--baseline`` repeats the review phase with one worker
and batches of 20 (the sequential, one-at-a-time shape of the task before pools).
Results: ``bench/results/unknown_formats.json``.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import random
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from bench import common
from bench.common import say

RESULTS = Path(__file__).resolve().parent / "results" / "unknown_formats.json"
WORDS = [
    "the",
    "lab",
    "measured",
    "a",
    "warm",
    "room",
    "while",
    "students,",
    "teachers",
    "and",
    "staff",
    "walked",
    "by;",
    "nobody",
    "noticed",
]


def _scrambled(rng: random.Random) -> str:
    stem = "".join(rng.choice("abcdefghjkmnpqrstuvwxyz0123456789") for _ in range(rng.randint(4, 12)))
    return stem + rng.choice([".txt", ".dat", ".log", "", ".csv", ".json"])


def _opaque(rng: random.Random, i: int) -> bytes:
    kind = i % 3
    if kind == 0:  # base64 lines
        return b"".join(base64.b64encode(rng.randbytes(rng.randint(30, 1500))) + b"\n" for _ in range(40))
    if kind == 1:  # free text
        lines = (" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 25))) for _ in range(60))
        return "\n".join(line + rng.choice([".", ",", ", and"]) for line in lines).encode()
    return "\n".join(  # a log without a delimiter
        f"2024-03-0{rng.randint(1, 9)} 12:{rng.randint(10, 59)}:00 worker {rng.randint(1, 9)} job done"
        for _ in range(rng.randint(20, 200))
    ).encode()


def write_files(folder: Path, structured: int, opaque: int, seed: int = 11) -> dict[str, str]:
    """The files (scrambled names) -> their kind: csv (tab-separated, booleans), jsonl, mqtt, opaque."""
    from airflow_provider_datalake.inference.corpus import csv_tab_bools, json_lines, mqtt_lines

    rng = random.Random(seed)
    makers = (("csv", csv_tab_bools), ("jsonl", json_lines), ("mqtt", mqtt_lines))
    kinds: dict[str, str] = {}
    for i in range(structured + opaque):
        name = f"{i:05d}_{_scrambled(rng)}"  # a unique folder-free name; the prefix is no numbering
        if i < structured:
            kind, make = makers[i % 3]
            data = make(random.Random(seed * 100_000 + i), rng.randint(20, 120)).data
        else:
            kind, data = "opaque", _opaque(rng, i)
        (folder / name).write_bytes(data)
        kinds[name] = kind
    return kinds


def _phase(label: str, files: Path, kinds: dict[str, str], *, auto: bool, workers: int, batch: int) -> dict:
    from airflow_provider_datalake import insert_datalake
    from airflow_provider_datalake.descriptors.store import FormatStore
    from airflow_provider_datalake.hooks.catalog import CatalogHook
    from airflow_provider_datalake.hooks.swift import SwiftHook
    from airflow_provider_datalake.inference.drafts import AUTO, Drafts, PolicyStore, infer_unformatted

    tag = uuid.uuid4().hex[:8]
    database, container, schema = f"bench_unknown_{tag}", f"bench-unknown-{tag}", f"bench_unknown_{tag}"
    mongo = {**common.conn_json("mongo_default"), "schema": database}
    os.environ["AIRFLOW_CONN_MONGO_BENCH_UNKNOWN"] = json.dumps(mongo)
    catalog = CatalogHook("mongo_bench_unknown")
    swift = SwiftHook("swift_default")
    if auto:
        PolicyStore(catalog).set(AUTO, container=container)
    stop = threading.Event()
    runs: list[int] = []

    def dag_runs() -> None:
        while True:
            done = stop.is_set()
            outcomes = infer_unformatted(
                f"bench_{len(runs)}",
                catalog=catalog,
                swift=swift,
                stores=["postgres"],
                schema=schema,
                limit=batch,
                workers=workers,
            )
            runs.append(len(outcomes))
            if done and not outcomes:
                return
            if not outcomes:
                time.sleep(0.5)

    inferrer = threading.Thread(target=dag_runs, name="unknown-formats")
    inferrer.start()
    started = time.perf_counter()
    ids: dict[str, str] = {}
    try:
        for name in kinds:
            rec = insert_datalake(
                files / name,
                container=container,
                swift_conn_id="swift_default",
                mongo_conn_id="mongo_bench_unknown",
                swift=swift,
                catalog=catalog,
            )
            ids[rec["_id"]] = kinds[name]
        inserted = time.perf_counter()
        say(f"  {label}: {len(ids)} objects inserted in {inserted - started:.0f}s")
        stop.set()
        inferrer.join()
        decided_at = time.perf_counter()
        records = list(catalog.raw_objects.find({"_id": {"$in": list(ids)}}))
        latencies = sorted(
            (r["inference"]["at"] - r["creation_date"]).total_seconds()
            for r in records
            if r.get("inference", {}).get("at") is not None
        )
        last_insert = max(r["creation_date"] for r in records)
        last_decided = max(r["inference"]["at"] for r in records if r.get("inference", {}).get("at"))
        store = FormatStore(catalog)
        inferred = list(store.collection.find({"origin": "inferred"}, {"name": 1, "status": 1}))
        opaque_ids = {r["_id"] for r in records if r.get("inference", {}).get("state") == "opaque"}
        from_opaque = sum(
            1 for r in records if r["_id"] in opaque_ids and r.get("inference", {}).get("format") is not None
        )
        result: dict[str, Any] = {
            "objects": len(records),
            "formats_made": len({d["name"] for d in inferred}),
            "drafts_waiting": len(Drafts(store).list()),
            "opaque": len(opaque_ids),
            "opaque_of_the_opaque_files": sum(1 for r in opaque_ids if ids[r] == "opaque"),
            "formats_from_opaque_objects": from_opaque,
            "undecided": sum(1 for r in records if not r.get("inference", {}).get("at")),
            "insert_seconds": round(inserted - started, 1),
            "runs": len(runs),
            "p50_insert_to_decided_s": round(latencies[len(latencies) // 2], 1),
            "p95_insert_to_decided_s": round(latencies[int(len(latencies) * 0.95) - 1], 1),
            "last_insert_to_last_decided_s": round((last_decided - last_insert).total_seconds(), 1),
            "wall_after_last_insert_s": round(decided_at - inserted, 1),
        }
        if auto:
            result.update(_load_all(catalog, swift, [r for r, k in ids.items() if k != "opaque"]))
        return result
    finally:
        stop.set()
        inferrer.join()
        catalog.get_conn().drop_database(database)
        common.drop_containers([container, f"{container}_segments"])
        _drop_schema(schema)


def _load_all(catalog: Any, swift: Any, structured: list[str]) -> dict[str, Any]:
    """Every structured object through `processing` (claim, load into PostgreSQL, finish), as its DAG does."""
    from airflow_provider_datalake import processing
    from airflow_provider_datalake.descriptors.store import FormatStore

    store = FormatStore(catalog)
    started = time.perf_counter()
    for descriptor in store.list_active():
        while ids := processing.claim_objects(descriptor.name, "bench_load", catalog=catalog, limit=200):
            for target in descriptor.targets:
                processing.load_objects(
                    descriptor, ids, target.name, "bench_load", catalog=catalog, swift=swift
                )
            processing.finish_objects(ids, "bench_load", catalog=catalog)
    records = list(catalog.raw_objects.find({"_id": {"$in": structured}}))
    loaded = quarantined = 0
    for rec in records:
        for outcome in rec.get("successful_operations", []):
            loaded += int(outcome.get("rows_loaded", 0))
            quarantined += int(outcome.get("rows_quarantined", 0))
    return {
        "structured_processed": sum(1 for r in records if r.get("status") == "processed"),
        "structured_not_processed": sum(1 for r in records if r.get("status") != "processed"),
        "rows_loaded": loaded,
        "rows_quarantined": quarantined,
        "load_seconds": round(time.perf_counter() - started, 1),
    }


def _drop_schema(schema: str) -> None:
    import psycopg

    conn = common.conn_json("postgres_default")
    with psycopg.connect(
        host=conn["host"],
        port=conn["port"],
        user=conn["login"],
        password=conn.get("password"),
        dbname=conn.get("schema") or "postgres",
        autocommit=True,
    ) as pg:
        pg.execute(psycopg.sql.SQL("drop schema if exists {} cascade").format(psycopg.sql.Identifier(schema)))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.unknown_bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--structured", type=int, default=1000)
    parser.add_argument("--opaque", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--baseline", action="store_true", help="also one worker, batches of 20")
    parser.add_argument("--no-auto", action="store_true", help="skip the auto phase (loading)")
    args = parser.parse_args(argv)
    common.quiet_logs()
    results: dict[str, Any] = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "phases": {}}
    with tempfile.TemporaryDirectory(prefix="unknown_bench_") as tmp:
        files = Path(tmp)
        kinds = write_files(files, args.structured, args.opaque)
        phases = [("review", False, args.workers, args.batch)]
        if not args.no_auto:
            phases.append(("auto", True, args.workers, args.batch))
        if args.baseline:
            phases.append(("baseline_sequential", False, 1, 20))
        for label, auto, workers, batch in phases:
            row = _phase(label, files, kinds, auto=auto, workers=workers, batch=batch)
            results["phases"][label] = row
            say(f"{label:>20}: " + ", ".join(f"{k} {v}" for k, v in row.items()))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
