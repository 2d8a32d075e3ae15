"""Segments of a large object sent in parallel (`SwiftClient._put_slo_parallel`) on the real Swift: verified
like the sequential ones, memory bounded by the segments in flight, and rolled back whole on any failure."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import random
import signal
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import swiftclient

from airflow_provider_datalake.hooks.swift import SwiftError, SwiftHook, SwiftNotFound
from airflow_provider_datalake.hooks.swift_upload import Span, positional_reader
from airflow_provider_datalake.samples import write_blob
from tests.hooks.test_swift import _env_conn, _peak_rss, _purge, _segment_names, _sha256

MIB = 1 << 20


@pytest.fixture
def container(swift_conn: dict) -> Iterator[str]:
    hook, name = SwiftHook(), f"test-segments-{uuid.uuid4().hex}"
    hook.ensure_container(name)
    yield name
    _purge(hook, name)
    _purge(hook, f"{name}_segments")


def _everything(hook: SwiftHook, container: str) -> list[str]:
    names = []
    for each in (container, f"{container}_segments"):
        with contextlib.suppress(SwiftNotFound):
            names += [item["name"] for item in hook.list_objects(each)]
    return names


# -- pure pieces -------------------------------------------------------------------------------------------


def test_positional_reader_leaves_the_stream_where_it_was(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(bytes(range(256)) * 4)
    with path.open("rb") as fh:
        fh.seek(10)
        read_at = positional_reader(fh)
        assert read_at is not None and read_at(256, 4) == bytes([0, 1, 2, 3])
        assert fh.tell() == 10
    memory = io.BytesIO(b"abcdef")
    read_at = positional_reader(memory)
    assert read_at is not None and read_at(2, 3) == b"cde" and memory.tell() == 0


def test_streams_without_offsets_have_no_positional_reader(tmp_path: Path) -> None:
    r, w = os.pipe()
    os.close(w)
    with os.fdopen(r, "rb") as pipe:  # a descriptor, but no offsets: sent sequentially
        assert positional_reader(pipe) is None
    assert positional_reader(io.BufferedReader(io.BytesIO(b"x"))) is None  # no descriptor, not a BytesIO
    with gzip.open(tmp_path / "f.gz", "wb") as out:
        out.write(b"x" * 1000)
    with gzip.open(tmp_path / "f.gz", "rb") as packed:  # its descriptor holds the compressed bytes
        assert packed.fileno() >= 0 and positional_reader(packed) is None


@pytest.mark.stack
def test_a_decompressing_stream_goes_up_as_it_reads(container: str, tmp_path: Path) -> None:
    """A gzip stream seeks and has a descriptor, but its bytes are not the file's: sent sequentially."""
    hook = SwiftHook(slo_threshold=MIB, segment_size=MIB, segment_threads=4)
    data = random.Random(5).randbytes(3 * MIB)
    with gzip.open(tmp_path / "big.gz", "wb") as out:
        out.write(data)
    with gzip.open(tmp_path / "big.gz", "rb") as packed:
        result = hook.put_object(container, "raw/big.bin", packed)
    assert result.segments == 3 and result.sha256 == hashlib.sha256(data).hexdigest()
    assert b"".join(hook.iter_object(container, "raw/big.bin")) == data


def test_span_reads_its_window_and_rewinds_for_retries() -> None:
    data = bytes(range(100))
    abort = threading.Event()
    span = Span(lambda offset, size: data[offset : offset + size], 10, 25, abort)
    assert span.read(20) + span.read(20) + span.read() == data[10:35]
    span.reset()
    assert span.read() == data[10:35]
    abort.set()
    with pytest.raises(SwiftError, match="upload stopped"):
        span.read(1)


@pytest.mark.parametrize("threads", [0, 65])
def test_segment_threads_out_of_range_is_refused(threads: int) -> None:
    with pytest.raises(ValueError, match="segment_threads must be 1 to 64"):
        SwiftHook(segment_threads=threads)


