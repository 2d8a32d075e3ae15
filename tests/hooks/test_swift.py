"""SwiftHook against the stack's real Swift all-in-one (TempAuth, SLO and DLO middleware).

Every test works in its own uuid container and removes it, and its ``_segments`` twin, afterwards. Only the
Keystone v3 branch is checked without a server (none runs here): see ``test_keystone_v3_session``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import pickle
import random
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import psutil
import pytest
import requests
import swiftclient
from keystoneauth1.identity import v3 as ks_v3

from airflow_provider_datalake.hooks import swift_client as swift_module
from airflow_provider_datalake.hooks.swift import (
    PutResult,
    SwiftAuthRefused,
    SwiftError,
    SwiftHook,
    SwiftIntegrityError,
    SwiftNotFound,
    SwiftUnreachable,
    UploadAborted,
)
from airflow_provider_datalake.samples import write_blob

pytestmark = pytest.mark.stack

MIB = 1 << 20
EMPTY_MD5 = hashlib.md5(b"", usedforsecurity=False).hexdigest()


@pytest.fixture
def hook(swift_conn: dict) -> SwiftHook:
    return SwiftHook()


def _purge(hook: SwiftHook, container: str) -> None:
    client = hook.get_conn()
    try:
        names = [item["name"] for item in hook.list_objects(container)]
    except SwiftNotFound:
        return
    for name in names:
        with contextlib.suppress(swiftclient.ClientException):
            client.delete_object(container, name)
    client.delete_container(container)


@pytest.fixture
def container(hook: SwiftHook) -> Iterator[str]:
    name = f"test-swift-{uuid.uuid4().hex}"
    hook.ensure_container(name)
    yield name
    _purge(hook, name)
    _purge(hook, f"{name}_segments")


def _env_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str, **changes: object) -> None:
    conn = json.loads(os.environ["AIRFLOW_CONN_SWIFT_DEFAULT"])
    conn.update(changes)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def _pipe(size: int, seed: int) -> tuple[BinaryIO, dict[str, str]]:
    """A real non-seekable source: the read end of an OS pipe fed by a thread; the dict gets the sha256."""
    read_fd, write_fd = os.pipe()
    result: dict[str, str] = {}

    def feed() -> None:
        with os.fdopen(write_fd, "wb") as out:
            result["sha256"] = write_blob(out, size, seed=seed)

    threading.Thread(target=feed, daemon=True).start()
    return os.fdopen(read_fd, "rb"), result


def _sha256(chunks: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def _peak_rss() -> Iterator[dict[str, int]]:
    """Sample this process's RSS while the block runs; ``growth`` is the peak above the start."""
    process, result, done = psutil.Process(), {"growth": 0}, threading.Event()
    start = process.memory_info().rss

    def sample() -> None:
        while not done.wait(0.02):
            result["growth"] = max(result["growth"], process.memory_info().rss - start)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield result
    finally:
        done.set()
        sampler.join()


def _segment_names(hook: SwiftHook, container: str, name: str) -> list[str]:
    try:
        return [item["name"] for item in hook.list_objects(f"{container}_segments", prefix=f"{name}/")]
    except SwiftNotFound:
        return []


# ------------------------------------------------------------------------------------------ connection, auth
def test_connection_ok(hook: SwiftHook, swift_conn: dict) -> None:
    ok, message = hook.test_connection()
    assert ok, message
    assert f"http://{swift_conn['host']}:{swift_conn['port']}/auth/v1.0" in message
    assert hook.user == "test:tester"


def test_wrong_key_is_an_auth_error_without_the_key(
    swift_conn: dict, monkeypatch: pytest.MonkeyPatch, container: str
) -> None:
    wrong = f"not-the-key-{uuid.uuid4().hex}"
    _env_conn(monkeypatch, "swift_bad", password=wrong)
    bad = SwiftHook("swift_bad")
    ok, message = bad.test_connection()
    assert not ok
    for text in (message, *(str(_raises(SwiftAuthRefused, call)) for call in _ops(bad, container))):
        assert "test:tester" in text and f":{swift_conn['port']}/auth/v1.0" in text
        assert wrong not in text and swift_conn["password"] not in text


