"""Swift (devstack/services/swift.py): a large object round trip, the proxy's middleware, TempAuth."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest
import swiftclient

from airflow_provider_datalake.samples import write_blob

pytestmark = pytest.mark.stack


def swift_client(conn: dict) -> swiftclient.Connection:
    return swiftclient.Connection(
        authurl=f"http://{conn['host']}:{conn['port']}/auth/v1.0",
        user=conn["login"],
        key=conn["password"],
        retries=0,
    )


def test_swift_round_trip_50mb(swift_conn: dict, tmp_path: Path) -> None:
    src = tmp_path / "blob.bin"
    digest = write_blob(src, 50 * 1024 * 1024, seed=7)
    client = swift_client(swift_conn)
    container = f"stack-test-{uuid.uuid4().hex[:8]}"
    client.put_container(container)
    try:
        with open(src, "rb") as fh:
            etag = client.put_object(container, "blob.bin", fh, content_length=src.stat().st_size)
        assert etag == hashlib.md5(src.read_bytes(), usedforsecurity=False).hexdigest()
        headers, body = client.get_object(container, "blob.bin", resp_chunk_size=1 << 20)
        got = hashlib.sha256()
        for chunk in body:
            got.update(chunk)
        assert got.hexdigest() == digest
        assert int(headers["content-length"]) == 50 * 1024 * 1024
    finally:
        client.delete_object(container, "blob.bin")
        client.delete_container(container)


def test_swift_has_large_object_middleware(swift_conn: dict) -> None:
    caps = swift_client(swift_conn).get_capabilities()
    assert "slo" in caps
    assert "tempauth" in caps


def test_swift_rejects_wrong_key(swift_conn: dict) -> None:
    bad = swift_client({**swift_conn, "password": "wrong"})
    with pytest.raises(swiftclient.ClientException) as err:
        bad.head_account()
    assert err.value.http_status == 401
