"""`datalake objects ...`: list raw objects, show one's record, get its bytes (checked), show its
quarantined rows."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import uuid
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from airflow_provider_datalake.cli import context
from airflow_provider_datalake.cli.render import (
    CONTROL,
    console,
    fail,
    json_default,
    out,
    records_table,
    visible,
)


@click.group()
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
@context.verbose_option
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
    from airflow_provider_datalake.hooks.errors import CatalogError  # here: keeps `datalake --help` fast

    catalog = context.catalog(ctx)
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
        fail(str(exc))
    if as_json:
        for rec in records:
            # Not through rich: it would wrap long lines and eat "[...]" in values as markup.
            click.echo(json.dumps(rec, default=json_default))
        return
    title = f"raw objects ({len(records)} shown)"
    out.print(records_table(records, title, width=out.width, with_lease=status == "processing"))
    if limit and len(records) == limit:
        console.print(f"next page: --after {escape(records[-1]['_id'])}", soft_wrap=True)


@objects.command("show")
@click.argument("record_id")
@click.pass_context
def objects_show(ctx: click.Context, record_id: str) -> None:
    """Show one raw object's catalog record."""
    catalog = context.catalog(ctx)
    rec = catalog.get(record_id)
    if rec is None:
        console.print(f"[red]no raw object {escape(record_id)}[/red]")
        sys.exit(1)
    out.print_json(json.dumps(rec, default=json_default))


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def _file_name(rec: dict[str, Any]) -> str:
    """The file name an object is written under in a directory: the last component of its original name.

    That name came from whoever inserted the file: a path in it (``../../.bashrc``) must not choose where
    the bytes land, and its control characters (ESC, newline) become '_' (they would reach every `ls`).
    """
    raw = str(rec.get("original_object_name") or rec["_id"])
    name = CONTROL.sub("_", raw.replace("\\", "/").rsplit("/", 1)[-1])
    if name in ("", ".", ".."):
        fail(f"raw object {rec['_id']}: its name {raw!r} is no file name: give -o DIR/NAME")
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
    from airflow_provider_datalake.hooks.errors import SwiftError  # here: keeps `datalake --help` fast
    from airflow_provider_datalake.ingest.reconcile import in_account
    from datalake_catalog.catalog import VISIBLE

    swift, catalog = context.hooks(ctx)
    rec = catalog.get(record_id)
    if rec is None:
        fail(f"no raw object {record_id}")
    status = rec.get("status")
    if status not in {s.value for s in VISIBLE}:  # pending: not verified in Swift yet; deleted: gone
        fail(
            f"raw object {record_id} is {status}: only {', '.join(s.value for s in VISIBLE)} objects "
            "can be read"
        )
    if not in_account(rec, swift):  # else Swift answers "not found", which reads as a lost object
        stored = rec.get("swift_account") or f"user {rec.get('swift_user')!r}"
        fail(
            f"raw object {record_id} is stored in Swift account {stored}, not in {swift.account} that "
            f"{swift.swift_conn_id} reaches: give the connection of that account (--swift-conn-id)"
        )
    container, name = rec["swift_container"], rec["swift_object_id"]
    to_stdout = output is None or output == "-"
    if to_stdout and stdout_is_terminal():
        fail("not writing the object's bytes to a terminal: use -o FILE or a pipe")
    try:
        if to_stdout:
            _get_to_stdout(swift, rec, container, name)
            return
        assert output is not None
        target = _output_target(rec, output)
        real = Path(os.path.realpath(target))  # a symlink is followed: the link stays, its target is written
        mode = real.stat().st_mode if real.exists() else None
        if mode is not None and stat.S_ISDIR(mode):
            fail(f"{visible(str(target))} is a directory")
        if mode is not None and not stat.S_ISREG(mode):
            size = _get_through(swift, rec, container, name, real)
        else:
            if mode is not None and not force:
                fail(f"{visible(str(target))} exists: --force overwrites it")
            if not real.parent.is_dir():
                fail(f"no directory {visible(str(real.parent))}")
            size = _get_replacing(swift, rec, container, name, real)
    except (SwiftError, OSError) as exc:  # the object missing from Swift, a directory not writable, ...
        fail(f"cannot get raw object {record_id}: {exc}")
    console.print(f"wrote {escape(visible(str(target)))} ({size} bytes, checked)", soft_wrap=True)


def _output_target(rec: dict[str, Any], output: str) -> Path:
    """Where -o sends the object: a directory (one that exists, or any path ending in a slash: created,
    parents too) gets the object's original file name inside it; anything else is the file itself."""
    if output.endswith(("/", os.sep)):
        folder = Path(output)
        if folder.exists() and not folder.is_dir():
            fail(f"{visible(output)} is not a directory")
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
            fail(f"{container}/{name} is not the stored object ({problem}): nothing written")
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
        fail(f"{wrong}: the bytes written to {target} are not it")
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
        fail(f"{container}/{name} is not the stored object ({problem}): the bytes written are not it")


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
    from airflow_provider_datalake.processing import (  # here: keeps `datalake --help` fast
        LongLine,
        latest_outcomes,
        quarantined_rows,
    )

    swift, catalog = context.hooks(ctx)
    rec = catalog.get(record_id)
    if rec is None:
        console.print(f"[red]no raw object {escape(record_id)}[/red]")
        sys.exit(1)
    latest = latest_outcomes(rec, target)
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
        shown = 0
        for bad in quarantined_rows(swift, link):
            if isinstance(bad, LongLine):  # over the parser's line limit: not shown, never loaded whole
                out.print(f"  (a line of {bad.size} bytes, left in {escape(link)})")
                continue
            if limit and shown >= limit:
                if not as_json:
                    out.print(f"  ... more in {escape(link)} (--limit 0 shows all)")
                break
            shown += 1
            if as_json:
                click.echo(json.dumps(bad, ensure_ascii=False))
                continue
            field = f" {bad['field']}" if bad.get("field") else ""
            out.print(
                f"  row {bad.get('row_number')}{escape(field)}: {escape(str(bad.get('error')))} "
                f"(value {escape(repr(bad.get('value')))})",
                soft_wrap=True,
            )
