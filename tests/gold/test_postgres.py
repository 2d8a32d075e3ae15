"""PostgresLoader against the stack's real PostgreSQL: DDL and evolution, the three modes, atomicity."""

from __future__ import annotations

import datetime as dt
import gc
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from psycopg import sql
from pydantic import ValidationError

from airflow_provider_datalake.descriptors.model import FieldSpec, PostgresTarget
from airflow_provider_datalake.gold.common import GoldLoadError, GoldSchemaError
from airflow_provider_datalake.gold.postgres import PostgresLoader
from tests.gold.conftest import Batch, Pg, batches_of, fields_of, make_batch

pytestmark = pytest.mark.stack

MODES = ["replace_object", "append", "merge"]
UTC = dt.UTC

ALL_TYPES = fields_of(s="string", i="int", f="float", b="bool", ts="timestamp", d="date", j="json")
NAMES = [f.name for f in ALL_TYPES]
TYPED_ROWS: list[tuple[Any, ...]] = [
    (
        "héllo wörld ✓ 🚀 日本",
        2**63 - 1,
        3.141592653589793,
        True,
        dt.datetime(2024, 3, 10, 1, 59, 59, 123456, tzinfo=UTC),
        dt.date(2024, 2, 29),
        {"a": [1, 2.5, "x", None, True], "é": {"n": None}, "big": 12345678901234567},
    ),
    (
        "",
        -(2**63),
        -1e-300,
        False,
        dt.datetime(1970, 1, 1, tzinfo=UTC),
        dt.date(1, 1, 1),
        [1, "two", {"three": 3}],
    ),
    (None, None, None, None, None, None, None),
    (
        "quotes ' \" back\\slash \t tab \n newline, comma; drop table x",
        0,
        float("inf"),
        None,
        dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),  # same instant kept
        dt.date(9999, 12, 31),
        "a json string",
    ),
    ("x", 42, 1.5e300, True, dt.datetime(2000, 1, 1, tzinfo=UTC), dt.date(2000, 1, 1), 7),
]


def keys_for(mode: str, *keys: str) -> list[str]:
    return list(keys) if mode == "merge" else []


# --------------------------------------------------------------------------- DDL


def test_ensure_table_creates_typed_columns_lineage_and_indexes(pg: Pg) -> None:
    loader = pg.loader("readings", ALL_TYPES, mode="merge", keys=["s", "i"])
    loader.ensure_table()
    loader.ensure_table()  # idempotent
    assert pg.columns("readings") == {
        "s": "text",
        "i": "bigint",
        "f": "double precision",
        "b": "boolean",
        "ts": "timestamp with time zone",
        "d": "date",
        "j": "jsonb",
        "_raw_object_id": "text",
        "_source_row": "integer",
        "_loaded_at": "timestamp with time zone",
    }
    indexes = pg.indexes("readings")
    assert "USING brin (_raw_object_id text_bloom_ops)" in indexes["readings_lineage"]
    assert "CREATE UNIQUE INDEX readings_merge_key" in indexes["readings_merge_key"]
    assert indexes["readings_merge_key"].endswith("(s, i)")
    assert pg.query(sql.SQL("SELECT * FROM {}").format(sql.Identifier(pg.schema, "_datalake_objects"))) == [
        ("readings", "")  # the table is tracked: its loads are recorded
    ]
    nullable = dict(
        pg.query(
            "SELECT column_name, is_nullable FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = 'readings'",
            [pg.schema],
        )
    )
    assert {c for c, n in nullable.items() if n == "NO"} == {"_raw_object_id", "_source_row", "_loaded_at"}


def test_long_table_name_gets_distinct_index_names(pg: Pg) -> None:
    table = "t" * 63
    pg.loader(table, fields_of(a="int"), mode="merge", keys=["a"]).ensure_table()
    names = set(pg.indexes(table))
    assert len(names) == 2
    assert all(len(n) <= 63 and n != table for n in names)


# --------------------------------------------------------------------------- round trip, re-runs


