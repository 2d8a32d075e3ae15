"""Every converter, good and bad values, through the public `convert_value`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_datalake.descriptors.model import FieldSpec
from airflow_provider_datalake.parsing import ConversionError, convert_value


def field(type_: str = "string", *converters: Any, **extra: Any) -> FieldSpec:
    return FieldSpec.model_validate({"name": "f", "type": type_, "converters": list(converters), **extra})


def convert(spec: FieldSpec, raw: Any, **kwargs: Any) -> Any:
    return convert_value(spec, raw, row={}, fields={}, **kwargs)


def refused(spec: FieldSpec, raw: Any, **kwargs: Any) -> str:
    with pytest.raises(ConversionError) as info:
        convert(spec, raw, **kwargs)
    assert info.value.field == "f"
    return info.value.reason


@pytest.mark.parametrize(
    ("conv", "raw", "expected"),
    [
        ({"locale_number": {"decimal": ",", "thousands": " "}}, "4 090,8", 4090.8),
        ({"locale_number": {"decimal": ",", "thousands": " "}}, "4\u202f090,8", 4090.8),  # Excel's thin space
        ({"locale_number": {"decimal": ".", "thousands": ","}}, "4,090.8", 4090.8),
        ({"locale_number": {"decimal": ",", "thousands": "."}}, "-1.234.567", -1234567.0),
        ({"locale_number": {}}, 12.5, 12.5),  # numbers pass through
        ({"suffix_number": {}}, "14.13K", 14130.0),
        ({"suffix_number": {}}, "2.49m", 2490000.0),
        ({"suffix_number": {}}, "1.2B", 1.2e9),
        ({"suffix_number": {}}, "3G", 3e9),
        ({"suffix_number": {}}, "1T", 1e12),
        ({"suffix_number": {}}, "743", 743.0),
        ({"suffix_number": {}}, "1,000", 1000.0),  # unambiguous grouping (the en export writes it)
        ({"suffix_number": {"decimal": ","}}, "18,65K", 18650.0),
        ({"percent": {}}, "2.19%", 2.19),
        ({"percent": {"fraction": True}}, "2.19%", 0.0219),
        ({"percent": {"decimal": ","}}, "-0,84 %", -0.84),
        ({"percent": {}}, 3, 3.0),
        ({"regex": {"pattern": r"(\d+)"}}, "room 302", 302.0),
        ({"split": {"sep": "/", "index": 1}}, "u4/302/humidity", 302.0),
        ({"split": {"sep": "/", "index": -2}}, "u4/302/humidity", 302.0),
        ({"replace": {"old": ",", "new": "."}}, "3,5", 3.5),
        ({"strip": {"chars": "[] "}}, "[ 7 ]", 7.0),
    ],
)
def test_number_converters(conv: dict[str, Any], raw: Any, expected: float) -> None:
    assert convert(field("float", conv), raw) == pytest.approx(expected, rel=0, abs=1e-12)


def test_suffix_numbers_are_exact_ints() -> None:
    assert convert(field("int", {"suffix_number": {}}), "14.13K") == 14130
    assert convert(field("int", {"suffix_number": {"decimal": ","}}), "1,54M") == 1540000


@pytest.mark.parametrize(
    ("conv", "raw", "reason"),
    [
        ({"locale_number": {"decimal": ","}}, "12abc", "locale_number: expected a number, got '12abc'"),
        ({"locale_number": {}}, "1_000", "locale_number: expected a number, got '1_000'"),
        ({"locale_number": {}}, "NaN", "locale_number: expected finite a number, got 'NaN'"),
        ({"suffix_number": {}}, "K", "suffix_number: expected a number with K/M/B/T suffix, got 'K'"),
        ({"suffix_number": {}}, "12X", "suffix_number: expected a number with K/M/B/T suffix, got '12X'"),
        ({"suffix_number": {}}, "1,00", "suffix_number: expected a number with K/M/B/T suffix, got '1,00'"),
        ({"percent": {}}, "abc%", "percent: expected a percentage, got 'abc'"),
        ({"regex": {"pattern": r"(\d+)"}}, "none", r"regex: no match for regex '(\\d+)' in 'none'"),
        ({"split": {"sep": "/", "index": 3}}, "a/b", "split: 'a/b' split on '/' has 2 part(s), no index 3"),
        ({"split": {"sep": "/", "index": -3}}, "a/b", "split: 'a/b' split on '/' has 2 part(s), no index -3"),
        ({"lower": {}}, {"a": 1}, "lower: expected text, got dict"),
        ({"strip": {}}, [1], "strip: expected text, got list"),
        ({"replace": {"old": "a"}}, {"a": 1}, "replace: expected text, got dict"),
        ({"lower": {}}, "ABC", "expected float, got 'abc'"),  # converters ran, typing refused
    ],
)
def test_converter_errors_name_the_converter(conv: dict[str, Any], raw: Any, reason: str) -> None:
    assert refused(field("float", conv), raw) == reason


def test_text_converters_chain_in_order() -> None:
    spec = field("string", "strip", "lower", {"replace": {"old": " ", "new": "_"}})
    assert convert(spec, "  Salle 302 B ") == "salle_302_b"
    assert convert(field("string", {"split": {"sep": "-", "index": 0}}), 2024) == "2024"


def test_regex_groups_by_number_and_name_and_absent_groups() -> None:
    assert convert(field("string", {"regex": {"pattern": r"(\w+)/(\d+)", "group": 2}}), "u4/302") == "302"
    named = {"regex": {"pattern": r"(?P<room>\d+)", "group": "room"}}
    assert convert(field("int", named), "salle 302") == 302
    optional = {"regex": {"pattern": r"a(b)?"}}
    assert convert(field("string", optional), "a") is None  # the group did not take part: no value
    assert convert(field("string", optional, default="none"), "a") == "none"
    # Groups that do not exist are descriptor errors (the model or the compiled plan refuses them).
    with pytest.raises(ValueError, match="named group 'nope'"):
        convert(field("string", {"regex": {"pattern": r"(\d)", "group": "nope"}}), "1")
    with pytest.raises(ValueError, match="1 group"):
        convert(field("string", {"regex": {"pattern": r"(\d)", "group": 2}}), "1")


def test_timestamp_format_with_zone() -> None:
    paris = {"timestamp_format": {"format": "%b %d, %Y %H:%M", "timezone": "Europe/Paris"}}
    assert convert(field("timestamp", paris), "Mar 16, 2019 08:00") == datetime(2019, 3, 16, 7, tzinfo=UTC)
    day = {"timestamp_format": {"format": "%b %d, %Y", "timezone": "Europe/Paris"}}
    assert convert(field("date", day), "Mar 16, 2019") == date(2019, 3, 16)  # the wall date, not UTC's
    aware = {"timestamp_format": {"format": "%d/%m/%Y %H:%M %z"}}
    assert convert(field("timestamp", aware), "16/03/2019 08:00 +0100") == datetime(
        2019, 3, 16, 7, tzinfo=UTC
    )
    assert refused(field("timestamp", day), "2019-03-16") == (
        "timestamp_format: expected a timestamp like '%b %d, %Y', got '2019-03-16'"
    )
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        convert(
            field("timestamp", {"timestamp_format": {"format": "%Y", "timezone": "Mars/Olympus"}}), "2019"
        )


@pytest.mark.parametrize(
    ("type_", "raw", "expected"),
    [
        ("string", "x", "x"),
        ("string", 35, "35"),
        ("string", True, "true"),
        ("string", ["a", 1], '["a",1]'),
        ("int", "12", 12),
        ("int", "12.0", 12),
        ("int", " -3 ", -3),
        ("int", 7.0, 7),
        ("int", "1e3", 1000),
        ("float", "1.5", 1.5),
        ("float", 2, 2.0),
        ("float", "-1e-3", -0.001),
        ("bool", "true", True),
        ("bool", "FALSE", False),
        ("bool", "1", True),
        ("bool", "0", False),
        ("bool", "yes", True),
        ("bool", "No", False),
        ("bool", "oui", True),
        ("bool", "non", False),
        ("bool", 1, True),
        ("bool", False, False),
        ("timestamp", "2021-07-22T11:01:22.000Z", datetime(2021, 7, 22, 11, 1, 22, tzinfo=UTC)),
        ("timestamp", "2021-07-22T13:01:22+02:00", datetime(2021, 7, 22, 11, 1, 22, tzinfo=UTC)),
        ("timestamp", "2019-06-12T00:00:18.388374", datetime(2019, 6, 12, 0, 0, 18, 388374, tzinfo=UTC)),
        ("timestamp", "2021-07-22", datetime(2021, 7, 22, tzinfo=UTC)),
        ("timestamp", 1626951682, datetime(2021, 7, 22, 11, 1, 22, tzinfo=UTC)),
        ("timestamp", 1626951682.5, datetime(2021, 7, 22, 11, 1, 22, 500000, tzinfo=UTC)),
        ("timestamp", 1626951682123, datetime(2021, 7, 22, 11, 1, 22, 123000, tzinfo=UTC)),  # epoch ms
        ("timestamp", "1626951682", datetime(2021, 7, 22, 11, 1, 22, tzinfo=UTC)),
        (
            "timestamp",
            datetime(2021, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
            datetime(2021, 1, 1, tzinfo=UTC),
        ),
        ("date", "2024-02-29", date(2024, 2, 29)),
        ("date", "2024-02-29T23:30:00-05:00", date(2024, 2, 29)),
        ("json", '{"a": [1, null]}', {"a": [1, None]}),
        ("json", [1, 2], [1, 2]),
        ("json", {"k": "v"}, {"k": "v"}),
        ("json", "ppm", "ppm"),  # plain text stays a JSON string
        ("json", '"quoted"', "quoted"),
        ("json", 3.5, 3.5),
    ],
)
def test_typing(type_: str, raw: Any, expected: Any) -> None:
    result = convert(field(type_), raw)
    assert result == expected and type(result) is type(expected)
    if isinstance(result, datetime):
        assert result.tzinfo is UTC


@pytest.mark.parametrize(
    ("type_", "raw", "reason"),
    [
        ("int", "abc", "expected int, got 'abc'"),
        ("int", "12.5", "expected int, got '12.5'"),
        ("int", 12.5, "expected int, got 12.5"),
        ("int", True, "expected int, got True"),
        ("int", "1e999999999", "expected int, got '1e999999999'"),
        ("int", "9223372036854775808", "int '9223372036854775808' is out of the 64-bit range"),
        ("int", -(2**63) - 1, "int -9223372036854775809 is out of the 64-bit range"),
        ("string", "a\x00b", "string contains a NUL character: 'a\\x00b'"),
        ("float", "abc", "expected float, got 'abc'"),
        ("float", "NaN", "expected finite float, got 'NaN'"),
        ("float", "-inf", "expected finite float, got '-inf'"),
        ("float", float("nan"), "expected finite float, got nan"),
        ("float", [1], "expected float, got [1]"),
        ("bool", "maybe", "expected bool, got 'maybe'"),
        ("bool", 2, "expected bool, got 2"),
        ("timestamp", "yesterday", "expected ISO 8601 timestamp or epoch number, got 'yesterday'"),
        ("timestamp", "NaN", "expected ISO 8601 timestamp or epoch number, got 'NaN'"),
        ("timestamp", True, "expected ISO 8601 timestamp or epoch number, got True"),
        ("date", "16/03/2019", "expected ISO 8601 date, got '16/03/2019'"),
        ("date", 20190316, "expected ISO 8601 date, got 20190316"),
        ("json", '{"a": ', "expected JSON text, got '{\"a\": ': Expecting value: line 1 column 6 (char 5)"),
        ("json", "[NaN]", "expected JSON text, got '[NaN]': NaN is not valid JSON"),
        ("json", float("inf"), "expected finite JSON number, got inf"),
        ("string", object, "expected string, got <class 'object'>"),
    ],
)
def test_typing_errors(type_: str, raw: Any, reason: str) -> None:
    assert refused(field(type_), raw) == reason


def test_csv_number_defaults_apply_to_typing() -> None:
    assert convert(field("float"), "4 090,8", csv_decimal=",", csv_thousands=" ") == 4090.8
    assert convert(field("int"), "1,204", csv_thousands=",") == 1204
    assert refused(field("float"), "4,090.8") == "expected float, got '4,090.8'"


def test_required_default_and_null() -> None:
    assert refused(field("int", required=True), None) == "required field is null"
    assert convert(field("int", default="5"), None) == 5  # the default is typed too
    assert convert(field("bool", default=False), None) is False
    assert convert(field("int"), None) is None
    with pytest.raises(ValueError, match="field 'f': expected int"):
        convert(field("int", default="five"), None)


def test_long_values_are_clipped_in_messages() -> None:
    reason = refused(field("int"), "x" * 10_000)
    assert len(reason) < 120 and reason.endswith("...")


def test_conversion_error_pickles() -> None:
    import pickle

    error = ConversionError("f", "abc", "expected float, got 'abc'")
    again = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own object
    assert (again.field, again.value, again.reason, str(again)) == (
        "f",
        "abc",
        "expected float, got 'abc'",
        "f: expected float, got 'abc'",
    )
