"""The `datalake` command line: insert files, look at the catalog, settle crashes, run the demo.

Connections come from Airflow connection ids (``swift_default``, ``mongo_default`` by default), so sourcing
the stack's env file (or any Airflow secrets backend) is all the set-up a shell needs.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import json
import os
import re
import signal
import stat
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import click
from rich import box
from rich.console import Console
from rich.filesize import decimal
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from airflow_provider_datalake import __version__
from airflow_provider_datalake.descriptors.commands import formats

console = Console(stderr=True)
out = Console(width=None if sys.stdout.isatty() else 160)  # pipes and CI logs get whole ids, not folded ones

LARGE = 32 * 1024 * 1024  # show a byte progress bar from this size on


def _insert_rule(name: str, value: Any, param_hint: str) -> None:
    """Apply one of insert_datalake()'s checks (``check_format``, ...) up front, as a usage error: checked
    once before any file is tried instead of failing each file the same way."""
    from airflow_provider_datalake.ingest import insert as rules

    try:
        getattr(rules, name)(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=param_hint) from exc


def _parse_meta(values: tuple[str, ...]) -> dict[str, str]:
    meta: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected key=value, got {item!r}", param_hint="--meta")
        if key in meta:  # keeping one of two values silently would store what the user did not check
            raise click.BadParameter(f"key {key!r} given twice", param_hint="--meta")
        meta[key] = value
    if meta:
        _insert_rule("check_keys", meta, "--meta")
    return meta


def _check_format(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        _insert_rule("check_format", value, "--format")
    return value


def _check_container(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        _insert_rule("check_container", value, "--container")
    return value


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _visible(text: str) -> str:
    """Text from the catalog (file names came from whoever inserted them) with its control characters
    escaped (ESC as ``\\x1b``): printed raw, they would drive the user's terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _json_default(value: Any) -> str:
    if isinstance(value, dt.datetime):  # the catalog reads back naive UTC: say it is UTC, as inserts do
        return _utc(value).isoformat()  # type: ignore[union-attr]
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _short(rec: dict[str, Any]) -> list[str]:
    created = rec.get("creation_date")
    return [
        str(rec["_id"]),
        str(rec.get("status")),
        _visible(str(rec.get("format") or "-")),
        str(rec.get("size") if rec.get("size") is not None else "-"),
        _visible(str(rec.get("original_object_name") or "-")),
        created.strftime("%Y-%m-%d %H:%M:%S") if created else "-",
    ]


WIDE = 120  # below this, a record takes two lines (id over name) rather than folding every column


def _lease(rec: dict[str, Any]) -> str:
    """A processing record's lease: until when (UTC), whether it ran out, and which attempt this is."""
    until = _utc(rec.get("lease_until"))
    if rec.get("status") != "processing" or until is None:
        return "-"
    state = " expired" if until < dt.datetime.now(dt.UTC) else ""
    return f"{until:%H:%M:%S}{state} try {rec.get('processing_attempts', 1)}/{rec.get('max_attempts', '?')}"


def _records_table(
    records: list[dict[str, Any]], title: str, *, width: int, status: bool = True, lease: bool = False
) -> Table:
    """The records as a table that stays readable at ``width``: ids whole (they are copied), nothing folded
    mid-word on an 80-column terminal; one line per record when wide (pipes are, for grep). ``lease`` adds
    each processing record's lease."""
    if width >= WIDE:
        table = Table(title=title)
        table.add_column("id", no_wrap=True, min_width=32)  # whole, so it can be copied
        for col in ("status", "format", "bytes", "original name", "created (UTC)"):
            if col != "status" or status:
                table.add_column(col, overflow="fold")
        if lease:
            table.add_column("lease until (UTC)", no_wrap=True)
        for rec in records:
            row = _short(rec)
            row = (row if status else row[:1] + row[2:]) + ([_lease(rec)] if lease else [])
            table.add_row(*map(escape, row))  # names are data, not markup
        return table
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0))
    table.add_column("id / original name", overflow="fold", min_width=32)
    table.add_column("status / format" if status else "format", overflow="fold", max_width=16)
    table.add_column("size", no_wrap=True, justify="right")
    table.add_column("created / lease (UTC)" if lease else "created (UTC)", no_wrap=True)
    for rec in records:
        rid, state, fmt, _, name, created = _short(rec)
        size = decimal(rec["size"]).replace(" bytes", " B") if rec.get("size") is not None else "-"
        kind = f"{state}\n[dim]{escape(fmt)}[/dim]" if status else escape(fmt)
        when = created[:16] + (f"\n[dim]{escape(_lease(rec))}[/dim]" if lease else "")  # to the minute
        table.add_row(f"{escape(rid)}\n[dim]{escape(name)}[/dim]", kind, size, when)
    return table


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and those it was raised from or while handling, as a traceback lists them."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)


def _class(module: str, name: str) -> type | None:
    """A class of a module already imported: an exception cannot come from a module never loaded, and
    importing Airflow's (seconds) only to find that out would slow every error."""
    return getattr(sys.modules.get(module), name, None)


_MONGO_NOISE = re.compile(r" \(configured timeouts: [^)]*\)|, Timeout: .*|, Topology Description: .*")
_SWIFT_WHY = re.compile(r"\[Errno -?\d+\] [^'\")]+|timed out|Name or service not known")


def _outside_failure(exc: BaseException) -> tuple[str, str] | None:
    """(what, one line) when the exception is the world failing the command: a catalog or Swift that cannot
    be reached or refuses the credentials, a connection not defined. None for anything else: a bug, whose
    traceback must show. The line reuses insert's wording and never holds a password."""
    not_found = _class("airflow.sdk.exceptions", "AirflowNotFoundException") or _class(
        "airflow.exceptions", "AirflowNotFoundException"
    )
    swift_error = _class("airflow_provider_datalake.hooks.swift", "SwiftError")
    swift_auth = _class("airflow_provider_datalake.hooks.swift", "SwiftAuthError")
    mongo_down = _class("pymongo.errors", "ConnectionFailure")
    mongo_refused = _class("pymongo.errors", "OperationFailure")
    for one in _chain(exc):
        text = str(one)
        if not_found and isinstance(one, not_found) and (conn := re.search(r"conn_id `([^`]*)`", text)):
            why = f"the connection '{conn[1]}' is not defined"
            return why, f"{why}: source the stack's env file (.stack/env) or define it in Airflow"
        if swift_auth and isinstance(one, swift_auth):  # names the user and the auth URL, never the key
            return "Swift refused the credentials", text
        if swift_error and isinstance(one, swift_error) and text.startswith("Swift unreachable"):
            cause = str(one.__cause__ or "")
            short = _SWIFT_WHY.search(cause)
            return "Swift unreachable", text.removesuffix(f": {cause}") + (f": {short[0]}" if short else "")
        if mongo_down and isinstance(one, mongo_down):
            # pymongo's text: "host:port: reason (configured timeouts...), Timeout: 5.0s, Topology ..."
            clean = _MONGO_NOISE.sub("", text)
            timeout = re.search(r", Timeout: ([\d.]+)s", text)
            after = f" (gave up after {timeout[1]} s)" if timeout else ""
            where, sep, why = clean.partition(": ")
            if sep and re.fullmatch(r"\S+:\d+", where):
                return "catalog unreachable", f"catalog (MongoDB) unreachable at {where}: {why}{after}"
            return "catalog unreachable", f"catalog (MongoDB) unreachable: {clean[:200]}{after}"
        if mongo_refused and isinstance(one, mongo_refused) and getattr(one, "code", None) in (13, 18):
            why = text.split(", full error:")[0][:200]
            return "catalog refused the credentials", f"catalog (MongoDB) refused the credentials: {why}"
    return None


