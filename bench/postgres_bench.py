"""Gold zone, PostgreSQL: a 1M-row CSV through ``PostgresLoader`` vs ``psql \\copy`` of the same file.

Ours is what a DAG run does: the real parser (``airflow_provider_datalake.parsing``, fed 1 MiB chunks as
the Swift stream is), whose columnar CSV path reads blocks with pyarrow and types whole columns (odd values
go through the row path's own code), then ``PostgresLoader`` in one transaction: binary COPY built by Arrow
from those columns (no Python object per value), with the lineage columns, into a table whose lineage index
is a BRIN bloom index on the object id (a first load is recorded in the schema's ledger, so it needs no
lookup). ``--parser rows`` measures the row path (``DATALAKE_COLUMNAR=0``), ``--parser csv`` a stdlib
stand-in. The baselines are ``psql \\copy ... CSV HEADER`` of the same file, in the same run, into (a) a
plain table of the same typed columns - what one would do by hand - and (b) a like-for-like table made by
the loader's own DDL: the same lineage columns (filled by a default and an identity) and lineage index.

Each load of ours runs in a fresh interpreter (``python -m bench.postgres_bench --worker ...``) so its peak
RSS (``VmHWM``) is its own: 100k vs 1M rows shows whether memory grows with the file. Every table is
truncated before each run, so every run is a first load; rounds alternate the order; medians are reported.
Run: ``python -m bench.postgres_bench`` with ``.stack/env`` loaded. Results: ``bench/results/postgres.json``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import itertools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import common

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "postgres.json"
COLUMNS = ("sensor", "seq", "value", "at")
TYPES = {"sensor": "string", "seq": "int", "value": "float", "at": "timestamp"}
OBJECT_ID = "bench-object-0f8c2a9e4b7d4c1e"
BATCH_SIZE = 10_000
GOAL_RATIO = 0.5
SMALL_ROWS = 100_000
PSQL_FALLBACK = "/usr/lib/postgresql/15/bin/psql"


# --------------------------------------------------------------------------- data


def write_csv(path: Path, rows: int, seed: int) -> int:
    """A clean CSV: text, bigint, double, timestamptz (~60 bytes a row). Returns its size."""
    rng = random.Random(seed)
    sensors = [
        f"u4/{room}/{kind}" for room in range(100, 400, 7) for kind in ("temperature", "humidity", "co2")
    ]
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    with path.open("w", newline="", encoding="utf-8") as out:
        out.write(",".join(COLUMNS) + "\n")
        for first in range(0, rows, 50_000):
            out.writelines(
                f"{rng.choice(sensors)},{seq},{rng.uniform(-20, 2000):.3f},"
                f"{(start + dt.timedelta(seconds=seq * 7)).isoformat()}\n"
                for seq in range(first, min(rows, first + 50_000))
            )
    return path.stat().st_size


@dataclass
class _BenchBatch:
    """The parsing stage's batch shape, for when ``airflow_provider_datalake.parsing`` is not there yet."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    row_numbers: list[int]
    bad: list[Any]


def batch_class() -> Any:
    """The parsing stage's ``Batch`` when it exists (imported before any timing starts)."""
    try:
        from airflow_provider_datalake.parsing import Batch
    except ImportError:
        return _BenchBatch
    return Batch


def csv_batches(path: Path, size: int = BATCH_SIZE, batch_type: Any = None) -> Iterator[Any]:
    """The stand-in parser: stdlib csv, typed tuples, 1-based row numbers, batches of ``size``."""
    batch_type = batch_type or batch_class()
    fromiso = dt.datetime.fromisoformat
    with path.open(newline="", encoding="utf-8") as src:
        reader = csv.reader(src)
        columns = next(reader)
        done = 0
        while chunk := list(itertools.islice(reader, size)):
            rows = [(s, int(i), float(v), fromiso(t)) for s, i, v, t in chunk]
            yield batch_type(columns, rows, list(range(done + 1, done + 1 + len(rows))), [])
            done += len(rows)


