"""The catalogue middleware in the stack's real Swift proxy: whatever client writes an object — the
`swift` command line (plain, SLO and DLO segments), a plain HTTP PUT, boto3 through s3api (one PUT and a
100 MB multipart upload) — it is committed in the catalog with its size and SHA-256; a DELETE marks it
deleted; a client cannot forge the record through headers; an overwrite, a DELETE during processing and a
client that hangs up are handled; `reconcile --adopt` catalogues what was written while it was off."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import subprocess
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import conn_json

pytestmark = pytest.mark.stack


def sha256_of(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def random_file(folder: Path, name: str, size: int) -> Path:
    path = folder / name
    with path.open("wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 1 << 20))
            f.write(chunk)
            left -= len(chunk)
    return path


def swift_cli(*args: str) -> subprocess.CompletedProcess[str]:
    conn = conn_json("swift_default")
    swift = Path(os.environ["DATALAKE_SWIFT_BIN"]) / "swift"
    cmd = [
        str(swift),
        "-A",
        f"http://{conn['host']}:{conn['port']}/auth/v1.0",
        "-U",
        conn["login"],
        "-K",
        conn["password"],
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def record_of(container: str, name: str) -> dict[str, Any]:
    from airflow_provider_datalake.hooks.catalog import CatalogHook

    found = list(CatalogHook().raw_objects.find({"swift_container": container, "swift_object_id": name}))
    assert len(found) == 1, f"{container}/{name}: {len(found)} record(s)"
    return found[0]


def committed_record_of(container: str, name: str, timeout: float = 60) -> dict[str, Any]:
    """A large object's record, once committed: the middleware reads its content back after Swift's
    answer, the record pending until then."""
    from tests.factory.conftest import wait_for

    wait_for(
        f"{container}/{name} committed", lambda: record_of(container, name)["status"] != "pending", timeout
    )
    return record_of(container, name)


def test_swift_upload_plain_slo_and_dlo(container: str, tmp_path: Path) -> None:
    small = random_file(tmp_path, "small.bin", 10_000)
    big = random_file(tmp_path, "big.bin", 3_500_000)
    run = swift_cli(
        "upload", container, str(small), "--object-name", "small.bin", "-H", "X-Object-Meta-Room: U4-302"
    )
    assert run.returncode == 0, run.stderr
    run = swift_cli("upload", container, str(big), "--object-name", "slo.bin", "-S", "1000000", "--use-slo")
    assert run.returncode == 0, run.stderr
    run = swift_cli("upload", container, str(big), "--object-name", "dlo.bin", "-S", "1000000", "--use-dlo")
    assert run.returncode == 0, run.stderr
    rec = record_of(container, "small.bin")
    assert rec["status"] == "committed"
    assert (rec["size"], rec["sha256"]) == (10_000, sha256_of(small))
    assert rec["other_data"]["room"] == "U4-302"  # (the swift command line adds its mtime)
    assert rec["format"] is None and rec["swift_account"] == "AUTH_test"
    assert [h["status"] for h in rec["history"]] == ["pending", "committed"]
    for name, kind in (("slo.bin", "slo"), ("dlo.bin", "dlo")):
        rec = committed_record_of(container, name)
        assert rec["status"] == "committed" and rec["segments"] == kind
        assert (rec["size"], rec["sha256"]) == (3_500_000, sha256_of(big))
    from airflow_provider_datalake.hooks.catalog import CatalogHook

    segments = CatalogHook().raw_objects.count_documents({"swift_container": f"{container}_segments"})
    assert segments == 0  # segments are parts of an object, never objects of the lake


def test_put_delete_overwrite_and_forged_fields(container: str, auth: tuple[str, str]) -> None:
    url, token = auth
    h = {"X-Auth-Token": token}
    assert httpx.put(f"{url}/{container}", headers=h).status_code in (201, 202)
    forged = {
        **h,
        "Content-Type": "text/csv",
        "X-Object-Meta-Status": "processed",
        "X-Object-Meta-Id": "x",
        "X-Object-Meta-Datalake-Format": "no_such_format_yet",
    }
    resp = httpx.put(f"{url}/{container}/a.csv", headers=forged, content=b"a,b\n1,2\n")
    assert resp.status_code == 201, resp.text
    rec = record_of(container, "a.csv")
    assert rec["status"] == "committed" and rec["_id"] != "x"
    assert rec["format"] == "no_such_format_yet" and rec["content_type"] == "text/csv"
    assert rec["other_data"] == {"status": "processed", "id": "x"}
    assert rec["sha256"] == hashlib.sha256(b"a,b\n1,2\n").hexdigest()

    again = httpx.put(f"{url}/{container}/a.csv", headers=h, content=b"other")
    assert again.status_code == 409  # the raw zone keeps every file
    assert httpx.get(f"{url}/{container}/a.csv", headers=h).content == b"a,b\n1,2\n"

    from airflow_provider_datalake.hooks.catalog import CatalogHook, Status

    catalog = CatalogHook()
    catalog.transition(rec["_id"], Status.COMMITTED, Status.PROCESSING)
    assert httpx.delete(f"{url}/{container}/a.csv", headers=h).status_code == 409  # a run holds it
    catalog.transition(rec["_id"], Status.PROCESSING, Status.PROCESSED)
    assert httpx.delete(f"{url}/{container}/a.csv", headers=h).status_code == 204
    gone = catalog.get(rec["_id"])
    assert gone is not None and gone["status"] == "deleted" and gone["deleted_object_id"] == "a.csv"
    # the name is free again: a new object, a new record
    assert httpx.put(f"{url}/{container}/a.csv", headers=h, content=b"new").status_code == 201
    assert record_of(container, "a.csv")["sha256"] == hashlib.sha256(b"new").hexdigest()


def test_a_delete_finds_its_record_by_the_id_its_object_carries(
    container: str, auth: tuple[str, str]
) -> None:
    """The stored object carries its record's id, set by the middleware whatever the client sent; a DELETE
    looks the record up by it, and falls back to the name when the object's metadata no longer holds it
    or holds another object's."""
    url, token = auth
    h = {"X-Auth-Token": token}
    assert httpx.put(f"{url}/{container}", headers=h).status_code in (201, 202)
    assert httpx.put(f"{url}/{container}/a.csv", headers=h, content=b"a\n1\n").status_code == 201
    a = record_of(container, "a.csv")
    assert httpx.head(f"{url}/{container}/a.csv", headers=h).headers["x-object-meta-record-id"] == a["_id"]
    # a client naming another (committed) record's id gets a record of its own, and the header with it
    forged = {**h, "X-Object-Meta-Record-Id": a["_id"]}
    assert httpx.put(f"{url}/{container}/b.csv", headers=forged, content=b"b\n2\n").status_code == 201
    b = record_of(container, "b.csv")
    assert b["_id"] != a["_id"] and "record-id" not in b["other_data"]
    assert httpx.head(f"{url}/{container}/b.csv", headers=h).headers["x-object-meta-record-id"] == b["_id"]
    # a POST that points b.csv's metadata at a.csv's record: b.csv's DELETE marks b's record, not a's
    resp = httpx.post(f"{url}/{container}/b.csv", headers={**h, "X-Object-Meta-Record-Id": a["_id"]})
    assert resp.status_code == 202
    assert httpx.delete(f"{url}/{container}/b.csv", headers=h).status_code == 204
    from airflow_provider_datalake.hooks.catalog import CatalogHook

    catalog = CatalogHook()
    assert catalog.get(b["_id"])["status"] == "deleted"  # type: ignore[index]
    assert catalog.get(a["_id"])["status"] == "committed"  # type: ignore[index]
    # a POST that drops the id (Swift replaces an object's metadata): found by its name
    assert (
        httpx.post(f"{url}/{container}/a.csv", headers={**h, "X-Object-Meta-Room": "U4"}).status_code == 202
    )
    assert "x-object-meta-record-id" not in httpx.head(f"{url}/{container}/a.csv", headers=h).headers
    assert httpx.delete(f"{url}/{container}/a.csv", headers=h).status_code == 204
    assert catalog.get(a["_id"])["status"] == "deleted"  # type: ignore[index]


