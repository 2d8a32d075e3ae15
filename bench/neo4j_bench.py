"""Gold zone, Neo4j: 100k rows through ``Neo4jLoader`` vs the same ``UNWIND $rows ... MERGE`` statements sent
with prebuilt parameters, in the same run, on the same server.

The graph: (:Building)-[:HAS_ROOM]->(:Room)-[:HAS_SENSOR]->(:Sensor), 10 buildings, 500 rooms, one sensor
per row (100k sensors and relationships), keys under uniqueness constraints. Ours turns typed rows into
per-label parameter lists (de-duplicated per batch) and runs one transaction per batch of 5,000 rows. The
baseline sends the very same statements and parameters, built before the clock starts, one transaction
per batch. Each run uses its own labels; rounds alternate; medians are reported. Run:
``python -m bench.neo4j_bench`` with ``.stack/env`` loaded. Results: ``bench/results/neo4j.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

from bench import common

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "neo4j.json"
BATCH = 1_000
GOAL_RATIO = 0.6
OBJECT_ID = "bench-object-neo4j"
TYPES = {"building": "string", "room": "string", "sensor": "string", "value": "float", "time": "timestamp"}


def rows(count: int) -> list[tuple[Any, ...]]:
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    return [
        (f"u{i % 10}", f"{i % 10}-{i % 500}", f"s{i}", float(i % 997), start + dt.timedelta(seconds=i))
        for i in range(count)
    ]


def make_loader(tag: str) -> Any:
    from airflow.providers.neo4j.hooks.neo4j import Neo4jHook

    from airflow_provider_datalake.descriptors.model import Descriptor
    from airflow_provider_datalake.gold.neo4j import Neo4jLoader

    b, r, s = (f"{name}_{tag}" for name in ("Building", "Room", "Sensor"))
    desc = Descriptor.model_validate(
        {
            "name": "bench_neo4j",
            "parser": {"kind": "csv"},
            "fields": [{"name": n, "type": t} for n, t in TYPES.items()],
            "targets": [
                {
                    "store": "neo4j",
                    "batch_size": BATCH,
                    "nodes": [
                        {"label": b, "keys": ["building"]},
                        {"label": r, "keys": ["room"]},
                        {"label": s, "keys": ["sensor"], "properties": ["value", "time"]},
                    ],
                    "relationships": [
                        {"type": f"HAS_ROOM_{tag}", "from": b, "to": r},
                        {"type": f"HAS_SENSOR_{tag}", "from": r, "to": s},
                    ],
                }
            ],
        }
    )
    target = desc.targets[0]
    return Neo4jLoader(Neo4jHook(conn_id=target.conn_id), target, desc.fields)


def batches(data: list[tuple[Any, ...]]) -> Any:
    from airflow_provider_datalake.parsing import Batch

    names = list(TYPES)
    for first in range(0, len(data), BATCH):
        chunk = data[first : first + BATCH]
        yield Batch(names, chunk, list(range(first + 1, first + 1 + len(chunk))), [])


def ours(data: list[tuple[Any, ...]], tag: str) -> float:
    load = make_loader(tag)
    load.ensure_table()
    start = time.perf_counter()
    result = load.load(OBJECT_ID, batches(data))
    seconds = time.perf_counter() - start
    if result.rows_written != len(data):
        raise RuntimeError(f"ours merged {result.rows_written} rows, expected {len(data)}")
    return seconds


def baseline(data: list[tuple[Any, ...]], tag: str) -> float:
    """The same statements and parameters (prebuilt by the loader before timing), a transaction a batch."""
    from airflow_provider_datalake.gold.common import Rejects

    load = make_loader(tag)
    load.ensure_table()
    statements = [node.query for node in load.nodes.values()] + [query for _, _, query in load.rels]
    prepared = []
    for batch in batches(data):
        node_rows, rel_rows, _ = load._params(batch, Rejects(None, list(TYPES)))
        prepared.append([*node_rows.values(), *rel_rows])
    params = {"object": OBJECT_ID, "loaded_at": dt.datetime.now(dt.UTC)}
    driver = load.hook.get_conn()
    start = time.perf_counter()
    with driver.session() as session:
        for per_statement in prepared:
            with session.begin_transaction() as tx:
                for query, batch_rows in zip(statements, per_statement, strict=True):
                    tx.run(query, rows=batch_rows, **params).consume()
                tx.commit()
    return time.perf_counter() - start


def cleanup(tag: str) -> None:
    from airflow.providers.neo4j.hooks.neo4j import Neo4jHook

    hook = Neo4jHook(conn_id="neo4j_default")
    for label in ("Building", "Room", "Sensor"):
        hook.run(f"MATCH (n:`{label}_{tag}`) CALL (n) {{ DETACH DELETE n }} IN TRANSACTIONS OF 1000 ROWS")
        hook.run(f"DROP CONSTRAINT `datalake_{label}_{tag}_key` IF EXISTS")


def run(*, rows_count: int, rounds: int) -> dict[str, Any]:
    data = rows(rows_count)
    seconds: dict[str, list[float]] = {"ours": [], "unwind_merge": []}
    for index in range(rounds):
        order = ["ours", "unwind_merge"] if index % 2 == 0 else ["unwind_merge", "ours"]
        for variant in order:
            tag = f"b{uuid.uuid4().hex[:8]}"
            try:
                took = ours(data, tag) if variant == "ours" else baseline(data, tag)
            finally:
                cleanup(tag)
            seconds[variant].append(took)
            common.say(f"round {index + 1}/{rounds}: {variant} {rows_count / took:,.0f} rows/s")
    rate = {k: rows_count / statistics.median(v) for k, v in seconds.items()}
    return {
        "rows": rows_count,
        "rounds": rounds,
        "rows_per_s": rate,
        "ratio": rate["ours"] / rate["unwind_merge"],
        "goal_ratio": GOAL_RATIO,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.neo4j_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    common.conn_json("neo4j_default")
    common.quiet_logs()
    with common.stdout_to_stderr():
        result = run(rows_count=args.rows, rounds=args.rounds)
    result["date"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    result["host"] = {"cpus": os.cpu_count()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    rate, goal = result["rows_per_s"], result["goal_ratio"]
    met = "met" if result["ratio"] >= goal else "MISSED"
    print(
        f"\n== gold zone, Neo4j: {result['rows']:,} rows (3 labels, 2 relationship types), median of "
        f"{result['rounds']} rounds, same server, same run =="
    )
    print(f"{'ours (typed rows -> Neo4jLoader)':<56} {rate['ours']:>10,.0f} rows/s")
    print(
        f"{'UNWIND ... MERGE, prebuilt parameters':<56} {rate['unwind_merge']:>10,.0f} rows/s  "
        f"ratio {result['ratio']:.2f}x (goal >= {goal}x: {met})"
    )
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
