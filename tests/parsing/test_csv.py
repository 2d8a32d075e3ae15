"""CSV: lab exports in both locales, and the ways real CSV files break."""

from __future__ import annotations

import itertools
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from airflow_provider_datalake.parsing import ParseError, parse
from airflow_provider_datalake.samples import write_lab_csv
from tests.parsing.helpers import descriptor, lab_descriptor, run, sample

SIMPLE = [
    {"name": "name", "required": True},
    {"name": "qty", "type": "int"},
    {"name": "price", "type": "float"},
]


def simple(**parser: object):
    return descriptor({"kind": "csv", **parser}, SIMPLE)


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_lab_export_is_typed_in_both_locales(locale: str) -> None:
    data = sample(write_lab_csv, 300, seed=4, locale=locale)
    parsed = run(lab_descriptor(locale), data)
    assert len(parsed.rows) + len(parsed.bad) == 300  # preamble and header are not records
    assert not parsed.bad, parsed.bad[:3]
    first = parsed.dicts()[0]
    assert first["day"] == date(2019, 3, 16)
    assert first["at"] == datetime(2019, 3, 16, 8, 0, tzinfo=UTC)
    rows = parsed.dicts()
    for key, kind in (("sensor", int), ("value", float), ("volume", int), ("change", float)):
        assert all(isinstance(r[key], kind) for r in rows if r[key] is not None), key
        assert sum(r[key] is not None for r in rows) > 250, key
    # Quoted descriptions keep their delimiter and doubled quotes.
    delimiter = ";" if locale == "fr" else ","
    assert any(delimiter in r["description"] for r in rows)
    assert any('"CO2"' in r["description"] for r in rows)
    # Empty cells are nulls, not errors (value, volume, operator are optional).
    assert any(r["value"] is None for r in rows)
    assert any(r["operator"] is None for r in rows)


def test_fr_and_en_exports_of_one_seed_give_the_same_numbers() -> None:
    fr = run(lab_descriptor("fr"), sample(write_lab_csv, 200, seed=9, locale="fr")).dicts()
    en = run(lab_descriptor("en"), sample(write_lab_csv, 200, seed=9, locale="en")).dicts()
    for a, b in zip(fr, en, strict=True):
        for key in ("day", "at", "sensor", "value", "volume", "change"):
            assert a[key] == b[key], key


def test_locale_numbers_by_parser_defaults() -> None:
    data = b"name;qty;price\r\nbolt;1 204;4 090,8\r\nnut;12,0;-0,5\r\n"
    parsed = run(simple(delimiter=";", decimal=",", thousands=" "), data)
    assert parsed.rows == [("bolt", 1204, 4090.8), ("nut", 12, -0.5)]
    data = b'name,qty,price\nbolt,"1,204","4,090.8"\n'
    assert run(simple(thousands=","), data).rows == [("bolt", 1204, 4090.8)]


def test_null_values_and_bad_values() -> None:
    data = b"name,qty,price\na,NA,1.5\nb,2,abc\n,3,1\nd,2.5,-\n"
    parsed = run(simple(), data)
    assert parsed.rows == [("a", None, 1.5)]
    assert parsed.numbers == [1]
    assert [(b.row_number, b.field, b.value, b.error) for b in parsed.bad] == [
        (2, "price", "abc", "expected float, got 'abc'"),
        (3, "name", None, "required field is null"),
        (4, "qty", "2.5", "expected int, got '2.5'"),
    ]
    assert parsed.bad[0].record == "b,2,abc"


def test_missing_column_is_a_row_error_for_required_fields_and_default_fills() -> None:
    fields = [
        {"name": "name", "required": True},
        {"name": "site", "default": "rangueil"},
        {"name": "code", "required": True},
    ]
    parsed = run(descriptor({"kind": "csv"}, fields), b"name\nx\n")
    assert parsed.rows == []
    assert (parsed.bad[0].field, parsed.bad[0].error) == ("code", "required field missing")
    fields.pop()
    assert run(descriptor({"kind": "csv"}, fields), b"name\nx\n").rows == [("x", "rangueil")]