def test_a_large_object_deleted_as_it_is_read_back_leaves_no_record(
    container: str, auth: tuple[str, str]
) -> None:
    """A static large object is answered before its content is read back: deleted at once, whichever of
    the read-back and the DELETE comes first, its record ends deleted or gone, never pending."""
    import json

    url, token = auth
    h = {"X-Auth-Token": token}
    segments = f"{container}_segments"
    for cont in (container, segments):
        httpx.put(f"{url}/{cont}", headers=h)
    manifest = []
    for i in range(8):
        part = os.urandom(1 << 20)
        assert httpx.put(f"{url}/{segments}/big/{i:03d}", headers=h, content=part).status_code == 201
        manifest.append({"path": f"/{segments}/big/{i:03d}", "etag": hashlib.md5(part).hexdigest()})  # noqa: S324
    put = httpx.put(
        f"{url}/{container}/big.bin",
        headers=h,
        params={"multipart-manifest": "put"},
        content=json.dumps(manifest).encode(),
    )
    assert put.status_code == 201, put.text
    # (the middleware finds a DELETE's record by name: on FerretDB a read of the whole catalog)
    assert httpx.delete(f"{url}/{container}/big.bin", headers=h, timeout=120).status_code == 204
    from airflow_provider_datalake.hooks.catalog import CatalogHook
    from tests.factory.conftest import wait_for

    catalog = CatalogHook()

    def settled() -> bool:
        states = [r["status"] for r in catalog.raw_objects.find({"swift_container": container})]
        return states in ([], ["deleted"])

    wait_for("the record deleted or gone", settled, 60)