def cached_batches(path: Path, rows: int, batch_type: Any) -> Iterator[Any]:
    """The loader alone: the file's first batch, parsed before timing, sent again and again with fresh row
    numbers until ``rows`` (memory stays flat, parsing costs nothing)."""
    first = next(csv_batches(path, batch_type=batch_type))

    def again() -> Iterator[Any]:
        done = 0
        while done < rows:
            n = min(len(first.rows), rows - done)
            yield batch_type(first.columns, first.rows[:n], list(range(done + 1, done + 1 + n)), [])
            done += n

    return again()


def real_batches(path: Path, parser: str = "real") -> Iterator[Any]:
    """The project's parser, fed 1 MiB chunks as the Swift stream would (imported here, before timing)."""
    from airflow_provider_datalake.parsing import columnar, parse

    columnar.ENABLED = parser != "rows"

    def chunks() -> Iterator[bytes]:
        with path.open("rb") as src:
            while chunk := src.read(1 << 20):
                yield chunk

    return iter(parse(descriptor("bench"), chunks(), batch_size=BATCH_SIZE))


def descriptor(schema: str, table: str = "ours", mode: str = "replace_object") -> Any:
    from airflow_provider_datalake.descriptors.model import Descriptor

    return Descriptor.model_validate(
        {
            "name": "bench_postgres",
            "parser": {"kind": "csv"},
            "fields": [{"name": name, "type": typ} for name, typ in TYPES.items()],
            "targets": [
                {
                    "store": "postgres",
                    "schema": schema,
                    "table": table,
                    "mode": mode,
                    "keys": ["seq"] if mode == "merge" else [],
                }
            ],
        }
    )


def loader(schema: str, table: str, mode: str = "replace_object") -> Any:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    from airflow_provider_datalake.gold.postgres import PostgresLoader

    desc = descriptor(schema, table, mode)
    target = desc.targets[0]
    return PostgresLoader(PostgresHook(postgres_conn_id=target.conn_id), target, desc.fields)


# --------------------------------------------------------------------------- worker (a fresh interpreter)


def worker(args: argparse.Namespace) -> None:
    common.quiet_logs()
    path = Path(args.csv)
    if args.worker == "load-cached":
        batches = cached_batches(path, args.rows, batch_class())
    elif args.parser in ("real", "rows"):
        batches = real_batches(path, args.parser)
    else:
        batches = csv_batches(path, batch_type=batch_class())
    if args.worker == "parse":
        from airflow_provider_datalake.gold.common import frozen_heap  # as the loader runs the parser

        import_rss = common.vmhwm_bytes()
        start = time.perf_counter()
        with frozen_heap():
            rows = sum(len(b.row_numbers) for b in batches)
        result = {"seconds": time.perf_counter() - start, "rows": rows, "rows_written": 0}
    else:
        load = loader(args.schema, args.table, args.mode)
        import_rss = common.vmhwm_bytes()
        start = time.perf_counter()
        with common.stdout_to_stderr():
            res = load.load(OBJECT_ID, batches)
        result = {
            "seconds": time.perf_counter() - start,
            "rows": res.rows_in,
            "rows_written": res.rows_written,
        }
    result.update(peak_rss=common.vmhwm_bytes(), import_rss=import_rss)
    Path(args.out).write_text(json.dumps(result))


def _spawn(workdir: Path, **opts: Any) -> dict[str, Any]:
    out = workdir / f"{uuid.uuid4().hex}.json"
    argv = [sys.executable, "-m", "bench.postgres_bench", "--out", str(out)]
    for key, value in opts.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    result: dict[str, Any] = json.loads(out.read_text())
    return result


# --------------------------------------------------------------------------- baseline


def psql_binary() -> str:
    return shutil.which("psql") or PSQL_FALLBACK


