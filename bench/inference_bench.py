"""Inference time on a 10 MB and a 1 GB file: the goal is the same time (about a second) for both.

Run with ``.venv/bin/python -m bench.inference_bench [--big-size 1G] [--rounds 3]``; needs no server. The
files are generated (seeded, streamed) into a temporary folder before timing: a lab CSV export (French
locale: preamble, ';', decimal commas, suffixes, percentages) and an MQTT broker dump (JSON array). Each
figure is the best of R rounds of `infer_file` (wall time, page cache warm after the first round).

The baseline is what inference would cost without a bounded sample: the stdlib `csv.Sniffer` on the whole
10 MB file plus a pass that tries int/float/ISO date on every cell (for JSON: `json.load` of the whole
file). It is timed on the 10 MB file only; its cost grows with the file (a 1 GB run would take ~100x).
Results: ``bench/results/inference.json``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from airflow_provider_datalake.inference import SAMPLE_BYTES, infer_file
from airflow_provider_datalake.samples import write_lab_csv, write_mqtt_dump

RESULTS = Path(__file__).resolve().parent / "results" / "inference.json"
MIB = 1 << 20
# bytes per record, roughly, to reach a target size
_CSV_ROW, _MQTT_MSG = 87, 157


def _best(fn: Callable[[], Any], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _naive_csv(path: Path) -> int:
    """Whole-file dialect sniffing and typing with the stdlib: what a bounded sample avoids."""
    text = path.read_text(encoding="utf-8")
    dialect = csv.Sniffer().sniff(text[: 64 * 1024], delimiters=",;\t|")
    typed = 0
    for row in csv.reader(text.splitlines()[3:], dialect):
        for cell in row:
            for cast in (int, lambda c: float(c.replace(",", ".")), dt.datetime.fromisoformat):
                try:
                    cast(cell)
                    typed += 1
                    break
                except ValueError:
                    continue
    return typed


def _naive_json(path: Path) -> int:
    with path.open("rb") as fh:
        return len(json.load(fh))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.inference_bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--small-size", type=int, default=10, help="MB (10)")
    parser.add_argument("--big-size", type=int, default=1024, help="MB (1024)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "sample_bytes": SAMPLE_BYTES,
        "formats": {},
    }
    with tempfile.TemporaryDirectory(prefix="inference_bench_") as tmp:
        for kind, writer, per, naive in (
            ("csv", lambda p, n: write_lab_csv(p, n, seed=1, locale="fr"), _CSV_ROW, _naive_csv),
            ("mqtt_json", lambda p, n: write_mqtt_dump(p, n, seed=2), _MQTT_MSG, _naive_json),
        ):
            row: dict[str, Any] = {}
            for label, size_mb in (("small", args.small_size), ("big", args.big_size)):
                path = Path(tmp) / f"{kind}_{label}.{'csv' if kind == 'csv' else 'json'}"
                start = time.perf_counter()
                writer(path, size_mb * MIB // per)
                size = path.stat().st_size
                print(
                    f"  {kind}: wrote {size / MIB:,.0f} MiB in {time.perf_counter() - start:.0f}s", flush=True
                )
                seconds = _best(lambda p=path: infer_file(p), args.rounds)
                fields = len(infer_file(path).descriptor.fields)
                row[label] = {"bytes": size, "seconds": round(seconds, 4), "fields": fields}
                if label == "small":
                    row["baseline_whole_small"] = round(_best(lambda p=path, f=naive: f(p), 1), 4)
                path.unlink()
            row["ratio_big_over_small"] = round(row["big"]["seconds"] / row["small"]["seconds"], 3)
            results["formats"][kind] = row
            print(
                f"{kind:>10}: {row['small']['bytes'] / MIB:6.0f} MiB {row['small']['seconds']:.3f}s | "
                f"{row['big']['bytes'] / MIB:6.0f} MiB {row['big']['seconds']:.3f}s | big/small "
                f"{row['ratio_big_over_small']:.2f} | whole-file baseline on the small one "
                f"{row['baseline_whole_small']:.2f}s"
            )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
