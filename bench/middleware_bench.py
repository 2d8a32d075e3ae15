"""What the catalogue middleware costs a client of Swift: ``swift upload`` (the command line a gateway would
use) of the same files into a watched container (catalogued) and into one the middleware passes through
(a ``*_segments`` container, never watched), alternately, in the same run, on the stack's proxy.

- many small files: 1,000 files of 1 KiB, one folder upload (the CLI's 10 threads);
- one large file: 1 GiB, segmented (``-S`` 100 MB, SLO), whose content the middleware reads back to hash
  after Swift's answer: timed twice, until the client has its answer and until the record is committed.

Every object names a format no DAG has (``X-Object-Meta-Datalake-Format``): the lake leaves them alone, so
Airflow's work on them does not share the machine with the uploads being timed. Each round's records are
removed after its check, so every round starts from the same catalog (on FerretDB, the lake's own polls
of the catalog cost more as it grows).

Prints each pair and the ratio with / without (throughput), and checks that every watched object was
committed in the catalog with its SHA-256. Run: ``python -m bench.middleware_bench`` (``make bench``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import MB, drop_containers, mongo_client, say, swift_auth

RESULTS = Path(__file__).parent / "results"
#: a format no descriptor names: committed objects nobody processes
FORMAT_HEADER = "X-Object-Meta-Datalake-Format: bench_middleware_unprocessed"


def swift_cli(*args: str, cwd: Path | None = None) -> float:
    """Seconds one ``swift`` command took (it fails the benchmark loudly when it fails)."""
    auth = swift_auth()
    swift = Path(os.environ["DATALAKE_SWIFT_BIN"]) / "swift"
    cmd = [str(swift), "-A", auth["authurl"], "-U", auth["user"], "-K", auth["key"], *args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, cwd=cwd)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:1] + list(args))} failed: {proc.stderr[-2000:]}")
    return took


def small_files(folder: Path, count: int, size: int) -> Path:
    where = folder / "small"
    where.mkdir()
    for i in range(count):
        (where / f"reading_{i:05d}.json").write_bytes(os.urandom(size))
    return where


def big_file(folder: Path, size: int) -> Path:
    path = folder / "big.bin"
    with path.open("wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 8 << 20))
            f.write(chunk)
            left -= len(chunk)
    return path


def catalogued(container: str) -> list[dict[str, Any]]:
    db = mongo_client()[conn_database()]
    return list(db["raw_objects"].find({"swift_container": container, "status": "committed"}))


def wait_committed(container: str, timeout: float = 600) -> float:
    """Seconds until the container's one record is committed (the middleware hashes a large object after
    Swift's answer)."""
    db = mongo_client()[conn_database()]
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if db["raw_objects"].find_one({"swift_container": container, "status": "committed"}) is not None:
            return time.perf_counter() - start
        time.sleep(0.05)
    raise SystemExit(f"{container}: no committed record after {timeout:.0f} s")


def conn_database() -> str:
    from bench.common import conn_json

    return str(conn_json("mongo_default").get("schema") or "datalake")


def forget(container: str) -> None:
    mongo_client()[conn_database()]["raw_objects"].delete_many({"swift_container": container})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000, help="small files per upload")
    parser.add_argument("--file-bytes", type=int, default=1024)
    parser.add_argument("--big-mib", type=int, default=1024, help="the large file (MiB)")
    parser.add_argument("--segment-mb", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["small", "big"], default=None)
    args = parser.parse_args(argv)
    tag = uuid.uuid4().hex[:8]
    containers: list[str] = []
    results: dict[str, Any] = {"tag": tag, "args": vars(args)}
    with tempfile.TemporaryDirectory(prefix="mw-bench-") as tmp:
        folder = Path(tmp)
        try:
            if args.only in (None, "small"):
                src = small_files(folder, args.files, args.file_bytes)
                times: dict[str, list[float]] = {"with": [], "without": []}
                for r in range(args.rounds):
                    for kind in ("with", "without") if r % 2 == 0 else ("without", "with"):
                        cont = f"mw-{tag}-{kind}-{r}" + ("_segments" if kind == "without" else "")
                        containers.append(cont)
                        # from inside the folder: the object names are the file names
                        times[kind].append(swift_cli("upload", cont, ".", "-H", FORMAT_HEADER, cwd=src))
                    got = catalogued(f"mw-{tag}-with-{r}")
                    if len(got) != args.files:
                        raise SystemExit(f"round {r}: {len(got)} of {args.files} small files catalogued")
                    forget(f"mw-{tag}-with-{r}")  # each round starts from the same catalog
                w, wo = statistics.median(times["with"]), statistics.median(times["without"])
                say(
                    f"{args.files} files of {args.file_bytes} B, swift upload: with the middleware "
                    f"{w:.2f} s, without {wo:.2f} s (medians of {args.rounds}): with/without "
                    f"{wo / w:.2f}x throughput"
                )
                results["small"] = {"with_s": times["with"], "without_s": times["without"], "ratio": wo / w}
            if args.only in (None, "big"):
                size = args.big_mib << 20
                path = big_file(folder, size)
                with path.open("rb") as f:
                    sha = hashlib.file_digest(f, "sha256").hexdigest()
                times = {"with": [], "without": [], "catalogued": []}
                for r in range(args.rounds):
                    for kind in ("with", "without") if r % 2 == 0 else ("without", "with"):
                        cont = f"mw-{tag}-big{kind}-{r}" + ("_segments" if kind == "without" else "")
                        containers.append(cont)
                        took = swift_cli(
                            "upload",
                            cont,
                            str(path),
                            "--object-name",
                            "big.bin",
                            "-S",
                            str(args.segment_mb * MB),
                            "--use-slo",
                            "-H",
                            FORMAT_HEADER,
                        )
                        times[kind].append(took)
                        if kind == "with":  # and no next upload while its content is read back
                            times["catalogued"].append(took + wait_committed(cont))
                    got = catalogued(f"mw-{tag}-bigwith-{r}")
                    if [(g["size"], g["sha256"]) for g in got] != [(size, sha)]:
                        raise SystemExit(f"round {r}: the large object's record is not right: {got}")
                    forget(f"mw-{tag}-bigwith-{r}")
                w, wo = statistics.median(times["with"]), statistics.median(times["without"])
                cat = statistics.median(times["catalogued"])
                say(
                    f"{args.big_mib} MiB segmented, swift upload: with the middleware "
                    f"{size / MB / w:.0f} MB/s, without {size / MB / wo:.0f} MB/s (medians of "
                    f"{args.rounds}): with/without {wo / w:.2f}x; until the record is committed "
                    f"{size / MB / cat:.0f} MB/s, {wo / cat:.2f}x"
                )
                results["big"] = {
                    "with_s": times["with"],
                    "without_s": times["without"],
                    "catalogued_s": times["catalogued"],
                    "ratio": wo / w,
                    "ratio_catalogued": wo / cat,
                }
        finally:
            for cont in containers:
                forget(cont)
            drop_containers(containers)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "middleware.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