def _interrupt_code() -> int:
    return 128 + (signal.SIGTERM if _terminated else signal.SIGINT)


def _interrupt_name() -> str:
    return "SIGTERM" if _terminated else "Ctrl-C"


class _Cli(click.Group):
    """Every command ends the same way when the world fails it: one line on stderr and exit code 1 for a
    server down, credentials refused or a connection not defined; "interrupted" and 130 for a Ctrl-C that
    no command caught (143 for SIGTERM). Any other exception is a bug: its traceback shows."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:  # else click prints "Aborted!" and exits 1
            stored_nothing = ctx.invoked_subcommand == "insert" and not ctx.meta.get("datalake.tried")
            what = f"interrupted ({_interrupt_name()})" if _terminated else "interrupted"
            console.print(f"[yellow]{what}[/yellow]" + (": nothing was stored" if stored_nothing else ""))
            ctx.exit(_interrupt_code())
        except Exception as exc:
            failure = _outside_failure(exc)
            if failure is None:
                raise
            console.print(f"[red]error[/red]: {escape(_visible(failure[1]))}", soft_wrap=True)
            ctx.exit(1)


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="datalake")
@click.option(
    "--swift-conn-id", default="swift_default", show_default=True, help="Airflow connection of Swift."
)
@click.option(
    "--mongo-conn-id", default="mongo_default", show_default=True, help="Airflow connection of the catalog."
)
@click.pass_context
def cli(ctx: click.Context, swift_conn_id: str, mongo_conn_id: str) -> None:
    """neOCampus data lake: raw zone in Swift, catalog in MongoDB, gold zone loaded by Airflow."""
    ctx.obj = {"swift_conn_id": swift_conn_id, "mongo_conn_id": mongo_conn_id}


def _hooks(ctx: click.Context) -> tuple[Any, Any]:
    from airflow_provider_datalake.hooks.catalog import CatalogHook
    from airflow_provider_datalake.hooks.swift import SwiftHook

    if not ctx.meta.get("datalake.logs_to_console"):  # after Airflow's import: it configures logging then
        ctx.meta["datalake.logs_to_console"] = True
        ctx.with_resource(_logs_to_console())
    return SwiftHook(ctx.obj["swift_conn_id"]), CatalogHook(ctx.obj["mongo_conn_id"])


def _drop_private_keys(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """Airflow's own filtering wrapper pops its ``__level_override``; without it, it would be printed."""
    return {key: value for key, value in event.items() if not key.startswith("__")}


