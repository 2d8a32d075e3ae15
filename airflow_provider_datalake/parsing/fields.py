"""A descriptor's fields compiled once into plans: raw lookup → converters → expression → default → typing.

Compiling up front (converters, regexes, time zones, Jinja expressions, typed defaults) means a descriptor
problem surfaces before the first row, and the per-row work is plain function calls.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from airflow_provider_datalake.descriptors.model import FieldSpec
from airflow_provider_datalake.parsing.coerce import coercer
from airflow_provider_datalake.parsing.converters import compile_converter
from airflow_provider_datalake.parsing.errors import ConversionError
from airflow_provider_datalake.parsing.expressions import compile_expression, evaluate


class _Missing:
    """The key is absent from the record (as opposed to present and null)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

Lookup = Callable[[dict[str, Any]], Any]


def json_lookup(source: str, null_values: Iterable[str] = ()) -> Lookup:
    """`a.b.c` walks nested objects (digits index lists); a key that itself contains dots wins if present.
    A string among `null_values` ('n/a') reads as null, as the CSV parser's markers do."""
    nulls = frozenset(null_values)
    if nulls:
        walk = json_lookup(source)

        def lookup_nulls(record: dict[str, Any]) -> Any:
            value = walk(record)
            return None if isinstance(value, str) and value in nulls else value

        return lookup_nulls
    parts = source.split(".")
    if len(parts) == 1:

        def lookup_key(record: dict[str, Any]) -> Any:
            return record.get(source, MISSING)

        lookup_key.key = source  # type: ignore[attr-defined]  # lets the field reader inline the lookup
        return lookup_key

    def lookup(record: dict[str, Any]) -> Any:
        if source in record:
            return record[source]
        node: Any = record
        for part in parts:
            if isinstance(node, dict):
                node = node.get(part, MISSING)
            elif (
                isinstance(node, list) and part.lstrip("-").isdigit() and -len(node) <= int(part) < len(node)
            ):
                node = node[int(part)]
            else:
                return MISSING
            if node is MISSING:
                return MISSING
        return node

    return lookup


def csv_lookup(column: str, null_values: Iterable[str]) -> Lookup:
    """A column by name; the parser's null markers ('', 'NA', ...) read as null."""
    nulls = frozenset(null_values)

    def lookup(record: dict[str, Any]) -> Any:
        value = record.get(column, MISSING)
        return None if value in nulls else value

    return lookup


