"""The plugin's REST API (``/datalake/api/v1``) vs what a user would pick instead, in the same run.

Both run on the stack's servers, through its running Airflow API server.

- ``upload``: a file of ``--upload-mib`` MiB, written once in a temporary folder, stored alternately by the
  ``swift upload`` command line (the stack's own, ``$DATALAKE_SWIFT_BIN/swift``, with ``swift_default``'s
  TempAuth credentials) and by ``curl`` streaming it to ``POST /objects`` (``dedupe=false``), each into a
  scratch container, ``--rounds`` times; MB/s of each (wall clock of the command, auth included for both;
  our JWT is fetched beforehand) and the ratio ours/swift. Meanwhile the API server's RSS (its process and
  children, from the stack's PID file) is sampled every 0.2 s: before and at peak during each of our
  uploads, at two sizes (the file, and a quarter of it), to show whether it grows with the file.
- ``page``: ``--records`` records of the real shape (`samples.catalog_records`) inserted into the catalog
  the API server reads, all marked with container ``bench-api-<tag>`` and format ``bench_api_<tag>`` and
  dated in the past (so the lake's own newest records stay on top), then ``--page-rounds`` timed
  ``GET /objects?limit=50`` (no filter, and ``format=bench_api_<tag>``), p50 and p95, vs the query the API
  sends (``CatalogHook.find(newest_first=True, limit=50)``) in plain pymongo.

Every object, segment and record made is deleted at the end, also on Ctrl-C. Run ``python -m bench.api_bench``
with ``.stack/env`` loaded. Results: ``bench/results/api.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import common

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "api.json"
MIB = 1 << 20
API = "/datalake/api/v1"
PAGE = 50
UPLOAD_GOAL = 0.7  # ours/swift throughput
PAGE_GOAL_MS = 300.0  # p95 of a first page
RSS_EVERY = 0.2  # seconds between RSS samples
SEED = 20240517
CLEANUP_TIMEOUT = 1800.0  # seconds a catalog delete may take
CLEANUP_ATTEMPTS = 6
GET_TIMEOUT = 600.0  # seconds a page may take (the API server's own catalog client gives up after 60)
PAGE_START = dt.datetime(2024, 1, 1)  # before anything the lake itself stores


# ------------------------------------------------------------------------------------------------ helpers


class PageError(RuntimeError):
    """The API did not answer a page with 200."""


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (p95 of 20 values: the 19th)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def api_server_pid() -> int:
    """The Airflow API server's PID, from the stack's PID file (``<stack>/run/airflow-api-server.pid``:
    the PID and its start time, checked against ``/proc`` so a recycled PID is not taken for it)."""
    stack = Path(os.environ.get("DATALAKE_STACK_DIR") or ROOT / ".stack")
    pid_file = stack / "run" / "airflow-api-server.pid"
    try:
        pid, stamp = pid_file.read_text().split()[:2]
        started = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, ValueError) as exc:
        raise SystemExit(f"the API server is not running ({pid_file}: {exc})") from exc
    if started != stamp:
        raise SystemExit(f"{pid_file} names PID {pid}, which is another process now")
    return int(pid)


class RssSampler:
    """The RSS of a process and its children, sampled in a thread; ``peak`` since the last ``start``."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def rss(self) -> int:
        import psutil

        total = 0
        for proc in (self.process, *self.process.children(recursive=True)):
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total

    def start(self) -> int:
        """Start sampling; the RSS now."""
        before = self.rss()
        self.peak, self._stop = before, threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        return before

    def stop(self) -> int:
        """Stop sampling; the peak RSS since ``start``."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, self.rss())
        return self.peak

    def _run(self) -> None:
        while not self._stop.wait(RSS_EVERY):
            self.peak = max(self.peak, self.rss())


def terminate_as_interrupt() -> None:
    """A SIGTERM ends the run like Ctrl-C, through the ``finally`` blocks that clean up."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Cleanup goes to its end: Ctrl-C and SIGTERM are only acknowledged meanwhile."""

    def handler(signum: int, frame: Any) -> None:
        common.say("cleaning up: wait for it to end (kill -9 would leave what it has not deleted)")

    saved = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, previous in saved.items():
            signal.signal(sig, previous)