@pytest.mark.parametrize("mode", MODES)
def test_all_types_round_trip_exactly(pg: Pg, mode: str) -> None:
    loader = pg.loader("typed", ALL_TYPES, mode=mode, keys=keys_for(mode, "i"))
    loader.ensure_table()
    # merge keys must not be null: give the all-null row a key there
    rows = [(*r[:1], 99, *r[2:]) if mode == "merge" and r[1] is None else r for r in TYPED_ROWS]
    result = loader.load("obj-1", batches_of(NAMES, rows, size=2))
    assert (result.rows_in, result.rows_written, result.mode) == (5, 5, mode)
    assert result.table == f"{pg.schema}.typed"
    got = pg.rows("typed", [*NAMES, "_raw_object_id", "_source_row"])
    assert got == [(*row, "obj-1", n) for n, row in enumerate(rows, start=1)]
    assert all(r[4] is None or r[4].utcoffset() is not None for r in got)  # timestamptz comes back aware
    assert loader.count_object_rows("obj-1") == 5
    assert loader.count_object_rows("other") == 0
    loaded_at = pg.query(
        sql.SQL("SELECT DISTINCT _loaded_at FROM {}").format(sql.Identifier(pg.schema, "typed"))
    )
    assert len(loaded_at) == 1  # one transaction, one now()


@pytest.mark.parametrize("mode", MODES)
def test_rerunning_an_object_changes_nothing(pg: Pg, mode: str) -> None:
    loader = pg.loader("rerun", fields_of(k="int", v="string"), mode=mode, keys=keys_for(mode, "k"))
    loader.ensure_table()
    rows = [(i, f"v{i}") for i in range(10)]
    first = loader.load("obj-1", batches_of(["k", "v"], rows, size=3))
    before = pg.rows("rerun", ["k", "v", "_raw_object_id", "_source_row"])
    second = loader.load("obj-1", batches_of(["k", "v"], rows, size=4))  # other batching, same numbering
    assert first.rows_written == 10
    # replace_object rewrites its rows; append and merge find nothing to change
    assert second.rows_written == (10 if mode == "replace_object" else 0)
    assert second.rows_in == 10
    assert pg.rows("rerun", ["k", "v", "_raw_object_id", "_source_row"]) == before
    assert pg.count("rerun") == loader.count_object_rows("obj-1") == 10


def test_unknown_table_counts_zero(pg: Pg) -> None:
    assert pg.loader("nothing_here", fields_of(a="int")).count_object_rows("obj") == 0


# --------------------------------------------------------------------------- modes


def test_merge_updates_by_key_and_last_row_in_file_wins(pg: Pg) -> None:
    loader = pg.loader(
        "sensors", fields_of(room="string", unit="string", value="float"), "merge", ["room", "unit"]
    )
    loader.ensure_table()
    cols = ["room", "unit", "value"]
    loader.load("obj-a", [make_batch(cols, [("u4-302", "temp", 20.0), ("u4-302", "hum", 40.0)])])
    result = loader.load(
        "obj-b",
        batches_of(
            cols,
            [
                ("u4-302", "temp", 21.0),  # row 1: superseded by row 3 of the same file
                ("u4-101", "temp", 18.0),  # row 2: a new key
                ("u4-302", "temp", 22.5),  # row 3: last in file wins
            ],
            size=1,
        ),
    )
    assert result.rows_in == 3 and result.rows_written == 2  # one update, one insert
    assert pg.rows("sensors", [*cols, "_raw_object_id", "_source_row"], order=["room", "unit"]) == [
        ("u4-101", "temp", 18.0, "obj-b", 2),
        ("u4-302", "hum", 40.0, "obj-a", 2),
        ("u4-302", "temp", 22.5, "obj-b", 3),  # lineage follows the last writer
    ]
    # re-running the older object makes it the last writer again (merge is order-dependent by design)
    loader.load("obj-a", [make_batch(cols, [("u4-302", "temp", 20.0), ("u4-302", "hum", 40.0)])])
    temp = sql.SQL("SELECT value FROM {} WHERE unit = 'temp' AND room = 'u4-302'")
    assert pg.query(temp.format(sql.Identifier(pg.schema, "sensors"))) == [(20.0,)]
    assert pg.count("sensors") == 3


