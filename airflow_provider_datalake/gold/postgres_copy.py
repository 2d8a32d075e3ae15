"""Gold zone, PostgreSQL: parsed batches streamed into a table with binary ``COPY`` (memory stays flat).

Binary, not text: no text to format or parse, and a value of the wrong type fails on the client, where
its source row is known. The parser's columnar batches (CSV) are encoded by Arrow a column at a time
(`_binary_rows`), with no Python object per value; other batches go through psycopg's ``write_row``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import sql

from airflow_provider_datalake.descriptors.model import FieldSpec, FieldType
from airflow_provider_datalake.gold.common import (
    RAW_OBJECT_ID,
    SOURCE_ROW,
    BatchLike,
    GoldLoadError,
    check_columns,
    check_row_numbers,
)
from airflow_provider_datalake.gold.postgres_schema import PG_TYPES, GoldTable


def copy_batches(
    cur: psycopg.Cursor[Any],
    gold: GoldTable,
    into: sql.Identifier,
    batches: Iterable[BatchLike],
    raw_object_id: str,
    *,
    lineage: bool,
) -> int:
    """Binary COPY of every batch into ``into`` (the gold table or its stage); returns the number of rows.

    With ``lineage`` (straight into the table) the object id is written on every row; the stage only
    carries ``_source_row``. A value of the wrong type raises `GoldLoadError` naming its source row.
    """
    columns = [*gold.names, *((RAW_OBJECT_ID,) if lineage else ()), SOURCE_ROW]
    types = [PG_TYPES[f.type].copy for f in gold.fields]
    types += ["text", "int4"] if lineage else ["int4"]
    stmt = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        into, sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    rows_in = 0
    with cur.copy(stmt) as copy:
        copy.set_types(types)
        write = copy.write_row
        arrow: bool | None = None  # decided by the first batch: all Arrow-encoded, or all row by row
        for batch in batches:
            check_columns(batch, gold.names)
            columnar = getattr(batch, "arrow", None)
            if arrow is None:
                arrow = columnar is not None and _arrow_encodable(gold.fields)
                if arrow:
                    copy.write(_PGCOPY_SIGNATURE)
            if arrow:
                rows_in += _write_arrow(copy, gold, batch, raw_object_id if lineage else None)
                continue
            check_row_numbers(batch)
            try:
                if lineage:
                    for row, number in zip(batch.rows, batch.row_numbers, strict=True):
                        write((*row, raw_object_id, number))
                else:
                    for row, number in zip(batch.rows, batch.row_numbers, strict=True):
                        write((*row, number))
            except (TypeError, ValueError, OverflowError, psycopg.DataError) as exc:
                raise GoldLoadError(
                    f"raw object {raw_object_id} into {gold.qualified}: {_explain(gold.fields, batch, exc)}; "
                    "nothing of this object was written"
                ) from exc
            rows_in += len(batch.rows)
        if arrow:
            copy.write(_PGCOPY_TRAILER)
    return rows_in


def _arrow_encodable(fields: Sequence[FieldSpec]) -> bool:
    return all(f.type in _ARROW_ENCODERS for f in fields)


def _write_arrow(copy: psycopg.Copy, gold: GoldTable, batch: BatchLike, raw_object_id: str | None) -> int:
    """Binary COPY rows built by Arrow from typed columns: no Python object per value.

    A batch of the parser's columnar path carries its Arrow table (``batch.arrow``) and row numbers
    (``batch.numbers``); a plain batch met in the same load is converted first.
    """
    # Imported here, as in the functions below: only loads that meet Arrow batches need them.
    import numpy as np
    import pyarrow as pa

    try:
        table = getattr(batch, "arrow", None)
        if table is not None:
            numbers = np.asarray(batch.numbers)  # type: ignore[attr-defined]
        else:
            check_row_numbers(batch)
            columns = list(zip(*batch.rows, strict=True)) if batch.rows else [() for _ in gold.fields]
            table = pa.table(
                [
                    pa.array(list(c), _ARROW_ENCODERS[f.type][0])
                    for c, f in zip(columns, gold.fields, strict=True)
                ],
                names=gold.names,
            )
            numbers = np.asarray(batch.row_numbers, dtype=np.int64)
        if len(numbers) != table.num_rows:
            raise GoldLoadError(f"batch has {table.num_rows} rows but {len(numbers)} row numbers")
        if len(numbers) and not (numbers.min() >= 0 and numbers.max() < 2**31):
            raise GoldLoadError(f"row numbers {numbers.min()}..{numbers.max()} do not fit _source_row")
        for start in range(0, table.num_rows, _ARROW_SLICE):
            part = table.slice(start, _ARROW_SLICE)
            copy.write(_binary_rows(part, gold.fields, numbers[start : start + _ARROW_SLICE], raw_object_id))
    except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
        raise GoldLoadError(
            f"raw object {raw_object_id} into {gold.qualified}: {_explain(gold.fields, batch, exc)}; "
            "nothing of this object was written"
        ) from exc
    return int(table.num_rows)


def _explain(fields: Sequence[FieldSpec], batch: BatchLike, exc: Exception) -> str:
    """Find the row and column the driver refused (the slow path, taken only on failure)."""
    for row, number in zip(batch.rows, batch.row_numbers, strict=False):
        if len(row) != len(fields):
            return f"source row {number} has {len(row)} values for {len(fields)} fields"
        for f, value in zip(fields, row, strict=True):
            if value is not None and not _fits(f.type, value):
                return (
                    f"source row {number}, column {f.name} ({f.type.value}): "
                    f"{type(value).__name__} value {value!r:.80} ({exc})"
                )
    return f"a value was refused: {type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------- binary COPY from Arrow

_PGCOPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"  # + flags, ext
_PGCOPY_TRAILER = b"\xff\xff"
_ARROW_SLICE = 1 << 16  # rows per encoded piece: Arrow's binary offsets are 32-bit
_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in Unix microseconds: PostgreSQL's timestamp origin
_PG_EPOCH_DAYS = 10_957


def _arrow_types() -> dict[FieldType, tuple[Any, str]]:
    """Field type -> (Arrow type, big-endian numpy dtype of its binary COPY form); text is variable."""
    import pyarrow as pa

    return {
        FieldType.STRING: (pa.string(), ""),
        FieldType.INT: (pa.int64(), ">i8"),
        FieldType.FLOAT: (pa.float64(), ">f8"),
        FieldType.BOOL: (pa.bool_(), "u1"),
        FieldType.TIMESTAMP: (pa.timestamp("us", tz="UTC"), ">i8"),
        FieldType.DATE: (pa.date32(), ">i4"),
    }


class _LazyTypes(dict[FieldType, tuple[Any, str]]):
    """``_arrow_types()`` on first use: pyarrow is imported only by loads that meet Arrow batches."""

    def __missing__(self, key: FieldType) -> tuple[Any, str]:
        if not self:
            self.update(_arrow_types())
            if key in self:
                return self[key]
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if not dict.__len__(self):
            self.update(_arrow_types())
        return dict.__contains__(self, key)


_ARROW_ENCODERS = _LazyTypes()


def _binary_rows(table: Any, fields: Sequence[FieldSpec], numbers: Any, raw_object_id: str | None) -> bytes:
    """PostgreSQL binary COPY tuples for a typed Arrow table (+ lineage), built column-wise.

    Each value becomes a length-prefixed big-endian piece (a null is length -1); Arrow's
    ``binary_join_element_wise`` concatenates a row's pieces, and the joined rows' data buffer is the COPY
    payload: no Python object per value, where ``write_row`` builds one per value.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    null = pa.scalar(b"\xff\xff\xff\xff", pa.binary())
    rows = table.num_rows

    def fixed(values: Any, dtype: str, valid: Any) -> Any:
        width = np.dtype(dtype).itemsize
        out = np.empty((rows, 4 + width), np.uint8)
        out[:, :4] = np.frombuffer(width.to_bytes(4, "big"), np.uint8)
        out[:, 4:] = np.ascontiguousarray(values.astype(dtype)).view(np.uint8).reshape(rows, width)
        piece = pa.FixedSizeBinaryArray.from_buffers(pa.binary(4 + width), rows, [None, pa.py_buffer(out)])
        piece = piece.cast(pa.binary())
        return piece if valid is None else pc.if_else(valid, piece, null)

    count = len(fields) + (2 if raw_object_id is not None else 1)
    pieces: list[Any] = [pa.scalar(count.to_bytes(2, "big"), pa.binary())]
    for index, f in enumerate(fields):
        column = table.column(index).combine_chunks()
        valid = column.is_valid() if column.null_count else None
        typ, dtype = _ARROW_ENCODERS[f.type]
        if f.type is FieldType.STRING:
            sizes = pc.fill_null(pc.binary_length(column), 0).to_numpy().astype(">i4")
            prefix = pa.FixedSizeBinaryArray.from_buffers(pa.binary(4), rows, [None, pa.py_buffer(sizes)])
            piece = pc.binary_join_element_wise(prefix.cast(pa.binary()), column.cast(pa.binary()), b"")
            pieces.append(piece if valid is None else pc.if_else(valid, piece, null))
            continue
        if f.type is FieldType.TIMESTAMP:
            values = pc.fill_null(column.cast(pa.int64()), _PG_EPOCH_US).to_numpy() - _PG_EPOCH_US
        elif f.type is FieldType.DATE:
            values = pc.fill_null(column.cast(pa.int32()), 0).to_numpy() - _PG_EPOCH_DAYS
        else:
            values = pc.fill_null(column, pa.scalar(False if f.type is FieldType.BOOL else 0, typ))
            values = values.to_numpy(zero_copy_only=False)
        pieces.append(fixed(values, dtype, valid))
    if raw_object_id is not None:
        ident = raw_object_id.encode()
        pieces.append(pa.scalar(len(ident).to_bytes(4, "big") + ident, pa.binary()))
    pieces.append(fixed(np.asarray(numbers), ">i4", None))
    joined = pc.binary_join_element_wise(*pieces, b"")
    offsets = np.frombuffer(joined.buffers()[1], np.int32, rows + 1, joined.offset * 4)
    body: bytes = joined.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0])).to_pybytes()
    return body


def _fits(kind: FieldType, value: Any) -> bool:
    """Does a Python value have the type the parsing stage promises for this field type?"""
    if kind is FieldType.STRING:
        return isinstance(value, str) and "\x00" not in value
    if kind is FieldType.INT:
        return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63
    if kind is FieldType.FLOAT:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is FieldType.BOOL:
        return isinstance(value, bool)
    if kind is FieldType.TIMESTAMP:
        return isinstance(value, dt.datetime) and value.utcoffset() is not None
    if kind is FieldType.DATE:
        return isinstance(value, dt.date) and not isinstance(value, dt.datetime)
    return True  # json: any JSON-serialisable value