def test_a_large_object_it_cannot_read_back_waits_minutes_not_a_day(
    container: str, auth: tuple[str, str]
) -> None:
    """Once Swift has stored a large object, its record holds for the read-back's lease (renewed as the
    content streams), not the upload's day: a read-back that fails (here a DLO whose segments' container
    does not exist) or a proxy that stops during it leaves the record to reconcile within minutes."""
    from tests.factory.conftest import wait_for

    url, token = auth
    h = {"X-Auth-Token": token}
    assert httpx.put(f"{url}/{container}", headers=h).status_code in (201, 202)
    manifest = {**h, "X-Object-Manifest": f"{container}-nowhere/parts/"}
    assert httpx.put(f"{url}/{container}/dlo.bin", headers=manifest, content=b"").status_code == 201
    start = dt.datetime.now(dt.UTC)
    assert record_of(container, "dlo.bin")["status"] == "pending"
    # three tries, 1 + 2 + 4 s apart, each renewing the lease first
    wait_for(
        "the read-back's three tries", lambda: dt.datetime.now(dt.UTC) - start > dt.timedelta(seconds=9), 20
    )
    rec = record_of(container, "dlo.bin")
    lease = rec["lease_until"].replace(tzinfo=dt.UTC)
    assert rec["status"] == "pending"
    assert start < lease <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=300), f"lease until {lease}"