def test_merge_rerun_after_row_changes_key(pg: Pg) -> None:
    """A new descriptor version may give row n another key: the stale row of that lineage goes."""
    loader = pg.loader("rekey", fields_of(k="string", v="int"), "merge", ["k"])
    loader.ensure_table()
    loader.load("obj", [make_batch(["k", "v"], [("a", 1), ("b", 2)])])
    loader.load("obj", [make_batch(["k", "v"], [("A", 1), ("b", 2)])])
    assert pg.rows("rekey", ["k", "v", "_source_row"], order=["k"]) == [("A", 1, 1), ("b", 2, 2)]


def test_merge_null_key_rolls_back(pg: Pg) -> None:
    loader = pg.loader("nullkey", fields_of(k="string", v="int"), "merge", ["k"])
    loader.ensure_table()
    with pytest.raises(GoldLoadError, match=r"nullkey \(merge\).*merge key column k is null.*\(null, 2, 2\)"):
        loader.load("obj", [make_batch(["k", "v"], [("a", 1), (None, 2)])])
    assert pg.count("nullkey") == 0


def test_replace_object_keeps_only_the_new_version(pg: Pg) -> None:
    loader = pg.loader("replaced", fields_of(k="int", v="string"))
    loader.ensure_table()
    loader.load("obj-1", batches_of(["k", "v"], [(i, "old") for i in range(5)]))
    result = loader.load("obj-1", [make_batch(["k", "v"], [(100, "new"), (101, "new")])])
    assert (result.rows_in, result.rows_written) == (2, 2)
    assert pg.rows("replaced", ["k", "v", "_source_row"]) == [(100, "new", 1), (101, "new", 2)]


@pytest.mark.parametrize("mode", MODES)
def test_two_objects_coexist(pg: Pg, mode: str) -> None:
    loader = pg.loader("two", fields_of(k="string", v="int"), mode=mode, keys=keys_for(mode, "k"))
    loader.ensure_table()
    loader.load("obj-a", [make_batch(["k", "v"], [("a1", 1), ("a2", 2)])])
    loader.load("obj-b", [make_batch(["k", "v"], [("b1", 10), ("b2", 20), ("b3", 30)])])
    loader.load("obj-a", [make_batch(["k", "v"], [("a1", 1), ("a2", 2)])])  # re-run of one leaves the other
    assert loader.count_object_rows("obj-a") == 2
    assert loader.count_object_rows("obj-b") == 3
    assert pg.rows("two", ["k", "v", "_raw_object_id"], order=["k"]) == [
        ("a1", 1, "obj-a"),
        ("a2", 2, "obj-a"),
        ("b1", 10, "obj-b"),
        ("b2", 20, "obj-b"),
        ("b3", 30, "obj-b"),
    ]


def test_append_rerun_with_more_rows_adds_only_the_new_ones(pg: Pg) -> None:
    loader = pg.loader("grow", fields_of(v="string"), "append")
    loader.ensure_table()
    loader.load("obj", [make_batch(["v"], [("a",), ("b",)])])
    result = loader.load("obj", [make_batch(["v"], [("a",), ("b",), ("c",)])])
    assert result.rows_written == 1
    assert pg.rows("grow", ["v", "_source_row"]) == [("a", 1), ("b", 2), ("c", 3)]


# --------------------------------------------------------------------------- evolution


