"""Per field: the type (int, float, bool, timestamp, date, string, json) and the converters it needs.

Candidates are proposed from the values' shapes (`shapes`: cheap regular expressions), then *verified* by
running the project's own field plan (`parsing.fields.FieldPlan`) over every distinct sampled value. The
shapes decide what the verification cannot: whether '1,234' is a thousand or one point two.

Real files are messy, so a column is not text because of one stray value. In this order:

1. a type the parser reads for every value wins (a clean sample loads with zero quarantined rows);
2. else, common null tokens ('n/a', 'NaN', '#N/A'...) in a column otherwise typed are nulls: the field is
   typed and the tokens become parser null markers (`markers`), so they load as NULL;
3. else, a type that all but a few values read wins, those few being *outliers*: rows the load quarantines
   with their reason (the product's contract). Few means at most `OUTLIER_SHARE` of the column's non-null
   values (a quarter of the default `quarantine.max_ratio`: below 40 values, none), so a load of a file like
   the sample stays far from the ratio that fails it (`propose` also caps the whole file at `FILE_SHARE`).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_datalake.descriptors.model import FieldSpec, FieldType, Quarantine
from airflow_provider_datalake.inference.shapes import (
    ALL_LOCALES,
    CODE,
    CURRENCY,
    DAY_MONTH,
    ISO_DATE,
    ISO_STAMP,
    LOCALES,
    PERCENT,
    SUFFIX,
    TIME_DIRECTIVES,
    TIME_NAME,
    boolish,
    choose_locale,
    column_locales,
    date_formats,
    dateish,
    is_epoch,
    is_integral,
    is_number,
    looks_typed,
    numberish,
)
from airflow_provider_datalake.parsing.coerce import FALSE_WORDS, TRUE_WORDS, to_str
from airflow_provider_datalake.parsing.fields import FieldPlan

# ------------------------------------------------------------------------------------------- guesses

#: Strings exports write for "no value": in a column otherwise typed they are nulls (parser null markers).
NULL_TOKENS = frozenset({"", "NA", "N/A", "n/a", "null", "NULL", "None", "-", "nan", "NaN", "#N/A", "—"})
_MAX_RATIO = Quarantine().max_ratio  # bad rows / rows above which a load fails (0.1 by default)
#: Outliers one column may have, as a share of its non-null sampled values (floor: below 40 values, none).
OUTLIER_SHARE = _MAX_RATIO / 4
#: Sampled records with an outlier in some field: half the quarantine ratio, half left for the unsampled rest.
FILE_SHARE = _MAX_RATIO / 2
_TYPED = frozenset({FieldType.INT, FieldType.FLOAT, FieldType.BOOL, FieldType.DATE, FieldType.TIMESTAMP})
_NO_ZONE = "no zone in the values: UTC assumed"

Candidate = tuple[FieldType, list[dict[str, Any]], str]


@dataclass
class FieldGuess:
    """What the sample says about one source field (``values`` are its distinct non-null raw values)."""

    source: str
    type: FieldType = FieldType.STRING
    converters: list[dict[str, Any]] = field(default_factory=list)
    detected: str = "text"
    confidence: float = 0.0
    count: int = 0  # non-null values
    nulls: int = 0
    distinct: int = 0
    examples: list[str] = field(default_factory=list)
    numeric_locale: frozenset[str] | None = None
    markers: dict[str, int] = field(default_factory=dict)  # null tokens read as null (rows each)
    outlier_rows: frozenset[int] = frozenset()  # indices of the sampled values the type cannot read
    outlier_examples: list[str] = field(default_factory=list)

    @property
    def unique(self) -> bool:
        return self.count > 1 and self.distinct == self.count and self.nulls == 0

    @property
    def numeric(self) -> bool:
        return self.type in (FieldType.INT, FieldType.FLOAT)

    @property
    def outliers(self) -> int:
        return len(self.outlier_rows)


def _example(value: Any) -> str:
    try:
        text = to_str(value)
    except ValueError:
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _support(n: int) -> float:
    """How much n agreeing values say: 1 value 0.5, 9 values 0.9, 99 values 0.99."""
    return n / (n + 1) if n else 0.0


def _unreadable(
    values: Sequence[Any], weights: Sequence[int], candidate: Candidate, ctx: Context, allowed: int
) -> list[Any] | None:
    """The values the project's parser refuses with this type and converters; None as soon as they hold
    more than ``allowed`` rows (``weights``: rows per value)."""
    kind, converters, _ = candidate
    spec = FieldSpec.model_validate({"name": "f", "type": kind.value, "converters": converters})
    plan = FieldPlan(spec, ctx.decimal, ctx.thousands)
    bad: list[Any] = []
    rows = 0
    for value, weight in zip(values, weights, strict=True):
        try:
            plan.convert(value, {}, {})
        except Exception:
            rows += weight
            if rows > allowed:
                return None
            bad.append(value)
    return bad


class Context:
    """File-level facts a field's typing depends on: the parser's number spelling (CSV only), and whether
    the parser can declare null markers (not the MQTT one)."""

    def __init__(self, locale: str = "plain", csv: bool = False, markers: bool = True) -> None:
        self.locale = locale
        self.csv = csv
        self.markers = markers

    @property
    def decimal(self) -> str:
        return LOCALES[self.locale][0] if self.csv else "."

    @property
    def thousands(self) -> str | None:
        return LOCALES[self.locale][1] if self.csv else None


def _locale_converter(locale: str) -> dict[str, Any]:
    decimal, thousands = LOCALES[locale]
    params: dict[str, Any] = {"decimal": decimal}
    if thousands is not None:
        params["thousands"] = thousands
    return {"kind": "locale_number", **params}


def _pick(locales: frozenset[str], ctx: Context) -> str:
    order = [ctx.locale, "plain", "comma", "en", "fr", "de"]
    return next(loc for loc in order if loc in locales)


def _number_candidates(texts: list[str], ctx: Context) -> list[Candidate]:
    locales = column_locales(texts)
    if not locales:
        return []
    if any(CODE.fullmatch(t.strip()) for t in texts):
        return []  # '01234', a 20-digit id: codes, whose digits matter more than their value
    loc = _pick(locales, ctx)
    as_read = (ctx.csv and loc == ctx.locale) or (not ctx.csv and loc == "plain")
    converters = [] if as_read else [_locale_converter(loc)]
    note = "number" if not converters else f"locale number ({LOCALES[loc][0]!r} decimal)"
    thousands = LOCALES[loc][1]
    if thousands and any(thousands in t or "\xa0" in t or "\u202f" in t for t in texts):
        note += f", {thousands!r} thousands"
    out = []
    if all(is_integral(t, loc) for t in texts):
        out.append((FieldType.INT, converters, note))
    out.append((FieldType.FLOAT, converters, note))
    return out


def _decimal_of(numbers: list[str], ctx: Context) -> str | None:
    locales = column_locales(numbers)
    if not locales:
        return None
    return LOCALES[_pick(locales, ctx)][0]


def _text_candidates(texts: list[str], name: str, ctx: Context) -> list[Candidate]:
    """Typed readings of text values, most specific first."""
    out: list[Candidate] = []
    lowered = {t.strip().lower() for t in texts}
    if lowered <= (TRUE_WORDS | FALSE_WORDS) and not lowered <= {"0", "1"}:
        out.append((FieldType.BOOL, [], "boolean words"))
    numbers = _number_candidates(texts, ctx)
    if numbers and TIME_NAME.search(name) and is_epoch(texts):
        out.append((FieldType.TIMESTAMP, [], "epoch time"))
    out += numbers
    if numbers:
        return out
    # Percentages and suffixed numbers: at least one value carries the sign, every value is a number.
    percents = [PERCENT.fullmatch(t.strip()) for t in texts]
    if any(m for m in percents) and (
        dec := _decimal_of([m.group(1) if m else t for m, t in zip(percents, texts, strict=True)], ctx)
    ):
        out.append((FieldType.FLOAT, [{"kind": "percent", "decimal": dec}], f"percentage ({dec!r} decimal)"))
    suffixed = [SUFFIX.fullmatch(t.strip()) for t in texts]
    if any(m for m in suffixed) and (
        dec := _decimal_of([m.group(1) if m else t for m, t in zip(suffixed, texts, strict=True)], ctx)
    ):
        out.append(
            (
                FieldType.FLOAT,
                [{"kind": "suffix_number", "decimal": dec}],
                f"K/M/B suffixes ({dec!r} decimal)",
            )
        )
    money = [CURRENCY.fullmatch(t.strip()) for t in texts]
    symbols = {m.group(1) or m.group(4) for m in money if m}
    if all(money) and len(symbols) == 1:
        (symbol,) = symbols
        amounts = [(m.group(2) or m.group(3)).strip() for m in money if m]
        locales = column_locales(amounts)
        if locales:
            loc = _pick(locales, ctx)
            converters = [{"kind": "replace", "old": symbol, "new": ""}, _locale_converter(loc)]
            out.append((FieldType.FLOAT, converters, f"amounts in {symbol}"))
    stripped = [t.strip() for t in texts]
    if all(ISO_DATE.fullmatch(t) for t in stripped):
        out.append((FieldType.DATE, [], "ISO 8601 date"))
    elif all(ISO_STAMP.fullmatch(t) for t in stripped):
        zoned = sum(1 for t in stripped if t.endswith("Z") or re.search(r"[+-]\d{2}:?\d{2}$", t))
        zone = " with zone" if zoned == len(stripped) else f"; {'some' if zoned else _NO_ZONE}"
        zone += " without zone: UTC assumed for those" if 0 < zoned < len(stripped) else ""
        out.append((FieldType.TIMESTAMP, [], "ISO 8601 timestamp" + zone))
    else:
        formats = date_formats(stripped, OUTLIER_SHARE)
        for fmt in formats:
            kind = FieldType.TIMESTAMP if any(d in fmt for d in TIME_DIRECTIVES) else FieldType.DATE
            note = f"{'timestamp' if kind is FieldType.TIMESTAMP else 'date'} like {fmt!r}"
            if fmt in DAY_MONTH and DAY_MONTH[fmt] in formats:
                note += " (day/month order ambiguous in the sample: day first assumed)"
            if kind is FieldType.TIMESTAMP and "%z" not in fmt and "%Z" not in fmt:
                note += f"; {_NO_ZONE} (the converter's `timezone` sets another)"
            out.append((kind, [{"kind": "timestamp_format", "format": fmt}], note))
    if all(t.strip()[:1] in "{[" for t in texts):
        out.append((FieldType.JSON, [], "JSON text"))
    return out


def _native_candidates(values: list[Any], name: str) -> list[Candidate]:
    """JSON values that are not all text: their JSON types decide."""
    kinds = {type(v) for v in values}
    if kinds <= {bool}:
        return [(FieldType.BOOL, [], "JSON booleans")]
    if kinds <= {int}:
        numbers = [str(v) for v in values]
        if TIME_NAME.search(name) and is_epoch(numbers):
            return [(FieldType.TIMESTAMP, [], "epoch time"), (FieldType.INT, [], "JSON integers")]
        return [(FieldType.INT, [], "JSON integers")]
    if kinds <= {int, float}:
        return [(FieldType.FLOAT, [], "JSON numbers")]
    if kinds & {dict, list}:
        return [(FieldType.JSON, [], "JSON arrays/objects")]
    if kinds <= {int, float, str}:  # "35" beside 35: the text must read as a number too
        texts = [str(v) for v in values]
        return [c for c in _number_candidates(texts, Context()) if c[0] is FieldType.FLOAT]
    return []


def _candidates(values: list[Any], name: str, ctx: Context) -> list[Candidate]:
    if all(isinstance(v, str) for v in values):
        found = _text_candidates(values, name, ctx)
        return found if ctx.csv else [c for c in found if c[0] is not FieldType.JSON]
    return _native_candidates(values, name)


def _pool(values: list[Any], weights: list[int], kind_of: Callable[[Any], bool], allowed: int) -> list[Any]:
    """The values of one kind, if the others hold at most ``allowed`` rows (else none: stops early)."""
    pool, left_out = [], 0
    for value, weight in zip(values, weights, strict=True):
        if kind_of(value):
            pool.append(value)
            continue
        left_out += weight
        if left_out > allowed:
            return []
    return pool


def _choose(
    values: list[Any], weights: list[int], name: str, ctx: Context, allowed: int
) -> tuple[Candidate, list[Any]] | None:
    """The first candidate the parser reads for all values but at most ``allowed`` rows, and the values it
    cannot read. With outliers allowed, candidates come from the values of one kind (booleans, numbers or
    dates) that leave out at most ``allowed`` rows, and only a typed reading may win."""
    pools = (
        [values]
        if not allowed
        else [p for k in (boolish, numberish, dateish) if (p := _pool(values, weights, k, allowed))]
    )
    for pool in pools:
        for candidate in _candidates(pool, name, ctx):
            if allowed and candidate[0] not in _TYPED:
                continue
            bad = _unreadable(values, weights, candidate, ctx, allowed)
            if bad is not None:
                return candidate, bad
    return None


def _key(value: Any) -> tuple[type, Any]:
    return (type(value), repr(value) if isinstance(value, dict | list) else value)


def infer_field(
    source: str,
    raw: Sequence[Any],
    ctx: Context,
    nulls: frozenset[str] = frozenset(),
    share: float = OUTLIER_SHARE,
) -> FieldGuess:
    """Type one field from its sampled raw values (None, missing or a null marker: null), tolerating
    outliers up to ``share`` of the non-null values (0: every value must be read)."""
    present = [v for v in raw if v is not None and not (isinstance(v, str) and v in nulls)]
    guess = FieldGuess(source, count=len(present), nulls=len(raw) - len(present))
    counts: Counter[tuple[type, Any]] = Counter()
    distinct: dict[tuple[type, Any], Any] = {}
    for v in present:
        key = _key(v)
        counts[key] += 1
        distinct.setdefault(key, v)
    values = list(distinct.values())
    weights = [counts[k] for k in distinct]
    guess.distinct = len(values)
    guess.examples = [_example(v) for v in values[:3]]
    if not values:
        guess.detected = "always null in the sample"
        return guess
    typed, markers = values, {}
    found = _choose(values, weights, source, ctx, 0)
    tokens = [isinstance(v, str) and v in NULL_TOKENS for v in values] if ctx.markers else []
    if found is None and any(tokens) and not all(tokens):
        rest = [v for v, t in zip(values, tokens, strict=True) if not t]
        rest_weights = [w for w, t in zip(weights, tokens, strict=True) if not t]
        found = _choose(rest, rest_weights, source, ctx, 0)
        if found is None and share:
            found = _choose(rest, rest_weights, source, ctx, int(share * sum(rest_weights)))
        if found is not None and found[0][0] in _TYPED:  # tokens are nulls only beside typed values
            typed = rest
            markers = {v: w for v, w, t in zip(values, weights, tokens, strict=True) if t}
        else:
            found = None
    if found is None and share:
        found = _choose(values, weights, source, ctx, int(share * len(present)))
    if found is not None:
        (kind, converters, note), bad = found
        guess.type, guess.converters, guess.detected = kind, converters, note
        _typed_evidence(guess, raw, typed, bad, markers)
        return guess
    guess.type = FieldType.JSON if any(isinstance(v, dict | list) for v in values) else FieldType.STRING
    guess.detected = "text" if guess.type is FieldType.STRING else "mixed JSON values"
    # A column that is nearly all numbers or dates is text here, with less certainty.
    typed_share = sum(1 for v in values if isinstance(v, str) and looks_typed(v)) if len(values) <= 500 else 0
    share_read = typed_share / len(values)
    guess.confidence = round(_support(guess.count) * (1 - share_read if share_read > 0.5 else 1.0), 3)
    return guess


def _typed_evidence(
    guess: FieldGuess, raw: Sequence[Any], typed: list[Any], bad: list[Any], markers: dict[str, int]
) -> None:
    """Counts, examples, notes and confidence of a typed field: null tokens move to the nulls, outliers are
    counted by row (what the load quarantines) and shown."""
    if markers:
        guess.markers = markers
        guess.nulls += sum(markers.values())
        guess.count -= sum(markers.values())
        guess.distinct = len(typed)
        guess.detected += f"; {', '.join(map(repr, markers))} read as null"
    keys = {_key(v) for v in bad}
    if bad:
        guess.outlier_rows = frozenset(i for i, v in enumerate(raw) if v is not None and _key(v) in keys)
        guess.outlier_examples = [_example(v) for v in bad[:3]]
        guess.detected += (
            f"; {guess.outliers} of {guess.count} values unreadable as {guess.type.value}, their rows "
            f"quarantined at load (e.g. {', '.join(map(repr, guess.outlier_examples))})"
        )
    guess.examples = [_example(v) for v in itertools.islice((v for v in typed if _key(v) not in keys), 3)]
    confidence = _support(guess.count) * (0.6 if "ambiguous" in guess.detected else 1.0)
    guess.confidence = round(confidence * (1 - guess.outliers / guess.count), 3)


def file_locale(table_columns: dict[str, list[Any]], nulls: frozenset[str], prefer_comma: bool) -> str:
    """The CSV parser's decimal/thousands: the spelling most numeric columns share."""
    sets: list[frozenset[str]] = []
    for raw in table_columns.values():
        texts = Counter(v for v in raw if isinstance(v, str) and v not in nulls and v not in NULL_TOKENS)
        numbers = _pool(list(texts), list(texts.values()), is_number, int(OUTLIER_SHARE * texts.total()))
        found = column_locales(numbers) if numbers else None  # outliers do not silence a column
        if found and found != ALL_LOCALES:
            sets.append(found)
    return choose_locale(sets, prefer_comma) if sets else ("comma" if prefer_comma else "plain")
