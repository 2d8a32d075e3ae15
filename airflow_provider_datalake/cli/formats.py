"""`datalake formats ...`: validate, push, list, show, export descriptors, print the schema, sync the cache;
infer a descriptor from a file, review drafts, set the inference policy.

The catalog connection is the group's ``--mongo-conn-id`` (``ctx.obj``). Heavy imports (pydantic, pymongo,
Airflow) happen inside the commands, so ``datalake --help`` stays fast.
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
    from airflow_provider_datalake.descriptors.store import FormatStore  # here: keeps `datalake --help` fast
    from airflow_provider_datalake.hooks.connect import catalog_for

    conn_id = (ctx.obj or {}).get("mongo_conn_id", "mongo_default")
    return FormatStore(catalog_for(conn_id))


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
    from airflow_provider_datalake.descriptors.loader import load_files  # here: keeps `datalake --help` fast

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
    from airflow_provider_datalake.descriptors.loader import load_files  # here: keeps `datalake --help` fast

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
    from rich.console import Console  # here: keeps `datalake --help` fast
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
    _show_evidence(found)
    click.echo(found.yaml, nl=not found.yaml.endswith("\n"))


def _show_evidence(found: Any) -> None:
    """An inferred descriptor's evidence as a table of comments above its YAML (the full record is in
    the YAML's `evidence` section)."""
    # Imported here: keeps `datalake --help` fast.
    from airflow_provider_datalake.descriptors.loader import DescriptorError

    try:
        desc = found.descriptor()
    except DescriptorError:
        return
    ev = desc.evidence
    if ev is None:
        return
    whole = ", the whole input" if ev.complete else ""
    click.echo(
        f"# evidence: {ev.shape} from {ev.source or '-'}, {ev.sample_records} records in "
        f"{ev.sample_bytes} bytes{whole}; encoding {ev.encoding}; time field {ev.time_field or '-'}"
    )
    if ev.candidate_keys:
        click.echo(f"#   candidate keys: {'; '.join(', '.join(k) for k in ev.candidate_keys)}")
    types = {f.name: f.type.value for f in desc.fields}
    for name, fe in ev.fields.items():
        examples = ", ".join(repr(e) for e in fe.examples)
        click.echo(
            f"#   {name:<24} {types.get(name, '?'):<9} conf {fe.confidence:.2f}  nulls {fe.nulls:<5} "
            f"distinct {fe.distinct:<6} {fe.detected}; e.g. {examples}"
        )
    for note in ev.notes:
        click.echo(f"#   note: {note}")


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
    # Imported here: keeps `datalake --help` fast.
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
    # Imported here: keeps `datalake --help` fast.
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


# ------------------------------------------------------------------------------------ inference and drafts