def test_ragged_rows_are_quarantined_and_the_rest_continues() -> None:
    data = b"name,qty,price\na,1,2\nb,1\nc,1,2,3\nd,4,5\n"
    parsed = run(simple(), data)
    assert parsed.rows == [("a", 1, 2.0), ("d", 4, 5.0)]
    assert parsed.numbers == [1, 4]
    assert [(b.row_number, b.field, b.error, b.record) for b in parsed.bad] == [
        (2, None, "expected 3 columns, got 2", "b,1"),
        (3, None, "expected 3 columns, got 4", "c,1,2,3"),
    ]


def test_a_latin1_row_in_a_utf8_file_costs_one_row() -> None:
    data = "name,qty,price\nété,1,2\n".encode() + "café,2,3\n".encode("latin-1") + b"ok,3,4\n"
    parsed = run(simple(), data)
    assert parsed.rows == [("été", 1, 2.0), ("ok", 3, 4.0)]
    (bad,) = parsed.bad
    assert (bad.row_number, bad.field) == (2, None)
    assert "cannot decode line 3 as utf-8" in bad.error and "0xe9" in bad.error
    assert bad.record == "caf\ufffd,2,3"


def test_declared_latin1_decodes_and_unknown_encoding_fails_early() -> None:
    data = "name,qty,price\ncafé,2,3\n".encode("latin-1")
    assert run(simple(encoding="latin-1"), data).rows == [("café", 2, 3.0)]
    with pytest.raises(ValueError, match="unknown encoding"):
        parse(simple(encoding="no-such-codec"), [data])


def test_utf16_is_transcoded_and_a_bom_is_dropped() -> None:
    text = "name,qty,price\ncafé,2,3\n"
    assert run(simple(encoding="utf-16"), text.encode("utf-16")).rows == [("café", 2, 3.0)]
    assert run(simple(), b"\xef\xbb\xbf" + text.encode()).rows == [("café", 2, 3.0)]


def test_undecodable_header_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="header"):
        list(parse(simple(), [b"name,q\xe9,price\na,1,2\n"]))


@pytest.mark.parametrize("data", [b"", b"\n\n", b"\xef\xbb\xbf", b"name,qty,price\n", b"name,qty,price\n\n"])
def test_empty_input_gives_no_batch(data: bytes) -> None:
    assert list(parse(simple(), [data])) == []
    assert list(parse(simple(), [])) == []


def test_preamble_is_skipped_as_lines_even_if_it_is_not_csv() -> None:
    data = b'Export "broken\n; ; ;\nname,qty,price\na,1,2\n'
    assert run(simple(skip_rows=2), data).rows == [("a", 1, 2.0)]
    assert list(parse(simple(skip_rows=5), [data])) == []


def test_no_header_names_columns_by_position_and_blank_lines_are_not_records() -> None:
    fields = [{"name": "a", "source": "1"}, {"name": "c", "source": "3", "type": "int"}]
    desc = descriptor({"kind": "csv", "header": False, "delimiter": "|"}, fields)
    parsed = run(desc, b"x|y|1\n\n\nz|w|2\nshort\n")
    assert parsed.rows == [("x", 1), ("z", 2)]
    assert parsed.numbers == [1, 2]
    assert parsed.bad[0].row_number == 3


def test_quoted_cells_span_lines_and_record_keeps_them() -> None:
    data = b'name,qty,price\r\n"two\r\nlines, and ""quotes""",1,2\r\nb,2,x\r\n'
    parsed = run(simple(), data)
    assert parsed.rows == [('two\r\nlines, and "quotes"', 1, 2.0)]
    assert parsed.bad[0].row_number == 2


def test_duplicate_header_names_are_kept_apart() -> None:
    fields = [{"name": "first", "source": "v"}, {"name": "second", "source": "v.1"}]
    assert run(descriptor({"kind": "csv"}, fields), b" v ,v\n1,2\n").rows == [("1", "2")]


def test_chunk_boundaries_do_not_matter() -> None:
    data = sample(write_lab_csv, 120, seed=2, locale="fr")
    whole = run(lab_descriptor("fr"), data)
    for size in (1, 2, 3, 7, 64, 1000):
        again = run(lab_descriptor("fr"), data, chunk=size)
        assert (again.rows, again.numbers, again.bad) == (whole.rows, whole.numbers, whole.bad)


