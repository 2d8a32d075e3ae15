"""Fault injection on the real stack: servers stopped, and the inserting process SIGKILLed at every step.

After reconcile() there must be no orphan object and no dangling record, and every file that was reported
inserted must read back byte-exact.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from airflow_provider_datalake import reconcile
from airflow_provider_datalake.hooks.catalog import CatalogHook, utcnow
from airflow_provider_datalake.hooks.swift import SwiftHook
from airflow_provider_datalake.ingest import InsertError
from airflow_provider_datalake.ingest.settle import CLAIM
from airflow_provider_datalake.samples import write_blob
from tests.conftest import REPO, insert_into, sigint_as_at_a_terminal
from tests.ingest.conftest import all_records, assert_consistent, segment_names, swift_names

pytestmark = pytest.mark.stack

STACK_PY = REPO / "devstack" / "stack.py"

WRITER = """
import json, os, sys, datetime as dt
# The outcome lines go to stdout, alone: whatever else writes there (Airflow's log lines, from the threads of
# --jobs) goes to stderr, so that no log line can break an outcome line in two.
out = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
def print(*words, flush=True):
    out.write(" ".join(map(str, words)) + "\\n")
from pathlib import Path
from airflow_provider_datalake import insert_datalake
container, paths = sys.argv[1], sys.argv[2:]
jobs = int(os.environ.get("WRITER_JOBS", "0"))
print("READY", flush=True)
if jobs:  # the engine of `datalake insert --jobs`, each record printed as its outcome comes, in order
    from airflow_provider_datalake.hooks.catalog import CatalogHook
    from airflow_provider_datalake.hooks.swift import SwiftHook
    from airflow_provider_datalake.ingest import insert as protocol
    from airflow_provider_datalake.ingest.paths import Watcher, insert_paths
    protocol.insert_datalake.__kwdefaults__["lease"] = dt.timedelta(seconds=1)

    class Printer(Watcher):
        def inserted(self, rec, already):
            path = Path(rec["original_object_name"])
            print("INSERTED", json.dumps({"id": rec["_id"], "path": str(by_name[path.name])}), flush=True)

    by_name = {Path(p).name: p for p in paths}
    got = insert_paths([Path(p) for p in paths], swift=SwiftHook("swift_test"),
                       catalog=CatalogHook("mongo_test"), fmt="blob", container=container,
                       application=None, meta={}, dedupe=True, watcher=Printer(), jobs=jobs)
    if got.interrupted:
        raise KeyboardInterrupt
    if got.failed:
        sys.exit(f"failed: {got.failed}")
for path in paths if not jobs else []:
    rec = insert_datalake(path, format="blob", container=container, swift_conn_id="swift_test",
                          mongo_conn_id="mongo_test", lease=dt.timedelta(seconds=1))
    print("INSERTED", json.dumps({"id": rec["_id"], "path": path}), flush=True)
if os.environ.get("WRITER_HOLD"):  # stay alive once done, until stdin closes: a late signal still finds it
    print("DONE", flush=True)
    sys.stdin.read()
