"""What kind of file is this? Encoding, shape (CSV, JSON array, JSON lines, nested JSON, neOCampus MQTT) and
CSV dialect, from a bounded sample read from the start of the stream.

Everything here works on the sample only, so the cost does not depend on the file's size. The answers are
meant for the project's own parsers: lines are split as `parsing.lines.LineSplitter` splits them, header
names are cleaned as `parsing.csv_reader` cleans them, and the null markers are the CSV parser's defaults.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import ijson

from airflow_provider_datalake.inference.shapes import looks_typed
from airflow_provider_datalake.parsing.csv_reader import unique_names

#: Bytes read from the start of a file or object: enough for thousands of records, and a constant cost.
SAMPLE_BYTES = 1 << 20
#: Records typed at most (the first ones of the sample).
MAX_RECORDS = 5_000
DELIMITERS = (",", ";", "\t", "|")
SNIFF_LINES = 500  # lines that decide the CSV dialect
_JSON_PIECE = 1 << 16


class NotInferable(ValueError):
    """The sample is not a text format this project parses (an image, an archive, empty input...)."""


@dataclass(frozen=True, slots=True)
class Sample:
    """The first bytes of the input; ``complete`` when they are the whole input."""

    data: bytes
    complete: bool


def read_sample(chunks: Iterable[bytes], max_bytes: int = SAMPLE_BYTES) -> Sample:
    """Take at most ``max_bytes`` from the stream, then close it (a Swift download stops there)."""
    parts: list[bytes] = []
    size = 0
    iterator = iter(chunks)
    complete = True
    try:
        for chunk in iterator:
            if not chunk:
                continue
            parts.append(bytes(chunk))
            size += len(chunk)
            if size >= max_bytes:
                complete = size == max_bytes and next(iterator, b"") == b""
                break
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
    return Sample(b"".join(parts)[:max_bytes], complete)


def read_file_sample(path: str, max_bytes: int = SAMPLE_BYTES) -> Sample:
    with open(path, "rb") as handle:
        data = handle.read(max_bytes + 1)
    return Sample(data[:max_bytes], len(data) <= max_bytes)


# --------------------------------------------------------------------------------------------- encoding


@dataclass(frozen=True, slots=True)
class Encoding:
    name: str  # what the descriptor's parser gets
    bom: bool
    confidence: float


def detect_encoding(data: bytes, complete: bool = True) -> Encoding:
    """UTF-8 (with or without BOM), UTF-16 (BOM), else cp1252 or Latin-1 (the usual non-UTF-8 exports).

    A UTF-8 BOM is reported, but the parser's `utf-8` already drops it, so the descriptor says `utf-8`.
    """
    if data.startswith(codecs.BOM_UTF8):
        return Encoding("utf-8", True, 1.0)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return Encoding("utf-16", True, 1.0)
    head = data[:8192]
    if b"\x00" in head:
        raise NotInferable("binary data (NUL bytes in the first 8 KiB)")
    try:
        _decode_prefix(data, "utf-8", complete)
        return Encoding("utf-8", False, 1.0 if any(b > 127 for b in data) or complete else 0.9)
    except UnicodeDecodeError:
        pass
    # Not UTF-8. Bytes 0x80-0x9f are control characters in Latin-1 but letters and signs in cp1252 (what
    # Windows tools write): if there are some and cp1252 reads them, it is cp1252.
    if any(0x80 <= b <= 0x9F for b in data):
        try:
            data.decode("cp1252")
            return Encoding("cp1252", False, 0.8)
        except UnicodeDecodeError:
            pass
    return Encoding("latin-1", False, 0.8)


def _decode_prefix(data: bytes, encoding: str, complete: bool) -> str:
    """Decode, tolerating a character cut by the sample's end (only when the sample is not the whole)."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    return decoder.decode(data, final=complete)


def decode(sample: Sample, encoding: Encoding) -> str:
    text = _decode_prefix(sample.data, encoding.name, sample.complete)
    text = text.removeprefix("\ufeff")
    if _controls(text) > 0.02:
        raise NotInferable("binary data (too many control characters for text)")
    return text


def _controls(text: str) -> float:
    head = text[:8192]
    if not head:
        return 0.0
    bad = sum(1 for c in head if (ord(c) < 32 and c not in "\t\r\n\f\v") or 0x7F <= ord(c) < 0xA0)
    return bad / len(head)