def lose_two_commits(container: str, tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """A small object and a static large object stored through the middleware, then their records set back
    to pending as a proxy that died before the commit leaves them: (small file, large file, record ids)."""
    from airflow_provider_datalake.hooks.catalog import CatalogHook

    small = random_file(tmp_path, "small.bin", 10_000)
    big = random_file(tmp_path, "big.bin", 3_500_000)
    assert swift_cli("upload", container, str(small), "--object-name", "small.bin").returncode == 0
    run = swift_cli("upload", container, str(big), "--object-name", "slo.bin", "-S", "1000000", "--use-slo")
    assert run.returncode == 0, run.stderr
    lost = {"status": "pending", "size": None, "sha256": None, "etag": None, "segments": None}
    lease = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    ids = {}
    for name in ("small.bin", "slo.bin"):
        ids[name] = committed_record_of(container, name)["_id"]
        CatalogHook().raw_objects.update_one({"_id": ids[name]}, {"$set": {**lost, "lease_until": lease}})
    return small, big, ids


def test_reconcile_commits_a_stored_object_whose_commit_was_lost(
    container: str, auth: tuple[str, str], tmp_path: Path
) -> None:
    """The client was told its object is stored, then the proxy died before the commit (a large object's
    read-back cut by a restart): after the lease, reconcile reads the object back and commits it."""
    from airflow_provider_datalake.hooks.catalog import CatalogHook
    from airflow_provider_datalake.ingest.reconcile import reconcile

    small, big, _ = lose_two_commits(container, tmp_path)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    report = reconcile(catalog=CatalogHook(), containers=[container], now=later)
    assert len(report.rolled_forward) == 2 and report.rolled_back == []
    url, token = auth
    for name, path, kind in (("small.bin", small, None), ("slo.bin", big, "slo")):
        rec = record_of(container, name)
        assert rec["status"] == "committed" and rec["segments"] == kind
        assert (rec["size"], rec["sha256"]) == (path.stat().st_size, sha256_of(path))
        assert httpx.head(f"{url}/{container}/{name}", headers={"X-Auth-Token": token}).status_code == 200


def test_reconcile_reports_a_large_object_it_cannot_read_back(
    container: str, auth: tuple[str, str], tmp_path: Path
) -> None:
    """A lost commit of a large object whose segment is then deleted: reconcile neither commits it with a
    wrong SHA-256 nor deletes it; it names it in its report and settles the others."""
    from airflow_provider_datalake.hooks.catalog import CatalogHook
    from airflow_provider_datalake.ingest.reconcile import reconcile

    _, _, ids = lose_two_commits(container, tmp_path)
    url, token = auth
    h = {"X-Auth-Token": token}
    segments = sorted(
        o["name"] for o in httpx.get(f"{url}/{container}_segments?format=json", headers=h).json()
    )
    assert len(segments) == 4
    gone = httpx.delete(f"{url}/{container}_segments/{urllib.parse.quote(segments[2])}", headers=h)
    assert gone.status_code == 204
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    report = reconcile(catalog=CatalogHook(), containers=[container], now=later)
    assert report.rolled_forward == [ids["small.bin"]] and report.rolled_back == []
    assert [rid for rid, _ in report.unreadable] == [ids["slo.bin"]] and not report.clean
    rec = record_of(container, "slo.bin")
    assert rec["status"] == "reconciling" and rec["sha256"] is None
    assert httpx.head(f"{url}/{container}/slo.bin", headers=h).status_code == 200


class SlowReads:
    """The stack's Swift client, reading the first chunks of an object slowly: a read-back that outlasts
    the reconciler's claim. Every call still goes to the real Swift."""

    def __init__(self, swift: Any, slow_chunks: int, pause: float, during: Any = None) -> None:
        self.swift, self.slow_chunks, self.pause, self.during = swift, slow_chunks, pause, during

    def __getattr__(self, name: str) -> Any:
        return getattr(self.swift, name)

    def iter_object(self, container: str, name: str, chunk_size: int = 1 << 20) -> Any:
        import time

        for i, chunk in enumerate(self.swift.iter_object(container, name, 1 << 16)):
            if i < self.slow_chunks:
                time.sleep(self.pause)
            if i == self.slow_chunks and self.during is not None:
                self.during()
            yield chunk


def expire_lease(record_id: str) -> None:
    from airflow_provider_datalake.hooks.catalog import CatalogHook

    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    CatalogHook().raw_objects.update_one({"_id": record_id}, {"$set": {"lease_until": past}})


def test_a_long_read_back_keeps_its_claim_from_another_reconciler(container: str, tmp_path: Path) -> None:
    """A lost commit's large object read back for longer than the reconciler's claim: the claim is renewed
    as the content streams, so a second reconciler meanwhile finds the record taken, and the first
    commits it."""
    from airflow_provider_datalake.hooks.catalog import CatalogHook
    from airflow_provider_datalake.hooks.connect import swift_for
    from airflow_provider_datalake.ingest.settle import settle_record

    _, big, ids = lose_two_commits(container, tmp_path)
    rid = ids["slo.bin"]
    expire_lease(rid)
    catalog, swift = CatalogHook(), swift_for("swift_default")
    second: list[Any] = []

    def another_reconciler() -> None:  # 2 s into the read-back, past a 1-second claim
        rec = catalog.get(rid)
        assert rec["status"] == "reconciling"
        assert rec["lease_until"].replace(tzinfo=dt.UTC) > dt.datetime.now(dt.UTC)
        second.append(settle_record(rec, catalog=catalog, swift=swift, claim=dt.timedelta(seconds=1)))

    slow = SlowReads(swift, slow_chunks=8, pause=0.25, during=another_reconciler)
    rec = catalog.get(rid)
    assert settle_record(rec, catalog=catalog, swift=slow, claim=dt.timedelta(seconds=1)) == "forward"
    assert second == [None]  # it found the record claimed
    rec = record_of(container, "slo.bin")
    assert rec["status"] == "committed" and "reconciler" not in rec
    assert (rec["size"], rec["sha256"]) == (big.stat().st_size, sha256_of(big))


def test_a_reconciler_whose_claim_was_taken_commits_nothing(container: str, tmp_path: Path) -> None:
    """A reconciler that stalled past its claim, whose record another one then took: at its next renewal or
    at its commit, whichever comes first, it stops and writes nothing; the record stays the other's."""
    from airflow_provider_datalake.hooks.catalog import CatalogHook
    from airflow_provider_datalake.hooks.connect import swift_for
    from airflow_provider_datalake.ingest.settle import settle_record

    _, _, ids = lose_two_commits(container, tmp_path)
    rid = ids["slo.bin"]
    expire_lease(rid)
    catalog = CatalogHook()
    until = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)

    def taken() -> None:  # what another reconciler's claim writes
        catalog.raw_objects.update_one({"_id": rid}, {"$set": {"reconciler": "other", "lease_until": until}})

    slow = SlowReads(swift_for("swift_default"), slow_chunks=4, pause=0.25, during=taken)
    assert settle_record(catalog.get(rid), catalog=catalog, swift=slow, claim=dt.timedelta(seconds=1)) is None
    rec = record_of(container, "slo.bin")
    assert (rec["status"], rec["reconciler"], rec["sha256"]) == ("reconciling", "other", None)