@formats.command("infer")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", default=None, help="Format name.  [default: from the file name]")
@click.option(
    "--sample-bytes",
    type=click.IntRange(min=1024),
    default=None,
    help="Bytes read from the start of the file.  [default: 1 MiB]",
)
@click.option(
    "--store",
    "stores",
    multiple=True,
    type=click.Choice(["postgres", "influxdb"]),
    help="Targets to propose (repeat).  [default: postgres, and influxdb when the data suits it]",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the YAML here.")
def formats_infer(
    path: Path, name: str | None, sample_bytes: int | None, stores: tuple[str, ...], output: Path | None
) -> None:
    """Print a complete descriptor (YAML) inferred from the start of a local file, with its evidence."""
    # Imported here: keeps `datalake --help` fast.
    from airflow_provider_datalake.descriptors.loader import parse_descriptor
    from airflow_provider_datalake.inference import SAMPLE_BYTES, NotInferable, infer_file, to_yaml

    try:
        result = infer_file(
            path, name=name, max_bytes=sample_bytes or SAMPLE_BYTES, **({"stores": stores} if stores else {})
        )
    except NotInferable as exc:
        _err(f"{path}: cannot infer a format: {exc}")
        sys.exit(1)
    desc = result.descriptor
    header = (
        f"# Inferred by `datalake formats infer` from {path.name}: check the types (see `evidence`), then\n"
        "# `datalake formats validate` and `datalake formats push` this file."
    )
    text = to_yaml(desc, header=header)
    parse_descriptor(text, source_name=str(output or path))  # never print what the loader would refuse
    if output is not None:
        output.write_text(text, encoding="utf-8")
        _err(f"wrote {output}")
    else:
        click.echo(text, nl=False)
    ev = desc.evidence
    if ev is not None:
        low = [f"{n} ({f.confidence:.2f})" for n, f in ev.fields.items() if f.confidence < 0.9]
        _err(
            f"{desc.name}: {ev.shape}, {len(desc.fields)} fields, {ev.sample_records} records sampled "
            f"({ev.sample_bytes} bytes{', whole file' if ev.complete else ''}); targets: "
            f"{', '.join(t.name for t in desc.targets)}"
            + (f"; low confidence: {', '.join(low)}" if low else "")
        )


def _drafts(ctx: click.Context) -> Any:
    from airflow_provider_datalake.inference.drafts import Drafts  # here: keeps `datalake --help` fast

    return Drafts(_store(ctx))


@formats.command("drafts")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def formats_drafts(ctx: click.Context, as_json: bool) -> None:
    """Inferred descriptors waiting for review: the objects grouped under each, shape and confidence."""
    rows = _drafts(ctx).list()
    if as_json:
        for row in rows:
            created = row["created_at"].isoformat() if row["created_at"] else None
            click.echo(json.dumps({**row, "created_at": created}, ensure_ascii=False))
        return
    if not rows:
        click.echo("no drafts")
        return
    for row in rows:
        created = row["created_at"].isoformat()[:19].replace("T", " ") if row["created_at"] else "-"
        click.echo(
            f"{row['name']} v{row['version']}  {created}  {row['waiting']} object(s) waiting  "
            f"({row['reason'] or '-'}; from {row['source'] or '-'})"
        )
        confidence = "-" if row.get("confidence") is None else f"{row['confidence']:.2f}"
        click.echo(f"    shape: {row.get('shape') or '-'}  confidence: {confidence}")
        if row.get("objects"):
            more = f" (+{len(row['objects']) - 5} more)" if len(row["objects"]) > 5 else ""
            click.echo(f"    objects: {', '.join(row['objects'][:5])}{more}")
    _err("`datalake formats show NAME --version N` for the YAML and evidence; then approve or reject")


@formats.command("approve")
@click.argument("name")
@click.option("--version", "version", type=int, default=None, help="This draft (default: the latest).")
@click.pass_context
def formats_approve(ctx: click.Context, name: str, version: int | None) -> None:
    """Activate a draft: its DAG appears at the next sync and the waiting objects are processed."""
    try:
        done, released = _drafts(ctx).approve(name, version, by=_current_user())
    except LookupError as exc:
        _err(str(exc))
        sys.exit(1)
    click.echo(f"{name} version {done} active; {len(released)} waiting object(s) released")


@formats.command("reject")
@click.argument("name")
@click.option("--version", "version", type=int, default=None, help="This draft (default: the latest).")
@click.option("--reason", default="", help="Kept with the rejected version.")
@click.pass_context
def formats_reject(ctx: click.Context, name: str, version: int | None, reason: str) -> None:
    """Reject a draft (kept in the history); its objects stay committed, unformatted, in the raw zone."""
    try:
        done = _drafts(ctx).reject(name, version, by=_current_user(), reason=reason)
    except LookupError as exc:
        _err(str(exc))
        sys.exit(1)
    click.echo(f"{name} version {done} rejected")


@formats.group("policy")
def formats_policy() -> None:
    """What happens to an inferred draft: `review` (default) or `auto` (activated at once)."""


@formats_policy.command("set")
@click.argument("mode", type=click.Choice(["review", "auto"]))
@click.option("--container", default=None, help="For objects of this Swift container.")
@click.option("--application", default=None, help="For objects of this application (wins over container).")
@click.pass_context
def formats_policy_set(ctx: click.Context, mode: str, container: str | None, application: str | None) -> None:
    from airflow_provider_datalake.inference.drafts import PolicyStore  # here: keeps `datalake --help` fast

    if (container is None) == (application is None):
        raise click.UsageError("give --container or --application (one of them)")
    PolicyStore(_store(ctx).catalog).set(mode, container=container, application=application)
    click.echo(f"{'container' if container else 'application'} {container or application}: {mode}")


@formats_policy.command("list")
@click.pass_context
def formats_policy_list(ctx: click.Context) -> None:
    from airflow_provider_datalake.inference.drafts import PolicyStore  # here: keeps `datalake --help` fast

    rows = PolicyStore(_store(ctx).catalog).list()
    for row in rows:
        click.echo(f"{row['scope']} {row['value']}: {row['mode']}")
    _err(f"{len(rows)} polic{'y' if len(rows) == 1 else 'ies'} (default: review)")
