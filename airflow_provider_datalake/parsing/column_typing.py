"""Typing one block's string cells a column at a time (pyarrow.compute), with the row path's results.

A value is converted by Arrow only when it matches a pattern that Arrow and the row path read alike (an int
is `-?[0-9]{1,18}`, a timestamp a plain ISO 8601 form); every other value goes through the row path's own
`FieldPlan`, one at a time, so values and errors are the row path's by construction. A field whose
converters have no vectorised form is typed by its `FieldPlan` value by value, still column-wise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from airflow_provider_datalake.descriptors.model import CsvParser, FieldSpec, FieldType
from airflow_provider_datalake.parsing.coerce import FALSE_WORDS, TRUE_WORDS
from airflow_provider_datalake.parsing.errors import ConversionError
from airflow_provider_datalake.parsing.fields import MISSING, FieldPlan

ARROW_TYPES: dict[FieldType, pa.DataType] = {
    FieldType.STRING: pa.string(),
    FieldType.INT: pa.int64(),
    FieldType.FLOAT: pa.float64(),
    FieldType.BOOL: pa.bool_(),
    FieldType.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    FieldType.DATE: pa.date32(),
}

# Values both Arrow's casts and the row path's coercers accept, with the same result (RE2 syntax).
_INT = r"^-?[0-9]{1,18}$"  # Arrow refuses a leading '+'; 18 digits always fit in 64 bits
_FLOAT = r"^[+-]?(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})(?:[eE][+-]?[0-9]{1,3})?$"
_DAY = r"[12][0-9]{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"  # years 1000-2999: no offset overflows
_TIME = r"[T ](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
_NAIVE = rf"^{_DAY}{_TIME}$"
_AWARE = rf"^{_DAY}{_TIME}(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
_DATE = rf"^{_DAY}$"
_TRUE = pa.array(sorted({form for w in TRUE_WORDS for form in (w, w.upper(), w.capitalize())}))
_FALSE = pa.array(sorted({form for w in FALSE_WORDS for form in (w, w.upper(), w.capitalize())}))


class ColumnTyper:
    """The fields of one CSV descriptor, typed a block at a time: `column(k, cell, rows)` types the k-th."""

    def __init__(self, fields: Sequence[FieldSpec], parser: CsvParser) -> None:
        self.fields = list(fields)
        self.types = [ARROW_TYPES[f.type] for f in self.fields]
        self.plans = [FieldPlan(f, parser.decimal, parser.thousands) for f in self.fields]
        self.nulls = pa.array(parser.null_values, pa.string())
        self.number_text = _number_text(parser.decimal, parser.thousands)
        # Would the vectorised typing take a null marker ('NA', '-', ...) for a value of the field's type?
        self.markers_typed = [
            f.type is FieldType.STRING
            or bool(f.converters)
            or (fast := self._fast(f.type, self.nulls)) is None
            or bool(fast[1].any())
            for f in self.fields
        ]

    def column(self, k: int, cell: pa.Array | None, rows: int) -> tuple[pa.Array, dict[int, ConversionError]]:
        """One field over the block's cells: (typed column, row index -> the row path's error)."""
        plan, kind, typ = self.plans[k], self.fields[k].type, self.types[k]
        errors: dict[int, ConversionError] = {}
        if cell is None:  # the header has no such column: every record misses it
            try:
                value = plan.convert(MISSING, None, None)
            except ConversionError as exc:
                return pa.nulls(rows, typ), dict.fromkeys(range(rows), exc)
            return pa.repeat(pa.scalar(value, typ), rows), errors
        fast = None if self.fields[k].converters else self._fast(kind, cell)
        if fast is None:
            array, ok = pa.nulls(rows, typ), np.zeros(rows, dtype=bool)
        else:
            array, ok = fast
        null = None
        if len(self.nulls) and (fast is None or self.markers_typed[k] or not ok.all()):
            null = pc.is_in(cell, value_set=self.nulls)  # (not needed when the typed cells cannot be markers)
        if null is not None and null.true_count:
            nulls = null.to_numpy(zero_copy_only=False)
            ok = ok & ~nulls
            try:
                value = plan.convert(None, None, None)
            except ConversionError as exc:
                errors.update(dict.fromkeys(np.flatnonzero(nulls).tolist(), exc))
                value = None
            array = pc.if_else(null, pa.scalar(value, typ), array)
            odd = ~(ok | nulls)
        else:
            odd = ~ok
        if odd.any():
            array = self._one_by_one(plan, cell, array, odd, errors)
        return array, errors

    def _one_by_one(
        self,
        plan: FieldPlan,
        cell: pa.Array,
        array: pa.Array,
        odd: np.ndarray,
        errors: dict[int, ConversionError],
    ) -> pa.Array:
        """The row path's conversion for the values the vectorised one does not vouch for."""
        indices = np.flatnonzero(odd)
        converted = np.zeros(len(odd), dtype=bool)
        values = []
        convert = plan.convert
        for index, raw in zip(indices.tolist(), cell.take(pa.array(indices)).to_pylist(), strict=True):
            try:
                values.append(convert(raw, None, None))
            except ConversionError as exc:
                errors[index] = exc
            else:
                converted[index] = True
        if values:
            array = pc.replace_with_mask(array, pa.array(converted), pa.array(values, array.type))
        return array

    def _fast(self, kind: FieldType, cell: pa.Array) -> tuple[pa.Array, np.ndarray] | None:
        """(typed column, mask of the cells it holds) for a field without converters."""
        if kind is FieldType.STRING:  # blocks with a NUL never get here: every cell is a fine string
            return cell, np.ones(len(cell), dtype=bool)
        if kind is FieldType.INT or kind is FieldType.FLOAT:
            text = self.number_text(cell)
            pattern, typ = (_INT, pa.int64()) if kind is FieldType.INT else (_FLOAT, pa.float64())
            ok = pc.match_substring_regex(text, pattern)
            array = pc.cast(pc.if_else(ok, text, pa.scalar(None, pa.string())), typ)
            if kind is FieldType.FLOAT:  # '1e999' is inf for Arrow and an error for the row path
                ok = pc.fill_null(pc.and_(ok, pc.is_finite(array)), False)
            return array, ok.to_numpy(zero_copy_only=False)
        if kind is FieldType.BOOL:
            true, false = pc.is_in(cell, value_set=_TRUE), pc.is_in(cell, value_set=_FALSE)
            ok = pc.or_(true, false)
            return pc.if_else(ok, true, pa.scalar(None, pa.bool_())), ok.to_numpy(zero_copy_only=False)
        none = pa.scalar(None, pa.string())
        try:
            if kind is FieldType.TIMESTAMP:
                typ = ARROW_TYPES[FieldType.TIMESTAMP]
                aware = pc.match_substring_regex(cell, _AWARE)
                as_aware = pc.cast(pc.if_else(aware, cell, none), typ)
                if aware.false_count == 0:
                    return as_aware, np.ones(len(cell), dtype=bool)
                naive = pc.match_substring_regex(cell, _NAIVE)  # naive means UTC, as in the row path
                as_naive = pc.cast(pc.cast(pc.if_else(naive, cell, none), pa.timestamp("us")), typ)
                ok = pc.or_(naive, aware).to_numpy(zero_copy_only=False)
                return pc.if_else(naive, as_naive, as_aware), ok
            if kind is FieldType.DATE:
                ok = pc.match_substring_regex(cell, _DATE)
                return pc.cast(pc.if_else(ok, cell, none), pa.date32()), ok.to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:  # a day that does not exist (Feb 30): leave the column to the row path's code
            return None
        return None


def _number_text(decimal: str, thousands: str | None) -> Any:
    """`coerce.number_text` for a column: drop the thousands separators, then '.' for the decimal one."""
    removals = [thousands] if thousands else []
    if thousands == " ":
        removals.extend(("\xa0", "\u202f"))

    def normalise(cell: pa.Array) -> pa.Array:
        for sep in removals:
            cell = pc.replace_substring(cell, sep, "")
        if decimal != ".":
            cell = pc.replace_substring(cell, decimal, ".")
        return cell

    return normalise
