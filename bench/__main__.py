"""``python -m bench``: the raw-zone benchmarks, each as a ratio against its baseline in the same run.

Progress and Airflow's logs go to stderr; stdout gets the table. Results: ``bench/results/raw_zone.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import uuid
from pathlib import Path
from typing import Any

from bench import big, common, small

RESULTS = Path(__file__).resolve().parent / "results" / "raw_zone.json"
MIB = 1 << 20
FULL = {
    "n": 50,
    "small_rounds": 10,
    "rounds": 3,
    "big_size": 1 << 30,
    "slo_threshold": 256 * MIB,
    "segment": 100 * MIB,
}
QUICK = {
    "n": 20,
    "small_rounds": 1,
    "rounds": 1,
    "big_size": 24 * MIB,
    "slo_threshold": 8 * MIB,
    "segment": 10 * MIB,
}
SMALL_SIZE = 1024


def parse_size(text: str) -> int:
    """``1073741824``, ``512M``, ``1G`` or ``1GiB`` (binary units)."""
    match = re.fullmatch(r"\s*(\d+)\s*([KMG]?)(?:i?B)?\s*", text, re.IGNORECASE)
    if not match or int(match[1]) <= 0:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 1G, 512M, 1048576)")
    return int(match[1]) << {"": 0, "K": 10, "M": 20, "G": 30}[match[2].upper()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("small", "big"), help="run one benchmark")
    parser.add_argument("--n", type=int, help=f"small objects per variant and round ({FULL['n']})")
    blocks = FULL["small_rounds"]
    parser.add_argument("--small-rounds", type=int, help=f"small objects: rounds, of n turns each ({blocks})")
    parser.add_argument("--rounds", type=int, help=f"large file: rounds, median reported ({FULL['rounds']})")
    parser.add_argument("--big-size", type=parse_size, help="size of the large file (1G)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one round: a smoke run")
    parser.add_argument("--seed", type=int, default=20210722)
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON results (%(default)s)")
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else FULL
    for key in ("n", "small_rounds", "rounds", "big_size"):
        if getattr(args, key) is None:
            setattr(args, key, preset[key])
    if args.n < 1 or args.rounds < 1 or args.small_rounds < 1:
        parser.error("--n, --small-rounds and --rounds must be >= 1")
    args.slo_threshold, args.segment = preset["slo_threshold"], preset["segment"]
    return args


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def table(results: dict[str, Any]) -> list[str]:
    rows = []
    if s := results.get("small"):
        rate, goal = s["objects_per_s"], s["goal_ratio"]
        label = f"small objects ({common.human_size(s['object_size'])}, {s['rounds']} x {s['n']})"
        for name, suffix in (("ours", ""), ("ours_dedupe", ", dedupe")):
            ratio = s["ratio" if name == "ours" else "ratio_dedupe"]
            by_round = s["ratio_round_median" if name == "ours" else "ratio_dedupe_round_median"]
            rows.append(
                f"{label + suffix:<40} ours {rate[name]['overall']:6.1f}/s    baseline "
                f"{rate['baseline']['overall']:6.1f}/s    ratio {ratio:.2f}x  (per-round median "
                f"{by_round:.2f}x; goal >= {goal}x: {verdict(ratio >= goal)})"
            )
    if b := results.get("big"):
        ours, base, goal = b["ours"], b["baseline"], b["goal_peak_rss_mb"]
        label = f"{common.human_size(b['size'])} file ({ours['segments']} SLO segments)"
        rows.append(
            f"{label + ' throughput, median':<40} ours {ours['mb_per_s']['median']:6.1f} MB/s "
            f"baseline {base['mb_per_s']['median']:6.1f} MB/s ratio {b['ratio']:.2f}x"
        )
        rows.append(
            f"{label + ' peak RSS':<40} ours {ours['peak_rss_mb']:6.1f} MB   "
            f"baseline {base['peak_rss_mb']:6.1f} MB   (goal ours <= {goal} MB: "
            f"{verdict(ours['peak_rss_mb'] <= goal)})"
        )
        rows.append(
            f"{'  of which after imports, before upload':<40} ours {ours['after_imports_rss_mb']:6.1f} MB   "
            f"baseline {base['after_imports_rss_mb']:6.1f} MB"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tag = uuid.uuid4().hex[:10]
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_start": os.getloadavg()},
        "params": {"quick": args.quick, "seed": args.seed, "tag": tag},
    }
    with common.stdout_to_stderr():
        if args.only in (None, "small"):
            results["small"] = small.run(
                n=args.n, rounds=args.small_rounds, size=SMALL_SIZE, tag=tag, seed=args.seed
            )
        if args.only in (None, "big"):
            results["big"] = big.run(
                size=args.big_size,
                rounds=args.rounds,
                threshold=args.slo_threshold,
                segment=args.segment,
                tag=tag,
                seed=args.seed,
            )
    results["host"]["load_end"] = os.getloadavg()  # other work on the machine skews every figure
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print("\n== raw-zone benchmarks (MB = 10^6 bytes; baseline = raw clients, same servers) ==")
    print("\n".join(table(results)))
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
