"""Gold zone, MongoDB: 1M rows through ``MongoLoader`` vs pymongo ``insert_many`` of prebuilt documents, in
the same run, on the same server (the stack's FerretDB; production runs MongoDB).

Ours turns typed rows (what the parser yields) into documents with their lineage (``_raw_object_id``,
``_source_row``, ``_loaded_at``) and writes them with unordered bulk inserts of 5,000, mode
``replace_object`` (so it first deletes the object's documents: none, on a fresh collection), into a
collection with the lineage index. The baseline is ``insert_many`` of the same documents built before the
clock starts, into (a) a plain collection and (b) a like-for-like one with the same lineage index. Each
run writes a fresh collection; medians of the rounds are reported. Run: ``python -m bench.mongo_bench`` with
``.stack/env`` loaded. Results: ``bench/results/mongodb.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

from bench import common

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "mongodb.json"
GOAL_RATIO = 0.6
OBJECT_ID = "bench-object-mongo"
TYPES = {"sensor": "string", "seq": "int", "value": "float", "at": "timestamp", "unit": "string"}


def rows(count: int, seed: int) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    sensors = [f"u4/{room}/{kind}" for room in range(300, 311) for kind in ("temperature", "humidity", "co2")]
    return [
        (rng.choice(sensors), i, round(rng.uniform(-20, 2000), 3), start + dt.timedelta(seconds=i), "celsius")
        for i in range(count)
    ]


def gold_conn_id() -> str:
    return "mongo_gold" if os.environ.get("AIRFLOW_CONN_MONGO_GOLD") else "mongo_default"


def make_loader(database: str, collection: str) -> Any:
    from airflow.providers.mongo.hooks.mongo import MongoHook

    from airflow_provider_datalake.descriptors.model import Descriptor
    from airflow_provider_datalake.gold.mongo import MongoLoader

    desc = Descriptor.model_validate(
        {
            "name": "bench_mongo",
            "parser": {"kind": "csv"},
            "fields": [{"name": n, "type": t} for n, t in TYPES.items()],
            "targets": [
                {
                    "store": "mongodb",
                    "conn_id": gold_conn_id(),
                    "database": database,
                    "collection": collection,
                }
            ],
        }
    )
    target = desc.targets[0]
    return MongoLoader(MongoHook(mongo_conn_id=target.conn_id), target, desc.fields)


def batches(data: list[tuple[Any, ...]]) -> Any:
    from airflow_provider_datalake.parsing import Batch

    names = list(TYPES)
    for first in range(0, len(data), 10_000):
        chunk = data[first : first + 10_000]
        yield Batch(names, chunk, list(range(first + 1, first + 1 + len(chunk))), [])


def ours(data: list[tuple[Any, ...]], database: str, collection: str) -> float:
    load = make_loader(database, collection)
    load.ensure_table()
    start = time.perf_counter()
    result = load.load(OBJECT_ID, batches(data))
    seconds = time.perf_counter() - start
    if result.rows_written != len(data):
        raise RuntimeError(f"ours wrote {result.rows_written} documents, expected {len(data)}")
    return seconds


def prebuilt(data: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    names = list(TYPES)
    loaded_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return [
        {
            **dict(zip(names, row, strict=True)),
            "_raw_object_id": OBJECT_ID,
            "_source_row": n,
            "_loaded_at": loaded_at,
        }
        for n, row in enumerate(data, start=1)
    ]


def baseline(data: list[tuple[Any, ...]], database: str, collection: str, *, index: bool) -> float:
    from airflow.providers.mongo.hooks.mongo import MongoHook

    coll = MongoHook(mongo_conn_id=gold_conn_id()).get_conn()[database][collection]
    if index:
        coll.create_index([("_raw_object_id", 1), ("_source_row", 1)], name="datalake_lineage")
    docs = prebuilt(data)
    start = time.perf_counter()
    result = coll.insert_many(docs, ordered=False)
    seconds = time.perf_counter() - start
    if len(result.inserted_ids) != len(data):
        raise RuntimeError("insert_many did not insert every document")
    return seconds


def run(*, rows_count: int, rounds: int, seed: int) -> dict[str, Any]:
    from airflow.providers.mongo.hooks.mongo import MongoHook

    data = rows(rows_count, seed)
    database = f"bench_gold_{uuid.uuid4().hex[:8]}"
    client = MongoHook(mongo_conn_id=gold_conn_id()).get_conn()
    seconds: dict[str, list[float]] = {"ours": [], "insert_many_plain": [], "insert_many_lineage": []}
    try:
        order = list(seconds)
        for index in range(rounds):
            for variant in order[index % len(order) :] + order[: index % len(order)]:
                collection = f"{variant}_{index}"
                if variant == "ours":
                    took = ours(data, database, collection)
                else:
                    took = baseline(data, database, collection, index=variant.endswith("lineage"))
                seconds[variant].append(took)
                common.say(f"round {index + 1}/{rounds}: {variant} {rows_count / took:,.0f} docs/s")
                client[database].drop_collection(collection)
    finally:
        client.drop_database(database)
    rate = {k: rows_count / statistics.median(v) for k, v in seconds.items()}
    return {
        "documents": rows_count,
        "rounds": rounds,
        "server": "FerretDB" if "ferret" in json.dumps(client.server_info()).lower() else "MongoDB",
        "docs_per_s": rate,
        "ratio_plain": rate["ours"] / rate["insert_many_plain"],
        "ratio_lineage": rate["ours"] / rate["insert_many_lineage"],
        "goal_ratio": GOAL_RATIO,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mongo_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=20210722)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    common.conn_json(gold_conn_id())
    common.quiet_logs()
    with common.stdout_to_stderr():
        result = run(rows_count=args.rows, rounds=args.rounds, seed=args.seed)
    result["date"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    result["host"] = {"cpus": os.cpu_count()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    rate, goal = result["docs_per_s"], result["goal_ratio"]
    met = "met" if result["ratio_plain"] >= goal else "MISSED"
    print(
        f"\n== gold zone, MongoDB ({result['server']}): {result['documents']:,} documents, median of "
        f"{result['rounds']} round(s), same server, same run =="
    )
    print(f"{'ours (typed rows -> MongoLoader, replace_object)':<56} {rate['ours']:>10,.0f} docs/s")
    print(
        f"{'pymongo insert_many, prebuilt documents':<56} {rate['insert_many_plain']:>10,.0f} docs/s  "
        f"ratio {result['ratio_plain']:.2f}x (goal >= {goal}x: {met})"
    )
    print(
        f"{'  same, with the lineage index (like-for-like)':<56} "
        f"{rate['insert_many_lineage']:>10,.0f} docs/s  ratio {result['ratio_lineage']:.2f}x"
    )
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
