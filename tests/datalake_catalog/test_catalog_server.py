"""The catalog's helper for Swift's proxy: its line protocol (pure), and `RemoteCatalog` against the stack's
real MongoDB-wire server, through a helper process of its own."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from pymongo import MongoClient

from datalake_catalog.catalog import Status, new_record
from datalake_catalog.catalog_server import RemoteCatalog, decode, encode
from datalake_catalog.errors import DuplicateContent


def test_a_record_goes_through_the_protocol_unchanged() -> None:
    at = dt.datetime(2026, 12, 7, 13, 5, 1, 123000, tzinfo=dt.UTC)
    value = {"op": "x", "args": {"record": {"_id": "é", "at": at, "n": [1, None, {"k": 2.5}]}}}
    line = encode(value)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode(line) == value
    assert decode(line)["args"]["record"]["at"].tzinfo is not None


def test_a_value_the_protocol_cannot_carry_is_an_error() -> None:
    with pytest.raises(TypeError, match="cannot send a bytes"):
        encode({"b": b"raw"})


@pytest.fixture
def remote(mongo_conn: dict) -> Iterator[RemoteCatalog]:
    uri = f"mongodb://{mongo_conn['host']}:{mongo_conn['port']}/"
    database = f"test_helper_{uuid.uuid4().hex[:8]}"
    catalog = RemoteCatalog(uri, database)
    yield catalog
    if catalog._child is not None:
        catalog._child.kill()
        catalog._child.wait()
    MongoClient(uri).drop_database(database)


def record(name: str) -> dict:
    return new_record(
        record_id=uuid.uuid4().hex,
        fmt=None,
        container="lab",
        object_name=name,
        content_type=None,
        original_name=name,
        swift_user=None,
        swift_account="AUTH_test",
        size=None,
        sha256=None,
        dedupe=False,
        key=None,
        lease=dt.timedelta(hours=1),
        fields={},
    )


def test_remote_writes_reuse_one_connection_and_outlive_a_helper_restart(remote: RemoteCatalog) -> None:
    first = record("a.csv")
    remote.insert_pending(first)
    assert len(remote._idle) == 1
    connection = remote._idle[0]
    assert remote.replace_exclusive({**first, "status": Status.COMMITTED.value, "size": 3}, Status.PENDING)
    assert remote._idle == [connection]  # the same connection, again
    got = remote.find_one({"_id": first["_id"]})
    assert got["status"] == "committed" and got["size"] == 3 and got["creation_date"].tzinfo is not None
    # the object's name is taken: the helper's refusal comes back as the catalog's own error
    with pytest.raises(DuplicateContent):
        remote.insert_pending(record("a.csv"))
    # the helper dies: the next call starts another and drops the connections to the dead one
    assert remote._child is not None
    remote._child.kill()
    remote._child.wait()
    second = record("b.csv")
    remote.insert_pending(second)
    assert remote._idle and remote._idle[0] is not connection
    assert remote.find_one({"_id": second["_id"]})["status"] == "pending"


def test_calls_that_come_while_the_helper_starts_wait_for_it(remote: RemoteCatalog) -> None:
    """The proxy's first requests arrive together: none may find the helper's socket not there yet."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(10) as pool:
        found = list(pool.map(lambda i: remote.find_one({"_id": f"none-{i}"}), range(10)))
    assert found == [None] * 10
