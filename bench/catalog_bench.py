"""The catalog at campus scale: the queries the lake makes, on a catalog of N records of the real shape
(`samples.catalog_records`: 25 formats, almost all processed), through ``CatalogHook`` and the trigger's
functions vs the same query written in plain pymongo, in the same run, on the same server.

Measured (median of the rounds, milliseconds):

- ``poll``: the triggerer's shared poll, committed objects of 25 formats, oldest first, 50 at most;
- ``claim candidates``: one format's oldest committed objects (what a run claims; none at rest);
- ``unformatted``: the oldest committed objects without a format (what the unknown-formats DAG claims);
- ``by id``: one record;
- ``page``: a page of 50 of one format's processed or failed records, newest first, 1,000 records deep
  (less on a small catalog): ours pages by key (``after``), the baseline is the plain query of the same
  page by key; a second baseline reaches the same page with ``skip``;
- ``status counts``: records per format and state;
- ``count``: committed records (ours is capped at `COUNT_CAP`).

Then the server's CPU at rest: for ``--rest`` seconds the shared poll runs every 2 s, as a triggerer does
for 25 formats' asset watchers, while the CPU time of the server's processes (``--server-process``: names as
in ``/proc/<pid>/comm``) is read from ``/proc``.

The catalog is built once per (records, seed) in database ``bench_catalog_<records>`` and kept for the next
run. Run: ``python -m bench.catalog_bench`` with ``.stack/env`` loaded. Results:
``bench/results/catalog.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import common

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "catalog.json"
FORMATS = [f"format_{n:02d}" for n in range(25)]
SEED = 12
DEPTH = 1000
MARKER = "bench_complete"


def build(hook: Any, records: int, without: set[str]) -> float:
    """The bench catalog in ``hook.database``, reused when a previous run completed it; its build seconds."""
    from airflow_provider_datalake.hooks.catalog import INDEXES, RAW_OBJECTS
    from airflow_provider_datalake.samples import catalog_records

    db = hook.db
    if db["bench_meta"].find_one({"_id": MARKER, "records": records, "seed": SEED}):
        return 0.0
    hook.get_conn().drop_database(hook.database)
    started = time.perf_counter()
    coll = db[RAW_OBJECTS]
    batch: list[dict[str, Any]] = []
    begin = dt.datetime(2026, 12, 1) - dt.timedelta(seconds=30 * records)
    for n, rec in enumerate(catalog_records(records, SEED, formats=len(FORMATS), start=begin), 1):
        batch.append(rec)
        if len(batch) == 10_000:
            coll.insert_many(batch, ordered=False)
            batch = []
            if n % 100_000 == 0:
                common.say(f"catalog: {n:,} records")
    if batch:
        coll.insert_many(batch, ordered=False)
    for model in INDEXES:  # after the data, as a restore would
        if model.document["name"] not in without:
            common.say(f"catalog: index {model.document['name']}")
            coll.create_indexes([model])
    db["bench_meta"].insert_one({"_id": MARKER, "records": records, "seed": SEED})
    return time.perf_counter() - started


def server_name(info: dict[str, Any]) -> str:
    """What answers, from ``buildInfo``: FerretDB 2 says its version under ``ferretdb``, FerretDB 1 under
    ``ferretdbVersion`` (``unknown`` when built from the Go module, as the stack does)."""
    if "ferretdb" in info:
        return f"FerretDB {info['ferretdb'].get('version')}"
    if "ferretdbVersion" in info:
        return f"FerretDB 1 ({info['ferretdbVersion']})"
    return f"MongoDB {info.get('version')}"


def timed(fn: Callable[[], Any], rounds: int) -> float:
    fn()  # warm: connections, plan caches
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def cpu_seconds(names: set[str]) -> float:
    """User + system CPU seconds of every process whose comm starts with one of ``names``, with those of its
    children that ended (a server's workers)."""
    total = 0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            if not any(comm.startswith(name) for name in names):
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # Its own time, and its reaped children's: PostgreSQL's parallel workers and ended backends.
        total += sum(int(value) for value in fields[11:15])
    return total / tick


def measure(hook: Any, rounds: int, depth: int) -> dict[str, dict[str, float]]:
    from pymongo import ASCENDING, DESCENDING

    from airflow_provider_datalake.hooks.catalog import RAW_OBJECTS
    from airflow_provider_datalake.inference.drafts import UNCLAIMED
    from airflow_provider_datalake.triggers.raw_objects import committed_ids, committed_ids_by_format

    coll = hook.db[RAW_OBJECTS]
    order = [("creation_date", ASCENDING), ("_id", ASCENDING)]
    newest = [("creation_date", DESCENDING), ("_id", DESCENDING)]
    fmt = FORMATS[3]
    listed = {"status": {"$in": ["processed", "failed"]}, "format": fmt}
    deep = next(iter(coll.find(listed, {"creation_date": 1}).sort(newest).skip(depth - 1).limit(1)))
    some_id = deep["_id"]

    def raw_page() -> list[Any]:
        after = {
            "creation_date": {"$lte": deep["creation_date"]},
            "$nor": [{"creation_date": deep["creation_date"], "_id": {"$gte": some_id}}],
        }
        return list(coll.find({"$and": [listed, after]}).sort(newest).limit(50))

    cases: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
        "poll": (
            lambda: committed_ids_by_format(hook, dict.fromkeys(FORMATS, 50)),
            lambda: list(
                coll.find({"status": "committed", "format": {"$in": FORMATS}}, {"_id": 1, "format": 1})
                .sort(order)
                .limit(50)
            ),
        ),
        "claim candidates": (
            lambda: committed_ids(hook, fmt, 100),
            lambda: list(
                coll.find({"status": "committed", "format": fmt}, {"_id": 1}).sort(order).limit(100)
            ),
        ),
        "unformatted": (
            lambda: committed_ids(hook, None, 100, UNCLAIMED),
            lambda: list(coll.find({"status": "committed", **UNCLAIMED}, {"_id": 1}).sort(order).limit(100)),
        ),
        "by id": (lambda: hook.get(some_id), lambda: coll.find_one({"_id": some_id})),
        "page": (
            lambda: list(
                hook.find(status=["processed", "failed"], fmt=fmt, limit=50, newest_first=True, after=some_id)
            ),
            raw_page,
        ),
        "status counts": (
            hook.status_counts,
            lambda: list(
                coll.aggregate(
                    [{"$group": {"_id": {"format": "$format", "status": "$status"}, "n": {"$sum": 1}}}]
                )
            ),
        ),
        "count": (
            lambda: hook.count(status="committed"),
            lambda: coll.count_documents({"status": "committed"}),
        ),
    }
    result: dict[str, dict[str, float]] = {}
    for name, (ours, baseline) in cases.items():
        ours_ms, base_ms = timed(ours, rounds), timed(baseline, rounds)
        result[name] = {"ours_ms": round(ours_ms, 2), "pymongo_ms": round(base_ms, 2)}
        common.say(f"{name}: ours {ours_ms:.1f} ms, pymongo {base_ms:.1f} ms")
    skip_ms = timed(lambda: list(coll.find(listed).sort(newest).skip(depth).limit(50)), rounds)
    result["page"]["pymongo_skip_ms"] = round(skip_ms, 2)
    return result