def _with_huge_cell(size: int) -> Iterator[bytes]:
    """A CSV whose second row holds a quoted `size`-byte cell, produced 1 MiB at a time."""
    yield b"name,qty,price\nbefore,1,1\n" + b'"'
    block = 1 << 20
    for _ in range(size // block):
        yield b"x" * block  # a new object each time, as a network stream gives
    yield b'",2,2\nafter,3,3\n'


def test_a_50_mb_cell_is_quarantined_with_bounded_memory() -> None:
    tracemalloc.start()
    try:
        batches = list(parse(simple(), _with_huge_cell(50 << 20)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    rows = [r for b in batches for r in b.rows]
    bad = [r for b in batches for r in b.bad]
    assert rows == [("before", 1, 1.0), ("after", 3, 3.0)]
    assert [b.row_number for b in batches for b in b.bad] == [2]
    assert "longer than" in bad[0].error
    assert bad[0].record is not None and len(bad[0].record) <= 2000
    assert peak < 24 << 20, f"peak {peak / 1e6:.0f} MB while a 50 MB line went by"  # the 16 MiB cap


def test_a_cell_over_the_csv_field_limit_is_quarantined() -> None:
    data = b"name,qty,price\na,1,1\n" + b'"' + b"y" * 200_000 + b'",2,2\nb,3,3\n'
    parsed = run(simple(), data)
    assert parsed.rows == [("a", 1, 1.0), ("b", 3, 3.0)]
    assert "field larger than field limit" in parsed.bad[0].error


def test_runaway_quote_resyncs_on_balanced_quotes() -> None:
    # Line 3 opens a quoted cell that only closes on line 5; csv.Error is not raised here, the record is
    # simply ragged, and reading resumes cleanly afterwards.
    data = b'name,qty,price\na,1,1\n"open,2,2\nstill\nclosed",3\nz,9,9\n'
    parsed = run(simple(), data)
    assert parsed.rows == [("a", 1, 1.0), ("z", 9, 9.0)]
    assert [b.row_number for b in parsed.bad] == [2]


def test_batches_hold_at_most_batch_size_records_good_or_bad() -> None:
    lines = (f"n{i},{i if i % 3 else 'x'},1\n".encode() for i in range(25))
    data = b"name,qty,price\n" + b"".join(lines)
    parsed = run(simple(), data, batch_size=4)
    assert [len(b.rows) + len(b.bad) for b in parsed.batches] == [4, 4, 4, 4, 4, 4, 1]
    assert len(parsed.bad) == 9


def test_columns_are_a_fresh_list_per_batch() -> None:
    batches = list(parse(simple(), [b"name,qty,price\na,1,1\nb,2,2\n"], batch_size=1))
    batches[0].columns.append("oops")
    assert batches[1].columns == ["name", "qty", "price"]


def test_rows_of_many_kinds_in_one_file() -> None:
    fields = [
        {"name": "flag", "type": "bool"},
        {"name": "doc", "type": "json"},
        {"name": "day", "type": "date"},
    ]
    data = b'flag;doc;day\noui;{"a": [1, 2]};2024-02-29\nNon;[];2024-03-01T10:00:00+02:00\n'
    rows = run(descriptor({"kind": "csv", "delimiter": ";"}, fields), data).rows
    assert rows == [(True, {"a": [1, 2]}, date(2024, 2, 29)), (False, [], date(2024, 3, 1))]


def test_same_bytes_same_output() -> None:
    data = sample(write_lab_csv, 50, seed=1, locale="en")
    runs = [run(lab_descriptor("en"), data) for _ in range(2)]
    assert runs[0].rows == runs[1].rows and runs[0].numbers == runs[1].numbers


def test_bad_row_record_is_clipped() -> None:
    data = b"name,qty,price\n" + b"n" * 5000 + b",1,oops\n"
    (bad,) = run(simple(), data).bad
    assert bad.record is not None and len(bad.record) == 2000
    assert bad.value == "oops"
    assert bad.as_dict()["row_number"] == 1


def test_iterating_lazily_reads_lazily() -> None:
    pulled = itertools.count()

    def chunks() -> Iterator[bytes]:
        yield b"name,qty,price\n"
        for i in range(1000):
            next(pulled)
            yield f"n{i},1,1\n".encode() * 100

    batches = parse(simple(), chunks(), batch_size=100)
    next(batches)
    assert next(pulled) < 200  # about 64 KiB of small chunks gathered, not all 1000