def psql_copy(table: str, path: Path) -> float:
    """``psql \\copy`` of the CSV; returns the wall time (including psql's start, a few ms)."""
    from psycopg import sql

    conn = common.conn_json("postgres_default")
    if "'" in str(path):
        raise ValueError(f"a quote in {path} would break the \\copy command")
    target = sql.Identifier(*table.split(".")).as_string()
    columns = ", ".join(COLUMNS)
    command = f"\\copy {target} ({columns}) FROM '{path}' WITH (FORMAT csv, HEADER true)"
    argv = [psql_binary(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", conn["host"], "-p", str(conn["port"])]
    argv += ["-U", conn["login"], "-d", conn["schema"], "-c", command]
    env = {**os.environ, "PGPASSWORD": conn.get("password") or ""}
    start = time.perf_counter()
    subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def _sql(query: Any, params: list[Any] | None = None) -> None:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    with PostgresHook(postgres_conn_id="postgres_default").get_conn() as conn:
        conn.execute(query, params)


def prepare(schema: str) -> None:
    """``ours`` and ``psql_lineage`` through the loader's DDL; the latter gets defaults so psql fills it."""
    from psycopg import sql

    for table in ("ours", "psql_lineage", "ours_append", "ours_merge"):
        mode = table.removeprefix("ours_") if table.startswith("ours_") else "replace_object"
        loader(schema, table, mode).ensure_table()
    lineage = sql.Identifier(schema, "psql_lineage")
    _sql(
        sql.SQL(
            "ALTER TABLE {} ALTER _raw_object_id SET DEFAULT {}, "
            "ALTER _source_row ADD GENERATED BY DEFAULT AS IDENTITY"
        ).format(lineage, sql.Literal(OBJECT_ID))
    )
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t))
        for c, t in zip(COLUMNS, ("text", "bigint", "double precision", "timestamptz"), strict=True)
    )
    _sql(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(schema, "psql_plain"), columns))


def truncate(schema: str, table: str) -> None:
    from psycopg import sql

    _sql(sql.SQL("TRUNCATE {} RESTART IDENTITY").format(sql.Identifier(schema, table)))


# --------------------------------------------------------------------------- run