@contextmanager
def _logs_to_console() -> Iterator[None]:
    """Log records go to the stderr console, warnings and up, for as long as the command runs.

    Airflow writes them to stdout (its hooks' structlog loggers directly, the others through its root
    handler): they tore the progress bar and landed among `--json` lines. Their INFO lines ("uploading ...
    as an SLO") say what the command reports itself, so only warnings are shown, above the bar.
    """
    import logging

    import structlog
    from rich.logging import RichHandler

    root, saved = logging.getLogger(), structlog.get_config()
    handlers = root.handlers[:]
    root.handlers = [RichHandler(logging.WARNING, console=console, show_time=False, show_path=False)]
    structlog.configure(  # to stdlib logging, rendered to one string (no kwargs can clash with LogRecord's)
        processors=[
            structlog.stdlib.filter_by_level,
            structlog.stdlib.PositionalArgumentsFormatter(),
            _drop_private_keys,
            structlog.dev.ConsoleRenderer(
                colors=False, pad_event_to=0, exception_formatter=structlog.dev.plain_traceback
            ),  # plain: a rich traceback would show locals, connection passwords among them
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
    )
    try:
        yield
    finally:  # in-process callers (tests, embedding) get Airflow's set-up back
        root.handlers = handlers
        structlog.configure(**saved)


@dataclass
class Inserted:
    done: list[dict[str, Any]] = field(default_factory=list)  # committed records, in the order inserted
    failed: list[tuple[Path, str]] = field(default_factory=list)
    already: list[tuple[Path, dict[str, Any]]] = field(default_factory=list)  # content stored before (dedupe)
    interrupted: bool = False  # Ctrl-C: the file in flight is in `failed`, the rest in `not_attempted`
    stopped: str | None = None  # why the rest was not attempted when a store failed ("catalog unreachable")
    not_attempted: list[Path] = field(default_factory=list)


def _utc(value: Any) -> dt.datetime | None:
    """A catalog datetime as an aware UTC one (the catalog hands back naive UTC); None if not a datetime."""
    if not isinstance(value, dt.datetime):
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _created_before(rec: dict[str, Any], moment: dt.datetime) -> bool:
    created = _utc(rec.get("creation_date"))
    return created is not None and created < moment


def insert_paths(
    ctx: click.Context,
    paths: list[Path],
    *,
    fmt: str | None,
    container: str | None,
    application: str | None,
    meta: dict[str, str],
    dedupe: bool,
    quiet: bool = False,
    on_record: Callable[[dict[str, Any], bool], None] | None = None,
) -> Inserted:
    """Insert files one by one with a progress bar; a file's failure is collected, not fatal to the others,
    unless a store is unreachable or refuses the credentials: every next file would wait for the same
    timeout to fail the same way, so the rest is not attempted. ``on_record(rec, already_stored)``.

    Ctrl-C stops at once: the file in flight is rolled back; returns what was done so far.
    """
    from airflow_provider_datalake.hooks.catalog import utcnow
    from airflow_provider_datalake.ingest import insert_datalake

    swift, catalog = _hooks(ctx)
    result = Inserted()
    done, failed = result.done, result.failed
    sizes = {p: (p.stat().st_size if p.is_file() else 0) for p in paths}
    show_bytes = sum(sizes.values()) >= LARGE
    columns = [TextColumn("{task.description}"), BarColumn()]
    columns += (
        [DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn()]
        if show_bytes
        else [MofNCompleteColumn()]
    )
    with Progress(*columns, console=console, disable=quiet or (len(paths) == 1 and not show_bytes)) as bar:
        task = bar.add_task("inserting", total=sum(sizes.values()) if show_bytes else len(paths))
        for index, path in enumerate(paths):
            bar.update(task, description=f"inserting {_visible(path.name)}")
            ctx.meta["datalake.tried"] = True  # from here on, an interrupt may have stored something
            started = utcnow()  # ms precision, as stored: a record created before it was already there
            rec = None
            try:
                rec = insert_datalake(
                    path,
                    format=fmt,
                    container=container,
                    application=application,
                    other_data=meta,
                    dedupe=dedupe,
                    swift=swift,
                    catalog=catalog,
                    progress=(lambda n: bar.advance(task, n)) if show_bytes else None,
                )
                done.append(rec)
                already = _created_before(rec, started)
                if already:
                    result.already.append((path, rec))
                if on_record is not None:
                    on_record(rec, already)
            except KeyboardInterrupt:
                if rec is None:  # else it is committed and listed already
                    why = f"interrupted ({_interrupt_name()}): rolled back"
                    why += "; `datalake reconcile` settles anything left"
                    failed.append((path, why))
                result.interrupted = True
                result.not_attempted = paths[index + 1 :]
                break
            except Exception as exc:
                outside = _outside_failure(exc)
                why = outside[1] if outside else str(exc)
                if outside is None and path.is_dir():
                    why += f" (a directory: pass its files, e.g. {path}{os.sep}*)"
                failed.append((path, why))
                if outside is not None:
                    result.stopped, result.not_attempted = outside[0], paths[index + 1 :]
                    break
                if show_bytes:
                    bar.advance(task, sizes[path])
            if not show_bytes:
                bar.advance(task, 1)
    return result


@cli.command()
# readable=False: an unreadable file fails on its own, like a missing one, and the others are still inserted
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))
@click.option(
    "--format", "fmt", callback=_check_format, help="Data format name (selects the transformation DAG)."
)
@click.option(
    "--container", callback=_check_container, help="Swift container of the raw zone.  [default: datalake-raw]"
)
@click.option("--application", help="Producing application, kept in the catalog.")
@click.option("--meta", multiple=True, metavar="KEY=VALUE", help="Extra metadata (other_data); repeatable.")
@click.option(
    "--no-dedupe",
    is_flag=True,
    help="Store a second copy even if the same content and format are stored (in any container).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print the records as JSON lines, each with "already_stored": true for content stored before.',
)
@click.pass_context
def insert(
    ctx: click.Context,
    paths: tuple[Path, ...],
    fmt: str | None,
    container: str | None,
    application: str | None,
    meta: tuple[str, ...],
    no_dedupe: bool,
    as_json: bool,
) -> None:
    """Insert files into the raw zone (Swift + catalog, atomically). Exits non-zero if any file failed.

    Content already stored with the same format, in any container (dedupe is lake-wide), is not stored
    twice: its record is shown as "already stored" and where it is. If the catalog or Swift cannot be
    reached, the remaining files are not attempted. Ctrl-C stops at once: the file in flight is rolled
    back, the ones before it stay, and what was inserted is reported (exit code 130; 143 for SIGTERM).
    """
    extra = _parse_meta(meta)  # a usage error before any file is tried

    def emit(rec: dict[str, Any], already: bool) -> None:
        # One line each, as it commits, so a killed run still leaves its list (not through rich: it wraps).
        click.echo(json.dumps({**rec, "already_stored": already}, default=_json_default))
        sys.stdout.flush()

    result = insert_paths(
        ctx,
        list(paths),
        fmt=fmt,
        container=container,
        application=application,
        meta=extra,
        dedupe=not no_dedupe,
        on_record=emit if as_json else None,
    )
    _outcome_follows()
    done, failed = result.done, result.failed
    hits = {id(rec) for _, rec in result.already}  # by object: a file may repeat one inserted just before
    new = [rec for rec in done if id(rec) not in hits]
    if new and not as_json:
        out.print(_records_table(new, f"{len(new)} inserted", width=out.width, status=False))
    for path, rec in result.already:
        _, _, _, _, name, created = map(escape, _short(rec))
        where = escape(_visible(str(rec.get("swift_container"))))
        console.print(
            f"[yellow]already stored[/yellow] {escape(_visible(str(path)))}: same content and format as "
            f"record {rec['_id']} ({name}, {created} UTC) in container {where}, not stored twice (dedupe "
            "is lake-wide; --no-dedupe stores a copy)",
            soft_wrap=True,
        )
    for path, why in failed:
        line = f"{escape(_visible(str(path)))}: {escape(_visible(why))}"
        console.print(f"[red]failed[/red] {line}", soft_wrap=True)
    if result.not_attempted:
        after = "after the interruption" if result.interrupted else f"({result.stopped})"
        files = f"{len(result.not_attempted)} file" + ("s" if len(result.not_attempted) > 1 else "")
        console.print(f"[yellow]not attempted[/yellow]: {files} {after}")
    if fmt and done and (hint := _no_descriptor_hint(ctx, fmt)):
        console.print(f"[yellow]warning[/yellow]: {escape(hint)}", soft_wrap=True)
    summary = f"{len(new)} inserted"
    if result.already:
        summary += f", {len(result.already)} already stored"
    summary += f", {len(failed)} failed"
    if result.not_attempted:
        summary += f", {len(result.not_attempted)} not attempted"
    console.print(summary)
    if result.interrupted:
        sys.exit(_interrupt_code())
    if failed:
        sys.exit(1)


def _no_descriptor_hint(ctx: click.Context, fmt: str) -> str | None:
    """Why objects of ``fmt`` will wait, when no active descriptor has that name (else None).

    The raw zone keeps any format, so this is a warning, not a refusal: the name may be a typo, or the
    descriptor not pushed yet; either way the objects stay committed, unprocessed, until one is active.
    """
    from airflow_provider_datalake.descriptors.store import DRAFT, FormatStore

    store = FormatStore(_hooks(ctx)[1])
    if store.get_version(fmt) is not None:
        return None
    todo = (
        f"a draft waits for review: `datalake formats approve {fmt}`"
        if store.with_status(DRAFT, fmt)
        else f"`datalake formats push {fmt}.yaml`, or `datalake formats infer FILE --name {fmt}` to draft it"
    )
    return (
        f"no active descriptor for format '{fmt}': stored, but no DAG will process it until one is added "
        f"({todo})"
    )


@cli.group()
def objects() -> None:
    """Look at raw objects in the catalog."""


