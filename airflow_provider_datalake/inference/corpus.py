"""A seeded corpus of files in formats nobody described, each with the types a person would give its fields.

It measures inference (field-level accuracy, clean loads) in the tests and the benchmark: CSV with ';' and
',' decimals, thousands separators, quoted cells holding the delimiter, preambles, Latin-1/cp1252 and UTF-8
with BOM, headerless files; JSON arrays, JSON lines, records nested in a document, the neOCampus MQTT shape;
dates and times in many spellings. Same seed, same bytes (only `random.Random(seed)`, no clock, no locale).
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from airflow_provider_datalake.samples import write_lab_csv, write_mqtt_dump, write_mqtt_jsonl

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_START = datetime(2019, 3, 16, 8, 0, 0)
_STATIONS = ("Rangueil", "Purpan", "Montaury", "Castres", "Tarbes")
_PEOPLE = ("M. Dupont", "C. Martin", "J. Lefèvre", "A. Nguyen", "S. García", "É. Moreau")


@dataclass(frozen=True)
class CorpusFile:
    """One file: its name, bytes, and the expected type of each field (by the inferred field name)."""

    name: str
    data: bytes
    expected: dict[str, str]
    rows: int  # records a clean load yields


def _quote(text: str, delimiter: str) -> str:
    if delimiter in text or '"' in text or "\n" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _lines(rows: list[list[str]], delimiter: str, end: str = "\n") -> str:
    return "".join(delimiter.join(_quote(c, delimiter) for c in row) + end for row in rows)


def _group(value: float, decimals: int, thousands: str, decimal: str) -> str:
    text = f"{value:,.{decimals}f}"  # 4,090.80
    return text.replace(",", "\0").replace(".", decimal).replace("\0", thousands)


def _clock(rng: random.Random, count: int) -> Iterator[datetime]:
    moment = _START + timedelta(days=rng.randint(0, 400))
    for _ in range(count):
        yield moment
        moment += timedelta(seconds=rng.randint(600, 30 * 3600))


# ------------------------------------------------------------------------------------------------ CSV


def csv_fr_latin1(rng: random.Random, n: int) -> CorpusFile:
    """';' delimiter, ',' decimals, ' ' thousands, a 3-line preamble, day-first dates, Latin-1."""
    rows = [["Station", "Date relevé", "Température", "Précipitations (mm)", "Débit", "Taux", "Commentaire"]]
    for when in _clock(rng, n):
        rows.append(
            [
                rng.choice(_STATIONS),
                f"{when:%d/%m/%Y}",
                f"{rng.uniform(-8, 38):.1f}".replace(".", ","),
                "" if rng.random() < 0.1 else f"{rng.uniform(0, 40):.2f}".replace(".", ","),
                _group(rng.uniform(900, 250_000), 1, " ", ","),
                f"{rng.uniform(0, 100):.2f}".replace(".", ",") + " %",
                rng.choice(["RAS", "capteur nettoyé; ok", 'avis "orange"', "vent fort; pluie", ""]),
            ]
        )
    preamble = "Météo-campus - export\nGénéré le 01/02/2020 ; v1.4\n\n"
    text = preamble + _lines(rows, ";", "\r\n")
    expected = {
        "station": "string",
        "date_releve": "date",
        "temperature": "float",
        "precipitations_mm": "float",
        "debit": "float",
        "taux": "float",
        "commentaire": "string",
    }
    return CorpusFile("meteo_fr_latin1.csv", text.encode("latin-1"), expected, n)


def csv_en_bom(rng: random.Random, n: int) -> CorpusFile:
    """',' delimiter, '4,090.8' numbers (quoted), 'Mar 16, 2019' dates, K/M suffixes, ISO with zone, BOM."""
    rows = [["Trade Date", "Ticker", "Close", "Volume", "Change %", "Updated At", "Halted"]]
    zone = timezone(timedelta(hours=2))
    for when in _clock(rng, n):
        volume = 10 ** rng.uniform(2.5, 7)
        vol = (
            f"{volume / 1e6:.2f}M"
            if volume >= 1e6
            else f"{volume / 1e3:.2f}K"
            if volume >= 1e3
            else f"{volume:.0f}"
        )
        rows.append(
            [
                f"{_MONTHS[when.month - 1]} {when.day:02d}, {when.year}",
                rng.choice(["ACME", "INIT", "NEOC", "UT3"]),
                _group(rng.uniform(10, 9000), 2, ",", "."),
                vol,
                f"{rng.uniform(-9, 9):.2f}%",
                when.replace(tzinfo=zone).isoformat(),
                rng.choice(["yes", "no", "no", "no"]),
            ]
        )
    text = "\ufeff" + _lines(rows, ",")
    expected = {
        "trade_date": "date",
        "ticker": "string",
        "close": "float",
        "volume": "float",
        "change_pct": "float",
        "updated_at": "timestamp",
        "halted": "bool",
    }
    return CorpusFile("quotes_en_bom.csv", text.encode("utf-8"), expected, n)


def csv_de_semicolon(rng: random.Random, n: int) -> CorpusFile:
    """';' delimiter, '4.090,8' numbers (German), 'dd.mm.yyyy HH:MM:SS' times, integer counts."""
    rows = [["Zeitpunkt", "Zähler", "Leistung kW", "Energie kWh", "Raum"]]
    for when in _clock(rng, n):
        rows.append(
            [
                f"{when:%d.%m.%Y %H:%M:%S}",
                str(rng.randint(1, 400)),
                f"{rng.uniform(0.1, 95):.3f}".replace(".", ","),
                _group(rng.uniform(1000, 900_000), 1, ".", ","),
                f"U{rng.randint(1, 6)}-{rng.randint(100, 320)}",
            ]
        )
    expected = {
        "zeitpunkt": "timestamp",
        "zahler": "int",
        "leistung_kw": "float",
        "energie_kwh": "float",
        "raum": "string",
    }
    return CorpusFile("energie_de.csv", _lines(rows, ";").encode("utf-8"), expected, n)


def csv_tab_bools(rng: random.Random, n: int) -> CorpusFile:
    """Tab-separated, ISO dates, booleans as words, a JSON cell, nulls as NA."""
    rows = [["id", "day", "occupied", "people", "co2_ppm", "tags", "note"]]
    for i, when in enumerate(_clock(rng, n)):
        rows.append(
            [
                str(1000 + i),
                f"{when:%Y-%m-%d}",
                rng.choice(["true", "false"]),
                str(rng.randint(0, 60)),
                "NA" if rng.random() < 0.05 else f"{rng.uniform(380, 2400):.1f}",
                json.dumps({"room": rng.randint(300, 310), "ok": rng.random() < 0.5}),
                rng.choice(["", "door open", "window\topen", "ok"]),
            ]
        )
    expected = {
        "id": "int",
        "day": "date",
        "occupied": "bool",
        "people": "int",
        "co2_ppm": "float",
        "tags": "json",
        "note": "string",
    }
    return CorpusFile("occupancy.tsv", _lines(rows, "\t").encode("utf-8"), expected, n)


def csv_us_money(rng: random.Random, n: int) -> CorpusFile:
    """',' delimiter, US 'mm/dd/yyyy hh:mm AM' times, '$1,234.50' amounts, CRLF, cp1252 text."""
    rows = [["Order #", "Placed", "Customer", "Amount", "Qty", "Discount"]]
    for i, when in enumerate(_clock(rng, n)):
        rows.append(
            [
                f"A-{50000 + i}",
                when.strftime("%m/%d/%Y %I:%M %p"),
                rng.choice(["Café Léon", "Bürohaus", "O'Neil & Sons", "Smith, J."]),
                "$" + _group(rng.uniform(5, 20000), 2, ",", "."),
                str(rng.randint(1, 12)),
                f"{rng.choice([0, 5, 10, 12.5, 15])}%",
            ]
        )
    expected = {
        "order_num": "string",
        "placed": "timestamp",
        "customer": "string",
        "amount": "float",
        "qty": "int",
        "discount": "float",
    }
    return CorpusFile("orders_us.csv", _lines(rows, ",", "\r\n").encode("cp1252"), expected, n)


def csv_headerless(rng: random.Random, n: int) -> CorpusFile:
    """'|' delimiter, no header: columns are named col_1, col_2, ..."""
    rows = []
    for when in _clock(rng, n):
        rows.append(
            [
                when.strftime("%Y-%m-%dT%H:%M:%S"),
                f"sensor-{rng.randint(1, 30)}",
                f"{rng.uniform(-20, 60):.2f}",
                str(rng.randint(0, 1)),
            ]
        )
    expected = {"col_1": "timestamp", "col_2": "string", "col_3": "float", "col_4": "int"}
    return CorpusFile("probe_headerless.txt", _lines(rows, "|").encode("utf-8"), expected, n)


# ------------------------------------------------------------------------------------------------ JSON


def _reading(rng: random.Random, when: datetime, i: int) -> dict:
    return {
        "reading_id": i,
        "sensor": {"id": f"s{rng.randint(1, 40):03d}", "floor": rng.randint(0, 4)},
        "measuredAt": when.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z"),
        "epoch_ms": int(when.replace(tzinfo=UTC).timestamp() * 1000),
        "temperature": round(rng.uniform(15, 30), 2),
        "battery": rng.choice([None, round(rng.uniform(2.5, 3.3), 3)]),
        "ok": rng.random() < 0.9,
        "labels": rng.sample(["a", "b", "c", "d"], rng.randint(0, 3)),
        "day": f"{when:%Y-%m-%d}",
        "dmy": f"{when:%d/%m/%Y}",
    }


_READING_TYPES = {
    "reading_id": "int",
    "sensor_id": "string",
    "sensor_floor": "int",
    "measured_at": "timestamp",
    "epoch_ms": "timestamp",
    "temperature": "float",
    "battery": "float",
    "ok": "bool",
    "labels": "json",
    "day": "date",
    "dmy": "date",
}


def json_array(rng: random.Random, n: int) -> CorpusFile:
    records = [_reading(rng, w, i) for i, w in enumerate(_clock(rng, n))]
    data = json.dumps(records, ensure_ascii=False, indent=1).encode()
    return CorpusFile("readings.json", data, dict(_READING_TYPES), n)


def json_lines(rng: random.Random, n: int) -> CorpusFile:
    records = [_reading(rng, w, i) for i, w in enumerate(_clock(rng, n))]
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    return CorpusFile("readings.jsonl", data, dict(_READING_TYPES), n)


def json_nested(rng: random.Random, n: int) -> CorpusFile:
    """Records inside a document: {"meta": {...}, "data": {"items": [...]}}."""
    items = []
    for i, when in enumerate(_clock(rng, n)):
        items.append(
            {
                "code": f"R{i:05d}",
                "building": rng.choice(["U1", "U2", "U3", "U4"]),
                "occupancy": rng.randint(0, 120),
                "ratio": round(rng.random(), 4),
                "opened": when.strftime("%Y-%m-%d %H:%M:%S"),
            }
        )
    doc = {
        "meta": {"source": "rooms-api", "version": 3, "pages": [{"n": 1}]},
        "data": {"count": n, "items": items},
    }
    expected = {
        "code": "string",
        "building": "string",
        "occupancy": "int",
        "ratio": "float",
        "opened": "timestamp",
    }
    return CorpusFile("rooms_api.json", json.dumps(doc).encode(), expected, n)


# ------------------------------------------------------------------------------------------------ campus


_MQTT_TYPES = {
    "building": "string",
    "room": "string",
    "kind": "string",
    "topic": "string",
    "value": "float",
    "input": "int",
    "sub_id": "string",
    "unit_id": "string",
    "time": "timestamp",
    "unit": "string",
    "unit_index": "int",
}
_LAB = {
    "fr": {
        "date": "date",
        "horodatage": "timestamp",
        "description": "string",
        "capteur": "int",
        "valeur": "float",
        "volume": "float",
        "variation_pct": "float",
        "operateur": "string",
    },
    "en": {
        "date": "date",
        "timestamp": "timestamp",
        "description": "string",
        "sensor": "int",
        "value": "float",
        "volume": "float",
        "change_pct": "float",
        "operator": "string",
    },
}


def _written(write: Callable[[io.BytesIO], object]) -> bytes:
    buf = io.BytesIO()
    write(buf)
    return buf.getvalue()


def mqtt_dump(rng: random.Random, n: int) -> CorpusFile:
    seed = rng.randrange(1 << 30)
    data = _written(lambda b: write_mqtt_dump(b, n, seed))
    rows = sum(len(m["value"]) if isinstance(m["value"], list) else 1 for m in json.loads(data))
    return CorpusFile("mqtt_dump.json", data, dict(_MQTT_TYPES), rows)


def mqtt_lines(rng: random.Random, n: int) -> CorpusFile:
    seed = rng.randrange(1 << 30)
    data = _written(lambda b: write_mqtt_jsonl(b, n, seed))
    msgs = [json.loads(line) for line in data.splitlines() if line.strip()]
    rows = sum(len(m["value"]) if isinstance(m["value"], list) else 1 for m in msgs)
    return CorpusFile("mqtt_stream.jsonl", data, dict(_MQTT_TYPES), rows)


def lab_csv(locale: str) -> Callable[[random.Random, int], CorpusFile]:
    def make(rng: random.Random, n: int) -> CorpusFile:
        seed = rng.randrange(1 << 30)
        data = _written(lambda b: write_lab_csv(b, n, seed, locale=locale))
        return CorpusFile(f"lab_export_{locale}.csv", data, dict(_LAB[locale]), n)

    return make


GENERATORS: tuple[Callable[[random.Random, int], CorpusFile], ...] = (
    csv_fr_latin1,
    csv_en_bom,
    csv_de_semicolon,
    csv_tab_bools,
    csv_us_money,
    csv_headerless,
    json_array,
    json_lines,
    json_nested,
    mqtt_dump,
    mqtt_lines,
    lab_csv("fr"),
    lab_csv("en"),
)


def corpus(seed: int = 0, rows: int = 300) -> list[CorpusFile]:
    """Every corpus file, each from its own derived seed."""
    return [make(random.Random(seed * 1000 + i), rows) for i, make in enumerate(GENERATORS)]  # noqa: S311