def physical_lines(text: str, complete: bool) -> list[str]:
    """Lines as the parsers see them (\\n, \\r\\n or a lone \\r ends a line); a cut last line is dropped."""
    lines = text.encode("utf-8").splitlines(keepends=True)
    if not complete and lines and not lines[-1].endswith((b"\n", b"\r")):
        lines.pop()
    return [line.decode("utf-8") for line in lines]


# --------------------------------------------------------------------------------------------- shape


@dataclass
class Table:
    """Records from the sample, ready for typing: ``columns`` in source order, each record a dict."""

    shape: str  # csv | json | jsonl | neocampus_mqtt
    columns: list[str]
    records: list[dict[str, Any]]
    parser: dict[str, Any]  # the descriptor's parser section (kind and options)
    notes: list[str] = field(default_factory=list)
    topic_parts: int = 0  # MQTT: how many '/' parts every topic has (0: not constant)
    nulls: frozenset[str] = frozenset()  # CSV: texts the parser reads as null
    #: CSV: the share of the sample's non-blank lines read as records of the chosen width (1.0: every line)
    regularity: float = 1.0


def sniff(sample: Sample, max_records: int = MAX_RECORDS) -> tuple[Encoding, Table]:
    """Encoding and records of the sample, with the parser options that read them."""
    if not sample.data.strip():
        raise NotInferable("empty input")
    encoding = detect_encoding(sample.data, sample.complete)
    text = decode(sample, encoding)
    stripped = text.lstrip()
    if stripped.startswith("["):
        table = _json_table(text, sample.complete, max_records)
    elif stripped.startswith("{"):
        table = _jsonl_table(text, sample.complete, max_records) or _json_table(
            text, sample.complete, max_records
        )
    else:
        table = sniff_csv(text, sample.complete, max_records)
    if table.shape != "csv":
        table = _maybe_mqtt(table, max_records)
    table.parser["encoding"] = encoding.name
    if encoding.bom:
        table.notes.append(f"{encoding.name} byte order mark (dropped by the parser)")
    return encoding, table


# --------------------------------------------------------------------------------------------- JSON


def _is_object_line(line: str) -> bool:
    line = line.strip()
    if not line.startswith("{"):
        return False
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _jsonl_table(text: str, complete: bool, max_records: int) -> Table | None:
    """JSON lines when the first two non-blank lines are each one whole JSON object."""
    lines = [line for line in physical_lines(text, complete) if line.strip()]
    if len(lines) < 2 or not (_is_object_line(lines[0]) and _is_object_line(lines[1])):
        return None
    records = []
    for line in lines[:max_records]:
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            records.append(value)
    return Table("jsonl", _keys(records), records, {"kind": "jsonl"})


def _keys(records: list[dict[str, Any]]) -> list[str]:
    """Every key seen, in order of first appearance."""
    seen: dict[str, None] = {}
    for record in records:
        for key in record:
            seen.setdefault(str(key), None)
    return list(seen)


def _json_events(data: bytes) -> Iterator[tuple[str, str, Any]]:
    """ijson events of the sample, stopping quietly where the sample is cut."""
    events = ijson.sendable_list()
    parser = ijson.parse_coro(events)
    try:
        for start in range(0, len(data), _JSON_PIECE):
            parser.send(data[start : start + _JSON_PIECE])
            yield from events
            del events[:]
        parser.close()
    except ijson.JSONError:
        pass
    yield from events


def records_path(data: bytes) -> tuple[str | None, str]:
    """Where the records are: (None, 'array') for a root array of objects, ('a.b', 'nested') for the
    largest array of objects inside a root object, (None, 'object') when the root object is the record."""
    counts: Counter[str] = Counter()
    first_event = None
    for prefix, event, _ in _json_events(data):
        if first_event is None:
            first_event = event
        if event == "start_map" and (prefix == "item" or prefix.endswith(".item")):
            counts[prefix[: -len("item")].rstrip(".")] += 1
    if first_event is None:
        raise NotInferable("not JSON")
    if first_event == "start_array":
        if counts.get("", 0):
            return None, "array"
        raise NotInferable("a JSON array whose items are not objects")
    if first_event != "start_map":
        raise NotInferable("a JSON scalar, not records")
    # Arrays of objects not nested inside another such array; records' own lists (`a.item.b`) are not
    # candidates once their parent is.
    candidates = {p: n for p, n in counts.items() if ".item." not in f".{p}." and "item" not in p.split(".")}
    if not candidates:
        return None, "object"
    best = max(candidates, key=lambda p: (candidates[p], -p.count(".")))
    return best, "nested"


