"""How the CLI prints: its two consoles, catalog text made safe for a terminal, records as tables, JSON.

Imports click and rich only: every command imports this module, and `datalake --help` must stay fast.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from typing import Any, NoReturn

from rich import box
from rich.console import Console
from rich.filesize import decimal
from rich.markup import escape
from rich.table import Table

console = Console(stderr=True)
out = Console(width=None if sys.stdout.isatty() else 160)  # pipes and CI logs get whole ids, not folded ones

WIDE = 120  # below this, a record takes two lines (id over name) rather than folding every column
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """Text from the catalog (file names came from whoever inserted them) with its control characters
    escaped (ESC as ``\\x1b``): printed raw, they would drive the user's terminal."""
    return CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def fail(message: str) -> NoReturn:
    console.print(f"[red]{escape(message)}[/red]", soft_wrap=True)
    sys.exit(1)


def utc(value: Any) -> dt.datetime | None:
    """A catalog datetime as an aware UTC one (the catalog hands back naive UTC); None if not a datetime."""
    if not isinstance(value, dt.datetime):
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def json_default(value: Any) -> str:
    if isinstance(value, dt.datetime):  # the catalog reads back naive UTC: say it is UTC, as inserts do
        return utc(value).isoformat()  # type: ignore[union-attr]
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def short(rec: dict[str, Any]) -> list[str]:
    """A record's id, status, format, size, original name and creation time, as table cells."""
    created = rec.get("creation_date")
    return [
        str(rec["_id"]),
        str(rec.get("status")),
        visible(str(rec.get("format") or "-")),
        str(rec.get("size") if rec.get("size") is not None else "-"),
        visible(str(rec.get("original_object_name") or "-")),
        created.strftime("%Y-%m-%d %H:%M:%S") if created else "-",
    ]


def lease(rec: dict[str, Any]) -> str:
    """A processing record's lease: until when (UTC), whether it ran out, and which attempt this is."""
    until = utc(rec.get("lease_until"))
    if rec.get("status") != "processing" or until is None:
        return "-"
    state = " expired" if until < dt.datetime.now(dt.UTC) else ""
    return f"{until:%H:%M:%S}{state} try {rec.get('processing_attempts', 1)}/{rec.get('max_attempts', '?')}"


def records_table(
    records: list[dict[str, Any]], title: str, *, width: int, status: bool = True, with_lease: bool = False
) -> Table:
    """The records as a table that stays readable at ``width``: ids whole (they are copied), nothing folded
    mid-word on an 80-column terminal; one line per record when wide (pipes are, for grep). ``with_lease``
    adds each processing record's lease."""
    if width >= WIDE:
        table = Table(title=title)
        table.add_column("id", no_wrap=True, min_width=32)  # whole, so it can be copied
        for col in ("status", "format", "bytes", "original name", "created (UTC)"):
            if col != "status" or status:
                table.add_column(col, overflow="fold")
        if with_lease:
            table.add_column("lease until (UTC)", no_wrap=True)
        for rec in records:
            row = short(rec)
            row = (row if status else row[:1] + row[2:]) + ([lease(rec)] if with_lease else [])
            table.add_row(*map(escape, row))  # names are data, not markup
        return table
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0))
    table.add_column("id / original name", overflow="fold", min_width=32)
    table.add_column("status / format" if status else "format", overflow="fold", max_width=16)
    table.add_column("size", no_wrap=True, justify="right")
    table.add_column("created / lease (UTC)" if with_lease else "created (UTC)", no_wrap=True)
    for rec in records:
        rid, state, fmt, _, name, created = short(rec)
        size = decimal(rec["size"]).replace(" bytes", " B") if rec.get("size") is not None else "-"
        kind = f"{state}\n[dim]{escape(fmt)}[/dim]" if status else escape(fmt)
        when = created[:16] + (f"\n[dim]{escape(lease(rec))}[/dim]" if with_lease else "")  # to the minute
        table.add_row(f"{escape(rid)}\n[dim]{escape(name)}[/dim]", kind, size, when)
    return table
