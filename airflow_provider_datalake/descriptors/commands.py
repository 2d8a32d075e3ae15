"""`datalake formats ...`: validate, push, list, show, export descriptors, print the schema, sync the cache.

Registered on the main `datalake` group by ``airflow_provider_datalake/cli.py``; the catalog connection is
the group's ``--mongo-conn-id`` (``ctx.obj``). Heavy imports (pydantic, pymongo, Airflow) happen inside
the commands, so ``datalake --help`` stays fast.
"""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from airflow_provider_datalake.descriptors.store import FormatStore


def _store(ctx: click.Context) -> FormatStore:
    from airflow_provider_datalake.descriptors.store import FormatStore
    from airflow_provider_datalake.hooks.catalog import CatalogHook

    conn_id = (ctx.obj or {}).get("mongo_conn_id", "mongo_default")
    return FormatStore(CatalogHook(conn_id))


def _err(message: str) -> None:
    click.echo(message, err=True)


def _current_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return None


@click.group()
def formats() -> None:
    """Format descriptors: the YAML files that turn a raw data format into gold-zone tables."""


@formats.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def formats_validate(paths: tuple[Path, ...]) -> None:
    """Check descriptor files (directories: their *.yaml/*.yml); exit 1 if any is invalid."""
    from airflow_provider_datalake.descriptors.loader import load_files

    loaded = load_files(paths)
    if not loaded:
        _err("no descriptor files found")
        sys.exit(1)
    for item in loaded:
        if item.descriptor is not None:
            click.echo(f"ok: {item.path} ({item.descriptor.name})")
        elif item.error is not None:
            click.echo(str(item.error))
    bad = sum(1 for item in loaded if item.error is not None)
    _err(f"{len(loaded) - bad} valid, {bad} invalid")
    if bad:
        sys.exit(1)


@formats.command("push")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--author", default=None, help="Recorded with each version.  [default: the OS user]")
@click.option("--if-changed", is_flag=True, help="Skip a file whose text equals its latest active version's.")
@click.pass_context
def formats_push(ctx: click.Context, paths: tuple[Path, ...], author: str | None, if_changed: bool) -> None:
    """Validate every file, then store each as a new version. Nothing is pushed if any file is invalid."""
    from airflow_provider_datalake.descriptors.loader import load_files

    loaded = load_files(paths)
    if not loaded:
        _err("no descriptor files found")
        sys.exit(1)
    errors = [item.error for item in loaded if item.error is not None]
    if errors:
        for error in errors:
            click.echo(str(error))
        _err(f"{len(errors)} invalid file(s): nothing pushed")
        sys.exit(1)
    store = _store(ctx)
    author = author or _current_user()
    for item in loaded:
        assert item.descriptor is not None and item.text is not None
        name = item.descriptor.name
        if if_changed:
            latest = store.get_version(name)
            if latest is not None and latest.yaml == item.text:
                click.echo(f"{name} unchanged (version {latest.version})")
                continue
        version = store.push(item.descriptor, source_text=item.text, author=author)
        click.echo(f"{name} version {version}")


@formats.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def formats_list(ctx: click.Context, as_json: bool) -> None:
    """Active formats, each at its latest version."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from airflow_provider_datalake.descriptors.loader import DescriptorError

    rows: list[dict[str, Any]] = []
    for found in _store(ctx).latest():
        row = found.metadata()
        try:
            desc = found.descriptor()
            row.update(
                valid=True,
                parser=desc.parser.kind,
                targets=[t.name for t in desc.targets],
                description=desc.description,
            )
        except DescriptorError as exc:
            row.update(valid=False, error=str(exc))
        rows.append(row)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    table = Table(title=f"{len(rows)} active format(s)")
    for col in ("name", "version", "parser", "targets", "created (UTC)", "author", "description"):
        table.add_column(col, overflow="fold")
    for row in rows:
        created = (row["created_at"] or "-")[:19].replace("T", " ")
        author = row["author"] or "-"
        if row["valid"]:
            cells = [row["parser"], ", ".join(row["targets"]), created, author, row["description"]]
        else:
            cells = ["-", "-", created, author, "invalid: see `datalake formats show`"]
        table.add_row(*(escape(str(c)) for c in (row["name"], row["version"], *cells)))  # data, not markup
    Console(width=None if sys.stdout.isatty() else 160).print(table)


@formats.command("show")
@click.argument("name")
@click.option("--version", "version", type=int, default=None, help="This version (default: latest active).")
@click.option("--json", "as_json", is_flag=True, help="Metadata and YAML as one JSON object.")
@click.pass_context
def formats_show(ctx: click.Context, name: str, version: int | None, as_json: bool) -> None:
    """A stored descriptor's YAML, headed by its version metadata (as YAML comments)."""
    found = _store(ctx).get_version(name, version)
    if found is None:
        what = f"version {version} of {name!r}" if version is not None else f"active format {name!r}"
        _err(f"no {what}")
        sys.exit(1)
    meta = found.metadata()
    if as_json:
        click.echo(json.dumps({**meta, "yaml": found.yaml}, ensure_ascii=False))
        return
    for key, value in meta.items():
        click.echo(f"# {key}: {value if value is not None else '-'}")
    click.echo(found.yaml, nl=not found.yaml.endswith("\n"))


@formats.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def formats_export(ctx: click.Context, directory: Path) -> None:
    """Write each active format's latest YAML to DIRECTORY/<name>.yaml."""
    paths = _store(ctx).export(directory)
    for path in paths:
        click.echo(str(path))
    _err(f"{len(paths)} exported")


@formats.command("schema")
def formats_schema() -> None:
    """Print the JSON Schema of descriptors (for editors and CI linters)."""
    from airflow_provider_datalake.descriptors.schema import schema_text, shipped_schema_text

    try:
        text = shipped_schema_text()
    except FileNotFoundError:  # a source tree where the file was never generated
        text = schema_text()
    click.echo(text, nl=False)


@formats.command("sync")
@click.option(
    "--cache",
    "cache_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Cache file.  [default: $DATALAKE_FORMATS_CACHE or $AIRFLOW_HOME/datalake/formats.json]",
)
@click.option("--ttl", type=float, default=0.0, show_default=True, help="Skip if the cache is younger (s).")
@click.option("--force", is_flag=True, help="Rewrite the cache whatever its age.")
@click.pass_context
def formats_sync(ctx: click.Context, cache_path: Path | None, ttl: float, force: bool) -> None:
    """Copy the active descriptors into the local cache DAG parsing reads; exit 1 if the catalog is down."""
    from airflow_provider_datalake.descriptors.store import default_cache_path, sync_cache

    path = cache_path or default_cache_path()
    state = sync_cache(_store(ctx), path, ttl=ttl, force=force)
    when = state.synced_at.isoformat() if state.synced_at else "never"
    if state.status == "synced":
        click.echo(f"synced {state.count} format(s) into {path}")
    elif state.status == "fresh":
        click.echo(f"{path} is fresh (written {when}); use --force to rewrite it")
    else:
        _err(f"catalog unreachable ({state.error}); kept {path} (written {when})")
        sys.exit(1)