def test_new_descriptor_version_adds_a_column_and_keeps_old_rows(pg: Pg) -> None:
    v1 = fields_of(room="string", value="float")
    v2 = fields_of(room="string", value="float", unit="string", seen="timestamp")
    pg.loader("evolving", v1).ensure_table()
    pg.loader("evolving", v1).load("obj-1", [make_batch(["room", "value"], [("r1", 1.0)])])
    loader2 = pg.loader("evolving", v2)
    loader2.ensure_table()
    assert pg.columns("evolving")["unit"] == "text"
    assert pg.columns("evolving")["seen"] == "timestamp with time zone"
    when = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    loader2.load("obj-2", [make_batch(["room", "value", "unit", "seen"], [("r2", 2.0, "°C", when)])])
    assert pg.rows("evolving", ["room", "value", "unit", "seen", "_raw_object_id"]) == [
        ("r1", 1.0, None, None, "obj-1"),
        ("r2", 2.0, "°C", when, "obj-2"),
    ]
    # the old version still loads (it does not write the new columns), and removes nothing
    pg.loader("evolving", v1).ensure_table()
    pg.loader("evolving", v1).load("obj-3", [make_batch(["room", "value"], [("r3", 3.0)])])
    assert set(pg.columns("evolving")) >= {"room", "value", "unit", "seen"}
    assert pg.count("evolving") == 3


def test_retyped_field_is_a_clear_error_and_changes_nothing(pg: Pg) -> None:
    pg.loader("retyped", fields_of(room="string", value="int")).ensure_table()
    pg.loader("retyped", fields_of(room="string", value="int")).load(
        "o", [make_batch(["room", "value"], [("r", 1)])]
    )
    before = pg.columns("retyped")
    v2 = fields_of(room="string", value="string", extra="json")  # value: int -> string, plus a new field
    with pytest.raises(GoldSchemaError) as info:
        pg.loader("retyped", v2).ensure_table()
    message = str(info.value)
    for part in (f"{pg.schema}.retyped", "column value", "bigint", "string (text)"):
        assert part in message
    assert pg.columns("retyped") == before  # `extra` was not added either
    assert pg.rows("retyped", ["room", "value"]) == [("r", 1)]


def test_changed_merge_keys_are_a_clear_error(pg: Pg) -> None:
    fields = fields_of(a="int", b="int")
    pg.loader("keys", fields, "merge", ["a"]).ensure_table()
    with pytest.raises(GoldSchemaError, match=r"keys_merge_key is on \(a\).*merge keys are \(a, b\)"):
        pg.loader("keys", fields, "merge", ["a", "b"]).ensure_table()


def test_foreign_table_without_lineage_is_refused(pg: Pg) -> None:
    pg.query(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(pg.schema)))
    pg.query(sql.SQL("CREATE TABLE {} (a bigint)").format(sql.Identifier(pg.schema, "legacy")))
    with pytest.raises(
        GoldSchemaError, match="not a data lake gold table: lineage column _raw_object_id is missing"
    ):
        pg.loader("legacy", fields_of(a="int")).ensure_table()


# --------------------------------------------------------------------------- identifiers


