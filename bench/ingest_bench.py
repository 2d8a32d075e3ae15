"""``python -m bench.ingest_bench``: ingest against the tool a producer would use instead, in the same run.

- one small file, wall time of the whole command (interpreter start included): ``datalake insert`` vs
  ``swift upload``, alternating, median of ``--rounds``;
- a folder of small files: ``datalake insert --jobs N DIR/*`` (each object atomic: record, object, commit)
  vs ``swift upload CONTAINER DIR`` (its 10 object threads), alternating, median;
- a large file: `bench.big` (``insert_datalake`` vs ``SwiftService.upload``, both with parallel segments,
  peak RSS of each in its own interpreter).

Each ``datalake`` run gets its own catalog database and container through connection ids defined in the
environment, dropped afterwards; ``swift`` runs upload into a container emptied afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench import big, common
from bench.middleware_bench import swift_cli

RESULTS = Path(__file__).resolve().parent / "results" / "ingest.json"
DATALAKE = Path(sys.executable).with_name("datalake")
ROOT = Path(__file__).resolve().parent.parent


def _env(database: str) -> dict[str, str]:
    """The environment of a ``datalake`` run: ``swift_bench`` / ``mongo_bench`` on the stack's servers, the
    catalog in ``database``; this checkout first on the path."""
    mongo = {**common.conn_json("mongo_default"), "schema": database}
    env = {**os.environ, "AIRFLOW_CONN_MONGO_BENCH": json.dumps(mongo)}
    env["AIRFLOW_CONN_SWIFT_BENCH"] = json.dumps(common.conn_json("swift_default"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return env


def _datalake(env: dict[str, str], *args: str) -> float:
    cmd = [str(DATALAKE), "--swift-conn-id", "swift_bench", "--mongo-conn-id", "mongo_bench", *args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600, check=False)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"datalake {' '.join(args[:2])} failed: {proc.stderr[-2000:]}")
    return took


def _files(folder: Path, count: int, size: int) -> list[Path]:
    folder.mkdir()
    paths = []
    for i in range(count):
        paths.append(folder / f"reading_{i:05d}.json")
        paths[-1].write_bytes(os.urandom(size))  # random: no two alike, nothing deduped
    return paths


def _compile_package() -> None:
    """Compile the package's bytecode, as ``pip install`` does: this checkout is installed editable, which
    compiles nothing, and where PYTHONDONTWRITEBYTECODE is set no run ever writes it, so every ``datalake``
    run would compile the package's source again, which no installed copy does."""
    dirs = [str(ROOT / "airflow_provider_datalake"), str(ROOT / "datalake_catalog")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *dirs], check=True, capture_output=True)