def _json_table(text: str, complete: bool, max_records: int) -> Table:
    data = text.encode("utf-8")
    path, kind = records_path(data)
    parser: dict[str, Any] = {"kind": "json"}
    if path:
        parser["records_path"] = path
    prefix = "" if kind == "object" else (f"{path}.item" if path else "item")
    found = ijson.sendable_list()
    coro = ijson.items_coro(found, prefix, use_float=True)
    records: list[dict[str, Any]] = []
    try:
        for start in range(0, len(data), _JSON_PIECE):
            coro.send(data[start : start + _JSON_PIECE])
            records.extend(r for r in found if isinstance(r, dict))
            del found[:]
            if len(records) >= max_records:
                break
        else:
            coro.close()
    except ijson.JSONError:
        pass
    records.extend(r for r in found if isinstance(r, dict))
    records = records[:max_records]
    if not records:
        raise NotInferable("no JSON object records in the sample")
    table = Table("json", _keys(records), records, parser)
    if kind == "nested":
        table.notes.append(f"records are the array at {path!r}")
    return table


# --------------------------------------------------------------------------------------------- MQTT


def is_mqtt(records: list[dict[str, Any]]) -> bool:
    """The neOCampus broker shape: every message has a '/'-separated topic, a value and value_units."""
    return bool(records) and all(
        isinstance(r.get("topic"), str) and "/" in r["topic"] and "value" in r and "value_units" in r
        for r in records
    )


def mqtt_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows `parsing.mqtt` makes of these messages: array values zipped with their units."""
    rows = []
    for message in records:
        value, units = message.get("value"), message.get("value_units")
        if isinstance(value, list):
            if not isinstance(units, list) or len(units) != len(value):
                continue  # the parser quarantines it: not evidence of the format
            for index, (element, unit) in enumerate(zip(value, units, strict=True)):
                rows.append({**message, "value": element, "unit": unit, "unit_index": index})
        else:
            rows.append({**message, "unit": units, "unit_index": 0})
    return rows


def _maybe_mqtt(table: Table, max_records: int = MAX_RECORDS) -> Table:
    if not is_mqtt(table.records):
        return table
    parser: dict[str, Any] = {"kind": "neocampus_mqtt"}
    if table.shape == "jsonl":
        parser["lines"] = True
    if table.parser.get("records_path"):
        parser["records_path"] = table.parser["records_path"]
    rows = mqtt_rows(table.records)[:max_records]
    columns = [c for c in _keys(rows) if c != "value_units"]
    parts = {len(r["topic"].split("/")) for r in table.records}
    notes = [*table.notes, "neOCampus MQTT messages: array values are zipped with value_units"]
    return Table(
        "neocampus_mqtt", columns, rows, parser, notes, topic_parts=parts.pop() if len(parts) == 1 else 0
    )


# --------------------------------------------------------------------------------------------- CSV

#: The CSV parser's default null markers (CsvParser.null_values).
CSV_NULLS = frozenset({"", "NA", "N/A", "null", "NULL", "-"})


@dataclass
class _Run:
    delimiter: str
    width: int
    start_line: int  # physical line (0-based) where the consistent block starts
    rows: list[list[str]]
    covered: float  # share of the sample's lines inside the block
    consistency: float  # share of the block's records that have `width` cells


def _records(lines: list[str], delimiter: str) -> list[tuple[int, list[str]]]:
    """(first physical line, cells) of each CSV record, pulling lines as the project's reader does."""
    out: list[tuple[int, list[str]]] = []
    position = 0

    def feed() -> Iterator[str]:
        nonlocal position
        while position < len(lines):
            position += 1
            yield lines[position - 1]

    source = feed()
    reader = csv.reader(source, delimiter=delimiter, quotechar='"', strict=False)
    while True:
        start = position
        try:
            cells = next(reader, None)
        except csv.Error:
            continue
        if cells is None:
            break
        if cells:
            out.append((start, cells))
    return out


