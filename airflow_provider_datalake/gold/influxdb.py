"""Gold zone, InfluxDB: each row becomes one point (line protocol), written in batches.

The descriptor maps a row to a point: ``measurement`` (a name, or a template such as ``{{ kind }}``),
``tags`` and ``fields`` (field keys may be templates too: ``{{ unit }}`` gives an energy meter one field
per unit), ``time`` and ``precision``. InfluxDB identifies a point by measurement + tag set + time and a
second write of it overwrites its fields, so re-running a raw object rewrites the same points: the load is
idempotent without any delete. Rows of one MQTT message (one per unit) share measurement, tags and time,
so they merge into one point with one field per unit.

Lineage is stored as two *fields*, ``raw_object_id`` (string) and ``source_row`` (integer), not as tags:
a tag per raw object would start a new series for every file loaded (InfluxDB indexes every tag value,
so series cardinality, memory and the index would grow with the number of files), and it would break
idempotency across objects (a reading re-sent in another dump would become a second point instead of
overwriting the first). A field costs ~40 bytes a point and no index; the last writer of a point is
recorded. (No underscore: keys starting with ``_`` are reserved in InfluxDB 2 and Flux.)

Lines are built in this thread while a writer thread sends the previous batch (the HTTP write releases
the GIL), through the official hook's ``influxdb_client`` with synchronous writes, so an error reaches
the load instead of a background thread's log. Memory holds at most two batches of lines.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_datalake.descriptors.model import FieldSpec, FieldType, InfluxTarget, is_identifier
from airflow_provider_datalake.gold.common import (
    BatchLike,
    GoldLoadError,
    LoadResult,
    Reject,
    Rejects,
    check_batch,
    check_fields,
    frozen_heap,
)
from airflow_provider_datalake.gold.templates import RowTemplate

if TYPE_CHECKING:
    from airflow.providers.influxdb.hooks.influxdb import InfluxDBHook

log = logging.getLogger(__name__)

LINEAGE_OBJECT, LINEAGE_ROW = "raw_object_id", "source_row"
DEFAULT_BUCKET = "datalake"
RESERVED_KEYS = frozenset({LINEAGE_OBJECT, LINEAGE_ROW, "time"})
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: precision -> (timedelta of one unit, or None for ns: microseconds * 1000)
UNITS: dict[str, dt.timedelta] = {
    "s": dt.timedelta(seconds=1),
    "ms": dt.timedelta(milliseconds=1),
    "us": dt.timedelta(microseconds=1),
    "ns": dt.timedelta(microseconds=1),
}
INT64 = (-(2**63), 2**63)

# Line protocol escapes, as influxdb_client's Point writes them.
_ESCAPE_KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
_ESCAPE_STRING = str.maketrans({'"': r"\"", "\\": r"\\"})


def escape_key(value: str) -> str:
    """A tag key, tag value or field key."""
    text = value.translate(_ESCAPE_KEY)
    return text + " " if text.endswith("\\") else text


def make_loader(target: InfluxTarget, fields: list[FieldSpec]) -> InfluxLoader:
    """The loader on the official InfluxDBHook of the target's connection."""
    # Imported here: the Airflow provider is loaded only when a run builds a loader.
    from airflow.providers.influxdb.hooks.influxdb import InfluxDBHook

    return InfluxLoader(InfluxDBHook(conn_id=target.conn_id), target, fields)


class _RowRefused(ValueError):
    def __init__(self, field: str | None, why: str) -> None:
        super().__init__(why)
        self.field = field


def _field_value(kind: FieldType) -> Callable[[Any], str]:
    """The line-protocol text of a field value of this descriptor type (raises _RowRefused's cause)."""
    if kind is FieldType.FLOAT:

        def fmt(v: Any) -> str:
            v = float(v)
            if not math.isfinite(v):
                raise ValueError(f"{v} cannot be stored in InfluxDB (finite floats only)")
            return repr(v)

        return fmt
    if kind is FieldType.INT:

        def fmt_int(v: Any) -> str:
            if not INT64[0] <= v < INT64[1]:
                raise ValueError("integer out of InfluxDB's 64-bit range")
            return f"{v}i"

        return fmt_int
    if kind is FieldType.BOOL:
        return lambda v: "true" if v else "false"
    if kind in (FieldType.TIMESTAMP, FieldType.DATE):
        return lambda v: '"' + v.isoformat() + '"'
    if kind is FieldType.JSON:
        import json

        return lambda v: '"' + json.dumps(v, default=str).translate(_ESCAPE_STRING) + '"'
    return lambda v: '"' + str(v).translate(_ESCAPE_STRING) + '"'


