"""Encoding, shape and CSV dialect from a bounded sample."""

from __future__ import annotations

import codecs
import json

import pytest

from airflow_provider_datalake.inference.sniff import (
    NotInferable,
    Sample,
    detect_encoding,
    has_header,
    read_sample,
    records_path,
    sniff,
)


def table(data: bytes, complete: bool = True):
    return sniff(Sample(data, complete))[1]


@pytest.mark.parametrize(
    ("data", "name", "bom"),
    [
        (b"a,b\n1,2\n", "utf-8", False),
        (codecs.BOM_UTF8 + "é,b\n1,2\n".encode(), "utf-8", True),
        ("é;b\n1;2\n".encode("latin-1"), "latin-1", False),
        ("€;b\n1;2\n".encode("cp1252"), "cp1252", False),
        ("a,b\n1,2\n".encode("utf-16"), "utf-16", True),
    ],
)
def test_encodings(data: bytes, name: str, bom: bool) -> None:
    found = detect_encoding(data)
    assert (found.name, found.bom) == (name, bom)


def test_a_utf8_character_cut_by_the_sample_end_is_still_utf8() -> None:
    data = "température;x\n".encode() * 10
    assert detect_encoding(data[:-14] + "é".encode()[:1], complete=False).name == "utf-8"


def test_binary_is_not_inferable() -> None:
    with pytest.raises(NotInferable, match="binary"):
        table(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(NotInferable, match="empty"):
        table(b"  \n")


def test_read_sample_stops_and_closes_the_stream() -> None:
    pulled = []
    closed = []

    def chunks():
        try:
            for i in range(10_000):
                pulled.append(i)
                yield b"x" * 1000
        finally:
            closed.append(True)

    sample = read_sample(chunks(), 4096)
    assert len(sample.data) == 4096 and not sample.complete
    assert len(pulled) == 5 and closed == [True]
    assert read_sample([b"abc", b"def"], 4096) == Sample(b"abcdef", True)


def test_csv_preamble_quoted_delimiters_and_semicolons() -> None:
    text = (
        "Export du labo\r\nGénéré le 01/02/2020 ; site Rangueil ; v2\r\n\r\n"
        'Nom;Valeur;Note\r\n"a; b";1,5;x\r\nc;2,25;"dit ""oui"""\r\n'
    )
    t = table(text.encode())
    assert t.parser == {
        "kind": "csv",
        "delimiter": ";",
        "header": True,
        "skip_rows": 3,
        "encoding": "utf-8",
    }
    assert t.columns == ["Nom", "Valeur", "Note"]
    assert t.records[0] == {"Nom": "a; b", "Valeur": "1,5", "Note": "x"}
    assert t.records[1]["Note"] == 'dit "oui"'


def test_excel_sep_line_and_trailing_delimiter() -> None:
    t = table(b"sep=;\nA;B;\n1;x;\n2;y;\n")
    assert t.parser["skip_rows"] == 1 and t.parser["header"] is True
    assert t.columns == ["A", "B", ""]


def test_headerless_and_tab() -> None:
    t = table(b"2020-01-01\t1.5\tx\n2020-01-02\t2.5\ty\n")
    assert t.parser["delimiter"] == "\t" and t.parser["header"] is False
    assert t.columns == ["1", "2", "3"]


def test_has_header() -> None:
    assert has_header([["name", "value"], ["a", "1"], ["b", "2"]])
    assert not has_header([["1", "2"], ["3", "4"]])
    assert not has_header([["a", "a"], ["b", "c"]])  # repeated names: data


def test_json_shapes() -> None:
    assert table(b'[{"a": 1}, {"a": 2}]').shape == "json"
    lines = table(b'{"a": 1}\n{"a": 2, "b": "x"}\n')
    assert lines.shape == "jsonl" and lines.columns == ["a", "b"]
    one = table(b'{\n  "a": 1,\n  "b": {"c": 2}\n}\n')
    assert one.shape == "json" and one.records == [{"a": 1, "b": {"c": 2}}]


def test_records_path_picks_the_largest_array_of_objects() -> None:
    doc = {"meta": {"pages": [{"n": 1}]}, "data": {"items": [{"x": i, "tags": [{"t": 1}]} for i in range(5)]}}
    assert records_path(json.dumps(doc).encode()) == ("data.items", "nested")
    assert records_path(b'[{"a": 1}]') == (None, "array")
    t = table(json.dumps(doc).encode())
    assert t.parser["records_path"] == "data.items" and len(t.records) == 5


def test_a_cut_json_array_gives_the_records_before_the_cut() -> None:
    data = json.dumps([{"a": i, "b": "x" * 20} for i in range(1000)]).encode()
    t = table(data[:5000], complete=False)
    assert 100 < len(t.records) < 1000 and t.records[0] == {"a": 0, "b": "x" * 20}


def test_mqtt_shape_is_recognised_and_zipped() -> None:
    msgs = [
        {
            "topic": "u4/301/energy",
            "value": [1.0, 2.0],
            "value_units": ["Wh", "V"],
            "time": "2021-07-22T11:01:22Z",
        },
        {"topic": "u4/302/humidity", "value": 35, "value_units": "%r.H.", "time": "2021-07-22T11:11:22Z"},
    ]
    t = table(json.dumps(msgs).encode())
    assert t.shape == "neocampus_mqtt" and t.parser["kind"] == "neocampus_mqtt" and t.topic_parts == 3
    assert [r["unit"] for r in t.records] == ["Wh", "V", "%r.H."]
    lines = table("".join(json.dumps(m) + "\n" for m in msgs).encode())
    assert lines.parser["lines"] is True
