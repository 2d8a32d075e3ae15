"""Gold zone, InfluxDB: 1M rows through ``InfluxLoader`` vs influxdb-client writing the same points as
prebuilt line protocol, in the same run, on the same server.

Ours turns typed rows (what the parser yields) into line protocol — measurement from a template
(``{{ kind }}``), four tags, a field, lineage fields, time — and writes batches of 5,000 points while the
next batch is built. The baseline is what one writes by hand with the official client: the very same lines
(lineage included, so the server does the same work), built before the clock starts, sent with
``write_api(SYNCHRONOUS).write`` in batches of 5,000. Each run writes into its own fresh database; rounds
alternate the order; medians are reported. Run: ``python -m bench.influx_bench`` with ``.stack/env``
loaded. Results: ``bench/results/influxdb.json``.
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
RESULTS = ROOT / "bench" / "results" / "influxdb.json"
BATCH = 5_000
GOAL_RATIO = 0.6
TYPES = {
    "building": "string",
    "room": "string",
    "kind": "string",
    "sub_id": "string",
    "unit_id": "string",
    "value": "float",
    "time": "timestamp",
}
KINDS = ("temperature", "humidity", "co2", "luminosity")


def rows(count: int, seed: int) -> list[tuple[Any, ...]]:
    """Campus-shaped readings: 6 buildings x 11 rooms x 4 kinds x 3 sub ids, one point per second each."""
    rng = random.Random(seed)
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    sensors = [
        (f"u{b}", str(300 + r), k, f"ilot{s}", "inside")
        for b in range(1, 7)
        for r in range(11)
        for k in KINDS
        for s in range(3)
    ]
    out = []
    for i in range(count):
        b, r, k, s, u = sensors[i % len(sensors)]
        out.append(
            (b, r, k, s, u, round(rng.uniform(0, 1000), 3), start + dt.timedelta(seconds=i // len(sensors)))
        )
    return out


def descriptor(bucket: str) -> Any:
    from airflow_provider_datalake.descriptors.model import Descriptor

    return Descriptor.model_validate(
        {
            "name": "bench_influx",
            "parser": {"kind": "csv"},
            "fields": [{"name": n, "type": t} for n, t in TYPES.items()],
            "targets": [
                {
                    "store": "influxdb",
                    "bucket": bucket,
                    "measurement": "{{ kind }}",
                    "tags": ["building", "room", "sub_id", "unit_id"],
                    "fields": ["value"],
                    "time": "time",
                    "precision": "s",
                    "batch_size": BATCH,
                }
            ],
        }
    )


def make_loader(bucket: str) -> Any:
    from airflow.providers.influxdb.hooks.influxdb import InfluxDBHook

    from airflow_provider_datalake.gold.influxdb import InfluxLoader

    desc = descriptor(bucket)
    target = desc.targets[0]
    return InfluxLoader(InfluxDBHook(conn_id=target.conn_id), target, desc.fields)


def batches(data: list[tuple[Any, ...]]) -> Any:
    from airflow_provider_datalake.parsing import Batch

    names = list(TYPES)
    for first in range(0, len(data), 10_000):
        chunk = data[first : first + 10_000]
        yield Batch(names, chunk, list(range(first + 1, first + 1 + len(chunk))), [])


def influxql(query: str) -> None:
    from tests.gold.conftest import influxql as run

    run(common.conn_json("influxdb_default"), query)


def ours(data: list[tuple[Any, ...]], database: str) -> float:
    load = make_loader(database)
    load.ensure_table()
    start = time.perf_counter()
    result = load.load("bench-object-influx", batches(data))
    seconds = time.perf_counter() - start
    if result.rows_written != len(data):
        raise RuntimeError(f"ours wrote {result.rows_written} points, expected {len(data)}")
    return seconds


def prebuilt_lines(data: list[tuple[Any, ...]], database: str) -> list[str]:
    """The baseline's input: exactly the lines ours sends (built by the loader itself, before timing)."""
    from airflow_provider_datalake.gold.common import Rejects

    load = make_loader(database)
    lines: list[str] = []
    for batch in batches(data):
        lines += load.lines(batch, "bench-object-influx", Rejects(None, list(TYPES)))
    return lines


def baseline(lines: list[str], database: str) -> float:
    from airflow.providers.influxdb.hooks.influxdb import InfluxDBHook
    from influxdb_client.client.write_api import SYNCHRONOUS

    hook = InfluxDBHook(conn_id="influxdb_default")
    client = hook.get_conn()
    org = (hook.extras or {}).get("org")
    write = client.write_api(write_options=SYNCHRONOUS)
    start = time.perf_counter()
    for first in range(0, len(lines), BATCH):
        write.write(bucket=database, org=org, record=lines[first : first + BATCH], write_precision="s")
    seconds = time.perf_counter() - start
    write.close()
    return seconds


def run(*, rows_count: int, rounds: int, seed: int) -> dict[str, Any]:
    data = rows(rows_count, seed)
    seconds: dict[str, list[float]] = {"ours": [], "client": []}
    lines = prebuilt_lines(data, "unused")
    databases = []
    try:
        for index in range(rounds):
            order = ["ours", "client"] if index % 2 == 0 else ["client", "ours"]
            for variant in order:
                database = f"bench_{variant}_{uuid.uuid4().hex[:8]}"
                databases.append(database)
                influxql(f'CREATE DATABASE "{database}"')
                took = ours(data, database) if variant == "ours" else baseline(lines, database)
                seconds[variant].append(took)
                common.say(f"round {index + 1}/{rounds}: {variant} {rows_count / took:,.0f} points/s")
    finally:
        for database in databases:
            _drop(database)
    rate = {k: rows_count / statistics.median(v) for k, v in seconds.items()}
    return {
        "points": rows_count,
        "bytes_per_line": sum(map(len, lines[:10_000])) / min(10_000, len(lines)),
        "rounds": rounds,
        "points_per_s": rate,
        "ratio": rate["ours"] / rate["client"],
        "goal_ratio": GOAL_RATIO,
    }


def _drop(database: str) -> None:
    try:
        influxql(f'DROP DATABASE "{database}"')
    except Exception as exc:  # cleanup of a failed run: say it, do not hide the run's own error
        common.say(f"cleanup: could not drop {database}: {exc}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.influx_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20210722)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    common.conn_json("influxdb_default")
    common.quiet_logs()
    with common.stdout_to_stderr():
        result = run(rows_count=args.rows, rounds=args.rounds, seed=args.seed)
    result["date"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    result["host"] = {"cpus": os.cpu_count()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    rate, goal = result["points_per_s"], result["goal_ratio"]
    met = "met" if result["ratio"] >= goal else "MISSED"
    print(
        f"\n== gold zone, InfluxDB: {result['points']:,} points ({result['bytes_per_line']:.0f} B/line), "
        f"median of {result['rounds']} rounds, same server, same run =="
    )
    print(f"{'ours (typed rows -> InfluxLoader)':<56} {rate['ours']:>10,.0f} points/s")
    print(
        f"{'influxdb-client, prebuilt line protocol':<56} {rate['client']:>10,.0f} points/s  "
        f"ratio {result['ratio']:.2f}x (goal >= {goal}x: {met})"
    )
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