def test_segment_threads_from_the_connection(swift_conn: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    assert SwiftHook().segment_threads() == 10
    assert SwiftHook(segment_threads=3).segment_threads() == 3
    assert SwiftHook(segment_threads=3).clone().segment_threads() == 3
    _env_conn(monkeypatch, "swift_threads", extra={"segment_threads": "4"})
    assert SwiftHook("swift_threads").segment_threads() == 4
    _env_conn(monkeypatch, "swift_threads", extra={"segment_threads": "many"})
    with pytest.raises(SwiftError, match="extra segment_threads must be an integer from 1 to 64, not 'many'"):
        SwiftHook("swift_threads").segment_threads()


# -- on the stack ------------------------------------------------------------------------------------------


@pytest.mark.stack
@pytest.mark.parametrize("threads", [1, 4])
def test_a_segmented_file_goes_up_verified_with_n_threads(
    container: str, tmp_path: Path, threads: int
) -> None:
    hook = SwiftHook(slo_threshold=2 * MIB, segment_size=MIB, segment_threads=threads)
    path = tmp_path / "big.bin"
    sha256 = write_blob(path, 12 * MIB + 5, seed=31)
    sent: list[int] = []
    with _peak_rss() as peak:
        result = hook.put_object(container, "raw/big.bin", path, progress=sent.append, sha256=sha256)
    assert (result.size, result.sha256, result.segments, result.md5) == (12 * MIB + 5, sha256, 13, None)
    assert sum(sent) == result.size
    assert peak["growth"] < 48 * MIB, f"upload memory grew by {peak['growth'] / MIB:.0f} MiB"
    head = hook.head_object(container, "raw/big.bin")
    assert head["etag"].strip('"') == result.etag and head["x-object-meta-sha256"] == sha256
    assert int(head["content-length"]) == result.size
    assert _sha256(hook.iter_object(container, "raw/big.bin")) == sha256
    assert len(_segment_names(hook, container, "raw/big.bin")) == 13


@pytest.mark.stack
def test_a_file_of_whole_segments_has_no_empty_last_segment(container: str, tmp_path: Path) -> None:
    hook = SwiftHook(slo_threshold=MIB, segment_size=MIB, segment_threads=3)
    path = tmp_path / "whole.bin"
    sha256 = write_blob(path, 4 * MIB, seed=34)
    result = hook.put_object(container, "raw/whole.bin", path)
    assert (result.segments, result.sha256) == (4, sha256)
    assert _sha256(hook.iter_object(container, "raw/whole.bin")) == sha256


@pytest.mark.stack
def test_bytes_go_up_in_parallel_segments_too(container: str) -> None:
    hook = SwiftHook(slo_threshold=MIB, segment_size=MIB, segment_threads=3)
    data = os.urandom(5 * MIB // 2)
    result = hook.put_object(container, "raw/bytes.bin", data)
    assert result.segments == 3 and result.sha256 == hashlib.sha256(data).hexdigest()
    assert b"".join(hook.iter_object(container, "raw/bytes.bin")) == data


@pytest.mark.stack
def test_segment_clients_are_kept_for_the_next_large_object(container: str) -> None:
    hook = SwiftHook(slo_threshold=MIB, segment_size=MIB, segment_threads=3)
    hook.put_object(container, "raw/one.bin", os.urandom(3 * MIB))
    kept = list(hook._segment_clients)
    assert 1 <= len(kept) <= 3
    hook.put_object(container, "raw/two.bin", os.urandom(3 * MIB))
    assert {id(c) for c in hook._segment_clients} == {id(c) for c in kept}


@pytest.mark.stack
def test_a_segment_swift_refuses_rolls_back_everything(container: str, tmp_path: Path) -> None:
    """The file changes under the upload once it was hashed through: Swift refuses the last segment, whose
    PUT was still queued (its bytes no longer match the MD5 sent as its ETag), and every segment already
    stored is deleted."""
    hook = SwiftHook(slo_threshold=MIB, segment_size=MIB, segment_threads=2)
    path = tmp_path / "changing.bin"
    write_blob(path, 16 * MIB, seed=32)

    def change_the_last_segment(_sha256: str) -> None:  # hashed; 2 segments stored at once, 4 ahead at most
        with path.open("r+b") as fh:
            fh.seek(15 * MIB)
            fh.write(b"\0" * 4096)

    with pytest.raises(SwiftError, match="00000015"):
        hook.put_object(container, "raw/changing.bin", path, read_all=change_the_last_segment)
    assert _everything(hook, container) == []


@pytest.mark.stack
def test_a_failure_while_segments_are_in_flight_rolls_back_everything(container: str, tmp_path: Path) -> None:
    hook = SwiftHook(slo_threshold=MIB, segment_size=MIB, segment_threads=4)
    path = tmp_path / "big.bin"
    write_blob(path, 10 * MIB, seed=33)
    read = 0

    def fail_midway(n: int) -> None:
        nonlocal read
        read += n
        if read >= 6 * MIB:
            raise OSError("the caller gave up")

    with pytest.raises(SwiftError, match="the caller gave up"):
        hook.put_object(container, "raw/big.bin", path, progress=fail_midway)
    assert _everything(hook, container) == []


@pytest.mark.stack
def test_ctrl_c_while_segments_are_in_flight_leaves_no_segment(
    container: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real Ctrl-C (SIGINT to this process) while the main thread waits for segment PUTs, one of them
    stored by Swift but its answer still on its way: the rollback deletes every segment, that one too."""
    hook = SwiftHook(slo_threshold=MIB, segment_size=MIB, segment_threads=3)
    real_put = swiftclient.Connection.put_object
    stored = threading.Event()

    def put_answering_late(self, container_name, obj, contents, *args, **kwargs):
        etag = real_put(self, container_name, obj, contents, *args, **kwargs)
        if obj.endswith("/00000001"):
            stored.set()
            time.sleep(1.0)
        return etag

    def ctrl_c_once_stored() -> None:
        if stored.wait(30):
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(swiftclient.Connection, "put_object", put_answering_late)
    # Ctrl-C raises KeyboardInterrupt however pytest was started: a background job of a non-interactive
    # shell (CI launched with `&`) inherits SIGINT ignored, and Python then never raises it.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=ctrl_c_once_stored, daemon=True).start()
        with pytest.raises(KeyboardInterrupt) as caught:
            hook.put_object(container, "cut.bin", random.Random(3).randbytes(3 * MIB))
    finally:
        signal.signal(signal.SIGINT, previous)
    assert "_await_segments_in_flight" in [frame.name for frame in traceback.extract_tb(caught.tb)]
    assert _everything(hook, container) == []