def _ops(hook: SwiftHook, container: str) -> list[Callable[[], object]]:
    return [
        lambda: hook.put_object(container, "x", b"data"),
        lambda: hook.head_object(container, "x"),
        lambda: list(hook.list_containers()),
        lambda: hook.ensure_container(container),
    ]


def _raises(kind: type[Exception], call: Callable[[], object]) -> Exception:
    with pytest.raises(kind) as caught:
        call()
    return caught.value


def test_dead_server_fails_fast_as_unreachable(swift_conn: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:  # a port that nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _env_conn(monkeypatch, "swift_dead", port=port)
    dead = SwiftHook("swift_dead")
    started = time.monotonic()
    ok, message = dead.test_connection()
    error = _raises(SwiftError, lambda: dead.head_object("c", "o"))
    assert time.monotonic() - started < 20
    assert not ok and message.startswith(f"Swift unreachable at http://127.0.0.1:{port}/auth/v1.0")
    assert type(error) is SwiftUnreachable and "object 'o' in container 'c'" in str(error)


@pytest.mark.parametrize("no_proxy", ["", "127.0.0.1,localhost"])
def test_environment_proxy_applies_to_storage_requests(
    swift_conn: dict, container: str, no_proxy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session reads the proxy variables once per connection, not per request: they must still apply."""
    hook = SwiftHook()
    hook.get_conn().get_auth()  # token and storage URL fetched before the proxy is set
    with socket.socket() as probe:  # a proxy that nobody runs: requests sent through it fail
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for name in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{port}")
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, no_proxy)
    if no_proxy:  # the storage host is exempt: the upload goes direct
        assert hook.put_object(container, "direct", b"abc").size == 3
    else:
        error = _raises(SwiftError, lambda: hook.put_object(container, "proxied", b"abc"))
        assert "Swift unreachable" in str(error) and "proxy" in str(error).lower().replace("proxied", "")
        monkeypatch.delenv("http_proxy")
        monkeypatch.delenv("HTTP_PROXY")
        assert not SwiftHook().object_exists(container, "proxied")


# --------------------------------------------------------------------------------------------- round trips
def test_round_trip_bytes(hook: SwiftHook, container: str) -> None:
    data = b"date;value\n2024-01-01;4090,8\n"
    sent: list[int] = []
    result = hook.put_object(container, "lab/a.csv", data, content_type="text/csv", progress=sent.append)
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert result == PutResult(
        container, "lab/a.csv", len(data), md5, hashlib.sha256(data).hexdigest(), md5, 0
    )
    assert sum(sent) == len(data)
    assert b"".join(hook.iter_object(container, "lab/a.csv", chunk_size=7)) == data
    head = hook.head_object(container, "lab/a.csv")
    assert head["content-type"] == "text/csv" and head["x-object-meta-sha256"] == result.sha256
    assert hook.object_exists(container, "lab/a.csv")


def test_round_trip_path(hook: SwiftHook, container: str, tmp_path: Path) -> None:
    src, dst = tmp_path / "blob.bin", tmp_path / "copy.bin"
    sha256 = write_blob(src, 3 * MIB + 17, seed=3)
    result = hook.put_object(container, "blob.bin", src)
    assert (result.size, result.sha256, result.segments) == (3 * MIB + 17, sha256, 0)
    assert hook.download_object(container, "blob.bin", dst) == result.size
    assert dst.read_bytes() == src.read_bytes()


def test_round_trip_non_seekable_stream(hook: SwiftHook, container: str) -> None:
    stream, written = _pipe(3 * MIB + 5, seed=4)
    with stream:
        result = hook.put_object(container, "piped.bin", stream)
    assert result.segments == 0 and result.size == 3 * MIB + 5
    assert result.sha256 == written["sha256"] == _sha256(hook.iter_object(container, "piped.bin"))


@pytest.mark.parametrize(
    ("size", "threshold", "segment", "segments"),
    [
        (MIB, 2 * MIB, 2 * MIB, 0),  # ends inside the first piece
        (2 * MIB, 2 * MIB, 2 * MIB, 0),  # ends exactly at the end of the first piece
        (2 * MIB, 2 * MIB, MIB, 2),  # outgrows the first piece: SLO, even though under the threshold
        (2 * MIB + 1, 2 * MIB, MIB, 3),
        (5 * MIB + 123, 2 * MIB, MIB, 6),
        (MIB + 7, MIB, 2 * MIB, 1),  # one piece, but over the threshold
    ],
)
def test_stream_of_unknown_size(
    swift_conn: dict, container: str, size: int, threshold: int, segment: int, segments: int
) -> None:
    """Plain or SLO is decided after the first segment-sized piece: plain when the stream ended within it
    and within the threshold."""
    hook = SwiftHook(slo_threshold=threshold, segment_size=segment)
    stream, written = _pipe(size, seed=size)
    with stream:
        result = hook.put_object(container, "grown.bin", stream)
    assert (result.size, result.segments) == (size, segments)
    assert result.sha256 == written["sha256"] == _sha256(hook.iter_object(container, "grown.bin"))
    assert len(_segment_names(hook, container, "grown.bin")) == segments


def test_200mb_file_as_slo(swift_conn: dict, container: str, tmp_path: Path) -> None:
    big = SwiftHook(slo_threshold=64 * MIB, segment_size=32 * MIB)
    src, dst = tmp_path / "big.bin", tmp_path / "big.copy"
    size = 200 * MIB
    sha256 = write_blob(src, size, seed=200)
    sent: list[int] = []
    with _peak_rss() as peak:
        result = big.put_object(container, "raw/big.bin", src, progress=sent.append)
    assert peak["growth"] < 64 * MIB, f"upload memory grew by {peak['growth'] / MIB:.0f} MiB"
    assert (result.size, result.sha256, result.segments, result.md5) == (size, sha256, 7, None)
    assert sum(sent) == size and len([n for n in sent if n]) > result.segments  # bytes as they were sent
    head = big.head_object(container, "raw/big.bin")
    assert head["x-static-large-object"] == "True" and int(head["content-length"]) == size
    assert head["etag"].strip('"') == result.etag and head["x-object-meta-sha256"] == sha256
    assert _sha256(big.iter_object(container, "raw/big.bin")) == sha256
    assert big.download_object(container, "raw/big.bin", dst) == size
    with dst.open("rb") as copy:
        assert _sha256(iter(lambda: copy.read(MIB), b"")) == sha256
    assert big.delete_object(container, "raw/big.bin")
    assert _segment_names(big, container, "raw/big.bin") == []


def test_empty_sources(hook: SwiftHook, container: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    stream, _ = _pipe(0, seed=0)
    with stream:
        for name, source in (("from-path", empty), ("from-bytes", b""), ("from-pipe", stream)):
            result = hook.put_object(container, name, source)
            assert (result.size, result.md5, result.etag, result.segments) == (0, EMPTY_MD5, EMPTY_MD5, 0)
            assert list(hook.iter_object(container, name)) == []
            assert hook.download_object(container, name, tmp_path / f"{name}.out") == 0
            assert (tmp_path / f"{name}.out").read_bytes() == b""


# ----------------------------------------------------------------------------------------------- metadata
def test_metadata_round_trip(swift_conn: dict, container: str) -> None:
    small = SwiftHook(slo_threshold=MIB, segment_size=MIB)
    meta = {"Format": "lab-csv", "Room": "u4-302", "Note": "Température, salle 302"}
    for name, data in (("plain.csv", b"a;b\n"), ("large.csv", b"x" * (2 * MIB + 1))):
        result = small.put_object(container, name, data, metadata=meta)
        head = small.head_object(container, name)
        assert head["x-object-meta-format"] == "lab-csv" and head["x-object-meta-room"] == "u4-302"
        assert head["x-object-meta-note"] == "Température, salle 302"
        assert head["x-object-meta-sha256"] == result.sha256 == hashlib.sha256(data).hexdigest()
        assert head["content-type"] == "text/csv"  # guessed by Swift from the name, for the SLO too
    with pytest.raises(ValueError, match="source_file"):
        small.put_object(container, "bad", b"x", metadata={"source_file": "a.csv"})
    assert not small.object_exists(container, "bad")


# ------------------------------------------------------------------------------------------------ listing
def test_list_with_prefix_and_marker_pagination(
    hook: SwiftHook, container: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"obj-{index:02d}" for index in range(25)]
    for name in [*names, "other-1", "other-2"]:
        hook.put_object(container, name, name.encode())
    pages, marker = [], None
    while page := list(hook.list_objects(container, prefix="obj-", marker=marker, limit=10)):
        pages.append([item["name"] for item in page])
        marker = page[-1]["name"]
    assert [len(page) for page in pages] == [10, 10, 5] and [n for page in pages for n in page] == names
    item = next(hook.list_objects(container, prefix="obj-00"))
    assert (item["bytes"], item["hash"]) == (6, hashlib.md5(b"obj-00", usedforsecurity=False).hexdigest())
    assert {"last_modified", "content_type"} <= item.keys()
    monkeypatch.setattr(swift_module, "_LIST_PAGE", 7)  # the hook's own marker loop, several pages
    assert [item["name"] for item in hook.list_objects(container)] == [*names, "other-1", "other-2"]
    assert [item["name"] for item in hook.list_objects(container, marker="obj-20", limit=9)] == [
        "obj-21",
        "obj-22",
        "obj-23",
        "obj-24",
        "other-1",
        "other-2",
    ]
    assert [c["name"] for c in hook.list_containers(prefix=container)] == [container]


# ------------------------------------------------------------------------------------------ delete, missing
def test_delete_slo_removes_its_segments(swift_conn: dict, container: str) -> None:
    small = SwiftHook(slo_threshold=MIB, segment_size=MIB)
    result = small.put_object(container, "big/one.bin", b"z" * (3 * MIB + 5))
    assert result.segments == 4 and len(_segment_names(small, container, "big/one.bin")) == 4
    assert small.delete_object(container, "big/one.bin") is True
    assert not small.object_exists(container, "big/one.bin")
    assert _segment_names(small, container, "big/one.bin") == []
    assert small.delete_object(container, "big/one.bin") is False
    assert _raises(SwiftNotFound, lambda: small.delete_object(container, "big/one.bin", missing_ok=False))


def test_not_found_names_container_and_object(hook: SwiftHook, container: str, tmp_path: Path) -> None:
    missing = f"missing-{uuid.uuid4().hex}"
    for call in (
        lambda: hook.head_object(container, "nope.csv"),
        lambda: hook.iter_object(container, "nope.csv"),
        lambda: hook.download_object(container, "nope.csv", tmp_path / "nope.csv"),
    ):
        error = _raises(SwiftNotFound, call)
        assert (error.container, error.obj) == (container, "nope.csv")
        assert container in str(error) and "nope.csv" in str(error)
    assert not (tmp_path / "nope.csv").exists()
    assert not hook.object_exists(container, "nope.csv")
    error = _raises(SwiftNotFound, lambda: hook.list_objects(missing))
    assert (error.container, error.obj) == (missing, None) and missing in str(error)
    error = _raises(SwiftNotFound, lambda: hook.put_object(missing, "a.csv", b"x"))
    assert missing in str(error) and "a.csv" in str(error)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert (copy.container, copy.obj, str(copy)) == (error.container, error.obj, str(error))


# ------------------------------------------------------------------------------------- failures roll back
class _BrokenSource(io.RawIOBase):
    """A non-seekable source whose disk fails after ``good`` bytes."""

    def __init__(self, good: int) -> None:
        self.left = good

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        if self.left <= 0:
            raise OSError("disk gone")
        count = min(len(buffer), self.left)
        buffer[:count] = b"r" * count
        self.left -= count
        return count


def test_failures_leave_nothing_behind(swift_conn: dict, container: str) -> None:
    small = SwiftHook(slo_threshold=MIB, segment_size=MIB)
    error = _raises(SwiftIntegrityError, lambda: small.put_object(container, "short.csv", b"abc", size=4))
    assert "short.csv" in str(error) and not small.object_exists(container, "short.csv")
    error = _raises(SwiftError, lambda: small.put_object(container, "broken.bin", _BrokenSource(2 * MIB + 9)))
    assert "disk gone" in str(error) and "broken.bin" in str(error) and "unreachable" not in str(error)
    assert not small.object_exists(container, "broken.bin")
    assert _segment_names(small, container, "broken.bin") == []
    big = b"y" * (2 * MIB)
    _raises(SwiftIntegrityError, lambda: small.put_object(container, "long.bin", big, size=3 * MIB))
    assert not small.object_exists(container, "long.bin")
    assert _segment_names(small, container, "long.bin") == []


def _held_put(container: str, name: str) -> tuple[threading.Thread, threading.Event, dict]:
    """A PUT from its own connection whose body is sent but for its last chunk until the event is set:
    an upload Swift is still receiving when somebody else looks for the object."""
    sent, release, result = threading.Event(), threading.Event(), {}

    def body() -> Iterator[bytes]:
        yield b"late" * 4096
        sent.set()
        release.wait(30)
        yield b"!"

    def put() -> None:
        result["etag"] = SwiftHook().get_conn().put_object(container, name, body())

    thread = threading.Thread(target=put, daemon=True)
    thread.start()
    assert sent.wait(30)
    return thread, release, result


def test_delete_of_an_object_still_uploading_wins_over_the_upload(hook: SwiftHook, container: str) -> None:
    """An insert's rollback after Ctrl-C runs while Swift may still be storing the cut-off PUT: the DELETE
    must leave no object, even though the HEAD before it found none (the upload lands later)."""
    thread, release, result = _held_put(container, "late.bin")
    time.sleep(0.3)
    assert not hook.object_exists(container, "late.bin")  # under way, not stored yet
    assert hook.delete_object(container, "late.bin") is False  # absent now ...
    release.set()
    thread.join(30)
    assert result["etag"]  # ... and Swift then accepted the upload,
    time.sleep(0.3)
    assert not hook.object_exists(container, "late.bin")  # but the delete, the later of the two, stands
    assert [o["name"] for o in hook.list_objects(container)] == []


def test_interrupted_slo_upload_leaves_no_segment(
    swift_conn: dict, container: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while a segment's PUT waits for Swift's answer: the rollback deletes that segment too.
    Segments one after another (one thread), so the interrupt comes in the PUT's own thread; the parallel
    path has its own test in test_swift_segments."""
    hook = SwiftHook(slo_threshold=MIB, segment_size=MIB, segment_threads=1)
    real_put = swiftclient.Connection.put_object
    calls = []

    def put_then_interrupt(self, container_name, obj, contents, *args, **kwargs):
        calls.append(obj)
        if len(calls) == 2:  # the second segment: store it in Swift, but "lose" the answer
            real_put(self, container_name, obj, contents, *args, **kwargs)
            raise KeyboardInterrupt
        return real_put(self, container_name, obj, contents, *args, **kwargs)

    monkeypatch.setattr(swiftclient.Connection, "put_object", put_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        hook.put_object(container, "cut.bin", random.Random(3).randbytes(3 * MIB))
    assert calls == ["cut.bin/00000000", "cut.bin/00000001"]
    assert _segment_names(hook, container, "cut.bin") == [] and not hook.object_exists(container, "cut.bin")


@pytest.mark.parametrize(
    ("source", "threshold"),
    [("bytes", 4 * MIB), ("pipe", 4 * MIB), ("bytes", MIB)],
    ids=["one-put", "unknown-size", "slo"],
)
def test_before_body_runs_once_before_any_byte_is_stored(
    swift_conn: dict, container: str, source: str, threshold: int
) -> None:
    """What insert_datalake's ordering rests on: while ``before_body`` runs, the request has started but
    Swift holds nothing of the object yet (nor of its segments)."""
    hook = SwiftHook(slo_threshold=threshold, segment_size=MIB)
    size = 3 * MIB + 7
    data = _pipe(size, seed=8)[0] if source == "pipe" else random.Random(8).randbytes(size)
    seen: list[tuple[bool, list[str]]] = []
    observer = SwiftHook()  # its own connection: the hook's is in the middle of the PUT

    def before_body() -> None:
        time.sleep(0.3)  # long enough for any byte already sent to have landed
        gated = observer.object_exists(container, "gated.bin")
        seen.append((gated, _segment_names(observer, container, "gated.bin")))

    result = hook.put_object(container, "gated.bin", data, before_body=before_body)
    assert seen == [(False, [])]  # called once, and nothing was stored before it returned
    assert result.size == size and hook.object_exists(container, "gated.bin")
    if source == "bytes":
        assert (result.segments > 0) == (threshold == MIB)


def test_before_body_failing_stores_nothing(hook: SwiftHook, container: str) -> None:
    def refuse() -> None:
        raise LookupError("the catalog said no")

    error = _raises(
        UploadAborted, lambda: hook.put_object(container, "refused.bin", b"x" * 1024, before_body=refuse)
    )
    assert isinstance(error.__cause__, LookupError) and "refused.bin" in str(error)
    time.sleep(0.3)
    assert not hook.object_exists(container, "refused.bin")


@pytest.mark.parametrize("kind", ["file", "pipe"])
@pytest.mark.parametrize(
    ("threshold", "victim", "reads"), [(4 * MIB, "retried.bin", 3), (MIB, "retried.bin/00000001", 1)]
)
def test_transient_failure_is_retried_from_the_piece_start(
    swift_conn: dict,
    container: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    threshold: int,
    victim: str,
    reads: int,
) -> None:
    """A connection reset in the middle of a PUT (plain object or one segment): swiftclient retries it after
    ``reset``, and the digests and progress still count every byte exactly once (file read in place, pipe
    spooled)."""
    real_put = swiftclient.client.put_object
    failed: list[str] = []

    def flaky(url: str, token: str, box: str, name: str, contents: BinaryIO, *args: object, **kwargs: object):
        if name == victim and not failed:
            failed.append(name)
            for _ in range(reads):
                contents.read(800_000)
            raise requests.ConnectionError("connection reset by the test")
        return real_put(url, token, box, name, contents, *args, **kwargs)

    monkeypatch.setattr(swiftclient.client, "put_object", flaky)
    hook = SwiftHook(slo_threshold=threshold, segment_size=threshold)
    size, sent = 3 * MIB + 1, []
    if kind == "file":
        write_blob(tmp_path / "f.bin", size, seed=9)
        source: Path | BinaryIO = tmp_path / "f.bin"
    else:
        source, _ = _pipe(size, seed=9)
    with contextlib.closing(source) if kind == "pipe" else contextlib.nullcontext():  # type: ignore[arg-type]
        result = hook.put_object(container, "retried.bin", source, progress=sent.append)
    assert failed == [victim]
    assert (result.size, result.segments, sum(sent)) == (size, 0 if threshold > size else 4, size)
    assert result.sha256 == write_blob(io.BytesIO(), size, seed=9)
    assert result.sha256 == _sha256(hook.iter_object(container, "retried.bin"))


# ---------------------------------------------------------------------------------------------- Keystone v3
def test_keystone_v3_live(swift_keystone_conn: dict, swift_conn: dict) -> None:
    """The stack's Swift behind Keystone: the project and user in two domains, the object store listed
    only on the internal interface of region toulouse-1 (so each setting of the connection is used)."""
    hook = SwiftHook("swift_keystone", slo_threshold=MIB, segment_size=MIB // 2)
    ok, message = hook.test_connection()
    assert ok and message.startswith(
        f"Connected to Swift at http://127.0.0.1:{swift_keystone_conn['port']}/v3"
    )
    container = f"test-keystone-{uuid.uuid4().hex}"
    hook.ensure_container(container)
    try:
        storage = urlsplit(hook.get_conn().url)  # from Keystone's catalog, not from the connection
        assert storage.port != swift_conn["port"] and re.fullmatch(r"/v1/AUTH_[0-9a-f]{32}", storage.path)
        small = hook.put_object(container, "lab/a.csv", b"date;value\n2024-01-01;4090,8\n")
        assert b"".join(hook.iter_object(container, "lab/a.csv")) == b"date;value\n2024-01-01;4090,8\n"
        data = bytes(range(256)) * (10 * 1024)  # 2.5 MiB: an SLO of 5 segments
        big = hook.put_object(container, "lab/big.bin", data)
        assert (big.segments, big.sha256) == (5, hashlib.sha256(data).hexdigest())
        assert _sha256(hook.iter_object(container, "lab/big.bin")) == big.sha256
        names = [item["name"] for item in hook.list_objects(container)]
        assert names == ["lab/a.csv", "lab/big.bin"] and small.size == 29
        assert hook.delete_object(container, "lab/big.bin") and hook.delete_object(container, "lab/a.csv")
        assert _segment_names(hook, container, "lab/big.bin") == []
    finally:
        _purge(hook, container)
        _purge(hook, f"{container}_segments")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"password": "not-her-password"}, "Keystone refused user 'alice'"),
        ({"extra": {"project_domain_name": "Default"}}, "Keystone refused user 'alice'"),
        ({"extra": {"region_name": "elsewhere-1"}}, "no Swift endpoint"),
        ({"extra": {"interface": "public"}}, "public endpoint for object-store service in toulouse-1"),
    ],
)
def test_keystone_v3_refusals_are_clear(
    swift_keystone_conn: dict, change: dict, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = json.loads(os.environ["AIRFLOW_CONN_SWIFT_KEYSTONE"])
    conn.update({k: v for k, v in change.items() if k != "extra"})
    conn["extra"] = {**conn["extra"], **change.get("extra", {})}
    monkeypatch.setenv("AIRFLOW_CONN_SWIFT_KS_WRONG", json.dumps(conn))
    error = _raises(SwiftError, lambda: SwiftHook("swift_ks_wrong").list_containers().__next__())
    assert expected in str(error), str(error)
    assert conn["password"] not in str(error)


def test_keystone_v3_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Keystone v3 branch of get_conn, inspected without contacting anything: what the stack's plain
    HTTP Keystone cannot show (https and ``insecure``, a host given as a URL with a path, the defaults, a
    missing project name), and that the settings reach the keystoneauth1 session and swiftclient options.
    The live tests above run the same branch against the stack's Keystone."""
    extra = {
        "auth_version": "3",
        "project_name": "datalake",
        "project_domain_name": "campus",
        "user_domain_name": "ut3",
        "region_name": "toulouse-1",
        "interface": "internal",
        "insecure": True,
    }
    conn = {"conn_type": "swift", "host": "keystone.example.org", "port": 5000, "login": "alice"}
    monkeypatch.setenv("AIRFLOW_CONN_SWIFT_KS", json.dumps({**conn, "password": "s3cret-pw", "extra": extra}))
    client = SwiftHook("swift_ks").get_conn()
    auth = client.session.auth
    assert isinstance(auth, ks_v3.Password)
    assert auth.auth_url == "https://keystone.example.org:5000/v3"
    assert (auth.project_name, auth.project_domain_name) == ("datalake", "campus")
    (method,) = auth.auth_methods
    assert (method.username, method.password, method.user_domain_name) == ("alice", "s3cret-pw", "ut3")
    assert client.session.verify is False and client.insecure is True
    assert client.os_options == {
        "service_type": "object-store",
        "endpoint_type": "internal",
        "region_name": "toulouse-1",
    }
    assert client.retries == 2 and client.authurl is None and client.key is None

    url_host = {**conn, "host": "https://cloud.example.org/identity", "port": None}
    monkeypatch.setenv(
        "AIRFLOW_CONN_SWIFT_KS", json.dumps({**url_host, "extra": {"auth_version": "3", "project_name": "p"}})
    )
    client = SwiftHook("swift_ks").get_conn()
    assert client.session.auth.auth_url == "https://cloud.example.org/identity/v3"
    assert client.session.auth.project_domain_name == "Default" and client.session.verify is True
    assert client.os_options["endpoint_type"] == "public" and client.os_options["region_name"] is None

    monkeypatch.setenv("AIRFLOW_CONN_SWIFT_KS", json.dumps({**conn, "extra": {"auth_version": "3"}}))
    assert "project_name" in str(_raises(SwiftError, SwiftHook("swift_ks").get_conn))
