"""Typing: the last step of a field, turning whatever the converters left into the `FieldType`'s Python type.

Each function raises `ValueError` with a human reason ("expected float, got 'abc'"); the field plan turns it
into a `ConversionError` naming the field. Non-finite numbers (NaN, ±Infinity) are refused everywhere:
PostgreSQL would take them but InfluxDB and JSON would not, so they never reach the gold zone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from airflow_provider_datalake.descriptors.model import FieldType

Coercer = Callable[[Any], Any]

TRUE_WORDS = frozenset({"true", "1", "yes", "oui", "vrai", "y", "t"})
FALSE_WORDS = frozenset({"false", "0", "no", "non", "faux", "n", "f"})
_SPACES = ("\xa0", "\u202f")  # what spreadsheets put for a ' ' thousands separator
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_DIGITS = 100  # '1e999999999' must not become a billion-digit int
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # every gold store keeps integers in 64 bits


def too_big(number: Decimal) -> bool:
    return number.is_finite() and number.adjusted() >= MAX_DIGITS


def show(value: Any) -> str:
    """A value inside an error message: repr, clipped so a 50 MB cell does not become a 50 MB message."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _refuse(kind: str, value: Any) -> ValueError:
    return ValueError(f"expected {kind}, got {show(value)}")


def number_text(decimal: str, thousands: str | None) -> Callable[[str], str]:
    """Normalise '4 090,8' / '4,090.8' to '4090.8' for float()/Decimal(), given the locale's separators."""
    removals = [thousands] if thousands else []
    if thousands == " ":
        removals.extend(_SPACES)

    def normalise(text: str) -> str:
        text = text.strip()
        for sep in removals:
            text = text.replace(sep, "")
        if decimal != ".":
            text = text.replace(decimal, ".")
        # float() and Decimal() accept '1_000' and non-ASCII digits; a data file means neither.
        if "_" in text or not text.isascii():
            raise ValueError("not a plain number")
        return text

    return normalise


def finite(value: float, kind: str, raw: Any) -> float:
    if math.isfinite(value):
        return value
    raise ValueError(f"expected finite {kind}, got {show(raw)}")


def _no_nul(text: str) -> str:
    # PostgreSQL text cannot hold U+0000: refuse it here, as one bad row, rather than fail the whole load.
    if "\x00" in text:
        raise ValueError(f"string contains a NUL character: {show(text)}")
    return text


def to_str(value: Any) -> str:
    if type(value) is str:
        return _no_nul(value) if "\x00" in value else value
    if isinstance(value, str):
        return _no_nul(str(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    raise _refuse("string", value)


def int_coercer(decimal: str = ".", thousands: str | None = None) -> Coercer:
    normalise = number_text(decimal, thousands)

    def to_int(value: Any) -> int:
        kind = type(value)
        if kind is int:
            if INT_MIN <= value <= INT_MAX:
                return value
            raise ValueError(f"int {show(value)} is out of the 64-bit range")
        if kind is str:
            try:
                number = Decimal(normalise(value))
            except (ValueError, InvalidOperation):
                raise _refuse("int", value) from None
        elif kind is float or kind is Decimal:
            number = Decimal(value)
        else:  # bool is refused on purpose: True is not a measurement
            raise _refuse("int", value)
        if not number.is_finite() or too_big(number) or number != number.to_integral_value():
            raise _refuse("int", value)
        if not INT_MIN <= number <= INT_MAX:
            raise ValueError(f"int {show(value)} is out of the 64-bit range")
        return int(number)

    return to_int


def float_coercer(decimal: str = ".", thousands: str | None = None) -> Coercer:
    normalise = number_text(decimal, thousands)

    def to_float(value: Any) -> float:
        kind = type(value)
        if kind is float:
            if value - value == 0:  # finite (inf - inf and nan - nan are nan); quicker than a call
                return value
            return finite(value, "float", value)
        if kind is str:
            try:
                number = float(normalise(value))
            except ValueError:
                raise _refuse("float", value) from None
            return finite(number, "float", value)
        if kind is int:
            return float(value)
        if kind is Decimal:
            return finite(float(value), "float", value)
        raise _refuse("float", value)

    return to_float


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    elif isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    raise _refuse("bool", value)


def _from_epoch(number: float) -> datetime:
    """Epoch seconds; magnitudes no second count reaches before year 5138 are read as ms, µs then ns."""
    magnitude = abs(number)
    if magnitude < 1e11:
        return _EPOCH + timedelta(seconds=number)
    if magnitude < 1e14:
        return _EPOCH + timedelta(milliseconds=number)
    if magnitude < 1e17:
        return _EPOCH + timedelta(microseconds=number)
    return _EPOCH + timedelta(microseconds=number / 1000)


def _utc(moment: datetime) -> datetime:
    """Naive means UTC (the campus brokers and exports write UTC); aware values are converted."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    if moment.tzinfo is UTC:
        return moment
    return moment.astimezone(UTC)


def to_timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        return _utc(value)
    try:
        if isinstance(value, str):
            text = value.strip()
            try:
                return _utc(datetime.fromisoformat(text))
            except ValueError:
                number = float(text)
                if "_" in text or not text.isascii() or not math.isfinite(number):
                    raise ValueError(text) from None
                return _from_epoch(number)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return _from_epoch(value)
    except (ValueError, OverflowError):
        pass
    raise _refuse("ISO 8601 timestamp or epoch number", value)


def to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()  # the wall date where it was written: 'Mar 16, 2019' in Paris stays the 16th
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text)
        except ValueError:
            try:
                return datetime.fromisoformat(text).date()
            except ValueError:
                pass
    raise _refuse("ISO 8601 date", value)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_JSON = json.JSONDecoder(parse_constant=_no_constants)


def loads(text: str) -> Any:
    """`json.loads` without NaN/Infinity (RFC 8259 has none; the stdlib accepts them by default)."""
    return _JSON.decode(text)


def to_json(value: Any) -> Any:
    """Structures and scalars pass through; text that looks like a JSON document/string is parsed.

    Only text starting with '{', '[' or '"' is parsed (and must be valid), so a plain string such as 'ppm'
    stays a JSON string and '123' is not silently turned into a number.
    """
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("{", "[", '"'):
            try:
                return loads(text)
            except ValueError as exc:
                raise ValueError(f"expected JSON text, got {show(value)}: {exc}") from None
        return value
    if isinstance(value, float):
        return finite(value, "JSON number", value)
    if isinstance(value, Decimal):
        return finite(float(value), "JSON number", value)
    if value is None or isinstance(value, dict | list | bool | int):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise _refuse("JSON value", value)


def coercer(kind: FieldType, decimal: str = ".", thousands: str | None = None) -> Coercer:
    """The typing function of one field; `decimal`/`thousands` are the CSV parser's number defaults."""
    if kind is FieldType.INT:
        return int_coercer(decimal, thousands)
    if kind is FieldType.FLOAT:
        return float_coercer(decimal, thousands)
    table: dict[FieldType, Coercer] = {
        FieldType.STRING: to_str,
        FieldType.BOOL: to_bool,
        FieldType.TIMESTAMP: to_timestamp,
        FieldType.DATE: to_date,
        FieldType.JSON: to_json,
    }
    return table[kind]
