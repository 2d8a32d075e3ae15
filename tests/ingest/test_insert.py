"""insert_datalake() on the real stack: round trips, dedupe, bad input, the record's fields."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_datalake import insert_datalake
from airflow_provider_datalake.hooks.catalog import CatalogHook
from airflow_provider_datalake.hooks.swift import SwiftHook
from airflow_provider_datalake.ingest import EmptySourceError, InsertError, SourceError
from airflow_provider_datalake.samples import write_blob, write_mqtt_dump
from tests.conftest import insert_into
from tests.ingest.conftest import all_records, assert_consistent, swift_names

pytestmark = pytest.mark.stack

SEED_FIELDS = {
    "content_type",
    "data_processing",
    "swift_user",
    "swift_container",
    "swift_object_id",
    "application",
    "original_object_name",
    "creation_date",
    "last_modified",
    "successful_operations",
    "failed_operations",
    "processed_data_area_service",
    "other_data",
}


#: insert_datalake and insert_many on the lake's connections, then which of Airflow's modules were loaded.
WITHOUT_AIRFLOW = """
import json, sys
from airflow_provider_datalake import insert_datalake, insert_many
container, path = sys.argv[1], sys.argv[2]
conns = {"swift_conn_id": "swift_test", "mongo_conn_id": "mongo_test"}
one = insert_datalake(path, format="blob", container=container, **conns)
many = insert_many([b"first of two", b"second of two"], jobs=2, format="blob", container=container, **conns)
# no format: the stored formats' match rules are read, which must not need the descriptor model
unnamed = insert_datalake(b"no format named", original_name="x.bin", container=container, **conns)
loaded = sorted(name for name in sys.modules if name.split(".")[0] in ("airflow", "pydantic"))
ids = [one["_id"], *(rec["_id"] for rec in many), unnamed["_id"]]
print(json.dumps({"ids": ids, "loaded": loaded}))
"""


def test_connections_in_the_environment_insert_without_importing_airflow(lake: dict, tmp_path: Path) -> None:
    """The lake's connections are AIRFLOW_CONN_* JSON: a process that inserts on them never loads Airflow,
    nor pydantic when no format's rules concern the file, and what it inserted is committed, in Swift and
    the catalog, as any insert."""
    path = tmp_path / "one.bin"
    path.write_bytes(os.urandom(1024))
    run = subprocess.run(
        [sys.executable, "-c", WITHOUT_AIRFLOW, lake["container"], str(path)],
        env=lake["env"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    outcome = json.loads(run.stdout.splitlines()[-1])
    assert outcome["loaded"] == []
    catalog = CatalogHook(lake["mongo_conn_id"])
    records = [catalog.get(rid) for rid in outcome["ids"]]
    assert [rec["status"] for rec in records if rec] == ["committed"] * 4
    assert records[3]["format"] is None
    assert _read_back(lake, records[0]) == path.read_bytes()
    assert records[0]["swift_user"] == "test:tester" and records[0]["swift_account"]
    assert_consistent(lake)


def _read_back(lake: dict, rec: dict) -> bytes:
    return b"".join(
        SwiftHook(lake["swift_conn_id"]).iter_object(rec["swift_container"], rec["swift_object_id"])
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("readings.jsonl", "application/x-ndjson"),
        ("readings.NDJSON", "application/x-ndjson"),
        ("export.csv", "text/csv"),
        ("dump.json", "application/json"),
        ("blob.unknownext", "application/octet-stream"),
    ],
)
def test_content_type_is_guessed_from_the_name(lake: dict, tmp_path: Path, name: str, expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(b'{"a": 1}\n')
    assert insert_into(lake, path)["content_type"] == expected


def test_small_file_round_trip_and_record_fields(lake: dict, tmp_path: Path) -> None:
    path = tmp_path / "u4_dump.json"
    write_mqtt_dump(path, 50, seed=1)
    rec = insert_into(
        lake,
        path,
        format="neocampus_mqtt",
        application="mqtt-bridge",
        processed_data_area_service=["postgres"],
        other_data={"campaign": "2021-07"},
    )
    assert set(rec) >= SEED_FIELDS
    assert rec["status"] == "committed"
    assert rec["content_type"] == "application/json"
    assert rec["original_object_name"] == "u4_dump.json"
    assert rec["swift_user"] == "test:tester"
    assert "u4_dump" not in rec["swift_object_id"]  # generated names only
    assert rec["swift_object_id"].startswith("neocampus_mqtt/")
    assert rec["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert rec["size"] == path.stat().st_size
    assert rec["other_data"] == {"campaign": "2021-07"}
    assert _read_back(lake, rec) == path.read_bytes()
    stored = CatalogHook(lake["mongo_conn_id"]).get(rec["_id"])
    assert stored["status"] == "committed" and stored["lease_until"] is None
    assert_consistent(lake)


def test_bytes_and_non_seekable_stream(lake: dict) -> None:
    data = json.dumps({"idcapteur": 4, "value": 15}).encode()
    rec_bytes = insert_into(lake, data, format="sensor_readings", original_name="reading.json")
    assert rec_bytes["content_type"] == "application/json"

    class Pipe(io.RawIOBase):
        """A stream that cannot seek or tell its size, like a socket or a pipe."""

        def __init__(self, payload: bytes) -> None:
            self._buf = io.BytesIO(payload)

        def readable(self) -> bool:
            return True

        def readinto(self, b) -> int:
            chunk = self._buf.read(len(b))
            b[: len(chunk)] = chunk
            return len(chunk)

    payload = b"x;y\n1,5;2\n" * 1000
    rec_stream = insert_into(lake, Pipe(payload), format="lab_csv_fr", dedupe=False)
    assert rec_stream["size"] == len(payload)
    assert rec_stream["sha256"] == hashlib.sha256(payload).hexdigest()
    assert _read_back(lake, rec_stream) == payload
    assert_consistent(lake)


def test_large_file_200mb_streams_as_slo(lake: dict, tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    digest = write_blob(path, 200 * 1024 * 1024, seed=3)
    rec = insert_into(lake, path, format="blob")
    assert rec["segments"] >= 2  # the test connection makes anything above 1 MiB a Static Large Object
    got = hashlib.sha256()
    for chunk in SwiftHook(lake["swift_conn_id"]).iter_object(lake["container"], rec["swift_object_id"]):
        got.update(chunk)
    assert got.hexdigest() == digest == rec["sha256"]
    assert_consistent(lake)


def test_dedupe_same_content_same_format(lake: dict, tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    write_mqtt_dump(path, 10, seed=2)
    first = insert_into(lake, path, format="neocampus_mqtt")
    again = insert_into(lake, path.read_bytes(), format="neocampus_mqtt")
    assert again["_id"] == first["_id"]
    other_format = insert_into(lake, path, format="neocampus_mqtt_copy")
    assert other_format["_id"] != first["_id"]
    forced = insert_into(lake, path, format="neocampus_mqtt", dedupe=False)
    assert forced["_id"] != first["_id"]
    assert len(swift_names(lake)) == 3
    assert_consistent(lake)


def test_dedupe_of_a_stream_keeps_one_copy(lake: dict, tmp_path: Path) -> None:
    payload = b'{"a": 1}\n' * 100
    first = insert_into(lake, payload, format="jsonl")
    again = insert_into(lake, io.BytesIO(payload), format="jsonl")
    assert again["_id"] == first["_id"]
    assert len(swift_names(lake)) == 1
    assert_consistent(lake)


@pytest.mark.parametrize(
    ("make_source", "error", "words"),
    [
        (lambda tmp: tmp / "missing.json", SourceError, "file not found"),
        (lambda tmp: tmp / "empty.json", EmptySourceError, "empty"),
        (lambda tmp: tmp, SourceError, "not a regular file"),
        (lambda tmp: b"", EmptySourceError, "empty"),
        (lambda tmp: io.BytesIO(b""), EmptySourceError, "empty"),
    ],
    ids=["missing-file", "empty-file", "directory", "empty-bytes", "empty-stream"],
)
def test_bad_input_is_a_clear_error_and_leaves_nothing(lake, tmp_path, make_source, error, words) -> None:
    (tmp_path / "empty.json").write_bytes(b"")
    with pytest.raises(error, match=words):
        insert_into(lake, make_source(tmp_path), format="x")
    assert all_records(lake) == []
    assert swift_names(lake) == set()


def test_unreadable_stream_rolls_back(lake: dict) -> None:
    class Broken(io.RawIOBase):
        def __init__(self) -> None:
            self.calls = 0

        def readable(self) -> bool:
            return True

        def readinto(self, b) -> int:
            self.calls += 1
            if self.calls > 3:
                raise OSError("device went away")
            b[:1024] = b"z" * 1024
            return 1024

    with pytest.raises(InsertError, match="rolled back"):
        insert_into(lake, Broken(), format="x")
    assert all_records(lake) == []
    assert swift_names(lake) == set()


def test_unreadable_path_is_a_clear_error(lake: dict, tmp_path: Path) -> None:
    path = tmp_path / "secret.csv"
    path.write_text("a;b\n")
    with pytest.raises(SourceError, match="cannot read"):
        insert_into(lake, path / "child", format="x")  # a path through a file: stat fails with ENOTDIR
    if os.geteuid() != 0:  # root reads any file whatever its mode
        path.chmod(0)
        with pytest.raises(SourceError, match="cannot read"):
            insert_into(lake, path, format="x")
    assert all_records(lake) == []


def test_wrong_swift_credentials(lake: dict, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    conn = json.loads(lake["env"]["AIRFLOW_CONN_SWIFT_TEST"])
    monkeypatch.setenv("AIRFLOW_CONN_SWIFT_WRONG", json.dumps({**conn, "password": "not-the-key"}))
    with pytest.raises(InsertError) as err:
        insert_datalake(
            b"hello",
            format="x",
            container=lake["container"],
            swift_conn_id="swift_wrong",
            mongo_conn_id=lake["mongo_conn_id"],
        )
    assert "not-the-key" not in str(err.value)
    assert "auth" in str(err.value).lower()
    assert all_records(lake) == []


def test_bad_format_or_container_names_are_refused(lake: dict) -> None:
    with pytest.raises(ValueError, match="format"):
        insert_into(lake, b"x", format="../etc")
    with pytest.raises(ValueError, match="container 'a/b': letters"):
        insert_datalake(b"x", container="a/b", swift_conn_id=lake["swift_conn_id"])
    with pytest.raises(ValueError, match="container: empty name"):  # not the default one, silently
        insert_datalake(b"x", container="", swift_conn_id=lake["swift_conn_id"])
    with pytest.raises(ValueError, match="is 249 characters long, 241 at most"):  # the real reason
        insert_datalake(b"x", container="c" * 249, swift_conn_id=lake["swift_conn_id"])
    assert all_records(lake) == []


@pytest.mark.parametrize("meta", [{"a.b": 1}, {"$set": 1}, {"": 1}, {"ok": {"in.ner": 1}}])
def test_other_data_keys_the_catalog_cannot_keep_are_refused_up_front(lake: dict, meta: dict) -> None:
    """Said as what it is, before anything is stored (it used to read "catalog unreachable")."""
    with pytest.raises(ValueError, match=r"other_data.* key"):
        insert_into(lake, b"x", other_data=meta)
    assert all_records(lake) == [] and swift_names(lake) == set()


def test_a_file_name_that_is_not_utf8_is_kept_visible(lake: dict, tmp_path: Path) -> None:
    """Latin-1 names from lab shares: stored, the odd byte shown escaped, the content type still guessed."""
    path = Path(os.fsdecode(bytes(tmp_path) + b"/r\xe9sultats.csv"))
    path.write_bytes(b"a;b\n1;2\n")
    rec = insert_into(lake, path)
    assert rec["original_object_name"] == "r\\xe9sultats.csv"
    assert rec["content_type"] == "text/csv"
    assert _read_back(lake, rec) == b"a;b\n1;2\n"


def test_without_a_format_the_descriptors_match_rules_choose_it(lake: dict, tmp_path: Path) -> None:
    from airflow_provider_datalake.descriptors.model import Descriptor
    from airflow_provider_datalake.descriptors.store import FormatStore

    desc = Descriptor.model_validate(
        {
            "name": "campus_dump",
            "match": {"filenames": ["mqtt_dump_*.json"]},
            "parser": {"kind": "neocampus_mqtt"},
            "fields": [{"name": "topic"}],
            "targets": [{"store": "postgres", "table": "dumps"}],
        }
    )
    FormatStore(CatalogHook(lake["mongo_conn_id"])).push(desc)
    path = tmp_path / "mqtt_dump_0042.json"
    write_mqtt_dump(path, 5, seed=4)
    assert insert_into(lake, path)["format"] == "campus_dump"
    other = tmp_path / "notes.json"
    other.write_text('{"a": 1}')
    assert insert_into(lake, other)["format"] is None


@pytest.fixture
def alongside(monkeypatch: pytest.MonkeyPatch) -> int:
    """Files from 2 MiB on are fingerprinted as they upload (the lake's segments are 1 MiB)."""
    from airflow_provider_datalake.ingest import insert as insert_module

    monkeypatch.setattr(insert_module, "FINGERPRINT_ALONGSIDE", 2 << 20)
    return 2 << 20


def test_a_large_file_fingerprinted_as_it_uploads_is_deduped(
    lake: dict, tmp_path: Path, alongside: int
) -> None:
    """The record of a large file gets its dedupe key once the upload's own read has fingerprinted it:
    the same file again is stopped and rolled back, and the insert returns the stored record."""
    path = tmp_path / "large.bin"
    write_blob(path, 3 * alongside, seed=41)
    first = insert_into(lake, path, format="blob")
    assert first["segments"] == 6 and first["sha256"] == _sha_of(path)
    assert first["dedupe_key"] == f"blob:{first['sha256']}"
    again = insert_into(lake, path, format="blob")
    assert again["_id"] == first["_id"]
    (rec,) = assert_consistent(lake)  # the second copy's segments and manifest are gone
    assert _read_back(lake, rec) == path.read_bytes()


def test_the_same_large_file_from_two_writers_at_once_is_stored_once(
    lake: dict, tmp_path: Path, alongside: int
) -> None:
    from airflow_provider_datalake import insert_many

    path = tmp_path / "large.bin"
    write_blob(path, 3 * alongside, seed=42)
    twin = tmp_path / "twin.bin"
    twin.write_bytes(path.read_bytes())
    conns = {"swift_conn_id": lake["swift_conn_id"], "mongo_conn_id": lake["mongo_conn_id"]}
    results = insert_many([path, twin], jobs=2, format="blob", container=lake["container"], **conns)
    assert all(isinstance(r, dict) for r in results), results
    assert {r["_id"] for r in results if isinstance(r, dict)} == {
        rec["_id"] for rec in assert_consistent(lake)
    }
    assert len(swift_names(lake)) == 1


def test_a_large_file_changed_while_it_uploads_is_refused(lake: dict, tmp_path: Path, alongside: int) -> None:
    """Its first byte changes once the upload has read it: the bytes sent, those fingerprinted and those
    Swift stored can no longer all agree, so the insert fails and leaves nothing."""
    path = tmp_path / "large.bin"
    write_blob(path, 3 * alongside, seed=43)
    changed: list[bool] = []

    def change_first_byte(_n: int) -> None:
        if not changed:
            with path.open("r+b") as fh:
                first = fh.read(1)
                fh.seek(0)
                fh.write(bytes([first[0] ^ 0xFF]))
            changed.append(True)

    with pytest.raises(InsertError, match=r"(?i)changed|422 Unprocessable"):
        insert_into(lake, path, format="blob", progress=change_first_byte)
    assert all_records(lake) == [] and swift_names(lake) == set()


def _sha_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
