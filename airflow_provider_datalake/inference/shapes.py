"""What one raw value looks like: a number (under which spellings), a date or time (under which strptime
formats), a boolean word; and what a field's name suggests (a time, an id).

Cheap shape tests, no verdicts: `types` turns them into candidate types and has the project's own parser
verify each one over the sampled values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from airflow_provider_datalake.parsing.coerce import FALSE_WORDS, TRUE_WORDS

# ------------------------------------------------------------------------------------------- numbers

#: Number spellings: (decimal, thousands). "en" 4,090.8 · "fr" 4 090,8 · "de" 4.090,8.
LOCALES: dict[str, tuple[str, str | None]] = {
    "plain": (".", None),
    "en": (".", ","),
    "comma": (",", None),
    "fr": (",", " "),
    "de": (",", "."),
}
ALL_LOCALES = frozenset(LOCALES)
_INT = re.compile(r"[+-]?\d+")
CODE = re.compile(r"0\d+|\d{19,}")
_DOT = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?\d+[eE][+-]?\d+")
_COMMA = re.compile(r"[+-]?(?:\d+,\d+|,\d+)")
_EN = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_FR = re.compile(r"[+-]?\d{1,3}(?:[ \xa0\u202f]\d{3})+(?:,\d+)?")
_DE = re.compile(r"[+-]?\d{1,3}(?:\.\d{3})+(?:,\d+)?")
PERCENT = re.compile(r"(.*?)\s*%")
SUFFIX = re.compile(r"(.*?)\s*([kKmMbBgGtT])")
CURRENCY = re.compile(r"([$€£¥])\s*(.+)|(.+?)\s*([$€£¥])")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ISO_STAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?"
)
#: A cheap "this is a date or a time" (header detection only: typing checks with strptime).
_DATEISH = re.compile(
    r"\d{1,4}[/.\-]\d{1,2}[/.\-]\d{2,4}(?:[ T]\d{1,2}:\d{2}(?::\d{2})?.*)?"
    r"|(?:[A-Z][a-z]{2,8}\.? \d{1,2},? \d{4}|\d{1,2} [A-Z][a-z]{2,8}\.? \d{4}).*"
)
#: Other date and time spellings `date_formats` reads (RFC 2822, Apache logs, compact ISO), for outliers.
_DATELIKE = re.compile(
    r"[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} .+|\d{1,2}/[A-Z][a-z]{2}/\d{4}:.+|\d{8}T\d{6}Z?"
)
TIME_NAME = re.compile(r"(?:^|_)(?:time|timestamp|ts|epoch|datetime|date)(?:$|_)|time$|_at$|stamp", re.I)
_ID_NAME = re.compile(r"(?:^|_)id(?:$|_)|^id|id$", re.I)


def number_locales(text: str) -> frozenset[str] | None:
    """The locales under which ``text`` is a number (None: not a number in any of them)."""
    t = text.strip()
    if _INT.fullmatch(t):
        return ALL_LOCALES
    if _DOT.fullmatch(t):
        return frozenset({"plain", "en", "de"}) if _DE.fullmatch(t) else frozenset({"plain", "en"})
    if _COMMA.fullmatch(t):
        both = _EN.fullmatch(t) is not None
        return frozenset({"comma", "fr", "de", "en"} if both else {"comma", "fr", "de"})
    if _EN.fullmatch(t):
        return frozenset({"en"})
    if _FR.fullmatch(t):
        return frozenset({"fr"})
    if _DE.fullmatch(t):
        return frozenset({"de"})
    return None


def column_locales(values: Iterable[str]) -> frozenset[str] | None:
    """Locales that read every value as a number; None if some value is no number at all."""
    common = ALL_LOCALES
    seen = False
    for value in values:
        found = number_locales(value)
        if found is None:
            return None
        common &= found
        seen = True
    return common if seen else None


def choose_locale(columns: Sequence[frozenset[str]], prefer_comma: bool) -> str:
    """The file's number spelling: the locale that reads most numeric columns (ties: the simplest, and
    comma decimals first when the delimiter is ';', as French and German spreadsheets write)."""
    order = ["comma", "plain", "fr", "en", "de"] if prefer_comma else ["plain", "comma", "en", "fr", "de"]
    return max(order, key=lambda loc: (sum(loc in c for c in columns), -order.index(loc)))


def is_integral(text: str, locale: str) -> bool:
    decimal, _ = LOCALES[locale]
    return decimal not in text.strip() and "e" not in text.lower()


# ------------------------------------------------------------------------------------------- dates

#: strptime formats tried (English month names, as the C locale reads them); day-first before month-first.
DATE_FORMATS: tuple[str, ...] = (
    "%b %d, %Y",
    "%B %d, %Y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d %Y",
    "%d-%b-%Y",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d/%m/%y",
    "%m/%d/%y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%Y/%m/%d",
    "%Y%m%d",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %I:%M:%S %p",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d-%m-%Y %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%b %d, %Y %H:%M:%S",
    "%b %d, %Y %I:%M %p",
    "%d %b %Y %H:%M:%S",
    "%a, %d %b %Y %H:%M:%S %z",
    "%a, %d %b %Y %H:%M:%S %Z",
    "%d/%b/%Y:%H:%M:%S %z",
    "%Y-%m-%d %H:%M:%S %z",
    "%Y-%m-%d %H:%M:%S %Z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y%m%dT%H%M%S",
    "%Y%m%dT%H%M%SZ",
)
TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%z", "%Z", "%p", "%f")
DAY_MONTH = {"%d/%m/%Y": "%m/%d/%Y", "%d/%m/%y": "%m/%d/%y", "%d/%m/%Y %H:%M": "%m/%d/%Y %H:%M"}
DAY_MONTH["%d/%m/%Y %H:%M:%S"] = "%m/%d/%Y %H:%M:%S"


def _strptime_most(values: Sequence[str], fmt: str, limit: int) -> bool:
    """Whether ``fmt`` reads all but at most ``limit`` of the values (stops at the first one too many)."""
    failed = 0
    for value in values:
        try:
            datetime.strptime(value.strip(), fmt)
        except ValueError:
            failed += 1
            if failed > limit:
                return False
    return True


def date_formats(values: Sequence[str], share: float) -> list[str]:
    """The formats reading every value but at most ``share`` of them (the outliers the caller tolerates; it
    checks the exact rows); a first pass on 20 values keeps the full check to survivors."""
    if not values or not any(any(c.isdigit() for c in v) for v in values[:3]):
        return []
    limit = int(len(values) * share)
    head = values[:20]
    found = [f for f in DATE_FORMATS if _strptime_most(head, f, min(limit, 1))]
    return [f for f in found if _strptime_most(values, f, limit)]


# ------------------------------------------------------------------------------------------- any kind


def looks_typed(text: str) -> bool:
    """A number, a date/time or a boolean word: what a header cell is not."""
    t = text.strip()
    if not t:
        return False
    if number_locales(t) is not None or ISO_DATE.match(t) or t.lower() in ("true", "false"):
        return True
    p = PERCENT.fullmatch(t)
    return bool(p and number_locales(p.group(1)) is not None) or bool(_DATEISH.fullmatch(t))


def is_epoch(texts: list[str]) -> bool:
    """Every value a plausible Unix time, all in seconds or all in milliseconds (years 2000 to 2103)."""
    try:
        numbers = [float(t) for t in texts]
    except ValueError:
        return False
    return all(9.46e8 <= abs(n) <= 4.2e9 for n in numbers) or all(
        9.46e11 <= abs(n) <= 4.2e12 for n in numbers
    )


def number_inside(text: str) -> bool:
    """'12,5', '2.19%', '14.13K', '$7.00': a number, maybe with a sign around it."""
    t = text.strip()
    if number_locales(t) is not None:
        return True
    inner = PERCENT.fullmatch(t) or SUFFIX.fullmatch(t)
    if inner is not None:
        return number_locales(inner.group(1)) is not None
    money = CURRENCY.fullmatch(t)
    return money is not None and number_locales((money.group(2) or money.group(3)).strip()) is not None


def is_number(text: str) -> bool:
    return number_locales(text) is not None


def boolish(value: Any) -> bool:
    """A boolean, or a word the parser reads as one: `boolish`, `numberish` and `dateish` sort outliers."""
    return isinstance(value, bool) or (
        isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS
    )


def numberish(value: Any) -> bool:
    if isinstance(value, str):
        return number_inside(value)
    return isinstance(value, int | float) and not isinstance(value, bool)


def dateish(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    t = value.strip()
    return any(p.fullmatch(t) for p in (ISO_DATE, ISO_STAMP, _DATEISH, _DATELIKE))


# ------------------------------------------------------------------------------------------- names


def looks_like_id(name: str) -> bool:
    return bool(_ID_NAME.search(name))


def looks_like_time(name: str) -> bool:
    return bool(TIME_NAME.search(name))
