"""The columnar CSV path must be invisible: the row path's rows (and types), numbers and bad rows."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from airflow_provider_datalake.descriptors.model import Descriptor
from airflow_provider_datalake.parsing import columnar, parse
from airflow_provider_datalake.parsing.records import ColumnarBatch
from airflow_provider_datalake.samples import write_lab_csv
from tests.parsing.helpers import Parsed, descriptor, lab_descriptor, run, sample

TYPED = [
    {"name": "name", "required": True},
    {"name": "qty", "type": "int"},
    {"name": "price", "type": "float"},
    {"name": "at", "type": "timestamp"},
    {"name": "ok", "type": "bool"},
    {"name": "day", "type": "date"},
]

MESSY = (
    'Export "broken\n'  # a preamble with a stray quote: skipped as lines
    ";;;\n"
    "\n"
    "name;qty;price;at;ok;day\r\n"
    "a;1 204;4 090,8;2024-01-01T10:00:00Z;oui;2024-02-29\r\n"
    '"multi\r\nline; ""quoted""";+5;-0,5;2024-01-01 10:00:00;Non;2024-03-01T10:00:00+02:00\r\n'
    "b;NA;abc;not a time;maybe;2025-02-30\r\n"
    "\r\n"
    "c;1e3;1e999;1700000000;1;2024-01-01\r\n"
    "ragged;1\r\n"
    ";2;3;2024-01-01T00:00:00+05:30;0;\r\n"
    "é;3;4,5;2024-01-01T00:00:00.5;y;2024-01-01\r\n"
    "d;\xa012;1\u202f000,25;  2024-01-01T00:00:00  ;TRUE;-\r\n"
    "e;-0;.5;2024-01-01T23:59:60;vrai;2024-13-01\r\n"
    "f;99999999999999999999;1,5e3;2024-02-30T00:00:00;no;N/A\r\n"
    "g;1,5;1,;2024-06-01T12:00:00.1234567;t;2024-06-01"
)
MESSY_PARSER = {"kind": "csv", "delimiter": ";", "decimal": ",", "thousands": " ", "skip_rows": 2}


def _run(desc: Descriptor, data: bytes, *, fast: bool, **kwargs: Any) -> Parsed:
    saved = columnar.ENABLED
    columnar.ENABLED = fast
    try:
        parsed = run(desc, data, **kwargs)
    finally:
        columnar.ENABLED = saved
    assert all(isinstance(b, ColumnarBatch) == fast for b in parsed.batches)
    return parsed


def same(desc: Descriptor, data: bytes, *, batch_sizes: tuple[int, ...] = (10_000, 7, 1)) -> Parsed:
    """Compare the two paths on `data` with several batch sizes, chunkings and (tiny) block sizes."""
    reference = _run(desc, data, fast=False)
    for batch_size in batch_sizes:
        for chunk in (0, 5):
            got = _run(desc, data, fast=True, batch_size=batch_size, chunk=chunk)
            assert got.numbers == reference.numbers
            assert got.rows == reference.rows
            assert [tuple(map(type, r)) for r in got.rows] == [tuple(map(type, r)) for r in reference.rows]
            assert got.bad == reference.bad
            for row in got.rows:
                assert all(v.tzinfo is UTC for v in row if isinstance(v, datetime))
    return reference


