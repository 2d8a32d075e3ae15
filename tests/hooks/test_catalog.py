"""CatalogHook against the stack's real FerretDB (MongoDB wire protocol, SQLite backend).

Every test works in its own database, named by the ``schema`` of a per-test connection ``mongo_test``, and
drops it afterwards. Records are written straight into the collection when a test needs one in a given
state; every state change under test goes through the hook.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_datalake.hooks.catalog import (
    RAW_OBJECTS,
    TRANSITIONS,
    VISIBLE,
    CatalogError,
    CatalogHook,
    DuplicateContent,
    InvalidTransition,
    Status,
    dedupe_key,
    utcnow,
)
from datalake_catalog.catalog import matches

pytestmark = pytest.mark.stack

EXPECTED_INDEXES = {
    "dedupe_key_unique": ([("dedupe_key", 1)], True),
    "object_unique": ([("swift_container", 1), ("swift_object_id", 1)], True),
    "status_format_created": ([("status", 1), ("format", 1), ("creation_date", 1), ("_id", 1)], False),
    "status_created": ([("status", 1), ("creation_date", 1), ("_id", 1)], False),
    "status_lease": ([("status", 1), ("lease_until", 1)], False),
}


@pytest.fixture
def catalog(mongo_conn: dict, monkeypatch: pytest.MonkeyPatch) -> Iterator[CatalogHook]:
    """A CatalogHook on connection `mongo_test`, whose schema is a fresh database dropped afterwards."""
    database = f"test_catalog_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("AIRFLOW_CONN_MONGO_TEST", json.dumps({**mongo_conn, "schema": database}))
    hook = CatalogHook("mongo_test")
    assert hook.database == database
    try:
        yield hook
    finally:
        hook.get_conn().drop_database(database)
        hook.close()


def _naive(value: dt.datetime) -> dt.datetime:
    """How pymongo hands dates back: naive UTC."""
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def _record(**fields: Any) -> dict[str, Any]:
    """A raw-object record shaped like insert_datalake() writes it (fields override)."""
    rid = uuid.uuid4().hex
    now = utcnow()
    sha = uuid.uuid4().hex * 2
    rec = {
        "_id": rid,
        "format": "blob",
        "swift_container": "test-raw",
        "swift_object_id": f"blob/{now:%Y/%m/%d}/{rid}",
        "sha256": sha,
        "size": 10,
        "dedupe": True,
        "dedupe_key": dedupe_key("blob", sha),
        "creation_date": now,
        "last_modified": now,
        "lease_until": now + dt.timedelta(minutes=10),
        "successful_operations": [],
        "other_data": {},
    }
    rec.update(fields)
    return rec


def _seed(catalog: CatalogHook, status: Status, **fields: Any) -> dict[str, Any]:
    """Put a record in the given state directly (set-up only; the hook's own writes are what is tested)."""
    rec = _record(**fields)
    rec["status"] = status.value
    catalog.raw_objects.insert_one(rec)
    return catalog.get(rec["_id"])


# -- indexes ---------------------------------------------------------------------------------------------


def test_ensure_indexes_twice_is_idempotent_and_creates_them(catalog: CatalogHook) -> None:
    catalog.ensure_indexes()
    first = catalog.db[RAW_OBJECTS].index_information()
    catalog.ensure_indexes()
    # A fresh hook on the same database does it again at first use, still without error.
    again = CatalogHook("mongo_test")
    try:
        again.ensure_indexes()
        assert again.count() == 0
    finally:
        again.close()
    info = catalog.db[RAW_OBJECTS].index_information()
    assert info == first
    assert set(info) == {"_id_", *EXPECTED_INDEXES}
    for name, (keys, unique) in EXPECTED_INDEXES.items():
        assert [(k, int(d)) for k, d in info[name]["key"]] == keys, name
        assert bool(info[name].get("unique", False)) is unique, name


def test_raw_objects_creates_the_indexes_on_first_use(catalog: CatalogHook) -> None:
    assert RAW_OBJECTS not in catalog.db.list_collection_names()
    catalog.raw_objects.find_one({})
    assert set(EXPECTED_INDEXES) <= set(catalog.db[RAW_OBJECTS].index_information())


def test_unique_indexes_are_enforced(catalog: CatalogHook) -> None:
    taken = catalog.insert_pending(_record())
    # Same object name in the same container: refused, whatever the content.
    with pytest.raises(DuplicateContent):
        catalog.insert_pending(
            _record(swift_container=taken["swift_container"], swift_object_id=taken["swift_object_id"])
        )
    # The same name in another container is a different object.
    catalog.insert_pending(_record(swift_container="other-raw", swift_object_id=taken["swift_object_id"]))
    assert catalog.count() == 2


# -- insert_pending / get --------------------------------------------------------------------------------


def test_insert_pending_writes_a_pending_record(catalog: CatalogHook) -> None:
    rec = _record(status="committed")  # whatever the caller says, phase 1 writes pending
    written = catalog.insert_pending(rec)
    assert written["status"] == "pending"
    assert rec["status"] == "committed"  # the caller's dict is not modified
    stored = catalog.get(rec["_id"])
    assert stored["status"] == "pending"
    assert stored["lease_until"] == _naive(rec["lease_until"])
    assert stored["creation_date"] == _naive(rec["creation_date"])  # millisecond precision round-trips
    assert catalog.find_by_dedupe_key(rec["dedupe_key"])["_id"] == rec["_id"]
    assert catalog.get("no-such-id") is None
    assert catalog.find_by_dedupe_key("blob:none") is None


@pytest.mark.parametrize("holder_status", [Status.PENDING, Status.COMMITTED])
def test_insert_pending_with_a_taken_dedupe_key_raises_duplicate_content(
    catalog: CatalogHook, holder_status: Status
) -> None:
    holder = _seed(catalog, holder_status)
    newcomer = _record(dedupe_key=holder["dedupe_key"])
    with pytest.raises(DuplicateContent) as err:
        catalog.insert_pending(newcomer)
    assert err.value.dedupe_key == holder["dedupe_key"]
    assert err.value.existing is not None
    assert err.value.existing["_id"] == holder["_id"]
    assert err.value.existing["status"] == holder_status.value
    assert holder["dedupe_key"] in str(err.value)
    assert catalog.get(newcomer["_id"]) is None
    assert catalog.count() == 1


# -- the state machine -----------------------------------------------------------------------------------


ALLOWED = [(src, dst) for src, targets in TRANSITIONS.items() for dst in sorted(targets)]
FORBIDDEN = [(src, dst) for src in Status for dst in Status if dst not in TRANSITIONS[src]]


def test_the_documented_state_machine() -> None:
    assert TRANSITIONS[Status.PENDING] == {Status.COMMITTED, Status.RECONCILING}
    assert TRANSITIONS[Status.COMMITTED] == {Status.PROCESSING, Status.DELETED}
    assert TRANSITIONS[Status.PROCESSING] == {Status.PROCESSED, Status.FAILED, Status.COMMITTED}
    assert TRANSITIONS[Status.DELETED] == set()
    assert set(VISIBLE) == {Status.COMMITTED, Status.PROCESSING, Status.PROCESSED, Status.FAILED}
    assert (Status.COMMITTED, Status.PENDING) in FORBIDDEN


@pytest.mark.parametrize(("src", "dst"), ALLOWED, ids=[f"{s}->{d}" for s, d in ALLOWED])
def test_allowed_transition_returns_the_new_document(catalog: CatalogHook, src: Status, dst: Status) -> None:
    old = utcnow() - dt.timedelta(hours=1)
    rec = _seed(catalog, src, last_modified=old, note="keep", scratch="drop me")
    done = catalog.transition(
        rec["_id"],
        src,
        dst,
        set_fields={"stage": f"{src}->{dst}"},
        unset_fields=["scratch"],
        push={"successful_operations": {"op": "x"}},
    )
    assert done is not None
    assert done["_id"] == rec["_id"]
    assert done["status"] == dst.value
    assert done["stage"] == f"{src}->{dst}"
    assert done["note"] == "keep"
    assert "scratch" not in done
    assert done["successful_operations"] == [{"op": "x"}]
    assert done["last_modified"] > _naive(old)
    assert catalog.get(rec["_id"]) == done  # the returned document is what is stored


def test_a_record_walks_its_whole_life(catalog: CatalogHook) -> None:
    rec = catalog.insert_pending(_record())
    path = [
        Status.COMMITTED,
        Status.PROCESSING,
        Status.FAILED,
        Status.PROCESSING,
        Status.PROCESSED,
        Status.PROCESSING,
        Status.COMMITTED,
        Status.DELETED,
    ]
    state = Status.PENDING
    for nxt in path:
        done = catalog.transition(rec["_id"], state, nxt)
        assert done is not None and done["status"] == nxt.value, f"{state} -> {nxt}"
        state = nxt
    assert catalog.get(rec["_id"])["status"] == "deleted"


@pytest.mark.parametrize(
    ("current", "expected", "new"),
    [
        (Status.COMMITTED, Status.PENDING, Status.COMMITTED),  # already committed (e.g. by reconcile)
        (Status.PROCESSING, Status.COMMITTED, Status.PROCESSING),  # someone else is processing it
        (Status.RECONCILING, Status.PENDING, Status.COMMITTED),  # the reconciler claimed it
        (Status.DELETED, Status.COMMITTED, Status.PROCESSING),
        (Status.PENDING, Status.PROCESSING, Status.COMMITTED),
    ],
)
def test_transition_from_the_wrong_state_returns_none_and_changes_nothing(
    catalog: CatalogHook, current: Status, expected: Status, new: Status
) -> None:
    rec = _seed(catalog, current)
    assert catalog.transition(rec["_id"], expected, new, set_fields={"stage": "x"}) is None
    assert catalog.get(rec["_id"]) == rec


def test_transition_of_an_unknown_record_returns_none(catalog: CatalogHook) -> None:
    assert catalog.transition("no-such-id", Status.PENDING, Status.COMMITTED) is None
    assert catalog.count() == 0


def test_transition_accepts_several_expected_states(catalog: CatalogHook) -> None:
    pending, reconciling = _seed(catalog, Status.PENDING), _seed(catalog, Status.RECONCILING)
    committed = _seed(catalog, Status.COMMITTED)
    either = (Status.PENDING, Status.RECONCILING)
    assert catalog.transition(pending["_id"], either, Status.RECONCILING)["status"] == "reconciling"
    assert catalog.transition(reconciling["_id"], either, Status.RECONCILING)["status"] == "reconciling"
    assert catalog.transition(committed["_id"], either, Status.COMMITTED) is None
    assert catalog.get(committed["_id"]) == committed


def test_extra_filter_guards_the_update(catalog: CatalogHook) -> None:
    now = utcnow()
    live = _seed(catalog, Status.PENDING, lease_until=now + dt.timedelta(minutes=5))
    expired = {"lease_until": {"$lt": now}}
    assert catalog.transition(live["_id"], Status.PENDING, Status.RECONCILING, extra_filter=expired) is None
    assert catalog.get(live["_id"]) == live
    stale = _seed(catalog, Status.PENDING, lease_until=now - dt.timedelta(minutes=5))
    claimed = catalog.transition(stale["_id"], Status.PENDING, Status.RECONCILING, extra_filter=expired)
    assert claimed is not None and claimed["status"] == "reconciling"


@pytest.mark.parametrize(("src", "dst"), FORBIDDEN, ids=[f"{s}->{d}" for s, d in FORBIDDEN])
def test_invalid_transition_raises_and_changes_nothing(
    catalog: CatalogHook, src: Status, dst: Status
) -> None:
    rec = _seed(catalog, src)
    with pytest.raises(InvalidTransition) as err:
        catalog.transition(rec["_id"], src, dst)
    assert rec["_id"] in str(err.value)
    assert f"{src.value} -> {dst.value}" in str(err.value)
    assert catalog.get(rec["_id"]) == rec


def test_invalid_transition_is_refused_before_looking_at_the_record(catalog: CatalogHook) -> None:
    # Even when the record is in another state, or absent, an impossible move is a programming error.
    rec = _seed(catalog, Status.PENDING)
    with pytest.raises(InvalidTransition):
        catalog.transition(rec["_id"], Status.COMMITTED, Status.PENDING)
    with pytest.raises(InvalidTransition):
        catalog.transition("no-such-id", Status.DELETED, Status.COMMITTED)
    # One forbidden expected state is enough to refuse the whole call.
    with pytest.raises(InvalidTransition):
        catalog.transition(rec["_id"], (Status.PENDING, Status.DELETED), Status.COMMITTED)
    assert catalog.get(rec["_id"]) == rec


def test_transition_to_a_taken_dedupe_key_raises_duplicate_content(catalog: CatalogHook) -> None:
    holder = _seed(catalog, Status.COMMITTED)
    # A stream's pending record gets its real dedupe key only at commit (insert_datalake does this).
    stream = catalog.insert_pending(_record(dedupe_key=f"unique:{uuid.uuid4().hex}", sha256=None))
    before = catalog.get(stream["_id"])
    with pytest.raises(DuplicateContent) as err:
        catalog.transition(
            stream["_id"],
            Status.PENDING,
            Status.COMMITTED,
            set_fields={"dedupe_key": holder["dedupe_key"], "sha256": holder["sha256"]},
        )
    assert err.value.dedupe_key == holder["dedupe_key"]
    assert err.value.existing is not None and err.value.existing["_id"] == holder["_id"]
    assert catalog.get(stream["_id"]) == before  # the refused update changed nothing
    assert catalog.get(holder["_id"]) == holder
    # A free key commits normally.
    free = dedupe_key("blob", uuid.uuid4().hex * 2)
    done = catalog.transition(
        stream["_id"], Status.PENDING, Status.COMMITTED, set_fields={"dedupe_key": free}
    )
    assert done is not None and done["dedupe_key"] == free and done["status"] == "committed"


# -- reading ---------------------------------------------------------------------------------------------


def test_find_shows_only_visible_records_oldest_first(catalog: CatalogHook) -> None:
    base = utcnow() - dt.timedelta(days=1)
    at = {n: base + dt.timedelta(minutes=n) for n in range(10)}
    # Written out of order, so the order seen is the creation date's, not the insertion's.
    seeded = {
        "c_csv": _seed(catalog, Status.COMMITTED, format="csv", creation_date=at[5]),
        "pending": _seed(catalog, Status.PENDING, format="csv", creation_date=at[0]),
        "processed_blob": _seed(catalog, Status.PROCESSED, creation_date=at[1]),
        "reconciling": _seed(catalog, Status.RECONCILING, creation_date=at[2]),
        "processing_csv": _seed(catalog, Status.PROCESSING, format="csv", creation_date=at[3]),
        "deleted": _seed(catalog, Status.DELETED, creation_date=at[4]),
        "failed_blob": _seed(catalog, Status.FAILED, creation_date=at[6]),
        "c_blob": _seed(catalog, Status.COMMITTED, creation_date=at[7]),
    }
    ids = {name: rec["_id"] for name, rec in seeded.items()}

    def names(records: Iterator[dict[str, Any]]) -> list[str]:
        by_id = {v: k for k, v in ids.items()}
        return [by_id[r["_id"]] for r in records]

    assert names(catalog.find()) == ["processed_blob", "processing_csv", "c_csv", "failed_blob", "c_blob"]
    assert names(catalog.find(fmt="csv")) == ["processing_csv", "c_csv"]
    assert names(catalog.find(fmt="blob")) == ["processed_blob", "failed_blob", "c_blob"]
    assert names(catalog.find(fmt="nothing")) == []
    assert names(catalog.find(limit=2)) == ["processed_blob", "processing_csv"]
    assert names(catalog.find(limit=2, newest_first=True)) == ["c_blob", "failed_blob"]
    # Pending, reconciling and deleted only when asked for, by name or as Status.
    assert names(catalog.find(status="pending")) == ["pending"]
    assert names(catalog.find(status=Status.RECONCILING)) == ["reconciling"]
    assert names(catalog.find(status=[Status.PENDING, "reconciling"])) == ["pending", "reconciling"]
    assert names(catalog.find(status="deleted")) == ["deleted"]
    assert names(catalog.find(status="committed", fmt="blob")) == ["c_blob"]
    assert names(catalog.find(query={"_id": ids["pending"]})) == []  # a query does not widen the states
    assert names(catalog.find(query={"_id": ids["c_csv"]})) == ["c_csv"]


def test_find_breaks_creation_date_ties_by_id(catalog: CatalogHook) -> None:
    same = utcnow()
    rids = ["b" * 32, "a" * 32, "c" * 32]
    for rid in rids:
        _seed(catalog, Status.COMMITTED, _id=rid, creation_date=same)
    assert [r["_id"] for r in catalog.find()] == sorted(rids)
    assert [r["_id"] for r in catalog.find(newest_first=True)] == sorted(rids, reverse=True)


def test_pages_after_a_record_walk_the_whole_listing_once_in_order(catalog: CatalogHook) -> None:
    now = utcnow()
    rids = []
    for n in range(23):
        # Groups of three share a creation date: a page boundary inside a group must not lose or repeat one.
        rid = f"{n:02d}" + "x" * 30
        _seed(
            catalog, Status.PROCESSED, _id=rid, format="csv", creation_date=now + dt.timedelta(seconds=n // 3)
        )
        rids.append(rid)
    _seed(catalog, Status.PENDING, creation_date=now)  # never listed by default
    for newest_first in (True, False):
        pages: list[list[str]] = []
        after = None
        while True:
            page = [r["_id"] for r in catalog.find(limit=5, newest_first=newest_first, after=after)]
            if not page:
                break
            pages.append(page)
            after = page[-1]
        walked = [rid for page in pages for rid in page]
        assert walked == (sorted(rids, reverse=True) if newest_first else sorted(rids))
        assert [len(page) for page in pages] == [5, 5, 5, 5, 3]
    only = [r["_id"] for r in catalog.find(fmt="csv", status="processed", limit=4, after=rids[10])]
    assert only == [rids[11], rids[12], rids[13], rids[14]]


def test_paging_after_an_unknown_record_is_an_error(catalog: CatalogHook) -> None:
    with pytest.raises(CatalogError, match="no record nope to list after"):
        list(catalog.find(after="nope"))


def test_ensure_indexes_drops_the_retired_ones(catalog: CatalogHook) -> None:
    catalog.db[RAW_OBJECTS].create_index([("sha256", 1), ("format", 1)], name="sha256_format")
    catalog.ensure_indexes()
    assert "sha256_format" not in catalog.db[RAW_OBJECTS].index_information()


def test_counts_stop_at_the_cap_and_status_counts_group_by_format(catalog: CatalogHook) -> None:
    for state, fmt in [("committed", "csv"), ("committed", "csv"), ("processed", "csv"), ("failed", None)]:
        _seed(catalog, Status(state), format=fmt)
    assert catalog.count(status="committed") == 2
    assert catalog.count(cap=1, status="committed") == 1
    assert catalog.count(cap=None) == 4
    assert catalog.status_counts() == {"csv": {"committed": 2, "processed": 1}, None: {"failed": 1}}
    assert catalog.status_counts("csv") == {"csv": {"committed": 2, "processed": 1}}


def test_expired_pending_returns_only_records_whose_lease_passed(catalog: CatalogHook) -> None:
    now = utcnow()
    past, future = now - dt.timedelta(seconds=30), now + dt.timedelta(minutes=10)
    expired = {
        _seed(catalog, Status.PENDING, lease_until=past)["_id"],
        _seed(catalog, Status.RECONCILING, lease_until=past)["_id"],  # a reconciler died mid-claim
    }
    _seed(catalog, Status.PENDING, lease_until=future)
    _seed(catalog, Status.RECONCILING, lease_until=future)
    _seed(catalog, Status.PENDING, lease_until=None)  # never taken: no lease, no expiry
    for state in VISIBLE:
        _seed(catalog, state, lease_until=past)  # a stale lease on a visible record means nothing
    _seed(catalog, Status.DELETED, lease_until=past)

    assert {r["_id"] for r in catalog.expired_pending()} == expired
    assert {r["_id"] for r in catalog.expired_pending(now)} == expired
    # Lease exactly at `now` has not passed yet; a later clock sees the live ones expire too.
    assert {r["_id"] for r in catalog.expired_pending(past)} == set()
    later = {r["_id"] for r in catalog.expired_pending(future + dt.timedelta(seconds=1))}
    assert later > expired and len(later) == 4


def test_renew_lease_only_works_on_pending(catalog: CatalogHook) -> None:
    now = utcnow()
    until = now + dt.timedelta(hours=1)
    pending = _seed(catalog, Status.PENDING, lease_until=now)
    assert catalog.renew_lease(pending["_id"], until) is True
    assert catalog.get(pending["_id"])["lease_until"] == _naive(until)
    assert catalog.get(pending["_id"])["status"] == "pending"

    for state in (Status.RECONCILING, Status.COMMITTED, Status.PROCESSING, Status.DELETED):
        rec = _seed(catalog, state, lease_until=now)
        assert catalog.renew_lease(rec["_id"], until) is False, state
        assert catalog.get(rec["_id"]) == rec, state
    assert catalog.renew_lease("no-such-id", until) is False
    assert catalog.count(_id="no-such-id") == 0  # no upsert


def test_delete_record_only_in_the_expected_state(catalog: CatalogHook) -> None:
    pending, reconciling = _seed(catalog, Status.PENDING), _seed(catalog, Status.RECONCILING)
    assert catalog.delete_record(pending["_id"], Status.RECONCILING) is False
    assert catalog.get(pending["_id"]) == pending
    assert catalog.delete_record(pending["_id"], Status.PENDING) is True
    assert catalog.get(pending["_id"]) is None
    assert catalog.delete_record(pending["_id"], Status.PENDING) is False
    assert catalog.delete_record(reconciling["_id"], [Status.PENDING, Status.RECONCILING]) is True
    assert catalog.count() == 0


def test_known_objects_and_count(catalog: CatalogHook) -> None:
    a = _seed(catalog, Status.COMMITTED, swift_container="raw-a")
    b = _seed(catalog, Status.PENDING, swift_container="raw-a")
    _seed(catalog, Status.COMMITTED, swift_container="raw-b", swift_object_id=a["swift_object_id"] + "x")
    names = [a["swift_object_id"], b["swift_object_id"], "blob/unknown", a["swift_object_id"] + "x"]
    assert catalog.known_objects("raw-a", names) == {a["swift_object_id"], b["swift_object_id"]}
    assert catalog.known_objects("raw-a", []) == set()
    assert catalog.known_objects("raw-c", names) == set()
    assert catalog.count() == 3
    assert catalog.count(status="committed") == 2
    assert catalog.count(swift_container="raw-a", status="pending") == 1


def test_locate_gives_where_each_existing_record_points(catalog: CatalogHook) -> None:
    a = _seed(catalog, Status.COMMITTED, swift_container="raw-a")
    b = _seed(catalog, Status.PENDING, swift_container="raw-b")
    where = catalog.locate([a["_id"], b["_id"], uuid.uuid4().hex, a["_id"]])
    assert where == {
        a["_id"]: ("raw-a", a["swift_object_id"]),
        b["_id"]: ("raw-b", b["swift_object_id"]),
    }
    assert catalog.locate([]) == {}


# -- concurrency -----------------------------------------------------------------------------------------


def _race(n: int, attempt: Any) -> list[Any]:
    """Run attempt(i) in n threads released together by a barrier; return the results (or the errors)."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait(timeout=30)
        try:
            results[i] = attempt(i)
        except Exception as exc:  # reported below, never swallowed
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors
    return results


def test_eight_threads_race_to_process_one_record_exactly_one_wins(catalog: CatalogHook) -> None:
    """The catalog's protocol rests on this: whoever wins the guarded update owns the next step.

    FerretDB v1.x (1.24.2 here) runs findAndModify as a query, then ``UPDATE ... WHERE _id = ?`` of the whole
    document, without re-checking the filter: several threads "win" and all but one write is lost. This
    test states the requirement; it fails until the stack's catalog server updates atomically.
    """
    # Each thread is its own worker with its own client, as eight task processes would be.
    hooks = [CatalogHook("mongo_test") for _ in range(8)]
    try:
        for hook in hooks:
            hook.ensure_indexes()
        for _ in range(5):  # several rounds: one lucky interleaving would prove little
            rec = _seed(catalog, Status.COMMITTED)

            def claim(i: int, rid: str = rec["_id"]) -> dict[str, Any] | None:
                return hooks[i].transition(
                    rid,
                    Status.COMMITTED,
                    Status.PROCESSING,
                    set_fields={"worker": i},
                    push={"successful_operations": {"claimed_by": i}},
                )

            results = _race(8, claim)
            winners = [i for i, r in enumerate(results) if r is not None]
            stored = catalog.get(rec["_id"])
            assert len(winners) == 1, (
                f"{len(winners)} of 8 guarded updates from committed won (threads {winners}); record kept "
                f"worker={stored.get('worker')}, successful_operations={stored['successful_operations']}"
            )
            assert stored["status"] == "processing"
            assert stored["worker"] == winners[0]
            assert stored["successful_operations"] == [{"claimed_by": winners[0]}]
            assert results[winners[0]] == stored
    finally:
        for hook in hooks:
            hook.close()


def test_concurrent_pending_inserts_of_one_content_one_record(catalog: CatalogHook) -> None:
    hooks = [CatalogHook("mongo_test") for _ in range(8)]
    try:
        for hook in hooks:
            hook.ensure_indexes()
        key = dedupe_key("blob", uuid.uuid4().hex * 2)
        records = [_record(dedupe_key=key) for _ in range(8)]

        def insert(i: int) -> str:
            try:
                hooks[i].insert_pending(records[i])
                return "won"
            except DuplicateContent as dup:
                assert dup.dedupe_key == key
                return "duplicate"

        results = _race(8, insert)
        assert sorted(results) == ["duplicate"] * 7 + ["won"]
        assert catalog.count(dedupe_key=key) == 1
        assert catalog.find_by_dedupe_key(key)["_id"] == records[results.index("won")]["_id"]
    finally:
        for hook in hooks:
            hook.close()


def _guards(now: dt.datetime) -> list[dict[str, Any]]:
    return [
        {"status": "committed"},
        {"status": {"$in": ["pending", "committed"]}, "format": None},
        {"format": None, "inference": {"$exists": False}},
        {"inference.state": "inferring", "inference.until": {"$lt": now}},
        {"inference.run_id": "run-1"},
        {"lease_until": {"$lt": now}},
        {"status": {"$ne": "committed"}, "format": "f"},
    ]


def test_the_guard_matcher_agrees_with_the_server(catalog: CatalogHook) -> None:
    # update_guarded checks a guard in Python on FerretDB: it must select exactly what the server would.
    now = utcnow()
    past, future = now - dt.timedelta(minutes=5), now + dt.timedelta(minutes=5)
    inferring = {"state": "inferring", "run_id": "run-1", "until": past}
    docs = [
        _seed(catalog, Status.COMMITTED, format=None, lease_until=None),
        _seed(catalog, Status.COMMITTED, format="f"),
        _seed(catalog, Status.PENDING, format=None, lease_until=past),
        _seed(catalog, Status.PROCESSING, format="f", lease_until=future),
        _seed(catalog, Status.COMMITTED, format=None, inference=inferring),
        _seed(
            catalog,
            Status.COMMITTED,
            format=None,
            inference={**inferring, "run_id": "run-2", "until": future},
        ),
        _seed(catalog, Status.COMMITTED, format=None, inference={"state": "waiting", "run_id": "run-1"}),
    ]
    ids = [d["_id"] for d in docs]
    for guard in _guards(now):
        server = {d["_id"] for d in catalog.raw_objects.find({"_id": {"$in": ids}, **guard}, {"_id": 1})}
        mine = {d["_id"] for d in catalog.raw_objects.find({"_id": {"$in": ids}}) if matches(d, guard)}
        assert mine == server, guard
        assert server, f"{guard} selects none of the records: it tests nothing"


def test_update_guarded_writes_only_when_the_guard_holds(catalog: CatalogHook) -> None:
    rec = _seed(catalog, Status.COMMITTED, format=None)
    assert catalog.update_guarded(rec["_id"], {"status": "processing"}, {"$set": {"x": 1}}) is None
    assert "x" not in catalog.get(rec["_id"])
    after = catalog.update_guarded(rec["_id"], {"status": "committed", "format": None}, {"$set": {"x": 2}})
    assert after is not None and after["x"] == 2 == catalog.get(rec["_id"])["x"]
    assert catalog.update_guarded("no-such-record", {}, {"$set": {"x": 3}}) is None