def run(*, rows: int, rounds: int, parser: str, modes: list[str], seed: int, tag: str) -> dict[str, Any]:
    from psycopg import sql

    schema = f"bench_{tag}"
    workdir = Path(tempfile.mkdtemp(prefix="datalake-pgbench-"))
    big, small = workdir / "big.csv", workdir / "small.csv"
    seconds: dict[str, list[float]] = {"ours": [], "ours_loader": [], "psql_plain": [], "psql_lineage": []}
    peaks: list[int] = []
    import_rss = 0
    try:
        common.say(f"postgres bench: writing {rows:,} and {SMALL_ROWS:,} row CSVs in {workdir}")
        size = write_csv(big, rows, seed)
        write_csv(small, min(SMALL_ROWS, rows), seed)
        _sql(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        prepare(schema)
        order = list(seconds)
        for index in range(rounds):
            for variant in order[index % len(order) :] + order[: index % len(order)]:
                table = "ours" if variant.startswith("ours") else variant
                truncate(schema, table)
                if variant.startswith("ours"):
                    worker = "load" if variant == "ours" else "load-cached"
                    res = _spawn(
                        workdir, worker=worker, csv=big, rows=rows, schema=schema, table=table, parser=parser
                    )
                    if res["rows"] != rows:
                        raise RuntimeError(f"{variant} loaded {res['rows']} rows, expected {rows}")
                    seconds[variant].append(res["seconds"])
                    if variant == "ours":
                        peaks.append(res["peak_rss"])
                        import_rss = res["import_rss"]
                else:
                    seconds[variant].append(psql_copy(f"{schema}.{variant}", big))
                common.say(f"round {index + 1}/{rounds}: {variant} {rows / seconds[variant][-1]:,.0f} rows/s")
        truncate(schema, "ours")
        small_run = _spawn(workdir, worker="load", csv=small, schema=schema, table="ours", parser=parser)
        parse_run = _spawn(workdir, worker="parse", csv=big, parser=parser)
        other_modes = {}
        for mode in modes:
            table = f"ours_{mode}"
            runs = []
            for again in (False, True):  # first load, then a re-run of the same object
                if not again:
                    truncate(schema, table)
                runs.append(
                    _spawn(
                        workdir, worker="load", csv=big, schema=schema, table=table, mode=mode, parser=parser
                    )
                )
            other_modes[mode] = {
                "first_rows_per_s": rows / runs[0]["seconds"],
                "rerun_rows_per_s": rows / runs[1]["seconds"],
                "rerun_rows_written": runs[1]["rows_written"],
            }
            common.say(
                f"{mode}: first {other_modes[mode]['first_rows_per_s']:,.0f} rows/s, re-run "
                f"{other_modes[mode]['rerun_rows_per_s']:,.0f} rows/s"
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        _sql(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    rate = {k: rows / statistics.median(v) for k, v in seconds.items()}
    return {
        "rows": rows,
        "csv_bytes": size,
        "bytes_per_row": size / rows,
        "rounds": rounds,
        "parser": parser,
        "rows_per_s": rate,
        "ratio_plain": rate["ours"] / rate["psql_plain"],
        "ratio_lineage": rate["ours"] / rate["psql_lineage"],
        "ratio_loader_plain": rate["ours_loader"] / rate["psql_plain"],
        "ratio_loader_lineage": rate["ours_loader"] / rate["psql_lineage"],
        "goal_ratio": GOAL_RATIO,
        "parse_only_rows_per_s": rows / parse_run["seconds"],
        "peak_rss_mb": {"small": small_run["peak_rss"] / common.MB, "big": max(peaks) / common.MB},
        "small_rows": min(SMALL_ROWS, rows),
        "after_imports_rss_mb": import_rss / common.MB,
        "other_modes": other_modes,
    }


def table(r: dict[str, Any]) -> list[str]:
    rate, goal = r["rows_per_s"], r["goal_ratio"]
    met = "met" if r["ratio_plain"] >= goal else "MISSED"
    copy = "psql \\copy CSV"

    def line(label: str, rows_per_s: float, rest: str = "") -> str:
        return f"{label:<56} {rows_per_s:>10,.0f} rows/s  {rest}".rstrip()

    peak, small, big = r["peak_rss_mb"], r["small_rows"], r["rows"]
    lines = [
        line(f"ours ({r['parser']} parse + PostgresLoader, replace_object)", rate["ours"]),
        line(
            f"{copy}, plain table",
            rate["psql_plain"],
            f"ratio {r['ratio_plain']:.2f}x (goal >= {goal}x: {met})",
        ),
        line(
            f"{copy}, like-for-like (lineage cols + index)",
            rate["psql_lineage"],
            f"ratio {r['ratio_lineage']:.2f}x",
        ),
        line("  of ours: parsing alone (no database)", r["parse_only_rows_per_s"]),
        f"{'peak RSS of ours':<56} {small:,} rows {peak['small']:.1f} MB, {big:,} rows {peak['big']:.1f} MB "
        f"(after imports {r['after_imports_rss_mb']:.1f} MB)",
    ]
    for mode, m in r["other_modes"].items():
        rest = (
            f"first load; re-run {m['rerun_rows_per_s']:,.0f} rows/s ({m['rerun_rows_written']} rows written)"
        )
        lines.append(line(f"ours, mode {mode}", m["first_rows_per_s"], rest))
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.postgres_bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3, help="rounds, median reported (%(default)s)")
    parser.add_argument(
        "--parser",
        choices=("csv", "real", "rows"),
        default="real",
        help="ours: the real parser (real), its row path only (rows), or a stdlib stand-in (csv)",
    )
    parser.add_argument(
        "--modes", nargs="*", default=["append", "merge"], choices=("append", "merge"), help="also time these"
    )
    parser.add_argument("--seed", type=int, default=20210722)
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON results (%(default)s)")
    # worker options (internal)
    parser.add_argument("--worker", choices=("load", "load-cached", "parse"), help=argparse.SUPPRESS)
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    parser.add_argument("--schema", help=argparse.SUPPRESS)
    parser.add_argument("--table", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="replace_object", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rows < 1 or args.rounds < 1:
        parser.error("--rows and --rounds must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    common.conn_json("postgres_default")  # fail early, with the hint, when the stack's env is not loaded
    common.quiet_logs()
    tag = uuid.uuid4().hex[:10]
    with common.stdout_to_stderr():
        result = run(
            rows=args.rows, rounds=args.rounds, parser=args.parser, modes=args.modes, seed=args.seed, tag=tag
        )
    result["date"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    result["host"] = {"cpus": os.cpu_count()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"\n== gold zone, PostgreSQL: {result['rows']:,}-row CSV ({result['bytes_per_row']:.0f} B/row), "
        f"median of {result['rounds']} rounds, same server, same run; MB = 10^6 bytes =="
    )
    print("\n".join(table(result)))
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
