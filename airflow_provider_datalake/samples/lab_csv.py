"""Lab CSV exports in French and English spellings, with the traps real exports have."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from airflow_provider_datalake.samples.common import ROOMS, Target, check_count, naive_utc, open_sink

# The first timestamp of the shared sample, so default output looks like it.
LAB_START = datetime(2019, 3, 16, 8, 0, 0)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True, slots=True)
class CsvLocale:
    """How a lab CSV export is spelled, so tests and format descriptors can declare the same dialect."""

    delimiter: str
    decimal: str
    thousands: str | None
    line_terminator: str
    preamble_lines: int
    header: tuple[str, ...]


LAB_CSV_LOCALES: dict[str, CsvLocale] = {
    # French Excel: ';' between fields, ',' for decimals, no grouping, CRLF line ends.
    "fr": CsvLocale(
        delimiter=";",
        decimal=",",
        thousands=None,
        line_terminator="\r\n",
        preamble_lines=2,
        header=(
            "Date",
            "Horodatage",
            "Description",
            "Capteur",
            "Valeur",
            "Volume",
            "Variation %",
            "Opérateur",
        ),
    ),
    # English tools: ',' between fields, '.' for decimals, ',' grouping (``4,090.8``), LF line ends.
    "en": CsvLocale(
        delimiter=",",
        decimal=".",
        thousands=",",
        line_terminator="\n",
        preamble_lines=2,
        header=("Date", "Timestamp", "Description", "Sensor", "Value", "Volume", "Change %", "Operator"),
    ),
}

_OPERATORS = ("M. Dupont", "C. Martin", "J. Lefèvre", "A. Nguyen", "S. Garcia")


def _csv_field(text: str, delimiter: str, always: bool = False) -> str:
    """Quote like Excel does: only when needed (or ``always``), doubling inner quotes."""
    if always or delimiter in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _number(value: float, decimals: int, spec: CsvLocale, grouping: bool = True) -> str:
    """Format for the locale: ``4,090.8`` (en) or ``4090,8`` (fr); never ``str(float)`` or the C locale."""
    text = f"{value:,.{decimals}f}" if grouping and spec.thousands == "," else f"{value:.{decimals}f}"
    if spec.decimal == ",":
        text = text.replace(".", ",")
    return text


def _suffixed(value: float, spec: CsvLocale) -> str:
    """Volumes as finance-style exports show them: ``14.13K``, ``2.31M``."""
    for factor, suffix in ((1e6, "M"), (1e3, "K")):
        if value >= factor:
            return _number(value / factor, 2, spec, grouping=False) + suffix
    return _number(value, 0, spec)


def _description(rng: random.Random, locale: str, room: str, desk: int) -> str:
    """The free-text column: sometimes holds the delimiter, sometimes quotes, always quoted in the file."""
    roll = rng.random()
    if locale == "fr":
        if roll < 0.3:
            return f"Salle {room}; îlot {desk}"
        if roll < 0.4:
            return f'Capteur "CO2" salle {room}'
        return f"Salle {room} - îlot {desk}"
    if roll < 0.3:
        return f"Room {room}, desk {desk}"
    if roll < 0.4:
        return f'Sensor "CO2" room {room}'
    return f"Room {room} - desk {desk}"


def write_lab_csv(
    path: Target, rows: int, seed: int = 0, locale: str = "fr", start: datetime | None = None
) -> int:
    """Write a lab CSV export with the traps real exports have; return bytes written.

    A 2-line preamble precedes the header; numbers follow ``LAB_CSV_LOCALES[locale]`` (``4090,8`` vs
    ``4,090.8``); the quoted ``Description`` column sometimes contains the delimiter or quotes; ``Volume`` is
    suffixed (``14.13K``), ``Variation %`` is a percentage (``2.19%``), ``Date`` reads ``Mar 16, 2019`` while
    ``Horodatage`` is ISO 8601, and a few cells are empty. UTF-8, no BOM.
    """
    check_count(rows)
    if locale not in LAB_CSV_LOCALES:
        raise ValueError(f"locale must be one of {sorted(LAB_CSV_LOCALES)}, got {locale!r}")
    spec = LAB_CSV_LOCALES[locale]
    rng = random.Random(seed)  # noqa: S311 - test data, not security
    clock = naive_utc(start, LAB_START).replace(microsecond=0)
    end = spec.line_terminator
    if locale == "fr":
        preamble = [
            "Laboratoire LAPLACE - export des mesures",
            f"Exporté le {clock:%d/%m/%Y} ; site Rangueil ; neOCampus-lab v2.3",
        ]
    else:
        preamble = [
            "LAPLACE laboratory - measurement export",
            f"Exported on {clock:%Y-%m-%d}, site Rangueil, neOCampus-lab v2.3",
        ]
    with open_sink(path) as sink:
        sink.write("".join(line + end for line in preamble).encode())
        header = spec.delimiter.join(_csv_field(name, spec.delimiter) for name in spec.header)
        sink.write((header + end).encode())
        level = rng.uniform(500.0, 5000.0)
        for _ in range(rows):
            previous = level
            level = max(1.0, level * (1 + rng.uniform(-0.04, 0.04)))
            room, desk = rng.choice(ROOMS), rng.randint(1, 4)
            cells = [
                f"{_MONTHS[clock.month - 1]} {clock.day:02d}, {clock.year}",
                clock.isoformat() + "Z",
                _description(rng, locale, room, desk),
                str(rng.randint(1, 40)),
                "" if rng.random() < 0.03 else _number(round(level, 1), 1, spec),
                "" if rng.random() < 0.03 else _suffixed(10 ** rng.uniform(2.3, 6.5), spec),
                _number((level - previous) / previous * 100, 2, spec) + "%",
                "" if rng.random() < 0.1 else rng.choice(_OPERATORS),
            ]
            line = spec.delimiter.join(
                _csv_field(cell, spec.delimiter, always=index == 2) for index, cell in enumerate(cells)
            )
            sink.write((line + end).encode())
            clock += timedelta(seconds=rng.randint(60, 6 * 3600))
    return sink.written