def test_a_client_that_hangs_up_leaves_nothing(container: str, auth: tuple[str, str]) -> None:
    url, token = auth
    httpx.put(f"{url}/{container}", headers={"X-Auth-Token": token})
    parts = urllib.parse.urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as s:
        s.sendall(
            f"PUT {parts.path}/{container}/cut.bin HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"X-Auth-Token: {token}\r\nContent-Length: {4 << 20}\r\n\r\n".encode()
        )
        s.sendall(os.urandom(1 << 20))
    from airflow_provider_datalake.hooks.catalog import CatalogHook
    from airflow_provider_datalake.ingest.reconcile import reconcile

    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)  # past any lease
    deadline = dt.datetime.now() + dt.timedelta(seconds=30)
    catalog = CatalogHook()
    while (
        catalog.raw_objects.count_documents({"swift_container": container}) and dt.datetime.now() < deadline
    ):
        pass
    report = reconcile(catalog=catalog, containers=[container], now=later)
    assert catalog.raw_objects.count_documents({"swift_container": container}) == 0
    assert report.orphans == []
    assert httpx.head(f"{url}/{container}/cut.bin", headers={"X-Auth-Token": token}).status_code == 404


def s3_client() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=os.environ["DATALAKE_S3_ENDPOINT"],
        aws_access_key_id=os.environ["DATALAKE_S3_ACCESS_KEY"],
        aws_secret_access_key=os.environ["DATALAKE_S3_SECRET_KEY"],
        region_name=os.environ.get("DATALAKE_S3_REGION", "us-east-1"),
        config=Config(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


def test_s3_put_object_and_a_100_mb_multipart_upload(container: str, tmp_path: Path) -> None:
    from boto3.s3.transfer import TransferConfig

    s3 = s3_client()
    s3.create_bucket(Bucket=container)
    s3.put_object(
        Bucket=container,
        Key="dir/one.json",
        Body=b'{"a": 1}\n',
        ContentType="application/json",
        Metadata={"datalake-format": "some_format", "building": "U4"},
    )
    rec = record_of(container, "dir/one.json")
    assert rec["status"] == "committed" and rec["format"] == "some_format"
    assert rec["other_data"] == {"building": "U4"}
    assert rec["sha256"] == hashlib.sha256(b'{"a": 1}\n').hexdigest()

    big = random_file(tmp_path, "big.bin", 100_000_000)
    config = TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=16 << 20, max_concurrency=4)
    s3.upload_file(str(big), container, "big.bin", Config=config)
    rec = committed_record_of(container, "big.bin")
    assert rec["status"] == "committed" and rec["segments"] == "slo"
    assert (rec["size"], rec["sha256"]) == (100_000_000, sha256_of(big))
    from airflow_provider_datalake.hooks.catalog import CatalogHook

    assert CatalogHook().raw_objects.count_documents({"swift_container": f"{container}+segments"}) == 0


def test_reconcile_adopts_what_was_written_while_it_was_off(container: str, auth: tuple[str, str]) -> None:
    from airflow_provider_datalake.hooks.catalog import CatalogHook
    from airflow_provider_datalake.ingest.reconcile import reconcile

    url, token = auth
    h = {"X-Auth-Token": token}
    httpx.put(f"{url}/{container}", headers=h)
    httpx.put(
        f"{url}/{container}/late.csv",
        headers={**h, "X-Object-Meta-Datalake-Format": "lab_csv_en"},
        content=b"x,y\n",
    )
    catalog = CatalogHook()
    catalog.raw_objects.delete_many({"swift_container": container})  # as if the middleware had been off
    dry = reconcile(catalog=catalog, containers=[container], adopt_orphans=True, dry_run=True)
    assert [(c, n) for c, n, _ in dry.adopted] == [(container, "late.csv")]
    assert catalog.raw_objects.count_documents({"swift_container": container}) == 0
    report = reconcile(catalog=catalog, containers=[container], adopt_orphans=True)
    assert report.orphans == []
    rec = record_of(container, "late.csv")
    assert (
        rec["status"] == "committed" and rec["format"] == "lab_csv_en" and rec["ingest"] == "reconcile-adopt"
    )
    assert rec["sha256"] == hashlib.sha256(b"x,y\n").hexdigest()