@pytest.mark.parametrize(
    "bad",
    [
        {"table": "x; drop table y"},
        {"table": 'x"; drop table y; --'},
        {"table": "Readings"},
        {"table": "ok", "schema": "public; drop schema public"},
        {"table": "ok", "mode": "merge", "keys": ["id) do nothing; --"]},
    ],
)
def test_injection_through_a_name_fails_validation(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        PostgresTarget(**bad)


def test_injection_through_a_field_name_fails_validation() -> None:
    with pytest.raises(ValidationError):
        FieldSpec(name='a" text); drop table y; --')


def test_lineage_names_cannot_be_fields(pg: Pg) -> None:
    with pytest.raises(ValueError, match="reserved for the lineage"):
        pg.loader("t", fields_of(_source_row="int"))


@pytest.mark.parametrize("mode", MODES)
def test_reserved_word_columns_work_because_they_are_quoted(pg: Pg, mode: str) -> None:
    words = [("select", "string"), ("user", "string"), ("order", "int"), ("table", "json"), ("from", "bool")]
    fields = [FieldSpec(name=name, type=typ) for name, typ in words]
    names = [f.name for f in fields]
    loader = pg.loader("select", fields, mode=mode, keys=keys_for(mode, "order", "user"))
    loader.ensure_table()
    rows = [("s1", "alice", 1, {"k": 1}, True), ("s2", "bob", 2, None, False)]
    loader.load("obj", [make_batch(names, rows)])
    loader.load("obj", [make_batch(names, rows)])
    assert pg.rows("select", names, order=["order"]) == rows


# --------------------------------------------------------------------------- atomicity


@pytest.mark.parametrize("mode", MODES)
def test_wrong_type_mid_load_rolls_back_the_whole_object(pg: Pg, mode: str) -> None:
    loader = pg.loader("atomic", fields_of(k="int", v="string"), mode=mode, keys=keys_for(mode, "k"))
    loader.ensure_table()
    loader.load("obj", [make_batch(["k", "v"], [(1, "one"), (2, "two"), (3, "three")])])
    before = pg.rows("atomic", ["k", "v", "_raw_object_id", "_source_row", "_loaded_at"])

    def second_version() -> Iterator[Batch]:
        yield make_batch(["k", "v"], [(1, "ONE"), (2, "TWO")], first=1)  # written to the COPY stream...
        yield make_batch(["k", "v"], [(3, "THREE"), ("four", "FOUR")], first=3)  # ...then a str in bigint

    with pytest.raises(GoldLoadError, match=r"source row 4, column k \(int\): str value 'four'"):
        loader.load("obj", second_version())
    assert pg.rows("atomic", ["k", "v", "_raw_object_id", "_source_row", "_loaded_at"]) == before
    assert loader.count_object_rows("obj") == 3


@pytest.mark.parametrize("mode", MODES)
def test_failure_in_the_batch_source_rolls_back(pg: Pg, mode: str) -> None:
    """E.g. the quarantine ratio check, raised by the batch iterator after the last batch."""
    loader = pg.loader("source_fails", fields_of(k="int"), mode=mode, keys=keys_for(mode, "k"))
    loader.ensure_table()

    def source() -> Iterator[Batch]:
        yield make_batch(["k"], [(1,), (2,)])
        raise RuntimeError("too many bad rows")

    with pytest.raises(RuntimeError, match="too many bad rows"):
        loader.load("obj", source())
    assert pg.count("source_fails") == 0


def test_the_heap_is_frozen_during_a_load_only(pg: Pg) -> None:
    loader = pg.loader("gc", fields_of(k="int"))
    loader.ensure_table()
    seen = []

    def source() -> Iterator[Batch]:
        seen.append(gc.get_freeze_count())
        yield make_batch(["k"], [(1,)])
        raise RuntimeError("boom")

    before = gc.get_freeze_count()
    with pytest.raises(RuntimeError):
        loader.load("obj", source())
    assert seen[0] > before  # the objects of before the load were parked...
    assert gc.get_freeze_count() == before  # ...and given back, even on failure


def test_server_side_error_rolls_back(pg: Pg) -> None:
    """A NUL character is refused by the server (not the client): same rollback, the error says where."""
    loader = pg.loader("server_err", fields_of(v="string"))
    loader.ensure_table()
    loader.load("obj", [make_batch(["v"], [("kept",)])])
    with pytest.raises(GoldLoadError, match=r"(rolled back|source row 2, column v)"):
        loader.load("obj", [make_batch(["v"], [("fine",), ("nul \x00 inside",)])])
    assert pg.rows("server_err", ["v"]) == [("kept",)]


def test_load_before_ensure_table_says_what_to_do(pg: Pg) -> None:
    pg.loader("first", fields_of(a="int")).ensure_table()
    with pytest.raises(GoldLoadError, match=r"UndefinedColumn.*run ensure_table\(\) with this descriptor"):
        pg.loader("first", fields_of(a="int", b="int")).load("obj", [make_batch(["a", "b"], [(1, 2)])])


def test_batch_of_another_shape_is_refused(pg: Pg) -> None:
    loader = pg.loader("shape", fields_of(a="int", b="int"))
    loader.ensure_table()
    with pytest.raises(GoldLoadError, match="do not match the descriptor's fields"):
        loader.load("obj", [make_batch(["b", "a"], [(1, 2)])])
    assert pg.count("shape") == 0


# --------------------------------------------------------------------------- concurrency


def _in_threads(n: int, work: Any) -> list[BaseException]:
    barrier, errors = threading.Barrier(n), []

    def run(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except BaseException as exc:  # collected and asserted on by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def test_concurrent_ensure_table_from_four_threads(pg: Pg) -> None:
    """Fresh schema and table, two descriptor versions racing: all succeed, one table with every column."""
    versions = [fields_of(a="int", b="string"), fields_of(a="int", b="string", c="json", d="date")]
    loaders = [pg.loader("raced", versions[i % 2], "merge", ["a"]) for i in range(4)]
    errors = _in_threads(4, lambda i: loaders[i].ensure_table())
    assert errors == []
    assert set(pg.columns("raced")) == {"a", "b", "c", "d", "_raw_object_id", "_source_row", "_loaded_at"}
    assert set(pg.indexes("raced")) == {"raced_lineage", "raced_merge_key"}


@pytest.mark.parametrize("mode", MODES)
def test_concurrent_loads_of_objects_into_one_table(pg: Pg, mode: str) -> None:
    loader = pg.loader("parallel", fields_of(k="string", v="int"), mode=mode, keys=keys_for(mode, "k"))
    loader.ensure_table()

    def load(i: int) -> None:
        # objects 0 and 2 are the same object (a retry racing its zombie): serialised by the object lock
        obj = f"obj-{i % 2 if i < 3 else i}"
        PostgresLoader(loader.hook, loader.target, loader.fields).load(
            obj, batches_of(["k", "v"], [(f"{obj}-{r}", r) for r in range(500)], size=100)
        )

    assert _in_threads(4, load) == []
    assert [loader.count_object_rows(o) for o in ("obj-0", "obj-1", "obj-3")] == [500, 500, 500]
    assert pg.count("parallel") == 1500


def test_connection_asking_for_dict_rows_still_works(
    pg: Pg, postgres_conn: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    extra = {**(postgres_conn.get("extra") or {}), "cursor": "dictcursor"}
    monkeypatch.setenv("AIRFLOW_CONN_POSTGRES_DICTROWS", json.dumps({**postgres_conn, "extra": extra}))
    target = PostgresTarget(
        conn_id="postgres_dictrows", schema=pg.schema, table="dicts", mode="merge", keys=["k"]
    )
    loader = PostgresLoader(PostgresHook(postgres_conn_id="postgres_dictrows"), target, fields_of(k="int"))
    loader.ensure_table()
    loader.ensure_table()
    assert loader.load("obj", [make_batch(["k"], [(1,), (2,)])]).rows_written == 2
    assert loader.count_object_rows("obj") == 2


# --------------------------------------------------------------------------- Arrow batches, lineage index


def _csv_batches(data: bytes, fields: list[FieldSpec], *, columnar: bool, batch_size: int = 3) -> list[Any]:
    """The parser's batches of a CSV: `ColumnarBatch`es (Arrow) or plain row batches."""
    from airflow_provider_datalake.descriptors.model import Descriptor
    from airflow_provider_datalake.parsing import columnar as fast
    from airflow_provider_datalake.parsing import parse

    desc = Descriptor.model_validate(
        {
            "name": "t",
            "parser": {"kind": "csv"},
            "fields": [f.model_dump(exclude_none=True) for f in fields],
            "targets": [{"store": "postgres", "table": "t"}],
        }
    )
    saved, fast.ENABLED = fast.ENABLED, columnar
    try:
        batches = list(parse(desc, [data], batch_size=batch_size))
    finally:
        fast.ENABLED = saved
    assert all(hasattr(b, "arrow") == columnar for b in batches)
    return batches


ARROW_FIELDS = fields_of(s="string", i="int", f="float", b="bool", ts="timestamp", d="date")
ARROW_CSV = (
    "s,i,f,b,ts,d\n"
    'héllo ✓ "x",9223372036854775807,3.141592653589793,true,2024-03-10T01:59:59.123456+00:00,2024-02-29\n'
    ",-9223372036854775808,-1e-300,no,2024-06-01 12:00:00,0001-01-01\n"
    "NA,,,,,\n"
    '"a,b\nc",+42,1e300,1,1700000000,9999-12-31\n'
    "x,7,2.5,F,2024-06-01T12:00:00+02:00,2000-01-01\n"
).encode()


@pytest.mark.parametrize("mode", MODES)
def test_arrow_batches_load_exactly_as_row_batches(pg: Pg, mode: str) -> None:
    names = [f.name for f in ARROW_FIELDS]
    for table, columnar in (("arrow", True), ("rows", False)):
        loader = pg.loader(table, ARROW_FIELDS, mode=mode, keys=keys_for(mode, "s"))
        loader.ensure_table()
        data = ARROW_CSV if mode != "merge" else ARROW_CSV.replace(b"NA,", b"k,").replace(b"\n,-9", b"\nm,-9")
        for _ in range(2):  # a re-run changes nothing
            result = loader.load("obj", _csv_batches(data, ARROW_FIELDS, columnar=columnar))
            assert result.rows_in == 5
    got = pg.rows("arrow", [*names, "_raw_object_id", "_source_row"])
    assert got == pg.rows("rows", [*names, "_raw_object_id", "_source_row"])
    assert len(got) == 5 and got[0][0] == 'héllo ✓ "x"' and got[3][0] == "a,b\nc"


def test_arrow_load_rolls_back_on_a_server_error(pg: Pg) -> None:
    loader = pg.loader("arrow_fail", fields_of(v="int"))
    loader.ensure_table()
    loader.load("obj", _csv_batches(b"v\n1\n", fields_of(v="int"), columnar=True))

    def source() -> Iterator[Any]:
        yield from _csv_batches(b"v\n5\n6\n7\n8\n", fields_of(v="int"), columnar=True, batch_size=2)
        raise RuntimeError("too many bad rows")

    with pytest.raises(RuntimeError, match="too many bad rows"):
        loader.load("obj", source())
    assert pg.rows("arrow_fail", ["v"]) == [(1,)]


@pytest.mark.parametrize("mode", MODES)
def test_a_table_of_the_previous_version_still_loads(pg: Pg, mode: str) -> None:
    """Tables created with the unique (object, row) lineage btree and no ledger: tolerated, not migrated."""
    fields = fields_of(k="int", v="string")
    pg.query(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(pg.schema)))
    pg.query(
        sql.SQL(
            "CREATE TABLE {t} (k bigint, v text, _raw_object_id text NOT NULL, _source_row integer NOT NULL,"
            " _loaded_at timestamptz NOT NULL DEFAULT now());"
            " CREATE UNIQUE INDEX old_lineage_key ON {t} (_raw_object_id, _source_row)"
        ).format(t=sql.Identifier(pg.schema, "old"))
    )
    loader = pg.loader("old", fields, mode=mode, keys=keys_for(mode, "k"))
    loader.ensure_table()
    assert "old_lineage" not in pg.indexes("old")  # the old index finds an object's rows: no BRIN added
    rows = [(i, f"v{i}") for i in range(5)]
    loader.load("obj", batches_of(["k", "v"], rows))
    again = loader.load(
        "obj",
        _csv_batches(
            b"k,v\n" + b"".join(b"%d,%s\n" % (k, v.encode()) for k, v in rows), fields, columnar=True
        ),
    )
    assert again.rows_written == (5 if mode == "replace_object" else 0)
    assert pg.rows("old", ["k", "v", "_source_row"]) == [(i, f"v{i}", i + 1) for i in range(5)]


def test_the_ledger_spares_first_loads_a_lookup_and_replace_finds_old_rows(pg: Pg) -> None:
    loader = pg.loader("ledgered", fields_of(k="int"))
    loader.ensure_table()
    loader.load("a", [make_batch(["k"], [(1,), (2,)])])
    loader.load("b", [make_batch(["k"], [(3,)])])
    loader.load("a", [make_batch(["k"], [(10,)])])  # replace: the ledger says `a` is there, its rows go
    ledger = sql.SQL("SELECT raw_object_id FROM {} ORDER BY 1").format(
        sql.Identifier(pg.schema, "_datalake_objects")
    )
    assert pg.query(ledger) == [("",), ("a",), ("b",)]
    assert pg.rows("ledgered", ["k", "_raw_object_id"]) == [(10, "a"), (3, "b")]
