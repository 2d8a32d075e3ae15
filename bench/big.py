"""A large file: ``insert_datalake(path)`` (streamed, an SLO) vs swiftclient's own segmented upload.

Each upload runs in a fresh interpreter (``python -m bench.big <mode> ...``), so that its peak RSS
(``VmHWM``) is its own; the worker also reports its peak right after its imports, before any byte is sent.
The baseline is ``SwiftService.upload`` (the ``swift upload`` CLI's library) with the same segment size,
SLO and its default segment threads (10); ours sends its segments in parallel too (the hook's default, 10).
Rounds alternate which side goes first; each object is deleted right after its run.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench import common

FORMAT = "bench_big"
MODES = ("ours", "baseline")
ROOT = Path(__file__).resolve().parent.parent


def run(*, size: int, rounds: int, threshold: int, segment: int, tag: str, seed: int) -> dict[str, Any]:
    from airflow_provider_datalake.samples import write_blob

    common.quiet_logs()
    database, containers = f"bench_{tag}_big", {mode: f"bench-{tag}-big-{mode}" for mode in MODES}
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    workdir = Path(tempfile.mkdtemp(prefix="datalake-bench-"))
    client = common.mongo_client()
    try:
        path = workdir / "blob.bin"
        common.say(f"big file: writing {common.human_size(size)} to {path}")
        write_blob(path, size, seed)
        for index in range(rounds):
            for mode in MODES if index % 2 == 0 else MODES[::-1]:
                args = (mode, str(path), containers[mode], database, str(threshold), str(segment))
                result = _spawn(*args, out=str(workdir / f"{mode}-{index}.json"))
                runs[mode].append(result)
                errors = common.delete_swift(containers[mode], [result["object"]])
                client.drop_database(database)  # so the next round's identical content is not deduped
                if errors:
                    raise RuntimeError(f"could not delete {result['object']}: {errors}")
                rate, peak = result["bytes"] / common.MB / result["seconds"], result["peak_rss"] / common.MB
                common.say(
                    f"big file, round {index + 1}/{rounds}: {mode} {rate:.1f} MB/s, peak RSS {peak:.0f} MB, "
                    f"{result['segments']} segments"
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        common.drop_containers(list(containers.values()))
        client.drop_database(database)
        client.close()

    summary: dict[str, Any] = {"size": size, "rounds": rounds, "slo_threshold": threshold, "segment": segment}
    for mode in MODES:
        rates = [r["bytes"] / common.MB / r["seconds"] for r in runs[mode]]
        summary[mode] = {
            "mb_per_s": {"median": statistics.median(rates), "rounds": rates},
            "peak_rss_mb": max(r["peak_rss"] for r in runs[mode]) / common.MB,
            "after_imports_rss_mb": max(r["import_rss"] for r in runs[mode]) / common.MB,
            "segments": runs[mode][-1]["segments"],
            "runs": runs[mode],
        }
    summary["ratio"] = summary["ours"]["mb_per_s"]["median"] / summary["baseline"]["mb_per_s"]["median"]
    summary["goal_peak_rss_mb"] = 150
    return summary


def _spawn(*args: str, out: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.big", *args, out]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=3600, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-20:])
        raise RuntimeError(f"worker {args[0]} failed (exit {proc.returncode}):\n{tail}")
    result: dict[str, Any] = json.loads(Path(out).read_text())
    return result


def _ours(path: str, container: str, database: str, threshold: int, segment: int) -> dict[str, Any]:
    from airflow_provider_datalake import insert_datalake
    from airflow_provider_datalake.hooks.connect import catalog_for, locate_swift
    from airflow_provider_datalake.hooks.swift_client import SwiftClient

    common.quiet_logs()
    # What a producer's script gets with the connections in its environment (`hooks.connect`): no Airflow.
    conn = locate_swift("swift_default").connection
    if conn is None:
        raise SystemExit("the benchmark needs AIRFLOW_CONN_SWIFT_DEFAULT in the environment (.stack/env)")
    swift = SwiftClient("swift_default", conn, slo_threshold=threshold, segment_size=segment)
    catalog = catalog_for("mongo_default", database)
    catalog.ensure_indexes()
    import_rss = common.vmhwm_bytes()
    start = time.perf_counter()
    record = insert_datalake(path, format=FORMAT, container=container, swift=swift, catalog=catalog)
    seconds = time.perf_counter() - start
    if record["status"] != "committed":
        raise RuntimeError(f"record {record['_id']} is {record['status']}")
    return {
        "seconds": seconds,
        "bytes": record["size"],
        "object": record["swift_object_id"],
        "segments": record["segments"],
        "import_rss": import_rss,
    }


def _baseline(path: str, container: str, segment: int) -> dict[str, Any]:
    from swiftclient.service import SwiftService, SwiftUploadObject

    name, segments = f"{FORMAT}/{uuid.uuid4().hex}", 0
    with SwiftService(options=common.swift_service_options()) as service:  # its default segment threads
        import_rss = common.vmhwm_bytes()
        start = time.perf_counter()
        upload = [SwiftUploadObject(path, object_name=name)]
        for res in service.upload(container, upload, options={"segment_size": segment, "use_slo": True}):
            if not res["success"] and res["action"] != "create_container":
                raise RuntimeError(f"{res['action']} failed: {res.get('error')}")
            segments += res["action"] == "upload_segment"
        seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "bytes": Path(path).stat().st_size,
        "object": name,
        "segments": segments,
        "import_rss": import_rss,
    }


def worker(argv: list[str]) -> None:
    """``<mode> <path> <container> <database> <slo_threshold> <segment_size> <out.json>``"""
    mode, path, container, database, threshold, segment, out = argv
    if mode == "ours":
        result = _ours(path, container, database, int(threshold), int(segment))
    else:
        result = _baseline(path, container, int(segment))
    result["peak_rss"] = common.vmhwm_bytes()
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    worker(sys.argv[1:])
