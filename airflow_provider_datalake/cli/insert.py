"""`datalake insert`: local files into the raw zone (Swift + catalog, atomically), with a progress bar."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from airflow_provider_datalake.cli import app, context
from airflow_provider_datalake.cli.errors import outside_failure
from airflow_provider_datalake.cli.render import console, json_default, out, records_table, short, visible

if TYPE_CHECKING:
    from airflow_provider_datalake.ingest.paths import Inserted

LARGE = 32 * 1024 * 1024  # show a byte progress bar from this size on
DEFAULT_JOBS = 10  # as ingest.many's (not imported: it would load the stores' clients for `--help`)
MAX_JOBS = 64


def _insert_rule(name: str, value: Any, param_hint: str) -> None:
    """Apply one of insert_datalake()'s checks (``check_format``, ...) up front, as a usage error: checked
    once before any file is tried instead of failing each file the same way."""
    from airflow_provider_datalake.ingest import rules  # here: keeps `datalake --help` fast

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


class _Bar:
    """`insert_paths`'s watcher for the CLI: a progress bar (bytes from `LARGE` on, else files), the CLI's
    wording for failures, ``on_record`` called as each record commits."""

    def __init__(
        self, ctx: click.Context, bar: Progress, task: TaskID, track_bytes: bool, on_record: Any
    ) -> None:
        self.ctx, self.bar, self.task, self.on_record = ctx, bar, task, on_record
        self.track_bytes = track_bytes

    def starting(self, path: Path) -> None:
        self.bar.update(self.task, description=f"inserting {visible(path.name)}")
        self.ctx.meta["datalake.tried"] = True  # from here on, an interrupt may have stored something

    def sent(self, size: int) -> None:
        self.bar.advance(self.task, size)

    def inserted(self, record: dict[str, Any], already_stored: bool) -> None:
        if self.on_record is not None:
            self.on_record(record, already_stored)

    def finished(self, path: Path, ok: bool) -> None:
        if not self.track_bytes:
            self.bar.advance(self.task, 1)
        elif not ok:
            self.bar.advance(self.task, path.stat().st_size if path.is_file() else 0)

    def outside_failure(self, exc: BaseException) -> tuple[str, str] | None:
        return outside_failure(exc)

    def interrupted(self) -> str:
        return (
            f"interrupted ({app.interrupt_name()}): rolled back; `datalake reconcile` settles anything left"
        )


def insert_files(
    ctx: click.Context,
    paths: list[Path],
    *,
    fmt: str | None,
    container: str | None,
    application: str | None,
    meta: dict[str, str],
    dedupe: bool,
    quiet: bool = False,
    on_record: Any = None,
    jobs: int = 1,
) -> Inserted:
    """`insert_paths` with the group's hooks and a progress bar (none when ``quiet``, or for one small
    file); ``on_record(rec, already_stored)`` as each record commits."""
    from airflow_provider_datalake.ingest.paths import insert_paths  # here: keeps `datalake --help` fast

    swift, catalog = context.hooks(ctx)
    sizes = [p.stat().st_size if p.is_file() else 0 for p in paths]
    track_bytes = sum(sizes) >= LARGE
    columns = [TextColumn("{task.description}"), BarColumn()]
    columns += (
        [DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn()]
        if track_bytes
        else [MofNCompleteColumn()]
    )
    with Progress(*columns, console=console, disable=quiet or (len(paths) == 1 and not track_bytes)) as bar:
        task = bar.add_task("inserting", total=sum(sizes) if track_bytes else len(paths))
        return insert_paths(
            paths,
            swift=swift,
            catalog=catalog,
            fmt=fmt,
            container=container,
            application=application,
            meta=meta,
            dedupe=dedupe,
            watcher=_Bar(ctx, bar, task, track_bytes, on_record),  # type: ignore[arg-type]
            jobs=min(jobs, len(paths)) or 1,
        )


@click.command()
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
    "--jobs",
    "-j",
    type=click.IntRange(1, MAX_JOBS),
    default=DEFAULT_JOBS,
    show_default=True,
    help="Files inserted at once, each atomic on its own (1: one after the other).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print the records as JSON lines, each with "already_stored": true for content stored before.',
)
@context.verbose_option
@click.pass_context
def insert(
    ctx: click.Context,
    paths: tuple[Path, ...],
    fmt: str | None,
    container: str | None,
    application: str | None,
    meta: tuple[str, ...],
    no_dedupe: bool,
    jobs: int,
    as_json: bool,
) -> None:
    """Insert files into the raw zone (Swift + catalog, atomically). Exits non-zero if any file failed.

    Content already stored with the same format, in any container (dedupe is lake-wide), is not stored
    twice: its record is shown as "already stored" and where it is. If the catalog or Swift cannot be
    reached, the remaining files are not attempted. Ctrl-C stops at once: the file in flight is rolled
    back, the ones before it stay, and what was inserted is reported (exit code 130; 143 for SIGTERM).
    With --jobs N, N files are in flight at once: each is rolled back unless already committed, and the
    records are listed in the order of the files given.
    """
    extra = _parse_meta(meta)  # a usage error before any file is tried

    def emit(rec: dict[str, Any], already: bool) -> None:
        # One line each, as it commits, so a killed run still leaves its list (not through rich: it wraps).
        click.echo(json.dumps({**rec, "already_stored": already}, default=json_default))
        sys.stdout.flush()

    result = insert_files(
        ctx,
        list(paths),
        fmt=fmt,
        container=container,
        application=application,
        meta=extra,
        dedupe=not no_dedupe,
        on_record=emit if as_json else None,
        jobs=jobs,
    )
    app.outcome_follows()
    done, failed = result.done, result.failed
    hits = {id(rec) for _, rec in result.already}  # by object: a file may repeat one inserted just before
    new = [rec for rec in done if id(rec) not in hits]
    if new and not as_json:
        out.print(records_table(new, f"{len(new)} inserted", width=out.width, status=False))
    for path, rec in result.already:
        _, _, _, _, name, created = map(escape, short(rec))
        where = escape(visible(str(rec.get("swift_container"))))
        console.print(
            f"[yellow]already stored[/yellow] {escape(visible(str(path)))}: same content and format as "
            f"record {rec['_id']} ({name}, {created} UTC) in container {where}, not stored twice (dedupe "
            "is lake-wide; --no-dedupe stores a copy)",
            soft_wrap=True,
        )
    for path, why in failed:
        line = f"{escape(visible(str(path)))}: {escape(visible(why))}"
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
        sys.exit(app.interrupt_code())
    if failed:
        sys.exit(1)


def _no_descriptor_hint(ctx: click.Context, fmt: str) -> str | None:
    """Why objects of ``fmt`` will wait, when no active descriptor has that name (else None).

    The raw zone keeps any format, so this is a warning, not a refusal: the name may be a typo, or the
    descriptor not pushed yet; either way the objects stay committed, unprocessed, until one is active.
    """
    from airflow_provider_datalake.descriptors.store import DRAFT, FormatStore  # here: it imports pymongo

    store = FormatStore(context.catalog(ctx))
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