def at_rest(hook: Any, seconds: float, names: set[str]) -> dict[str, float]:
    from airflow_provider_datalake.triggers.raw_objects import committed_ids_by_format

    before, start = cpu_seconds(names), time.monotonic()
    polls = 0
    while time.monotonic() - start < seconds:
        committed_ids_by_format(hook, dict.fromkeys(FORMATS, 50))
        polls += 1
        time.sleep(max(0.0, start + polls * 2.0 - time.monotonic()))
    used = cpu_seconds(names) - before
    elapsed = time.monotonic() - start
    return {
        "seconds": round(elapsed, 1),
        "polls": polls,
        "server_cpu_percent": round(100 * used / elapsed, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.catalog_bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--rest", type=float, default=60.0, help="seconds of polling at rest (0: skip)")
    parser.add_argument("--mongo-conn-id", default="mongo_default")
    parser.add_argument(
        "--server-process",
        action="append",
        default=None,
        help="a server process name to charge CPU to (repeatable) [default: ferretdb, postgres]",
    )
    parser.add_argument(
        "--without-index",
        action="append",
        default=[],
        help="an index of INDEXES not to build (one the server cannot build in time at this size)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    with common.stdout_to_stderr():
        from airflow_provider_datalake.hooks.catalog import CatalogHook

        hook = CatalogHook(args.mongo_conn_id, database=f"bench_catalog_{args.records}")
        hook._indexed = True  # the bench builds the indexes itself, after the data
        built = build(hook, args.records, set(args.without_index))
        depth = min(DEPTH, args.records // (2 * len(FORMATS)))
        info = hook.get_conn().server_info()
        result: dict[str, Any] = {
            "records": args.records,
            "server": server_name(info),
            "indexes": sorted(hook.db["raw_objects"].index_information()),
            "build_seconds": round(built, 1),
            "page_depth": depth,
            "queries": measure(hook, args.rounds, depth),
        }
        if args.rest:
            names = set(args.server_process or ["ferretdb", "postgres"])
            result["at_rest"] = at_rest(hook, args.rest, names)
    print(f"catalog of {args.records:,} records on {result['server']} (median of {args.rounds}, ms)")
    print(f"{'query':<18}{'ours':>10}{'pymongo':>10}{'ratio':>8}")
    for name, row in result["queries"].items():
        ratio = row["pymongo_ms"] / row["ours_ms"] if row["ours_ms"] else float("nan")
        print(f"{name:<18}{row['ours_ms']:>10.1f}{row['pymongo_ms']:>10.1f}{ratio:>7.2f}x")
    page = result["queries"]["page"]
    skip = page["pymongo_skip_ms"]
    print(
        f"page {result['page_depth']} deep by skip: {skip:.1f} ms ({skip / page['ours_ms']:.1f}x ours by key)"
    )
    if "at_rest" in result:
        rest = result["at_rest"]
        print(f"at rest, 25 formats polled every 2 s: server CPU {rest['server_cpu_percent']}% of a core")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