class FieldPlan:
    """One field, compiled. `convert` raises `ConversionError` naming the field and the raw value."""

    __slots__ = ("coerce", "default", "expression", "kinds", "name", "required", "steps")

    def __init__(self, spec: FieldSpec, decimal: str = ".", thousands: str | None = None) -> None:
        self.name = spec.name
        self.required = spec.required
        try:
            self.steps = tuple(compile_converter(c) for c in spec.converters)
            self.kinds = tuple(c.kind for c in spec.converters)
            self.expression = compile_expression(spec.expression) if spec.expression else None
            self.coerce = coercer(spec.type, decimal, thousands)
            self.default = None if spec.default is None else self.coerce(spec.default)
        except ValueError as exc:
            raise ValueError(f"field {spec.name!r}: {exc}") from None

    def absent(self, raw: Any) -> Any:
        """No value (missing key, null, or nothing left after converters): the default, None, or an error."""
        if self.default is not None:
            return self.default
        if self.required:
            if raw is MISSING:
                reason = "required field missing"
            elif raw is None:
                reason = "required field is null"
            else:
                reason = "required field has no value after converters/expression"
            raise ConversionError(self.name, None if raw is MISSING else raw, reason)
        return None

    def failure(self, raw: Any, exc: Exception, stage: int) -> ConversionError:
        """Any error becomes a row error naming the field (a converter bug costs one row, not the file)."""
        reason = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
        if stage < len(self.kinds):
            reason = f"{self.kinds[stage]}: {reason}"
        return ConversionError(self.name, None if raw is MISSING else raw, reason)

    def convert(self, raw: Any, row: Any, fields: dict[str, Any] | None) -> Any:
        value = None if raw is MISSING else raw
        stage = 0
        try:
            for step in self.steps:
                if value is None:
                    break
                value = step(value)
                stage += 1
            stage = len(self.kinds)
            if self.expression is not None:
                value = evaluate(self.expression, row, fields, value)
            if value is None:
                return self.absent(raw)
            return self.coerce(value)
        except ConversionError:
            raise
        except Exception as exc:
            raise self.failure(raw, exc, stage) from None

    def reader(self, lookup: Lookup) -> Callable[[dict[str, Any], dict[str, Any] | None], Any]:
        """Lookup + convert as one function of the record, with short paths for the common shapes.

        Without an expression a field is a pure function of its raw value, so the last answer is reused
        when the very same raw object comes again: the 8 rows zipped from one energy message share their
        topic and time objects, which are then split and parsed once.
        """
        if self.expression is not None:
            convert = self.convert
            return lambda record, fields: convert(lookup(record), record, fields)
        coerce, absent, failure, steps = self.coerce, self.absent, self.failure, self.steps
        key: str | None = getattr(lookup, "key", None)
        last_raw: Any = object()  # matches nothing until a first value is converted
        last_value: Any = None
        if not steps and key is not None:

            def read_key(record: dict[str, Any], fields: dict[str, Any] | None) -> Any:
                nonlocal last_raw, last_value
                raw = record.get(key, MISSING)
                if raw is last_raw:
                    return last_value
                if raw is None or raw is MISSING:
                    return absent(raw)
                try:
                    value = coerce(raw)
                except Exception as exc:
                    raise failure(raw, exc, 0) from None
                last_raw, last_value = raw, value
                return value

            return read_key

        def read(record: dict[str, Any], fields: dict[str, Any] | None) -> Any:
            nonlocal last_raw, last_value
            raw = lookup(record)
            if raw is last_raw:
                return last_value
            if raw is None or raw is MISSING:
                return absent(raw)
            value = raw
            stage = 0
            try:
                for step in steps:
                    value = step(value)
                    if value is None:
                        return absent(raw)
                    stage += 1
                value = coerce(value)
            except ConversionError:
                raise
            except Exception as exc:
                raise failure(raw, exc, stage) from None
            last_raw, last_value = raw, value
            return value

        return read


class RowPlan:
    """All fields of a descriptor with the lookups of one parser kind; `row()` gives the typed tuple."""

    def __init__(self, plans: list[FieldPlan], lookups: list[Lookup]) -> None:
        self.names = [plan.name for plan in plans]
        self._readers = [plan.reader(lookup) for plan, lookup in zip(plans, lookups, strict=True)]
        self._named = list(zip(self.names, self._readers, strict=True))
        self._with_fields = any(plan.expression is not None for plan in plans)

    def row(self, record: dict[str, Any]) -> tuple[Any, ...]:
        if not self._with_fields:
            return tuple([read(record, None) for read in self._readers])
        fields: dict[str, Any] = {}
        for name, read in self._named:
            fields[name] = read(record, fields)
        return tuple(fields.values())


_CACHE: OrderedDict[tuple[int, str, str | None], tuple[FieldSpec, FieldPlan]] = OrderedDict()
_CACHE_SIZE = 256
_CACHE_LOCK = threading.Lock()


def cached_plan(spec: FieldSpec, decimal: str, thousands: str | None) -> FieldPlan:
    """`convert_value` may run per row: keep recent plans, keyed by identity (the spec is kept alive)."""
    key = (id(spec), decimal, thousands)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None and hit[0] is spec:
            _CACHE.move_to_end(key)
            return hit[1]
    plan = FieldPlan(spec, decimal, thousands)
    with _CACHE_LOCK:
        _CACHE[key] = (spec, plan)
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return plan