class InfluxLoader:
    """Writes parsed batches of raw objects as points of one InfluxDB target."""

    def __init__(self, hook: InfluxDBHook, target: InfluxTarget, fields: Sequence[FieldSpec]) -> None:
        self.names = check_fields(fields, "influxdb")
        by_name = {f.name: f for f in fields}
        wanted = [*target.tags, target.time, *(f.field for f in target.fields)]
        missing = sorted({n for n in wanted if n not in by_name})
        if missing:
            raise ValueError(f"target {target.name}: {missing} are not fields of the descriptor")
        reserved = sorted(({*target.tags} | {f.key or f.field for f in target.fields}) & RESERVED_KEYS)
        if reserved:
            raise ValueError(f"target {target.name}: {reserved} are reserved keys (lineage fields, time)")
        json_tags = [t for t in target.tags if by_name[t].type is FieldType.JSON]
        if json_tags:
            raise ValueError(f"target {target.name}: tags {json_tags} are json fields; tags hold scalars")
        if by_name[target.time].type not in (FieldType.TIMESTAMP, FieldType.INT):
            raise ValueError(
                f"target {target.name}: time field {target.time} is {by_name[target.time].type.value}; "
                "it must be a timestamp (or an int already in the target's precision)"
            )
        self.hook = hook
        self.target = target
        self.fields = list(fields)
        self.index = {n: i for i, n in enumerate(self.names)}
        self.measurement = RowTemplate(target.measurement, self.names)
        self.tag_cols = [(escape_key(t), self.index[t]) for t in target.tags]
        self.field_cols = [
            (
                RowTemplate(f.key or f.field, self.names),
                self.index[f.field],
                f.field,
                _field_value(by_name[f.field].type),
            )
            for f in target.fields
        ]
        self.time_col = self.index[target.time]
        self.time_is_int = by_name[target.time].type is FieldType.INT
        self.unit = UNITS[target.precision]
        self.ns = target.precision == "ns"
        self._series: dict[tuple[Any, ...], str] = {}  # (measurement + tag values) -> escaped series key
        self._bucket: str | None = target.bucket
        self._org: str | None = None

    # ------------------------------------------------------------------ connection

    def _client(self) -> Any:
        client = self.hook.get_conn()
        extras = self.hook.extras or {}
        # InfluxDB 1.8's v2 API reads a bucket "db" as "db/<default retention policy>", so one default
        # works on 1.8 and 2.x alike.
        self._bucket = self.target.bucket or extras.get("bucket") or DEFAULT_BUCKET
        self._org = extras.get("org") or None
        return client

    @property
    def where(self) -> str:
        return f"{self._bucket or '?'}/{self.target.measurement}"

    def ensure_table(self) -> None:
        """InfluxDB needs no schema; check the server answers and the bucket is known (fail fast)."""
        client = self._client()
        try:
            ok = client.ping()
        except Exception as exc:
            raise GoldLoadError(f"InfluxDB ({self.target.conn_id}) unreachable: {exc}") from exc
        if not ok:
            raise GoldLoadError(f"InfluxDB ({self.target.conn_id}) unreachable (ping failed)")

    # ------------------------------------------------------------------ rows -> lines

    def _series_key(self, row: tuple[Any, ...]) -> str:
        measurement = self.measurement(row)
        if not is_identifier(measurement):
            raise _RowRefused(
                None,
                f"measurement {measurement!r} (from {self.target.measurement!r}) is not a safe identifier",
            )
        parts = [measurement]
        for key, i in self.tag_cols:
            value = row[i]
            if value is None or value == "":  # InfluxDB has no empty tag value: the tag is left out
                continue
            parts.append(f"{key}={escape_key(str(value))}")
        return ",".join(parts)

    def lines(self, batch: BatchLike, raw_object_id: str, rejects: Rejects) -> list[str]:
        """Line protocol for one batch; rows InfluxDB cannot take are rejected with their reason."""
        out: list[str] = []
        series = self._series
        tag_idx = [i for _, i in self.tag_cols] + self.measurement.indexes
        fields, time_col, unit = self.field_cols, self.time_col, self.unit
        lineage = f'{LINEAGE_OBJECT}="{raw_object_id.translate(_ESCAPE_STRING)}",{LINEAGE_ROW}='
        for row, number in zip(batch.rows, batch.row_numbers, strict=True):
            try:
                sk = tuple(row[i] for i in tag_idx)
                head = series.get(sk)
                if head is None:
                    head = self._series_key(row)
                    if len(series) < 100_000:
                        series[sk] = head
                ts = row[time_col]
                if ts is None:
                    raise _RowRefused(self.target.time, "no time: a point without one would get the server's")
                if self.time_is_int:
                    stamp = ts
                else:
                    stamp = (ts - EPOCH) // unit
                    if self.ns:
                        stamp *= 1000
                parts = []
                for key_t, i, name, fmt in fields:
                    value = row[i]
                    if value is None:
                        continue
                    key = key_t(row)
                    if not key or key in RESERVED_KEYS or key.startswith("_"):
                        raise _RowRefused(name, f"field key {key!r} is empty or reserved")
                    try:
                        parts.append(f"{escape_key(key)}={fmt(value)}")
                    except (ValueError, TypeError, AttributeError) as exc:
                        raise _RowRefused(name, str(exc)) from None
                if not parts:
                    raise _RowRefused(None, "no field has a value: InfluxDB has no point without fields")
                out.append(f"{head} {','.join(parts)},{lineage}{number}i {stamp}")
            except _RowRefused as exc:
                rejects(number, row, exc.field, str(exc))
            except (ValueError, TypeError) as exc:  # a template failed, a wrong-typed time...
                rejects(number, row, None, str(exc))
        return out

    # ------------------------------------------------------------------ load

    def load(
        self, raw_object_id: str, batches: Iterable[BatchLike], reject: Reject | None = None
    ) -> LoadResult:
        """Write one raw object's rows as points; re-running it rewrites the same points."""
        from influxdb_client.client.write_api import SYNCHRONOUS

        client = self._client()
        rejects = Rejects(reject, self.names)
        write_api = client.write_api(write_options=SYNCHRONOUS)
        pending: queue.Queue[list[str] | None] = queue.Queue(maxsize=1)
        errors: list[BaseException] = []
        written = [0]

        def writer() -> None:
            while (lines := pending.get()) is not None:
                if errors:
                    continue  # drain: the load has failed already
                try:
                    write_api.write(
                        bucket=self._bucket,
                        org=self._org,
                        record="\n".join(lines),
                        write_precision=self.target.precision,
                    )
                    written[0] += len(lines)
                except BaseException as exc:  # handed to the loading thread
                    errors.append(exc)

        thread = threading.Thread(target=writer, name=f"influx-{self.target.name}", daemon=True)
        thread.start()
        rows_in = 0
        size = self.target.batch_size
        buffer: list[str] = []
        try:
            with frozen_heap():
                for batch in batches:
                    check_batch(batch, self.names)
                    rows_in += len(batch.rows)
                    buffer += self.lines(batch, raw_object_id, rejects)
                    while len(buffer) >= size:
                        self._send(pending, buffer[:size], errors)
                        buffer = buffer[size:]
                if buffer:
                    self._send(pending, buffer, errors)
        except _WriteFailed:
            pass  # reported below, with the writer's error
        finally:
            pending.put(None)
            thread.join()
            write_api.close()
        if errors:
            exc = errors[0]
            raise GoldLoadError(
                f"loading raw object {raw_object_id} into {self.where} failed after {written[0]} points: "
                f"{type(exc).__name__}: {_short(exc)}. Run the object again: the load is idempotent"
            ) from exc
        return LoadResult(written[0], rows_in, "overwrite", self.where, rows_rejected=rejects.count)

    def _send(
        self, pending: queue.Queue[list[str] | None], lines: list[str], errors: list[BaseException]
    ) -> None:
        if errors:  # stop reading the object as soon as a write failed
            raise _WriteFailed
        pending.put(lines)


class _WriteFailed(Exception):
    """The writer thread failed: stop building lines."""


def _short(exc: BaseException) -> str:
    """influxdb_client's ApiException carries the whole HTTP response: keep its status and message."""
    body = getattr(exc, "body", None)
    status = getattr(exc, "status", None)
    if body or status:
        return f"HTTP {status}: {str(body)[:300]}"
    return str(exc)[:300]