def delete_records(coll: Any, query: dict[str, Any]) -> None:
    """``delete_many`` without the connection's socket timeout (FerretDB 1 reads the whole collection for
    it, which on a large catalog takes longer than the 60 s the stack's connection allows), retried until
    none is left."""
    import pymongo
    from pymongo.errors import PyMongoError

    with interrupts_held():
        for attempt in range(CLEANUP_ATTEMPTS):
            if attempt:
                time.sleep(5)  # an interrupted insert_many goes on in the server for a while
            try:
                with pymongo.timeout(CLEANUP_TIMEOUT):
                    coll.delete_many(query)
                    if not coll.count_documents(query, limit=1):
                        return
            except PyMongoError as exc:
                common.say(f"cleanup: deleting {query} failed ({exc}), attempt {attempt + 1}")
        common.say(f"cleanup: records are left, delete them by hand: raw_objects.deleteMany({query})")


# ------------------------------------------------------------------------------------------------ upload


def swift_upload(path: Path, container: str, name: str) -> float:
    """``swift upload`` of ``path`` as ``container/name``; its seconds (the command's whole run)."""
    swift_bin = os.environ.get("DATALAKE_SWIFT_BIN")
    if not swift_bin:
        raise SystemExit("DATALAKE_SWIFT_BIN is not set: load the stack's env (`.stack/env`)")
    auth = common.swift_auth()
    env = {**os.environ, "ST_AUTH": auth["authurl"], "ST_USER": auth["user"], "ST_KEY": auth["key"]}
    cmd = [str(Path(swift_bin) / "swift"), "upload", "--object-name", name, container, str(path)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"swift upload failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return seconds


def curl_upload(path: Path, url: str, headers: Path, answer: Path) -> tuple[float, dict[str, Any]]:
    """``curl`` streaming ``path`` as the body of a POST to ``url``; its seconds and the API's answer.

    ``--upload-file`` with ``-X POST`` streams the file as it reads it (``--data-binary @file``, as in
    docs/ui.md, reads the whole file into curl's memory before sending it). The headers (the JWT among
    them) come from a file, so the token is not on a command line.
    """
    cmd = [
        "curl", "--silent", "--show-error", "-X", "POST", "--upload-file", str(path),
        "-H", f"@{headers}", "-o", str(answer), "-w", "%{http_code}", url,
    ]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=False)
    seconds = time.perf_counter() - start
    body = answer.read_text(errors="replace") if answer.exists() else ""
    if proc.returncode != 0 or proc.stdout.strip() != "201":
        raise RuntimeError(f"upload through the API: curl {proc.returncode}, HTTP {proc.stdout} {body[:500]}")
    return seconds, json.loads(body)["record"]


def write_file(path: Path, size: int, seed: int) -> None:
    from airflow_provider_datalake.samples import write_blob

    common.say(f"upload: writing {common.human_size(size)} to {path}")
    write_blob(path, size, seed)  # pseudo-random, in 1 MiB writes