def _best_run(lines: list[str], delimiter: str) -> _Run | None:
    records = _records(lines, delimiter)
    if not records:
        return None
    tail = records[len(records) // 5 :] or records  # the body decides the width, not a preamble
    width = Counter(len(cells) for _, cells in tail).most_common(1)[0][0]
    # The block starts at the first record of `width` after which (nearly) every record has that width.
    start, others = len(records) - 1, 0
    for index in range(len(records) - 1, -1, -1):
        if len(records[index][1]) == width:
            start = index
            continue
        others += 1
        if others > max(1, 0.02 * (len(records) - index)):
            break
    # A blank line near the top ends a preamble, even one whose lines happen to have `width` cells.
    blanks = [i for i, line in enumerate(lines[:50]) if not line.strip() and i > records[start][0]]
    if blanks:
        after = [
            i
            for i in range(start, len(records))
            if records[i][0] > blanks[-1] and len(records[i][1]) == width
        ]
        if len(after) >= 2:
            start = after[0]
    block = records[start:]
    good = [cells for _, cells in block if len(cells) == width]
    covered = sum(1 for line in lines[records[start][0] :] if line.strip()) / max(
        1, sum(1 for line in lines if line.strip())
    )
    return _Run(delimiter, width, records[start][0], good, covered, len(good) / len(block))


def sniff_csv(text: str, complete: bool, max_records: int = MAX_RECORDS) -> Table:
    """Delimiter, preamble, header: the delimiter whose consistent block of rows covers most of the sample
    (with more than one column) wins; the lines before that block are the preamble (`skip_rows`)."""
    lines = physical_lines(text, complete)[: max_records * 2 + 50]
    if not any(line.strip() for line in lines):
        raise NotInferable("no text lines")
    # The dialect is decided on the first lines (enough for any preamble); the chosen one reads the rest.
    head = lines[:SNIFF_LINES]
    runs = [run for d in DELIMITERS if (run := _best_run(head, d)) is not None]
    multi = [r for r in runs if r.width > 1]
    if multi:
        run = max(multi, key=lambda r: (round(r.covered * r.consistency, 2), r.width))
    else:
        run = next(r for r in runs if r.delimiter == ",")
    if len(lines) > len(head):
        records = _records(lines[run.start_line :], run.delimiter)
        good = [cells for _, cells in records if len(cells) == run.width]
        run.consistency = len(good) / max(1, len(records))
        run.rows = good
    rows = run.rows
    header = has_header(rows)
    parser: dict[str, Any] = {"kind": "csv", "delimiter": run.delimiter, "header": header}
    if run.start_line:
        parser["skip_rows"] = run.start_line
    if header:
        columns = unique_names(rows[0])
        body = rows[1:]
    else:
        columns = [str(n) for n in range(1, run.width + 1)]
        body = rows
    sampled = [dict(zip(columns, cells, strict=True)) for cells in body[:max_records]]
    notes = []
    if run.start_line:
        notes.append(f"{run.start_line} preamble line(s) before the {'header' if header else 'data'}")
    if run.consistency < 1:
        notes.append(f"{1 - run.consistency:.1%} of the sampled records have another number of columns")
    regularity = round(run.covered * run.consistency, 3)
    return Table("csv", columns, sampled, parser, notes, nulls=CSV_NULLS, regularity=regularity)


def has_header(rows: list[list[str]]) -> bool:
    """Like csv.Sniffer: the first row is a header when its cells are non-empty, distinct, untyped text and
    at least one column's body is typed (numbers, dates) or the first row's cells never recur below."""
    if len(rows) < 2:
        return bool(rows) and all(c.strip() and not looks_typed(c) for c in rows[0])
    first, body = rows[0], rows[1:200]
    cells = [c.strip() for c in first]
    named = [c for c in cells if c]  # a trailing delimiter leaves an unnamed, empty last column
    if len(named) < max(1, len(cells) // 2) or len(set(named)) != len(named) or any(map(looks_typed, named)):
        return False
    for index in range(len(first)):
        column = [r[index].strip() for r in body if index < len(r) and r[index].strip() not in CSV_NULLS]
        if column and sum(looks_typed(v) for v in column) >= 0.8 * len(column):
            return True
    return not any(cells[i] in {r[i].strip() for r in body if i < len(r)} for i in range(len(cells)))
