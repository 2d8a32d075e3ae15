"""Per-field typing: each guess is checked by the project's own field plan."""

from __future__ import annotations

import pytest

from airflow_provider_datalake.descriptors.model import FieldType
from airflow_provider_datalake.inference.shapes import column_locales, number_locales
from airflow_provider_datalake.inference.types import Context, infer_field

CSV_EN = Context("en", csv=True)
CSV_FR = Context("fr", csv=True)
CSV_COMMA = Context("comma", csv=True)
JSON = Context()


def test_number_locales() -> None:
    assert number_locales("12") == frozenset({"plain", "en", "comma", "fr", "de"})
    assert number_locales("4,090.8") == frozenset({"en"})
    assert number_locales("4 090,8") == frozenset({"fr"})
    assert number_locales("4.090,8") == frozenset({"de"})
    assert "comma" in number_locales("1,234") and "en" in number_locales("1,234")
    assert number_locales("1.5") == frozenset({"plain", "en"})
    assert number_locales("abc") is None
    assert column_locales(["1,5", "4 090,8"]) == frozenset({"fr"})


def kind(values, ctx=CSV_EN, name="x"):
    guess = infer_field(name, values, ctx, frozenset({"", "NA"}) if ctx.csv else frozenset())
    return guess.type.value, [c.get("kind") for c in guess.converters], guess


@pytest.mark.parametrize(
    ("values", "ctx", "expected"),
    [
        (["1", "2", "-3"], CSV_EN, ("int", [])),
        (["4,090.8", "12.5", ""], CSV_EN, ("float", [])),
        (["1 515,1", "3,2"], CSV_FR, ("float", [])),
        (["1,5", "2,25"], CSV_EN, ("float", ["locale_number"])),  # another spelling than the file's
        (["14.13K", "2.49M", "256"], CSV_EN, ("float", ["suffix_number"])),
        (["2.19%", "-0.5%"], CSV_EN, ("float", ["percent"])),
        (["-3,17%", "1,2 %"], CSV_COMMA, ("float", ["percent"])),
        (["$1,234.50", "$7.00"], CSV_EN, ("float", ["replace", "locale_number"])),
        (["Mar 16, 2019", "Apr 02, 2020"], CSV_EN, ("date", ["timestamp_format"])),
        (["16/03/2019", "01/02/2020"], CSV_EN, ("date", ["timestamp_format"])),
        (["2019-03-16", "2020-02-01"], CSV_EN, ("date", [])),
        (["2019-03-16T08:00:00+02:00", "2019-03-16T09:00:00Z"], CSV_EN, ("timestamp", [])),
        (["16.03.2019 08:00:00"], CSV_EN, ("timestamp", ["timestamp_format"])),
        (["yes", "no", "No"], CSV_EN, ("bool", [])),
        (["0", "1", "1"], CSV_EN, ("int", [])),
        (["01234", "31400"], CSV_EN, ("string", [])),  # postcodes keep their zeros
        (["12345678901234567890123"], CSV_EN, ("string", [])),
        (['{"a": 1}', "[1, 2]"], CSV_EN, ("json", [])),
        (["NA", ""], CSV_EN, ("string", [])),
        ([1, 2, 3], JSON, ("int", [])),
        ([1, 2.5, None], JSON, ("float", [])),
        ([True, False], JSON, ("bool", [])),
        ([[1], {"a": 2}], JSON, ("json", [])),
        (["35", 36], JSON, ("float", [])),
        (["", 36], JSON, ("int", [])),  # '' beside numbers: a null marker (the parser is told so)
        (["", "x", 36], JSON, ("string", [])),
    ],
)
def test_types(values, ctx, expected) -> None:
    assert kind(values, ctx)[:2] == expected


def test_epoch_needs_a_time_name() -> None:
    assert kind([1616161616000, 1616161617000], JSON, name="epoch_ms")[0] == "timestamp"
    assert kind([1616161616000, 1616161617000], JSON, name="count")[0] == "int"


def test_ambiguous_day_month_lowers_the_confidence() -> None:
    _, _, sure = kind(["16/03/2019", "17/03/2019", "18/03/2019"])
    _, _, unsure = kind(["01/03/2019", "02/03/2019", "03/03/2019"])
    assert unsure.converters == [{"kind": "timestamp_format", "format": "%d/%m/%Y"}]
    assert unsure.confidence < sure.confidence and "ambiguous" in unsure.detected


def test_evidence_counts() -> None:
    guess = infer_field("x", ["a", "b", "a", "", None], CSV_EN, frozenset({""}))
    assert (guess.count, guess.nulls, guess.distinct, guess.unique) == (3, 2, 2, False)
    assert guess.examples == ["a", "b"] and guess.type is FieldType.STRING