"""


def _stack(*args: str) -> None:
    proc = subprocess.run([sys.executable, str(STACK_PY), *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (
        f"stack.py {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
    )


@contextmanager
def server_down(service: str, group: str, *, later: bool = False) -> Iterator[Callable[..., None]]:
    """Stop ``service`` (at once, or on the first call of the yielded callback: pass it as ``progress`` to
    stop it mid-upload); whatever happens, bring its stack ``group`` back up and give the lease time to end.
    """
    stopped = threading.Event()

    def stop(*_: object) -> None:
        if not stopped.is_set():
            stopped.set()
            _stack("down", service)

    try:  # a stop that fails still brings the group back: the tests after this one need it
        if not later:
            stop()
        yield stop
    finally:
        _stack("up", group)
    time.sleep(1.2)  # past the 1 s lease of these inserts: reconcile may settle them


def _reconcile(lake: dict, **kw):
    return reconcile(
        containers=[lake["container"]],
        swift_conn_id=lake["swift_conn_id"],
        mongo_conn_id=lake["mongo_conn_id"],
        **kw,
    )


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read_sha(lake: dict, rec: dict) -> str:
    digest = hashlib.sha256()
    for chunk in SwiftHook(lake["swift_conn_id"]).iter_object(rec["swift_container"], rec["swift_object_id"]):
        digest.update(chunk)
    return digest.hexdigest()


def _started(proc: subprocess.Popen) -> subprocess.Popen:
    """Wait until the writer has imported everything and starts inserting (its start-up varies by machine)."""
    assert proc.stdout is not None
    while (line := proc.stdout.readline()) != "READY\n":
        assert line, f"the writer died before inserting anything: {proc.communicate()[1]}"
    return proc


def _writer(
    lake: dict, paths: list[Path], failpoint: str | None = None, hold: bool = False, jobs: int = 0
) -> subprocess.Popen:
    """The writer subprocess; ``hold`` keeps it alive after its last insert until its stdin closes;
    ``jobs`` inserts that many files at once (as `datalake insert --jobs`), else one by one."""
    env = {**lake["env"], **{k: v for k, v in os.environ.items() if k.startswith("AIRFLOW_CONN_")}}
    env.pop("DATALAKE_FAILPOINT", None)
    env.pop("WRITER_HOLD", None)
    env["WRITER_JOBS"] = str(jobs)
    if failpoint:
        env["DATALAKE_FAILPOINT"] = failpoint
    if hold:
        env["WRITER_HOLD"] = "1"
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, lake["container"], *map(str, paths)],
        env=env,
        stdin=subprocess.PIPE if hold else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=sigint_as_at_a_terminal,  # the Ctrl-C tests need it, however pytest was launched
    )


@pytest.mark.parametrize("large", [False, True], ids=["plain", "slo"])
@pytest.mark.parametrize("step", ["after_pending", "during_upload", "after_upload", "after_commit"])
def test_sigkill_at_each_step_then_reconcile(lake: dict, tmp_path: Path, step: str, large: bool) -> None:
    path = tmp_path / "file.bin"
    write_blob(path, (5 << 20) if large else 64 << 10, seed=11)
    proc = _writer(lake, [path], failpoint=step)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == -9, err  # it really died by SIGKILL at that step
    assert "INSERTED" not in out  # ... before reporting anything
    if step == "after_pending":  # killed with its PUT under way, body unsent: Swift kept nothing
        time.sleep(0.3)
        assert swift_names(lake) == set() and segment_names(lake) == set()
        assert [r["status"] for r in all_records(lake)] == ["pending"]
    time.sleep(1.2)  # let the 1 s lease run out
    report = _reconcile(lake)
    records = assert_consistent(lake)
    if step in ("after_upload", "after_commit"):
        # The object was complete in Swift: the insert is rolled forward (or already committed).
        assert len(records) == 1
        assert _read_sha(lake, records[0]) == _sha(path)
        assert report.rolled_forward == ([records[0]["_id"]] if step == "after_upload" else [])
        md5 = None if large else hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
        assert records[0]["md5"] == md5  # the same record whether insert_datalake or reconcile committed it
    else:
        assert records == []
        assert len(report.rolled_back) == 1
        assert segment_names(lake) == set()
    # A retry of the same file after the crash gives one record, never two.
    rec = insert_into(
        lake,
        path,
        format="blob",
    )
    assert _read_sha(lake, rec) == _sha(path)
    assert len(assert_consistent(lake)) == 1


def _nothing_left(lake: dict) -> bool:
    """No object, segment or record: what a rolled-back insert leaves, once late uploads had time to land."""
    time.sleep(0.5)
    return swift_names(lake) == set() and segment_names(lake) == set() and all_records(lake) == []


STEPS = ["after_pending", "during_upload", "body_read", "after_upload", "after_commit"]


@pytest.mark.parametrize("large", [False, True], ids=["plain", "slo"])
@pytest.mark.parametrize("step", STEPS)
def test_ctrl_c_at_each_step(lake: dict, tmp_path: Path, step: str, large: bool) -> None:
    """Ctrl-C (SIGINT, a KeyboardInterrupt) at each step: before the commit the insert rolls back at once,
    with no reconcile needed; after it the file is stored and its record committed."""
    path = tmp_path / "file.bin"
    write_blob(path, (3 << 20) if large else 64 << 10, seed=21)
    proc = _writer(lake, [path], failpoint=f"{step}:sigint")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == -2 and "KeyboardInterrupt" in err, err  # it really stopped there
    assert "INSERTED" not in out
    if step == "after_commit":
        (rec,) = assert_consistent(lake)
        assert _read_sha(lake, rec) == _sha(path)
    else:
        assert _nothing_left(lake), (swift_names(lake), segment_names(lake), all_records(lake))


@pytest.mark.parametrize(
    "second", ["rollback", "discard"], ids=["during-the-rollback", "during-the-segments-rollback"]
)
def test_a_second_ctrl_c_waits_for_the_rollback(lake: dict, tmp_path: Path, second: str) -> None:
    """Ctrl-C, then Ctrl-C again while the insert rolls back (the user who presses twice): the rollback
    still finishes, with no reconcile needed, and the second interrupt ends the writer after it."""
    path = tmp_path / "file.bin"
    write_blob(path, 3 << 20, seed=23)  # an SLO, so the hook's own rollback of segments runs as well
    proc = _writer(lake, [path], failpoint=f"during_upload:sigint,{second}:sigint")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == -2 and err.count("KeyboardInterrupt") >= 2, err  # both really came
    assert "INSERTED" not in out
    assert _nothing_left(lake), (swift_names(lake), segment_names(lake), all_records(lake))


@pytest.mark.parametrize("large", [False, True], ids=["plain", "slo"])
def test_ctrl_c_while_swift_stores_the_last_bytes(lake: dict, tmp_path: Path, large: bool) -> None:
    """Ctrl-C a moment after the last byte was read: the interrupt lands while Swift is still storing the
    object, or waiting for its answer, and Swift finishes the upload after the writer gave up on it.
    The rollback must win over that late upload (a helper's Ctrl-C once left such an object behind).

    A plain object's PUT runs in the writer's main thread, which Swift keeps in ``getresponse``; an SLO's
    segments go up in segment threads while the main thread waits for them in
    ``_await_segments_in_flight``. Either frame in the traceback proves the interrupt came while Swift
    was still storing.
    """
    path = tmp_path / "file.bin"
    write_blob(path, (3 << 20) if large else 900 << 10, seed=22)
    waiting, landed = 0, []
    # The instant is a race with Swift: on a loaded machine a whole pass can miss the window, so up to
    # three passes run until one interrupt is seen landing in it. Every run, wherever it lands, must
    # leave nothing or everything.
    for delay in [0.0005, 0.001, 0.002, 0.004] * 3:
        if waiting and delay == 0.0005:
            break
        proc = _writer(lake, [path], failpoint=f"body_read:sigint:{delay}")
        out, err = proc.communicate(timeout=120)
        if "INSERTED" in out:  # the interrupt came after the commit: then it must be all there
            (rec,) = assert_consistent(lake)
            CatalogHook(lake["mongo_conn_id"]).raw_objects.delete_many({})
            SwiftHook(lake["swift_conn_id"]).delete_object(lake["container"], rec["swift_object_id"])
            landed.append("after the commit")
            continue
        assert proc.returncode == -2 and "KeyboardInterrupt" in err, err
        # interrupted while waiting for Swift's answer to a PUT, or for segment PUTs still in flight
        waiting += "getresponse" in err or "_await_segments_in_flight" in err
        landed.append([line.strip() for line in err.splitlines() if line.startswith("  File")][-1])
        assert _nothing_left(lake), (delay, swift_names(lake), segment_names(lake), all_records(lake))
    assert waiting, f"no interrupt landed while Swift finished a PUT, the test proves nothing: {landed}"


def test_ctrl_c_while_deduplicating_stops_the_writer(lake: dict, tmp_path: Path) -> None:
    """Ctrl-C while the catalog answers that the content is already stored: the writer stops there (the
    stored copy stays as it was) rather than taking the old record as its result and going on."""
    path = tmp_path / "file.bin"
    write_blob(path, 64 << 10, seed=24)
    first = _writer(lake, [path])
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0 and "INSERTED" in out, err
    proc = _writer(lake, [path, path], failpoint="before_body:sigint")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == -2 and "KeyboardInterrupt" in err, (proc.returncode, out, err)
    assert "INSERTED" not in out
    (rec,) = assert_consistent(lake)
    assert _read_sha(lake, rec) == _sha(path)


@pytest.mark.parametrize("jobs", [0, 8], ids=["one-by-one", "jobs-8"])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill", "ctrl-c"])
def test_random_interrupts_across_many_inserts(
    lake: dict, tmp_path: Path, sig: signal.Signals, jobs: int
) -> None:
    """Kill or Ctrl-C a writer at random instants, many times. Right after each: no object without its
    record. After reconcile: all consistent, and every reported insert reads back exactly."""
    rng = random.Random(sig)
    files = []
    for i in range(48 if jobs else 30):  # eight at once finish more of them before each stop
        path = tmp_path / f"f{i:03d}.bin"
        write_blob(path, rng.choice([2 << 10, 700 << 10, 3 << 20]), seed=200 + i)
        files.append(path)
    reported: dict[str, Path] = {}
    remaining = list(files)
    rounds = interrupted = 0
    while remaining and rounds < 15:
        rounds += 1
        proc = _started(_writer(lake, remaining, hold=True, jobs=jobs))
        # Let a random number of inserts finish, then stop the writer a random moment into the next one.
        # The writer stays alive after its last file, so every signal finds it; a stop that came after it
        # was done is not counted as an interruption.
        let_finish, lines = rng.randrange(min(len(remaining), 2 if jobs else 6)), []
        while sum(line.startswith("INSERTED ") for line in lines) < let_finish:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                break
            lines.append(line)
        time.sleep(rng.uniform(0.0, 0.05))
        proc.send_signal(sig)
        out, _ = proc.communicate()
        lines += out.splitlines()
        done_all = any(line.strip() == "DONE" for line in lines)
        interrupted += proc.returncode == -sig and not done_all  # died of the signal, mid-work
        for line in lines:
            if line.startswith("INSERTED "):  # else Airflow's own log lines
                item = json.loads(line.removeprefix("INSERTED "))
                reported[item["id"]] = Path(item["path"])
        time.sleep(0.5)  # an upload Swift was finishing when the writer stopped has landed by now
        ids = {r["swift_object_id"] for r in all_records(lake)}
        assert swift_names(lake) <= ids, "an object without its record, right after the interruption"
        done = set(reported.values())
        remaining = [p for p in remaining if p not in done]
    assert interrupted >= 3, f"the writer was interrupted mid-work only {interrupted} times in {rounds}"
    # A writer that met its own earlier, dead insert of a file (dedupe) settles that record itself, under a
    # reconciler's claim; killed meanwhile, it leaves the record claimed for CLAIM. Reconcile as it would
    # run once that has passed too.
    _reconcile(lake, now=utcnow() + CLAIM + dt.timedelta(seconds=1))
    records = {r["_id"]: r for r in assert_consistent(lake)}
    for rid, path in reported.items():
        assert rid in records, f"{path} was reported inserted as {rid} but is not in the catalog"
        assert _read_sha(lake, records[rid]) == _sha(path)


@pytest.mark.parametrize("how", ["sigint", "kill"], ids=["ctrl-c", "kill"])
@pytest.mark.parametrize("step", STEPS)
def test_jobs_8_interrupted_at_each_step(lake: dict, tmp_path: Path, step: str, how: str) -> None:
    """Eight inserts in flight, one of them hit by Ctrl-C or SIGKILL at a step of the protocol: each file is
    all there or not at all. Ctrl-C rolls the ones in flight back at once (no reconcile needed) and keeps
    the committed ones; a kill leaves what reconcile settles."""
    files = []
    for i in range(12):
        files.append(tmp_path / f"f{i:02d}.bin")
        write_blob(files[-1], [64 << 10, 3 << 20, 900 << 10][i % 3], seed=300 + i)
    proc = _writer(lake, files, failpoint=f"{step}:sigint" if how == "sigint" else step, jobs=8)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == (-2 if how == "sigint" else -9), err  # it really stopped there
    reported = {}
    for line in out.splitlines():
        if line.startswith("INSERTED "):
            item = json.loads(line.removeprefix("INSERTED "))
            reported[item["id"]] = Path(item["path"])
    assert len(reported) < len(files)
    if how == "sigint":  # no reconcile: the Ctrl-C left nothing to settle
        time.sleep(0.5)  # an upload Swift was finishing when the writer stopped has landed by now
        records = {r["_id"]: r for r in assert_consistent(lake)}
        assert set(records) == set(reported)
    else:
        ids = {r["swift_object_id"] for r in all_records(lake)}
        assert swift_names(lake) <= ids, "an object without its record, right after the kill"
        time.sleep(1.2)  # past the 1 s lease
        _reconcile(lake)
        records = {r["_id"]: r for r in assert_consistent(lake)}
        assert set(reported) <= set(records)
    for rid, rec in records.items():
        assert rec["original_object_name"] in {f.name for f in files}
        path = reported.get(rid) or tmp_path / rec["original_object_name"]
        assert _read_sha(lake, rec) == _sha(path)


def test_swift_stopped_gives_clear_error_and_leaves_nothing(lake: dict) -> None:
    with server_down("swift-proxy", "swift"), pytest.raises(InsertError, match=r"(?i)swift"):
        insert_into(
            lake,
            b"reading while swift is down",
            format="x",
            lease=dt.timedelta(seconds=1),
        )
    # Swift was down, so the rollback could only delete the record (the object never existed).
    _reconcile(lake)
    assert all_records(lake) == []
    assert swift_names(lake) == set()


def test_swift_dies_mid_upload(lake: dict, tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    write_blob(path, 40 << 20, seed=12)
    with server_down("swift-proxy", "swift", later=True) as stop, pytest.raises(InsertError):
        insert_into(
            lake,
            path,
            format="blob",
            lease=dt.timedelta(seconds=1),
            progress=stop,
        )
    _reconcile(lake)
    assert all_records(lake) == []
    assert swift_names(lake) == set()
    assert segment_names(lake) == set()


def test_catalog_stopped_before_insert(lake: dict) -> None:
    with (
        server_down("ferretdb", "mongo"),
        pytest.raises(InsertError, match=r"catalog \(MongoDB\) unreachable, nothing was stored"),
    ):
        insert_into(
            lake,
            b"no catalog",
            format="x",
        )
    assert swift_names(lake) == set()  # nothing reached Swift: the record comes first


def test_catalog_dies_between_upload_and_commit(lake: dict, tmp_path: Path) -> None:
    """The object is stored and verified but the commit cannot land: reconcile rolls it forward."""
    path = tmp_path / "f.bin"
    write_blob(path, 3 << 20, seed=13)
    with (
        server_down("ferretdb", "mongo", later=True) as stop,
        pytest.raises(InsertError, match="`datalake reconcile` will commit it"),
    ):
        insert_into(
            lake,
            path,
            format="blob",
            lease=dt.timedelta(seconds=1),
            progress=stop,
        )
    report = _reconcile(lake)
    (rec,) = assert_consistent(lake)
    assert report.rolled_forward == [rec["_id"]]
    assert _read_sha(lake, rec) == _sha(path)


def test_orphan_objects_are_reported_then_removed_on_request(lake: dict) -> None:
    swift = SwiftHook(lake["swift_conn_id"])
    swift.ensure_container(lake["container"])
    swift.put_object(lake["container"], "stray/object", b"nobody knows me")
    report = _reconcile(lake, dry_run=True)
    assert (lake["container"], "stray/object") in report.orphans
    assert swift.object_exists(lake["container"], "stray/object")
    report = _reconcile(lake, remove_orphans=True)
    assert (lake["container"], "stray/object") in report.orphans_removed
    assert swift_names(lake) == set()


def test_orphans_named_like_ours_are_found_by_record_id(lake: dict) -> None:
    """Reconcile looks objects up by the record id in their name; a name of that shape is still an orphan
    when no record has the id, or when the record with that id names another object."""
    rec = insert_into(lake, b"a real one", format="x")
    swift = SwiftHook(lake["swift_conn_id"])
    ghost = f"x/2026/01/01/{'ab' * 16}"  # our shape, no such record
    moved = f"elsewhere/{rec['_id']}"  # the id of a record that names another object
    for name in (ghost, moved):
        swift.put_object(lake["container"], name, b"nobody's")
    report = _reconcile(lake, dry_run=True)
    assert sorted(report.orphans) == sorted([(lake["container"], moved), (lake["container"], ghost)])
    report = _reconcile(lake, remove_orphans=True)
    assert swift_names(lake) == {rec["swift_object_id"]}
    assert [r["_id"] for r in assert_consistent(lake)] == [rec["_id"]]


def test_committed_record_without_object_is_reported(lake: dict) -> None:
    rec = insert_into(
        lake,
        b"soon lost",
        format="x",
    )
    SwiftHook(lake["swift_conn_id"]).delete_object(lake["container"], rec["swift_object_id"])
    report = _reconcile(lake)
    assert report.missing_objects == [rec["_id"]]
    assert CatalogHook(lake["mongo_conn_id"]).get(rec["_id"])["status"] == "committed"  # never silently fixed


def test_records_of_another_swift_account_are_left_alone(lake: dict, swift_keystone_conn: dict) -> None:
    """Reconcile through a connection to another account (Keystone's project, not TempAuth's) cannot see
    this account's objects: it must neither report them missing nor roll back their pending records."""
    committed = insert_into(lake, b"seen from TempAuth only", format="x")
    assert committed["swift_account"] == SwiftHook(lake["swift_conn_id"]).account == "AUTH_test"
    catalog = CatalogHook(lake["mongo_conn_id"])
    crashed = insert_into(lake, b"uploaded, never committed", format="x", dedupe=False)
    catalog.raw_objects.update_one(  # as if its writer died after the upload: the record still pending
        {"_id": crashed["_id"]},
        {"$set": {"status": "pending", "lease_until": utcnow() - dt.timedelta(seconds=1)}},
    )
    other = SwiftHook("swift_keystone")
    assert other.account != "AUTH_test"
    report = reconcile(containers=[lake["container"]], swift=other, catalog=catalog)
    assert report.missing_objects == [] and report.rolled_back == [] and report.rolled_forward == []
    assert len(report.other_accounts) == 2
    assert sorted(r["status"] for r in all_records(lake)) == ["committed", "pending"]  # untouched
    report = _reconcile(lake)  # through the account that holds them: the pending one is rolled forward
    assert len(report.rolled_forward) == 1 and report.other_accounts == []
    assert [r["status"] for r in assert_consistent(lake)] == ["committed", "committed"]