def run_upload(*, size: int, rounds: int, tag: str, fmt: str | None, user: str) -> dict[str, Any]:
    from airflow_provider_datalake.airflow_rest import AirflowRest
    from airflow_provider_datalake.hooks.catalog import CatalogHook

    common.quiet_logs()
    swift_c, ours_c = f"bench-api-{tag}-swift", f"bench-api-{tag}-ours"
    sampler = RssSampler(api_server_pid())
    rest = AirflowRest.from_env(user)
    catalog = CatalogHook()
    workdir = Path(tempfile.mkdtemp(prefix="datalake-api-bench-"))
    rates: dict[str, list[float]] = {"ours": [], "swift": []}
    rss: list[dict[str, Any]] = []
    try:
        headers = workdir / "headers"
        headers.touch(mode=0o600)
        token = rest.token()
        lines = ["Content-Type: application/octet-stream"] + (
            [f"Authorization: Bearer {token}"] if token else []
        )
        headers.write_text("\n".join(lines) + "\n")
        answer = workdir / "answer.json"

        def ours(path: Path, name: str) -> tuple[float, dict[str, Any]]:
            params = {
                "name": name,
                "container": ours_c,
                "dedupe": "false",
                **({"format": fmt} if fmt else {}),
            }
            url = f"{rest.base_url}{API}/objects?{urllib.parse.urlencode(params)}"
            before = sampler.start()
            try:
                seconds, record = curl_upload(path, url, headers, answer)
            finally:
                peak = sampler.stop()
                # Right away: an object without format is what the unknown-formats DAG claims.
                delete_records(catalog.raw_objects, {"swift_container": ours_c})
            errors = common.delete_swift(ours_c, [record["swift_object_id"]])
            if errors:
                raise RuntimeError(f"could not delete our upload: {errors}")
            rss.append(
                {
                    "size": path.stat().st_size,
                    "before": before,
                    "peak": peak,
                    "segments": record.get("segments"),
                }
            )
            common.say(
                f"  API server RSS {before / common.MB:.0f} MB before, {peak / common.MB:.0f} MB at peak "
                f"(+{(peak - before) / common.MB:.0f} MB), {record.get('segments')} SLO segments"
            )
            return seconds, record

        # A quarter of the file first, also a warm-up: RSS that grows with the file shows as a larger
        # rise for the whole file than for its quarter.
        quarter = workdir / "quarter.bin"
        write_file(quarter, max(size // 4, 1), SEED)
        common.say(f"upload: {common.human_size(quarter.stat().st_size)} through the API (RSS, warm-up)")
        ours(quarter, f"quarter-{tag}.bin")
        quarter.unlink()

        path = workdir / "blob.bin"
        write_file(path, size, SEED + 1)
        for index in range(rounds):
            for side in ("swift", "ours") if index % 2 == 0 else ("ours", "swift"):
                name = f"blob-{tag}-{index}.bin"
                if side == "swift":
                    seconds = swift_upload(path, swift_c, name)
                    errors = common.delete_swift(swift_c, [name])
                    if errors:
                        raise RuntimeError(f"could not delete {swift_c}/{name}: {errors}")
                else:
                    seconds, _ = ours(path, name)
                rates[side].append(size / common.MB / seconds)
                common.say(f"upload, round {index + 1}/{rounds}: {side} {rates[side][-1]:.1f} MB/s")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        delete_records(catalog.raw_objects, {"swift_container": {"$in": [swift_c, ours_c]}})
        with interrupts_held():
            common.drop_containers([swift_c, ours_c])

    ours_mb, swift_mb = statistics.median(rates["ours"]), statistics.median(rates["swift"])
    return {
        "size": size,
        "rounds": rounds,
        "format": fmt,
        "mb_per_s": {side: {"median": statistics.median(r), "rounds": r} for side, r in rates.items()},
        "ratio": ours_mb / swift_mb,
        "ratio_rounds": [o / s for o, s in zip(rates["ours"], rates["swift"], strict=True)],
        "goal_ratio": UPLOAD_GOAL,
        "api_server_rss": rss,
    }


# ------------------------------------------------------------------------------------------------ page


def bench_records(count: int, tag: str) -> Iterator[dict[str, Any]]:
    """`catalog_records` of one format of this run's own, in a container of its own, with ids and dedupe
    keys of their own; only processed and failed ones (at rest; a committed or processing record would be
    taken by the lake's DAGs and sweeps)."""
    from airflow_provider_datalake.samples import catalog_records

    fmt, container = f"bench_api_{tag}", f"bench-api-{tag}"
    for rec in catalog_records(count, SEED, formats=1, start=PAGE_START, container=container):
        rec["_id"] = hashlib.sha256(f"{tag}:{rec['_id']}".encode()).hexdigest()[:32]
        rec["format"], rec["dedupe_key"] = fmt, f"{fmt}:{rec['sha256']}"
        rec["swift_object_id"] = f"{fmt}/{rec['creation_date']:%Y/%m/%d}/{rec['_id']}"
        if rec["status"] not in ("processed", "failed"):
            for key in ("processing_run", "processing_started", "processing_attempts", "lease_until"):
                rec.pop(key, None)
            rec["status"] = "processed"
        yield rec


def run_page(*, records: int, rounds: int, tag: str, user: str) -> dict[str, Any]:
    import httpx
    import pymongo
    from pymongo import DESCENDING

    from airflow_provider_datalake.airflow_rest import AirflowRest
    from airflow_provider_datalake.hooks.catalog import VISIBLE, CatalogHook

    fmt, container = f"bench_api_{tag}", f"bench-api-{tag}"
    catalog = CatalogHook()
    coll = catalog.raw_objects  # the collection the API server reads (same connection and database)
    rest = AirflowRest.from_env(user)
    token = rest.token()
    result: dict[str, Any] = {"records": records, "rounds": rounds, "format": fmt, "queries": {}}
    try:
        started, batch = time.perf_counter(), []
        for n, rec in enumerate(bench_records(records, tag), 1):
            batch.append(rec)
            if len(batch) == 10_000 or n == records:
                coll.insert_many(batch, ordered=False)
                batch = []
                common.say(f"page: {n:,} records inserted")
        result["insert_seconds"] = round(time.perf_counter() - started, 1)
        result["catalog_records"] = coll.estimated_document_count()

        newest = [("creation_date", DESCENDING), ("_id", DESCENDING)]
        visible = {"status": {"$in": [s.value for s in VISIBLE]}}
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        with httpx.Client(base_url=rest.base_url, headers=auth, timeout=GET_TIMEOUT) as client:

            def api(params: dict[str, str]) -> Callable[[], int]:
                def get() -> int:
                    resp = client.get(f"{API}/objects", params={"limit": str(PAGE), **params})
                    if resp.status_code != 200:
                        raise PageError(f"HTTP {resp.status_code}: {resp.text[:300]}")
                    return len(resp.json()["objects"])

                return get

            def raw(query: dict[str, Any]) -> Callable[[], int]:
                def find() -> int:
                    with pymongo.timeout(GET_TIMEOUT):  # as the API's, without its 60 s socket timeout
                        return len(list(coll.find(query).sort(newest).limit(PAGE)))

                return find

            cases = {
                "first page": (api({}), raw(visible)),
                "first page of one format": (api({"format": fmt}), raw({**visible, "format": fmt})),
            }
            for name, (ours, baseline) in cases.items():
                times: dict[str, list[float]] = {"ours": [], "pymongo": []}
                errors: list[str] = []
                listed = {"ours": -1, "pymongo": -1}
                for index in range(-1, rounds):  # round -1 warms: connections, caches
                    order = (("ours", ours), ("pymongo", baseline))
                    for side, fn in order if index % 2 == 0 else order[::-1]:
                        start = time.perf_counter()
                        try:
                            listed[side] = fn()
                        except (PageError, httpx.TransportError) as exc:  # counted, not timed
                            errors.append(f"{side}: {exc}")
                            common.say(f"page, {name}: {side} failed: {exc}")
                            continue
                        if index >= 0:
                            times[side].append((time.perf_counter() - start) * 1000)
                if listed["ours"] != listed["pymongo"]:
                    raise RuntimeError(
                        f"{name}: the API listed {listed['ours']}, pymongo {listed['pymongo']}"
                    )
                row = {
                    f"{side}_{label}": round(percentile(values, share), 1) if values else None
                    for side, values in times.items()
                    for label, share in (("p50_ms", 0.5), ("p95_ms", 0.95))
                }
                result["queries"][name] = {
                    **row,
                    "listed": listed["ours"],
                    "errors": errors,
                    "rounds_ms": times,
                }
                common.say(
                    f"page, {name}: API p50 {row['ours_p50_ms']:.0f} ms, p95 {row['ours_p95_ms']:.0f} ms; "
                    f"pymongo p50 {row['pymongo_p50_ms']:.0f} ms, p95 {row['pymongo_p95_ms']:.0f} ms"
                )
    finally:
        common.say(f"page: deleting the records of {container}")
        delete_records(coll, {"swift_container": container})
    return result


# ------------------------------------------------------------------------------------------------ main


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def table(results: dict[str, Any]) -> list[str]:
    rows = []
    if u := results.get("upload"):
        ours, swift = u["mb_per_s"]["ours"]["median"], u["mb_per_s"]["swift"]["median"]
        label = f"upload {common.human_size(u['size'])}, median of {u['rounds']}"
        rows.append(
            f"{label:<40} ours {ours:7.1f} MB/s  swift {swift:7.1f} MB/s  ratio {u['ratio']:.2f}x "
            f"(goal >= {u['goal_ratio']}x: {verdict(u['ratio'] >= u['goal_ratio'])})"
        )
        for size in sorted({r["size"] for r in u["api_server_rss"]}):
            runs = [r for r in u["api_server_rss"] if r["size"] == size]
            rise = max(r["peak"] - r["before"] for r in runs) / common.MB
            peak = max(r["peak"] for r in runs) / common.MB
            label = f"  API server RSS, {common.human_size(size)} upload"
            rows.append(f"{label:<40} peak {peak:7.0f} MB     rise over before {rise:6.0f} MB")
    if p := results.get("page"):
        for name, q in p["queries"].items():
            label = f"{name} ({p['catalog_records']:,} records)"
            if q["ours_p95_ms"] is None or q["pymongo_p95_ms"] is None:
                rows.append(f"{label:<40} no answer: {'; '.join(q['errors'][:2])}")
                continue
            ratio = q["ours_p95_ms"] / q["pymongo_p95_ms"] if q["pymongo_p95_ms"] else math.nan
            met = verdict(q["ours_p95_ms"] <= PAGE_GOAL_MS)
            failed = f"; {len(q['errors'])} failed" if q["errors"] else ""
            rows.append(
                f"{label:<40} API p50 {q['ours_p50_ms']:6.0f} p95 {q['ours_p95_ms']:6.0f} ms  pymongo p50 "
                f"{q['pymongo_p50_ms']:6.0f} p95 {q['pymongo_p95_ms']:6.0f} ms  ratio p95 {ratio:.2f}x "
                f"(goal API p95 <= {PAGE_GOAL_MS:.0f} ms: {met}{failed})"
            )
    return rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.api_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("upload", "page"), help="run one measurement")
    parser.add_argument(
        "--upload-mib", type=int, default=1024, help="size of the uploaded file (%(default)s)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="upload rounds, median reported (%(default)s)")
    parser.add_argument("--format", help="a format for our uploads (default: none)")
    parser.add_argument("--records", type=int, default=100_000, help="records inserted (%(default)s)")
    parser.add_argument("--page-rounds", type=int, default=20, help="timed GETs of a page (%(default)s)")
    parser.add_argument("--user", default="operator", help="the Airflow login (%(default)s; needs write)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON results (%(default)s)")
    args = parser.parse_args(argv)
    if min(args.upload_mib, args.rounds, args.records, args.page_rounds) < 1:
        parser.error("--upload-mib, --rounds, --records and --page-rounds must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    terminate_as_interrupt()
    tag = uuid.uuid4().hex[:10]
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_start": os.getloadavg()},
        "params": {**{k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}, "tag": tag},
    }
    with common.stdout_to_stderr():
        if args.only in (None, "upload"):
            results["upload"] = run_upload(
                size=args.upload_mib * MIB, rounds=args.rounds, tag=tag, fmt=args.format, user=args.user
            )
        if args.only in (None, "page"):
            results["page"] = run_page(records=args.records, rounds=args.page_rounds, tag=tag, user=args.user)
    results["host"]["load_end"] = os.getloadavg()  # other work on the machine skews every figure
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print("\n== the REST API (MB = 10^6 bytes; baselines: swift upload, raw pymongo; same servers) ==")
    print("\n".join(table(results)))
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