def test_reconcile_adopts_no_large_object_it_cannot_read_whole(
    container: str, auth: tuple[str, str], tmp_path: Path
) -> None:
    """An orphan large object missing a segment is not adopted: it stays an orphan, named with the reason
    (Swift refuses its GET), and the other orphans are adopted all the same."""
    from airflow_provider_datalake.hooks.catalog import CatalogHook
    from airflow_provider_datalake.ingest.reconcile import reconcile

    small, _, _ = lose_two_commits(container, tmp_path)
    catalog = CatalogHook()
    catalog.raw_objects.delete_many({"swift_container": container})  # as if the middleware had been off
    url, token = auth
    h = {"X-Auth-Token": token}
    segments = sorted(
        o["name"] for o in httpx.get(f"{url}/{container}_segments?format=json", headers=h).json()
    )
    gone = httpx.delete(f"{url}/{container}_segments/{urllib.parse.quote(segments[2])}", headers=h)
    assert gone.status_code == 204
    report = reconcile(catalog=catalog, containers=[container], adopt_orphans=True)
    assert [(c, n) for c, n, _ in report.adopted] == [(container, "small.bin")]
    assert [(c, n) for c, n, _ in report.not_adopted] == [(container, "slo.bin")]
    assert "409 Conflict" in report.not_adopted[0][2]
    assert (container, "slo.bin") in report.orphans and not report.clean
    assert report.as_dict()["not_adopted"][0]["object"] == f"{container}/slo.bin"
    assert [r["swift_object_id"] for r in catalog.raw_objects.find({"swift_container": container})] == [
        "small.bin"
    ]
    assert record_of(container, "small.bin")["sha256"] == sha256_of(small)
    assert httpx.head(f"{url}/{container}/slo.bin", headers=h).status_code == 200


def test_insert_datalake_is_not_catalogued_twice(container: str) -> None:
    """insert_datalake() runs the two-phase write itself: the middleware lets its PUT through."""
    from airflow_provider_datalake import insert_datalake
    from airflow_provider_datalake.hooks.catalog import CatalogHook

    rec = insert_datalake(b"k,v\n1,2\n", container=container, original_name="mine.csv", match_formats=False)
    assert rec["status"] == "committed"
    assert CatalogHook().raw_objects.count_documents({"swift_container": container}) == 1


def test_an_object_from_swift_upload_reaches_the_gold_zone(container: str, tmp_path: Path) -> None:
    """Written by `swift upload` with its format in a header: committed, its format's DAG runs by itself,
    the rows reach PostgreSQL with their lineage."""
    from airflow_provider_datalake.descriptors.loader import parse_descriptor
    from airflow_provider_datalake.hooks.catalog import CatalogHook
    from tests.conftest import pg_connect
    from tests.factory.conftest import format_under_airflow, wait_for

    name = f"mw_lab_{uuid.uuid4().hex[:6]}"
    desc = parse_descriptor(
        f"name: {name}\nparser: {{kind: csv}}\nfields:\n  - {{name: sensor, required: true}}\n"
        "  - {name: value, type: float}\n"
        f"targets:\n  - {{store: postgres, schema: test_mw, table: {name}, mode: replace_object}}\n"
    )
    export = tmp_path / "export.csv"
    export.write_text("sensor,value\n" + "".join(f"s{i},{i / 4}\n" for i in range(40)))
    with format_under_airflow(desc):
        run = swift_cli(
            "upload",
            container,
            str(export),
            "--object-name",
            "export.csv",
            "-H",
            f"X-Object-Meta-Datalake-Format: {name}",
        )
        assert run.returncode == 0, run.stderr
        rec = record_of(container, "export.csv")
        assert rec["format"] == name
        catalog = CatalogHook()
        wait_for("the object to be processed", lambda: catalog.get(rec["_id"])["status"] == "processed", 240)
        with pg_connect(conn_json("postgres_default")) as pg:
            rows = pg.execute(
                f'select count(*) from test_mw."{name}" where _raw_object_id = %s',  # noqa: S608
                (rec["_id"],),
            ).fetchone()[0]
            pg.execute(f'drop table if exists test_mw."{name}"')
    assert rows == 40
