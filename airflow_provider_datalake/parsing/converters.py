"""The descriptor's converters, each compiled once into a plain function of one value.

Number converters (locale_number, suffix_number, percent) let numbers through untouched, so the same
descriptor works whether a producer sends `35` or `"35"`; text converters (regex, split, strip, lower,
replace) work on the value's text. A converter that cannot do its job raises `ValueError` with a reason.
Compiling can raise `ValueError` too (unknown time zone, unknown regex group): a descriptor problem,
reported before the first row.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from airflow_provider_datalake.descriptors.model import (
    Converter,
    LocaleNumber,
    Lower,
    Percent,
    RegexExtract,
    Replace,
    Split,
    Strip,
    SuffixNumber,
    TimestampFormat,
)
from airflow_provider_datalake.parsing.coerce import number_text, show, to_str, too_big

Step = Callable[[Any], Any]

_SUFFIXES = {"": 1, "k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9, "t": 10**12}
_SUFFIX_RE = re.compile(r"^(.*?)\s*([kmbgt]?)$", re.IGNORECASE)


def _text(value: Any) -> str:
    if type(value) is str:
        return value
    if isinstance(value, dict | list):
        raise ValueError(f"expected text, got {type(value).__name__}")
    return to_str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _decimal(text: str, normalise: Callable[[str], str], what: str) -> Decimal:
    try:
        number = Decimal(normalise(text))
    except (ValueError, InvalidOperation):
        raise ValueError(f"expected {what}, got {show(text)}") from None
    if not number.is_finite() or too_big(number):
        raise ValueError(f"expected finite {what}, got {show(text)}")
    return number


def _plain(number: Decimal) -> int | float:
    """Integral results become int (so '14.13K' is exactly 14130, not 14129.999999999998)."""
    if too_big(number):
        raise ValueError(f"{number} is out of range")
    return int(number) if number == number.to_integral_value() else float(number)


def _ungroup(decimal: str) -> Callable[[str], str]:
    """Drop digit grouping that cannot be read any other way: with '.' decimals, '1,000' is a thousand.

    Only well-formed groups (1-3 digits, then groups of 3) are dropped, so '1,00' still fails loudly.
    """
    group = "".join(sorted({",", ".", " ", "\xa0", "\u202f"} - {decimal}))
    shape = re.compile(rf"^[+-]?\d{{1,3}}(?:[{re.escape(group)}]\d{{3}})+(?:{re.escape(decimal)}\d*)?$")
    strip = str.maketrans("", "", group)

    def ungroup(text: str) -> str:
        return text.translate(strip) if shape.match(text) else text

    return ungroup


def locale_number(spec: LocaleNumber) -> Step:
    normalise = number_text(spec.decimal, spec.thousands)

    def convert(value: Any) -> Any:
        if _is_number(value):
            return value
        number = _decimal(_text(value), normalise, "a number")
        # '4 090' stays an int, '4 090,8' a float; typing decides the final type.
        return int(number) if number.as_tuple().exponent == 0 else float(number)

    return convert


def suffix_number(spec: SuffixNumber) -> Step:
    normalise = number_text(spec.decimal, None)
    ungroup = _ungroup(spec.decimal)

    def convert(value: Any) -> Any:
        if _is_number(value):
            return value
        text = _text(value).strip()
        match = _SUFFIX_RE.match(text)
        if match is None or not match.group(1):
            raise ValueError(f"expected a number with K/M/B/T suffix, got {show(value)}")
        number = _decimal(ungroup(match.group(1)), normalise, "a number with K/M/B/T suffix")
        return _plain(number * _SUFFIXES[match.group(2).lower()])

    return convert


def percent(spec: Percent) -> Step:
    normalise = number_text(spec.decimal, None)
    ungroup = _ungroup(spec.decimal)
    scale = Decimal(100) if spec.fraction else Decimal(1)

    def convert(value: Any) -> Any:
        if _is_number(value):
            return value / 100 if spec.fraction else value
        text = _text(value).strip().removesuffix("%").rstrip()
        return float(_decimal(ungroup(text), normalise, "a percentage") / scale)

    return convert


def timestamp_format(spec: TimestampFormat) -> Step:
    try:
        zone = ZoneInfo(spec.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {spec.timezone!r}") from None
    fmt = spec.format

    # strptime is slow (a regex built per format, then Python code per call) and dates repeat from row to
    # row ('Mar 16, 2019' for a whole day of readings): remember recent answers (datetimes are immutable).
    @functools.lru_cache(maxsize=4096)
    def parse(text: str) -> datetime:
        moment = datetime.strptime(text, fmt)  # naive on purpose: the zone is added below
        return moment if moment.tzinfo else moment.replace(tzinfo=zone)

    def convert(value: Any) -> Any:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=zone)
        try:
            return parse(_text(value).strip())
        except ValueError:
            raise ValueError(f"expected a timestamp like {fmt!r}, got {show(value)}") from None

    return convert


def regex(spec: RegexExtract) -> Step:
    pattern = re.compile(spec.pattern)
    group = spec.group
    if isinstance(group, str) and group.isdigit():
        group = int(group)
    if isinstance(group, int) and group > pattern.groups:
        raise ValueError(f"regex {spec.pattern!r} has {pattern.groups} group(s), not {group}")
    if isinstance(group, str) and group not in pattern.groupindex:
        raise ValueError(f"regex {spec.pattern!r} has no group named {group!r}")

    def convert(value: Any) -> Any:
        match = pattern.search(_text(value))
        if match is None:
            raise ValueError(f"no match for regex {spec.pattern!r} in {show(value)}")
        return match.group(group)  # None when the group did not take part: the value is absent

    return convert


def split(spec: Split) -> Step:
    sep, index = spec.sep, spec.index

    def convert(value: Any) -> Any:
        parts = _text(value).split(sep)
        if not -len(parts) <= index < len(parts):
            raise ValueError(f"{show(value)} split on {sep!r} has {len(parts)} part(s), no index {index}")
        return parts[index]

    return convert


def strip(spec: Strip) -> Step:
    chars = spec.chars
    return lambda value: _text(value).strip(chars)


def lower(spec: Lower) -> Step:
    return lambda value: _text(value).lower()


def replace(spec: Replace) -> Step:
    old, new = spec.old, spec.new
    return lambda value: _text(value).replace(old, new)


_FACTORIES: dict[str, Callable[[Any], Step]] = {
    "locale_number": locale_number,
    "suffix_number": suffix_number,
    "percent": percent,
    "timestamp_format": timestamp_format,
    "regex": regex,
    "split": split,
    "strip": strip,
    "lower": lower,
    "replace": replace,
}


def compile_converter(spec: Converter) -> Step:
    """One converter as a function of one value (the field plan prefixes its errors with the kind)."""
    return _FACTORIES[spec.kind](spec)