@pytest.fixture(params=["1 MiB blocks", "tiny blocks"])
def blocks(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny blocks put boundaries everywhere: inside quoted cells, between CR and LF, in the header."""
    if request.param == "tiny blocks":
        monkeypatch.setattr(columnar, "FIRST_BLOCK_BYTES", 16)
        monkeypatch.setattr(columnar, "BLOCK_BYTES", 64)


def test_messy_csv(blocks: None) -> None:
    desc = descriptor(MESSY_PARSER, TYPED)
    ref = same(desc, MESSY.encode())
    assert len(ref.rows) == 4 and len(ref.bad) == 7  # the cases above do cover good and bad rows
    assert ref.rows[1][0] == 'multi\r\nline; "quoted"'
    assert {b.field for b in ref.bad} == {None, "name", "qty", "price", "at"}


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "utf-16"])
def test_other_encodings(blocks: None, encoding: str) -> None:
    text = MESSY.replace("\u202f", " ").replace("\xa0", " ")
    same(descriptor({**MESSY_PARSER, "encoding": encoding}, TYPED), text.encode(encoding))


def test_bom_undecodable_lines_and_nul(blocks: None) -> None:
    data = (
        "\ufeffname,qty,price\nété,1,2\n".encode() + "café,2,3\n".encode("latin-1") + b"ok,3,4\nn\x00l,5,6\n"
    )
    ref = same(descriptor({"kind": "csv"}, TYPED[:3]), data * 3)
    assert "cannot decode line 3" in ref.bad[0].error  # the line number of the whole file, not a block's


def test_lone_cr_line_ends_and_irregular_quotes(blocks: None) -> None:
    fields = TYPED[:3]
    same(descriptor({"kind": "csv"}, fields), b"name,qty,price\ra,1,2\rb,2,3\r")
    # A quote inside an unquoted cell: the row path takes over from the block where it appears.
    data = b"name,qty,price\n" + b"a,1,2\n" * 50 + b'b"c,2,3\n"d""",3,4\n' + b'"open,5,5\nx,6,6\n' * 3
    same(descriptor({"kind": "csv"}, fields), data)


def test_no_header_missing_columns_defaults_and_nulls(blocks: None) -> None:
    fields = [{"name": "a", "source": "1"}, {"name": "c", "source": "3", "type": "int", "required": True}]
    same(
        descriptor({"kind": "csv", "header": False, "delimiter": "|"}, fields),
        b"x|y|1\n\n\nz|w|2\nshort\n|q|NA\n",
    )
    fields = [
        {"name": "name"},
        {"name": "site", "default": "rangueil"},
        {"name": "code", "type": "int", "default": 7},
        {"name": "qty", "type": "int", "default": 0},
        {"name": "must", "required": True},
    ]
    same(descriptor({"kind": "csv"}, fields), b"name,qty\nx,\ny,NA\n,3\n")
    same(descriptor({"kind": "csv"}, fields[:4]), b"name,qty\nx,\ny,NA\n,3\n")


def test_cells_near_the_csv_field_limit_and_overlong_records(
    blocks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_datalake.parsing import lines

    monkeypatch.setattr(lines, "MAX_RECORD_BYTES", 300_000)
    monkeypatch.setattr(columnar, "MAX_PENDING", 200_000)
    data = (
        b"name,qty,price\na,1,1\n" + b'"' + b"y" * 140_000 + b'",2,2\nb,3,3\n' + b"z" * 320_000 + b"\nc,4,4\n"
    )
    ref = same(descriptor({"kind": "csv"}, TYPED[:3]), data, batch_sizes=(10_000, 2))
    assert [b.row_number for b in ref.bad] == [2, 4]


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_lab_exports_with_converters(blocks: None, locale: str) -> None:
    data = sample(write_lab_csv, 400, seed=7, locale=locale)
    lines = data.split(b"\n")
    lines[20] = lines[20].replace(b"%", b" pct")  # a bad percent, a bad suffix, a ragged row
    lines[30] = lines[30] + b";x,y"
    same(lab_descriptor(locale), b"\n".join(lines), batch_sizes=(10_000, 33))


def test_many_random_values(blocks: None) -> None:
    """Values drawn from what each field accepts and refuses, and null markers, in every position."""
    rng = random.Random(5)
    pool = {
        "qty": ["1", "-7", "+3", "1 000", "12,0", "2,5", "x", "", "NA", "9" * 19, "1e2", " 4 "],
        "price": ["1,5", ".5", "-0", "1e5", "1e400", "nan", "inf", "1 234,5", "abc", "", "-", "3,"],
        "at": [
            "2024-01-01T00:00:00Z",
            "2024-01-01 00:00:00",
            "2024-01-01T00:00:00-03:30",
            "2024-02-29T12:00:00.25",
            "2023-02-29T00:00:00",
            "1700000000.5",
            "0999-01-01T00:00:00",
            "yesterday",
            "",
        ],
        "ok": ["oui", "NON", "True", " yes ", "2", "", "f", "Vrai"],
        "day": ["2024-01-31", "2024-04-31", "2024-01-01T10:00:00", "31/01/2024", "", "null"],
    }
    lines = ["name;qty;price;at;ok;day"]
    for n in range(600):
        name = rng.choice(["a", '"b;c"', '"d\nd"', "", "é"]) + str(n)
        lines.append(";".join([name, *(rng.choice(values) for values in pool.values())]))
    data = "\r\n".join(lines).encode()
    same(descriptor({**MESSY_PARSER, "skip_rows": 0}, TYPED), data, batch_sizes=(10_000, 64))


def test_descriptors_the_fast_path_leaves_to_the_row_path() -> None:
    assert columnar.columnar_ok(descriptor({"kind": "csv"}, TYPED))
    assert not columnar.columnar_ok(descriptor({"kind": "csv"}, [{"name": "j", "type": "json"}]))
    assert not columnar.columnar_ok(descriptor({"kind": "csv"}, [{"name": "e", "expression": "row.a"}]))
    assert not columnar.columnar_ok(descriptor({"kind": "jsonl"}, [{"name": "a"}]))
    assert not columnar.columnar_ok(descriptor({"kind": "csv", "delimiter": "§"}, [{"name": "a"}]))
    assert not isinstance(
        next(parse(descriptor({"kind": "jsonl"}, [{"name": "a"}]), [b'{"a": 1}\n'])), ColumnarBatch
    )