def run(*, files: int, rounds: int, jobs: int, big_size: int, segment: int, tag: str) -> dict[str, Any]:
    _compile_package()
    work = Path(tempfile.mkdtemp(prefix="datalake-ingest-bench-"))
    database, ours_c, theirs_c = (
        f"bench_{tag}_ingest",
        f"bench-{tag}-ingest-ours",
        f"bench-{tag}-ingest-swift",
    )
    env = _env(database)
    client = common.mongo_client()
    results: dict[str, Any] = {"files": files, "rounds": rounds, "jobs": jobs}
    try:
        one = _files(work / "one", 1, 1024)[0]
        many = _files(work / "many", files, 1024)
        single: dict[str, list[float]] = {"ours": [], "swift": []}
        folder: dict[str, list[float]] = {"ours": [], "swift": []}
        for index in range(rounds):
            order = ("ours", "swift") if index % 2 == 0 else ("swift", "ours")
            for side in order:
                if side == "ours":
                    took = _datalake(env, "insert", str(one), "--container", ours_c, "--no-dedupe")
                else:
                    took = swift_cli("upload", theirs_c, one.name, cwd=one.parent)
                single[side].append(took)
            common.say(
                f"one 1 KiB file, round {index + 1}: ours {single['ours'][-1]:.2f} s, "
                f"swift {single['swift'][-1]:.2f} s"
            )
            for side in order:
                if side == "ours":
                    args = [
                        "insert",
                        *map(str, many),
                        "--container",
                        ours_c,
                        "--no-dedupe",
                        "--jobs",
                        str(jobs),
                    ]
                    took = _datalake(env, *args)
                else:
                    took = swift_cli("upload", theirs_c, "many", cwd=work)
                folder[side].append(took)
            common.say(
                f"{files} files of 1 KiB, round {index + 1}: ours {folder['ours'][-1]:.2f} s, "
                f"swift {folder['swift'][-1]:.2f} s"
            )
            records = client[database]["raw_objects"].count_documents({"status": "committed"})
            if records != files + 1:  # each round starts from an empty catalog (dropped below)
                raise SystemExit(f"expected {files + 1} committed records, found {records}")
            client.drop_database(database)
            common.drop_containers([ours_c, theirs_c])
        results["one_file"] = {
            side: {"median_s": statistics.median(v), "runs": v} for side, v in single.items()
        }
        results["one_file"]["ratio"] = (
            results["one_file"]["ours"]["median_s"] / results["one_file"]["swift"]["median_s"]
        )
        results["folder"] = {
            side: {"median_s": statistics.median(v), "runs": v} for side, v in folder.items()
        }
        results["folder"]["ratio"] = (
            results["folder"]["swift"]["median_s"] / results["folder"]["ours"]["median_s"]
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        common.drop_containers([ours_c, theirs_c])
        client.drop_database(database)
        client.close()
    if big_size:
        results["big"] = big.run(
            size=big_size, rounds=rounds, threshold=segment, segment=segment, tag=tag, seed=20210722
        )
    return results


def table(results: dict[str, Any]) -> list[str]:
    one, folder = results["one_file"], results["folder"]
    rows = [
        f"one 1 KiB file, whole command (median)        datalake insert {one['ours']['median_s']:.2f} s   "
        f"swift upload {one['swift']['median_s']:.2f} s   ours/swift {one['ratio']:.2f}x (goal <= 1.5x)",
        f"{results['files']} files of 1 KiB (median)            datalake insert --jobs {results['jobs']} "
        f"{folder['ours']['median_s']:.2f} s   swift upload {folder['swift']['median_s']:.2f} s   "
        f"speed ours/swift {folder['ratio']:.2f}x (goal >= 1.0x)",
    ]
    if b := results.get("big"):
        ours, base = b["ours"], b["baseline"]
        rows.append(
            f"{common.human_size(b['size'])} file, {ours['segments']} segments (median)     insert_datalake "
            f"{ours['mb_per_s']['median']:.1f} MB/s   SwiftService {base['mb_per_s']['median']:.1f} MB/s   "
            f"ratio {b['ratio']:.2f}x (goal >= 1.0x); peak RSS ours {ours['peak_rss_mb']:.0f} MB, "
            f"SwiftService {base['peak_rss_mb']:.0f} MB (goal ours <= 150 MB)"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    from bench.__main__ import parse_size

    parser = argparse.ArgumentParser(prog="python -m bench.ingest_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000, help="small files in the folder (%(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, alternating who goes first")
    parser.add_argument("--jobs", type=int, default=10, help="datalake insert --jobs (%(default)s)")
    parser.add_argument(
        "--big-size",
        type=lambda text: 0 if text.strip() == "0" else parse_size(text),
        default=1 << 30,
        help="large file (1G; 0: skip)",
    )
    parser.add_argument("--segment", type=parse_size, default=100 << 20, help="segment size, both sides")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.files < 1 or args.rounds < 1:
        parser.error("--files and --rounds must be >= 1")
    tag = uuid.uuid4().hex[:10]
    with common.stdout_to_stderr():
        results = run(
            files=args.files,
            rounds=args.rounds,
            jobs=args.jobs,
            big_size=args.big_size,
            segment=args.segment,
            tag=tag,
        )
    results["host"] = {"cpus": os.cpu_count(), "load_end": os.getloadavg()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print("\n== ingest vs the tools producers use (same servers, same run) ==")
    print("\n".join(table(results)))
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