@objects.command("list")
@click.option(
    "--status",
    type=click.Choice(
        ["pending", "reconciling", "committed", "processing", "processed", "failed", "deleted"]
    ),
    help="Only records in this state.  [default: committed, processing, processed, failed]",
)
@click.option("--format", "fmt", help="Only this format; '-': only records without one.")
@click.option("--container", help="Only objects stored in this Swift container.")
@click.option("--application", help="Only records of this producing application.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=0), help="0: all.")
@click.option(
    "--after",
    metavar="ID",
    help="The next page: records listed after this one (the last id of the previous page).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON record per line, as stored, not a table.")
@click.pass_context
def objects_list(
    ctx: click.Context,
    status: str | None,
    fmt: str | None,
    container: str | None,
    application: str | None,
    limit: int,
    after: str | None,
    as_json: bool,
) -> None:
    """List raw objects, newest first, a page at a time (--after the last id shown for the next one)."""
    from airflow_provider_datalake.hooks.catalog import CatalogError

    _, catalog = _hooks(ctx)
    query: dict[str, Any] = {}
    if fmt == "-":  # the table shows a missing format as '-': the same spelling selects them
        fmt, query["format"] = None, None  # None matches a null field and a missing one alike
    if container is not None:
        query["swift_container"] = container
    if application is not None:
        query["application"] = application
    try:
        records = list(
            catalog.find(status=status, fmt=fmt, query=query, limit=limit, newest_first=True, after=after)
        )
    except CatalogError as exc:
        _fail(str(exc))
    if as_json:
        for rec in records:
            # Not through rich: it would wrap long lines and eat "[...]" in values as markup.
            click.echo(json.dumps(rec, default=_json_default))
        return
    title = f"raw objects ({len(records)} shown)"
    out.print(_records_table(records, title, width=out.width, lease=status == "processing"))
    if limit and len(records) == limit:
        console.print(f"next page: --after {escape(records[-1]['_id'])}", soft_wrap=True)


@objects.command("show")
@click.argument("record_id")
@click.pass_context
def objects_show(ctx: click.Context, record_id: str) -> None:
    """Show one raw object's catalog record."""
    _, catalog = _hooks(ctx)
    rec = catalog.get(record_id)
    if rec is None:
        console.print(f"[red]no raw object {escape(record_id)}[/red]")
        sys.exit(1)
    out.print_json(json.dumps(rec, default=_json_default))


def _fail(message: str) -> NoReturn:
    console.print(f"[red]{escape(message)}[/red]", soft_wrap=True)
    sys.exit(1)


def _stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def _file_name(rec: dict[str, Any]) -> str:
    """The file name an object is written under in a directory: the last component of its original name.

    That name came from whoever inserted the file: a path in it (``../../.bashrc``) must not choose where
    the bytes land, and its control characters (ESC, newline) become '_' (they would reach every `ls`).
    """
    raw = str(rec.get("original_object_name") or rec["_id"])
    name = _CONTROL.sub("_", raw.replace("\\", "/").rsplit("/", 1)[-1])
    if name in ("", ".", ".."):
        _fail(f"raw object {rec['_id']}: its name {raw!r} is no file name: give -o DIR/NAME")
    return name


def _check_copy(rec: dict[str, Any], size: int, sha256: str) -> str | None:
    """What is wrong with the bytes read back, compared to the record (None: they are the stored ones)."""
    if rec.get("size") is not None and size != rec["size"]:
        return f"{size} bytes read, the record says {rec['size']}"
    if rec.get("sha256") and sha256 != rec["sha256"]:
        return f"sha256 {sha256} read, the record says {rec['sha256']}"
    return None


@objects.command("get")
@click.argument("record_id")
@click.option(
    "-o",
    "--output",
    type=click.Path(allow_dash=True),  # a str: a Path would drop the trailing slash that means "a directory"
    help="File, or directory (the object's original file name inside it; a path ending in '/' is one, "
    "created if needed); a device or FIFO is written through; '-': stdout.  "
    "[default: stdout, unless it is a terminal]",
)
@click.option(
    "--force", is_flag=True, help="Overwrite an existing file (a symlink's target: the link stays)."
)
@click.pass_context
def objects_get(ctx: click.Context, record_id: str, output: str | None, force: bool) -> None:
    """Write a raw object's bytes, as stored in Swift, checked against its record's size and sha256."""
    from airflow_provider_datalake.hooks.catalog import VISIBLE
    from airflow_provider_datalake.hooks.swift import SwiftError
    from airflow_provider_datalake.ingest.reconcile import in_account

    swift, catalog = _hooks(ctx)
    rec = catalog.get(record_id)
    if rec is None:
        _fail(f"no raw object {record_id}")
    status = rec.get("status")
    if status not in {s.value for s in VISIBLE}:  # pending: not verified in Swift yet; deleted: gone
        _fail(
            f"raw object {record_id} is {status}: only {', '.join(s.value for s in VISIBLE)} objects "
            "can be read"
        )
    if not in_account(rec, swift):  # else Swift answers "not found", which reads as a lost object
        stored = rec.get("swift_account") or f"user {rec.get('swift_user')!r}"
        _fail(
            f"raw object {record_id} is stored in Swift account {stored}, not in {swift.account} that "
            f"{swift.swift_conn_id} reaches: give the connection of that account (--swift-conn-id)"
        )
    container, name = rec["swift_container"], rec["swift_object_id"]
    to_stdout = output is None or output == "-"
    if to_stdout and _stdout_is_terminal():
        _fail("not writing the object's bytes to a terminal: use -o FILE or a pipe")
    try:
        if to_stdout:
            _get_to_stdout(swift, rec, container, name)
            return
        assert output is not None
        target = _output_target(rec, output)
        real = Path(os.path.realpath(target))  # a symlink is followed: the link stays, its target is written
        mode = real.stat().st_mode if real.exists() else None
        if mode is not None and stat.S_ISDIR(mode):
            _fail(f"{_visible(str(target))} is a directory")
        if mode is not None and not stat.S_ISREG(mode):
            size = _get_through(swift, rec, container, name, real)
        else:
            if mode is not None and not force:
                _fail(f"{_visible(str(target))} exists: --force overwrites it")
            if not real.parent.is_dir():
                _fail(f"no directory {_visible(str(real.parent))}")
            size = _get_replacing(swift, rec, container, name, real)
    except (SwiftError, OSError) as exc:  # the object missing from Swift, a directory not writable, ...
        _fail(f"cannot get raw object {record_id}: {exc}")
    console.print(f"wrote {escape(_visible(str(target)))} ({size} bytes, checked)", soft_wrap=True)


def _output_target(rec: dict[str, Any], output: str) -> Path:
    """Where -o sends the object: a directory (one that exists, or any path ending in a slash: created,
    parents too) gets the object's original file name inside it; anything else is the file itself."""
    if output.endswith(("/", os.sep)):
        folder = Path(output)
        if folder.exists() and not folder.is_dir():
            _fail(f"{_visible(output)} is not a directory")
        folder.mkdir(parents=True, exist_ok=True)
        return folder / _file_name(rec)
    path = Path(output)
    return path / _file_name(rec) if path.is_dir() else path


def _get_replacing(swift: Any, rec: dict[str, Any], container: str, name: str, target: Path) -> int:
    """Into a hidden file beside the target, renamed once checked: a failed copy leaves no partial file and
    does not destroy the file it was to replace."""
    part = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        size = swift.download_object(container, name, part)
        with open(part, "rb") as f:
            problem = _check_copy(rec, size, hashlib.file_digest(f, "sha256").hexdigest())
        if problem:
            _fail(f"{container}/{name} is not the stored object ({problem}): nothing written")
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return size


def _get_through(swift: Any, rec: dict[str, Any], container: str, name: str, target: Path) -> int:
    """Into a device or a FIFO (/dev/null, a pipe a reader waits on): written through, checked as it
    streams. Replacing it by a regular file would break whatever reads it, and it was not the user's file
    to lose: it takes no --force. Bytes that turn out not to be the object cannot be taken back from a
    device, so the error says that they were written."""
    digest, size = hashlib.sha256(), 0
    with open(target, "wb") as sink:
        for chunk in swift.iter_object(container, name):
            sink.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    if problem := _check_copy(rec, size, digest.hexdigest()):
        wrong = f"{container}/{name} is not the stored object ({problem})"
        _fail(f"{wrong}: the bytes written to {target} are not it")
    return size


def _get_to_stdout(swift: Any, rec: dict[str, Any], container: str, name: str) -> None:
    sink = sys.stdout.buffer
    digest, size = hashlib.sha256(), 0
    try:
        for chunk in swift.iter_object(container, name):
            sink.write(chunk)
            digest.update(chunk)
            size += len(chunk)
        sink.flush()
    except BrokenPipeError:  # `| head -c N` stopped reading: no traceback, and no second flush at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    if problem := _check_copy(rec, size, digest.hexdigest()):
        _fail(f"{container}/{name} is not the stored object ({problem}): the bytes written are not it")


@objects.command("quarantine")
@click.argument("record_id")
@click.option("--target", help="Only this target's bad rows.  [default: every target]")
@click.option("--limit", default=50, show_default=True, help="Rows shown per target (0: all).")
@click.option("--json", "as_json", is_flag=True, help="The rows as JSON lines, as stored.")
@click.pass_context
def objects_quarantine(
    ctx: click.Context, record_id: str, target: str | None, limit: int, as_json: bool
) -> None:
    """Show the bad rows of a raw object's latest load per target, with their reasons (read from Swift)."""
    from airflow_provider_datalake.parsing.lines import LineSplitter

    swift, catalog = _hooks(ctx)
    rec = catalog.get(record_id)
    if rec is None:
        console.print(f"[red]no raw object {escape(record_id)}[/red]")
        sys.exit(1)
    latest: dict[str, dict[str, Any]] = {}  # target -> its last outcome, success or failure
    for op in [*rec.get("successful_operations", []), *rec.get("failed_operations", [])]:
        name = op.get("target")
        wanted = name and (target is None or name == target)
        if wanted and str(op.get("finished", "")) >= str(latest.get(name, {}).get("finished", "")):
            latest[name] = op
    if target is not None and target not in latest:
        console.print(f"[red]raw object {escape(record_id)} has no outcome for target {escape(target)}[/red]")
        sys.exit(1)
    if not latest:  # else nothing at all is printed, which reads as "no bad rows"
        console.print(f"no loads recorded yet for {escape(record_id)} (status: {rec.get('status')})")
        return
    for name, op in sorted(latest.items()):
        link = op.get("quarantine")
        if not as_json:
            out.print(
                f"[bold]{escape(name)}[/bold]: {op.get('rows_quarantined', 0)} row(s) quarantined"
                + (f" in {escape(link)}" if link else ""),
                soft_wrap=True,
            )
        if not link:
            continue
        container, _, obj = link.partition("/")
        shown = 0
        for raw in LineSplitter(swift.iter_object(container, obj)):
            if not isinstance(raw, bytes):  # over the parser's line limit: not shown, never loaded whole
                out.print(f"  (a line of {raw.size} bytes, left in {escape(link)})")
                continue
            line = raw.decode().strip()
            if not line:
                continue
            if limit and shown >= limit:
                if not as_json:
                    out.print(f"  ... more in {escape(link)} (--limit 0 shows all)")
                break
            shown += 1
            if as_json:
                click.echo(line)
                continue
            bad = json.loads(line)
            field = f" {bad['field']}" if bad.get("field") else ""
            out.print(
                f"  row {bad.get('row_number')}{escape(field)}: {escape(str(bad.get('error')))} "
                f"(value {escape(repr(bad.get('value')))})",
                soft_wrap=True,
            )


@cli.command("reconcile")
@click.option("--dry-run", is_flag=True, help="Say what would be done, change nothing.")
@click.option("--remove-orphans", is_flag=True, help="Delete Swift objects that no record names.")
@click.option(
    "--container",
    "containers",
    multiple=True,
    help="Look for orphan and missing objects in this container only; repeatable. Expired pending records "
    "are settled in every container.  [default: datalake-raw and every one the catalog names]",
)
@click.option(
    "--show",
    default=20,
    show_default=True,
    type=click.IntRange(min=0),
    help="Record ids and orphan names listed (the counts are always given).",
)
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON document, every id and name.")
@click.pass_context
def reconcile_cmd(
    ctx: click.Context,
    dry_run: bool,
    remove_orphans: bool,
    containers: tuple[str, ...],
    show: int,
    as_json: bool,
) -> None:
    """Settle what crashed inserts left (expired pending records) and report orphan objects."""
    from airflow_provider_datalake.ingest import reconcile

    swift, catalog = _hooks(ctx)
    if containers:
        existing = {c["name"] for name in set(containers) for c in swift.list_containers(prefix=name)}
        for name in sorted(set(containers) - existing):  # else its zero counts read as "all is well"
            console.print(f"[yellow]warning[/yellow]: container {escape(_visible(name))} does not exist")
    report = reconcile(
        dry_run=dry_run,
        remove_orphans=remove_orphans,
        containers=list(containers) or None,
        swift=swift,
        catalog=catalog,
    )
    # Pending records inside their lease are an insert still running or one that stopped less than a lease
    # ago: reconcile leaves them alone, but saying nothing would read as "nothing was left".
    now = dt.datetime.now(dt.UTC)
    waiting = []
    for rec in catalog.find(status="pending"):
        until = _utc(rec.get("lease_until"))
        if until is not None and until > now and (not containers or rec.get("swift_container") in containers):
            waiting.append((until, str(rec["_id"])))
    waiting.sort()
    if as_json:
        out.print_json(json.dumps({**report.as_dict(), "pending_in_lease": [rid for _, rid in waiting]}))
    else:
        verb = "would roll" if dry_run else "rolled"
        out.print(f"{verb} forward: {len(report.rolled_forward)}  {verb} back: {len(report.rolled_back)}")
        for word, ids in (("forward", report.rolled_forward), ("back", report.rolled_back)):
            for rid in ids[:show]:  # which records: the counts alone cannot be checked
                out.print(f"  {verb} {word} {rid}")
        if dry_run:  # nothing is removed by a dry run: say what --remove-orphans would do instead
            removal = f"  would remove: {len(report.orphans)}" if remove_orphans else ""
        else:
            removal = f"  removed: {len(report.orphans_removed)}"
        out.print(f"orphan objects: {len(report.orphans)}{removal}")
        for container, name in report.orphans[:show]:
            out.print(f"  orphan {escape(_visible(f'{container}/{name}'))}", soft_wrap=True)
        if len(report.orphans) > show:
            out.print(
                f"  ... and {len(report.orphans) - show} more (--show N, or --json for all; "
                "--container C checks one container)"
            )
        for rid in report.missing_objects:
            out.print(f"  [red]record {rid} is committed but its object is missing from Swift[/red]")
        if report.other_accounts:  # else they would read as checked
            out.print(
                f"records of other Swift accounts, not checked through {swift.swift_conn_id} "
                f"(account {swift.account}): {len(report.other_accounts)}; reconcile with their "
                "connection (--swift-conn-id) checks them",
                soft_wrap=True,
            )
        if waiting:
            out.print(
                f"pending within their lease (an insert running, or stopped less than a lease ago), "
                f"left alone: {len(waiting)}; the first lease ends {waiting[0][0]:%Y-%m-%d %H:%M:%S} UTC, "
                "reconcile after it",
                soft_wrap=True,
            )
            for _, rid in waiting[:show]:
                out.print(f"  pending {rid}")
    if report.missing_objects:
        sys.exit(1)


@cli.group()
def catalog() -> None:
    """The catalog itself: its indexes, and how many objects it holds."""


@catalog.command("init")
@click.pass_context
def catalog_init(ctx: click.Context) -> None:
    """Create the catalog's indexes and its list of containers (idempotent; also done at first use).

    Run it once after restoring or upgrading a catalog: on a large one, building an index takes a while,
    better spent here than in the first insert."""
    from airflow_provider_datalake.hooks.catalog import INDEXES, RAW_OBJECTS

    _, hook = _hooks(ctx)
    before = set(hook.db[RAW_OBJECTS].index_information())
    hook.ensure_indexes()
    containers = hook.containers()
    table = Table("index", "keys", "", box=box.SIMPLE, title=f"catalog {hook.database}.{RAW_OBJECTS}")
    for model in INDEXES:
        doc = model.document
        keys = ", ".join(f"{k}{'' if d == 1 else ' desc'}" for k, d in doc["key"].items())
        state = "exists" if doc["name"] in before else "created"
        table.add_row(doc["name"], keys + (" (unique)" if doc.get("unique") else ""), state)
    out.print(table)
    out.print(f"{len(containers)} container(s) hold raw objects: {escape(', '.join(containers)) or '-'}")


@catalog.command("stats")
@click.option("--format", "fmt", help="Only this format.")
@click.option("--json", "as_json", is_flag=True, help="The counts as one JSON object.")
@click.pass_context
def catalog_stats(ctx: click.Context, fmt: str | None, as_json: bool) -> None:
    """How many raw objects each format has in each state."""
    from airflow_provider_datalake.hooks.catalog import Status

    _, hook = _hooks(ctx)
    counts = hook.status_counts(fmt)
    if as_json:
        click.echo(json.dumps({name if name is not None else "-": c for name, c in counts.items()}))
        return
    states = [s.value for s in Status]
    table = Table("format", *states, "total", box=box.SIMPLE, title="raw objects by state")
    for name in sorted(counts, key=lambda n: (n is None, n or "")):
        row = counts[name]
        table.add_row(name or "-", *(str(row.get(s, 0)) for s in states), str(sum(row.values())))
    out.print(table)


@cli.group()
def samples() -> None:
    """The project's seeded generator of campus-shaped data."""


@samples.command("generate")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", default=0, show_default=True)
@click.option("--scale", default=1, show_default=True, help="Multiplies the number of messages and rows.")
def samples_generate(directory: Path, seed: int, scale: int) -> None:
    """Write a mixed set of campus-shaped files (MQTT dumps, sensor exports, lab CSVs, an image)."""
    from airflow_provider_datalake.samples import write_sample_set

    for path in write_sample_set(directory, seed=seed, scale=scale):
        out.print(f"{path}  {path.stat().st_size} bytes")


def sample_format(path: Path) -> str:
    """The format name the demo gives each generated sample (descriptors key on it)."""
    stem = path.stem.rsplit("_", 1)[0]
    return {
        "mqtt_dump": "neocampus_mqtt",
        "mqtt_stream": "neocampus_mqtt_jsonl",
        "sensor_readings": "sensor_readings",
        "lab_export_fr": "lab_csv_fr",
        "lab_export_en": "lab_csv_en",
        "campus_photo": "image",
    }.get(stem, stem)


@cli.command()
@click.option("--seed", type=int, help="Seed of the generated files.  [default: a new one each run]")
@click.option(
    "--examples",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("examples"),
    show_default=True,
    help="Folder of format descriptors to push first.",
)
@click.option("--wait", default=240.0, show_default=True, help="Seconds to wait for Airflow to process.")
@click.pass_context
def demo(ctx: click.Context, seed: int | None, examples: Path, wait: float) -> None:
    """The product's main job on the local stack, end to end, through the running Airflow.

    Descriptors are pushed and their DAGs installed; campus-shaped files are inserted into the raw zone;
    each committed object then starts its format's DAG by itself; the gold zone's tables are shown.
    """
    from airflow_provider_datalake.descriptors.loader import load_many
    from airflow_provider_datalake.descriptors.store import FormatStore
    from airflow_provider_datalake.factory import install_dags_folder, sync_dags_folder
    from airflow_provider_datalake.samples import write_sample_set

    seed = seed if seed is not None else int(time.time()) % 100_000
    _, catalog = _hooks(ctx)
    descriptors, errors = load_many(sorted(examples.glob("*.yaml")))
    for err in errors:
        console.print(f"[red]invalid descriptor[/red] {escape(str(err))}")
    store = FormatStore(catalog)
    for desc in descriptors:
        store.push(desc, author="demo")
    folder = _dags_folder(None)
    install_dags_folder(folder, mongo_conn_id=ctx.obj["mongo_conn_id"])
    synced = sync_dags_folder(folder, mongo_conn_id=ctx.obj["mongo_conn_id"], force=True)
    out.print(
        f"[bold]1. {len(descriptors)} format descriptors pushed[/bold] "
        f"({', '.join(d.name for d in descriptors)}); DAG files in {folder} "
        f"(written: {', '.join(synced.get('written', [])) or 'unchanged'})"
    )
    _wait_for_dags(folder, [d.name for d in descriptors], timeout=90)

    with tempfile.TemporaryDirectory(prefix="datalake-demo-") as tmp:
        files = write_sample_set(Path(tmp), seed=seed)
        done: list[dict[str, Any]] = []
        failed: list[tuple[Path, str]] = []
        for path in files:
            result = insert_paths(
                ctx,
                [path],
                fmt=sample_format(path),
                container=None,
                application="demo",
                meta={"source": "make demo", "seed": str(seed)},
                dedupe=True,
                quiet=True,
            )
            if result.interrupted:
                raise KeyboardInterrupt
            done += result.done
            failed += result.failed
    out.print(f"[bold]2. {len(done)} campus files inserted into Swift + catalog[/bold] (seed {seed})")
    for path, why in failed:
        console.print(f"[red]failed[/red] {escape(path.name)}: {escape(why)}", soft_wrap=True)

    known = {d.name for d in descriptors}
    waiting = [r["_id"] for r in done if r.get("format") in known]
    out.print(
        f"[bold]3. Airflow processes them by itself[/bold] (waiting up to {wait:.0f}s for {len(waiting)})"
    )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        states = [catalog.get(rid)["status"] for rid in waiting]
        if all(state in ("processed", "failed") for state in states):
            break
        time.sleep(2)
    records = [catalog.get(r["_id"]) for r in done]
    table = _records_table(records, "the demo's raw objects", width=out.width)
    out.print(table)
    for rec in records:
        ok, bad = rec.get("successful_operations", []), rec.get("failed_operations", [])
        last_run = max(ok + bad, key=lambda op: str(op.get("finished", "")), default={}).get("run_id")
        for op in (o for o in ok if o.get("run_id") == last_run):  # every target of the object's last run
            out.print(
                f"  {rec['format']}: {op['rows_loaded']} rows into {op['target']} ({op['store']}), "
                f"{op['rows_quarantined']} quarantined"
            )
        for op in (o for o in bad if o.get("run_id") == last_run):
            out.print(f"  [red]{rec['format']} -> {op['target']}: {escape(str(op.get('error')))}[/red]")
    _show_gold_tables(descriptors)
    _show_other_stores(descriptors)
    unfinished = [rid for rid in waiting if catalog.get(rid)["status"] not in ("processed",)]
    if failed or unfinished:
        console.print(f"[red]{len(failed)} insert(s) failed, {len(unfinished)} object(s) not processed[/red]")
        sys.exit(1)


def _wait_for_dags(folder: Path, names: list[str], timeout: float) -> None:
    """Until the dag-processor has registered every format's DAG (it scans the folder every few seconds)."""
    import json as _json
    import os
    import urllib.request

    base = os.environ.get("AIRFLOW__API__BASE_URL")
    if not base:
        return
    deadline = time.monotonic() + timeout
    pending = set(names)
    while pending and time.monotonic() < deadline:
        for name in list(pending):
            try:
                url = f"{base}/api/v2/dags/datalake__{name}"
                with urllib.request.urlopen(url, timeout=3) as resp:  # noqa: S310 (the stack's own API)
                    if _json.loads(resp.read()).get("is_paused") is False:
                        pending.discard(name)
            except OSError:
                pass
        time.sleep(1)
    time.sleep(5)  # the triggerer starts the new asset watchers on its next loop
    if pending:
        console.print(f"[yellow]DAGs not registered yet: {', '.join(sorted(pending))}[/yellow]")


def _show_gold_tables(descriptors: list[Any]) -> None:
    from airflow.providers.postgres.hooks.postgres import PostgresHook
    from psycopg import sql

    tables = sorted(
        {(t.conn_id, t.schema_, t.table) for d in descriptors for t in d.targets if t.store == "postgres"}
    )
    out.print("[bold]4. the gold zone (PostgreSQL) now holds[/bold]")
    for conn_id, schema, table in tables:
        with PostgresHook(postgres_conn_id=conn_id).get_conn() as conn:
            query = sql.SQL("select count(*), count(distinct _raw_object_id) from {}.{}").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            try:
                rows, objects = conn.execute(query).fetchone()
            except Exception:
                rows, objects = 0, 0
            out.print(f"  {schema}.{table}: {rows} rows from {objects} raw objects")


def _show_other_stores(descriptors: list[Any]) -> None:
    """What the demo's InfluxDB, MongoDB and Neo4j targets hold (a store that cannot be read says why)."""
    targets = [t for d in descriptors for t in d.targets if t.store != "postgres"]
    if not targets:
        return
    out.print("[bold]5. ... and the other stores of the gold zone hold[/bold]")
    for t in targets:
        try:
            out.print(f"  {t.name} ({t.store}): {_store_summary(t)}")
        except Exception as exc:
            console.print(f"  [red]{t.name} ({t.store}): cannot read it: {escape(str(exc)[:200])}[/red]")


def _store_summary(target: Any) -> str:
    if target.store == "mongodb":
        from airflow.providers.mongo.hooks.mongo import MongoHook

        coll = MongoHook(mongo_conn_id=target.conn_id).get_conn()[target.database][target.collection]
        objects = len(coll.distinct("_raw_object_id"))
        where = f"{target.database}.{target.collection}"
        return f"{coll.count_documents({})} documents in {where} from {objects} raw objects"
    if target.store == "neo4j":
        from airflow.providers.neo4j.hooks.neo4j import Neo4jHook

        hook = Neo4jHook(conn_id=target.conn_id)
        counts = [
            f"{hook.run(f'MATCH (n:`{n.label}`) RETURN count(n) AS c')[0]['c']} {n.label}"
            for n in target.nodes
        ]
        counts += [
            f"{hook.run(f'MATCH ()-[e:`{r.type}`]->() RETURN count(e) AS c')[0]['c']} {r.type}"
            for r in target.relationships
        ]
        return ", ".join(counts)
    if target.store == "influxdb":
        from airflow.providers.influxdb.hooks.influxdb import InfluxDBHook

        from airflow_provider_datalake.gold.influxdb import DEFAULT_BUCKET

        hook = InfluxDBHook(conn_id=target.conn_id)
        client = hook.get_conn()
        bucket = target.bucket or (hook.extras or {}).get("bucket") or DEFAULT_BUCKET
        flux = (
            f'from(bucket: "{bucket}") |> range(start: 0) |> filter(fn: (r) => r._field == "raw_object_id") '
            '|> group(columns: ["_measurement"]) |> count()'
        )
        per = {
            rec.values["_measurement"]: rec.get_value()
            for table in client.query_api().query(flux)
            for rec in table
        }
        total = sum(per.values())
        detail = ", ".join(f"{m} {n}" for m, n in sorted(per.items()))
        return f"{total} points in {bucket} ({detail})"
    return "-"


cli.add_command(formats)


def _dags_folder(value: Path | None) -> Path:
    if value is not None:
        return value
    from airflow.configuration import conf

    return Path(conf.get("core", "dags_folder"))


@cli.group()
def dags() -> None:
    """The generated DAGs: one `datalake__<format>` DAG per active format descriptor."""


@dags.command("install")
@click.option("--dags-folder", type=click.Path(file_okay=False, path_type=Path), help="[default: Airflow's]")
@click.option("--ttl", default=60.0, show_default=True, help="Seconds between catalog reads at parse time.")
@click.option(
    "--layout",
    type=click.Choice(["per-format", "single"]),
    help="per-format: a file per format; single: one file for every valid format (cheaper to parse "
    "for hundreds of formats). [default: the folder's current one, else per-format]",
)
@click.pass_context
def dags_install(ctx: click.Context, dags_folder: Path | None, ttl: float, layout: str | None) -> None:
    """Put the factory's entry file in the dags folder, then sync the format files once."""
    from airflow_provider_datalake.factory import install_dags_folder, sync_dags_folder

    folder = _dags_folder(dags_folder)
    path = install_dags_folder(folder, ttl=ttl, mongo_conn_id=ctx.obj["mongo_conn_id"], layout=layout)
    result = sync_dags_folder(folder, ttl=ttl, mongo_conn_id=ctx.obj["mongo_conn_id"], force=True)
    out.print(f"installed {path}; formats written: {', '.join(result.get('written', [])) or 'none'}")


@dags.command("sync")
@click.option("--dags-folder", type=click.Path(file_okay=False, path_type=Path), help="[default: Airflow's]")
@click.pass_context
def dags_sync(ctx: click.Context, dags_folder: Path | None) -> None:
    """Refresh the descriptor cache from the catalog now and rewrite the per-format DAG files."""
    from airflow_provider_datalake.factory import sync_dags_folder

    result = sync_dags_folder(_dags_folder(dags_folder), mongo_conn_id=ctx.obj["mongo_conn_id"], force=True)
    state = result["cache"]
    out.print(f"cache: {state.status} ({state.count} formats)")
    written, removed = result.get("written", []), result.get("removed", [])
    out.print(f"written: {', '.join(written) or '-'}  removed: {', '.join(removed) or '-'}")
    if not state.ok:
        console.print(f"[red]catalog unreachable[/red]: {escape(str(state.error))}; the previous files stay")
        sys.exit(1)


@cli.command("reprocess")
@click.argument("record_ids", nargs=-1)
@click.option("--format", "fmt", help="Every processed or failed object of this format.")
@click.option(
    "--status",
    multiple=True,
    type=click.Choice(["processed", "failed", "processing"]),
    help="Which states to take back (default: processed and failed).",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    help="Load only this target (e.g. influxdb_kind, the store that was down); repeatable. Default: all.",
)
@click.pass_context
def reprocess_cmd(
    ctx: click.Context,
    record_ids: tuple[str, ...],
    fmt: str | None,
    status: tuple[str, ...],
    targets: tuple[str, ...],
) -> None:
    """Run objects through their format's DAG again (loads are idempotent: no row is duplicated)."""
    from airflow_provider_datalake.processing import reprocess

    if not record_ids and not fmt:
        raise click.UsageError("give record ids or --format")
    _, catalog = _hooks(ctx)
    if targets:
        _check_targets(catalog, record_ids, fmt, targets)
    done = reprocess(catalog, ids=record_ids, fmt=fmt, status=status, targets=targets)
    out.print(f"{len(done)} object(s) back to committed; their format DAGs will take them")
    if record_ids and len(done) < len(record_ids):
        missing = sorted(set(record_ids) - set(done))
        console.print(
            f"[red]not reprocessed[/red] (unknown or not processed/failed): {escape(', '.join(missing))}"
        )
        sys.exit(1)


@cli.command("health")
@click.option(
    "--bound",
    default=15.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Minutes an object may stay committed or processing, and a task queued, before it is reported.",
)
@click.option("--recover", is_flag=True, help="Run the recovery sweep first (what the triggerer does).")
@click.option(
    "--no-airflow", is_flag=True, help="Check the catalog only (no Airflow metadata database here)."
)
@click.option("--json", "as_json", is_flag=True, help="The report as one JSON object.")
@click.pass_context
def health_cmd(ctx: click.Context, bound: float, recover: bool, no_airflow: bool, as_json: bool) -> None:
    """Is the lake moving? Objects stuck past the bound, expired leases, a wedged executor, a dead
    scheduler or triggerer. Exit 0 when healthy, 1 when something needs a look."""
    from airflow_provider_datalake.health import check_health

    _, catalog = _hooks(ctx)
    report = check_health(catalog, bound=dt.timedelta(minutes=bound), recover=recover, airflow=not no_airflow)
    if as_json:
        click.echo(json.dumps(report.as_dict(), default=_json_default))
    else:
        if report.recovered:
            out.print(
                f"recovered {len(report.recovered)} object(s): "
                + ", ".join(f"{rid} -> {state}" for rid, state in sorted(report.recovered.items()))
            )
        for check in report.checks:
            mark = "[green]ok[/green]  " if check.ok else "[red]FAIL[/red]"
            line = f"{mark} {check.name}: {escape(check.detail)}"
            if check.examples:
                more = ", ..." if check.count > len(check.examples) else ""
                line += f" [dim]({escape(', '.join(check.examples))}{more})[/dim]"
            out.print(line, soft_wrap=True)
    if not report.ok:
        sys.exit(1)


def _check_targets(
    catalog: Any, record_ids: tuple[str, ...], fmt: str | None, targets: tuple[str, ...]
) -> None:
    """Every --target must be a target of the objects' format (its active descriptor)."""
    from airflow_provider_datalake.descriptors.store import FormatStore

    formats = {fmt} if fmt else set()
    for rid in record_ids:
        rec = catalog.get(rid)
        if rec is not None and rec.get("format"):
            formats.add(rec["format"])
    store = FormatStore(catalog)
    for name in sorted(formats):
        desc = store.get(name)
        known = [t.name for t in desc.targets] if desc is not None else []
        unknown = [t for t in targets if t not in known]
        if desc is not None and unknown:
            raise click.BadParameter(
                f"{', '.join(unknown)} not a target of format {name} (its targets: {', '.join(known)})",
                param_hint="--target",
            )


_as_script = False  # True under main(): only the console script may hold Ctrl-C back (not CliRunner's caller)
_terminated = False  # a SIGTERM (under main()) raised the KeyboardInterrupt: exit 143, not 130
_held_ctrl_c: list[int] = []


def _outcome_follows() -> None:
    """The work is done and its outcome is about to be printed: a Ctrl-C (or SIGTERM) from here on is held
    until main() ends the process by the signal, so it can neither cut the summary nor raise into the
    teardown."""
    if _as_script:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda signum, _frame: _held_ctrl_c.append(signum))


def _sigterm(_signum: int, _frame: Any) -> None:
    """`kill PID` takes Ctrl-C's path: the insert in flight rolls back (no pending record waits for its
    lease) and the summary is printed; the exit code then says SIGTERM (143)."""
    global _terminated
    _terminated = True
    raise KeyboardInterrupt


def main() -> None:
    """The console script. SIGTERM is handled as Ctrl-C (see `_sigterm`). After the command, a Ctrl-C during
    the interpreter's teardown (about a second of freeing Airflow's modules) ends the process by the signal,
    as any program's, without a traceback."""
    global _as_script
    _as_script = True
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        cli()
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        gc.freeze()  # the teardown's collections then skip Airflow's heap: about 1.2 s -> 0.3 s
        if _held_ctrl_c:
            os.kill(os.getpid(), _held_ctrl_c[0])
