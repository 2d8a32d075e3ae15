"""Parsing throughput: rows/s of `parsing.parse` on generated neOCampus data, next to naive baselines.

Run with ``.venv/bin/python -m bench.parsing_bench [--rows N] [--rounds R]``; needs no server. Inputs come
from ``samples.py`` (seeded), are built in memory before timing, and are fed in 1 MiB chunks as Swift would
hand them over. For each format three figures are printed (best of R rounds, CPU time of this process, so
that other load on the machine does not skew them; wall time is printed too):

* ``parse``: the whole stage (records, converters, typing, batches of 10,000); CSV takes the columnar path,
  whose rows stay typed Arrow columns (what the PostgreSQL loader reads);
* ``tuples``: CSV only, ``parse`` plus building each batch's row tuples (what row-shaped loaders read);
* ``rowpath``: CSV only, ``parse`` with the columnar path switched off (``columnar.ENABLED = False``);
* ``records``: the reader alone (ijson / csv + decoding + MQTT zip), i.e. what typing costs on top;
* ``naive``: what a script would do without the stage, not streaming and with the same typing done
  inline (``json.loads`` of the whole file, or ``csv.DictReader`` over the decoded file).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal

from airflow_provider_datalake import samples
from airflow_provider_datalake.descriptors.model import Descriptor
from airflow_provider_datalake.parsing import columnar, parse
from airflow_provider_datalake.parsing.pipeline import records

CHUNK = 1 << 20
TARGETS = [{"store": "postgres", "table": "bench"}]


def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


def mqtt_descriptor(lines: bool) -> Descriptor:
    split = [{"split": {"sep": "/", "index": i}} for i in (0, 1, -1)]
    return Descriptor.model_validate(
        {
            "name": "bench_mqtt",
            "parser": {"kind": "neocampus_mqtt", "lines": lines},
            "targets": TARGETS,
            "fields": [
                {"name": "building", "source": "topic", "converters": [split[0]]},
                {"name": "room", "source": "topic", "converters": [split[1]]},
                {"name": "kind", "source": "topic", "converters": [split[2]]},
                {"name": "value", "type": "float", "required": True},
                {"name": "unit"},
                {"name": "unit_index", "type": "int"},
                {"name": "input", "type": "int"},
                {"name": "sub_id", "source": "subID"},
                {"name": "unit_id", "source": "unitID"},
                {"name": "time", "type": "timestamp", "required": True},
            ],
        }
    )


def lab_descriptor(locale: str) -> Descriptor:
    spec = samples.LAB_CSV_LOCALES[locale]
    h, d = spec.header, spec.decimal
    return Descriptor.model_validate(
        {
            "name": f"bench_lab_{locale}",
            "parser": {
                "kind": "csv",
                "delimiter": spec.delimiter,
                "skip_rows": spec.preamble_lines,
                "decimal": d,
                "thousands": spec.thousands,
            },
            "targets": TARGETS,
            "fields": [
                {
                    "name": "day",
                    "type": "date",
                    "source": h[0],
                    "converters": [{"timestamp_format": {"format": "%b %d, %Y"}}],
                },
                {"name": "at", "type": "timestamp", "source": h[1]},
                {"name": "description", "source": h[2]},
                {"name": "sensor", "type": "int", "source": h[3]},
                {"name": "value", "type": "float", "source": h[4]},
                {
                    "name": "volume",
                    "type": "int",
                    "source": h[5],
                    "converters": [{"suffix_number": {"decimal": d}}],
                },
                {
                    "name": "change",
                    "type": "float",
                    "source": h[6],
                    "converters": [{"percent": {"decimal": d}}],
                },
                {"name": "operator", "source": h[7]},
            ],
        }
    )


def naive_mqtt(data: bytes, lines: bool) -> int:
    messages = [json.loads(line) for line in data.splitlines() if line] if lines else json.loads(data)
    rows = []
    for m in messages:
        building, room, kind = m["topic"].split("/")
        when = datetime.fromisoformat(m["time"])
        values = m["value"] if isinstance(m["value"], list) else [m["value"]]
        units = m["value_units"] if isinstance(m["value"], list) else [m["value_units"]]
        for i, (v, u) in enumerate(zip(values, units, strict=True)):
            rows.append((building, room, kind, float(v), u, i, m["input"], m["subID"], m["unitID"], when))
    return len(rows)


def naive_csv(data: bytes, locale: str) -> int:
    spec = samples.LAB_CSV_LOCALES[locale]
    text = io.StringIO(data.decode("utf-8"))
    for _ in range(spec.preamble_lines):
        text.readline()
    scale = {"K": 1000, "M": 1_000_000}

    def number(cell: str) -> float | None:
        if not cell:
            return None
        if spec.thousands:
            cell = cell.replace(spec.thousands, "")
        return float(cell.replace(spec.decimal, "."))

    rows = []
    h = spec.header
    for r in csv.DictReader(text, delimiter=spec.delimiter):
        vol = r[h[5]]
        volume = (
            int(Decimal(vol[:-1].replace(",", ".")) * scale[vol[-1]]) if vol[-1:] in scale else number(vol)
        )
        rows.append(
            (
                datetime.strptime(r[h[0]], "%b %d, %Y").date(),
                datetime.fromisoformat(r[h[1]]).astimezone(UTC),
                r[h[2]],
                int(r[h[3]]),
                number(r[h[4]]),
                volume,
                number(r[h[6]].rstrip("%")),
                r[h[7]] or None,
            )
        )
    return len(rows)


def best(rounds: int, work: Callable[[], int]) -> tuple[int, float, float]:
    """(rows, best CPU seconds, best wall seconds) over `rounds` runs."""
    cpu = wall = float("inf")
    rows = 0
    for _ in range(rounds):
        c0, w0 = time.process_time(), time.perf_counter()
        rows = work()
        cpu = min(cpu, time.process_time() - c0)
        wall = min(wall, time.perf_counter() - w0)
    return rows, cpu, wall


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--rows", type=int, default=100_000, help="messages / CSV rows per input")
    options.add_argument("--rounds", type=int, default=3)
    args = options.parse_args()
    n = args.rows

    def sample(writer: Callable[..., int], *a: object, **k: object) -> bytes:
        out = io.BytesIO()
        writer(out, *a, **k)
        return out.getvalue()

    cases: list[tuple[str, Descriptor, bytes, Callable[[bytes], int]]] = [
        (
            "mqtt dump (JSON array)",
            mqtt_descriptor(False),
            sample(samples.write_mqtt_dump, n, 1),
            lambda d: naive_mqtt(d, False),
        ),
        (
            "mqtt JSON lines",
            mqtt_descriptor(True),
            sample(samples.write_mqtt_jsonl, n, 1),
            lambda d: naive_mqtt(d, True),
        ),
        (
            "lab CSV fr",
            lab_descriptor("fr"),
            sample(samples.write_lab_csv, n, 1, locale="fr"),
            lambda d: naive_csv(d, "fr"),
        ),
        (
            "lab CSV en",
            lab_descriptor("en"),
            sample(samples.write_lab_csv, n, 1, locale="en"),
            lambda d: naive_csv(d, "en"),
        ),
    ]
    print(
        f"{'input':24} {'MB':>6} {'variant':8} {'rows':>8} {'rows/s cpu':>11} {'MB/s cpu':>9} {'wall s':>7}"
    )
    for name, desc, data, naive in cases:
        size = len(data) / 1e6

        def whole(desc: Descriptor = desc, data: bytes = data, tuples: bool = False) -> int:
            return sum(
                len(b.rows if tuples else b.row_numbers) + len(b.bad) for b in parse(desc, _chunks(data))
            )

        def row_path(desc: Descriptor = desc, data: bytes = data) -> int:
            columnar.ENABLED = False
            try:
                return whole(desc, data)
            finally:
                columnar.ENABLED = True

        variants: list[tuple[str, Callable[[], int]]] = [("parse", whole)]
        if "CSV" in name:
            variants += [("tuples", lambda: whole(tuples=True)), ("rowpath", row_path)]
        variants += [
            ("records", lambda desc=desc, data=data: sum(1 for _ in records(desc, _chunks(data)))),
            ("naive", lambda data=data, naive=naive: naive(data)),
        ]
        for variant, work in variants:
            rows, cpu, wall = best(args.rounds, work)
            rate, mbps = rows / cpu, size / cpu
            print(f"{name:24} {size:6.1f} {variant:8} {rows:8d} {rate:11,.0f} {mbps:9.1f} {wall:7.2f}")


if __name__ == "__main__":
    main()
